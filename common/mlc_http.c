/*
 * mlc_http: see mlc_http.h.
 *
 * One easy handle per request: the X3 poller makes a handful of requests per
 * cycle, so connection reuse is not worth a shared handle's state. The
 * dispatcher, which does care, uses its own multi handle and only borrows
 * mlc_http_easy_setup().
 *
 * Errors name the method, the URL with its userinfo redacted and curl's own
 * explanation; they never include a header value (an Authorization header
 * or a Slack token travels in headers) or the request body.
 */
#include "mlc_http.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mlc_log.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)
/* Retry-After values above a day are saturated: a broken or hostile server
 * must not park a queue for years, and a day is long enough to notice. */
#define RETRY_AFTER_MAX_S 86400L

struct body_buf {
	char *data;
	size_t len, cap, max;
	int too_big, oom;
};

static size_t
max_body_of(const struct mlc_http_opts *o)
{
	return o != NULL && o->max_body != 0 ? o->max_body : DEFAULT_MAX_BODY;
}

int
mlc_http_easy_setup(CURL *h, const struct mlc_http_opts *o, struct mlc_err *err)
{
	long cto = o != NULL && o->connect_timeout_ms > 0 ?
	    o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	long to = o != NULL && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	size_t max = max_body_of(o);
	CURLcode rc;

	/* Each setopt can only fail on an unknown option or out of memory;
	 * checking them one by one would hide the intent, so OR them. */
	rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cto);
	rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to);
	rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	rc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* Refuses early when the server announces a bigger Content-Length;
	 * chunked bodies are capped by the write callback (or, in the
	 * dispatcher, by its own). */
	rc |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
	rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	rc |= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* CAINFO replaces the system bundle for this handle: the file must
	 * hold the CA that signed the server (typically an on-premise X3's
	 * own CA). Verification itself stays on. */
	if (o != NULL && o->ca_file != NULL && o->ca_file[0] != '\0')
		rc |= curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
	if (rc != CURLE_OK)
		return mlc_err_set(err, "http: cannot set up a libcurl handle "
		    "(libcurl too old or out of memory)");
	return 0;
}

/* CURLOPT_XFERINFOFUNCTION: non-zero aborts the transfer. */
static int
cancel_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	const struct mlc_http_opts *o = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return o->cancel(o->cancel_arg) != 0;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body_buf *b = userdata;
	size_t n = size * nmemb;

	if (n > b->max - b->len) {
		b->too_big = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap != 0 ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1 && cap <= SIZE_MAX / 2)
			cap *= 2;
		if (cap < b->len + n + 1)
			cap = b->len + n + 1;
		if (b->max < SIZE_MAX && cap > b->max + 1)
			cap = b->max + 1; /* never reserve beyond the cap */
		p = realloc(b->data, cap);
		if (p == NULL) {
			b->oom = 1;
			return 0;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Value of header line "Name: value\r\n" if its name is `name`, trimmed into
 * a bounded copy. Returns 1 if it matched. */
static int
header_value(const char *line, size_t len, const char *name, char *out,
    size_t outsz)
{
	size_t nl = strlen(name), i, j;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return 0;
	i = nl + 1;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	j = len;
	while (j > i && isspace((unsigned char)line[j - 1]))
		j--;
	if (j - i >= outsz)
		j = i + outsz - 1;
	memcpy(out, line + i, j - i);
	out[j - i] = '\0';
	return 1;
}

/*
 * Retry-After is either delay-seconds or an HTTP-date (RFC 9110 10.2.3).
 * Slack sends seconds; a date is converted with curl_getdate() against the
 * local clock. Anything unparseable counts as absent (-1).
 */
static long
parse_retry_after(const char *v)
{
	long n = 0;
	const char *p = v;
	time_t when, now;

	if (*p >= '0' && *p <= '9') {
		for (; *p >= '0' && *p <= '9'; p++) {
			if (n < RETRY_AFTER_MAX_S)
				n = n * 10 + (*p - '0');
		}
		if (*p != '\0')
			return -1;
		return n > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : n;
	}
	when = curl_getdate(v, NULL);
	if (when == (time_t)-1)
		return -1;
	now = time(NULL);
	if (when <= now)
		return 0;
	return when - now > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (long)(when - now);
}

static size_t
header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
	struct mlc_http_resp *r = userdata;
	size_t len = size * nitems;
	char v[128];

	/* A new status line starts a new header block (e.g. after
	 * "100 Continue"): only the final response's headers count. */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		r->content_type[0] = '\0';
		r->retry_after_s = -1;
		return len;
	}
	if (header_value(line, len, "Content-Type", r->content_type,
	    sizeof(r->content_type)))
		return len;
	if (header_value(line, len, "Retry-After", v, sizeof(v)))
		r->retry_after_s = parse_retry_after(v);
	return len;
}

/* Header lines from the caller go on the wire verbatim: a CR or LF would
 * let a value smuggle in another header or a request. */
static int
header_ok(const char *h)
{
	return strchr(h, '\r') == NULL && strchr(h, '\n') == NULL &&
	    strchr(h, ':') != NULL;
}

int
mlc_http_request(const char *method, const char *url,
    const char *const *headers, const char *body, size_t body_len,
    const char *user, const char *password,
    const struct mlc_http_opts *o, struct mlc_http_resp *resp, struct mlc_err *err)
{
	char safe_url[256], host[128] = "?", errbuf[CURL_ERROR_SIZE];
	struct body_buf b = { NULL, 0, 0, max_body_of(o), 0, 0 };
	struct curl_slist *hl = NULL, *tmp;
	CURL *h = NULL;
	CURLU *u = NULL;
	char *uhost = NULL;
	CURLcode rc;
	int is_post, url_cut, ret = -1;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	mlc_log_redact_url(url != NULL ? url : "(null)", safe_url, sizeof(safe_url));
	url_cut = strlen(safe_url) + 1 >= sizeof(safe_url);
	if (method == NULL || url == NULL) {
		mlc_err_set(err, "http: request without a method or URL");
		goto out;
	}
	if (strcmp(method, "POST") == 0) {
		is_post = 1;
	} else if (strcmp(method, "GET") == 0) {
		is_post = 0;
		if (body != NULL && body_len != 0) {
			mlc_err_set(err, "http: GET %s with a body", safe_url);
			goto out;
		}
	} else {
		mlc_err_set(err, "http: unsupported method '%.16s' for %s", method,
		    safe_url);
		goto out;
	}
	/* The host, for messages that must name it even when the URL is long. */
	u = curl_url();
	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &uhost, 0) == CURLUE_OK)
		snprintf(host, sizeof(host), "%s", uhost);
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (!header_ok(headers[i])) {
			/* Say which one by position, not by content: the
			 * value may be a secret. */
			mlc_err_set(err, "http: %s %s: request header #%zu is not a "
			    "single 'Name: value' line", method, safe_url, i + 1);
			goto out;
		}
		tmp = curl_slist_append(hl, headers[i]);
		if (tmp == NULL)
			goto oom;
		hl = tmp;
	}
	if (is_post) {
		/* curl would otherwise wait for "100 Continue" on bigger
		 * bodies, a round trip some servers never answer. */
		tmp = curl_slist_append(hl, "Expect:");
		if (tmp == NULL)
			goto oom;
		hl = tmp;
	}
	h = curl_easy_init();
	if (h == NULL)
		goto oom;
	if (mlc_http_easy_setup(h, o, err) != 0)
		goto out;
	errbuf[0] = '\0';
	rc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	rc |= curl_easy_setopt(h, CURLOPT_URL, url);
	rc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	rc |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	rc |= curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	if (is_post) {
		rc |= curl_easy_setopt(h, CURLOPT_POST, 1L);
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body != NULL ? body_len : 0));
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
	}
	if (user != NULL) {
		rc |= curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		rc |= curl_easy_setopt(h, CURLOPT_USERNAME, user);
		rc |= curl_easy_setopt(h, CURLOPT_PASSWORD,
		    password != NULL ? password : "");
	}
	if (o != NULL && o->cancel != NULL) {
		rc |= curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cancel_cb);
		rc |= curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)(uintptr_t)o);
		rc |= curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (rc != CURLE_OK) {
		mlc_err_set(err, "http: %s %s: cannot set up the request "
		    "(libcurl too old or out of memory)", method, safe_url);
		goto out;
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		mlc_err_set(err, "http: %s %s: cancelled", method, safe_url);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		mlc_err_set(err, "http: %s %s: response body from %s exceeds %zu "
		    "bytes", method, safe_url, host, b.max);
		goto out;
	}
	if (b.oom)
		goto oom;
	if (rc != CURLE_OK) {
		/* curl's error buffer has the detail ("Failed to connect to
		 * 127.0.0.1 port 9 after 0 ms: Couldn't connect to server");
		 * strerror is the fallback. A long URL is cut short in
		 * safe_url, so then the host is named separately. */
		mlc_err_set(err, "http: %s %s%s%s%s: %s", method, safe_url,
		    url_cut ? " (host " : "", url_cut ? host : "", url_cut ? ")" : "",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	if (b.data == NULL) {
		b.data = malloc(1);
		if (b.data == NULL)
			goto oom;
		b.data[0] = '\0';
	}
	resp->body = b.data;
	resp->body_len = b.len;
	b.data = NULL;
	ret = 0;
	goto out;
oom:
	mlc_err_set(err, "http: %s %s: out of memory", method != NULL ? method : "?",
	    safe_url);
out:
	if (ret != 0) {
		resp->body = NULL;
		resp->body_len = 0;
	}
	free(b.data);
	curl_free(uhost);
	curl_url_cleanup(u);
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hl);
	return ret;
}

void
mlc_http_resp_free(struct mlc_http_resp *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

char *
mlc_http_urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), j = 0;
	char *out;

	/* Worst case every byte becomes "%XX". */
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(n * 3 + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			out[j++] = (char)c;
		} else {
			out[j++] = '%';
			out[j++] = hex[c >> 4];
			out[j++] = hex[c & 15];
		}
	}
	out[j] = '\0';
	return out;
}
