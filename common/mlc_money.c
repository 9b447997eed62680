/*
 * mlc_money: see mlc_money.h.
 *
 * Amounts are parsed digit by digit into an int64 count of 10^-scale units.
 * The 18-significant-digit limit keeps every parsed amount below 10^18, so
 * parsing itself cannot overflow int64 and any two parsed amounts can be
 * rescaled to a common scale inside 128 bits for comparison. Formatting
 * works on the unsigned magnitude so that even INT64_MIN (which parsing
 * never produces, but a struct can hold) prints correctly.
 *
 * Syntax decisions: "1." and ".5" are rejected (X3 sends plain decimals and
 * a lone point is more likely a truncated or corrupted value than a
 * shorthand); leading zeros ("007.5") are accepted and do not count as
 * significant digits.
 */
#include "mlc_money.h"

#include <assert.h>
#include <string.h>

#define MAX_SIGNIFICANT 18

__extension__ typedef __int128 mlc_i128;

static const uint64_t pow10_u64[] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
	10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
	100000000000ULL, 1000000000000ULL, 10000000000000ULL,
	100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
	100000000000000000ULL, 1000000000000000000ULL,
	10000000000000000000ULL,
};

int
mlc_money_parse(const char *s, struct mlc_money *out)
{
	const char *p = s;
	int neg = 0, sig = 0, scale = 0, nint = 0;
	int64_t v = 0;

	if (s == NULL)
		return -1;
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++, nint++) {
		if (v == 0 && *p == '0')
			continue; /* leading zero: not significant */
		if (++sig > MAX_SIGNIFICANT)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (nint == 0)
		return -1; /* "", "-", ".5" */
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (++scale > MLC_MONEY_MAX_SCALE)
				return -1;
			/* Once a non-zero digit has been seen every further
			 * digit (even 0) is significant: 1.50 holds 150. */
			if (v != 0 || *p != '0')
				if (++sig > MAX_SIGNIFICANT)
					return -1;
			v = v * 10 + (*p - '0');
		}
		if (scale == 0)
			return -1; /* "1." */
	}
	if (*p != '\0')
		return -1; /* exponent, separator, space, anything else */
	out->units = neg ? -v : v;
	out->scale = (uint8_t)scale;
	return 0;
}

int
mlc_money_cmp(const struct mlc_money *a, const struct mlc_money *b)
{
	mlc_i128 x = a->units, y = b->units;

	/* Precondition (not input validation: parse never yields more). With
	 * |units| < 2^63 and a factor <= 10^9, products stay below 2^94. */
	assert(a->scale <= MLC_MONEY_MAX_SCALE && b->scale <= MLC_MONEY_MAX_SCALE);
	if (a->scale < b->scale)
		x *= (mlc_i128)pow10_u64[b->scale - a->scale];
	else if (b->scale < a->scale)
		y *= (mlc_i128)pow10_u64[a->scale - b->scale];
	return (x > y) - (x < y);
}

int
mlc_money_format(const struct mlc_money *m, int scale, int group, char *out,
    size_t outsz)
{
	char digs[64], buf[96];
	uint64_t mag;
	int from = m->scale, to, nd = 0, len = 0, neg;

	if (from > MLC_MONEY_MAX_SCALE)
		return -1;
	to = scale < 0 ? from : scale;
	if (to > MLC_MONEY_MAX_SCALE)
		return -1;
	neg = m->units < 0;
	/* Magnitude without the signed overflow of -INT64_MIN. */
	mag = neg ? (uint64_t)0 - (uint64_t)m->units : (uint64_t)m->units;
	if (to < from) {
		uint64_t div = pow10_u64[from - to];
		uint64_t rem = mag % div;

		mag /= div;
		/* Half away from zero: on the magnitude, half rounds up.
		 * rem < 10^9, so 2 * rem cannot overflow; mag < 2^64 / 10
		 * here, so mag + 1 cannot either. */
		if (rem >= div - rem)
			mag++;
	}
	/* Digits of the magnitude, least significant first. */
	do {
		digs[nd++] = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag != 0);
	/* Padding to a larger scale is textual: appending zeros can never
	 * overflow. Shift the digits up and put zeros at the bottom. */
	if (to > from) {
		int pad = to - from;

		memmove(digs + pad, digs, (size_t)nd);
		memset(digs, '0', (size_t)pad);
		nd += pad;
	}
	while (nd <= to)
		digs[nd++] = '0'; /* at least one integer digit: "0.05" */
	/* A value that rounds to zero prints without a sign: "-0.00" would
	 * read as a (meaningless) negative amount in a Slack message. */
	if (neg) {
		int nonzero = 0;

		for (int i = 0; i < nd; i++)
			nonzero |= digs[i] != '0';
		neg = nonzero;
	}
	if (neg)
		buf[len++] = '-';
	for (int i = nd - 1; i >= to; i--) {
		buf[len++] = digs[i];
		if (group && i > to && (i - to) % 3 == 0)
			buf[len++] = ',';
	}
	if (to > 0) {
		buf[len++] = '.';
		for (int i = to - 1; i >= 0; i--)
			buf[len++] = digs[i];
	}
	if ((size_t)len + 1 > outsz)
		return -1;
	memcpy(out, buf, (size_t)len);
	out[len] = '\0';
	return len;
}
