/*
 * journal: the auditor's LMDB journal of audit events and its indexes.
 *
 * Databases in the auditor's environment (state_dir/auditor):
 *
 *   journal   be64(received ms) be64(seq) -> the event frame (msgpack "aud")
 *   byseq     be64(seq) -> the 16-byte journal key (for `mlc tail --since`,
 *             which joins history and the live stream by seq without a gap)
 *   ix        tag value NUL journal-key -> "" : one index for every filter
 *             the queries use; tags: 'k' kind, 'e' entity, 'c' channel,
 *             'o' outcome, 'r' record number (the "key" attr, else the key
 *             part of record_id), 'm' msg_id
 *   msgstate  base msg id -> JSON {"p":posted,"n":replays,"pend":replay id
 *             in flight,"fk":journal key (hex) of the last failed post that
 *             carries its text,"al":alerted}: what replay and alerts decide on
 *
 * seq grows by one per journaled event, across restarts, so a reader that
 * holds the last seq it saw knows exactly what it missed. Times in keys are
 * the auditor's receive time (events also carry their own "at").
 */
#ifndef AUD_JOURNAL_H
#define AUD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "mlc_err.h"
#include "mlc_proto.h"
#include "mlc_store.h"

#define AUD_KEY_LEN 16
#define AUD_IX_VALUE_MAX 400   /* longer values are not indexed (LMDB key <= 511) */

struct aud_journal {
	struct mlc_store *st;
	MDB_dbi journal, byseq, ix, msgstate;
	uint64_t seq;           /* last seq used */
};

/* Opens the databases and finds the last seq. */
int aud_journal_open(struct aud_journal *j, struct mlc_store *st, struct mlc_err *err);

/* Appends one event inside txn: journal, byseq and index entries. key_out
 * (16 bytes) receives the journal key; *seq_out its seq. */
int aud_journal_append(struct aud_journal *j, MDB_txn *txn, const struct mlc_audit *a,
    int64_t now_ms, unsigned char key_out[AUD_KEY_LEN], uint64_t *seq_out,
    struct mlc_err *err);

struct aud_query {
	int64_t since_ms;       /* 0 = from the start */
	int64_t until_ms;       /* 0 = no end */
	const char *kind, *entity, *channel, *outcome, *record, *msg_id;
	int errors;             /* only failures: kind error/alert, outcome not ok/posted, or an error attr */
	int has_after;          /* continue strictly after `after` (a journal key) */
	unsigned char after[AUD_KEY_LEN];
	size_t limit;           /* matches to return; 0 = 1000 */
	size_t max_scan;        /* entries examined at most; 0 = 200000 */
};

/* Called for each matching event, in journal order. Return 0 to go on. */
typedef int (*aud_event_fn)(void *arg, const unsigned char key[AUD_KEY_LEN],
    uint64_t seq, const struct mlc_audit *a);

/* Runs q inside a read (or write) txn. *more is set to 1 if it stopped on
 * the limit or the scan bound, with *last the key to continue after. */
int aud_journal_query(struct aud_journal *j, MDB_txn *txn, const struct aud_query *q,
    aud_event_fn fn, void *arg, int *more, unsigned char last[AUD_KEY_LEN],
    struct mlc_err *err);

/* Does event a pass q's attribute filters (not the time range)? */
int aud_query_matches(const struct aud_query *q, const struct mlc_audit *a);

/* Events with from_seq <= seq <= to_seq, in order (at most 10000). */
int aud_journal_seq_range(struct aud_journal *j, MDB_txn *txn, uint64_t from_seq,
    uint64_t to_seq, aud_event_fn fn, void *arg, struct mlc_err *err);

/* Reads the event at a journal key. 1 found (f filled, caller frees), 0 not, -1 error. */
int aud_journal_get(struct aud_journal *j, MDB_txn *txn, const unsigned char key[AUD_KEY_LEN],
    struct mlc_frame *f, struct mlc_err *err);

/* Deletes events received before cutoff_ms (and their index entries), at
 * most max per call. *removed counts them. */
int aud_journal_prune(struct aud_journal *j, MDB_txn *txn, int64_t cutoff_ms, size_t max,
    size_t *removed, struct mlc_err *err);

/* Writes a compact copy of the environment in dir (mdb_env_copy2 with
 * MDB_CP_COMPACT) and puts it in place of data.mdb. The environment must
 * not be open in this process. *before / *after: file sizes in bytes. */
int aud_journal_compact_dir(const char *dir, size_t *before, size_t *after,
    struct mlc_err *err);

/* "<base>/replay/<n>" -> length of base; other ids -> strlen(id). */
size_t aud_msg_base_len(const char *msg_id);

void aud_key_hex(const unsigned char key[AUD_KEY_LEN], char out[2 * AUD_KEY_LEN + 1]);
int aud_key_unhex(const char *hex, unsigned char key[AUD_KEY_LEN]);
int64_t aud_key_ms(const unsigned char key[AUD_KEY_LEN]);

/* Attribute as text (NULL if absent or an integer) / as integer (0 if absent;
 * *found tells). */
const char *aud_attr_str(const struct mlc_audit *a, const char *name);
int64_t aud_attr_int(const struct mlc_audit *a, const char *name, int *found);

#endif
