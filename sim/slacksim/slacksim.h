/*
 * slacksim: a Slack Web API simulator for the demo and the end-to-end tests.
 *
 * It answers POST /api/<method> the way slack.com does (HTTP 200 with
 * {"ok":false,"error":...} for platform errors, 429 + Retry-After when a
 * (token, channel) pair posts too fast) and keeps what it was sent so tests
 * can ask afterwards: GET /sim/messages, /sim/calls, /sim/stats, POST
 * /sim/reset. See /work/shared/reference/slack.md section 6 for what it must
 * eventually reproduce.
 *
 * The modules, each behind its own prefix:
 *
 *   main.c       command line, the libmicrohttpd daemon, body buffering,
 *                signals. Knows HTTP, not Slack.
 *   api.c        sim_api_*: one request in, one response out. Content types,
 *                auth, the method table, Block Kit checks, the /sim routes.
 *                Fault injection (per-channel errors, 5xx, drops) belongs here,
 *                between "request understood" and "reply built".
 *   store.c      sim_store_*: channels (name <-> ID), stored messages, the
 *                call log and counters. Thread-safe; bounded.
 *   ratelimit.c  sim_rl_*: token buckets per (token, channel) on an injected
 *                millisecond clock, so the unit test needs no sleeping.
 *
 * Threads: libmicrohttpd runs one thread per connection, so the store and the
 * rate limiter each take their own mutex; api.c holds no state of its own.
 */
#ifndef SLACKSIM_H
#define SLACKSIM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mlc_err.h"

/* Bounds: every byte from a client is bounded, and so is what we keep. */
#define SIM_MAX_BODY          (1024u * 1024u)  /* request body; else 413 */
#define SIM_MAX_MESSAGES      1000000u         /* stored messages; oldest dropped */
#define SIM_MAX_MESSAGE_BYTES (512u << 20)     /* bytes of stored text/blocks/metadata */
#define SIM_MAX_CALLS         200000u          /* call log entries; oldest dropped */
#define SIM_MAX_CHANNELS      100000u          /* auto-created channels */
#define SIM_MAX_RL_BUCKETS    200000u          /* live rate-limit buckets */

#define SIM_CHANNEL_NAME_MAX  80   /* Slack's limit on a channel name */
#define SIM_CHANNEL_ID_MAX    23   /* "C" + up to 22 chars; ours are 11 */
#define SIM_TS_LEN            17   /* "1503435956.000247" */
#define SIM_TEXT_MAX_CHARS    40000u

#define SIM_TEAM_ID   "T0SIMTEAM1"
#define SIM_TEAM_NAME "Sim Team"
#define SIM_BOT_USER  "mlcbot"
#define SIM_USER_ID   "U0SIMBOT01"
#define SIM_BOT_ID    "B0SIMBOT01"
#define SIM_TEAM_URL  "https://sim.slack.com/"

/* ---- ratelimit.c: token buckets ------------------------------------------ */

struct sim_rl;

/*
 * A table of token buckets, one per key, each holding at most `burst` tokens
 * and gaining one every `interval_ms`. A key never seen starts full.
 * interval_ms == 0 disables limiting (every take succeeds). burst 0 is
 * treated as 1. Returns NULL on allocation failure.
 */
struct sim_rl *sim_rl_new(unsigned burst, uint64_t interval_ms);
/* Frees the table and sets *rlp to NULL; NULL-safe. */
void sim_rl_destroy(struct sim_rl **rlp);
/*
 * Takes one token from the bucket of `key` at time now_ms (any monotonic
 * millisecond clock; it must not go backwards). Returns 1 when allowed, 0
 * when the bucket is empty (then *retry_ms = milliseconds until the next
 * token, >= 1), -1 when out of memory (callers treat that as allowed: the
 * simulator prefers not to invent 429s). Thread-safe.
 */
int sim_rl_take(struct sim_rl *rl, const char *key, uint64_t now_ms,
    uint64_t *retry_ms);
/* Forgets every bucket (all keys start full again). */
void sim_rl_reset(struct sim_rl *rl);
/* Retry-After seconds for a wait of retry_ms: rounded up, at least 1. */
unsigned long sim_rl_retry_after_s(uint64_t retry_ms);

/* ---- store.c: channels, messages, calls ---------------------------------- */

struct sim_store;

struct sim_channel_ref {
	char id[SIM_CHANNEL_ID_MAX + 1];
	char name[SIM_CHANNEL_NAME_MAX + 1];
};

enum sim_resolve {
	SIM_RESOLVE_OK = 0,
	SIM_RESOLVE_NOT_FOUND,   /* unknown ID, or a name we will not create */
	SIM_RESOLVE_FULL,        /* SIM_MAX_CHANNELS reached */
};

/* One line of the call log (GET /sim/calls). Strings are truncated copies. */
struct sim_call {
	char method[48];
	unsigned status;
	int ok;
	char error[48];     /* "" = none */
	char channel[32];   /* resolved ID, else the raw argument; "" = none */
	uint64_t at_ms;     /* wall clock, Unix ms */
	/* Request headers but Authorization, as compact JSON ("{}" if they
	 * did not fit), and a summary of the parsed body. */
	char headers[512];
	char msg_id[160];   /* metadata.event_payload.msg_id, "" = none */
	char fault[32];     /* fault injected ("error", "reset", ...), "" = none */
	unsigned text_chars;
	unsigned n_blocks;
	int has_metadata;
	int dropped;        /* the connection was closed without an answer */
};

/* What to store for one chat.postMessage; JSON fields are compact JSON text
 * or NULL. */
struct sim_post {
	const char *text;
	const char *blocks;
	const char *metadata;
};

/* `print` != 0: echo each stored message to stdout as "[#name] text". */
struct sim_store *sim_store_new(int print, struct mlc_err *err);
void sim_store_destroy(struct sim_store **stp);
/* Clears channels, messages, calls and counters. */
void sim_store_reset(struct sim_store *st);

/*
 * Maps a channel argument to a channel. "#name" and "name" are names (ASCII
 * folded to lower case; 1-80 of a-z 0-9 - _ . or non-ASCII UTF-8); with
 * `create` an unknown name is created with the ID "C" + 10 upper-case
 * alphanumerics derived from the name (stable across runs). Anything shaped
 * like an ID (C/G/D + 8 or more of A-Z 0-9) must already exist.
 */
enum sim_resolve sim_store_resolve(struct sim_store *st, const char *arg,
    int create, struct sim_channel_ref *out);

/* True if `arg` has the shape of a conversation ID (C/G/D + >= 8 A-Z0-9). */
int sim_channel_id_shape(const char *arg);
/* Writes the derived ID for a channel name (salt 0 for the first try). */
void sim_channel_id_derive(const char *name, unsigned salt,
    char out[SIM_CHANNEL_ID_MAX + 1]);

/*
 * Stores a message in channel `id` (resolved before) and writes its ts to
 * ts_out: wall clock now_us formatted "%010u.%06u", bumped by 1 us when not
 * greater than the channel's previous ts so that ts is unique and strictly
 * increasing per channel. Oldest messages are dropped past SIM_MAX_MESSAGES
 * or SIM_MAX_MESSAGE_BYTES. -1 with err on an unknown channel or no memory.
 */
int sim_store_post(struct sim_store *st, const char *id,
    const struct sim_post *post, uint64_t now_us,
    char ts_out[SIM_TS_LEN + 1], struct mlc_err *err);

/* Appends to the call log (oldest dropped past SIM_MAX_CALLS) and counts. */
void sim_store_record_call(struct sim_store *st, const struct sim_call *c);

/* Formats / parses a Slack ts ("1503435956.000247") as microseconds. */
void sim_ts_format(uint64_t us, char out[SIM_TS_LEN + 1]);
int sim_ts_parse(const char *s, uint64_t *us);

/* Query for conversations.history: newest first, within (oldest, latest)
 * (inclusive bounds when `inclusive`), starting at ts <= `before_us` (from
 * the cursor; UINT64_MAX = none), at most `limit`. */
struct sim_history_q {
	uint64_t oldest_us;
	uint64_t latest_us;
	int inclusive;
	uint64_t before_us;
	size_t limit;
	int with_metadata;
};

/*
 * Fills `messages` (a JSON array) with the channel's messages matching q, in
 * Slack's history shape. *next_us is the ts of the next older match when
 * there are more (*has_more = 1). -1 with err if the channel is unknown.
 */
int sim_store_history(struct sim_store *st, const char *id,
    const struct sim_history_q *q, json_t *messages, int *has_more,
    uint64_t *next_us, struct mlc_err *err);

/* {"id","name","is_channel","is_member","is_archived","created"}; NULL if
 * the channel is unknown or no memory. */
json_t *sim_store_channel_json(struct sim_store *st, const char *id);
json_t *sim_store_channels_json(struct sim_store *st, size_t start,
    size_t limit, size_t *next);

/* The /sim introspection documents; NULL on no memory. `channel_id` NULL =
 * every channel; `limit` 0 = all (else the latest `limit`, still in arrival
 * order). */
json_t *sim_store_messages_json(struct sim_store *st, const char *channel_id,
    size_t limit);
json_t *sim_store_calls_json(struct sim_store *st, size_t limit);
json_t *sim_store_stats_json(struct sim_store *st);

/* ---- fault.c: faults switched on at runtime (POST /sim/fault) ------------ */

enum sim_fault_kind {
	SIM_FAULT_ERROR,          /* HTTP 200 {"ok":false,"error":code} */
	SIM_FAULT_HTTP,           /* an HTTP status with an HTML body */
	SIM_FAULT_RESET,          /* close the connection without answering */
	SIM_FAULT_SLOW,           /* do the call, answer slow_ms late */
	SIM_FAULT_STORE_THEN_DROP,/* store the post, then close without answering */
	SIM_FAULT_RATELIMIT,      /* 429 */
};

enum sim_rl_mode { SIM_RL_ONCE, SIM_RL_ALWAYS, SIM_RL_NO_RETRY_AFTER };

struct sim_fault {
	enum sim_fault_kind kind;
	char method[48];     /* default "chat.postMessage"; "*" = every method */
	char channel[96];    /* name (no '#', lower case) or ID; "" = any */
	char token[128];     /* "" = any */
	char error[64];
	unsigned http;
	uint64_t slow_ms;
	unsigned pct;        /* store_then_drop: percent of matching posts */
	enum sim_rl_mode rl_mode;
	unsigned retry_after;/* ratelimit: Retry-After seconds (default 1) */
	long count;          /* triggers left; -1 = forever */
};

struct sim_faults;

struct sim_faults *sim_faults_new(void);
void sim_faults_destroy(struct sim_faults **fp);
/*
 * Adds a fault from its JSON spec: {"channel": name-or-ID or "*", "token":
 * optional, "method": optional, "count": N or -1, and one of "error": code,
 * "http": status, "reset": true, "slow_ms": N, "store_then_drop": PCT,
 * "ratelimit": "once"|"always"|"no_retry_after" (+ "retry_after": S)}.
 * 0, or -1 with a reason in err.
 */
int sim_faults_add(struct sim_faults *f, json_t *spec, struct mlc_err *err);
void sim_faults_clear(struct sim_faults *f);
json_t *sim_faults_json(struct sim_faults *f);
/* The first fault matching the call, with one trigger consumed (a fault
 * whose count reaches 0 is removed). 1 = *out filled, 0 = none. */
int sim_faults_take(struct sim_faults *f, const char *method, const char *chan_id,
    const char *chan_name, const char *token, struct sim_fault *out);

/* ---- tokens.c: bot tokens, rotation (oauth.v2.access) --------------------- */

struct sim_tokens;

/* token: the accepted bot token; with rotate, it and every token issued
 * expire ttl_s after they were issued (the first at start). refresh: the
 * first valid refresh token. */
struct sim_tokens *sim_tokens_new(const char *token, const char *refresh, int rotate,
    uint64_t ttl_s);
void sim_tokens_destroy(struct sim_tokens **tp);
/* NULL if valid, else "invalid_auth" or "token_expired". */
const char *sim_tokens_check(struct sim_tokens *t, const char *token, uint64_t now_ms);
/* grant_type=refresh_token: on success fills a new pair (the old refresh
 * token is revoked) and returns NULL; else the error code. */
const char *sim_tokens_refresh(struct sim_tokens *t, const char *refresh,
    uint64_t now_ms, char access_out[80], char refresh_out[80], uint64_t *expires_in_s);

/* ---- api.c: one request in, one response out ----------------------------- */

struct sim_config {
	const char *token;          /* the accepted bot token (never printed) */
	unsigned burst;
	uint64_t rate_interval_ms;  /* 0 = no limiting */
	uint64_t delay_ms;          /* chat.postMessage answers this late, after storing */
	unsigned ws_burst;          /* workspace-wide bucket (per token) */
	uint64_t ws_interval_ms;    /* 0 = no workspace limit */
	int rotate;                 /* --rotate-tokens */
	uint64_t token_ttl_s;
	const char *refresh_token;  /* first refresh token */
	const char *scopes;         /* granted scopes (X-OAuth-Scopes) */
	int print;
	int quiet;
};

struct sim_ctx {
	struct sim_config cfg;
	struct sim_store *store;
	struct sim_rl *rl;
	struct sim_rl *ws_rl;
	struct sim_faults *faults;
	struct sim_tokens *tokens;
};

struct sim_request {
	const char *http_method;    /* "GET", "POST", ... */
	const char *path;           /* URL path without the query string */
	const char *content_type;   /* header value or NULL */
	const char *authorization;  /* header value or NULL */
	const char *body;           /* not NUL-terminated; may be NULL if empty */
	size_t body_len;
	json_t *query;              /* object of query-string strings; borrowed */
	json_t *headers;            /* request headers but Authorization; borrowed, may be NULL */
};

struct sim_response {
	unsigned status;
	char *body;                 /* malloc'd, owned by the caller afterwards */
	size_t body_len;
	const char *content_type;   /* static string */
	char retry_after[24];       /* "" = no Retry-After header */
	char scopes[256];           /* "" = no X-OAuth-Scopes header */
	int drop;                   /* close the connection without answering */
	/* For the log line: */
	char log_note[128];
};

/*
 * Handles one complete request (the body already buffered and within
 * SIM_MAX_BODY). Always fills rs; rs->body is NULL only if even a tiny error
 * body could not be allocated (the caller then sends an empty 500).
 */
void sim_api_handle(struct sim_ctx *ctx, const struct sim_request *rq,
    struct sim_response *rs);

/* Milliseconds on CLOCK_MONOTONIC and the wall clock; microseconds on the
 * wall clock. */
uint64_t sim_now_mono_ms(void);
uint64_t sim_now_wall_ms(void);
uint64_t sim_now_wall_us(void);

#endif
