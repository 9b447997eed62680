/*
 * fault.c: the faults a test switches on while the simulator runs, so each
 * failure a real X3 shows (reference section 4-5) can be produced on cue:
 *
 *   5xx&rate=PCT        that share of data requests get an HTML 503 page
 *   latency&ms=N        every data request waits N ms first
 *   throttle&n=K        the next K data requests: 503 licence-exhaustion
 *                       $diagnoses ("the web server will no more return
 *                       answers")
 *   malformed&n=K       the next K data pages carry an invalid \q escape
 *   partial&n=K         the next K GraphQL pages: data plus errors
 *   equal_stamps&n=K    the next K generated changes share one stamp
 *   late&n=K&age=S      the next K changes are stamped S seconds ago
 *   paging_changes&n=K  after each page that has a next page, K records of
 *                       that entity change (stamp bumped); n=0 stops it
 *   expire_tokens       every access token issued so far expires now
 *   ratelimit&n=K&retry_after=S
 *                       the next K data requests: 429 $diagnoses with
 *                       Retry-After: S (default 1); a gateway or proxy in
 *                       front of X3 throttles this way
 *   clear               all of the above off
 *
 * "Data requests" are api1 and GraphQL calls; the token gateway and /sim/
 * are never faulted, so a test can always observe and reset. State has its
 * own mutex; the generator takes it while holding the store lock, so the
 * order is always store -> faults.
 */
#include "x3sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAULT_N_MAX       1000000
#define FAULT_LATENCY_MAX 60000     /* ms */
#define FAULT_AGE_MAX     (30 * 86400)
#define FAULT_RETRY_AFTER_MAX 3600  /* s */

static const char *const kind_names[X3_FAULT_KINDS] = {
	"5xx", "latency", "throttle", "malformed", "partial", "equal_stamps",
	"late", "paging_changes", "expire_tokens", "ratelimit",
};

int
x3_faults_init(struct x3_faults *f, uint64_t seed, struct mlc_err *err)
{
	memset(f, 0, sizeof(*f));
	f->rng = seed ^ 0x5bd1e995f00dULL;
	if (pthread_mutex_init(&f->mu, NULL) != 0)
		return mlc_err_set(err, "x3sim: cannot create the fault mutex");
	return 0;
}

void
x3_faults_destroy(struct x3_faults *f)
{
	pthread_mutex_destroy(&f->mu);
}

static uint64_t
rnd(struct x3_faults *f)
{
	uint64_t z = (f->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

enum x3_fault_gate
x3_fault_gate(struct x3_faults *f, unsigned *retry_after_s)
{
	enum x3_fault_gate g = X3_GATE_PASS;
	unsigned ms;

	pthread_mutex_lock(&f->mu);
	ms = f->latency_ms;
	if (ms > 0)
		f->fired[X3_FAULT_LATENCY]++;
	if (f->throttle_left > 0) {
		f->throttle_left--;
		f->fired[X3_FAULT_THROTTLE]++;
		g = X3_GATE_THROTTLE;
	} else if (f->ratelimit_left > 0) {
		f->ratelimit_left--;
		f->fired[X3_FAULT_RATELIMIT]++;
		*retry_after_s = f->ratelimit_after;
		g = X3_GATE_RATELIMIT;
	} else if (f->rate_5xx > 0 && rnd(f) % 100 < f->rate_5xx) {
		f->fired[X3_FAULT_5XX]++;
		g = X3_GATE_5XX;
	}
	pthread_mutex_unlock(&f->mu);
	if (ms > 0) {
		/* libmicrohttpd gives each connection its own thread: sleeping
		 * here delays this client only. */
		struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return g;
}

static int
take(struct x3_faults *f, unsigned *left, enum x3_fault_kind k)
{
	int hit = 0;

	pthread_mutex_lock(&f->mu);
	if (*left > 0) {
		(*left)--;
		f->fired[k]++;
		hit = 1;
	}
	pthread_mutex_unlock(&f->mu);
	return hit;
}

int
x3_fault_take_malformed(struct x3_faults *f)
{
	return take(f, &f->malformed_left, X3_FAULT_MALFORMED);
}

int
x3_fault_take_partial(struct x3_faults *f)
{
	return take(f, &f->partial_left, X3_FAULT_PARTIAL);
}

int64_t
x3_fault_stamp(struct x3_faults *f, int64_t now)
{
	int64_t st = now;

	pthread_mutex_lock(&f->mu);
	if (f->late_left > 0) {
		f->late_left--;
		f->fired[X3_FAULT_LATE]++;
		st = now - f->late_age;
	} else if (f->equal_left > 0) {
		/* The first change of the run fixes the stamp the others share. */
		if (!f->equal_have) {
			f->equal_have = 1;
			f->equal_stamp = now;
		}
		f->equal_left--;
		f->fired[X3_FAULT_EQUAL_STAMPS]++;
		st = f->equal_stamp;
		if (f->equal_left == 0)
			f->equal_have = 0;
	}
	pthread_mutex_unlock(&f->mu);
	return st;
}

unsigned
x3_fault_paging_changes(struct x3_faults *f)
{
	unsigned k;

	pthread_mutex_lock(&f->mu);
	k = f->paging_changes;
	if (k > 0)
		f->fired[X3_FAULT_PAGING_CHANGES]++;
	pthread_mutex_unlock(&f->mu);
	return k;
}

int
x3_fault_corrupt(char **body, size_t *len)
{
	char *q, *nb;
	size_t at;

	/* X3's real defect is a bad escape inside a string value: put "\q"
	 * right after the opening quote of the first string value, else of
	 * the first key; either way no JSON parser may accept the page. */
	q = strstr(*body, "\":\"");
	if (q != NULL)
		at = (size_t)(q - *body) + 3;
	else if ((q = strchr(*body, '"')) != NULL)
		at = (size_t)(q - *body) + 1;
	else
		return -1;
	nb = realloc(*body, *len + 3);
	if (nb == NULL)
		return -1;
	memmove(nb + at + 2, nb + at, *len - at + 1);
	nb[at] = '\\';
	nb[at + 1] = 'q';
	*body = nb;
	*len += 2;
	return 0;
}

/* Strict decimal in [0, max]; absent gives dflt. 0 / -1. */
static int
arg_num(const struct x3_req *rq, const char *name, unsigned long dflt,
    unsigned long max, unsigned long *out)
{
	const char *s = x3_req_arg(rq, name);
	unsigned long v = 0;
	size_t n;

	if (s == NULL) {
		*out = dflt;
		return 0;
	}
	for (n = 0; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 9)
			return -1;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	if (n == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

json_t *
x3_fault_fired_json(struct x3_faults *f)
{
	json_t *o = json_object();

	pthread_mutex_lock(&f->mu);
	for (int k = 0; o != NULL && k < X3_FAULT_KINDS; k++)
		json_object_set_new(o, kind_names[k], json_integer((json_int_t)f->fired[k]));
	pthread_mutex_unlock(&f->mu);
	return o;
}

static json_t *
active_json(struct x3_faults *f)
{
	json_t *o = json_object();

	pthread_mutex_lock(&f->mu);
	if (f->rate_5xx)
		json_object_set_new(o, "5xx", json_pack("{s:i}", "rate", (int)f->rate_5xx));
	if (f->latency_ms)
		json_object_set_new(o, "latency", json_pack("{s:i}", "ms", (int)f->latency_ms));
	if (f->throttle_left)
		json_object_set_new(o, "throttle", json_pack("{s:i}", "n", (int)f->throttle_left));
	if (f->malformed_left)
		json_object_set_new(o, "malformed", json_pack("{s:i}", "n", (int)f->malformed_left));
	if (f->partial_left)
		json_object_set_new(o, "partial", json_pack("{s:i}", "n", (int)f->partial_left));
	if (f->equal_left)
		json_object_set_new(o, "equal_stamps", json_pack("{s:i}", "n", (int)f->equal_left));
	if (f->late_left)
		json_object_set_new(o, "late", json_pack("{s:i, s:I}", "n", (int)f->late_left,
		    "age", (json_int_t)f->late_age));
	if (f->paging_changes)
		json_object_set_new(o, "paging_changes", json_pack("{s:i}", "n",
		    (int)f->paging_changes));
	if (f->ratelimit_left)
		json_object_set_new(o, "ratelimit", json_pack("{s:i, s:i}", "n",
		    (int)f->ratelimit_left, "retry_after", (int)f->ratelimit_after));
	pthread_mutex_unlock(&f->mu);
	return o;
}

static void
listing(struct x3_faults *f, struct x3_reply *r)
{
	x3_reply_json(r, 200, json_pack("{s:o, s:o}", "active", active_json(f),
	    "fired", x3_fault_fired_json(f)));
}

/* POST /sim/fault?kind=...: sets one fault, leaving the others alone. */
static void
set_fault(const struct x3_req *rq, struct x3_reply *r)
{
	struct x3_faults *f = rq->srv->faults;
	const char *kind = x3_req_arg(rq, "kind");
	unsigned long n = 0, v = 0;
	char shown[40];

	if (kind == NULL) {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "kind is required: 5xx latency throttle malformed partial equal_stamps "
		    "late paging_changes expire_tokens ratelimit clear");
		return;
	}
	if (strcmp(kind, "clear") == 0) {
		pthread_mutex_lock(&f->mu);
		f->rate_5xx = f->latency_ms = 0;
		f->throttle_left = f->malformed_left = f->partial_left = 0;
		f->equal_left = f->late_left = f->paging_changes = 0;
		f->ratelimit_left = f->ratelimit_after = 0;
		f->equal_have = 0;
		f->late_age = 0;
		pthread_mutex_unlock(&f->mu);
	} else if (strcmp(kind, "5xx") == 0) {
		if (arg_num(rq, "rate", 100, 100, &v) != 0)
			goto bad;
		pthread_mutex_lock(&f->mu);
		f->rate_5xx = (unsigned)v;
		pthread_mutex_unlock(&f->mu);
	} else if (strcmp(kind, "latency") == 0) {
		if (arg_num(rq, "ms", 0, FAULT_LATENCY_MAX, &v) != 0)
			goto bad;
		pthread_mutex_lock(&f->mu);
		f->latency_ms = (unsigned)v;
		pthread_mutex_unlock(&f->mu);
	} else if (strcmp(kind, "late") == 0) {
		if (arg_num(rq, "n", 1, FAULT_N_MAX, &n) != 0 ||
		    arg_num(rq, "age", 60, FAULT_AGE_MAX, &v) != 0)
			goto bad;
		pthread_mutex_lock(&f->mu);
		f->late_left = (unsigned)n;
		f->late_age = (int64_t)v;
		pthread_mutex_unlock(&f->mu);
	} else if (strcmp(kind, "ratelimit") == 0) {
		if (arg_num(rq, "n", 1, FAULT_N_MAX, &n) != 0 ||
		    arg_num(rq, "retry_after", 1, FAULT_RETRY_AFTER_MAX, &v) != 0)
			goto bad;
		pthread_mutex_lock(&f->mu);
		f->ratelimit_left = (unsigned)n;
		f->ratelimit_after = (unsigned)v;
		pthread_mutex_unlock(&f->mu);
	} else if (strcmp(kind, "expire_tokens") == 0) {
		x3_auth_expire_all(rq->srv->auth);
		pthread_mutex_lock(&f->mu);
		f->fired[X3_FAULT_EXPIRE_TOKENS]++;
		pthread_mutex_unlock(&f->mu);
	} else {
		static const struct { const char *name; size_t off; } counted[] = {
			{ "throttle", offsetof(struct x3_faults, throttle_left) },
			{ "malformed", offsetof(struct x3_faults, malformed_left) },
			{ "partial", offsetof(struct x3_faults, partial_left) },
			{ "equal_stamps", offsetof(struct x3_faults, equal_left) },
			{ "paging_changes", offsetof(struct x3_faults, paging_changes) },
		};
		size_t i;

		for (i = 0; i < sizeof(counted) / sizeof(counted[0]); i++)
			if (strcmp(kind, counted[i].name) == 0)
				break;
		if (i == sizeof(counted) / sizeof(counted[0])) {
			x3_sanitize(kind, shown, sizeof(shown));
			x3_reply_diag(r, 400, "BadQueryParameter", NULL,
			    "unknown fault kind '%s'", shown);
			return;
		}
		if (arg_num(rq, "n", 1, FAULT_N_MAX, &n) != 0)
			goto bad;
		pthread_mutex_lock(&f->mu);
		*(unsigned *)(void *)((char *)f + counted[i].off) = (unsigned)n;
		if (strcmp(kind, "equal_stamps") == 0)
			f->equal_have = 0;
		pthread_mutex_unlock(&f->mu);
	}
	listing(f, r);
	return;
bad:
	x3_sanitize(kind, shown, sizeof(shown));
	x3_reply_diag(r, 400, "BadQueryParameter", NULL,
	    "bad parameters for fault '%s': n 0..%d, rate 0..100, ms 0..%d, age 0..%d, "
	    "retry_after 0..%d", shown, FAULT_N_MAX, FAULT_LATENCY_MAX, FAULT_AGE_MAX,
	    FAULT_RETRY_AFTER_MAX);
}

void
x3_fault_handle(const struct x3_req *rq, struct x3_reply *r)
{
	if (strcmp(rq->method, "GET") == 0)
		listing(rq->srv->faults, r);
	else if (strcmp(rq->method, "POST") == 0)
		set_fault(rq, r);
	else
		x3_reply_diag(r, 405, "MethodNotAllowed", NULL, "GET or POST /sim/fault");
}
