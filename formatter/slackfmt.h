/*
 * slackfmt: turning one X3 record into one Slack message (a top-level text
 * fallback + Block Kit blocks), per entity kind.
 *
 * Input: a record with the canonical fields of docs/records.md (number,
 * supplier_code, supplier_name, amount_excl_tax, ..., line.N.* for GL
 * entries); the formatter never sees X3's own field names.
 *
 * Output, per kind (purchase_order, supplier_invoice, gl_entry):
 *   header   "Purchase order PO-1 approved"
 *   section  the route's template, when it has one
 *   section  fields: document number, supplier code and name, amounts with
 *            currency and thousands separators, GL account(s), status as
 *            text, site, date; GL entries: journal, source (entry_type),
 *            status, date, company / site, total debit
 *   section  GL entries only: one line per entry line (account, debit or
 *            credit, amount, partner, description)
 *   context  where it came from, and the deep link into X3 when configured
 * and a text fallback that says the same in one line (or the rendered
 * template).
 *
 * Everything taken from X3 is escaped for Slack (exactly '&', '<', '>' ->
 * "&amp;", "&lt;", "&gt;"), so a supplier called "<!channel>" cannot ping a
 * channel and "<http://evil|Pay here>" cannot forge a link; values put into
 * a deep link are percent-encoded, so they cannot end the URL either.
 * Block Kit limits are respected by truncating with an ellipsis, never by
 * letting Slack answer invalid_blocks or msg_blocks_too_long: header 150
 * characters, section text 3000, at most 10 fields of 2000, at most 50
 * blocks, and all block text together at most SLACKFMT_BLOCKS_BUDGET
 * characters (Slack refuses ~12,000 with msg_blocks_too_long). Lengths are
 * counted in characters (code points) of the escaped text, as Slack counts.
 * Amounts are formatted from decimal text, never through floating point.
 */
#ifndef SLACKFMT_H
#define SLACKFMT_H

#include <stddef.h>

#include "mlc_proto.h"

#define SLACKFMT_HEADER_MAX 150
#define SLACKFMT_FIELD_MAX 2000
#define SLACKFMT_TEXT_MAX 3000      /* section text; also our text fallback */
#define SLACKFMT_MAX_FIELDS 10
#define SLACKFMT_MAX_BLOCKS 50
#define SLACKFMT_BLOCKS_BUDGET 11000 /* all text in the blocks together */
#define SLACKFMT_URL_MAX 1500       /* a longer deep link is left out */

/* Escapes s for Slack and truncates the result to at most max_chars
 * characters (UTF-8 code points), ending in "…" when cut; never cuts inside
 * an escape entity or a UTF-8 sequence (widths are counted escaped: "&amp;"
 * is five characters, as Slack counts them). Returns a malloc'd string. */
char *slackfmt_escape(const char *s, size_t max_chars);

/* Human text of an approval code (APPFLG / `approval`: "3" -> "Approved in
 * full"); "Unknown" for anything else. */
const char *slackfmt_approval(const char *appflg);

/* "Purchase order", "Supplier invoice", "GL entry"; "Record" otherwise. */
const char *slackfmt_kind_label(const char *kind);

/* "approved", ..., "status changed"; other events as given. */
const char *slackfmt_event_label(const char *event);

/* How a record is rendered; every member may be NULL or "". */
struct slackfmt_opts {
	const char *kind;         /* entity kind; unknown kinds get a generic message */
	const char *tmpl;         /* the route's template (config routes[].template) */
	const char *route;        /* route name, for {route} */
	const char *amount_field; /* the route's amount_field, for {amount} */
	const char *link_pattern; /* deep-link pattern (x3.link_pattern or the entity's link) */
	const char *folder;       /* X3 folder, for {folder} in the link */
	size_t blocks_budget;     /* characters of block text; 0 = SLACKFMT_BLOCKS_BUDGET */
};

/* Builds the text fallback and the blocks JSON (an array) for record r.
 * *text and *blocks are malloc'd. Returns 0, or -1 (out of memory). */
int slackfmt_render(const struct slackfmt_opts *o, const struct mlc_record *r,
    char **text, char **blocks);

/* slackfmt_render for a purchase order without template or link. */
int slackfmt_record(const struct mlc_record *r, char **text, char **blocks);

/* Renders template tmpl for r: "{name}" is replaced by the escaped value
 * of placeholder `name` (mlc_cfg_template_names: canonical fields,
 * x_<name> extras, kind, event, amount, ...), "{{" and "}}" stand for
 * braces, and the template's own text is kept as written (it is config,
 * so it may use mrkdwn or even "<!here>" on purpose). The result is at
 * most max_chars characters, cut with an ellipsis. Returns a malloc'd
 * string, or NULL (out of memory). */
char *slackfmt_template(const struct slackfmt_opts *o, const struct mlc_record *r,
    size_t max_chars);

/* The deep link for r from pattern: {number}, {key}, {folder}, {entity},
 * {kind} replaced by their values percent-encoded (only A-Z a-z 0-9 - . _ ~
 * kept), and the pattern's own text made safe for a Slack link: '&' as
 * "&amp;", and any space, control character, '<', '>', '|' or '"' percent-
 * encoded. The result can go between '<' and '|' in mrkdwn as is. Returns
 * a malloc'd string, or NULL when there is no pattern, the URL would be
 * longer than SLACKFMT_URL_MAX, or memory ran out. */
char *slackfmt_link(const char *pattern, const struct mlc_record *r, const char *folder,
    const char *kind);

#endif
