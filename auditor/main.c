/*
 * mlc-auditor: the journal of everything the connector did, and the place
 * operators ask about it.
 *
 * Every stage sends audit events (poll cycles, posts, token events, errors,
 * start-ups, shutdowns, reloads) through the chain of custody; the auditor
 * stores each exactly once in its LMDB journal with indexes (journal.h),
 * then publishes it as one JSON text on a PUB socket for `mlc tail` and
 * folds it into the health state behind /metrics, /healthz and `mlc status`
 * (state.h). `mlc` asks questions and requests replays on the control
 * socket (ctl.c); replays and dead-letter alerts go to the dispatchers
 * through outboxes of the auditor's own (core.c). Slack's signed requests
 * arrive on the HTTP listener (http.c, inbound.c).
 *
 * The journal is kept for auditor.retention (default 90 days), pruned
 * hourly, compacted every auditor.compact_interval (default 7 days) or on
 * `mlc audit --compact`, and survives restarts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auditor.h"
#include "mlc_audit.h"
#include "mlc_log.h"
#include "mlc_proc.h"
#include "mlc_time.h"
#include "mlc_topo.h"
#include "mlc_zmq.h"

#define PRUNE_CHUNK 10000

static int64_t
wall_now(void)
{
	return mlc_time_now_ms();
}

static int
on_frame(void *arg, MDB_txn *txn, const struct mlc_frame *f, struct mlc_err *err)
{
	struct auditor *a = arg;

	if (f->type != MLC_FRAME_AUDIT) {
		mlc_warn("dropped a frame that is not an audit event");
		return 0;
	}
	return aud_take_event(a, txn, &f->u.aud, err);
}

static void
on_reject(void *arg, const char *reason)
{
	(void)arg;
	mlc_warn("dropped a malformed frame: %s", reason);
}

/* The LMDB environment and everything that holds it (closed for compaction). */
static int
open_state(struct auditor *a, struct mlc_err *err)
{
	struct mlc_custody_opts co;

	mlc_topo_custody_opts(&a->cfg, &co);
	if (mlc_store_open(&a->st, a->dir, 0, err) != 0 ||
	    aud_journal_open(&a->j, a->st, err) != 0 ||
	    mlc_store_dbi(a->st, "inbound_seen", 0, &a->inbound_seen, err) != 0)
		return -1;
	a->n_disp = a->cfg.ep.n_dispatchers;
	for (size_t i = 0; i < a->n_disp; i++) {
		char name[32];

		mlc_topo_dispatcher_name(i, name, sizeof(name));
		if (mlc_outbox_open(&a->to_disp[i], a->st, a->zctx, name,
		    a->cfg.ep.dispatchers[i].in, &co, err) != 0)
			return -1;
	}
	return mlc_inbox_open(&a->in, a->st, a->zctx, "auditor", a->cfg.ep.auditor_in,
	    a->cfg.ep.bind_host, &co, mlc_topo_ack_endpoint, &a->cfg, err);
}

static void
close_state(struct auditor *a)
{
	mlc_inbox_close(&a->in);
	for (size_t i = 0; i < a->n_disp; i++)
		mlc_outbox_close(&a->to_disp[i]);
	mlc_store_close(&a->st);
}

static void *
bind_socket(struct auditor *a, int type, const char *endpoint, struct mlc_err *err)
{
	char ep[600];
	void *s;
	int zero = 0;
	int64_t max = type == ZMQ_ROUTER ? 64 * 1024 : a->cfg.max_frame_bytes;

	if (mlc_zmq_bind_endpoint(endpoint, a->cfg.ep.bind_host, ep, sizeof(ep), err) != 0)
		return NULL;
	s = zmq_socket(a->zctx, type);
	if (s == NULL) {
		mlc_err_set(err, "zmq_socket: %s", zmq_strerror(zmq_errno()));
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	/* Bound sockets are CURVE servers when zmq.curve is on (mlc_zmq.h). */
	if (mlc_zmq_curve_apply(a->zctx, s, 1, err) != 0) {
		zmq_close(s);
		return NULL;
	}
	if (zmq_bind(s, ep) != 0) {
		mlc_err_set(err, "cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
		zmq_close(s);
		return NULL;
	}
	return s;
}

static void
lifecycle(struct auditor *a, const char *kind, const struct mlc_drain *dr)
{
	struct mlc_auditb b;

	mlc_auditb_init(&b, kind);
	mlc_auditb_str(&b, "process", "auditor");
	if (strcmp(kind, "start") == 0) {
		mlc_auditb_str(&b, "http", aud_http_addr(a));
		mlc_auditb_int(&b, "journal_seq", (int64_t)a->j.seq);
	} else {
		mlc_auditb_int(&b, "journaled", (int64_t)a->journaled);
	}
	if (dr != NULL)
		mlc_drain_report(dr, &b);
	aud_emit(a, &b);
}

static int
prune_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	void **args = arg;
	struct auditor *a = args[0];
	size_t *removed = args[1];

	return aud_journal_prune(&a->j, txn, a->now_ms() - a->cfg.audit_retention_ms,
	    PRUNE_CHUNK, removed, err);
}

static void
prune(struct auditor *a)
{
	struct mlc_err err;
	size_t removed, total = 0;
	void *args[2] = { a, &removed };

	do {
		removed = 0;
		if (mlc_store_write(a->st, prune_txn, args, &err) != 0) {
			mlc_error("%s", err.msg);
			break;
		}
		total += removed;
	} while (removed == PRUNE_CHUNK && !mlc_proc_stop);
	if (total > 0)
		mlc_info("retention: removed %zu journal entries", total);
	if (mlc_inbox_prune(a->in, a->now_ms(), &err) < 0)
		mlc_error("%s", err.msg);
	aud_prune_inbound(a);
}

static void
compact(struct auditor *a)
{
	struct mlc_err err;
	struct mlc_auditb b;
	size_t before = 0, after = 0;
	int r;

	close_state(a);
	r = aud_journal_compact_dir(a->dir, &before, &after, &err);
	if (open_state(a, &err) != 0)
		mlc_proc_die("reopening the journal after compaction: %s", err.msg);
	mlc_auditb_init(&b, "compact");
	mlc_auditb_str(&b, "outcome", r == 0 ? "ok" : "failed");
	if (r == 0) {
		mlc_auditb_int(&b, "bytes_before", (int64_t)before);
		mlc_auditb_int(&b, "bytes_after", (int64_t)after);
		mlc_info("compacted the journal: %zu -> %zu bytes", before, after);
	} else {
		mlc_auditb_str(&b, "error", err.msg);
		mlc_error("%s", err.msg);
	}
	aud_emit(a, &b);
}

static int
load_secret(struct auditor *a, const struct mlc_cfg *cfg, struct mlc_err *err)
{
	char *s = NULL;

	if (cfg->inbound.signing_secret_env[0] != '\0' ||
	    cfg->inbound.signing_secret_file[0] != '\0') {
		s = mlc_cfg_secret(cfg->inbound.signing_secret_env,
		    cfg->inbound.signing_secret_file, "inbound signing secret", err);
		if (s == NULL)
			return -1;
	}
	if (a->signing_secret != NULL) {
		explicit_bzero(a->signing_secret, strlen(a->signing_secret));
		free(a->signing_secret);
	}
	a->signing_secret = s;
	return 0;
}

/* Draining: events received this recently may have more behind them. */
#define AUD_DRAIN_QUIET_MS 300

/* Replays and alerts not yet acked by the dispatchers. */
static uint64_t
outbox_pending(struct auditor *a)
{
	uint64_t n = 0;

	for (size_t i = 0; i < a->n_disp; i++)
		n += mlc_outbox_pending(a->to_disp[i]);
	return n;
}

/* SIGHUP: settings that need no new socket take effect now. */
static void
reload(struct auditor *a)
{
	struct mlc_cfg n;
	struct mlc_err err;
	struct mlc_auditb b;
	int ok = mlc_cfg_load(&n, a->cfg.path, &err) == 0 && load_secret(a, &n, &err) == 0;

	mlc_auditb_init(&b, "reload");
	mlc_auditb_str(&b, "process", "auditor");
	mlc_auditb_str(&b, "outcome", ok ? "ok" : "failed");
	if (ok) {
		char restart[128];
		int w = snprintf(restart, sizeof(restart), "%s%s%s",
		    memcmp(&n.ep, &a->cfg.ep, sizeof(n.ep)) != 0 ? ", endpoints" : "",
		    strcmp(n.aud.http_listen, a->cfg.aud.http_listen) != 0 ?
		    ", auditor.http_listen" : "",
		    strcmp(n.inbound.listen, a->cfg.inbound.listen) != 0 ? ", inbound.listen" : "");

		a->cfg.audit_retention_ms = n.audit_retention_ms;
		memcpy(a->cfg.aud.alert_channel, n.aud.alert_channel, sizeof(n.aud.alert_channel));
		a->cfg.aud.alert_max_per_hour = n.aud.alert_max_per_hour;
		a->cfg.aud.compact_interval_ms = n.aud.compact_interval_ms;
		a->cfg.aud.health_max_silence_ms = n.aud.health_max_silence_ms;
		/* The listener stays where it is until a restart. */
		memcpy(n.inbound.listen, a->cfg.inbound.listen, sizeof(n.inbound.listen));
		a->cfg.inbound = n.inbound;
		/* Named like the other stages' reload events (mlc_proc_reload_audit). */
		if (w > 2 && (size_t)w < sizeof(restart)) {
			mlc_auditb_str(&b, "needs_restart", restart + 2);
			mlc_warn("SIGHUP: changed keys that need a restart keep their running "
			    "value: %s", restart + 2);
		}
		mlc_info("configuration reloaded");
	} else {
		mlc_auditb_str(&b, "error", err.msg);
		mlc_error("reload failed, keeping the running configuration: %s", err.msg);
	}
	aud_emit(a, &b);
}

int
main(int argc, char **argv)
{
	static struct auditor a;
	struct mlc_err err;
	int64_t next_prune = 0, next_compact, last_rx = 0;
	struct mlc_drain dr;

	a.now_ms = wall_now;
	mlc_proc_start("auditor", argc, argv, &a.cfg, NULL, NULL, "");
	if (mlc_topo_state_path(&a.cfg, "auditor", a.dir, sizeof(a.dir)) != 0)
		mlc_proc_die("state_dir too long");
	if (load_secret(&a, &a.cfg, &err) != 0)
		mlc_proc_die("%s", err.msg);
	a.zctx = zmq_ctx_new();
	if (open_state(&a, &err) != 0 || aud_rebuild_state(&a, &err) != 0)
		mlc_proc_die("%s", err.msg);
	a.pub = mlc_zmq_pub_bind(a.zctx, a.cfg.ep.auditor_pub, a.cfg.ep.bind_host, &err);
	if (a.pub == NULL ||
	    (a.ctl = bind_socket(&a, ZMQ_ROUTER, a.cfg.ep.auditor_ctl, &err)) == NULL ||
	    (a.ack = bind_socket(&a, ZMQ_PULL, a.cfg.ep.auditor_ack, &err)) == NULL)
		mlc_proc_die("%s", err.msg);
	/* A busy metrics port must not stop the journal: say so and go on. */
	if (aud_http_start(&a, &err) != 0) {
		struct mlc_auditb b;

		mlc_error("HTTP listener: %s; /metrics, /healthz and the Slack endpoint are "
		    "off until the auditor restarts", err.msg);
		mlc_auditb_init(&b, "error");
		mlc_auditb_str(&b, "where", "auditor http");
		mlc_auditb_str(&b, "error", err.msg);
		aud_emit(&a, &b);
	}
	mlc_info("started: journal in %s (seq %llu), live stream on %s, control on %s, "
	    "http on %s%s", a.dir, (unsigned long long)a.j.seq, a.cfg.ep.auditor_pub,
	    a.cfg.ep.auditor_ctl, aud_http_addr(&a)[0] ? aud_http_addr(&a) : "(off)",
	    a.signing_secret ? ", inbound Slack endpoint on" : "");
	lifecycle(&a, "start", NULL);
	next_compact = mlc_time_mono_ms() + a.cfg.aud.compact_interval_ms;
	mlc_drain_init(&dr, a.cfg.drain_timeout_ms, 2 * a.cfg.resend_after_ms);
	/* SIGTERM: events keep being journaled while the other stages drain
	 * (they send their last ones), and replays/alerts handed on, until all
	 * is quiet or shutdown.drain_timeout passes (mlc_proc.h). */
	while (mlc_drain_step(&dr, mlc_proc_stop, 0,
	    mlc_time_mono_ms() - last_rx < AUD_DRAIN_QUIET_MS, outbox_pending(&a),
	    mlc_time_mono_ms())) {
		zmq_pollitem_t items[6];
		int fds[2], nfd = aud_http_fds(&a, fds), n = 0;
		int64_t now = mlc_time_mono_ms();
		/* Sleep until an event or the next timer (outbox resend, the
		 * hourly prune, compaction, HTTP connection timeouts): an idle
		 * auditor does not wake at all. */
		int64_t timeout = mlc_time_until(next_prune, mlc_time_now_ms());

		items[n++] = (zmq_pollitem_t){ mlc_inbox_socket(a.in), 0, ZMQ_POLLIN, 0 };
		items[n++] = (zmq_pollitem_t){ a.ctl, 0, ZMQ_POLLIN, 0 };
		items[n++] = (zmq_pollitem_t){ a.ack, 0, ZMQ_POLLIN, 0 };
		for (int i = 0; i < nfd; i++)
			items[n++] = (zmq_pollitem_t){ NULL, fds[i], ZMQ_POLLIN, 0 };
		items[n++] = (zmq_pollitem_t){ NULL, mlc_proc_wake_fd(), ZMQ_POLLIN, 0 };
		for (size_t i = 0; i < a.n_disp; i++)
			timeout = mlc_time_sooner(timeout, mlc_outbox_due_in(a.to_disp[i], now));
		if (a.compact_requested)
			timeout = 0;
		else if (a.cfg.aud.compact_interval_ms > 0)
			timeout = mlc_time_sooner(timeout, mlc_time_until(next_compact, now));
		timeout = mlc_time_sooner(timeout, aud_http_timeout(&a));
		if (mlc_drain_active(&dr))
			timeout = mlc_time_sooner(timeout, 50);
		zmq_poll(items, n, (long)timeout);
		mlc_proc_wake_drain();
		if (items[0].revents & ZMQ_POLLIN) {
			int r = mlc_inbox_drain(a.in, AUD_BATCH, on_frame, on_reject, &a, &err);

			last_rx = mlc_time_mono_ms();

			if (r < 0)
				mlc_error("%s", err.msg);
			aud_after_commit(&a, r >= 0);
		}
		if (items[1].revents & ZMQ_POLLIN)
			aud_ctl_serve(&a);
		if ((items[2].revents & ZMQ_POLLIN) &&
		    mlc_custody_take_acks(a.ack, a.to_disp, a.n_disp, mlc_time_mono_ms(),
		    &err) < 0)
			mlc_error("%s", err.msg);
		for (size_t i = 0; i < a.n_disp; i++)
			if (mlc_outbox_pump(a.to_disp[i], mlc_time_mono_ms(), &err) < 0)
				mlc_error("%s", err.msg);
		aud_http_run(&a);
		if (mlc_proc_hup) {
			mlc_proc_hup = 0;
			reload(&a);
		}
		if (mlc_time_now_ms() >= next_prune) {
			prune(&a);
			next_prune = mlc_time_now_ms() + 3600 * 1000;
		}
		if (a.compact_requested || (a.cfg.aud.compact_interval_ms > 0 &&
		    mlc_time_mono_ms() >= next_compact)) {
			a.compact_requested = 0;
			compact(&a);
			next_compact = mlc_time_mono_ms() + (a.cfg.aud.compact_interval_ms > 0 ?
			    a.cfg.aud.compact_interval_ms : INT64_MAX / 4);
		}
	}
	mlc_info("stopping after %llu events", (unsigned long long)a.journaled);
	lifecycle(&a, "stop", &dr);
	aud_http_stop(&a);
	close_state(&a);
	mlc_zmq_close(&a.pub);
	mlc_zmq_close(&a.ctl);
	mlc_zmq_close(&a.ack);
	zmq_ctx_term(a.zctx);
	if (a.signing_secret != NULL) {
		explicit_bzero(a.signing_secret, strlen(a.signing_secret));
		free(a.signing_secret);
	}
	return 0;
}
