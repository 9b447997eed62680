/* mlc_json: see mlc_json.h. */
#include "mlc_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
is_num_char(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
	    c == 'e' || c == 'E';
}

static int
is_digit(const char *s, size_t len, size_t i)
{
	return i < len && s[i] >= '0' && s[i] <= '9';
}

/* Length of the JSON number (RFC 8259 grammar) at the start of s, or 0 if
 * the token there is not one: "01", "1.", ".5", "1e", "1.2.3" and "1-2"
 * must fail here, since once quoted they would pass as valid strings. */
static size_t
number_len(const char *s, size_t len)
{
	size_t i = 0;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (is_digit(s, len, i))
		while (is_digit(s, len, i))
			i++;
	else
		return 0;
	if (i < len && s[i] == '.') {
		if (!is_digit(s, len, ++i))
			return 0;
		while (is_digit(s, len, i))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!is_digit(s, len, i))
			return 0;
		while (is_digit(s, len, i))
			i++;
	}
	if (i < len && is_num_char(s[i]))
		return 0;
	return i;
}

/* Offset in text of the byte that produced offset pos of the rewritten
 * text (which differs only by the two quotes around each number), so that
 * jansson's error position can be reported against the caller's text. */
static size_t
source_offset(const char *text, size_t len, size_t pos)
{
	size_t i = 0, o = 0, n;
	int in_str = 0;

	while (i < len && o < pos) {
		char c = text[i];

		if (in_str) {
			if (c == '\\' && i + 1 < len) {
				i += 2;
				o += 2;
				continue;
			}
			if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			n = number_len(text + i, len - i);
			if (o + n + 2 > pos) /* inside "NUM": the quote adds one */
				return i + (pos - o - 1);
			i += n;
			o += n + 2;
			continue;
		}
		i++;
		o++;
	}
	return i;
}

/* Line and column (as jansson counts them: characters since the last
 * newline) of offset off in text. */
static void
line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 0;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 0;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

json_t *
mlc_json_loads_exact(const char *text, size_t len, size_t max_depth,
    struct mlc_err *err)
{
	char *out;
	size_t o = 0, depth = 0;
	int in_str = 0;
	json_error_t je;
	json_t *root;

	/* Each number grows by two quotes; a number is at least one byte. */
	if (len > (SIZE_MAX - 1) / 3) {
		mlc_err_set(err, "JSON text too large");
		return NULL;
	}
	out = malloc(len * 3 + 1);
	if (out == NULL) {
		mlc_err_set(err, "out of memory reading JSON");
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (in_str) {
			out[o++] = c;
			if (c == '\\' && i + 1 < len)
				out[o++] = text[++i];
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
			out[o++] = c;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t n = number_len(text + i, len - i);
			int line, col;

			if (n == 0) {
				free(out);
				line_col(text, i + 1, &line, &col);
				mlc_err_set(err, "JSON syntax error at line %d column %d: "
				    "invalid number", line, col);
				return NULL;
			}
			out[o++] = '"';
			memcpy(out + o, text + i, n);
			o += n;
			out[o++] = '"';
			i += n - 1;
		} else {
			if (c == '[' || c == '{') {
				if (++depth > max_depth) {
					free(out);
					mlc_err_set(err, "JSON nested deeper than %zu levels",
					    max_depth);
					return NULL;
				}
			} else if ((c == ']' || c == '}') && depth > 0) {
				depth--;
			}
			out[o++] = c;
		}
	}
	out[o] = '\0'; /* room: len * 3 + 1 */
	root = json_loadb(out, o, JSON_REJECT_DUPLICATES, &je);
	free(out);
	if (root == NULL) {
		int line, col;

		line_col(text, source_offset(text, len, (size_t)je.position), &line, &col);
		mlc_err_set(err, "JSON syntax error at line %d column %d: %s",
		    line, col, je.text);
	}
	return root;
}

const char *
mlc_json_scalar_text(const json_t *v)
{
	if (v == NULL)
		return NULL;
	switch (json_typeof(v)) {
	case JSON_STRING: return json_string_value(v);
	case JSON_TRUE:   return "true";
	case JSON_FALSE:  return "false";
	case JSON_NULL:   return "";
	default:          return NULL;
	}
}
