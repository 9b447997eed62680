/* mlc_store: see mlc_store.h. */
#include "mlc_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct mlc_store {
	MDB_env *env;
	size_t mapsize;
	struct {
		char name[64];
		MDB_dbi dbi;
	} dbs[MLC_STORE_MAX_DBS];
	size_t n_dbs;
};

static int
mkdir_p(const char *dir)
{
	char tmp[1024];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, dir, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
mlc_store_open(struct mlc_store **sp, const char *dir, size_t initial_map,
    struct mlc_err *err)
{
	struct mlc_store *s;
	int rc, dead = 0;

	*sp = NULL;
	if (mkdir_p(dir) != 0)
		return mlc_err_set(err, "store: cannot create directory %s: %s", dir,
		    strerror(errno));
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mlc_err_set(err, "store: out of memory");
	s->mapsize = initial_map ? initial_map : (size_t)64 << 20;
	if ((rc = mdb_env_create(&s->env)) != 0)
		goto lmdb_err;
	if ((rc = mdb_env_set_maxdbs(s->env, MLC_STORE_MAX_DBS)) != 0)
		goto lmdb_err;
	if ((rc = mdb_env_set_mapsize(s->env, s->mapsize)) != 0)
		goto lmdb_err;
	if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) != 0)
		goto lmdb_err;
	/* A crashed earlier incarnation may have left reader slots behind. */
	mdb_reader_check(s->env, &dead);
	{
		MDB_envinfo info;
		if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > s->mapsize)
			s->mapsize = info.me_mapsize;
	}
	*sp = s;
	return 0;
lmdb_err:
	mlc_err_set(err, "store: cannot open LMDB environment in %s: %s", dir,
	    mdb_strerror(rc));
	if (s->env)
		mdb_env_close(s->env);
	free(s);
	return -1;
}

void
mlc_store_close(struct mlc_store **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	mdb_env_close((*sp)->env);
	free(*sp);
	*sp = NULL;
}

int
mlc_store_dbi(struct mlc_store *s, const char *name, unsigned flags,
    MDB_dbi *out, struct mlc_err *err)
{
	MDB_txn *txn;
	int rc;

	for (size_t i = 0; i < s->n_dbs; i++) {
		if (strcmp(s->dbs[i].name, name) == 0) {
			*out = s->dbs[i].dbi;
			return 0;
		}
	}
	if (s->n_dbs == MLC_STORE_MAX_DBS || strlen(name) >= sizeof(s->dbs[0].name))
		return mlc_err_set(err, "store: too many databases (at %s)", name);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return mlc_err_set(err, "store: begin: %s", mdb_strerror(rc));
	if ((rc = mdb_dbi_open(txn, name, flags | MDB_CREATE, out)) != 0) {
		mdb_txn_abort(txn);
		return mlc_err_set(err, "store: open database %s: %s", name,
		    mdb_strerror(rc));
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return mlc_err_set(err, "store: commit: %s", mdb_strerror(rc));
	snprintf(s->dbs[s->n_dbs].name, sizeof(s->dbs[0].name), "%s", name);
	s->dbs[s->n_dbs++].dbi = *out;
	return 0;
}

/* Marker the helpers below leave in err when LMDB said MDB_MAP_FULL, so that
 * mlc_store_write can tell "grow and retry" from a real failure. */
static const char map_full_msg[] = "store: map full";

static int
set_lmdb_err(struct mlc_err *err, const char *what, int rc)
{
	if (rc == MDB_MAP_FULL)
		return mlc_err_set(err, "%s", map_full_msg);
	return mlc_err_set(err, "store: %s: %s", what, mdb_strerror(rc));
}

int
mlc_store_write(struct mlc_store *s, mlc_store_fn fn, void *arg,
    struct mlc_err *err)
{
	struct mlc_err local;
	struct mlc_err *e = err ? err : &local;

	for (int tries = 0; tries < 16; tries++) {
		MDB_txn *txn;
		int rc;

		e->msg[0] = '\0';
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
			return set_lmdb_err(e, "begin write", rc);
		if (fn(txn, arg, e) != 0) {
			mdb_txn_abort(txn);
			if (strcmp(e->msg, map_full_msg) != 0)
				return -1;
		} else {
			rc = mdb_txn_commit(txn);
			if (rc == 0)
				return 0;
			if (rc != MDB_MAP_FULL)
				return set_lmdb_err(e, "commit", rc);
		}
		/* Map full: no transaction is open now; grow and run again. */
		s->mapsize *= 2;
		if ((rc = mdb_env_set_mapsize(s->env, s->mapsize)) != 0)
			return set_lmdb_err(e, "grow map", rc);
	}
	return mlc_err_set(e, "store: map still full after growing 16 times");
}

int
mlc_store_read(struct mlc_store *s, mlc_store_fn fn, void *arg,
    struct mlc_err *err)
{
	MDB_txn *txn;
	int rc, r;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return set_lmdb_err(err, "begin read", rc);
	r = fn(txn, arg, err);
	mdb_txn_abort(txn);
	return r;
}

int
mlc_store_get(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    MDB_val *val, struct mlc_err *err)
{
	MDB_val key = { klen, (void *)(uintptr_t)k };
	int rc = mdb_get(txn, dbi, &key, val);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return set_lmdb_err(err, "get", rc);
	return 1;
}

int
mlc_store_put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    const void *v, size_t vlen, struct mlc_err *err)
{
	MDB_val key = { klen, (void *)(uintptr_t)k };
	MDB_val val = { vlen, (void *)(uintptr_t)v };
	int rc = mdb_put(txn, dbi, &key, &val, 0);

	if (rc != 0)
		return set_lmdb_err(err, "put", rc);
	return 0;
}

int
mlc_store_del(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    struct mlc_err *err)
{
	MDB_val key = { klen, (void *)(uintptr_t)k };
	int rc = mdb_del(txn, dbi, &key, NULL);

	if (rc != 0 && rc != MDB_NOTFOUND)
		return set_lmdb_err(err, "del", rc);
	return 0;
}

void
mlc_store_be64(uint64_t v, unsigned char out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
mlc_store_unbe64(const unsigned char in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

int
mlc_store_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *out,
    struct mlc_err *err)
{
	MDB_val v;
	int r = mlc_store_get(txn, dbi, key, strlen(key), &v, err);

	if (r < 0)
		return -1;
	if (r == 0 || v.mv_size != 8) {
		*out = 0;
		return 0;
	}
	*out = mlc_store_unbe64(v.mv_data);
	return 0;
}

int
mlc_store_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t v,
    struct mlc_err *err)
{
	unsigned char b[8];

	mlc_store_be64(v, b);
	return mlc_store_put(txn, dbi, key, strlen(key), b, 8, err);
}

size_t
mlc_store_mapsize(struct mlc_store *s)
{
	return s->mapsize;
}
