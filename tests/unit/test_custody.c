/*
 * The chain of custody (common/mlc_custody.h), exercised over real ZeroMQ
 * ipc sockets and real LMDB environments in a temp directory: an outbox in
 * one store, an inbox in another, as between two stages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "mlc_custody.h"
#include "mlc_store.h"
#include "mlc_time.h"
#include "mlc_zmq.h"

struct env {
	char dir[256];
	char in_ep[300], ack_ep[300];
	void *zctx;
	struct mlc_store *st_a, *st_b;   /* sender, receiver */
	struct mlc_outbox *ob;
	struct mlc_inbox *ib;
	void *ack_sock;                  /* sender's ack socket */
	struct mlc_custody_opts o;
	/* what the receiver's handler saw */
	char *seen[4096];
	size_t n_seen;
	int fail_handler;
	int rejects;
};

static const char *
resolve(void *arg, const char *peer)
{
	struct env *e = arg;

	return strcmp(peer, "A") == 0 ? e->ack_ep : NULL;
}

static void
open_sender(struct env *e)
{
	char path[300];
	struct mlc_err err;

	snprintf(path, sizeof(path), "%s/a", e->dir);
	assert_int_equal(mlc_store_open(&e->st_a, path, 1 << 20, &err), 0);
	assert_int_equal(mlc_outbox_open(&e->ob, e->st_a, e->zctx, "B", e->in_ep, &e->o, &err), 0);
	e->ack_sock = mlc_zmq_pull_bind(e->zctx, e->ack_ep, "", 1 << 20, &err);
	assert_non_null(e->ack_sock);
}

static void
close_sender(struct env *e)
{
	mlc_outbox_close(&e->ob);
	mlc_zmq_close(&e->ack_sock);
	mlc_store_close(&e->st_a);
}

static void
open_receiver(struct env *e)
{
	char path[300];
	struct mlc_err err;

	snprintf(path, sizeof(path), "%s/b", e->dir);
	assert_int_equal(mlc_store_open(&e->st_b, path, 1 << 20, &err), 0);
	assert_int_equal(mlc_inbox_open(&e->ib, e->st_b, e->zctx, "B", e->in_ep, "", &e->o,
	    resolve, e, &err), 0);
}

static void
close_receiver(struct env *e)
{
	mlc_inbox_close(&e->ib);
	mlc_store_close(&e->st_b);
}

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char tmpl[] = "/tmp/mlc-custody-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	snprintf(e->dir, sizeof(e->dir), "%s", tmpl);
	snprintf(e->in_ep, sizeof(e->in_ep), "ipc://%s/in", e->dir);
	snprintf(e->ack_ep, sizeof(e->ack_ep), "ipc://%s/ack", e->dir);
	e->zctx = zmq_ctx_new();
	e->o.resend_after_ms = 200;
	e->o.window = 100;
	open_sender(e);
	open_receiver(e);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	char cmd[300];

	if (e->ob)
		close_sender(e);
	if (e->ib)
		close_receiver(e);
	zmq_ctx_term(e->zctx);
	for (size_t i = 0; i < e->n_seen; i++)
		free(e->seen[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

static int
handler(void *arg, MDB_txn *txn, const struct mlc_frame *f, struct mlc_err *err)
{
	struct env *e = arg;

	(void)txn;
	if (e->fail_handler)
		return mlc_err_set(err, "injected store failure");
	assert_int_equal(f->type, MLC_FRAME_RECORD);
	assert_true(e->n_seen < 4096);
	e->seen[e->n_seen++] = strdup(f->u.rec.id);
	return 0;
}

static void
on_reject(void *arg, const char *reason)
{
	struct env *e = arg;

	assert_non_null(strstr(reason, "proto:"));
	e->rejects++;
}

struct put_arg {
	struct env *e;
	int from, to;
};

static int
put_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct put_arg *pa = arg;

	for (int i = pa->from; i < pa->to; i++) {
		struct mlc_field fld = { "AMOUNT", "12.50" };
		struct mlc_frame f;
		char id[64];

		snprintf(id, sizeof(id), "rec-%05d", i);
		memset(&f, 0, sizeof(f));
		f.type = MLC_FRAME_RECORD;
		f.u.rec.id = id;
		f.u.rec.from = "A";
		f.u.rec.entity = "purchase_order";
		f.u.rec.key = id;
		f.u.rec.stamp = "2026-11-29T01:02:03Z";
		f.u.rec.event = "changed";
		f.u.rec.polled_at = "2026-11-29T01:02:04Z";
		f.u.rec.fields = &fld;
		f.u.rec.n_fields = 1;
		if (mlc_outbox_put_frame(pa->e->ob, txn, &f, id, err) != 0)
			return -1;
	}
	return 0;
}

static void
put_range(struct env *e, int from, int to)
{
	struct put_arg pa = { e, from, to };
	struct mlc_err err;

	assert_int_equal(mlc_store_write(e->st_a, put_txn, &pa, &err), 0);
}

/* One round of both sides' loops: send what is due, receive, ack. */
static void
step(struct env *e, int deliver_acks)
{
	struct mlc_err err;
	zmq_pollitem_t it = { mlc_inbox_socket(e->ib), 0, ZMQ_POLLIN, 0 };

	assert_true(mlc_outbox_pump(e->ob, mlc_time_mono_ms(), &err) >= 0);
	zmq_poll(&it, 1, 20);
	if (e->ib != NULL)
		mlc_inbox_drain(e->ib, 64, handler, on_reject, e, &err);
	if (deliver_acks) {
		zmq_pollitem_t ai = { e->ack_sock, 0, ZMQ_POLLIN, 0 };
		zmq_poll(&ai, 1, 5);
		assert_true(mlc_custody_take_acks(e->ack_sock, &e->ob, 1,
		    mlc_time_mono_ms(), &err) >= 0);
	} else {
		/* Swallow acks: as if they were lost on the way. */
		char buf[65536];
		while (zmq_recv(e->ack_sock, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
			;
	}
}

static void
run_until_drained(struct env *e, int64_t timeout_ms)
{
	int64_t deadline = mlc_time_mono_ms() + timeout_ms;

	while (mlc_outbox_pending(e->ob) > 0) {
		assert_true(mlc_time_mono_ms() < deadline);
		step(e, 1);
	}
}

static void
assert_each_seen_once(struct env *e, int n)
{
	assert_int_equal(e->n_seen, (size_t)n);
	for (int i = 0; i < n; i++) {
		char id[64];
		int count = 0;

		snprintf(id, sizeof(id), "rec-%05d", i);
		for (size_t j = 0; j < e->n_seen; j++)
			count += strcmp(e->seen[j], id) == 0;
		assert_int_equal(count, 1);
	}
}

static void
test_every_frame_arrives_once_and_outbox_empties(void **state)
{
	struct env *e = *state;

	put_range(e, 0, 250);  /* more than one window */
	assert_int_equal(mlc_outbox_pending(e->ob), 250);
	run_until_drained(e, 10000);
	assert_each_seen_once(e, 250);
}

static void
test_putting_a_pending_id_again_is_a_noop(void **state)
{
	struct env *e = *state;

	put_range(e, 0, 10);
	put_range(e, 5, 15);
	assert_int_equal(mlc_outbox_pending(e->ob), 15);
	run_until_drained(e, 10000);
	assert_each_seen_once(e, 15);
}

static void
test_lost_acks_cause_resend_but_receiver_processes_once(void **state)
{
	struct env *e = *state;
	int64_t until;

	put_range(e, 0, 40);
	/* Acks lost for longer than resend_after: the sender goes back. */
	until = mlc_time_mono_ms() + 3 * e->o.resend_after_ms;
	while (mlc_time_mono_ms() < until)
		step(e, 0);
	assert_int_equal(mlc_outbox_pending(e->ob), 40);
	run_until_drained(e, 10000);
	assert_each_seen_once(e, 40);
}

static void
test_sender_restart_resends_pending_and_receiver_drops_duplicates(void **state)
{
	struct env *e = *state;

	put_range(e, 0, 30);
	step(e, 0); /* delivered, acks lost */
	step(e, 0);
	close_sender(e); /* crash before any ack */
	open_sender(e);
	assert_int_equal(mlc_outbox_pending(e->ob), 30);
	run_until_drained(e, 10000);
	assert_each_seen_once(e, 30);
}

static void
test_receiver_down_then_up_gets_everything(void **state)
{
	struct env *e = *state;
	int64_t until;

	close_receiver(e);
	put_range(e, 0, 20);
	until = mlc_time_mono_ms() + 300;
	while (mlc_time_mono_ms() < until) {
		struct mlc_err err;
		assert_true(mlc_outbox_pump(e->ob, mlc_time_mono_ms(), &err) >= 0);
		usleep(10000);
	}
	assert_int_equal(mlc_outbox_pending(e->ob), 20);
	open_receiver(e);
	run_until_drained(e, 10000);
	assert_each_seen_once(e, 20);
}

static void
test_handler_failure_acks_nothing_and_batch_is_redelivered(void **state)
{
	struct env *e = *state;
	int64_t until;

	put_range(e, 0, 10);
	e->fail_handler = 1;
	until = mlc_time_mono_ms() + 2 * e->o.resend_after_ms;
	while (mlc_time_mono_ms() < until)
		step(e, 1);
	assert_int_equal(e->n_seen, 0);
	assert_int_equal(mlc_outbox_pending(e->ob), 10);
	e->fail_handler = 0;
	run_until_drained(e, 10000);
	assert_each_seen_once(e, 10);
}

static void
test_hostile_frame_is_rejected_and_good_frames_still_flow(void **state)
{
	struct env *e = *state;
	struct mlc_err err;
	static const unsigned char bomb[] = { 0xdd, 0xff, 0x00, 0x00, 0x00 };
	void *push = mlc_zmq_push_connect(e->zctx, e->in_ep, &err);
	int64_t deadline = mlc_time_mono_ms() + 5000;

	assert_non_null(push);
	while (mlc_zmq_send(push, bomb, sizeof(bomb), &err) != 0)
		assert_true(mlc_time_mono_ms() < deadline);
	while (e->rejects == 0) {
		assert_true(mlc_time_mono_ms() < deadline);
		step(e, 1);
	}
	mlc_zmq_close(&push);
	put_range(e, 0, 5);
	run_until_drained(e, 10000);
	assert_each_seen_once(e, 5);
}

static void
test_oversized_frame_never_reaches_the_decoder(void **state)
{
	struct env *e = *state;
	struct mlc_err err;
	size_t big = 2 << 20; /* over the 1 MiB ZMQ_MAXMSGSIZE */
	char *buf = calloc(1, big);
	void *push = mlc_zmq_push_connect(e->zctx, e->in_ep, &err);
	int64_t deadline = mlc_time_mono_ms() + 5000;

	assert_non_null(buf);
	assert_non_null(push);
	while (mlc_zmq_send(push, buf, big, &err) != 0)
		assert_true(mlc_time_mono_ms() < deadline);
	/* libzmq drops the connection instead of delivering it; afterwards
	 * normal traffic (on a new connection) still flows. */
	mlc_zmq_close(&push);
	free(buf);
	put_range(e, 0, 3);
	run_until_drained(e, 10000);
	assert_each_seen_once(e, 3);
	assert_int_equal(e->rejects, 0);
}

struct over_arg {
	struct mlc_outbox *ob;
	const char *id;
	size_t len;
	const char *field;      /* non-NULL: a record frame with this field value */
	int rc;
	struct mlc_err err;
};

static int
over_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct over_arg *b = arg;

	(void)err;
	if (b->field != NULL) {
		struct mlc_field fld = { "NOTE", (char *)(uintptr_t)b->field };
		struct mlc_frame f;

		memset(&f, 0, sizeof(f));
		f.type = MLC_FRAME_RECORD;
		f.u.rec.id = (char *)(uintptr_t)b->id;
		f.u.rec.from = "A";
		f.u.rec.entity = "purchase_order";
		f.u.rec.key = "PO1";
		f.u.rec.stamp = "2026-11-29T01:02:03Z";
		f.u.rec.event = "changed";
		f.u.rec.polled_at = "2026-11-29T01:02:04Z";
		f.u.rec.fields = &fld;
		f.u.rec.n_fields = 1;
		b->rc = mlc_outbox_put_frame(b->ob, txn, &f, b->id, &b->err);
	} else {
		char *buf = calloc(1, b->len);

		assert_non_null(buf);
		b->rc = mlc_outbox_put(b->ob, txn, b->id, buf, b->len, &b->err);
		free(buf);
	}
	return 0;       /* commit whatever the put left (it must leave nothing) */
}

/* A frame larger than max_frame_bytes is refused when it is put (not
 * resent forever into a receiver that drops it), with a specific error;
 * frames within the limit, before and after it, still flow. */
static void
test_frame_over_max_frame_bytes_is_refused_at_put(void **state)
{
	struct env *e = *state;
	struct mlc_err err;
	struct over_arg b;
	char *field;

	close_sender(e);
	close_receiver(e);
	e->o.max_frame = 4096;  /* the smallest max_frame_bytes the config allows */
	open_sender(e);
	open_receiver(e);
	put_range(e, 0, 3);
	/* a record with a 5,000-byte field */
	field = malloc(5001);
	assert_non_null(field);
	memset(field, 'x', 5000);
	field[5000] = '\0';
	memset(&b, 0, sizeof(b));
	b.ob = e->ob;
	b.id = "rec-big";
	b.field = field;
	assert_int_equal(mlc_store_write(e->st_a, over_txn, &b, &err), 0);
	assert_int_equal(b.rc, MLC_OUTBOX_TOO_BIG);
	assert_non_null(strstr(b.err.msg, "rec-big"));
	assert_non_null(strstr(b.err.msg, "more than max_frame_bytes (4096)"));
	assert_int_equal(mlc_outbox_pending(e->ob), 3);
	free(field);
	put_range(e, 3, 6);
	run_until_drained(e, 10000);
	assert_each_seen_once(e, 6);
	/* the boundary: 4097 bytes refused, 4096 accepted */
	memset(&b, 0, sizeof(b));
	b.ob = e->ob;
	b.id = "raw-4097";
	b.len = 4097;
	assert_int_equal(mlc_store_write(e->st_a, over_txn, &b, &err), 0);
	assert_int_equal(b.rc, MLC_OUTBOX_TOO_BIG);
	assert_int_equal(mlc_outbox_pending(e->ob), 0);
	b.id = "raw-4096";
	b.len = 4096;
	assert_int_equal(mlc_store_write(e->st_a, over_txn, &b, &err), 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(mlc_outbox_pending(e->ob), 1);
}

static void
test_prune_forgets_old_ids_only(void **state)
{
	struct env *e = *state;
	struct mlc_err err;

	put_range(e, 0, 5);
	run_until_drained(e, 10000);
	/* Nothing is older than the TTL yet. */
	assert_int_equal(mlc_inbox_prune(e->ib, mlc_time_now_ms(), &err), 0);
	/* Eight days later everything is. */
	assert_int_equal(mlc_inbox_prune(e->ib,
	    mlc_time_now_ms() + 8LL * 24 * 3600 * 1000, &err), 5);
}

struct big_arg {
	MDB_dbi dbi;
	int n;
};

static int
big_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct big_arg *ba = arg;
	char val[4096];

	memset(val, 'x', sizeof(val));
	for (int i = 0; i < ba->n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%08d", i);
		if (mlc_store_put(txn, ba->dbi, key, strlen(key), val, sizeof(val), err) != 0)
			return -1;
	}
	return 0;
}

static void
test_store_grows_the_map_when_full(void **state)
{
	struct env *e = *state;
	struct mlc_store *st;
	struct big_arg ba = { 0, 2000 }; /* ~8 MiB into a 1 MiB map */
	struct mlc_err err;
	char path[300];

	snprintf(path, sizeof(path), "%s/grow", e->dir);
	assert_int_equal(mlc_store_open(&st, path, 1 << 20, &err), 0);
	assert_int_equal(mlc_store_dbi(st, "big", 0, &ba.dbi, &err), 0);
	assert_int_equal(mlc_store_write(st, big_txn, &ba, &err), 0);
	assert_true(mlc_store_mapsize(st) >= (size_t)8 << 20);
	mlc_store_close(&st);
}

static void
send_ack(void *push, const char *from, const char *id)
{
	char *ids[1] = { (char *)(uintptr_t)id };
	struct mlc_frame f;
	struct mlc_err err;
	char *buf = NULL;
	size_t len = 0;

	memset(&f, 0, sizeof(f));
	f.type = MLC_FRAME_ACK;
	f.u.ack.from = (char *)(uintptr_t)from;
	f.u.ack.ids = ids;
	f.u.ack.n_ids = 1;
	assert_int_equal(mlc_proto_encode(&f, &buf, &len, &err), 0);
	assert_int_equal(zmq_send(push, buf, len, 0), (int)len);
	free(buf);
}

struct put2_arg {
	struct mlc_outbox *ob;
	const char *prefix;
	int n;
};

static int
put2_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct put2_arg *pa = arg;

	for (int i = 0; i < pa->n; i++) {
		char id[64];

		snprintf(id, sizeof(id), "%s-%03d", pa->prefix, i);
		if (mlc_outbox_put(pa->ob, txn, id, "x", 1, err) != 0)
			return -1;
	}
	return 0;
}

/* Many ack frames waiting at once, for two outboxes of one store, mixed
 * with a bad frame, a frame that is not an ack and an ack from a peer we
 * do not know: one call applies every good one (they are committed in
 * rounds of several frames per transaction) and skips the rest. */
static void
test_waiting_acks_for_two_outboxes_are_all_applied(void **state)
{
	struct env *e = *state;
	struct mlc_outbox *obc, *obs[2];
	struct put2_arg pb = { e->ob, "b", 70 }, pc = { NULL, "c", 3 };
	struct mlc_err err;
	char ep[300], id[64];
	void *push;
	int applied = 0;
	int64_t deadline = mlc_time_mono_ms() + 5000;

	snprintf(ep, sizeof(ep), "ipc://%s/c-in", e->dir);
	assert_int_equal(mlc_outbox_open(&obc, e->st_a, e->zctx, "C", ep, &e->o, &err), 0);
	pc.ob = obc;
	assert_int_equal(mlc_store_write(e->st_a, put2_txn, &pb, &err), 0);
	assert_int_equal(mlc_store_write(e->st_a, put2_txn, &pc, &err), 0);
	assert_int_equal(mlc_outbox_pending(e->ob), 70);
	assert_int_equal(mlc_outbox_pending(obc), 3);

	push = zmq_socket(e->zctx, ZMQ_PUSH);
	assert_int_equal(zmq_connect(push, e->ack_ep), 0);
	for (int i = 0; i < 70; i++) {
		snprintf(id, sizeof(id), "b-%03d", i);
		send_ack(push, "B", id);
		if (i == 10)
			assert_int_equal(zmq_send(push, "\xc1garbage", 8, 0), 8);
		if (i == 20)
			send_ack(push, "Z", "b-000");
	}
	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "c-%03d", i);
		send_ack(push, "C", id);
	}
	obs[0] = e->ob;
	obs[1] = obc;
	/* Frames cross an ipc socket: take what has arrived until all have. */
	while (applied < 73) {
		zmq_pollitem_t ai = { e->ack_sock, 0, ZMQ_POLLIN, 0 };
		int r;

		assert_true(mlc_time_mono_ms() < deadline);
		zmq_poll(&ai, 1, 50);
		r = mlc_custody_take_acks(e->ack_sock, obs, 2, mlc_time_mono_ms(), &err);
		assert_true(r >= 0);
		applied += r;
	}
	assert_int_equal(applied, 73);
	assert_int_equal(mlc_outbox_pending(e->ob), 0);
	assert_int_equal(mlc_outbox_pending(obc), 0);
	zmq_close(push);
	mlc_outbox_close(&obc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_frame_arrives_once_and_outbox_empties, setup, teardown),
		cmocka_unit_test_setup_teardown(test_putting_a_pending_id_again_is_a_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_acks_cause_resend_but_receiver_processes_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender_restart_resends_pending_and_receiver_drops_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receiver_down_then_up_gets_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_failure_acks_nothing_and_batch_is_redelivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_frame_is_rejected_and_good_frames_still_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_frame_never_reaches_the_decoder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_over_max_frame_bytes_is_refused_at_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_forgets_old_ids_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_grows_the_map_when_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiting_acks_for_two_outboxes_are_all_applied,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
