/*
 * gen.c: the change generator - what the X3 users would be doing: buyers
 * raising and approving purchase orders, accounts payable entering,
 * posting and approving supplier invoices, accountants posting GL entries
 * as temporary and then final.
 *
 * Deterministic given the seed: the sequence of creations and changes and
 * every generated value come from one splitmix64 stream, so a failing test
 * can be replayed. Only the stamps come from the wall clock (UTC, whole
 * seconds, as X3 keeps them), so several changes often share a stamp - the
 * case a poller's watermark logic must survive.
 *
 * Stamps go through x3_fault_stamp, so the equal_stamps and late faults
 * shape every generated change (automatic, /sim/generate or paging_changes).
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

/* Field indices, in the schema order of store.c. */
enum {
	F_POHNUM, F_POHFCY, F_BPSNUM, F_ORDDAT, F_CUR, F_TOTORD, F_TTVORD,
	F_APPFLG, F_CLEFLG, F_ORDREF, F_CREDATTIM, F_UPDDATTIM, F_UPDUSR,
};
enum {
	PI_NUM, PI_BPR, PI_BPRVCR, PI_PIHTYP, PI_INVTYP, PI_ACCDAT, PI_CUR,
	PI_AMTNOT, PI_AMTATI, PI_STA, PI_PAZ, PI_ACC, PI_FCY, PI_CREDATTIM,
	PI_UPDDATTIM, PI_UPDUSR,
};
enum {
	GL_NUM, GL_TYP, GL_JOU, GL_ACCDAT, GL_CPY, GL_FCY, GL_CUR, GL_STA, GL_CAT,
	GL_DESVCR, GL_BPRVCR, GL_CREDATTIM, GL_UPDDATTIM,
};
enum {
	GLD_LIN, GLD_LEDTYP, GLD_ACC, GLD_BPR, GLD_SNS, GLD_AMTCUR, GLD_AMTLED,
	GLD_CUR, GLD_CURLED, GLD_DES,
};

/* GL entry types (the transaction source) and their journals. */
static const struct { const char *typ, *jou; } gl_types[] = {
	{ "SPINV", "PURCH" }, { "GEN", "MISC" }, { "PAYMT", "BANK" },
};
static const char *expense_accounts[] = { "607000", "606100", "613200", "625100" };

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
set_supplier(struct x3_gen *g, struct x3_record *r, int field)
{
	const struct supplier *sp = &suppliers[rnd_below(g, NSUPPLIERS)];

	set_str(&r->v[field], sp->code);
	r->v[field].ref = sp->name;
}

/* A different supplier than the current one. */
static void
change_supplier(struct x3_gen *g, struct x3_record *r, int field)
{
	const char *before = r->v[field].ref;

	do
		set_supplier(g, r, field);
	while (r->v[field].ref == before);
}

/* The stamp of a change made now, after the equal / late faults. */
static int64_t
stamp_now(struct x3_gen *g)
{
	int64_t now = mlc_time_now_ms() / 1000;

	return g->faults != NULL ? x3_fault_stamp(g->faults, now) : now;
}

static void
make_uuid(struct x3_gen *g, struct x3_record *r)
{
	uint64_t a = rnd(g), b = rnd(g);

	snprintf(r->uuid, sizeof(r->uuid), "%08llx-%04llx-4%03llx-%04llx-%012llx",
	    (unsigned long long)(a >> 32), (unsigned long long)((a >> 16) & 0xffff),
	    (unsigned long long)(a & 0xfff),
	    (unsigned long long)(0x8000 | ((b >> 48) & 0x3fff)),
	    (unsigned long long)(b & 0xffffffffffffULL));
}

static void
set_date(struct x3_value *v, int64_t t)
{
	char iso[MLC_TIME_ISO_LEN];

	mlc_time_format(t, iso);
	snprintf(v->str, X3_STR_MAX, "%.10s", iso);
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
po_create(struct x3_gen *g, struct x3_record *r, int64_t now)
{
	uint64_t seq = ++g->next_po;

	make_uuid(g, r);
	r->version = 1;
	snprintf(r->v[F_POHNUM].str, X3_STR_MAX, "PO2611-%06llu", (unsigned long long)seq);
	set_str(&r->v[F_POHFCY], sites[rnd_below(g, 4)]);
	set_supplier(g, r, F_BPSNUM);
	set_date(&r->v[F_ORDDAT], now);
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
po_modify(struct x3_gen *g, struct x3_record *r, int64_t now)
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
	default:
		change_supplier(g, r, F_BPSNUM);
		break;
	}
	r->version++;
	r->v[F_UPDDATTIM].num = now;
	set_str(&r->v[F_UPDUSR], users[rnd_below(g, 3)]);
}

/* Supplier invoice: entered not posted (STA 1) and not approved to pay
 * (PAZ 1); later posted, approved, re-amounted while not posted. */
static void
pinv_amounts(struct x3_gen *g, struct x3_record *r)
{
	int64_t net = 500 + (int64_t)rnd_below(g, 5000000);

	r->v[PI_AMTNOT].num = net;
	r->v[PI_AMTATI].num = net + (net * 20 + 50) / 100;
}

static void
pinv_create(struct x3_gen *g, struct x3_record *r, int64_t now)
{
	uint64_t seq = ++g->next_pinv;
	int credit = rnd_below(g, 8) == 0;

	make_uuid(g, r);
	r->version = 1;
	snprintf(r->v[PI_NUM].str, X3_STR_MAX, "PI2611-%06llu", (unsigned long long)seq);
	set_supplier(g, r, PI_BPR);
	snprintf(r->v[PI_BPRVCR].str, X3_STR_MAX, "INV-%05llu/%s",
	    (unsigned long long)(rnd_below(g, 100000)), rnd_below(g, 2) ? "A&B" : "26");
	set_str(&r->v[PI_PIHTYP], credit ? "AVF" : "FAF");
	r->v[PI_INVTYP].num = credit ? 2 : 1;
	set_date(&r->v[PI_ACCDAT], now);
	set_str(&r->v[PI_CUR], currencies[rnd_below(g, 3)]);
	pinv_amounts(g, r);
	r->v[PI_STA].num = 1;
	r->v[PI_PAZ].num = 1;
	set_str(&r->v[PI_ACC], "401000");
	set_str(&r->v[PI_FCY], sites[rnd_below(g, 4)]);
	r->v[PI_CREDATTIM].num = now;
	r->v[PI_UPDDATTIM].num = now;
	set_str(&r->v[PI_UPDUSR], users[rnd_below(g, 3)]);
}

static void
pinv_modify(struct x3_gen *g, struct x3_record *r, int64_t now)
{
	switch (rnd_below(g, 3)) {
	case 0: /* posting; a posted invoice can still change approval */
		if (r->v[PI_STA].num == 1)
			r->v[PI_STA].num = 2;
		else
			r->v[PI_PAZ].num = 3 - r->v[PI_PAZ].num;
		break;
	case 1: /* approved to pay, or approval withdrawn */
		r->v[PI_PAZ].num = 3 - r->v[PI_PAZ].num;
		break;
	default:
		if (r->v[PI_STA].num == 1)
			pinv_amounts(g, r);
		else
			r->v[PI_PAZ].num = 3 - r->v[PI_PAZ].num;
		break;
	}
	r->version++;
	r->v[PI_UPDDATTIM].num = now;
	set_str(&r->v[PI_UPDUSR], users[rnd_below(g, 3)]);
}

/* GL lines: 1-3 debit lines on expense accounts, one balancing credit line
 * on the supplier account, all in the entry's currency. */
static void
gl_lines(struct x3_gen *g, struct x3_record *r)
{
	int ndebit = 1 + (int)rnd_below(g, 3);
	int64_t total = 0;
	const char *cur = r->v[GL_CUR].str;
	const struct supplier *sp = &suppliers[rnd_below(g, NSUPPLIERS)];

	memset(r->lines, 0, sizeof(r->lines));
	for (int i = 0; i <= ndebit; i++) {
		struct x3_value *l = r->lines[i];
		int credit = i == ndebit;
		int64_t amt = credit ? total : 100 + (int64_t)rnd_below(g, 1000000);

		if (!credit)
			total += amt;
		l[GLD_LIN].num = i + 1;
		l[GLD_LEDTYP].num = 1;
		set_str(&l[GLD_ACC], credit ? "401000" : expense_accounts[rnd_below(g, 4)]);
		set_str(&l[GLD_BPR], credit ? sp->code : "");
		l[GLD_SNS].num = credit ? -1 : 1;
		l[GLD_AMTCUR].num = amt;
		l[GLD_AMTLED].num = amt;
		set_str(&l[GLD_CUR], cur);
		set_str(&l[GLD_CURLED], "EUR");
		if (credit)
			snprintf(l[GLD_DES].str, X3_STR_MAX, "%s", sp->name);
		else
			snprintf(l[GLD_DES].str, X3_STR_MAX, "Line %d <%.20s> & co", i + 1,
			    r->v[GL_NUM].str);
	}
	r->nlines = ndebit + 1;
	snprintf(r->v[GL_BPRVCR].str, X3_STR_MAX, "%s", sp->code);
}

static void
gl_create(struct x3_gen *g, struct x3_record *r, int64_t now)
{
	uint64_t seq = ++g->next_gl;
	size_t t = (size_t)rnd_below(g, 3);

	make_uuid(g, r);
	r->version = 1;
	/* One sequence for every TYP, so NUM alone is a key. */
	snprintf(r->v[GL_NUM].str, X3_STR_MAX, "GL2611-%06llu", (unsigned long long)seq);
	set_str(&r->v[GL_TYP], gl_types[t].typ);
	set_str(&r->v[GL_JOU], gl_types[t].jou);
	set_date(&r->v[GL_ACCDAT], now);
	set_str(&r->v[GL_CPY], "FR10");
	set_str(&r->v[GL_FCY], sites[rnd_below(g, 4)]);
	set_str(&r->v[GL_CUR], currencies[rnd_below(g, 3)]);
	r->v[GL_STA].num = 1;
	r->v[GL_CAT].num = 1;
	snprintf(r->v[GL_DESVCR].str, X3_STR_MAX, "%s %llu \"entry\"", gl_types[t].typ,
	    (unsigned long long)seq);
	gl_lines(g, r);
	r->v[GL_CREDATTIM].num = now;
	r->v[GL_UPDDATTIM].num = now;
}

/* A temporary entry is either made final or re-keyed (new lines); a final
 * entry is immutable in X3, so it returns 0 and the caller creates. */
static int
gl_modify(struct x3_gen *g, struct x3_record *r, int64_t now)
{
	if (r->v[GL_STA].num == 2)
		return 0;
	if (rnd_below(g, 2) == 0)
		r->v[GL_STA].num = 2;
	else
		gl_lines(g, r);
	r->version++;
	r->v[GL_UPDDATTIM].num = now;
	return 1;
}

static void
create_any(struct x3_gen *g, enum x3_entity e, struct x3_record *r, int64_t now)
{
	switch (e) {
	case X3_ENT_PINVOICE:
		pinv_create(g, r, now);
		break;
	case X3_ENT_GACCENTRY:
		gl_create(g, r, now);
		break;
	default:
		po_create(g, r, now);
		break;
	}
}

/* Modifies rec; 0 if this record cannot change (a final GL entry). */
static int
modify_any(struct x3_gen *g, enum x3_entity e, struct x3_record *r, int64_t now)
{
	/* Row locks order one row's updates: a late commit is stamped before
	 * the watermark, never before the row's own previous version (which
	 * would rewrite its history, as X3 cannot). */
	int64_t prev = r->v[g->store->tables[e].schema->stamp].num;

	if (now < prev)
		now = prev + 1;
	switch (e) {
	case X3_ENT_PINVOICE:
		pinv_modify(g, r, now);
		return 1;
	case X3_ENT_GACCENTRY:
		return gl_modify(g, r, now);
	default:
		po_modify(g, r, now);
		return 1;
	}
}

/* A random enabled entity. */
static enum x3_entity
pick_entity(struct x3_gen *g)
{
	enum x3_entity on[X3_ENT_COUNT];
	int n = 0;

	for (int e = 0; e < X3_ENT_COUNT; e++)
		if (g->entities & (1u << e))
			on[n++] = (enum x3_entity)e;
	if (n == 0)
		return X3_ENT_PORDER;
	return on[rnd_below(g, (uint64_t)n)];
}

static int
budget_left(const struct x3_gen *g)
{
	return g->max_versions == 0 || g->store->generated < g->max_versions;
}

/* One creation; the store lock is held. */
static int
create_locked(struct x3_gen *g, enum x3_entity e)
{
	struct x3_record *r;

	if (!budget_left(g))
		return 0;
	r = x3_table_add(&g->store->tables[e]);
	if (r == NULL)
		return 0;
	create_any(g, e, r, stamp_now(g));
	g->store->generated++;
	return 1;
}

/* One change of entity e; the store lock is held. Returns 1 if a version
 * was made. */
static int
step_locked(struct x3_gen *g, enum x3_entity e)
{
	struct x3_table *t = &g->store->tables[e];

	if (!budget_left(g))
		return 0;
	if (t->nrecs == 0 || rnd_below(g, 10) < 3)
		return create_locked(g, e);
	if (!modify_any(g, e, &t->recs[rnd_below(g, t->nrecs)], stamp_now(g)))
		return create_locked(g, e);
	g->store->generated++;
	return 1;
}

unsigned
x3_gen_modify_locked(struct x3_gen *g, enum x3_entity e, unsigned k)
{
	struct x3_table *t = &g->store->tables[e];
	unsigned done = 0;

	for (unsigned i = 0; i < k && t->nrecs > 0 && budget_left(g); i++) {
		/* A final GL entry cannot change: try a few others. */
		for (int tries = 0; tries < 8; tries++) {
			if (modify_any(g, e, &t->recs[rnd_below(g, t->nrecs)], stamp_now(g))) {
				g->store->generated++;
				done++;
				break;
			}
		}
	}
	return done;
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
	g->entities = (1u << X3_ENT_COUNT) - 1;
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
	x3_store_lock(g->store);
	for (int e = 0; e < X3_ENT_COUNT; e++) {
		if (!(g->entities & (1u << e)))
			continue;
		for (unsigned i = 0; i < n; i++)
			if (!create_locked(g, (enum x3_entity)e))
				break;
	}
	x3_store_unlock(g->store);
}

unsigned
x3_gen_create(struct x3_gen *g, int ent, unsigned n)
{
	unsigned done = 0;

	x3_store_lock(g->store);
	while (done < n &&
	    create_locked(g, ent < 0 ? pick_entity(g) : (enum x3_entity)ent))
		done++;
	x3_store_unlock(g->store);
	return done;
}

unsigned
x3_gen_run(struct x3_gen *g, int ent, unsigned k)
{
	unsigned done = 0;

	x3_store_lock(g->store);
	while (done < k &&
	    step_locked(g, ent < 0 ? pick_entity(g) : (enum x3_entity)ent))
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
		step_locked(g, pick_entity(g));
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
