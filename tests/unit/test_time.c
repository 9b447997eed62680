/*
 * test_time: UTC ISO-8601 parsing and formatting, durations.
 *
 * The poller's watermark is an X3 stamp parsed here, so a wrong day count or
 * a dependence on the host's time zone would silently skip or repeat rows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlc_time.h"

static int64_t
parse_ok(const char *s)
{
	int64_t t = -12345;

	if (mlc_time_parse(s, &t) != 0)
		fail_msg("mlc_time_parse rejected valid \"%s\"", s);
	return t;
}

static void
assert_rejected(const char *s)
{
	int64_t t = 777;

	if (mlc_time_parse(s, &t) != -1)
		fail_msg("mlc_time_parse accepted invalid \"%s\"", s);
	assert_int_equal(t, 777); /* output untouched on failure */
}

static void
test_parse_known_instants(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("2026-11-29T01:02:03Z"), 1795914123);
	assert_int_equal(parse_ok("0001-01-01T00:00:00Z"), -62135596800LL);
	assert_int_equal(parse_ok("1600-03-01T00:00:00Z"), -11670912000LL);
	assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1);
}

static void
test_parse_accepts_leap_days_of_leap_years(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), 1709164800);
	assert_int_equal(parse_ok("2000-02-29T00:00:00Z"), 951782400);
	/* The day after a leap day is March 1st, one day later. */
	assert_int_equal(parse_ok("2024-03-01T00:00:00Z"), 1709164800 + 86400);
}

static void
test_parse_rejects_leap_days_of_common_years(void **state)
{
	(void)state;
	assert_rejected("2023-02-29T00:00:00Z");
	assert_rejected("1900-02-29T00:00:00Z"); /* divisible by 100, not 400 */
	assert_rejected("2100-02-29T00:00:00Z");
	assert_rejected("2024-02-30T00:00:00Z");
}

static void
test_parse_rejects_out_of_range_fields(void **state)
{
	(void)state;
	assert_rejected("2024-00-10T00:00:00Z");
	assert_rejected("2024-13-10T00:00:00Z");
	assert_rejected("2024-01-00T00:00:00Z");
	assert_rejected("2024-01-32T00:00:00Z");
	assert_rejected("2024-04-31T00:00:00Z");
	assert_rejected("2024-01-01T24:00:00Z");
	assert_rejected("2024-01-01T23:60:00Z");
	assert_rejected("2024-01-01T23:59:60Z"); /* no leap seconds */
	assert_rejected("2024-01-01T00:00:00+24:00");
	assert_rejected("2024-01-01T00:00:00+01:60");
}

static void
test_parse_truncates_fractional_seconds(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-02-29T00:00:00.999Z"), 1709164800);
	assert_int_equal(parse_ok("2024-02-29T00:00:00.1Z"), 1709164800);
	assert_int_equal(parse_ok("2024-02-29T00:00:00.123456789Z"), 1709164800);
	/* Before the epoch truncation is still toward the earlier second as
	 * written: 23:59:59.5 is second 59. */
	assert_int_equal(parse_ok("1969-12-31T23:59:59.5Z"), -1);
}

static void
test_parse_rejects_malformed_fractions(void **state)
{
	(void)state;
	assert_rejected("2024-02-29T00:00:00.Z");
	assert_rejected("2024-02-29T00:00:00.1234567890Z"); /* > 9 digits */
	assert_rejected("2024-02-29T00:00:00,5Z");
}

static void
test_parse_converts_offsets_to_utc(void **state)
{
	int64_t z = parse_ok("2024-05-01T10:00:00Z");

	(void)state;
	assert_int_equal(parse_ok("2024-05-01T12:00:00+02:00"), z);
	assert_int_equal(parse_ok("2024-05-01T08:30:00-01:30"), z);
	assert_int_equal(parse_ok("2024-05-01T10:00:00+00:00"), z);
	assert_int_equal(parse_ok("2024-05-01T10:00:00-00:00"), z);
	/* An offset can move the instant across a day and year boundary. */
	assert_int_equal(parse_ok("2025-01-01T01:00:00+02:00"),
	    parse_ok("2024-12-31T23:00:00Z"));
	assert_int_equal(parse_ok("2024-05-01T12:00:00.750+02:00"), z);
}

static void
test_parse_accepts_space_separator(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-02-29 00:00:00Z"), 1709164800);
}

static void
test_parse_rejects_trailing_and_malformed_text(void **state)
{
	(void)state;
	assert_rejected("");
	assert_rejected("2024-02-29T00:00:00Zx");
	assert_rejected("2024-02-29T00:00:00Z ");
	assert_rejected(" 2024-02-29T00:00:00Z");
	assert_rejected("2024-02-29T00:00:00"); /* local time: ambiguous */
	assert_rejected("2024-02-29");
	assert_rejected("2024-2-29T00:00:00Z");
	assert_rejected("2024-02-29t00:00:00Z");
	assert_rejected("2024-02-29T0:00:00Z");
	assert_rejected("2024-02-29T00:00Z");
	assert_rejected("2024-02-29T00:00:00+0200");
	assert_rejected("2024-02-29T00:00:00+02");
	assert_rejected("2024-02-29T00:00:00+02:00Z");
	assert_rejected("2024-0+-29T00:00:00Z");
	assert_rejected("+2024-02-29T00:00:00Z");
	assert_rejected("2024-02-29T00:00:00z");
}

static void
test_parse_does_not_depend_on_tz_environment(void **state)
{
	const char *old = getenv("TZ");
	char *saved = old != NULL ? strdup(old) : NULL;
	int64_t t;

	(void)state;
	setenv("TZ", "America/New_York", 1);
	tzset();
	t = parse_ok("2024-07-01T00:00:00Z");
	if (saved != NULL) {
		setenv("TZ", saved, 1);
		free(saved);
	} else {
		unsetenv("TZ");
	}
	tzset();
	assert_int_equal(t, 1719792000);
}

static void
test_format_known_instants(void **state)
{
	char out[MLC_TIME_ISO_LEN];

	(void)state;
	mlc_time_format(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	mlc_time_format(1709164800, out);
	assert_string_equal(out, "2024-02-29T00:00:00Z");
	mlc_time_format(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59Z");
}

static void
test_format_clamps_to_four_digit_years(void **state)
{
	char out[MLC_TIME_ISO_LEN];

	(void)state;
	mlc_time_format(INT64_MAX, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	mlc_time_format(INT64_MIN, out);
	assert_string_equal(out, "0000-01-01T00:00:00Z");
}

static void
test_format_ms_floors_negative_values(void **state)
{
	char out[25];

	(void)state;
	mlc_time_format_ms(1709164800123LL, out);
	assert_string_equal(out, "2024-02-29T00:00:00.123Z");
	mlc_time_format_ms(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59.999Z");
	mlc_time_format_ms(5, out);
	assert_string_equal(out, "1970-01-01T00:00:00.005Z");
	mlc_time_format_ms(INT64_MAX, out);
	assert_string_equal(out, "9999-12-31T23:59:59.999Z");
}

/* gmtime_r is an independent oracle for the formatter, and parse(format(t))
 * must give t back, across four centuries incl. 1900, 2000, 2100. */
static void
test_format_matches_gmtime_and_round_trips(void **state)
{
	char out[MLC_TIME_ISO_LEN], want[MLC_TIME_ISO_LEN];
	int64_t t, back;
	struct tm tm;
	time_t tt;

	(void)state;
	for (t = -2208988800LL; t < 7258118400LL; t += 86400 * 13 + 3607) {
		tt = (time_t)t;
		assert_non_null(gmtime_r(&tt, &tm));
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		mlc_time_format(t, out);
		assert_string_equal(out, want);
		assert_int_equal(mlc_time_parse(out, &back), 0);
		assert_int_equal(back, t);
	}
}

static void
test_clocks_are_plausible(void **state)
{
	int64_t a, b;

	(void)state;
	assert_true(mlc_time_now_ms() > 1577836800000LL); /* after 2020 */
	a = mlc_time_mono_ms();
	b = mlc_time_mono_ms();
	assert_true(b >= a);
}

static int64_t
dur_ok(const char *s)
{
	int64_t ms = -1;

	if (mlc_time_parse_duration(s, &ms) != 0)
		fail_msg("mlc_time_parse_duration rejected valid \"%s\"", s);
	return ms;
}

static void
assert_dur_rejected(const char *s)
{
	int64_t ms = 777;

	if (mlc_time_parse_duration(s, &ms) != -1)
		fail_msg("mlc_time_parse_duration accepted invalid \"%s\"", s);
	assert_int_equal(ms, 777);
}

static void
test_duration_units(void **state)
{
	(void)state;
	assert_int_equal(dur_ok("90"), 90000);
	assert_int_equal(dur_ok("90s"), 90000);
	assert_int_equal(dur_ok("15m"), 900000);
	assert_int_equal(dur_ok("1h"), 3600000);
	assert_int_equal(dur_ok("2d"), 172800000);
	assert_int_equal(dur_ok("500ms"), 500);
	assert_int_equal(dur_ok("0"), 0);
}

static void
test_duration_rejects_bad_syntax(void **state)
{
	(void)state;
	assert_dur_rejected("");
	assert_dur_rejected("-5");
	assert_dur_rejected("+5");
	assert_dur_rejected("5x");
	assert_dur_rejected("5 s");
	assert_dur_rejected(" 5s");
	assert_dur_rejected("s");
	assert_dur_rejected("ms");
	assert_dur_rejected("1.5s");
	assert_dur_rejected("5ms5");
	assert_dur_rejected("5S");
	assert_dur_rejected("5sec");
}

static void
test_duration_rejects_overflow(void **state)
{
	(void)state;
	assert_int_equal(dur_ok("9223372036854775807ms"), INT64_MAX);
	assert_dur_rejected("9223372036854775808ms");
	assert_dur_rejected("99999999999999999999999ms");
	assert_int_equal(dur_ok("106751991167d"), 106751991167LL * 86400000);
	assert_dur_rejected("106751991168d");
	assert_dur_rejected("9223372036854775807"); /* seconds * 1000 */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_known_instants),
		cmocka_unit_test(test_parse_accepts_leap_days_of_leap_years),
		cmocka_unit_test(test_parse_rejects_leap_days_of_common_years),
		cmocka_unit_test(test_parse_rejects_out_of_range_fields),
		cmocka_unit_test(test_parse_truncates_fractional_seconds),
		cmocka_unit_test(test_parse_rejects_malformed_fractions),
		cmocka_unit_test(test_parse_converts_offsets_to_utc),
		cmocka_unit_test(test_parse_accepts_space_separator),
		cmocka_unit_test(test_parse_rejects_trailing_and_malformed_text),
		cmocka_unit_test(test_parse_does_not_depend_on_tz_environment),
		cmocka_unit_test(test_format_known_instants),
		cmocka_unit_test(test_format_clamps_to_four_digit_years),
		cmocka_unit_test(test_format_ms_floors_negative_values),
		cmocka_unit_test(test_format_matches_gmtime_and_round_trips),
		cmocka_unit_test(test_clocks_are_plausible),
		cmocka_unit_test(test_duration_units),
		cmocka_unit_test(test_duration_rejects_bad_syntax),
		cmocka_unit_test(test_duration_rejects_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
