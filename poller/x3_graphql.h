/*
 * x3_graphql: reading one entity's changes from X3 Services' GraphQL API.
 *
 *   POST {url}/xtrem/api   x-xtrem-endpoint: {FOLDER}
 *   {"query": "query($first:Int,$after:String,$filter:String,$orderBy:String){
 *       ROOT{NODE{query(first:$first,after:$after,filter:$filter,orderBy:$orderBy){
 *         edges{cursor node{...}} pageInfo{endCursor hasNextPage} totalCount}}}}",
 *    "variables": {"first": N, "after": CURSOR|null,
 *                  "filter": "{\"STAMP\":{\"_gte\":\"ISO\"}}",
 *                  "orderBy": "{\"STAMP\":1,\"KEY\":1}"}}
 *
 * Values only travel as variables, never pasted into the query text. The
 * root and node names are configurable per entity (they differ by release:
 * xtremX3Purchasing vs x3Purchasing). Filtering is "stamp >= watermark -
 * look-back" and the poller drops versions it already handed on by
 * (entity, key, stamp), which gives the (stamp, key) tuple semantics of
 * x3_api1 without a compound filter. Cursor paging follows endCursor while
 * hasNextPage. A response with `errors` is a failed page even when it also
 * carries `data` (X3 returns partial data when a child node is refused).
 *
 * GL entries come as journalEntryLine nodes, one per line, ordered by
 * (stamp, id) -- a line's id starts with its entry, so an entry's lines
 * (which share its stamp) are consecutive: x3_gql_group_lines() folds consecutive
 * lines of one entry into one row ("lines.N.account" ...), carrying an entry
 * that may continue on the next page over to it.
 */
#ifndef X3_GRAPHQL_H
#define X3_GRAPHQL_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_cfg.h"
#include "mlc_err.h"
#include "x3_api1.h"

/* The JSON request body for the page after `after` (NULL: first page) of
 * changes at or after stamp_s. Returns a malloc'd string or NULL. */
char *x3_gql_body(const struct mlc_cfg *cfg, const struct mlc_cfg_entity *e,
    int64_t stamp_s, const char *after, struct mlc_err *err);

/* The selection set of e's node ("id orderDate purchaseSite{code} ..."),
 * malloc'd. Exposed for tests. */
char *x3_gql_selection(const struct mlc_cfg_entity *e);

/* Parses one response: rows (one per node; key = e->graphql_key, stamp =
 * e->stamp_field), page->end_cursor, page->has_next. Errors name what is
 * wrong ("GraphQL errors: ...", "node 3 (PO1): field _updateStamp is missing
 * or not a UTC date-time"). */
int x3_gql_parse_page(const char *body, size_t len, const struct mlc_cfg_entity *e,
    struct x3_page *page, struct mlc_err *err);

/* GL: turns page's line rows into entry rows. carry holds lines of an entry
 * left over from the previous page (empty at the start of a cycle) and
 * receives the last entry's lines when more pages follow (more != 0). */
int x3_gql_group_lines(struct x3_page *page, struct x3_page *carry, int more,
    struct mlc_err *err);

#endif
