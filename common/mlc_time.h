/*
 * mlc_time: clocks and UTC ISO-8601 text, the only time format on the wire.
 *
 * X3 stamps (UPDDATTIM, _updateStamp) have one-second precision and are UTC.
 * The connector never compares its own clock with X3 stamps; it only copies
 * them. Wall time is used for audit timestamps, monotonic time for timers.
 */
#ifndef MLC_TIME_H
#define MLC_TIME_H

#include <stddef.h>
#include <stdint.h>

#define MLC_TIME_ISO_LEN 21 /* "2026-11-29T01:02:03Z" + NUL */

/* Wall clock, milliseconds since the Unix epoch. */
int64_t mlc_time_now_ms(void);
/* Monotonic clock, milliseconds (only differences are meaningful). */
int64_t mlc_time_mono_ms(void);

/*
 * Poll timeouts: milliseconds until something is due, where a negative
 * value means "nothing is due" (sleep until an event or a signal).
 * mlc_time_sooner() returns the earlier of two such timeouts (negatives
 * lose to any non-negative one); mlc_time_until() turns an absolute due
 * time into one (0 if already due). Main loops use them so that an idle
 * process does not wake up at all between its timers.
 */
int64_t mlc_time_sooner(int64_t a, int64_t b);
int64_t mlc_time_until(int64_t due, int64_t now);

/*
 * Parses an ISO-8601 date-time in UTC: "YYYY-MM-DDTHH:MM:SSZ", optionally
 * with fractional seconds (".123", truncated) and with "+00:00" or "-00:00"
 * in place of "Z"; other offsets are converted to UTC. A space instead of
 * 'T' is accepted. Rejects anything else (no trailing bytes, valid ranges,
 * real calendar days incl. leap years). Returns 0 / -1.
 *
 * Details: the fraction has 1..9 digits; seconds are 00..59 (no leap
 * second); offsets are exactly "+HH:MM" / "-HH:MM" with HH <= 23; the year
 * is exactly four digits. Does not read TZ or call mktime/timegm. On
 * failure *epoch_s is left untouched.
 */
int mlc_time_parse(const char *s, int64_t *epoch_s);

/* Formats epoch seconds as "YYYY-MM-DDTHH:MM:SSZ" into out (>= 21 bytes).
 * Values outside years 0000..9999 are clamped to the nearest end, so the
 * output always has this exact length. */
void mlc_time_format(int64_t epoch_s, char out[MLC_TIME_ISO_LEN]);

/* Formats milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" (out >= 25 bytes).
 * Negative values round toward the past (-1 -> 23:59:59.999Z); clamped
 * like mlc_time_format. */
void mlc_time_format_ms(int64_t epoch_ms, char out[25]);

/*
 * Parses a duration: "90", "90s", "15m", "1h", "2d", "500ms" into
 * milliseconds. No unit means seconds. Returns 0 / -1.
 * Units are lower-case and follow the digits directly; rejects an empty
 * string, a sign, a fraction, spaces, unknown units and results that do
 * not fit in int64 milliseconds.
 */
int mlc_time_parse_duration(const char *s, int64_t *ms);

#endif
