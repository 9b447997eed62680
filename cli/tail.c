/*
 * mlc tail: the auditor's live stream, optionally starting with history.
 *
 * Live events arrive on the PUB socket, each with its journal seq ("jseq").
 * Seqs grow by one per journaled event, so the stream is checked for gaps:
 * a PUB socket drops what arrives before the subscription is in place or
 * past its queue limit, and --since must join history and live without a
 * hole or a repeat. history (control socket, up to seq S) -> live events
 * with jseq <= S are skipped, a jump past last+1 is filled from the
 * control socket ("seq" request) before the event is printed, and when
 * the stream is quiet tail asks for the journal's seq every half second,
 * so nothing journaled stays unseen for longer than that.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "mlc_time.h"
#include "mlc_zmq.h"

#define IDLE_CHECK_MS 500

static volatile sig_atomic_t stop;

static void
on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

struct tail {
	int json, errors;
	const char *entity, *channel;
	struct cli_ctl *ctl;
	uint64_t last;          /* highest seq shown or skipped; 0 = none yet */
};

static void
show(struct tail *t, const char *js)
{
	if (!cli_event_matches(js, t->errors, t->entity, t->channel))
		return;
	if (t->json) {
		printf("%s\n", js);
		fflush(stdout);
	} else {
		cli_print_event_line(js);
	}
}

static void
show_obj(struct tail *t, json_t *ev)
{
	char *js = json_dumps(ev, JSON_COMPACT);

	if (js != NULL)
		show(t, js);
	free(js);
}

/* Fetches and shows the events with seq in (t->last, upto]. */
static int
fill(struct tail *t, uint64_t upto)
{
	while (t->ctl != NULL && t->last < upto) {
		char errbuf[512];
		uint64_t to = upto - t->last > 5000 ? t->last + 5000 : upto;
		json_t *req = json_pack("{s:s, s:I, s:I}", "op", "seq", "from",
		    (json_int_t)(t->last + 1), "to", (json_int_t)to);
		json_t *rep = cli_ctl_call(t->ctl, req, 5000, errbuf, sizeof(errbuf)), *ev;
		size_t i;

		json_decref(req);
		if (rep == NULL) {
			fprintf(stderr, "mlc tail: %s\n", errbuf);
			return -1;
		}
		json_array_foreach(json_object_get(rep, "events"), i, ev)
			show_obj(t, ev);
		json_decref(rep);
		t->last = to;
	}
	return 0;
}

static int
history(struct tail *t, int64_t since_ms)
{
	char errbuf[512];
	const char *next = NULL;
	char cursor[64] = "";
	uint64_t seq = 0;

	for (;;) {
		json_t *req = json_pack("{s:s, s:I, s:b}", "op", "query", "since_ms",
		    (json_int_t)since_ms, "errors", t->errors), *rep, *ev;
		size_t i;

		if (t->entity)
			json_object_set_new(req, "entity", json_string(t->entity));
		if (t->channel)
			json_object_set_new(req, "channel", json_string(t->channel));
		if (cursor[0])
			json_object_set_new(req, "after", json_string(cursor));
		rep = cli_ctl_call(t->ctl, req, 10000, errbuf, sizeof(errbuf));
		json_decref(req);
		if (rep == NULL) {
			fprintf(stderr, "mlc tail: %s\n", errbuf);
			return -1;
		}
		json_array_foreach(json_object_get(rep, "events"), i, ev)
			show_obj(t, ev);
		seq = (uint64_t)json_integer_value(json_object_get(rep, "seq"));
		next = json_string_value(json_object_get(rep, "next"));
		if (!json_is_true(json_object_get(rep, "more")) || next == NULL) {
			json_decref(rep);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", next);
		json_decref(rep);
	}
	t->last = seq;
	return 0;
}

static uint64_t
journal_seq(struct tail *t)
{
	char errbuf[512];
	json_t *req = json_pack("{s:s}", "op", "ping");
	json_t *rep = t->ctl ? cli_ctl_call(t->ctl, req, 2000, errbuf, sizeof(errbuf)) : NULL;
	uint64_t s = 0;

	json_decref(req);
	if (rep != NULL)
		s = (uint64_t)json_integer_value(json_object_get(rep, "seq"));
	json_decref(rep);
	return s;
}

int
cli_tail(int argc, char **argv)
{
	struct mlc_cfg cfg;
	struct mlc_err err;
	struct tail t;
	const char *since = NULL;
	int64_t since_ms = 0, last_check;
	void *ctx, *sub;

	memset(&t, 0, sizeof(t));
	if (cli_load_config(&argc, argv, &cfg, NULL) != 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			t.json = 1;
		else if (strcmp(argv[i], "--errors") == 0)
			t.errors = 1;
		else if (strcmp(argv[i], "--entity") == 0 && i + 1 < argc)
			t.entity = argv[++i];
		else if (strcmp(argv[i], "--channel") == 0 && i + 1 < argc)
			t.channel = argv[++i];
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			since = argv[++i];
		else {
			fprintf(stderr, "mlc tail: unknown option '%s'\n"
			    "usage: mlc tail [--json] [--errors] [--entity E] [--channel C] "
			    "[--since 1h|ISO-TIME]\n", argv[i]);
			return 2;
		}
	}
	if (since != NULL && cli_parse_when(since, mlc_time_now_ms(), &since_ms) != 0) {
		fprintf(stderr, "mlc tail: --since '%s' is neither a duration (90s, 15m, 1h, 2d) "
		    "nor a UTC time (2026-11-29T01:02:03Z)\n", since);
		return 2;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	ctx = zmq_ctx_new();
	/* Subscribe first: what is journaled meanwhile comes live or by gap fill. */
	sub = mlc_zmq_sub_connect(ctx, cfg.ep.auditor_pub, cfg.max_frame_bytes, &err);
	if (sub == NULL) {
		fprintf(stderr, "mlc tail: %s\n", err.msg);
		zmq_ctx_term(ctx);
		return 1;
	}
	t.ctl = cli_ctl_open(&cfg);
	if (since != NULL) {
		if (t.ctl == NULL || history(&t, since_ms) != 0) {
			mlc_zmq_close(&sub);
			cli_ctl_close(t.ctl);
			zmq_ctx_term(ctx);
			return 1;
		}
	} else {
		t.last = journal_seq(&t);
	}
	last_check = mlc_time_mono_ms();
	while (!stop) {
		static char buf[16 * 1024 * 1024];
		zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
		json_error_t je;
		json_t *ev;
		uint64_t seq;
		int n;

		if (zmq_poll(&item, 1, 200) <= 0) {
			if (t.ctl != NULL && mlc_time_mono_ms() - last_check >= IDLE_CHECK_MS) {
				uint64_t s = journal_seq(&t);

				last_check = mlc_time_mono_ms();
				if (s > t.last && t.last > 0)
					fill(&t, s);
				else if (t.last == 0)
					t.last = s;
			}
			continue;
		}
		n = zmq_recv(sub, buf, sizeof(buf) - 1, ZMQ_DONTWAIT);
		if (n < 0 || n >= (int)sizeof(buf))
			continue;
		buf[n] = '\0';
		ev = json_loads(buf, 0, &je);
		seq = (uint64_t)json_integer_value(json_object_get(ev, "jseq"));
		json_decref(ev);
		if (seq != 0 && t.last != 0) {
			if (seq <= t.last)
				continue; /* shown from history or a gap fill already */
			if (seq > t.last + 1)
				fill(&t, seq - 1);
		}
		show(&t, buf);
		if (seq > t.last)
			t.last = seq;
		last_check = mlc_time_mono_ms();
	}
	mlc_zmq_close(&sub);
	cli_ctl_close(t.ctl);
	zmq_ctx_term(ctx);
	return 0;
}
