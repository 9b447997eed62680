/*
 * mlc-dispatcher: posts messages to Slack at Slack's pace per channel,
 * retrying what Slack allows, never losing one and never posting one twice.
 *
 * Messages from the formatter are queued in LMDB per channel ("queue":
 * channel NUL be64(seq) -> frame), in arrival order. Every channel progresses
 * on its own: one request in flight per channel, all channels in parallel
 * over libcurl's multi interface with keep-alive, paced by a token bucket
 * per channel (pace.h: slack.min_interval, slack.burst), so a slow or
 * rate-limited channel never delays another (the Node SDK pauses every
 * channel on one 429; pitfalls.md #12).
 *
 * No duplicates. Before a request is sent, the attempt is recorded durably
 * ("attempt": msg id -> "count first_attempt_unix_ms"). A post whose outcome
 * is unknown -- the process died with the attempt recorded, a timeout or
 * reset after the request went out, internal_error, a 5xx -- is resolved
 * before any resend: conversations.history of the channel from a minute
 * before the first attempt, looking for the message's id in
 * metadata.event_payload.msg_id (slack_api.h). Found: it is marked posted
 * ("resolved_by": "history") and not sent again. Absent: it is sent again.
 * Without the channels:history scope (auth.test's X-OAuth-Scopes, or the
 * first history call answering missing_scope) this is said once, and such
 * resends are audited "in_doubt": 1. History needs the channel's ID:
 * chat.postMessage answers it and it is kept ("chanid": name -> ID); a
 * channel configured by ID is its own; other names are looked up with
 * conversations.list (channels:read; history and info take only IDs).
 *
 * Error classes (reference/slack.md section 1): 429 waits Retry-After on its
 * channel only; 5xx, timeouts, internal_error, service_unavailable are
 * retried with exponential backoff and jitter; message errors become dead
 * letters ("dead": msg id -> frame, replayable); channel errors dead-letter
 * every message queued for that channel, and every later one, until SIGHUP
 * or a restart, with one alert; token errors stop all posting with one
 * alert; token_expired refreshes a rotating token with oauth.v2.access
 * (slack_tokens.h keeps the new pair) and retries once.
 *
 * A process owns the channels the formatter hashes to it (mlc_topo), so the
 * pacing and the duplicate check of a channel always happen in one process,
 * however many replicas run.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include <zmq.h>

#include "mlc_audit.h"
#include "mlc_cfg.h"
#include "mlc_custody.h"
#include "mlc_http.h"
#include "mlc_log.h"
#include "mlc_proc.h"
#include "mlc_store.h"
#include "mlc_time.h"
#include "mlc_topo.h"
#include "mlc_zmq.h"
#include "pace.h"
#include "slack_api.h"
#include "slack_tokens.h"

#define BATCH 512
#define MAX_CHANNELS 4096
#define MAX_RESPONSE (1024 * 1024)
#define MAX_BACKOFF_MS 60000
/* With a burst above 1, requests on one channel start min_interval +
 * PACE_MARGIN_MS apart: the margin absorbs the jitter between our start
 * and Slack's receipt. With burst 1 the bound from the previous post's
 * count (pace_done, pace_counted_ms) is exact and needs none. */
#define PACE_MARGIN_MS 15
/* History search for an in-doubt post: from this long before its first
 * attempt, at most this many pages of 200. */
#define HISTORY_LOOKBACK_MS 60000
#define HISTORY_MAX_PAGES 10
/* conversations.list pages of 200 read looking for a channel's ID. */
#define LIST_MAX_PAGES 50
/* Failed history/info calls for one message before it is resent in doubt. */
#define CHECK_MAX_TRIES 5
#define STATS_EVERY_MS 10000
/* A post's attempt is recorded up to this long before it is due, so that
 * the commit's fsync is not paid between "due" and "sent". */
#define PREPARE_MS 250
/* Draining: frames received this recently may have more behind them. */
#define DRAIN_QUIET_MS 300
#define DRAIN_TICK_MS 50
/* After the stop record: how long to wait for the auditor to take it. */
#define FINAL_FLUSH_MS 500

enum req_kind { REQ_NONE, REQ_POST, REQ_LIST, REQ_HISTORY };
enum hist_state { HIST_UNKNOWN, HIST_YES, HIST_NO };

struct chan {
	char name[128];
	char id[32];            /* Slack channel ID, "" until known */
	CURL *h;                /* request in flight, or NULL */
	enum req_kind req;
	struct curl_slist *hdrs;
	char *req_body;         /* what we send, fed to curl by on_read */
	size_t req_len, req_off;
	char *resp;
	size_t resp_len;
	long retry_after_s;
	unsigned token_gen;     /* d->token_gen when the request started */
	int64_t started;
	int64_t answered;       /* first byte of Slack's answer (mono ms), 0 = none */
	int64_t started_wall_us, answered_wall_us;  /* the same on the wall clock */
	int64_t latency_ms;     /* of the last answer */
	struct pace pace;
	int64_t not_before;     /* backoff, Retry-After: monotonic ms */
	int has_queued;         /* 0 once we found the queue empty */
	/* The head of the queue, once loaded: */
	int loaded;
	struct mlc_frame cur;
	int attempts;           /* attempts recorded so far (all processes) */
	int64_t first_ms;       /* wall clock of its first attempt, 0 = none */
	int in_doubt;           /* it may already be in Slack: audited so */
	int needs_check;        /* resolve with history before any resend */
	int checked;            /* history showed it absent before this resend */
	int checks;             /* failed history/info calls */
	int pages;              /* history pages read */
	char cursor[256];
	int expired_retry;      /* retried once after a token refresh */
	int prepared;           /* its next attempt is already recorded */
	/* A channel error dead-letters everything for the channel. */
	int blocked;
	char blocked_error[64];
	/* Outcome decided, waiting for the loop turn's one commit. */
	int done_pending;
	struct slack_result done_res;
	const char *done_final;
	const char *done_resolved_by;
};

struct dispatcher {
	struct mlc_cfg cfg;
	char name[32];
	size_t index;
	struct mlc_store *st;
	void *zctx;
	void *ack_sock;
	struct mlc_inbox *in;
	struct mlc_outbox *to_auditor;
	MDB_dbi queue, attempt, dead, chanid;
	struct slack_tokens *tokens;
	uint64_t seq;
	CURLM *multi;
	char *token;
	char *refresh;          /* rotation: refresh token, or NULL */
	char *client_secret;
	unsigned token_gen;     /* bumped by every refresh */
	struct chan *chans;
	size_t n_chans;
	int halted;             /* a token error stopped all posting */
	enum hist_state history;
	int64_t interval_ms;    /* min_interval + margin */
	struct pace_clock pclock; /* Slack's clock against ours (pace.h) */
	uint64_t posted, failed, ratelimited, retries;
	uint64_t last_backlog;
	int64_t next_stats;
	/* Durable writes are batched per loop turn, one commit (one fsync)
	 * for every attempt started, and one for every outcome: at 200
	 * channels a second, a commit per post would be the bottleneck. */
	struct chan **post_q, **done_q;
	size_t n_post, n_done;
};

/* The spacing of request starts on a channel (see PACE_MARGIN_MS). */
static int64_t
pace_interval(const struct mlc_cfg *cfg)
{
	return cfg->slack.min_interval_ms + (cfg->slack.min_interval_ms > 0 &&
	    cfg->slack.burst > 1 ? PACE_MARGIN_MS : 0);
}

static struct chan *
chan_get(struct dispatcher *d, const char *name)
{
	for (size_t i = 0; i < d->n_chans; i++)
		if (strcmp(d->chans[i].name, name) == 0)
			return &d->chans[i];
	if (d->n_chans == MAX_CHANNELS || strlen(name) >= sizeof(d->chans[0].name))
		return NULL;
	memset(&d->chans[d->n_chans], 0, sizeof(d->chans[0]));
	snprintf(d->chans[d->n_chans].name, sizeof(d->chans[0].name), "%s", name);
	return &d->chans[d->n_chans++];
}

static size_t
qkey(const char *channel, uint64_t seq, unsigned char *out)
{
	size_t n = strlen(channel);

	memcpy(out, channel, n);
	out[n] = '\0';
	mlc_store_be64(seq, out + n + 1);
	return n + 9;
}

/* A channel given as an ID ("C0123456789") needs no lookup. */
static int
is_channel_id(const char *s)
{
	size_t n;

	if (s[0] != 'C' && s[0] != 'G' && s[0] != 'D')
		return 0;
	for (n = 1; s[n] != '\0'; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
			return 0;
	return n >= 9 && n < 32;
}

static void
audit_simple(struct dispatcher *d, const char *kind, const char *error,
    const char *channel, const char *what)
{
	struct mlc_auditb b;

	mlc_auditb_init(&b, kind);
	mlc_auditb_str(&b, "where", "slack");
	mlc_auditb_str(&b, "process", d->name);
	mlc_auditb_str(&b, "channel", channel);
	mlc_auditb_str(&b, "error", error);
	mlc_auditb_str(&b, "message", what);
	mlc_auditb_emit(&b, d->st, d->to_auditor);
}

static void
alert(struct dispatcher *d, const char *what, const char *error, const char *channel)
{
	mlc_error("%s (%s)", what, error);
	audit_simple(d, "alert", error, channel, what);
}

/* ---- Receiving messages from the formatter ---- */

static int
on_frame(void *arg, MDB_txn *txn, const struct mlc_frame *f, struct mlc_err *err)
{
	struct dispatcher *d = arg;
	unsigned char key[160];
	char *buf = NULL;
	size_t len = 0;
	struct chan *c;
	int r;

	if (f->type != MLC_FRAME_MESSAGE || strlen(f->u.msg.channel) >= 128) {
		struct mlc_auditb b;

		mlc_auditb_init(&b, "error");
		mlc_auditb_str(&b, "where", "dispatcher inbox");
		mlc_auditb_str(&b, "error", f->type != MLC_FRAME_MESSAGE ?
		    "received a frame that is not a message; dropped" :
		    "channel name longer than 127 bytes; dropped");
		return mlc_auditb_put(&b, d->to_auditor, txn, err);
	}
	if (mlc_proto_encode(f, &buf, &len, err) != 0)
		return -1;
	r = mlc_store_put(txn, d->queue, key, qkey(f->u.msg.channel, ++d->seq, key),
	    buf, len, err);
	free(buf);
	if (r == 0 && (c = chan_get(d, f->u.msg.channel)) != NULL)
		c->has_queued = 1;
	return r;
}

static void
on_reject(void *arg, const char *reason)
{
	struct dispatcher *d = arg;
	struct mlc_auditb b;

	mlc_warn("dropped a malformed frame: %s", reason);
	mlc_auditb_init(&b, "error");
	mlc_auditb_str(&b, "where", "dispatcher inbox");
	mlc_auditb_str(&b, "error", reason);
	mlc_auditb_emit(&b, d->st, d->to_auditor);
}

/* ---- Startup: find channels and the highest sequence ---- */

static int
scan_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct dispatcher *d = arg;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, d->queue, &cur);

	if (rc != 0)
		return mlc_err_set(err, "queue cursor: %s", mdb_strerror(rc));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const char *name = k.mv_data;
		size_t n = strnlen(name, k.mv_size);
		uint64_t s;
		struct chan *c;
		char buf[128];

		if (n + 9 != k.mv_size || n >= sizeof(buf))
			continue;
		memcpy(buf, name, n);
		buf[n] = '\0';
		s = mlc_store_unbe64((const unsigned char *)k.mv_data + n + 1);
		if (s > d->seq)
			d->seq = s;
		if ((c = chan_get(d, buf)) != NULL)
			c->has_queued = 1;
	}
	mdb_cursor_close(cur);
	return 0;
}

/* ---- The head of a channel's queue ---- */

struct head_arg {
	struct dispatcher *d;
	struct chan *c;
	int found;
};

/* Loads the head message of c's queue, what is known of its attempts, and
 * the channel's ID if we learned it before. */
static int
head_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct head_arg *ha = arg;
	struct dispatcher *d = ha->d;
	struct chan *c = ha->c;
	unsigned char key[160];
	MDB_cursor *cur;
	MDB_val k, v, av;
	size_t n = strlen(c->name);
	char cnt[48];
	int rc, r;

	ha->found = 0;
	if ((rc = mdb_cursor_open(txn, d->queue, &cur)) != 0)
		return mlc_err_set(err, "queue cursor: %s", mdb_strerror(rc));
	memcpy(key, c->name, n);
	key[n] = '\0';
	k.mv_size = n + 1;
	k.mv_data = key;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc != 0 || k.mv_size != n + 9 || memcmp(k.mv_data, key, n + 1) != 0) {
		mdb_cursor_close(cur);
		return 0;
	}
	mlc_frame_free(&c->cur);
	r = mlc_proto_decode(v.mv_data, v.mv_size, &c->cur, err);
	mdb_cursor_close(cur);
	if (r != 0 || c->cur.type != MLC_FRAME_MESSAGE) {
		/* Cannot happen (we encoded it); refuse to spin on it. */
		return mlc_err_set(err, "queue of %s holds an unreadable message", c->name);
	}
	r = mlc_store_get(txn, d->attempt, c->cur.u.msg.id, strlen(c->cur.u.msg.id),
	    &av, err);
	if (r < 0)
		return -1;
	c->attempts = 0;
	c->first_ms = 0;
	if (r == 1 && av.mv_size < sizeof(cnt)) {
		char *sp;

		memcpy(cnt, av.mv_data, av.mv_size);
		cnt[av.mv_size] = '\0';
		c->attempts = atoi(cnt);
		/* "count first_ms"; a bare count is from before first_ms was kept. */
		if ((sp = strchr(cnt, ' ')) != NULL)
			c->first_ms = strtoll(sp + 1, NULL, 10);
	}
	if (c->id[0] == '\0') {
		if (is_channel_id(c->name)) {
			snprintf(c->id, sizeof(c->id), "%.31s", c->name);
		} else {
			r = mlc_store_get(txn, d->chanid, c->name, strlen(c->name), &av, err);
			if (r < 0)
				return -1;
			if (r == 1 && av.mv_size < sizeof(c->id)) {
				memcpy(c->id, av.mv_data, av.mv_size);
				c->id[av.mv_size] = '\0';
			}
		}
	}
	ha->found = 1;
	return 0;
}

static int
head_load(struct dispatcher *d, struct chan *c)
{
	struct head_arg ha = { d, c, 0 };
	struct mlc_err err;

	if (mlc_store_read(d->st, head_txn, &ha, &err) != 0) {
		mlc_error("channel %s: %s", c->name, err.msg);
		return -1;
	}
	if (!ha.found) {
		c->has_queued = 0;
		return 0;
	}
	c->loaded = 1;
	c->in_doubt = c->checked = c->checks = c->pages = c->expired_retry = 0;
	c->cursor[0] = '\0';
	/* Attempted before and not finished: by a process that died, or
	 * before a retry whose answer left nothing certain. Look first. */
	c->needs_check = c->attempts > 0;
	return 0;
}

static int
attempt_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct chan *c = ((struct head_arg *)arg)->c;
	struct dispatcher *d = ((struct head_arg *)arg)->d;
	char cnt[48];
	size_t n;

	n = (size_t)snprintf(cnt, sizeof(cnt), "%d %lld", c->attempts + 1,
	    (long long)(c->first_ms ? c->first_ms : mlc_time_now_ms()));
	return mlc_store_put(txn, d->attempt, c->cur.u.msg.id, strlen(c->cur.u.msg.id),
	    cnt, n, err);
}

static int
chanid_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct chan *c = ((struct head_arg *)arg)->c;
	struct dispatcher *d = ((struct head_arg *)arg)->d;

	return mlc_store_put(txn, d->chanid, c->name, strlen(c->name), c->id,
	    strlen(c->id), err);
}

/* ---- Requests on the multi handle ---- */

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct chan *c = arg;
	size_t n = size * nmemb;
	char *p;

	if (c->resp_len + n > MAX_RESPONSE)
		return 0; /* abort: Slack never answers this much */
	p = realloc(c->resp, c->resp_len + n + 1);
	if (p == NULL)
		return 0;
	c->resp = p;
	memcpy(c->resp + c->resp_len, ptr, n);
	c->resp_len += n;
	c->resp[c->resp_len] = '\0';
	return n;
}

static int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t
on_header(char *buf, size_t size, size_t nitems, void *arg)
{
	struct chan *c = arg;
	size_t n = size * nitems;

	/* The status line: Slack has counted the request by now. */
	if (c->answered == 0) {
		c->answered = mlc_time_mono_ms();
		c->answered_wall_us = wall_us();
	}
	if (n > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
		char tmp[32];
		size_t m = n - 12 < sizeof(tmp) - 1 ? n - 12 : sizeof(tmp) - 1;
		char *end;
		long v;

		memcpy(tmp, buf + 12, m);
		tmp[m] = '\0';
		v = strtol(tmp, &end, 10);
		if (end != tmp && v >= 0 && v < 86400)
			c->retry_after_s = v;
	}
	return n;
}

/* We hand curl the body ourselves so that it can never send it twice:
 * libcurl silently repeats a request whose reused connection closed
 * without an answer, rewinding the body -- for chat.postMessage that is a
 * second post (what Slack's Node SDK users see). Refusing the rewind turns
 * it into an error we treat as in doubt, resolved from history. */
static size_t
on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct chan *c = arg;
	size_t n = size * nitems, left = c->req_len - c->req_off;

	if (n > left)
		n = left;
	memcpy(buf, c->req_body + c->req_off, n);
	c->req_off += n;
	return n;
}

static int
on_seek(void *arg, curl_off_t offset, int origin)
{
	struct chan *c = arg;

	if (origin != SEEK_SET || offset != 0 || c->req_off != 0)
		return CURL_SEEKFUNC_FAIL;
	return CURL_SEEKFUNC_OK;
}

static void
req_free(struct chan *c)
{
	curl_slist_free_all(c->hdrs);
	c->hdrs = NULL;
	free(c->req_body);
	c->req_body = NULL;
	c->req_len = c->req_off = 0;
}

/* Starts `method` on c's channel with body (consumed). 0, or -1 with the
 * channel backed off. */
static int
start_req(struct dispatcher *d, struct chan *c, enum req_kind kind,
    const char *method, char *body, int json)
{
	struct mlc_http_opts o = {
		.timeout_ms = d->cfg.slack.timeout_ms,
		.ca_file = d->cfg.slack.ca_file[0] ? d->cfg.slack.ca_file : NULL,
		.max_body = MAX_RESPONSE,
	};
	struct mlc_err err;
	char auth[4200], url[600];

	c->h = curl_easy_init();
	if (c->h == NULL || mlc_http_easy_setup(c->h, &o, &err) != 0) {
		free(body);
		if (c->h)
			curl_easy_cleanup(c->h);
		c->h = NULL;
		c->not_before = mlc_time_mono_ms() + 1000;
		return -1;
	}
	snprintf(url, sizeof(url), "%s/%s", d->cfg.slack.api_url, method);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->token);
	c->hdrs = curl_slist_append(NULL, auth);
	c->hdrs = curl_slist_append(c->hdrs, json ?
	    "Content-Type: application/json; charset=utf-8" :
	    "Content-Type: application/x-www-form-urlencoded");
	/* No "Expect: 100-continue" round trip before larger bodies. */
	c->hdrs = curl_slist_append(c->hdrs, "Expect:");
	explicit_bzero(auth, sizeof(auth));
	c->req_body = body;
	c->req_len = strlen(body);
	c->req_off = 0;
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(c->h, CURLOPT_POST, 1L);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->req_len);
	curl_easy_setopt(c->h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c->h, CURLOPT_READDATA, c);
	curl_easy_setopt(c->h, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(c->h, CURLOPT_SEEKDATA, c);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
	c->req = kind;
	c->resp_len = 0;
	c->retry_after_s = -1;
	c->token_gen = d->token_gen;
	c->started = mlc_time_mono_ms();
	c->started_wall_us = wall_us();
	c->answered = 0;
	curl_multi_add_handle(d->multi, c->h);
	return 0;
}

static int64_t
backoff_ms(int attempts)
{
	int64_t ms = 500;

	for (int i = 1; i < attempts && ms < MAX_BACKOFF_MS; i++)
		ms *= 2;
	if (ms > MAX_BACKOFF_MS)
		ms = MAX_BACKOFF_MS;
	/* Jitter in [ms/2, ms]: replicas and channels do not retry in step. */
	return ms / 2 + (int64_t)((uint64_t)rand() % (uint64_t)(ms / 2 + 1));
}

/* ---- Outcomes ---- */

struct done_arg {
	struct dispatcher *d;
	struct chan *c;
	const struct slack_result *res;
	const char *final;      /* "posted", "failed", or NULL (stays queued) */
	const char *resolved_by;
};

static int
done_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct done_arg *da = arg;
	struct dispatcher *d = da->d;
	struct chan *c = da->c;
	const struct mlc_message *m = &c->cur.u.msg;
	struct mlc_auditb b;
	MDB_cursor *cur;
	MDB_val k, v;
	unsigned char key[160];
	size_t n = strlen(m->channel);
	int rc;

	mlc_auditb_init(&b, "post");
	mlc_auditb_str(&b, "msg_id", m->id);
	mlc_auditb_str(&b, "record_id", m->record_id);
	mlc_auditb_str(&b, "entity", m->entity);
	mlc_auditb_str(&b, "key", m->key);
	mlc_auditb_str(&b, "route", m->route);
	mlc_auditb_str(&b, "channel", m->channel);
	mlc_auditb_int(&b, "attempts", c->attempts);
	mlc_auditb_str(&b, "outcome", da->final ? da->final : slack_outcome_name(da->res->outcome));
	mlc_auditb_int(&b, "latency_ms", c->latency_ms);
	if (da->res->ts[0])
		mlc_auditb_str(&b, "slack_ts", da->res->ts);
	if (da->res->error[0])
		mlc_auditb_str(&b, "error", da->res->error);
	if (c->in_doubt)
		mlc_auditb_int(&b, "in_doubt", 1);
	if (da->resolved_by != NULL)
		mlc_auditb_str(&b, "resolved_by", da->resolved_by);
	else if (c->checked)
		mlc_auditb_int(&b, "checked_history", 1);
	if (da->final == NULL) {
		/* Not final: only an audit record of the failed attempt. */
		return mlc_auditb_put(&b, d->to_auditor, txn, err);
	}
	if (strcmp(da->final, "failed") == 0) {
		char *buf = NULL;
		size_t len = 0;

		/* What `mlc replay` needs to post it again. */
		mlc_auditb_str(&b, "text", m->text);
		mlc_auditb_str(&b, "blocks", m->blocks);
		if (mlc_proto_encode(&c->cur, &buf, &len, err) != 0) {
			mlc_auditb_free(&b);
			return -1;
		}
		rc = mlc_store_put(txn, d->dead, m->id, strlen(m->id), buf, len, err);
		free(buf);
		if (rc != 0) {
			mlc_auditb_free(&b);
			return -1;
		}
	}
	if (strcmp(da->final, "posted") == 0 && da->res->channel[0] != '\0' &&
	    strcmp(da->res->channel, c->id) != 0) {
		/* Slack told us the channel's ID: history needs it. */
		snprintf(c->id, sizeof(c->id), "%s", da->res->channel);
		if (mlc_store_put(txn, d->chanid, c->name, strlen(c->name), c->id,
		    strlen(c->id), err) != 0) {
			mlc_auditb_free(&b);
			return -1;
		}
	}
	/* Remove the head of the channel's queue (it is this message). */
	if ((rc = mdb_cursor_open(txn, d->queue, &cur)) != 0) {
		mlc_auditb_free(&b);
		return mlc_err_set(err, "queue cursor: %s", mdb_strerror(rc));
	}
	memcpy(key, m->channel, n);
	key[n] = '\0';
	k.mv_size = n + 1;
	k.mv_data = key;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == n + 9 && memcmp(k.mv_data, key, n + 1) == 0)
		rc = mdb_cursor_del(cur, 0);
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mlc_auditb_free(&b);
		return mlc_err_set(err, "queue delete: %s", mdb_strerror(rc));
	}
	if (mlc_store_del(txn, d->attempt, m->id, strlen(m->id), err) != 0) {
		mlc_auditb_free(&b);
		return -1;
	}
	return mlc_auditb_put(&b, d->to_auditor, txn, err);
}

static int token_refresh(struct dispatcher *d, struct mlc_err *err);

/* token_expired: 0 = retry the request (the token was refreshed, now or
 * since the request started), -1 = give up (no rotation configured, the
 * refresh failed, or a fresh token expired again). */
static int
on_token_expired(struct dispatcher *d, struct chan *c)
{
	struct mlc_err err;

	if (c->token_gen != d->token_gen)
		return 0;
	if (c->expired_retry || d->refresh == NULL)
		return -1;
	if (token_refresh(d, &err) != 0) {
		mlc_error("%s", err.msg);
		return -1;
	}
	c->expired_retry = 1;
	return 0;
}

static void
halt(struct dispatcher *d, const char *error)
{
	if (d->halted)
		return;
	d->halted = 1;
	alert(d, strcmp(error, "token_expired") == 0 ?
	    "Slack's bot token expired and could not be refreshed; posting stopped "
	    "for every channel (check slack.refresh_token_env, client_id, "
	    "client_secret_env, then restart the dispatcher)" :
	    "Slack rejected the bot token; posting stopped for every channel until "
	    "the token is fixed and the dispatcher restarted (check "
	    "slack.token_env / slack.token_file)", error, NULL);
}

static void
chan_reset_head(struct chan *c)
{
	c->loaded = 0;
	c->attempts = 0;
	c->first_ms = 0;
	c->in_doubt = c->needs_check = c->checked = c->checks = c->pages = 0;
	c->expired_retry = 0;
	c->prepared = 0;
	c->cursor[0] = '\0';
	mlc_frame_free(&c->cur);
}

static void
chan_finish(struct dispatcher *d, struct chan *c, const struct slack_result *res,
    const char *resolved_by)
{
	struct done_arg da = { d, c, res, NULL, resolved_by };
	int64_t now = mlc_time_mono_ms();

	switch (res->outcome) {
	case SLACK_POSTED:
		da.final = "posted";
		break;
	case SLACK_RATELIMITED:
		d->ratelimited++;
		c->not_before = now + res->retry_after_s * 1000;
		mlc_info("channel %s: rate limited, waiting %ld s", c->name, res->retry_after_s);
		break;
	case SLACK_RETRY_DOUBT:
		/* It may be in Slack: look before sending it again. */
		c->needs_check = 1;
		/* fall through */
	case SLACK_RETRY:
		d->retries++;
		if (c->attempts >= d->cfg.slack.max_attempts) {
			if (res->outcome == SLACK_RETRY_DOUBT)
				c->in_doubt = 1;
			da.final = "failed";
		} else {
			c->not_before = now + backoff_ms(c->attempts);
		}
		break;
	case SLACK_TOKEN_ERROR:
		if (strcmp(res->error, "token_expired") == 0 && on_token_expired(d, c) == 0) {
			c->not_before = now;
			break;
		}
		halt(d, res->error);
		break;
	case SLACK_DOUBT_FATAL:
		c->in_doubt = 1;
		da.final = "failed";
		break;
	case SLACK_CHANNEL_ERROR:
		if (!c->blocked) {
			char what[300];

			c->blocked = 1;
			snprintf(c->blocked_error, sizeof(c->blocked_error), "%s", res->error);
			snprintf(what, sizeof(what), "Slack refuses posts to %.128s; its "
			    "messages go to dead letters until the channel is fixed and "
			    "the dispatcher reloaded (SIGHUP) or restarted", c->name);
			alert(d, what, res->error, c->name);
		}
		da.final = "failed";
		break;
	case SLACK_MESSAGE_ERROR:
		da.final = "failed";
		break;
	}
	c->done_res = *res;
	c->done_final = da.final;
	c->done_resolved_by = resolved_by;
	c->done_pending = 1;
	d->done_q[d->n_done++] = c;
}

static int
done_all_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct dispatcher *d = arg;

	for (size_t i = 0; i < d->n_done; i++) {
		struct chan *c = d->done_q[i];
		struct done_arg da = { d, c, &c->done_res, c->done_final, c->done_resolved_by };

		if (done_txn(txn, &da, err) != 0)
			return -1;
	}
	return 0;
}

/* Commits the outcomes decided this turn, then moves each channel on. */
static void
flush_done(struct dispatcher *d)
{
	struct mlc_err err;
	int failed;

	if (d->n_done == 0)
		return;
	failed = mlc_store_write(d->st, done_all_txn, d, &err) != 0;
	if (failed)
		mlc_error("cannot record %zu outcomes: %s", d->n_done, err.msg);
	for (size_t i = 0; i < d->n_done; i++) {
		struct chan *c = d->done_q[i];
		const struct slack_result *res = &c->done_res;

		c->done_pending = 0;
		if (failed) {
			c->not_before = mlc_time_mono_ms() + 1000;
			/* Posted but not recorded: look before posting again. */
			if (c->done_final != NULL && strcmp(c->done_final, "posted") == 0)
				c->needs_check = 1;
			continue;
		}
		if (c->done_final != NULL) {
			if (strcmp(c->done_final, "posted") == 0) {
				d->posted++;
				mlc_debug("posted %s to %s ts=%s%s", c->cur.u.msg.id, c->name,
				    res->ts, c->done_resolved_by ? " (found in history)" : "");
			} else {
				d->failed++;
				mlc_warn("message %s to %s failed: %s (kept as a dead letter)",
				    c->cur.u.msg.id, c->name, res->error);
			}
			chan_reset_head(c);
		} else if (res->outcome != SLACK_TOKEN_ERROR) {
			mlc_info("channel %s: attempt %d of %s: %s (%s), will retry", c->name,
			    c->attempts, c->cur.u.msg.id, slack_outcome_name(res->outcome),
			    res->error);
		}
	}
	d->n_done = 0;
}

/* ---- Resolving in-doubt posts ---- */

static void
no_history(struct dispatcher *d, const char *why)
{
	if (d->history == HIST_NO)
		return;
	d->history = HIST_NO;
	mlc_warn("no channels:history scope (%s): in-doubt posts will be resent and "
	    "marked in_doubt", why);
	audit_simple(d, "warning", why, NULL, "no channels:history scope: in-doubt "
	    "posts will be resent and marked in_doubt");
}

/* Gives up looking: the message is resent, marked in doubt. */
static void
check_give_up(struct chan *c)
{
	c->needs_check = 0;
	c->in_doubt = 1;
	c->cursor[0] = '\0';
	c->pages = 0;
}

static void
check_failed(struct dispatcher *d, struct chan *c, long retry_after_s)
{
	d->retries++;
	if (++c->checks >= CHECK_MAX_TRIES) {
		check_give_up(c);
		return;
	}
	c->not_before = mlc_time_mono_ms() + (retry_after_s > 0 ? retry_after_s * 1000 :
	    backoff_ms(c->checks));
}

static void
on_history(struct dispatcher *d, struct chan *c, const struct slack_history_result *hr)
{
	struct slack_result res;

	switch (hr->outcome) {
	case SLACK_HIST_FOUND:
		d->history = HIST_YES;
		memset(&res, 0, sizeof(res));
		res.outcome = SLACK_POSTED;
		snprintf(res.ts, sizeof(res.ts), "%s", hr->ts);
		mlc_info("channel %s: %s was already posted (ts %s): not sent again",
		    c->name, c->cur.u.msg.id, hr->ts);
		chan_finish(d, c, &res, "history");
		return;
	case SLACK_HIST_MORE:
		d->history = HIST_YES;
		if (++c->pages >= HISTORY_MAX_PAGES)
			check_give_up(c);
		else
			snprintf(c->cursor, sizeof(c->cursor), "%s", hr->cursor);
		return;
	case SLACK_HIST_ABSENT:
		d->history = HIST_YES;
		c->needs_check = 0;
		c->checked = 1;
		c->in_doubt = 0;
		c->cursor[0] = '\0';
		return;
	case SLACK_HIST_NO_SCOPE:
		no_history(d, hr->error);
		check_give_up(c);
		return;
	case SLACK_HIST_CANNOT_CHECK:
		mlc_warn("channel %s: cannot read its history (%s): resending %s in doubt",
		    c->name, hr->error, c->cur.u.msg.id);
		check_give_up(c);
		return;
	case SLACK_HIST_TOKEN_EXPIRED:
		if (on_token_expired(d, c) != 0)
			halt(d, "token_expired");
		return;
	case SLACK_HIST_RETRY:
		check_failed(d, c, hr->retry_after_s);
		return;
	}
}

static void
set_chan_id(struct dispatcher *d, struct chan *c, const char *id)
{
	struct head_arg ha = { d, c, 0 };
	struct mlc_err err;

	snprintf(c->id, sizeof(c->id), "%s", id);
	if (mlc_store_write(d->st, chanid_txn, &ha, &err) != 0)
		mlc_error("%s", err.msg);
}

/* A conversations.list page, looking for c's ID by its name. */
static void
on_list(struct dispatcher *d, struct chan *c, int r, const char *id,
    const char *cursor, const char *error)
{
	if (r == 1) {
		c->cursor[0] = '\0';
		c->pages = 0;
		set_chan_id(d, c, id);
		return;
	}
	if (r == 0 && cursor[0] != '\0' && ++c->pages < LIST_MAX_PAGES) {
		snprintf(c->cursor, sizeof(c->cursor), "%s", cursor);
		return;
	}
	if (r == 0 || strcmp(error, "missing_scope") == 0) {
		/* Not visible to the bot by this name, or we may not list
		 * channels (channels:read): nothing to search; the resend is
		 * in doubt. */
		if (r != 0)
			mlc_warn("channel %s: cannot look up its ID (%s): resending "
			    "%s in doubt", c->name, error, c->cur.u.msg.id);
		c->cursor[0] = '\0';
		c->pages = 0;
		check_give_up(c);
		return;
	}
	check_failed(d, c, 0);
}

/* ---- Starting work on a channel ---- */

static void
start_check(struct dispatcher *d, struct chan *c)
{
	char *body;

	if (c->id[0] == '\0' && slack_channel_id_shape(c->name))
		set_chan_id(d, c, c->name);  /* configured by ID */
	if (c->id[0] == '\0') {
		/* conversations.history takes an ID; chat.postMessage told us
		 * none yet (nothing posted here since the state began). */
		body = slack_list_body(c->cursor);
		if (body != NULL)
			start_req(d, c, REQ_LIST, "conversations.list", body, 0);
		return;
	}
	body = slack_history_body(c->id, (c->first_ms ? c->first_ms : mlc_time_now_ms()) -
	    HISTORY_LOOKBACK_MS, c->cursor);
	if (body != NULL)
		start_req(d, c, REQ_HISTORY, "conversations.history", body, 0);
}

static int
attempts_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct dispatcher *d = arg;

	for (size_t i = 0; i < d->n_post; i++) {
		struct head_arg ha = { d, d->post_q[i], 0 };

		if (!ha.c->prepared && attempt_txn(txn, &ha, err) != 0)
			return -1;
	}
	return 0;
}

/* Starts c's post if its attempt is recorded and it is due; 1 if started
 * (or finished without a request), 0 if not due yet. */
static int
post_if_due(struct dispatcher *d, struct chan *c, int64_t now)
{
	char *body;

	if (now < pace_due(&c->pace, d->interval_ms, d->cfg.slack.burst))
		return 0;  /* recorded ahead; started when due */
	c->prepared = 0;
	body = slack_post_body(&c->cur.u.msg);
	if (c->first_ms == 0)
		c->first_ms = mlc_time_now_ms();
	c->attempts++;
	if (body == NULL) {
		struct slack_result res;

		memset(&res, 0, sizeof(res));
		res.outcome = SLACK_MESSAGE_ERROR;
		snprintf(res.error, sizeof(res.error), "invalid_blocks_json");
		c->latency_ms = 0;
		chan_finish(d, c, &res, NULL);
		return 1;
	}
	pace_take(&c->pace, now, d->interval_ms);
	start_req(d, c, REQ_POST, "chat.postMessage", body, 1);
	return 1;
}

/* Records the attempts of every post due soon in one commit, then starts
 * those that are due: the attempt is durable before a byte leaves, so if
 * we die from here on, the next start looks in Slack before posting again
 * (an attempt recorded but never sent costs only that look).
 *
 * Posts recorded on an earlier turn (PREPARE_MS ahead) and due now go out
 * first, before this turn's commit: their time is the pace, and an fsync
 * in front of them would add to every channel's interval. */
static void
flush_posts(struct dispatcher *d, int64_t now)
{
	struct mlc_err err;
	size_t keep = 0;
	int started = 0;

	if (d->n_post == 0)
		return;
	for (size_t i = 0; i < d->n_post; i++) {
		struct chan *c = d->post_q[i];

		if (c->prepared)
			started |= post_if_due(d, c, now);
		else
			d->post_q[keep++] = c;
	}
	d->n_post = keep;
	if (d->n_post == 0)
		return;  /* no commit: the loop's next perform sends them */
	if (started) {
		int running;

		curl_multi_perform(d->multi, &running);
	}
	if (mlc_store_write(d->st, attempts_txn, d, &err) != 0) {
		mlc_error("cannot record %zu attempts: %s", d->n_post, err.msg);
		for (size_t i = 0; i < d->n_post; i++)
			d->post_q[i]->not_before = now + 1000;
		d->n_post = 0;
		return;
	}
	now = mlc_time_mono_ms();
	for (size_t i = 0; i < d->n_post; i++) {
		d->post_q[i]->prepared = 1;
		post_if_due(d, d->post_q[i], now);
	}
	d->n_post = 0;
}

/* Does what is due on a free channel; returns when it next needs a turn
 * (monotonic ms), or -1 for "when something happens". */
static int64_t
chan_step(struct dispatcher *d, struct chan *c, int64_t now)
{
	int64_t due;

	if (!c->loaded) {
		if (head_load(d, c) != 0) {
			c->not_before = now + 1000;
			return c->not_before;
		}
		if (!c->has_queued)
			return -1;
	}
	if (c->blocked) {
		/* Dead-lettered without asking Slack, one per turn (the
		 * turn's commit removes it from the queue). */
		struct slack_result res;

		if (now < c->not_before)
			return c->not_before;
		memset(&res, 0, sizeof(res));
		res.outcome = SLACK_CHANNEL_ERROR;
		snprintf(res.error, sizeof(res.error), "%s", c->blocked_error);
		c->latency_ms = 0;
		chan_finish(d, c, &res, NULL);
		return now;
	}
	if (d->halted)
		return -1;
	if (now < c->not_before)
		return c->not_before;
	if (c->needs_check) {
		if (d->history == HIST_NO) {
			check_give_up(c);
		} else {
			start_check(d, c);
			return c->h != NULL ? -1 : c->not_before;
		}
	}
	due = pace_due(&c->pace, d->interval_ms, d->cfg.slack.burst);
	if (c->prepared) {
		if (now < due)
			return due;
		d->post_q[d->n_post++] = c;
		return -1;
	}
	if (due - now > PREPARE_MS)
		return due - PREPARE_MS;
	d->post_q[d->n_post++] = c;
	return due > now ? due : -1;
}

static void
collect(struct dispatcher *d)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
		struct chan *c = NULL;
		long status = 0;
		curl_off_t total = 0;
		CURL *h = msg->easy_handle;
		int ok = msg->data.result == CURLE_OK;
		enum req_kind kind;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&c);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &total);
		c->latency_ms = mlc_time_mono_ms() - c->started;
		kind = c->req;
		c->req = REQ_NONE;
		if (kind == REQ_POST) {
			struct slack_result res;

			slack_classify(ok,
			    /* Any byte sent: the request may have arrived. */
			    msg->data.result != CURLE_COULDNT_CONNECT &&
			    msg->data.result != CURLE_COULDNT_RESOLVE_HOST && total > 0,
			    curl_easy_strerror(msg->data.result), status, c->resp, c->resp_len,
			    c->retry_after_s, &res);
			/* The next post starts an interval after Slack counted
			 * this one: somewhere between our start and its answer
			 * (a new connection's set-up, a busy server). The
			 * answer's time (its first byte, noted by the header
			 * callback, so this loop's own delays do not add to the
			 * gap) is a safe bound; a posted message's ts, placed on
			 * our clock (pace.h), is a tighter one that does not
			 * add the way back to every interval. */
			if (d->interval_ms > 0) {
				int64_t at = c->answered > 0 ? c->answered :
				    mlc_time_mono_ms();

				if (c->answered > 0 && res.outcome == SLACK_POSTED)
					at = pace_counted_ms(&d->pclock, at,
					    c->started_wall_us, c->answered_wall_us,
					    pace_ts_us(res.ts));
				pace_done(&c->pace, at, d->cfg.slack.min_interval_ms);
			}
			curl_multi_remove_handle(d->multi, h);
			curl_easy_cleanup(h);
			req_free(c);
			c->h = NULL;
			chan_finish(d, c, &res, NULL);
		} else {
			struct slack_history_result hr;
			char id[32], error[64], cursor[sizeof(c->cursor)];
			int r = 0;

			if (kind == REQ_HISTORY)
				slack_history_scan(ok, status, c->resp, c->resp_len,
				    c->retry_after_s, c->cur.u.msg.id, &hr);
			else
				r = slack_list_scan(ok, status, c->resp, c->resp_len,
				    c->name, id, sizeof(id), cursor, sizeof(cursor),
				    error, sizeof(error));
			curl_multi_remove_handle(d->multi, h);
			curl_easy_cleanup(h);
			req_free(c);
			c->h = NULL;
			if (kind == REQ_HISTORY)
				on_history(d, c, &hr);
			else
				on_list(d, c, r, id, cursor, error);
		}
		free(c->resp);
		c->resp = NULL;
		c->resp_len = 0;
	}
}

/* ---- Tokens: start-up check and rotation ---- */

struct blocking {
	char *body;
	size_t len;
	char scopes[1024];
	int has_scopes;
	long retry_after_s;
};

static size_t
bl_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct blocking *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > MAX_RESPONSE)
		return 0;
	p = realloc(b->body, b->len + n + 1);
	if (p == NULL)
		return 0;
	b->body = p;
	memcpy(p + b->len, ptr, n);
	b->len += n;
	p[b->len] = '\0';
	return n;
}

static size_t
bl_header(char *buf, size_t size, size_t nitems, void *arg)
{
	struct blocking *b = arg;
	size_t n = size * nitems;
	static const char name[] = "X-OAuth-Scopes:";

	if (n > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
		size_t m = n - (sizeof(name) - 1);

		if (m >= sizeof(b->scopes))
			m = sizeof(b->scopes) - 1;
		memcpy(b->scopes, buf + sizeof(name) - 1, m);
		b->scopes[m] = '\0';
		b->has_scopes = 1;
	}
	return n;
}

/* One blocking call (start-up, token refresh: rare, and they concern
 * every channel alike). auth: send the bot token. Returns curl_ok. */
static int
blocking_call(struct dispatcher *d, const char *method, const char *form, int auth,
    long *status, struct blocking *b)
{
	struct mlc_http_opts o = {
		.timeout_ms = d->cfg.slack.timeout_ms < 10000 ? d->cfg.slack.timeout_ms : 10000,
		.ca_file = d->cfg.slack.ca_file[0] ? d->cfg.slack.ca_file : NULL,
		.max_body = MAX_RESPONSE,
	};
	struct curl_slist *hdrs = NULL;
	struct mlc_err err;
	char url[600], hdr[4200];
	CURL *h = curl_easy_init();
	CURLcode rc;

	memset(b, 0, sizeof(*b));
	*status = 0;
	if (h == NULL || mlc_http_easy_setup(h, &o, &err) != 0) {
		if (h)
			curl_easy_cleanup(h);
		return 0;
	}
	snprintf(url, sizeof(url), "%s/%s", d->cfg.slack.api_url, method);
	if (auth) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", d->token);
		hdrs = curl_slist_append(hdrs, hdr);
		explicit_bzero(hdr, sizeof(hdr));
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, form);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bl_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, bl_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, b);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return rc == CURLE_OK;
}

static int
token_refresh(struct dispatcher *d, struct mlc_err *err)
{
	struct blocking b;
	char *form, *access = NULL, *refresh = NULL;
	long status, expires_in = 0;
	int ok, rc = -1;

	form = slack_refresh_body(d->cfg.slack.client_id, d->client_secret, d->refresh);
	if (form == NULL)
		return mlc_err_set(err, "out of memory");
	ok = blocking_call(d, "oauth.v2.access", form, 0, &status, &b);
	explicit_bzero(form, strlen(form));
	free(form);
	if (!ok) {
		mlc_err_set(err, "token refresh: oauth.v2.access at %s did not answer",
		    d->cfg.slack.api_url);
		goto out;
	}
	if (slack_refresh_scan(status, b.body, b.len, &access, &refresh, &expires_in, err) != 0)
		goto out;
	if (slack_tokens_save(d->tokens, access, refresh, expires_in > 0 ?
	    mlc_time_now_ms() + expires_in * 1000 : 0, err) != 0)
		goto out;
	explicit_bzero(d->token, strlen(d->token));
	free(d->token);
	explicit_bzero(d->refresh, strlen(d->refresh));
	free(d->refresh);
	d->token = access;
	d->refresh = refresh;
	access = refresh = NULL;
	d->token_gen++;
	mlc_info("bot token refreshed (expires in %ld s)", expires_in);
	{
		struct mlc_auditb ab;

		mlc_auditb_init(&ab, "token");
		mlc_auditb_str(&ab, "process", d->name);
		mlc_auditb_str(&ab, "event", "refreshed");
		mlc_auditb_int(&ab, "expires_in", expires_in);
		mlc_auditb_emit(&ab, d->st, d->to_auditor);
	}
	rc = 0;
out:
	if (access) {
		explicit_bzero(access, strlen(access));
		free(access);
	}
	if (refresh) {
		explicit_bzero(refresh, strlen(refresh));
		free(refresh);
	}
	free(b.body);
	return rc;
}

/* auth.test at start: the token works (else stop with one alert, or
 * refresh it), and its scopes tell whether history can be read. Slack
 * being unreachable is not fatal: posts will retry. */
static void
startup_check(struct dispatcher *d)
{
	struct slack_result res;
	struct blocking b;
	struct mlc_err err;
	long status;
	int ok;

	for (int tries = 0; tries < 2; tries++) {
		ok = blocking_call(d, "auth.test", "", 1, &status, &b);
		slack_classify(ok, 1, "no answer", status, b.body, b.len, -1, &res);
		if (res.outcome == SLACK_TOKEN_ERROR && strcmp(res.error, "token_expired") == 0 &&
		    d->refresh != NULL && tries == 0) {
			free(b.body);
			if (token_refresh(d, &err) != 0) {
				mlc_error("%s", err.msg);
				halt(d, "token_expired");
				return;
			}
			continue;
		}
		break;
	}
	if (res.outcome == SLACK_TOKEN_ERROR) {
		halt(d, res.error);
	} else if (res.outcome != SLACK_POSTED) {
		mlc_warn("auth.test at %s failed (%s); posting will retry",
		    d->cfg.slack.api_url, res.error);
	} else if (b.has_scopes) {
		if (slack_scopes_allow_history(b.scopes))
			d->history = HIST_YES;
		else
			no_history(d, "missing_scope");
	}
	free(b.body);
}

/* ---- Stats for the auditor's metrics ---- */

struct stat_arg {
	struct dispatcher *d;
	uint64_t backlog, dead;
	json_t *per_channel;    /* {"#procure": 12, ...}: at most STATS_MAX_CHANNELS */
};

#define STATS_MAX_CHANNELS 500

static int
stat_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct stat_arg *sa = arg;
	MDB_stat ms;
	int rc;

	if ((rc = mdb_stat(txn, sa->d->queue, &ms)) != 0)
		return mlc_err_set(err, "queue stat: %s", mdb_strerror(rc));
	sa->backlog = ms.ms_entries;
	if ((rc = mdb_stat(txn, sa->d->dead, &ms)) != 0)
		return mlc_err_set(err, "dead stat: %s", mdb_strerror(rc));
	sa->dead = ms.ms_entries;
	if (sa->per_channel != NULL) {
		/* Queue keys are channel NUL be64(seq): count per channel. Every
		 * known channel is listed, so a drained one shows 0. */
		MDB_cursor *cur;
		MDB_val k, v;

		for (size_t i = 0; i < sa->d->n_chans &&
		    json_object_size(sa->per_channel) < STATS_MAX_CHANNELS; i++)
			json_object_set_new(sa->per_channel, sa->d->chans[i].name,
			    json_integer(0));
		if ((rc = mdb_cursor_open(txn, sa->d->queue, &cur)) != 0)
			return mlc_err_set(err, "queue cursor: %s", mdb_strerror(rc));
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			char name[128];
			size_t n = strnlen(k.mv_data, k.mv_size);
			json_t *c;

			if (n + 9 != k.mv_size || n >= sizeof(name))
				continue;
			memcpy(name, k.mv_data, n);
			name[n] = '\0';
			c = json_object_get(sa->per_channel, name);
			if (c != NULL)
				json_integer_set(c, json_integer_value(c) + 1);
			else if (json_object_size(sa->per_channel) < STATS_MAX_CHANNELS)
				json_object_set_new(sa->per_channel, name, json_integer(1));
		}
		mdb_cursor_close(cur);
	}
	return 0;
}

/* When a backlog appears, every STATS_EVERY_MS while it lasts, and once
 * when it drains. */
static void
stats_tick(struct dispatcher *d, int64_t now)
{
	struct stat_arg sa = { d, 0, 0, NULL };
	struct mlc_auditb b;
	char *per_channel;
	struct mlc_err err;
	int64_t channels = 0, busy = 0;
	int starting, draining, early;

	for (size_t i = 0; i < d->n_chans; i++) {
		if (d->chans[i].has_queued)
			channels++;
		if (d->chans[i].h != NULL)
			busy++;
	}
	starting = d->last_backlog == 0 && channels > 0;
	draining = d->last_backlog > 0 && channels == 0 && busy == 0;
	early = now < d->next_stats;
	if (early && !starting && !draining)
		return;
	sa.per_channel = json_object();
	if (mlc_store_read(d->st, stat_txn, &sa, &err) != 0) {
		mlc_error("%s", err.msg);
		json_decref(sa.per_channel);
		return;
	}
	per_channel = json_dumps(sa.per_channel, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(sa.per_channel);
	/* Not what it seemed (a channel not yet found empty): the timer
	 * will tell. */
	if ((early && ((starting && sa.backlog == 0) || (draining && sa.backlog != 0))) ||
	    (!early && sa.backlog == 0 && d->last_backlog == 0)) {
		free(per_channel);
		if (!early)
			d->next_stats = now + STATS_EVERY_MS;
		return;
	}
	d->next_stats = now + STATS_EVERY_MS;
	d->last_backlog = sa.backlog;
	mlc_auditb_init(&b, "stats");
	mlc_auditb_str(&b, "process", d->name);
	mlc_auditb_int(&b, "backlog", (int64_t)sa.backlog);
	mlc_auditb_int(&b, "channels", channels);
	mlc_auditb_str(&b, "channel_backlog", per_channel);
	free(per_channel);
	mlc_auditb_int(&b, "dead_letters", (int64_t)sa.dead);
	mlc_auditb_int(&b, "ratelimited_total", (int64_t)d->ratelimited);
	mlc_auditb_int(&b, "retries_total", (int64_t)d->retries);
	mlc_auditb_int(&b, "posted_total", (int64_t)d->posted);
	mlc_auditb_emit(&b, d->st, d->to_auditor);
}

/* ---- The process ---- */

static void
lifecycle(struct dispatcher *d, const char *kind, const struct mlc_drain *dr)
{
	struct mlc_auditb b;

	mlc_auditb_init(&b, kind);
	mlc_auditb_str(&b, "process", d->name);
	if (dr != NULL)
		mlc_drain_report(dr, &b);
	mlc_auditb_emit(&b, d->st, d->to_auditor);
}

/* ---- SIGTERM and SIGHUP ---- */

/* Work of our own still in flight: requests awaiting Slack's answer and
 * outcomes not yet committed. */
static uint64_t
drain_inflight(const struct dispatcher *d)
{
	uint64_t n = 0;

	for (size_t i = 0; i < d->n_chans; i++)
		n += d->chans[i].h != NULL || d->chans[i].done_pending;
	return n;
}

/* SIGTERM: a post whose attempt was recorded ahead of time (PREPARE_MS)
 * but never sent gets its attempt record back as it was, so that the next
 * start does not take it for one in doubt. */
static int
unprepare_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct dispatcher *d = arg;

	for (size_t i = 0; i < d->n_chans; i++) {
		struct chan *c = &d->chans[i];
		const char *id = c->cur.u.msg.id;
		char cnt[48];
		size_t n;

		if (!c->prepared || !c->loaded || c->h != NULL)
			continue;
		if (c->attempts == 0) {
			if (mlc_store_del(txn, d->attempt, id, strlen(id), err) != 0)
				return -1;
			continue;
		}
		n = (size_t)snprintf(cnt, sizeof(cnt), "%d %lld", c->attempts,
		    (long long)c->first_ms);
		if (mlc_store_put(txn, d->attempt, id, strlen(id), cnt, n, err) != 0)
			return -1;
	}
	return 0;
}

static void
drain_begin(struct dispatcher *d)
{
	struct mlc_err err;

	if (mlc_store_write(d->st, unprepare_txn, d, &err) != 0) {
		/* Harmless: the next start looks these up in Slack first. */
		mlc_warn("cannot take back attempts recorded ahead: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < d->n_chans; i++)
		if (d->chans[i].h == NULL)
			d->chans[i].prepared = 0;
}

/* Tokens and the Slack URL are read at start; pacing and retries reload. */
static const struct mlc_cfg_field disp_fixed[] = {
	MLC_CFG_FIELD("slack.api_url", slack.api_url),
	MLC_CFG_FIELD("slack.token_env", slack.token_env),
	MLC_CFG_FIELD("slack.token_file", slack.token_file),
	MLC_CFG_FIELD("slack.refresh_token_env", slack.refresh_token_env),
	MLC_CFG_FIELD("slack.refresh_token_file", slack.refresh_token_file),
	MLC_CFG_FIELD("slack.client_id", slack.client_id),
	MLC_CFG_FIELD("slack.client_secret_env", slack.client_secret_env),
	MLC_CFG_FIELD("slack.client_secret_file", slack.client_secret_file),
};

static void
reload(struct dispatcher *d)
{
	struct mlc_auditb b;
	struct mlc_err err;
	char restart[512];
	int rc = mlc_proc_reload(d->name, &d->cfg, disp_fixed,
	    sizeof(disp_fixed) / sizeof(disp_fixed[0]), restart, sizeof(restart), &err);

	if (rc == 0)
		d->interval_ms = pace_interval(&d->cfg);
	mlc_proc_reload_audit(&b, d->name, rc, restart, &err);
	mlc_auditb_emit(&b, d->st, d->to_auditor);
}

static int
parse_arg(int argc, char **argv, int i, void *arg)
{
	struct dispatcher *d = arg;

	if (strcmp(argv[i], "--index") == 0 && i + 1 < argc) {
		char *end;
		unsigned long v = strtoul(argv[i + 1], &end, 10);
		if (*end != '\0' || v >= MLC_CFG_MAX_DISPATCHERS)
			mlc_proc_die("--index must be 0..%d", MLC_CFG_MAX_DISPATCHERS - 1);
		d->index = v;
		return 2;
	}
	return -1;
}

static int
has_queued(const struct dispatcher *d)
{
	for (size_t i = 0; i < d->n_chans; i++)
		if (d->chans[i].has_queued)
			return 1;
	return 0;
}

static int
sock_readable(void *s)
{
	int ev = 0;
	size_t len = sizeof(ev);

	return zmq_getsockopt(s, ZMQ_EVENTS, &ev, &len) == 0 && (ev & ZMQ_POLLIN);
}

/* The bot token, and with rotation the refresh token and client secret;
 * a pair kept by an earlier refresh wins over the configured one (Slack
 * revoked the configured refresh token when it answered that refresh). */
static void
load_tokens(struct dispatcher *d)
{
	const struct mlc_cfg_slack *sl = &d->cfg.slack;
	struct mlc_err err;
	char *acc = NULL, *ref = NULL;
	int64_t exp = 0;
	int r;

	d->token = mlc_cfg_secret(sl->token_env, sl->token_file, "slack bot token", &err);
	if (d->token == NULL)
		mlc_proc_die("%s", err.msg);
	if (sl->refresh_token_env[0] == '\0' && sl->refresh_token_file[0] == '\0')
		return;
	d->refresh = mlc_cfg_secret(sl->refresh_token_env, sl->refresh_token_file,
	    "slack refresh token", &err);
	if (d->refresh == NULL)
		mlc_proc_die("%s", err.msg);
	d->client_secret = mlc_cfg_secret(sl->client_secret_env, sl->client_secret_file,
	    "slack client secret", &err);
	if (d->client_secret == NULL)
		mlc_proc_die("%s", err.msg);
	r = slack_tokens_load(d->tokens, &acc, &ref, &exp, &err);
	if (r < 0)
		mlc_proc_die("%s", err.msg);
	if (r == 1) {
		explicit_bzero(d->token, strlen(d->token));
		free(d->token);
		explicit_bzero(d->refresh, strlen(d->refresh));
		free(d->refresh);
		d->token = acc;
		d->refresh = ref;
		mlc_info("using the bot token from the last refresh");
	}
}

static void
free_secret(char **s)
{
	if (*s != NULL) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

int
main(int argc, char **argv)
{
	struct dispatcher d;
	struct mlc_custody_opts co;
	struct mlc_err err;
	char dir[512];
	int64_t next_prune = 0, last_rx = 0;
	struct mlc_drain dr;
	int drain_started = 0;
	const char *idx_env = getenv("MLC_DISPATCHER_INDEX");

	memset(&d, 0, sizeof(d));
	if (idx_env != NULL && idx_env[0] != '\0')
		d.index = strtoul(idx_env, NULL, 10);
	mlc_proc_start("dispatcher", argc, argv, &d.cfg, parse_arg, &d, "[--index N]");
	if (d.index >= d.cfg.ep.n_dispatchers)
		mlc_proc_die("dispatcher index %zu but endpoints.dispatchers has %zu entries",
		    d.index, d.cfg.ep.n_dispatchers);
	mlc_topo_dispatcher_name(d.index, d.name, sizeof(d.name));
	mlc_log_init(d.name, MLC_LOG_INFO);
	{
		enum mlc_log_level lvl;
		if (mlc_log_level_parse(d.cfg.log_level, &lvl) == 0)
			mlc_log_init(d.name, lvl);
	}
	d.interval_ms = pace_interval(&d.cfg);
	srand((unsigned)mlc_time_now_ms() ^ (unsigned)d.index);
	d.chans = calloc(MAX_CHANNELS, sizeof(*d.chans));
	d.post_q = calloc(MAX_CHANNELS, sizeof(*d.post_q));
	d.done_q = calloc(MAX_CHANNELS, sizeof(*d.done_q));
	if (d.chans == NULL || d.post_q == NULL || d.done_q == NULL)
		mlc_proc_die("out of memory");
	mlc_topo_custody_opts(&d.cfg, &co);
	if (mlc_topo_state_path(&d.cfg, d.name, dir, sizeof(dir)) != 0)
		mlc_proc_die("state_dir too long");
	if (mlc_store_open(&d.st, dir, 0, &err) != 0 ||
	    mlc_store_dbi(d.st, "queue", 0, &d.queue, &err) != 0 ||
	    mlc_store_dbi(d.st, "attempt", 0, &d.attempt, &err) != 0 ||
	    mlc_store_dbi(d.st, "dead", 0, &d.dead, &err) != 0 ||
	    mlc_store_dbi(d.st, "chanid", 0, &d.chanid, &err) != 0 ||
	    slack_tokens_open(&d.tokens, d.st, &d.cfg, d.name, &err) != 0 ||
	    mlc_store_read(d.st, scan_txn, &d, &err) != 0)
		mlc_proc_die("%s", err.msg);
	load_tokens(&d);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	d.multi = curl_multi_init();
	curl_multi_setopt(d.multi, CURLMOPT_MAXCONNECTS, (long)MAX_CHANNELS);
	d.zctx = zmq_ctx_new();
	d.ack_sock = mlc_zmq_pull_bind(d.zctx, d.cfg.ep.dispatchers[d.index].ack,
	    d.cfg.ep.bind_host, d.cfg.max_frame_bytes, &err);
	if (d.ack_sock == NULL ||
	    mlc_outbox_open(&d.to_auditor, d.st, d.zctx, "auditor", d.cfg.ep.auditor_in,
	    &co, &err) != 0 ||
	    mlc_inbox_open(&d.in, d.st, d.zctx, d.name, d.cfg.ep.dispatchers[d.index].in,
	    d.cfg.ep.bind_host, &co, mlc_topo_ack_endpoint, &d.cfg, &err) != 0)
		mlc_proc_die("%s", err.msg);

	mlc_info("started: posting to %s, %zu channels with queued messages",
	    d.cfg.slack.api_url, d.n_chans);
	lifecycle(&d, "start", NULL);
	startup_check(&d);
	mlc_drain_init(&dr, d.cfg.drain_timeout_ms, 2 * d.cfg.resend_after_ms);
	/* Frames that arrived a moment ago keep the drain going, so that a
	 * formatter draining at the same time can hand its last ones on. */
	while (mlc_drain_step(&dr, mlc_proc_stop, drain_inflight(&d),
	    mlc_time_mono_ms() - last_rx < DRAIN_QUIET_MS, mlc_outbox_pending(d.to_auditor),
	    mlc_time_mono_ms())) {
		/* -1: nothing due, sleep until curl or a socket needs us. */
		int64_t now = mlc_time_mono_ms(), timeout = -1;
		struct curl_waitfd wfd[3];
		int running = 0;
		size_t fdlen = sizeof(int);
		int fd;

		if (mlc_proc_hup) {
			/* A reload: channels refused before get another chance. */
			mlc_proc_hup = 0;
			reload(&d);
			for (size_t i = 0; i < d.n_chans; i++)
				d.chans[i].blocked = 0;
			mlc_info("SIGHUP: channels blocked by channel errors are open again");
		}
		if (mlc_drain_active(&dr) && !drain_started) {
			drain_started = 1;
			drain_begin(&d);
		}
		/* Do what is due on every free channel with queued messages
		 * (draining: nothing new starts, what is in flight finishes). */
		for (size_t i = 0; i < d.n_chans && !drain_started; i++) {
			struct chan *c = &d.chans[i];
			int64_t at;

			if (c->h != NULL || !c->has_queued || c->done_pending)
				continue;
			at = chan_step(&d, c, now);
			if (at >= 0)
				timeout = mlc_time_sooner(timeout, mlc_time_until(at, now));
		}
		flush_posts(&d, now);
		/* Outcomes decided so far are committed with those collected
		 * after the poll, in one transaction per turn (each commit is two
		 * disk flushes); the poll does not wait while some are pending. */
		curl_multi_perform(d.multi, &running);
		collect(&d);
		stats_tick(&d, now);
		if (mlc_outbox_pump(d.to_auditor, now, &err) < 0)
			mlc_error("%s", err.msg);
		timeout = mlc_time_sooner(timeout, mlc_outbox_due_in(d.to_auditor, now));
		/* The stats timer runs only while there is a backlog. */
		if (d.last_backlog > 0 || has_queued(&d))
			timeout = mlc_time_sooner(timeout, mlc_time_until(d.next_stats, now));
		timeout = mlc_time_sooner(timeout, mlc_time_until(next_prune, mlc_time_now_ms()));
		if (d.n_done > 0 || sock_readable(mlc_inbox_socket(d.in)) ||
		    sock_readable(d.ack_sock))
			timeout = 0;
		if (drain_started) /* notice at once when the drain is over */
			timeout = mlc_time_sooner(timeout, DRAIN_TICK_MS);
		/* Sleep until curl, a ZeroMQ socket or a timer needs us. */
		zmq_getsockopt(mlc_inbox_socket(d.in), ZMQ_FD, &fd, &fdlen);
		wfd[0].fd = fd;
		wfd[0].events = CURL_WAIT_POLLIN;
		wfd[0].revents = 0;
		fdlen = sizeof(int);
		zmq_getsockopt(d.ack_sock, ZMQ_FD, &fd, &fdlen);
		wfd[1].fd = fd;
		wfd[1].events = CURL_WAIT_POLLIN;
		wfd[1].revents = 0;
		wfd[2].fd = mlc_proc_wake_fd();
		wfd[2].events = CURL_WAIT_POLLIN;
		wfd[2].revents = 0;
		curl_multi_poll(d.multi, wfd, 3, timeout < 0 || timeout > INT_MAX ? INT_MAX :
		    (int)timeout, NULL);
		mlc_proc_wake_drain();
		curl_multi_perform(d.multi, &running);
		collect(&d);
		flush_done(&d);
		while (sock_readable(mlc_inbox_socket(d.in))) {
			last_rx = mlc_time_mono_ms();
			if (mlc_inbox_drain(d.in, BATCH, on_frame, on_reject, &d, &err) < 0) {
				mlc_error("%s", err.msg);
				break;
			}
		}
		if (sock_readable(d.ack_sock) &&
		    mlc_custody_take_acks(d.ack_sock, &d.to_auditor, 1, mlc_time_mono_ms(),
		    &err) < 0)
			mlc_error("%s", err.msg);
		if (mlc_time_now_ms() >= next_prune) {
			if (mlc_inbox_prune(d.in, mlc_time_now_ms(), &err) < 0)
				mlc_error("%s", err.msg);
			next_prune = mlc_time_now_ms() + 3600 * 1000;
		}
	}
	mlc_info("stopping: %llu posted, %llu failed", (unsigned long long)d.posted,
	    (unsigned long long)d.failed);
	/* Past shutdown.drain_timeout, requests still in flight are abandoned;
	 * their attempts are recorded, so the next start looks in Slack before
	 * posting them again. */
	for (size_t i = 0; i < d.n_chans; i++) {
		if (d.chans[i].h != NULL) {
			curl_multi_remove_handle(d.multi, d.chans[i].h);
			curl_easy_cleanup(d.chans[i].h);
			req_free(&d.chans[i]);
		}
		free(d.chans[i].resp);
		mlc_frame_free(&d.chans[i].cur);
	}
	lifecycle(&d, "stop", &dr);
	mlc_proc_final_flush(d.to_auditor, d.ack_sock, &d.to_auditor, 1, FINAL_FLUSH_MS);
	curl_multi_cleanup(d.multi);
	mlc_inbox_close(&d.in);
	mlc_outbox_close(&d.to_auditor);
	mlc_zmq_close(&d.ack_sock);
	zmq_ctx_term(d.zctx);
	slack_tokens_close(&d.tokens);
	mlc_store_close(&d.st);
	free(d.chans);
	free(d.post_q);
	free(d.done_q);
	free_secret(&d.token);
	free_secret(&d.refresh);
	free_secret(&d.client_secret);
	curl_global_cleanup();
	return 0;
}
