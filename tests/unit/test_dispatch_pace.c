/*
 * test_dispatch_pace: the dispatcher's per-channel token bucket (pace.h):
 * starts an interval apart with burst 1, `burst` back to back then one per
 * interval, never earlier than an interval after Slack's answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pace.h"

static void
test_burst_1_allows_one_post_per_interval(void **state)
{
	struct pace p = { 0 };

	(void)state;
	assert_true(pace_due(&p, 1000, 1) <= 5000);
	pace_take(&p, 5000, 1000);
	assert_int_equal(pace_due(&p, 1000, 1), 6000);
	pace_take(&p, 6000, 1000);
	assert_int_equal(pace_due(&p, 1000, 1), 7000);
	/* A quiet spell does not bank posts with burst 1. */
	pace_take(&p, 20000, 1000);
	assert_int_equal(pace_due(&p, 1000, 1), 21000);
}

static void
test_burst_3_allows_three_back_to_back_then_one_per_interval(void **state)
{
	struct pace p = { 0 };
	int64_t t = 10000;

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_true(pace_due(&p, 1000, 3) <= t);
		pace_take(&p, t, 1000);
	}
	assert_int_equal(pace_due(&p, 1000, 3), 11000);
	pace_take(&p, 11000, 1000);
	assert_int_equal(pace_due(&p, 1000, 3), 12000);
	/* After 3 idle intervals the bucket is full again: 3 more at once. */
	t = 20000;
	for (int i = 0; i < 3; i++) {
		assert_true(pace_due(&p, 1000, 3) <= t);
		pace_take(&p, t, 1000);
	}
	assert_true(pace_due(&p, 1000, 3) > t);
}

static void
test_a_slow_answer_pushes_the_next_post_back(void **state)
{
	struct pace p = { 0 };

	(void)state;
	pace_take(&p, 1000, 1015);
	assert_int_equal(pace_due(&p, 1015, 1), 2015);
	/* Slack answered 300 ms later: it may have counted the post then. */
	pace_done(&p, 1300, 1000);
	assert_int_equal(pace_due(&p, 1015, 1), 2300);
	/* A quick answer changes nothing. */
	pace_done(&p, 1310 - 1000, 1000);
	assert_int_equal(pace_due(&p, 1015, 1), 2300);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_1_allows_one_post_per_interval),
		cmocka_unit_test(test_burst_3_allows_three_back_to_back_then_one_per_interval),
		cmocka_unit_test(test_a_slow_answer_pushes_the_next_post_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
