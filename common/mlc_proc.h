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

#include "mlc_cfg.h"

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

#endif
