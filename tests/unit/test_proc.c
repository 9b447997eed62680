/*
 * test_proc: what every process does the same way on SIGTERM and SIGHUP
 * (common/mlc_proc.c): the drain's decisions (mlc_drain_step) and the
 * reload of the configuration file (mlc_proc_reload), including the
 * shutdown.drain_timeout key.
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

#include "mlc_cfg.h"
#include "mlc_proc.h"

#define CFG_HEAD "state_dir: /tmp/mlc-test-proc\n" CFG_EP
#define CFG_EP \
	"endpoints:\n" \
	"  poller_ack: inproc://poller-ack\n" \
	"  formatter_in: inproc://formatter-in\n" \
	"  formatter_ack: inproc://formatter-ack\n" \
	"  dispatchers:\n" \
	"    - in: inproc://d0-in\n" \
	"      ack: inproc://d0-ack\n" \
	"  auditor_in: inproc://auditor-in\n" \
	"  auditor_pub: inproc://auditor-pub\n"
#define CFG_X3(url, interval) \
	"x3:\n" \
	"  url: " url "\n" \
	"  folder: SEED\n" \
	"  user: admin\n" \
	"  password_env: X3_PASSWORD\n" \
	"  poll_interval: " interval "\n" \
	"  entities:\n" \
	"    - name: purchase_order\n" \
	"      class: PORDER\n" \
	"      key: POHNUM\n"
#define CFG_SLACK \
	"slack:\n" \
	"  token_env: SLACK_BOT_TOKEN\n"
#define CFG_ROUTE(ch) \
	"routes:\n" \
	"  - name: po\n" \
	"    entity: purchase_order\n" \
	"    channel: \"" ch "\"\n"

static char g_path[64];
static struct mlc_cfg *g_cfg;

static void
write_cfg(const char *text)
{
	FILE *f = fopen(g_path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	int fd;

	(void)state;
	snprintf(g_path, sizeof(g_path), "/tmp/mlc-test-proc-XXXXXX");
	fd = mkstemp(g_path);
	if (fd < 0)
		return -1;
	close(fd);
	g_cfg = calloc(1, sizeof(*g_cfg));
	return g_cfg == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(g_path);
	free(g_cfg);
	return 0;
}

static void
load(const char *text)
{
	struct mlc_err err;

	write_cfg(text);
	if (mlc_cfg_load(g_cfg, g_path, &err) != 0)
		fail_msg("%s", err.msg);
}

/* ---- drain ---- */

static void
test_drain_runs_until_stop(void **state)
{
	struct mlc_drain dr;

	(void)state;
	mlc_drain_init(&dr, 1000, 500);
	for (int64_t t = 0; t < 5000; t += 100)
		assert_int_equal(mlc_drain_step(&dr, 0, 3, 0, 7, t), 1);
	assert_int_equal(mlc_drain_active(&dr), 0);
	assert_null(dr.outcome);
}

static void
test_drain_ends_when_nothing_is_left(void **state)
{
	struct mlc_drain dr;

	(void)state;
	mlc_drain_init(&dr, 10000, 500);
	assert_int_equal(mlc_drain_step(&dr, 1, 2, 0, 5, 1000), 1);
	assert_int_equal(mlc_drain_active(&dr), 1);
	assert_int_equal(dr.inflight0, 2);
	assert_int_equal(dr.pending0, 5);
	assert_int_equal(mlc_drain_step(&dr, 1, 1, 0, 4, 1100), 1);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 1, 1200), 1);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 0, 1300), 0);
	assert_string_equal(dr.outcome, "done");
	/* Once over, it stays over. */
	assert_int_equal(mlc_drain_step(&dr, 1, 5, 0, 5, 1400), 0);
	assert_string_equal(dr.outcome, "done");
}

static void
test_drain_with_nothing_to_do_ends_at_once(void **state)
{
	struct mlc_drain dr;

	(void)state;
	mlc_drain_init(&dr, 10000, 500);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 0, 50), 0);
	assert_string_equal(dr.outcome, "done");
}

static void
test_drain_in_flight_work_waits_until_the_deadline(void **state)
{
	struct mlc_drain dr;

	(void)state;
	mlc_drain_init(&dr, 2000, 100);
	assert_int_equal(mlc_drain_step(&dr, 1, 1, 0, 0, 10000), 1);
	/* A slow answer: no progress, but in flight work is never "stalled". */
	assert_int_equal(mlc_drain_step(&dr, 1, 1, 0, 0, 11000), 1);
	assert_int_equal(mlc_drain_step(&dr, 1, 1, 0, 0, 11999), 1);
	assert_int_equal(mlc_drain_step(&dr, 1, 1, 0, 0, 12000), 0);
	assert_string_equal(dr.outcome, "timeout");
	assert_int_equal(dr.inflight, 1);
}

static void
test_drain_zero_timeout_leaves_at_once(void **state)
{
	struct mlc_drain dr;

	(void)state;
	mlc_drain_init(&dr, 0, 0);
	assert_int_equal(mlc_drain_step(&dr, 1, 4, 0, 4, 100), 0);
	assert_string_equal(dr.outcome, "timeout");
}

static void
test_drain_outbox_waits_while_acks_come(void **state)
{
	struct mlc_drain dr;

	(void)state;
	mlc_drain_init(&dr, 10000, 500);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 10, 0), 1);
	/* Acks keep shrinking the outbox: never stalled. */
	for (int i = 1; i < 10; i++)
		assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 10 - (uint64_t)i, 400 * i), 1);
	/* Then the peer is gone: nothing moves for stall_ms. */
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 1, 3600 + 499), 1);
	/* A new frame (growth) is no progress. */
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 2, 3600 + 450), 1);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 2, 3600 + 500), 0);
	assert_string_equal(dr.outcome, "stalled");
	assert_int_equal(dr.pending, 2);
}

static void
test_drain_busy_keeps_going_but_is_not_counted(void **state)
{
	struct mlc_drain dr;

	(void)state;
	mlc_drain_init(&dr, 5000, 100);
	/* Frames keep arriving from a peer that drains too. */
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 1, 0, 0), 1);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 1, 0, 1000), 1);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 1, 3, 2000), 1);
	assert_int_equal(dr.inflight, 0);
	/* Quiet at last, outbox still full and no ack: stalled, not before. */
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 3, 2050), 1);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 3, 2100), 0);
	assert_string_equal(dr.outcome, "stalled");
	/* Busy to the end: the deadline still wins. */
	mlc_drain_init(&dr, 5000, 100);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 1, 0, 0), 1);
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 1, 0, 5000), 0);
	assert_string_equal(dr.outcome, "timeout");
}

static void
test_drain_deadline_counts_from_sigterm_seen_outside_the_loop(void **state)
{
	struct mlc_drain dr;

	(void)state;
	mlc_drain_init(&dr, 1000, 100);
	/* The poller's page request notices SIGTERM at 5000... */
	assert_int_equal(mlc_drain_expired(&dr, 5000), 0);
	assert_int_equal(mlc_drain_expired(&dr, 5999), 0);
	assert_int_equal(mlc_drain_expired(&dr, 6000), 1);
	/* ...and the loop's drain, starting later, keeps that deadline. */
	assert_int_equal(mlc_drain_step(&dr, 1, 0, 0, 4, 6200), 0);
	assert_string_equal(dr.outcome, "timeout");
	assert_int_equal(dr.started, 5000);
	/* Seen first by the loop: the same deadline for both. */
	mlc_drain_init(&dr, 1000, 100);
	assert_int_equal(mlc_drain_step(&dr, 1, 1, 0, 0, 300), 1);
	assert_int_equal(mlc_drain_expired(&dr, 1299), 0);
	assert_int_equal(mlc_drain_expired(&dr, 1300), 1);
}

/* ---- the configuration key ---- */

static void
test_drain_timeout_default_and_bounds(void **state)
{
	static const char good[] = CFG_HEAD CFG_X3("http://x3", "60s") CFG_SLACK
	    CFG_ROUTE("#procure") "shutdown:\n  drain_timeout: 25s\n";
	static const char too_long[] = CFG_HEAD CFG_X3("http://x3", "60s") CFG_SLACK
	    CFG_ROUTE("#procure") "shutdown:\n  drain_timeout: 11m\n";
	static const char unknown[] = CFG_HEAD CFG_X3("http://x3", "60s") CFG_SLACK
	    CFG_ROUTE("#procure") "shutdown:\n  drain_timout: 5s\n";
	struct mlc_err err;

	(void)state;
	load(CFG_HEAD CFG_X3("http://x3", "60s") CFG_SLACK CFG_ROUTE("#procure"));
	assert_int_equal(g_cfg->drain_timeout_ms, 10000);
	load(good);
	assert_int_equal(g_cfg->drain_timeout_ms, 25000);
	assert_int_equal(mlc_cfg_load_string(g_cfg, too_long, sizeof(too_long) - 1, "t.yaml",
	    &err), -1);
	assert_non_null(strstr(err.msg, "t.yaml:28"));
	assert_non_null(strstr(err.msg, "shutdown.drain_timeout"));
	assert_int_equal(mlc_cfg_load_string(g_cfg, unknown, sizeof(unknown) - 1, "t.yaml",
	    &err), -1);
	assert_non_null(strstr(err.msg, "drain_timout"));
	assert_int_equal(g_cfg->drain_timeout_ms, 25000);
}

/* ---- reload ---- */

static void
test_reload_takes_new_routes_and_schedule(void **state)
{
	char restart[256];
	struct mlc_err err;

	(void)state;
	load(CFG_HEAD CFG_X3("http://x3", "60s") CFG_SLACK CFG_ROUTE("#procure"));
	write_cfg(CFG_HEAD CFG_X3("http://x3", "5s") CFG_SLACK CFG_ROUTE("#finance"));
	assert_int_equal(mlc_proc_reload(NULL, g_cfg, NULL, 0, restart, sizeof(restart),
	    &err), 0);
	assert_string_equal(g_cfg->routes[0].channel, "#finance");
	assert_int_equal(g_cfg->x3.poll_interval_ms, 5000);
	assert_string_equal(restart, "");
	assert_string_equal(g_cfg->path, g_path);
}

static void
test_reload_of_a_bad_file_keeps_everything(void **state)
{
	struct mlc_cfg *before = malloc(sizeof(*before));
	char restart[256];
	struct mlc_err err;

	(void)state;
	assert_non_null(before);
	load(CFG_HEAD CFG_X3("http://x3", "60s") CFG_SLACK CFG_ROUTE("#procure"));
	memcpy(before, g_cfg, sizeof(*before));
	/* Line 26: a channel name Slack would refuse. */
	write_cfg(CFG_HEAD CFG_X3("http://x3", "5s") CFG_SLACK CFG_ROUTE("#Bad Name"));
	assert_int_equal(mlc_proc_reload(NULL, g_cfg, NULL, 0, restart, sizeof(restart),
	    &err), -1);
	assert_non_null(strstr(err.msg, g_path));
	assert_non_null(strstr(err.msg, ":26"));
	assert_non_null(strstr(err.msg, "routes[0].channel"));
	assert_memory_equal(before, g_cfg, sizeof(*before));
	/* A file that is gone is refused the same way. */
	unlink(g_path);
	assert_int_equal(mlc_proc_reload(NULL, g_cfg, NULL, 0, restart, sizeof(restart),
	    &err), -1);
	assert_non_null(strstr(err.msg, "cannot read"));
	assert_memory_equal(before, g_cfg, sizeof(*before));
	free(before);
}

static void
test_reload_keeps_restart_only_keys_and_names_them(void **state)
{
	static const struct mlc_cfg_field fixed[] = {
		MLC_CFG_FIELD("x3.url", x3.url),
	};
	static const char changed[] = "state_dir: /tmp/elsewhere\n" CFG_EP
	    CFG_X3("http://other-x3", "5s") CFG_SLACK CFG_ROUTE("#finance")
	    "shutdown:\n  drain_timeout: 3s\n";
	char restart[256];
	struct mlc_err err;

	(void)state;
	load(CFG_HEAD CFG_X3("http://x3", "60s") CFG_SLACK CFG_ROUTE("#procure"));
	write_cfg(changed);
	assert_int_equal(mlc_proc_reload(NULL, g_cfg, fixed, 1, restart, sizeof(restart),
	    &err), 0);
	assert_string_equal(restart, "state_dir, shutdown, x3.url");
	assert_string_equal(g_cfg->state_dir, "/tmp/mlc-test-proc");
	assert_string_equal(g_cfg->x3.url, "http://x3");
	assert_int_equal(g_cfg->drain_timeout_ms, 10000);
	/* The rest of the new file is in use. */
	assert_string_equal(g_cfg->routes[0].channel, "#finance");
	assert_int_equal(g_cfg->x3.poll_interval_ms, 5000);
	/* A small buffer is never overrun. */
	load(CFG_HEAD CFG_X3("http://x3", "60s") CFG_SLACK CFG_ROUTE("#procure"));
	write_cfg(changed);
	memset(restart, 'x', sizeof(restart));
	assert_int_equal(mlc_proc_reload(NULL, g_cfg, fixed, 1, restart, 8, &err), 0);
	assert_true(strlen(restart) < 8);
	assert_int_equal(restart[8], 'x');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drain_runs_until_stop),
		cmocka_unit_test(test_drain_ends_when_nothing_is_left),
		cmocka_unit_test(test_drain_with_nothing_to_do_ends_at_once),
		cmocka_unit_test(test_drain_in_flight_work_waits_until_the_deadline),
		cmocka_unit_test(test_drain_zero_timeout_leaves_at_once),
		cmocka_unit_test(test_drain_outbox_waits_while_acks_come),
		cmocka_unit_test(test_drain_busy_keeps_going_but_is_not_counted),
		cmocka_unit_test(test_drain_deadline_counts_from_sigterm_seen_outside_the_loop),
		cmocka_unit_test(test_drain_timeout_default_and_bounds),
		cmocka_unit_test(test_reload_takes_new_routes_and_schedule),
		cmocka_unit_test(test_reload_of_a_bad_file_keeps_everything),
		cmocka_unit_test(test_reload_keeps_restart_only_keys_and_names_them),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
