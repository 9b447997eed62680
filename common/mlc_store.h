/*
 * mlc_store: the LMDB environment a process keeps its state in.
 *
 * One process owns one environment (state_dir/<process>/), never shared
 * across processes or containers: LMDB's reader table is keyed by PID, which
 * breaks across PID namespaces (pitfalls.md #17). Stale readers are cleared
 * at open (mdb_reader_check).
 *
 * Writes go through mlc_store_write(), which runs a callback inside one
 * write transaction and commits it. If the map is full (MDB_MAP_FULL) the
 * transaction is aborted, the map doubled and the callback run again from
 * the start, so callbacks must only touch LMDB (or be idempotent). A
 * committed write is durable (no MDB_NOSYNC): that is what the chain of
 * custody rests on.
 */
#ifndef MLC_STORE_H
#define MLC_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "mlc_err.h"

#define MLC_STORE_MAX_DBS 32

struct mlc_store;

/* Opens (creating) the environment in dir (created 0700 if missing) with
 * named databases created on demand by mlc_store_dbi(). */
int mlc_store_open(struct mlc_store **sp, const char *dir, size_t initial_map,
    struct mlc_err *err);
void mlc_store_close(struct mlc_store **sp);

/* Handle of a named database (created if missing). flags: 0 or MDB_INTEGERKEY
 * etc. Returns 0 / -1. Call before concurrent use; handles are cached. */
int mlc_store_dbi(struct mlc_store *s, const char *name, unsigned flags,
    MDB_dbi *out, struct mlc_err *err);

typedef int (*mlc_store_fn)(MDB_txn *txn, void *arg, struct mlc_err *err);

/* Runs fn in a write transaction and commits; retries with a bigger map on
 * MDB_MAP_FULL. fn returns 0 to commit or -1 to abort (its err is kept). */
int mlc_store_write(struct mlc_store *s, mlc_store_fn fn, void *arg,
    struct mlc_err *err);
/* Runs fn in a read-only transaction. */
int mlc_store_read(struct mlc_store *s, mlc_store_fn fn, void *arg,
    struct mlc_err *err);

/* Convenience inside a transaction: get/put/del with string keys.
 * mlc_store_get returns 1 if found (val filled; valid until txn end),
 * 0 if not found, -1 on error. */
int mlc_store_get(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    MDB_val *val, struct mlc_err *err);
int mlc_store_put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    const void *v, size_t vlen, struct mlc_err *err);
/* Deletes; a missing key is not an error. */
int mlc_store_del(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    struct mlc_err *err);

/* Reads/writes a uint64 counter stored big-endian under key (0 if absent). */
int mlc_store_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *out,
    struct mlc_err *err);
int mlc_store_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t v,
    struct mlc_err *err);

/* Big-endian encode/decode of sequence numbers, so that byte order of keys
 * is numeric order. */
void mlc_store_be64(uint64_t v, unsigned char out[8]);
uint64_t mlc_store_unbe64(const unsigned char in[8]);

/* Current map size in bytes (for tests and metrics). */
size_t mlc_store_mapsize(struct mlc_store *s);

#endif
