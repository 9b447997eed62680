/*
 * mlc_topo: the process table. Who the processes are, what each binds, and
 * where each one's acks go, in one place, derived from the config:
 *
 *   process        binds                         sends to (outboxes)
 *   poller         endpoints.poller_ack          formatter, auditor
 *   formatter      formatter_in, formatter_ack   dispatcher-N (by channel), auditor
 *   dispatcher-N   dispatchers[N].in/.ack        auditor        (and Slack)
 *   auditor        auditor_in, auditor_pub,      dispatcher-N   (replays, alerts;
 *                  auditor_ctl, auditor_ack                     journal, live stream)
 *
 * Names double as the "from" of frames and the peer names of outboxes.
 */
#ifndef MLC_TOPO_H
#define MLC_TOPO_H

#include <stddef.h>

#include "mlc_cfg.h"
#include "mlc_custody.h"

/* The ack endpoint of process `peer` ("poller", "formatter", "auditor",
 * "dispatcher-3"), or NULL if the name is unknown. arg is the struct mlc_cfg. */
const char *mlc_topo_ack_endpoint(void *cfg, const char *peer);

/* Dispatcher name for index i: "dispatcher-<i>". */
void mlc_topo_dispatcher_name(size_t i, char *out, size_t outsz);

/* Which dispatcher owns a channel: a stable hash (FNV-1a of the channel
 * text) modulo the number of dispatchers, so pacing and duplicate checks
 * for one channel always happen in one process. */
size_t mlc_topo_dispatcher_for(const struct mlc_cfg *cfg, const char *channel);

/* Custody options from the config. */
void mlc_topo_custody_opts(const struct mlc_cfg *cfg, struct mlc_custody_opts *o);

/* state_dir/<process> into out. */
int mlc_topo_state_path(const struct mlc_cfg *cfg, const char *process,
    char *out, size_t outsz);

#endif
