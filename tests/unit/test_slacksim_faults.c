/*
 * test_slacksim_faults: the Slack simulator's runtime faults (fault.c) and
 * token rotation (tokens.c): matching by channel name or ID, token and
 * method, counts that run out, bad specs refused with a reason; tokens
 * that expire and a refresh that revokes the old refresh token.
 *
 * The sources are included directly (unit tests link only the libraries);
 * the clock and the ID check they use from other simulator files are
 * stubbed here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../sim/slacksim/fault.c"
#include "../../sim/slacksim/tokens.c"

static uint64_t fake_ms = 1000000;

uint64_t
sim_now_mono_ms(void)
{
	return fake_ms;
}

uint64_t
sim_now_wall_us(void)
{
	return fake_ms * 1000;
}

int
sim_channel_id_shape(const char *arg)
{
	size_t n = strlen(arg);

	return arg[0] == 'C' && n >= 9 && n <= 23;
}

static json_t *
spec(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static int
add(struct sim_faults *f, const char *text, struct mlc_err *err)
{
	json_t *j = spec(text);
	int r = sim_faults_add(f, j, err);

	json_decref(j);
	return r;
}

static void
test_fault_matches_channel_by_name_or_id_and_counts_down(void **state)
{
	struct sim_faults *f = sim_faults_new();
	struct sim_fault x;
	struct mlc_err err;

	(void)state;
	assert_int_equal(add(f, "{\"channel\":\"#Procure\",\"error\":\"is_archived\",\"count\":2}",
	    &err), 0);
	assert_int_equal(sim_faults_take(f, "chat.postMessage", "C0000000001", "finance", "t", &x), 0);
	assert_int_equal(sim_faults_take(f, "auth.test", "", "", "t", &x), 0);
	assert_int_equal(sim_faults_take(f, "chat.postMessage", "C0000000002", "procure", "t", &x), 1);
	assert_int_equal(x.kind, SIM_FAULT_ERROR);
	assert_string_equal(x.error, "is_archived");
	assert_int_equal(sim_faults_take(f, "chat.postMessage", "C0000000002", "procure", "t", &x), 1);
	assert_int_equal(sim_faults_take(f, "chat.postMessage", "C0000000002", "procure", "t", &x), 0);
	assert_int_equal(add(f, "{\"channel\":\"C0000000002\",\"http\":503}", &err), 0);
	assert_int_equal(sim_faults_take(f, "chat.postMessage", "C0000000002", "procure", "t", &x), 1);
	assert_int_equal(x.http, 503);
	assert_int_equal(x.count, -1);
	sim_faults_destroy(&f);
	assert_null(f);
}

static void
test_fault_by_token_and_method_and_ratelimit_once(void **state)
{
	struct sim_faults *f = sim_faults_new();
	struct sim_fault x;
	struct mlc_err err;

	(void)state;
	assert_int_equal(add(f, "{\"channel\":\"*\",\"token\":\"xoxb-a\",\"method\":\"*\","
	    "\"ratelimit\":\"once\",\"retry_after\":5}", &err), 0);
	assert_int_equal(sim_faults_take(f, "auth.test", "", "", "xoxb-b", &x), 0);
	assert_int_equal(sim_faults_take(f, "auth.test", "", "", "xoxb-a", &x), 1);
	assert_int_equal(x.kind, SIM_FAULT_RATELIMIT);
	assert_int_equal(x.retry_after, 5);
	assert_int_equal(sim_faults_take(f, "auth.test", "", "", "xoxb-a", &x), 0);
	assert_int_equal(add(f, "{\"method\":\"conversations.history\",\"error\":\"missing_scope\"}",
	    &err), 0);
	assert_int_equal(sim_faults_take(f, "chat.postMessage", "C0000000002", "x", "t", &x), 0);
	assert_int_equal(sim_faults_take(f, "conversations.history", "C0000000002", "x", "t", &x), 1);
	sim_faults_clear(f);
	assert_int_equal(sim_faults_take(f, "conversations.history", "C0000000002", "x", "t", &x), 0);
	sim_faults_destroy(&f);
}

static void
test_store_then_drop_fires_on_about_its_percentage(void **state)
{
	struct sim_faults *f = sim_faults_new();
	struct sim_fault x;
	struct mlc_err err;
	int hits = 0;

	(void)state;
	assert_int_equal(add(f, "{\"channel\":\"*\",\"store_then_drop\":10}", &err), 0);
	for (int i = 0; i < 10000; i++)
		hits += sim_faults_take(f, "chat.postMessage", "C0000000002", "x", "t", &x);
	assert_in_range(hits, 800, 1200);
	sim_faults_destroy(&f);
}

static void
test_bad_fault_specs_are_refused_with_a_reason(void **state)
{
	static const char *const bad[] = {
		"[]", "{}", "{\"error\":\"\"}", "{\"http\":200}", "{\"reset\":false}",
		"{\"error\":\"x\",\"http\":503}", "{\"ratelimit\":\"sometimes\"}",
		"{\"store_then_drop\":101}", "{\"error\":\"x\",\"count\":0}",
		"{\"slow_ms\":\"5\"}", "{\"error\":\"x\",\"channel\":5}",
	};
	struct sim_faults *f = sim_faults_new();
	struct mlc_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		if (add(f, bad[i], &err) != -1)
			fail_msg("accepted %s", bad[i]);
		assert_true(err.msg[0] != '\0');
	}
	sim_faults_destroy(&f);
}

static void
test_rotated_tokens_expire_and_refresh_revokes_the_old_refresh_token(void **state)
{
	struct sim_tokens *t;
	char acc[80], ref[80], acc2[80], ref2[80];
	uint64_t exp = 0;

	(void)state;
	fake_ms = 1000000;
	t = sim_tokens_new("xoxb-first", "xoxe-1-first", 1, 10);
	assert_null(sim_tokens_check(t, "xoxb-first", fake_ms));
	assert_string_equal(sim_tokens_check(t, "xoxb-other", fake_ms), "invalid_auth");
	fake_ms += 10000;
	assert_string_equal(sim_tokens_check(t, "xoxb-first", fake_ms), "token_expired");
	assert_null(sim_tokens_refresh(t, "xoxe-1-first", fake_ms, acc, ref, &exp));
	assert_int_equal(exp, 10);
	assert_null(sim_tokens_check(t, acc, fake_ms));
	/* The old refresh token is revoked; the new one works once. */
	assert_string_equal(sim_tokens_refresh(t, "xoxe-1-first", fake_ms, acc2, ref2, &exp),
	    "invalid_refresh_token");
	assert_null(sim_tokens_refresh(t, ref, fake_ms, acc2, ref2, &exp));
	assert_string_not_equal(acc, acc2);
	fake_ms += 10000;
	assert_string_equal(sim_tokens_check(t, acc2, fake_ms), "token_expired");
	sim_tokens_destroy(&t);
	/* Without rotation the token never expires and refresh is refused. */
	t = sim_tokens_new("xoxb-first", "xoxe-1-first", 0, 10);
	fake_ms += 100000000;
	assert_null(sim_tokens_check(t, "xoxb-first", fake_ms));
	assert_non_null(sim_tokens_refresh(t, "xoxe-1-first", fake_ms, acc, ref, &exp));
	sim_tokens_destroy(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_matches_channel_by_name_or_id_and_counts_down),
		cmocka_unit_test(test_fault_by_token_and_method_and_ratelimit_once),
		cmocka_unit_test(test_store_then_drop_fires_on_about_its_percentage),
		cmocka_unit_test(test_bad_fault_specs_are_refused_with_a_reason),
		cmocka_unit_test(test_rotated_tokens_expire_and_refresh_revokes_the_old_refresh_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
