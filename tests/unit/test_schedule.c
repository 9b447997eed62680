/* Unit tests for poller/schedule: the interval in force and the next cycle
 * across a day boundary and both Europe/Paris DST changes, with an injected
 * clock (epoch times), and the TZ isolation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mlc_time.h"
#include "schedule.h"

#define MIN (60 * 1000LL)
#define HOUR (60 * MIN)

static struct mlc_cfg_schedule_rule rules[2];
static struct x3_sched sched;

static int64_t
at(const char *iso)
{
	int64_t s;

	assert_int_equal(mlc_time_parse(iso, &s), 0);
	return s * 1000;
}

/* "every 15m Mon-Fri 07:00-19:00 Europe/Paris, otherwise every 1h" */
static int
setup_business(void **state)
{
	(void)state;
	memset(rules, 0, sizeof(rules));
	rules[0].every_ms = 15 * MIN;
	rules[0].days_mask = 0x3e; /* Mon..Fri */
	rules[0].from_min = 7 * 60;
	rules[0].to_min = 19 * 60;
	strcpy(rules[0].tz, "Europe/Paris");
	sched.rules = rules;
	sched.n_rules = 1;
	sched.default_ms = HOUR;
	return 0;
}

static void
test_business_hours_use_the_rule_interval(void **state)
{
	(void)state;
	/* Wed 2024-06-12 10:00 CEST = 08:00Z */
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-06-12T08:00:00Z")), 15 * MIN);
	assert_int_equal(x3_sched_next(&sched, at("2024-06-12T08:00:00Z")),
	    at("2024-06-12T08:15:00Z"));
}

static void
test_evening_falls_back_to_the_default_interval(void **state)
{
	(void)state;
	/* 19:05 CEST = 17:05Z: outside [07:00, 19:00) */
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-06-12T17:05:00Z")), HOUR);
	/* 18:59:00 local: still inside */
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-06-12T16:59:00Z")), 15 * MIN);
	/* a cycle at 18:50 local: next at 19:05 local (the 15m of its rule) */
	assert_int_equal(x3_sched_next(&sched, at("2024-06-12T16:50:00Z")),
	    at("2024-06-12T17:05:00Z"));
}

static void
test_morning_start_is_not_delayed_by_the_hourly_interval(void **state)
{
	(void)state;
	/* 06:30 local, hourly: the next cycle is at 07:00 local, not 07:30 */
	assert_int_equal(x3_sched_next(&sched, at("2024-06-12T04:30:00Z")),
	    at("2024-06-12T05:00:00Z"));
}

static void
test_day_boundary_friday_evening_to_monday_morning(void **state)
{
	(void)state;
	/* Fri 2024-06-14 23:30 local = 21:30Z: hourly; past midnight it is
	 * Saturday: still hourly, no rule */
	assert_int_equal(x3_sched_next(&sched, at("2024-06-14T21:30:00Z")),
	    at("2024-06-14T22:30:00Z"));
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-06-15T08:00:00Z")), HOUR);
	/* Sun 23:30 local -> Mon 00:30 local (hourly), Mon 06:30 -> 07:00 */
	assert_int_equal(x3_sched_next(&sched, at("2024-06-16T21:30:00Z")),
	    at("2024-06-16T22:30:00Z"));
	assert_int_equal(x3_sched_next(&sched, at("2024-06-17T04:30:00Z")),
	    at("2024-06-17T05:00:00Z"));
	/* the day boundary is local: 23:30Z Sunday is already Monday 01:30 in
	 * Paris, yet outside hours */
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-06-16T23:30:00Z")), HOUR);
}

static void
test_spring_dst_change_moves_business_hours_in_utc(void **state)
{
	(void)state;
	/* Paris went CET->CEST on Sun 2024-03-31. Rule on every day here. */
	rules[0].days_mask = 0x7f;
	/* 05:30Z is 06:30 CET on the 30th (outside), 07:30 CEST on the 31st */
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-03-30T05:30:00Z")), HOUR);
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-03-31T05:30:00Z")), 15 * MIN);
	/* 07:00 local is 06:00Z before the change and 05:00Z after it */
	assert_int_equal(x3_sched_next(&sched, at("2024-03-30T05:30:00Z")),
	    at("2024-03-30T06:00:00Z"));
	assert_int_equal(x3_sched_next(&sched, at("2024-03-31T04:30:00Z")),
	    at("2024-03-31T05:00:00Z"));
	/* the change itself (02:00 CET -> 03:00 CEST at 01:00Z): hourly on */
	assert_int_equal(x3_sched_next(&sched, at("2024-03-31T00:30:00Z")),
	    at("2024-03-31T01:30:00Z"));
}

static void
test_autumn_dst_change_moves_business_hours_back(void **state)
{
	(void)state;
	rules[0].days_mask = 0x7f;
	/* Sun 2024-10-27 CEST->CET at 01:00Z. 18:30Z is 20:30 CEST the day
	 * before (outside) and 19:30 CET... also outside; 17:30Z is 19:30 CEST
	 * on the 26th (outside) but 18:30 CET on the 27th (inside). */
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-10-26T17:30:00Z")), HOUR);
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-10-27T17:30:00Z")), 15 * MIN);
	/* 07:00 local: 05:00Z on the 26th, 06:00Z on the 27th */
	assert_int_equal(x3_sched_next(&sched, at("2024-10-27T05:30:00Z")),
	    at("2024-10-27T06:00:00Z"));
	assert_int_equal(x3_sched_next(&sched, at("2024-10-26T04:30:00Z")),
	    at("2024-10-26T05:00:00Z"));
}

static void
test_first_matching_rule_wins_and_zones_are_per_rule(void **state)
{
	(void)state;
	/* rule 1: every 5m 09:00-10:00 America/New_York, after rule 0 */
	rules[1].every_ms = 5 * MIN;
	rules[1].days_mask = 0x7f;
	rules[1].from_min = 9 * 60;
	rules[1].to_min = 10 * 60;
	strcpy(rules[1].tz, "America/New_York");
	sched.n_rules = 2;
	/* Wed 2024-06-12 13:30Z = 09:30 EDT, 15:30 CEST: rule 0 matches first */
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-06-12T13:30:00Z")), 15 * MIN);
	/* Sat 2024-06-15 13:30Z: rule 0 is weekdays only, rule 1 matches */
	assert_int_equal(x3_sched_interval_at(&sched, at("2024-06-15T13:30:00Z")), 5 * MIN);
}

static void
test_no_rules_is_the_fixed_interval(void **state)
{
	(void)state;
	sched.n_rules = 0;
	assert_int_equal(x3_sched_next(&sched, 1000), 1000 + HOUR);
}

static void
test_process_tz_is_restored(void **state)
{
	struct tm tm;

	(void)state;
	setenv("TZ", "Asia/Tokyo", 1);
	assert_int_equal(x3_tz_local("Europe/Paris", at("2024-06-12T08:00:00Z") / 1000, &tm), 0);
	assert_int_equal(tm.tm_hour, 10);
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	(void)x3_sched_next(&sched, at("2024-06-12T08:00:00Z"));
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	unsetenv("TZ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_business_hours_use_the_rule_interval, setup_business),
		cmocka_unit_test_setup(test_evening_falls_back_to_the_default_interval, setup_business),
		cmocka_unit_test_setup(test_morning_start_is_not_delayed_by_the_hourly_interval,
		    setup_business),
		cmocka_unit_test_setup(test_day_boundary_friday_evening_to_monday_morning,
		    setup_business),
		cmocka_unit_test_setup(test_spring_dst_change_moves_business_hours_in_utc,
		    setup_business),
		cmocka_unit_test_setup(test_autumn_dst_change_moves_business_hours_back,
		    setup_business),
		cmocka_unit_test_setup(test_first_matching_rule_wins_and_zones_are_per_rule,
		    setup_business),
		cmocka_unit_test_setup(test_no_rules_is_the_fixed_interval, setup_business),
		cmocka_unit_test_setup(test_process_tz_is_restored, setup_business),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
