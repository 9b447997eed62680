/*
 * test_cfg: the configuration loader (common/mlc_cfg.c).
 *
 * Most cases start from BASE, a valid configuration whose line numbers are
 * listed beside it, and replace one or two lines: the expected errors then
 * name an exact file:line and key path, which is what a person relies on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlc_cfg.h"

static const char *const base_lines[] = {
	/*  1 */ "state_dir: /tmp/mlc-test",
	/*  2 */ "endpoints:",
	/*  3 */ "  poller_ack: inproc://poller-ack",
	/*  4 */ "  formatter_in: inproc://formatter-in",
	/*  5 */ "  formatter_ack: inproc://formatter-ack",
	/*  6 */ "  dispatchers:",
	/*  7 */ "    - in: inproc://d0-in",
	/*  8 */ "      ack: inproc://d0-ack",
	/*  9 */ "  auditor_in: inproc://auditor-in",
	/* 10 */ "  auditor_pub: inproc://auditor-pub",
	/* 11 */ "x3:",
	/* 12 */ "  url: http://127.0.0.1:8124/",
	/* 13 */ "  folder: SEED",
	/* 14 */ "  user: admin",
	/* 15 */ "  password_env: X3_PASSWORD",
	/* 16 */ "  entities:",
	/* 17 */ "    - name: purchase_order",
	/* 18 */ "      class: PORDER",
	/* 19 */ "      key: POHNUM",
	/* 20 */ "    - name: supplier_invoice",
	/* 21 */ "      class: PINVOICE",
	/* 22 */ "      key: NUM",
	/* 23 */ "slack:",
	/* 24 */ "  token_env: SLACK_BOT_TOKEN",
	/* 25 */ "routes:",
	/* 26 */ "  - name: po",
	/* 27 */ "    entity: purchase_order",
	/* 28 */ "    channel: \"#procure\"",
	/* 29 */ "  - name: inv",
	/* 30 */ "    entity: supplier_invoice",
	/* 31 */ "    channel: C0123456789",
};
#define BASE_N (sizeof(base_lines) / sizeof(base_lines[0]))
#define GONE "# (line removed by the test)"

static struct mlc_cfg g_cfg;
static struct mlc_err g_err;
static char g_tmpdir[64];

/* BASE with n (line, replacement) pairs applied; a replacement may span
 * several lines ("a\nb"), which shifts the lines after it. */
static char *
yaml_edit(int n, ...)
{
	const char *repl[BASE_N + 1] = { 0 };
	size_t cap = 1, len = 0;
	char *out;
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		int line = va_arg(ap, int);
		const char *r = va_arg(ap, const char *);

		assert_true(line >= 1 && (size_t)line <= BASE_N);
		repl[line] = r;
	}
	va_end(ap);
	for (size_t i = 1; i <= BASE_N; i++)
		cap += strlen(repl[i] ? repl[i] : base_lines[i - 1]) + 1;
	out = malloc(cap);
	assert_non_null(out);
	for (size_t i = 1; i <= BASE_N; i++) {
		const char *s = repl[i] ? repl[i] : base_lines[i - 1];

		memcpy(out + len, s, strlen(s));
		len += strlen(s);
		out[len++] = '\n';
	}
	out[len] = '\0';
	return out;
}

static int
load(const char *yaml)
{
	memset(&g_err, 0, sizeof(g_err));
	return mlc_cfg_load_string(&g_cfg, yaml, strlen(yaml), "t.yaml", &g_err);
}

/* Loads BASE with edits; frees the text. */
#define LOAD_EDIT(...) load_owned(yaml_edit(__VA_ARGS__))

static int
load_owned(char *yaml)
{
	int rc = load(yaml);

	free(yaml);
	return rc;
}

static void
expect_error(int rc, const char *msg)
{
	assert_int_equal(rc, -1);
	assert_string_equal(g_err.msg, msg);
}

static void
expect_error_prefix(int rc, const char *prefix)
{
	assert_int_equal(rc, -1);
	if (strncmp(g_err.msg, prefix, strlen(prefix)) != 0)
		fail_msg("error '%s' does not start with '%s'", g_err.msg, prefix);
}

static void
expect_error_has(const char *part)
{
	if (strstr(g_err.msg, part) == NULL)
		fail_msg("error '%s' does not contain '%s'", g_err.msg, part);
}

static void
expect_error_lacks(const char *part)
{
	if (strstr(g_err.msg, part) != NULL)
		fail_msg("error '%s' contains '%s'", g_err.msg, part);
}

static char *
tmp_file(const char *name, const char *content, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g_tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(g_tmpdir, sizeof(g_tmpdir), "/tmp/mlc-test-cfg-XXXXXX");
	assert_non_null(mkdtemp(g_tmpdir));
	unsetenv("MLC_TEST_SECRET");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- files that load ------------------------------------------------- */

static void
test_example_file_loads(void **state)
{
	const struct mlc_cfg_entity *e;

	(void)state;
	if (mlc_cfg_load(&g_cfg, MLC_TEST_DATA "/../../config/mlc.example.yaml", &g_err) != 0)
		fail_msg("%s", g_err.msg);
	assert_string_equal(g_cfg.state_dir, "/var/lib/mlc");
	assert_string_equal(g_cfg.x3.url, "http://127.0.0.1:8124");
	assert_string_equal(g_cfg.x3.password_env, "X3_PASSWORD");
	assert_int_equal(g_cfg.ep.n_dispatchers, 1);
	assert_int_equal(g_cfg.x3.n_entities, 3);
	e = mlc_cfg_entity_find(&g_cfg, "supplier_invoice");
	assert_non_null(e);
	assert_string_equal(e->representation, "PINVOICE");
	e = mlc_cfg_entity_find(&g_cfg, "gl_entry");
	assert_non_null(e);
	assert_int_equal(e->enabled, 0);
	assert_int_equal(g_cfg.n_routes, 4); /* tests/unit/test_route.c checks what they do */
	assert_string_equal(g_cfg.routes[0].channel, "#procure");
	assert_int_equal(g_cfg.audit_retention_ms, 90LL * 86400 * 1000);
}

static void
test_minimal_file_gets_every_default(void **state)
{
	const char *path = MLC_TEST_DATA "/cfg/minimal.yaml";
	const struct mlc_cfg_entity *e;

	(void)state;
	if (mlc_cfg_load(&g_cfg, path, &g_err) != 0)
		fail_msg("%s", g_err.msg);
	assert_string_equal(g_cfg.path, path);
	assert_string_equal(g_cfg.log_level, "info");
	assert_int_equal(g_cfg.resend_after_ms, 3000);
	assert_int_equal(g_cfg.max_frame_bytes, 1048576);
	assert_string_equal(g_cfg.ep.bind_host, "");
	assert_string_equal(g_cfg.x3.url, "http://127.0.0.1:8124"); /* '/' stripped */
	assert_string_equal(g_cfg.x3.auth, "basic");
	assert_string_equal(g_cfg.x3.password_file, "");
	assert_string_equal(g_cfg.x3.ca_file, "");
	assert_int_equal(g_cfg.x3.timeout_ms, 30000);
	assert_int_equal(g_cfg.x3.page_size, 100);
	assert_int_equal(g_cfg.x3.poll_interval_ms, 60000);
	assert_int_equal(g_cfg.x3.initial_window_ms, 24LL * 3600 * 1000);
	e = &g_cfg.x3.entities[0];
	assert_string_equal(e->representation, "PORDER");
	assert_string_equal(e->stamp_field, "UPDDATTIM");
	assert_int_equal(e->enabled, 1);
	assert_string_equal(g_cfg.slack.api_url, "https://slack.com/api");
	assert_string_equal(g_cfg.slack.token_env, "");
	assert_int_equal(g_cfg.slack.timeout_ms, 10000);
	assert_int_equal(g_cfg.slack.min_interval_ms, 1000);
	assert_int_equal(g_cfg.slack.max_attempts, 8);
	assert_int_equal(g_cfg.audit_retention_ms, 90LL * 86400 * 1000);
}

static void
test_load_reads_mlc_config_when_path_is_null(void **state)
{
	(void)state;
	setenv("MLC_CONFIG", MLC_TEST_DATA "/cfg/minimal.yaml", 1);
	memset(&g_cfg, 0, sizeof(g_cfg));
	if (mlc_cfg_load(&g_cfg, NULL, &g_err) != 0)
		fail_msg("%s", g_err.msg);
	unsetenv("MLC_CONFIG");
	assert_string_equal(g_cfg.path, MLC_TEST_DATA "/cfg/minimal.yaml");
	assert_string_equal(g_cfg.x3.folder, "SEED");
}

static void
test_missing_file_error_names_the_file(void **state)
{
	(void)state;
	expect_error(mlc_cfg_load(&g_cfg, "/nonexistent/mlc.yaml", &g_err),
	    "/nonexistent/mlc.yaml: cannot read the configuration: No such file or directory");
}

static void
test_durations_and_values_are_parsed(void **state)
{
	(void)state;
	assert_int_equal(load_owned(yaml_edit(3,
	    1, "state_dir: /s\nresend_after: 500ms\nmax_frame_bytes: 4096\nlog_level: debug\n"
	       "auditor:\n  retention: 2d",
	    13, "  folder: SEED\n  timeout: 90\n  poll_interval: 15m\n  initial_window: 0s\n"
	        "  page_size: 1000",
	    24, "  token_env: T\n  min_interval: 0\n  max_attempts: 1\n"
	        "  api_url: http://127.0.0.1:9000/api/")), 0);
	assert_int_equal(g_cfg.resend_after_ms, 500);
	assert_int_equal(g_cfg.max_frame_bytes, 4096);
	assert_string_equal(g_cfg.log_level, "debug");
	assert_int_equal(g_cfg.audit_retention_ms, 2LL * 86400 * 1000);
	assert_int_equal(g_cfg.x3.timeout_ms, 90000);
	assert_int_equal(g_cfg.x3.poll_interval_ms, 15 * 60000);
	assert_int_equal(g_cfg.x3.initial_window_ms, 0);
	assert_int_equal(g_cfg.x3.page_size, 1000);
	assert_int_equal(g_cfg.slack.min_interval_ms, 0);
	assert_int_equal(g_cfg.slack.max_attempts, 1);
	assert_string_equal(g_cfg.slack.api_url, "http://127.0.0.1:9000/api");
}

static void
test_failed_load_leaves_cfg_untouched(void **state)
{
	(void)state;
	assert_int_equal(load_owned(yaml_edit(0)), 0);
	assert_int_equal(LOAD_EDIT(1, 13, "  folder: OTHER\n  page_size: 0"), -1);
	assert_string_equal(g_cfg.x3.folder, "SEED");
}

/* ---- unknown keys ---------------------------------------------------- */

static void
test_unknown_key_suggests_the_close_name(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  pagesize: 50"),
	    "t.yaml:14: unknown key 'x3.pagesize' (did you mean 'page_size'?)");
}

static void
test_unknown_key_without_close_name(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 1, "state_dir: /s\ncolour: red"),
	    "t.yaml:2: unknown key 'colour'");
}

static void
test_unknown_key_in_sequence_item_has_index_path(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 21, "      klass: PINVOICE"),
	    "t.yaml:21: unknown key 'x3.entities[1].klass' (did you mean 'class'?)");
}

/* ---- wrong types and ranges ----------------------------------------- */

static void
test_page_size_must_be_an_integer(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  page_size: abc"),
	    "t.yaml:14: key 'x3.page_size': must be an integer between 1 and 1000 (got 'abc')");
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  page_size: 10.5"),
	    "t.yaml:14: key 'x3.page_size': must be an integer between 1 and 1000 (got '10.5')");
}

static void
test_page_size_range_is_enforced(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  page_size: 0"),
	    "t.yaml:14: key 'x3.page_size': must be an integer between 1 and 1000 (got '0')");
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  page_size: 1001"),
	    "t.yaml:14: key 'x3.page_size': must be an integer between 1 and 1000 (got '1001')");
	expect_error(LOAD_EDIT(1, 1, "state_dir: /s\nmax_frame_bytes: 4095"),
	    "t.yaml:2: key 'max_frame_bytes': must be an integer between 4096 and "
	    "1048576 (got '4095')");
	/* above the frame codec's own limit: receivers could not decode it */
	expect_error(LOAD_EDIT(1, 1, "state_dir: /s\nmax_frame_bytes: 1048577"),
	    "t.yaml:2: key 'max_frame_bytes': must be an integer between 4096 and "
	    "1048576 (got '1048577')");
}

static void
test_mapping_where_string_expected_is_rejected(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 13, "  folder: {a: b}"),
	    "t.yaml:13: key 'x3.folder': must be a string (got a mapping)");
	expect_error(LOAD_EDIT(1, 31, "    channel: C0123456789\nauditor: 90d"),
	    "t.yaml:32: key 'auditor': must be a mapping (got a scalar)");
	expect_error(LOAD_EDIT(1, 31, "    channel: C0123456789\nauditor: [90d]"),
	    "t.yaml:32: key 'auditor': must be a mapping (got a sequence)");
}

static void
test_bad_boolean_is_rejected(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 19, "      key: POHNUM\n      enabled: maybe"),
	    "t.yaml:20: key 'x3.entities[0].enabled': must be true or false (got 'maybe')");
}

static void
test_bad_durations_are_rejected(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  timeout: 5 minutes"),
	    "t.yaml:14: key 'x3.timeout': must be a duration between 1s and 1h such as "
	    "500ms, 90s, 15m, 1h, 2d (got '5 minutes')");
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  poll_interval: 500ms"),
	    "t.yaml:14: key 'x3.poll_interval': must be a duration between 1s and 1d such as "
	    "500ms, 90s, 15m, 1h, 2d (got '500ms')");
}

static void
test_log_level_lists_accepted_values(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 1, "state_dir: /s\nlog_level: verbose"),
	    "t.yaml:2: key 'log_level': must be one of debug, info, warn, error (got 'verbose')");
}

static void
test_auth_accepts_only_known_modes_and_lists_them(void **state)
{
	(void)state;
	/* issue 3: basic, oauth2 and connected_app (tests/unit/test_x3_cfg.c) */
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  auth: kerberos"),
	    "t.yaml:14: key 'x3.auth': must be one of basic, oauth2, connected_app "
	    "(got 'kerberos')");
}

static void
test_aliases_are_rejected(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(2, 1, "state_dir: &d /s", 13, "  folder: *d"),
	    "t.yaml:13: key 'x3.folder': must be a string (got an alias)");
}

/* ---- missing and duplicate keys ------------------------------------- */

static void
test_missing_required_key_reports_parent_line(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 13, GONE), "t.yaml:11: key 'x3.folder' is required");
}

static void
test_missing_required_section_reports_line_1(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(2, 23, GONE, 24, GONE), "t.yaml:1: key 'slack' is required");
}

static void
test_missing_key_in_sequence_item_reports_item_line(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 22, GONE),
	    "t.yaml:20: key 'x3.entities[1].key' is required");
	expect_error(LOAD_EDIT(1, 8, GONE),
	    "t.yaml:7: key 'endpoints.dispatchers[0].ack' is required");
}

static void
test_empty_required_value_is_rejected(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 13, "  folder: \"\""),
	    "t.yaml:13: key 'x3.folder': must not be empty");
}

static void
test_duplicate_key_is_rejected_with_both_lines(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  folder: OTHER"),
	    "t.yaml:14: key 'x3.folder': duplicate key (first at line 13)");
}

static void
test_basic_auth_needs_user_and_password_source(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 15, GONE),
	    "t.yaml:11: key 'x3.password_env' or 'x3.password_file' is required "
	    "(x3.auth is 'basic')");
	expect_error(LOAD_EDIT(1, 14, GONE),
	    "t.yaml:11: key 'x3.user' is required (x3.auth is 'basic')");
	assert_int_equal(LOAD_EDIT(1, 15, "  password_file: /run/secrets/x3"), 0);
	expect_error(LOAD_EDIT(1, 14, "  user: \"ad:min\""),
	    "t.yaml:14: key 'x3.user': must not contain ':' (HTTP Basic)");
}

static void
test_slack_needs_token_source(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 24, "  timeout: 5s"),
	    "t.yaml:23: key 'slack.token_env' or 'slack.token_file' is required");
}

static void
test_empty_sequence_is_rejected(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(3, 6, "  dispatchers: []", 7, GONE, 8, GONE),
	    "t.yaml:6: key 'endpoints.dispatchers': must be a sequence of 1 to 32 "
	    "entries (got 0)");
}

/* ---- secrets --------------------------------------------------------- */

static void
test_plain_password_is_refused_without_echoing_it(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 15, "  password: hunter2-XYZZY"),
	    "t.yaml:15: key 'x3.password': secrets are not accepted in the config file; "
	    "use x3.password_env or x3.password_file");
	expect_error_lacks("XYZZY");
}

static void
test_plain_token_is_refused_without_echoing_it(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 24, "  token_env: T\n  token: xoxb-XYZZY"),
	    "t.yaml:25: key 'slack.token': secrets are not accepted in the config file; "
	    "use slack.token_env or slack.token_file");
	expect_error_lacks("XYZZY");
}

static void
test_secret_keys_are_refused_anywhere(void **state)
{
	(void)state;
	expect_error_prefix(LOAD_EDIT(1, 28, "    channel: C0123456789\n    secret: XYZZY"),
	    "t.yaml:29: key 'routes[0].secret': secrets are not accepted in the config file");
	expect_error_lacks("XYZZY");
	expect_error_prefix(LOAD_EDIT(1, 1, "state_dir: /s\nclient_secret: XYZZY"),
	    "t.yaml:2: key 'client_secret': secrets are not accepted");
	expect_error_lacks("XYZZY");
}

static void
test_password_env_that_is_not_a_name_is_not_echoed(void **state)
{
	(void)state;
	expect_error_prefix(LOAD_EDIT(1, 15, "  password_env: \"p@ss XYZZY!\""),
	    "t.yaml:15: key 'x3.password_env': must be the name of an environment variable");
	expect_error_lacks("XYZZY");
}

/* ---- entities and routes -------------------------------------------- */

static void
test_route_to_unknown_entity_names_the_route(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 30, "    entity: supplier_invoices"),
	    "t.yaml:30: key 'routes[1].entity': route 'inv' names entity 'supplier_invoices', "
	    "which is not in x3.entities (configured: purchase_order, supplier_invoice; "
	    "or use \"*\")");
}

static void
test_route_to_any_entity_is_accepted(void **state)
{
	(void)state;
	assert_int_equal(LOAD_EDIT(1, 30, "    entity: \"*\""), 0);
	assert_string_equal(g_cfg.routes[1].entity, "*");
}

static void
test_duplicate_entity_name_is_rejected(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 20, "    - name: purchase_order"),
	    "t.yaml:20: key 'x3.entities[1].name': duplicate entity name 'purchase_order' "
	    "(also x3.entities[0])");
}

static void
test_duplicate_route_name_is_rejected(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 29, "  - name: po"),
	    "t.yaml:29: key 'routes[1].name': duplicate route name 'po' (also routes[0])");
}

static void
test_entity_name_charset_is_enforced(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 17, "    - name: Purchase-Order"),
	    "t.yaml:17: key 'x3.entities[0].name': must contain only lowercase letters, "
	    "digits and '_' (got 'Purchase-Order')");
	expect_error_prefix(LOAD_EDIT(1, 18, "      class: \"PORDER?x=1\""),
	    "t.yaml:18: key 'x3.entities[0].class': must contain only letters, digits and '_'");
}

static void
test_bad_channel_names_are_rejected(void **state)
{
	static const char *const bad[] = {
		"\"#Procure\"", "procure", "\"#\"", "\"#has space\"", "C0123", "X0123456789",
		"c0123456789", "\"#p!\"", NULL /* 81 characters after '#' */,
	};
	char line[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i] != NULL)
			snprintf(line, sizeof(line), "    channel: %s", bad[i]);
		else
			snprintf(line, sizeof(line), "    channel: \"#%081d\"", 0);
		expect_error_prefix(LOAD_EDIT(1, 28, line),
		    "t.yaml:28: key 'routes[0].channel': must be '#name'");
	}
}

static void
test_good_channel_names_are_accepted(void **state)
{
	static const char *const good[] = {
		"\"#a-b_c.d9\"", "G0123ABCD9", "D12345678", NULL /* 80 after '#' */,
	};
	char line[160];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (good[i] != NULL)
			snprintf(line, sizeof(line), "    channel: %s", good[i]);
		else
			snprintf(line, sizeof(line), "    channel: \"#%080d\"", 0);
		if (LOAD_EDIT(1, 28, line) != 0)
			fail_msg("%s: %s", line, g_err.msg);
	}
}

static void
test_unquoted_channel_gets_a_quoting_hint(void **state)
{
	(void)state;
	expect_error_prefix(LOAD_EDIT(1, 28, "    channel: #procure"),
	    "t.yaml:28: key 'routes[0].channel': must not be empty; quote channel names");
}

/* ---- endpoints, URLs, files ----------------------------------------- */

static void
test_endpoint_scheme_is_checked(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 3, "  poller_ack: udp://x"),
	    "t.yaml:3: key 'endpoints.poller_ack': must start with ipc://, tcp:// or "
	    "inproc:// (got 'udp://x')");
	expect_error_prefix(LOAD_EDIT(1, 3, "  poller_ack: tcp://127.0.0.1"),
	    "t.yaml:3: key 'endpoints.poller_ack': a tcp:// endpoint must be tcp://HOST:PORT");
	assert_int_equal(LOAD_EDIT(1, 3, "  poller_ack: tcp://127.0.0.1:7200"), 0);
}

static void
test_ipc_path_longer_than_sun_path_is_rejected(void **state)
{
	char line[200];

	(void)state;
	snprintf(line, sizeof(line), "  poller_ack: ipc:///%0108d", 0);
	expect_error(LOAD_EDIT(1, 3, line),
	    "t.yaml:3: key 'endpoints.poller_ack': ipc:// socket path is 109 bytes, the "
	    "limit is 107");
}

static void
test_duplicate_endpoints_are_rejected(void **state)
{
	(void)state;
	expect_error_prefix(LOAD_EDIT(1, 7, "    - in: inproc://formatter-in"),
	    "t.yaml:6: key 'endpoints.dispatchers[0].in': same endpoint as "
	    "endpoints.formatter_in");
}

static void
test_url_must_be_http_or_https(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 12, "  url: ftp://x3"),
	    "t.yaml:12: key 'x3.url': must start with http:// or https:// (got 'ftp://x3')");
	expect_error(LOAD_EDIT(1, 12, "  url: https:///"),
	    "t.yaml:12: key 'x3.url': must name a host (got 'https:///')");
}

static void
test_ca_file_must_be_readable_at_load(void **state)
{
	char line[200];

	(void)state;
	expect_error(LOAD_EDIT(1, 13, "  folder: SEED\n  ca_file: /nonexistent/ca.pem"),
	    "t.yaml:14: key 'x3.ca_file': cannot read '/nonexistent/ca.pem': "
	    "No such file or directory");
	snprintf(line, sizeof(line), "  token_env: T\n  ca_file: %s",
	    tmp_file("ca.pem", "pem\n", 4));
	assert_int_equal(LOAD_EDIT(1, 24, line), 0);
}

/* ---- not YAML, not a mapping ----------------------------------------- */

static void
test_yaml_syntax_error_has_file_and_line(void **state)
{
	(void)state;
	expect_error_prefix(LOAD_EDIT(1, 13, "  folder: \"\\xzz\""),
	    "t.yaml:13: YAML syntax error: ");
}

static void
test_empty_config_is_rejected(void **state)
{
	(void)state;
	expect_error(load(""), "t.yaml: the configuration is empty");
	expect_error(load("# nothing here\n"), "t.yaml: the configuration is empty");
}

static void
test_top_level_must_be_a_mapping(void **state)
{
	(void)state;
	expect_error_prefix(load("- a\n- b\n"), "t.yaml:1: the top level must be a mapping");
}

static void
test_invalid_utf8_is_rejected_with_line(void **state)
{
	(void)state;
	expect_error(LOAD_EDIT(1, 13, "  folder: S\xff"),
	    "t.yaml:13: invalid UTF-8 in the configuration");
}

/* ---- secrets at run time --------------------------------------------- */

static void
test_secret_prefers_the_environment(void **state)
{
	char *s, *file;

	(void)state;
	file = tmp_file("pw", "from-file\n", 10);
	setenv("MLC_TEST_SECRET", "from-env", 1);
	s = mlc_cfg_secret("MLC_TEST_SECRET", file, "x3.password", &g_err);
	assert_non_null(s);
	assert_string_equal(s, "from-env");
	free(s);
	unsetenv("MLC_TEST_SECRET");
}

static void
test_secret_falls_back_to_the_file_first_line(void **state)
{
	char *s, *file;

	(void)state;
	file = tmp_file("pw", "s3cret\r\nsecond line\n", 21);
	setenv("MLC_TEST_SECRET", "", 1); /* empty counts as unset */
	s = mlc_cfg_secret("MLC_TEST_SECRET", file, "x3.password", &g_err);
	assert_non_null(s);
	assert_string_equal(s, "s3cret");
	free(s);
	unsetenv("MLC_TEST_SECRET");
	file = tmp_file("pw2", "no-newline", 10);
	s = mlc_cfg_secret("", file, "x3.password", &g_err);
	assert_non_null(s);
	assert_string_equal(s, "no-newline");
	free(s);
}

static void
test_secret_errors_name_the_source_never_the_value(void **state)
{
	char *file, *big, expect[256];

	(void)state;
	assert_null(mlc_cfg_secret("MLC_TEST_SECRET", NULL, "slack.token", &g_err));
	assert_string_equal(g_err.msg,
	    "slack.token: environment variable MLC_TEST_SECRET is not set or empty");

	file = tmp_file("empty", "\nXYZZY\n", 7);
	assert_null(mlc_cfg_secret(NULL, file, "slack.token", &g_err));
	snprintf(expect, sizeof(expect),
	    "slack.token: file %s is empty (the secret is its first line)", file);
	assert_string_equal(g_err.msg, expect);
	expect_error_lacks("XYZZY");

	assert_null(mlc_cfg_secret(NULL, "/nonexistent/secret", "slack.token", &g_err));
	assert_string_equal(g_err.msg,
	    "slack.token: cannot read file /nonexistent/secret: No such file or directory");

	big = malloc(64 * 1024 + 1);
	assert_non_null(big);
	memset(big, 'a', 64 * 1024 + 1);
	file = tmp_file("big", big, 64 * 1024 + 1);
	free(big);
	assert_null(mlc_cfg_secret(NULL, file, "slack.token", &g_err));
	expect_error_has("larger than 64 KiB");

	assert_null(mlc_cfg_secret(NULL, NULL, "slack.token", &g_err));
	expect_error_prefix(-1, "slack.token: not configured");
}

static void
test_entity_find_by_config_name(void **state)
{
	(void)state;
	assert_int_equal(load_owned(yaml_edit(0)), 0);
	assert_ptr_equal(mlc_cfg_entity_find(&g_cfg, "supplier_invoice"),
	    &g_cfg.x3.entities[1]);
	assert_null(mlc_cfg_entity_find(&g_cfg, "PINVOICE"));
	assert_null(mlc_cfg_entity_find(&g_cfg, ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_file_loads),
		cmocka_unit_test(test_minimal_file_gets_every_default),
		cmocka_unit_test(test_load_reads_mlc_config_when_path_is_null),
		cmocka_unit_test(test_missing_file_error_names_the_file),
		cmocka_unit_test(test_durations_and_values_are_parsed),
		cmocka_unit_test(test_failed_load_leaves_cfg_untouched),
		cmocka_unit_test(test_unknown_key_suggests_the_close_name),
		cmocka_unit_test(test_unknown_key_without_close_name),
		cmocka_unit_test(test_unknown_key_in_sequence_item_has_index_path),
		cmocka_unit_test(test_page_size_must_be_an_integer),
		cmocka_unit_test(test_page_size_range_is_enforced),
		cmocka_unit_test(test_mapping_where_string_expected_is_rejected),
		cmocka_unit_test(test_bad_boolean_is_rejected),
		cmocka_unit_test(test_bad_durations_are_rejected),
		cmocka_unit_test(test_log_level_lists_accepted_values),
		cmocka_unit_test(test_auth_accepts_only_known_modes_and_lists_them),
		cmocka_unit_test(test_aliases_are_rejected),
		cmocka_unit_test(test_missing_required_key_reports_parent_line),
		cmocka_unit_test(test_missing_required_section_reports_line_1),
		cmocka_unit_test(test_missing_key_in_sequence_item_reports_item_line),
		cmocka_unit_test(test_empty_required_value_is_rejected),
		cmocka_unit_test(test_duplicate_key_is_rejected_with_both_lines),
		cmocka_unit_test(test_basic_auth_needs_user_and_password_source),
		cmocka_unit_test(test_slack_needs_token_source),
		cmocka_unit_test(test_empty_sequence_is_rejected),
		cmocka_unit_test(test_plain_password_is_refused_without_echoing_it),
		cmocka_unit_test(test_plain_token_is_refused_without_echoing_it),
		cmocka_unit_test(test_secret_keys_are_refused_anywhere),
		cmocka_unit_test(test_password_env_that_is_not_a_name_is_not_echoed),
		cmocka_unit_test(test_route_to_unknown_entity_names_the_route),
		cmocka_unit_test(test_route_to_any_entity_is_accepted),
		cmocka_unit_test(test_duplicate_entity_name_is_rejected),
		cmocka_unit_test(test_duplicate_route_name_is_rejected),
		cmocka_unit_test(test_entity_name_charset_is_enforced),
		cmocka_unit_test(test_bad_channel_names_are_rejected),
		cmocka_unit_test(test_good_channel_names_are_accepted),
		cmocka_unit_test(test_unquoted_channel_gets_a_quoting_hint),
		cmocka_unit_test(test_endpoint_scheme_is_checked),
		cmocka_unit_test(test_ipc_path_longer_than_sun_path_is_rejected),
		cmocka_unit_test(test_duplicate_endpoints_are_rejected),
		cmocka_unit_test(test_url_must_be_http_or_https),
		cmocka_unit_test(test_ca_file_must_be_readable_at_load),
		cmocka_unit_test(test_yaml_syntax_error_has_file_and_line),
		cmocka_unit_test(test_empty_config_is_rejected),
		cmocka_unit_test(test_top_level_must_be_a_mapping),
		cmocka_unit_test(test_invalid_utf8_is_rejected_with_line),
		cmocka_unit_test(test_secret_prefers_the_environment),
		cmocka_unit_test(test_secret_falls_back_to_the_file_first_line),
		cmocka_unit_test(test_secret_errors_name_the_source_never_the_value),
		cmocka_unit_test(test_entity_find_by_config_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
