/*
 * schedule: when the next poll cycle starts (x3.schedule, x3.poll_interval).
 *
 *   x3:
 *     poll_interval: 1h            # "otherwise"
 *     schedule:
 *       - every: 15m
 *         days: Mon-Fri
 *         from: "07:00"
 *         to: "19:00"
 *         tz: Europe/Paris
 *
 * The interval at an instant is that of the first rule whose days and
 * [from, to) contain the instant's local time in the rule's zone, else
 * poll_interval. The next cycle starts one interval after the start of the
 * previous one -- or earlier, at the first minute where a rule with a
 * shorter interval begins (so business hours start polling at 07:00, not at
 * 07:59 after a night-time hourly cycle). The caller runs at most one cycle
 * at a time and, after an overrun, starts the next at once: cycles never
 * overlap nor pile up.
 *
 * Local time is computed with tzset()/localtime_r() under TZ=<zone>, which
 * is process-global: x3_tz_local() is the one place that switches it, and
 * every public call here restores the process's own TZ before returning.
 * Time is injected (epoch milliseconds) so tests can walk across a DST
 * change or midnight.
 */
#ifndef X3_SCHEDULE_H
#define X3_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mlc_cfg.h"

struct x3_sched {
	const struct mlc_cfg_schedule_rule *rules;
	size_t n_rules;
	int64_t default_ms;
};

void x3_sched_init(struct x3_sched *s, const struct mlc_cfg *cfg);

/* Interval (ms) in force at t_ms. */
int64_t x3_sched_interval_at(const struct x3_sched *s, int64_t t_ms);

/* Start (epoch ms) of the cycle after one that started at start_ms. */
int64_t x3_sched_next(const struct x3_sched *s, int64_t start_ms);

/* Broken-down local time of t_s in IANA zone tz ("UTC", "Europe/Paris").
 * Restores the process TZ before returning. Returns 0 / -1. */
int x3_tz_local(const char *tz, int64_t t_s, struct tm *out);

#endif
