/*
 * mlc_zmq: ZeroMQ sockets with the options every ml-connector socket needs.
 *
 * - LINGER 0: nothing important lives only in a ZeroMQ queue (the chain of
 *   custody keeps it in LMDB), so shutdown never blocks on a dead peer.
 * - Bounded queues (HWM) and, on receiving sockets, ZMQ_MAXMSGSIZE so a
 *   hostile or broken peer cannot make us allocate without bound
 *   (pitfalls.md #16) before the frame is even decoded.
 * - PUSH sockets use ZMQ_IMMEDIATE: with no live peer a send fails with
 *   EAGAIN at once instead of queueing into a pipe that may never drain.
 * - Quick reconnects (100 ms, backing off to 2 s) after a peer restarts.
 * - Optional CURVE (zmq.curve in the config, off by default) for stages on
 *   different hosts: every bound socket is a CURVE server holding the
 *   deployment's server key pair and accepts only the deployment's client
 *   public key (a ZAP handler checks it); every connecting socket holds the
 *   client key pair and checks the server's public key. Frames are then
 *   encrypted, and a peer without the right keys cannot deliver any.
 *   With CURVE off, sockets are exactly as before.
 */
#ifndef MLC_ZMQ_H
#define MLC_ZMQ_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_err.h"

#define MLC_ZMQ_HWM 10000

/* A PULL socket bound at endpoint (tcp hosts replaced by bind_host when it
 * is non-empty), with ZMQ_MAXMSGSIZE = max_frame. NULL on error. */
void *mlc_zmq_pull_bind(void *ctx, const char *endpoint, const char *bind_host,
    int64_t max_frame, struct mlc_err *err);
/* A PUSH socket connected to endpoint. NULL on error. */
void *mlc_zmq_push_connect(void *ctx, const char *endpoint, struct mlc_err *err);
/* A PUB socket bound at endpoint. */
void *mlc_zmq_pub_bind(void *ctx, const char *endpoint, const char *bind_host,
    struct mlc_err *err);
/* A SUB socket connected to endpoint, subscribed to everything. */
void *mlc_zmq_sub_connect(void *ctx, const char *endpoint, int64_t max_frame,
    struct mlc_err *err);

/* Sends one frame without blocking: 0 sent, 1 would block (no peer or
 * queue full), -1 error. */
int mlc_zmq_send(void *sock, const void *buf, size_t len, struct mlc_err *err);

/* The endpoint to bind: endpoint itself, or for tcp:// with bind_host set,
 * "tcp://<bind_host>:<port>". Removes a stale ipc:// socket file. */
int mlc_zmq_bind_endpoint(const char *endpoint, const char *bind_host,
    char *out, size_t outsz, struct mlc_err *err);

void mlc_zmq_close(void **sock);

/* Turns CURVE on for every socket created by this module from now on
 * (process-wide). Reads the two secret keys from files (Z85, 40 characters,
 * as `mlc keys generate --curve DIR` writes them) and checks both public
 * keys (Z85). Errors name the file or key, never a secret key. */
int mlc_zmq_curve_enable(const char *server_secret_file, const char *server_public,
    const char *client_secret_file, const char *client_public, struct mlc_err *err);
/* Turns CURVE off again (tests) and wipes the keys. */
void mlc_zmq_curve_disable(void);
/* Is CURVE on? */
int mlc_zmq_curve_enabled(void);
/* Applies the CURVE options to a socket made elsewhere (zmq_socket()):
 * as a server (it binds) or a client (it connects); a no-op with CURVE off.
 * A server socket needs ctx to start the ZAP handler. */
int mlc_zmq_curve_apply(void *ctx, void *sock, int as_server, struct mlc_err *err);

#endif
