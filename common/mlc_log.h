/*
 * mlc_log: one line per event on stderr, with a UTC timestamp, the level and
 * the process name:
 *
 *   2026-11-29T01:02:03Z INFO  poller: cycle PORDER: 3 records, 1 page
 *
 * Callers never pass secret values; mlc_log_redact() exists for the rare
 * place that must print something that may embed one (a URL with userinfo).
 */
#ifndef MLC_LOG_H
#define MLC_LOG_H

#include <stddef.h>

enum mlc_log_level {
	MLC_LOG_DEBUG = 0,
	MLC_LOG_INFO,
	MLC_LOG_WARN,
	MLC_LOG_ERROR,
};

void mlc_log_init(const char *process, enum mlc_log_level min_level);
/* Parses "debug", "info", "warn", "error"; -1 if unknown. */
int  mlc_log_level_parse(const char *s, enum mlc_log_level *out);
void mlc_log(enum mlc_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *mlc_log_process(void);

/* Copies url to out, replacing any "user:password@" part with "***@". */
void mlc_log_redact_url(const char *url, char *out, size_t outsz);

#define mlc_debug(...) mlc_log(MLC_LOG_DEBUG, __VA_ARGS__)
#define mlc_info(...)  mlc_log(MLC_LOG_INFO, __VA_ARGS__)
#define mlc_warn(...)  mlc_log(MLC_LOG_WARN, __VA_ARGS__)
#define mlc_error(...) mlc_log(MLC_LOG_ERROR, __VA_ARGS__)

#endif
