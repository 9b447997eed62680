/*
 * test_slacksim_ratelimit: the Slack simulator's token buckets, on an
 * injected clock.
 *
 * The dispatcher's 429 handling is tested against these buckets, so a bucket
 * that refills early, lets a burst through twice or reports a Retry-After of
 * 0 would make those tests pass against behaviour Slack never shows. The
 * source is included directly: unit tests link only mlc_common.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "../../sim/slacksim/ratelimit.c"

static struct sim_rl *
rl_new_ok(unsigned burst, uint64_t interval_ms)
{
	struct sim_rl *rl = sim_rl_new(burst, interval_ms);

	assert_non_null(rl);
	return rl;
}

static void
test_new_key_starts_full_and_burst_is_capacity(void **state)
{
	struct sim_rl *rl = rl_new_ok(3, 1000);
	uint64_t retry = 0;

	(void)state;
	assert_int_equal(sim_rl_take(rl, "k", 5000, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 5000, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 5000, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 5000, &retry), 0);
	sim_rl_destroy(&rl);
	assert_null(rl);
}

static void
test_retry_ms_is_exact_time_to_next_token(void **state)
{
	struct sim_rl *rl = rl_new_ok(1, 1000);
	uint64_t retry = 0;

	(void)state;
	assert_int_equal(sim_rl_take(rl, "k", 10000, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 10000, &retry), 0);
	assert_int_equal(retry, 1000);
	assert_int_equal(sim_rl_take(rl, "k", 10250, &retry), 0);
	assert_int_equal(retry, 750);
	assert_int_equal(sim_rl_take(rl, "k", 10999, &retry), 0);
	assert_int_equal(retry, 1);
	/* Exactly one interval after the take, the token is back. */
	assert_int_equal(sim_rl_take(rl, "k", 11000, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 11000, &retry), 0);
	sim_rl_destroy(&rl);
}

static void
test_refill_is_one_token_per_interval_capped_at_burst(void **state)
{
	struct sim_rl *rl = rl_new_ok(2, 100);
	uint64_t retry = 0;

	(void)state;
	assert_int_equal(sim_rl_take(rl, "k", 0, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 0, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 0, &retry), 0);
	/* 150 ms earns one token, and the 50 ms remainder counts towards the
	 * next one. */
	assert_int_equal(sim_rl_take(rl, "k", 150, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 150, &retry), 0);
	assert_int_equal(retry, 50);
	assert_int_equal(sim_rl_take(rl, "k", 200, &retry), 1);
	/* A long idle period refills to the burst, not beyond. */
	assert_int_equal(sim_rl_take(rl, "k", 100000, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 100000, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 100000, &retry), 0);
	assert_int_equal(retry, 100);
	sim_rl_destroy(&rl);
}

static void
test_idle_time_past_full_is_not_banked(void **state)
{
	struct sim_rl *rl = rl_new_ok(1, 1000);
	uint64_t retry = 0;

	(void)state;
	/* Idle long enough to be full, then used at 5400: the next token is due
	 * at 6400. Time spent full is not banked towards the next token. */
	assert_int_equal(sim_rl_take(rl, "k", 0, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 3000, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 5400, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 6000, &retry), 0);
	assert_int_equal(retry, 400);
	sim_rl_destroy(&rl);
}

static void
test_keys_have_independent_buckets(void **state)
{
	struct sim_rl *rl = rl_new_ok(1, 1000);
	uint64_t retry = 0;

	(void)state;
	assert_int_equal(sim_rl_take(rl, "tok\x1f" "C1", 0, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "tok\x1f" "C1", 0, &retry), 0);
	assert_int_equal(sim_rl_take(rl, "tok\x1f" "C2", 0, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "tok2\x1f" "C1", 0, &retry), 1);
	sim_rl_destroy(&rl);
}

static void
test_zero_interval_disables_limiting(void **state)
{
	struct sim_rl *rl = rl_new_ok(1, 0);
	uint64_t retry = 0;

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(sim_rl_take(rl, "k", 0, &retry), 1);
	sim_rl_destroy(&rl);
}

static void
test_zero_burst_behaves_as_one(void **state)
{
	struct sim_rl *rl = rl_new_ok(0, 1000);
	uint64_t retry = 0;

	(void)state;
	assert_int_equal(sim_rl_take(rl, "k", 0, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "k", 0, &retry), 0);
	sim_rl_destroy(&rl);
}

static void
test_reset_refills_every_bucket(void **state)
{
	struct sim_rl *rl = rl_new_ok(1, 60000);
	uint64_t retry = 0;

	(void)state;
	assert_int_equal(sim_rl_take(rl, "a", 0, &retry), 1);
	assert_int_equal(sim_rl_take(rl, "a", 1, &retry), 0);
	sim_rl_reset(rl);
	assert_int_equal(sim_rl_take(rl, "a", 2, &retry), 1);
	sim_rl_destroy(&rl);
}

static void
test_retry_after_seconds_round_up_and_are_at_least_one(void **state)
{
	(void)state;
	assert_int_equal(sim_rl_retry_after_s(0), 1);
	assert_int_equal(sim_rl_retry_after_s(1), 1);
	assert_int_equal(sim_rl_retry_after_s(1000), 1);
	assert_int_equal(sim_rl_retry_after_s(1001), 2);
	assert_int_equal(sim_rl_retry_after_s(59999), 60);
}

static void
test_table_is_bounded_and_sweeps_full_buckets(void **state)
{
	struct sim_rl *rl = rl_new_ok(1, 1000);
	uint64_t retry = 0;
	char key[32];

	(void)state;
	/* Fill the table with empty buckets: a new key cannot be tracked, and
	 * the limiter says so instead of growing. */
	for (unsigned i = 0; i < SIM_MAX_RL_BUCKETS; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		assert_int_equal(sim_rl_take(rl, key, 0, &retry), 1);
	}
	assert_int_equal(rl->count, SIM_MAX_RL_BUCKETS);
	assert_int_equal(sim_rl_take(rl, "new", 500, &retry), -1);
	/* Once they have refilled they carry no state and are swept. */
	assert_int_equal(sim_rl_take(rl, "new", 1000, &retry), 1);
	assert_int_equal(rl->count, 1);
	assert_int_equal(sim_rl_take(rl, "new", 1000, &retry), 0);
	sim_rl_destroy(&rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_key_starts_full_and_burst_is_capacity),
		cmocka_unit_test(test_retry_ms_is_exact_time_to_next_token),
		cmocka_unit_test(test_refill_is_one_token_per_interval_capped_at_burst),
		cmocka_unit_test(test_idle_time_past_full_is_not_banked),
		cmocka_unit_test(test_keys_have_independent_buckets),
		cmocka_unit_test(test_zero_interval_disables_limiting),
		cmocka_unit_test(test_zero_burst_behaves_as_one),
		cmocka_unit_test(test_reset_refills_every_bucket),
		cmocka_unit_test(test_retry_after_seconds_round_up_and_are_at_least_one),
		cmocka_unit_test(test_table_is_bounded_and_sweeps_full_buckets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
