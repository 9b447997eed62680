/*
 * mlc x3 login --code CODE|-   pair the connector with the X3 cloud gateway
 * mlc poll now                 start a poll cycle now
 *
 * `x3 login` exchanges the OAuth2 authorization (pairing) code for the first
 * access and refresh tokens. The exchange is done by `mlc-poller --x3-login`
 * (the poller owns the token store, poller/token_store.h), with the code
 * written to its stdin, never to its argv (which `ps` shows to every user);
 * `--code -` reads the code from our own stdin for the same reason. If a
 * poller is running it is then sent SIGHUP so it picks the new tokens up at
 * once (a poller stopped by a refused refresh token resumes).
 *
 * `poll now` sends SIGUSR1 to the poller named by state_dir/poller/pid,
 * after checking that the process is really an mlc-poller (a stale pid file
 * must not make us signal whatever process reused the number).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "mlc_topo.h"

int cli_x3(int argc, char **argv);
int cli_poll(int argc, char **argv);

/* The running poller's pid, or 0 if none. */
static pid_t
poller_pid(const struct mlc_cfg *cfg)
{
	char dir[512], path[600], comm[64], procf[64];
	FILE *f;
	long pid = 0;

	if (mlc_topo_state_path(cfg, "poller", dir, sizeof(dir)) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s/pid", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1 || pid > INT_MAX)
		pid = 0;
	fclose(f);
	if (pid == 0)
		return 0;
	snprintf(procf, sizeof(procf), "/proc/%ld/comm", pid);
	f = fopen(procf, "r");
	if (f == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "mlc-poller") == 0 ? (pid_t)pid : 0;
}

/* mlc-poller next to this binary, or in the build tree, else on PATH. */
static void
find_poller(char *out, size_t outsz)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, outsz, "%s/mlc-poller", self) < outsz &&
			    access(out, X_OK) == 0)
				return;
			if ((size_t)snprintf(out, outsz, "%s/../poller/mlc-poller", self) < outsz &&
			    access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, outsz, "mlc-poller");
}

static int
x3_login(int argc, char **argv, const struct mlc_cfg *cfg, const char *cfgpath)
{
	char code[4096], exe[PATH_MAX], abspath[PATH_MAX];
	const char *arg = NULL;
	int fds[2], status;
	pid_t pid, pp;
	size_t n;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--code") == 0 && i + 1 < argc)
			arg = argv[++i];
		else {
			fprintf(stderr, "mlc x3 login: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (arg == NULL) {
		fprintf(stderr, "usage: mlc x3 login --code CODE|- [-c CONFIG]\n"
		    "  --code - reads the authorization code from stdin (keeps it out of ps)\n");
		return 2;
	}
	if (strcmp(cfg->x3.auth, "oauth2") != 0) {
		fprintf(stderr, "mlc x3 login: x3.auth is '%s'; login is for 'oauth2'\n",
		    cfg->x3.auth);
		return 2;
	}
	if (strcmp(arg, "-") == 0) {
		if (fgets(code, sizeof(code), stdin) == NULL) {
			fprintf(stderr, "mlc x3 login: no code on stdin\n");
			return 2;
		}
	} else {
		snprintf(code, sizeof(code), "%s", arg);
	}
	n = strcspn(code, "\r\n");
	code[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "mlc x3 login: empty authorization code\n");
		return 2;
	}
	if (realpath(cfgpath, abspath) == NULL)
		snprintf(abspath, sizeof(abspath), "%s", cfgpath);
	find_poller(exe, sizeof(exe));
	if (pipe(fds) != 0) {
		fprintf(stderr, "mlc x3 login: pipe: %s\n", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "mlc x3 login: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		char *cargv[] = { exe, "-c", abspath, "--x3-login", NULL };

		dup2(fds[0], STDIN_FILENO);
		close(fds[0]);
		close(fds[1]);
		if (strchr(exe, '/') != NULL)
			execv(exe, cargv);
		else
			execvp(exe, cargv);
		fprintf(stderr, "mlc x3 login: cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	code[n] = '\n';
	if (write(fds[1], code, n + 1) != (ssize_t)(n + 1))
		fprintf(stderr, "mlc x3 login: cannot hand the code over: %s\n", strerror(errno));
	explicit_bzero(code, sizeof(code));
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1; /* the poller printed why */
	pp = poller_pid(cfg);
	if (pp > 0 && kill(pp, SIGHUP) == 0)
		printf("paired with X3; tokens saved; the running poller (pid %ld) picks them "
		    "up now\n", (long)pp);
	else
		printf("paired with X3; tokens saved; the poller uses them when it starts\n");
	return 0;
}

int
cli_x3(int argc, char **argv)
{
	struct mlc_cfg *cfg = malloc(sizeof(*cfg));
	const char *path = NULL;
	int rc;

	if (cfg == NULL)
		return 1;
	if (cli_load_config(&argc, argv, cfg, &path) != 0) {
		free(cfg);
		return 2;
	}
	if (argc >= 2 && strcmp(argv[1], "login") == 0) {
		rc = x3_login(argc - 2, argv + 2, cfg, path);
	} else {
		fprintf(stderr, "usage: mlc x3 login --code CODE|- [-c CONFIG]\n");
		rc = 2;
	}
	free(cfg);
	return rc;
}

int
cli_poll(int argc, char **argv)
{
	struct mlc_cfg *cfg = malloc(sizeof(*cfg));
	pid_t pid;
	int rc = 0;

	if (cfg == NULL)
		return 1;
	if (cli_load_config(&argc, argv, cfg, NULL) != 0) {
		free(cfg);
		return 2;
	}
	if (argc != 2 || strcmp(argv[1], "now") != 0) {
		fprintf(stderr, "usage: mlc poll now [-c CONFIG]\n");
		free(cfg);
		return 2;
	}
	pid = poller_pid(cfg);
	if (pid == 0) {
		fprintf(stderr, "mlc poll now: no running mlc-poller found (state_dir/poller/pid "
		    "under %s)\n", cfg->state_dir);
		rc = 1;
	} else if (kill(pid, SIGUSR1) != 0) {
		fprintf(stderr, "mlc poll now: cannot signal pid %ld: %s\n", (long)pid,
		    strerror(errno));
		rc = 1;
	} else {
		printf("poll cycle requested (mlc-poller pid %ld)\n", (long)pid);
	}
	free(cfg);
	return rc;
}
