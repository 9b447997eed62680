/* Unit tests for the CURVE option of common/mlc_zmq.c: with the right keys
 * frames flow (encrypted); a client with the wrong server key, an
 * unauthorised client key or no CURVE at all delivers nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "mlc_zmq.h"

static char g_dir[] = "/tmp/mlc-test-curve-XXXXXX";
static char srv_pub[41], cli_pub[41], other_pub[41];
static char srv_key[300], cli_key[300], other_key[300];
static char g_ep[300];

static void
write_key(const char *path, const char *z85)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "%s\n", z85);
	fclose(f);
}

static int
setup(void **state)
{
	char sec[41];

	(void)state;
	if (!zmq_has("curve"))
		return -1;
	assert_non_null(mkdtemp(g_dir));
	snprintf(srv_key, sizeof(srv_key), "%s/server.key", g_dir);
	snprintf(cli_key, sizeof(cli_key), "%s/client.key", g_dir);
	snprintf(other_key, sizeof(other_key), "%s/other.key", g_dir);
	snprintf(g_ep, sizeof(g_ep), "ipc://%s/in", g_dir);
	assert_int_equal(zmq_curve_keypair(srv_pub, sec), 0);
	write_key(srv_key, sec);
	assert_int_equal(zmq_curve_keypair(cli_pub, sec), 0);
	write_key(cli_key, sec);
	assert_int_equal(zmq_curve_keypair(other_pub, sec), 0);
	write_key(other_key, sec);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	mlc_zmq_curve_disable();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd);
}

/* Sends from a fresh PUSH (made with the CURVE settings now in force) and
 * reports whether the server's PULL got the frame within wait_ms. */
static int
delivered(void *ctx, void *pull, int wait_ms)
{
	struct mlc_err err;
	void *push = mlc_zmq_push_connect(ctx, g_ep, &err);
	zmq_pollitem_t it = { pull, 0, ZMQ_POLLIN, 0 };
	char buf[16];
	int got = 0;

	assert_non_null(push);
	/* ZMQ_IMMEDIATE: a send only succeeds once the handshake completed, so
	 * retry until then (or the deadline). */
	for (int t = 0; t < wait_ms; t += 10) {
		if (mlc_zmq_send(push, "hello", 5, &err) == 0)
			break;
		usleep(10000);
	}
	if (zmq_poll(&it, 1, wait_ms) == 1 && zmq_recv(pull, buf, sizeof(buf), 0) == 5)
		got = memcmp(buf, "hello", 5) == 0;
	mlc_zmq_close(&push);
	return got;
}

static void
test_curve_right_keys_deliver_and_wrong_keys_cannot(void **state)
{
	struct mlc_err err;
	void *ctx = zmq_ctx_new(), *pull;
	int mech = 0;
	size_t ml = sizeof(mech);

	(void)state;
	assert_int_equal(mlc_zmq_curve_enable(srv_key, srv_pub, cli_key, cli_pub, &err), 0);
	assert_true(mlc_zmq_curve_enabled());
	pull = mlc_zmq_pull_bind(ctx, g_ep, NULL, 1 << 20, &err);
	assert_non_null(pull);
	zmq_getsockopt(pull, ZMQ_MECHANISM, &mech, &ml);
	assert_int_equal(mech, ZMQ_CURVE);

	assert_true(delivered(ctx, pull, 3000));

	/* A client that expects another server key: the handshake fails. */
	assert_int_equal(mlc_zmq_curve_enable(srv_key, other_pub, cli_key, cli_pub, &err), 0);
	assert_false(delivered(ctx, pull, 400));

	/* A client whose key the servers do not accept: ZAP refuses it. The
	 * server keeps accepting only cli_pub (its ZAP handler reads the
	 * process-wide settings, so re-enable with the client's other key but
	 * the same allowed key). */
	assert_int_equal(mlc_zmq_curve_enable(srv_key, srv_pub, other_key, cli_pub, &err), 0);
	assert_false(delivered(ctx, pull, 400));

	/* A plain client (no CURVE) cannot talk to a CURVE server. */
	mlc_zmq_curve_disable();
	assert_false(delivered(ctx, pull, 400));

	/* And the right client again, after all that. */
	assert_int_equal(mlc_zmq_curve_enable(srv_key, srv_pub, cli_key, cli_pub, &err), 0);
	assert_true(delivered(ctx, pull, 3000));

	mlc_zmq_close(&pull);
	mlc_zmq_curve_disable();
	zmq_ctx_term(ctx);
}

static void
test_curve_off_by_default_sockets_are_plain(void **state)
{
	struct mlc_err err;
	void *ctx = zmq_ctx_new(), *pull;
	int mech = -1;
	size_t ml = sizeof(mech);

	(void)state;
	assert_false(mlc_zmq_curve_enabled());
	pull = mlc_zmq_pull_bind(ctx, g_ep, NULL, 1 << 20, &err);
	assert_non_null(pull);
	zmq_getsockopt(pull, ZMQ_MECHANISM, &mech, &ml);
	assert_int_equal(mech, ZMQ_NULL);
	assert_true(delivered(ctx, pull, 3000));
	mlc_zmq_close(&pull);
	zmq_ctx_term(ctx);
}

static void
test_curve_bad_key_material_is_refused_by_name(void **state)
{
	struct mlc_err err;
	char bad[300];

	(void)state;
	snprintf(bad, sizeof(bad), "%s/bad.key", g_dir);
	write_key(bad, "not-a-key");
	assert_int_equal(mlc_zmq_curve_enable(bad, srv_pub, cli_key, cli_pub, &err), -1);
	assert_non_null(strstr(err.msg, "server_secret_key_file"));
	assert_int_equal(mlc_zmq_curve_enable(srv_key, "short", cli_key, cli_pub, &err), -1);
	assert_non_null(strstr(err.msg, "server_public_key"));
	assert_int_equal(mlc_zmq_curve_enable(srv_key, srv_pub, "/nonexistent", cli_pub,
	    &err), -1);
	assert_non_null(strstr(err.msg, "client_secret_key_file /nonexistent"));
	assert_false(mlc_zmq_curve_enabled());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_curve_off_by_default_sockets_are_plain),
		cmocka_unit_test(test_curve_right_keys_deliver_and_wrong_keys_cannot),
		cmocka_unit_test(test_curve_bad_key_material_is_refused_by_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
