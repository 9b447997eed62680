/*
 * mlc-pace-feed: pushes a burst of message frames straight into the
 * dispatchers' inboxes, as the formatter would, for the pacing benchmark
 * (bench/pace.py) and the dispatcher's end-to-end tests.
 *
 *   mlc-pace-feed -c mlc.yaml --channels 200 --messages 10 [--prefix bench]
 *                 [--run ID] [--timeout-s 60]
 *
 * Channel i is "#<prefix>-<i>"; each gets `messages` frames. Every frame
 * goes to the dispatcher that owns its channel (mlc_topo_dispatcher_for,
 * like the formatter), through the chain of custody: the feeder keeps the
 * frames in its own LMDB outbox (state_dir/pace-feed) and binds the
 * formatter's ack endpoint, so it must not run beside a formatter. It exits
 * 0 once every frame is acknowledged, i.e. held durably by a dispatcher.
 *
 * Message ids are <run>/<channel>/<n>; the text is "<run> <channel> <n>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "mlc_cfg.h"
#include "mlc_custody.h"
#include "mlc_log.h"
#include "mlc_store.h"
#include "mlc_time.h"
#include "mlc_topo.h"
#include "mlc_zmq.h"

struct feed {
	struct mlc_cfg *cfg;
	struct mlc_outbox *ob[MLC_CFG_MAX_DISPATCHERS];
	long channels, messages;
	const char *prefix, *run;
};

static int
fill_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct feed *fd = arg;
	char now[25];

	mlc_time_format_ms(mlc_time_now_ms(), now);
	for (long m = 0; m < fd->messages; m++) {
		for (long c = 0; c < fd->channels; c++) {
			char chan[96], id[256], rec[256], text[256], blocks[512], key[32];
			const char *parts[3];
			struct mlc_frame f;
			size_t d;

			snprintf(chan, sizeof(chan), "#%s-%ld", fd->prefix, c);
			snprintf(key, sizeof(key), "%ld", m);
			snprintf(text, sizeof(text), "%s %s %ld", fd->run, chan, m);
			snprintf(blocks, sizeof(blocks), "[{\"type\":\"section\",\"text\":"
			    "{\"type\":\"mrkdwn\",\"text\":\"%s\"}}]", text);
			parts[0] = fd->run;
			parts[1] = chan;
			parts[2] = key;
			if (mlc_proto_make_id(parts, 3, id, sizeof(id)) != 0 ||
			    mlc_proto_make_id(parts, 3, rec, sizeof(rec)) != 0)
				return mlc_err_set(err, "--run or --prefix too long");
			memset(&f, 0, sizeof(f));
			f.type = MLC_FRAME_MESSAGE;
			f.u.msg.id = id;
			f.u.msg.from = "formatter";
			f.u.msg.record_id = rec;
			f.u.msg.entity = "bench";
			f.u.msg.key = key;
			f.u.msg.route = "bench";
			f.u.msg.channel = chan;
			f.u.msg.text = text;
			f.u.msg.blocks = blocks;
			f.u.msg.created_at = now;
			d = mlc_topo_dispatcher_for(fd->cfg, chan);
			if (mlc_outbox_put_frame(fd->ob[d], txn, &f, id, err) != 0)
				return -1;
		}
	}
	return 0;
}

static long
num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "mlc-pace-feed: %s must be %ld..%ld\n", name, lo, hi);
		exit(2);
	}
	return n;
}

int
main(int argc, char **argv)
{
	static struct mlc_cfg cfg;
	struct feed fd = { .cfg = &cfg, .channels = 200, .messages = 10,
		.prefix = "bench" };
	struct mlc_custody_opts co;
	struct mlc_store *st = NULL;
	struct mlc_err err;
	const char *path = NULL;
	char dir[600], run[40];
	void *zctx, *ack;
	long timeout_s = 60;
	int64_t deadline;
	uint64_t pending;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			fprintf(stderr, "usage: mlc-pace-feed -c FILE [--channels N] "
			    "[--messages M] [--prefix P] [--run ID] [--timeout-s S]\n");
			return 2;
		}
		if (strcmp(a, "-c") == 0)
			path = v;
		else if (strcmp(a, "--channels") == 0)
			fd.channels = num_arg(a, v, 1, 4096);
		else if (strcmp(a, "--messages") == 0)
			fd.messages = num_arg(a, v, 1, 100000);
		else if (strcmp(a, "--prefix") == 0)
			fd.prefix = v;
		else if (strcmp(a, "--run") == 0)
			fd.run = v;
		else if (strcmp(a, "--timeout-s") == 0)
			timeout_s = num_arg(a, v, 1, 3600);
		else {
			fprintf(stderr, "mlc-pace-feed: unknown argument %s\n", a);
			return 2;
		}
		i++;
	}
	mlc_log_init("pace-feed", MLC_LOG_WARN);
	if (mlc_cfg_load(&cfg, path, &err) != 0) {
		fprintf(stderr, "mlc-pace-feed: %s\n", err.msg);
		return 2;
	}
	/* zmq.curve: as every stage, before any socket exists. */
	if (cfg.curve.enabled && mlc_zmq_curve_enable(cfg.curve.server_secret_key_file,
	    cfg.curve.server_public_key, cfg.curve.client_secret_key_file,
	    cfg.curve.client_public_key, &err) != 0) {
		fprintf(stderr, "mlc-pace-feed: %s\n", err.msg);
		return 2;
	}
	if (fd.run == NULL) {
		snprintf(run, sizeof(run), "run%lld", (long long)mlc_time_now_ms());
		fd.run = run;
	}
	mlc_topo_custody_opts(&cfg, &co);
	co.window = 100000;
	snprintf(dir, sizeof(dir), "%s/pace-feed", cfg.state_dir);
	zctx = zmq_ctx_new();
	ack = mlc_zmq_pull_bind(zctx, cfg.ep.formatter_ack, cfg.ep.bind_host,
	    cfg.max_frame_bytes, &err);
	if (ack == NULL || mlc_store_open(&st, dir, 0, &err) != 0)
		goto fail;
	for (size_t i = 0; i < cfg.ep.n_dispatchers; i++) {
		char name[32];

		mlc_topo_dispatcher_name(i, name, sizeof(name));
		if (mlc_outbox_open(&fd.ob[i], st, zctx, name, cfg.ep.dispatchers[i].in,
		    &co, &err) != 0)
			goto fail;
	}
	if (mlc_store_write(st, fill_txn, &fd, &err) != 0)
		goto fail;
	deadline = mlc_time_mono_ms() + timeout_s * 1000;
	do {
		zmq_pollitem_t pi = { ack, 0, ZMQ_POLLIN, 0 };
		int64_t now = mlc_time_mono_ms();

		pending = 0;
		for (size_t i = 0; i < cfg.ep.n_dispatchers; i++) {
			if (mlc_outbox_pump(fd.ob[i], now, &err) < 0)
				goto fail;
			pending += mlc_outbox_pending(fd.ob[i]);
		}
		if (pending == 0)
			break;
		zmq_poll(&pi, 1, 100);
		if (mlc_custody_take_acks(ack, fd.ob, cfg.ep.n_dispatchers,
		    mlc_time_mono_ms(), &err) < 0)
			goto fail;
	} while (mlc_time_mono_ms() < deadline);
	for (size_t i = 0; i < cfg.ep.n_dispatchers; i++)
		mlc_outbox_close(&fd.ob[i]);
	mlc_zmq_close(&ack);
	zmq_ctx_term(zctx);
	mlc_store_close(&st);
	if (pending != 0) {
		fprintf(stderr, "mlc-pace-feed: %llu frames not acknowledged after %ld s\n",
		    (unsigned long long)pending, timeout_s);
		return 1;
	}
	printf("fed %ld messages (%ld channels x %ld) run %s\n",
	    fd.channels * fd.messages, fd.channels, fd.messages, fd.run);
	return 0;
fail:
	fprintf(stderr, "mlc-pace-feed: %s\n", err.msg);
	return 1;
}
