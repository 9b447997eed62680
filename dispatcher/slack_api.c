/* slack_api: see slack_api.h. */
#include "slack_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "mlc_http.h"

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
		const char *ch = json_string_value(json_object_get(root, "channel"));
		out->outcome = SLACK_POSTED;
		snprintf(out->ts, sizeof(out->ts), "%.31s", ts ? ts : "");
		snprintf(out->channel, sizeof(out->channel), "%.31s", ch ? ch : "");
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

/* Appends "&key=urlencoded(value)" (no '&' when the buffer is empty). */
static int
form_add(char **buf, size_t *len, const char *key, const char *value)
{
	char *enc = mlc_http_urlencode(value);
	size_t need;
	char *p;

	if (enc == NULL)
		return -1;
	need = *len + strlen(key) + strlen(enc) + 3;
	p = realloc(*buf, need);
	if (p == NULL) {
		free(enc);
		return -1;
	}
	*buf = p;
	*len += (size_t)snprintf(p + *len, need - *len, "%s%s=%s", *len ? "&" : "",
	    key, enc);
	/* The value may be a secret (refresh token, client secret). */
	explicit_bzero(enc, strlen(enc));
	free(enc);
	return 0;
}

char *
slack_history_body(const char *channel_id, int64_t oldest_ms, const char *cursor)
{
	char oldest[48];
	char *buf = NULL;
	size_t len = 0;

	if (oldest_ms < 0)
		oldest_ms = 0;
	snprintf(oldest, sizeof(oldest), "%lld.%06lld", (long long)(oldest_ms / 1000),
	    (long long)(oldest_ms % 1000) * 1000);
	if (form_add(&buf, &len, "channel", channel_id) != 0 ||
	    form_add(&buf, &len, "oldest", oldest) != 0 ||
	    form_add(&buf, &len, "inclusive", "true") != 0 ||
	    form_add(&buf, &len, "include_all_metadata", "true") != 0 ||
	    form_add(&buf, &len, "limit", "200") != 0 ||
	    (cursor != NULL && cursor[0] != '\0' &&
	    form_add(&buf, &len, "cursor", cursor) != 0)) {
		free(buf);
		return NULL;
	}
	return buf;
}

void
slack_history_scan(int curl_ok, long status, const char *body, size_t len,
    long retry_after_s, const char *msg_id, struct slack_history_result *out)
{
	static const char *const no_scope[] = { "missing_scope", "no_permission",
		"not_allowed_token_type", "access_denied", NULL };
	static const char *const cannot[] = { "channel_not_found", "not_in_channel",
		"is_archived", "restricted_action", "invalid_auth", "not_authed",
		"account_inactive", "token_revoked", NULL };
	json_t *root = NULL, *msgs, *m;
	const char *code, *cur;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->outcome = SLACK_HIST_RETRY;
	if (!curl_ok) {
		snprintf(out->error, sizeof(out->error), "transport");
		return;
	}
	if (status == 429) {
		out->retry_after_s = retry_after_s >= 1 ? retry_after_s : 1;
		snprintf(out->error, sizeof(out->error), "ratelimited");
		return;
	}
	if (status != 200) {
		snprintf(out->error, sizeof(out->error), "http_%ld", status);
		return;
	}
	if (body != NULL && len > 0)
		root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root)) {
		snprintf(out->error, sizeof(out->error), "unreadable_response");
		json_decref(root);
		return;
	}
	if (!json_is_true(json_object_get(root, "ok"))) {
		code = json_string_value(json_object_get(root, "error"));
		snprintf(out->error, sizeof(out->error), "%.63s", code ? code : "unknown_error");
		if (code != NULL && in_list(code, no_scope))
			out->outcome = SLACK_HIST_NO_SCOPE;
		else if (code != NULL && in_list(code, cannot))
			out->outcome = SLACK_HIST_CANNOT_CHECK;
		else if (code != NULL && strcmp(code, "token_expired") == 0)
			out->outcome = SLACK_HIST_TOKEN_EXPIRED;
		json_decref(root);
		return;
	}
	msgs = json_object_get(root, "messages");
	if (!json_is_array(msgs)) {
		snprintf(out->error, sizeof(out->error), "no_messages_array");
		json_decref(root);
		return;
	}
	json_array_foreach(msgs, i, m) {
		json_t *p = json_object_get(json_object_get(m, "metadata"), "event_payload");
		const char *id = json_string_value(json_object_get(p, "msg_id"));
		const char *ts = json_string_value(json_object_get(m, "ts"));

		if (id != NULL && strcmp(id, msg_id) == 0) {
			out->outcome = SLACK_HIST_FOUND;
			snprintf(out->ts, sizeof(out->ts), "%.31s", ts ? ts : "");
			json_decref(root);
			return;
		}
	}
	cur = json_string_value(json_object_get(json_object_get(root,
	    "response_metadata"), "next_cursor"));
	if (json_is_true(json_object_get(root, "has_more")) && cur != NULL &&
	    cur[0] != '\0' && strlen(cur) < sizeof(out->cursor)) {
		out->outcome = SLACK_HIST_MORE;
		memcpy(out->cursor, cur, strlen(cur) + 1);
	} else {
		out->outcome = SLACK_HIST_ABSENT;
	}
	json_decref(root);
}

int
slack_channel_id_shape(const char *s)
{
	size_t n;

	if (s == NULL || (s[0] != 'C' && s[0] != 'G' && s[0] != 'D'))
		return 0;
	for (n = 1; s[n] != '\0'; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
			return 0;
	return n >= 9 && n <= 20;
}

char *
slack_list_body(const char *cursor)
{
	char *buf = NULL;
	size_t len = 0;

	if (form_add(&buf, &len, "types", "public_channel,private_channel") != 0 ||
	    form_add(&buf, &len, "exclude_archived", "false") != 0 ||
	    form_add(&buf, &len, "limit", "200") != 0 ||
	    (cursor != NULL && cursor[0] != '\0' &&
	    form_add(&buf, &len, "cursor", cursor) != 0)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Slack's channel names are lower case, without the '#'. */
static int
same_channel_name(const char *slack, const char *ours)
{
	if (ours[0] == '#')
		ours++;
	return strcasecmp(slack, ours) == 0;
}

int
slack_list_find(json_t *root, const char *name, char *id, size_t idsz,
    char *cursor, size_t cursz, char *error, size_t errsz)
{
	json_t *chans, *ch;
	const char *v;
	size_t i;

	id[0] = '\0';
	cursor[0] = '\0';
	if (!json_is_true(json_object_get(root, "ok"))) {
		v = json_string_value(json_object_get(root, "error"));
		snprintf(error, errsz, "%.63s", v ? v : "unknown_error");
		return -1;
	}
	chans = json_object_get(root, "channels");
	if (!json_is_array(chans)) {
		snprintf(error, errsz, "no_channels");
		return -1;
	}
	json_array_foreach(chans, i, ch) {
		const char *n = json_string_value(json_object_get(ch, "name"));

		if (n == NULL || !same_channel_name(n, name))
			continue;
		v = json_string_value(json_object_get(ch, "id"));
		if (v == NULL || !slack_channel_id_shape(v) || strlen(v) >= idsz) {
			snprintf(error, errsz, "no_channel_id");
			return -1;
		}
		memcpy(id, v, strlen(v) + 1);
		error[0] = '\0';
		return 1;
	}
	v = json_string_value(json_object_get(json_object_get(root,
	    "response_metadata"), "next_cursor"));
	if (v != NULL && v[0] != '\0') {
		if (strlen(v) >= cursz) {
			snprintf(error, errsz, "cursor_too_long");
			return -1;
		}
		memcpy(cursor, v, strlen(v) + 1);
	}
	error[0] = '\0';
	return 0;
}

int
slack_list_scan(int curl_ok, long status, const char *body, size_t len,
    const char *name, char *id, size_t idsz, char *cursor, size_t cursz,
    char *error, size_t errsz)
{
	json_t *root = NULL;
	int rc;

	id[0] = '\0';
	cursor[0] = '\0';
	if (!curl_ok || status != 200) {
		snprintf(error, errsz, curl_ok ? "http_%ld" : "transport", status);
		return -1;
	}
	if (body != NULL && len > 0)
		root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root)) {
		snprintf(error, errsz, "unreadable_response");
		json_decref(root);
		return -1;
	}
	rc = slack_list_find(root, name, id, idsz, cursor, cursz, error, errsz);
	json_decref(root);
	return rc;
}

char *
slack_refresh_body(const char *client_id, const char *client_secret,
    const char *refresh_token)
{
	char *buf = NULL;
	size_t len = 0;

	if (form_add(&buf, &len, "grant_type", "refresh_token") != 0 ||
	    form_add(&buf, &len, "refresh_token", refresh_token) != 0 ||
	    form_add(&buf, &len, "client_id", client_id) != 0 ||
	    form_add(&buf, &len, "client_secret", client_secret) != 0) {
		if (buf != NULL)
			explicit_bzero(buf, len);
		free(buf);
		return NULL;
	}
	return buf;
}

int
slack_refresh_scan(long status, const char *body, size_t len, char **access,
    char **refresh, long *expires_in_s, struct mlc_err *err)
{
	json_t *root = NULL, *e;
	const char *a, *r;
	int rc = -1;

	*access = *refresh = NULL;
	*expires_in_s = 0;
	if (status != 200) {
		mlc_err_set(err, "oauth.v2.access answered HTTP %ld", status);
		return -1;
	}
	if (body != NULL && len > 0)
		root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root)) {
		mlc_err_set(err, "oauth.v2.access answered something that is not JSON");
		goto out;
	}
	if (!json_is_true(json_object_get(root, "ok"))) {
		const char *code = json_string_value(json_object_get(root, "error"));
		mlc_err_set(err, "oauth.v2.access refused the refresh: %.63s",
		    code ? code : "unknown_error");
		goto out;
	}
	a = json_string_value(json_object_get(root, "access_token"));
	r = json_string_value(json_object_get(root, "refresh_token"));
	if (a == NULL || a[0] == '\0' || r == NULL || r[0] == '\0' ||
	    strlen(a) > 4096 || strlen(r) > 4096) {
		mlc_err_set(err, "oauth.v2.access answer lacks access_token or refresh_token");
		goto out;
	}
	*access = strdup(a);
	*refresh = strdup(r);
	if (*access == NULL || *refresh == NULL) {
		free(*access);
		free(*refresh);
		*access = *refresh = NULL;
		mlc_err_set(err, "out of memory");
		goto out;
	}
	e = json_object_get(root, "expires_in");
	if (json_is_integer(e) && json_integer_value(e) > 0)
		*expires_in_s = (long)json_integer_value(e);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int
slack_scopes_allow_history(const char *scopes)
{
	const char *p = scopes;

	while (p != NULL && *p != '\0') {
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ", \r\n");
		if (n == strlen("channels:history") && strncmp(p, "channels:history", n) == 0)
			return 1;
		p += n;
		if (*p == '\r' || *p == '\n')
			break;
	}
	return 0;
}
