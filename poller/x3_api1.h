/*
 * x3_api1: reading one entity's changes from Sage X3's REST "api1".
 *
 *   GET {url}/api1/x3/erp/{FOLDER}/{CLASS}?representation={REP}.$query
 *       &count={page_size}&where={STAMP} ge @{stamp}@&orderBy={STAMP} asc,{KEY} asc
 *
 * then $links.$next.$url until absent. Why "ge" and not "gt": X3 stamps
 * have one-second precision, so many rows share a stamp; "gt" on the stamp
 * alone loses the rows that share the watermark's second when a cycle stops
 * between them (pitfalls.md #1, #3). The poller reads from the watermark's
 * second inclusive and drops rows whose (stamp, key) is not after the
 * watermark tuple.
 *
 * Pages are parsed with every number kept as exact text (mlc_json), and each
 * resource becomes a row: its key, its stamp, and its fields flattened to
 * text (a reference object FIELD_REF contributes FIELD_REF = $description).
 */
#ifndef X3_API1_H
#define X3_API1_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_cfg.h"
#include "mlc_err.h"
#include "mlc_proto.h"

#define X3_MAX_ROWS_PER_PAGE 1000
#define X3_MAX_FIELD_LEN 4096
#define X3_MAX_PAGE_BYTES (32 * 1024 * 1024)
/* Raw fields kept per row before mapping (GL lines flatten to many). */
#define X3_MAX_RAW_FIELDS 1024

struct x3_row {
	char *key;
	char *stamp;        /* normalised "YYYY-MM-DDTHH:MM:SSZ" */
	int64_t stamp_s;
	struct mlc_field *fields;
	size_t n_fields;
	size_t n_dropped;   /* fields past X3_MAX_RAW_FIELDS, not kept */
	size_t cap_fields;  /* api1: slots allocated (grown up to X3_MAX_RAW_FIELDS) */
};

struct x3_page {
	struct x3_row *rows;
	size_t n_rows;
	char *next_url;     /* api1: NULL on the last page */
	char *end_cursor;   /* GraphQL: pageInfo.endCursor, or NULL */
	int has_next;       /* GraphQL: pageInfo.hasNextPage */
};

/* URL of the first page of changes at or after stamp_s. */
int x3_api1_first_url(const struct mlc_cfg *cfg, const struct mlc_cfg_entity *e,
    int64_t stamp_s, char **url, struct mlc_err *err);

/* Parses one page. Errors name the entity and what is wrong ("page 3 of
 * purchase_order: resource 7 has no field UPDDATTIM"). base_url is the
 * configured server URL: a $next link to any other origin is refused (we
 * would be sending credentials elsewhere). */
int x3_api1_parse_page(const char *body, size_t len, const struct mlc_cfg_entity *e,
    const char *base_url, struct x3_page *page, struct mlc_err *err);

/* Turns an X3 error response ($diagnoses) into one sentence; writes
 * "HTTP <status> from X3" when the body has none. */
void x3_api1_describe_error(long status, const char *body, size_t len,
    char *out, size_t outsz);

/* Fetches and parses url with the configured auth. */
int x3_api1_fetch(const struct mlc_cfg *cfg, const struct mlc_cfg_entity *e,
    const char *url, const char *password, struct x3_page *page, struct mlc_err *err);

void x3_page_free(struct x3_page *page);

/* Adds v's scalars to r->fields (grown as needed, or allocated with
 * X3_MAX_RAW_FIELDS slots and cap_fields set to that)
 * under dotted names: objects "a.b", arrays "a.0", api1 references
 * ({"$description"}) as the reference's name; '$' keys skipped. Bounded in
 * depth and count. Returns 0 / -1 (a value over X3_MAX_FIELD_LEN, or memory). */
struct json_t;
int x3_row_flatten(struct x3_row *r, const char *prefix, struct json_t *v, int depth,
    struct mlc_err *err);

#endif
