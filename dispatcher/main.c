/*
 * mlc-dispatcher: posts messages to Slack, at most one per second per
 * channel, retrying what Slack allows, never losing one.
 *
 * Messages from the formatter are queued in LMDB per channel ("queue":
 * channel NUL be64(seq) -> frame), in arrival order. Every channel progresses
 * on its own: one request in flight per channel, all channels in parallel
 * over libcurl's multi interface with keep-alive, so a slow or rate-limited
 * channel never delays another (the Node SDK pauses every channel on one
 * 429; pitfalls.md #12).
 *
 * Before a request is sent, the attempt is recorded durably ("attempt":
 * msg id -> count). If the process dies with an attempt recorded and the
 * message still queued, nobody knows whether Slack stored it: the message is
 * posted again and its audit record says in_doubt (the Slack delivery work
 * resolves such doubts with conversations.history). The same holds after a
 * timeout or reset once the request was sent.
 *
 * A process owns the channels the formatter hashes to it (mlc_topo), so
 * pacing holds across dispatcher replicas.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
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
#include "slack_api.h"

#define BATCH 512
#define MAX_CHANNELS 4096
#define MAX_RESPONSE (1024 * 1024)
#define MAX_BACKOFF_MS 60000
/* Requests on one channel start min_interval + PACE_MARGIN_MS apart: the
 * margin absorbs the jitter between our start and Slack's receipt, so that
 * two requests are never received closer than min_interval. */
#define PACE_MARGIN_MS 15

struct chan {
	char name[128];
	int64_t next_at;        /* monotonic ms before which we do not post */
	CURL *h;                /* request in flight, or NULL */
	struct curl_slist *hdrs;
	char *resp;
	size_t resp_len;
	long retry_after_s;
	struct mlc_frame cur;   /* the message in flight */
	int attempts;           /* attempts of the head message so far */
	int in_doubt;           /* an earlier attempt of the head may have posted */
	int64_t started;
	int has_queued;         /* 0 once we found the queue empty */
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
	MDB_dbi queue, attempt, dead;
	uint64_t seq;
	CURLM *multi;
	char *token;
	char post_url[512];
	struct chan *chans;
	size_t n_chans;
	int halted;             /* a token error stopped all posting */
	uint64_t posted, failed;
};

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

/* ---- Posting ---- */

struct head_arg {
	struct dispatcher *d;
	struct chan *c;
	int found;
	int attempts_before;
};

/* Loads the head message of c's queue and records the attempt durably. */
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
	char cnt[16];
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
	ha->attempts_before = 0;
	if (r == 1 && av.mv_size < sizeof(cnt)) {
		memcpy(cnt, av.mv_data, av.mv_size);
		cnt[av.mv_size] = '\0';
		ha->attempts_before = atoi(cnt);
	}
	n = (size_t)snprintf(cnt, sizeof(cnt), "%d", ha->attempts_before + 1);
	if (mlc_store_put(txn, d->attempt, c->cur.u.msg.id, strlen(c->cur.u.msg.id),
	    cnt, n, err) != 0)
		return -1;
	ha->found = 1;
	return 0;
}

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

static size_t
on_header(char *buf, size_t size, size_t nitems, void *arg)
{
	struct chan *c = arg;
	size_t n = size * nitems;

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

static void chan_finish(struct dispatcher *d, struct chan *c, const struct slack_result *res);

static int
start_post(struct dispatcher *d, struct chan *c)
{
	struct head_arg ha = { d, c, 0, 0 };
	struct mlc_http_opts o = {
		.timeout_ms = d->cfg.slack.timeout_ms,
		.ca_file = d->cfg.slack.ca_file[0] ? d->cfg.slack.ca_file : NULL,
		.max_body = MAX_RESPONSE,
	};
	struct mlc_err err;
	char auth[600];
	char *body;

	if (mlc_store_write(d->st, head_txn, &ha, &err) != 0) {
		mlc_error("channel %s: %s", c->name, err.msg);
		c->next_at = mlc_time_mono_ms() + 1000;
		return -1;
	}
	if (!ha.found) {
		c->has_queued = 0;
		return 0;
	}
	/* An attempt recorded before this one that we did not see finish
	 * (we crashed, or it timed out): Slack may hold the message. */
	if (ha.attempts_before > c->attempts)
		c->in_doubt = 1;
	c->attempts = ha.attempts_before + 1;
	body = slack_post_body(&c->cur.u.msg);
	if (body == NULL) {
		struct slack_result res;

		memset(&res, 0, sizeof(res));
		res.outcome = SLACK_MESSAGE_ERROR;
		snprintf(res.error, sizeof(res.error), "invalid_blocks_json");
		chan_finish(d, c, &res);
		return 0;
	}
	c->h = curl_easy_init();
	if (c->h == NULL || mlc_http_easy_setup(c->h, &o, &err) != 0) {
		free(body);
		if (c->h)
			curl_easy_cleanup(c->h);
		c->h = NULL;
		c->next_at = mlc_time_mono_ms() + 1000;
		return -1;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->token);
	c->hdrs = curl_slist_append(NULL, auth);
	c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json; charset=utf-8");
	memset(auth, 0, sizeof(auth));
	curl_easy_setopt(c->h, CURLOPT_URL, d->post_url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(c->h, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
	free(body);
	c->resp_len = 0;
	c->retry_after_s = -1;
	c->started = mlc_time_mono_ms();
	/* Pace from the start of each request: 1/s means starts 1 s apart. */
	c->next_at = c->started + d->cfg.slack.min_interval_ms +
	    (d->cfg.slack.min_interval_ms > 0 ? PACE_MARGIN_MS : 0);
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

struct done_arg {
	struct dispatcher *d;
	struct chan *c;
	const struct slack_result *res;
	const char *final;      /* "posted", "failed", or NULL (stays queued) */
};

static int
done_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct done_arg *da = arg;
	struct dispatcher *d = da->d;
	const struct mlc_message *m = &da->c->cur.u.msg;
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
	mlc_auditb_int(&b, "attempts", da->c->attempts);
	mlc_auditb_str(&b, "outcome", da->final ? da->final : slack_outcome_name(da->res->outcome));
	if (da->res->ts[0])
		mlc_auditb_str(&b, "slack_ts", da->res->ts);
	if (da->res->error[0])
		mlc_auditb_str(&b, "error", da->res->error);
	if (da->c->in_doubt)
		mlc_auditb_int(&b, "in_doubt", 1);
	if (da->final == NULL) {
		/* Not final: only an audit record of the failed attempt. */
		return mlc_auditb_put(&b, d->to_auditor, txn, err);
	}
	if (strcmp(da->final, "failed") == 0) {
		char *buf = NULL;
		size_t len = 0;

		if (mlc_proto_encode(&da->c->cur, &buf, &len, err) != 0) {
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

static void
alert(struct dispatcher *d, const char *what, const char *error)
{
	struct mlc_auditb b;

	mlc_error("%s (%s)", what, error);
	mlc_auditb_init(&b, "alert");
	mlc_auditb_str(&b, "where", "slack");
	mlc_auditb_str(&b, "error", error);
	mlc_auditb_str(&b, "message", what);
	mlc_auditb_emit(&b, d->st, d->to_auditor);
}

static void
chan_finish(struct dispatcher *d, struct chan *c, const struct slack_result *res)
{
	struct done_arg da = { d, c, res, NULL };
	int64_t now = mlc_time_mono_ms();
	struct mlc_err err;

	switch (res->outcome) {
	case SLACK_POSTED:
		da.final = "posted";
		break;
	case SLACK_RATELIMITED:
		c->next_at = now + res->retry_after_s * 1000;
		mlc_info("channel %s: rate limited, waiting %ld s", c->name, res->retry_after_s);
		break;
	case SLACK_RETRY_DOUBT:
		c->in_doubt = 1;
		/* fall through */
	case SLACK_RETRY:
		if (c->attempts >= d->cfg.slack.max_attempts)
			da.final = "failed";
		else
			c->next_at = now + backoff_ms(c->attempts);
		break;
	case SLACK_TOKEN_ERROR:
		if (!d->halted)
			alert(d, "Slack rejected the bot token; posting stopped for every "
			    "channel until the token is fixed and the dispatcher restarted "
			    "(check slack.token_env / slack.token_file)", res->error);
		d->halted = 1;
		break;
	case SLACK_DOUBT_FATAL:
		c->in_doubt = 1;
		da.final = "failed";
		break;
	case SLACK_CHANNEL_ERROR:
	case SLACK_MESSAGE_ERROR:
		da.final = "failed";
		break;
	}
	if (mlc_store_write(d->st, done_txn, &da, &err) != 0) {
		mlc_error("channel %s: cannot record the outcome: %s", c->name, err.msg);
		c->next_at = now + 1000;
		return;
	}
	if (da.final != NULL) {
		if (strcmp(da.final, "posted") == 0) {
			d->posted++;
			mlc_debug("posted %s to %s ts=%s", c->cur.u.msg.id, c->name, res->ts);
		} else {
			d->failed++;
			mlc_warn("message %s to %s failed: %s (kept as a dead letter)",
			    c->cur.u.msg.id, c->name, res->error);
		}
		c->attempts = 0;
		c->in_doubt = 0;
		mlc_frame_free(&c->cur);
	} else if (res->outcome != SLACK_TOKEN_ERROR) {
		mlc_info("channel %s: attempt %d of %s: %s (%s), will retry", c->name,
		    c->attempts, c->cur.u.msg.id, slack_outcome_name(res->outcome), res->error);
	}
}

static void
collect(struct dispatcher *d)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
		struct slack_result res;
		struct chan *c = NULL;
		long status = 0;
		curl_off_t up = 0, total = 0;
		CURL *h = msg->easy_handle;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&c);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
		curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &total);
		slack_classify(msg->data.result == CURLE_OK,
		    /* Any byte of the body sent: the request may have arrived. */
		    msg->data.result != CURLE_COULDNT_CONNECT &&
		    msg->data.result != CURLE_COULDNT_RESOLVE_HOST && total > 0,
		    curl_easy_strerror(msg->data.result), status, c->resp, c->resp_len,
		    c->retry_after_s, &res);
		curl_multi_remove_handle(d->multi, h);
		curl_easy_cleanup(h);
		curl_slist_free_all(c->hdrs);
		c->hdrs = NULL;
		c->h = NULL;
		chan_finish(d, c, &res);
		free(c->resp);
		c->resp = NULL;
		c->resp_len = 0;
	}
}

static void
lifecycle(struct dispatcher *d, const char *kind)
{
	struct mlc_auditb b;

	mlc_auditb_init(&b, kind);
	mlc_auditb_str(&b, "process", d->name);
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
sock_readable(void *s)
{
	int ev = 0;
	size_t len = sizeof(ev);

	return zmq_getsockopt(s, ZMQ_EVENTS, &ev, &len) == 0 && (ev & ZMQ_POLLIN);
}

int
main(int argc, char **argv)
{
	struct dispatcher d;
	struct mlc_custody_opts co;
	struct mlc_err err;
	char dir[512];
	int64_t next_prune = 0;
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
	d.token = mlc_cfg_secret(d.cfg.slack.token_env, d.cfg.slack.token_file,
	    "slack bot token", &err);
	if (d.token == NULL)
		mlc_proc_die("%s", err.msg);
	snprintf(d.post_url, sizeof(d.post_url), "%s/chat.postMessage", d.cfg.slack.api_url);
	srand((unsigned)mlc_time_now_ms() ^ (unsigned)d.index);
	d.chans = calloc(MAX_CHANNELS, sizeof(*d.chans));
	if (d.chans == NULL)
		mlc_proc_die("out of memory");
	mlc_topo_custody_opts(&d.cfg, &co);
	if (mlc_topo_state_path(&d.cfg, d.name, dir, sizeof(dir)) != 0)
		mlc_proc_die("state_dir too long");
	if (mlc_store_open(&d.st, dir, 0, &err) != 0 ||
	    mlc_store_dbi(d.st, "queue", 0, &d.queue, &err) != 0 ||
	    mlc_store_dbi(d.st, "attempt", 0, &d.attempt, &err) != 0 ||
	    mlc_store_dbi(d.st, "dead", 0, &d.dead, &err) != 0 ||
	    mlc_store_read(d.st, scan_txn, &d, &err) != 0)
		mlc_proc_die("%s", err.msg);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	d.multi = curl_multi_init();
	curl_multi_setopt(d.multi, CURLMOPT_MAXCONNECTS, 512L);
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
	lifecycle(&d, "start");
	while (!mlc_proc_stop) {
		int64_t now = mlc_time_mono_ms(), timeout = 1000, dd;
		struct curl_waitfd wfd[2];
		int running = 0;
		size_t fdlen = sizeof(int);
		int fd;

		/* Start a post on every channel that is free and due. */
		if (!d.halted) {
			for (size_t i = 0; i < d.n_chans; i++) {
				struct chan *c = &d.chans[i];

				if (c->h != NULL || !c->has_queued)
					continue;
				if (now >= c->next_at)
					start_post(&d, c);
				if (c->h == NULL && c->has_queued && c->next_at > now &&
				    c->next_at - now < timeout)
					timeout = c->next_at - now;
			}
		}
		curl_multi_perform(d.multi, &running);
		collect(&d);
		if (mlc_outbox_pump(d.to_auditor, now, &err) < 0)
			mlc_error("%s", err.msg);
		dd = mlc_outbox_due_in(d.to_auditor, now);
		if (dd >= 0 && dd < timeout)
			timeout = dd;
		if (sock_readable(mlc_inbox_socket(d.in)) || sock_readable(d.ack_sock))
			timeout = 0;
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
		curl_multi_poll(d.multi, wfd, 2, (int)(timeout < 0 ? 0 : timeout), NULL);
		curl_multi_perform(d.multi, &running);
		collect(&d);
		while (sock_readable(mlc_inbox_socket(d.in))) {
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
	/* In-flight requests are abandoned; their attempts are recorded, so
	 * the next start posts them again marked in doubt. */
	for (size_t i = 0; i < d.n_chans; i++) {
		if (d.chans[i].h != NULL) {
			curl_multi_remove_handle(d.multi, d.chans[i].h);
			curl_easy_cleanup(d.chans[i].h);
			curl_slist_free_all(d.chans[i].hdrs);
		}
		free(d.chans[i].resp);
		mlc_frame_free(&d.chans[i].cur);
	}
	lifecycle(&d, "stop");
	mlc_outbox_pump(d.to_auditor, mlc_time_mono_ms(), &err);
	curl_multi_cleanup(d.multi);
	mlc_inbox_close(&d.in);
	mlc_outbox_close(&d.to_auditor);
	mlc_zmq_close(&d.ack_sock);
	zmq_ctx_term(d.zctx);
	mlc_store_close(&d.st);
	free(d.chans);
	free(d.token);
	curl_global_cleanup();
	return 0;
}
