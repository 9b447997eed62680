/*
 * mlc-slacksim: the Slack Web API simulator process.
 *
 * Set up (command line, token from the environment, store, rate limiter),
 * serve HTTP with libmicrohttpd until SIGINT/SIGTERM, shut down, exit 0.
 * This file knows HTTP - buffering bodies, headers, the 413 - and hands each
 * complete request to sim_api_handle() (api.c).
 *
 * One thread per connection: the dispatcher keeps 200+ keep-alive
 * connections open and later fault modes (a reply delayed past the client's
 * timeout) are simplest as a sleep in the handler, which must not stall
 * other connections.
 */
#include "slacksim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "mlc_log.h"

#define DEFAULT_TOKEN     "xoxb-test-token"
#define DEFAULT_TOKEN_ENV "SLACK_BOT_TOKEN"

/* Per-request state across the access handler's calls: the body so far. */
struct conn {
	char *buf;
	size_t len, cap;
	int too_big;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mlc-slacksim [--port N] [--port-file FILE] [--host 127.0.0.1]\n"
	    "                    [--token-env VAR] [--rate-interval-ms MS] [--burst N]\n"
	    "                    [--delay-ms MS] [--workspace-rate-interval-ms MS]\n"
	    "                    [--workspace-burst N] [--rotate-tokens] [--token-ttl S]\n"
	    "                    [--refresh-token-env VAR] [--scopes LIST] [--fault JSON]\n"
	    "                    [--print] [--quiet]\n"
	    "\n"
	    "Simulates the Slack Web API (POST /api/<method>) for tests and demos.\n"
	    "  --port N              port to listen on (0 = ephemeral, the default)\n"
	    "  --port-file FILE      write the bound port to FILE (atomically)\n"
	    "  --host ADDR           address to bind (default 127.0.0.1)\n"
	    "  --token-env VAR       env var holding the accepted bot token\n"
	    "                        (default SLACK_BOT_TOKEN; unset: xoxb-test-token)\n"
	    "  --rate-interval-ms MS one token per MS per (token, channel); 0 = off\n"
	    "                        (default 1000)\n"
	    "  --burst N             bucket capacity (default 1)\n"
	    "  --delay-ms MS         answer chat.postMessage MS late, after storing it\n"
	    "  --workspace-rate-interval-ms MS  a workspace-wide bucket per token:\n"
	    "                        one post per MS (default 0 = off)\n"
	    "  --workspace-burst N   its capacity (default 50)\n"
	    "  --rotate-tokens       tokens expire (token_expired) after --token-ttl;\n"
	    "                        oauth.v2.access grant_type=refresh_token rotates\n"
	    "  --token-ttl S         access token lifetime with rotation (default 43200)\n"
	    "  --refresh-token-env VAR  env var holding the first refresh token\n"
	    "                        (default SLACK_REFRESH_TOKEN; unset: xoxe-1-test-refresh)\n"
	    "  --scopes LIST         granted scopes, comma-separated (X-OAuth-Scopes;\n"
	    "                        history needs channels:history, info channels:read)\n"
	    "  --fault JSON          a fault as POST /sim/fault takes it (repeatable)\n"
	    "  --print               print each stored message as \"[#channel] text\"\n"
	    "  --quiet               no per-request log lines on stderr\n"
	    "Introspection: GET /sim/messages[?channel=], /sim/calls, /sim/stats,\n"
	    "/sim/fault; POST /sim/reset, /sim/fault (JSON), /sim/fault/clear.\n");
}

/* Strict decimal in [0, max]; -1 on anything else. */
static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

/* Writes "<port>\n" to path via a temporary file and rename(2), so a reader
 * polling for the file never sees it half-written. */
static int
write_port_file(const char *path, unsigned port, struct mlc_err *err)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return mlc_err_set(err, "--port-file %s: path too long", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return mlc_err_set(err, "--port-file: cannot create %s: %s", tmp,
		    strerror(errno));
	if (fprintf(f, "%u\n", port) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		mlc_err_set(err, "--port-file: cannot write %s: %s", tmp,
		    strerror(errno));
		fclose(f);
		goto err;
	}
	if (fclose(f) != 0) {
		mlc_err_set(err, "--port-file: cannot write %s: %s", tmp,
		    strerror(errno));
		goto err;
	}
	if (rename(tmp, path) != 0) {
		mlc_err_set(err, "--port-file: cannot rename %s to %s: %s", tmp,
		    path, strerror(errno));
		goto err;
	}
	return 0;
err:
	unlink(tmp);
	return -1;
}

static enum MHD_Result
collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	json_t *obj = cls, *v;

	(void)kind;
	if (key == NULL || json_object_get(obj, key) != NULL)
		return MHD_YES;
	v = json_string(value != NULL ? value : "");
	if (v != NULL)  /* invalid UTF-8 values are simply not seen */
		json_object_set_new(obj, key, v);
	return MHD_YES;
}

/* Request headers for the call log, Authorization left out (a secret),
 * at most 32 of them. */
static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	json_t *obj = cls, *v;

	(void)kind;
	if (key == NULL || strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0 ||
	    json_object_size(obj) >= 32 || json_object_get(obj, key) != NULL)
		return MHD_YES;
	v = json_string(value != NULL ? value : "");
	if (v != NULL)
		json_object_set_new(obj, key, v);
	return MHD_YES;
}

static enum MHD_Result
send_response(struct MHD_Connection *mc, const struct sim_response *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(rs->body_len,
	    rs->body != NULL ? rs->body : (char *)"", MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (rs->content_type != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    rs->content_type);
	if (rs->retry_after[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
		    rs->retry_after);
	if (rs->scopes[0] != '\0')
		MHD_add_response_header(r, "X-OAuth-Scopes", rs->scopes);
	ret = MHD_queue_response(mc, rs->body != NULL ? rs->status : 500, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
send_too_large(struct MHD_Connection *mc, const char *method,
    const char *path, int quiet)
{
	struct sim_response rs = { 0 };
	static char body[] = "{\"ok\":false,\"error\":\"request_too_large\"}";

	rs.status = 413;
	rs.body = body;
	rs.body_len = strlen(body);
	rs.content_type = "application/json; charset=utf-8";
	if (!quiet)
		mlc_info("%s %s -> 413 body over %u bytes", method, path,
		    SIM_MAX_BODY);
	return send_response(mc, &rs);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *mc, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct sim_ctx *ctx = cls;
	struct conn *cn = *con_cls;
	struct sim_request rq = { 0 };
	struct sim_response rs;
	char path[160];
	enum MHD_Result ret;
	size_t i;

	(void)version;
	/* The path goes into log lines: keep it printable and short. */
	for (i = 0; url[i] != '\0' && i + 1 < sizeof(path); i++)
		path[i] = (url[i] > 0x20 && url[i] < 0x7f) ? url[i] : '?';
	path[i] = '\0';

	if (cn == NULL) {
		const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t n;

		cn = calloc(1, sizeof(*cn));
		if (cn == NULL)
			return MHD_NO;
		*con_cls = cn;
		if (cl != NULL && (parse_u64(cl, UINT64_MAX / 10, &n) != 0 ||
		    n > SIM_MAX_BODY)) {
			cn->too_big = 1;
			return send_too_large(mc, method, path,
			    ctx->cfg.quiet);
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (cn->too_big || cn->len + n > SIM_MAX_BODY) {
			/* Chunked upload past the cap: drop the rest, answer
			 * 413 once the client is done. */
			cn->too_big = 1;
			return MHD_YES;
		}
		if (cn->len + n > cn->cap) {
			size_t ncap = cn->cap == 0 ? 4096 : cn->cap;
			char *nb;

			while (ncap < cn->len + n)
				ncap *= 2;
			nb = realloc(cn->buf, ncap);
			if (nb == NULL)
				return MHD_NO;
			cn->buf = nb;
			cn->cap = ncap;
		}
		memcpy(cn->buf + cn->len, upload_data, n);
		cn->len += n;
		return MHD_YES;
	}
	if (cn->too_big)
		return send_too_large(mc, method, path, ctx->cfg.quiet);

	rq.http_method = method;
	rq.path = url;
	rq.content_type = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	rq.authorization = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	rq.body = cn->buf;
	rq.body_len = cn->len;
	rq.query = json_object();
	if (rq.query != NULL)
		MHD_get_connection_values(mc, MHD_GET_ARGUMENT_KIND,
		    collect_query, rq.query);
	rq.headers = json_object();
	if (rq.headers != NULL)
		MHD_get_connection_values(mc, MHD_HEADER_KIND, collect_header,
		    rq.headers);
	sim_api_handle(ctx, &rq, &rs);
	json_decref(rq.query);
	json_decref(rq.headers);
	if (rs.drop) {
		/* "reset" and "store then drop": close without a word. */
		if (!ctx->cfg.quiet)
			mlc_info("%s %s -> connection dropped %s", method, path,
			    rs.log_note);
		free(rs.body);
		return MHD_NO;
	}
	if (!ctx->cfg.quiet)
		mlc_info("%s %s -> %u %s", method, path,
		    rs.body != NULL ? rs.status : 500, rs.log_note);
	ret = send_response(mc, &rs);
	free(rs.body);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	(void)cls;
	(void)mc;
	(void)toe;
	if (cn != NULL) {
		free(cn->buf);
		free(cn);
		*con_cls = NULL;
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "host", required_argument, NULL, 'H' },
		{ "token-env", required_argument, NULL, 't' },
		{ "rate-interval-ms", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'b' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "workspace-rate-interval-ms", required_argument, NULL, 'W' },
		{ "workspace-burst", required_argument, NULL, 'B' },
		{ "rotate-tokens", no_argument, NULL, 'R' },
		{ "token-ttl", required_argument, NULL, 'T' },
		{ "refresh-token-env", required_argument, NULL, 'e' },
		{ "scopes", required_argument, NULL, 's' },
		{ "fault", required_argument, NULL, 'F' },
		{ "print", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim_ctx ctx = { 0 };
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	const char *host = "127.0.0.1", *port_file = NULL;
	const char *token_env = DEFAULT_TOKEN_ENV, *tok;
	const char *refresh_env = "SLACK_REFRESH_TOKEN";
	const char *faults[64];
	size_t n_faults = 0;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d = NULL;
	struct mlc_err err = { { 0 } };
	uint64_t port = 0, v;
	unsigned flags;
	sigset_t sigs;
	int opt, sig, v6 = 0, rc = 1;

	mlc_log_init("slacksim", MLC_LOG_INFO);
	ctx.cfg.burst = 1;
	ctx.cfg.rate_interval_ms = 1000;
	ctx.cfg.ws_burst = 50;
	ctx.cfg.token_ttl_s = 43200;
	ctx.cfg.scopes = "chat:write,chat:write.public,channels:read,channels:history,"
	    "groups:read,groups:history";
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_u64(optarg, 65535, &port) != 0) {
				fprintf(stderr, "mlc-slacksim: --port wants 0-65535, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 't':
			token_env = optarg;
			break;
		case 'r':
			if (parse_u64(optarg, 86400000u, &v) != 0) {
				fprintf(stderr, "mlc-slacksim: --rate-interval-ms wants 0-86400000, got '%s'\n", optarg);
				return 2;
			}
			ctx.cfg.rate_interval_ms = v;
			break;
		case 'b':
			if (parse_u64(optarg, 1000000u, &v) != 0 || v == 0) {
				fprintf(stderr, "mlc-slacksim: --burst wants 1-1000000, got '%s'\n", optarg);
				return 2;
			}
			ctx.cfg.burst = (unsigned)v;
			break;
		case 'd':
			if (parse_u64(optarg, 600000u, &v) != 0) {
				fprintf(stderr, "mlc-slacksim: --delay-ms wants 0-600000, got '%s'\n", optarg);
				return 2;
			}
			ctx.cfg.delay_ms = v;
			break;
		case 'W':
			if (parse_u64(optarg, 86400000u, &v) != 0) {
				fprintf(stderr, "mlc-slacksim: --workspace-rate-interval-ms wants 0-86400000, got '%s'\n", optarg);
				return 2;
			}
			ctx.cfg.ws_interval_ms = v;
			break;
		case 'B':
			if (parse_u64(optarg, 1000000u, &v) != 0 || v == 0) {
				fprintf(stderr, "mlc-slacksim: --workspace-burst wants 1-1000000, got '%s'\n", optarg);
				return 2;
			}
			ctx.cfg.ws_burst = (unsigned)v;
			break;
		case 'R':
			ctx.cfg.rotate = 1;
			break;
		case 'T':
			if (parse_u64(optarg, 86400u * 365, &v) != 0 || v == 0) {
				fprintf(stderr, "mlc-slacksim: --token-ttl wants 1-31536000 seconds, got '%s'\n", optarg);
				return 2;
			}
			ctx.cfg.token_ttl_s = v;
			break;
		case 'e':
			refresh_env = optarg;
			break;
		case 's':
			ctx.cfg.scopes = optarg;
			break;
		case 'F':
			if (n_faults == sizeof(faults) / sizeof(faults[0])) {
				fprintf(stderr, "mlc-slacksim: at most 64 --fault\n");
				return 2;
			}
			faults[n_faults++] = optarg;
			break;
		case 'P':
			ctx.cfg.print = 1;
			break;
		case 'q':
			ctx.cfg.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mlc-slacksim: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		v6 = 1;
	} else {
		fprintf(stderr, "mlc-slacksim: --host '%s' is not a numeric IPv4 or IPv6 address\n", host);
		return 2;
	}

	tok = getenv(token_env);
	ctx.cfg.token = (tok != NULL && *tok != '\0') ? tok : DEFAULT_TOKEN;

	tok = getenv(refresh_env);
	ctx.cfg.refresh_token = (tok != NULL && *tok != '\0') ? tok :
	    "xoxe-1-test-refresh";

	ctx.store = sim_store_new(ctx.cfg.print, &err);
	ctx.rl = sim_rl_new(ctx.cfg.burst, ctx.cfg.rate_interval_ms);
	if (ctx.cfg.ws_interval_ms > 0)
		ctx.ws_rl = sim_rl_new(ctx.cfg.ws_burst, ctx.cfg.ws_interval_ms);
	ctx.faults = sim_faults_new();
	ctx.tokens = sim_tokens_new(ctx.cfg.token, ctx.cfg.refresh_token,
	    ctx.cfg.rotate, ctx.cfg.token_ttl_s);
	if (ctx.store == NULL || ctx.rl == NULL || ctx.faults == NULL ||
	    ctx.tokens == NULL || (ctx.cfg.ws_interval_ms > 0 && ctx.ws_rl == NULL)) {
		fprintf(stderr, "mlc-slacksim: %s\n",
		    err.msg[0] ? err.msg : "out of memory");
		goto out;
	}

	for (size_t i = 0; i < n_faults; i++) {
		json_t *spec = json_loads(faults[i], 0, NULL);
		int r = sim_faults_add(ctx.faults, spec, &err);

		json_decref(spec);
		if (r != 0) {
			fprintf(stderr, "mlc-slacksim: --fault '%s': %s\n", faults[i],
			    err.msg);
			rc = 2;
			goto out;
		}
	}

	/* Block the signals before MHD starts its threads so they inherit the
	 * mask and only sigwait() below sees SIGINT/SIGTERM. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_POLL | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, &ctx,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
	    /* MHD zeroes a connection's memory pool for every request: 16 kB
	     * (headers and read buffer; bodies go to our own buffer) instead
	     * of the default 32 kB halves that, a fifth of the simulator's
	     * CPU per post in bench/throughput.py. */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "mlc-slacksim: cannot listen on %s port %u: %s\n",
		    host, (unsigned)port, strerror(errno));
		goto out;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0) {
		fprintf(stderr, "mlc-slacksim: cannot learn the bound port\n");
		goto out;
	}
	if (port_file != NULL &&
	    write_port_file(port_file, info->port, &err) != 0) {
		fprintf(stderr, "mlc-slacksim: %s\n", err.msg);
		goto out;
	}
	printf("mlc-slacksim listening on http://%s%s%s:%u\n", v6 ? "[" : "",
	    host, v6 ? "]" : "", (unsigned)info->port);
	fflush(stdout);

	sigdelset(&sigs, SIGPIPE);
	for (;;) {
		if (sigwait(&sigs, &sig) == 0 && (sig == SIGINT || sig == SIGTERM))
			break;
	}
	if (!ctx.cfg.quiet)
		mlc_info("signal %d: shutting down", sig);
	rc = 0;
out:
	if (d != NULL)
		MHD_stop_daemon(d);
	sim_rl_destroy(&ctx.rl);
	sim_rl_destroy(&ctx.ws_rl);
	sim_faults_destroy(&ctx.faults);
	sim_tokens_destroy(&ctx.tokens);
	sim_store_destroy(&ctx.store);
	return rc;
}
