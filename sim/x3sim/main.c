/*
 * mlc-x3sim: a simulated Sage X3 server for the demo and the tests.
 *
 *   mlc-x3sim [--port N] [--port-file FILE] [--host 127.0.0.1] [--folder SEED]
 *             [--user admin] [--password-env VAR] [--seed N] [--initial N]
 *             [--rate R] [--max-versions N] [--quiet] [--entities po,pinv,gl]
 *             [--graphql-roots new|old] [--auth basic|oauth2|connected-app|any]
 *             [--client-id ID] [--client-secret-env VAR] [--access-ttl S]
 *             [--refresh-ttl S] [--refresh-expiry sliding|absolute]
 *             [--app-secret-env VAR] [--app-audience AUD]
 *             [--app-max-validity S] [--tls-cert FILE --tls-key FILE]
 *
 * x3sim.h documents every option and route. Set up (store, faults, auth,
 * generator, listening socket, HTTP server), announce the
 * address, then wait for SIGINT/SIGTERM and shut down cleanly (exit 0).
 * Signals are blocked in every thread and taken with sigwait() here, so no
 * handler ever runs inside the store's critical sections.
 */
#include "x3sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mlc_log.h"

struct opts {
	unsigned long      port;
	const char        *port_file;
	const char        *host;
	const char        *folder;
	const char        *user;
	const char        *password_env;
	unsigned long long seed;
	unsigned long      initial;
	unsigned long      rate;
	unsigned long long max_versions;
	int                quiet;
	unsigned           entities;
	int                old_roots;
	unsigned           auth_modes;
	const char        *client_id;
	const char        *client_secret_env;
	unsigned long long access_ttl, refresh_ttl, app_max_validity;
	int                refresh_absolute;
	const char        *app_secret_env;
	const char        *app_audience;
	const char        *tls_cert, *tls_key;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mlc-x3sim [--port N] [--port-file FILE] [--host 127.0.0.1] [--folder SEED]\n"
	    "                 [--user admin] [--password-env VAR] [--seed N] [--initial N]\n"
	    "                 [--rate R] [--max-versions N] [--quiet] [--entities po,pinv,gl]\n"
	    "                 [--graphql-roots new|old] [--auth basic|oauth2|connected-app|any]\n"
	    "                 [--client-id ID] [--client-secret-env VAR] [--access-ttl S]\n"
	    "                 [--refresh-ttl S] [--refresh-expiry sliding|absolute]\n"
	    "                 [--app-secret-env VAR] [--app-audience AUD] [--app-max-validity S]\n"
	    "                 [--tls-cert FILE --tls-key FILE]\n"
	    "  --port 0 (default) picks a free port; the password is read from the\n"
	    "  environment variable named by --password-env (default X3_PASSWORD,\n"
	    "  \"admin\" if unset); --rate is changes per second (integer, 0 = none).\n"
	    "  Secrets: --client-secret-env (X3_CLIENT_SECRET, else \"sim-secret\"),\n"
	    "  --app-secret-env (X3_APP_SECRET, else \"sim-app-secret\").\n");
}

/* Strict unsigned decimal in [0, max]. */
static int
parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 19)
			return -1;
		v = v * 10 + (unsigned long long)(s[n] - '0');
	}
	if (n == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
valid_name(const char *s, size_t max, int allow_lower)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		    (allow_lower && c >= 'a' && c <= 'z')))
			return 0;
	}
	return 1;
}

/* "po,pinv,gl" (any non-empty subset, any order) into a bit set. */
static int
parse_entities(const char *s, unsigned *out)
{
	char buf[64], *tok, *save = NULL;
	unsigned set = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		int e = x3_entity_parse(tok);

		if (e < 0)
			return -1;
		set |= 1u << e;
	}
	if (set == 0)
		return -1;
	*out = set;
	return 0;
}

/* Reads a whole PEM file (at most 1 MiB) into a NUL-terminated string. */
static char *
read_pem(const char *path, struct mlc_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;

	if (f == NULL) {
		mlc_err_set(err, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc((1 << 20) + 1);
	if (buf != NULL)
		n = fread(buf, 1, 1 << 20, f);
	if (buf == NULL || ferror(f) || n == 0 || n == (1 << 20)) {
		mlc_err_set(err, "cannot read %s: empty, unreadable or over 1 MiB", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : dflt;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "host", required_argument, NULL, 'H' },
		{ "folder", required_argument, NULL, 'F' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-env", required_argument, NULL, 'P' },
		{ "seed", required_argument, NULL, 's' },
		{ "initial", required_argument, NULL, 'i' },
		{ "rate", required_argument, NULL, 'r' },
		{ "max-versions", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "entities", required_argument, NULL, 'E' },
		{ "graphql-roots", required_argument, NULL, 'G' },
		{ "auth", required_argument, NULL, 'A' },
		{ "client-id", required_argument, NULL, 'c' },
		{ "client-secret-env", required_argument, NULL, 'C' },
		{ "access-ttl", required_argument, NULL, 'a' },
		{ "refresh-ttl", required_argument, NULL, 'R' },
		{ "refresh-expiry", required_argument, NULL, 'x' },
		{ "app-secret-env", required_argument, NULL, 'S' },
		{ "app-audience", required_argument, NULL, 'U' },
		{ "app-max-validity", required_argument, NULL, 'V' },
		{ "tls-cert", required_argument, NULL, 'T' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->folder = "SEED";
	o->user = "admin";
	o->password_env = "X3_PASSWORD";
	o->seed = 1;
	o->initial = 5;
	o->rate = 1;
	o->entities = (1u << X3_ENT_COUNT) - 1;
	o->auth_modes = X3_AUTH_BASIC;
	o->client_id = "mlc-client";
	o->client_secret_env = "X3_CLIENT_SECRET";
	o->access_ttl = 300;
	o->refresh_ttl = 2592000;
	o->app_secret_env = "X3_APP_SECRET";
	o->app_audience = "x3";
	o->app_max_validity = 300;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_num(optarg, 65535, &v) != 0)
				goto bad;
			o->port = (unsigned long)v;
			break;
		case 'f':
			o->port_file = optarg;
			break;
		case 'H':
			o->host = optarg;
			break;
		case 'F':
			if (!valid_name(optarg, 32, 0)) {
				fprintf(stderr, "mlc-x3sim: --folder must be 1-32 of A-Z 0-9 _\n");
				return -1;
			}
			o->folder = optarg;
			break;
		case 'u':
			if (strlen(optarg) == 0 || strlen(optarg) > 64 || strchr(optarg, ':')) {
				fprintf(stderr, "mlc-x3sim: --user must be 1-64 bytes without ':'\n");
				return -1;
			}
			o->user = optarg;
			break;
		case 'P':
			if (!valid_name(optarg, 128, 1)) {
				fprintf(stderr, "mlc-x3sim: --password-env must be an environment variable name\n");
				return -1;
			}
			o->password_env = optarg;
			break;
		case 's':
			if (parse_num(optarg, UINT64_MAX, &v) != 0)
				goto bad;
			o->seed = v;
			break;
		case 'i':
			if (parse_num(optarg, 100000, &v) != 0)
				goto bad;
			o->initial = (unsigned long)v;
			break;
		case 'r':
			if (parse_num(optarg, 1000, &v) != 0) {
				fprintf(stderr, "mlc-x3sim: --rate must be an integer from 0 to 1000\n");
				return -1;
			}
			o->rate = (unsigned long)v;
			break;
		case 'm':
			if (parse_num(optarg, UINT64_MAX, &v) != 0 || v == 0)
				goto bad;
			o->max_versions = v;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'E':
			if (parse_entities(optarg, &o->entities) != 0) {
				fprintf(stderr, "mlc-x3sim: --entities is a comma list of po, pinv, gl\n");
				return -1;
			}
			break;
		case 'G':
			if (strcmp(optarg, "new") != 0 && strcmp(optarg, "old") != 0)
				goto bad;
			o->old_roots = strcmp(optarg, "old") == 0;
			break;
		case 'A':
			if (strcmp(optarg, "basic") == 0)
				o->auth_modes = X3_AUTH_BASIC;
			else if (strcmp(optarg, "oauth2") == 0)
				o->auth_modes = X3_AUTH_OAUTH2;
			else if (strcmp(optarg, "connected-app") == 0)
				o->auth_modes = X3_AUTH_APP;
			else if (strcmp(optarg, "any") == 0)
				o->auth_modes = X3_AUTH_ANY;
			else
				goto bad;
			break;
		case 'c':
		case 'U':
			if (strlen(optarg) == 0 || strlen(optarg) > 128)
				goto bad;
			if (c == 'c')
				o->client_id = optarg;
			else
				o->app_audience = optarg;
			break;
		case 'C':
		case 'S':
			if (!valid_name(optarg, 128, 1)) {
				fprintf(stderr, "mlc-x3sim: --%s must be an environment variable name\n",
				    c == 'C' ? "client-secret-env" : "app-secret-env");
				return -1;
			}
			if (c == 'C')
				o->client_secret_env = optarg;
			else
				o->app_secret_env = optarg;
			break;
		case 'a':
		case 'R':
		case 'V':
			if (parse_num(optarg, 10ULL * 365 * 86400, &v) != 0 || v == 0)
				goto bad;
			if (c == 'a')
				o->access_ttl = v;
			else if (c == 'R')
				o->refresh_ttl = v;
			else
				o->app_max_validity = v;
			break;
		case 'x':
			if (strcmp(optarg, "sliding") != 0 && strcmp(optarg, "absolute") != 0)
				goto bad;
			o->refresh_absolute = strcmp(optarg, "absolute") == 0;
			break;
		case 'T':
			o->tls_cert = optarg;
			break;
		case 'K':
			o->tls_key = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mlc-x3sim: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
		fprintf(stderr, "mlc-x3sim: --tls-cert and --tls-key go together\n");
		return -1;
	}
	return 0;
bad:
	for (const struct option *lo = longopts; lo->name != NULL; lo++)
		if (lo->val == c)
			fprintf(stderr, "mlc-x3sim: bad value '%s' for --%s\n", optarg, lo->name);
	return -1;
}

/* Binds and listens on a numeric host; writes the bound port and the URL
 * form of the host ("[::1]" for IPv6). Returns the fd or -1. */
static int
listen_on(const char *host, unsigned long port, unsigned *bound, char *urlhost,
    size_t urlhostsz, struct mlc_err *err)
{
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char portstr[8];
	int fd = -1, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%lu", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0)
		return mlc_err_set(err, "--host '%s' is not a numeric IP address", host);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		mlc_err_set(err, "socket: %s", strerror(errno));
		goto err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		mlc_err_set(err, "cannot bind %s:%lu: %s", host, port, strerror(errno));
		goto err;
	}
	if (listen(fd, 64) != 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		mlc_err_set(err, "cannot listen on %s:%lu: %s", host, port, strerror(errno));
		goto err;
	}
	*bound = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
	snprintf(urlhost, urlhostsz, ai->ai_family == AF_INET6 ? "[%s]" : "%s", host);
	freeaddrinfo(ai);
	return fd;
err:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

/* Writes the port to path via a temporary file and rename(2), so a reader
 * polling for the file never sees it half written. */
static int
write_port_file(const char *path, unsigned port, struct mlc_err *err)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return mlc_err_set(err, "--port-file path too long");
	f = fopen(tmp, "w");
	if (f == NULL)
		return mlc_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		mlc_err_set(err, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct mlc_err err = { { 0 } };
	struct x3_store store;
	struct x3_gen gen;
	struct x3_faults faults;
	struct x3_auth auth;
	struct x3_server srv;
	const char *pw;
	char password[256], urlhost[80];
	char client_secret[256], app_secret[256];
	unsigned port = 0;
	sigset_t sigs;
	int fd = -1, sig = 0, store_ok = 0, gen_ok = 0, faults_ok = 0, auth_ok = 0;

	if (parse_opts(argc, argv, &o) != 0)
		return 2;
	mlc_log_init("x3sim", MLC_LOG_INFO);

	pw = getenv(o.password_env);
	snprintf(password, sizeof(password), "%s", pw != NULL ? pw : "admin");
	snprintf(client_secret, sizeof(client_secret), "%s",
	    env_or(o.client_secret_env, "sim-secret"));
	snprintf(app_secret, sizeof(app_secret), "%s", env_or(o.app_secret_env, "sim-app-secret"));
	memset(&srv, 0, sizeof(srv));
	if (o.tls_cert != NULL) {
		srv.tls_cert = read_pem(o.tls_cert, &err);
		srv.tls_key = srv.tls_cert ? read_pem(o.tls_key, &err) : NULL;
		if (srv.tls_key == NULL)
			goto err;
	}

	/* Block before any thread exists so every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (x3_store_init(&store, &err) != 0)
		goto err;
	store_ok = 1;
	if (x3_faults_init(&faults, o.seed, &err) != 0)
		goto err;
	faults_ok = 1;
	memset(&auth, 0, sizeof(auth));
	auth.modes = o.auth_modes;
	auth.user = o.user;
	auth.password = password;
	auth.client_id = o.client_id;
	auth.client_secret = client_secret;
	auth.app_secret = app_secret;
	auth.app_audience = o.app_audience;
	auth.access_ttl = (int64_t)o.access_ttl;
	auth.refresh_ttl = (int64_t)o.refresh_ttl;
	auth.app_max_validity = (int64_t)o.app_max_validity;
	auth.refresh_absolute = o.refresh_absolute;
	if (x3_auth_init(&auth, &err) != 0)
		goto err;
	auth_ok = 1;
	if (x3_gen_init(&gen, &store, o.seed, (unsigned)o.rate, o.max_versions, &err) != 0)
		goto err;
	gen_ok = 1;
	gen.entities = o.entities;
	gen.faults = &faults;
	x3_gen_initial(&gen, (unsigned)o.initial);

	fd = listen_on(o.host, o.port, &port, urlhost, sizeof(urlhost), &err);
	if (fd < 0)
		goto err;
	srv.store = &store;
	srv.gen = &gen;
	srv.faults = &faults;
	srv.auth = &auth;
	srv.folder = o.folder;
	srv.graphql_old_roots = o.old_roots;
	srv.quiet = o.quiet;
	snprintf(srv.base_url, sizeof(srv.base_url), "%s://%s:%u",
	    srv.tls_cert ? "https" : "http", urlhost, port);
	if (x3_server_start(&srv, fd, &err) != 0)
		goto err;
	if (x3_gen_start(&gen, &err) != 0) {
		x3_server_stop(&srv);
		goto err;
	}
	if (o.port_file != NULL && write_port_file(o.port_file, port, &err) != 0) {
		x3_gen_stop(&gen);
		gen_ok = 0;
		x3_server_stop(&srv);
		goto err;
	}
	printf("mlc-x3sim listening on %s\n", srv.base_url);
	fflush(stdout);

	while (sigwait(&sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
		;
	if (!o.quiet)
		mlc_info("signal %d: shutting down", sig);
	x3_gen_stop(&gen);
	x3_server_stop(&srv);
	close(fd);
	x3_auth_destroy(&auth);
	x3_faults_destroy(&faults);
	x3_store_destroy(&store);
	explicit_bzero(password, sizeof(password));
	explicit_bzero(client_secret, sizeof(client_secret));
	explicit_bzero(app_secret, sizeof(app_secret));
	free(srv.tls_cert);
	free(srv.tls_key);
	return 0;
err:
	fprintf(stderr, "mlc-x3sim: %s\n", err.msg);
	if (fd >= 0)
		close(fd);
	if (gen_ok)
		x3_gen_stop(&gen);
	if (auth_ok)
		x3_auth_destroy(&auth);
	if (faults_ok)
		x3_faults_destroy(&faults);
	if (store_ok)
		x3_store_destroy(&store);
	free(srv.tls_cert);
	free(srv.tls_key);
	return 1;
}
