/*
 * mlc_json: parsing JSON from outside (X3 pages, Slack replies) with jansson,
 * without ever turning a number into a double.
 *
 * jansson stores numbers as json_int_t or double, and X3 api1 sends amounts
 * as JSON numbers ("TOTORD": 12345.60): a double would lose "12345.60" ->
 * 12345.6 and, for large amounts, cents. mlc_json_loads_exact() first
 * rewrites every number token outside strings into a JSON string holding the
 * exact text (12345.60 -> "12345.60"), then parses. Callers read every
 * scalar as text.
 */
#ifndef MLC_JSON_H
#define MLC_JSON_H

#include <stddef.h>
#include <jansson.h>

#include "mlc_err.h"

/* Parses text (not NUL-terminated necessarily) with numbers kept as exact
 * strings. max_depth bounds nesting. Returns a new reference or NULL with
 * err "JSON syntax error at line L column C: ...". */
json_t *mlc_json_loads_exact(const char *text, size_t len, size_t max_depth,
    struct mlc_err *err);

/* Text of a scalar: a string's value, "true"/"false", "" for null; NULL for
 * arrays and objects. The pointer lives as long as the json_t. */
const char *mlc_json_scalar_text(const json_t *v);

#endif
