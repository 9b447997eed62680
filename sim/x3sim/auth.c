/*
 * auth.c: the three ways a client proves itself to X3 (reference section 3)
 * and the cloud token gateway's lifecycle.
 *
 *   basic          Authorization: Basic, checked in constant time
 *   oauth2         access JWTs this module issues (HS256 with a random key
 *                  made at start), refresh tokens that rotate on use,
 *                  pairing codes that are single use and live 10 minutes
 *   connected-app  a JWT the client signs itself with the app secret;
 *                  claim rules in x3_jwt_check_app
 *
 * Access tokens carry a sequence number (jti); "expire every token" is a
 * floor on it, so tokens minted after the fault work again at once. The
 * gateway's error bodies are exactly the documented ones: 400 "Invalid
 * grant type" / "Missing required request parameters", 401 "Unauthorised".
 * Secrets and tokens are never logged.
 */
#include "x3sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mlc_time.h"

#define CODE_TTL       600   /* seconds a pairing code stays valid */
#define TABLE_MAX      100000
#define REDIRECT_MAX   512
#define AUTHZ_MAX      (X3_JWT_MAX + 16)

struct x3_refresh {
	char    tok[65];
	int64_t exp;
	int     live;
};

struct x3_code {
	char    code[33];
	int64_t exp;
	int     live;
	char    redirect[REDIRECT_MAX + 1]; /* "" when not bound */
};

static int64_t
now_s(void)
{
	return mlc_time_now_ms() / 1000;
}

/* Constant-time equality of two NUL-terminated secrets (length leaks). */
static int
secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb || lb == 0)
		return 0;
	return CRYPTO_memcmp(a, b, la) == 0;
}

static int
random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char buf[32];

	if (nbytes > sizeof(buf) || RAND_bytes(buf, (int)nbytes) != 1)
		return -1;
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}

int
x3_auth_init(struct x3_auth *a, struct mlc_err *err)
{
	if (pthread_mutex_init(&a->mu, NULL) != 0)
		return mlc_err_set(err, "x3sim: cannot create the auth mutex");
	if (RAND_bytes(a->key, sizeof(a->key)) != 1) {
		pthread_mutex_destroy(&a->mu);
		return mlc_err_set(err, "x3sim: no randomness for the token key");
	}
	a->next_jti = 1;
	a->min_jti = 1;
	return 0;
}

void
x3_auth_destroy(struct x3_auth *a)
{
	free(a->rts);
	free(a->codes);
	OPENSSL_cleanse(a->key, sizeof(a->key));
	pthread_mutex_destroy(&a->mu);
}

void
x3_auth_expire_all(struct x3_auth *a)
{
	pthread_mutex_lock(&a->mu);
	a->min_jti = a->next_jti;
	pthread_mutex_unlock(&a->mu);
}

/* ---- checking a data request ------------------------------------------ */

static enum x3_auth_result
check_basic(struct x3_auth *a, const char *b64)
{
	unsigned char buf[604];
	size_t n = strlen(b64), pad = 0;
	int m;
	char *colon;

	if (n == 0 || n % 4 != 0 || n > 800)
		return X3_AUTH_BAD_BASIC;
	m = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
	if (m < 0)
		return X3_AUTH_BAD_BASIC;
	if (b64[n - 1] == '=')
		pad++;
	if (b64[n - 2] == '=')
		pad++;
	m -= (int)pad;
	buf[m] = '\0';
	if (memchr(buf, '\0', (size_t)m) != NULL)
		return X3_AUTH_BAD_BASIC;
	colon = strchr((char *)buf, ':');
	if (colon == NULL)
		return X3_AUTH_BAD_BASIC;
	*colon = '\0';
	/* Both compared even when the first differs: no early exit to time. */
	m = secret_eq((char *)buf, a->user);
	m &= secret_eq(colon + 1, a->password);
	OPENSSL_cleanse(buf, sizeof(buf));
	return m ? X3_AUTH_OK : X3_AUTH_BAD_BASIC;
}

static enum x3_auth_result
check_app(struct x3_auth *a, const char *tok)
{
	struct mlc_err err;
	json_t *claims = NULL;
	int ok;

	ok = x3_jwt_verify(tok, (const unsigned char *)a->app_secret, strlen(a->app_secret),
	    &claims, &err) == 0 &&
	    x3_jwt_check_app(claims, a->client_id, a->user, a->app_audience, now_s(),
	    a->app_max_validity, &err) == 0;
	json_decref(claims);
	return ok ? X3_AUTH_OK : X3_AUTH_BAD_APP;
}

/* An access token this server issued: 0 ok, 1 expired, -1 not ours. */
static int
check_access(struct x3_auth *a, const char *tok)
{
	struct mlc_err err;
	json_t *claims = NULL;
	int64_t exp, jti;
	int rc = -1;

	if (x3_jwt_verify(tok, a->key, sizeof(a->key), &claims, &err) != 0)
		return -1;
	if (x3_jwt_claim_int(claims, "exp", &exp) == 0 &&
	    x3_jwt_claim_int(claims, "jti", &jti) == 0) {
		pthread_mutex_lock(&a->mu);
		rc = (exp <= now_s() || (uint64_t)jti < a->min_jti) ? 1 : 0;
		pthread_mutex_unlock(&a->mu);
	}
	json_decref(claims);
	return rc;
}

static enum x3_auth_result
check(struct x3_auth *a, const char *authz)
{
	if (authz == NULL || strlen(authz) > AUTHZ_MAX)
		return a->modes & X3_AUTH_BASIC ? X3_AUTH_BAD_BASIC :
		    a->modes & X3_AUTH_OAUTH2 ? X3_AUTH_BAD_BEARER : X3_AUTH_BAD_APP;
	if (strncasecmp(authz, "Basic ", 6) == 0) {
		if (!(a->modes & X3_AUTH_BASIC))
			return a->modes & X3_AUTH_OAUTH2 ? X3_AUTH_BAD_BEARER : X3_AUTH_BAD_APP;
		return check_basic(a, authz + 6);
	}
	if (strncasecmp(authz, "Bearer ", 7) == 0) {
		const char *tok = authz + 7;

		if (a->modes & X3_AUTH_OAUTH2) {
			int rc = check_access(a, tok);

			if (rc == 0)
				return X3_AUTH_OK;
			if (rc == 1)
				return X3_AUTH_EXPIRED;
		}
		if (a->modes & X3_AUTH_APP)
			return check_app(a, tok);
		return a->modes & X3_AUTH_OAUTH2 ? X3_AUTH_BAD_BEARER : X3_AUTH_BAD_BASIC;
	}
	return a->modes & X3_AUTH_BASIC ? X3_AUTH_BAD_BASIC :
	    a->modes & X3_AUTH_OAUTH2 ? X3_AUTH_BAD_BEARER : X3_AUTH_BAD_APP;
}

enum x3_auth_result
x3_auth_check(struct x3_auth *a, const char *authz)
{
	enum x3_auth_result r = check(a, authz);

	pthread_mutex_lock(&a->mu);
	if (r == X3_AUTH_OK)
		a->valid_requests++;
	else if (r == X3_AUTH_EXPIRED)
		a->expired_rejections++;
	else
		a->auth_rejections++;
	pthread_mutex_unlock(&a->mu);
	return r;
}

/* ---- token gateway ----------------------------------------------------- */

/* Drops dead entries when a table is full of them; lock held. */
static void
compact_refresh(struct x3_auth *a, int64_t now)
{
	size_t o = 0;

	for (size_t i = 0; i < a->nrts; i++)
		if (a->rts[i].live && a->rts[i].exp > now)
			a->rts[o++] = a->rts[i];
	a->nrts = o;
}

static void
compact_codes(struct x3_auth *a, int64_t now)
{
	size_t o = 0;

	for (size_t i = 0; i < a->ncodes; i++)
		if (a->codes[i].live && a->codes[i].exp > now)
			a->codes[o++] = a->codes[i];
	a->ncodes = o;
}

/* Makes a pairing code; lock held. Returns it or NULL. */
static struct x3_code *
new_code(struct x3_auth *a, const char *redirect)
{
	int64_t now = now_s();
	struct x3_code *c;

	if (a->ncodes == a->capcodes) {
		compact_codes(a, now);
		if (a->ncodes == a->capcodes) {
			size_t ncap = a->capcodes ? a->capcodes * 2 : 16;
			struct x3_code *nc;

			if (ncap > TABLE_MAX)
				return NULL;
			nc = realloc(a->codes, ncap * sizeof(*nc));
			if (nc == NULL)
				return NULL;
			a->codes = nc;
			a->capcodes = ncap;
		}
	}
	c = &a->codes[a->ncodes];
	if (random_hex(c->code, 16) != 0)
		return NULL;
	c->exp = now + CODE_TTL;
	c->live = 1;
	snprintf(c->redirect, sizeof(c->redirect), "%s", redirect ? redirect : "");
	a->ncodes++;
	return c;
}

/* Issues an access token and a refresh token ending at rt_exp; lock held.
 * Returns the JSON reply or NULL. */
static json_t *
issue(struct x3_auth *a, int64_t rt_exp)
{
	int64_t now = now_s();
	struct x3_refresh *rt;
	json_t *claims, *reply = NULL;
	char *access;

	if (a->nrts == a->caprts) {
		compact_refresh(a, now);
		if (a->nrts == a->caprts) {
			size_t ncap = a->caprts ? a->caprts * 2 : 16;
			struct x3_refresh *nr;

			if (ncap > TABLE_MAX)
				return NULL;
			nr = realloc(a->rts, ncap * sizeof(*nr));
			if (nr == NULL)
				return NULL;
			a->rts = nr;
			a->caprts = ncap;
		}
	}
	rt = &a->rts[a->nrts];
	if (random_hex(rt->tok, 32) != 0)
		return NULL;
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "iss", "x3sim", "sub", a->user,
	    "aud", a->client_id, "iat", (json_int_t)now, "exp", (json_int_t)(now + a->access_ttl),
	    "jti", (json_int_t)a->next_jti);
	access = claims ? x3_jwt_sign(claims, a->key, sizeof(a->key)) : NULL;
	json_decref(claims);
	if (access == NULL)
		return NULL;
	a->next_jti++;
	rt->exp = rt_exp;
	rt->live = 1;
	a->nrts++;
	reply = json_pack("{s:s, s:s, s:I, s:s}", "access_token", access, "token_type", "bearer",
	    "expires_in", (json_int_t)a->access_ttl, "refresh_token", rt->tok);
	OPENSSL_cleanse(access, strlen(access));
	free(access);
	return reply;
}

static const char *
jstr(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) && json_string_length(v) > 0 &&
	    json_string_length(v) <= 1024 ? json_string_value(v) : NULL;
}

static void
token(const struct x3_req *rq, struct x3_reply *r)
{
	struct x3_auth *a = rq->srv->auth;
	json_t *body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, NULL);
	const char *grant, *id, *secret, *val, *redirect;
	json_t *reply = NULL;
	int code_grant, status = 400;
	const char *msg = "Missing required request parameters";
	int64_t now = now_s();

	grant = json_is_object(body) ? jstr(body, "grant_type") : NULL;
	if (grant == NULL)
		goto out;
	code_grant = strcmp(grant, "authorization_code") == 0;
	if (!code_grant && strcmp(grant, "refresh_token") != 0) {
		msg = "Invalid grant type";
		goto out;
	}
	id = jstr(body, "client_id");
	secret = jstr(body, "client_secret");
	val = jstr(body, code_grant ? "code" : "refresh_token");
	redirect = jstr(body, "redirect_uri");
	if (id == NULL || secret == NULL || val == NULL)
		goto out;
	status = 401;
	msg = "Unauthorised";
	if (!(secret_eq(id, a->client_id) & secret_eq(secret, a->client_secret)))
		goto out;
	pthread_mutex_lock(&a->mu);
	if (code_grant) {
		for (size_t i = 0; i < a->ncodes; i++) {
			struct x3_code *c = &a->codes[i];

			if (!secret_eq(c->code, val))
				continue;
			if (c->live && c->exp > now &&
			    (c->redirect[0] == '\0' || redirect == NULL ||
			    strcmp(c->redirect, redirect) == 0)) {
				c->live = 0; /* single use */
				reply = issue(a, now + a->refresh_ttl);
				if (reply != NULL)
					a->issued++;
			}
			break;
		}
	} else {
		for (size_t i = 0; i < a->nrts; i++) {
			struct x3_refresh *t = &a->rts[i];

			if (!secret_eq(t->tok, val))
				continue;
			if (t->live && t->exp > now) {
				/* Rotation: the used token dies with this answer. */
				t->live = 0;
				reply = issue(a, a->refresh_absolute ? t->exp : now + a->refresh_ttl);
				if (reply != NULL)
					a->refreshed++;
			}
			break;
		}
	}
	if (reply == NULL)
		a->rejected++;
	pthread_mutex_unlock(&a->mu);
	json_decref(body);
	if (reply != NULL)
		x3_reply_json(r, 200, reply);
	else
		x3_reply_message(r, 401, msg);
	return;
out:
	json_decref(body);
	pthread_mutex_lock(&a->mu);
	a->rejected++;
	pthread_mutex_unlock(&a->mu);
	x3_reply_message(r, status, msg);
}

/* A redirect target we are willing to put in a Location header. */
static int
redirect_ok(const char *u)
{
	size_t n = strnlen(u, REDIRECT_MAX + 1);

	if (n > REDIRECT_MAX || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f || u[i] == '#')
			return 0;
	return 1;
}

static void
authorise(const struct x3_req *rq, struct x3_reply *r)
{
	struct x3_auth *a = rq->srv->auth;
	const char *id = x3_req_arg(rq, "client_id");
	const char *redirect = x3_req_arg(rq, "redirect_uri");
	const char *state = x3_req_arg(rq, "state");
	struct x3_code *c;
	struct x3_buf b = { 0 };
	char code[33];

	if (id == NULL || redirect == NULL || id[0] == '\0') {
		x3_reply_message(r, 400, "Missing required request parameters");
		return;
	}
	if (!secret_eq(id, a->client_id) || !redirect_ok(redirect) ||
	    (state != NULL && strlen(state) > 256)) {
		x3_reply_message(r, 401, "Unauthorised");
		return;
	}
	pthread_mutex_lock(&a->mu);
	c = new_code(a, redirect);
	if (c != NULL)
		memcpy(code, c->code, sizeof(code));
	pthread_mutex_unlock(&a->mu);
	if (c == NULL) {
		x3_reply_message(r, 500, "cannot make a pairing code");
		return;
	}
	x3_buf_printf(&b, "%s%scode=%s", redirect, strchr(redirect, '?') ? "&" : "?", code);
	if (state != NULL) {
		x3_buf_puts(&b, "&state=");
		x3_buf_url_enc(&b, state);
	}
	r->location = x3_buf_take(&b, NULL);
	x3_reply_json(r, 302, json_pack("{s:s}", "code", code));
}

void
x3_auth_token_handle(const struct x3_req *rq, struct x3_reply *r)
{
	if (strcmp(rq->path, "/v1/token") == 0) {
		if (strcmp(rq->method, "POST") != 0)
			x3_reply_message(r, 405, "Method not allowed: POST /v1/token");
		else
			token(rq, r);
	} else if (strcmp(rq->path, "/v1/token/authorise") == 0) {
		if (strcmp(rq->method, "GET") != 0)
			x3_reply_message(r, 405, "Method not allowed: GET /v1/token/authorise");
		else
			authorise(rq, r);
	} else {
		x3_reply_message(r, 404, "Not found");
	}
}

json_t *
x3_auth_stats_json(struct x3_auth *a)
{
	json_t *o;

	pthread_mutex_lock(&a->mu);
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
	    "issued", (json_int_t)a->issued,
	    "refreshed", (json_int_t)a->refreshed,
	    "rejected", (json_int_t)a->rejected,
	    "expired_access_rejections", (json_int_t)a->expired_rejections,
	    "valid_requests", (json_int_t)a->valid_requests,
	    "auth_rejections", (json_int_t)a->auth_rejections);
	pthread_mutex_unlock(&a->mu);
	return o;
}

void
x3_auth_sim_handle(const struct x3_req *rq, struct x3_reply *r)
{
	struct x3_auth *a = rq->srv->auth;
	const char *p = rq->path + strlen("/sim/token/");
	int post = strcmp(rq->method, "POST") == 0;

	if (strcmp(p, "code") == 0 && post) {
		struct x3_code *c;
		char code[33];

		pthread_mutex_lock(&a->mu);
		c = new_code(a, NULL);
		if (c != NULL)
			memcpy(code, c->code, sizeof(code));
		pthread_mutex_unlock(&a->mu);
		if (c == NULL)
			x3_reply_diag(r, 500, "ApplicationDiagnosis", NULL, "cannot make a code");
		else
			x3_reply_json(r, 200, json_pack("{s:s, s:i}", "code", code,
			    "expires_in", CODE_TTL));
	} else if (strcmp(p, "revoke") == 0 && post) {
		json_int_t n = 0;

		pthread_mutex_lock(&a->mu);
		for (size_t i = 0; i < a->nrts; i++) {
			n += a->rts[i].live;
			a->rts[i].live = 0;
		}
		pthread_mutex_unlock(&a->mu);
		x3_reply_json(r, 200, json_pack("{s:I}", "revoked", n));
	} else if (strcmp(p, "stats") == 0 && strcmp(rq->method, "GET") == 0) {
		x3_reply_json(r, 200, x3_auth_stats_json(a));
	} else {
		x3_reply_diag(r, 404, "ResourceNotFound", NULL,
		    "POST /sim/token/code, POST /sim/token/revoke, GET /sim/token/stats");
	}
}
