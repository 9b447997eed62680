/* schedule: see schedule.h. */
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TZ as the process had it before we switched it, and the zone currently
 * set by us ("" = not switched). */
static int tz_had;
static char tz_orig[256];
static char tz_cur[80];

static void
tz_set(const char *tz)
{
	if (tz_cur[0] == '\0') {
		const char *o = getenv("TZ");

		tz_had = o != NULL && strlen(o) < sizeof(tz_orig);
		if (tz_had)
			snprintf(tz_orig, sizeof(tz_orig), "%s", o);
	}
	if (strcmp(tz_cur, tz) == 0)
		return;
	snprintf(tz_cur, sizeof(tz_cur), "%s", tz);
	setenv("TZ", tz, 1);
	tzset();
}

static void
tz_restore(void)
{
	if (tz_cur[0] == '\0')
		return;
	if (tz_had)
		setenv("TZ", tz_orig, 1);
	else
		unsetenv("TZ");
	tzset();
	tz_cur[0] = '\0';
}

static int
local_nr(const char *tz, int64_t t_s, struct tm *out)
{
	time_t t = (time_t)t_s;

	tz_set(tz[0] ? tz : "UTC");
	return localtime_r(&t, out) ? 0 : -1;
}

int
x3_tz_local(const char *tz, int64_t t_s, struct tm *out)
{
	int rc = local_nr(tz, t_s, out);

	tz_restore();
	return rc;
}

void
x3_sched_init(struct x3_sched *s, const struct mlc_cfg *cfg)
{
	s->rules = cfg->x3.schedule;
	s->n_rules = cfg->x3.n_schedule;
	s->default_ms = cfg->x3.poll_interval_ms;
}

static int64_t
interval_nr(const struct x3_sched *s, int64_t t_s)
{
	for (size_t i = 0; i < s->n_rules; i++) {
		const struct mlc_cfg_schedule_rule *r = &s->rules[i];
		struct tm tm;
		int m;

		if (local_nr(r->tz, t_s, &tm) != 0)
			continue;
		m = tm.tm_hour * 60 + tm.tm_min;
		if ((r->days_mask >> tm.tm_wday & 1u) && m >= r->from_min && m < r->to_min)
			return r->every_ms;
	}
	return s->default_ms;
}

int64_t
x3_sched_interval_at(const struct x3_sched *s, int64_t t_ms)
{
	int64_t iv = interval_nr(s, t_ms / 1000);

	tz_restore();
	return iv;
}

int64_t
x3_sched_next(const struct x3_sched *s, int64_t start_ms)
{
	int64_t start_s = start_ms / 1000, iv = interval_nr(s, start_s);
	int64_t next = start_ms + iv;

	if (s->n_rules > 0) {
		/* A rule with a shorter interval starting before `next`? Rules
		 * begin on whole local minutes, which are whole UTC minutes. */
		for (int64_t t = (start_s / 60 + 1) * 60; t * 1000 < next; t += 60) {
			if (interval_nr(s, t) < iv) {
				next = t * 1000;
				break;
			}
		}
	}
	tz_restore();
	return next;
}
