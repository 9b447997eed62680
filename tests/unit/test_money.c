/*
 * test_money: decimal amounts from X3 text to Slack text, without floats.
 *
 * Pins the syntax the parser accepts, the 18-digit / scale-9 limits, the
 * cross-scale comparison and the rounding (half away from zero) and
 * grouping of the formatter, including the int64 extremes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "mlc_money.h"

static struct mlc_money
parse_ok(const char *s)
{
	struct mlc_money m = { -1, 99 };

	if (mlc_money_parse(s, &m) != 0)
		fail_msg("mlc_money_parse rejected valid \"%s\"", s);
	return m;
}

static void
assert_rejected(const char *s)
{
	struct mlc_money m = { 0, 0 };

	if (mlc_money_parse(s, &m) != -1)
		fail_msg("mlc_money_parse accepted invalid \"%s\" (units %lld "
		    "scale %d)", s, (long long)m.units, m.scale);
}

static void
assert_parses_to(const char *s, int64_t units, int scale)
{
	struct mlc_money m = parse_ok(s);

	assert_int_equal(m.units, units);
	assert_int_equal(m.scale, scale);
}

/* Formats m at scale/group and compares with want. */
static void
assert_formats(struct mlc_money m, int scale, int group, const char *want)
{
	char out[64];
	int n;

	n = mlc_money_format(&m, scale, group, out, sizeof(out));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(out, want);
}

static void
assert_formats_text(const char *in, int scale, int group, const char *want)
{
	assert_formats(parse_ok(in), scale, group, want);
}

static void
test_parse_plain_decimals(void **state)
{
	(void)state;
	assert_parses_to("-1234.50", -123450, 2);
	assert_parses_to("+7", 7, 0);
	assert_parses_to("0.125", 125, 3);
	assert_parses_to("1234", 1234, 0);
	assert_parses_to("0", 0, 0);
	assert_parses_to("-0", 0, 0);
	assert_parses_to("0.000000001", 1, 9);
	assert_parses_to("007.5", 75, 1); /* leading zeros are harmless */
}

static void
test_parse_keeps_trailing_zeros_in_scale(void **state)
{
	(void)state;
	assert_parses_to("1.50", 150, 2);
	assert_parses_to("1.000", 1000, 3);
	assert_parses_to("0.10", 10, 2);
}

static void
test_parse_rejects_empty_and_lone_sign(void **state)
{
	(void)state;
	assert_rejected("");
	assert_rejected("-");
	assert_rejected("+");
	assert_rejected("--1");
	assert_rejected("+-1");
}

static void
test_parse_rejects_bare_decimal_point(void **state)
{
	(void)state;
	assert_rejected("1.");
	assert_rejected(".5");
	assert_rejected("-.5");
	assert_rejected(".");
	assert_rejected("1.2.3");
}

static void
test_parse_rejects_exponent(void **state)
{
	(void)state;
	assert_rejected("1e5");
	assert_rejected("1E5");
	assert_rejected("1.5e-3");
	assert_rejected("inf");
	assert_rejected("NaN");
	assert_rejected("0x10");
}

static void
test_parse_rejects_separators_and_spaces(void **state)
{
	(void)state;
	assert_rejected("1,234.50");
	assert_rejected("1 234");
	assert_rejected(" 1");
	assert_rejected("1 ");
	assert_rejected("1,5");
	assert_rejected("1_000");
}

static void
test_parse_rejects_more_than_nine_fraction_digits(void **state)
{
	(void)state;
	assert_rejected("1.0000000001");
	assert_rejected("0.0000000000");
}

static void
test_parse_limits_significant_digits_to_18(void **state)
{
	(void)state;
	assert_parses_to("999999999999999999", 999999999999999999LL, 0);
	assert_parses_to("-999999999.999999999", -999999999999999999LL, 9);
	assert_parses_to("0000000000000000000000001", 1, 0);
	assert_rejected("1000000000000000000");  /* 19 digits */
	assert_rejected("9223372036854775807");  /* INT64_MAX itself */
	assert_rejected("99999999999999999999999999"); /* would wrap int64 */
	assert_rejected("9999999999.999999999");
	/* Kept trailing zeros are significant: silently dropping them would
	 * change the scale the caller sees. */
	assert_rejected("12345678901234567.80");
}

static void
test_format_pads_to_requested_scale(void **state)
{
	(void)state;
	assert_formats_text("0.1", 2, 0, "0.10");
	assert_formats_text("7", 2, 1, "7.00");
	assert_formats_text("1234.5", 9, 0, "1234.500000000");
	assert_formats_text("0.05", -1, 0, "0.05");
	assert_formats_text("-0.05", -1, 0, "-0.05");
}

static void
test_format_uses_own_scale_when_negative(void **state)
{
	(void)state;
	assert_formats_text("1.50", -1, 0, "1.50");
	assert_formats_text("-1234.50", -1, 0, "-1234.50");
	assert_formats_text("42", -1, 0, "42");
}

static void
test_format_groups_thousands(void **state)
{
	(void)state;
	assert_formats_text("1234567.891", 2, 1, "1,234,567.89");
	assert_formats_text("-1234.5", 2, 1, "-1,234.50");
	assert_formats_text("100", 0, 1, "100");
	assert_formats_text("1000", 0, 1, "1,000");
	assert_formats_text("100000", 0, 1, "100,000");
	assert_formats_text("999999", 0, 1, "999,999");
	assert_formats_text("0.5", 2, 1, "0.50");
	assert_formats_text("1234567.891", 2, 0, "1234567.89");
}

static void
test_format_rounds_half_away_from_zero(void **state)
{
	(void)state;
	assert_formats_text("0.005", 2, 0, "0.01");
	assert_formats_text("-0.005", 2, 0, "-0.01");
	assert_formats_text("0.0049", 2, 0, "0.00");
	assert_formats_text("2.5", 0, 0, "3");
	assert_formats_text("-2.5", 0, 0, "-3");
	assert_formats_text("1.45", 1, 0, "1.5"); /* a double would give 1.4 */
	assert_formats_text("1.449999999", 1, 0, "1.4");
	assert_formats_text("999.995", 2, 1, "1,000.00"); /* carry into grouping */
	assert_formats_text("-999999.5", 0, 1, "-1,000,000");
}

static void
test_format_never_prints_negative_zero(void **state)
{
	(void)state;
	assert_formats_text("-0.004", 2, 0, "0.00");
	assert_formats_text("-0", -1, 0, "0");
	assert_formats_text("-0.00", -1, 0, "0.00");
}

static void
test_format_handles_int64_bounds(void **state)
{
	struct mlc_money max0 = { INT64_MAX, 0 }, min0 = { INT64_MIN, 0 };
	struct mlc_money max9 = { INT64_MAX, 9 }, min9 = { INT64_MIN, 9 };

	(void)state;
	assert_formats(max0, -1, 1, "9,223,372,036,854,775,807");
	assert_formats(min0, -1, 1, "-9,223,372,036,854,775,808");
	assert_formats(max0, 9, 0, "9223372036854775807.000000000");
	assert_formats(max9, -1, 0, "9223372036.854775807");
	assert_formats(max9, 0, 0, "9223372037");
	assert_formats(min9, 2, 1, "-9,223,372,036.85");
	assert_formats(min9, 0, 0, "-9223372037");
}

static void
test_format_reports_small_buffer(void **state)
{
	struct mlc_money m = parse_ok("-1234.5");
	char out[16];

	(void)state;
	/* "-1,234.50" is 9 characters and needs 10 bytes. */
	assert_int_equal(mlc_money_format(&m, 2, 1, out, 10), 9);
	assert_string_equal(out, "-1,234.50");
	assert_int_equal(mlc_money_format(&m, 2, 1, out, 9), -1);
	assert_int_equal(mlc_money_format(&m, 2, 1, out, 0), -1);
}

static void
test_format_rejects_scale_above_nine(void **state)
{
	struct mlc_money m = parse_ok("1");
	struct mlc_money bad = { 1, 10 };
	char out[64];

	(void)state;
	assert_int_equal(mlc_money_format(&m, 10, 0, out, sizeof(out)), -1);
	assert_int_equal(mlc_money_format(&bad, -1, 0, out, sizeof(out)), -1);
}

static int
cmp_text(const char *a, const char *b)
{
	struct mlc_money x = parse_ok(a), y = parse_ok(b);
	int r = mlc_money_cmp(&x, &y), s = mlc_money_cmp(&y, &x);

	/* Antisymmetric in sign, whatever the magnitude returned. */
	assert_int_equal((r > 0) - (r < 0), -((s > 0) - (s < 0)));
	return r;
}

static void
test_cmp_is_numeric_across_scales(void **state)
{
	(void)state;
	assert_int_equal(cmp_text("1.5", "1.50"), 0);
	assert_int_equal(cmp_text("0.1", "0.100000000"), 0);
	assert_int_equal(cmp_text("-0", "0.00"), 0);
	assert_true(cmp_text("-1", "0") < 0);
	assert_true(cmp_text("0", "-1") > 0);
	assert_true(cmp_text("-1.5", "-1.49") < 0);
	assert_true(cmp_text("1.51", "1.5") > 0);
	assert_true(cmp_text("0.000000001", "0") > 0);
}

static void
test_cmp_does_not_overflow_near_limits(void **state)
{
	struct mlc_money big = { 900000000000000000LL, 0 }, tiny = { 1, 9 };
	struct mlc_money nbig = { -900000000000000000LL, 0 };
	struct mlc_money max0 = { INT64_MAX, 0 }, max9 = { INT64_MAX, 9 };
	struct mlc_money min0 = { INT64_MIN, 0 }, min9 = { INT64_MIN, 9 };

	(void)state;
	assert_true(cmp_text("999999999999999999", "999999999.999999999") > 0);
	assert_true(cmp_text("-999999999999999999", "-999999999.999999999") < 0);
	assert_true(cmp_text("999999999.999999999", "999999999.99999999") > 0);
	assert_int_equal(cmp_text("999999999.999999990", "999999999.99999999"), 0);
	/* 9e17 * 10^9 wraps an int64: a naive rescale gets the sign wrong. */
	assert_true(mlc_money_cmp(&big, &tiny) > 0);
	assert_true(mlc_money_cmp(&tiny, &big) < 0);
	assert_true(mlc_money_cmp(&nbig, &tiny) < 0);
	assert_true(mlc_money_cmp(&max0, &max9) > 0);
	assert_true(mlc_money_cmp(&min0, &min9) < 0);
	assert_true(mlc_money_cmp(&min0, &max9) < 0);
	assert_int_equal(mlc_money_cmp(&max9, &max9), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_plain_decimals),
		cmocka_unit_test(test_parse_keeps_trailing_zeros_in_scale),
		cmocka_unit_test(test_parse_rejects_empty_and_lone_sign),
		cmocka_unit_test(test_parse_rejects_bare_decimal_point),
		cmocka_unit_test(test_parse_rejects_exponent),
		cmocka_unit_test(test_parse_rejects_separators_and_spaces),
		cmocka_unit_test(test_parse_rejects_more_than_nine_fraction_digits),
		cmocka_unit_test(test_parse_limits_significant_digits_to_18),
		cmocka_unit_test(test_format_pads_to_requested_scale),
		cmocka_unit_test(test_format_uses_own_scale_when_negative),
		cmocka_unit_test(test_format_groups_thousands),
		cmocka_unit_test(test_format_rounds_half_away_from_zero),
		cmocka_unit_test(test_format_never_prints_negative_zero),
		cmocka_unit_test(test_format_handles_int64_bounds),
		cmocka_unit_test(test_format_reports_small_buffer),
		cmocka_unit_test(test_format_rejects_scale_above_nine),
		cmocka_unit_test(test_cmp_is_numeric_across_scales),
		cmocka_unit_test(test_cmp_does_not_overflow_near_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
