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

#endif
