/* pace: see pace.h. */
#include "pace.h"

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
