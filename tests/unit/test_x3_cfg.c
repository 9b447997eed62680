/* Unit tests for the x3 keys of issue 3 in common/mlc_cfg: entity kinds,
 * notify lists, GraphQL names, stamp defaults per API, extra fields, the
 * schedule rules and the oauth2 / connected_app sections. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_cfg.h"

static struct mlc_cfg cfg;
static struct mlc_err err;

#define HEAD \
	"state_dir: /tmp/x\n" \
	"endpoints:\n" \
	"  poller_ack: inproc://a\n  formatter_in: inproc://b\n  formatter_ack: inproc://c\n" \
	"  dispatchers:\n    - in: inproc://d\n      ack: inproc://e\n" \
	"  auditor_in: inproc://f\n  auditor_pub: inproc://g\n" \
	"slack:\n  token_env: T\n" \
	"routes:\n  - name: r\n    entity: \"*\"\n    channel: \"#c\"\n" \
	"x3:\n  url: http://x3:8124\n  folder: SEED\n"

static int
load(const char *x3_rest)
{
	char buf[8192];

	snprintf(buf, sizeof(buf), HEAD "%s", x3_rest);
	return mlc_cfg_load_string(&cfg, buf, strlen(buf), "t.yaml", &err);
}

#define BASIC "  user: admin\n  password_env: P\n"

static void
test_kind_stamp_and_graphql_names_default_per_class_and_api(void **state)
{
	(void)state;
	assert_int_equal(load(BASIC "  api: graphql\n  entities:\n"
	    "    - {name: po, class: PORDER, key: POHNUM}\n"
	    "    - {name: inv, class: PINVOICE, key: NUM, api: api1}\n"
	    "    - {name: gl, class: GACCENTRY, key: NUM}\n"), 0);
	assert_string_equal(cfg.x3.entities[0].kind, "purchase_order");
	assert_string_equal(cfg.x3.entities[0].api, "graphql");
	assert_string_equal(cfg.x3.entities[0].stamp_field, "_updateStamp");
	assert_string_equal(cfg.x3.entities[0].graphql_root, "xtremX3Purchasing");
	assert_string_equal(cfg.x3.entities[0].graphql_node, "purchaseOrder");
	assert_int_equal(cfg.x3.entities[0].n_notify, 2);
	assert_string_equal(cfg.x3.entities[0].notify[0], "approved");
	assert_string_equal(cfg.x3.entities[0].notify[1], "modified");
	assert_string_equal(cfg.x3.entities[1].kind, "supplier_invoice");
	assert_string_equal(cfg.x3.entities[1].api, "api1");
	assert_string_equal(cfg.x3.entities[1].stamp_field, "UPDDATTIM");
	assert_string_equal(cfg.x3.entities[2].kind, "gl_entry");
	assert_string_equal(cfg.x3.entities[2].graphql_node, "journalEntryLine");
	assert_string_equal(cfg.x3.entities[2].graphql_key, "journalEntry");
	assert_int_equal(cfg.x3.lookback_ms, 5 * 60 * 1000);
	assert_int_equal(cfg.x3.max_attempts, 4);
}

static void
test_custom_class_needs_a_kind(void **state)
{
	(void)state;
	assert_int_equal(load(BASIC "  entities:\n    - {name: z, class: ZPO, key: POHNUM}\n"), -1);
	assert_non_null(strstr(err.msg, "x3.entities[0].kind': must be set: class 'ZPO'"));
	assert_int_equal(load(BASIC "  entities:\n"
	    "    - {name: z, class: ZPO, key: POHNUM, kind: purchase_order}\n"), 0);
}

static void
test_notify_accepts_only_events_of_the_kind(void **state)
{
	(void)state;
	assert_int_equal(load(BASIC "  entities:\n    - name: po\n      class: PORDER\n"
	    "      key: POHNUM\n      notify: [approved, created]\n"), 0);
	assert_int_equal(cfg.x3.entities[0].n_notify, 2);
	assert_string_equal(cfg.x3.entities[0].notify[1], "created");
	assert_int_equal(load(BASIC "  entities:\n    - name: po\n      class: PORDER\n"
	    "      key: POHNUM\n      notify: [received]\n"), -1);
	assert_non_null(strstr(err.msg, "'received' is not an event of a purchase_order "
	    "(events: approved, modified, created)"));
}

static void
test_extra_fields_must_be_x_names(void **state)
{
	(void)state;
	assert_int_equal(load(BASIC "  entities:\n    - name: po\n      class: PORDER\n"
	    "      key: POHNUM\n      fields:\n        - {name: x_buyer, from: buyer.code}\n"
	    "    - {name: inv, class: PINVOICE, key: NUM}\n"), 0);
	assert_int_equal(cfg.x3.entities[0].n_fields, 1);
	assert_string_equal(cfg.x3.entities[0].fields[0].from, "buyer.code");
	/* the nested sequence did not confuse the duplicate-name check */
	assert_int_equal(cfg.x3.n_entities, 2);
	assert_int_equal(load(BASIC "  entities:\n    - name: po\n      class: PORDER\n"
	    "      key: POHNUM\n      fields:\n        - {name: buyer, from: BUYER}\n"), -1);
	assert_non_null(strstr(err.msg, "must start with 'x_'"));
}

static void
test_schedule_rules_are_parsed(void **state)
{
	(void)state;
	assert_int_equal(load(BASIC "  poll_interval: 1h\n  schedule:\n"
	    "    - {every: 15m, days: Mon-Fri, from: \"07:00\", to: \"19:00\", tz: Europe/Paris}\n"
	    "    - {every: 30m, days: \"Sat,Sun\"}\n"
	    "  entities:\n    - {name: po, class: PORDER, key: POHNUM}\n"), 0);
	assert_int_equal(cfg.x3.n_schedule, 2);
	assert_int_equal(cfg.x3.schedule[0].every_ms, 15 * 60 * 1000);
	assert_int_equal(cfg.x3.schedule[0].days_mask, 0x3e);
	assert_int_equal(cfg.x3.schedule[0].from_min, 7 * 60);
	assert_int_equal(cfg.x3.schedule[0].to_min, 19 * 60);
	assert_int_equal(cfg.x3.schedule[1].days_mask, 0x41);
	assert_string_equal(cfg.x3.schedule[1].tz, "UTC");
	assert_int_equal(cfg.x3.schedule[1].to_min, 24 * 60);
	assert_int_equal(load(BASIC "  schedule:\n    - {every: 15m, tz: Europe/Pariss}\n"
	    "  entities:\n    - {name: po, class: PORDER, key: POHNUM}\n"), -1);
	assert_non_null(strstr(err.msg, "unknown time zone 'Europe/Pariss'"));
	assert_int_equal(load(BASIC "  schedule:\n    - {every: 15m, days: Mon-Fry}\n"
	    "  entities:\n    - {name: po, class: PORDER, key: POHNUM}\n"), -1);
	assert_non_null(strstr(err.msg, "x3.schedule[0].days"));
	assert_int_equal(load(BASIC "  schedule:\n    - {every: 15m, from: \"19:00\", to: \"07:00\"}\n"
	    "  entities:\n    - {name: po, class: PORDER, key: POHNUM}\n"), -1);
	assert_non_null(strstr(err.msg, "across midnight is two rules"));
}

static void
test_oauth2_and_connected_app_need_their_settings(void **state)
{
	(void)state;
	assert_int_equal(load("  auth: oauth2\n  oauth2:\n    client_id: c\n"
	    "    client_secret_env: S\n  entities:\n    - {name: po, class: PORDER, key: POHNUM}\n"), 0);
	assert_string_equal(cfg.x3.oauth2.token_url, "http://x3:8124/v1/token");
	assert_int_equal(cfg.x3.oauth2.refresh_margin_ms, 60 * 1000);
	assert_int_equal(cfg.x3.oauth2.refresh_ttl_ms, 30LL * 86400 * 1000);
	assert_int_equal(load("  auth: oauth2\n  oauth2:\n    client_id: c\n"
	    "  entities:\n    - {name: po, class: PORDER, key: POHNUM}\n"), -1);
	assert_non_null(strstr(err.msg, "x3.oauth2.client_secret_env"));
	assert_int_equal(load("  auth: oauth2\n  oauth2:\n    client_id: c\n    client_secret: s\n"
	    "  entities:\n    - {name: po, class: PORDER, key: POHNUM}\n"), -1);
	assert_non_null(strstr(err.msg, "secrets are not accepted"));
	assert_int_equal(load("  auth: connected_app\n  user: admin\n  connected_app:\n"
	    "    client_id: app\n    secret_env: S\n    audience: aud\n"
	    "  entities:\n    - {name: po, class: PORDER, key: POHNUM}\n"), 0);
	assert_int_equal(cfg.x3.app.validity_ms, 60 * 1000);
	assert_int_equal(cfg.x3.app.skew_ms, 30 * 1000);
	assert_int_equal(load("  auth: connected_app\n  connected_app:\n"
	    "    client_id: app\n    secret_env: S\n    audience: aud\n"
	    "  entities:\n    - {name: po, class: PORDER, key: POHNUM}\n"), -1);
	assert_non_null(strstr(err.msg, "x3.user"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_stamp_and_graphql_names_default_per_class_and_api),
		cmocka_unit_test(test_custom_class_needs_a_kind),
		cmocka_unit_test(test_notify_accepts_only_events_of_the_kind),
		cmocka_unit_test(test_extra_fields_must_be_x_names),
		cmocka_unit_test(test_schedule_rules_are_parsed),
		cmocka_unit_test(test_oauth2_and_connected_app_need_their_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
