/* Unit tests for poller/x3_graphql: the request (variables, not pasted
 * values), page parsing (string decimals, cursors, partial data + errors
 * refused, malformed JSON), and GL line grouping across pages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "records.h"
#include "x3_graphql.h"

static struct mlc_cfg cfg;

static struct mlc_cfg_entity
entity(const char *kind)
{
	struct mlc_cfg_entity e;
	int gl = strcmp(kind, "gl_entry") == 0;

	memset(&e, 0, sizeof(e));
	strcpy(e.name, kind);
	strcpy(e.kind, kind);
	strcpy(e.api, "graphql");
	strcpy(e.stamp_field, "_updateStamp");
	strcpy(e.graphql_root, gl ? "xtremX3Finance" : "xtremX3Purchasing");
	strcpy(e.graphql_node, gl ? "journalEntryLine" : "purchaseOrder");
	strcpy(e.graphql_key, gl ? "journalEntry" : "id");
	return e;
}

static void
test_body_uses_variables_with_filter_order_and_cursor(void **state)
{
	struct mlc_cfg_entity e = entity("purchase_order");
	struct mlc_err err;
	char *b;
	json_t *j, *v;

	(void)state;
	cfg.x3.page_size = 50;
	b = x3_gql_body(&cfg, &e, 1714557600, "[\"PO9\"]#7", &err);
	assert_non_null(b);
	j = json_loads(b, 0, NULL);
	assert_non_null(j);
	v = json_object_get(j, "variables");
	assert_int_equal(json_integer_value(json_object_get(v, "first")), 50);
	assert_string_equal(json_string_value(json_object_get(v, "after")), "[\"PO9\"]#7");
	assert_string_equal(json_string_value(json_object_get(v, "filter")),
	    "{\"_updateStamp\":{\"_gte\":\"2024-05-01T10:00:00Z\"}}");
	assert_string_equal(json_string_value(json_object_get(v, "orderBy")),
	    "{\"_updateStamp\":1,\"id\":1}");
	{
		const char *q = json_string_value(json_object_get(j, "query"));

		assert_non_null(strstr(q, "xtremX3Purchasing{purchaseOrder{query(first:$first,"
		    "after:$after,filter:$filter,orderBy:$orderBy)"));
		assert_non_null(strstr(q, "pageInfo{endCursor hasNextPage}"));
		assert_non_null(strstr(q, "orderFromSupplier{code{code description}}"));
		assert_null(strstr(q, "2024")); /* values only as variables */
	}
	json_decref(j);
	free(b);
	/* first page: after is null */
	b = x3_gql_body(&cfg, &e, 0, NULL, &err);
	j = json_loads(b, 0, NULL);
	assert_true(json_is_null(json_object_get(json_object_get(j, "variables"), "after")));
	json_decref(j);
	free(b);
}

static void
test_gl_orders_by_stamp_then_line_id(void **state)
{
	struct mlc_cfg_entity e = entity("gl_entry");
	struct mlc_err err;
	char *b = x3_gql_body(&cfg, &e, 0, NULL, &err);

	(void)state;
	assert_non_null(strstr(b, "{\\\"_updateStamp\\\":1,\\\"id\\\":1}"));
	free(b);
}

static void
test_selection_nests_paths_and_adds_extra_fields(void **state)
{
	struct mlc_cfg_entity e = entity("purchase_order");
	char *s;

	(void)state;
	strcpy(e.fields[0].from, "buyer.code");
	e.n_fields = 1;
	s = x3_gql_selection(&e);
	assert_non_null(strstr(s, "buyer{code}"));
	assert_non_null(strstr(s, "purchaseSite{code}"));
	assert_non_null(strstr(s, "currency{code}"));
	assert_non_null(strstr(s, "_updateStamp"));
	/* balanced */
	{
		int depth = 0;

		for (const char *p = s; *p; p++) {
			depth += *p == '{';
			depth -= *p == '}';
			assert_true(depth >= 0);
		}
		assert_int_equal(depth, 0);
	}
	free(s);
}

static const char page1[] =
    "{\"data\":{\"xtremX3Purchasing\":{\"purchaseOrder\":{\"query\":{\"edges\":["
    "{\"cursor\":\"c1\",\"node\":{\"id\":\"PO1\",\"_updateStamp\":\"2024-05-01T10:00:00.000Z\","
    "\"taxExcludedTotalAmount\":\"12345.60\",\"signatureStatus\":\"signed\","
    "\"orderFromSupplier\":{\"code\":{\"code\":\"FR053\",\"description\":\"Acme\"}}}},"
    "{\"cursor\":\"c2\",\"node\":{\"id\":\"PO2\",\"_updateStamp\":\"2024-05-01T10:00:00Z\","
    "\"taxExcludedTotalAmount\":\"0.10\"}}],"
    "\"pageInfo\":{\"endCursor\":\"c2\",\"hasNextPage\":true},\"totalCount\":3}}}}}";

static void
test_page_parses_nodes_decimals_and_cursor(void **state)
{
	struct mlc_cfg_entity e = entity("purchase_order");
	struct x3_page pg;
	struct x3_canon c;
	struct mlc_err err;

	(void)state;
	assert_int_equal(x3_gql_parse_page(page1, strlen(page1), &e, &pg, &err), 0);
	assert_int_equal(pg.n_rows, 2);
	assert_true(pg.has_next);
	assert_string_equal(pg.end_cursor, "c2");
	assert_string_equal(pg.rows[0].key, "PO1");
	assert_string_equal(pg.rows[0].stamp, "2024-05-01T10:00:00Z");
	assert_int_equal(x3_canon_map(&e, &pg.rows[0], &c, &err), 0);
	for (size_t i = 0; i < c.n_fields; i++) {
		if (strcmp(c.fields[i].name, "amount_excl_tax") == 0)
			assert_string_equal(c.fields[i].value, "12345.60");
		if (strcmp(c.fields[i].name, "supplier_name") == 0)
			assert_string_equal(c.fields[i].value, "Acme");
		if (strcmp(c.fields[i].name, "approval") == 0)
			assert_string_equal(c.fields[i].value, "3");
	}
	x3_canon_free(&c);
	x3_page_free(&pg);
}

static void
test_partial_data_with_errors_is_a_failed_page(void **state)
{
	struct mlc_cfg_entity e = entity("purchase_order");
	struct x3_page pg;
	struct mlc_err err;
	const char *body =
	    "{\"data\":{\"xtremX3Purchasing\":{\"purchaseOrder\":{\"query\":{\"edges\":[],"
	    "\"pageInfo\":{\"endCursor\":null,\"hasNextPage\":false}}}}},"
	    "\"errors\":[{\"message\":\"Access denied to orderFromSupplier\","
	    "\"path\":[\"xtremX3Purchasing\",\"purchaseOrder\"]}]}";

	(void)state;
	assert_int_equal(x3_gql_parse_page(body, strlen(body), &e, &pg, &err), -1);
	assert_non_null(strstr(err.msg, "partial data"));
	assert_non_null(strstr(err.msg, "Access denied to orderFromSupplier"));
	assert_null(pg.rows);
}

static void
test_malformed_and_wrong_shapes_are_errors_not_crashes(void **state)
{
	struct mlc_cfg_entity e = entity("purchase_order");
	struct x3_page pg;
	struct mlc_err err;
	const char *bad[] = {
		"{\"data\":{\"xtremX3Purchasing\":{\"purchaseOrder\":{\"query\":{\"edges\":[{\"node\":\"\\q\"}]",
		"[]", "{\"data\":null}", "{\"data\":{\"x3Purchasing\":{}}}",
		"{\"data\":{\"xtremX3Purchasing\":{\"purchaseOrder\":{\"query\":{\"edges\":[{\"node\":{\"id\":\"A\"}}],\"pageInfo\":{\"hasNextPage\":false}}}}}}",
		"{\"data\":{\"xtremX3Purchasing\":{\"purchaseOrder\":{\"query\":{\"edges\":[],\"pageInfo\":{\"hasNextPage\":true}}}}}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(x3_gql_parse_page(bad[i], strlen(bad[i]), &e, &pg, &err), -1);
	/* truncated at every length */
	for (size_t n = 0; n < sizeof(page1) - 2; n++)
		assert_int_equal(x3_gql_parse_page(page1, n, &e, &pg, &err), -1);
}

static char *
gl_page(const char *const *lines, size_t n, int more)
{
	static char buf[8192];
	size_t used = 0;

	used += (size_t)snprintf(buf + used, sizeof(buf) - used,
	    "{\"data\":{\"xtremX3Finance\":{\"journalEntryLine\":{\"query\":{\"edges\":[");
	for (size_t i = 0; i < n; i++) {
		/* "ENTRY:LINE:ACCOUNT:SIGN:AMOUNT" */
		char en[32], acc[32], sign[16], amt[32];
		int ln;

		sscanf(lines[i], "%31[^:]:%d:%31[^:]:%15[^:]:%31s", en, &ln, acc, sign, amt);
		used += (size_t)snprintf(buf + used, sizeof(buf) - used,
		    "%s{\"cursor\":\"c\",\"node\":{\"journalEntry\":\"%s\",\"lineNumber\":%d,"
		    "\"_updateStamp\":\"2024-05-01T10:00:0%dZ\",\"journal\":\"PUR\","
		    "\"journalEntryType\":\"SPINV\",\"status\":\"2\",\"account\":\"%s\","
		    "\"sign\":\"%s\",\"transactionAmount\":\"%s\",\"currency\":\"EUR\"}}",
		    i ? "," : "", en, ln, (int)(en[strlen(en) - 1] - '0'), acc, sign, amt);
	}
	snprintf(buf + used, sizeof(buf) - used, "],\"pageInfo\":{\"endCursor\":\"c\","
	    "\"hasNextPage\":%s}}}}}}", more ? "true" : "false");
	return buf;
}

static void
test_gl_lines_are_grouped_into_entries_across_pages(void **state)
{
	struct mlc_cfg_entity e = entity("gl_entry");
	static const char *const p1[] = {
		"JE1:1:401000:credit:120.00", "JE1:2:607000:debit:100.00",
		"JE1:3:445660:debit:20.00", "JE2:1:401000:credit:50.00",
	};
	static const char *const p2[] = {
		"JE2:2:607000:debit:50.00", "JE3:1:512000:debit:9.99",
	};
	struct x3_page pg, carry;
	struct x3_canon c;
	struct mlc_err err;
	char *b;

	(void)state;
	memset(&carry, 0, sizeof(carry));
	b = gl_page(p1, 4, 1);
	assert_int_equal(x3_gql_parse_page(b, strlen(b), &e, &pg, &err), 0);
	assert_int_equal(pg.n_rows, 4);
	assert_int_equal(x3_gql_group_lines(&pg, &carry, 1, &err), 0);
	/* JE1 complete; JE2 may go on in the next page: carried */
	assert_int_equal(pg.n_rows, 1);
	assert_string_equal(pg.rows[0].key, "JE1");
	assert_int_equal(carry.n_rows, 1);
	assert_int_equal(x3_canon_map(&e, &pg.rows[0], &c, &err), 0);
	assert_string_equal(c.number, "JE1");
	for (size_t i = 0; i < c.n_fields; i++) {
		if (strcmp(c.fields[i].name, "lines") == 0)
			assert_string_equal(c.fields[i].value, "3");
		if (strcmp(c.fields[i].name, "line.0.side") == 0)
			assert_string_equal(c.fields[i].value, "credit");
		if (strcmp(c.fields[i].name, "line.2.account") == 0)
			assert_string_equal(c.fields[i].value, "445660");
	}
	x3_canon_free(&c);
	x3_page_free(&pg);
	b = gl_page(p2, 2, 0);
	assert_int_equal(x3_gql_parse_page(b, strlen(b), &e, &pg, &err), 0);
	assert_int_equal(x3_gql_group_lines(&pg, &carry, 0, &err), 0);
	assert_int_equal(pg.n_rows, 2);
	assert_string_equal(pg.rows[0].key, "JE2");
	assert_string_equal(pg.rows[1].key, "JE3");
	assert_int_equal(carry.n_rows, 0);
	assert_int_equal(x3_canon_map(&e, &pg.rows[0], &c, &err), 0);
	for (size_t i = 0; i < c.n_fields; i++)
		if (strcmp(c.fields[i].name, "lines") == 0)
			assert_string_equal(c.fields[i].value, "2");
	x3_canon_free(&c);
	x3_page_free(&pg);
	x3_page_free(&carry);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_uses_variables_with_filter_order_and_cursor),
		cmocka_unit_test(test_gl_orders_by_stamp_then_line_id),
		cmocka_unit_test(test_selection_nests_paths_and_adds_extra_fields),
		cmocka_unit_test(test_page_parses_nodes_decimals_and_cursor),
		cmocka_unit_test(test_partial_data_with_errors_is_a_failed_page),
		cmocka_unit_test(test_malformed_and_wrong_shapes_are_errors_not_crashes),
		cmocka_unit_test(test_gl_lines_are_grouped_into_entries_across_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
