/* The auditor's and the inbound endpoint's configuration keys: defaults,
 * derived control/ack endpoints, and the checks on each value. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mlc_cfg.h"
#include "mlc_topo.h"

#define BASE \
    "state_dir: /tmp/x\n" \
    "endpoints:\n" \
    "  poller_ack: ipc:///tmp/m/poller-ack\n" \
    "  formatter_in: ipc:///tmp/m/formatter-in\n" \
    "  formatter_ack: ipc:///tmp/m/formatter-ack\n" \
    "  dispatchers:\n" \
    "    - in: ipc:///tmp/m/d0-in\n" \
    "      ack: ipc:///tmp/m/d0-ack\n" \
    "  auditor_in: %s\n" \
    "  auditor_pub: ipc:///tmp/m/auditor-pub\n" \
    "%s" \
    "x3:\n" \
    "  url: http://127.0.0.1:8124\n" \
    "  folder: SEED\n" \
    "  user: admin\n" \
    "  password_env: X3_PASSWORD\n" \
    "  entities:\n" \
    "    - name: purchase_order\n" \
    "      class: PORDER\n" \
    "      key: POHNUM\n" \
    "slack:\n" \
    "  token_env: SLACK_BOT_TOKEN\n" \
    "routes:\n" \
    "  - name: po\n" \
    "    entity: purchase_order\n" \
    "    channel: \"#procure\"\n" \
    "%s"

static struct mlc_cfg cfg;
static struct mlc_err err;

static int
load(const char *auditor_in, const char *ep_extra, const char *tail)
{
	char y[4096];

	snprintf(y, sizeof(y), BASE, auditor_in, ep_extra, tail);
	return mlc_cfg_load_string(&cfg, y, strlen(y), "t.yaml", &err);
}

static void
test_defaults(void **state)
{
	(void)state;
	assert_int_equal(load("ipc:///tmp/m/auditor-in", "", ""), 0);
	assert_string_equal(cfg.aud.http_listen, "127.0.0.1:9464");
	assert_string_equal(cfg.aud.alert_channel, "");
	assert_int_equal(cfg.aud.alert_max_per_hour, 20);
	assert_int_equal(cfg.aud.compact_interval_ms, 7LL * 24 * 3600 * 1000);
	assert_int_equal(cfg.aud.health_max_silence_ms, 300000);
	assert_string_equal(cfg.inbound.command, "/x3");
	assert_int_equal(cfg.inbound.max_body, 65536);
	assert_string_equal(cfg.inbound.signing_secret_env, "");
}

static void
test_ctl_and_ack_endpoints_are_derived_from_auditor_in(void **state)
{
	(void)state;
	assert_int_equal(load("ipc:///tmp/m/auditor-in", "", ""), 0);
	assert_string_equal(cfg.ep.auditor_ctl, "ipc:///tmp/m/auditor-in-ctl");
	assert_string_equal(cfg.ep.auditor_ack, "ipc:///tmp/m/auditor-in-ack");
	assert_string_equal(mlc_topo_ack_endpoint(&cfg, "auditor"), "ipc:///tmp/m/auditor-in-ack");
	assert_int_equal(load("tcp://auditor:7300", "", ""), 0);
	assert_string_equal(cfg.ep.auditor_ctl, "tcp://auditor:8300");
	assert_string_equal(cfg.ep.auditor_ack, "tcp://auditor:8301");
	assert_int_equal(load("tcp://auditor:65000", "", ""), -1);
	assert_non_null(strstr(err.msg, "set endpoints.auditor_ctl"));
	assert_int_equal(load("tcp://auditor:65000",
	    "  auditor_ctl: tcp://auditor:7301\n  auditor_ack: tcp://auditor:7302\n", ""), 0);
	assert_string_equal(cfg.ep.auditor_ctl, "tcp://auditor:7301");
}

static void
test_explicit_endpoints_must_be_distinct(void **state)
{
	(void)state;
	assert_int_equal(load("ipc:///tmp/m/auditor-in",
	    "  auditor_ctl: ipc:///tmp/m/auditor-pub\n", ""), -1);
	assert_non_null(strstr(err.msg, "endpoints.auditor_ctl"));
}

static void
test_auditor_and_inbound_keys_are_checked(void **state)
{
	(void)state;
	assert_int_equal(load("inproc://a", "", "auditor:\n  http_listen: 0.0.0.0:0\n"
	    "  alert_channel: \"#ops\"\n  compact_interval: 0s\n"
	    "inbound:\n  listen: \"*:3000\"\n  signing_secret_env: SLACK_SIGNING_SECRET\n"
	    "  replay_users: U0123ABCD,W0456EFGH\n  command: /erp\n"), 0);
	assert_string_equal(cfg.aud.http_listen, "0.0.0.0:0");
	assert_string_equal(cfg.aud.alert_channel, "#ops");
	assert_int_equal(cfg.aud.compact_interval_ms, 0);
	assert_string_equal(cfg.inbound.listen, "*:3000");
	assert_string_equal(cfg.inbound.replay_users, "U0123ABCD,W0456EFGH");
	assert_string_equal(cfg.inbound.command, "/erp");
	assert_int_equal(load("inproc://a", "", "auditor:\n  http_listen: localhost:9464\n"), -1);
	assert_non_null(strstr(err.msg, "auditor.http_listen"));
	assert_int_equal(load("inproc://a", "", "auditor:\n  http_listen: 127.0.0.1:99999\n"), -1);
	assert_int_equal(load("inproc://a", "", "inbound:\n  replay_users: U1, U2\n"), -1);
	assert_non_null(strstr(err.msg, "inbound.replay_users"));
	assert_int_equal(load("inproc://a", "", "inbound:\n  replay_users: bob\n"), -1);
	assert_int_equal(load("inproc://a", "", "inbound:\n  command: x3\n"), -1);
	assert_int_equal(load("inproc://a", "", "auditor:\n  alert_channel: ops\n"), -1);
	/* The secret itself is never a key. */
	assert_int_equal(load("inproc://a", "", "inbound:\n  secret: abc\n"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ctl_and_ack_endpoints_are_derived_from_auditor_in),
		cmocka_unit_test(test_explicit_endpoints_must_be_distinct),
		cmocka_unit_test(test_auditor_and_inbound_keys_are_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
