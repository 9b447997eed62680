/* mlc: the operator's command. See cli.h for the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlc_log.h"
#include "mlc_zmq.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mlc COMMAND [-c CONFIG] [options]\n"
	    "\n"
	    "commands:\n"
	    "  up                 start poller, formatter, dispatcher(s) and auditor and\n"
	    "                     supervise them (restart on crash; Ctrl-C stops all)\n"
	    "  tail [--json] [--errors] [--entity E] [--channel C] [--since 1h]\n"
	    "                     print the live audit stream (--since: history first)\n"
	    "  audit [--json] [--since T] [--until T] [--entity E] [--channel C]\n"
	    "        [--outcome O] [--record NUMBER] [--kind K] [--limit N] [--compact]\n"
	    "                     query the audit journal (oldest first)\n"
	    "  status [--json]    last poll and watermark per entity, backlog and last\n"
	    "                     post per channel, dead letters, tokens, stage health\n"
	    "  replay MSG_ID... | replay --failed [--since T] [--channel C]\n"
	    "                     post again what failed (never what already posted)\n"
	    "  check [--x3|--slack]  try the configured X3 and Slack credentials\n"
	    "  x3 login --code CODE|-   pair with the X3 cloud gateway (OAuth2; - = stdin)\n"
	    "  poll now           make the running poller start a cycle now\n"
	    "  secrets set NAME | list | rm NAME\n"
	    "                     the encrypted secret store (value from stdin or --file)\n"
	    "  keys generate --master FILE | --curve DIR\n"
	    "                     make a master key or CURVE key pairs\n"
	    "\n"
	    "CONFIG defaults to $MLC_CONFIG, then ./mlc.yaml.\n");
}

int
cli_load_config(int *argc, char **argv, struct mlc_cfg *cfg, const char **path)
{
	struct mlc_err err;
	const char *p = NULL;
	int j = 0;

	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < *argc) {
			p = argv[++i];
			continue;
		}
		argv[j++] = argv[i];
	}
	*argc = j;
	argv[j] = NULL;
	if (mlc_cfg_load(cfg, p, &err) != 0) {
		fprintf(stderr, "mlc: %s\n", err.msg);
		return -1;
	}
	if (cfg->curve.enabled && mlc_zmq_curve_enable(cfg->curve.server_secret_key_file,
	    cfg->curve.server_public_key, cfg->curve.client_secret_key_file,
	    cfg->curve.client_public_key, &err) != 0) {
		fprintf(stderr, "mlc: %s\n", err.msg);
		return -1;
	}
	if (path != NULL)
		*path = p ? p : cfg->path;
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	mlc_log_init("mlc", MLC_LOG_INFO);
	if (strcmp(argv[1], "up") == 0)
		return cli_up(argc - 1, argv + 1);
	if (strcmp(argv[1], "tail") == 0)
		return cli_tail(argc - 1, argv + 1);
	if (strcmp(argv[1], "audit") == 0)
		return cli_audit(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return cli_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "replay") == 0)
		return cli_replay(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return cli_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "x3") == 0 || strcmp(argv[1], "poll") == 0) { /* cli/x3.c */
		int cli_x3(int, char **), cli_poll(int, char **);

		return argv[1][0] == 'x' ? cli_x3(argc - 1, argv + 1) : cli_poll(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "secrets") == 0 || strcmp(argv[1], "keys") == 0)
		return cli_secrets(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mlc: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
