/*
 * test_json: mlc_json, the JSON reader for everything that comes from
 * outside (X3 pages, Slack replies).
 *
 * Pins that every JSON number reaches the caller as its exact source text
 * (never through a double), that strings holding digits or escaped quotes
 * are left alone, that nesting is bounded, that malformed numbers and
 * documents are refused, and that a syntax error names the line and column
 * of the caller's text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_json.h"

static json_t *
load_ok(const char *text, size_t max_depth)
{
	struct mlc_err err = { "" };
	json_t *v = mlc_json_loads_exact(text, strlen(text), max_depth, &err);

	if (v == NULL)
		fail_msg("mlc_json_loads_exact rejected valid %s: %s", text, err.msg);
	return v;
}

static void
assert_rejected(const char *text, size_t max_depth, struct mlc_err *err)
{
	json_t *v;

	memset(err, 0, sizeof(*err));
	v = mlc_json_loads_exact(text, strlen(text), max_depth, err);
	if (v != NULL) {
		char dump[256] = "?";

		json_dumpb(v, dump, sizeof(dump) - 1, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(v);
		fail_msg("mlc_json_loads_exact accepted invalid %s as %.200s", text, dump);
	}
	if (err->msg[0] == '\0')
		fail_msg("no error message for %s", text);
}

/* Each number, inside an array, comes back as a string equal to its text. */
static void
test_numbers_of_every_shape_become_their_exact_text(void **state)
{
	static const char *const nums[] = {
		"0", "-0", "7", "-7", "0.1", "12345.60", "-12345.60", "0.000",
		"1e10", "1E10", "1e+5", "1E-5", "-2.5e-3", "6.02E+23", "-0.0",
		"12345678901234567890", "123456789012345678901234567890.125",
		"100", "9007199254740993", "1.10",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		char doc[128];
		json_t *v, *e;

		snprintf(doc, sizeof(doc), "[%s, {\"k\":%s}]", nums[i], nums[i]);
		v = load_ok(doc, 8);
		e = json_array_get(v, 0);
		assert_true(json_is_string(e));
		assert_string_equal(json_string_value(e), nums[i]);
		e = json_object_get(json_array_get(v, 1), "k");
		assert_true(json_is_string(e));
		assert_string_equal(mlc_json_scalar_text(e), nums[i]);
		json_decref(v);
	}
}

/* Numbers right next to structure characters, with no spaces at all. */
static void
test_numbers_next_to_punctuation_are_kept(void **state)
{
	json_t *v = load_ok("{\"a\":[1,-2,3.5e1],\"b\":{\"c\":0}}", 8);
	json_t *a = json_object_get(v, "a");

	(void)state;
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "1");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "-2");
	assert_string_equal(json_string_value(json_array_get(a, 2)), "3.5e1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "b"),
	    "c")), "0");
	json_decref(v);
}

static void
test_strings_with_digits_and_escaped_quotes_are_untouched(void **state)
{
	const char *doc = "{\"12\":\"12.50\",\"q\":\"say \\\"1,5\\\" now\","
	    "\"bs\":\"ends with backslash \\\\\",\"n\":-1,"
	    "\"u\":\"\\u0031\\u00e9 2e5\",\"mix\":\"[{1}]\"}";
	json_t *v = load_ok(doc, 8);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(v, "12")), "12.50");
	assert_string_equal(json_string_value(json_object_get(v, "q")), "say \"1,5\" now");
	assert_string_equal(json_string_value(json_object_get(v, "bs")),
	    "ends with backslash \\");
	/* after an escaped backslash the string really ended: -1 is a number */
	assert_string_equal(json_string_value(json_object_get(v, "n")), "-1");
	assert_string_equal(json_string_value(json_object_get(v, "u")), "1\xc3\xa9 2e5");
	assert_string_equal(json_string_value(json_object_get(v, "mix")), "[{1}]");
	json_decref(v);
}

static void
test_scalar_text_of_literals_and_containers(void **state)
{
	json_t *v = load_ok("{\"t\":true,\"f\":false,\"z\":null,\"a\":[],\"o\":{}}", 8);

	(void)state;
	assert_string_equal(mlc_json_scalar_text(json_object_get(v, "t")), "true");
	assert_string_equal(mlc_json_scalar_text(json_object_get(v, "f")), "false");
	assert_string_equal(mlc_json_scalar_text(json_object_get(v, "z")), "");
	assert_null(mlc_json_scalar_text(json_object_get(v, "a")));
	assert_null(mlc_json_scalar_text(json_object_get(v, "o")));
	assert_null(mlc_json_scalar_text(json_object_get(v, "missing")));
	json_decref(v);
}

/* Malformed number tokens must not be smuggled through as strings. */
static void
test_malformed_numbers_are_rejected(void **state)
{
	static const char *const bad[] = {
		"[01]", "[-01]", "[1.]", "[.5]", "[-]", "[+1]", "[1.2.3]", "[1e]",
		"[1e+]", "[--1]", "[1-2]", "[1e5e5]", "[1.e5]", "[-.5]", "[1E5.5]",
		"[0x10]", "[1+1]",
	};
	struct mlc_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i], 8, &err);
}

static void
test_nesting_up_to_max_depth_is_accepted(void **state)
{
	json_t *v = load_ok("[[{\"a\":[1]}]]", 4);

	(void)state;
	json_decref(v);
}

static void
test_nesting_beyond_max_depth_is_rejected(void **state)
{
	struct mlc_err err;

	(void)state;
	assert_rejected("[[{\"a\":[[1]]}]]", 4, &err);
	assert_non_null(strstr(err.msg, "4"));
}

static void
test_deep_nesting_bomb_is_rejected_cheaply(void **state)
{
	size_t n = 100000;
	char *doc = malloc(2 * n + 1);
	struct mlc_err err = { "" };

	(void)state;
	assert_non_null(doc);
	memset(doc, '[', n);
	memset(doc + n, ']', n);
	doc[2 * n] = '\0';
	assert_null(mlc_json_loads_exact(doc, 2 * n, 32, &err));
	assert_non_null(strstr(err.msg, "nested"));
	free(doc);
}

static void
test_brackets_inside_strings_do_not_count_as_nesting(void **state)
{
	json_t *v = load_ok("{\"a\":\"[[[[{{{{\",\"b\":\"]]]]\"}", 1);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(v, "a")), "[[[[{{{{");
	json_decref(v);
}

/* Only len bytes are read: what follows in memory is not part of the text. */
static void
test_reads_only_len_bytes(void **state)
{
	const char *text = "{\"a\":12}garbage";
	char *copy = malloc(8);
	struct mlc_err err = { "" };
	json_t *v;

	(void)state;
	assert_non_null(copy);
	memcpy(copy, text, 8); /* no NUL: ASan catches any over-read */
	v = mlc_json_loads_exact(copy, 8, 8, &err);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "a")), "12");
	json_decref(v);
	/* a number at the very end of the buffer */
	memcpy(copy, "[123456", 7);
	assert_null(mlc_json_loads_exact(copy, 7, 8, &err));
	free(copy);
}

static void
test_invalid_escape_and_truncation_are_rejected(void **state)
{
	static const char *const bad[] = {
		"{\"a\":\"\\q\"}", "{\"a\":\"x", "{\"a\":", "{\"a\":1", "[1,",
		"{\"a\":\"x\\", "", "   ", "{\"a\":1,}", "{\"a\":1}}", "{\"a\":1,\"a\":2}",
		"{'a':1}", "[1] [2]", "{\"a\":\"\\u0000\"}",
	};
	struct mlc_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i], 8, &err);
}

static void
parse_line_col(const char *msg, int *line, int *col)
{
	const char *p = strstr(msg, "line ");

	*line = *col = -1;
	if (p == NULL || sscanf(p, "line %d column %d", line, col) != 2)
		fail_msg("error has no 'line L column C': %s", msg);
}

/* The error position is the one jansson gives for the caller's own text,
 * not for an internally rewritten copy (numbers get quotes added). */
static void
test_syntax_error_names_line_and_column_of_callers_text(void **state)
{
	static const char *const docs[] = {
		"{\"a\": ]}",                                /* no number before */
		"{\"a\": 1, \"b\": 22, \"c\": ]}",           /* numbers before, same line */
		"{\n  \"x\": 1.5,\n  \"y\": 2, \"z\": }\n}", /* third line */
		"[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, @]",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct mlc_err err;
		json_error_t je;
		json_t *ref;
		int line, col;

		assert_rejected(docs[i], 8, &err);
		assert_non_null(strstr(err.msg, "JSON syntax error"));
		ref = json_loads(docs[i], 0, &je);
		assert_null(ref);
		parse_line_col(err.msg, &line, &col);
		if (line != je.line || col != je.column)
			fail_msg("%s: reported line %d column %d, the text's error is at "
			    "line %d column %d (%s)", docs[i], line, col, je.line,
			    je.column, err.msg);
	}
}

static void
test_syntax_error_on_third_line_says_line_3(void **state)
{
	struct mlc_err err;
	int line, col;

	(void)state;
	assert_rejected("{\n\"a\": \"b\",\n\"c\" \"d\"\n}", 8, &err);
	parse_line_col(err.msg, &line, &col);
	assert_int_equal(line, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_of_every_shape_become_their_exact_text),
		cmocka_unit_test(test_numbers_next_to_punctuation_are_kept),
		cmocka_unit_test(test_strings_with_digits_and_escaped_quotes_are_untouched),
		cmocka_unit_test(test_scalar_text_of_literals_and_containers),
		cmocka_unit_test(test_malformed_numbers_are_rejected),
		cmocka_unit_test(test_nesting_up_to_max_depth_is_accepted),
		cmocka_unit_test(test_nesting_beyond_max_depth_is_rejected),
		cmocka_unit_test(test_deep_nesting_bomb_is_rejected_cheaply),
		cmocka_unit_test(test_brackets_inside_strings_do_not_count_as_nesting),
		cmocka_unit_test(test_reads_only_len_bytes),
		cmocka_unit_test(test_invalid_escape_and_truncation_are_rejected),
		cmocka_unit_test(test_syntax_error_names_line_and_column_of_callers_text),
		cmocka_unit_test(test_syntax_error_on_third_line_says_line_3),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
