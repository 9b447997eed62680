/*
 * slack_tokens: where the dispatcher keeps a rotated Slack token pair.
 *
 * With token rotation on, oauth.v2.access hands out a new access token and
 * a new refresh token, and revokes the old refresh token: from then on the
 * configured refresh token is useless, so the new pair must survive a
 * restart. It is kept in the encrypted secret store (common/mlc_secrets.h;
 * `secrets.store`, default state_dir/secrets.db), one entry per dispatcher,
 * "slack.tokens.<dispatcher name>", rewritten atomically with a fresh nonce
 * on every rotation: no token is ever at rest in plaintext. With rotation
 * on, the dispatcher therefore needs the master key; a missing or wrong one
 * stops it at start (slack_tokens_load is called at start).
 *
 * Older versions kept the pair in the dispatcher's LMDB (database "tokens",
 * record "pair"); the first load moves it into the store and deletes the
 * record.
 */
#ifndef SLACK_TOKENS_H
#define SLACK_TOKENS_H

#include <stdint.h>

#include "mlc_cfg.h"
#include "mlc_err.h"
#include "mlc_store.h"

#define SLACK_TOKEN_MAX 4096

struct slack_tokens;

/* st: the dispatcher's LMDB (only read for the migration); process: the
 * dispatcher's name ("dispatcher-0"), which names its store entry. Does not
 * touch the secret store (no master key needed without rotation). */
int slack_tokens_open(struct slack_tokens **tsp, struct mlc_store *st,
    const struct mlc_cfg *cfg, const char *process, struct mlc_err *err);
void slack_tokens_close(struct slack_tokens **tsp);

/* Loads the pair kept by the last refresh: 1 (both malloc'd, the caller
 * wipes and frees them), 0 if none was ever kept, -1 on an error (no or
 * wrong master key, damaged store or entry). Moves a pair an older version
 * left in LMDB into the store first. */
int slack_tokens_load(struct slack_tokens *ts, char **access, char **refresh,
    int64_t *expires_at_ms, struct mlc_err *err);

/* Keeps a new pair durably (replacing the old one). Tokens: 1 to
 * SLACK_TOKEN_MAX bytes, no control characters. */
int slack_tokens_save(struct slack_tokens *ts, const char *access, const char *refresh,
    int64_t expires_at_ms, struct mlc_err *err);

#endif
