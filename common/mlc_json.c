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
			out[o++] = '"';
			while (i < len && is_num_char(text[i]))
				out[o++] = text[i++];
			out[o++] = '"';
			i--;
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
	root = json_loadb(out, o, JSON_REJECT_DUPLICATES, &je);
	free(out);
	if (root == NULL)
		mlc_err_set(err, "JSON syntax error at line %d column %d: %s",
		    je.line, je.column, je.text);
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
