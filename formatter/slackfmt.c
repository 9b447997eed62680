/* slackfmt: see slackfmt.h. */
#include "slackfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "mlc_money.h"

static size_t
utf8_len(unsigned char c)
{
	if (c < 0x80) return 1;
	if ((c & 0xe0) == 0xc0) return 2;
	if ((c & 0xf0) == 0xe0) return 3;
	if ((c & 0xf8) == 0xf0) return 4;
	return 1; /* stray continuation byte: count it alone */
}

/* Length of the longest prefix of s of at most max bytes that does not
 * split a UTF-8 sequence: "%.Ns" cuts bytes, and half a character makes
 * the whole message invalid UTF-8 (jansson, the wire format and Slack all
 * refuse it). Used as "%.*s". */
static int
utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (s[n] != '\0')
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	return (int)n;
}

/* Characters a source character takes once escaped. */
static size_t
esc_width(char c)
{
	return c == '&' ? 5 : (c == '<' || c == '>') ? 4 : 1;
}

char *
slackfmt_escape(const char *s, size_t max_chars)
{
	size_t cap = strlen(s) * 5 + 4, o = 0, total = 0, budget, used = 0;
	char *out = malloc(cap);
	int cut;

	if (out == NULL)
		return NULL;
	if (max_chars == 0) { /* not even room for the ellipsis */
		out[0] = '\0';
		return out;
	}
	/* Width of the whole escaped text, in characters (code points). */
	for (size_t i = 0; s[i] != '\0';) {
		total += esc_width(s[i]);
		for (size_t n = utf8_len((unsigned char)s[i]); n > 0 && s[i]; n--)
			i++;
	}
	/* Too long: keep what fits in max_chars - 1, then the ellipsis. */
	cut = total > max_chars;
	budget = cut ? max_chars - 1 : total;
	for (size_t i = 0; s[i] != '\0' && used + esc_width(s[i]) <= budget;) {
		used += esc_width(s[i]);
		switch (s[i]) {
		case '&': memcpy(out + o, "&amp;", 5); o += 5; i++; break;
		case '<': memcpy(out + o, "&lt;", 4); o += 4; i++; break;
		case '>': memcpy(out + o, "&gt;", 4); o += 4; i++; break;
		default:
			for (size_t n = utf8_len((unsigned char)s[i]); n > 0 && s[i]; n--)
				out[o++] = s[i++];
		}
	}
	if (cut) {
		memcpy(out + o, "\xe2\x80\xa6", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

const char *
slackfmt_approval(const char *appflg)
{
	static const char *names[] = { "?", "Not approved", "Approved in part",
		"Approved in full", "Approval not managed", "Approved automatically" };

	if (appflg != NULL && appflg[0] >= '1' && appflg[0] <= '5' && appflg[1] == '\0')
		return names[appflg[0] - '0'];
	return "Unknown";
}

static const char *
fld(const struct mlc_record *r, const char *name)
{
	const char *v = mlc_record_field(r, name);

	return v ? v : "";
}

/* "12,345.60 EUR", or the raw text if it is not a decimal. */
static void
amount_text(const char *amount, const char *cur, char *out, size_t outsz)
{
	struct mlc_money m;
	char num[64];

	if (amount[0] != '\0' && mlc_money_parse(amount, &m) == 0 &&
	    mlc_money_format(&m, 2, 1, num, sizeof(num)) >= 0)
		snprintf(out, outsz, "%s %.*s", num, utf8_prefix(cur, 60), cur);
	else {
		const char *raw = amount[0] ? amount : "?";

		snprintf(out, outsz, "%.*s %.*s", utf8_prefix(raw, 100), raw,
		    utf8_prefix(cur, 60), cur);
	}
}

static json_t *
mrkdwn(const char *label, const char *value_escaped)
{
	char *t;
	size_t n = strlen(label) + strlen(value_escaped) + 8;
	json_t *o;

	t = malloc(n);
	if (t == NULL)
		return NULL;
	snprintf(t, n, "*%s*\n%s", label, value_escaped);
	o = json_pack("{s:s, s:s}", "type", "mrkdwn", "text", t);
	free(t);
	return o;
}

static int
add_field(json_t *fields, const char *label, const char *raw)
{
	char *e = slackfmt_escape(raw, SLACKFMT_FIELD_MAX - strlen(label) - 8);
	json_t *f;

	if (e == NULL)
		return -1;
	f = mrkdwn(label, e);
	free(e);
	if (f == NULL)
		return -1;
	return json_array_append_new(fields, f);
}

int
slackfmt_record(const struct mlc_record *r, char **text, char **blocks)
{
	char amount[200], header[256], ctx[400], supplier[600];
	char *e_key = NULL, *e_sup = NULL, *e_amount = NULL, *e_site = NULL, *hdr = NULL;
	const char *approval;
	json_t *arr = NULL, *fields = NULL;
	int rc = -1;
	size_t n;

	*text = *blocks = NULL;
	approval = slackfmt_approval(fld(r, "APPFLG"));
	amount_text(fld(r, "TOTORD"), fld(r, "CUR"), amount, sizeof(amount));
	snprintf(supplier, sizeof(supplier), "%.*s %.*s",
	    utf8_prefix(fld(r, "BPSNUM"), 100), fld(r, "BPSNUM"),
	    utf8_prefix(fld(r, "BPSNUM_REF"), 400), fld(r, "BPSNUM_REF"));
	e_key = slackfmt_escape(r->key, 100);
	e_sup = slackfmt_escape(supplier, 500);
	e_amount = slackfmt_escape(amount, 100);
	e_site = slackfmt_escape(fld(r, "POHFCY"), 60);
	snprintf(header, sizeof(header), "Purchase order %.*s",
	    utf8_prefix(r->key, 120), r->key);
	hdr = slackfmt_escape(header, SLACKFMT_HEADER_MAX);
	if (!e_key || !e_sup || !e_amount || !e_site || !hdr)
		goto out;

	n = strlen(e_key) + strlen(e_sup) + strlen(e_amount) + strlen(e_site) + 256;
	*text = malloc(n);
	if (*text == NULL)
		goto out;
	snprintf(*text, n, "Purchase order %s (%s): supplier %s, amount %s excl. tax, "
	    "site %s", e_key, approval, e_sup, e_amount, e_site);

	fields = json_array();
	if (fields == NULL ||
	    add_field(fields, "Order", r->key) != 0 ||
	    add_field(fields, "Supplier", supplier) != 0 ||
	    add_field(fields, "Amount (excl. tax)", amount) != 0 ||
	    add_field(fields, "Approval", approval) != 0 ||
	    add_field(fields, "Site", fld(r, "POHFCY")) != 0 ||
	    add_field(fields, "Order date", fld(r, "ORDDAT")) != 0)
		goto out;
	snprintf(ctx, sizeof(ctx), "Sage X3 %.*s, updated %.*s",
	    utf8_prefix(r->entity, 60), r->entity, utf8_prefix(r->stamp, 40), r->stamp);
	{
		char *e_ctx = slackfmt_escape(ctx, 300);
		if (e_ctx == NULL)
			goto out;
		arr = json_pack("[{s:s, s:{s:s, s:s}}, {s:s, s:o}, {s:s, s:[{s:s, s:s}]}]",
		    "type", "header", "text", "type", "plain_text", "text", hdr,
		    "type", "section", "fields", fields,
		    "type", "context", "elements", "type", "mrkdwn", "text", e_ctx);
		free(e_ctx);
		fields = NULL; /* stolen by "o" */
	}
	if (arr == NULL)
		goto out;
	*blocks = json_dumps(arr, JSON_COMPACT);
	if (*blocks != NULL)
		rc = 0;
out:
	json_decref(arr);
	json_decref(fields);
	free(e_key); free(e_sup); free(e_amount); free(e_site); free(hdr);
	if (rc != 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
}
