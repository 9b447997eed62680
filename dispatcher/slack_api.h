/*
 * slack_api: what the dispatcher says to Slack's chat.postMessage and how it
 * reads the answer.
 *
 * Slack reports most errors as HTTP 200 {"ok":false,"error":"..."}; only 429
 * and 200 carry meaning, and outages give 5xx with HTML. Every answer is
 * sorted into one class that decides what happens to the message
 * (reference/slack.md section 1).
 */
#ifndef SLACK_API_H
#define SLACK_API_H

#include <stddef.h>

#include <stdint.h>
#include <jansson.h>

#include "mlc_err.h"
#include "mlc_proto.h"

enum slack_outcome {
	SLACK_POSTED,        /* ok:true; ts filled */
	SLACK_RATELIMITED,   /* 429: wait Retry-After on this channel only */
	SLACK_RETRY,         /* service_unavailable, request_timeout, other 4xx: not posted */
	SLACK_RETRY_DOUBT,   /* 5xx, timeout after sending, reset, internal_error: may have posted */
	SLACK_TOKEN_ERROR,   /* the token is bad for every channel: stop, alert */
	SLACK_CHANNEL_ERROR, /* this channel cannot be posted to */
	SLACK_MESSAGE_ERROR, /* this message is refused (our bug): dead letter */
	SLACK_DOUBT_FATAL,   /* fatal_error: may have posted, do not retry blindly */
};

struct slack_result {
	enum slack_outcome outcome;
	char ts[32];           /* Slack message ts when posted */
	char channel[32];      /* channel ID Slack answered with when posted */
	char error[64];        /* Slack error code, or "http_503", "timeout", ... */
	long retry_after_s;    /* for SLACK_RATELIMITED (>= 1) */
};

/* The JSON body for chat.postMessage (malloc'd): channel, text, blocks,
 * no unfurling, and metadata {event_type "mlc_notification", event_payload
 * {msg_id, record_id}} by which a post can be found again. NULL if the
 * message's blocks are not valid JSON. */
char *slack_post_body(const struct mlc_message *m);

/* Sorts a transport result and an HTTP answer into a slack_result.
 * curl_ok: the transfer completed; sent: the request body was fully sent
 * (a failure after that is in doubt). */
void slack_classify(int curl_ok, int sent, const char *curl_error, long status,
    const char *body, size_t len, long retry_after_s, struct slack_result *out);

/* Printable name of an outcome ("posted", "ratelimited", ...). */
const char *slack_outcome_name(enum slack_outcome o);

/* ---- Resolving a post whose outcome is unknown (conversations.history) ----
 *
 * Every post carries metadata.event_payload.msg_id, so a post that may or
 * may not have reached Slack (timeout after sending, reset, internal_error,
 * 5xx, a crash with the attempt recorded) is looked up in the channel's
 * history before it is ever sent again. */

enum slack_hist {
	SLACK_HIST_FOUND,        /* the message is in the channel: ts filled */
	SLACK_HIST_MORE,         /* not on this page; cursor filled */
	SLACK_HIST_ABSENT,       /* searched to `oldest`: never posted */
	SLACK_HIST_NO_SCOPE,     /* the token cannot read history (missing_scope...) */
	SLACK_HIST_CANNOT_CHECK, /* this channel's history cannot be read */
	SLACK_HIST_TOKEN_EXPIRED,/* refresh the token, then ask again */
	SLACK_HIST_RETRY,        /* transport error, 5xx, 429: ask again later */
};

struct slack_history_result {
	enum slack_hist outcome;
	char ts[32];
	char cursor[256];
	char error[64];
	long retry_after_s;      /* for a 429 */
};

/* Form body for conversations.history: channel ID, oldest (Unix ms, written
 * as Slack's "seconds.micro"), inclusive, include_all_metadata, limit 200,
 * cursor when non-empty. malloc'd; NULL on no memory. */
char *slack_history_body(const char *channel_id, int64_t oldest_ms, const char *cursor);

/* Reads a conversations.history answer looking for msg_id in
 * metadata.event_payload.msg_id. */
void slack_history_scan(int curl_ok, long status, const char *body, size_t len,
    long retry_after_s, const char *msg_id, struct slack_history_result *out);

/* True for a Slack channel ID (C..., G..., D... in upper case and digits),
 * which conversations.history takes; a name must be looked up first. */
int slack_channel_id_shape(const char *s);

/* Form body for one page of conversations.list (public and private
 * channels, archived ones too, 200 a page), from cursor when non-empty.
 * conversations.info and .history take only IDs, so this is how a
 * configured "#name" becomes an ID. malloc'd; NULL on no memory. */
char *slack_list_body(const char *cursor);

/* Looks for the channel `name` ("#name" or "name", case-insensitive) in a
 * conversations.list page: 1 with its ID in id; 0 when not on this page,
 * with cursor set to the next page's ("" = no more pages: Slack has no
 * such channel visible to us); -1 on any failure (error filled: transport,
 * http_<status>, Slack's code such as missing_scope or ratelimited). */
int slack_list_scan(int curl_ok, long status, const char *body, size_t len,
    const char *name, char *id, size_t idsz, char *cursor, size_t cursz,
    char *error, size_t errsz);

/* The same on an answer already parsed (mlc check). */
int slack_list_find(json_t *root, const char *name, char *id, size_t idsz,
    char *cursor, size_t cursz, char *error, size_t errsz);

/* ---- Token rotation (oauth.v2.access, grant_type=refresh_token) ---- */

/* Form body of the refresh request; malloc'd, NULL on no memory. */
char *slack_refresh_body(const char *client_id, const char *client_secret,
    const char *refresh_token);

/* Reads the refresh answer: 0 with *access and *refresh malloc'd (the caller
 * frees them) and *expires_in_s (0 if absent), or -1 with err naming
 * Slack's error code (the tokens are never put in err). */
int slack_refresh_scan(long status, const char *body, size_t len, char **access,
    char **refresh, long *expires_in_s, struct mlc_err *err);

/* True if the comma-separated scope list (auth.test's X-OAuth-Scopes
 * header) lets the bot read public channels' history. */
int slack_scopes_allow_history(const char *scopes);

#endif
