/* mlc tail: subscribes to the auditor's live stream and prints each event. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "mlc_zmq.h"

static volatile sig_atomic_t stop;

static void
on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

int
cli_tail(int argc, char **argv)
{
	struct mlc_cfg cfg;
	struct mlc_err err;
	const char *entity = NULL, *channel = NULL;
	int json = 0, errors = 0;
	void *ctx, *sub;

	if (cli_load_config(&argc, argv, &cfg, NULL) != 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--errors") == 0)
			errors = 1;
		else if (strcmp(argv[i], "--entity") == 0 && i + 1 < argc)
			entity = argv[++i];
		else if (strcmp(argv[i], "--channel") == 0 && i + 1 < argc)
			channel = argv[++i];
		else {
			fprintf(stderr, "mlc tail: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	ctx = zmq_ctx_new();
	sub = mlc_zmq_sub_connect(ctx, cfg.ep.auditor_pub, cfg.max_frame_bytes, &err);
	if (sub == NULL) {
		fprintf(stderr, "mlc tail: %s\n", err.msg);
		return 1;
	}
	while (!stop) {
		char buf[65536];
		zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
		int n;

		if (zmq_poll(&item, 1, 200) <= 0)
			continue;
		n = zmq_recv(sub, buf, sizeof(buf) - 1, ZMQ_DONTWAIT);
		if (n < 0 || n >= (int)sizeof(buf))
			continue;
		buf[n] = '\0';
		if (!cli_event_matches(buf, errors, entity, channel))
			continue;
		if (json) {
			printf("%s\n", buf);
			fflush(stdout);
		} else {
			cli_print_event_line(buf);
		}
	}
	mlc_zmq_close(&sub);
	zmq_ctx_term(ctx);
	return 0;
}
