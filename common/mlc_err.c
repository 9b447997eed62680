/* mlc_err: see mlc_err.h. */
#include "mlc_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
mlc_err_set(struct mlc_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
mlc_err_prefix(struct mlc_err *err, const char *fmt, ...)
{
	char old[MLC_ERR_MAX];
	size_t n, room;
	va_list ap;
	int w;

	if (err == NULL)
		return -1;
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	va_start(ap, fmt);
	w = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = w < 0 ? 0 : (size_t)w;
	if (n >= sizeof(err->msg) - 3)
		return -1; /* the prefix alone fills the message */
	memcpy(err->msg + n, ": ", 2);
	n += 2;
	room = sizeof(err->msg) - n - 1;
	w = (int)strnlen(old, room);
	memcpy(err->msg + n, old, (size_t)w);
	err->msg[n + (size_t)w] = '\0';
	return -1;
}
