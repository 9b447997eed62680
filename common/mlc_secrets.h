/*
 * mlc_secrets: the encrypted secret store (X3 password and client secrets,
 * the X3 refresh token, the Slack bot token and signing secret).
 *
 * One file, by default state_dir/secrets.db (`secrets.store` in the config),
 * mode 0600, written atomically (temporary file, fsync, rename, fsync of the
 * directory) under an exclusive lock on "<file>.lock", so the CLI, the
 * poller and the dispatchers can each rewrite it (a rotated token) without
 * losing another's write.
 *
 * Each entry is encrypted with AES-256-GCM under a fresh random 96-bit nonce
 * on every write, with the entry's name and date as associated data (an
 * entry moved under another name does not decrypt). The first entry is a
 * key-check record (a fixed text), so a wrong master key is told apart from
 * a damaged file; an HMAC-SHA256 over the whole file detects a changed,
 * removed or reordered entry. Encryption and MAC keys are derived from the
 * master key (HMAC-SHA256 with distinct labels).
 *
 * The master key (32 bytes) comes from $MLC_MASTER_KEY_FILE (a Docker
 * secret: 32 raw bytes or 64 hex characters) or $MLC_MASTER_KEY (64 hex
 * characters or base64). It is read once per process and kept in memory;
 * the text of $MLC_MASTER_KEY is then wiped from the process's environment
 * block (so /proc/PID/environ no longer shows it).
 *
 * Nothing here logs a value; every buffer that held a plaintext or a key is
 * wiped with OPENSSL_cleanse() before it is freed.
 *
 * Limits: names 1..64 bytes of [A-Za-z0-9._-]; values 1..64 KiB; 256
 * entries; a store file of at most 20 MiB.
 */
#ifndef MLC_SECRETS_H
#define MLC_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_err.h"

#define MLC_SECRETS_KEY_LEN    32
#define MLC_SECRETS_NAME_MAX   64
#define MLC_SECRETS_VALUE_MAX  (64 * 1024)
#define MLC_SECRETS_MAX        256
/* How a config `*_file` field that refers to the store begins (see below). */
#define MLC_SECRETS_REF_PREFIX "mlc-secret:"

struct mlc_secrets;

/* Reads the master key from the environment (see above) into key, or from
 * the copy kept by an earlier call. The error says which variable to set
 * and what it must hold; it never echoes the key. */
int mlc_secrets_master_key(unsigned char key[MLC_SECRETS_KEY_LEN], struct mlc_err *err);

/* Wipes the process's copy of the master key (the next
 * mlc_secrets_master_key() reads the environment again). */
void mlc_secrets_forget_master_key(void);

/* Parses a master key given as text: 64 hex characters or base64 of 32
 * bytes (trailing whitespace ignored). 0 or -1 with err set. */
int mlc_secrets_parse_key(const char *text, size_t len,
    unsigned char key[MLC_SECRETS_KEY_LEN], struct mlc_err *err);

/* Opens the store at path with key (NULL: mlc_secrets_master_key()). The
 * whole file is verified and decrypted now, so a wrong key ("the master key
 * does not open ...") or a damaged file fails here, at start, and the file
 * is never written by a failed open. A missing file is an empty store when
 * create is non-zero (it is written by the first put), an error otherwise. */
int mlc_secrets_open(struct mlc_secrets **s, const char *path,
    const unsigned char *key, int create, struct mlc_err *err);

/* A copy of the value of name (NUL-terminated; *len gets its length when
 * len is not NULL), to be released with mlc_secrets_free_value(); NULL with
 * err set ("no secret 'x' in store F; add it with `mlc secrets set x`"). */
char *mlc_secrets_get(struct mlc_secrets *s, const char *name, size_t *len,
    struct mlc_err *err);

/* Sets name to value (a new entry or a new version), writing the file
 * atomically. Other entries are taken from the file as it is now (re-read
 * under the lock), so concurrent writers of different names do not undo
 * each other. value may not contain a NUL byte. */
int mlc_secrets_put(struct mlc_secrets *s, const char *name, const void *value,
    size_t len, struct mlc_err *err);

/* Removes name; 1 if there was no such entry, 0 removed, -1 error. */
int mlc_secrets_rm(struct mlc_secrets *s, const char *name, struct mlc_err *err);

/* Calls fn for each entry, in name order, with its name and the time it
 * was last written (ms since the epoch). Values are not passed. */
void mlc_secrets_list(struct mlc_secrets *s,
    void (*fn)(const char *name, int64_t updated_ms, void *arg), void *arg);

/* Wipes every value and the keys, frees, and sets *s to NULL. */
void mlc_secrets_close(struct mlc_secrets **s);

/* Wipes then frees a value from mlc_secrets_get() or mlc_cfg_secret(). */
void mlc_secrets_free_value(char *value);

/* Is name a valid entry name? */
int mlc_secrets_name_ok(const char *name);

/* Writes "<state_dir>/secrets.db" (or store when non-empty) to out. */
int mlc_secrets_path(const char *state_dir, const char *store, char *out,
    size_t outsz, struct mlc_err *err);

/*
 * Store references in the config. A `<base>_secret: NAME` key (e.g.
 * x3.password_secret) is loaded into the section's `<base>_file` field as
 * "mlc-secret:NAME@STOREPATH", so every caller of mlc_cfg_secret() reads
 * the store without knowing about it. These helpers let a process that
 * rewrites a rotated token find where to write it.
 */
/* 1 if field is a store reference, 0 if not. */
int mlc_secrets_is_ref(const char *field);
/* Splits a reference into name and store path; -1 if it is not one. */
int mlc_secrets_ref_split(const char *field, char *name, size_t namesz,
    char *path, size_t pathsz);
/* Reads the value a reference names (key from the environment). */
char *mlc_secrets_get_ref(const char *field, const char *what, struct mlc_err *err);
/* Writes a new value for the entry a reference names (a rotated token). */
int mlc_secrets_put_ref(const char *field, const void *value, size_t len,
    struct mlc_err *err);
/* Writes name in the store at path, opening it (created if absent) with
 * the key from the environment: the one-call form for a rotated token whose
 * name is fixed, e.g. mlc_secrets_put_at(path, "x3.refresh_token", ...). */
int mlc_secrets_put_at(const char *path, const char *name, const void *value,
    size_t len, struct mlc_err *err);

#endif
