/*
 * core: what the auditor does with each event, and replays.
 *
 * Replay never posts twice. The dispatcher drops ids it already holds, so a
 * replay is a NEW message "<msg id>/replay/<n>" built from the failed post
 * event (the dispatcher puts text and blocks into it); the auditor keeps per
 * original message (msgstate) whether it or any replay posted and which
 * replay is still in flight, and refuses a replay unless the message failed,
 * never posted, and no replay is pending. The message travels through the
 * chain of custody (an outbox to the channel's dispatcher, acks on
 * endpoints.auditor_ack) and is paced like any other.
 */
#include "auditor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "mlc_audit.h"
#include "mlc_log.h"
#include "mlc_time.h"
#include "mlc_topo.h"

#define INBOUND_TTL_MS (24LL * 3600 * 1000)
#define MAX_REPLAY 500

static int
pending_add(struct auditor *a, const struct mlc_audit *ev, uint64_t seq, int64_t ms)
{
	struct aud_pending *p = NULL;
	struct mlc_frame f;
	struct mlc_err err;

	/* A transaction retried after MDB_MAP_FULL runs again: same events. */
	for (size_t i = 0; i < a->n_pending; i++)
		if (strcmp(a->pending[i].id, ev->id) == 0)
			p = &a->pending[i];
	if (p == NULL) {
		if (a->n_pending == sizeof(a->pending) / sizeof(a->pending[0]))
			return 0; /* journaled; `mlc tail` fills the gap by seq */
		p = &a->pending[a->n_pending++];
	} else {
		free(p->frame);
	}
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", ev->id);
	p->seq = seq;
	p->ms = ms;
	memset(&f, 0, sizeof(f));
	f.type = MLC_FRAME_AUDIT;
	f.u.aud = *ev;
	if (mlc_proto_encode(&f, &p->frame, &p->len, &err) != 0) {
		a->n_pending--;
		return 0;
	}
	return 0;
}

/* The event as JSON with its journal seq ("jseq"), malloc'd. */
static char *
event_json(const struct mlc_audit *ev, uint64_t seq)
{
	char *js = mlc_audit_to_json(ev), *out;
	size_t n;

	if (js == NULL || (n = strlen(js)) < 2 || js[n - 1] != '}')
		return js;
	out = malloc(n + 40);
	if (out == NULL) {
		free(js);
		return NULL;
	}
	memcpy(out, js, n - 1);
	snprintf(out + n - 1, 40, ",\"jseq\":%llu}", (unsigned long long)seq);
	free(js);
	return out;
}

/* Forgets what an aborted attempt of a transaction left pending. */
static void
pending_drop(struct auditor *a)
{
	for (size_t i = 0; i < a->n_pending; i++)
		free(a->pending[i].frame);
	a->n_pending = 0;
}

void
aud_after_commit(struct auditor *a, int committed)
{
	for (size_t i = 0; i < a->n_pending; i++) {
		struct aud_pending *p = &a->pending[i];
		struct mlc_frame f;
		struct mlc_err err;

		if (committed && mlc_proto_decode(p->frame, p->len, &f, &err) == 0) {
			if (f.type == MLC_FRAME_AUDIT) {
				char *js = event_json(&f.u.aud, p->seq);

				if (js != NULL && a->pub != NULL)
					zmq_send(a->pub, js, strlen(js), ZMQ_DONTWAIT);
				free(js);
				aud_state_apply(&a->state, &f.u.aud, p->ms);
				a->journaled++;
			}
			mlc_frame_free(&f);
		}
		free(p->frame);
	}
	a->n_pending = 0;
}

static int
journal_local(struct auditor *a, MDB_txn *txn, const struct mlc_audit *ev,
    struct mlc_err *err)
{
	unsigned char key[AUD_KEY_LEN];
	uint64_t seq;
	int64_t now = a->now_ms();

	if (aud_journal_append(&a->j, txn, ev, now, key, &seq, err) != 0)
		return -1;
	return pending_add(a, ev, seq, now);
}

static int
emit_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	void **args = arg;

	return journal_local(args[0], txn, &((struct mlc_auditb *)args[1])->a, err);
}

int
aud_emit(struct auditor *a, struct mlc_auditb *b)
{
	struct mlc_err err;
	void *args[2] = { a, b };
	int r = mlc_store_write(a->st, emit_txn, args, &err);

	if (r != 0)
		mlc_error("cannot journal the auditor's '%s' event: %s", b->a.kind, err.msg);
	aud_after_commit(a, r == 0);
	mlc_auditb_free(b);
	return r;
}

/* ---- msgstate ---- */

static json_t *
ms_get(struct auditor *a, MDB_txn *txn, const char *base, size_t blen, struct mlc_err *err,
    int *found)
{
	MDB_val v;
	json_error_t je;
	json_t *o = NULL;
	int r = mlc_store_get(txn, a->j.msgstate, base, blen, &v, err);

	*found = 0;
	if (r < 0)
		return NULL;
	if (r == 1)
		o = json_loadb(v.mv_data, v.mv_size, 0, &je);
	if (json_is_object(o)) {
		*found = 1;
		return o;
	}
	json_decref(o);
	return json_object();
}

static int
ms_put(struct auditor *a, MDB_txn *txn, const char *base, size_t blen, json_t *o,
    struct mlc_err *err)
{
	char *s = json_dumps(o, JSON_COMPACT);
	int r;

	if (s == NULL)
		return mlc_err_set(err, "msgstate: out of memory");
	r = mlc_store_put(txn, a->j.msgstate, base, blen, s, strlen(s), err);
	free(s);
	return r;
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static int64_t
jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* Slack mrkdwn: escape exactly &, <, > (X3 text could ping @channel). */
static void
slack_escape(char *out, size_t outsz, const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n + 6 < outsz; s++) {
		const char *r = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : NULL;

		if (r != NULL) {
			memcpy(out + n, r, strlen(r));
			n += strlen(r);
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

/* Puts a message frame into the outbox of the channel's dispatcher. */
static int
send_message(struct auditor *a, MDB_txn *txn, const struct mlc_message *m,
    struct mlc_err *err)
{
	struct mlc_frame f;
	size_t d = mlc_topo_dispatcher_for(&a->cfg, m->channel);

	if (d >= a->n_disp || a->to_disp[d] == NULL)
		return mlc_err_set(err, "no dispatcher outbox for channel %s", m->channel);
	memset(&f, 0, sizeof(f));
	f.type = MLC_FRAME_MESSAGE;
	f.u.msg = *m;
	return mlc_outbox_put_frame(a->to_disp[d], txn, &f, m->id, err);
}

/* A dead letter: tell the ops channel, at most alert_max_per_hour. */
static int
maybe_alert(struct auditor *a, MDB_txn *txn, const struct mlc_audit *ev, const char *base,
    json_t *ms, struct mlc_err *err)
{
	const char *route = aud_attr_str(ev, "route"), *ch = aud_attr_str(ev, "channel");
	struct mlc_auditb b;
	int64_t now = a->now_ms();
	int send;
	int r = 0;

	if (a->cfg.aud.alert_channel[0] == '\0' || jint(ms, "al") ||
	    (route != NULL && strcmp(route, "alert") == 0) || strncmp(base, "alert/", 6) == 0)
		return 0;
	json_object_set_new(ms, "al", json_integer(1));
	if (now - a->alert_window_start >= 3600 * 1000) {
		a->alert_window_start = now;
		a->alert_count = 0;
	}
	send = a->alert_count < a->cfg.aud.alert_max_per_hour;
	mlc_auditb_init(&b, "alert");
	{
		/* The same id if the transaction runs again (MDB_MAP_FULL). */
		uint64_t h = 14695981039346656037ULL;

		for (const char *p = base; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		snprintf(b.id, sizeof(b.id), "alert-%016llx", (unsigned long long)h);
	}
	mlc_auditb_str(&b, "msg_id", base);
	mlc_auditb_str(&b, "channel", a->cfg.aud.alert_channel);
	mlc_auditb_str(&b, "failed_channel", ch);
	mlc_auditb_str(&b, "error", aud_attr_str(ev, "error"));
	mlc_auditb_str(&b, "outcome", send ? "sent" : "suppressed");
	if (send) {
		char text[2048], key[300], chan[300], error[300], id[MLC_PROTO_MAX_ID], at[32];
		const char *rid = aud_attr_str(ev, "record_id");
		struct mlc_message m;

		a->alert_count++;
		slack_escape(key, sizeof(key), aud_attr_str(ev, "key"));
		slack_escape(chan, sizeof(chan), ch);
		slack_escape(error, sizeof(error), aud_attr_str(ev, "error"));
		snprintf(text, sizeof(text), ":warning: ml-connector could not post %s%s to %s "
		    "(%s) after %lld attempt(s); it is kept as a dead letter. Once the cause is "
		    "fixed: mlc replay %s", key[0] ? "record " : "a message", key,
		    chan[0] ? chan : "?", error[0] ? error : "no error given",
		    (long long)aud_attr_int(ev, "attempts", NULL), base);
		snprintf(id, sizeof(id), "alert/%.*s", (int)(sizeof(id) - 8), base);
		mlc_time_format_ms(now, at);
		memset(&m, 0, sizeof(m));
		m.id = id;
		m.from = "auditor";
		m.record_id = (char *)(uintptr_t)(rid != NULL && *rid ? rid : "alert");
		m.entity = (char *)(uintptr_t)(aud_attr_str(ev, "entity") ?
		    aud_attr_str(ev, "entity") : "");
		m.key = (char *)(uintptr_t)(aud_attr_str(ev, "key") ? aud_attr_str(ev, "key") : "");
		m.route = "alert";
		m.channel = a->cfg.aud.alert_channel;
		m.text = text;
		m.blocks = "";
		m.created_at = at;
		r = send_message(a, txn, &m, err);
	}
	if (r == 0)
		r = journal_local(a, txn, &b.a, err);
	mlc_auditb_free(&b);
	return r;
}

/* A post event: bookkeeping for replay and alerts. */
static int
track_post(struct auditor *a, MDB_txn *txn, const struct mlc_audit *ev,
    const unsigned char key[AUD_KEY_LEN], struct mlc_err *err)
{
	const char *id = aud_attr_str(ev, "msg_id"), *o = aud_attr_str(ev, "outcome");
	char base[MLC_PROTO_MAX_ID], hex[2 * AUD_KEY_LEN + 1];
	size_t blen;
	json_t *ms;
	int found, r = 0, in_doubt;

	if (id == NULL || o == NULL || (blen = aud_msg_base_len(id)) == 0 ||
	    blen >= sizeof(base))
		return 0;
	if (strcmp(o, "posted") != 0 && strcmp(o, "failed") != 0)
		return 0; /* not final: the dispatcher still holds it */
	memcpy(base, id, blen);
	base[blen] = '\0';
	if ((ms = ms_get(a, txn, base, blen, err, &found)) == NULL)
		return -1;
	if (strcmp(jstr(ms, "pend"), id) == 0)
		json_object_set_new(ms, "pend", json_string(""));
	if (strcmp(o, "posted") == 0) {
		json_object_set_new(ms, "p", json_integer(1));
	} else {
		in_doubt = aud_attr_int(ev, "in_doubt", NULL) != 0;
		json_object_set_new(ms, "f", json_integer(1));
		json_object_set_new(ms, "d", json_integer(in_doubt));
		json_object_set_new(ms, "ch", json_string(aud_attr_str(ev, "channel") ?
		    aud_attr_str(ev, "channel") : ""));
		if (aud_attr_str(ev, "text") != NULL) {
			aud_key_hex(key, hex);
			json_object_set_new(ms, "fk", json_string(hex));
		}
		r = maybe_alert(a, txn, ev, base, ms, err);
	}
	if (r == 0)
		r = ms_put(a, txn, base, blen, ms, err);
	json_decref(ms);
	return r;
}

int
aud_take_event(struct auditor *a, MDB_txn *txn, const struct mlc_audit *ev,
    struct mlc_err *err)
{
	unsigned char key[AUD_KEY_LEN];
	uint64_t seq;
	int64_t now = a->now_ms();

	if (aud_journal_append(&a->j, txn, ev, now, key, &seq, err) != 0)
		return -1;
	pending_add(a, ev, seq, now);
	if (strcmp(ev->kind, "post") == 0)
		return track_post(a, txn, ev, key, err);
	return 0;
}

/* ---- rebuilding state at start ---- */

static int
rebuild_one(void *arg, const unsigned char key[AUD_KEY_LEN], uint64_t seq,
    const struct mlc_audit *ev)
{
	(void)seq;
	aud_state_apply(arg, ev, aud_key_ms(key));
	return 0;
}

struct rebuild_arg {
	struct auditor *a;
};

static int
rebuild_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct auditor *a = arg;
	struct aud_query q;
	unsigned char last[AUD_KEY_LEN];
	int more = 1;

	memset(&q, 0, sizeof(q));
	q.since_ms = a->now_ms() - AUD_STATE_REBUILD_MS;
	q.limit = 100000;
	q.max_scan = 100000;
	while (more) {
		if (aud_journal_query(&a->j, txn, &q, rebuild_one, &a->state, &more, last,
		    err) != 0)
			return -1;
		q.has_after = 1;
		memcpy(q.after, last, AUD_KEY_LEN);
	}
	return 0;
}

int
aud_rebuild_state(struct auditor *a, struct mlc_err *err)
{
	aud_state_init(&a->state);
	return mlc_store_read(a->st, rebuild_txn, a, err);
}

/* ---- replay ---- */

struct replay_arg {
	struct auditor *a;
	const struct aud_replay_opts *o;
	json_t *results;
	char (*bases)[MLC_PROTO_MAX_ID];
	size_t n_bases;
};

static int
collect_failed(void *arg, const unsigned char key[AUD_KEY_LEN], uint64_t seq,
    const struct mlc_audit *ev)
{
	struct replay_arg *ra = arg;
	const char *id = aud_attr_str(ev, "msg_id");
	size_t blen;

	(void)key;
	(void)seq;
	if (id == NULL || strcmp(ev->kind, "post") != 0 ||
	    (blen = aud_msg_base_len(id)) >= MLC_PROTO_MAX_ID || blen == 0)
		return 0;
	for (size_t i = 0; i < ra->n_bases; i++)
		if (strlen(ra->bases[i]) == blen && memcmp(ra->bases[i], id, blen) == 0)
			return 0;
	if (ra->n_bases == MAX_REPLAY)
		return 1;
	memcpy(ra->bases[ra->n_bases], id, blen);
	ra->bases[ra->n_bases][blen] = '\0';
	ra->n_bases++;
	return 0;
}

static int
replay_audit(struct auditor *a, MDB_txn *txn, json_t *results, const char *base,
    const char *result, const char *reason, const char *replay_id, const char *channel,
    const char *by, struct mlc_err *err)
{
	struct mlc_auditb b;
	int r;

	json_array_append_new(results, json_pack("{s:s, s:s, s:s, s:s}", "msg_id", base,
	    "result", result, "reason", reason ? reason : "", "replay_id",
	    replay_id ? replay_id : ""));
	mlc_auditb_init(&b, "replay");
	mlc_auditb_str(&b, "msg_id", base);
	mlc_auditb_str(&b, "outcome", result);
	mlc_auditb_str(&b, "reason", reason);
	mlc_auditb_str(&b, "replay_id", replay_id);
	mlc_auditb_str(&b, "channel", channel);
	mlc_auditb_str(&b, "by", by);
	r = journal_local(a, txn, &b.a, err);
	mlc_auditb_free(&b);
	return r;
}

static int
replay_one(struct replay_arg *ra, MDB_txn *txn, const char *base, struct mlc_err *err)
{
	struct auditor *a = ra->a;
	const char *by = ra->o->by ? ra->o->by : "cli";
	size_t blen = strlen(base);
	unsigned char fk[AUD_KEY_LEN];
	char rid[MLC_PROTO_MAX_ID], at[32];
	const char *why = NULL;
	struct mlc_frame ff;
	struct mlc_message m;
	json_t *ms;
	int found, r;

	if ((ms = ms_get(a, txn, base, blen, err, &found)) == NULL)
		return -1;
	if (!found)
		why = "unknown message id: no final post event for it in the journal (it may "
		    "still be queued or retrying; see mlc audit --record)";
	else if (jint(ms, "p"))
		why = "already posted (the original or a replay): nothing to do";
	else if (jstr(ms, "pend")[0] != '\0')
		why = "a replay of it is still in flight";
	else if (!jint(ms, "f"))
		why = "it has not failed";
	else if (jstr(ms, "fk")[0] == '\0' || aud_key_unhex(jstr(ms, "fk"), fk) != 0)
		why = "its failed post event carries no text to send again";
	else if (jint(ms, "d") && !ra->o->force)
		why = "its last attempt may have posted (in doubt): check the channel, then "
		    "replay it with --force";
	else if (ra->o->channel != NULL && strcmp(jstr(ms, "ch"), ra->o->channel) != 0)
		why = "other channel";
	if (why != NULL) {
		r = strcmp(why, "other channel") == 0 ? 0 :
		    replay_audit(a, txn, ra->results, base, "skipped", why, NULL, jstr(ms, "ch"),
		    by, err);
		json_decref(ms);
		return r;
	}
	if ((r = aud_journal_get(&a->j, txn, fk, &ff, err)) <= 0) {
		json_decref(ms);
		if (r < 0)
			return -1;
		return replay_audit(a, txn, ra->results, base, "skipped",
		    "its failed post event was pruned from the journal", NULL, NULL, by, err);
	}
	json_object_set_new(ms, "n", json_integer(jint(ms, "n") + 1));
	snprintf(rid, sizeof(rid), "%s/replay/%lld", base, (long long)jint(ms, "n"));
	json_object_set_new(ms, "pend", json_string(rid));
	mlc_time_format_ms(a->now_ms(), at);
	memset(&m, 0, sizeof(m));
	m.id = rid;
	m.from = "auditor";
	m.record_id = (char *)(uintptr_t)(aud_attr_str(&ff.u.aud, "record_id") ?
	    aud_attr_str(&ff.u.aud, "record_id") : base);
	m.entity = (char *)(uintptr_t)(aud_attr_str(&ff.u.aud, "entity") ?
	    aud_attr_str(&ff.u.aud, "entity") : "");
	m.key = (char *)(uintptr_t)(aud_attr_str(&ff.u.aud, "key") ?
	    aud_attr_str(&ff.u.aud, "key") : "");
	m.route = (char *)(uintptr_t)(aud_attr_str(&ff.u.aud, "route") ?
	    aud_attr_str(&ff.u.aud, "route") : "replay");
	m.channel = (char *)(uintptr_t)(aud_attr_str(&ff.u.aud, "channel") ?
	    aud_attr_str(&ff.u.aud, "channel") : "");
	m.text = (char *)(uintptr_t)aud_attr_str(&ff.u.aud, "text");
	m.blocks = (char *)(uintptr_t)(aud_attr_str(&ff.u.aud, "blocks") ?
	    aud_attr_str(&ff.u.aud, "blocks") : "");
	m.created_at = at;
	r = send_message(a, txn, &m, err);
	if (r == 0)
		r = ms_put(a, txn, base, blen, ms, err);
	if (r == 0)
		r = replay_audit(a, txn, ra->results, base, "sent", NULL, rid, m.channel, by, err);
	mlc_frame_free(&ff);
	json_decref(ms);
	return r;
}

static int
replay_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct replay_arg *ra = arg;
	const struct aud_replay_opts *o = ra->o;

	json_array_clear(ra->results);
	pending_drop(ra->a);
	ra->n_bases = 0;
	if (o->ids != NULL) {
		for (size_t i = 0; i < o->n_ids && ra->n_bases < MAX_REPLAY; i++) {
			size_t blen = aud_msg_base_len(o->ids[i]);

			if (blen == 0 || blen >= MLC_PROTO_MAX_ID)
				continue;
			memcpy(ra->bases[ra->n_bases], o->ids[i], blen);
			ra->bases[ra->n_bases++][blen] = '\0';
		}
	} else {
		struct aud_query q;
		unsigned char last[AUD_KEY_LEN];
		int more;

		memset(&q, 0, sizeof(q));
		q.since_ms = o->since_ms;
		q.outcome = "failed";
		q.kind = "post";
		q.channel = o->channel;
		q.limit = 100000;
		if (aud_journal_query(&ra->a->j, txn, &q, collect_failed, ra, &more, last,
		    err) != 0)
			return -1;
	}
	for (size_t i = 0; i < ra->n_bases; i++)
		if (replay_one(ra, txn, ra->bases[i], err) != 0)
			return -1;
	return 0;
}

json_t *
aud_replay(struct auditor *a, const struct aud_replay_opts *o, struct mlc_err *err)
{
	struct replay_arg ra = { a, o, json_array(), NULL, 0 };
	int r;

	ra.bases = calloc(MAX_REPLAY, sizeof(*ra.bases));
	if (ra.bases == NULL || ra.results == NULL) {
		free(ra.bases);
		json_decref(ra.results);
		mlc_err_set(err, "replay: out of memory");
		return NULL;
	}
	aud_after_commit(a, 1);
	r = mlc_store_write(a->st, replay_txn, &ra, err);
	aud_after_commit(a, r == 0);
	free(ra.bases);
	if (r != 0) {
		json_decref(ra.results);
		return NULL;
	}
	return ra.results;
}

/* ---- inbound event ids ---- */

struct seen_arg {
	struct auditor *a;
	const char *id;
	int seen;
};

static int
seen_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct seen_arg *sa = arg;
	unsigned char v[8];
	MDB_val old;
	int r = mlc_store_get(txn, sa->a->inbound_seen, sa->id, strlen(sa->id), &old, err);

	if (r < 0)
		return -1;
	sa->seen = r;
	if (r == 1)
		return 0;
	mlc_store_be64((uint64_t)sa->a->now_ms(), v);
	return mlc_store_put(txn, sa->a->inbound_seen, sa->id, strlen(sa->id), v, 8, err);
}

int
aud_event_seen(struct auditor *a, const char *event_id)
{
	struct seen_arg sa = { a, event_id, 0 };
	struct mlc_err err;

	if (strlen(event_id) == 0 || strlen(event_id) > 200)
		return -1;
	if (mlc_store_write(a->st, seen_txn, &sa, &err) != 0) {
		mlc_error("inbound event ids: %s", err.msg);
		return -1;
	}
	return sa.seen;
}

static int
prune_seen_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct auditor *a = arg;
	int64_t cutoff = a->now_ms() - INBOUND_TTL_MS;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, n = 0;

	if ((rc = mdb_cursor_open(txn, a->inbound_seen, &c)) != 0)
		return mlc_err_set(err, "inbound_seen cursor: %s", mdb_strerror(rc));
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && n < 10000;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
		if (v.mv_size == 8 && (int64_t)mlc_store_unbe64(v.mv_data) < cutoff &&
		    (rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return 0;
}

void
aud_prune_inbound(struct auditor *a)
{
	struct mlc_err err;

	if (mlc_store_write(a->st, prune_seen_txn, a, &err) != 0)
		mlc_error("inbound event ids: %s", err.msg);
}
