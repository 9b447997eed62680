/*
 * test_dispatch_pace: the dispatcher's per-channel token bucket (pace.h):
 * starts an interval apart with burst 1, `burst` back to back then one per
 * interval, never earlier than an interval after Slack's answer; and the
 * clock that places Slack's ts on ours (pace_counted_ms): never later than
 * the answer, never earlier than the true stamp, whatever the skew, the
 * drift or a stepped clock.
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

static void
test_ts_parses_exactly_or_not_at_all(void **state)
{
	(void)state;
	assert_int_equal(pace_ts_us("1503435956.000247"), 1503435956000247LL);
	assert_int_equal(pace_ts_us("1503435956.5"), 1503435956500000LL);
	assert_int_equal(pace_ts_us(NULL), -1);
	assert_int_equal(pace_ts_us(""), -1);
	assert_int_equal(pace_ts_us("1503435956"), -1);
	assert_int_equal(pace_ts_us("1503435956."), -1);
	assert_int_equal(pace_ts_us(".5"), -1);
	assert_int_equal(pace_ts_us("1503435956.0002471"), -1);
	assert_int_equal(pace_ts_us("1503435956.000247x"), -1);
	assert_int_equal(pace_ts_us("-1.000001"), -1);
	assert_int_equal(pace_ts_us("1234567890123.000001"), -1);
}

/*
 * A simulated Slack whose clock is `skew` ahead of ours: each post starts
 * at s, is counted and stamped at s + up (the way there), and answered at
 * s + up + down (the way back). The estimate must never be before the
 * stamp (else the next post could come too early) nor after the answer,
 * and with a steady way back it must get within a ms of the stamp.
 */
static int64_t
post(struct pace_clock *pc, int64_t skew_us, int64_t s_us, int64_t up_us,
    int64_t down_us, int64_t *stamp_ms)
{
	int64_t stamp = s_us + up_us, ans = stamp + down_us;
	int64_t ans_ms = ans / 1000;  /* the monotonic clock, here = wall */
	int64_t est = pace_counted_ms(pc, ans_ms, s_us, ans, stamp + skew_us);

	*stamp_ms = stamp / 1000;
	assert_true(est <= ans_ms);
	assert_true(est >= *stamp_ms);
	return est;
}

static void
test_ts_clock_is_never_early_and_learns_the_way_back(void **state)
{
	const int64_t skews[] = { 0, 250000, -250000, 3000000000LL };
	(void)state;

	for (size_t k = 0; k < sizeof(skews) / sizeof(skews[0]); k++) {
		struct pace_clock pc = { 0 };
		int64_t t = 1700000000000000LL, stamp, est = 0;
		unsigned r = 12345;

		for (int i = 0; i < 500; i++) {
			/* ways there and back of 0.2 to 40 ms, varying */
			int64_t up, down;

			r = r * 1103515245u + 12345u;
			up = 200 + (int64_t)(r >> 8) % 40000;
			r = r * 1103515245u + 12345u;
			down = 300 + (int64_t)(r >> 8) % 40000;
			est = post(&pc, skews[k], t, up, down, &stamp);
			t += 1000000;
		}
		/* A 30 ms way back after a spell of varied ones: the estimate
		 * beats the answer (stamp + 30) by more than half. */
		est = post(&pc, skews[k], t, 5000, 30000, &stamp);
		assert_true(est - stamp < 15);
		/* After a few quick answers (a warm connection), a post with
		 * a 30 ms way back is placed within ~1 ms of its stamp. */
		for (int i = 0; i < 5; i++) {
			t += 1000000;
			post(&pc, skews[k], t, 2000, 400 + 100 * i, &stamp);
		}
		t += 1000000;
		est = post(&pc, skews[k], t, 5000, 30000, &stamp);
		assert_true(est - stamp <= 2);
	}
}

static void
test_ts_clock_survives_drift_and_steps(void **state)
{
	struct pace_clock pc = { 0 };
	int64_t t = 1700000000000000LL, stamp, skew = 0;

	(void)state;
	for (int i = 0; i < 50; i++, t += 1000000)
		post(&pc, skew, t, 1000, 500, &stamp);
	/* Slack's clock falls behind ours by 50 us/s (NTP slewing), with a
	 * slow way there, so that only the ageing keeps the bound honest. */
	for (int i = 0; i < 600; i++, t += 1000000) {
		skew -= 50;
		post(&pc, skew, t, 40000, 500, &stamp);
	}
	/* Our clock is stepped 2 s forward, then 2 s back: the bound
	 * contradicts the next post's start and is dropped, never early. */
	skew -= 2000000;
	t += 2000000;
	post(&pc, skew, t, 1000, 500, &stamp);
	post(&pc, skew, t + 1000000, 3000, 500, &stamp);
	skew += 2000000;
	t -= 2000000;
	post(&pc, skew, t + 2000000, 1000, 500, &stamp);
	/* No ts: the answer itself. */
	assert_int_equal(pace_counted_ms(&pc, 777, 0, 777000, -1), 777);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_1_allows_one_post_per_interval),
		cmocka_unit_test(test_burst_3_allows_three_back_to_back_then_one_per_interval),
		cmocka_unit_test(test_a_slow_answer_pushes_the_next_post_back),
		cmocka_unit_test(test_ts_parses_exactly_or_not_at_all),
		cmocka_unit_test(test_ts_clock_is_never_early_and_learns_the_way_back),
		cmocka_unit_test(test_ts_clock_survives_drift_and_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
