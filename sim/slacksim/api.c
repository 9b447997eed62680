/*
 * slacksim API: turns one buffered HTTP request into one response, the way
 * slack.com would answer it, and records the call.
 *
 * The pipeline for /api/<method> is the order Slack appears to apply:
 *
 *   method known?  -> body decoded (JSON / form, charset)  -> auth
 *   -> method handler (channel, rate limit, validation, store) -> reply
 *
 * Platform errors are HTTP 200 with {"ok":false,"error":code}; only the rate
 * limit is a 429. Warnings collected along the way (missing_charset,
 * message_truncated) go to both "warning" (comma-joined) and
 * response_metadata.warnings, as Slack does.
 *
 * Later fault injection (an error code switched on per channel or token, 429
 * modes, HTML 5xx, resets, store-then-drop) hooks in at api_call() after the
 * request is understood; each handler reports the channel it resolved in
 * `struct call` so per-channel faults have something to key on.
 */
#include "slacksim.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mlc_log.h"

#define JSON_CT "application/json; charset=utf-8"

uint64_t
sim_now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t
sim_now_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
sim_now_wall_ms(void)
{
	return sim_now_wall_us() / 1000u;
}

/* Everything one /api call accumulates on its way through the pipeline. */
struct call {
	struct sim_ctx *ctx;
	const struct sim_request *rq;
	struct sim_response *rs;
	json_t *args;        /* decoded body (or query for GET): an object */
	int form;            /* args came from a form: values are strings */
	json_t *warnings;    /* array of strings */
	json_t *reply;       /* the JSON document being built */
	char channel[32];    /* for the call log: resolved ID or raw argument */
	char token[128];     /* the caller's token once authenticated */
	const char *method;
	const char *fault;   /* fault injected, for the call log */
};

/* ---- response helpers ---------------------------------------------------- */

static void
respond_json(struct sim_response *rs, unsigned status, json_t *doc)
{
	rs->status = status;
	rs->content_type = JSON_CT;
	rs->body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (rs->body == NULL) {
		/* Out of memory: fall back to a static-sized error document. */
		rs->status = 500;
		rs->body = strdup("{\"ok\":false,\"error\":\"internal_error\"}");
	}
	rs->body_len = rs->body != NULL ? strlen(rs->body) : 0;
}

/* Copies s into a fixed buffer for the log, replacing anything that is not
 * printable ASCII: client-controlled text must not forge log lines. */
static void
copy_printable(char *dst, size_t dstsz, const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n + 1 < dstsz; s++) {
		unsigned char c = (unsigned char)*s;

		dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = '\0';
}

/* Finishes an ok:false reply (keeping warnings) with HTTP `status`. */
static void
call_fail(struct call *c, unsigned status, const char *error)
{
	json_decref(c->reply);
	c->reply = json_pack("{s:b, s:s}", "ok", 0, "error", error);
	c->rs->status = status;
}

/* ---- argument access ----------------------------------------------------- */

static const char *
arg_str(const struct call *c, const char *key)
{
	json_t *v = c->args != NULL ? json_object_get(c->args, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
arg_present(const struct call *c, const char *key)
{
	json_t *v = c->args != NULL ? json_object_get(c->args, key) : NULL;

	return v != NULL && !json_is_null(v);
}

/* Booleans arrive as JSON true/false, or "true"/"1" in forms. */
static int
arg_bool(const struct call *c, const char *key)
{
	json_t *v = c->args != NULL ? json_object_get(c->args, key) : NULL;
	const char *s;

	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	s = json_is_string(v) ? json_string_value(v) : NULL;
	return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

/* A non-negative integer from a JSON integer or a decimal string.
 * 1 = present and valid, 0 = absent, -1 = present but not a count. */
static int
arg_count(const struct call *c, const char *key, uint64_t *out)
{
	json_t *v = c->args != NULL ? json_object_get(c->args, key) : NULL;
	const char *s;
	uint64_t n = 0;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -1;
		*out = (uint64_t)json_integer_value(v);
		return 1;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > 100000000u)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*out = n;
	return 1;
}

/*
 * A JSON-valued argument (blocks, metadata, attachments): in a form it is a
 * JSON string to parse; in a JSON body it is the value itself (a string
 * holding JSON is accepted too, as Slack does). Returns a new reference,
 * NULL if absent; *bad = 1 if present but unparseable.
 */
static json_t *
arg_json(const struct call *c, const char *key, int *bad)
{
	json_t *v = c->args != NULL ? json_object_get(c->args, key) : NULL;
	const char *s;

	*bad = 0;
	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		return json_incref(v);
	s = json_string_value(v);
	if (*s == '\0')
		return NULL;
	v = json_loads(s, JSON_DECODE_ANY, NULL);
	if (v == NULL)
		*bad = 1;
	return v;
}

/* ---- body decoding ------------------------------------------------------- */

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decodes [s, s+n) into a new JSON string ('+' is a space).
 * NULL on a bad escape, an embedded NUL or invalid UTF-8. */
static json_t *
form_decode(const char *s, size_t n)
{
	char *buf = malloc(n + 1);
	size_t o = 0;
	json_t *v = NULL;

	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			buf[o++] = ' ';
		} else if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				goto out;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto out;
			buf[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (s[i] == '\0') {
			goto out;
		} else {
			buf[o++] = s[i];
		}
	}
	v = json_stringn(buf, o);  /* validates UTF-8 */
out:
	free(buf);
	return v;
}

/* application/x-www-form-urlencoded -> object of strings (first value of a
 * repeated key wins). -1 on malformed input. */
static int
form_parse(const char *body, size_t len, json_t *obj)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i, eq = SIZE_MAX;
		json_t *k, *v;
		int rc;

		for (; i < len && body[i] != '&'; i++)
			if (body[i] == '=' && eq == SIZE_MAX)
				eq = i;
		if (i > start) {
			size_t kend = eq == SIZE_MAX ? i : eq;
			size_t vstart = eq == SIZE_MAX ? i : eq + 1;

			k = form_decode(body + start, kend - start);
			v = form_decode(body + vstart, i - vstart);
			if (k == NULL || v == NULL) {
				json_decref(k);
				json_decref(v);
				return -1;
			}
			rc = 0;
			if (json_object_get(obj, json_string_value(k)) == NULL)
				rc = json_object_set(obj, json_string_value(k), v);
			json_decref(k);
			json_decref(v);
			if (rc != 0)
				return -1;
		}
		i++;  /* skip '&' */
	}
	return 0;
}

struct ctype {
	char media[64];     /* lower case, e.g. "application/json" */
	char charset[32];   /* lower case, "" if absent */
};

static void
ctype_parse(const char *h, struct ctype *ct)
{
	size_t n = 0;

	memset(ct, 0, sizeof(*ct));
	while (*h == ' ' || *h == '\t')
		h++;
	for (; *h != '\0' && *h != ';' && *h != ' ' && *h != '\t'; h++)
		if (n + 1 < sizeof(ct->media))
			ct->media[n++] = (char)tolower((unsigned char)*h);
	ct->media[n] = '\0';
	while (*h != '\0') {
		const char *p;

		if (*h != ';') {
			h++;
			continue;
		}
		h++;
		while (*h == ' ' || *h == '\t')
			h++;
		if (strncasecmp(h, "charset=", 8) != 0)
			continue;
		p = h + 8;
		if (*p == '"')
			p++;
		n = 0;
		for (; *p != '\0' && *p != '"' && *p != ';' && *p != ' '; p++)
			if (n + 1 < sizeof(ct->charset))
				ct->charset[n++] = (char)tolower((unsigned char)*p);
		ct->charset[n] = '\0';
		h = p;
	}
}

/* Decodes the request into c->args. Returns NULL, or the error code. */
static const char *
call_decode(struct call *c)
{
	const struct sim_request *rq = c->rq;
	struct ctype ct;

	if (strcmp(rq->http_method, "GET") == 0) {
		c->form = 1;
		c->args = rq->query != NULL ? json_deep_copy(rq->query) :
		    json_object();
		return c->args != NULL ? NULL : "internal_error";
	}
	if (rq->body_len == 0) {
		c->form = 1;
		c->args = json_object();
		return c->args != NULL ? NULL : "internal_error";
	}
	if (rq->content_type == NULL)
		return "missing_post_type";
	ctype_parse(rq->content_type, &ct);
	if (ct.charset[0] != '\0' && strcmp(ct.charset, "utf-8") != 0 &&
	    strcmp(ct.charset, "utf8") != 0)
		return "invalid_charset";
	if (strcmp(ct.media, "application/json") == 0) {
		json_error_t jerr;

		if (ct.charset[0] == '\0')
			json_array_append_new(c->warnings,
			    json_string("missing_charset"));
		c->args = json_loadb(rq->body, rq->body_len, 0, &jerr);
		if (c->args == NULL || !json_is_object(c->args))
			return "invalid_json";
		return NULL;
	}
	if (strcmp(ct.media, "application/x-www-form-urlencoded") == 0) {
		c->form = 1;
		c->args = json_object();
		if (c->args == NULL)
			return "internal_error";
		if (form_parse(rq->body, rq->body_len, c->args) != 0)
			return "invalid_form_data";
		return NULL;
	}
	return "invalid_post_type";
}

/* not_authed / invalid_auth, or NULL when the token is the accepted one.
 * A JSON body's "token" field does not count: Slack wants the header. */
static const char *
call_auth(struct call *c)
{
	const char *tok = NULL, *h = c->rq->authorization, *e;

	if (h != NULL) {
		while (*h == ' ')
			h++;
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return "invalid_auth";
		tok = h + 7;
		while (*tok == ' ')
			tok++;
	} else if (c->form) {
		tok = arg_str(c, "token");
	}
	if (tok == NULL || *tok == '\0')
		return "not_authed";
	if (strlen(tok) >= sizeof(c->token))
		return "invalid_auth";
	e = sim_tokens_check(c->ctx->tokens, tok, sim_now_mono_ms());
	if (e == NULL)
		snprintf(c->token, sizeof(c->token), "%s", tok);
	return e;
}

/* Whether the token was granted `scope` (--scopes). */
static int
has_scope(const struct call *c, const char *scope)
{
	const char *p = c->ctx->cfg.scopes;
	size_t n = strlen(scope);

	while (p != NULL && *p != '\0') {
		size_t k = strcspn(p, ",");

		if (k == n && strncmp(p, scope, n) == 0)
			return 1;
		p += k;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
need_scope(struct call *c, const char *scope)
{
	if (has_scope(c, scope))
		return 1;
	json_decref(c->reply);
	c->reply = json_pack("{s:b, s:s, s:s, s:s}", "ok", 0, "error", "missing_scope",
	    "needed", scope, "provided", c->ctx->cfg.scopes);
	return 0;
}

/* ---- Block Kit ----------------------------------------------------------- */

/* Characters (code points) in a valid UTF-8 string. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* A text object {"type":"plain_text"|"mrkdwn","text":"..."} with 1..max
 * characters; plain_only restricts the type. */
static int
text_obj_ok(json_t *t, size_t max, int plain_only)
{
	const char *type = json_string_value(json_object_get(t, "type"));
	const char *text = json_string_value(json_object_get(t, "text"));
	size_t n;

	if (!json_is_object(t) || type == NULL || text == NULL)
		return 0;
	if (strcmp(type, "plain_text") != 0 &&
	    (plain_only || strcmp(type, "mrkdwn") != 0))
		return 0;
	n = utf8_chars(text);
	return n >= 1 && n <= max;
}

/* The documented limits that a formatter can trip over; unknown block types
 * pass with only the common checks. */
static int
blocks_ok(json_t *blocks)
{
	size_t i;
	json_t *b;

	if (!json_is_array(blocks) || json_array_size(blocks) == 0 ||
	    json_array_size(blocks) > 50)
		return 0;
	json_array_foreach(blocks, i, b) {
		const char *type, *block_id;
		json_t *v;

		if (!json_is_object(b))
			return 0;
		type = json_string_value(json_object_get(b, "type"));
		if (type == NULL || *type == '\0')
			return 0;
		v = json_object_get(b, "block_id");
		if (v != NULL) {
			block_id = json_string_value(v);
			if (block_id == NULL || utf8_chars(block_id) > 255)
				return 0;
		}
		if (strcmp(type, "section") == 0) {
			json_t *text = json_object_get(b, "text");
			json_t *fields = json_object_get(b, "fields");
			size_t k;
			json_t *f;

			if (text == NULL && fields == NULL)
				return 0;
			if (text != NULL && !text_obj_ok(text, 3000, 0))
				return 0;
			if (fields != NULL) {
				if (!json_is_array(fields) ||
				    json_array_size(fields) == 0 ||
				    json_array_size(fields) > 10)
					return 0;
				json_array_foreach(fields, k, f)
					if (!text_obj_ok(f, 2000, 0))
						return 0;
			}
		} else if (strcmp(type, "header") == 0) {
			if (!text_obj_ok(json_object_get(b, "text"), 150, 1))
				return 0;
		}
	}
	return 1;
}

/* Characters of every "text" string anywhere in the blocks: Slack answers
 * msg_blocks_too_long past about 12,000 (bolt-js #2509). */
static size_t
blocks_text_chars(json_t *v)
{
	size_t n = 0, i;
	const char *k;
	json_t *x;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			n += blocks_text_chars(x);
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, x) {
			if (strcmp(k, "text") == 0 && json_is_string(x))
				n += utf8_chars(json_string_value(x));
			else
				n += blocks_text_chars(x);
		}
	}
	return n;
}

#define SIM_BLOCKS_TEXT_MAX 12000u

/* Metadata: {"event_type": string, "event_payload": object}. */
static int
metadata_ok(json_t *m)
{
	const char *et = json_string_value(json_object_get(m, "event_type"));

	return json_is_object(m) && et != NULL && *et != '\0' &&
	    json_is_object(json_object_get(m, "event_payload"));
}

/* Cuts s (valid UTF-8) to at most max code points, in place. 1 if cut. */
static int
utf8_truncate(char *s, size_t max)
{
	size_t n = 0;

	for (char *p = s; *p != '\0'; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80) {
			if (n == max) {
				*p = '\0';
				return 1;
			}
			n++;
		}
	}
	return 0;
}

/* ---- methods ------------------------------------------------------------- */

static void
channel_note(struct call *c, const char *s)
{
	copy_printable(c->channel, sizeof(c->channel), s);
}

/* Resolves the "channel" argument; NULL on success, else the error code. */
static const char *
call_channel(struct call *c, int create, struct sim_channel_ref *ref)
{
	const char *arg = arg_str(c, "channel");

	if (arg == NULL || *arg == '\0')
		return "channel_not_found";
	channel_note(c, arg);
	switch (sim_store_resolve(c->ctx->store, arg, create, ref)) {
	case SIM_RESOLVE_OK:
		channel_note(c, ref->id);
		return NULL;
	case SIM_RESOLVE_FULL:
		mlc_warn("channel limit (%u) reached; refusing new channels",
		    SIM_MAX_CHANNELS);
		return "channel_not_found";
	case SIM_RESOLVE_NOT_FOUND:
		break;
	}
	return "channel_not_found";
}

static void
m_auth_test(struct call *c)
{
	json_object_update_new(c->reply, json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s}", "url", SIM_TEAM_URL,
	    "team", SIM_TEAM_NAME, "user", SIM_BOT_USER, "team_id", SIM_TEAM_ID,
	    "user_id", SIM_USER_ID, "bot_id", SIM_BOT_ID));
}

static void
m_chat_post_message(struct call *c)
{
	struct sim_channel_ref ref;
	struct sim_post post = { 0 };
	char ts[SIM_TS_LEN + 1], key[512];
	json_t *blocks = NULL, *meta = NULL, *att = NULL, *msg;
	char *text = NULL, *blocks_s = NULL, *meta_s = NULL;
	const char *e, *t;
	uint64_t retry_ms = 0;
	struct mlc_err err;
	int bad;

	e = call_channel(c, 1, &ref);
	if (e != NULL)
		goto fail;

	/* Rate limit before looking at the content: Slack counts calls. */
	/* Channel first: a huge token may be cut, the channel must not be. */
	snprintf(key, sizeof(key), "%s\x1f%s", ref.id, c->ctx->cfg.token);
	if (sim_rl_take(c->ctx->rl, key, sim_now_mono_ms(), &retry_ms) == 0) {
		snprintf(c->rs->retry_after, sizeof(c->rs->retry_after), "%lu",
		    sim_rl_retry_after_s(retry_ms));
		call_fail(c, 429, "ratelimited");
		return;
	}
	/* The workspace-wide limit, one bucket per token (app). */
	if (c->ctx->ws_rl != NULL &&
	    sim_rl_take(c->ctx->ws_rl, c->token, sim_now_mono_ms(), &retry_ms) == 0) {
		snprintf(c->rs->retry_after, sizeof(c->rs->retry_after), "%lu",
		    sim_rl_retry_after_s(retry_ms));
		call_fail(c, 429, "ratelimited");
		return;
	}

	blocks = arg_json(c, "blocks", &bad);
	if (bad) {
		e = "invalid_blocks_format";
		goto fail;
	}
	att = arg_json(c, "attachments", &bad);
	if (bad) {
		e = "invalid_attachments";
		goto fail;
	}
	meta = arg_json(c, "metadata", &bad);
	if (bad || (meta != NULL && !metadata_ok(meta))) {
		e = "invalid_metadata_format";
		goto fail;
	}
	t = arg_str(c, "text");
	if ((t == NULL || *t == '\0') && blocks == NULL &&
	    !(json_is_array(att) && json_array_size(att) > 0)) {
		e = arg_present(c, "text") && t == NULL ? "invalid_arguments" :
		    "no_text";
		goto fail;
	}
	if (blocks != NULL && !blocks_ok(blocks)) {
		e = "invalid_blocks";
		goto fail;
	}
	if (blocks != NULL && blocks_text_chars(blocks) > SIM_BLOCKS_TEXT_MAX) {
		e = "msg_blocks_too_long";
		goto fail;
	}
	text = strdup(t != NULL ? t : "");
	if (text == NULL) {
		e = "internal_error";
		goto fail;
	}
	if (utf8_truncate(text, SIM_TEXT_MAX_CHARS))
		json_array_append_new(c->warnings,
		    json_string("message_truncated"));
	if (blocks != NULL)
		blocks_s = json_dumps(blocks, JSON_COMPACT);
	if (meta != NULL)
		meta_s = json_dumps(meta, JSON_COMPACT);
	post.text = text;
	post.blocks = blocks_s;
	post.metadata = meta_s;
	if ((blocks != NULL && blocks_s == NULL) ||
	    (meta != NULL && meta_s == NULL) ||
	    sim_store_post(c->ctx->store, ref.id, &post, sim_now_wall_us(), ts,
	    &err) != 0) {
		e = "internal_error";
		goto fail;
	}

	msg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "message",
	    "user", SIM_USER_ID, "bot_id", SIM_BOT_ID, "text", text, "ts", ts);
	if (msg != NULL && blocks != NULL)
		json_object_set(msg, "blocks", blocks);
	if (msg != NULL && meta != NULL)
		json_object_set(msg, "metadata", meta);
	json_object_set_new(c->reply, "channel", json_string(ref.id));
	json_object_set_new(c->reply, "ts", json_string(ts));
	json_object_set_new(c->reply, "message", msg != NULL ? msg :
	    json_object());
	snprintf(c->rs->log_note, sizeof(c->rs->log_note), "ts=%s", ts);
	/* Stored, answer late: a client that gives up or dies now does not
	 * know the message is in the channel (tests of in-doubt posts). */
	if (c->ctx->cfg.delay_ms > 0) {
		struct timespec d = { (time_t)(c->ctx->cfg.delay_ms / 1000),
			(long)(c->ctx->cfg.delay_ms % 1000) * 1000000L };
		nanosleep(&d, NULL);
	}
	goto out;
fail:
	call_fail(c, 200, e);
out:
	json_decref(blocks);
	json_decref(att);
	json_decref(meta);
	free(text);
	free(blocks_s);
	free(meta_s);
}

/* Cursors look like Slack's: base64("<prefix><number>"), e.g.
 * "next_ts:<ts in microseconds>" for history, "next_idx:<n>" for lists. */
static void
cursor_encode(const char *prefix, uint64_t v, char *out, size_t outsz)
{
	char raw[48];
	unsigned char enc[72];
	int n;

	n = snprintf(raw, sizeof(raw), "%s%" PRIu64, prefix, v);
	EVP_EncodeBlock(enc, (const unsigned char *)raw, n);
	snprintf(out, outsz, "%s", (const char *)enc);
}

static int
cursor_decode(const char *s, const char *prefix, uint64_t *out)
{
	unsigned char dec[64];
	size_t len = strlen(s), pad = 0, pl = strlen(prefix);
	uint64_t v = 0;
	int n;

	if (len == 0 || len % 4 != 0 || len > 64)
		return -1;
	n = EVP_DecodeBlock(dec, (const unsigned char *)s, (int)len);
	if (n < 0)
		return -1;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	n -= (int)pad;
	if (n <= (int)pl || memcmp(dec, prefix, pl) != 0 || n - (int)pl > 16)
		return -1;
	for (int i = (int)pl; i < n; i++) {
		if (dec[i] < '0' || dec[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(dec[i] - '0');
	}
	*out = v;
	return 0;
}

/* conversations.info and .history take a channel ID, never a name. */
static const char *
id_only(struct call *c)
{
	const char *arg = arg_str(c, "channel");

	if (arg != NULL && *arg != '\0' && !sim_channel_id_shape(arg)) {
		channel_note(c, arg);
		return "channel_not_found";
	}
	return NULL;
}

/* conversations.list: every channel in creation order, `limit` (default
 * 100, at most 1000) a page, the cursor base64("next_idx:<n>"). */
static void
m_conversations_list(struct call *c)
{
	char cur[72] = "";
	const char *s;
	uint64_t limit = 100, start = 0;
	size_t next = 0;
	json_t *arr;
	int rc;

	if (!need_scope(c, "channels:read"))
		return;
	rc = arg_count(c, "limit", &limit);
	if (rc < 0) {
		call_fail(c, 200, "invalid_limit");
		return;
	}
	if (rc == 0 || limit == 0)
		limit = 100;
	if (limit > 1000)
		limit = 1000;
	s = arg_str(c, "cursor");
	if (s != NULL && *s != '\0' && cursor_decode(s, "next_idx:", &start) != 0) {
		call_fail(c, 200, "invalid_cursor");
		return;
	}
	arr = sim_store_channels_json(c->ctx->store, (size_t)start, (size_t)limit,
	    &next);
	if (arr == NULL) {
		call_fail(c, 200, "internal_error");
		return;
	}
	if (next > 0)
		cursor_encode("next_idx:", next, cur, sizeof(cur));
	json_object_set_new(c->reply, "channels", arr);
	json_object_set_new(c->reply, "response_metadata",
	    json_pack("{s:s}", "next_cursor", cur));
}

static void
m_conversations_info(struct call *c)
{
	struct sim_channel_ref ref;
	const char *e;
	json_t *ch;

	if (!need_scope(c, "channels:read"))
		return;
	/* Like Slack, only an ID: a name is channel_not_found (names are
	 * resolved with conversations.list). */
	e = id_only(c);
	if (e == NULL)
		e = call_channel(c, 0, &ref);
	if (e != NULL) {
		call_fail(c, 200, e);
		return;
	}
	ch = sim_store_channel_json(c->ctx->store, ref.id);
	if (ch == NULL) {
		call_fail(c, 200, "channel_not_found");
		return;
	}
	json_object_set_new(c->reply, "channel", ch);
}

static void
m_conversations_history(struct call *c)
{
	struct sim_history_q q = { 0, UINT64_MAX, 0, UINT64_MAX, 100, 0 };
	struct sim_channel_ref ref;
	struct mlc_err err;
	char cur[96];
	const char *e, *s;
	uint64_t next = 0, limit;
	json_t *msgs;
	int has_more = 0, rc;

	if (!need_scope(c, "channels:history"))
		return;
	e = id_only(c);
	if (e == NULL)
		e = call_channel(c, 0, &ref);
	if (e != NULL)
		goto fail;
	rc = arg_count(c, "limit", &limit);
	if (rc < 0) {
		e = "invalid_limit";
		goto fail;
	}
	if (rc > 0)
		q.limit = limit == 0 ? 100 : (limit > 999 ? 999 : limit);
	s = arg_str(c, "oldest");
	if (s != NULL && *s != '\0' && sim_ts_parse(s, &q.oldest_us) != 0) {
		e = "invalid_ts_oldest";
		goto fail;
	}
	s = arg_str(c, "latest");
	if (s != NULL && *s != '\0' && sim_ts_parse(s, &q.latest_us) != 0) {
		e = "invalid_ts_latest";
		goto fail;
	}
	s = arg_str(c, "cursor");
	if (s != NULL && *s != '\0' && cursor_decode(s, "next_ts:", &q.before_us) != 0) {
		e = "invalid_cursor";
		goto fail;
	}
	q.inclusive = arg_bool(c, "inclusive");
	q.with_metadata = arg_bool(c, "include_all_metadata");
	msgs = json_array();
	if (msgs == NULL || sim_store_history(c->ctx->store, ref.id, &q, msgs,
	    &has_more, &next, &err) != 0) {
		json_decref(msgs);
		e = "channel_not_found";
		goto fail;
	}
	cur[0] = '\0';
	if (has_more)
		cursor_encode("next_ts:", next, cur, sizeof(cur));
	json_object_set_new(c->reply, "messages", msgs);
	json_object_set_new(c->reply, "has_more", json_boolean(has_more));
	json_object_set_new(c->reply, "pin_count", json_integer(0));
	json_object_set_new(c->reply, "response_metadata",
	    json_pack("{s:s}", "next_cursor", cur));
	return;
fail:
	call_fail(c, 200, e);
}

/* oauth.v2.access, grant_type=refresh_token: client_id and client_secret
 * must be present (any value), the refresh token must be the current one. */
static void
m_oauth_v2_access(struct call *c)
{
	const char *gt = arg_str(c, "grant_type"), *rt = arg_str(c, "refresh_token");
	const char *id = arg_str(c, "client_id"), *sec = arg_str(c, "client_secret");
	char access[80], refresh[80];
	uint64_t expires_in = 0;
	const char *e;

	if (id == NULL || *id == '\0') {
		call_fail(c, 200, "invalid_client_id");
		return;
	}
	if (sec == NULL || *sec == '\0') {
		call_fail(c, 200, "bad_client_secret");
		return;
	}
	if (gt == NULL || strcmp(gt, "refresh_token") != 0) {
		call_fail(c, 200, "invalid_grant_type");
		return;
	}
	e = sim_tokens_refresh(c->ctx->tokens, rt, sim_now_mono_ms(), access, refresh,
	    &expires_in);
	if (e != NULL) {
		call_fail(c, 200, e);
		return;
	}
	json_object_update_new(c->reply, json_pack(
	    "{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:{s:s, s:s}}",
	    "access_token", access, "refresh_token", refresh, "token_type", "bot",
	    "scope", c->ctx->cfg.scopes, "expires_in", (json_int_t)expires_in,
	    "bot_user_id", SIM_USER_ID, "app_id", "A0SIMAPP01",
	    "team", "id", SIM_TEAM_ID, "name", SIM_TEAM_NAME));
	snprintf(c->rs->log_note, sizeof(c->rs->log_note), "token rotated");
}

struct method {
	const char *name;
	void (*fn)(struct call *c);
	int get_ok;   /* GET allowed (read-only methods) */
	int noauth;   /* authenticated by its own arguments, not a bot token */
};

static const struct method methods[] = {
	{ "auth.test",             m_auth_test,             1, 0 },
	{ "chat.postMessage",      m_chat_post_message,     0, 0 },
	{ "conversations.history", m_conversations_history, 1, 0 },
	{ "conversations.info",    m_conversations_info,    1, 0 },
	{ "conversations.list",    m_conversations_list,    1, 0 },
	{ "oauth.v2.access",       m_oauth_v2_access,       0, 1 },
};

static const struct method *
method_find(const char *name)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

/* Merges the collected warnings into the reply, Slack style. */
static void
add_warnings(struct call *c)
{
	char joined[256] = "";
	size_t i;
	json_t *w;

	if (c->reply == NULL || json_array_size(c->warnings) == 0)
		return;
	json_array_foreach(c->warnings, i, w) {
		if (i > 0)
			strncat(joined, ",", sizeof(joined) - strlen(joined) - 1);
		strncat(joined, json_string_value(w),
		    sizeof(joined) - strlen(joined) - 1);
	}
	json_object_set_new(c->reply, "warning", json_string(joined));
	if (json_object_get(c->reply, "response_metadata") == NULL)
		json_object_set_new(c->reply, "response_metadata",
		    json_object());
	json_object_set(json_object_get(c->reply, "response_metadata"),
	    "warnings", c->warnings);
}

/* ---- faults and the call log ------------------------------------------- */

/* The parsed body as the call log shows it: sizes and the message id. */
static void
summarize(struct call *c, struct sim_call *rec)
{
	const char *t = arg_str(c, "text");
	json_t *blocks, *meta;
	int bad;

	rec->text_chars = t != NULL ? (unsigned)utf8_chars(t) : 0;
	blocks = arg_json(c, "blocks", &bad);
	rec->n_blocks = json_is_array(blocks) ? (unsigned)json_array_size(blocks) : 0;
	json_decref(blocks);
	meta = arg_json(c, "metadata", &bad);
	rec->has_metadata = meta != NULL;
	copy_printable(rec->msg_id, sizeof(rec->msg_id), json_string_value(
	    json_object_get(json_object_get(meta, "event_payload"), "msg_id")));
	json_decref(meta);
}

static void
headers_note(const struct sim_request *rq, struct sim_call *rec)
{
	char *s = rq->headers != NULL ? json_dumps(rq->headers, JSON_COMPACT) : NULL;

	if (s != NULL && strlen(s) < sizeof(rec->headers))
		memcpy(rec->headers, s, strlen(s) + 1);
	else
		snprintf(rec->headers, sizeof(rec->headers), "{}");
	free(s);
}

static int
fault_find(struct call *c, struct sim_fault *f)
{
	struct sim_channel_ref ref;
	const char *arg = arg_str(c, "channel");
	char name[SIM_CHANNEL_NAME_MAX + 2] = "", id[SIM_CHANNEL_ID_MAX + 1] = "";

	if (arg != NULL && *arg != '\0') {
		/* A post names a channel that exists in the workspace even
		 * when a fault keeps the post out of it (the simulator makes
		 * channels on first use). */
		if (sim_store_resolve(c->ctx->store, arg,
		    strcmp(c->method, "chat.postMessage") == 0, &ref) == SIM_RESOLVE_OK) {
			snprintf(name, sizeof(name), "%s", ref.name);
			snprintf(id, sizeof(id), "%s", ref.id);
		} else {
			size_t n = 0;

			if (*arg == '#')
				arg++;
			for (; *arg != '\0' && n + 1 < sizeof(name); arg++)
				name[n++] = (char)tolower((unsigned char)*arg);
			name[n] = '\0';
		}
	}
	return sim_faults_take(c->ctx->faults, c->method, id, name, c->token, f);
}

static const char *
fault_name(const struct sim_fault *f)
{
	switch (f->kind) {
	case SIM_FAULT_ERROR: return "error";
	case SIM_FAULT_HTTP: return "http";
	case SIM_FAULT_RESET: return "reset";
	case SIM_FAULT_SLOW: return "slow";
	case SIM_FAULT_STORE_THEN_DROP: return "store_then_drop";
	case SIM_FAULT_RATELIMIT: return "ratelimit";
	}
	return "?";
}

/* Faults that replace the call: 0 = none (run the method), 1 = the reply
 * is an error document, 2 = the response is complete (no JSON reply). */
static int
fault_before(struct call *c, const struct sim_fault *f)
{
	struct sim_response *rs = c->rs;

	switch (f->kind) {
	case SIM_FAULT_ERROR:
		call_fail(c, 200, f->error);
		channel_note(c, arg_str(c, "channel"));
		return 1;
	case SIM_FAULT_HTTP: {
		char html[200];

		snprintf(html, sizeof(html), "<html><head><title>%u</title></head><body>"
		    "<h1>%u Service Unavailable</h1></body></html>", f->http, f->http);
		rs->status = f->http;
		rs->content_type = "text/html; charset=utf-8";
		rs->body = strdup(html);
		rs->body_len = rs->body != NULL ? strlen(rs->body) : 0;
		call_fail(c, f->http, "http_fault");
		channel_note(c, arg_str(c, "channel"));
		return 2;
	}
	case SIM_FAULT_RESET:
		rs->drop = 1;
		rs->status = 0;
		rs->body = strdup("");
		rs->body_len = 0;
		call_fail(c, 0, "reset");
		channel_note(c, arg_str(c, "channel"));
		return 2;
	case SIM_FAULT_RATELIMIT:
		if (f->rl_mode != SIM_RL_NO_RETRY_AFTER)
			snprintf(rs->retry_after, sizeof(rs->retry_after), "%u", f->retry_after);
		call_fail(c, 429, "ratelimited");
		channel_note(c, arg_str(c, "channel"));
		return 1;
	case SIM_FAULT_SLOW:
	case SIM_FAULT_STORE_THEN_DROP:
		return 0;
	}
	return 0;
}

/* Faults that follow the call: a late answer, or none at all. */
static void
fault_after(struct call *c, const struct sim_fault *f)
{
	if (f->kind == SIM_FAULT_SLOW && f->slow_ms > 0) {
		struct timespec d = { (time_t)(f->slow_ms / 1000),
			(long)(f->slow_ms % 1000) * 1000000L };
		nanosleep(&d, NULL);
	} else if (f->kind == SIM_FAULT_STORE_THEN_DROP) {
		c->rs->drop = 1;
	}
}

static void
api_call(struct sim_ctx *ctx, const struct sim_request *rq,
    struct sim_response *rs, const char *name)
{
	struct call c = { 0 };
	struct sim_call rec = { 0 };
	struct sim_fault fault;
	const struct method *m;
	const char *e;
	json_t *okv, *errv;

	c.ctx = ctx;
	c.rq = rq;
	c.rs = rs;
	c.warnings = json_array();
	c.reply = json_pack("{s:b}", "ok", 1);
	rs->status = 200;

	m = method_find(name);
	if (m == NULL) {
		call_fail(&c, 200, "unknown_method");
		goto reply;
	}
	if (strcmp(rq->http_method, "POST") != 0 &&
	    !(m->get_ok && strcmp(rq->http_method, "GET") == 0)) {
		call_fail(&c, 405, "method_not_allowed");
		goto reply;
	}
	c.method = m->name;
	e = call_decode(&c);
	if (e == NULL && !m->noauth)
		e = call_auth(&c);
	if (e != NULL) {
		call_fail(&c, 200, e);
		goto reply;
	}
	if (!m->noauth)
		snprintf(rs->scopes, sizeof(rs->scopes), "%s", ctx->cfg.scopes);
	summarize(&c, &rec);
	if (fault_find(&c, &fault)) {
		int r;

		c.fault = fault_name(&fault);
		r = fault_before(&c, &fault);
		if (r == 2)
			goto logged;
		if (r == 1)
			goto reply;
	}
	m->fn(&c);
	if (c.fault != NULL)
		fault_after(&c, &fault);
reply:
	add_warnings(&c);
	respond_json(rs, rs->status, c.reply);
logged:

	copy_printable(rec.method, sizeof(rec.method), name);
	rec.status = rs->status;
	okv = json_object_get(c.reply, "ok");
	errv = json_object_get(c.reply, "error");
	rec.ok = json_is_true(okv);
	copy_printable(rec.error, sizeof(rec.error), json_string_value(errv));
	memcpy(rec.channel, c.channel, sizeof(rec.channel));
	rec.at_ms = sim_now_wall_ms();
	rec.dropped = rs->drop;
	if (c.fault != NULL)
		snprintf(rec.fault, sizeof(rec.fault), "%s", c.fault);
	headers_note(rq, &rec);
	if (rs->drop) {
		/* No answer: the call log says so, the status is 0. */
		rec.status = 0;
		rec.ok = 0;
	}
	sim_store_record_call(ctx->store, &rec);
	if (rs->log_note[0] == '\0')
		snprintf(rs->log_note, sizeof(rs->log_note), "%s%s",
		    rec.ok ? "ok" : "error=", rec.ok ? "" : rec.error);
	if (rec.channel[0] != '\0') {
		size_t n = strlen(rs->log_note);

		snprintf(rs->log_note + n, sizeof(rs->log_note) - n,
		    " channel=%s", rec.channel);
	}
	json_decref(c.args);
	json_decref(c.warnings);
	json_decref(c.reply);
}

/* ---- /sim introspection -------------------------------------------------- */

static size_t
query_limit(const struct sim_request *rq)
{
	json_t *v = rq->query != NULL ? json_object_get(rq->query, "limit") :
	    NULL;
	const char *s = json_string_value(v);
	size_t n = 0;

	for (; s != NULL && *s >= '0' && *s <= '9' && n < 100000000u; s++)
		n = n * 10 + (size_t)(*s - '0');
	return n;
}

static void
sim_route(struct sim_ctx *ctx, const struct sim_request *rq,
    struct sim_response *rs)
{
	int get = strcmp(rq->http_method, "GET") == 0;
	json_t *doc = NULL;

	if (get && strcmp(rq->path, "/sim/messages") == 0) {
		const char *ch = rq->query != NULL ?
		    json_string_value(json_object_get(rq->query, "channel")) :
		    NULL;
		struct sim_channel_ref ref;

		if (ch != NULL && *ch != '\0') {
			if (sim_store_resolve(ctx->store, ch, 0, &ref) !=
			    SIM_RESOLVE_OK) {
				doc = json_pack("{s:[], s:i}", "messages",
				    "dropped", 0);
				goto send;
			}
			ch = ref.id;
		} else {
			ch = NULL;
		}
		doc = sim_store_messages_json(ctx->store, ch, query_limit(rq));
	} else if (get && strcmp(rq->path, "/sim/calls") == 0) {
		doc = sim_store_calls_json(ctx->store, query_limit(rq));
	} else if (get && strcmp(rq->path, "/sim/stats") == 0) {
		doc = sim_store_stats_json(ctx->store);
	} else if (strcmp(rq->http_method, "POST") == 0 &&
	    strcmp(rq->path, "/sim/reset") == 0) {
		sim_store_reset(ctx->store);
		sim_rl_reset(ctx->rl);
		if (ctx->ws_rl != NULL)
			sim_rl_reset(ctx->ws_rl);
		sim_faults_clear(ctx->faults);
		doc = json_pack("{s:b}", "ok", 1);
	} else if (strcmp(rq->http_method, "POST") == 0 &&
	    strcmp(rq->path, "/sim/fault") == 0) {
		json_t *spec = rq->body_len > 0 ?
		    json_loadb(rq->body, rq->body_len, 0, NULL) : NULL;
		struct mlc_err err = { { 0 } };

		if (sim_faults_add(ctx->faults, spec, &err) != 0) {
			json_decref(spec);
			doc = json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
			respond_json(rs, 400, doc);
			json_decref(doc);
			return;
		}
		json_decref(spec);
		doc = json_pack("{s:b}", "ok", 1);
	} else if (strcmp(rq->http_method, "POST") == 0 &&
	    strcmp(rq->path, "/sim/fault/clear") == 0) {
		sim_faults_clear(ctx->faults);
		doc = json_pack("{s:b}", "ok", 1);
	} else if (get && strcmp(rq->path, "/sim/fault") == 0) {
		doc = sim_faults_json(ctx->faults);
	} else {
		doc = json_pack("{s:b, s:s}", "ok", 0, "error", "not_found");
		respond_json(rs, 404, doc);
		json_decref(doc);
		return;
	}
send:
	respond_json(rs, 200, doc);
	json_decref(doc);
}

void
sim_api_handle(struct sim_ctx *ctx, const struct sim_request *rq,
    struct sim_response *rs)
{
	memset(rs, 0, sizeof(*rs));
	if (strncmp(rq->path, "/api/", 5) == 0) {
		api_call(ctx, rq, rs, rq->path + 5);
	} else if (strncmp(rq->path, "/sim/", 5) == 0) {
		sim_route(ctx, rq, rs);
	} else {
		json_t *doc = json_pack("{s:b, s:s}", "ok", 0, "error",
		    "not_found");

		respond_json(rs, 404, doc);
		json_decref(doc);
	}
}
