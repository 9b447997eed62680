/*
 * http: the auditor's HTTP listeners on libmicrohttpd.
 *
 *   auditor.http_listen (default 127.0.0.1:9464, loopback: metrics are not
 *   for the internet)   GET /metrics, GET /healthz, and POST /slack/... when
 *                       inbound.listen is not set
 *   inbound.listen      POST /slack/... only (put this one behind the TLS
 *                       reverse proxy Slack talks to)
 *
 * MHD runs without threads of its own (MHD_USE_EPOLL, external loop): the
 * main loop polls its epoll fd with the ZeroMQ sockets and calls MHD_run(),
 * so handlers read the auditor's state and write its journal on the main
 * thread, without locks. Handlers never block: everything they need is in
 * memory or in LMDB.
 */
#include "auditor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "inbound.h"
#include "mlc_audit.h"
#include "mlc_log.h"
#include "mlc_time.h"

#define MAX_REJECT_AUDITS_PER_MIN 60

struct aud_http {
	struct MHD_Daemon *d[2];
	int metrics[2], inbound[2];
	size_t n;
	char addr[64];
	int64_t reject_window;
	int reject_count;
};

struct conn {
	char *buf;
	size_t len, cap;
	int too_big;
};

struct listener {
	struct auditor *a;
	int metrics, inbound;
};

static struct listener listeners[2];

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned status, const char *ct, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(body ? strlen(body) : 0,
	    (void *)(uintptr_t)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	if (ct != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ct);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- inbound glue ---- */

static char *
ops_status(void *arg)
{
	struct auditor *a = arg;

	return aud_state_summary(&a->state, &a->cfg, a->now_ms());
}

static char *
ops_replay(void *arg, const char *user)
{
	struct auditor *a = arg;
	struct aud_replay_opts o;
	struct mlc_err err;
	char by[96], *out;
	size_t sent = 0, skipped = 0;
	json_t *res, *v;
	size_t i;

	memset(&o, 0, sizeof(o));
	snprintf(by, sizeof(by), "slack:%s", user);
	o.by = by;
	res = aud_replay(a, &o, &err);
	if (res == NULL) {
		mlc_error("replay from Slack: %s", err.msg);
		return strdup("Replay failed: see the auditor's log.");
	}
	json_array_foreach(res, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "result")), "sent") == 0)
			sent++;
		else
			skipped++;
	}
	json_decref(res);
	out = malloc(160);
	if (out != NULL)
		snprintf(out, 160, "Replaying %zu failed message(s); %zu skipped (already "
		    "posted, in flight or in doubt: see mlc audit --kind replay).", sent, skipped);
	return out;
}

static int
ops_seen(void *arg, const char *event_id)
{
	return aud_event_seen(arg, event_id);
}

static void
ops_audit(void *arg, const char *type, const char *outcome, const char *reason,
    const char *user_id, const char *command, const char *text, const char *event_id)
{
	struct auditor *a = arg;
	struct aud_http *h = a->http;
	struct mlc_auditb b;

	if (strcmp(outcome, "rejected") == 0) {
		int64_t now = a->now_ms();

		/* Unsigned junk must not flood the journal. */
		if (now - h->reject_window > 60000) {
			h->reject_window = now;
			h->reject_count = 0;
		}
		if (++h->reject_count > MAX_REJECT_AUDITS_PER_MIN) {
			a->state.inbound_total++;
			a->state.inbound_rejected++;
			return;
		}
	}
	mlc_auditb_init(&b, "inbound");
	mlc_auditb_str(&b, "type", type);
	mlc_auditb_str(&b, "outcome", outcome);
	mlc_auditb_str(&b, "reason", reason);
	mlc_auditb_str(&b, "user_id", user_id);
	mlc_auditb_str(&b, "command", command);
	mlc_auditb_str(&b, "text", text);
	mlc_auditb_str(&b, "event_id", event_id);
	aud_emit(a, &b);
}

static enum MHD_Result
inbound(struct auditor *a, struct MHD_Connection *c, struct conn *cn)
{
	struct aud_inbound_cfg ic = {
		a->signing_secret, a->signing_secret ? strlen(a->signing_secret) : 0,
		a->cfg.inbound.command, a->cfg.inbound.replay_users,
		(size_t)a->cfg.inbound.max_body,
	};
	struct aud_inbound_ops ops = { a, ops_status, ops_replay, ops_seen, ops_audit };
	struct aud_inbound_req rq;
	struct aud_inbound_resp rs;
	enum MHD_Result ret;

	memset(&rq, 0, sizeof(rq));
	rq.ts_header = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Slack-Request-Timestamp");
	rq.sig_header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Slack-Signature");
	rq.retry_num = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Slack-Retry-Num");
	rq.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	rq.body = cn->buf ? cn->buf : "";
	rq.len = cn->len;
	rq.too_big = cn->too_big;
	aud_inbound_handle(&ic, &ops, &rq, a->now_ms() / 1000, &rs);
	ret = respond(c, (unsigned)rs.status, rs.body ? rs.content_type : NULL, rs.body);
	free(rs.body);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct auditor *a = l->a;
	struct conn *cn = *con_cls;
	size_t limit = (size_t)a->cfg.inbound.max_body;

	(void)version;
	if (cn == NULL) {
		cn = calloc(1, sizeof(*cn));
		if (cn == NULL)
			return MHD_NO;
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;

		if (!l->inbound || strncmp(url, "/slack/", 7) != 0 || cn->too_big ||
		    cn->len + n > limit) {
			cn->too_big = 1; /* keep reading, keep nothing */
		} else {
			if (cn->len + n + 1 > cn->cap) {
				size_t nc = cn->len + n + 1 > 4096 ? cn->len + n + 1 : 4096;
				char *p = realloc(cn->buf, nc);

				if (p == NULL)
					return MHD_NO;
				cn->buf = p;
				cn->cap = nc;
			}
			memcpy(cn->buf + cn->len, upload, n);
			cn->len += n;
			cn->buf[cn->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (l->metrics && strcmp(method, "GET") == 0 && strcmp(url, "/metrics") == 0) {
		char *m = aud_state_metrics(&a->state, a->now_ms());
		enum MHD_Result r = m ? respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
		    m) : respond(c, 500, NULL, NULL);

		free(m);
		return r;
	}
	if (l->metrics && strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0) {
		int code;
		json_t *doc = aud_state_health(&a->state, &a->cfg, a->now_ms(), &code);
		char *s = json_dumps(doc, JSON_COMPACT);
		enum MHD_Result r = respond(c, (unsigned)code, "application/json", s);

		free(s);
		json_decref(doc);
		return r;
	}
	if (l->inbound && strcmp(method, "POST") == 0 && strncmp(url, "/slack/", 7) == 0 &&
	    a->signing_secret != NULL)
		return inbound(a, c, cn);
	return respond(c, 404, "text/plain", "not found\n");
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (cn != NULL) {
		free(cn->buf);
		free(cn);
		*con_cls = NULL;
	}
}

static int
parse_listen(const char *s, struct sockaddr_in *sa, struct mlc_err *err)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return mlc_err_set(err, "listen address '%s' is not IPV4:PORT", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (strcmp(host, "*") == 0)
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return mlc_err_set(err, "listen address '%s': '%s' is not an IPv4 address", s,
		    host);
	return 0;
}

static int
start_one(struct auditor *a, const char *listen, int metrics, int inb, struct mlc_err *err)
{
	struct aud_http *h = a->http;
	struct sockaddr_in sa;
	struct listener *l = &listeners[h->n];
	struct MHD_Daemon *d;

	if (parse_listen(listen, &sa, err) != 0)
		return -1;
	l->a = a;
	l->metrics = metrics;
	l->inbound = inb;
	d = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, l,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
	    MHD_OPTION_END);
	if (d == NULL)
		return mlc_err_set(err, "cannot listen on %s (in use, or not an address of this "
		    "host?): set %s", listen, metrics ? "auditor.http_listen" : "inbound.listen");
	h->d[h->n] = d;
	h->metrics[h->n] = metrics;
	h->inbound[h->n] = inb;
	if (metrics) {
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		snprintf(h->addr, sizeof(h->addr), "%s:%u", ip, di ? (unsigned)di->port : 0u);
	}
	h->n++;
	return 0;
}

int
aud_http_start(struct auditor *a, struct mlc_err *err)
{
	const char *il = a->cfg.inbound.listen;

	a->http = calloc(1, sizeof(*a->http));
	if (a->http == NULL)
		return mlc_err_set(err, "out of memory");
	if (a->cfg.aud.http_listen[0] != '\0' &&
	    start_one(a, a->cfg.aud.http_listen, 1, il[0] == '\0', err) != 0)
		return -1;
	if (il[0] != '\0' && start_one(a, il, 0, 1, err) != 0)
		return -1;
	return 0;
}

void
aud_http_stop(struct auditor *a)
{
	if (a->http == NULL)
		return;
	for (size_t i = 0; i < a->http->n; i++)
		MHD_stop_daemon(a->http->d[i]);
	free(a->http);
	a->http = NULL;
}

int
aud_http_fds(struct auditor *a, int fds[2])
{
	int n = 0;

	for (size_t i = 0; a->http != NULL && i < a->http->n; i++) {
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(a->http->d[i],
		    MHD_DAEMON_INFO_EPOLL_FD);

		if (di != NULL)
			fds[n++] = di->epoll_fd;
	}
	return n;
}

void
aud_http_run(struct auditor *a)
{
	for (size_t i = 0; a->http != NULL && i < a->http->n; i++)
		MHD_run(a->http->d[i]);
}

int64_t
aud_http_timeout(struct auditor *a)
{
	int64_t t = -1;

	for (size_t i = 0; a->http != NULL && i < a->http->n; i++) {
		MHD_UNSIGNED_LONG_LONG ms;

		if (MHD_get_timeout(a->http->d[i], &ms) == MHD_YES)
			t = mlc_time_sooner(t, ms > INT32_MAX ? INT32_MAX : (int64_t)ms);
	}
	return t;
}

const char *
aud_http_addr(struct auditor *a)
{
	return a->http != NULL ? a->http->addr : "";
}
