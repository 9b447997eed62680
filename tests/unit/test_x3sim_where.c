/*
 * test_x3sim_where: the X3 simulator's SData `where` / `orderBy` parsing and
 * evaluation, and its keyset paging cursor, in isolation.
 *
 * Unit tests link only mlc_common, so the pure module is compiled in here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../sim/x3sim/where.c"

enum { F_KEY, F_STAMP, F_DAY, F_AMT, F_FLAG };

static const struct x3_field fields[] = {
	{ "POHNUM", X3_T_STRING, 0 },
	{ "UPDDATTIM", X3_T_DATETIME, 0 },
	{ "ORDDAT", X3_T_DATE, 0 },
	{ "TOTORD", X3_T_DEC2, 0 },
	{ "APPFLG", X3_T_INT, 0 },
};

static const struct x3_schema schema = {
	.class_name = "PORDER", .fields = fields, .nfields = 5, .key = F_KEY, .stamp = F_STAMP,
};

/* 2024-05-01T00:00:00Z */
#define MAY1 1714521600LL

static void
row(struct x3_value *v, const char *key, int64_t stamp, const char *day,
    int64_t cents, int64_t flag)
{
	memset(v, 0, sizeof(struct x3_value) * X3_MAX_FIELDS);
	snprintf(v[F_KEY].str, X3_STR_MAX, "%s", key);
	v[F_STAMP].num = stamp;
	snprintf(v[F_DAY].str, X3_STR_MAX, "%s", day);
	v[F_AMT].num = cents;
	v[F_FLAG].num = flag;
}

/* Parses text (must succeed) and evaluates it on r. */
static int
matches(const char *text, const struct x3_value *r)
{
	struct x3_where *w = NULL;
	enum x3_where_err why;
	struct mlc_err err;
	int m;

	if (x3_where_parse(text, &schema, &w, &why, &err) != 0)
		fail_msg("unexpected parse failure for \"%s\": %s", text, err.msg);
	m = x3_where_match(w, r);
	x3_where_free(&w);
	return m;
}

static enum x3_where_err
parse_error(const char *text)
{
	struct x3_where *w = NULL;
	enum x3_where_err why = X3_WHERE_OK;
	struct mlc_err err;

	if (x3_where_parse(text, &schema, &w, &why, &err) == 0) {
		x3_where_free(&w);
		fail_msg("\"%s\" was accepted", text);
	}
	assert_null(w);
	assert_true(strlen(err.msg) > 0);
	return why;
}

static void
test_where_gt_datetime_matches_only_later_stamps(void **state)
{
	struct x3_value r[X3_MAX_FIELDS];

	(void)state;
	row(r, "PO1", MAY1 + 1, "2024-05-01", 100, 1);
	assert_true(matches("UPDDATTIM gt @2024-05-01T00:00:00Z@", r));
	assert_false(matches("UPDDATTIM gt @2024-05-01T00:00:01Z@", r));
	assert_true(matches("UPDDATTIM ge @2024-05-01T00:00:01Z@", r));
	assert_true(matches("UPDDATTIM le @2024-05-01T00:00:01Z@", r));
	assert_false(matches("UPDDATTIM lt @2024-05-01T00:00:01Z@", r));
	assert_true(matches("UPDDATTIM eq @2024-05-01T00:00:01Z@", r));
	assert_true(matches("UPDDATTIM ne @2024-05-01T00:00:02Z@", r));
}

static void
test_where_date_literal_on_datetime_means_midnight_utc(void **state)
{
	struct x3_value r[X3_MAX_FIELDS];

	(void)state;
	row(r, "PO1", MAY1, "2024-05-01", 100, 1);
	assert_true(matches("UPDDATTIM eq @2024-05-01@", r));
	assert_true(matches("UPDDATTIM gt @2024-04-30@", r));
	assert_true(matches("ORDDAT eq @2024-05-01@", r));
	assert_true(matches("ORDDAT lt @2024-05-02@", r));
}

static void
test_where_and_binds_tighter_than_or(void **state)
{
	struct x3_value r[X3_MAX_FIELDS];

	(void)state;
	row(r, "PO1", MAY1, "2024-05-01", 100, 1);
	/* true or (false and false) = true; (true or false) and false = false */
	assert_true(matches("POHNUM eq 'PO1' or POHNUM eq 'X' and APPFLG eq 9", r));
	assert_false(matches("(POHNUM eq 'PO1' or POHNUM eq 'X') and APPFLG eq 9", r));
	assert_false(matches("APPFLG eq 9 and POHNUM eq 'X' or POHNUM eq 'Y'", r));
}

static void
test_where_keywords_and_operators_are_case_insensitive(void **state)
{
	struct x3_value r[X3_MAX_FIELDS];

	(void)state;
	row(r, "PO1", MAY1, "2024-05-01", 100, 1);
	assert_true(matches("UPDDATTIM GE @2024-05-01T00:00:00Z@ AND POHNUM Eq 'PO1'", r));
	assert_true(matches("  POHNUM eq 'X' OR\tAPPFLG eq 1  ", r));
}

static void
test_where_string_literal_unescapes_doubled_quote(void **state)
{
	struct x3_value r[X3_MAX_FIELDS];

	(void)state;
	row(r, "O'Neil", MAY1, "2024-05-01", 100, 1);
	assert_true(matches("POHNUM eq 'O''Neil'", r));
	assert_false(matches("POHNUM eq 'O'", r));
	row(r, "", MAY1, "2024-05-01", 100, 1);
	assert_true(matches("POHNUM eq ''", r));
}

static void
test_where_numbers_compare_as_exact_decimals(void **state)
{
	struct x3_value r[X3_MAX_FIELDS];

	(void)state;
	row(r, "PO1", MAY1, "2024-05-01", 10050, 3); /* TOTORD 100.50 */
	assert_true(matches("TOTORD eq 100.5", r));
	assert_true(matches("TOTORD eq 100.500", r));
	assert_true(matches("TOTORD gt 100.49", r));
	assert_false(matches("TOTORD gt 100.50", r));
	assert_true(matches("TOTORD lt 100.501", r));
	assert_true(matches("APPFLG gt 2.5", r));
	assert_true(matches("APPFLG eq 3", r));
	assert_true(matches("APPFLG gt -1", r));
}

static void
test_where_blank_text_matches_everything(void **state)
{
	struct x3_where *w = (struct x3_where *)&w;
	struct x3_value r[X3_MAX_FIELDS];
	enum x3_where_err why;
	struct mlc_err err;

	(void)state;
	row(r, "PO1", MAY1, "2024-05-01", 100, 1);
	assert_int_equal(x3_where_parse("   ", &schema, &w, &why, &err), 0);
	assert_null(w);
	assert_true(x3_where_match(NULL, r));
}

static void
test_where_unknown_property_is_not_a_syntax_error(void **state)
{
	(void)state;
	assert_int_equal(parse_error("FOO eq 1"), X3_WHERE_UNKNOWN_FIELD);
	assert_int_equal(parse_error("POHNUM eq 'x' and updDatTim gt @2024-05-01@"),
	    X3_WHERE_UNKNOWN_FIELD);
}

static void
test_where_rejects_malformed_expressions(void **state)
{
	static const char *bad[] = {
		"POHNUM",
		"POHNUM eq",
		"POHNUM like 'x'",
		"POHNUM = 'x'",
		"(POHNUM eq 'x'",
		"POHNUM eq 'x')",
		"POHNUM eq 'x' POHNUM eq 'y'",
		"POHNUM eq 'x' and",
		"or POHNUM eq 'x'",
		"POHNUM eq 'unterminated",
		"POHNUM eq @2024-05-01@",
		"POHNUM eq 5",
		"UPDDATTIM gt 'x'",
		"UPDDATTIM gt 1714521600",
		"UPDDATTIM gt @2024-13-01T00:00:00Z@",
		"UPDDATTIM gt @2023-02-29@",
		"UPDDATTIM gt @2024-05-01T24:00:00Z@",
		"UPDDATTIM gt @2024-05-01T00:00:00@",
		"UPDDATTIM gt @2024-05-01T00:00:00+02:00@",
		"UPDDATTIM gt @2024-05-01T00:00:00Z",
		"ORDDAT gt @2024-05-01T00:00:00Z@",
		"TOTORD gt 1e5",
		"TOTORD gt 1.2.3",
		"TOTORD gt 12345678901234567890123",
		"POHNUM eq 'a\x01'",
		"()",
		"'x' eq POHNUM",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum x3_where_err why = parse_error(bad[i]);

		if (why != X3_WHERE_SYNTAX)
			fail_msg("\"%s\": expected a syntax error, got %d", bad[i], (int)why);
	}
}

static void
test_where_rejects_text_longer_than_4k(void **state)
{
	char text[X3_WHERE_MAX_LEN + 2];
	size_t n;

	(void)state;
	/* A valid expression padded with blanks up to exactly the limit... */
	n = (size_t)snprintf(text, sizeof(text), "POHNUM eq 'x'");
	memset(text + n, ' ', X3_WHERE_MAX_LEN - n);
	text[X3_WHERE_MAX_LEN] = '\0';
	{
		struct x3_value r[X3_MAX_FIELDS];

		row(r, "x", MAY1, "2024-05-01", 1, 1);
		assert_true(matches(text, r));
	}
	/* ...and one byte more is refused as too long. */
	text[X3_WHERE_MAX_LEN] = ' ';
	text[X3_WHERE_MAX_LEN + 1] = '\0';
	assert_int_equal(parse_error(text), X3_WHERE_TOO_LONG);
}

static void
test_where_bounds_parenthesis_depth(void **state)
{
	char text[512];
	size_t n = 0;
	struct x3_value r[X3_MAX_FIELDS];

	(void)state;
	row(r, "x", MAY1, "2024-05-01", 1, 1);
	for (int i = 0; i < X3_WHERE_MAX_DEPTH; i++)
		text[n++] = '(';
	n += (size_t)snprintf(text + n, sizeof(text) - n, "POHNUM eq 'x'");
	for (int i = 0; i < X3_WHERE_MAX_DEPTH; i++)
		text[n++] = ')';
	text[n] = '\0';
	assert_true(matches(text, r));

	n = 0;
	for (int i = 0; i < X3_WHERE_MAX_DEPTH + 1; i++)
		text[n++] = '(';
	n += (size_t)snprintf(text + n, sizeof(text) - n, "POHNUM eq 'x'");
	for (int i = 0; i < X3_WHERE_MAX_DEPTH + 1; i++)
		text[n++] = ')';
	text[n] = '\0';
	assert_int_equal(parse_error(text), X3_WHERE_TOO_LONG);
}

static void
test_where_long_chain_of_ors_parses_and_evaluates(void **state)
{
	char text[X3_WHERE_MAX_LEN + 1];
	size_t n = 0;
	struct x3_value r[X3_MAX_FIELDS];

	(void)state;
	row(r, "K199", MAY1, "2024-05-01", 1, 1);
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%sPOHNUM eq 'K%d'",
		    i ? " or " : "", i);
	assert_true(n < X3_WHERE_MAX_LEN);
	assert_true(matches(text, r));
	row(r, "K200", MAY1, "2024-05-01", 1, 1);
	assert_false(matches(text, r));
}

static void
test_order_accepts_comma_and_semicolon_with_directions(void **state)
{
	struct x3_order o;
	enum x3_where_err why;
	struct mlc_err err;

	(void)state;
	assert_int_equal(x3_order_parse("UPDDATTIM asc,POHNUM desc", &schema, &o, &why, &err), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.field[0], F_STAMP);
	assert_int_equal(o.desc[0], 0);
	assert_int_equal(o.field[1], F_KEY);
	assert_int_equal(o.desc[1], 1);

	assert_int_equal(x3_order_parse(" TOTORD DESC ; APPFLG ", &schema, &o, &why, &err), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.field[0], F_AMT);
	assert_int_equal(o.desc[0], 1);
	assert_int_equal(o.field[1], F_FLAG);
	assert_int_equal(o.desc[1], 0);

	assert_int_equal(x3_order_parse("", &schema, &o, &why, &err), 0);
	assert_int_equal(o.n, 0);
}

static void
test_order_rejects_unknown_duplicate_and_malformed_terms(void **state)
{
	static const char *bad[] = {
		"UPDDATTIM up", "UPDDATTIM asc,", ",POHNUM", "UPDDATTIM asc POHNUM",
		"UPDDATTIM,UPDDATTIM desc", "1ABC", "POHNUM asc;;APPFLG",
	};
	struct x3_order o;
	enum x3_where_err why;
	struct mlc_err err;

	(void)state;
	assert_int_equal(x3_order_parse("NOPE asc", &schema, &o, &why, &err), -1);
	assert_int_equal(why, X3_WHERE_UNKNOWN_FIELD);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = X3_WHERE_OK;
		if (x3_order_parse(bad[i], &schema, &o, &why, &err) == 0)
			fail_msg("orderBy \"%s\" was accepted", bad[i]);
		assert_int_equal(why, X3_WHERE_SYNTAX);
	}
}

static void
test_order_tiebreak_appends_key_only_when_missing(void **state)
{
	struct x3_order o;
	enum x3_where_err why;
	struct mlc_err err;

	(void)state;
	assert_int_equal(x3_order_parse("UPDDATTIM desc", &schema, &o, &why, &err), 0);
	x3_order_tiebreak(&o, F_KEY);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.field[1], F_KEY);
	assert_int_equal(o.desc[1], 0);
	x3_order_tiebreak(&o, F_KEY);
	assert_int_equal(o.n, 2);

	assert_int_equal(x3_order_parse("POHNUM desc", &schema, &o, &why, &err), 0);
	x3_order_tiebreak(&o, F_KEY);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.desc[0], 1);
}

static void
test_order_cmp_honours_direction_and_ties(void **state)
{
	struct x3_value a[X3_MAX_FIELDS], b[X3_MAX_FIELDS];
	struct x3_order o;
	enum x3_where_err why;
	struct mlc_err err;

	(void)state;
	row(a, "PO1", MAY1, "2024-05-01", 1, 1);
	row(b, "PO2", MAY1, "2024-05-01", 1, 1);
	assert_int_equal(x3_order_parse("UPDDATTIM asc", &schema, &o, &why, &err), 0);
	assert_int_equal(x3_order_cmp(&o, &schema, a, b), 0); /* same stamp: tie */
	x3_order_tiebreak(&o, F_KEY);
	assert_true(x3_order_cmp(&o, &schema, a, b) < 0);
	b[F_STAMP].num = MAY1 - 1;
	assert_true(x3_order_cmp(&o, &schema, a, b) > 0);
	assert_int_equal(x3_order_parse("UPDDATTIM desc", &schema, &o, &why, &err), 0);
	assert_true(x3_order_cmp(&o, &schema, a, b) < 0);
}

static void
test_cursor_round_trips_the_order_tuple(void **state)
{
	struct x3_value r[X3_MAX_FIELDS], back[X3_MAX_FIELDS];
	char cur[X3_CURSOR_MAX + 1];
	struct x3_order o;
	enum x3_where_err why;
	struct mlc_err err;

	(void)state;
	row(r, "PO2611-000007", MAY1 + 42, "2024-05-01", -12345, 4);
	assert_int_equal(x3_order_parse("UPDDATTIM asc,TOTORD desc,ORDDAT", &schema, &o,
	    &why, &err), 0);
	x3_order_tiebreak(&o, F_KEY);
	assert_int_equal(x3_cursor_encode(&o, &schema, r, cur, sizeof(cur)), 0);
	for (const char *p = cur; *p; p++)
		assert_non_null(strchr("0123456789abcdef", *p));
	memset(back, 0, sizeof(back));
	assert_int_equal(x3_cursor_decode(cur, &o, &schema, back, &err), 0);
	assert_int_equal(x3_order_cmp(&o, &schema, r, back), 0);
	assert_string_equal(back[F_KEY].str, "PO2611-000007");
	assert_int_equal(back[F_AMT].num, -12345);
}

static void
test_cursor_rejects_tampered_or_mismatched_text(void **state)
{
	struct x3_value r[X3_MAX_FIELDS], back[X3_MAX_FIELDS];
	char cur[X3_CURSOR_MAX + 1], bad[X3_CURSOR_MAX + 8];
	struct x3_order o, o3;
	enum x3_where_err why;
	struct mlc_err err;

	(void)state;
	row(r, "PO1", MAY1, "2024-05-01", 1, 1);
	assert_int_equal(x3_order_parse("UPDDATTIM", &schema, &o, &why, &err), 0);
	x3_order_tiebreak(&o, F_KEY);
	assert_int_equal(x3_cursor_encode(&o, &schema, r, cur, sizeof(cur)), 0);

	assert_int_equal(x3_cursor_decode("", &o, &schema, back, &err), -1);
	assert_int_equal(x3_cursor_decode("abc", &o, &schema, back, &err), -1);
	assert_int_equal(x3_cursor_decode("zz", &o, &schema, back, &err), -1);
	/* wrong version tag "c2" */
	snprintf(bad, sizeof(bad), "6332%s", cur + 4);
	assert_int_equal(x3_cursor_decode(bad, &o, &schema, back, &err), -1);
	/* stamp that is not a number: "c1" SEP "x" SEP "PO1" */
	assert_int_equal(x3_cursor_decode("63311f781f504f31", &o, &schema, back, &err), -1);
	/* embedded NUL byte */
	assert_int_equal(x3_cursor_decode("63311f311f0050", &o, &schema, back, &err), -1);
	/* cursor of a two-term order used with a three-term order */
	assert_int_equal(x3_order_parse("UPDDATTIM,APPFLG", &schema, &o3, &why, &err), 0);
	x3_order_tiebreak(&o3, F_KEY);
	assert_int_equal(x3_cursor_decode(cur, &o3, &schema, back, &err), -1);
	/* over-long */
	memset(bad, 'a', X3_CURSOR_MAX + 2);
	bad[X3_CURSOR_MAX + 2] = '\0';
	assert_int_equal(x3_cursor_decode(bad, &o, &schema, back, &err), -1);
	/* too small an output buffer fails instead of truncating */
	assert_int_equal(x3_cursor_encode(&o, &schema, r, cur, 8), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_where_gt_datetime_matches_only_later_stamps),
		cmocka_unit_test(test_where_date_literal_on_datetime_means_midnight_utc),
		cmocka_unit_test(test_where_and_binds_tighter_than_or),
		cmocka_unit_test(test_where_keywords_and_operators_are_case_insensitive),
		cmocka_unit_test(test_where_string_literal_unescapes_doubled_quote),
		cmocka_unit_test(test_where_numbers_compare_as_exact_decimals),
		cmocka_unit_test(test_where_blank_text_matches_everything),
		cmocka_unit_test(test_where_unknown_property_is_not_a_syntax_error),
		cmocka_unit_test(test_where_rejects_malformed_expressions),
		cmocka_unit_test(test_where_rejects_text_longer_than_4k),
		cmocka_unit_test(test_where_bounds_parenthesis_depth),
		cmocka_unit_test(test_where_long_chain_of_ors_parses_and_evaluates),
		cmocka_unit_test(test_order_accepts_comma_and_semicolon_with_directions),
		cmocka_unit_test(test_order_rejects_unknown_duplicate_and_malformed_terms),
		cmocka_unit_test(test_order_tiebreak_appends_key_only_when_missing),
		cmocka_unit_test(test_order_cmp_honours_direction_and_ties),
		cmocka_unit_test(test_cursor_round_trips_the_order_tuple),
		cmocka_unit_test(test_cursor_rejects_tampered_or_mismatched_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
