/* mlc_proc: see mlc_proc.h. */
#include "mlc_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <zmq.h>

#include "mlc_log.h"
#include "mlc_time.h"
#include "mlc_zmq.h"

volatile sig_atomic_t mlc_proc_stop;
volatile sig_atomic_t mlc_proc_hup;
volatile sig_atomic_t mlc_proc_usr1;

static char g_name[32] = "mlc";
static int g_wake[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		mlc_proc_hup = 1;
	else if (sig == SIGUSR1)
		mlc_proc_usr1 = 1;
	else
		mlc_proc_stop = 1;
	/* Non-blocking: a full pipe already wakes the loop. */
	if (g_wake[1] >= 0 && write(g_wake[1], "", 1) < 0) {
		/* nothing to do: the flag is set */
	}
	errno = saved;
}

int
mlc_proc_wake_fd(void)
{
	return g_wake[0];
}

void
mlc_proc_wake_drain(void)
{
	char buf[64];

	while (g_wake[0] >= 0 && read(g_wake[0], buf, sizeof(buf)) > 0)
		;
}

void
mlc_proc_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mlc-%s: ", g_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void
mlc_proc_start(const char *name, int argc, char **argv, struct mlc_cfg *cfg,
    mlc_proc_argfn extra, void *extra_arg, const char *usage)
{
	const char *path = NULL;
	struct sigaction sa;
	struct mlc_err err;
	enum mlc_log_level lvl = MLC_LOG_INFO;

	snprintf(g_name, sizeof(g_name), "%s", name);
	mlc_log_init(name, MLC_LOG_INFO);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: mlc-%s [-c CONFIG] %s\n", name, usage ? usage : "");
			exit(0);
		} else {
			int used = extra ? extra(argc, argv, i, extra_arg) : -1;
			if (used < 1)
				mlc_proc_die("unknown argument '%s' (usage: mlc-%s [-c CONFIG] %s)",
				    argv[i], name, usage ? usage : "");
			i += used - 1;
		}
	}
	if (mlc_cfg_load(cfg, path, &err) != 0)
		mlc_proc_die("%s", err.msg);
	if (mlc_log_level_parse(cfg->log_level, &lvl) == 0)
		mlc_log_init(name, lvl);
	/* zmq.curve: before any socket exists, so none is ever plain. */
	if (cfg->curve.enabled && mlc_zmq_curve_enable(cfg->curve.server_secret_key_file,
	    cfg->curve.server_public_key, cfg->curve.client_secret_key_file,
	    cfg->curve.client_public_key, &err) != 0)
		mlc_proc_die("%s", err.msg);

	/* No core dumps, no ptrace from other users: secrets live in memory. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	if (pipe(g_wake) != 0)
		mlc_proc_die("cannot create the signal pipe: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (fcntl(g_wake[i], F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(g_wake[i], F_SETFD, FD_CLOEXEC) != 0)
			mlc_proc_die("cannot set up the signal pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- SIGTERM: draining ---- */

void
mlc_drain_init(struct mlc_drain *dr, int64_t timeout_ms, int64_t stall_ms)
{
	memset(dr, 0, sizeof(*dr));
	dr->timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
	dr->stall_ms = stall_ms < 0 ? 0 : stall_ms;
}

int
mlc_drain_step(struct mlc_drain *dr, int stop, uint64_t inflight, int busy,
    uint64_t pending, int64_t now)
{
	if (dr->outcome != NULL)
		return 0;
	if (!dr->active) {
		if (!stop)
			return 1;
		dr->active = 1;
		dr->started = dr->seen != 0 && dr->seen < now ? dr->seen : now;
		dr->last_progress = now;
		dr->deadline = dr->started + dr->timeout_ms;
		dr->inflight0 = inflight;
		dr->pending0 = dr->last_pending = pending;
		mlc_info("SIGTERM: taking no new work; draining %llu in flight and %llu "
		    "unacknowledged frames for at most %lld ms", (unsigned long long)inflight,
		    (unsigned long long)pending, (long long)dr->timeout_ms);
	}
	dr->inflight = inflight;
	dr->pending = pending;
	/* Any ack counts as progress, and so does traffic from a peer (it is
	 * alive); new frames of our own (audit records) do not. */
	if (pending < dr->last_pending || busy)
		dr->last_progress = now;
	dr->last_pending = pending;
	if (inflight == 0 && !busy && pending == 0)
		dr->outcome = "done";
	else if (now >= dr->deadline)
		dr->outcome = "timeout";
	else if (inflight == 0 && !busy && now - dr->last_progress >= dr->stall_ms)
		dr->outcome = "stalled";
	return dr->outcome == NULL;
}

int
mlc_drain_expired(struct mlc_drain *dr, int64_t now)
{
	if (dr->seen == 0)
		dr->seen = now > 0 ? now : 1;
	return now >= (dr->active ? dr->started : dr->seen) + dr->timeout_ms;
}

void
mlc_drain_report(const struct mlc_drain *dr, struct mlc_auditb *b)
{
	if (!dr->active)
		return;
	mlc_auditb_str(b, "drain_outcome", dr->outcome != NULL ? dr->outcome : "done");
	mlc_auditb_int(b, "drain_ms", mlc_time_mono_ms() - dr->started);
	mlc_auditb_int(b, "inflight_at_stop", (int64_t)dr->inflight0);
	mlc_auditb_int(b, "pending_at_stop", (int64_t)dr->pending0);
	mlc_auditb_int(b, "inflight_left", (int64_t)dr->inflight);
	mlc_auditb_int(b, "pending_left", (int64_t)dr->pending);
	if (dr->inflight == 0 && dr->pending == 0)
		mlc_info("drained in %lld ms: nothing left for the next start",
		    (long long)(mlc_time_mono_ms() - dr->started));
	else
		mlc_warn("drain %s after %lld ms: %llu in flight and %llu unacknowledged "
		    "frames left in the state for the next start",
		    dr->outcome != NULL ? dr->outcome : "ended",
		    (long long)(mlc_time_mono_ms() - dr->started),
		    (unsigned long long)dr->inflight, (unsigned long long)dr->pending);
}

void
mlc_proc_final_flush(struct mlc_outbox *ob, void *ack_sock, struct mlc_outbox **obs,
    size_t n_obs, int64_t max_ms)
{
	int64_t end = mlc_time_mono_ms() + max_ms;
	struct mlc_err err;

	for (;;) {
		int64_t now = mlc_time_mono_ms();
		zmq_pollitem_t item = { ack_sock, 0, ZMQ_POLLIN, 0 };

		if (mlc_outbox_pump(ob, now, &err) < 0 || mlc_outbox_pending(ob) == 0 ||
		    now >= end)
			return;
		if (zmq_poll(&item, 1, (long)(end - now < 20 ? end - now : 20)) > 0 &&
		    mlc_custody_take_acks(ack_sock, obs, n_obs, mlc_time_mono_ms(), &err) < 0)
			return;
	}
}

/* ---- SIGHUP: reloading the configuration ---- */

/* What no process can change without new sockets or a new state. */
static const struct mlc_cfg_field restart_fields[] = {
	MLC_CFG_FIELD("state_dir", state_dir),
	MLC_CFG_FIELD("endpoints", ep),
	MLC_CFG_FIELD("max_frame_bytes", max_frame_bytes),
	MLC_CFG_FIELD("resend_after", resend_after_ms),
	MLC_CFG_FIELD("secrets.store", secrets_store),
	MLC_CFG_FIELD("zmq", curve),
	MLC_CFG_FIELD("shutdown", drain_timeout_ms),
};

/* Keeps the running value of f in n; names it in restart if it changed. */
static void
reload_keep(const struct mlc_cfg *cur, struct mlc_cfg *n, const struct mlc_cfg_field *f,
    char *restart, size_t restartsz, size_t *used)
{
	const char *a = (const char *)cur + f->off;
	char *b = (char *)n + f->off;
	int w;

	if (memcmp(a, b, f->size) == 0)
		return;
	memcpy(b, a, f->size);
	if (*used >= restartsz)
		return;
	w = snprintf(restart + *used, restartsz - *used, "%s%s", *used ? ", " : "", f->key);
	if (w < 0 || (size_t)w >= restartsz - *used)
		*used = restartsz;
	else
		*used += (size_t)w;
}

int
mlc_proc_reload(const char *name, struct mlc_cfg *cfg, const struct mlc_cfg_field *fixed,
    size_t n_fixed, char *restart, size_t restartsz, struct mlc_err *err)
{
	/* Large (routes, templates): never on the stack. */
	struct mlc_cfg *n = malloc(sizeof(*n));
	enum mlc_log_level lvl;
	size_t used = 0;

	if (restartsz > 0)
		restart[0] = '\0';
	if (n == NULL)
		return mlc_err_set(err, "%s: out of memory", cfg->path);
	if (mlc_cfg_load(n, cfg->path, err) != 0) {
		free(n);
		return -1;
	}
	for (size_t i = 0; i < sizeof(restart_fields) / sizeof(restart_fields[0]); i++)
		reload_keep(cfg, n, &restart_fields[i], restart, restartsz, &used);
	for (size_t i = 0; i < n_fixed; i++)
		reload_keep(cfg, n, &fixed[i], restart, restartsz, &used);
	/* The path the process was started with, whatever the loader noted. */
	memcpy(n->path, cfg->path, sizeof(n->path));
	memcpy(cfg, n, sizeof(*cfg));
	free(n);
	if (name != NULL && mlc_log_level_parse(cfg->log_level, &lvl) == 0)
		mlc_log_init(name, lvl);
	return 0;
}

void
mlc_proc_reload_audit(struct mlc_auditb *b, const char *process, int rc,
    const char *restart, const struct mlc_err *err)
{
	mlc_auditb_init(b, "reload");
	mlc_auditb_str(b, "process", process);
	mlc_auditb_str(b, "outcome", rc == 0 ? "ok" : "failed");
	if (rc != 0) {
		mlc_auditb_str(b, "error", err->msg);
		mlc_error("SIGHUP: the new configuration is refused, keeping the running "
		    "one: %s", err->msg);
		return;
	}
	if (restart != NULL && restart[0] != '\0') {
		mlc_auditb_str(b, "needs_restart", restart);
		mlc_warn("SIGHUP: configuration reloaded; changed keys that need a restart "
		    "keep their running value: %s", restart);
	} else {
		mlc_info("SIGHUP: configuration reloaded");
	}
}
