/*
 * token_store: where the OAuth2 refresh token lives between runs.
 *
 * In the encrypted secret store (common/mlc_secrets.h: AES-256-GCM under
 * the master key, file `secrets.store`, default state_dir/secrets.db), entry
 * X3_TOKENS_ENTRY. Every save rewrites the store atomically (temporary file,
 * fsync, rename, fsync of the directory, under the store's lock), so a crash
 * leaves either the old or the new refresh token, never half of one --
 * losing a rotated refresh token means re-pairing with X3 -- and `mlc x3
 * login` can write it while the poller runs. No token is ever written in
 * plaintext: the poller (oauth2) therefore needs the master key
 * (MLC_MASTER_KEY_FILE / MLC_MASTER_KEY) and stops at start without it or
 * with a wrong one.
 *
 * Older versions kept the same JSON in a plain 0600 file,
 * state_dir/poller/x3-tokens. x3_tokens_migrate() moves it into the store
 * once (read, write encrypted, overwrite the file with zeros, remove it).
 *
 * The entry holds JSON: refresh_token, granted_at (ms, when the pairing code
 * was exchanged: the refresh-token chain ends refresh_ttl after it),
 * refreshed_at (ms, last refresh), warned (bitmask of expiry warnings
 * already audited), rejected (the gateway refused the refresh token; polling
 * stays stopped until a new login).
 */
#ifndef X3_TOKEN_STORE_H
#define X3_TOKEN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_cfg.h"
#include "mlc_err.h"

#define X3_TOKENS_ENTRY "x3.tokens"

struct x3_tokens {
	char *refresh_token;    /* malloc'd; NULL when none */
	int64_t granted_ms;
	int64_t refreshed_ms;
	int warned;             /* bit 0: first warning, bit 1: last warning */
	int rejected;
};

/* The secret store's path (secrets.store, default state_dir/secrets.db).
 * Returns 0 / -1 (too long). */
int x3_tokens_path(const struct mlc_cfg *cfg, char *out, size_t outsz);

/* The plain file older versions wrote: state_dir/poller/x3-tokens. */
int x3_tokens_legacy_path(const struct mlc_cfg *cfg, char *out, size_t outsz);

/* Loads entry X3_TOKENS_ENTRY of the store at path (master key from the
 * environment). *found is 0 when there is no such entry or no store yet
 * (not an error); a missing or wrong master key is an error. */
int x3_tokens_load(const char *path, struct x3_tokens *t, int *found, struct mlc_err *err);

/* Writes t as entry X3_TOKENS_ENTRY of the store at path, encrypted, with a
 * fresh nonce, atomically (the store is created, mode 0600, if missing). */
int x3_tokens_save(const char *path, const struct x3_tokens *t, struct mlc_err *err);

/* Moves a plain token file left by an older version (legacy) into the store
 * (path): when the store has no entry yet, the file's tokens are written
 * encrypted; then the file is overwritten with zeros, synced and removed.
 * *migrated is 1 when a file was found. A file that does not parse is left
 * in place and is an error (re-pair with `mlc x3 login`). */
int x3_tokens_migrate(const char *legacy, const char *path, int *migrated,
    struct mlc_err *err);

/* Wipes and frees the secret. */
void x3_tokens_free(struct x3_tokens *t);

#endif
