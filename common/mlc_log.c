/* mlc_log: see mlc_log.h. Writes whole lines with one write(2) so lines from
 * processes sharing a terminal (mlc up) do not interleave. */
#include "mlc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char g_proc[32] = "mlc";
static enum mlc_log_level g_min = MLC_LOG_INFO;

void
mlc_log_init(const char *process, enum mlc_log_level min_level)
{
	snprintf(g_proc, sizeof(g_proc), "%s", process);
	g_min = min_level;
}

const char *
mlc_log_process(void)
{
	return g_proc;
}

int
mlc_log_level_parse(const char *s, enum mlc_log_level *out)
{
	static const char *names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum mlc_log_level)i;
			return 0;
		}
	}
	return -1;
}

void
mlc_log(enum mlc_log_level lvl, const char *fmt, ...)
{
	static const char *tags[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };
	char line[2048];
	struct tm tm;
	time_t now;
	va_list ap;
	int n, m;

	if (lvl < g_min)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	m = snprintf(line + n, sizeof(line) - (size_t)n, "%s %s: ", tags[lvl], g_proc);
	if (m > 0)
		n += m;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* One event, one line: fold embedded newlines. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}

void
mlc_log_redact_url(const char *url, char *out, size_t outsz)
{
	const char *scheme = strstr(url, "://");
	const char *at, *slash;

	if (outsz == 0)
		return;
	if (scheme == NULL) {
		snprintf(out, outsz, "%s", url);
		return;
	}
	scheme += 3;
	slash = strchr(scheme, '/');
	at = strchr(scheme, '@');
	if (at == NULL || (slash != NULL && at > slash)) {
		snprintf(out, outsz, "%s", url);
		return;
	}
	snprintf(out, outsz, "%.*s***%s", (int)(scheme - url), url, at);
}
