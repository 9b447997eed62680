/* mlc_zmq: see mlc_zmq.h. */
#include "mlc_zmq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static void
common_opts(void *s)
{
	int zero = 0, hwm = MLC_ZMQ_HWM, ivl = 100, ivl_max = 2000;

	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
}

int
mlc_zmq_bind_endpoint(const char *endpoint, const char *bind_host,
    char *out, size_t outsz, struct mlc_err *err)
{
	if (strncmp(endpoint, "tcp://", 6) == 0 && bind_host != NULL &&
	    bind_host[0] != '\0') {
		const char *colon = strrchr(endpoint + 6, ':');
		if (colon == NULL)
			return mlc_err_set(err, "zmq: endpoint %s has no port", endpoint);
		if ((size_t)snprintf(out, outsz, "tcp://%s%s", bind_host, colon) >= outsz)
			return mlc_err_set(err, "zmq: endpoint too long");
		return 0;
	}
	if ((size_t)snprintf(out, outsz, "%s", endpoint) >= outsz)
		return mlc_err_set(err, "zmq: endpoint too long");
	/* A process killed with SIGKILL leaves its ipc socket file behind;
	 * binding over it fails with EADDRINUSE on some versions. */
	if (strncmp(endpoint, "ipc://", 6) == 0)
		unlink(endpoint + 6);
	return 0;
}

static void *
bound(void *ctx, int type, const char *endpoint, const char *bind_host,
    struct mlc_err *err)
{
	char ep[512];
	void *s;

	if (mlc_zmq_bind_endpoint(endpoint, bind_host, ep, sizeof(ep), err) != 0)
		return NULL;
	s = zmq_socket(ctx, type);
	if (s == NULL) {
		mlc_err_set(err, "zmq: socket: %s", zmq_strerror(errno));
		return NULL;
	}
	common_opts(s);
	if (zmq_bind(s, ep) != 0) {
		mlc_err_set(err, "zmq: cannot bind %s: %s", ep, zmq_strerror(errno));
		zmq_close(s);
		return NULL;
	}
	return s;
}

void *
mlc_zmq_pull_bind(void *ctx, const char *endpoint, const char *bind_host,
    int64_t max_frame, struct mlc_err *err)
{
	void *s = bound(ctx, ZMQ_PULL, endpoint, bind_host, err);

	if (s != NULL)
		zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_frame, sizeof(max_frame));
	return s;
}

void *
mlc_zmq_pub_bind(void *ctx, const char *endpoint, const char *bind_host,
    struct mlc_err *err)
{
	return bound(ctx, ZMQ_PUB, endpoint, bind_host, err);
}

void *
mlc_zmq_push_connect(void *ctx, const char *endpoint, struct mlc_err *err)
{
	void *s = zmq_socket(ctx, ZMQ_PUSH);
	int one = 1;

	if (s == NULL) {
		mlc_err_set(err, "zmq: socket: %s", zmq_strerror(errno));
		return NULL;
	}
	common_opts(s);
	zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one));
	if (zmq_connect(s, endpoint) != 0) {
		mlc_err_set(err, "zmq: cannot connect %s: %s", endpoint,
		    zmq_strerror(errno));
		zmq_close(s);
		return NULL;
	}
	return s;
}

void *
mlc_zmq_sub_connect(void *ctx, const char *endpoint, int64_t max_frame,
    struct mlc_err *err)
{
	void *s = zmq_socket(ctx, ZMQ_SUB);

	if (s == NULL) {
		mlc_err_set(err, "zmq: socket: %s", zmq_strerror(errno));
		return NULL;
	}
	common_opts(s);
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_frame, sizeof(max_frame));
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
	if (zmq_connect(s, endpoint) != 0) {
		mlc_err_set(err, "zmq: cannot connect %s: %s", endpoint,
		    zmq_strerror(errno));
		zmq_close(s);
		return NULL;
	}
	return s;
}

int
mlc_zmq_send(void *sock, const void *buf, size_t len, struct mlc_err *err)
{
	if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) >= 0)
		return 0;
	if (errno == EAGAIN)
		return 1;
	return mlc_err_set(err, "zmq: send: %s", zmq_strerror(errno));
}

void
mlc_zmq_close(void **sock)
{
	if (sock != NULL && *sock != NULL) {
		zmq_close(*sock);
		*sock = NULL;
	}
}
