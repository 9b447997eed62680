/*
 * mlc up: runs the whole connector on one host.
 *
 * Starts the stages downstream first (auditor, dispatchers, formatter,
 * poller) so each finds its next hop listening, then supervises them: a
 * stage that dies is restarted after a back-off (1 s doubling to 30 s, reset
 * once it has run a minute); nothing is lost meanwhile, because every stage
 * keeps what it accepted in LMDB. SIGINT or SIGTERM stops every stage with
 * SIGTERM, then SIGKILL after shutdown.drain_timeout + 5 s (a stage drains
 * what is in flight for up to drain_timeout, then exits). SIGHUP is passed
 * on to every stage (each reloads the config file). A stage that refuses to start (exit 2:
 * bad config, wrong master key, missing secret) is not restarted: `mlc up`
 * stops everything and exits 2, instead of looping on an error that only an
 * operator can fix. Children also get PR_SET_PDEATHSIG, so
 * even if `mlc up` itself is killed no stage is left behind.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mlc_time.h"
#include "mlc_topo.h"

#define MAX_CHILDREN (MLC_CFG_MAX_DISPATCHERS + 3)
#define UP_KILL_MARGIN_MS 5000

struct child {
	char name[32];
	char path[PATH_MAX];
	char index[24];         /* dispatcher index, "" for others */
	pid_t pid;
	int64_t started;
	int64_t restart_at;     /* when to restart it, 0 = running or not due */
	int64_t backoff;
};

static volatile sig_atomic_t stop_sig, hup_sig;

static void
on_sig(int sig)
{
	if (sig == SIGHUP)
		hup_sig = 1;
	else
		stop_sig = sig;
}

/* Finds mlc-<stage>: next to this binary, in the build tree layout
 * (<dir>/../<stage>/mlc-<stage>), else on PATH. */
static void
find_binary(const char *stage, char *out, size_t outsz)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, outsz, "%s/mlc-%s", self, stage) < outsz &&
			    access(out, X_OK) == 0)
				return;
			if ((size_t)snprintf(out, outsz, "%s/../%s/mlc-%s", self, stage,
			    stage) < outsz && access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, outsz, "mlc-%s", stage);
}

static int
spawn(struct child *c, const char *cfgpath)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		fprintf(stderr, "mlc up: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char *argv[6];
		int i = 0;
		sigset_t none;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		argv[i++] = c->path;
		argv[i++] = "-c";
		argv[i++] = (char *)(uintptr_t)cfgpath;
		if (c->index[0] != '\0') {
			argv[i++] = "--index";
			argv[i++] = c->index;
		}
		argv[i] = NULL;
		if (strchr(c->path, '/') != NULL)
			execv(c->path, argv);
		else
			execvp(c->path, argv);
		fprintf(stderr, "mlc up: cannot run %s: %s\n", c->path, strerror(errno));
		_exit(127);
	}
	c->pid = pid;
	c->started = mlc_time_mono_ms();
	c->restart_at = 0;
	fprintf(stderr, "mlc up: started %s (pid %d)\n", c->name, (int)pid);
	return 0;
}

int
cli_up(int argc, char **argv)
{
	struct child kids[MAX_CHILDREN];
	struct mlc_cfg cfg;
	const char *cfgpath = NULL;
	char abspath[PATH_MAX];
	struct sigaction sa;
	size_t n = 0;
	int64_t deadline;
	int fatal = 0;

	if (cli_load_config(&argc, argv, &cfg, &cfgpath) != 0)
		return 2;
	if (argc > 1) {
		fprintf(stderr, "mlc up: unknown option '%s'\n", argv[1]);
		return 2;
	}
	if (realpath(cfgpath, abspath) == NULL)
		snprintf(abspath, sizeof(abspath), "%s", cfgpath);

	memset(kids, 0, sizeof(kids));
	snprintf(kids[n].name, sizeof(kids[0].name), "auditor");
	find_binary("auditor", kids[n++].path, sizeof(kids[0].path));
	for (size_t i = 0; i < cfg.ep.n_dispatchers; i++) {
		mlc_topo_dispatcher_name(i, kids[n].name, sizeof(kids[0].name));
		snprintf(kids[n].index, sizeof(kids[0].index), "%zu", i);
		find_binary("dispatcher", kids[n++].path, sizeof(kids[0].path));
	}
	snprintf(kids[n].name, sizeof(kids[0].name), "formatter");
	find_binary("formatter", kids[n++].path, sizeof(kids[0].path));
	snprintf(kids[n].name, sizeof(kids[0].name), "poller");
	find_binary("poller", kids[n++].path, sizeof(kids[0].path));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	for (size_t i = 0; i < n; i++) {
		kids[i].backoff = 1000;
		if (spawn(&kids[i], abspath) != 0)
			kids[i].restart_at = mlc_time_mono_ms() + kids[i].backoff;
	}
	while (!stop_sig) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		int64_t now = mlc_time_mono_ms();
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (hup_sig) {
			/* Every stage reloads the config file (each validates it and
			 * keeps its running one if it is bad). */
			hup_sig = 0;
			fprintf(stderr, "mlc up: SIGHUP: asking every stage to reload %s\n", abspath);
			for (size_t i = 0; i < n; i++)
				if (kids[i].pid > 0)
					kill(kids[i].pid, SIGHUP);
		}
		if (pid > 0) {
			for (size_t i = 0; i < n; i++) {
				if (kids[i].pid != pid)
					continue;
				kids[i].pid = 0;
				/* Exit 2 is a stage's start-up refusal (bad config, wrong
				 * master key, missing secret: mlc_proc_die), 127 a binary
				 * that cannot run. Restarting would only repeat it. */
				if (WIFEXITED(status) && (WEXITSTATUS(status) == 2 ||
				    WEXITSTATUS(status) == 127)) {
					fprintf(stderr, "mlc up: %s could not start (exit %d; its "
					    "message is above); stopping everything\n",
					    kids[i].name, WEXITSTATUS(status));
					fatal = 1;
					stop_sig = SIGTERM;
					break;
				}
				if (now - kids[i].started > 60000)
					kids[i].backoff = 1000;
				fprintf(stderr, "mlc up: %s (pid %d) %s %d; restarting in %lld ms\n",
				    kids[i].name, (int)pid,
				    WIFSIGNALED(status) ? "killed by signal" : "exited with",
				    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
				    (long long)kids[i].backoff);
				kids[i].restart_at = now + kids[i].backoff;
				kids[i].backoff = kids[i].backoff * 2 > 30000 ? 30000 :
				    kids[i].backoff * 2;
			}
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (kids[i].pid == 0 && kids[i].restart_at && now >= kids[i].restart_at)
				spawn(&kids[i], abspath);
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "mlc up: stopping\n");
	/* Upstream first, so nothing new enters while the rest drain. */
	for (size_t i = n; i-- > 0;)
		if (kids[i].pid > 0)
			kill(kids[i].pid, SIGTERM);
	/* Each stage drains for at most shutdown.drain_timeout, then exits on
	 * its own; the margin covers its exit (closing LMDB, the last commit). */
	deadline = mlc_time_mono_ms() + cfg.drain_timeout_ms + UP_KILL_MARGIN_MS;
	for (;;) {
		size_t alive = 0;
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		for (size_t i = 0; i < n; i++) {
			if (kids[i].pid > 0) {
				int status;
				if (waitpid(kids[i].pid, &status, WNOHANG) == kids[i].pid)
					kids[i].pid = 0;
				else
					alive++;
			}
		}
		if (alive == 0)
			break;
		if (mlc_time_mono_ms() > deadline) {
			for (size_t i = 0; i < n; i++)
				if (kids[i].pid > 0) {
					fprintf(stderr, "mlc up: %s did not stop; killing it\n",
					    kids[i].name);
					kill(kids[i].pid, SIGKILL);
					waitpid(kids[i].pid, NULL, 0);
					kids[i].pid = 0;
				}
			break;
		}
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "mlc up: stopped\n");
	return fatal ? 2 : 0;
}
