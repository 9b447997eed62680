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

#endif
