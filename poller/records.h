/*
 * records: turning one X3 row (api1 or GraphQL names) into a canonical
 * record (docs/records.md), its fingerprint, and the event it stands for.
 *
 * The formatter only knows canonical names; this module is the one place
 * that knows POHNUM from orderFromSupplier.code.code. A row is first read
 * into raw fields (x3_api1 / x3_graphql flatten nested values to dotted
 * paths: "GACCENTRYD.0.ACC", "orderFromSupplier.code.code"), then mapped
 * here by the entity's kind and API.
 *
 * Fingerprints: a hash of the canonical fields that matter for the kind
 * (amounts, supplier, status/approval, GL lines). The poller keeps, per
 * (entity, key), the fingerprint and the one or two status values the
 * event rules compare ("x3_fpstate"); a row saved again with the same
 * fingerprint produces no record.
 */
#ifndef X3_RECORDS_H
#define X3_RECORDS_H

#include <stddef.h>

#include "mlc_cfg.h"
#include "mlc_err.h"
#include "mlc_proto.h"
#include "x3_api1.h"

enum x3_kind { X3_KIND_PO, X3_KIND_PINV, X3_KIND_GL };

/* GL lines carried in a record: 40 lines of 6 fields plus the entry's own
 * stay under MLC_PROTO_MAX_FIELDS (256). Every line counts in `lines` and in
 * the fingerprint. */
#define X3_MAX_GL_LINES 40

/* Kind of a configured entity (its `kind` is resolved at config load). */
enum x3_kind x3_kind_of(const struct mlc_cfg_entity *e);

/* What the event rules compare from one version to the next. */
struct x3_fpstate {
	char fp[33];        /* hex of the first 16 bytes of SHA-256 over the fields that matter */
	char a[24];         /* PO: approval; invoice, GL: status */
	char b[24];         /* invoice: payment_approval; else "" */
};

struct x3_canon {
	struct mlc_field *fields;   /* canonical names, values as text */
	size_t n_fields;
	char number[160];           /* the record key (document number) */
	struct x3_fpstate st;
};

/* Maps row (raw fields as read with e->api) to canonical fields, extra
 * x_ fields from e->fields, the record key and the fingerprint state.
 * Fails (naming the field) when the document number is missing. */
/* Just the record key (document number) x3_canon_map() would give, into
 * out (truncated like x3_canon.number); fails the same way. */
int x3_canon_number(const struct mlc_cfg_entity *e, const struct x3_row *row, char *out,
    size_t outsz, struct mlc_err *err);
int x3_canon_map(const struct mlc_cfg_entity *e, const struct x3_row *row,
    struct x3_canon *out, struct mlc_err *err);
void x3_canon_free(struct x3_canon *c);

/* The event for a version whose state is cur, given the state kept from the
 * previous version handed on (prev NULL: first seen), per docs/records.md.
 * NULL means nothing that matters changed: no record. */
const char *x3_event_decide(enum x3_kind kind, const struct x3_fpstate *prev,
    const struct x3_fpstate *cur);

/* Is the event in the entity's `notify` list? */
int x3_event_notified(const struct mlc_cfg_entity *e, const char *event);

/* Stored form "fp\ta\tb". parse returns 0 / -1 (corrupt). */
size_t x3_fpstate_format(const struct x3_fpstate *s, char *out, size_t outsz);
int x3_fpstate_parse(const void *v, size_t len, struct x3_fpstate *s);

#endif
