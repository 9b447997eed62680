/* x3_auth: see x3_auth.h. */
#include "x3_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mlc_http.h"
#include "mlc_json.h"
#include "mlc_log.h"
#include "token_store.h"
#include "x3_jwt.h"

enum mode { M_BASIC, M_OAUTH2, M_APP };

struct x3_auth {
	const struct mlc_cfg *cfg;
	enum mode mode;
	char *secret;               /* password, client secret or app secret */
	x3_auth_event_fn fn;
	void *arg;
	char store_path[600];
	struct x3_tokens tok;       /* oauth2 */
	char *access;               /* oauth2 access token, NULL if none */
	int64_t access_obtained_ms, access_exp_ms;
	int stopped;
	char why[400];
};

int64_t
x3_token_refresh_at(int64_t obtained_ms, int64_t exp_ms, int64_t margin_ms)
{
	int64_t life = exp_ms - obtained_ms, m = margin_ms;

	if (life <= 0)
		return obtained_ms;
	if (m > (life + 1) / 2)
		m = (life + 1) / 2; /* half-life, rounded so that it is never exp itself */
	return exp_ms - m;
}

int
x3_token_warning_due(int64_t granted_ms, int64_t ttl_ms, int64_t first_ms,
    int64_t last_ms, int warned, int64_t now_ms)
{
	int64_t end = granted_ms + ttl_ms;

	if (granted_ms <= 0)
		return 0;
	if (now_ms >= end - last_ms && !(warned & 2))
		return 2;
	if (now_ms >= end - first_ms && !(warned & 3))
		return 1;
	return 0;
}

static void
event(struct x3_auth *a, const char *kind, const char *ev, const char *detail, int64_t exp)
{
	if (a->fn != NULL)
		a->fn(a->arg, kind, ev, detail, exp);
}

int
x3_auth_open(struct x3_auth **ap, const struct mlc_cfg *cfg, x3_auth_event_fn fn,
    void *arg, struct mlc_err *err)
{
	struct x3_auth *a = calloc(1, sizeof(*a));
	const struct mlc_cfg_x3 *x = &cfg->x3;
	int found;

	*ap = NULL;
	if (a == NULL)
		return mlc_err_set(err, "out of memory");
	a->cfg = cfg;
	a->fn = fn;
	a->arg = arg;
	if (strcmp(x->auth, "oauth2") == 0) {
		a->mode = M_OAUTH2;
		a->secret = mlc_cfg_secret(x->oauth2.client_secret_env, x->oauth2.client_secret_file,
		    "x3.oauth2 client secret", err);
	} else if (strcmp(x->auth, "connected_app") == 0) {
		a->mode = M_APP;
		if (x->app.validity_ms <= x->app.skew_ms) {
			free(a);
			return mlc_err_set(err, "x3.connected_app.validity (%lld s) must be longer "
			    "than x3.connected_app.skew (%lld s): tokens would be born expired",
			    (long long)(x->app.validity_ms / 1000), (long long)(x->app.skew_ms / 1000));
		}
		a->secret = mlc_cfg_secret(x->app.secret_env, x->app.secret_file,
		    "x3.connected_app secret", err);
	} else {
		a->mode = M_BASIC;
		a->secret = mlc_cfg_secret(x->password_env, x->password_file, "x3 password", err);
	}
	if (a->secret == NULL) {
		free(a);
		return -1;
	}
	if (a->mode == M_OAUTH2) {
		char legacy[600];
		int migrated;

		if (x3_tokens_path(cfg, a->store_path, sizeof(a->store_path)) != 0 ||
		    x3_tokens_legacy_path(cfg, legacy, sizeof(legacy)) != 0) {
			x3_auth_close(&a);
			return mlc_err_set(err, "state_dir or secrets.store too long");
		}
		if (x3_tokens_migrate(legacy, a->store_path, &migrated, err) != 0) {
			x3_auth_close(&a);
			return -1;
		}
		if (migrated)
			mlc_info("X3 tokens moved from the plain file %s into the encrypted "
			    "store %s; the file is removed", legacy, a->store_path);
		if (x3_tokens_load(a->store_path, &a->tok, &found, err) != 0) {
			x3_auth_close(&a);
			return -1;
		}
		if (a->tok.refresh_token == NULL) {
			a->stopped = 1;
			snprintf(a->why, sizeof(a->why), "no X3 OAuth2 tokens yet: pair the "
			    "connector once with `mlc x3 login --code -` (the authorization code "
			    "on stdin), then it polls");
		} else if (a->tok.rejected) {
			a->stopped = 1;
			snprintf(a->why, sizeof(a->why), "the X3 gateway refused the refresh "
			    "token earlier; pair again with `mlc x3 login --code -`");
		}
	}
	*ap = a;
	return 0;
}

void
x3_auth_close(struct x3_auth **ap)
{
	struct x3_auth *a = *ap;

	if (a == NULL)
		return;
	if (a->secret != NULL) {
		explicit_bzero(a->secret, strlen(a->secret));
		free(a->secret);
	}
	if (a->access != NULL) {
		explicit_bzero(a->access, strlen(a->access));
		free(a->access);
	}
	x3_tokens_free(&a->tok);
	free(a);
	*ap = NULL;
}

int
x3_auth_stopped(const struct x3_auth *a, const char **why)
{
	if (why != NULL)
		*why = a->why;
	return a->stopped;
}

int
x3_auth_unauthorized(struct x3_auth *a)
{
	if (a->mode == M_OAUTH2) {
		if (a->access != NULL) {
			explicit_bzero(a->access, strlen(a->access));
			free(a->access);
			a->access = NULL;
		}
		a->access_exp_ms = 0;
		return 1;
	}
	return a->mode == M_APP;
}

/* The token endpoint's answer. Its field names are the RFC 6749 ones
 * (sage-x3.md: not documented, accepted as a guess). */
struct token_resp {
	char *access, *refresh;
	int64_t expires_in_s;       /* -1 when absent */
};

static void
token_resp_free(struct token_resp *t)
{
	if (t->access != NULL) {
		explicit_bzero(t->access, strlen(t->access));
		free(t->access);
	}
	if (t->refresh != NULL) {
		explicit_bzero(t->refresh, strlen(t->refresh));
		free(t->refresh);
	}
	memset(t, 0, sizeof(*t));
}

/* POSTs a grant. Returns 0, or -1 with *refused set when the gateway said
 * no (4xx: the grant is bad for good) rather than failing (5xx, network). */
static int
token_post(const struct mlc_cfg *cfg, const char *secret, const char *grant,
    const char *field, const char *value, struct token_resp *out, int *refused,
    struct mlc_err *err)
{
	static const char *const headers[] = {
		"Content-Type: application/json", "Accept: application/json", NULL,
	};
	const struct mlc_cfg_x3_oauth2 *o = &cfg->x3.oauth2;
	struct mlc_http_opts ho = {
		.timeout_ms = cfg->x3.timeout_ms,
		.ca_file = cfg->x3.ca_file[0] ? cfg->x3.ca_file : NULL,
		.max_body = 256 * 1024,
	};
	struct mlc_http_resp resp;
	json_t *req, *j = NULL;
	char *body;
	const char *s;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->expires_in_s = -1;
	*refused = 0;
	req = json_pack("{s:s,s:s,s:s,s:s}", "grant_type", grant, field, value,
	    "client_id", o->client_id, "client_secret", secret);
	if (req != NULL && o->redirect_uri[0] != '\0' && strcmp(grant, "authorization_code") == 0)
		json_object_set_new(req, "redirect_uri", json_string(o->redirect_uri));
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (body == NULL)
		return mlc_err_set(err, "out of memory");
	memset(&resp, 0, sizeof(resp));
	if (mlc_http_request("POST", o->token_url, headers, body, strlen(body), NULL, NULL,
	    &ho, &resp, err) != 0) {
		mlc_err_prefix(err, "X3 token endpoint");
		goto out;
	}
	if (resp.status != 200) {
		struct mlc_err jerr;
		json_t *ej = mlc_json_loads_exact(resp.body, resp.body_len, 4, &jerr);
		const char *msg = ej ? mlc_json_scalar_text(json_object_get(ej, "message")) : NULL;

		*refused = resp.status >= 400 && resp.status < 500 && resp.status != 429 &&
		    resp.status != 408;
		mlc_err_set(err, "X3 token endpoint %s answered HTTP %ld%s%.200s%s", o->token_url,
		    resp.status, msg ? " (\"" : "", msg ? msg : "", msg ? "\")" : "");
		json_decref(ej);
		goto out;
	}
	j = mlc_json_loads_exact(resp.body, resp.body_len, 8, err);
	if (j == NULL || !json_is_object(j)) {
		mlc_err_set(err, "X3 token endpoint: the answer is not a JSON object");
		goto out;
	}
	s = mlc_json_scalar_text(json_object_get(j, "access_token"));
	if (s == NULL || s[0] == '\0' || strlen(s) > 6000) {
		mlc_err_set(err, "X3 token endpoint: no usable access_token in the answer");
		goto out;
	}
	out->access = strdup(s);
	s = mlc_json_scalar_text(json_object_get(j, "refresh_token"));
	if (s != NULL && s[0] != '\0' && strlen(s) < 6000)
		out->refresh = strdup(s);
	s = mlc_json_scalar_text(json_object_get(j, "expires_in"));
	if (s != NULL && s[0] != '\0')
		out->expires_in_s = strtoll(s, NULL, 10);
	if (out->access == NULL) {
		mlc_err_set(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		token_resp_free(out);
	json_decref(j);
	if (resp.body != NULL)
		explicit_bzero(resp.body, resp.body_len);
	mlc_http_resp_free(&resp);
	explicit_bzero(body, strlen(body));
	free(body);
	return rc;
}

static int64_t
access_expiry(const struct token_resp *t, int64_t now_ms)
{
	int64_t exp_s;

	if (t->expires_in_s > 0)
		return now_ms + t->expires_in_s * 1000;
	if (x3_jwt_exp(t->access, &exp_s) == 0)
		return exp_s * 1000;
	return now_ms + 300 * 1000; /* the documented 5 minutes */
}

static void
stop(struct x3_auth *a, const char *ev)
{
	a->stopped = 1;
	mlc_error("%s", a->why);
	event(a, "alert", ev, a->why, 0);
}

static int
refresh(struct x3_auth *a, int64_t now_ms, int *fatal, struct mlc_err *err)
{
	struct token_resp t;
	struct x3_tokens disk;
	int refused, found;
	char detail[200];

	/* A login since we loaded? Then its token is the one to use. */
	if (x3_tokens_load(a->store_path, &disk, &found, err) == 0 && found &&
	    disk.granted_ms != a->tok.granted_ms && disk.refresh_token != NULL) {
		x3_tokens_free(&a->tok);
		a->tok = disk;
	} else {
		x3_tokens_free(&disk);
	}
	if (token_post(a->cfg, a->secret, "refresh_token", "refresh_token",
	    a->tok.refresh_token, &t, &refused, err) != 0) {
		if (refused) {
			*fatal = 1;
			a->tok.rejected = 1;
			if (x3_tokens_save(a->store_path, &a->tok, err) != 0)
				mlc_error("saving the token state: %s", err->msg);
			snprintf(a->why, sizeof(a->why), "X3 refused the OAuth2 refresh token "
			    "(%.200s); polling is stopped for this connection until it is paired "
			    "again: run `mlc x3 login --code -` with a new authorization code",
			    err->msg);
			stop(a, "refresh_rejected");
			mlc_err_set(err, "%s", a->why);
		}
		return -1;
	}
	a->tok.refreshed_ms = now_ms;
	if (t.refresh != NULL && strcmp(t.refresh, a->tok.refresh_token) != 0) {
		/* Rotation: the old refresh token may be dead already; the new one
		 * must survive a crash before anything else happens. */
		explicit_bzero(a->tok.refresh_token, strlen(a->tok.refresh_token));
		free(a->tok.refresh_token);
		a->tok.refresh_token = t.refresh;
		t.refresh = NULL;
		if (x3_tokens_save(a->store_path, &a->tok, err) != 0)
			mlc_error("saving the rotated refresh token: %s", err->msg);
		event(a, "token", "rotation", "the gateway rotated the refresh token; saved",
		    a->tok.granted_ms + a->cfg->x3.oauth2.refresh_ttl_ms);
	}
	if (a->access != NULL) {
		explicit_bzero(a->access, strlen(a->access));
		free(a->access);
	}
	a->access = t.access;
	t.access = NULL;
	a->access_obtained_ms = now_ms;
	a->access_exp_ms = access_expiry(&t, now_ms);
	snprintf(detail, sizeof(detail), "access token refreshed, valid %lld s",
	    (long long)((a->access_exp_ms - now_ms) / 1000));
	event(a, "token", "refresh", detail, a->access_exp_ms);
	token_resp_free(&t);
	return 0;
}

int
x3_auth_prepare(struct x3_auth *a, int64_t now_ms, struct x3_cred *c, int *fatal,
    struct mlc_err *err)
{
	const struct mlc_cfg_x3 *x = &a->cfg->x3;

	*fatal = 0;
	c->header[0] = '\0';
	c->user = c->password = NULL;
	switch (a->mode) {
	case M_BASIC:
		c->user = x->user;
		c->password = a->secret;
		return 0;
	case M_APP: {
		int64_t iat = now_ms / 1000 - x->app.skew_ms / 1000;
		char *jwt = x3_jwt_hs256(x->app.client_id, x->user, x->app.audience, iat,
		    iat + x->app.validity_ms / 1000, (const unsigned char *)a->secret,
		    strlen(a->secret), err);

		if (jwt == NULL)
			return -1;
		snprintf(c->header, sizeof(c->header), "Authorization: Bearer %s", jwt);
		explicit_bzero(jwt, strlen(jwt));
		free(jwt);
		return 0;
	}
	case M_OAUTH2:
		if (a->stopped) {
			*fatal = 1;
			return mlc_err_set(err, "%s", a->why);
		}
		if (a->access == NULL || now_ms >= x3_token_refresh_at(a->access_obtained_ms,
		    a->access_exp_ms, x->oauth2.refresh_margin_ms)) {
			if (refresh(a, now_ms, fatal, err) != 0)
				return -1;
		}
		if ((size_t)snprintf(c->header, sizeof(c->header), "Authorization: Bearer %s",
		    a->access) >= sizeof(c->header))
			return mlc_err_set(err, "the X3 access token is longer than %zu bytes",
			    sizeof(c->header) - 30);
		return 0;
	}
	return mlc_err_set(err, "unknown x3.auth");
}

void
x3_auth_tick(struct x3_auth *a, int64_t now_ms)
{
	const struct mlc_cfg_x3_oauth2 *o = &a->cfg->x3.oauth2;
	struct mlc_err err;
	int due;
	char detail[300];
	int64_t end;

	if (a->mode != M_OAUTH2 || a->stopped || a->tok.refresh_token == NULL)
		return;
	due = x3_token_warning_due(a->tok.granted_ms, o->refresh_ttl_ms, o->warn_first_ms,
	    o->warn_last_ms, a->tok.warned, now_ms);
	if (due == 0)
		return;
	end = a->tok.granted_ms + o->refresh_ttl_ms;
	a->tok.warned |= due == 2 ? 3 : 1;
	if (x3_tokens_save(a->store_path, &a->tok, &err) != 0)
		mlc_error("saving the token state: %s", err.msg);
	snprintf(detail, sizeof(detail), "the X3 refresh token ends in %lld s (%s warning): "
	    "pair the connector again with `mlc x3 login --code -` before then",
	    (long long)((end - now_ms) / 1000), due == 2 ? "last" : "first");
	mlc_warn("%s", detail);
	event(a, "token", "expiry_warning", detail, end);
}

int
x3_auth_reload(struct x3_auth *a, struct mlc_err *err)
{
	struct x3_tokens t;
	int found;

	if (a->mode != M_OAUTH2)
		return 0;
	if (x3_tokens_load(a->store_path, &t, &found, err) != 0)
		return -1;
	if (t.refresh_token == NULL || t.rejected) {
		x3_tokens_free(&t);
		return 0; /* still nothing usable: stay as we are */
	}
	x3_tokens_free(&a->tok);
	a->tok = t;
	if (a->access != NULL) {
		explicit_bzero(a->access, strlen(a->access));
		free(a->access);
		a->access = NULL;
	}
	if (a->stopped)
		mlc_info("X3 tokens reloaded: polling resumes");
	a->stopped = 0;
	a->why[0] = '\0';
	return 0;
}

int
x3_auth_login(const struct mlc_cfg *cfg, const char *code, int64_t now_ms,
    struct mlc_err *err)
{
	struct x3_tokens tok;
	struct token_resp t;
	char path[600], legacy[600], *secret;
	int refused, rc, migrated;

	if (strcmp(cfg->x3.auth, "oauth2") != 0)
		return mlc_err_set(err, "x3.auth is '%s': `mlc x3 login` is for 'oauth2' only",
		    cfg->x3.auth);
	if (x3_tokens_path(cfg, path, sizeof(path)) != 0 ||
	    x3_tokens_legacy_path(cfg, legacy, sizeof(legacy)) != 0)
		return mlc_err_set(err, "state_dir or secrets.store too long");
	/* The master key is checked before the code is spent, and a file an
	 * older version left is not left behind in plaintext. */
	if (x3_tokens_migrate(legacy, path, &migrated, err) != 0)
		return -1;
	secret = mlc_cfg_secret(cfg->x3.oauth2.client_secret_env,
	    cfg->x3.oauth2.client_secret_file, "x3.oauth2 client secret", err);
	if (secret == NULL)
		return -1;
	rc = token_post(cfg, secret, "authorization_code", "code", code, &t, &refused, err);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	if (rc != 0)
		return -1;
	if (t.refresh == NULL) {
		token_resp_free(&t);
		return mlc_err_set(err, "X3 token endpoint: the answer has no refresh_token");
	}
	memset(&tok, 0, sizeof(tok));
	tok.refresh_token = t.refresh;
	t.refresh = NULL;
	tok.granted_ms = now_ms;
	tok.refreshed_ms = now_ms;
	rc = x3_tokens_save(path, &tok, err);
	x3_tokens_free(&tok);
	token_resp_free(&t);
	return rc;
}
