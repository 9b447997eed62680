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

/*
 * When did Slack count a post? Somewhere between our start and its answer;
 * the answer's time is a safe bound but it adds the answer's way back to
 * us (and our own scheduling) to every interval. chat.postMessage's answer
 * carries the message's `ts`, stamped by Slack after it counted the call,
 * on Slack's clock. With skew = Slack's clock minus ours, the count was at
 * or before ts - skew on our clock. Every answer gives a lower bound on
 * the skew (ts - our time at the answer, since the ts was stamped before
 * the answer reached us); the clock keeps the greatest bound seen, so
 * ts - bound is never earlier than the true stamp, hence never earlier
 * than the count, and never later than the answer. The bound is allowed
 * to fall by PACE_DRIFT_US_PER_S per second of age, so a drifting clock
 * cannot leave it too high, and is dropped when it contradicts a post's
 * start (the count follows the start: skew <= ts - start), which is what
 * a stepped clock looks like.
 */
#define PACE_DRIFT_US_PER_S 100

struct pace_clock {
	int64_t skew_us;        /* greatest lower bound seen, aged */
	int64_t updated_us;     /* our wall clock when it was last raised */
	int have;
};

/* Parses Slack's ts ("1503435956.000247") into microseconds; -1 if bad. */
int64_t pace_ts_us(const char *ts);

/* A post started at started_wall_us and answered at answered_ms
 * (monotonic) = answered_wall_us (our wall clock) carried ts_us (Slack's clock; < 0 = none). Returns the monotonic
 * ms from which to count the interval: answered_ms without a ts, else the
 * estimate above, rounded up to whole ms and never after answered_ms. */
int64_t pace_counted_ms(struct pace_clock *pc, int64_t answered_ms,
    int64_t started_wall_us, int64_t answered_wall_us, int64_t ts_us);

#endif
