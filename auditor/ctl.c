/*
 * ctl: the auditor's control socket (endpoints.auditor_ctl, ROUTER), how
 * `mlc` reads the journal and asks for replays without opening the
 * auditor's LMDB environment itself (one process owns an environment:
 * pitfalls.md #17).
 *
 * One request is one JSON object {"op": ...}, one reply one JSON object
 * with "ok" (true, or false and "error"). Clients are REQ sockets, so each
 * message arrives as [identity][empty][request].
 *
 *   ping                      {"seq": last journal seq, "http": "ip:port"}
 *   query                     since_ms, until_ms, kind, entity, channel,
 *                             outcome, record, msg_id, errors (bool),
 *                             after (cursor), limit (<= 1000)
 *                             -> {"events": [...], "more": bool,
 *                                 "next": cursor, "seq": last seq}
 *   seq                       from, to -> {"events": [...]} (the events
 *                             with those journal seqs: `mlc tail` fills a
 *                             gap in the live stream with it)
 *   status                    -> {"status": {...}} (state.h)
 *   replay                    ids: [...] | failed: true (since_ms,
 *                             channel), force, by -> {"results": [...]}
 *   compact                   compacts the journal now (the auditor stops
 *                             taking events for the copy's duration)
 *
 * Every event carries "jseq", its journal seq.
 */
#include "auditor.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "mlc_log.h"

#define MAX_REQ (64 * 1024)
#define MAX_LIMIT 1000

struct collect {
	json_t *events;
};

static int
add_event(void *arg, const unsigned char key[AUD_KEY_LEN], uint64_t seq,
    const struct mlc_audit *ev)
{
	struct collect *c = arg;
	char *js = mlc_audit_to_json(ev);
	json_error_t je;
	json_t *o = js != NULL ? json_loads(js, 0, &je) : NULL;

	(void)key;
	free(js);
	if (o != NULL) {
		json_object_set_new(o, "jseq", json_integer((json_int_t)seq));
		json_array_append_new(c->events, o);
	}
	return 0;
}

static const char *
sget(json_t *req, const char *k)
{
	const char *s = json_string_value(json_object_get(req, k));

	return s != NULL && *s != '\0' ? s : NULL;
}

struct query_arg {
	struct auditor *a;
	struct aud_query q;
	struct collect c;
	int more;
	unsigned char last[AUD_KEY_LEN];
	uint64_t from, to;
};

static int
query_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct query_arg *qa = arg;

	return aud_journal_query(&qa->a->j, txn, &qa->q, add_event, &qa->c, &qa->more,
	    qa->last, err);
}

static int
seq_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct query_arg *qa = arg;

	return aud_journal_seq_range(&qa->a->j, txn, qa->from, qa->to, add_event, &qa->c, err);
}

static json_t *
op_query(struct auditor *a, json_t *req, int by_seq, struct mlc_err *err)
{
	struct query_arg qa;
	json_t *rep;
	json_int_t limit;
	char hex[2 * AUD_KEY_LEN + 1];

	memset(&qa, 0, sizeof(qa));
	qa.a = a;
	qa.c.events = json_array();
	if (by_seq) {
		qa.from = (uint64_t)json_integer_value(json_object_get(req, "from"));
		qa.to = (uint64_t)json_integer_value(json_object_get(req, "to"));
		if (mlc_store_read(a->st, seq_txn, &qa, err) != 0) {
			json_decref(qa.c.events);
			return NULL;
		}
		return json_pack("{s:b, s:o, s:I}", "ok", 1, "events", qa.c.events, "seq",
		    (json_int_t)a->j.seq);
	}
	qa.q.since_ms = json_integer_value(json_object_get(req, "since_ms"));
	qa.q.until_ms = json_integer_value(json_object_get(req, "until_ms"));
	qa.q.kind = sget(req, "kind");
	qa.q.entity = sget(req, "entity");
	qa.q.channel = sget(req, "channel");
	qa.q.outcome = sget(req, "outcome");
	qa.q.record = sget(req, "record");
	qa.q.msg_id = sget(req, "msg_id");
	qa.q.errors = json_is_true(json_object_get(req, "errors"));
	if (sget(req, "after") != NULL) {
		if (aud_key_unhex(sget(req, "after"), qa.q.after) != 0) {
			json_decref(qa.c.events);
			mlc_err_set(err, "'after' is not a cursor from an earlier reply");
			return NULL;
		}
		qa.q.has_after = 1;
	}
	limit = json_integer_value(json_object_get(req, "limit"));
	qa.q.limit = limit > 0 && limit <= MAX_LIMIT ? (size_t)limit : MAX_LIMIT;
	if (mlc_store_read(a->st, query_txn, &qa, err) != 0) {
		json_decref(qa.c.events);
		return NULL;
	}
	rep = json_pack("{s:b, s:o, s:b, s:I}", "ok", 1, "events", qa.c.events, "more",
	    qa.more, "seq", (json_int_t)a->j.seq);
	if (qa.more) {
		aud_key_hex(qa.last, hex);
		json_object_set_new(rep, "next", json_string(hex));
	}
	return rep;
}

static int
count_unresolved(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	void **args = arg;
	struct auditor *a = args[0];
	json_int_t *n = args[1];
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, a->j.msgstate, &c)) != 0)
		return mlc_err_set(err, "msgstate cursor: %s", mdb_strerror(rc));
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_error_t je;
		json_t *o = json_loadb(v.mv_data, v.mv_size, 0, &je);

		if (json_integer_value(json_object_get(o, "f")) &&
		    !json_integer_value(json_object_get(o, "p")))
			(*n)++;
		json_decref(o);
	}
	mdb_cursor_close(c);
	return 0;
}

static json_t *
op_status(struct auditor *a, struct mlc_err *err)
{
	json_t *st = aud_state_status(&a->state, &a->cfg, a->now_ms());
	json_int_t unresolved = 0;
	void *args[2] = { a, &unresolved };

	if (mlc_store_read(a->st, count_unresolved, args, err) != 0) {
		json_decref(st);
		return NULL;
	}
	json_object_set_new(st, "failed_not_replayed", json_integer(unresolved));
	json_object_set_new(st, "http", json_string(aud_http_addr(a)));
	json_object_set_new(st, "journal_seq", json_integer((json_int_t)a->j.seq));
	return json_pack("{s:b, s:o}", "ok", 1, "status", st);
}

static json_t *
op_replay(struct auditor *a, json_t *req, struct mlc_err *err)
{
	struct aud_replay_opts o;
	json_t *ids = json_object_get(req, "ids"), *res;
	const char **list = NULL;
	size_t n = 0;

	memset(&o, 0, sizeof(o));
	o.by = sget(req, "by") ? sget(req, "by") : "cli";
	o.force = json_is_true(json_object_get(req, "force"));
	if (json_is_array(ids) && json_array_size(ids) > 0) {
		list = calloc(json_array_size(ids), sizeof(*list));
		if (list == NULL) {
			mlc_err_set(err, "out of memory");
			return NULL;
		}
		for (size_t i = 0; i < json_array_size(ids); i++)
			if (json_string_value(json_array_get(ids, i)) != NULL)
				list[n++] = json_string_value(json_array_get(ids, i));
		o.ids = list;
		o.n_ids = n;
	} else if (json_is_true(json_object_get(req, "failed"))) {
		o.since_ms = json_integer_value(json_object_get(req, "since_ms"));
		o.channel = sget(req, "channel");
	} else {
		mlc_err_set(err, "replay needs \"ids\" or \"failed\": true");
		return NULL;
	}
	res = aud_replay(a, &o, err);
	free(list);
	if (res == NULL)
		return NULL;
	return json_pack("{s:b, s:o}", "ok", 1, "results", res);
}

static json_t *
handle(struct auditor *a, const char *body, size_t len)
{
	struct mlc_err err;
	json_error_t je;
	json_t *req = json_loadb(body, len, 0, &je), *rep = NULL;
	const char *op = json_string_value(json_object_get(req, "op"));

	err.msg[0] = '\0';
	if (op == NULL)
		mlc_err_set(&err, "request must be a JSON object with \"op\"");
	else if (strcmp(op, "ping") == 0)
		rep = json_pack("{s:b, s:I, s:s}", "ok", 1, "seq", (json_int_t)a->j.seq, "http",
		    aud_http_addr(a));
	else if (strcmp(op, "query") == 0)
		rep = op_query(a, req, 0, &err);
	else if (strcmp(op, "seq") == 0)
		rep = op_query(a, req, 1, &err);
	else if (strcmp(op, "status") == 0)
		rep = op_status(a, &err);
	else if (strcmp(op, "replay") == 0)
		rep = op_replay(a, req, &err);
	else if (strcmp(op, "compact") == 0) {
		a->compact_requested = 1;
		rep = json_pack("{s:b, s:b}", "ok", 1, "scheduled", 1);
	} else
		mlc_err_set(&err, "unknown op '%.40s'", op);
	json_decref(req);
	if (rep == NULL)
		rep = json_pack("{s:b, s:s}", "ok", 0, "error", err.msg[0] ? err.msg : "failed");
	return rep;
}

void
aud_ctl_serve(struct auditor *a)
{
	for (int n = 0; n < 32; n++) {
		zmq_msg_t parts[3];
		int got = 0, more = 1, bad = 0;
		json_t *rep;
		char *out;

		while (more) {
			zmq_msg_t m;
			int64_t mr = 0;
			size_t ml = sizeof(mr);

			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, a->ctl, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				if (got == 0)
					return;
				bad = 1;
				break;
			}
			zmq_getsockopt(a->ctl, ZMQ_RCVMORE, &mr, &ml);
			more = mr != 0;
			if (got < 3)
				parts[got++] = m;
			else {
				zmq_msg_close(&m);
				bad = 1;
			}
		}
		if (!bad && got == 3 && zmq_msg_size(&parts[1]) == 0 &&
		    zmq_msg_size(&parts[2]) <= MAX_REQ) {
			rep = handle(a, zmq_msg_data(&parts[2]), zmq_msg_size(&parts[2]));
			out = json_dumps(rep, JSON_COMPACT);
			json_decref(rep);
			if (out != NULL) {
				zmq_send(a->ctl, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]),
				    ZMQ_SNDMORE | ZMQ_DONTWAIT);
				zmq_send(a->ctl, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
				zmq_send(a->ctl, out, strlen(out), ZMQ_DONTWAIT);
				free(out);
			}
		} else {
			mlc_warn("ctl: dropped a malformed request");
		}
		for (int i = 0; i < got && i < 3; i++)
			zmq_msg_close(&parts[i]);
	}
}
