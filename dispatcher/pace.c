/* pace: see pace.h. */
#include "pace.h"

#include <stddef.h>

int64_t
pace_due(const struct pace *p, int64_t interval_ms, int burst)
{
	if (burst < 1)
		burst = 1;
	return p->tat - (int64_t)(burst - 1) * interval_ms;
}

void
pace_take(struct pace *p, int64_t now_ms, int64_t interval_ms)
{
	p->tat = (p->tat > now_ms ? p->tat : now_ms) + interval_ms;
}

void
pace_done(struct pace *p, int64_t done_ms, int64_t interval_ms)
{
	if (done_ms + interval_ms > p->tat)
		p->tat = done_ms + interval_ms;
}

int64_t
pace_ts_us(const char *ts)
{
	int64_t s = 0, us = 0;
	int nd = 0, nf = 0;

	if (ts == NULL)
		return -1;
	for (; *ts >= '0' && *ts <= '9'; ts++) {
		if (++nd > 12)
			return -1;
		s = s * 10 + (*ts - '0');
	}
	if (nd == 0 || *ts != '.')
		return -1;
	for (ts++; *ts >= '0' && *ts <= '9'; ts++) {
		if (++nf > 6)
			return -1;
		us = us * 10 + (*ts - '0');
	}
	if (nf == 0 || *ts != '\0')
		return -1;
	for (; nf < 6; nf++)
		us *= 10;
	return s * 1000000 + us;
}

int64_t
pace_counted_ms(struct pace_clock *pc, int64_t answered_ms,
    int64_t started_wall_us, int64_t answered_wall_us, int64_t ts_us)
{
	int64_t k, back_us, est;

	if (ts_us < 0)
		return answered_ms;
	k = ts_us - answered_wall_us;
	if (pc->have) {
		int64_t age = answered_wall_us - pc->updated_us;
		int64_t aged = pc->skew_us - (age > 0 ?
		    age / 1000000 * PACE_DRIFT_US_PER_S +
		    age % 1000000 * PACE_DRIFT_US_PER_S / 1000000 : 0);

		/* The count came after our start, so the skew is at most
		 * ts - start: a bound above that means one of the clocks
		 * was stepped; start again from this answer. */
		if (k < aged && aged <= ts_us - started_wall_us && age >= 0)
			k = aged;
	}
	pc->skew_us = k;
	pc->updated_us = answered_wall_us;
	pc->have = 1;
	/* ts - skew on our wall clock is back_us before the answer. */
	back_us = answered_wall_us - (ts_us - pc->skew_us);
	if (back_us <= 0)
		return answered_ms;
	est = answered_ms - back_us / 1000 + 1;
	return est < answered_ms ? est : answered_ms;
}
