/* inbound: see inbound.h. */
#include "inbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SIG_LEN (3 + 64)

int
aud_slack_verify(const char *secret, size_t secret_len, const char *ts, const char *sig,
    const void *body, size_t len, int64_t now_s, struct mlc_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char expect[SIG_LEN + 1], prefix[40];
	int64_t t = 0;
	size_t n;
	HMAC_CTX *h;
	int ok;

	if (ts == NULL || sig == NULL)
		return mlc_err_set(err, "missing %s header", ts == NULL ?
		    "X-Slack-Request-Timestamp" : "X-Slack-Signature");
	n = strlen(ts);
	if (n == 0 || n > 12)
		return mlc_err_set(err, "X-Slack-Request-Timestamp is not a Unix time");
	for (size_t i = 0; i < n; i++) {
		if (ts[i] < '0' || ts[i] > '9')
			return mlc_err_set(err, "X-Slack-Request-Timestamp is not a Unix time");
		t = t * 10 + (ts[i] - '0');
	}
	if (t > now_s + AUD_SIG_MAX_SKEW_S || t < now_s - AUD_SIG_MAX_SKEW_S)
		return mlc_err_set(err, "timestamp %lld is %lld s from now (limit %d): a replay "
		    "or a wrong clock", (long long)t, (long long)(t - now_s),
		    AUD_SIG_MAX_SKEW_S);
	if (strncmp(sig, "v0=", 3) != 0)
		return mlc_err_set(err, "signature version is not v0");
	if (strlen(sig) != SIG_LEN)
		return mlc_err_set(err, "signature has the wrong length");
	n = (size_t)snprintf(prefix, sizeof(prefix), "v0:%s:", ts);
	/* HMAC_* is deprecated in OpenSSL 3 but still the simplest one-shot
	 * streaming API; the HMAC() one-shot would need the message copied. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	h = HMAC_CTX_new();
	ok = h != NULL && HMAC_Init_ex(h, secret, (int)secret_len, EVP_sha256(), NULL) == 1 &&
	    HMAC_Update(h, (const unsigned char *)prefix, n) == 1 &&
	    HMAC_Update(h, body, len) == 1 && HMAC_Final(h, mac, &maclen) == 1 &&
	    maclen == 32;
	HMAC_CTX_free(h);
#pragma GCC diagnostic pop
	if (!ok)
		return mlc_err_set(err, "HMAC computation failed");
	memcpy(expect, "v0=", 3);
	for (unsigned i = 0; i < 32; i++) {
		expect[3 + 2 * i] = hex[mac[i] >> 4];
		expect[3 + 2 * i + 1] = hex[mac[i] & 15];
	}
	expect[SIG_LEN] = '\0';
	ok = CRYPTO_memcmp(expect, sig, SIG_LEN) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	if (!ok)
		return mlc_err_set(err, "signature does not match the body");
	return 0;
}

static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
aud_form_get(const char *body, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fe = amp ? amp : end;

		if ((size_t)(fe - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			char *out = malloc((size_t)(fe - v) + 1);
			size_t n = 0;

			if (out == NULL)
				return NULL;
			for (; v < fe; v++) {
				if (*v == '+') {
					out[n++] = ' ';
				} else if (*v == '%' && fe - v >= 3 && unhex(v[1]) >= 0 &&
				    unhex(v[2]) >= 0) {
					out[n++] = (char)(unhex(v[1]) << 4 | unhex(v[2]));
					v += 2;
				} else {
					out[n++] = *v;
				}
			}
			out[n] = '\0';
			if (strlen(out) != n) { /* an encoded NUL: refuse */
				free(out);
				return NULL;
			}
			return out;
		}
		if ((size_t)(fe - p) == nl && memcmp(p, name, nl) == 0)
			return strdup("");
		p = fe + 1;
	}
	return NULL;
}

int
aud_user_listed(const char *list, const char *user_id)
{
	size_t n = strlen(user_id);
	const char *p = list;

	if (n == 0 || list == NULL)
		return 0;
	while (*p != '\0') {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l == n && memcmp(p, user_id, n) == 0)
			return 1;
		if (c == NULL)
			break;
		p = c + 1;
	}
	return 0;
}

static void
reply_json(struct aud_inbound_resp *out, json_t *doc)
{
	out->status = 200;
	snprintf(out->content_type, sizeof(out->content_type), "application/json");
	out->body = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
}

static void
reply_text(struct aud_inbound_resp *out, const char *text)
{
	/* Slash command answers: ephemeral, only the caller sees them. */
	reply_json(out, json_pack("{s:s, s:s}", "response_type", "ephemeral", "text",
	    text != NULL ? text : ""));
}

static int
is_form(const char *ct)
{
	return ct != NULL && strncmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

static void
slash(const struct aud_inbound_cfg *c, const struct aud_inbound_ops *ops,
    const struct aud_inbound_req *rq, struct aud_inbound_resp *out, char *command)
{
	char *text = aud_form_get(rq->body, rq->len, "text");
	char *user = aud_form_get(rq->body, rq->len, "user_id");
	char *t, *words = NULL;
	const char *outcome = "ok";

	/* Normalise the text: trimmed, single spaces, lower case. */
	if (text != NULL && (words = malloc(strlen(text) + 1)) != NULL) {
		size_t n = 0;

		for (const char *p = text; *p != '\0'; p++) {
			char ch = *p;

			if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
				if (n > 0 && words[n - 1] != ' ')
					words[n++] = ' ';
				continue;
			}
			words[n++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
		}
		while (n > 0 && words[n - 1] == ' ')
			n--;
		words[n] = '\0';
	}
	if (strcmp(command, c->command) != 0) {
		char msg[160];

		snprintf(msg, sizeof(msg), "This endpoint serves %s only.", c->command);
		reply_text(out, msg);
		outcome = "unknown_command";
	} else if (words != NULL && strcmp(words, "status") == 0) {
		t = ops->status_text(ops->arg);
		reply_text(out, t != NULL ? t : "status unavailable");
		free(t);
	} else if (words != NULL && strcmp(words, "replay failed") == 0) {
		if (user == NULL || c->replay_users == NULL ||
		    !aud_user_listed(c->replay_users, user)) {
			reply_text(out, "You are not allowed to replay messages (ask an operator to "
			    "add your Slack user ID to inbound.replay_users).");
			outcome = "denied";
		} else {
			t = ops->replay_failed(ops->arg, user);
			reply_text(out, t != NULL ? t : "replay failed: see the auditor's log");
			free(t);
		}
	} else {
		char msg[256];

		snprintf(msg, sizeof(msg), "Usage: %s status | %s replay failed", c->command,
		    c->command);
		reply_text(out, msg);
	}
	ops->audit(ops->arg, "slash_command", outcome, NULL, user, command, words, NULL);
	free(text);
	free(words);
	free(user);
}

static void
events(const struct aud_inbound_ops *ops, const struct aud_inbound_req *rq,
    struct aud_inbound_resp *out)
{
	json_error_t je;
	json_t *doc = json_loadb(rq->body, rq->len, 0, &je);
	const char *type = json_string_value(json_object_get(doc, "type"));
	const char *eid = json_string_value(json_object_get(doc, "event_id"));

	if (type != NULL && strcmp(type, "url_verification") == 0) {
		const char *ch = json_string_value(json_object_get(doc, "challenge"));

		reply_json(out, json_pack("{s:s}", "challenge", ch != NULL ? ch : ""));
		ops->audit(ops->arg, "url_verification", "ok", NULL, NULL, NULL, NULL, NULL);
	} else if (type != NULL && strcmp(type, "event_callback") == 0 && eid != NULL) {
		int seen = ops->event_seen(ops->arg, eid);
		const char *etype = json_string_value(json_object_get(json_object_get(doc,
		    "event"), "type"));

		out->status = 200;
		ops->audit(ops->arg, "event", seen == 1 ? "duplicate" : "ok",
		    rq->retry_num != NULL ? "slack retry" : NULL, NULL, NULL, etype, eid);
	} else {
		out->status = 200;
		ops->audit(ops->arg, "event", "ignored", "not an event_callback", NULL, NULL,
		    type, eid);
	}
	json_decref(doc);
}

void
aud_inbound_handle(const struct aud_inbound_cfg *c, const struct aud_inbound_ops *ops,
    const struct aud_inbound_req *rq, int64_t now_s, struct aud_inbound_resp *out)
{
	struct mlc_err err;

	memset(out, 0, sizeof(*out));
	out->status = 401;
	/* The SSL check is the one unsigned request; its answer carries nothing. */
	if (!rq->too_big && is_form(rq->content_type)) {
		char *ssl = aud_form_get(rq->body, rq->len, "ssl_check");
		int is_ssl = ssl != NULL && strcmp(ssl, "1") == 0;

		free(ssl);
		if (is_ssl) {
			out->status = 200;
			ops->audit(ops->arg, "ssl_check", "ok", NULL, NULL, NULL, NULL, NULL);
			return;
		}
	}
	if (rq->too_big || rq->len > c->max_body) {
		mlc_err_set(&err, "body larger than inbound.max_body (%zu bytes)", c->max_body);
		goto reject;
	}
	if (c->secret == NULL || c->secret_len == 0) {
		mlc_err_set(&err, "no signing secret configured");
		goto reject;
	}
	if (aud_slack_verify(c->secret, c->secret_len, rq->ts_header, rq->sig_header,
	    rq->body, rq->len, now_s, &err) != 0)
		goto reject;
	if (is_form(rq->content_type)) {
		char *command = aud_form_get(rq->body, rq->len, "command");
		char *payload;

		if (command != NULL) {
			slash(c, ops, rq, out, command);
			free(command);
			return;
		}
		payload = aud_form_get(rq->body, rq->len, "payload");
		out->status = 200;
		ops->audit(ops->arg, "interactivity", payload != NULL ? "ok" : "ignored",
		    payload != NULL ? NULL : "no payload", NULL, NULL, NULL, NULL);
		free(payload);
		return;
	}
	events(ops, rq, out);
	return;
reject:
	out->status = 401;
	ops->audit(ops->arg, "request", "rejected", err.msg, NULL, NULL, NULL, NULL);
}
