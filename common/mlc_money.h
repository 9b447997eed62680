/*
 * mlc_money: decimal amounts, never binary floating point.
 *
 * An amount is an integer count of 10^-scale units: 1234.50 is
 * {units = 123450, scale = 2}. X3 sends amounts as JSON numbers (api1) or
 * strings (GraphQL); both arrive here as the exact text and are parsed
 * without ever going through a double. Up to 9 fractional digits and 18
 * significant digits; anything larger is rejected, never rounded silently.
 */
#ifndef MLC_MONEY_H
#define MLC_MONEY_H

#include <stddef.h>
#include <stdint.h>

#define MLC_MONEY_MAX_SCALE 9

struct mlc_money {
	int64_t units;
	uint8_t scale;
};

/*
 * Parses "-1234.50", "+7", "0.125", "1234" (no exponent, no thousands
 * separators, no spaces, at least one digit). Trailing fractional zeros are
 * kept in scale ("1.50" has scale 2) so that formatting round-trips.
 * Returns 0, or -1 on syntax error or overflow.
 *
 * Rejected on purpose: "1." and ".5" (a bare point suggests a damaged
 * value, and X3 never sends them), more than 9 fractional digits, more than
 * 18 significant digits (leading zeros do not count, kept trailing zeros
 * do), anything after the last digit. Accepts leading zeros ("007").
 */
int mlc_money_parse(const char *s, struct mlc_money *out);

/* Compares numerically across scales (1.5 == 1.50). Returns <0, 0, >0.
 * Never overflows: compares with 128-bit intermediates. Both scales must
 * be <= MLC_MONEY_MAX_SCALE (asserted; parse never produces more). */
int mlc_money_cmp(const struct mlc_money *a, const struct mlc_money *b);

/*
 * Formats with exactly `scale` fractional digits (the amount's own scale
 * when scale < 0; otherwise rounds half away from zero or pads), with ','
 * thousands separators when group != 0: 1234567.5 -> "1,234,567.50".
 * Returns the length written, or -1 if out is too small.
 *
 * Also -1 when scale or m->scale exceeds MLC_MONEY_MAX_SCALE. A value that
 * rounds to zero is printed without a sign ("-0.004" at 2 -> "0.00").
 * Works for every int64 (INT64_MIN included).
 */
int mlc_money_format(const struct mlc_money *m, int scale, int group, char *out,
    size_t outsz);

#endif
