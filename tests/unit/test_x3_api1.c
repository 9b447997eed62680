/*
 * test_x3_api1: reading pages of changes from Sage X3's REST api1.
 *
 * Pins the first-page URL (representation, count, URL-encoded where and
 * orderBy), the page parser (numbers kept as exact text, FIELD_REF
 * descriptions flattened, $-keys skipped, stamps normalised, the $next
 * link followed only on the configured server), its errors (naming the
 * resource and the field; malformed or oversized pages refused without a
 * crash), and the sentence made of an X3 $diagnoses error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_time.h"
#include "x3_api1.h"
#include "x3_client.h"

#define BASE "http://127.0.0.1:8124"

static const struct mlc_cfg_entity po_entity = {
	.name = "purchase_order",
	.class_name = "PORDER",
	.representation = "PORDER",
	.key_field = "POHNUM",
	.stamp_field = "UPDDATTIM",
	.enabled = 1,
};

static const char *
row_field(const struct x3_row *r, const char *name)
{
	for (size_t i = 0; i < r->n_fields; i++)
		if (strcmp(r->fields[i].name, name) == 0)
			return r->fields[i].value;
	return NULL;
}

static void
assert_field(const struct x3_row *r, const char *name, const char *want)
{
	const char *got = row_field(r, name);

	if (got == NULL)
		fail_msg("row %s has no field %s", r->key, name);
	if (strcmp(got, want) != 0)
		fail_msg("row %s field %s = \"%s\", want \"%s\"", r->key, name, got, want);
}

/* Parses body, which is copied to an exact-size buffer without a NUL so
 * that ASan sees any read past len. */
static int
parse(const char *body, struct x3_page *page, struct mlc_err *err)
{
	size_t n = strlen(body);
	char *copy = malloc(n ? n : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, body, n);
	memset(err, 0, sizeof(*err));
	rc = x3_api1_parse_page(copy, n, &po_entity, BASE, page, err);
	free(copy);
	return rc;
}

static void
assert_parse_fails(const char *body, const char *want1, const char *want2)
{
	struct x3_page page;
	struct mlc_err err;

	memset(&page, 0xa5, sizeof(page));
	if (parse(body, &page, &err) != -1) {
		x3_page_free(&page);
		fail_msg("page accepted: %.300s", body);
	}
	assert_null(page.rows);
	assert_int_equal(page.n_rows, 0);
	assert_null(page.next_url);
	if (err.msg[0] == '\0')
		fail_msg("no error message for %.300s", body);
	if (want1 != NULL && strstr(err.msg, want1) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want1);
	if (want2 != NULL && strstr(err.msg, want2) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want2);
}

static const char realistic_page[] =
    "{\n"
    "  \"$itemsPerPage\": 2,\n"
    "  \"$totalResults\": 3,\n"
    "  \"$startIndex\": 1,\n"
    "  \"$url\": \"" BASE "/api1/x3/erp/SEED/PORDER?representation=PORDER.$query\",\n"
    "  \"$descriptor\": \"" BASE "/api1/x3/erp/SEED/$prototypes('PORDER.$query')\",\n"
    "  \"$resources\": [\n"
    "    {\n"
    "      \"$uuid\": \"6a1c0a4e-0f7c-4c1f-9a1b-0a1b2c3d4e5f\",\n"
    "      \"$key\": \"PO-000123\",\n"
    "      \"$url\": \"" BASE "/api1/x3/erp/SEED/PORDER('PO-000123')\",\n"
    "      \"$etag\": \"2\",\n"
    "      \"POHNUM\": \"PO-000123\",\n"
    "      \"POHFCY\": \"FR011\",\n"
    "      \"BPSNUM\": \"FR053\",\n"
    "      \"BPSNUM_REF\": {\"$description\": \"Acme Supplies\", \"$uuid\": \"u1\"},\n"
    "      \"ORDDAT\": \"2026-11-28\",\n"
    "      \"CUR\": \"EUR\",\n"
    "      \"TOTORD\": 12345.60,\n"
    "      \"TTVORD\": 0.1,\n"
    "      \"BIGAMT\": \"12345678901234567890\",\n"
    "      \"BIGNUM\": 12345678901234567890.12,\n"
    "      \"NEGEXP\": -2.5e-3,\n"
    "      \"APPFLG\": 3,\n"
    "      \"CLEFLG\": 1,\n"
    "      \"ACTIVE\": true,\n"
    "      \"ORDREF\": null,\n"
    "      \"LINES\": [1, 2],\n"
    "      \"FCY_REF\": {\"$title\": \"Paris site\"},\n"
    "      \"UPDDATTIM\": \"2026-11-29T01:02:03.000Z\"\n"
    "    },\n"
    "    {\n"
    "      \"$key\": \"PO-000124\",\n"
    "      \"POHNUM\": \"PO-000124\",\n"
    "      \"TOTORD\": 0,\n"
    "      \"UPDDATTIM\": \"2026-11-29T03:02:04+02:00\"\n"
    "    }\n"
    "  ],\n"
    "  \"$links\": {\"$next\": {\"$url\": \"" BASE "/api1/x3/erp/SEED/PORDER?"
    "representation=PORDER.$query&count=2&startIndex=3\", \"$type\": "
    "\"application/json\"}}\n"
    "}";

static void
test_parses_realistic_page_with_exact_numbers(void **state)
{
	struct x3_page page;
	struct mlc_err err;

	(void)state;
	if (parse(realistic_page, &page, &err) != 0)
		fail_msg("parse failed: %s", err.msg);
	assert_int_equal(page.n_rows, 2);
	assert_string_equal(page.rows[0].key, "PO-000123");
	assert_field(&page.rows[0], "POHNUM", "PO-000123");
	assert_field(&page.rows[0], "TOTORD", "12345.60");
	assert_field(&page.rows[0], "TTVORD", "0.1");
	assert_field(&page.rows[0], "BIGAMT", "12345678901234567890");
	assert_field(&page.rows[0], "BIGNUM", "12345678901234567890.12");
	assert_field(&page.rows[0], "NEGEXP", "-2.5e-3");
	assert_field(&page.rows[0], "APPFLG", "3");
	assert_field(&page.rows[0], "ACTIVE", "true");
	assert_field(&page.rows[0], "ORDREF", "");
	assert_field(&page.rows[0], "BPSNUM", "FR053");
	assert_field(&page.rows[0], "CUR", "EUR");
	assert_field(&page.rows[1], "TOTORD", "0");
	assert_string_equal(page.rows[1].key, "PO-000124");
	x3_page_free(&page);
}

static void
test_reference_description_is_flattened_into_ref_field(void **state)
{
	struct x3_page page;
	struct mlc_err err;

	(void)state;
	assert_int_equal(parse(realistic_page, &page, &err), 0);
	assert_field(&page.rows[0], "BPSNUM_REF", "Acme Supplies");
	assert_field(&page.rows[0], "FCY_REF", "Paris site");
	x3_page_free(&page);
}

/* A row wider than X3_MAX_RAW_FIELDS keeps the first ones and counts the
 * rest, for the cycle's audit record (fields_dropped). */
static void
test_fields_past_the_limit_are_counted(void **state)
{
	size_t cap = 64 + (size_t)(X3_MAX_RAW_FIELDS + 5) * 24;
	char *body = malloc(cap);
	size_t n;
	struct x3_page page;
	struct mlc_err err;

	(void)state;
	assert_non_null(body);
	n = (size_t)snprintf(body, cap, "{\"$resources\":[{\"POHNUM\":\"PO-1\","
	    "\"UPDDATTIM\":\"2026-01-01T00:00:00Z\"");
	for (int i = 0; i < X3_MAX_RAW_FIELDS + 3; i++)
		n += (size_t)snprintf(body + n, cap - n, ",\"F%d\":\"v\"", i);
	snprintf(body + n, cap - n, "}]}");
	assert_int_equal(parse(body, &page, &err), 0);
	assert_int_equal(page.n_rows, 1);
	assert_int_equal(page.rows[0].n_fields, X3_MAX_RAW_FIELDS);
	assert_int_equal(page.rows[0].n_dropped, 5);
	assert_non_null(row_field(&page.rows[0], "POHNUM"));
	x3_page_free(&page);
	free(body);
}

static void
test_dollar_keys_are_skipped(void **state)
{
	struct x3_page page;
	struct mlc_err err;

	(void)state;
	assert_int_equal(parse(realistic_page, &page, &err), 0);
	for (size_t r = 0; r < page.n_rows; r++)
		for (size_t i = 0; i < page.rows[r].n_fields; i++)
			if (page.rows[r].fields[i].name[0] == '$')
				fail_msg("row %zu kept field %s", r, page.rows[r].fields[i].name);
	assert_null(row_field(&page.rows[0], "$uuid"));
	assert_null(row_field(&page.rows[0], "$key"));
	x3_page_free(&page);
}

static void
test_stamps_are_normalised_to_utc_z(void **state)
{
	struct x3_page page;
	struct mlc_err err;
	int64_t want;

	(void)state;
	assert_int_equal(parse(realistic_page, &page, &err), 0);
	assert_int_equal(mlc_time_parse("2026-11-29T01:02:03Z", &want), 0);
	assert_string_equal(page.rows[0].stamp, "2026-11-29T01:02:03Z");
	assert_int_equal(page.rows[0].stamp_s, want);
	/* "+02:00" converted to UTC */
	assert_string_equal(page.rows[1].stamp, "2026-11-29T01:02:04Z");
	assert_int_equal(page.rows[1].stamp_s, want + 1);
	x3_page_free(&page);
}

static void
test_next_link_is_captured(void **state)
{
	struct x3_page page;
	struct mlc_err err;

	(void)state;
	assert_int_equal(parse(realistic_page, &page, &err), 0);
	assert_non_null(page.next_url);
	assert_string_equal(page.next_url, BASE "/api1/x3/erp/SEED/PORDER?"
	    "representation=PORDER.$query&count=2&startIndex=3");
	x3_page_free(&page);
}

static void
test_last_page_has_no_next_link(void **state)
{
	struct x3_page page;
	struct mlc_err err;

	(void)state;
	assert_int_equal(parse("{\"$resources\":[],\"$links\":{}}", &page, &err), 0);
	assert_int_equal(page.n_rows, 0);
	assert_null(page.next_url);
	x3_page_free(&page);
	assert_int_equal(parse("{\"$resources\":[]}", &page, &err), 0);
	assert_null(page.next_url);
	x3_page_free(&page);
}

/* Following a $next link sends our credentials: only to x3.url's origin. */
static void
test_next_link_to_another_origin_is_refused(void **state)
{
	static const char *const evil[] = {
		"http://evil.example/api1/x3/erp/SEED/PORDER?x=1",
		"http://127.0.0.1:8124.evil.example/api1/x3/erp/SEED/PORDER",
		"http://127.0.0.1:8124@evil.example/api1/x3/erp/SEED/PORDER",
		"http://127.0.0.1:81245/api1/x3/erp/SEED/PORDER",
		"http://127.0.0.1:9999/api1/x3/erp/SEED/PORDER",
		"https://127.0.0.1:8124/api1/x3/erp/SEED/PORDER",
		"//evil.example/api1/x3/erp/SEED/PORDER",
		"http://127.0.0.1/api1/x3/erp/SEED/PORDER",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		char body[600];

		snprintf(body, sizeof(body), "{\"$resources\":[{\"POHNUM\":\"A\","
		    "\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"}],\"$links\":{\"$next\":"
		    "{\"$url\":\"%s\"}}}", evil[i]);
		assert_parse_fails(body, "$next", NULL);
	}
}

static void
test_missing_key_field_names_resource_and_field(void **state)
{
	(void)state;
	assert_parse_fails("{\"$resources\":["
	    "{\"POHNUM\":\"A\",\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"},"
	    "{\"POHNUMX\":\"B\",\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"}]}",
	    "resource 1", "POHNUM");
	assert_parse_fails("{\"$resources\":["
	    "{\"POHNUM\":\"\",\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"}]}",
	    "resource 0", "POHNUM");
	assert_parse_fails("{\"$resources\":["
	    "{\"POHNUM\":{\"a\":1},\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"}]}",
	    "resource 0", "POHNUM");
}

static void
test_missing_stamp_field_names_resource_and_field(void **state)
{
	(void)state;
	assert_parse_fails("{\"$resources\":["
	    "{\"POHNUM\":\"A\",\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"},"
	    "{\"POHNUM\":\"B\",\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"},"
	    "{\"POHNUM\":\"C\",\"CREDATTIM\":\"2026-11-29T01:02:03Z\"}]}",
	    "resource 2", "UPDDATTIM");
}

static void
test_non_iso_stamp_names_resource_and_field(void **state)
{
	static const char *const stamps[] = {
		"\"29/11/2026 01:02:03\"", "\"2026-11-29\"", "\"2026-02-30T01:02:03Z\"",
		"\"2026-11-29T01:02:03Zjunk\"", "20261129010203", "true", "null", "[]",
		"\"\"",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
		char body[300];

		snprintf(body, sizeof(body), "{\"$resources\":[{\"POHNUM\":\"PO-9\","
		    "\"UPDDATTIM\":%s}]}", stamps[i]);
		assert_parse_fails(body, "resource 0", "UPDDATTIM");
	}
}

static void
test_malformed_json_is_an_error_not_a_crash(void **state)
{
	(void)state;
	assert_parse_fails("{\"$resources\":[{\"POHNUM\":\"A\\q\","
	    "\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"}]}", "JSON", NULL);
	assert_parse_fails("{\"$resources\":[{\"POHNUM\":\"A\","
	    "\"UPDDATTIM\":\"2026-11-29T01:02:03Z\",\"TOTORD\":1.2.3}]}", "JSON", NULL);
	assert_parse_fails("", NULL, NULL);
	assert_parse_fails("<html><body>Login</body></html>", "JSON", NULL);
	assert_parse_fails("{\"$resources\":[],\"$resources\":[]}", NULL, NULL);
}

/* Every proper prefix of a valid page is refused cleanly. */
static void
test_truncated_page_is_refused_at_every_length(void **state)
{
	size_t n = strlen(realistic_page);

	(void)state;
	for (size_t len = 0; len < n; len++) {
		char *copy = malloc(len ? len : 1);
		struct x3_page page;
		struct mlc_err err = { "" };
		int rc;

		assert_non_null(copy);
		memcpy(copy, realistic_page, len);
		rc = x3_api1_parse_page(copy, len, &po_entity, BASE, &page, &err);
		free(copy);
		if (rc == 0) {
			x3_page_free(&page);
			fail_msg("prefix of %zu bytes accepted", len);
		}
		assert_null(page.rows);
		assert_true(err.msg[0] != '\0');
	}
}

static char *
page_of(size_t n)
{
	size_t cap = 64 + n * 80, o;
	char *s = malloc(cap);

	assert_non_null(s);
	o = (size_t)snprintf(s, cap, "{\"$resources\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			s[o++] = ',';
		o += (size_t)snprintf(s + o, cap - o, "{\"POHNUM\":\"K%06zu\","
		    "\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"}", i);
	}
	snprintf(s + o, cap - o, "]}");
	return s;
}

static void
test_page_of_1000_resources_is_accepted(void **state)
{
	char *body = page_of(X3_MAX_ROWS_PER_PAGE);
	struct x3_page page;
	struct mlc_err err;

	(void)state;
	if (parse(body, &page, &err) != 0)
		fail_msg("parse failed: %s", err.msg);
	assert_int_equal(page.n_rows, X3_MAX_ROWS_PER_PAGE);
	assert_string_equal(page.rows[999].key, "K000999");
	x3_page_free(&page);
	free(body);
}

static void
test_page_of_more_than_1000_resources_is_refused(void **state)
{
	char *body = page_of(X3_MAX_ROWS_PER_PAGE + 1);

	(void)state;
	assert_parse_fails(body, "1001", "1000");
	free(body);
}

static void
test_non_object_resources_are_refused(void **state)
{
	(void)state;
	assert_parse_fails("{\"$resources\":[1]}", "resource 0", NULL);
	assert_parse_fails("{\"$resources\":[{\"POHNUM\":\"A\","
	    "\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"},\"x\"]}", "resource 1", NULL);
	assert_parse_fails("{\"$resources\":[null]}", "resource 0", NULL);
	assert_parse_fails("{\"$resources\":[[]]}", "resource 0", NULL);
	assert_parse_fails("{\"$resources\":{}}", "$resources", NULL);
	assert_parse_fails("{\"$diagnoses\":[]}", "$resources", NULL);
	assert_parse_fails("[{\"POHNUM\":\"A\"}]", NULL, NULL);
}

static void
test_oversized_key_and_field_are_refused(void **state)
{
	char key[200], *field, *body;
	size_t cap = X3_MAX_FIELD_LEN + 300;

	(void)state;
	memset(key, 'K', 129);
	key[129] = '\0';
	body = malloc(cap);
	assert_non_null(body);
	snprintf(body, cap, "{\"$resources\":[{\"POHNUM\":\"%s\","
	    "\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"}]}", key);
	assert_parse_fails(body, "resource 0", "POHNUM");

	field = malloc(X3_MAX_FIELD_LEN + 2);
	assert_non_null(field);
	memset(field, 'v', X3_MAX_FIELD_LEN + 1);
	field[X3_MAX_FIELD_LEN + 1] = '\0';
	snprintf(body, cap, "{\"$resources\":[{\"POHNUM\":\"A\",\"ORDREF\":\"%s\","
	    "\"UPDDATTIM\":\"2026-11-29T01:02:03Z\"}]}", field);
	assert_parse_fails(body, "resource 0", "ORDREF");
	free(field);
	free(body);
}

/* ---- first URL ---- */

static void
cfg_init(struct mlc_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->x3.url, sizeof(cfg->x3.url), "%s", BASE);
	snprintf(cfg->x3.folder, sizeof(cfg->x3.folder), "SEED");
	cfg->x3.page_size = 100;
}

static void
test_first_url_queries_changes_since_stamp(void **state)
{
	struct mlc_cfg cfg;
	struct mlc_err err = { "" };
	int64_t stamp;
	char *url = NULL;

	(void)state;
	cfg_init(&cfg);
	assert_int_equal(mlc_time_parse("2026-11-29T01:02:03Z", &stamp), 0);
	if (x3_api1_first_url(&cfg, &po_entity, stamp, &url, &err) != 0)
		fail_msg("first_url failed: %s", err.msg);
	assert_string_equal(url, BASE "/api1/x3/erp/SEED/PORDER"
	    "?representation=PORDER.$query"
	    "&count=100"
	    "&where=UPDDATTIM%20ge%20%402026-11-29T01%3A02%3A03Z%40"
	    "&orderBy=UPDDATTIM%20asc%2CPOHNUM%20asc");
	free(url);
}

static void
test_first_url_uses_configured_page_size_and_fields(void **state)
{
	struct mlc_cfg cfg;
	struct mlc_cfg_entity e = po_entity;
	struct mlc_err err = { "" };
	char *url = NULL;

	(void)state;
	cfg_init(&cfg);
	cfg.x3.page_size = 7;
	snprintf(e.class_name, sizeof(e.class_name), "PINVOICE");
	snprintf(e.representation, sizeof(e.representation), "ZPIH&X");
	snprintf(e.key_field, sizeof(e.key_field), "NUM");
	snprintf(e.stamp_field, sizeof(e.stamp_field), "CREDATTIM");
	assert_int_equal(x3_api1_first_url(&cfg, &e, 0, &url, &err), 0);
	assert_non_null(strstr(url, "/SEED/PINVOICE?"));
	assert_non_null(strstr(url, "representation=ZPIH%26X.$query&"));
	assert_non_null(strstr(url, "&count=7&"));
	assert_non_null(strstr(url, "where=CREDATTIM%20ge%20%401970-01-01T00%3A00%3A00Z%40"));
	assert_non_null(strstr(url, "orderBy=CREDATTIM%20asc%2CNUM%20asc"));
	assert_null(strchr(url, ' '));
	free(url);
}

/* ---- errors from X3 ---- */

static void
test_describe_error_uses_diagnoses_message_and_code(void **state)
{
	const char *body = "{\"$diagnoses\":[{\"$severity\":\"error\","
	    "\"$sdataCode\":\"BadWhereSyntax\",\"$message\":\"Syntax error in where "
	    "clause near UPDDATTIM\",\"$applicationCode\":\"2403\"}]}";
	char out[400];

	(void)state;
	x3_api1_describe_error(500, body, strlen(body), out, sizeof(out));
	assert_non_null(strstr(out, "Syntax error in where clause near UPDDATTIM"));
	assert_non_null(strstr(out, "BadWhereSyntax"));
	assert_non_null(strstr(out, "500"));
	assert_null(strchr(out, '\n'));
}

static void
test_describe_error_without_diagnoses_says_http_status(void **state)
{
	static const char *const bodies[] = {
		"<html><body>Internal Server Error</body></html>", "", "{}",
		"{\"$diagnoses\":[]}", "{\"$diagnoses\":\"x\"}", "[1,2]", "{\"a\":",
	};
	char out[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		x3_api1_describe_error(500, bodies[i], strlen(bodies[i]), out, sizeof(out));
		assert_string_equal(out, "HTTP 500 from X3");
	}
	x3_api1_describe_error(502, NULL, 0, out, sizeof(out));
	assert_string_equal(out, "HTTP 502 from X3");
}

static void
test_describe_error_fits_small_buffer(void **state)
{
	const char *body = "{\"$diagnoses\":[{\"$sdataCode\":\"X\",\"$message\":\"a long "
	    "message that does not fit\"}]}";
	char out[12];

	(void)state;
	memset(out, 'z', sizeof(out));
	x3_api1_describe_error(400, body, strlen(body), out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_memory_equal(out, "HTTP 400 fr", 11);
}

static void
test_gl_lines_array_is_flattened_with_indexes(void **state)
{
	static const struct mlc_cfg_entity gl = {
		.name = "gl_entry", .class_name = "GACCENTRY", .representation = "GACCENTRY",
		.key_field = "NUM", .stamp_field = "UPDDATTIM", .enabled = 1,
	};
	const char *body = "{\"$resources\":[{\"NUM\":\"000123\",\"TYP\":\"SPINV\","
	    "\"UPDDATTIM\":\"2024-05-01T10:00:00Z\",\"GACCENTRYD\":[{\"LIN\":1,"
	    "\"ACC\":\"401000\",\"SNS\":-1,\"AMTCUR\":120.00,\"BPR_REF\":"
	    "{\"$description\":\"Acme\"}},{\"LIN\":2,\"ACC\":\"607000\",\"SNS\":1,"
	    "\"AMTCUR\":100.00}]}]}";
	struct x3_page page;
	struct mlc_err err;

	(void)state;
	assert_int_equal(x3_api1_parse_page(body, strlen(body), &gl, BASE, &page, &err), 0);
	assert_string_equal(row_field(&page.rows[0], "GACCENTRYD.0.ACC"), "401000");
	assert_string_equal(row_field(&page.rows[0], "GACCENTRYD.0.SNS"), "-1");
	assert_string_equal(row_field(&page.rows[0], "GACCENTRYD.0.AMTCUR"), "120.00");
	assert_string_equal(row_field(&page.rows[0], "GACCENTRYD.0.BPR_REF"), "Acme");
	assert_string_equal(row_field(&page.rows[0], "GACCENTRYD.1.ACC"), "607000");
	assert_null(row_field(&page.rows[0], "GACCENTRYD.2.ACC"));
	x3_page_free(&page);
}

static void
test_x3_errors_name_the_setting_to_check(void **state)
{
	static struct mlc_cfg cfg;
	char out[700];
	const char *where = "{\"$diagnoses\":[{\"$severity\":\"error\",\"$sdataCode\":"
	    "\"BadWhereSyntax\",\"$message\":\"Unknown property UPDDATIM\"}]}";
	const char *rep = "{\"$diagnoses\":[{\"$message\":\"Representation ZPO does not "
	    "belong to class PORDER\"}]}";
	const char *licence = "{\"$diagnoses\":[{\"$severity\":\"error\",\"$sdataCode\":"
	    "\"ServiceUnavailable\",\"$message\":\"Licence limit reached\"}]}";

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.x3.folder, "SEED");
	strcpy(cfg.x3.auth, "basic");
	cfg.x3.entities[0] = po_entity;
	strcpy(cfg.x3.entities[0].api, "api1");
	cfg.x3.n_entities = 1;
	x3_client_explain(&cfg, &cfg.x3.entities[0], 400, where, strlen(where), out, sizeof(out));
	assert_non_null(strstr(out, "Unknown property UPDDATIM"));
	assert_non_null(strstr(out, "x3.entities[0].stamp 'UPDDATTIM'"));
	x3_client_explain(&cfg, &cfg.x3.entities[0], 500, where, strlen(where), out, sizeof(out));
	assert_non_null(strstr(out, "x3.entities[0].stamp"));
	/* The licence cap (503) and throttling (429) are no setting's fault. */
	x3_client_explain(&cfg, &cfg.x3.entities[0], 503, licence, strlen(licence), out,
	    sizeof(out));
	assert_non_null(strstr(out, "HTTP 503 from X3: Licence limit reached"));
	assert_null(strstr(out, "check x3."));
	x3_client_explain(&cfg, &cfg.x3.entities[0], 429, licence, strlen(licence), out,
	    sizeof(out));
	assert_non_null(strstr(out, "HTTP 429"));
	assert_null(strstr(out, "check x3."));
	x3_client_explain(&cfg, &cfg.x3.entities[0], 400, rep, strlen(rep), out, sizeof(out));
	assert_non_null(strstr(out, "x3.entities[0].representation 'PORDER'"));
	x3_client_explain(&cfg, &cfg.x3.entities[0], 404, "", 0, out, sizeof(out));
	assert_non_null(strstr(out, "x3.folder 'SEED'"));
	assert_non_null(strstr(out, "x3.entities[0].class 'PORDER'"));
	x3_client_explain(&cfg, &cfg.x3.entities[0], 401, "", 0, out, sizeof(out));
	assert_non_null(strstr(out, "x3.password_env"));
	strcpy(cfg.x3.auth, "connected_app");
	x3_client_explain(&cfg, &cfg.x3.entities[0], 401, "Error 12: Invalid token", 23, out,
	    sizeof(out));
	assert_non_null(strstr(out, "x3.connected_app.client_id"));
	strcpy(cfg.x3.entities[0].api, "graphql");
	strcpy(cfg.x3.entities[0].graphql_root, "xtremX3Purchasing");
	x3_client_explain(&cfg, &cfg.x3.entities[0], 400, "{}", 2, out, sizeof(out));
	assert_non_null(strstr(out, "graphql_root 'xtremX3Purchasing'"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gl_lines_array_is_flattened_with_indexes),
		cmocka_unit_test(test_x3_errors_name_the_setting_to_check),
		cmocka_unit_test(test_parses_realistic_page_with_exact_numbers),
		cmocka_unit_test(test_reference_description_is_flattened_into_ref_field),
		cmocka_unit_test(test_dollar_keys_are_skipped),
		cmocka_unit_test(test_fields_past_the_limit_are_counted),
		cmocka_unit_test(test_stamps_are_normalised_to_utc_z),
		cmocka_unit_test(test_next_link_is_captured),
		cmocka_unit_test(test_last_page_has_no_next_link),
		cmocka_unit_test(test_next_link_to_another_origin_is_refused),
		cmocka_unit_test(test_missing_key_field_names_resource_and_field),
		cmocka_unit_test(test_missing_stamp_field_names_resource_and_field),
		cmocka_unit_test(test_non_iso_stamp_names_resource_and_field),
		cmocka_unit_test(test_malformed_json_is_an_error_not_a_crash),
		cmocka_unit_test(test_truncated_page_is_refused_at_every_length),
		cmocka_unit_test(test_page_of_1000_resources_is_accepted),
		cmocka_unit_test(test_page_of_more_than_1000_resources_is_refused),
		cmocka_unit_test(test_non_object_resources_are_refused),
		cmocka_unit_test(test_oversized_key_and_field_are_refused),
		cmocka_unit_test(test_first_url_queries_changes_since_stamp),
		cmocka_unit_test(test_first_url_uses_configured_page_size_and_fields),
		cmocka_unit_test(test_describe_error_uses_diagnoses_message_and_code),
		cmocka_unit_test(test_describe_error_without_diagnoses_says_http_status),
		cmocka_unit_test(test_describe_error_fits_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
