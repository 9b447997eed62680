/*
 * mlc status: the connector's health as the auditor sees it: per entity the
 * last poll, its result, the watermark and its age; per channel the backlog
 * and the last post; dead letters; token expiry dates; each stage's health.
 * Exit 0 when every stage is healthy, 1 otherwise (or when the auditor does
 * not answer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *
s_or(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL && *s != '\0' ? s : dflt;
}

static void
age(char *out, size_t outsz, json_t *v)
{
	long long s;

	if (!json_is_integer(v)) {
		snprintf(out, outsz, "-");
		return;
	}
	s = (long long)json_integer_value(v);
	if (s < 0)
		snprintf(out, outsz, "in %lldm", -s / 60);
	else if (s < 120)
		snprintf(out, outsz, "%llds", s);
	else if (s < 7200)
		snprintf(out, outsz, "%lldm", s / 60);
	else if (s < 172800)
		snprintf(out, outsz, "%lldh", s / 3600);
	else
		snprintf(out, outsz, "%lldd", s / 86400);
}

static void
print_human(json_t *st)
{
	json_t *v, *stages;
	const char *k;
	size_t i;
	char a[32];

	printf("ENTITY               LAST POLL                 RESULT   WATERMARK                          AGE\n");
	json_array_foreach(json_object_get(st, "entities"), i, v) {
		age(a, sizeof(a), json_object_get(v, "watermark_age_s"));
		printf("%-20s %-25s %-8s %-34s %s\n", s_or(v, "entity", "?"),
		    s_or(v, "last_poll", "never"), s_or(v, "outcome", "-"),
		    s_or(v, "watermark", "-"), a);
		if (json_object_get(v, "error"))
			printf("    error: %s\n", s_or(v, "error", ""));
	}
	printf("\nCHANNEL              BACKLOG  LAST POST                 POSTED  FAILED\n");
	json_array_foreach(json_object_get(st, "channels"), i, v) {
		json_t *b = json_object_get(v, "backlog");
		char bl[24];

		if (json_is_integer(b))
			snprintf(bl, sizeof(bl), "%lld", (long long)json_integer_value(b));
		else
			snprintf(bl, sizeof(bl), "-");
		printf("%-20s %-8s %-25s %-7lld %lld\n", s_or(v, "channel", "?"), bl,
		    s_or(v, "last_post", "never"),
		    (long long)json_integer_value(json_object_get(v, "posted_total")),
		    (long long)json_integer_value(json_object_get(v, "failed_total")));
	}
	printf("\nbacklog %lld, dead letters %lld, failed and not replayed %lld\n",
	    (long long)json_integer_value(json_object_get(st, "backlog")),
	    (long long)json_integer_value(json_object_get(st, "dead_letters")),
	    (long long)json_integer_value(json_object_get(st, "failed_not_replayed")));
	if (json_array_size(json_object_get(st, "tokens")) > 0) {
		printf("\nTOKEN                EXPIRES                   IN       LAST EVENT\n");
		json_array_foreach(json_object_get(st, "tokens"), i, v) {
			json_t *in = json_object_get(v, "expires_in_s");

			if (json_is_integer(in))
				age(a, sizeof(a), json_integer(-json_integer_value(in)));
			else
				snprintf(a, sizeof(a), "-");
			printf("%-20s %-25s %-8s %s\n", s_or(v, "token", "?"),
			    s_or(v, "expires_at", "unknown"), a, s_or(v, "last_event", "-"));
		}
	}
	stages = json_object_get(json_object_get(st, "health"), "stages");
	printf("\nSTAGE          HEALTH  LAST START                LAST SEEN\n");
	json_object_foreach(stages, k, v) {
		age(a, sizeof(a), json_object_get(v, "last_seen_age_s"));
		printf("%-14s %-7s %-25s %s ago%s%s\n", k,
		    json_is_true(json_object_get(v, "healthy")) ? "ok" : "NO",
		    s_or(v, "last_start", "-"), a, json_object_get(v, "why") ? "  " : "",
		    s_or(v, "why", ""));
	}
	if (s_or(st, "http", NULL) != NULL)
		printf("\nmetrics: http://%s/metrics\n", s_or(st, "http", ""));
}

int
cli_status(int argc, char **argv)
{
	struct mlc_cfg cfg;
	struct cli_ctl *c;
	char errbuf[600];
	int json = 0, healthy;
	json_t *req, *rep, *st;

	if (cli_load_config(&argc, argv, &cfg, NULL) != 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			fprintf(stderr, "mlc status: unknown option '%s'\nusage: mlc status [--json]\n",
			    argv[i]);
			return 2;
		}
	}
	if ((c = cli_ctl_open(&cfg)) == NULL) {
		fprintf(stderr, "mlc status: cannot open %s\n", cfg.ep.auditor_ctl);
		return 1;
	}
	req = json_pack("{s:s}", "op", "status");
	rep = cli_ctl_call(c, req, 5000, errbuf, sizeof(errbuf));
	json_decref(req);
	cli_ctl_close(c);
	if (rep == NULL) {
		fprintf(stderr, "mlc status: %s\n", errbuf);
		return 1;
	}
	st = json_object_get(rep, "status");
	healthy = strcmp(s_or(json_object_get(st, "health"), "status", ""), "ok") == 0;
	if (json) {
		char *s = json_dumps(st, JSON_COMPACT);

		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		print_human(st);
	}
	json_decref(rep);
	return healthy ? 0 : 1;
}
