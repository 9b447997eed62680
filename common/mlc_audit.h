/*
 * mlc_audit: building audit events in a stage and handing them to the
 * stage's outbox for the auditor, inside the transaction that did the work
 * being audited (so an event exists if and only if the work committed).
 *
 *   struct mlc_auditb b;
 *   mlc_auditb_init(&b, "poll");
 *   mlc_auditb_str(&b, "entity", "purchase_order");
 *   mlc_auditb_int(&b, "records", 12);
 *   if (mlc_auditb_put(&b, ob_auditor, txn, err) != 0) ...   (frees b)
 *
 * Event ids are random 128-bit values made when the event is built, so a
 * resent event is recognised by the auditor and never journaled twice.
 */
#ifndef MLC_AUDIT_H
#define MLC_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "mlc_custody.h"
#include "mlc_proto.h"

#define MLC_AUDITB_MAX 32

struct mlc_auditb {
	struct mlc_audit a;
	struct mlc_attr attrs[MLC_AUDITB_MAX];
	char id[40];
	char at[32];
};

/* Starts an event of `kind` from this process (mlc_log_process()). */
void mlc_auditb_init(struct mlc_auditb *b, const char *kind);
/* Adds attributes; values are copied. Extra attributes past
 * MLC_AUDITB_MAX are dropped. A NULL value is skipped. */
void mlc_auditb_str(struct mlc_auditb *b, const char *name, const char *value);
void mlc_auditb_int(struct mlc_auditb *b, const char *name, int64_t value);
/* Encodes the event into the outbox within txn, then frees b's copies. */
int mlc_auditb_put(struct mlc_auditb *b, struct mlc_outbox *ob, MDB_txn *txn,
    struct mlc_err *err);
/* Same, in a transaction of its own (for events not tied to other work).
 * On failure logs the reason; b is freed either way. */
int mlc_auditb_emit(struct mlc_auditb *b, struct mlc_store *st,
    struct mlc_outbox *ob);
/* Frees b's copies without sending. */
void mlc_auditb_free(struct mlc_auditb *b);

/* Fills out with 32 random hex characters (+NUL). */
void mlc_random_hex(char out[33]);

#endif
