/*
 * mlc_time: see mlc_time.h.
 *
 * Parsing does its own calendar arithmetic (days_from_civil) instead of
 * timegm()/mktime(): those depend on the TZ environment or on glibc
 * extensions, and a watermark that shifts with the host's time zone is the
 * classic way a poller skips rows. Formatting uses the inverse
 * (civil_from_days) so it cannot fail for any int64 input; it clamps to the
 * years 0000..9999 so the output always has the fixed ISO length.
 */
#include "mlc_time.h"

#include <string.h>
#include <time.h>

/* Smallest and largest epoch seconds with a four-digit year. */
#define MIN_EPOCH_S (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define MAX_EPOCH_S (253402300799LL) /* 9999-12-31T23:59:59Z */

int64_t
mlc_time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mlc_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mlc_time_sooner(int64_t a, int64_t b)
{
	if (a < 0)
		return b < 0 ? -1 : b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int64_t
mlc_time_until(int64_t due, int64_t now)
{
	return due > now ? due - now : 0;
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date. Eras of 400 years
 * (146097 days) starting on March 1st make February's leap day the last day
 * of the "year", so no month table is needed.
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Reads exactly n decimal digits at *p; advances *p. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

int
mlc_time_parse(const char *s, int64_t *epoch_s)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t t;

	if (s == NULL)
		return -1;
	if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) ||
	    expect(&p, '-') || digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi) ||
	    expect(&p, ':') || digits(&p, 2, &sec))
		return -1;
	/* Fractional seconds are truncated, but at most nanosecond precision
	 * is accepted so that the input stays bounded and meaningful. */
	if (*p == '.') {
		int n = 0;

		p++;
		while (*p >= '0' && *p <= '9' && n < 10) {
			p++;
			n++;
		}
		if (n == 0 || n > 9)
			return -1;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om))
			return -1;
		if (oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	/* No leap seconds: X3 and POSIX time do not have them either. */
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -1;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	/* "10:00+02:00" is 08:00Z: subtract the offset. */
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	*epoch_s = t;
	return 0;
}

static void
format_parts(int64_t epoch_s, int64_t *y, int *mo, int *d, int *h, int *mi,
    int *sec)
{
	int64_t days, rem;

	if (epoch_s < MIN_EPOCH_S)
		epoch_s = MIN_EPOCH_S;
	if (epoch_s > MAX_EPOCH_S)
		epoch_s = MAX_EPOCH_S;
	days = epoch_s / 86400;
	rem = epoch_s % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, y, mo, d);
	*h = (int)(rem / 3600);
	*mi = (int)(rem / 60 % 60);
	*sec = (int)(rem % 60);
}

/* Writes v as exactly n decimal digits. Done by hand rather than with
 * snprintf so the fixed-width output is evident (and the compiler's
 * truncation analysis agrees at every optimisation level). */
static char *
put_digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

/* "YYYY-MM-DDTHH:MM:SS" (19 bytes, no terminator). */
static char *
put_datetime(char *p, int64_t epoch_s)
{
	int64_t y;
	int mo, d, h, mi, sec;

	format_parts(epoch_s, &y, &mo, &d, &h, &mi, &sec);
	p = put_digits(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)mo, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)d, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)h, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)mi, 2);
	*p++ = ':';
	return put_digits(p, (unsigned)sec, 2);
}

void
mlc_time_format(int64_t epoch_s, char out[MLC_TIME_ISO_LEN])
{
	char *p = put_datetime(out, epoch_s);

	*p++ = 'Z';
	*p = '\0';
}

void
mlc_time_format_ms(int64_t epoch_ms, char out[25])
{
	int64_t s = epoch_ms / 1000;
	int ms = (int)(epoch_ms % 1000);
	char *p;

	/* Floor division: -1 ms is 1969-12-31T23:59:59.999Z. */
	if (ms < 0) {
		ms += 1000;
		s--;
	}
	if (s < MIN_EPOCH_S) {
		s = MIN_EPOCH_S;
		ms = 0;
	} else if (s > MAX_EPOCH_S) {
		s = MAX_EPOCH_S;
		ms = 999;
	}
	p = put_datetime(out, s);
	*p++ = '.';
	p = put_digits(p, (unsigned)ms, 3);
	*p++ = 'Z';
	*p = '\0';
}

int
mlc_time_parse_duration(const char *s, int64_t *ms)
{
	const char *p = s;
	int64_t v = 0, mult;

	if (s == NULL || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (*p == '\0' || strcmp(p, "s") == 0)
		mult = 1000;
	else if (strcmp(p, "ms") == 0)
		mult = 1;
	else if (strcmp(p, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		mult = 3600 * 1000;
	else if (strcmp(p, "d") == 0)
		mult = 86400 * 1000;
	else
		return -1;
	if (v > INT64_MAX / mult)
		return -1;
	*ms = v * mult;
	return 0;
}
