/*
 * slackfmt: turning one X3 record into one Slack message (text + Block Kit).
 *
 * Everything taken from X3 is escaped for Slack (exactly '&', '<', '>' ->
 * "&amp;", "&lt;", "&gt;"), so a supplier called "<!channel>" cannot ping a
 * channel and "<http://evil|Pay here>" cannot forge a link. Block Kit
 * limits are respected by truncating with an ellipsis, never by letting
 * Slack answer invalid_blocks. Amounts are formatted from decimal text with
 * thousands separators, never through floating point.
 */
#ifndef SLACKFMT_H
#define SLACKFMT_H

#include <stddef.h>

#include "mlc_proto.h"

#define SLACKFMT_HEADER_MAX 150
#define SLACKFMT_FIELD_MAX 2000
#define SLACKFMT_TEXT_MAX 3000

/* Escapes s for Slack and truncates the result to at most max_chars
 * characters (UTF-8 code points), ending in "…" when cut; never cuts inside
 * an escape entity or a UTF-8 sequence (widths are counted escaped: "&amp;"
 * is five characters, as Slack counts them). Returns a malloc'd string. */
char *slackfmt_escape(const char *s, size_t max_chars);

/* Human text of an X3 approval flag APPFLG ("3" -> "In full"). */
const char *slackfmt_approval(const char *appflg);

/* Builds the fallback text and the blocks JSON for record r.
 * *text and *blocks are malloc'd. Returns 0 / -1. */
int slackfmt_record(const struct mlc_record *r, char **text, char **blocks);

#endif
