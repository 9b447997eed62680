/*
 * pace: when a channel may post next -- a token bucket per channel holding
 * `burst` posts and refilled one per `interval`, kept as one number.
 *
 * The bucket is stored as its "theoretical arrival time" (GCRA): tat is
 * when the bucket would be full again. A post is allowed at `now` when
 * now >= tat - (burst - 1) * interval, and then pushes tat to
 * max(tat, now) + interval. With burst 1 that is simply "starts at least
 * interval apart". The dispatcher adds a small margin to interval so that
 * jitter between our start and Slack's receipt never makes two requests
 * arrive closer than Slack's own bucket allows.
 *
 * Pure functions on a caller-owned struct and an injected clock, so the
 * unit test needs no sleeping.
 */
#ifndef PACE_H
#define PACE_H

#include <stdint.h>

struct pace {
	int64_t tat;        /* ms on the caller's monotonic clock; 0 = full */
};

/* The earliest time (same clock) at which pace_take() is allowed. */
int64_t pace_due(const struct pace *p, int64_t interval_ms, int burst);

/* Takes one post at now (the caller checked now >= pace_due()). */
void pace_take(struct pace *p, int64_t now_ms, int64_t interval_ms);

/* The post taken earlier was answered at done_ms: Slack counted it at
 * some point up to then, so the bucket counts from then if that is
 * later than the take (only with burst 1 is this exact; with a larger
 * burst it is merely conservative). */
void pace_done(struct pace *p, int64_t done_ms, int64_t interval_ms);

#endif
