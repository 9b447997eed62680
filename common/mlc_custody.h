/*
 * mlc_custody: the chain of custody, one implementation for every hop.
 *
 * The rule: a stage keeps what it has accepted in LMDB until the next stage
 * says it holds it durably. Concretely, for each hop A -> B:
 *
 *   1. A writes the frame into its outbox for B (mlc_outbox_put) inside the
 *      same LMDB transaction that records why it exists (the poller's
 *      watermark, the formatter's "record seen"), and commits.
 *   2. A sends outbox frames to B over PUSH (mlc_outbox_pump), oldest first,
 *      at most `window` unacknowledged at a time.
 *   3. B receives a batch (mlc_inbox_drain): in ONE write transaction it drops
 *      frames whose id it already holds, hands the new ones to its handler
 *      (which stores them, e.g. in B's own outbox), marks every id as held,
 *      and commits. Only then it acks all of them, new and duplicate, to the
 *      sender's ack socket.
 *   4. A deletes acked frames (mlc_outbox_ack). If no ack arrives for
 *      resend_after while frames are in flight (B died, a ZeroMQ pipe dropped
 *      frames, an ack was lost), A goes back and sends every pending frame
 *      again ("go-back-N"); after a restart A starts by sending everything
 *      pending. B's "held" set turns those resends into no-ops.
 *
 * So a frame is always in at least one LMDB (A's outbox or B's state), and
 * every hop is at-least-once with receiver-side dedup = exactly-once
 * processing. ZeroMQ PUSH/PULL alone would lose frames queued to a peer
 * that dies (pitfalls.md #18).
 *
 * Ack frames say who acks ("from"), so one ack socket per process serves all
 * of its outboxes: mlc_outbox_ack() is called on the outbox whose peer name
 * equals the ack's "from".
 */
#ifndef MLC_CUSTODY_H
#define MLC_CUSTODY_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "mlc_err.h"
#include "mlc_proto.h"
#include "mlc_store.h"

struct mlc_custody_opts {
	int64_t resend_after_ms;  /* go back and resend if no ack this long; default 3000 */
	size_t window;            /* max frames in flight per outbox; default 1000 */
	int64_t max_frame;        /* ZMQ_MAXMSGSIZE on the inbox; default 1 MiB */
	int64_t held_ttl_ms;      /* how long ids are remembered for dedup; default 7 days */
};

/* ---- Outbound: one outbox per downstream peer ---- */

struct mlc_outbox;

/* peer: the downstream's name as it signs its acks ("formatter",
 * "dispatcher-0", "auditor"); endpoint: its inbox endpoint. */
int mlc_outbox_open(struct mlc_outbox **obp, struct mlc_store *st, void *zctx,
    const char *peer, const char *endpoint, const struct mlc_custody_opts *o,
    struct mlc_err *err);
void mlc_outbox_close(struct mlc_outbox **obp);
const char *mlc_outbox_peer(const struct mlc_outbox *ob);

/* Adds a frame to the outbox inside the caller's write transaction. The id
 * is the frame's own id (used to match acks). Adding an id already pending
 * is a no-op. A frame larger than max_frame (max_frame_bytes, the receiver's
 * ZMQ_MAXMSGSIZE) is refused with MLC_OUTBOX_TOO_BIG and err saying so:
 * the receiver's libzmq would drop the connection on it and the outbox would
 * resend it forever. Nothing is stored then; the caller decides what
 * becomes of the item (and audits it), see docs/limits.md. */
#define MLC_OUTBOX_TOO_BIG (-2)
int mlc_outbox_put(struct mlc_outbox *ob, MDB_txn *txn, const char *id,
    const void *frame, size_t len, struct mlc_err *err);

/* Encodes f and adds it (convenience); same returns as mlc_outbox_put. */
int mlc_outbox_put_frame(struct mlc_outbox *ob, MDB_txn *txn,
    const struct mlc_frame *f, const char *id, struct mlc_err *err);

/* Sends what is due without blocking. Returns the number of frames sent,
 * or -1 on a store error. now_ms: monotonic milliseconds. */
int mlc_outbox_pump(struct mlc_outbox *ob, int64_t now_ms, struct mlc_err *err);

/* Deletes acknowledged ids (unknown ids are ignored: a duplicate ack). */
int mlc_outbox_ack(struct mlc_outbox *ob, char *const *ids, size_t n,
    int64_t now_ms, struct mlc_err *err);

/* Frames pending (not yet acked). */
uint64_t mlc_outbox_pending(struct mlc_outbox *ob);

/* Milliseconds until pump has something to do (0 = now, -1 = nothing
 * pending). For poll timeouts. */
int64_t mlc_outbox_due_in(struct mlc_outbox *ob, int64_t now_ms);

/* ---- Inbound: one inbox per process ---- */

struct mlc_inbox;

/* Maps an upstream's name to its ack endpoint (NULL if unknown: such frames
 * are dropped with an error, never acked). */
typedef const char *(*mlc_ack_resolver)(void *arg, const char *peer);

/* Called for each new (not yet held) frame inside the batch's write
 * transaction. Return 0 to accept; -1 aborts the whole batch (nothing is
 * acked, the senders will resend): only for store failures. A frame whose
 * content is unusable must still be accepted (and reported) by the handler:
 * that is how bad input is never retried forever and never lost silently. */
typedef int (*mlc_inbox_handler)(void *arg, MDB_txn *txn,
    const struct mlc_frame *f, struct mlc_err *err);

/* Called for a frame that cannot be decoded (outside any transaction):
 * reason says why. The frame is dropped (it has no trustworthy id). */
typedef void (*mlc_inbox_reject)(void *arg, const char *reason);

int mlc_inbox_open(struct mlc_inbox **ibp, struct mlc_store *st, void *zctx,
    const char *self, const char *endpoint, const char *bind_host,
    const struct mlc_custody_opts *o, mlc_ack_resolver resolve, void *resolve_arg,
    struct mlc_err *err);
void mlc_inbox_close(struct mlc_inbox **ibp);
void *mlc_inbox_socket(struct mlc_inbox *ib);

/* Receives up to max frames already waiting (never blocks), processes them
 * as one batch as described above, then acks. Returns frames received
 * (including duplicates and rejects), or -1 on a store error. */
int mlc_inbox_drain(struct mlc_inbox *ib, size_t max, mlc_inbox_handler h,
    mlc_inbox_reject rej, void *arg, struct mlc_err *err);

/* Forgets held ids older than held_ttl. Returns number forgotten or -1. */
int mlc_inbox_prune(struct mlc_inbox *ib, int64_t now_wall_ms, struct mlc_err *err);

/* Is id held (already processed)? 1 yes, 0 no, -1 error. */
int mlc_inbox_held(struct mlc_inbox *ib, MDB_txn *txn, const char *id,
    struct mlc_err *err);

/* ---- Acks arriving at a process's ack socket ---- */

/* Receives every waiting ack frame on sock and applies each to the outbox
 * whose peer matches its "from". Returns acks applied or -1. */
int mlc_custody_take_acks(void *sock, struct mlc_outbox **obs, size_t n_obs,
    int64_t now_ms, struct mlc_err *err);

#endif
