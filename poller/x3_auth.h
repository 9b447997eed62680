/*
 * x3_auth: credentials for each X3 request, in the three real modes
 * (x3.auth, sage-x3.md §3).
 *
 *   basic          HTTP Basic with x3.user and the password.
 *   connected_app  an HS256 JWT minted for every request: iss = client id,
 *                  sub = x3.user, aud = audience, iat = now - skew (a server
 *                  whose clock is behind ours must not see a future iat),
 *                  exp = iat + validity (the app's "tokens validity" caps
 *                  exp - iat).
 *   oauth2         the cloud gateway: a 5-minute access JWT and a 30-day
 *                  refresh token from POST token_url. The access token is
 *                  refreshed before it expires (x3_token_refresh_at), so a
 *                  poll never goes out with an expired token; a 401 drops it
 *                  and the request is retried once with a fresh one. Every
 *                  refresh may rotate the refresh token: the new one is saved
 *                  (token_store) before it is used. The refresh-token chain
 *                  ends refresh_ttl after the pairing: expiry warnings are
 *                  audited warn_first and warn_last before that. A refused
 *                  refresh stops this connection (x3_auth_stopped) with one
 *                  audited alert, until SIGHUP or `mlc x3 login`.
 *
 * Events (kind "token": login, refresh, rotation, expiry_warning; kind
 * "alert": refresh_rejected, no_login) go to the callback, which audits them.
 * No token or secret ever appears in an event, a log line or an error.
 */
#ifndef X3_AUTH_H
#define X3_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_cfg.h"
#include "mlc_err.h"

struct x3_auth;

/* kind "token" or "alert"; event e.g. "refresh"; detail a sentence (no secrets). */
typedef void (*x3_auth_event_fn)(void *arg, const char *kind, const char *event,
    const char *detail, int64_t expires_ms);

/* What one request carries. */
struct x3_cred {
	char header[8192];      /* "Authorization: Bearer ..." or "" (Basic) */
	const char *user;       /* Basic: x3.user, else NULL */
	const char *password;   /* Basic: the password, else NULL */
};

/* Reads the secrets the mode needs (password, client secret, app secret)
 * and, for oauth2, the token store. Fails when a secret is missing. */
int x3_auth_open(struct x3_auth **ap, const struct mlc_cfg *cfg, x3_auth_event_fn fn,
    void *arg, struct mlc_err *err);
void x3_auth_close(struct x3_auth **ap);

/* Fills c for a request sent at now_ms, refreshing the access token first
 * when due. On failure *fatal tells whether polling must stop (no login,
 * refresh refused) or the failure is transient (gateway 5xx, network). */
int x3_auth_prepare(struct x3_auth *a, int64_t now_ms, struct x3_cred *c, int *fatal,
    struct mlc_err *err);

/* The server answered 401: forget the access token. Returns 1 when a retry
 * with fresh credentials can help (oauth2, connected_app), 0 for Basic. */
int x3_auth_unauthorized(struct x3_auth *a);

/* Audits refresh-token expiry warnings when due (call once per cycle). */
void x3_auth_tick(struct x3_auth *a, int64_t now_ms);

/* Re-reads the token store (SIGHUP, after `mlc x3 login`) and leaves the
 * stopped state if it now holds a usable refresh token. */
int x3_auth_reload(struct x3_auth *a, struct mlc_err *err);

/* Non-zero while polling is stopped for this connection; why in *why. */
int x3_auth_stopped(const struct x3_auth *a, const char **why);

/* `mlc x3 login`: exchanges a pairing code for the first tokens and saves
 * them in the token store. Returns 0 / -1 (the gateway's message in err). */
int x3_auth_login(const struct mlc_cfg *cfg, const char *code, int64_t now_ms,
    struct mlc_err *err);

/* When to refresh an access token obtained at obtained_ms expiring at
 * exp_ms: margin before expiry, but never later than half its life (a
 * 3-second token with a 60-second margin is refreshed after 1.5 s). */
int64_t x3_token_refresh_at(int64_t obtained_ms, int64_t exp_ms, int64_t margin_ms);

/* Which expiry warning is due at now_ms for a chain granted at granted_ms
 * living ttl_ms: 2 = the last (warn_last before the end), 1 = the first
 * (warn_first before), 0 = none. `warned` holds the bits already sent
 * (bit 0 first, bit 1 last); a warning is due once. */
int x3_token_warning_due(int64_t granted_ms, int64_t ttl_ms, int64_t first_ms,
    int64_t last_ms, int warned, int64_t now_ms);

#endif
