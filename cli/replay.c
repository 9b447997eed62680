/*
 * mlc replay: posts again what failed, through the auditor.
 *
 *   mlc replay MSG_ID...                 those messages
 *   mlc replay --failed [--since 24h] [--channel C]   every dead letter
 *
 * The auditor decides and journals each (kind "replay"): it sends a
 * message only if it failed, never posted (neither the original nor an
 * earlier replay) and no replay of it is in flight, so running the same
 * replay twice posts nothing the second time. The message goes to the
 * channel's dispatcher under a new id "<msg id>/replay/<n>" and is paced
 * like any other. --force also replays a failure whose last attempt may
 * have posted (in doubt): look in the channel first.
 * Exit 0 when nothing was refused for a reason other than "already posted".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlc_time.h"

int
cli_replay(int argc, char **argv)
{
	struct mlc_cfg cfg;
	struct cli_ctl *c;
	char errbuf[600];
	const char *channel = NULL, *since = NULL;
	int failed = 0, force = 0, json = 0, bad = 0;
	size_t sent = 0, skipped = 0, i;
	json_t *req, *rep, *ids = json_array(), *v;
	int64_t since_ms = 0;

	if (cli_load_config(&argc, argv, &cfg, NULL) != 0)
		return 2;
	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--failed") == 0)
			failed = 1;
		else if (strcmp(argv[k], "--force") == 0)
			force = 1;
		else if (strcmp(argv[k], "--json") == 0)
			json = 1;
		else if (strcmp(argv[k], "--channel") == 0 && k + 1 < argc)
			channel = argv[++k];
		else if (strcmp(argv[k], "--since") == 0 && k + 1 < argc)
			since = argv[++k];
		else if (argv[k][0] == '-')
			bad = 1;
		else
			json_array_append_new(ids, json_string(argv[k]));
	}
	if (bad || (failed == (json_array_size(ids) > 0)) ||
	    (!failed && (channel != NULL || since != NULL))) {
		fprintf(stderr, "usage: mlc replay MSG_ID...\n"
		    "       mlc replay --failed [--since 24h|TIME] [--channel C]\n"
		    "       (--force: also what may have posted; --json: the auditor's answer)\n");
		json_decref(ids);
		return 2;
	}
	if (since != NULL && cli_parse_when(since, mlc_time_now_ms(), &since_ms) != 0) {
		fprintf(stderr, "mlc replay: --since '%s' is neither a duration nor a UTC time\n",
		    since);
		json_decref(ids);
		return 2;
	}
	req = json_pack("{s:s, s:b, s:s}", "op", "replay", "force", force, "by", "cli");
	if (failed) {
		json_object_set_new(req, "failed", json_true());
		json_object_set_new(req, "since_ms", json_integer(since_ms));
		if (channel != NULL)
			json_object_set_new(req, "channel", json_string(channel));
		json_decref(ids);
	} else {
		json_object_set_new(req, "ids", ids);
	}
	if ((c = cli_ctl_open(&cfg)) == NULL) {
		json_decref(req);
		fprintf(stderr, "mlc replay: cannot open %s\n", cfg.ep.auditor_ctl);
		return 1;
	}
	rep = cli_ctl_call(c, req, 30000, errbuf, sizeof(errbuf));
	json_decref(req);
	cli_ctl_close(c);
	if (rep == NULL) {
		fprintf(stderr, "mlc replay: %s\n", errbuf);
		return 1;
	}
	bad = 0;
	json_array_foreach(json_object_get(rep, "results"), i, v) {
		const char *r = json_string_value(json_object_get(v, "result"));
		const char *why = json_string_value(json_object_get(v, "reason"));

		if (r != NULL && strcmp(r, "sent") == 0) {
			sent++;
			if (!json)
				printf("sent     %s as %s\n", json_string_value(json_object_get(v,
				    "msg_id")), json_string_value(json_object_get(v, "replay_id")));
		} else {
			skipped++;
			if (why == NULL || strncmp(why, "already posted", 14) != 0)
				bad = 1;
			if (!json)
				printf("skipped  %s: %s\n", json_string_value(json_object_get(v,
				    "msg_id")), why ? why : "");
		}
	}
	if (json) {
		char *s = json_dumps(json_object_get(rep, "results"), JSON_COMPACT);

		printf("%s\n", s ? s : "[]");
		free(s);
	} else {
		printf("%zu sent, %zu skipped\n", sent, skipped);
	}
	json_decref(rep);
	return bad ? 1 : 0;
}
