/*
 * inbound: Slack's requests to us (slash commands, interactivity, Events
 * API), verified and answered. Pure logic, no HTTP library: the HTTP server
 * (http.c) hands over the headers and the raw body, and the clock is passed
 * in, so tests can pin it to the official vector's timestamp.
 *
 * Verification (reference/slack.md section 4): X-Slack-Request-Timestamp
 * within 300 s of now, X-Slack-Signature equal to
 * "v0=" hex(HMAC-SHA256(secret, "v0:" ts ":" raw body)), compared in
 * constant time (CRYPTO_memcmp) over the whole lower-case digest; the body
 * at most inbound.max_body bytes. Every reject is answered 401 with an
 * empty body: no hint of which check failed goes back to the caller (the
 * audit trail has it). The one unsigned request answered is the slash
 * command SSL check (ssl_check=1), with an empty 200.
 *
 * What is answered, after verification:
 *   Events API url_verification   {"challenge": ...}
 *   Events API event_callback     200, audited; a retry of an event_id
 *                                 already seen (X-Slack-Retry-Num) is
 *                                 acknowledged and not acted on again
 *   slash command "<command> status"        a summary like `mlc status`
 *   slash command "<command> replay failed" replays every dead letter,
 *                                 only for users in inbound.replay_users
 *   interactivity (payload=...)   200 (no interactive components yet)
 */
#ifndef AUD_INBOUND_H
#define AUD_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_err.h"

#define AUD_SIG_MAX_SKEW_S 300

/* 0 if the signature is valid at now_s, else -1 with err saying why (for
 * the audit trail, never sent back). ts / sig may be NULL (header absent). */
int aud_slack_verify(const char *secret, size_t secret_len, const char *ts,
    const char *sig, const void *body, size_t len, int64_t now_s, struct mlc_err *err);

/* What the embedding provides. */
struct aud_inbound_ops {
	void *arg;
	/* malloc'd summary text for "<command> status". */
	char *(*status_text)(void *arg);
	/* Replays every failed message; malloc'd result text. */
	char *(*replay_failed)(void *arg, const char *user_id);
	/* 1 if event_id was seen before (and records it if not), 0 new, -1 error. */
	int (*event_seen)(void *arg, const char *event_id);
	/* Audits the request: outcome "ok" | "rejected" | "denied" |
	 * "duplicate"; the other fields may be NULL. */
	void (*audit)(void *arg, const char *type, const char *outcome, const char *reason,
	    const char *user_id, const char *command, const char *text, const char *event_id);
};

struct aud_inbound_cfg {
	const char *secret;
	size_t secret_len;
	const char *command;        /* "/x3" */
	const char *replay_users;   /* "U1,U2" */
	size_t max_body;
};

struct aud_inbound_req {
	const char *ts_header;      /* X-Slack-Request-Timestamp or NULL */
	const char *sig_header;     /* X-Slack-Signature or NULL */
	const char *retry_num;      /* X-Slack-Retry-Num or NULL */
	const char *content_type;
	const char *body;
	size_t len;
	int too_big;                /* the body was cut at max_body */
};

struct aud_inbound_resp {
	int status;                 /* 200 or 401 */
	char content_type[48];
	char *body;                 /* malloc'd, may be NULL (empty) */
};

void aud_inbound_handle(const struct aud_inbound_cfg *c, const struct aud_inbound_ops *ops,
    const struct aud_inbound_req *rq, int64_t now_s, struct aud_inbound_resp *out);

/* Decodes a form field (application/x-www-form-urlencoded) into a malloc'd
 * string; NULL if absent. */
char *aud_form_get(const char *body, size_t len, const char *name);

/* Is user_id in the comma-separated list? */
int aud_user_listed(const char *list, const char *user_id);

#endif
