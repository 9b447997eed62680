/* journal: see journal.h. */
#include "journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IX_KEY_MAX (1 + AUD_IX_VALUE_MAX + 1 + AUD_KEY_LEN)

const char *
aud_attr_str(const struct mlc_audit *a, const char *name)
{
	const struct mlc_attr *at = mlc_audit_attr(a, name);

	return at != NULL && !at->is_int ? at->s : NULL;
}

int64_t
aud_attr_int(const struct mlc_audit *a, const char *name, int *found)
{
	const struct mlc_attr *at = mlc_audit_attr(a, name);

	if (found != NULL)
		*found = at != NULL && at->is_int;
	return at != NULL && at->is_int ? at->i : 0;
}

void
aud_key_hex(const unsigned char key[AUD_KEY_LEN], char out[2 * AUD_KEY_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < AUD_KEY_LEN; i++) {
		out[2 * i] = hex[key[i] >> 4];
		out[2 * i + 1] = hex[key[i] & 15];
	}
	out[2 * AUD_KEY_LEN] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
aud_key_unhex(const char *hex, unsigned char key[AUD_KEY_LEN])
{
	if (hex == NULL || strlen(hex) != 2 * AUD_KEY_LEN)
		return -1;
	for (size_t i = 0; i < AUD_KEY_LEN; i++) {
		int h = hexval(hex[2 * i]), l = hexval(hex[2 * i + 1]);

		if (h < 0 || l < 0)
			return -1;
		key[i] = (unsigned char)(h << 4 | l);
	}
	return 0;
}

int64_t
aud_key_ms(const unsigned char key[AUD_KEY_LEN])
{
	return (int64_t)mlc_store_unbe64(key);
}

size_t
aud_msg_base_len(const char *msg_id)
{
	const char *p = strstr(msg_id, "/replay/");
	const char *q;

	/* Only a final "/replay/<digits>" counts. */
	while (p != NULL) {
		q = p + 8;
		if (*q >= '0' && *q <= '9') {
			while (*q >= '0' && *q <= '9')
				q++;
			if (*q == '\0')
				return (size_t)(p - msg_id);
		}
		p = strstr(p + 1, "/replay/");
	}
	return strlen(msg_id);
}

static int
last_seq(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct aud_journal *j = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, j->byseq, &c);

	if (rc != 0)
		return mlc_err_set(err, "journal cursor: %s", mdb_strerror(rc));
	if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
		j->seq = mlc_store_unbe64(k.mv_data);
	mdb_cursor_close(c);
	if (j->seq == 0) {
		/* A journal written before byseq existed: its keys hold the seq. */
		if ((rc = mdb_cursor_open(txn, j->journal, &c)) != 0)
			return mlc_err_set(err, "journal cursor: %s", mdb_strerror(rc));
		if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == AUD_KEY_LEN)
			j->seq = mlc_store_unbe64((unsigned char *)k.mv_data + 8);
		mdb_cursor_close(c);
	}
	return 0;
}

int
aud_journal_open(struct aud_journal *j, struct mlc_store *st, struct mlc_err *err)
{
	memset(j, 0, sizeof(*j));
	j->st = st;
	if (mlc_store_dbi(st, "journal", 0, &j->journal, err) != 0 ||
	    mlc_store_dbi(st, "byseq", 0, &j->byseq, err) != 0 ||
	    mlc_store_dbi(st, "ix", 0, &j->ix, err) != 0 ||
	    mlc_store_dbi(st, "msgstate", 0, &j->msgstate, err) != 0)
		return -1;
	return mlc_store_read(st, last_seq, j, err);
}

/* The record number an event is about: its "key", else the middle part of
 * record_id (entity/key/stamp, percent-encoded). */
static size_t
record_number(const struct mlc_audit *a, char *out, size_t outsz)
{
	const char *k = aud_attr_str(a, "key"), *rid, *s, *e;
	size_t n = 0;

	if (k != NULL && *k != '\0') {
		snprintf(out, outsz, "%s", k);
		return strlen(out);
	}
	rid = aud_attr_str(a, "record_id");
	if (rid == NULL || (s = strchr(rid, '/')) == NULL || (e = strchr(s + 1, '/')) == NULL)
		return 0;
	for (const char *p = s + 1; p < e && n + 1 < outsz; p++) {
		if (p[0] == '%' && p + 2 < e && hexval(p[1] | 0x20) >= 0 &&
		    hexval(p[2] | 0x20) >= 0) {
			out[n++] = (char)(hexval(p[1] | 0x20) << 4 | hexval(p[2] | 0x20));
			p += 2;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return n;
}

static size_t
ix_key(unsigned char *out, char tag, const char *val, size_t vlen,
    const unsigned char *jkey)
{
	out[0] = (unsigned char)tag;
	memcpy(out + 1, val, vlen);
	out[1 + vlen] = '\0';
	if (jkey == NULL)
		return 2 + vlen;
	memcpy(out + 2 + vlen, jkey, AUD_KEY_LEN);
	return 2 + vlen + AUD_KEY_LEN;
}

/* Calls fn for each (tag, value) the event is indexed under. */
static int
each_index(const struct mlc_audit *a, int (*fn)(void *, char, const char *, size_t),
    void *arg)
{
	static const struct { char tag; const char *attr; } simple[] = {
		{ 'e', "entity" }, { 'c', "channel" }, { 'o', "outcome" }, { 'm', "msg_id" },
	};
	char rec[AUD_IX_VALUE_MAX + 1];
	size_t n;

	if (strlen(a->kind) <= AUD_IX_VALUE_MAX && fn(arg, 'k', a->kind, strlen(a->kind)) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		const char *v = aud_attr_str(a, simple[i].attr);

		if (v != NULL && *v != '\0' && strlen(v) <= AUD_IX_VALUE_MAX &&
		    memchr(v, '\0', strlen(v)) == NULL &&
		    fn(arg, simple[i].tag, v, strlen(v)) != 0)
			return -1;
	}
	n = record_number(a, rec, sizeof(rec));
	if (n > 0 && strlen(rec) == n && fn(arg, 'r', rec, n) != 0)
		return -1;
	return 0;
}

struct ix_arg {
	struct aud_journal *j;
	MDB_txn *txn;
	const unsigned char *jkey;
	int del;
	struct mlc_err *err;
};

static int
ix_one(void *arg, char tag, const char *val, size_t vlen)
{
	struct ix_arg *ia = arg;
	unsigned char k[IX_KEY_MAX];
	size_t kl = ix_key(k, tag, val, vlen, ia->jkey);

	if (ia->del)
		return mlc_store_del(ia->txn, ia->j->ix, k, kl, ia->err);
	return mlc_store_put(ia->txn, ia->j->ix, k, kl, "", 0, ia->err);
}

int
aud_journal_append(struct aud_journal *j, MDB_txn *txn, const struct mlc_audit *a,
    int64_t now_ms, unsigned char key_out[AUD_KEY_LEN], uint64_t *seq_out,
    struct mlc_err *err)
{
	struct mlc_frame f;
	struct ix_arg ia = { j, txn, key_out, 0, err };
	unsigned char sk[8];
	char *buf = NULL;
	size_t len = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.type = MLC_FRAME_AUDIT;
	f.u.aud = *a;
	if (mlc_proto_encode(&f, &buf, &len, err) != 0)
		return -1;
	j->seq++;
	mlc_store_be64((uint64_t)now_ms, key_out);
	mlc_store_be64(j->seq, key_out + 8);
	mlc_store_be64(j->seq, sk);
	r = mlc_store_put(txn, j->journal, key_out, AUD_KEY_LEN, buf, len, err);
	free(buf);
	if (r != 0 || mlc_store_put(txn, j->byseq, sk, 8, key_out, AUD_KEY_LEN, err) != 0 ||
	    each_index(a, ix_one, &ia) != 0)
		return -1;
	*seq_out = j->seq;
	return 0;
}

int
aud_journal_get(struct aud_journal *j, MDB_txn *txn, const unsigned char key[AUD_KEY_LEN],
    struct mlc_frame *f, struct mlc_err *err)
{
	MDB_val v;
	int r = mlc_store_get(txn, j->journal, key, AUD_KEY_LEN, &v, err);

	memset(f, 0, sizeof(*f));
	if (r <= 0)
		return r;
	if (mlc_proto_decode(v.mv_data, v.mv_size, f, err) != 0 ||
	    f->type != MLC_FRAME_AUDIT) {
		mlc_frame_free(f);
		return 0;
	}
	return 1;
}

static int
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int
aud_query_matches(const struct aud_query *q, const struct mlc_audit *a)
{
	if (q->kind != NULL && strcmp(q->kind, a->kind) != 0)
		return 0;
	if (q->entity != NULL && !streq(q->entity, aud_attr_str(a, "entity")))
		return 0;
	if (q->channel != NULL && !streq(q->channel, aud_attr_str(a, "channel")))
		return 0;
	if (q->outcome != NULL && !streq(q->outcome, aud_attr_str(a, "outcome")))
		return 0;
	if (q->msg_id != NULL && !streq(q->msg_id, aud_attr_str(a, "msg_id")))
		return 0;
	if (q->record != NULL) {
		char rec[AUD_IX_VALUE_MAX + 1];

		if (record_number(a, rec, sizeof(rec)) == 0 || strcmp(rec, q->record) != 0)
			return 0;
	}
	if (q->errors) {
		const char *o = aud_attr_str(a, "outcome");

		if (!(strcmp(a->kind, "error") == 0 || strcmp(a->kind, "alert") == 0 ||
		    (o != NULL && strcmp(o, "ok") != 0 && strcmp(o, "posted") != 0 &&
		    strcmp(o, "sent") != 0) || mlc_audit_attr(a, "error") != NULL))
			return 0;
	}
	return 1;
}

/* Visits one journal entry: decode, filter, call. Returns 1 if it matched. */
static int
visit(const struct aud_query *q, const unsigned char *key, MDB_val *v, aud_event_fn fn,
    void *arg, int *stop)
{
	struct mlc_frame f;
	struct mlc_err e2;
	int matched = 0;

	if (mlc_proto_decode(v->mv_data, v->mv_size, &f, &e2) != 0)
		return 0;
	if (f.type == MLC_FRAME_AUDIT && aud_query_matches(q, &f.u.aud)) {
		matched = 1;
		if (fn(arg, key, mlc_store_unbe64(key + 8), &f.u.aud) != 0)
			*stop = 1;
	}
	mlc_frame_free(&f);
	return matched;
}

int
aud_journal_query(struct aud_journal *j, MDB_txn *txn, const struct aud_query *q,
    aud_event_fn fn, void *arg, int *more, unsigned char last[AUD_KEY_LEN],
    struct mlc_err *err)
{
	size_t limit = q->limit ? q->limit : 1000, max_scan = q->max_scan ? q->max_scan : 200000;
	size_t found = 0, scanned = 0;
	unsigned char start[AUD_KEY_LEN], pk[IX_KEY_MAX];
	const char *ixval = NULL;
	char tag = 0;
	size_t plen = 0;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, stop = 0;

	*more = 0;
	if (q->has_after) {
		memcpy(start, q->after, AUD_KEY_LEN);
	} else {
		mlc_store_be64((uint64_t)(q->since_ms > 0 ? q->since_ms : 0), start);
		memset(start + 8, 0, 8);
	}
	/* The most selective index a filter names. */
	if (q->record) { tag = 'r'; ixval = q->record; }
	else if (q->msg_id) { tag = 'm'; ixval = q->msg_id; }
	else if (q->channel) { tag = 'c'; ixval = q->channel; }
	else if (q->entity) { tag = 'e'; ixval = q->entity; }
	else if (q->outcome) { tag = 'o'; ixval = q->outcome; }
	else if (q->kind) { tag = 'k'; ixval = q->kind; }
	if (ixval != NULL && strlen(ixval) > AUD_IX_VALUE_MAX)
		return 0; /* never indexed, so never matches */

	if ((rc = mdb_cursor_open(txn, ixval ? j->ix : j->journal, &c)) != 0)
		return mlc_err_set(err, "journal cursor: %s", mdb_strerror(rc));
	if (ixval != NULL) {
		plen = ix_key(pk, tag, ixval, strlen(ixval), NULL);
		memcpy(pk + plen, start, AUD_KEY_LEN);
		k.mv_data = pk;
		k.mv_size = plen + AUD_KEY_LEN;
	} else {
		k.mv_data = start;
		k.mv_size = AUD_KEY_LEN;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const unsigned char *jk;
		MDB_val jv;

		if (ixval != NULL) {
			if (k.mv_size != plen + AUD_KEY_LEN || memcmp(k.mv_data, pk, plen) != 0)
				break;
			jk = (const unsigned char *)k.mv_data + plen;
		} else {
			if (k.mv_size != AUD_KEY_LEN)
				continue;
			jk = k.mv_data;
		}
		if (q->has_after && memcmp(jk, q->after, AUD_KEY_LEN) <= 0)
			continue;
		if (q->until_ms > 0 && aud_key_ms(jk) > q->until_ms)
			break;
		if (found >= limit || scanned >= max_scan) {
			*more = 1;
			break;
		}
		scanned++;
		memcpy(last, jk, AUD_KEY_LEN);
		if (ixval != NULL) {
			rc = mlc_store_get(txn, j->journal, jk, AUD_KEY_LEN, &jv, err);
			if (rc < 0) {
				mdb_cursor_close(c);
				return -1;
			}
			if (rc == 0)
				continue;
		} else {
			jv = v;
		}
		found += (size_t)visit(q, jk, &jv, fn, arg, &stop);
		if (stop)
			break;
	}
	mdb_cursor_close(c);
	return 0;
}

int
aud_journal_seq_range(struct aud_journal *j, MDB_txn *txn, uint64_t from_seq,
    uint64_t to_seq, aud_event_fn fn, void *arg, struct mlc_err *err)
{
	struct aud_query all;

	memset(&all, 0, sizeof(all));
	if (from_seq == 0)
		from_seq = 1;
	if (to_seq >= from_seq && to_seq - from_seq >= 10000)
		to_seq = from_seq + 9999;
	for (uint64_t s = from_seq; s <= to_seq; s++) {
		unsigned char sk[8];
		MDB_val kv, v;
		int stop = 0, r;

		mlc_store_be64(s, sk);
		r = mlc_store_get(txn, j->byseq, sk, 8, &kv, err);
		if (r < 0)
			return -1;
		if (r == 0 || kv.mv_size != AUD_KEY_LEN)
			continue;
		r = mlc_store_get(txn, j->journal, kv.mv_data, AUD_KEY_LEN, &v, err);
		if (r < 0)
			return -1;
		if (r == 1)
			visit(&all, kv.mv_data, &v, fn, arg, &stop);
		if (stop)
			break;
	}
	return 0;
}

int
aud_journal_prune(struct aud_journal *j, MDB_txn *txn, int64_t cutoff_ms, size_t max,
    size_t *removed, struct mlc_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*removed = 0;
	if ((rc = mdb_cursor_open(txn, j->journal, &c)) != 0)
		return mlc_err_set(err, "journal cursor: %s", mdb_strerror(rc));
	while (*removed < max && mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 &&
	    k.mv_size == AUD_KEY_LEN && aud_key_ms(k.mv_data) < cutoff_ms) {
		unsigned char jk[AUD_KEY_LEN], sk[8];
		struct mlc_frame f;
		struct mlc_err e2;

		memcpy(jk, k.mv_data, AUD_KEY_LEN);
		if (mlc_proto_decode(v.mv_data, v.mv_size, &f, &e2) == 0) {
			struct ix_arg ia = { j, txn, jk, 1, err };

			if (f.type == MLC_FRAME_AUDIT && each_index(&f.u.aud, ix_one, &ia) != 0) {
				mlc_frame_free(&f);
				mdb_cursor_close(c);
				return -1;
			}
			mlc_frame_free(&f);
		}
		memcpy(sk, jk + 8, 8);
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			mdb_cursor_close(c);
			return mlc_err_set(err, "journal prune: %s", mdb_strerror(rc));
		}
		if (mlc_store_del(txn, j->byseq, sk, 8, err) != 0) {
			mdb_cursor_close(c);
			return -1;
		}
		(*removed)++;
	}
	mdb_cursor_close(c);
	return 0;
}

static size_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
}

int
aud_journal_compact_dir(const char *dir, size_t *before, size_t *after,
    struct mlc_err *err)
{
	char tmp[1024], data[1024], tmpdata[1024];
	MDB_env *env = NULL;
	int rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.compact", dir) >= sizeof(tmp) ||
	    (size_t)snprintf(data, sizeof(data), "%s/data.mdb", dir) >= sizeof(data) ||
	    (size_t)snprintf(tmpdata, sizeof(tmpdata), "%s/data.mdb", tmp) >= sizeof(tmpdata))
		return mlc_err_set(err, "compact: state path too long");
	*before = file_size(data);
	unlink(tmpdata);
	rmdir(tmp);
	if (mkdir(tmp, 0700) != 0)
		return mlc_err_set(err, "compact: cannot create %s: %s", tmp, strerror(errno));
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, MLC_STORE_MAX_DBS)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_env_copy2(env, tmp, MDB_CP_COMPACT)) != 0) {
		if (env != NULL)
			mdb_env_close(env);
		unlink(tmpdata);
		rmdir(tmp);
		return mlc_err_set(err, "compact %s: %s", dir, mdb_strerror(rc));
	}
	mdb_env_close(env);
	/* rename() is atomic: a crash leaves either the old or the new file. */
	if (rename(tmpdata, data) != 0) {
		rc = errno;
		unlink(tmpdata);
		rmdir(tmp);
		return mlc_err_set(err, "compact: cannot replace %s: %s", data, strerror(rc));
	}
	rmdir(tmp);
	*after = file_size(data);
	return 0;
}
