/*
 * test_slackfmt: how one X3 record becomes one Slack message.
 *
 * Pins the escaping (exactly & < > and nothing else, so nothing from X3
 * can ping a channel or forge a link), the truncation (counted in escaped
 * characters, ellipsis when cut, never inside an entity or a UTF-8
 * sequence), the approval names, and the purchase-order message: amounts
 * formatted from decimal text, Block Kit limits held whatever X3 sends.
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

/* ---- slackfmt_record ---- */

struct po {
	struct mlc_record r;
	struct mlc_field f[8];
};

static void
po_init(struct po *p, const char *key, const char *bpsnum, const char *name,
    const char *totord, const char *cur, const char *appflg, const char *fcy,
    const char *orddat)
{
	const char *names[] = { "POHNUM", "BPSNUM", "BPSNUM_REF", "TOTORD", "CUR",
		"APPFLG", "POHFCY", "ORDDAT" };
	const char *values[] = { key, bpsnum, name, totord, cur, appflg, fcy, orddat };

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < 8; i++) {
		p->f[i].name = (char *)names[i];
		p->f[i].value = (char *)values[i];
	}
	p->r.id = (char *)"purchase_order/PO-1/2026-11-29T01:02:03Z";
	p->r.from = (char *)"poller";
	p->r.entity = (char *)"purchase_order";
	p->r.key = (char *)key;
	p->r.stamp = (char *)"2026-11-29T01:02:03Z";
	p->r.event = (char *)"changed";
	p->r.polled_at = (char *)"2026-11-29T01:03:00Z";
	p->r.fields = p->f;
	p->r.n_fields = 8;
}

struct fmt {
	char *text;
	char *blocks;
	json_t *root;
	json_t *header;
	json_t *section;
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

/* Formats r and checks every Block Kit limit; fills f for further checks. */
static void
format_checked(const struct mlc_record *r, struct fmt *f)
{
	json_error_t je;
	json_t *b, *fields;
	size_t i;

	memset(f, 0, sizeof(*f));
	assert_int_equal(slackfmt_record(r, &f->text, &f->blocks), 0);
	assert_non_null(f->text);
	assert_non_null(f->blocks);
	assert_true(utf8_count(f->text) > 0);
	assert_true(utf8_count(f->text) <= SLACKFMT_TEXT_MAX);
	f->root = json_loads(f->blocks, 0, &je);
	if (f->root == NULL)
		fail_msg("blocks are not JSON (%s): %.200s", je.text, f->blocks);
	assert_true(json_is_array(f->root));
	assert_true(json_array_size(f->root) >= 1 && json_array_size(f->root) <= 50);
	json_array_foreach(f->root, i, b) {
		const char *type = json_string_value(json_object_get(b, "type"));

		assert_non_null(type);
		if (strcmp(type, "header") == 0 && f->header == NULL)
			f->header = b;
		else if (strcmp(type, "section") == 0 && f->section == NULL)
			f->section = b;
		else if (strcmp(type, "context") == 0 && f->context == NULL)
			f->context = b;
	}
	assert_non_null(f->header);
	assert_non_null(f->section);
	assert_non_null(f->context);

	b = json_object_get(f->header, "text");
	assert_string_equal(json_string_value(json_object_get(b, "type")), "plain_text");
	assert_true(chars_of(json_object_get(b, "text")) >= 1);
	assert_true(chars_of(json_object_get(b, "text")) <= SLACKFMT_HEADER_MAX);

	fields = json_object_get(f->section, "fields");
	assert_true(json_is_array(fields));
	assert_true(json_array_size(fields) >= 1 && json_array_size(fields) <= 10);
	json_array_foreach(fields, i, b) {
		long n = chars_of(json_object_get(b, "text"));

		assert_string_equal(json_string_value(json_object_get(b, "type")), "mrkdwn");
		if (n < 1 || n > SLACKFMT_FIELD_MAX)
			fail_msg("field %zu has %ld characters", i, n);
	}
	if (json_object_get(f->section, "text") != NULL)
		assert_true(chars_of(json_object_get(json_object_get(f->section, "text"),
		    "text")) <= SLACKFMT_TEXT_MAX);

	b = json_object_get(f->context, "elements");
	assert_true(json_is_array(b));
	assert_true(json_array_size(b) >= 1 && json_array_size(b) <= 10);
}

static void
test_record_text_has_amount_supplier_and_approval(void **state)
{
	struct po p;
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
	assert_non_null(strstr(f.blocks, "1,234,567.50 EUR"));
	assert_non_null(strstr(f.blocks, "Acme &amp; Sons"));
	assert_non_null(strstr(f.blocks, "2026-11-28"));
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(f.header,
	    "text"), "text")), "PO-000123"));
	fmt_free(&f);
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
	struct po p;
	struct fmt f;

	(void)state;
	po_init(&p, "PO-1", "FR053", evil, "10", "EUR", "2", "FR011", "2026-11-28");
	format_checked(&p.r, &f);
	assert_null(strstr(f.text, "<!channel>"));
	assert_null(strstr(f.text, "<http"));
	assert_text_has_no_raw_markup(f.text);
	assert_non_null(strstr(f.text, "&lt;!channel&gt; &amp; &lt;http://evil|pay&gt;"));
	assert_no_raw_markup(f.root, "blocks");
	assert_non_null(strstr(f.blocks, "&lt;!channel&gt; &amp; &lt;http://evil|pay&gt;"));
	fmt_free(&f);
}

/* Not only the name: every field X3 sends is data, including the key,
 * currency, amount, site and dates. */
static void
test_hostile_text_in_every_field_is_neutralised(void **state)
{
	struct po p;
	struct fmt f;

	(void)state;
	po_init(&p, "<!here>", "<@U123>", "<!everyone>", "<b>", "<!channel>", "3",
	    "<http://evil|x>", "& <!subteam^S1>");
	p.r.entity = (char *)"<!here>";
	p.r.stamp = (char *)"<!channel>";
	format_checked(&p.r, &f);
	assert_text_has_no_raw_markup(f.text);
	assert_no_raw_markup(f.root, "blocks");
	fmt_free(&f);
}

static void
test_record_without_fields_still_formats(void **state)
{
	struct po p;
	struct fmt f;

	(void)state;
	po_init(&p, "PO-2", "", "", "", "", "", "", "");
	p.r.n_fields = 0;
	format_checked(&p.r, &f);
	assert_non_null(strstr(f.text, "PO-2"));
	assert_non_null(strstr(f.text, "Unknown"));
	fmt_free(&f);
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
		struct po p;
		struct fmt f;

		po_init(&p, "PO-3", "FR053", name, "1", "EUR", "1", "FR011", "2026-11-28");
		format_checked(&p.r, &f);
		assert_true(utf8_count(f.text) > 0);
		assert_no_raw_markup(f.root, "blocks");
		fmt_free(&f);
		free(name);
	}
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
		struct po p;
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
		const char *want;
	} cases[] = {
		{ "12e5", "12e5 EUR" },
		{ "abc", "abc EUR" },
		{ "1,5", "1,5 EUR" },
		{ "<b>&", "&lt;b&gt;&amp; EUR" },
		{ "12345678901234567890123", "12345678901234567890123 EUR" },
		{ "-0.004", "0.00 EUR" },
		{ "-1234.567", "-1,234.57 EUR" },
		{ "", "? EUR" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct po p;
		struct fmt f;

		po_init(&p, "PO-4", "FR053", "Acme", cases[i].amount, "EUR", "3",
		    "FR011", "2026-11-28");
		format_checked(&p.r, &f);
		if (strstr(f.text, cases[i].want) == NULL) {
			char copy[600];

			snprintf(copy, sizeof(copy), "%s", f.text);
			fmt_free(&f);
			fail_msg("amount \"%s\": text \"%s\" lacks \"%s\"", cases[i].amount,
			    copy, cases[i].want);
		}
		assert_non_null(strstr(f.blocks, cases[i].want));
		fmt_free(&f);
	}
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
		cmocka_unit_test(test_hostile_text_in_every_field_is_neutralised),
		cmocka_unit_test(test_record_without_fields_still_formats),
		cmocka_unit_test(test_very_long_supplier_name_stays_within_limits),
		cmocka_unit_test(test_long_multibyte_values_in_every_field_stay_valid),
		cmocka_unit_test(test_non_decimal_amount_is_shown_raw_and_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
