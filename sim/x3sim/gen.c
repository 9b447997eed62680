/*
 * gen.c: the change generator - what the X3 users would be doing.
 *
 * Deterministic given the seed: the sequence of creations and changes and
 * every generated value come from one splitmix64 stream, so a failing test
 * can be replayed. Only the stamps come from the wall clock (UTC, whole
 * seconds, as X3 keeps them), so several changes often share a stamp - the
 * case a poller's watermark logic must survive.
 *
 * The thread sleeps on a condition variable tied to the store mutex, so a
 * pause, resume or stop wakes it at once instead of after the next tick.
 */
#include "x3sim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mlc_time.h"

struct supplier {
	const char *code;
	const char *name;
};

/* Names with Slack mrkdwn control characters (& < > <!channel>), quotes and
 * non-ASCII text, so the connector's escaping is exercised end to end. */
static const struct supplier suppliers[] = {
	{ "FR053", "Acme Supplies" },
	{ "FR054", "Smith & Sons <Ltd>" },
	{ "US012", "<!channel> Alert Corp" },
	{ "DE021", "M\xc3\xbcller Ma\xc3\x9f" "stab AG" },
	{ "FR060", "Caf\xc3\xa9 \"Le Nord\" *bold* _it_" },
	{ "GB007", "Northwind Traders Ltd" },
};
#define NSUPPLIERS (sizeof(suppliers) / sizeof(suppliers[0]))

static const char *sites[] = { "FR011", "FR012", "US011", "GB011" };
static const char *currencies[] = { "EUR", "USD", "GBP" };
static const char *users[] = { "ADMIN", "JDOE", "MSMITH" };

enum {
	F_POHNUM, F_POHFCY, F_BPSNUM, F_ORDDAT, F_CUR, F_TOTORD, F_TTVORD,
	F_APPFLG, F_CLEFLG, F_ORDREF, F_CREDATTIM, F_UPDDATTIM, F_UPDUSR,
};

static uint64_t
rnd(struct x3_gen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rnd_below(struct x3_gen *g, uint64_t n)
{
	return rnd(g) % n;
}

static void
set_str(struct x3_value *v, const char *s)
{
	snprintf(v->str, sizeof(v->str), "%s", s);
}

static void
set_supplier(struct x3_gen *g, struct x3_record *r)
{
	const struct supplier *sp = &suppliers[rnd_below(g, NSUPPLIERS)];

	set_str(&r->v[F_BPSNUM], sp->code);
	r->v[F_BPSNUM].ref = sp->name;
}

/* Amounts in cents: 10.00 .. 250000.00 excl. tax, 20 % VAT rounded half up. */
static void
set_amounts(struct x3_gen *g, struct x3_record *r)
{
	int64_t net = 1000 + (int64_t)rnd_below(g, 25000000);

	r->v[F_TOTORD].num = net;
	r->v[F_TTVORD].num = net + (net * 20 + 50) / 100;
}

static void
create(struct x3_gen *g, struct x3_record *r, int64_t now)
{
	char iso[MLC_TIME_ISO_LEN];
	uint64_t a = rnd(g), b = rnd(g);
	uint64_t seq = ++g->next_po;

	snprintf(r->uuid, sizeof(r->uuid), "%08llx-%04llx-4%03llx-%04llx-%012llx",
	    (unsigned long long)(a >> 32), (unsigned long long)((a >> 16) & 0xffff),
	    (unsigned long long)(a & 0xfff),
	    (unsigned long long)(0x8000 | ((b >> 48) & 0x3fff)),
	    (unsigned long long)(b & 0xffffffffffffULL));
	r->version = 1;
	snprintf(r->v[F_POHNUM].str, X3_STR_MAX, "PO2611-%06llu", (unsigned long long)seq);
	set_str(&r->v[F_POHFCY], sites[rnd_below(g, 4)]);
	set_supplier(g, r);
	mlc_time_format(now, iso);
	snprintf(r->v[F_ORDDAT].str, X3_STR_MAX, "%.10s", iso);
	set_str(&r->v[F_CUR], currencies[rnd_below(g, 3)]);
	set_amounts(g, r);
	r->v[F_APPFLG].num = 1 + (int64_t)rnd_below(g, 5);
	r->v[F_CLEFLG].num = rnd_below(g, 10) == 0 ? 2 : 1;
	switch (rnd_below(g, 3)) {
	case 0:
		snprintf(r->v[F_ORDREF].str, X3_STR_MAX, "REF-%06llu", (unsigned long long)seq);
		break;
	case 1:
		snprintf(r->v[F_ORDREF].str, X3_STR_MAX, "CTR/%llu \"rush\" \\ A&B",
		    (unsigned long long)seq);
		break;
	default:
		r->v[F_ORDREF].str[0] = '\0';
		break;
	}
	r->v[F_CREDATTIM].num = now;
	r->v[F_UPDDATTIM].num = now;
	set_str(&r->v[F_UPDUSR], users[rnd_below(g, 3)]);
}

static void
modify(struct x3_gen *g, struct x3_record *r, int64_t now)
{
	int64_t old;

	switch (rnd_below(g, 3)) {
	case 0: /* approval moves on */
		old = r->v[F_APPFLG].num;
		r->v[F_APPFLG].num = 1 + (old % 5 + (int64_t)rnd_below(g, 4)) % 5;
		break;
	case 1:
		set_amounts(g, r);
		break;
	default: {
		const char *before = r->v[F_BPSNUM].ref;

		do
			set_supplier(g, r);
		while (r->v[F_BPSNUM].ref == before);
		break;
	}
	}
	r->version++;
	r->v[F_UPDDATTIM].num = now;
	set_str(&r->v[F_UPDUSR], users[rnd_below(g, 3)]);
}

/* One change; the store lock is held. Returns 1 if a version was made. */
static int
step_locked(struct x3_gen *g)
{
	struct x3_table *t = &g->store->tables[X3_ENT_PORDER];
	int64_t now = mlc_time_now_ms() / 1000;
	struct x3_record *r = NULL;

	if (g->max_versions != 0 && g->store->generated >= g->max_versions)
		return 0;
	if (t->nrecs == 0 || rnd_below(g, 10) < 3)
		r = x3_table_add(t);
	if (r != NULL) {
		create(g, r, now);
	} else {
		if (t->nrecs == 0)
			return 0;
		modify(g, &t->recs[rnd_below(g, t->nrecs)], now);
	}
	g->store->generated++;
	return 1;
}

int
x3_gen_init(struct x3_gen *g, struct x3_store *st, uint64_t seed, unsigned rate,
    uint64_t max_versions, struct mlc_err *err)
{
	pthread_condattr_t ca;

	memset(g, 0, sizeof(*g));
	g->store = st;
	g->rng = seed;
	g->rate = rate;
	g->max_versions = max_versions;
	if (pthread_condattr_init(&ca) != 0)
		return mlc_err_set(err, "x3sim: cannot create the generator condition");
	/* Monotonic, so a wall clock step does not stall or rush the ticks. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&g->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		return mlc_err_set(err, "x3sim: cannot create the generator condition");
	}
	pthread_condattr_destroy(&ca);
	return 0;
}

void
x3_gen_initial(struct x3_gen *g, unsigned n)
{
	struct x3_table *t = &g->store->tables[X3_ENT_PORDER];
	int64_t now = mlc_time_now_ms() / 1000;

	x3_store_lock(g->store);
	for (unsigned i = 0; i < n; i++) {
		struct x3_record *r;

		if (g->max_versions != 0 && g->store->generated >= g->max_versions)
			break;
		r = x3_table_add(t);
		if (r == NULL)
			break;
		create(g, r, now);
		g->store->generated++;
	}
	x3_store_unlock(g->store);
}

unsigned
x3_gen_run(struct x3_gen *g, unsigned k)
{
	unsigned done = 0;

	x3_store_lock(g->store);
	while (done < k && step_locked(g))
		done++;
	x3_store_unlock(g->store);
	return done;
}

static void
ts_add_ns(struct timespec *ts, long ns)
{
	ts->tv_nsec += ns;
	while (ts->tv_nsec >= 1000000000L) {
		ts->tv_nsec -= 1000000000L;
		ts->tv_sec++;
	}
}

static void *
gen_main(void *arg)
{
	struct x3_gen *g = arg;
	long interval_ns = g->rate ? 1000000000L / (long)g->rate : 0;
	struct timespec next, now;

	clock_gettime(CLOCK_MONOTONIC, &next);
	ts_add_ns(&next, interval_ns);
	x3_store_lock(g->store);
	while (!g->stop) {
		int rc;

		if (g->rate == 0 || g->paused) {
			pthread_cond_wait(&g->cv, &g->store->mu);
			clock_gettime(CLOCK_MONOTONIC, &next);
			ts_add_ns(&next, interval_ns);
			continue;
		}
		rc = pthread_cond_timedwait(&g->cv, &g->store->mu, &next);
		if (rc != ETIMEDOUT || g->stop || g->paused)
			continue;
		step_locked(g);
		ts_add_ns(&next, interval_ns);
		/* Fell behind (suspended host): restart the schedule from now
		 * rather than firing a burst. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec + 1) {
			next = now;
			ts_add_ns(&next, interval_ns);
		}
	}
	x3_store_unlock(g->store);
	return NULL;
}

int
x3_gen_start(struct x3_gen *g, struct mlc_err *err)
{
	if (pthread_create(&g->thread, NULL, gen_main, g) != 0)
		return mlc_err_set(err, "x3sim: cannot start the generator thread");
	g->started = 1;
	return 0;
}

void
x3_gen_set_paused(struct x3_gen *g, int paused)
{
	x3_store_lock(g->store);
	g->paused = paused;
	pthread_cond_broadcast(&g->cv);
	x3_store_unlock(g->store);
}

void
x3_gen_stop(struct x3_gen *g)
{
	if (g->started) {
		x3_store_lock(g->store);
		g->stop = 1;
		pthread_cond_broadcast(&g->cv);
		x3_store_unlock(g->store);
		pthread_join(g->thread, NULL);
		g->started = 0;
	}
	pthread_cond_destroy(&g->cv);
}
