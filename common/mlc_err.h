/*
 * mlc_err: errors as values that carry a reason a person can act on.
 *
 * Every fallible function in ml-connector returns 0 on success and -1 on
 * failure, and fills a caller-provided struct mlc_err with a sentence that
 * names what failed and why ("x3: HTTP 401 from https://x3/api1/...: check
 * x3.user and the password"). A NULL err is allowed and means "don't care".
 * Messages never contain secrets: callers format only names, never values.
 */
#ifndef MLC_ERR_H
#define MLC_ERR_H

#include <stddef.h>

#define MLC_ERR_MAX 512

struct mlc_err {
	char msg[MLC_ERR_MAX];
};

/* Sets err->msg (printf-style); always returns -1 so callers can
 * `return mlc_err_set(err, ...)`. */
int mlc_err_set(struct mlc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the existing message: "prefix: old message". Returns -1. */
int mlc_err_prefix(struct mlc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
