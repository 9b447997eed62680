/*
 * server.c: the HTTP side of x3sim - libmicrohttpd set-up (optionally TLS),
 * request bodies, dispatch to the route modules, the data-route gate
 * (faults, then authentication), reply helpers and the request log.
 *
 * libmicrohttpd runs one thread per connection so a slow request (injected
 * latency) never blocks other clients; the route handlers share the store
 * through its mutex. Request bodies are kept up to BODY_MAX (the token
 * gateway and GraphQL read them); a larger body is drained and refused with
 * 413 rather than buffered.
 */
#include "x3sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "mlc_log.h"

#define URL_MAX  2048        /* decoded path */
#define BODY_MAX (64 * 1024) /* bytes kept per request */

struct conn_state {
	char  *body;
	size_t len;
	int    too_big;
};

const char *
x3_req_arg(const struct x3_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
x3_req_header(const struct x3_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

static void
set_body(struct x3_reply *r, int status, char *body)
{
	free(r->body);
	r->status = status;
	r->body = body;
	r->len = body ? strlen(body) : 0;
	r->ctype = NULL;
}

void
x3_reply_diag(struct x3_reply *r, int status, const char *sdata_code,
    const char *app_code, const char *fmt, ...)
{
	char msg[600], clean[600];
	json_t *root, *d;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages may quote request text: keep them printable ASCII so they
	 * are always valid UTF-8 and safe in logs. */
	x3_sanitize(msg, clean, sizeof(clean));
	d = json_pack("{s:s, s:s, s:s}", "$severity", "error", "$sdataCode", sdata_code,
	    "$message", clean);
	if (d != NULL && app_code != NULL)
		json_object_set_new(d, "$applicationCode", json_string(app_code));
	root = d ? json_pack("{s:[o]}", "$diagnoses", d) : NULL;
	set_body(r, status, root ? json_dumps(root, JSON_COMPACT) : NULL);
	json_decref(root);
}

void
x3_reply_message(struct x3_reply *r, int status, const char *msg)
{
	json_t *root = json_pack("{s:s}", "message", msg);

	set_body(r, status, root ? json_dumps(root, JSON_COMPACT) : NULL);
	json_decref(root);
}

void
x3_reply_gql_error(struct x3_reply *r, int status, const char *fmt, ...)
{
	char msg[600], clean[600];
	json_t *root;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	x3_sanitize(msg, clean, sizeof(clean));
	root = json_pack("{s:[{s:s}]}", "errors", "message", clean);
	set_body(r, status, root ? json_dumps(root, JSON_COMPACT) : NULL);
	json_decref(root);
}

void
x3_reply_text(struct x3_reply *r, int status, const char *ctype, const char *text)
{
	set_body(r, status, strdup(text));
	r->ctype = ctype;
}

void
x3_reply_buf(struct x3_reply *r, int status, struct x3_buf *b)
{
	size_t len = 0;
	char *body = x3_buf_take(b, &len);

	if (body == NULL) {
		x3_reply_diag(r, 500, "ApplicationDiagnosis", NULL, "out of memory");
		return;
	}
	set_body(r, status, body);
	r->len = len;
}

void
x3_reply_json(struct x3_reply *r, int status, json_t *root)
{
	char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;

	json_decref(root);
	if (body == NULL) {
		x3_reply_diag(r, 500, "ApplicationDiagnosis", NULL, "out of memory");
		return;
	}
	set_body(r, status, body);
}

/* ---- data routes: faults, then auth ----------------------------------- */

static const char HTML_503[] =
    "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head>"
    "<body><h1>Service Unavailable</h1><p>The server is temporarily unable to "
    "service your request.</p></body></html>";

/* Returns 1 when the request may go on to its handler. */
static int
gate(struct x3_req *rq, int graphql, struct x3_reply *r)
{
	struct x3_server *srv = rq->srv;
	unsigned retry_after = 0;

	switch (x3_fault_gate(srv->faults, &retry_after)) {
	case X3_GATE_5XX:
		x3_reply_text(r, 503, "text/html; charset=utf-8", HTML_503);
		return 0;
	case X3_GATE_THROTTLE:
		/* What integrators report near the licence cap (reference 4). */
		x3_reply_diag(r, 503, "ServiceUnavailable", "LICENSE",
		    "Licence limit reached: no web service licence is available, "
		    "the web server will no more return answers until a session is released");
		return 0;
	case X3_GATE_RATELIMIT:
		x3_reply_diag(r, 429, "TooManyRequests", NULL,
		    "Too many requests: retry after %u seconds", retry_after);
		r->retry_after = (int)retry_after + 1;
		return 0;
	case X3_GATE_PASS:
		break;
	}
	switch (x3_auth_check(srv->auth, x3_req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION))) {
	case X3_AUTH_OK:
		return 1;
	case X3_AUTH_BAD_APP:
		x3_reply_text(r, 401, "text/plain; charset=utf-8", "Error 401: Invalid token");
		return 0;
	case X3_AUTH_EXPIRED:
		if (graphql)
			x3_reply_message(r, 401, "Unauthorised");
		else
			x3_reply_diag(r, 401, "Unauthorized", NULL,
			    "The access token has expired: refresh it");
		return 0;
	case X3_AUTH_BAD_BEARER:
		if (graphql)
			x3_reply_message(r, 401, "Unauthorised");
		else
			x3_reply_diag(r, 401, "Unauthorized", NULL,
			    "Invalid access token: authenticate again");
		return 0;
	case X3_AUTH_BAD_BASIC:
		if (graphql) {
			x3_reply_message(r, 401, "Unauthorised");
		} else {
			x3_reply_diag(r, 401, "Unauthorized", NULL,
			    "Authentication failed: check the user and password");
			r->auth_challenge = 1;
		}
		return 0;
	}
	return 0;
}

/* A data page leaves through here: the malformed fault corrupts it. */
static void
maybe_corrupt(struct x3_server *srv, struct x3_reply *r)
{
	if (r->status == 200 && r->body != NULL && r->ctype == NULL &&
	    x3_fault_take_malformed(srv->faults))
		(void)x3_fault_corrupt(&r->body, &r->len);
}

static enum x3_route
route_of(const char *url)
{
	if (strncmp(url, "/api1/", 6) == 0)
		return X3_ROUTE_API1;
	if (strcmp(url, "/xtrem/api") == 0)
		return X3_ROUTE_GRAPHQL;
	if (strcmp(url, "/v1/token") == 0)
		return X3_ROUTE_TOKEN;
	if (strcmp(url, "/v1/token/authorise") == 0)
		return X3_ROUTE_AUTHORISE;
	if (strncmp(url, "/sim/", 5) == 0)
		return X3_ROUTE_SIM;
	return X3_ROUTE_OTHER;
}

static void
dispatch(struct x3_req *rq, enum x3_route route, struct x3_reply *r)
{
	switch (route) {
	case X3_ROUTE_SIM:
		if (strcmp(rq->path, "/sim/fault") == 0)
			x3_fault_handle(rq, r);
		else if (strncmp(rq->path, "/sim/token/", 11) == 0)
			x3_auth_sim_handle(rq, r);
		else
			x3_simctl_handle(rq, r);
		break;
	case X3_ROUTE_API1:
		if (gate(rq, 0, r)) {
			x3_api1_handle(rq, r);
			maybe_corrupt(rq->srv, r);
		}
		break;
	case X3_ROUTE_GRAPHQL:
		if (strcmp(rq->method, "POST") != 0) {
			x3_reply_gql_error(r, 405, "Use POST /xtrem/api with a JSON body");
		} else if (gate(rq, 1, r)) {
			x3_graphql_handle(rq, r);
			maybe_corrupt(rq->srv, r);
		}
		break;
	case X3_ROUTE_TOKEN:
	case X3_ROUTE_AUTHORISE:
		x3_auth_token_handle(rq, r);
		break;
	default:
		x3_reply_diag(r, 404, "ResourceNotFound", NULL, "No such endpoint");
		break;
	}
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct x3_server *srv = cls;
	struct conn_state *cs = *con_cls;
	struct x3_reply r = { 0 };
	struct x3_req rq;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	enum x3_route route;
	char shown[160];

	(void)version;
	if (cs == NULL) {
		cs = calloc(1, sizeof(*cs));
		if (cs == NULL)
			return MHD_NO;
		*con_cls = cs;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;
		char *nb;

		*upload_data_size = 0;
		if (cs->too_big || cs->len + n > BODY_MAX) {
			cs->too_big = 1;
			return MHD_YES;
		}
		nb = realloc(cs->body, cs->len + n + 1);
		if (nb == NULL)
			return MHD_NO;
		memcpy(nb + cs->len, upload_data, n);
		cs->body = nb;
		cs->len += n;
		cs->body[cs->len] = '\0';
		return MHD_YES;
	}

	route = route_of(url);
	x3_store_lock(srv->store);
	srv->store->requests++;
	srv->routes[route]++;
	x3_store_unlock(srv->store);

	rq.srv = srv;
	rq.conn = conn;
	rq.method = method;
	rq.path = url;
	rq.body = cs->body ? cs->body : "";
	rq.body_len = cs->len;
	if (strnlen(url, URL_MAX + 1) > URL_MAX)
		x3_reply_diag(&r, 414, "BadRequest", NULL, "URL longer than %d bytes", URL_MAX);
	else if (cs->too_big)
		x3_reply_diag(&r, 413, "BadRequest", NULL, "request body larger than %d bytes",
		    BODY_MAX);
	else
		dispatch(&rq, route, &r);
	if (r.body == NULL) {
		r.status = 500;
		r.ctype = NULL;
		r.body = strdup("{\"$diagnoses\":[{\"$severity\":\"error\",\"$message\":\"out of memory\"}]}");
		if (r.body == NULL) {
			free(r.location);
			return MHD_NO;
		}
		r.len = strlen(r.body);
	}

	if (!srv->quiet) {
		/* The path only: the query may carry a where clause or a cursor,
		 * and nothing after '?' is worth a log line. */
		x3_sanitize(url, shown, sizeof(shown));
		mlc_info("%s %s %d", method, shown, r.status);
	}

	resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(r.body);
		free(r.location);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    r.ctype ? r.ctype : "application/json; charset=utf-8");
	if (r.auth_challenge)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Basic realm=\"Syracuse\"");
	if (r.location != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r.location);
	if (r.retry_after > 0) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%d", r.retry_after - 1);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	free(r.location);
	ret = MHD_queue_response(conn, (unsigned int)r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (cs != NULL)
		free(cs->body);
	free(cs);
	*con_cls = NULL;
}

int
x3_server_start(struct x3_server *srv, int listen_fd, struct mlc_err *err)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    (srv->quiet ? 0 : MHD_USE_ERROR_LOG);

	if (srv->tls_cert != NULL) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
			return mlc_err_set(err, "x3sim: this libmicrohttpd was built without TLS");
		srv->mhd = MHD_start_daemon(flags | MHD_USE_TLS,
		    0, NULL, NULL, on_request, srv,
		    MHD_OPTION_LISTEN_SOCKET, listen_fd,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
		    MHD_OPTION_HTTPS_MEM_CERT, srv->tls_cert,
		    MHD_OPTION_HTTPS_MEM_KEY, srv->tls_key,
		    MHD_OPTION_END);
		if (srv->mhd == NULL)
			return mlc_err_set(err, "x3sim: libmicrohttpd failed to start TLS "
			    "(check --tls-cert / --tls-key are a matching PEM pair)");
		return 0;
	}
	srv->mhd = MHD_start_daemon(flags,
	    0, NULL, NULL, on_request, srv,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
	    MHD_OPTION_END);
	if (srv->mhd == NULL)
		return mlc_err_set(err, "x3sim: libmicrohttpd failed to start");
	return 0;
}

void
x3_server_stop(struct x3_server *srv)
{
	if (srv->mhd != NULL) {
		MHD_stop_daemon(srv->mhd);
		srv->mhd = NULL;
	}
}
