/* mlc_zmq: see mlc_zmq.h. */
#include "mlc_zmq.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <openssl/crypto.h>

#include "mlc_log.h"

/* CURVE keys (Z85 text, 40 characters + NUL); all "" when CURVE is off. */
static struct {
	int on;
	char srv_secret[41], srv_public[41];
	char cli_secret[41], cli_public[41];   /* this process's client pair */
	unsigned char allowed[32];              /* the client key servers accept */
} g_curve;
static pthread_mutex_t g_curve_mu = PTHREAD_MUTEX_INITIALIZER;

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

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

/* ---- CURVE ----------------------------------------------------------- */

static int
z85_key_ok(const char *k)
{
	unsigned char bin[32];

	return k != NULL && strlen(k) == 40 && zmq_z85_decode(bin, k) != NULL;
}

static int
read_key_file(const char *path, char out[41], const char *what, struct mlc_err *err)
{
	FILE *f = fopen(path ? path : "", "r");
	char line[128];
	size_t n;

	if (f == NULL)
		return mlc_err_set(err, "zmq.curve.%s %s: %s", what, path ? path : "(unset)",
		    strerror(errno));
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (!z85_key_ok(line)) {
		OPENSSL_cleanse(line, sizeof(line));
		return mlc_err_set(err, "zmq.curve.%s %s: must hold a Z85 key of 40 "
		    "characters (`mlc keys generate --curve DIR` writes one)", what, path);
	}
	memcpy(out, line, 41);
	OPENSSL_cleanse(line, sizeof(line));
	return 0;
}

int
mlc_zmq_curve_enable(const char *server_secret_file, const char *server_public,
    const char *client_secret_file, const char *client_public, struct mlc_err *err)
{
	char ss[41], cs[41], cp[41];

	if (!zmq_has("curve"))
		return mlc_err_set(err, "zmq.curve: this libzmq was built without CURVE");
	if (!z85_key_ok(server_public))
		return mlc_err_set(err, "zmq.curve.server_public_key: must be a Z85 key of "
		    "40 characters");
	if (!z85_key_ok(client_public))
		return mlc_err_set(err, "zmq.curve.client_public_key: must be a Z85 key of "
		    "40 characters");
	if (read_key_file(server_secret_file, ss, "server_secret_key_file", err) != 0)
		return -1;
	if (read_key_file(client_secret_file, cs, "client_secret_key_file", err) != 0) {
		OPENSSL_cleanse(ss, sizeof(ss));
		return -1;
	}
	if (zmq_curve_public(cp, cs) != 0) {
		OPENSSL_cleanse(ss, sizeof(ss));
		OPENSSL_cleanse(cs, sizeof(cs));
		return mlc_err_set(err, "zmq.curve: cannot derive the client public key");
	}
	pthread_mutex_lock(&g_curve_mu);
	memcpy(g_curve.srv_secret, ss, 41);
	memcpy(g_curve.srv_public, server_public, 41);
	memcpy(g_curve.cli_secret, cs, 41);
	memcpy(g_curve.cli_public, cp, 41);
	zmq_z85_decode(g_curve.allowed, client_public);
	g_curve.on = 1;
	pthread_mutex_unlock(&g_curve_mu);
	OPENSSL_cleanse(ss, sizeof(ss));
	OPENSSL_cleanse(cs, sizeof(cs));
	return 0;
}

void
mlc_zmq_curve_disable(void)
{
	pthread_mutex_lock(&g_curve_mu);
	OPENSSL_cleanse(&g_curve, sizeof(g_curve));
	pthread_mutex_unlock(&g_curve_mu);
}

int
mlc_zmq_curve_enabled(void)
{
	return g_curve.on;
}

/* ZAP (RFC 27): libzmq asks this handler about every CURVE handshake on
 * the context's server sockets; only the configured client key passes. */
/* Logs a refused handshake: the peer's address and mechanism, never a key
 * (a public key is not secret, but says nothing an operator needs). At most
 * one line per 10 s per context, with the count since the last line, so a
 * peer retrying every 100 ms cannot flood the log. Only a peer that speaks
 * CURVE with an unknown client key reaches ZAP; one without CURVE or with
 * the wrong server key fails the handshake inside libzmq, unseen here. */
static void
zap_refused(zmq_msg_t *addr, zmq_msg_t *mech, int64_t *last_ms, uint64_t *count)
{
	struct timespec ts;
	int64_t now;
	char a[64], m[16];
	size_t al = zmq_msg_size(addr), ml = zmq_msg_size(mech);

	(*count)++;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (*last_ms != 0 && now - *last_ms < 10000)
		return;
	if (al >= sizeof(a))
		al = sizeof(a) - 1;
	if (ml >= sizeof(m))
		ml = sizeof(m) - 1;
	memcpy(a, zmq_msg_data(addr), al);
	a[al] = '\0';
	memcpy(m, zmq_msg_data(mech), ml);
	m[ml] = '\0';
	for (size_t i = 0; i < al; i++)
		if ((unsigned char)a[i] < 0x20 || (unsigned char)a[i] > 0x7e)
			a[i] = '?';
	for (size_t i = 0; i < ml; i++)
		if ((unsigned char)m[i] < 0x20 || (unsigned char)m[i] > 0x7e)
			m[i] = '?';
	mlc_warn("zmq.curve: refused a %s handshake from %s: unknown client key "
	    "(%llu refused so far)", m, al ? a : "(local)", (unsigned long long)*count);
	*last_ms = now;
}

static void *
zap_main(void *arg)
{
	void *rep = arg;
	int64_t last_log_ms = 0;
	uint64_t refused = 0;

	for (;;) {
		zmq_msg_t part[8];
		int n = 0, more = 1, ok;
		unsigned char allowed[32];

		while (more) {
			if (n == 8) {
				zmq_msg_t junk;

				zmq_msg_init(&junk);
				if (zmq_msg_recv(&junk, rep, 0) < 0) {
					zmq_msg_close(&junk);
					goto out;
				}
				more = zmq_msg_more(&junk);
				zmq_msg_close(&junk);
				continue;
			}
			zmq_msg_init(&part[n]);
			if (zmq_msg_recv(&part[n], rep, 0) < 0) {
				zmq_msg_close(&part[n]);
				for (int i = 0; i < n; i++)
					zmq_msg_close(&part[i]);
				goto out;       /* ETERM: the context is closing */
			}
			more = zmq_msg_more(&part[n]);
			n++;
		}
		pthread_mutex_lock(&g_curve_mu);
		memcpy(allowed, g_curve.allowed, sizeof(allowed));
		ok = g_curve.on;
		pthread_mutex_unlock(&g_curve_mu);
		/* version, request id, domain, address, identity, mechanism, key */
		ok = ok && n >= 7 && zmq_msg_size(&part[5]) == 5 &&
		    memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
		    zmq_msg_size(&part[6]) == 32 &&
		    CRYPTO_memcmp(zmq_msg_data(&part[6]), allowed, 32) == 0;
		if (!ok && n >= 7)
			zap_refused(&part[3], &part[5], &last_log_ms, &refused);
		if (n >= 2) {
			zmq_send(rep, "1.0", 3, ZMQ_SNDMORE);
			zmq_send(rep, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
			zmq_send(rep, ok ? "200" : "400", 3, ZMQ_SNDMORE);
			zmq_send(rep, ok ? "OK" : "unknown client key", ok ? 2 : 18, ZMQ_SNDMORE);
			zmq_send(rep, "", 0, ZMQ_SNDMORE);
			zmq_send(rep, "", 0, 0);
		}
		for (int i = 0; i < n; i++)
			zmq_msg_close(&part[i]);
	}
out:
	zmq_close(rep);
	return NULL;
}

/* Starts the context's ZAP handler once: a second bind of the ZAP endpoint
 * on the same context fails with EADDRINUSE, which means it runs already. */
static int
zap_start(void *ctx, struct mlc_err *err)
{
	void *rep = zmq_socket(ctx, ZMQ_REP);
	int zero = 0;
	pthread_t t;

	if (rep == NULL)
		return mlc_err_set(err, "zmq: ZAP socket: %s", zmq_strerror(errno));
	zmq_setsockopt(rep, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(rep, ZAP_ENDPOINT) != 0) {
		int e = errno;

		zmq_close(rep);
		if (e == EADDRINUSE)
			return 0;
		return mlc_err_set(err, "zmq: ZAP bind: %s", zmq_strerror(e));
	}
	if (pthread_create(&t, NULL, zap_main, rep) != 0) {
		zmq_close(rep);
		return mlc_err_set(err, "zmq: cannot start the ZAP thread");
	}
	pthread_detach(t);
	return 0;
}

int
mlc_zmq_curve_apply(void *ctx, void *s, int as_server, struct mlc_err *err)
{
	int one = 1, rc = 0;

	if (!g_curve.on)
		return 0;
	pthread_mutex_lock(&g_curve_mu);
	if (as_server) {
		rc |= zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, "mlc", 3);
		rc |= zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one));
		rc |= zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, g_curve.srv_secret, 40);
	} else {
		rc |= zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, g_curve.srv_public, 40);
		rc |= zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, g_curve.cli_public, 40);
		rc |= zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, g_curve.cli_secret, 40);
	}
	pthread_mutex_unlock(&g_curve_mu);
	if (rc != 0)
		return mlc_err_set(err, "zmq: cannot set the CURVE options: %s",
		    zmq_strerror(errno));
	if (as_server)
		return zap_start(ctx, err);
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
	if (mlc_zmq_curve_apply(ctx, s, 1, err) != 0) {
		zmq_close(s);
		return NULL;
	}
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
	if (mlc_zmq_curve_apply(ctx, s, 0, err) != 0) {
		zmq_close(s);
		return NULL;
	}
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
	if (mlc_zmq_curve_apply(ctx, s, 0, err) != 0) {
		zmq_close(s);
		return NULL;
	}
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
