/* /metrics and /healthz from the event stream: Prometheus text format 0.0.4
 * syntax, counter values, histograms, gauges and health verdicts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_audit.h"
#include "mlc_log.h"
#include "state.h"

static struct aud_state S;

static void
ev(const char *from, const char *kind, int64_t ms, const char *const *kv,
    const char *const *ki, const int64_t *iv)
{
	struct mlc_auditb b;

	mlc_auditb_init(&b, kind);
	b.a.from = (char *)(uintptr_t)from;
	for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 2)
		mlc_auditb_str(&b, kv[i], kv[i + 1]);
	for (size_t i = 0; ki != NULL && ki[i] != NULL; i++)
		mlc_auditb_int(&b, ki[i], iv[i]);
	aud_state_apply(&S, &b.a, ms);
	mlc_auditb_free(&b);
}

/* Each line: "# HELP name text", "# TYPE name counter|gauge|histogram", or
 * "name[{k="v",...}] value" with a metric name [a-zA-Z_:][a-zA-Z0-9_:]*. */
static int
line_ok(const char *l)
{
	const char *p = l;

	if (strncmp(l, "# HELP ", 7) == 0 || strncmp(l, "# TYPE ", 7) == 0) {
		p = l + 7;
		if (!(isalpha((unsigned char)*p) || *p == '_'))
			return 0;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
			p++;
		if (*p != ' ')
			return 0;
		if (strncmp(l, "# TYPE ", 7) == 0)
			return strcmp(p + 1, "counter") == 0 || strcmp(p + 1, "gauge") == 0 ||
			    strcmp(p + 1, "histogram") == 0;
		return 1;
	}
	if (!(isalpha((unsigned char)*p) || *p == '_'))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
		p++;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (!(isalpha((unsigned char)*p) || *p == '_'))
				return 0;
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			if (p[0] != '=' || p[1] != '"')
				return 0;
			p += 2;
			while (*p != '"') {
				if (*p == '\0' || *p == '\n')
					return 0;
				if (*p == '\\') {
					if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
						return 0;
					p++;
				}
				p++;
			}
			p++;
			if (*p == ',')
				p++;
		}
		p++;
	}
	if (*p != ' ')
		return 0;
	p++;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p) || *p == '.')
		p++;
	return *p == '\0';
}

static long long
value_of(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -999999;
}

static void
feed(void)
{
	static const char *poll_s[] = { "entity", "purchase_order", "outcome", "ok", "wm_after",
		"2026-01-01T00:00:00Z PO-9", NULL };
	static const char *poll_i[] = { "records", "duration_ms", NULL };
	static const int64_t poll_v[] = { 7, 120 };
	static const char *posted[] = { "channel", "#procure", "outcome", "posted", NULL };
	static const char *posted_q[] = { "channel", "#we\"ird", "outcome", "posted", NULL };
	static const char *lat_i[] = { "latency_ms", NULL };
	static const int64_t lat_v[] = { 800 };
	static const char *failed[] = { "channel", "#procure", "outcome", "failed", NULL };
	static const char *retry[] = { "channel", "#procure", "outcome", "retry", NULL };
	static const char *rl[] = { "channel", "#procure", "outcome", "ratelimited", NULL };
	static const char *stats_s[] = { "channel_backlog", "{\"#procure\":4}", NULL };
	static const char *stats_i[] = { "backlog", "dead_letters", NULL };
	static const int64_t stats_v[] = { 4, 1 };
	static const char *tok[] = { "token", "x3_refresh", "event", "expiry_warning",
		"expires_at", "2026-01-02T00:00:00Z", NULL };

	aud_state_init(&S);
	ev("poller", "start", 0, NULL, NULL, NULL);
	ev("poller", "poll", 1000, poll_s, poll_i, poll_v);
	ev("poller", "poll", 2000, poll_s, poll_i, poll_v);
	ev("dispatcher-0", "post", 2000, posted, lat_i, lat_v);
	ev("dispatcher-0", "post", 2000, posted_q, lat_i, lat_v);
	ev("dispatcher-0", "post", 2000, failed, NULL, NULL);
	ev("dispatcher-0", "post", 2000, retry, NULL, NULL);
	ev("dispatcher-0", "post", 2000, rl, NULL, NULL);
	ev("dispatcher-0", "post", 2000, rl, NULL, NULL);
	ev("dispatcher-0", "stats", 2000, stats_s, stats_i, stats_v);
	ev("poller", "token", 2000, tok, NULL, NULL);
	ev("formatter", "start", 2000, NULL, NULL, NULL);
}

static void
test_metrics_parse_as_prometheus_text(void **state)
{
	char *m, *line, *save = NULL;
	int lines = 0;

	(void)state;
	feed();
	m = aud_state_metrics(&S, 1767225600000LL + 3600 * 1000); /* 2026-01-01T01:00Z */
	assert_non_null(m);
	assert_true(m[strlen(m) - 1] == '\n');
	for (line = strtok_r(m, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (!line_ok(line))
			fail_msg("not Prometheus text: '%s'", line);
		lines++;
	}
	assert_true(lines > 30);
	free(m);
}

static void
test_counters_gauges_and_histograms_follow_the_events(void **state)
{
	char *m;

	(void)state;
	feed();
	m = aud_state_metrics(&S, 1767225600000LL + 3600 * 1000);
	assert_int_equal(value_of(m, "mlc_records_polled_total{entity=\"purchase_order\"}"), 14);
	assert_int_equal(value_of(m, "mlc_messages_posted_total{channel=\"#procure\"}"), 1);
	assert_int_equal(value_of(m, "mlc_messages_posted_total{channel=\"#we\\\"ird\"}"), 1);
	assert_int_equal(value_of(m, "mlc_messages_failed_total"), 1);
	assert_int_equal(value_of(m, "mlc_retries_total"), 1);
	assert_int_equal(value_of(m, "mlc_ratelimited_total"), 2);
	assert_int_equal(value_of(m, "mlc_backlog"), 4);
	assert_int_equal(value_of(m, "mlc_channel_backlog{channel=\"#procure\"}"), 4);
	assert_int_equal(value_of(m, "mlc_dead_letters"), 1);
	assert_int_equal(value_of(m, "mlc_watermark_age_seconds{entity=\"purchase_order\"}"),
	    3600);
	assert_int_equal(value_of(m, "mlc_token_expiry_seconds{token=\"x3_refresh\"}"),
	    23 * 3600);
	/* 120 ms polls fall in le=0.250 and above, not in le=0.100. */
	assert_int_equal(value_of(m, "mlc_poll_duration_seconds_bucket{le=\"0.100\"}"), 0);
	assert_int_equal(value_of(m, "mlc_poll_duration_seconds_bucket{le=\"0.250\"}"), 2);
	assert_int_equal(value_of(m, "mlc_poll_duration_seconds_bucket{le=\"+Inf\"}"), 2);
	assert_int_equal(value_of(m, "mlc_poll_duration_seconds_count"), 2);
	assert_non_null(strstr(m, "\nmlc_poll_duration_seconds_sum 0.240\n"));
	assert_int_equal(value_of(m, "mlc_post_latency_seconds_bucket{le=\"0.500\"}"), 0);
	assert_int_equal(value_of(m, "mlc_post_latency_seconds_bucket{le=\"1.000\"}"), 2);
	free(m);
}

static void
test_health_needs_every_stage_running_and_recent(void **state)
{
	struct mlc_cfg cfg;
	int code;
	json_t *h;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.ep.n_dispatchers = 1;
	cfg.aud.health_max_silence_ms = 60000;
	feed();
	h = aud_state_health(&S, &cfg, 30000, &code);
	assert_int_equal(code, 200);
	assert_string_equal(json_string_value(json_object_get(h, "status")), "ok");
	json_decref(h);
	/* The poller (periodic) silent for longer than allowed. */
	h = aud_state_health(&S, &cfg, 2000 + 60001, &code);
	assert_int_equal(code, 503);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
	    h, "stages"), "poller"), "why")), "silent longer than auditor.health_max_silence");
	json_decref(h);
	/* A stage that stopped. */
	ev("formatter", "stop", 3000, NULL, NULL, NULL);
	h = aud_state_health(&S, &cfg, 3000, &code);
	assert_int_equal(code, 503);
	json_decref(h);
	/* A stage never heard from. */
	cfg.ep.n_dispatchers = 2;
	ev("formatter", "start", 3000, NULL, NULL, NULL);
	h = aud_state_health(&S, &cfg, 3000, &code);
	assert_int_equal(code, 503);
	assert_non_null(json_object_get(json_object_get(h, "stages"), "dispatcher-1"));
	json_decref(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_parse_as_prometheus_text),
		cmocka_unit_test(test_counters_gauges_and_histograms_follow_the_events),
		cmocka_unit_test(test_health_needs_every_stage_running_and_recent),
	};

	mlc_log_init("test", MLC_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
