/* slack_api: see slack_api.h. */
#include "slack_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

char *
slack_post_body(const struct mlc_message *m)
{
	json_t *body, *blocks = NULL;
	char *out;

	if (m->blocks != NULL && m->blocks[0] != '\0') {
		json_error_t je;
		blocks = json_loads(m->blocks, 0, &je);
		if (blocks == NULL || !json_is_array(blocks)) {
			json_decref(blocks);
			return NULL;
		}
	}
	body = json_pack("{s:s, s:s, s:b, s:b, s:{s:s, s:{s:s, s:s}}}",
	    "channel", m->channel, "text", m->text,
	    "unfurl_links", 0, "unfurl_media", 0,
	    "metadata", "event_type", "mlc_notification", "event_payload",
	    "msg_id", m->id, "record_id", m->record_id);
	if (body == NULL) {
		json_decref(blocks);
		return NULL;
	}
	if (blocks != NULL)
		json_object_set_new(body, "blocks", blocks);
	out = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return out;
}

static int
in_list(const char *code, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(code, list[i]) == 0)
			return 1;
	return 0;
}

void
slack_classify(int curl_ok, int sent, const char *curl_error, long status,
    const char *body, size_t len, long retry_after_s, struct slack_result *out)
{
	static const char *const token_errors[] = { "not_authed", "invalid_auth",
		"account_inactive", "token_revoked", "missing_scope", "no_permission",
		"not_allowed_token_type", "token_expired", "ekm_access_denied", NULL };
	static const char *const channel_errors[] = { "channel_not_found",
		"not_in_channel", "is_archived", "restricted_action", NULL };
	static const char *const retry_errors[] = { "service_unavailable",
		"request_timeout", "ratelimited", NULL };
	json_t *root = NULL;
	const char *code;

	memset(out, 0, sizeof(*out));
	if (!curl_ok) {
		/* Nothing came back. If the request went out in full, Slack may
		 * have stored the message and we lost only the answer. */
		out->outcome = sent ? SLACK_RETRY_DOUBT : SLACK_RETRY;
		snprintf(out->error, sizeof(out->error), "%.60s",
		    curl_error ? curl_error : "transport error");
		return;
	}
	if (status == 429) {
		out->outcome = SLACK_RATELIMITED;
		out->retry_after_s = retry_after_s >= 1 ? retry_after_s : 1;
		snprintf(out->error, sizeof(out->error), "ratelimited");
		return;
	}
	if (status >= 500) {
		out->outcome = SLACK_RETRY_DOUBT;
		snprintf(out->error, sizeof(out->error), "http_%ld", status);
		return;
	}
	if (status != 200) {
		out->outcome = SLACK_RETRY;
		snprintf(out->error, sizeof(out->error), "http_%ld", status);
		return;
	}
	if (body != NULL && len > 0) {
		json_error_t je;
		root = json_loadb(body, len, 0, &je);
	}
	if (!json_is_object(root)) {
		/* A 200 we cannot read: the post may well have happened. */
		out->outcome = SLACK_RETRY_DOUBT;
		snprintf(out->error, sizeof(out->error), "unreadable_response");
		json_decref(root);
		return;
	}
	if (json_is_true(json_object_get(root, "ok"))) {
		const char *ts = json_string_value(json_object_get(root, "ts"));
		out->outcome = SLACK_POSTED;
		snprintf(out->ts, sizeof(out->ts), "%.31s", ts ? ts : "");
		json_decref(root);
		return;
	}
	code = json_string_value(json_object_get(root, "error"));
	if (code == NULL)
		code = "unknown_error";
	snprintf(out->error, sizeof(out->error), "%.63s", code);
	if (in_list(code, token_errors))
		out->outcome = SLACK_TOKEN_ERROR;
	else if (in_list(code, channel_errors))
		out->outcome = SLACK_CHANNEL_ERROR;
	else if (strcmp(code, "internal_error") == 0)
		out->outcome = SLACK_RETRY_DOUBT;
	else if (strcmp(code, "fatal_error") == 0)
		out->outcome = SLACK_DOUBT_FATAL;
	else if (in_list(code, retry_errors))
		out->outcome = SLACK_RETRY;
	else
		out->outcome = SLACK_MESSAGE_ERROR;
	json_decref(root);
}

const char *
slack_outcome_name(enum slack_outcome o)
{
	switch (o) {
	case SLACK_POSTED:        return "posted";
	case SLACK_RATELIMITED:   return "ratelimited";
	case SLACK_RETRY:         return "retry";
	case SLACK_RETRY_DOUBT:   return "retry_in_doubt";
	case SLACK_TOKEN_ERROR:   return "token_error";
	case SLACK_CHANNEL_ERROR: return "channel_error";
	case SLACK_MESSAGE_ERROR: return "message_error";
	case SLACK_DOUBT_FATAL:   return "fatal_in_doubt";
	}
	return "?";
}
