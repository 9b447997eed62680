/*
 * test_x3sim_gql: the X3 simulator's GraphQL mini-parser, its query(...)
 * argument resolution, the filter / orderBy object literals and the
 * connection cursor, in isolation.
 *
 * Unit tests link only the libraries, so the pure module is compiled in here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../sim/x3sim/gql.c"

#define DOC_Q \
	"query Po($first: Int, $after: String, $filter: String, $orderBy: String) {\n" \
	"  xtremX3Purchasing { purchaseOrder {\n" \
	"    query(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n" \
	"      edges { cursor node { id purchaseSite { code } orderFromSupplier { code { code } } } }\n" \
	"      pageInfo { endCursor hasNextPage } totalCount } } } }"

/* 2024-05-01T00:00:00Z */
#define MAY1 1714521600LL

static struct x3_gql_doc *
parse_ok(const char *text)
{
	struct x3_gql_doc *d = NULL;
	struct mlc_err err;

	if (x3_gql_parse(text, strlen(text), &d, &err) != 0)
		fail_msg("unexpected parse failure: %s", err.msg);
	return d;
}

static void
parse_fails(const char *text, const char *mention)
{
	struct x3_gql_doc *d = NULL;
	struct mlc_err err = { { 0 } };

	if (x3_gql_parse(text, strlen(text), &d, &err) == 0) {
		x3_gql_free(&d);
		fail_msg("\"%s\" was accepted", text);
	}
	assert_null(d);
	if (strstr(err.msg, mention) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, mention);
}

static int
child(const struct x3_gql_doc *d, int parent, const char *name)
{
	for (int i = d->fields[parent].first_child; i >= 0; i = d->fields[i].next)
		if (strcmp(d->fields[i].name, name) == 0)
			return i;
	return -1;
}

static void
test_parse_documented_query_shape_with_variables(void **state)
{
	struct x3_gql_doc *d = parse_ok(DOC_Q);
	struct mlc_err err;
	int root, node, query, edges, nd, sup;

	(void)state;
	assert_int_equal(d->nvars, 4);
	assert_string_equal(d->vars[0].name, "first");
	assert_string_equal(d->vars[0].type, "Int");
	assert_int_equal(x3_gql_connection(d, &root, &node, &query, &err), 0);
	assert_string_equal(d->fields[root].name, "xtremX3Purchasing");
	assert_string_equal(d->fields[node].name, "purchaseOrder");
	assert_string_equal(d->fields[query].name, "query");
	assert_int_equal(d->fields[query].nargs, 4);
	edges = child(d, query, "edges");
	assert_true(edges >= 0);
	assert_true(child(d, query, "pageInfo") >= 0);
	assert_true(child(d, query, "totalCount") >= 0);
	assert_int_equal(d->fields[child(d, query, "totalCount")].first_child, -1);
	nd = child(d, edges, "node");
	sup = child(d, nd, "orderFromSupplier");
	assert_true(sup >= 0);
	assert_true(child(d, child(d, sup, "code"), "code") >= 0);
	x3_gql_free(&d);
	assert_null(d);
}

static void
test_parse_inline_literals_and_comments_and_commas(void **state)
{
	struct x3_gql_doc *d = parse_ok(
	    "# a comment\n{ xtremX3Finance, { journalEntryLine { query(first: 5, after: \"a\\\"b\","
	    " filter: \"{_updateStamp:{_gt:'2024-05-01T00:00:00Z'}}\") { totalCount } } } }");
	struct x3_gql_qargs q;
	struct mlc_err err;
	int root, node, query;

	(void)state;
	assert_int_equal(x3_gql_connection(d, &root, &node, &query, &err), 0);
	assert_int_equal(x3_gql_qargs_resolve(d, query, NULL, &q, &err), 0);
	assert_int_equal(q.first, 5);
	assert_string_equal(q.after, "a\"b");
	assert_string_equal(q.filter, "{_updateStamp:{_gt:'2024-05-01T00:00:00Z'}}");
	assert_null(q.orderBy);
	x3_gql_qargs_free(&q);
	x3_gql_free(&d);
}

static void
test_parse_rejects_unsupported_syntax_by_name(void **state)
{
	(void)state;
	parse_fails("mutation { a { b } }", "mutation");
	parse_fails("{ a: xtremX3Purchasing { b } }", "aliases");
	parse_fails("{ a { ...F } }", "fragments");
	parse_fails("{ a @include(if: true) { b } }", "directives");
	parse_fails("{ a(x: 1.5) { b } }", "integer");
	parse_fails("{ a(x: \"\"\"block\"\"\") { b } }", "block strings");
	parse_fails("{ a { b }", "'}' expected");
	parse_fails("{ a { } }", "empty selection");
	parse_fails("{ a { b } } { c }", "one operation");
	parse_fails("{ a(x: \"unterminated) { b } }", "unterminated");
	parse_fails("{ a(x: \"bad \\q escape\") { b } }", "escape");
	parse_fails("query Q($a: Int, $a: Int) { x { y } }", "twice");
}

static void
test_parse_bounds_length_depth_and_names(void **state)
{
	char deep[400], longname[200], *big;
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 14; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{ a ");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{ b }");
	for (int i = 0; i < 14; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, " }");
	parse_fails(deep, "nested deeper");

	memset(longname, 'x', 65);
	longname[65] = '\0';
	snprintf(deep, sizeof(deep), "{ %s { b } }", longname);
	parse_fails(deep, "longer than 64");

	big = malloc(X3_GQL_TEXT_MAX + 10);
	assert_non_null(big);
	memset(big, ' ', X3_GQL_TEXT_MAX + 9);
	memcpy(big, "{ a { b } }", 11);
	big[X3_GQL_TEXT_MAX + 9] = '\0';
	parse_fails(big, "longer than");
	free(big);
}

static void
test_connection_shape_requires_single_root_node_and_query(void **state)
{
	static const struct { const char *text, *mention; } bad[] = {
		{ "{ a { b { query { x } } } c { d } }", "exactly one root" },
		{ "{ a { b { query { x } } c { d } } }", "exactly one node" },
		{ "{ a { b { edges { x } } } }", "only query" },
		{ "{ a { b { query } } }", "needs a selection" },
	};
	struct mlc_err err = { { 0 } };
	int r, n, q;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct x3_gql_doc *d = parse_ok(bad[i].text);

		assert_int_equal(x3_gql_connection(d, &r, &n, &q, &err), -1);
		if (strstr(err.msg, bad[i].mention) == NULL)
			fail_msg("%s: error \"%s\"", bad[i].text, err.msg);
		x3_gql_free(&d);
	}
}

static void
test_qargs_take_variables_and_check_types(void **state)
{
	struct x3_gql_doc *d = parse_ok(DOC_Q);
	struct x3_gql_qargs q;
	struct mlc_err err = { { 0 } };
	json_t *vars;
	int r, n, query;

	(void)state;
	assert_int_equal(x3_gql_connection(d, &r, &n, &query, &err), 0);
	vars = json_pack("{s:i, s:s, s:n}", "first", 7, "filter", "{id:'X'}", "after");
	assert_int_equal(x3_gql_qargs_resolve(d, query, vars, &q, &err), 0);
	assert_int_equal(q.first, 7);
	assert_string_equal(q.filter, "{id:'X'}");
	assert_null(q.after);   /* null */
	assert_null(q.orderBy); /* not provided */
	x3_gql_qargs_free(&q);
	json_decref(vars);

	vars = json_pack("{s:s}", "first", "7");
	assert_int_equal(x3_gql_qargs_resolve(d, query, vars, &q, &err), -1);
	assert_non_null(strstr(err.msg, "Int expected"));
	json_decref(vars);

	vars = json_pack("{s:i}", "first", 1001);
	assert_int_equal(x3_gql_qargs_resolve(d, query, vars, &q, &err), -1);
	assert_non_null(strstr(err.msg, "1 to 1000"));
	json_decref(vars);

	vars = json_pack("{s:i}", "first", 0);
	assert_int_equal(x3_gql_qargs_resolve(d, query, vars, &q, &err), -1);
	json_decref(vars);
	x3_gql_free(&d);
}

static void
test_qargs_reject_undeclared_variable_unknown_and_repeated_args(void **state)
{
	static const struct { const char *text, *mention; } bad[] = {
		{ "{ a { b { query(first: $n) { totalCount } } } }", "not defined" },
		{ "query Q($n: String) { a { b { query(first: $n) { totalCount } } } }",
		  "expecting type \"Int\"" },
		{ "{ a { b { query(limit: 5) { totalCount } } } }", "Unknown argument \"limit\"" },
		{ "{ a { b { query(first: 5, first: 6) { totalCount } } } }", "twice" },
		{ "{ a { b { query(filter: 5) { totalCount } } } }", "String expected" },
		{ "query Q($f: Int!) { a { b { query(first: $f) { totalCount } } } }",
		  "not provided" },
	};
	struct mlc_err err = { { 0 } };
	struct x3_gql_qargs q;
	int r, n, query;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct x3_gql_doc *d = parse_ok(bad[i].text);

		assert_int_equal(x3_gql_connection(d, &r, &n, &query, &err), 0);
		assert_int_equal(x3_gql_qargs_resolve(d, query, NULL, &q, &err), -1);
		if (strstr(err.msg, bad[i].mention) == NULL)
			fail_msg("%s: error \"%s\"", bad[i].text, err.msg);
		assert_null(q.after);
		assert_null(q.filter);
		x3_gql_free(&d);
	}
}

static void
test_qargs_variable_default_applies_when_missing(void **state)
{
	struct x3_gql_doc *d = parse_ok(
	    "query Q($n: Int = 3) { a { b { query(first: $n) { totalCount } } } }");
	struct x3_gql_qargs q;
	struct mlc_err err;
	int r, n, query;

	(void)state;
	assert_int_equal(x3_gql_connection(d, &r, &n, &query, &err), 0);
	assert_int_equal(x3_gql_qargs_resolve(d, query, NULL, &q, &err), 0);
	assert_int_equal(q.first, 3);
	x3_gql_qargs_free(&q);
	x3_gql_free(&d);
}

/* ---- filter ------------------------------------------------------------ */

static struct x3_gql_row
mkrow(int64_t stamp, const char *id)
{
	struct x3_gql_row r;

	memset(&r, 0, sizeof(r));
	r.stamp = stamp;
	r.cstamp = stamp - 100;
	snprintf(r.id, sizeof(r.id), "%s", id);
	return r;
}

static int
fmatch(const char *text, const struct x3_gql_row *r)
{
	struct x3_gql_filter *f = NULL;
	struct mlc_err err;
	int m;

	if (x3_gql_filter_parse(text, &f, &err) != 0)
		fail_msg("filter \"%s\" refused: %s", text, err.msg);
	m = x3_gql_filter_match(f, r);
	x3_gql_filter_free(&f);
	return m;
}

static void
filter_fails(const char *text, const char *mention)
{
	struct x3_gql_filter *f = NULL;
	struct mlc_err err = { { 0 } };

	if (x3_gql_filter_parse(text, &f, &err) == 0) {
		x3_gql_filter_free(&f);
		fail_msg("filter \"%s\" accepted", text);
	}
	assert_null(f);
	if (strstr(err.msg, mention) == NULL)
		fail_msg("filter \"%s\": error \"%s\" lacks \"%s\"", text, err.msg, mention);
}

static void
test_filter_stamp_operators_single_and_double_quotes(void **state)
{
	struct x3_gql_row r = mkrow(MAY1 + 10, "PO1");

	(void)state;
	assert_true(fmatch("{_updateStamp:{_gt:'2024-05-01T00:00:09Z'}}", &r));
	assert_false(fmatch("{_updateStamp:{_gt:'2024-05-01T00:00:10Z'}}", &r));
	assert_true(fmatch("{_updateStamp:{_gte:'2024-05-01T00:00:10Z'}}", &r));
	assert_true(fmatch("{\"_updateStamp\":{\"_lte\":\"2024-05-01T00:00:10Z\"}}", &r));
	assert_false(fmatch("{_updateStamp:{_lt:'2024-05-01T00:00:10Z'}}", &r));
	assert_true(fmatch("{_updateStamp:{_eq:'2024-05-01T00:00:10Z'}}", &r));
	assert_true(fmatch("{_updateStamp:'2024-05-01T00:00:10Z'}", &r));
	assert_false(fmatch("{_updateStamp:{_ne:'2024-05-01T00:00:10Z'}}", &r));
	assert_true(fmatch("{_createStamp:{_lt:'2024-05-01T00:00:00Z'}}", &r));
	/* a range: both bounds in one object */
	assert_true(fmatch("{_updateStamp:{_gt:'2024-05-01T00:00:00Z', _lt:'2024-05-02'}}", &r));
	assert_false(fmatch("{_updateStamp:{_gt:'2024-05-01T00:00:00Z', _lt:'2024-05-01T00:00:05Z'}}",
	    &r));
	/* blank and empty filters match everything */
	assert_true(fmatch("", &r));
	assert_true(fmatch(" { } ", &r));
}

static void
test_filter_fraction_of_a_second_is_honoured(void **state)
{
	struct x3_gql_row r = mkrow(MAY1 + 10, "PO1");

	(void)state;
	/* stamp 10.000 is not >= 10.500 (truncating the fraction would say yes) */
	assert_false(fmatch("{_updateStamp:{_gte:'2024-05-01T00:00:10.500Z'}}", &r));
	assert_true(fmatch("{_updateStamp:{_gt:'2024-05-01T00:00:09.999Z'}}", &r));
	assert_true(fmatch("{_updateStamp:{_lt:'2024-05-01T00:00:10.001Z'}}", &r));
}

static void
test_filter_and_or_combine_stamp_and_id_for_keyset_resume(void **state)
{
	/* The classic resume predicate: stamp > S or (stamp = S and id > K). */
	const char *f = "{_or:[{_updateStamp:{_gt:'2024-05-01T00:00:10Z'}},"
	    "{_and:[{_updateStamp:{_eq:'2024-05-01T00:00:10Z'}},{id:{_gt:'PO5'}}]}]}";
	struct x3_gql_row same_before = mkrow(MAY1 + 10, "PO4");
	struct x3_gql_row same_after = mkrow(MAY1 + 10, "PO6");
	struct x3_gql_row later = mkrow(MAY1 + 11, "PO1");
	struct x3_gql_row earlier = mkrow(MAY1 + 9, "PO9");

	(void)state;
	assert_false(fmatch(f, &same_before));
	assert_true(fmatch(f, &same_after));
	assert_true(fmatch(f, &later));
	assert_false(fmatch(f, &earlier));
	assert_false(fmatch("{_or:[]}", &later));
	assert_true(fmatch("{_and:[]}", &later));
	assert_true(fmatch("{id:'PO1', _updateStamp:{_gt:'2024-05-01T00:00:10Z'},}", &later));
	assert_false(fmatch("{id:'PO2', _updateStamp:{_gt:'2024-05-01T00:00:10Z'}}", &later));
}

static void
test_filter_rejects_unknown_fields_operators_and_bad_values(void **state)
{
	char deep[600];
	size_t n = 0;

	(void)state;
	filter_fails("{status:{_eq:'x'}}", "unknown property");
	filter_fails("{_updateStamp:{_regex:'x'}}", "unsupported operator");
	filter_fails("{_updateStamp:{_gt:'yesterday'}}", "ISO-8601");
	filter_fails("{_updateStamp:{_gt:'2024-02-30T00:00:00Z'}}", "ISO-8601");
	filter_fails("{_updateStamp:{_gt:5}}", "quoted value");
	filter_fails("{_updateStamp:{_gt:'2024-05-01T00:00:00Z'}", "expected");
	filter_fails("{id:'a'} trailing", "unexpected text");
	filter_fails("{_and:{id:'a'}}", "'['");
	filter_fails("{id:'unterminated}", "unterminated");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{_and:[");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{}");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "]}");
	filter_fails(deep, "nested deeper");
}

/* ---- orderBy and cursor ------------------------------------------------ */

static void
test_order_parse_appends_id_and_sorts(void **state)
{
	struct x3_gql_order o;
	struct mlc_err err = { { 0 } };
	struct x3_gql_row a = mkrow(MAY1, "B"), b = mkrow(MAY1, "A"), c = mkrow(MAY1 - 1, "Z");

	(void)state;
	assert_int_equal(x3_gql_order_parse("{_updateStamp:1, id:1}", &o, &err), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(x3_gql_order_parse("{_updateStamp: -1}", &o, &err), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.key[1], X3_GQL_K_ID);
	assert_true(x3_gql_order_cmp(&o, &c, &a) > 0); /* descending stamp */
	assert_true(x3_gql_order_cmp(&o, &b, &a) < 0); /* then id ascending */
	assert_int_equal(x3_gql_order_parse("", &o, &err), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.key[0], X3_GQL_K_ID);
	assert_int_equal(x3_gql_order_parse("{\"_updateStamp\":1}", &o, &err), 0);
	assert_int_equal(x3_gql_order_parse("{_updateStamp:2}", &o, &err), -1);
	assert_int_equal(x3_gql_order_parse("{status:1}", &o, &err), -1);
	assert_int_equal(x3_gql_order_parse("{id:1, id:-1}", &o, &err), -1);
	assert_int_equal(x3_gql_order_parse("[id]", &o, &err), -1);
}

static void
test_cursor_round_trips_and_refuses_another_order_or_garbage(void **state)
{
	struct x3_gql_order o, other;
	struct x3_gql_row r = mkrow(MAY1 + 5, "GL2611-000001|2"), back;
	struct mlc_err err = { { 0 } };
	char cur[1100];

	(void)state;
	assert_int_equal(x3_gql_order_parse("{_updateStamp:1, id:1}", &o, &err), 0);
	assert_int_equal(x3_gql_cursor_encode(&o, &r, cur, sizeof(cur)), 0);
	assert_int_equal(x3_gql_cursor_decode(cur, &o, &back, &err), 0);
	assert_int_equal(back.stamp, r.stamp);
	assert_string_equal(back.id, r.id);
	assert_int_equal(x3_gql_order_cmp(&o, &r, &back), 0);

	assert_int_equal(x3_gql_order_parse("{_updateStamp:-1}", &other, &err), 0);
	assert_int_equal(x3_gql_cursor_decode(cur, &other, &back, &err), -1);
	assert_non_null(strstr(err.msg, "another orderBy"));
	assert_int_equal(x3_gql_cursor_decode("zz", &o, &back, &err), -1);
	assert_int_equal(x3_gql_cursor_decode("", &o, &back, &err), -1);
	assert_int_equal(x3_gql_cursor_decode("67310075", &o, &back, &err), -1); /* NUL byte */
	cur[strlen(cur) - 1] = 'g';
	assert_int_equal(x3_gql_cursor_decode(cur, &o, &back, &err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_documented_query_shape_with_variables),
		cmocka_unit_test(test_parse_inline_literals_and_comments_and_commas),
		cmocka_unit_test(test_parse_rejects_unsupported_syntax_by_name),
		cmocka_unit_test(test_parse_bounds_length_depth_and_names),
		cmocka_unit_test(test_connection_shape_requires_single_root_node_and_query),
		cmocka_unit_test(test_qargs_take_variables_and_check_types),
		cmocka_unit_test(test_qargs_reject_undeclared_variable_unknown_and_repeated_args),
		cmocka_unit_test(test_qargs_variable_default_applies_when_missing),
		cmocka_unit_test(test_filter_stamp_operators_single_and_double_quotes),
		cmocka_unit_test(test_filter_fraction_of_a_second_is_honoured),
		cmocka_unit_test(test_filter_and_or_combine_stamp_and_id_for_keyset_resume),
		cmocka_unit_test(test_filter_rejects_unknown_fields_operators_and_bad_values),
		cmocka_unit_test(test_order_parse_appends_id_and_sorts),
		cmocka_unit_test(test_cursor_round_trips_and_refuses_another_order_or_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
