/*
 * token_store: where the OAuth2 refresh token lives between runs.
 *
 * For now a small JSON file state_dir/poller/x3-tokens, mode 0600, replaced
 * atomically (write a temporary file, fsync, rename, fsync the directory),
 * so a crash leaves either the old or the new refresh token, never half of
 * one -- losing a rotated refresh token means re-pairing with X3. A file
 * rather than the poller's LMDB because `mlc x3 login` writes it while the
 * poller runs (LMDB's environment belongs to one process). The secrets
 * issue will move this behind encryption: only this interface changes.
 *
 * The file holds: refresh_token, granted_at (ms, when the pairing code was
 * exchanged: the refresh-token chain ends refresh_ttl after it), refreshed_at
 * (ms, last refresh), warned (bitmask of expiry warnings already audited),
 * rejected (the gateway refused the refresh token; polling stays stopped
 * until a new login).
 */
#ifndef X3_TOKEN_STORE_H
#define X3_TOKEN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_cfg.h"
#include "mlc_err.h"

struct x3_tokens {
	char *refresh_token;    /* malloc'd; NULL when none */
	int64_t granted_ms;
	int64_t refreshed_ms;
	int warned;             /* bit 0: first warning, bit 1: last warning */
	int rejected;
};

/* state_dir/poller/x3-tokens. Returns 0 / -1 (too long). */
int x3_tokens_path(const struct mlc_cfg *cfg, char *out, size_t outsz);

/* Loads path. *found is 0 when the file does not exist (not an error). */
int x3_tokens_load(const char *path, struct x3_tokens *t, int *found, struct mlc_err *err);

/* Replaces path atomically with t (mode 0600; the directory is created
 * 0700 if missing). */
int x3_tokens_save(const char *path, const struct x3_tokens *t, struct mlc_err *err);

/* Wipes and frees the secret. */
void x3_tokens_free(struct x3_tokens *t);

#endif
