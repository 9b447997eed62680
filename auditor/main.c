/*
 * mlc-auditor: the journal of everything the connector did.
 *
 * Every stage sends audit events (poll cycles, posts, errors, start-ups)
 * through the chain of custody; the auditor stores each exactly once in its
 * LMDB journal ("journal": be64(received ms) be64(seq) -> event frame) and
 * then publishes it as one JSON text on a PUB socket for `mlc tail`. The
 * journal is kept for auditor.retention (default 90 days) and survives
 * restarts; `mlc audit` reads it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "mlc_cfg.h"
#include "mlc_custody.h"
#include "mlc_log.h"
#include "mlc_proc.h"
#include "mlc_store.h"
#include "mlc_time.h"
#include "mlc_topo.h"
#include "mlc_zmq.h"

#define BATCH 1024

struct auditor {
	struct mlc_cfg cfg;
	struct mlc_store *st;
	void *zctx;
	void *pub;
	struct mlc_inbox *in;
	MDB_dbi journal;
	uint64_t seq;
	/* Events of the batch being committed, published after the commit. */
	char **pending;
	size_t n_pending;
	uint64_t journaled;
};

static int
on_frame(void *arg, MDB_txn *txn, const struct mlc_frame *f, struct mlc_err *err)
{
	struct auditor *a = arg;
	unsigned char key[16];
	char *buf = NULL, *json;
	size_t len = 0;
	int r;

	if (f->type != MLC_FRAME_AUDIT) {
		mlc_warn("dropped a frame that is not an audit event");
		return 0;
	}
	if (mlc_proto_encode(f, &buf, &len, err) != 0)
		return -1;
	mlc_store_be64((uint64_t)mlc_time_now_ms(), key);
	mlc_store_be64(++a->seq, key + 8);
	r = mlc_store_put(txn, a->journal, key, sizeof(key), buf, len, err);
	free(buf);
	if (r != 0)
		return -1;
	json = mlc_audit_to_json(&f->u.aud);
	if (json != NULL && a->n_pending < BATCH)
		a->pending[a->n_pending++] = json;
	else
		free(json);
	return 0;
}

static void
on_reject(void *arg, const char *reason)
{
	(void)arg;
	mlc_warn("dropped a malformed frame: %s", reason);
}

static void
publish_pending(struct auditor *a, int committed)
{
	for (size_t i = 0; i < a->n_pending; i++) {
		if (committed) {
			zmq_send(a->pub, a->pending[i], strlen(a->pending[i]), ZMQ_DONTWAIT);
			a->journaled++;
		}
		free(a->pending[i]);
	}
	a->n_pending = 0;
}

static int
last_seq_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct auditor *a = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, a->journal, &c);

	if (rc != 0)
		return mlc_err_set(err, "journal cursor: %s", mdb_strerror(rc));
	if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 16)
		a->seq = mlc_store_unbe64((unsigned char *)k.mv_data + 8);
	mdb_cursor_close(c);
	return 0;
}

struct prune_arg {
	struct auditor *a;
	uint64_t cutoff;
	int n;
};

static int
prune_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct prune_arg *pa = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, pa->a->journal, &c);

	if (rc != 0)
		return mlc_err_set(err, "journal cursor: %s", mdb_strerror(rc));
	while (pa->n < 10000 && mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 &&
	    k.mv_size == 16 && mlc_store_unbe64(k.mv_data) < pa->cutoff) {
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			mdb_cursor_close(c);
			return mlc_err_set(err, "journal prune: %s", mdb_strerror(rc));
		}
		pa->n++;
	}
	mdb_cursor_close(c);
	return 0;
}

int
main(int argc, char **argv)
{
	struct auditor a;
	struct mlc_custody_opts co;
	struct mlc_err err;
	char dir[512];
	int64_t next_prune = 0;

	memset(&a, 0, sizeof(a));
	mlc_proc_start("auditor", argc, argv, &a.cfg, NULL, NULL, "");
	mlc_topo_custody_opts(&a.cfg, &co);
	a.pending = calloc(BATCH, sizeof(*a.pending));
	if (a.pending == NULL)
		mlc_proc_die("out of memory");
	if (mlc_topo_state_path(&a.cfg, "auditor", dir, sizeof(dir)) != 0)
		mlc_proc_die("state_dir too long");
	if (mlc_store_open(&a.st, dir, 0, &err) != 0 ||
	    mlc_store_dbi(a.st, "journal", 0, &a.journal, &err) != 0 ||
	    mlc_store_read(a.st, last_seq_txn, &a, &err) != 0)
		mlc_proc_die("%s", err.msg);
	a.zctx = zmq_ctx_new();
	a.pub = mlc_zmq_pub_bind(a.zctx, a.cfg.ep.auditor_pub, a.cfg.ep.bind_host, &err);
	if (a.pub == NULL ||
	    mlc_inbox_open(&a.in, a.st, a.zctx, "auditor", a.cfg.ep.auditor_in,
	    a.cfg.ep.bind_host, &co, mlc_topo_ack_endpoint, &a.cfg, &err) != 0)
		mlc_proc_die("%s", err.msg);
	mlc_info("started: journal in %s, live stream on %s", dir, a.cfg.ep.auditor_pub);
	while (!mlc_proc_stop) {
		zmq_pollitem_t item = { mlc_inbox_socket(a.in), 0, ZMQ_POLLIN, 0 };

		if (zmq_poll(&item, 1, 1000) > 0) {
			int r = mlc_inbox_drain(a.in, BATCH, on_frame, on_reject, &a, &err);

			if (r < 0)
				mlc_error("%s", err.msg);
			publish_pending(&a, r >= 0);
		}
		if (mlc_time_now_ms() >= next_prune) {
			struct prune_arg pa = { &a,
				(uint64_t)(mlc_time_now_ms() - a.cfg.audit_retention_ms), 0 };

			if (mlc_store_write(a.st, prune_txn, &pa, &err) != 0 ||
			    mlc_inbox_prune(a.in, mlc_time_now_ms(), &err) < 0)
				mlc_error("%s", err.msg);
			else if (pa.n > 0)
				mlc_info("retention: removed %d journal entries", pa.n);
			next_prune = mlc_time_now_ms() + 3600 * 1000;
		}
	}
	mlc_info("stopping after %llu events", (unsigned long long)a.journaled);
	mlc_inbox_close(&a.in);
	mlc_zmq_close(&a.pub);
	zmq_ctx_term(a.zctx);
	mlc_store_close(&a.st);
	free(a.pending);
	return 0;
}
