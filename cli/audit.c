/*
 * mlc audit: queries the auditor's journal, oldest first, as a table or
 * JSON lines.
 *
 * The auditor answers on its control socket (endpoints.auditor_ctl) from
 * its own indexes: the journal's LMDB environment belongs to mlc-auditor
 * alone (pitfalls.md #17). Only when the auditor does not answer does mlc
 * read the environment itself, read-only (--offline forces that): safe on
 * the same host or inside the auditor's container, never across them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lmdb.h>

#include "cli.h"
#include "mlc_proto.h"
#include "mlc_time.h"
#include "mlc_topo.h"

struct filter {
	int json, errors, table;
	long limit;
	int64_t since_ms, until_ms;
	const char *kind, *entity, *channel, *outcome, *record, *msg;
	long shown;
};

static const char *
s_or(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : dflt;
}

static void
print_row(json_t *ev)
{
	const char *kind = s_or(ev, "kind", "?");
	const char *where = s_or(ev, "channel", s_or(ev, "entity", ""));
	const char *what = s_or(ev, "key", s_or(ev, "msg_id", s_or(ev, "record_id", "")));
	const char *err = s_or(ev, "error", s_or(ev, "reason", ""));
	char detail[200];

	if (strcmp(kind, "poll") == 0)
		snprintf(detail, sizeof(detail), "%lld records, wm %s",
		    (long long)json_integer_value(json_object_get(ev, "records")),
		    s_or(ev, "wm_after", ""));
	else
		snprintf(detail, sizeof(detail), "%s", what);
	printf("%-24s %-13s %-8s %-20.20s %-14.14s %s%s%s\n", s_or(ev, "at", "?"),
	    s_or(ev, "from", "?"), kind, where, s_or(ev, "outcome", ""), detail,
	    err[0] ? "  " : "", err);
}

static void
emit(struct filter *f, json_t *ev)
{
	if (f->json) {
		char *s = json_dumps(ev, JSON_COMPACT);

		if (s != NULL)
			printf("%s\n", s);
		free(s);
	} else {
		print_row(ev);
	}
	f->shown++;
}

static int
via_auditor(struct cli_ctl *c, struct filter *f, char *errbuf, size_t errsz)
{
	char cursor[64] = "";

	if (!f->json)
		printf("%-24s %-13s %-8s %-20s %-14s %s\n", "AT", "FROM", "KIND",
		    "CHANNEL/ENTITY", "OUTCOME", "DETAIL");
	while (f->limit < 0 || f->shown < f->limit) {
		json_t *req = json_pack("{s:s, s:I, s:I, s:b}", "op", "query", "since_ms",
		    (json_int_t)f->since_ms, "until_ms", (json_int_t)f->until_ms, "errors",
		    f->errors), *rep, *ev;
		const char *next;
		size_t i;

#define OPT(k, v) do { if ((v) != NULL) json_object_set_new(req, k, json_string(v)); } while (0)
		OPT("kind", f->kind);
		OPT("entity", f->entity);
		OPT("channel", f->channel);
		OPT("outcome", f->outcome);
		OPT("record", f->record);
		OPT("msg_id", f->msg);
#undef OPT
		if (cursor[0])
			json_object_set_new(req, "after", json_string(cursor));
		if (f->limit >= 0)
			json_object_set_new(req, "limit", json_integer(f->limit - f->shown));
		rep = cli_ctl_call(c, req, 15000, errbuf, errsz);
		json_decref(req);
		if (rep == NULL)
			return -1;
		json_array_foreach(json_object_get(rep, "events"), i, ev)
			if (f->limit < 0 || f->shown < f->limit)
				emit(f, ev);
		next = json_string_value(json_object_get(rep, "next"));
		if (!json_is_true(json_object_get(rep, "more")) || next == NULL) {
			json_decref(rep);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", next);
		json_decref(rep);
	}
	fflush(stdout);
	return 0;
}

static int
matches(const struct filter *f, const struct mlc_audit *a, json_t *ev)
{
	const char *s;

	(void)a;
#define EQ(k, v) ((v) == NULL || ((s = json_string_value(json_object_get(ev, k))) != NULL && \
	strcmp(s, (v)) == 0))
	return EQ("kind", f->kind) && EQ("entity", f->entity) && EQ("channel", f->channel) &&
	    EQ("outcome", f->outcome) && EQ("msg_id", f->msg) &&
	    (f->record == NULL || EQ("key", f->record));
#undef EQ
}

/* Fallback: the journal read directly, read-only. */
static int
offline(const struct mlc_cfg *cfg, struct filter *f)
{
	char dir[600];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	if (mlc_topo_state_path(cfg, "auditor", dir, sizeof(dir)) != 0)
		return 2;
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 32)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600)) != 0) {
		fprintf(stderr, "mlc audit: cannot open the journal in %s: %s\n", dir,
		    mdb_strerror(rc));
		if (env)
			mdb_env_close(env);
		return 1;
	}
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "journal", 0, &dbi)) != 0 ||
	    (rc = mdb_cursor_open(txn, dbi, &c)) != 0) {
		fprintf(stderr, "mlc audit: journal in %s: %s\n", dir, mdb_strerror(rc));
		if (txn)
			mdb_txn_abort(txn);
		mdb_env_close(env);
		return 1;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && f->limit != f->shown;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct mlc_frame fr;
		struct mlc_err err;
		int64_t ms;
		char *js;

		if (k.mv_size != 16)
			continue;
		ms = (int64_t)mlc_store_unbe64(k.mv_data);
		if (ms < f->since_ms || (f->until_ms > 0 && ms > f->until_ms))
			continue;
		if (mlc_proto_decode(v.mv_data, v.mv_size, &fr, &err) != 0 ||
		    fr.type != MLC_FRAME_AUDIT) {
			mlc_frame_free(&fr);
			continue;
		}
		js = mlc_audit_to_json(&fr.u.aud);
		if (js != NULL) {
			json_error_t je;
			json_t *ev = json_loads(js, 0, &je);

			if (ev != NULL && matches(f, &fr.u.aud, ev) &&
			    (!f->errors || cli_event_matches(js, 1, NULL, NULL))) {
				json_object_set_new(ev, "jseq", json_integer((json_int_t)
				    mlc_store_unbe64((unsigned char *)k.mv_data + 8)));
				emit(f, ev);
			}
			json_decref(ev);
			free(js);
		}
		mlc_frame_free(&fr);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	fflush(stdout);
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: mlc audit [--json] [--since 24h|TIME] [--until TIME] [--kind K]\n"
	    "                 [--entity E] [--channel C] [--outcome O] [--record NUMBER]\n"
	    "                 [--msg MSG_ID] [--errors] [--limit N] [--offline]\n"
	    "       mlc audit --compact\n"
	    "TIME is a duration before now (90s, 15m, 1h, 2d) or a UTC time\n"
	    "(2026-11-29T01:02:03Z). --offline reads the journal directly, read-only\n"
	    "(only when the auditor is down). --compact asks the auditor to compact\n"
	    "its LMDB file now.\n");
}

int
cli_audit(int argc, char **argv)
{
	struct mlc_cfg cfg;
	struct filter f;
	struct cli_ctl *c;
	char errbuf[600];
	int off = 0, compact = 0, r;
	int64_t now = mlc_time_now_ms();

	memset(&f, 0, sizeof(f));
	f.limit = -1;
	if (cli_load_config(&argc, argv, &cfg, NULL) != 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--json") == 0)
			f.json = 1;
		else if (strcmp(o, "--errors") == 0)
			f.errors = 1;
		else if (strcmp(o, "--offline") == 0)
			off = 1;
		else if (strcmp(o, "--compact") == 0)
			compact = 1;
		else if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (v == NULL) {
			goto bad;
		} else if (strcmp(o, "--kind") == 0)
			f.kind = argv[++i];
		else if (strcmp(o, "--entity") == 0)
			f.entity = argv[++i];
		else if (strcmp(o, "--channel") == 0)
			f.channel = argv[++i];
		else if (strcmp(o, "--outcome") == 0)
			f.outcome = argv[++i];
		else if (strcmp(o, "--record") == 0)
			f.record = argv[++i];
		else if (strcmp(o, "--msg") == 0)
			f.msg = argv[++i];
		else if (strcmp(o, "--limit") == 0) {
			char *end;

			f.limit = strtol(argv[++i], &end, 10);
			if (*end != '\0' || f.limit < 0) {
				fprintf(stderr, "mlc audit: --limit needs a number >= 0\n");
				return 2;
			}
		} else if (strcmp(o, "--since") == 0 || strcmp(o, "--until") == 0) {
			if (cli_parse_when(v, now, strcmp(o, "--since") == 0 ? &f.since_ms :
			    &f.until_ms) != 0) {
				fprintf(stderr, "mlc audit: %s '%s' is neither a duration (1h) nor a "
				    "UTC time (2026-11-29T01:02:03Z)\n", o, v);
				return 2;
			}
			i++;
		} else
			goto bad;
	}
	if (off)
		return offline(&cfg, &f);
	c = cli_ctl_open(&cfg);
	if (c == NULL) {
		fprintf(stderr, "mlc audit: cannot open the control socket %s\n",
		    cfg.ep.auditor_ctl);
		return 1;
	}
	if (compact) {
		json_t *req = json_pack("{s:s}", "op", "compact");
		json_t *rep = cli_ctl_call(c, req, 5000, errbuf, sizeof(errbuf));

		json_decref(req);
		cli_ctl_close(c);
		if (rep == NULL) {
			fprintf(stderr, "mlc audit: %s\n", errbuf);
			return 1;
		}
		json_decref(rep);
		printf("compaction scheduled: the auditor compacts its journal now "
		    "(see mlc audit --kind compact)\n");
		return 0;
	}
	{
		json_t *req = json_pack("{s:s}", "op", "ping");
		json_t *rep = cli_ctl_call(c, req, 2000, errbuf, sizeof(errbuf));

		json_decref(req);
		r = rep != NULL ? via_auditor(c, &f, errbuf, sizeof(errbuf)) : -1;
		json_decref(rep);
	}
	cli_ctl_close(c);
	if (r != 0 && f.shown == 0 && strstr(errbuf, "does not answer") != NULL) {
		fprintf(stderr, "mlc audit: %s; reading the journal directly (read-only)\n",
		    errbuf);
		return offline(&cfg, &f);
	}
	if (r != 0) {
		fprintf(stderr, "mlc audit: %s\n", errbuf);
		return 1;
	}
	return 0;
bad:
	fprintf(stderr, "mlc audit: unknown option or missing value\n");
	usage(stderr);
	return 2;
}
