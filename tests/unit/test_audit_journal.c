/* The auditor's journal: indexes, queries, paging, seq ranges, retention,
 * restarts and compaction. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "mlc_audit.h"

static char dir[256];
static struct mlc_store *st;
static struct aud_journal J;

static int
setup(void **state)
{
	struct mlc_err err;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mlc-test-journal-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mlc_store_open(&st, dir, 0, &err), 0);
	assert_int_equal(aud_journal_open(&J, st, &err), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	mlc_store_close(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s.compact", dir, dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

struct ev {
	const char *kind, *entity, *channel, *outcome, *key, *msg_id, *record_id;
	int64_t ms;
};

static int
append_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	const struct ev *e = arg;
	struct mlc_auditb b;
	unsigned char key[AUD_KEY_LEN];
	uint64_t seq;
	int r;

	mlc_auditb_init(&b, e->kind);
	mlc_auditb_str(&b, "entity", e->entity);
	mlc_auditb_str(&b, "channel", e->channel);
	mlc_auditb_str(&b, "outcome", e->outcome);
	mlc_auditb_str(&b, "key", e->key);
	mlc_auditb_str(&b, "msg_id", e->msg_id);
	mlc_auditb_str(&b, "record_id", e->record_id);
	r = aud_journal_append(&J, txn, &b.a, e->ms, key, &seq, err);
	mlc_auditb_free(&b);
	return r;
}

static void
add(struct ev e)
{
	struct mlc_err err;

	assert_int_equal(mlc_store_write(st, append_txn, &e, &err), 0);
}

struct got {
	int n;
	uint64_t seqs[64];
	char kinds[64][16];
};

static int
collect(void *arg, const unsigned char key[AUD_KEY_LEN], uint64_t seq,
    const struct mlc_audit *a)
{
	struct got *g = arg;

	(void)key;
	if (g->n < 64) {
		g->seqs[g->n] = seq;
		snprintf(g->kinds[g->n], sizeof(g->kinds[0]), "%s", a->kind);
	}
	g->n++;
	return 0;
}

struct qarg {
	struct aud_query *q;
	struct got *g;
	int more;
	unsigned char last[AUD_KEY_LEN];
};

static int
q_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct qarg *qa = arg;

	return aud_journal_query(&J, txn, qa->q, collect, qa->g, &qa->more, qa->last, err);
}

static struct got
run(struct aud_query q, int *more)
{
	struct got g;
	struct qarg qa = { &q, &g, 0, { 0 } };
	struct mlc_err err;

	memset(&g, 0, sizeof(g));
	assert_int_equal(mlc_store_read(st, q_txn, &qa, &err), 0);
	if (more)
		*more = qa.more;
	return g;
}

static void
fill(void)
{
	add((struct ev){ "poll", "purchase_order", NULL, "ok", NULL, NULL, NULL, 1000 });
	add((struct ev){ "post", "purchase_order", "#procure", "posted", "PO-1", "m1", NULL, 2000 });
	add((struct ev){ "post", "purchase_order", "#finance", "failed", "PO-2", "m2", NULL, 3000 });
	add((struct ev){ "post", "supplier_invoice", "#finance", "posted", NULL, "m3",
	    "supplier_invoice/INV%2F7/2026-01-01T00:00:00Z", 4000 });
	add((struct ev){ "error", NULL, NULL, NULL, NULL, NULL, NULL, 5000 });
}

static void
test_queries_use_each_filter(void **state)
{
	struct aud_query q;
	struct got g;

	(void)state;
	fill();
	memset(&q, 0, sizeof(q));
	assert_int_equal(run(q, NULL).n, 5);
	q.channel = "#finance";
	g = run(q, NULL);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.seqs[0], 3);
	assert_int_equal(g.seqs[1], 4);
	memset(&q, 0, sizeof(q));
	q.entity = "purchase_order";
	q.outcome = "posted";
	g = run(q, NULL);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.seqs[0], 2);
	memset(&q, 0, sizeof(q));
	q.record = "PO-2";
	assert_int_equal(run(q, NULL).n, 1);
	/* The record number from record_id, percent-decoded. */
	q.record = "INV/7";
	g = run(q, NULL);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.seqs[0], 4);
	memset(&q, 0, sizeof(q));
	q.msg_id = "m2";
	assert_int_equal(run(q, NULL).n, 1);
	memset(&q, 0, sizeof(q));
	q.errors = 1;
	g = run(q, NULL);
	assert_int_equal(g.n, 2); /* the failed post and the error */
	assert_string_equal(g.kinds[1], "error");
	memset(&q, 0, sizeof(q));
	q.kind = "post";
	q.since_ms = 2500;
	q.until_ms = 4000;
	g = run(q, NULL);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.seqs[0], 3);
}

static void
test_paging_continues_after_the_cursor_without_repeats(void **state)
{
	struct aud_query q;
	struct got g;
	struct qarg qa;
	struct mlc_err err;
	int seen = 0, more = 1;
	uint64_t last = 0;

	(void)state;
	fill();
	memset(&q, 0, sizeof(q));
	q.limit = 2;
	while (more) {
		memset(&g, 0, sizeof(g));
		qa = (struct qarg){ &q, &g, 0, { 0 } };
		assert_int_equal(mlc_store_read(st, q_txn, &qa, &err), 0);
		for (int i = 0; i < g.n; i++) {
			assert_true(g.seqs[i] > last);
			last = g.seqs[i];
		}
		seen += g.n;
		more = qa.more;
		q.has_after = 1;
		memcpy(q.after, qa.last, AUD_KEY_LEN);
	}
	assert_int_equal(seen, 5);
}

static int
seq_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	return aud_journal_seq_range(&J, txn, 2, 4, collect, arg, err);
}

static void
test_seq_range_returns_exactly_those_events(void **state)
{
	struct got g;
	struct mlc_err err;

	(void)state;
	fill();
	memset(&g, 0, sizeof(g));
	assert_int_equal(mlc_store_read(st, seq_txn, &g, &err), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.seqs[0], 2);
	assert_int_equal(g.seqs[2], 4);
}

static int
prune_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	return aud_journal_prune(&J, txn, 3500, 100, arg, err);
}

static void
test_prune_removes_old_events_and_their_index_entries(void **state)
{
	struct aud_query q;
	struct mlc_err err;
	size_t removed = 0;

	(void)state;
	fill();
	assert_int_equal(mlc_store_write(st, prune_txn, &removed, &err), 0);
	assert_int_equal(removed, 3);
	memset(&q, 0, sizeof(q));
	assert_int_equal(run(q, NULL).n, 2);
	q.channel = "#finance";
	assert_int_equal(run(q, NULL).n, 1);
	q.channel = NULL;
	q.record = "PO-2";
	assert_int_equal(run(q, NULL).n, 0);
}

static void
test_journal_and_seq_survive_a_restart_and_compaction(void **state)
{
	struct mlc_err err;
	struct aud_query q;
	size_t before = 0, after = 0;

	(void)state;
	fill();
	mlc_store_close(&st);
	assert_int_equal(aud_journal_compact_dir(dir, &before, &after, &err), 0);
	assert_true(after > 0 && after <= before);
	assert_int_equal(mlc_store_open(&st, dir, 0, &err), 0);
	assert_int_equal(aud_journal_open(&J, st, &err), 0);
	assert_int_equal(J.seq, 5);
	add((struct ev){ "start", NULL, NULL, NULL, NULL, NULL, NULL, 6000 });
	assert_int_equal(J.seq, 6);
	memset(&q, 0, sizeof(q));
	assert_int_equal(run(q, NULL).n, 6);
	q.channel = "#finance";
	assert_int_equal(run(q, NULL).n, 2);
}

static void
test_replay_ids_map_to_their_original(void **state)
{
	(void)state;
	assert_int_equal(aud_msg_base_len("a/b/c/replay/3"), strlen("a/b/c"));
	assert_int_equal(aud_msg_base_len("a/b/c/replay/x"), strlen("a/b/c/replay/x"));
	assert_int_equal(aud_msg_base_len("a/replay/1/b"), strlen("a/replay/1/b"));
	assert_int_equal(aud_msg_base_len("plain"), 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queries_use_each_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging_continues_after_the_cursor_without_repeats,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_range_returns_exactly_those_events, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_prune_removes_old_events_and_their_index_entries,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_and_seq_survive_a_restart_and_compaction,
		    setup, teardown),
		cmocka_unit_test(test_replay_ids_map_to_their_original),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
