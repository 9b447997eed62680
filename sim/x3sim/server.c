/*
 * server.c: the HTTP side of x3sim - libmicrohttpd set-up, authentication,
 * dispatch to the route modules, reply helpers and the request log.
 *
 * libmicrohttpd runs one thread per connection so a slow request (later:
 * injected latency) never blocks other clients; the route handlers share
 * the store through its mutex. Request bodies are not used by any route
 * yet: they are read, counted against a cap and dropped.
 */
#include "x3sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "mlc_log.h"

#define URL_MAX  2048        /* decoded path */
#define BODY_MAX (64 * 1024) /* bytes accepted (and dropped) per request */

struct conn_state {
	size_t body;
};

const char *
x3_req_arg(const struct x3_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
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
	free(r->body);
	r->body = NULL;
	r->len = 0;
	r->status = status;
	d = json_pack("{s:s, s:s, s:s}", "$severity", "error", "$sdataCode", sdata_code,
	    "$message", clean);
	if (d != NULL && app_code != NULL)
		json_object_set_new(d, "$applicationCode", json_string(app_code));
	root = d ? json_pack("{s:[o]}", "$diagnoses", d) : NULL;
	if (root != NULL)
		r->body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (r->body != NULL)
		r->len = strlen(r->body);
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
	free(r->body);
	r->status = status;
	r->body = body;
	r->len = len;
}

/* Constant-time equality so the password cannot be guessed by timing. */
static int
secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);

	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0 && lb > 0;
}

/* Basic auth, realm "Syracuse". Bearer tokens come with the OAuth2 work. */
static int
auth_ok(const struct x3_server *srv, struct MHD_Connection *conn)
{
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(conn, &pass);
	int ok = user != NULL && pass != NULL && secret_eq(user, srv->user) &&
	    secret_eq(pass, srv->password);

	if (user != NULL)
		MHD_free(user);
	if (pass != NULL)
		MHD_free(pass);
	return ok;
}

static void
dispatch(struct x3_server *srv, struct MHD_Connection *conn, const char *url,
    const char *method, struct x3_reply *r)
{
	struct x3_req rq = { srv, conn, method, url };

	if (strncmp(url, "/sim/", 5) == 0) {
		x3_simctl_handle(&rq, r);
	} else if (strncmp(url, "/api1/", 6) == 0) {
		if (!auth_ok(srv, conn)) {
			x3_reply_diag(r, 401, "Unauthorized", NULL,
			    "Authentication failed: check the user and password");
			r->auth_challenge = 1;
			return;
		}
		x3_api1_handle(&rq, r);
	} else {
		x3_reply_diag(r, 404, "ResourceNotFound", NULL, "No such endpoint");
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
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char shown[160];

	(void)version;
	(void)upload_data;
	if (cs == NULL) {
		cs = calloc(1, sizeof(*cs));
		if (cs == NULL)
			return MHD_NO;
		*con_cls = cs;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		cs->body += *upload_data_size;
		*upload_data_size = 0;
		return cs->body > BODY_MAX ? MHD_NO : MHD_YES;
	}

	x3_store_lock(srv->store);
	srv->store->requests++;
	x3_store_unlock(srv->store);

	if (strnlen(url, URL_MAX + 1) > URL_MAX)
		x3_reply_diag(&r, 414, "BadRequest", NULL, "URL longer than %d bytes", URL_MAX);
	else
		dispatch(srv, conn, url, method, &r);
	if (r.body == NULL) {
		r.status = 500;
		r.body = strdup("{\"$diagnoses\":[{\"$severity\":\"error\",\"$message\":\"out of memory\"}]}");
		if (r.body == NULL)
			return MHD_NO;
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
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json; charset=utf-8");
	if (r.auth_challenge)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Basic realm=\"Syracuse\"");
	ret = MHD_queue_response(conn, (unsigned int)r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

int
x3_server_start(struct x3_server *srv, int listen_fd, struct mlc_err *err)
{
	srv->mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    (srv->quiet ? 0 : MHD_USE_ERROR_LOG),
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
