/*
 * test_http: mlc_http against a real HTTP server on loopback.
 *
 * A libmicrohttpd daemon started inside the test (127.0.0.1, ephemeral port,
 * one thread per connection so a deliberately slow handler blocks nothing
 * else) serves one route per behaviour: plain GET, POST echo, Basic auth,
 * 429 with Retry-After, oversized bodies, a slow answer, a redirect. The
 * slow handler waits on a condition the test signals once the client has
 * given up, so no test sleeps for a fixed time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "mlc_http.h"
#include "mlc_time.h"

#define BIG_LEN 4096

struct srv {
	struct MHD_Daemon *d;
	unsigned port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int slow_release;
};

static struct srv g_srv = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

struct upload {
	char buf[8192];
	size_t len;
	int overflow;
};

static char g_url[128];

/* "http://127.0.0.1:<port><path>" in a static buffer. */
static const char *
url(const char *path)
{
	snprintf(g_url, sizeof(g_url), "http://127.0.0.1:%u%s", g_srv.port, path);
	return g_url;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *body, size_t len,
    const char *hname, const char *hvalue)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (hname != NULL)
		MHD_add_response_header(r, hname, hvalue);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Chunked body of BIG_LEN bytes: no Content-Length announced, so only the
 * client's write callback can enforce the cap. */
static ssize_t
chunked_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	size_t n;

	(void)cls;
	if (pos >= BIG_LEN)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = BIG_LEN - (size_t)pos;
	if (n > max)
		n = max;
	if (n > 512)
		n = 512;
	memset(buf, 'c', n);
	return (ssize_t)n;
}

static enum MHD_Result
handle_get(struct MHD_Connection *c, const char *path)
{
	static char big[BIG_LEN];
	char date[64];
	const char *v;

	if (strcmp(path, "/hello") == 0)
		return reply(c, 200, "hello world", 11, "Content-Type",
		    "text/plain; charset=utf-8");
	if (strcmp(path, "/auth") == 0) {
		v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		/* base64("alice:s3cret"), computed outside the code under test */
		if (v != NULL && strcmp(v, "Basic YWxpY2U6czNjcmV0") == 0)
			return reply(c, 200, "welcome", 7, NULL, NULL);
		return reply(c, 401, "no", 2, "WWW-Authenticate", "Basic realm=\"t\"");
	}
	if (strcmp(path, "/header") == 0) {
		v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
		v = v != NULL ? v : "(none)";
		return reply(c, 200, v, strlen(v), NULL, NULL);
	}
	if (strcmp(path, "/ratelimit") == 0)
		return reply(c, 429, "{\"ok\":false,\"error\":\"ratelimited\"}", 34,
		    "Retry-After", "7");
	if (strcmp(path, "/ratelimit-date") == 0) {
		time_t when = time(NULL) + 30;
		struct tm tm;

		gmtime_r(&when, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		return reply(c, 429, "", 0, "Retry-After", date);
	}
	if (strcmp(path, "/ratelimit-junk") == 0)
		return reply(c, 429, "", 0, "Retry-After", "soon");
	if (strcmp(path, "/ratelimit-huge") == 0)
		return reply(c, 429, "", 0, "Retry-After", "99999999999999999999");
	if (strcmp(path, "/big") == 0) {
		memset(big, 'b', sizeof(big));
		return reply(c, 200, big, sizeof(big), NULL, NULL);
	}
	if (strcmp(path, "/exact1000") == 0) {
		memset(big, 'e', 1000);
		return reply(c, 200, big, 1000, NULL, NULL);
	}
	if (strcmp(path, "/big-chunked") == 0) {
		struct MHD_Response *r;
		enum MHD_Result ret;

		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024,
		    chunked_reader, NULL, NULL);
		if (r == NULL)
			return MHD_NO;
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(path, "/slow") == 0) {
		struct timespec deadline;

		/* Wait until the test says the client gave up (bounded, so a
		 * broken client cannot hang the suite). */
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 5;
		pthread_mutex_lock(&g_srv.mu);
		while (!g_srv.slow_release)
			if (pthread_cond_timedwait(&g_srv.cv, &g_srv.mu, &deadline) != 0)
				break;
		pthread_mutex_unlock(&g_srv.mu);
		return reply(c, 200, "late", 4, NULL, NULL);
	}
	if (strcmp(path, "/redirect") == 0)
		return reply(c, 302, "moved", 5, "Location", "/hello");
	return reply(c, 404, "not found", 9, NULL, NULL);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *path,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct upload *u = *con_cls;
	const char *ct;

	(void)cls;
	(void)version;
	if (strcmp(method, "GET") == 0)
		return handle_get(c, path);
	if (strcmp(method, "POST") != 0 || strcmp(path, "/echo") != 0)
		return reply(c, 405, "", 0, NULL, NULL);
	if (u == NULL) {
		u = calloc(1, sizeof(*u));
		if (u == NULL)
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (*upload_data_size > sizeof(u->buf) - u->len)
			u->overflow = 1;
		else {
			memcpy(u->buf + u->len, upload_data, *upload_data_size);
			u->len += *upload_data_size;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (u->overflow)
		return reply(c, 413, "", 0, NULL, NULL);
	ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	return reply(c, 200, u->buf, u->len, "X-Got-Content-Type",
	    ct != NULL ? ct : "(none)");
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static int
setup(void **state)
{
	struct sockaddr_in sin;
	const union MHD_DaemonInfo *info;

	(void)state;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = 0;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handler, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (g_srv.d == NULL)
		return -1;
	info = MHD_get_daemon_info(g_srv.d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0)
		return -1;
	g_srv.port = info->port;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pthread_mutex_lock(&g_srv.mu);
	g_srv.slow_release = 1;
	pthread_cond_broadcast(&g_srv.cv);
	pthread_mutex_unlock(&g_srv.mu);
	if (g_srv.d != NULL)
		MHD_stop_daemon(g_srv.d);
	curl_global_cleanup();
	return 0;
}

/* A loopback port that refuses connections: bound (so nobody else takes
 * it during the test) but not listening. Returns the fd; *port gets it. */
static int
refusing_port(unsigned *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static const struct mlc_http_opts fast_opts = {
	.connect_timeout_ms = 2000,
	.timeout_ms = 3000,
};

static void
test_get_returns_status_body_and_content_type(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("GET", url("/hello"), NULL, NULL, 0,
	    NULL, NULL, &fast_opts, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 11);
	assert_string_equal(r.body, "hello world");
	assert_string_equal(r.content_type, "text/plain; charset=utf-8");
	assert_int_equal(r.retry_after_s, -1);
	mlc_http_resp_free(&r);
	assert_null(r.body);
}

static void
test_http_error_status_is_not_a_failure(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("GET", url("/nowhere"), NULL, NULL, 0,
	    NULL, NULL, NULL, &r, &err), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "not found");
	mlc_http_resp_free(&r);
}

static void
test_post_sends_body_and_headers(void **state)
{
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	const char body[] = "{\"a\":1}";
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("POST", url("/echo"), hdrs, body,
	    strlen(body), NULL, NULL, &fast_opts, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, body);
	mlc_http_resp_free(&r);
}

static void
test_post_body_length_is_explicit_not_strlen(void **state)
{
	const char body[] = { 'a', '\0', 'b' };
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("POST", url("/echo"), NULL, body,
	    sizeof(body), NULL, NULL, &fast_opts, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 3);
	assert_memory_equal(r.body, body, 3);
	assert_int_equal(r.body[3], '\0'); /* NUL-terminated past the data */
	mlc_http_resp_free(&r);
}

static void
test_post_body_spanning_several_reads_arrives_whole(void **state)
{
	static char body[6000];
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	memset(body, 'p', sizeof(body));
	assert_int_equal(mlc_http_request("POST", url("/echo"), NULL, body,
	    sizeof(body), NULL, NULL, &fast_opts, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, sizeof(body));
	assert_memory_equal(r.body, body, sizeof(body));
	mlc_http_resp_free(&r);
}

static void
test_caller_headers_are_sent(void **state)
{
	const char *hdrs[] = { "Accept: application/json", "X-Test: yes-it-arrived",
		NULL };
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("GET", url("/header"), hdrs, NULL, 0,
	    NULL, NULL, &fast_opts, &r, &err), 0);
	assert_string_equal(r.body, "yes-it-arrived");
	mlc_http_resp_free(&r);
}

static void
test_basic_auth_sends_credentials(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("GET", url("/auth"), NULL, NULL, 0,
	    "alice", "s3cret", &fast_opts, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "welcome");
	mlc_http_resp_free(&r);
}

static void
test_basic_auth_wrong_password_gets_401(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("GET", url("/auth"), NULL, NULL, 0,
	    "alice", "wrong", &fast_opts, &r, &err), 0);
	assert_int_equal(r.status, 401);
	mlc_http_resp_free(&r);
	assert_int_equal(mlc_http_request("GET", url("/auth"), NULL, NULL, 0,
	    NULL, NULL, &fast_opts, &r, &err), 0);
	assert_int_equal(r.status, 401);
	mlc_http_resp_free(&r);
}

static long
retry_after_of(const char *path)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };
	long v;

	assert_int_equal(mlc_http_request("GET", url(path), NULL, NULL, 0, NULL,
	    NULL, &fast_opts, &r, &err), 0);
	assert_int_equal(r.status, 429);
	v = r.retry_after_s;
	mlc_http_resp_free(&r);
	return v;
}

static void
test_retry_after_seconds_captured_on_429(void **state)
{
	(void)state;
	assert_int_equal(retry_after_of("/ratelimit"), 7);
}

static void
test_retry_after_http_date_converted_to_seconds(void **state)
{
	long v = retry_after_of("/ratelimit-date");

	(void)state;
	assert_true(v >= 27 && v <= 31);
}

static void
test_retry_after_unparseable_is_absent(void **state)
{
	(void)state;
	assert_int_equal(retry_after_of("/ratelimit-junk"), -1);
}

static void
test_retry_after_huge_saturates_at_one_day(void **state)
{
	(void)state;
	assert_int_equal(retry_after_of("/ratelimit-huge"), 86400);
}

static void
assert_body_cap_error(const char *path)
{
	struct mlc_http_opts o = fast_opts;
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	o.max_body = 1000;
	assert_int_equal(mlc_http_request("GET", url(path), NULL, NULL, 0, NULL,
	    NULL, &o, &r, &err), -1);
	assert_null(r.body);
	assert_non_null(strstr(err.msg, "response body from 127.0.0.1 exceeds "
	    "1000 bytes"));
	mlc_http_resp_free(&r);
}

static void
test_body_over_max_body_is_error(void **state)
{
	(void)state;
	assert_body_cap_error("/big");
}

static void
test_chunked_body_over_max_body_is_error(void **state)
{
	(void)state;
	assert_body_cap_error("/big-chunked");
}

static void
test_body_of_exactly_max_body_is_accepted(void **state)
{
	struct mlc_http_opts o = fast_opts;
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	o.max_body = 1000;
	assert_int_equal(mlc_http_request("GET", url("/exact1000"), NULL, NULL, 0,
	    NULL, NULL, &o, &r, &err), 0);
	assert_int_equal(r.body_len, 1000);
	mlc_http_resp_free(&r);
}

static void
test_timeout_is_error_mentioning_timeout(void **state)
{
	struct mlc_http_opts o = { .connect_timeout_ms = 2000, .timeout_ms = 300 };
	struct mlc_http_resp r;
	struct mlc_err err = { "" };
	int64_t t0 = mlc_time_mono_ms(), dt;
	int rc;

	(void)state;
	rc = mlc_http_request("GET", url("/slow"), NULL, NULL, 0, NULL, NULL, &o,
	    &r, &err);
	dt = mlc_time_mono_ms() - t0;
	pthread_mutex_lock(&g_srv.mu);
	g_srv.slow_release = 1;
	pthread_cond_broadcast(&g_srv.cv);
	pthread_mutex_unlock(&g_srv.mu);
	assert_int_equal(rc, -1);
	assert_int_equal(r.status, 0);
	assert_true(strstr(err.msg, "Timeout") != NULL ||
	    strstr(err.msg, "timed out") != NULL);
	assert_non_null(strstr(err.msg, "GET http://127.0.0.1:"));
	assert_true(dt >= 250 && dt < 2000);
	mlc_http_resp_free(&r);
}

struct cancel_arg {
	int64_t after_ms;       /* cancel once this long has passed */
	int64_t t0;
	int calls;
};

static int
cancel_after(void *arg)
{
	struct cancel_arg *ca = arg;

	ca->calls++;
	return mlc_time_mono_ms() - ca->t0 >= ca->after_ms;
}

/* mlc_http_opts.cancel: asked during the transfer, non-zero abandons it
 * (a stage's drain timeout) well before the request's own timeout. */
static void
test_cancel_abandons_a_slow_request(void **state)
{
	struct cancel_arg ca = { 200, 0, 0 };
	struct mlc_http_opts o = { .connect_timeout_ms = 2000, .timeout_ms = 5000,
	    .cancel = cancel_after, .cancel_arg = &ca };
	struct mlc_http_resp r;
	struct mlc_err err = { "" };
	int64_t dt;
	int rc;

	(void)state;
	pthread_mutex_lock(&g_srv.mu);
	g_srv.slow_release = 0;
	pthread_mutex_unlock(&g_srv.mu);
	ca.t0 = mlc_time_mono_ms();
	rc = mlc_http_request("GET", url("/slow"), NULL, NULL, 0, NULL, NULL, &o,
	    &r, &err);
	dt = mlc_time_mono_ms() - ca.t0;
	pthread_mutex_lock(&g_srv.mu);
	g_srv.slow_release = 1;
	pthread_cond_broadcast(&g_srv.cv);
	pthread_mutex_unlock(&g_srv.mu);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err.msg, "cancelled"));
	assert_non_null(strstr(err.msg, "GET http://127.0.0.1:"));
	assert_true(ca.calls > 0);
	assert_true(dt >= 150 && dt < 2000);
	mlc_http_resp_free(&r);
	/* A hook that never cancels changes nothing. */
	ca.after_ms = INT64_MAX / 2;
	ca.calls = 0;
	assert_int_equal(mlc_http_request("GET", url("/hello"), NULL, NULL, 0, NULL, NULL,
	    &o, &r, &err), 0);
	assert_int_equal(r.status, 200);
	mlc_http_resp_free(&r);
}

static void
test_connection_refused_names_host(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };
	char u[96];
	unsigned port;
	int fd = refusing_port(&port);

	(void)state;
	snprintf(u, sizeof(u), "http://127.0.0.1:%u/x", port);
	assert_int_equal(mlc_http_request("GET", u, NULL, NULL, 0, NULL, NULL,
	    &fast_opts, &r, &err), -1);
	close(fd);
	assert_int_equal(r.status, 0);
	assert_null(r.body);
	assert_non_null(strstr(err.msg, "127.0.0.1"));
	assert_non_null(strstr(err.msg, "connect"));
	mlc_http_resp_free(&r);
}

static void
test_error_for_long_url_still_names_host(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };
	char u[700];
	unsigned port;
	int fd = refusing_port(&port);
	int n;

	(void)state;
	n = snprintf(u, sizeof(u), "http://127.0.0.1:%u/", port);
	memset(u + n, 'p', sizeof(u) - (size_t)n - 1);
	u[sizeof(u) - 1] = '\0';
	assert_int_equal(mlc_http_request("GET", u, NULL, NULL, 0, NULL, NULL,
	    &fast_opts, &r, &err), -1);
	close(fd);
	assert_non_null(strstr(err.msg, "(host 127.0.0.1)"));
}

static void
test_errors_redact_userinfo_and_omit_header_values(void **state)
{
	const char *hdrs[] = { "Authorization: Bearer xoxb-SECRET-TOKEN", NULL };
	struct mlc_http_resp r;
	struct mlc_err err = { "" };
	char u[96];
	unsigned port;
	int fd = refusing_port(&port);

	(void)state;
	snprintf(u, sizeof(u), "http://bob:hunter2@127.0.0.1:%u/x", port);
	assert_int_equal(mlc_http_request("POST", u, hdrs, "{}", 2, "bob",
	    "hunter2", &fast_opts, &r, &err), -1);
	close(fd);
	assert_null(strstr(err.msg, "hunter2"));
	assert_null(strstr(err.msg, "xoxb-SECRET-TOKEN"));
	assert_non_null(strstr(err.msg, "***@127.0.0.1"));
	assert_non_null(strstr(err.msg, "POST"));
}

static void
test_rejects_header_with_line_break(void **state)
{
	const char *hdrs[] = { "X-Ok: 1", "X-A: b\r\nX-Evil: c", NULL };
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("GET", url("/hello"), hdrs, NULL, 0,
	    NULL, NULL, &fast_opts, &r, &err), -1);
	assert_non_null(strstr(err.msg, "header #2"));
	assert_null(strstr(err.msg, "Evil"));
}

static void
test_https_to_plain_http_server_fails(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };
	char u[96];

	(void)state;
	snprintf(u, sizeof(u), "https://127.0.0.1:%u/hello", g_srv.port);
	assert_int_equal(mlc_http_request("GET", u, NULL, NULL, 0, NULL, NULL,
	    &fast_opts, &r, &err), -1);
	assert_int_equal(r.status, 0);
	assert_null(r.body);
	assert_non_null(strstr(err.msg, "https://127.0.0.1:"));
}

static void
test_redirect_is_not_followed(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("GET", url("/redirect"), NULL, NULL, 0,
	    NULL, NULL, &fast_opts, &r, &err), 0);
	assert_int_equal(r.status, 302);
	assert_string_equal(r.body, "moved");
	mlc_http_resp_free(&r);
}

static void
test_rejects_non_http_protocols(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("GET", "file:///etc/hostname", NULL,
	    NULL, 0, NULL, NULL, &fast_opts, &r, &err), -1);
	assert_null(r.body);
	assert_non_null(strstr(err.msg, "file:///etc/hostname"));
	assert_int_equal(mlc_http_request("GET", "ftp://127.0.0.1:1/", NULL,
	    NULL, 0, NULL, NULL, &fast_opts, &r, &err), -1);
}

static void
test_rejects_unsupported_method_and_get_with_body(void **state)
{
	struct mlc_http_resp r;
	struct mlc_err err = { "" };

	(void)state;
	assert_int_equal(mlc_http_request("PUT", url("/echo"), NULL, "x", 1,
	    NULL, NULL, &fast_opts, &r, &err), -1);
	assert_non_null(strstr(err.msg, "PUT"));
	assert_int_equal(mlc_http_request("GET", url("/hello"), NULL, "x", 1,
	    NULL, NULL, &fast_opts, &r, &err), -1);
}

static void
test_easy_setup_accepts_defaults_and_ca_file(void **state)
{
	struct mlc_http_opts o = { .ca_file = "/nonexistent/ca.pem" };
	struct mlc_err err = { "" };
	CURL *h = curl_easy_init();

	(void)state;
	assert_non_null(h);
	assert_int_equal(mlc_http_easy_setup(h, NULL, &err), 0);
	assert_int_equal(mlc_http_easy_setup(h, &o, &err), 0);
	curl_easy_cleanup(h);
}

static void
test_urlencode_keeps_only_unreserved(void **state)
{
	char *s;

	(void)state;
	s = mlc_http_urlencode("AZaz09-._~");
	assert_string_equal(s, "AZaz09-._~");
	free(s);
	s = mlc_http_urlencode("a b&c=d/\xc3\xa9?#%+");
	assert_string_equal(s, "a%20b%26c%3Dd%2F%C3%A9%3F%23%25%2B");
	free(s);
	s = mlc_http_urlencode("UPDDATTIM gt @2024-05-01T00:00:00Z@");
	assert_string_equal(s, "UPDDATTIM%20gt%20%402024-05-01T00%3A00%3A00Z%40");
	free(s);
	s = mlc_http_urlencode("");
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_returns_status_body_and_content_type),
		cmocka_unit_test(test_http_error_status_is_not_a_failure),
		cmocka_unit_test(test_post_sends_body_and_headers),
		cmocka_unit_test(test_post_body_length_is_explicit_not_strlen),
		cmocka_unit_test(test_post_body_spanning_several_reads_arrives_whole),
		cmocka_unit_test(test_caller_headers_are_sent),
		cmocka_unit_test(test_basic_auth_sends_credentials),
		cmocka_unit_test(test_basic_auth_wrong_password_gets_401),
		cmocka_unit_test(test_retry_after_seconds_captured_on_429),
		cmocka_unit_test(test_retry_after_http_date_converted_to_seconds),
		cmocka_unit_test(test_retry_after_unparseable_is_absent),
		cmocka_unit_test(test_retry_after_huge_saturates_at_one_day),
		cmocka_unit_test(test_body_over_max_body_is_error),
		cmocka_unit_test(test_chunked_body_over_max_body_is_error),
		cmocka_unit_test(test_body_of_exactly_max_body_is_accepted),
		cmocka_unit_test(test_timeout_is_error_mentioning_timeout),
		cmocka_unit_test(test_cancel_abandons_a_slow_request),
		cmocka_unit_test(test_connection_refused_names_host),
		cmocka_unit_test(test_error_for_long_url_still_names_host),
		cmocka_unit_test(test_errors_redact_userinfo_and_omit_header_values),
		cmocka_unit_test(test_rejects_header_with_line_break),
		cmocka_unit_test(test_https_to_plain_http_server_fails),
		cmocka_unit_test(test_redirect_is_not_followed),
		cmocka_unit_test(test_rejects_non_http_protocols),
		cmocka_unit_test(test_rejects_unsupported_method_and_get_with_body),
		cmocka_unit_test(test_easy_setup_accepts_defaults_and_ca_file),
		cmocka_unit_test(test_urlencode_keeps_only_unreserved),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
