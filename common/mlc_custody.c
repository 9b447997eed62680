/*
 * mlc_custody: see mlc_custody.h for the protocol. This file keeps, per
 * outbox, two LMDB databases: "ob:<peer>" (big-endian sequence -> frame, so
 * a cursor walks oldest first) and "obi:<peer>" (id -> sequence, to delete
 * on ack). Per inbox: "held" (id -> when) and "heldt" (when+id, to forget
 * old ids in time order).
 */
#include "mlc_custody.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "mlc_log.h"
#include "mlc_time.h"
#include "mlc_zmq.h"

#define DEFAULT_RESEND_MS 3000
#define DEFAULT_WINDOW 1000
#define DEFAULT_HELD_TTL_MS (7LL * 24 * 3600 * 1000)
#define BLOCKED_RETRY_MS 50

static void
opts_fill(struct mlc_custody_opts *dst, const struct mlc_custody_opts *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src != NULL)
		*dst = *src;
	if (dst->resend_after_ms <= 0)
		dst->resend_after_ms = DEFAULT_RESEND_MS;
	if (dst->window == 0)
		dst->window = DEFAULT_WINDOW;
	if (dst->max_frame <= 0)
		dst->max_frame = MLC_PROTO_MAX_FRAME;
	if (dst->held_ttl_ms <= 0)
		dst->held_ttl_ms = DEFAULT_HELD_TTL_MS;
}

/* ------------------------------------------------------------------ */
/* Outbox                                                              */

struct mlc_outbox {
	struct mlc_store *st;
	struct mlc_custody_opts o;
	char peer[64];
	void *sock;
	MDB_dbi db, idx;
	uint64_t max_seq;    /* highest sequence ever put */
	uint64_t sent_upto;  /* frames with seq <= this were sent since last go-back */
	size_t inflight;     /* sent, not yet acked (approximate after go-back) */
	int64_t last_progress;
	int64_t blocked_until; /* the socket would block: try again then */
};

struct last_arg {
	MDB_dbi db;
	uint64_t seq;
};

static int
read_last_seq(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct last_arg *la = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, la->db, &c)) != 0)
		return mlc_err_set(err, "custody: cursor: %s", mdb_strerror(rc));
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8)
		la->seq = mlc_store_unbe64(k.mv_data);
	mdb_cursor_close(c);
	return 0;
}

int
mlc_outbox_open(struct mlc_outbox **obp, struct mlc_store *st, void *zctx,
    const char *peer, const char *endpoint, const struct mlc_custody_opts *o,
    struct mlc_err *err)
{
	struct mlc_outbox *ob;
	char name[96];
	struct last_arg la = { 0, 0 };

	*obp = NULL;
	ob = calloc(1, sizeof(*ob));
	if (ob == NULL)
		return mlc_err_set(err, "custody: out of memory");
	ob->st = st;
	opts_fill(&ob->o, o);
	snprintf(ob->peer, sizeof(ob->peer), "%s", peer);
	snprintf(name, sizeof(name), "ob:%s", peer);
	if (mlc_store_dbi(st, name, 0, &ob->db, err) != 0)
		goto fail;
	snprintf(name, sizeof(name), "obi:%s", peer);
	if (mlc_store_dbi(st, name, 0, &ob->idx, err) != 0)
		goto fail;
	la.db = ob->db;
	if (mlc_store_read(st, read_last_seq, &la, err) != 0)
		goto fail;
	ob->max_seq = la.seq;
	ob->sock = mlc_zmq_push_connect(zctx, endpoint, err);
	if (ob->sock == NULL)
		goto fail;
	ob->last_progress = mlc_time_mono_ms();
	*obp = ob;
	return 0;
fail:
	mlc_err_prefix(err, "outbox to %s", peer);
	free(ob);
	return -1;
}

void
mlc_outbox_close(struct mlc_outbox **obp)
{
	if (obp == NULL || *obp == NULL)
		return;
	mlc_zmq_close(&(*obp)->sock);
	free(*obp);
	*obp = NULL;
}

const char *
mlc_outbox_peer(const struct mlc_outbox *ob)
{
	return ob->peer;
}

int
mlc_outbox_put(struct mlc_outbox *ob, MDB_txn *txn, const char *id,
    const void *frame, size_t len, struct mlc_err *err)
{
	unsigned char key[8];
	MDB_val v;
	int r;

	if (ob->o.max_frame > 0 && len > (uint64_t)ob->o.max_frame) {
		mlc_err_set(err, "frame %.200s for %s is %zu bytes, more than max_frame_bytes "
		    "(%lld) the receiver accepts; not queued", id, ob->peer, len,
		    (long long)ob->o.max_frame);
		return MLC_OUTBOX_TOO_BIG;
	}
	r = mlc_store_get(txn, ob->idx, id, strlen(id), &v, err);
	if (r < 0)
		return -1;
	if (r == 1)
		return 0; /* already pending */
	mlc_store_be64(++ob->max_seq, key);
	if (mlc_store_put(txn, ob->db, key, 8, frame, len, err) != 0)
		return -1;
	return mlc_store_put(txn, ob->idx, id, strlen(id), key, 8, err);
}

int
mlc_outbox_put_frame(struct mlc_outbox *ob, MDB_txn *txn,
    const struct mlc_frame *f, const char *id, struct mlc_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (mlc_proto_encode(f, &buf, &len, err) != 0)
		return -1;
	r = mlc_outbox_put(ob, txn, id, buf, len, err);
	free(buf);
	return r;
}

struct pump_arg {
	struct mlc_outbox *ob;
	int64_t now;
	int sent;
};

static int
pump_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct pump_arg *pa = arg;
	struct mlc_outbox *ob = pa->ob;
	unsigned char start[8];
	MDB_cursor *c;
	MDB_val k, v;
	int rc, op;

	if ((rc = mdb_cursor_open(txn, ob->db, &c)) != 0)
		return mlc_err_set(err, "custody: cursor: %s", mdb_strerror(rc));
	mlc_store_be64(ob->sent_upto + 1, start);
	k.mv_size = 8;
	k.mv_data = start;
	op = MDB_SET_RANGE;
	while (ob->inflight < ob->o.window) {
		int s;

		rc = mdb_cursor_get(c, &k, &v, op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0) {
			mdb_cursor_close(c);
			return mlc_err_set(err, "custody: read outbox: %s", mdb_strerror(rc));
		}
		if (k.mv_size != 8)
			continue;
		s = mlc_zmq_send(ob->sock, v.mv_data, v.mv_size, err);
		if (s < 0) {
			mdb_cursor_close(c);
			return -1;
		}
		if (s == 1) {
			ob->blocked_until = pa->now + BLOCKED_RETRY_MS;
			break;
		}
		if (ob->inflight == 0)
			ob->last_progress = pa->now;
		ob->sent_upto = mlc_store_unbe64(k.mv_data);
		ob->inflight++;
		pa->sent++;
	}
	mdb_cursor_close(c);
	return 0;
}

int
mlc_outbox_pump(struct mlc_outbox *ob, int64_t now_ms, struct mlc_err *err)
{
	struct pump_arg pa = { ob, now_ms, 0 };

	if (ob->inflight > 0 && now_ms - ob->last_progress >= ob->o.resend_after_ms) {
		/* No ack for too long: whatever is in flight may be lost. */
		mlc_debug("outbox %s: no ack for %lld ms, resending %zu pending",
		    ob->peer, (long long)(now_ms - ob->last_progress), ob->inflight);
		ob->sent_upto = 0;
		ob->inflight = 0;
		ob->last_progress = now_ms;
		ob->blocked_until = 0;
	}
	if (now_ms < ob->blocked_until)
		return 0;
	ob->blocked_until = 0;
	if (ob->sent_upto >= ob->max_seq || ob->inflight >= ob->o.window)
		return 0;
	if (mlc_store_read(ob->st, pump_txn, &pa, err) != 0)
		return -1;
	/* Nothing left beyond sent_upto: skip the read next time. */
	if (pa.sent == 0 && ob->blocked_until == 0)
		ob->sent_upto = ob->max_seq;
	return pa.sent;
}

struct ack_arg {
	struct mlc_outbox *ob;
	char *const *ids;
	size_t n;
	size_t deleted, deleted_inflight;
};

static int
ack_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct ack_arg *aa = arg;
	struct mlc_outbox *ob = aa->ob;

	aa->deleted = aa->deleted_inflight = 0;
	for (size_t i = 0; i < aa->n; i++) {
		const char *id = aa->ids[i];
		unsigned char key[8];
		MDB_val v;
		int r = mlc_store_get(txn, ob->idx, id, strlen(id), &v, err);

		if (r < 0)
			return -1;
		if (r == 0 || v.mv_size != 8)
			continue;
		memcpy(key, v.mv_data, 8);
		if (mlc_store_del(txn, ob->db, key, 8, err) != 0 ||
		    mlc_store_del(txn, ob->idx, id, strlen(id), err) != 0)
			return -1;
		aa->deleted++;
		if (mlc_store_unbe64(key) <= ob->sent_upto)
			aa->deleted_inflight++;
	}
	return 0;
}

/* After the commit of ack_txn: progress, and fewer frames in flight. */
static void
ack_committed(const struct ack_arg *aa, int64_t now_ms)
{
	struct mlc_outbox *ob = aa->ob;

	if (aa->deleted > 0)
		ob->last_progress = now_ms;
	ob->inflight = aa->deleted_inflight > ob->inflight ? 0 :
	    ob->inflight - aa->deleted_inflight;
}

int
mlc_outbox_ack(struct mlc_outbox *ob, char *const *ids, size_t n,
    int64_t now_ms, struct mlc_err *err)
{
	struct ack_arg aa = { ob, ids, n, 0, 0 };

	if (mlc_store_write(ob->st, ack_txn, &aa, err) != 0)
		return -1;
	ack_committed(&aa, now_ms);
	return (int)aa.deleted;
}

struct count_arg {
	MDB_dbi db;
	uint64_t n;
};

static int
count_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct count_arg *ca = arg;
	MDB_stat stat;
	int rc = mdb_stat(txn, ca->db, &stat);

	if (rc != 0)
		return mlc_err_set(err, "custody: stat: %s", mdb_strerror(rc));
	ca->n = stat.ms_entries;
	return 0;
}

uint64_t
mlc_outbox_pending(struct mlc_outbox *ob)
{
	struct count_arg ca = { ob->db, 0 };

	if (mlc_store_read(ob->st, count_txn, &ca, NULL) != 0)
		return 0;
	return ca.n;
}

int64_t
mlc_outbox_due_in(struct mlc_outbox *ob, int64_t now_ms)
{
	int64_t t;

	if (ob->inflight == 0 && ob->sent_upto >= ob->max_seq)
		return mlc_outbox_pending(ob) > 0 ? ob->o.resend_after_ms : -1;
	if (ob->blocked_until > now_ms)
		return ob->blocked_until - now_ms;
	if (ob->sent_upto < ob->max_seq && ob->inflight < ob->o.window)
		return 0;
	t = ob->last_progress + ob->o.resend_after_ms - now_ms;
	return t < 0 ? 0 : t;
}

/* ------------------------------------------------------------------ */
/* Inbox                                                               */

#define MAX_ACK_PEERS 64

struct mlc_inbox {
	struct mlc_store *st;
	struct mlc_custody_opts o;
	void *zctx;
	char self[64];
	void *sock;
	MDB_dbi held, heldt;
	mlc_ack_resolver resolve;
	void *resolve_arg;
	struct {
		char peer[64];
		void *sock;
	} acks[MAX_ACK_PEERS];
	size_t n_acks;
};

int
mlc_inbox_open(struct mlc_inbox **ibp, struct mlc_store *st, void *zctx,
    const char *self, const char *endpoint, const char *bind_host,
    const struct mlc_custody_opts *o, mlc_ack_resolver resolve, void *resolve_arg,
    struct mlc_err *err)
{
	struct mlc_inbox *ib;

	*ibp = NULL;
	ib = calloc(1, sizeof(*ib));
	if (ib == NULL)
		return mlc_err_set(err, "custody: out of memory");
	ib->st = st;
	ib->zctx = zctx;
	opts_fill(&ib->o, o);
	snprintf(ib->self, sizeof(ib->self), "%s", self);
	ib->resolve = resolve;
	ib->resolve_arg = resolve_arg;
	if (mlc_store_dbi(st, "held", 0, &ib->held, err) != 0 ||
	    mlc_store_dbi(st, "heldt", 0, &ib->heldt, err) != 0)
		goto fail;
	ib->sock = mlc_zmq_pull_bind(zctx, endpoint, bind_host, ib->o.max_frame, err);
	if (ib->sock == NULL)
		goto fail;
	*ibp = ib;
	return 0;
fail:
	free(ib);
	return -1;
}

void
mlc_inbox_close(struct mlc_inbox **ibp)
{
	struct mlc_inbox *ib;

	if (ibp == NULL || *ibp == NULL)
		return;
	ib = *ibp;
	for (size_t i = 0; i < ib->n_acks; i++)
		mlc_zmq_close(&ib->acks[i].sock);
	mlc_zmq_close(&ib->sock);
	free(ib);
	*ibp = NULL;
}

void *
mlc_inbox_socket(struct mlc_inbox *ib)
{
	return ib->sock;
}

static const char *
frame_id(const struct mlc_frame *f)
{
	switch (f->type) {
	case MLC_FRAME_RECORD:  return f->u.rec.id;
	case MLC_FRAME_MESSAGE: return f->u.msg.id;
	case MLC_FRAME_AUDIT:   return f->u.aud.id;
	default:                return NULL;
	}
}

static const char *
frame_from(const struct mlc_frame *f)
{
	switch (f->type) {
	case MLC_FRAME_RECORD:  return f->u.rec.from;
	case MLC_FRAME_MESSAGE: return f->u.msg.from;
	case MLC_FRAME_AUDIT:   return f->u.aud.from;
	case MLC_FRAME_ACK:     return f->u.ack.from;
	}
	return NULL;
}

int
mlc_inbox_held(struct mlc_inbox *ib, MDB_txn *txn, const char *id,
    struct mlc_err *err)
{
	MDB_val v;

	return mlc_store_get(txn, ib->held, id, strlen(id), &v, err);
}

struct batch {
	struct mlc_inbox *ib;
	struct mlc_frame *frames;
	size_t n;
	mlc_inbox_handler h;
	void *arg;
	int64_t now_wall;
};

static int
batch_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct batch *b = arg;
	struct mlc_inbox *ib = b->ib;

	for (size_t i = 0; i < b->n; i++) {
		const char *id = frame_id(&b->frames[i]);
		unsigned char when[8];
		char tkey[8 + MLC_PROTO_MAX_ID];
		size_t idlen;
		int r;

		if (id == NULL)
			continue;
		r = mlc_inbox_held(ib, txn, id, err);
		if (r < 0)
			return -1;
		if (r == 1)
			continue; /* a resend: already processed, only re-ack */
		if (b->h(b->arg, txn, &b->frames[i], err) != 0)
			return -1;
		idlen = strlen(id);
		mlc_store_be64((uint64_t)b->now_wall, when);
		memcpy(tkey, when, 8);
		memcpy(tkey + 8, id, idlen);
		if (mlc_store_put(txn, ib->held, id, idlen, when, 8, err) != 0 ||
		    mlc_store_put(txn, ib->heldt, tkey, 8 + idlen, "", 0, err) != 0)
			return -1;
	}
	return 0;
}

static void *
ack_socket(struct mlc_inbox *ib, const char *peer)
{
	const char *ep;
	struct mlc_err err;
	void *s;

	for (size_t i = 0; i < ib->n_acks; i++)
		if (strcmp(ib->acks[i].peer, peer) == 0)
			return ib->acks[i].sock;
	if (ib->n_acks == MAX_ACK_PEERS)
		return NULL;
	ep = ib->resolve(ib->resolve_arg, peer);
	if (ep == NULL)
		return NULL;
	s = mlc_zmq_push_connect(ib->zctx, ep, &err);
	if (s == NULL) {
		mlc_error("inbox: %s", err.msg);
		return NULL;
	}
	snprintf(ib->acks[ib->n_acks].peer, sizeof(ib->acks[0].peer), "%s", peer);
	ib->acks[ib->n_acks++].sock = s;
	return s;
}

/* Sends acks for frames[] grouped by sender, at most MLC_PROTO_MAX_ACKS
 * ids per ack frame. A lost ack only causes a resend, so failures here are
 * logged at debug level and otherwise ignored. */
static void
send_acks(struct mlc_inbox *ib, struct mlc_frame *frames, size_t n)
{
	char **ids = calloc(n ? n : 1, sizeof(*ids));
	unsigned char *done = calloc(n ? n : 1, 1);

	if (ids == NULL || done == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *from = frame_from(&frames[i]);
		struct mlc_frame af;
		size_t k = 0;
		void *s;

		if (done[i] || from == NULL || frame_id(&frames[i]) == NULL)
			continue;
		for (size_t j = i; j < n && k < MLC_PROTO_MAX_ACKS; j++) {
			const char *fj = frame_from(&frames[j]);
			if (!done[j] && fj != NULL && frame_id(&frames[j]) != NULL &&
			    strcmp(fj, from) == 0) {
				ids[k++] = (char *)(uintptr_t)frame_id(&frames[j]);
				done[j] = 1;
			}
		}
		s = ack_socket(ib, from);
		if (s == NULL) {
			mlc_warn("inbox: no ack endpoint for sender '%s'", from);
			continue;
		}
		memset(&af, 0, sizeof(af));
		af.type = MLC_FRAME_ACK;
		af.u.ack.from = ib->self;
		af.u.ack.ids = ids;
		af.u.ack.n_ids = k;
		{
			char *buf = NULL;
			size_t len = 0;
			struct mlc_err err;

			if (mlc_proto_encode(&af, &buf, &len, &err) == 0) {
				if (mlc_zmq_send(s, buf, len, &err) != 0)
					mlc_debug("inbox: ack to %s not sent", from);
			} else {
				mlc_error("inbox: %s", err.msg);
			}
			free(buf);
		}
	}
out:
	free(ids);
	free(done);
}

int
mlc_inbox_drain(struct mlc_inbox *ib, size_t max, mlc_inbox_handler h,
    mlc_inbox_reject rej, void *arg, struct mlc_err *err)
{
	struct batch b;
	int received = 0, rc = 0;

	memset(&b, 0, sizeof(b));
	b.frames = calloc(max ? max : 1, sizeof(*b.frames));
	if (b.frames == NULL)
		return mlc_err_set(err, "inbox: out of memory");
	b.ib = ib;
	b.h = h;
	b.arg = arg;
	b.now_wall = mlc_time_now_ms();
	while ((size_t)received < max) {
		zmq_msg_t m;
		struct mlc_err derr;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, ib->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			break;
		}
		received++;
		if (mlc_proto_decode(zmq_msg_data(&m), zmq_msg_size(&m),
		    &b.frames[b.n], &derr) != 0) {
			if (rej != NULL)
				rej(arg, derr.msg);
		} else if (frame_id(&b.frames[b.n]) == NULL) {
			if (rej != NULL)
				rej(arg, "proto: an ack frame arrived on an inbox");
			mlc_frame_free(&b.frames[b.n]);
		} else {
			b.n++;
		}
		zmq_msg_close(&m);
	}
	if (b.n > 0) {
		if (mlc_store_write(ib->st, batch_txn, &b, err) != 0)
			rc = -1;
		else
			send_acks(ib, b.frames, b.n);
	}
	for (size_t i = 0; i < b.n; i++)
		mlc_frame_free(&b.frames[i]);
	free(b.frames);
	return rc == 0 ? received : -1;
}

struct prune_arg {
	struct mlc_inbox *ib;
	int64_t cutoff;
	int n;
};

static int
prune_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct prune_arg *pa = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	pa->n = 0;
	if ((rc = mdb_cursor_open(txn, pa->ib->heldt, &c)) != 0)
		return mlc_err_set(err, "inbox: cursor: %s", mdb_strerror(rc));
	while (pa->n < 10000 && mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0) {
		if (k.mv_size < 8 ||
		    (int64_t)mlc_store_unbe64(k.mv_data) >= pa->cutoff)
			break;
		if (mlc_store_del(txn, pa->ib->held, (char *)k.mv_data + 8,
		    k.mv_size - 8, err) != 0) {
			mdb_cursor_close(c);
			return -1;
		}
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			mdb_cursor_close(c);
			return mlc_err_set(err, "inbox: prune: %s", mdb_strerror(rc));
		}
		pa->n++;
	}
	mdb_cursor_close(c);
	return 0;
}

int
mlc_inbox_prune(struct mlc_inbox *ib, int64_t now_wall_ms, struct mlc_err *err)
{
	struct prune_arg pa = { ib, now_wall_ms - ib->o.held_ttl_ms, 0 };

	if (mlc_store_write(ib->st, prune_txn, &pa, err) != 0)
		return -1;
	return pa.n;
}

/* Ack frames applied in one write transaction: every waiting frame costs
 * one commit (two disk flushes) otherwise, and under load several wait. */
#define ACK_FRAMES_PER_TXN 64

struct acks_arg {
	struct mlc_frame f[ACK_FRAMES_PER_TXN];
	struct ack_arg aa[ACK_FRAMES_PER_TXN];
	size_t n;
	struct mlc_store *st;  /* this transaction's: outboxes of other stores wait */
};

static int
acks_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct acks_arg *a = arg;

	for (size_t i = 0; i < a->n; i++)
		if (a->aa[i].ob->st == a->st && ack_txn(txn, &a->aa[i], err) != 0)
			return -1;
	return 0;
}

/* Receives up to ACK_FRAMES_PER_TXN ack frames into a; 1 if the socket may
 * hold more. Frames for no outbox of ours are dropped here. */
static int
recv_acks(void *sock, struct mlc_outbox **obs, size_t n_obs, struct acks_arg *a)
{
	a->n = 0;
	while (a->n < ACK_FRAMES_PER_TXN) {
		struct mlc_frame *f = &a->f[a->n];
		struct mlc_outbox *ob = NULL;
		struct mlc_err derr;
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return 0;
		}
		if (mlc_proto_decode(zmq_msg_data(&m), zmq_msg_size(&m), f, &derr) != 0) {
			mlc_warn("ack socket: dropped a bad frame: %s", derr.msg);
			zmq_msg_close(&m);
			continue;
		}
		zmq_msg_close(&m);
		if (f->type != MLC_FRAME_ACK) {
			mlc_warn("ack socket: dropped a frame that is not an ack");
			mlc_frame_free(f);
			continue;
		}
		for (size_t i = 0; i < n_obs && ob == NULL; i++)
			if (obs[i] != NULL && strcmp(obs[i]->peer, f->u.ack.from) == 0)
				ob = obs[i];
		if (ob == NULL) {
			mlc_frame_free(f);
			continue;
		}
		a->aa[a->n] = (struct ack_arg){ ob, f->u.ack.ids, f->u.ack.n_ids, 0, 0 };
		a->n++;
	}
	return 1;
}

int
mlc_custody_take_acks(void *sock, struct mlc_outbox **obs, size_t n_obs,
    int64_t now_ms, struct mlc_err *err)
{
	struct acks_arg *a;
	int applied = 0, more = 1;

	if (n_obs == 0 || (a = malloc(sizeof(*a))) == NULL) {
		if (n_obs == 0)
			return 0;
		return mlc_err_set(err, "custody: out of memory");
	}
	for (int guard = 0; more && guard < 10000 / ACK_FRAMES_PER_TXN + 1; guard++) {
		int r = 0;

		more = recv_acks(sock, obs, n_obs, a);
		/* One commit per store (a process's outboxes share one). */
		for (size_t i = 0; i < a->n && r == 0; i++) {
			int first = 1;

			for (size_t j = 0; j < i && first; j++)
				first = a->aa[j].ob->st != a->aa[i].ob->st;
			if (!first)
				continue;
			a->st = a->aa[i].ob->st;
			if ((r = mlc_store_write(a->st, acks_txn, a, err)) != 0)
				break;
			for (size_t j = i; j < a->n; j++) {
				if (a->aa[j].ob->st != a->st)
					continue;
				ack_committed(&a->aa[j], now_ms);
				applied += (int)a->aa[j].deleted;
			}
		}
		for (size_t i = 0; i < a->n; i++)
			mlc_frame_free(&a->f[i]);
		if (r != 0) {
			applied = -1;
			break;
		}
	}
	free(a);
	return applied;
}
