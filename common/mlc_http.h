/*
 * mlc_http: a small blocking HTTP client on libcurl, for X3 and for the
 * CLI's checks. (The dispatcher drives libcurl's multi interface itself and
 * uses mlc_http_easy_setup() for the same safe defaults.)
 *
 * Defaults that are never silently weakened: TLS peer and host verification
 * on; a custom CA file may be added for self-signed on-premise servers;
 * connect and total timeouts always set; CURLOPT_NOSIGNAL; redirects not
 * followed; response bodies capped (a bigger body is an error, not a
 * truncation); only http and https.
 */
#ifndef MLC_HTTP_H
#define MLC_HTTP_H

#include <stddef.h>
#include <curl/curl.h>

#include "mlc_err.h"

struct mlc_http_opts {
	long connect_timeout_ms; /* default 10000 when 0 */
	long timeout_ms;         /* total; default 30000 when 0 */
	const char *ca_file;     /* extra CA bundle (PEM) or NULL */
	size_t max_body;         /* response cap; default 16 MiB when 0 */
	/* mlc_http_request only: asked during the transfer (at least once a
	 * second); non-zero abandons it, an error "cancelled". NULL = never
	 * (a stage's drain timeout passing, mlc_proc.h). */
	int (*cancel)(void *arg);
	void *cancel_arg;
};

struct mlc_http_resp {
	long status;            /* HTTP status, 0 if no response */
	char *body;             /* NUL-terminated, malloc'd; may be empty */
	size_t body_len;
	char content_type[128]; /* "" if absent */
	long retry_after_s;     /* Retry-After in seconds, -1 if absent */
};

/* Applies the defaults above to an easy handle (timeouts, TLS, protocols,
 * NOSIGNAL, no redirects). Returns 0 / -1.
 *
 * o may be NULL (all defaults). ca_file is passed as CURLOPT_CAINFO, which
 * REPLACES the system bundle for this handle: it must contain the CA that
 * signed the server. The body cap is applied as CURLOPT_MAXFILESIZE_LARGE,
 * which only stops a body whose Content-Length is announced; a caller that
 * installs its own write callback must also count bytes itself (chunked
 * responses). Call curl_global_init() once at start-up, before threads. */
int mlc_http_easy_setup(CURL *h, const struct mlc_http_opts *o, struct mlc_err *err);

/*
 * Performs one request. method is "GET" or "POST"; body may be NULL.
 * headers is a NULL-terminated array of "Name: value" strings (may contain
 * an Authorization header: it is never logged). For Basic auth pass
 * user/password (else NULL). On transport failure returns -1 with a message
 * naming the host and the curl error (the URL's userinfo is redacted).
 * An HTTP error status is NOT a failure here: resp->status tells.
 *
 * Also fails on: a method other than GET/POST, a GET with a body, a header
 * line containing CR or LF or no ':' (named by position, never by value),
 * a URL that is not http/https, a body bigger than max_body ("response
 * body from HOST exceeds N bytes"). Redirects come back as 3xx. On -1
 * resp->body is NULL; resp->status is what was received (0 if nothing).
 * mlc_http_resp_free() is safe after either outcome.
 *
 * Retry-After: delay-seconds, or an HTTP-date converted to seconds from
 * now (0 if past); values above 86400 are saturated to 86400; anything
 * else counts as absent (-1). Only the final response's headers count.
 */
int mlc_http_request(const char *method, const char *url,
    const char *const *headers, const char *body, size_t body_len,
    const char *user, const char *password,
    const struct mlc_http_opts *o, struct mlc_http_resp *resp, struct mlc_err *err);

void mlc_http_resp_free(struct mlc_http_resp *resp);

/* URL-encodes s into a malloc'd string (RFC 3986 unreserved kept; every
 * other byte as upper-case %XX, space included). NULL if out of memory. */
char *mlc_http_urlencode(const char *s);

#endif
