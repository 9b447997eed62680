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

#include "mlc_log.h"
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
