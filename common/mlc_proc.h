/*
 * mlc_proc: what every process does the same way at start and on signals.
 *
 * mlc_proc_start() parses "-c FILE" (else $MLC_CONFIG), loads the config,
 * sets up logging with the process name, installs handlers for SIGTERM and
 * SIGINT (stop), SIGHUP (reload, acted on by later work) and SIGUSR1 (poll
 * now), ignores SIGPIPE, and makes the process non-dumpable so that no
 * core file or ptrace can read a secret out of it. Fatal start-up errors
 * are printed and exit(2) here, never mid-flight.
 */
#ifndef MLC_PROC_H
#define MLC_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "mlc_audit.h"
#include "mlc_cfg.h"
#include "mlc_custody.h"

extern volatile sig_atomic_t mlc_proc_stop;   /* SIGTERM / SIGINT seen */
extern volatile sig_atomic_t mlc_proc_hup;    /* SIGHUP seen */
extern volatile sig_atomic_t mlc_proc_usr1;   /* SIGUSR1 seen */

/* Extra argument parsing: called for each argument that is not -c FILE;
 * returns the number of argv entries consumed (>= 1) or -1 for "unknown". */
typedef int (*mlc_proc_argfn)(int argc, char **argv, int i, void *arg);

void mlc_proc_start(const char *name, int argc, char **argv, struct mlc_cfg *cfg,
    mlc_proc_argfn extra, void *extra_arg, const char *usage);

/*
 * Main loops sleep without a timeout when nothing is due, so a signal that
 * lands while the loop is busy (after it tested the flags above, before it
 * sleeps) must still wake it: the handlers also write a byte to a pipe
 * whose read end is mlc_proc_wake_fd() (-1 before mlc_proc_start). Poll it
 * for readability with the loop's sockets; mlc_proc_wake_drain() empties
 * it (non-blocking) before the flags are tested again.
 */
int mlc_proc_wake_fd(void);
void mlc_proc_wake_drain(void);

/* Prints "mlc-<name>: <msg>" to stderr and exits 2. */
void mlc_proc_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- SIGTERM: draining ----
 *
 * A stage's main loop runs `while (mlc_drain_step(&dr, mlc_proc_stop,
 * inflight, busy, pending, now))`. Until SIGTERM it always goes on. From
 * SIGTERM on (mlc_drain_active) the stage takes no new work but finishes
 * what is in flight (`inflight`: HTTP requests awaiting their answer,
 * outcomes not yet committed), goes on while `busy` (frames arrived a
 * moment ago: a peer draining too may have more) and keeps handing on what
 * its outboxes hold (`pending`: frames not yet acked). The loop ends when
 * all three are 0 ("done"), when the
 * deadline (shutdown.drain_timeout) passes ("timeout"), or when only
 * outbox frames are left and no ack has shrunk them for stall_ms
 * ("stalled": the peer has stopped too). Nothing is lost either way: what
 * is left is in LMDB and is resumed at the next start. */
struct mlc_drain {
	int64_t timeout_ms;
	int64_t stall_ms;
	int active;
	int64_t started, deadline;      /* monotonic ms */
	int64_t seen;                   /* SIGTERM first noted (mlc_drain_expired), 0 = not */
	int64_t last_progress;
	uint64_t last_pending;
	uint64_t inflight0, pending0;   /* when SIGTERM came */
	uint64_t inflight, pending;     /* at the last step */
	const char *outcome;            /* NULL while running; "done", "timeout", "stalled" */
};

void mlc_drain_init(struct mlc_drain *dr, int64_t timeout_ms, int64_t stall_ms);
/* 1 = run the loop again, 0 = leave it. now: monotonic ms. */
int mlc_drain_step(struct mlc_drain *dr, int stop, uint64_t inflight, int busy,
    uint64_t pending, int64_t now);
static inline int mlc_drain_active(const struct mlc_drain *dr) { return dr->active; }
/* For work that runs outside the loop (the poller's page request): notes
 * that SIGTERM was seen at `now` (the first call counts: the deadline runs
 * from there, for the loop's drain too), and says whether the deadline has
 * passed. */
int mlc_drain_expired(struct mlc_drain *dr, int64_t now);
/* Adds drain_outcome, drain_ms, inflight/pending at SIGTERM and left at exit
 * to an audit record (the stage's "stop" record) and logs one line. */
void mlc_drain_report(const struct mlc_drain *dr, struct mlc_auditb *b);

/* After the last audit record (the "stop" record with the drain report):
 * sends what `ob` holds and takes acks from ack_sock for the outboxes obs,
 * until ob is empty or max_ms passes. The frames stay in LMDB either way;
 * this only spares the next start a resend (ZeroMQ sockets close with
 * linger 0). */
void mlc_proc_final_flush(struct mlc_outbox *ob, void *ack_sock, struct mlc_outbox **obs,
    size_t n_obs, int64_t max_ms);

/* ---- SIGHUP: reloading the configuration ---- */

/* A part of struct mlc_cfg that a process cannot change while it runs. */
struct mlc_cfg_field {
	const char *key;                /* as in the file: "endpoints", "x3.url" */
	size_t off, size;
};
#define MLC_CFG_FIELD(key, member) \
	{ key, offsetof(struct mlc_cfg, member), sizeof(((struct mlc_cfg *)0)->member) }

/* Loads cfg->path again, validated in full. A bad file: -1, err says why
 * ("FILE:LINE: ..." as the loader gives it) and *cfg is unchanged. Else the
 * new values replace *cfg in place (pointers to it stay valid), except the
 * keys every process needs a restart for (state_dir, endpoints,
 * max_frame_bytes, resend_after, secrets.store, zmq) and those in `fixed`:
 * they keep the running value and, if the file changes them, are named in
 * `restart` ("endpoints, x3.url"; "" if none). log_level takes effect. */
int mlc_proc_reload(const char *name, struct mlc_cfg *cfg, const struct mlc_cfg_field *fixed,
    size_t n_fixed, char *restart, size_t restartsz, struct mlc_err *err);

/* The audit record of a reload (kind "reload"): process, outcome ok|failed,
 * error, needs_restart; and the matching log line. b is initialised here. */
void mlc_proc_reload_audit(struct mlc_auditb *b, const char *process, int rc,
    const char *restart, const struct mlc_err *err);

#endif
