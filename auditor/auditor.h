/*
 * The auditor's parts and the state they share. main.c is the process (set
 * up, loop, shut down); the modules:
 *
 *   journal.c  the LMDB journal and its indexes
 *   state.c    health, status and metrics computed from the event stream
 *   core.c     taking events in (journal, live stream, state, replay
 *              bookkeeping, dead-letter alerts), the auditor's own events,
 *              replays
 *   ctl.c      the control socket (endpoints.auditor_ctl): JSON requests
 *              from `mlc` (query, seq, status, replay, compact)
 *   http.c     /metrics, /healthz and the inbound Slack endpoint on
 *              libmicrohttpd, driven from the main loop (no threads)
 *   inbound.c  Slack request verification and answers
 *
 * Everything runs on the main thread, so nothing here is locked.
 */
#ifndef AUDITOR_H
#define AUDITOR_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "journal.h"
#include "mlc_cfg.h"
#include "mlc_custody.h"
#include "mlc_store.h"
#include "state.h"

#define AUD_BATCH 1024

struct aud_pending {
	char id[40];
	uint64_t seq;
	int64_t ms;
	char *frame;            /* encoded audit frame */
	size_t len;
};

struct auditor {
	struct mlc_cfg cfg;
	char dir[512];
	struct mlc_store *st;
	struct aud_journal j;
	struct aud_state state;
	MDB_dbi inbound_seen;
	void *zctx;
	void *pub;
	void *ctl;
	void *ack;
	struct mlc_inbox *in;
	/* One outbox per dispatcher, for replays and alerts. */
	struct mlc_outbox *to_disp[MLC_CFG_MAX_DISPATCHERS];
	size_t n_disp;
	/* Events of the transaction being committed, published and applied to
	 * state only after the commit. */
	struct aud_pending pending[2 * AUD_BATCH + 600];
	size_t n_pending;
	uint64_t journaled;
	/* Alert rate limit: sent in the current hour window. */
	int64_t alert_window_start;
	int alert_count;
	char *signing_secret;
	int compact_requested;
	struct aud_http *http;
	int64_t (*now_ms)(void);  /* wall clock; tests may pin it */
};

/* ---- core.c ---- */

/* Journals one event received from a stage, inside txn, with its side
 * effects (msgstate, alert). */
int aud_take_event(struct auditor *a, MDB_txn *txn, const struct mlc_audit *ev,
    struct mlc_err *err);
/* After the transaction: publish and apply (committed) or drop. */
void aud_after_commit(struct auditor *a, int committed);
/* Journals an event of the auditor's own (kind, attrs in b) in a
 * transaction of its own, publishes it. b is freed. */
struct mlc_auditb;
int aud_emit(struct auditor *a, struct mlc_auditb *b);
/* Rebuilds state from the last AUD_STATE_REBUILD_MS of journal. */
int aud_rebuild_state(struct auditor *a, struct mlc_err *err);

struct aud_replay_opts {
	const char *const *ids;     /* base or replay msg ids; NULL = all failed */
	size_t n_ids;
	int64_t since_ms;           /* with ids == NULL */
	const char *channel;        /* with ids == NULL */
	const char *by;             /* who asked: "cli", "slack:U123" */
	int force;                  /* replay in-doubt failures too */
};

/* Replays: each eligible message goes to its dispatcher under a new id
 * "<base>/replay/<n>"; each decision is audited (kind "replay"). Returns a
 * JSON array of {"msg_id","result":"sent"|"skipped","reason","replay_id"}. */
json_t *aud_replay(struct auditor *a, const struct aud_replay_opts *o,
    struct mlc_err *err);

/* Inbound Events API dedup: 1 seen, 0 new (recorded), -1 error. */
int aud_event_seen(struct auditor *a, const char *event_id);
/* Forgets inbound event ids older than a day. */
void aud_prune_inbound(struct auditor *a);

/* ---- ctl.c ---- */

/* Answers every request waiting on the ctl socket. */
void aud_ctl_serve(struct auditor *a);

/* ---- http.c ---- */

struct aud_http;
/* Starts the HTTP listeners (auditor.http_listen, inbound.listen). */
int aud_http_start(struct auditor *a, struct mlc_err *err);
void aud_http_stop(struct auditor *a);
/* Fills fds with the descriptors to poll for readability (MHD's epoll
 * fds); returns how many. Call aud_http_run() when one is readable, and
 * when aud_http_timeout() has passed (MHD's connection timeouts). */
int aud_http_fds(struct auditor *a, int fds[2]);
void aud_http_run(struct auditor *a);
/* Milliseconds until MHD needs aud_http_run() without any fd being
 * readable (an idle connection to time out), or -1: none. */
int64_t aud_http_timeout(struct auditor *a);
/* "127.0.0.1:41234" of the metrics listener, "" if none. */
const char *aud_http_addr(struct auditor *a);

#endif
