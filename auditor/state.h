/*
 * state: what the auditor knows about the connector's health, computed from
 * the audit event stream alone, in one place. Feeds `mlc status`, /metrics
 * (Prometheus text format 0.0.4), /healthz and `/x3 status`.
 *
 * At start the auditor replays the last AUD_STATE_REBUILD_MS of its journal
 * through aud_state_apply(), so status survives a restart; counters
 * therefore count the events of that window plus those since (a counter
 * that goes down is a reset to Prometheus, which rate() handles).
 *
 * Events read (attrs): poll (entity, records, outcome, error, wm_after,
 * duration_ms), post (channel, outcome, latency_ms, error), stats from
 * dispatchers (backlog, dead_letters; "channels" when it is a JSON object
 * channel -> backlog), token (token|name, event, expires_at), start/stop (any stage),
 * and every event's "from" and time for the per-stage last-seen.
 */
#ifndef AUD_STATE_H
#define AUD_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "mlc_cfg.h"
#include "mlc_proto.h"

#define AUD_STATE_REBUILD_MS (7LL * 24 * 3600 * 1000)
#define AUD_MAX_ENT 64
#define AUD_MAX_CHAN 512
#define AUD_MAX_STAGE 40
#define AUD_MAX_TOKEN 16
#define AUD_HIST_BUCKETS 12

struct aud_hist {
	uint64_t counts[AUD_HIST_BUCKETS + 1]; /* last = +Inf */
	uint64_t n;
	int64_t sum_ms;
};

struct aud_entity_st {
	char name[64];
	char last_poll_at[32];
	char outcome[32];
	char error[256];
	char wm[160];
	int64_t wm_stamp_s;     /* -1 unknown */
	uint64_t records;
	uint64_t polls;
};

struct aud_channel_st {
	char name[128];
	uint64_t posted, failed;
	char last_post_at[32];
	char last_outcome[32];
	int64_t backlog;        /* from dispatcher stats; -1 unknown */
};

struct aud_stage_st {
	char name[32];
	char last_start[32];
	char last_stop[32];
	int stopped;            /* last lifecycle event was "stop" */
	int periodic;           /* it sends poll/stats events on a timer */
	int64_t last_seen_ms;   /* auditor receive time */
};

struct aud_token_st {
	char name[64];
	char expires_at[32];
	int64_t expires_s;      /* -1 unknown */
	char last_event[32];
	char at[32];
};

struct aud_dispatcher_st {
	char name[32];
	int64_t backlog, dead_letters;
};

struct aud_state {
	struct aud_entity_st ent[AUD_MAX_ENT];
	size_t n_ent;
	struct aud_channel_st chan[AUD_MAX_CHAN];
	size_t n_chan;
	struct aud_stage_st stage[AUD_MAX_STAGE];
	size_t n_stage;
	struct aud_token_st tok[AUD_MAX_TOKEN];
	size_t n_tok;
	struct aud_dispatcher_st disp[AUD_MAX_STAGE];
	size_t n_disp;
	uint64_t failed_total, retries_total, ratelimited_total, events_total;
	uint64_t alerts_sent, alerts_suppressed, replays_sent, inbound_total,
	    inbound_rejected;
	struct aud_hist poll_hist, post_hist;
};

void aud_state_init(struct aud_state *s);
/* Applies one event received at recv_ms. */
void aud_state_apply(struct aud_state *s, const struct mlc_audit *a, int64_t recv_ms);

/* Prometheus text exposition (malloc'd). */
char *aud_state_metrics(const struct aud_state *s, int64_t now_ms);

/* {"status":"ok"|"unhealthy","stages":{name:{...}}}; *code 200 or 503.
 * Expected stages: poller, formatter, dispatcher-0..n-1. A stage is healthy
 * when it has been seen, did not stop last, and (the poller, whose poll
 * cycles are periodic) was heard from within cfg->aud.health_max_silence_ms. */
json_t *aud_state_health(const struct aud_state *s, const struct mlc_cfg *cfg,
    int64_t now_ms, int *code);

/* The `mlc status` document. */
json_t *aud_state_status(const struct aud_state *s, const struct mlc_cfg *cfg,
    int64_t now_ms);

/* A short human summary (malloc'd) for `/x3 status`. */
char *aud_state_summary(const struct aud_state *s, const struct mlc_cfg *cfg,
    int64_t now_ms);

#endif
