/* mlc: the operator's command. See cli.h for the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlc_log.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mlc COMMAND [-c CONFIG] [options]\n"
	    "\n"
	    "commands:\n"
	    "  up                 start poller, formatter, dispatcher(s) and auditor and\n"
	    "                     supervise them (restart on crash; Ctrl-C stops all)\n"
	    "  tail [--json] [--errors] [--entity E] [--channel C]\n"
	    "                     print the live audit stream\n"
	    "  audit [--json] [--kind K] [--limit N]\n"
	    "                     print the audit journal (oldest first)\n"
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
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mlc: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
