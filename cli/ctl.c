/* The client side of the auditor's control socket (auditor/ctl.c), and the
 * time arguments the journal commands share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "mlc_time.h"
#include "mlc_zmq.h"

#define MAX_REPLY (256 * 1024 * 1024)

struct cli_ctl {
	void *ctx;
	void *sock;
	char endpoint[MLC_CFG_STR];
};

static void *
connect_req(struct cli_ctl *c)
{
	void *s = zmq_socket(c->ctx, ZMQ_REQ);
	struct mlc_err err;
	int zero = 0;

	if (s == NULL)
		return NULL;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	/* The auditor's control socket is a CURVE server when zmq.curve is on
	 * (the keys were loaded by cli_load_config()). */
	if (mlc_zmq_curve_apply(c->ctx, s, 0, &err) != 0) {
		fprintf(stderr, "mlc: %s\n", err.msg);
		zmq_close(s);
		return NULL;
	}
	if (zmq_connect(s, c->endpoint) != 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

struct cli_ctl *
cli_ctl_open(const struct mlc_cfg *cfg)
{
	struct cli_ctl *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", cfg->ep.auditor_ctl);
	c->ctx = zmq_ctx_new();
	if (c->ctx == NULL || (c->sock = connect_req(c)) == NULL) {
		cli_ctl_close(c);
		return NULL;
	}
	return c;
}

void
cli_ctl_close(struct cli_ctl *c)
{
	if (c == NULL)
		return;
	if (c->sock != NULL)
		zmq_close(c->sock);
	if (c->ctx != NULL)
		zmq_ctx_term(c->ctx);
	free(c);
}

json_t *
cli_ctl_call(struct cli_ctl *c, json_t *req, int timeout_ms, char *errbuf, size_t errsz)
{
	char *body = json_dumps(req, JSON_COMPACT);
	zmq_pollitem_t item;
	zmq_msg_t m;
	json_error_t je;
	json_t *rep;

	if (body == NULL) {
		snprintf(errbuf, errsz, "out of memory");
		return NULL;
	}
	if (zmq_send(c->sock, body, strlen(body), 0) < 0) {
		free(body);
		snprintf(errbuf, errsz, "cannot send to %s: %s", c->endpoint,
		    zmq_strerror(zmq_errno()));
		return NULL;
	}
	free(body);
	item = (zmq_pollitem_t){ c->sock, 0, ZMQ_POLLIN, 0 };
	if (zmq_poll(&item, 1, timeout_ms) <= 0) {
		/* A REQ socket that got no answer is stuck: start a new one. */
		zmq_close(c->sock);
		c->sock = connect_req(c);
		snprintf(errbuf, errsz, "the auditor does not answer on endpoints.auditor_ctl "
		    "(%s) within %d ms: is mlc-auditor running with this configuration?",
		    c->endpoint, timeout_ms);
		return NULL;
	}
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, c->sock, 0) < 0) {
		zmq_msg_close(&m);
		snprintf(errbuf, errsz, "receive from %s: %s", c->endpoint,
		    zmq_strerror(zmq_errno()));
		return NULL;
	}
	rep = zmq_msg_size(&m) <= MAX_REPLY ?
	    json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, &je) : NULL;
	zmq_msg_close(&m);
	if (!json_is_object(rep)) {
		json_decref(rep);
		snprintf(errbuf, errsz, "the auditor sent an unreadable reply");
		return NULL;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		const char *e = json_string_value(json_object_get(rep, "error"));

		snprintf(errbuf, errsz, "the auditor refused: %s", e ? e : "no reason given");
		json_decref(rep);
		return NULL;
	}
	return rep;
}

int
cli_parse_when(const char *s, int64_t now_ms, int64_t *out_ms)
{
	int64_t d, t;

	if (mlc_time_parse_duration(s, &d) == 0) {
		*out_ms = now_ms - d;
		return 0;
	}
	if (mlc_time_parse(s, &t) == 0) {
		*out_ms = t * 1000;
		return 0;
	}
	return -1;
}
