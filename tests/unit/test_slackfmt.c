/*
 * test_slackfmt: how one X3 record becomes one Slack message.
 *
 * Pins the escaping (exactly & < > and nothing else, so nothing from X3
 * can ping a channel or forge a link), the truncation (counted in escaped
 * characters, ellipsis when cut, never inside an entity or a UTF-8
 * sequence), the approval names, and the message of every kind (purchase
 * order, supplier invoice, GL entry): amounts formatted from decimal text
 * in the currency's minor units, Block Kit limits held whatever X3 sends
 * (checked by parsing the blocks with jansson), route templates and the
 * deep link into X3, which X3 data cannot break out of.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "slackfmt.h"

#define ELLIPSIS "\xe2\x80\xa6"

/* Strict UTF-8 check (no overlongs, surrogates or code points past
 * U+10FFFF). Returns the number of code points, or -1 if invalid. */
static long
utf8_count(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;

	while (*p) {
		unsigned int cp;
		int extra;

		if (p[0] < 0x80) {
			cp = p[0];
			extra = 0;
		} else if ((p[0] & 0xe0) == 0xc0) {
			cp = p[0] & 0x1f;
			extra = 1;
		} else if ((p[0] & 0xf0) == 0xe0) {
			cp = p[0] & 0x0f;
			extra = 2;
		} else if ((p[0] & 0xf8) == 0xf0) {
			cp = p[0] & 0x07;
			extra = 3;
		} else {
			return -1;
		}
		for (int k = 1; k <= extra; k++) {
			if ((p[k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[k] & 0x3f);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		p += extra + 1;
		n++;
	}
	return n;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static void
assert_escape(const char *in, size_t max, const char *want)
{
	char *got = slackfmt_escape(in, max);

	assert_non_null(got);
	if (strcmp(got, want) != 0) {
		char copy[512];

		snprintf(copy, sizeof(copy), "%s", got);
		free(got);
		fail_msg("slackfmt_escape(\"%s\", %zu) = \"%s\", want \"%s\"", in, max,
		    copy, want);
	}
	free(got);
}

static void
test_escapes_exactly_amp_lt_gt(void **state)
{
	(void)state;
	assert_escape("a & b < c > d", 1000, "a &amp; b &lt; c &gt; d");
	assert_escape("&amp;", 1000, "&amp;amp;");
	assert_escape("", 1000, "");
	assert_escape("plain", 1000, "plain");
}

static void
test_leaves_mrkdwn_and_quotes_untouched(void **state)
{
	(void)state;
	assert_escape("*bold* _it_ ~s~ `c` \"q\" 'a' \\ | : @ ! # ^",
	    1000, "*bold* _it_ ~s~ `c` \"q\" 'a' \\ | : @ ! # ^");
	assert_escape("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", 1000,
	    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
}

static void
test_neutralises_mentions_and_links(void **state)
{
	(void)state;
	assert_escape("<!channel>", 1000, "&lt;!channel&gt;");
	assert_escape("<!here>", 1000, "&lt;!here&gt;");
	assert_escape("<!everyone>", 1000, "&lt;!everyone&gt;");
	assert_escape("<@U123>", 1000, "&lt;@U123&gt;");
	assert_escape("<!subteam^S1>", 1000, "&lt;!subteam^S1&gt;");
	assert_escape("<http://evil|Pay here>", 1000, "&lt;http://evil|Pay here&gt;");
}

static void
test_short_text_is_not_cut(void **state)
{
	(void)state;
	assert_escape("abc", 3, "abc");
	assert_escape("&", 5, "&amp;");     /* exactly fits once escaped */
	assert_escape("\xe6\x97\xa5\xe6\x9c\xac", 2, "\xe6\x97\xa5\xe6\x9c\xac");
}

static void
test_cut_text_ends_with_ellipsis_within_max(void **state)
{
	(void)state;
	assert_escape("abcdef", 4, "abc" ELLIPSIS);
	/* "&" is five characters once escaped: it does not fit in 4 */
	assert_escape("&", 4, ELLIPSIS);
	assert_escape("ab&cd", 8, "ab&amp;" ELLIPSIS); /* 2 + 5 + 1 */
	assert_escape("ab&cd", 7, "ab" ELLIPSIS);       /* not "ab&amp" */
	assert_escape("ab&cd", 5, "ab" ELLIPSIS);       /* not "ab&a" */
	assert_escape("ab<cd", 7, "ab&lt;" ELLIPSIS);
	assert_escape("ab<cd", 6, "ab" ELLIPSIS);
	assert_escape("caf\xc3\xa9ss", 4, "caf" ELLIPSIS);
	assert_escape("caf\xc3\xa9ss", 5, "caf\xc3\xa9" ELLIPSIS);
	assert_escape("caf\xc3\xa9ss", 6, "caf\xc3\xa9ss");
	assert_escape("a\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 2, "a" ELLIPSIS);
	assert_escape("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 2, "\xe6\x97\xa5" ELLIPSIS);
}

/* Every input at every max: within max characters (escaped), valid UTF-8,
 * a prefix of the full escape cut at a character and entity boundary, and
 * an ellipsis exactly when something was dropped. */
static void
test_truncation_is_safe_at_every_boundary(void **state)
{
	static const char *const inputs[] = {
		"caf\xc3\xa9 & \xe6\x97\xa5\xe6\x9c\xac <\xf0\x9f\x98\x80> end",
		"&&&&<<<>>>",
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9&\xc3\xa9",
		"\xf0\x9f\x98\x80\xf0\x9f\x8e\x89&\xf0\x9f\x98\x80x",
		"x\xe6\x97\xa5&\xe6\x97\xa5<\xe6\x97\xa5>",
		"Pay <http://evil|here> & <!channel> now",
	};
	(void)state;
	for (size_t k = 0; k < sizeof(inputs) / sizeof(inputs[0]); k++) {
		char *full = slackfmt_escape(inputs[k], 100000);
		long full_chars;

		assert_non_null(full);
		full_chars = utf8_count(full);
		assert_true(full_chars > 0);
		for (size_t max = 1; max <= (size_t)full_chars + 2; max++) {
			char *got = slackfmt_escape(inputs[k], max);
			long chars;
			size_t body;

			assert_non_null(got);
			chars = utf8_count(got);
			if (chars < 0 || chars > (long)max) {
				free(got);
				free(full);
				fail_msg("input %zu, max %zu: %ld characters (-1 = invalid "
				    "UTF-8)", k, max, chars);
			}
			if ((long)max >= full_chars) {
				assert_string_equal(got, full);
				free(got);
				continue;
			}
			assert_true(ends_with(got, ELLIPSIS));
			body = strlen(got) - strlen(ELLIPSIS);
			/* a prefix of the full escape ... */
			assert_memory_equal(got, full, body);
			/* ... that ends on a character boundary ... */
			assert_true(full[body] == '\0' ||
			    ((unsigned char)full[body] & 0xc0) != 0x80);
			/* ... and not inside an entity */
			{
				char *amp = NULL;

				for (size_t i = 0; i < body; i++)
					if (got[i] == '&')
						amp = got + i;
				if (amp != NULL)
					assert_non_null(memchr(amp, ';', body - (size_t)(amp - got)));
			}
			free(got);
		}
		free(full);
	}
}

static void
test_approval_names_follow_appflg(void **state)
{
	(void)state;
	assert_string_equal(slackfmt_approval("1"), "Not approved");
	assert_string_equal(slackfmt_approval("2"), "Approved in part");
	assert_string_equal(slackfmt_approval("3"), "Approved in full");
	assert_string_equal(slackfmt_approval("4"), "Approval not managed");
	assert_string_equal(slackfmt_approval("5"), "Approved automatically");
	assert_string_equal(slackfmt_approval("0"), "Unknown");
	assert_string_equal(slackfmt_approval("6"), "Unknown");
	assert_string_equal(slackfmt_approval("33"), "Unknown");
	assert_string_equal(slackfmt_approval(""), "Unknown");
	assert_string_equal(slackfmt_approval("<!channel>"), "Unknown");
	assert_string_equal(slackfmt_approval(NULL), "Unknown");
}

/* ---- records ---- */

#define REC_MAX 320

/* A record with canonical fields; names and values are borrowed unless
 * made by rec_setf (then owned). */
struct rec {
	struct mlc_record r;
	struct mlc_field f[REC_MAX];
	char *owned[REC_MAX * 2];
	size_t n_owned;
};

static void
rec_init(struct rec *x, const char *entity, const char *key, const char *event)
{
	memset(x, 0, sizeof(*x));
	x->r.id = (char *)"e/k/2026-11-29T01:02:03Z";
	x->r.from = (char *)"poller";
	x->r.entity = (char *)entity;
	x->r.key = (char *)key;
	x->r.stamp = (char *)"2026-11-29T01:02:03Z";
	x->r.event = (char *)event;
	x->r.polled_at = (char *)"2026-11-29T01:03:00Z";
	x->r.fields = x->f;
}

static void
rec_set(struct rec *x, const char *name, const char *value)
{
	assert_true(x->r.n_fields < REC_MAX);
	x->f[x->r.n_fields].name = (char *)name;
	x->f[x->r.n_fields].value = (char *)value;
	x->r.n_fields++;
}

/* Field named by a format ("line.%u.account"), value copied. */
static void
rec_setf(struct rec *x, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rec_setf(struct rec *x, const char *value, const char *fmt, ...)
{
	char name[64];
	char *nm, *v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	nm = strdup(name);
	v = strdup(value);
	assert_non_null(nm);
	assert_non_null(v);
	x->owned[x->n_owned++] = nm;
	x->owned[x->n_owned++] = v;
	rec_set(x, nm, v);
}

static void
rec_free(struct rec *x)
{
	for (size_t i = 0; i < x->n_owned; i++)
		free(x->owned[i]);
	x->n_owned = 0;
}

/* A purchase order as the poller hands it on (docs/records.md). */
static void
po_init(struct rec *x, const char *number, const char *supplier_code,
    const char *supplier_name, const char *amount, const char *cur,
    const char *approval, const char *site, const char *order_date)
{
	rec_init(x, "purchase_order", number, "approved");
	rec_set(x, "number", number);
	rec_set(x, "supplier_code", supplier_code);
	rec_set(x, "supplier_name", supplier_name);
	rec_set(x, "amount_excl_tax", amount);
	rec_set(x, "currency", cur);
	rec_set(x, "approval", approval);
	rec_set(x, "site", site);
	rec_set(x, "order_date", order_date);
}

static void
inv_init(struct rec *x, const char *number, const char *supplier_name,
    const char *excl, const char *incl, const char *accounts)
{
	rec_init(x, "supplier_invoice", number, "received");
	rec_set(x, "number", number);
	rec_set(x, "supplier_code", "SUP042");
	rec_set(x, "supplier_name", supplier_name);
	rec_set(x, "supplier_doc", "F-2026-118");
	rec_set(x, "invoice_type", "INV");
	rec_set(x, "accounting_date", "2026-11-27");
	rec_set(x, "currency", "EUR");
	rec_set(x, "amount_excl_tax", excl);
	rec_set(x, "amount_incl_tax", incl);
	rec_set(x, "status", "1");
	rec_set(x, "status_text", "Not posted");
	rec_set(x, "gl_accounts", accounts);
	rec_set(x, "site", "FR011");
}

/* A GL entry with n lines alternating debit / credit of `amount`. */
static void
gl_init(struct rec *x, const char *number, unsigned n, const char *amount,
    const char *desc)
{
	char count[16];

	rec_init(x, "gl_entry", number, "posted");
	rec_set(x, "number", number);
	rec_set(x, "entry_type", "SPINV");
	rec_set(x, "journal", "ACH");
	rec_set(x, "accounting_date", "2026-11-27");
	rec_set(x, "company", "FR10");
	rec_set(x, "site", "FR011");
	rec_set(x, "currency", "EUR");
	rec_set(x, "status", "2");
	rec_set(x, "description", desc);
	snprintf(count, sizeof(count), "%u", n);
	rec_setf(x, count, "lines");
	for (unsigned i = 0; i < n && i < 50; i++) {
		rec_setf(x, i % 2 ? "401000" : "607000", "line.%u.account", i);
		rec_setf(x, i % 2 ? "credit" : "debit", "line.%u.side", i);
		rec_setf(x, amount, "line.%u.amount", i);
		rec_setf(x, "SUP042", "line.%u.partner", i);
		rec_setf(x, desc, "line.%u.description", i);
	}
}

struct fmt {
	char *text;
	char *blocks;
	json_t *root;
	json_t *header;
	json_t *section;   /* the first section with fields */
	json_t *tsection;  /* the first section with text */
	json_t *context;
};

static void
fmt_free(struct fmt *f)
{
	free(f->text);
	free(f->blocks);
	json_decref(f->root);
	memset(f, 0, sizeof(*f));
}

static long
chars_of(const json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL)
		fail_msg("expected a JSON string");
	return utf8_count(s);
}

/* Characters of every "text" string in v. */
static long
block_text_chars(const json_t *v)
{
	const char *key;
	json_t *child;
	size_t i;
	long n = 0;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, child) {
			if (strcmp(key, "text") == 0 && json_is_string(child))
				n += chars_of(child);
			else
				n += block_text_chars(child);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			n += block_text_chars(child);
	}
	return n;
}

/* Formats r and checks every Block Kit limit Slack enforces: at most 50
 * blocks, header plain_text 1..150, section text 1..3000, at most 10 fields
 * of 1..2000, context elements 1..10, all block text under the budget that
 * keeps msg_blocks_too_long away, a text fallback within 3000 (Slack's cap
 * is 40,000), and valid UTF-8 everywhere. */
static void
render_checked(const struct slackfmt_opts *o, const struct mlc_record *r, struct fmt *f)
{
	json_error_t je;
	json_t *b, *fields;
	size_t i;

	memset(f, 0, sizeof(*f));
	assert_int_equal(slackfmt_render(o, r, &f->text, &f->blocks), 0);
	assert_non_null(f->text);
	assert_non_null(f->blocks);
	assert_true(utf8_count(f->text) > 0);
	assert_true(utf8_count(f->text) <= SLACKFMT_TEXT_MAX);
	assert_true(utf8_count(f->text) <= 40000);
	f->root = json_loads(f->blocks, 0, &je);
	if (f->root == NULL)
		fail_msg("blocks are not JSON (%s): %.200s", je.text, f->blocks);
	assert_true(json_is_array(f->root));
	assert_true(json_array_size(f->root) >= 1 && json_array_size(f->root) <= 50);
	if (block_text_chars(f->root) > (long)(o->blocks_budget ? o->blocks_budget :
	    SLACKFMT_BLOCKS_BUDGET))
		fail_msg("%ld characters of block text", block_text_chars(f->root));
	assert_true(SLACKFMT_BLOCKS_BUDGET < 12000);
	json_array_foreach(f->root, i, b) {
		const char *type = json_string_value(json_object_get(b, "type"));

		assert_non_null(type);
		if (strcmp(type, "header") == 0) {
			json_t *t = json_object_get(b, "text");

			assert_string_equal(json_string_value(json_object_get(t, "type")),
			    "plain_text");
			assert_true(chars_of(json_object_get(t, "text")) >= 1);
			assert_true(chars_of(json_object_get(t, "text")) <= SLACKFMT_HEADER_MAX);
			if (f->header == NULL)
				f->header = b;
		} else if (strcmp(type, "section") == 0) {
			json_t *t = json_object_get(b, "text");
			json_t *fl;
			size_t j;

			fields = json_object_get(b, "fields");
			assert_true(t != NULL || fields != NULL);
			if (t != NULL) {
				long n = chars_of(json_object_get(t, "text"));

				assert_string_equal(json_string_value(json_object_get(t, "type")),
				    "mrkdwn");
				if (n < 1 || n > SLACKFMT_TEXT_MAX)
					fail_msg("section text of %ld characters", n);
				if (f->tsection == NULL)
					f->tsection = b;
			}
			if (fields != NULL) {
				assert_true(json_is_array(fields));
				assert_true(json_array_size(fields) >= 1 &&
				    json_array_size(fields) <= 10);
				json_array_foreach(fields, j, fl) {
					long n = chars_of(json_object_get(fl, "text"));

					assert_string_equal(json_string_value(
					    json_object_get(fl, "type")), "mrkdwn");
					if (n < 1 || n > SLACKFMT_FIELD_MAX)
						fail_msg("field %zu has %ld characters", j, n);
				}
				if (f->section == NULL)
					f->section = b;
			}
		} else if (strcmp(type, "context") == 0) {
			json_t *el = json_object_get(b, "elements"), *e;
			size_t j;

			assert_true(json_is_array(el));
			assert_true(json_array_size(el) >= 1 && json_array_size(el) <= 10);
			json_array_foreach(el, j, e) {
				long n = chars_of(json_object_get(e, "text"));

				assert_true(n >= 1 && n <= 3000);
			}
			if (f->context == NULL)
				f->context = b;
		} else {
			fail_msg("unexpected block type %s", type);
		}
	}
	assert_non_null(f->header);
	assert_non_null(f->section);
	assert_non_null(f->context);
}

static void
format_checked(const struct mlc_record *r, struct fmt *f)
{
	struct slackfmt_opts o = { .kind = "purchase_order" };

	render_checked(&o, r, f);
}

/* All field texts of the fields section, joined. */
static void
fields_text(const struct fmt *f, char *out, size_t outsz)
{
	json_t *fl;
	size_t i, n = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(f->section, "fields"), i, fl)
		n += (size_t)snprintf(out + n, n < outsz ? outsz - n : 0, "%s\n",
		    json_string_value(json_object_get(fl, "text")));
}

static void
test_record_text_has_amount_supplier_and_approval(void **state)
{
	struct rec p;
	struct fmt f;

	(void)state;
	po_init(&p, "PO-000123", "FR053", "Acme & Sons", "1234567.5", "EUR", "3",
	    "FR011", "2026-11-28");
	format_checked(&p.r, &f);
	assert_non_null(strstr(f.text, "PO-000123"));
	assert_non_null(strstr(f.text, "1,234,567.50 EUR"));
	assert_non_null(strstr(f.text, "FR053"));
	assert_non_null(strstr(f.text, "Acme &amp; Sons"));
	assert_null(strstr(f.text, "Acme & Sons"));
	assert_non_null(strstr(f.text, "Approved in full"));
	assert_non_null(strstr(f.text, "FR011"));
	assert_non_null(strstr(f.text, "approved"));
	assert_non_null(strstr(f.blocks, "1,234,567.50 EUR"));
	assert_non_null(strstr(f.blocks, "Acme &amp; Sons"));
	assert_non_null(strstr(f.blocks, "2026-11-28"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(f.header,
	    "text"), "text")), "Purchase order PO-000123 approved");
	fmt_free(&f);
	rec_free(&p);
}

/* Every string value anywhere in v: no raw '<' or '>', and every '&'
 * starts one of the three entities. */
static void
assert_no_raw_markup(const json_t *v, const char *where)
{
	const char *key;
	json_t *child;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, child)
			assert_no_raw_markup(child, where);
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, child)
			assert_no_raw_markup(child, where);
		break;
	case JSON_STRING: {
		const char *s = json_string_value(v);

		for (const char *c = s; *c; c++) {
			if (*c == '<' || *c == '>')
				fail_msg("raw '%c' in %s string \"%.200s\"", *c, where, s);
			if (*c == '&' && strncmp(c, "&amp;", 5) != 0 &&
			    strncmp(c, "&lt;", 4) != 0 && strncmp(c, "&gt;", 4) != 0)
				fail_msg("raw '&' in %s string \"%.200s\"", where, s);
		}
		break;
	}
	default:
		break;
	}
}

static void
assert_text_has_no_raw_markup(const char *text)
{
	json_t *s = json_string(text);

	assert_non_null(s);
	assert_no_raw_markup(s, "text");
	json_decref(s);
}

static void
test_hostile_supplier_name_is_neutralised_everywhere(void **state)
{
	const char *evil = "<!channel> & <http://evil|pay>";
	const char *want = "&lt;!channel&gt; &amp; &lt;http://evil|pay&gt;";
	struct rec p;
	struct fmt f;

	(void)state;
	po_init(&p, "PO-1", "FR053", evil, "10", "EUR", "2", "FR011", "2026-11-28");
	format_checked(&p.r, &f);
	assert_null(strstr(f.text, "<!channel>"));
	assert_null(strstr(f.text, "<http"));
	assert_text_has_no_raw_markup(f.text);
	assert_non_null(strstr(f.text, want));
	assert_no_raw_markup(f.root, "blocks");
	assert_non_null(strstr(f.blocks, want));
	fmt_free(&f);
	rec_free(&p);
}

/* The case for the other kinds, and through a template: the name
 * arrives escaped in the text and in the blocks. */
static void
test_hostile_supplier_name_is_neutralised_for_every_kind_and_template(void **state)
{
	const char *evil = "<!channel> & <http://evil|pay>";
	const char *want = "&lt;!channel&gt; &amp; &lt;http://evil|pay&gt;";
	struct slackfmt_opts inv = { .kind = "supplier_invoice" };
	struct slackfmt_opts tpl = { .kind = "supplier_invoice",
		.tmpl = "*New* {kind} {number} from {supplier_name}: {amount_excl_tax} {currency}" };
	struct slackfmt_opts gl = { .kind = "gl_entry" };
	struct rec x;
	struct fmt f;

	(void)state;
	inv_init(&x, "INV-1", evil, "10", "12", "401000");
	render_checked(&inv, &x.r, &f);
	assert_text_has_no_raw_markup(f.text);
	assert_no_raw_markup(f.root, "blocks");
	assert_non_null(strstr(f.text, want));
	assert_non_null(strstr(f.blocks, want));
	fmt_free(&f);
	render_checked(&tpl, &x.r, &f);
	assert_text_has_no_raw_markup(f.text);
	assert_no_raw_markup(f.root, "blocks");
	assert_string_equal(f.text, "*New* Supplier invoice INV-1 from "
	    "&lt;!channel&gt; &amp; &lt;http://evil|pay&gt;: 10.00 EUR");
	assert_non_null(f.tsection);
	assert_string_equal(json_string_value(json_object_get(json_object_get(f.tsection,
	    "text"), "text")), f.text);
	fmt_free(&f);
	rec_free(&x);

	gl_init(&x, "SPINV-1", 2, "5", evil);
	rec_setf(&x, evil, "line.%u.partner", 0);
	render_checked(&gl, &x.r, &f);
	assert_text_has_no_raw_markup(f.text);
	assert_no_raw_markup(f.root, "blocks");
	assert_non_null(strstr(f.blocks, want));
	fmt_free(&f);
	rec_free(&x);
}

/* Not only the name: every field X3 sends is data, including the key,
 * currency, amount, site and dates. */
static void
test_hostile_text_in_every_field_is_neutralised(void **state)
{
	static const char *const kinds[] = { "purchase_order", "supplier_invoice",
		"gl_entry", "something_else" };
	static const char *const names[] = { "number", "supplier_code", "supplier_name",
		"amount_excl_tax", "amount_incl_tax", "currency", "approval", "status",
		"status_text", "site", "company", "order_date", "accounting_date",
		"reference", "supplier_doc", "invoice_type", "payment_approval",
		"gl_accounts", "entry_type", "journal", "description", "updated_by",
		"closed", "lines" };
	const char *evil = "<!here> & <@U123> <http://evil|x> <!subteam^S1>";

	(void)state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct slackfmt_opts o = { .kind = kinds[k],
			.tmpl = "{number} {supplier_name} {status_text} {amount} {date} {x_buyer}",
			.link_pattern = "https://x3.example.com/{folder}/{number}?a=1&b={key}",
			.folder = "<!channel>" };
		struct rec x;
		struct fmt f;

		rec_init(&x, "<!here>", "<!everyone>", "<!channel>");
		x.r.stamp = (char *)"<!channel>";
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			rec_set(&x, names[i], evil);
		rec_set(&x, "x_buyer", evil);
		for (unsigned i = 0; i < 3; i++) {
			rec_setf(&x, evil, "line.%u.account", i);
			rec_setf(&x, evil, "line.%u.side", i);
			rec_setf(&x, evil, "line.%u.amount", i);
			rec_setf(&x, evil, "line.%u.partner", i);
			rec_setf(&x, evil, "line.%u.description", i);
		}
		render_checked(&o, &x.r, &f);
		assert_text_has_no_raw_markup(f.text);
		/* The one link is ours; check it apart, then the rest. */
		{
			json_t *el = json_object_get(f.context, "elements");
			const char *link;

			assert_int_equal(json_array_size(el), 2);
			link = json_string_value(json_object_get(json_array_get(el, 1), "text"));
			assert_non_null(link);
			assert_true(link[0] == '<' && link[strlen(link) - 1] == '>');
			assert_int_equal(strcspn(link + 1, "<>"), strlen(link) - 2);
			assert_non_null(strchr(link, '|'));
			json_array_remove(el, 1);
		}
		assert_no_raw_markup(f.root, "blocks");
		fmt_free(&f);
		rec_free(&x);
	}
}

static void
test_record_without_fields_still_formats(void **state)
{
	static const char *const kinds[] = { "purchase_order", "supplier_invoice",
		"gl_entry", "", NULL };

	(void)state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct slackfmt_opts o = { .kind = kinds[k] };
		struct rec x;
		struct fmt f;

		rec_init(&x, "e", "PO-2", "");
		render_checked(&o, &x.r, &f);
		assert_non_null(strstr(f.text, "PO-2"));
		if (k == 0)
			assert_non_null(strstr(f.text, "Unknown"));
		fmt_free(&f);
	}
}

static char *
repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

/* A 10,000-character name, in one-, two-, three- and four-byte characters
 * and in characters that grow when escaped: fields stay within Slack's
 * limits and every string stays valid UTF-8 whatever byte the cut hits. */
static void
test_very_long_supplier_name_stays_within_limits(void **state)
{
	static const char *const units[] = { "x", "\xc3\xa9", "\xe6\x97\xa5",
		"\xf0\x9f\x98\x80", "&", "<", "a\xc3\xa9", "ab\xe6\x97\xa5" };

	(void)state;
	for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
		char *name = repeat(units[k], 10000);
		struct rec p;
		struct fmt f;

		po_init(&p, "PO-3", "FR053", name, "1", "EUR", "1", "FR011", "2026-11-28");
		format_checked(&p.r, &f);
		assert_true(utf8_count(f.text) > 0);
		assert_no_raw_markup(f.root, "blocks");
		fmt_free(&f);
		free(name);
	}
}

/* Hostile long data in every field of every kind, with a template full of
 * placeholders and 50 GL lines of long descriptions: every limit holds
 * (render_checked), for one-byte, multi-byte and escaping characters. */
static void
test_every_kind_with_long_hostile_data_stays_within_block_kit_limits(void **state)
{
	static const char *const units[] = { "x", "&", "\xe6\x97\xa5", "<\xf0\x9f\x98\x80" };
	static const char *const kinds[] = { "purchase_order", "supplier_invoice",
		"gl_entry", "other" };
	static const char *const names[] = { "number", "supplier_code", "supplier_name",
		"amount_excl_tax", "amount_incl_tax", "currency", "status", "status_text",
		"site", "company", "order_date", "accounting_date", "reference",
		"supplier_doc", "invoice_type", "payment_approval", "gl_accounts",
		"entry_type", "journal", "description", "updated_by" };
	char tmpl[1024];
	size_t n = 0;

	(void)state;
	while (n + 20 < sizeof(tmpl))
		n += (size_t)snprintf(tmpl + n, sizeof(tmpl) - n, "{supplier_name}*{number}");
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		char *big = repeat(units[u], 5000);

		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			for (int with_tmpl = 0; with_tmpl < 2; with_tmpl++) {
				struct slackfmt_opts o = { .kind = kinds[k],
					.tmpl = with_tmpl ? tmpl : NULL,
					.link_pattern = "https://x3.example.com/{number}/{key}",
					.folder = big };
				struct rec x;
				struct fmt f;

				rec_init(&x, big, big, big);
				x.r.stamp = big;
				for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
					rec_set(&x, names[i], big);
				rec_set(&x, "lines", "50");
				for (unsigned i = 0; i < 50; i++) {
					rec_setf(&x, big, "line.%u.account", i);
					rec_setf(&x, i % 2 ? "credit" : "debit", "line.%u.side", i);
					rec_setf(&x, "123456789.12", "line.%u.amount", i);
					rec_setf(&x, big, "line.%u.partner", i);
					rec_setf(&x, big, "line.%u.description", i);
				}
				render_checked(&o, &x.r, &f);
				fmt_free(&f);
				rec_free(&x);
			}
		}
		free(big);
	}
}

/* The budget for all block text binds: with a small one, the blocks stay
 * within it, the header and the context (with the link) are kept, and what
 * is cut ends in an ellipsis. */
static void
test_block_text_budget_binds_and_keeps_header_and_context(void **state)
{
	static const size_t budgets[] = { 400, 1000, 2500, 4000 };
	char *big = repeat("<&x", 3000);

	(void)state;
	for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
		struct slackfmt_opts o = { .kind = "gl_entry", .blocks_budget = budgets[b],
			.tmpl = "{description} {supplier_name}",
			.link_pattern = "https://x3/{number}" };
		struct rec x;
		struct fmt f;

		gl_init(&x, "JE-1", 40, "1", big);
		rec_set(&x, "supplier_name", big);
		render_checked(&o, &x.r, &f); /* total <= budgets[b] */
		assert_true(block_text_chars(f.root) > (long)budgets[b] * 8 / 10);
		assert_int_equal(json_array_size(json_object_get(f.context, "elements")), 2);
		assert_non_null(strstr(f.blocks, ELLIPSIS));
		fmt_free(&f);
		rec_free(&x);
	}
	free(big);
}

/* Long values in the other fields too, including a multi-byte key and
 * site, cut wherever the formatter's own bounds fall. */
static void
test_long_multibyte_values_in_every_field_stay_valid(void **state)
{
	static const char *const units[] = { "\xc3\xa9", "\xe6\x97\xa5",
		"\xf0\x9f\x98\x80", "a\xe6\x97\xa5" };

	(void)state;
	for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
		/* 128 bytes or a little more: the poller's bound on keys */
		char *key = repeat(units[k], 128 / strlen(units[k]));
		char *big = repeat(units[k], 500);
		struct rec p;
		struct fmt f;

		po_init(&p, key, big, big, big, big, "3", big, big);
		p.r.entity = big;
		p.r.stamp = big;
		format_checked(&p.r, &f);
		fmt_free(&f);
		free(key);
		free(big);
	}
}

static void
test_non_decimal_amount_is_shown_raw_and_escaped(void **state)
{
	static const struct {
		const char *amount;
		const char *cur;
		const char *want;
	} cases[] = {
		{ "12e5", "EUR", "12e5 EUR" },
		{ "abc", "EUR", "abc EUR" },
		{ "1,5", "EUR", "1,5 EUR" },
		{ "<b>&", "EUR", "&lt;b&gt;&amp; EUR" },
		{ "12345678901234567890123", "EUR", "12345678901234567890123 EUR" },
		{ "-0.004", "EUR", "0.00 EUR" },
		{ "-1234.567", "EUR", "-1,234.57 EUR" },
		{ "", "EUR", "? EUR" },
		/* minor units of the currency (ISO 4217) */
		{ "1234567", "JPY", "1,234,567 JPY" },
		{ "1234.5", "KWD", "1,234.500 KWD" },
		{ "1234.5", "USD", "1,234.50 USD" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rec p;
		struct fmt f;

		po_init(&p, "PO-4", "FR053", "Acme", cases[i].amount, cases[i].cur, "3",
		    "FR011", "2026-11-28");
		format_checked(&p.r, &f);
		if (strstr(f.text, cases[i].want) == NULL) {
			char copy[600];

			snprintf(copy, sizeof(copy), "%s", f.text);
			fmt_free(&f);
			fail_msg("amount \"%s\": text \"%s\" lacks \"%s\"", cases[i].amount,
			    copy, cases[i].want);
		}
		/* A missing amount has no field; the text says "?". */
		if (cases[i].amount[0] != '\0')
			assert_non_null(strstr(f.blocks, cases[i].want));
		fmt_free(&f);
		rec_free(&p);
	}
}

static void
test_invoice_message_has_supplier_amounts_account_status_site_date(void **state)
{
	struct slackfmt_opts o = { .kind = "supplier_invoice" };
	struct rec x;
	struct fmt f;
	char all[4096];

	(void)state;
	inv_init(&x, "INV-0042", "Acme Supplies", "12000", "14400.00", "401000,607100");
	rec_set(&x, "payment_approval", "2");
	render_checked(&o, &x.r, &f);
	assert_string_equal(json_string_value(json_object_get(json_object_get(f.header,
	    "text"), "text")), "Supplier invoice INV-0042 received");
	fields_text(&f, all, sizeof(all));
	assert_non_null(strstr(all, "*Invoice*\nINV-0042"));
	assert_non_null(strstr(all, "*Supplier*\nSUP042 Acme Supplies"));
	assert_non_null(strstr(all, "*Supplier document*\nF-2026-118"));
	assert_non_null(strstr(all, "*Amount (excl. tax)*\n12,000.00 EUR"));
	assert_non_null(strstr(all, "*Amount (incl. tax)*\n14,400.00 EUR"));
	assert_non_null(strstr(all, "*GL account*\n401000,607100"));
	assert_non_null(strstr(all, "*Status*\nNot posted, payment approval 2"));
	assert_non_null(strstr(all, "*Site*\nFR011"));
	assert_non_null(strstr(all, "*Accounting date*\n2026-11-27"));
	assert_true(json_array_size(json_object_get(f.section, "fields")) <= 10);
	assert_non_null(strstr(f.text, "Supplier invoice INV-0042 received"));
	assert_non_null(strstr(f.text, "12,000.00 EUR"));
	assert_non_null(strstr(f.text, "SUP042 Acme Supplies"));
	fmt_free(&f);
	rec_free(&x);
}

static void
test_gl_entry_message_has_lines_journal_source_and_total(void **state)
{
	struct slackfmt_opts o = { .kind = "gl_entry" };
	struct rec x;
	struct fmt f;
	char all[4096];
	const char *lines;

	(void)state;
	gl_init(&x, "SPINV-000017", 2, "1500.5", "Office rent");
	render_checked(&o, &x.r, &f);
	assert_string_equal(json_string_value(json_object_get(json_object_get(f.header,
	    "text"), "text")), "GL entry SPINV-000017 posted");
	fields_text(&f, all, sizeof(all));
	assert_non_null(strstr(all, "*Journal*\nACH"));
	assert_non_null(strstr(all, "*Source*\nSPINV"));
	assert_non_null(strstr(all, "*Status*\nFinal"));
	assert_non_null(strstr(all, "*Total debit*\n1,500.50 EUR"));
	assert_non_null(strstr(all, "*Company / site*\nFR10 / FR011"));
	assert_non_null(f.tsection);
	lines = json_string_value(json_object_get(json_object_get(f.tsection, "text"), "text"));
	assert_non_null(strstr(lines, "607000 \xc2\xb7 debit 1,500.50 EUR \xc2\xb7 SUP042"));
	assert_non_null(strstr(lines, "401000 \xc2\xb7 credit 1,500.50 EUR"));
	assert_null(strstr(lines, "more line"));
	assert_non_null(strstr(f.text, "journal ACH, source SPINV, total debit 1,500.50 EUR"));
	fmt_free(&f);
	rec_free(&x);
}

/* 50 lines carried of 120: as many as fit are shown, then how many more. */
static void
test_gl_entry_with_many_lines_says_how_many_are_not_shown(void **state)
{
	struct slackfmt_opts o = { .kind = "gl_entry" };
	struct rec x;
	struct fmt f;
	char *desc = repeat("d", 140);
	const char *lines;
	unsigned shown = 0;

	(void)state;
	gl_init(&x, "JE-9", 50, "10", desc);
	x.f[9].value = (char *)"120"; /* "lines": the true count */
	assert_string_equal(x.f[9].name, "lines");
	render_checked(&o, &x.r, &f);
	lines = json_string_value(json_object_get(json_object_get(f.tsection, "text"), "text"));
	for (const char *p = lines; (p = strstr(p, "\xe2\x80\xa2 ")) != NULL; p++)
		shown++;
	assert_true(shown >= 5 && shown < 50);
	{
		char want[64];

		snprintf(want, sizeof(want), "%u more lines, see Sage X3", 120 - shown);
		assert_non_null(strstr(lines, want));
	}
	fmt_free(&f);
	rec_free(&x);
	free(desc);
}

/* ---- templates ---- */

static void
assert_template(const struct slackfmt_opts *o, const struct mlc_record *r, size_t max,
    const char *want)
{
	char *got = slackfmt_template(o, r, max);

	assert_non_null(got);
	if (strcmp(got, want) != 0) {
		char copy[1024];

		snprintf(copy, sizeof(copy), "%s", got);
		free(got);
		fail_msg("template \"%s\" gave \"%s\", want \"%s\"", o->tmpl, copy, want);
	}
	free(got);
}

static void
test_template_fills_named_placeholders(void **state)
{
	struct slackfmt_opts o = { .kind = "purchase_order", .route = "big-pos" };
	struct rec p;

	(void)state;
	po_init(&p, "PO-7", "FR053", "Acme & Sons", "1234567.5", "EUR", "5", "FR011",
	    "2026-11-28");
	rec_set(&p, "x_buyer", "<b>Jane</b>");
	o.tmpl = "{kind} {number} from {supplier_name}: {amount_excl_tax} {currency}";
	assert_template(&o, &p.r, 3000,
	    "Purchase order PO-7 from Acme &amp; Sons: 1,234,567.50 EUR");
	o.tmpl = "*{event}* {approval} by {x_buyer} on {date} via {route}";
	assert_template(&o, &p.r, 3000,
	    "*approved* Approved automatically by &lt;b&gt;Jane&lt;/b&gt; on 2026-11-28 "
	    "via big-pos");
	/* Config text is kept as written, braces doubled are literal, a
	 * missing field is empty. */
	o.tmpl = "<!here> {{not a placeholder}} [{reference}] {amount}";
	assert_template(&o, &p.r, 3000, "<!here> {not a placeholder} [] 1,234,567.50");
	o.tmpl = "";
	assert_template(&o, &p.r, 3000, "");
	rec_free(&p);
}

static void
test_template_output_is_cut_with_an_ellipsis(void **state)
{
	struct slackfmt_opts o = { .kind = "purchase_order", .tmpl = "ab {supplier_name} cd" };
	struct rec p;
	char *got;

	(void)state;
	po_init(&p, "PO-7", "FR053", "x&y", "1", "EUR", "5", "FR011", "2026-11-28");
	assert_template(&o, &p.r, 12, "ab x&amp;y " ELLIPSIS);
	assert_template(&o, &p.r, 6, "ab x" ELLIPSIS); /* never "ab x&am" */
	assert_template(&o, &p.r, 4, "ab " ELLIPSIS);
	assert_template(&o, &p.r, 13, "ab x&amp;y c" ELLIPSIS);
	assert_template(&o, &p.r, 14, "ab x&amp;y cd");
	got = slackfmt_template(&o, &p.r, 1);
	assert_non_null(got);
	assert_true(utf8_count(got) <= 1);
	free(got);
	rec_free(&p);
}

/* ---- deep links ---- */

static void
test_deep_link_percent_encodes_values(void **state)
{
	struct rec p;
	char *url;

	(void)state;
	po_init(&p, "PO 1/2?x=y&z#|>", "FR053", "Acme", "1", "EUR", "3", "FR011", "x");
	url = slackfmt_link("https://x3.example.com:8124/syracuse-main/html/main.html?"
	    "url=/trans/x3/erp/{folder}/$facet?f=GESPOH/2//M/{number}&k={key}", &p.r,
	    "SEED", "purchase_order");
	assert_non_null(url);
	assert_string_equal(url, "https://x3.example.com:8124/syracuse-main/html/main.html?"
	    "url=/trans/x3/erp/SEED/$facet?f=GESPOH/2//M/PO%201%2F2%3Fx%3Dy%26z%23%7C%3E"
	    "&amp;k=PO%201%2F2%3Fx%3Dy%26z%23%7C%3E");
	free(url);
	assert_null(slackfmt_link("", &p.r, "SEED", "purchase_order"));
	assert_null(slackfmt_link(NULL, &p.r, "SEED", "purchase_order"));
	rec_free(&p);
}

/* Whatever X3 or the pattern holds, the rendered link is one Slack link:
 * '<' url '|' text '>' with no other '<', '>' in it and no '|' in the url. */
static void
test_deep_link_cannot_be_broken_out_of(void **state)
{
	static const char *const numbers[] = {
		"A|B", "A>B", "<!channel>", "x|<http://evil|pay>", "\"q\" 'a' \\", "\n\t\r",
		"%7C%3E", "&amp;|&gt;", "\xe6\x97\xa5\xe6\x9c\xac|",
	};
	static const char *const patterns[] = {
		"https://x3/{number}",
		"https://x3/a|b>c<d e\"f/{number}",  /* refused at load; still safe */
		"https://x3/?a=1&b={number}&c={folder}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		for (size_t j = 0; j < sizeof(patterns) / sizeof(patterns[0]); j++) {
			struct slackfmt_opts o = { .kind = "purchase_order",
				.link_pattern = patterns[j], .folder = "S|E>E<D" };
			struct rec p;
			struct fmt f;
			const char *link, *bar;
			json_t *el;

			po_init(&p, numbers[i], "FR053", "Acme", "1", "EUR", "3", "FR011", "x");
			render_checked(&o, &p.r, &f);
			el = json_object_get(f.context, "elements");
			assert_int_equal(json_array_size(el), 2);
			link = json_string_value(json_object_get(json_array_get(el, 1), "text"));
			assert_true(link[0] == '<' && link[strlen(link) - 1] == '>');
			assert_int_equal(strcspn(link + 1, "<>"), strlen(link) - 2);
			bar = strchr(link, '|');
			assert_non_null(bar);
			assert_int_equal(strcspn(link, " \t\r\n\""), strlen(link) -
			    strlen(strstr(link, "|Open")) + strcspn(bar, " "));
			assert_memory_equal(link + 1, "https://x3/", 11);
			/* the visible text is escaped data */
			assert_non_null(strstr(bar, " in Sage X3>"));
			{
				json_t *rest = json_string(bar + 1);
				char *t = strdup(json_string_value(rest));

				t[strlen(t) - 1] = '\0';
				json_decref(rest);
				assert_text_has_no_raw_markup(t);
				free(t);
			}
			fmt_free(&f);
			rec_free(&p);
		}
	}
}

static void
test_deep_link_too_long_is_left_out(void **state)
{
	char *key = repeat("%", 600); /* 1800 bytes once percent-encoded */
	struct slackfmt_opts o = { .kind = "purchase_order",
		.link_pattern = "https://x3/{number}" };
	struct rec p;
	struct fmt f;

	(void)state;
	po_init(&p, key, "FR053", "Acme", "1", "EUR", "3", "FR011", "x");
	assert_null(slackfmt_link(o.link_pattern, &p.r, "SEED", "purchase_order"));
	render_checked(&o, &p.r, &f);
	assert_int_equal(json_array_size(json_object_get(f.context, "elements")), 1);
	fmt_free(&f);
	rec_free(&p);
	free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes_exactly_amp_lt_gt),
		cmocka_unit_test(test_leaves_mrkdwn_and_quotes_untouched),
		cmocka_unit_test(test_neutralises_mentions_and_links),
		cmocka_unit_test(test_short_text_is_not_cut),
		cmocka_unit_test(test_cut_text_ends_with_ellipsis_within_max),
		cmocka_unit_test(test_truncation_is_safe_at_every_boundary),
		cmocka_unit_test(test_approval_names_follow_appflg),
		cmocka_unit_test(test_record_text_has_amount_supplier_and_approval),
		cmocka_unit_test(test_hostile_supplier_name_is_neutralised_everywhere),
		cmocka_unit_test(test_hostile_supplier_name_is_neutralised_for_every_kind_and_template),
		cmocka_unit_test(test_hostile_text_in_every_field_is_neutralised),
		cmocka_unit_test(test_record_without_fields_still_formats),
		cmocka_unit_test(test_very_long_supplier_name_stays_within_limits),
		cmocka_unit_test(test_every_kind_with_long_hostile_data_stays_within_block_kit_limits),
		cmocka_unit_test(test_block_text_budget_binds_and_keeps_header_and_context),
		cmocka_unit_test(test_long_multibyte_values_in_every_field_stay_valid),
		cmocka_unit_test(test_non_decimal_amount_is_shown_raw_and_escaped),
		cmocka_unit_test(test_invoice_message_has_supplier_amounts_account_status_site_date),
		cmocka_unit_test(test_gl_entry_message_has_lines_journal_source_and_total),
		cmocka_unit_test(test_gl_entry_with_many_lines_says_how_many_are_not_shown),
		cmocka_unit_test(test_template_fills_named_placeholders),
		cmocka_unit_test(test_template_output_is_cut_with_an_ellipsis),
		cmocka_unit_test(test_deep_link_percent_encodes_values),
		cmocka_unit_test(test_deep_link_cannot_be_broken_out_of),
		cmocka_unit_test(test_deep_link_too_long_is_left_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
