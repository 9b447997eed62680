/*
 * slack_tokens: where the dispatcher keeps a rotated Slack token pair.
 *
 * With token rotation on, oauth.v2.access hands out a new access token and
 * a new refresh token, and revokes the old refresh token: from then on the
 * configured refresh token is useless, so the new pair must survive a
 * restart. This interface hides where it is kept (today the dispatcher's
 * LMDB, database "tokens"; the secrets work moves it to the encrypted
 * store without touching the dispatcher).
 */
#ifndef SLACK_TOKENS_H
#define SLACK_TOKENS_H

#include <stdint.h>

#include "mlc_err.h"
#include "mlc_store.h"

struct slack_tokens;

int slack_tokens_open(struct slack_tokens **tsp, struct mlc_store *st, struct mlc_err *err);
void slack_tokens_close(struct slack_tokens **tsp);

/* Loads the pair kept by the last refresh: 1 (both malloc'd, the caller
 * frees them), 0 if none was ever kept, -1 on a store error. */
int slack_tokens_load(struct slack_tokens *ts, char **access, char **refresh,
    int64_t *expires_at_ms, struct mlc_err *err);

/* Keeps a new pair durably (replacing the old one). */
int slack_tokens_save(struct slack_tokens *ts, const char *access, const char *refresh,
    int64_t expires_at_ms, struct mlc_err *err);

#endif
