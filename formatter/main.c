/*
 * mlc-formatter: turns records from the poller into Slack messages, one per
 * matching route and channel, and hands each to the dispatcher that owns the
 * channel.
 *
 * A record and the messages made from it change hands in one LMDB
 * transaction (mlc_inbox_drain + the outboxes), so a crash never leaves a
 * record half-routed. A record that cannot be formatted is not retried
 * forever: it is reported to the auditor and accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "mlc_audit.h"
#include "mlc_cfg.h"
#include "mlc_custody.h"
#include "mlc_log.h"
#include "mlc_proc.h"
#include "mlc_store.h"
#include "mlc_time.h"
#include "mlc_topo.h"
#include "mlc_zmq.h"
#include "route.h"
#include "slackfmt.h"

#define BATCH 512
/* Draining: records received this recently may have more behind them. */
#define DRAIN_QUIET_MS 300
#define DRAIN_TICK_MS 50
/* After the stop record: how long to wait for the auditor to take it. */
#define FINAL_FLUSH_MS 500

struct formatter {
	struct mlc_cfg cfg;
	struct mlc_store *st;
	void *zctx;
	void *ack_sock;
	struct mlc_inbox *in;
	struct mlc_outbox *to_disp[MLC_CFG_MAX_DISPATCHERS];
	struct mlc_outbox *to_auditor;
	struct mlc_outbox *all[MLC_CFG_MAX_DISPATCHERS + 1];
	size_t n_all;
	uint64_t records, messages;
};

/* An audited error for record r; the record is accepted all the same (a
 * record that cannot be formatted must not block the ones behind it). */
static int
format_error(struct formatter *fm, MDB_txn *txn, const struct mlc_record *r,
    const char *why, struct mlc_err *err)
{
	struct mlc_auditb b;

	mlc_auditb_init(&b, "error");
	mlc_auditb_str(&b, "where", "format");
	mlc_auditb_str(&b, "record_id", r->id);
	mlc_auditb_str(&b, "error", why);
	return mlc_auditb_put(&b, fm->to_auditor, txn, err);
}

/* Puts message f (for record r) into ob. A message the dispatcher could not
 * receive -- encoded larger than max_frame_bytes (MLC_OUTBOX_TOO_BIG) or
 * past a frame bound (mlc_proto_encode fails) -- is replaced by a short
 * text-only notice naming the record, and the reason is audited: the record
 * still reaches its channel, as a pointer to the journal, and nothing
 * accepted vanishes. Retrying the same message would never succeed. */
static int
put_message(struct formatter *fm, MDB_txn *txn, struct mlc_outbox *ob,
    struct mlc_frame *f, const struct mlc_record *r, struct mlc_err *err)
{
	struct mlc_err why;
	char *buf = NULL, note[1024], audit[MLC_ERR_MAX + 64];
	size_t len = 0;
	int rc;

	if (mlc_proto_encode(f, &buf, &len, &why) == 0) {
		rc = mlc_outbox_put(ob, txn, f->u.msg.id, buf, len, &why);
		free(buf);
		if (rc != MLC_OUTBOX_TOO_BIG) {
			if (rc != 0)
				*err = why;
			return rc;
		}
	}
	mlc_warn("record %s: message too large, a notice is posted instead: %s", r->id,
	    why.msg);
	snprintf(audit, sizeof(audit), "message replaced by a short notice: %s", why.msg);
	if (format_error(fm, txn, r, audit, err) != 0)
		return -1;
	snprintf(note, sizeof(note), ":warning: %.60s %.200s: the Slack message for this "
	    "change is too large to pass on (max_frame_bytes); only this notice is "
	    "posted. Record %.400s, see `mlc audit`.", r->entity, r->key, r->id);
	f->u.msg.text = note;
	f->u.msg.blocks = "";
	rc = mlc_outbox_put_frame(ob, txn, f, f->u.msg.id, err);
	if (rc == MLC_OUTBOX_TOO_BIG)   /* cannot happen with max_frame_bytes >= 4096 */
		return format_error(fm, txn, r, "even the short notice is too large; "
		    "nothing posted", err);
	return rc;
}

/* Routes the record (route.h: every matching route, one post per channel)
 * and puts one message per route into the outbox of the channel's
 * dispatcher. Routes without a template share one rendering. */
static int
route_record(struct formatter *fm, MDB_txn *txn, const struct mlc_record *r,
    struct mlc_err *err)
{
	const struct mlc_cfg_entity *ent = mlc_cfg_entity_find(&fm->cfg, r->entity);
	char *text = NULL, *blocks = NULL, *ttext = NULL, *tblocks = NULL;
	char now[MLC_TIME_ISO_LEN];
	size_t sel[MLC_CFG_MAX_ROUTES], n;
	struct slackfmt_opts o;
	int rc = 0;

	memset(&o, 0, sizeof(o));
	o.kind = ent != NULL ? ent->kind : "";
	o.folder = fm->cfg.x3.folder;
	o.link_pattern = ent != NULL && ent->link[0] != '\0' ? ent->link :
	    fm->cfg.x3.link_pattern;
	mlc_time_format(mlc_time_now_ms() / 1000, now);
	n = route_select(&fm->cfg, r, sel, MLC_CFG_MAX_ROUTES);
	for (size_t i = 0; i < n; i++) {
		const struct mlc_cfg_route *rt = &fm->cfg.routes[sel[i]];
		const char *parts[3] = { r->id, rt->name, rt->channel };
		char id[MLC_PROTO_MAX_ID];
		struct mlc_frame f;
		size_t d;

		o.route = rt->name;
		o.amount_field = rt->amount_field;
		o.tmpl = rt->template_text;
		if (rt->template_text[0] != '\0') {
			free(ttext);
			free(tblocks);
			if (slackfmt_render(&o, r, &ttext, &tblocks) != 0) {
				rc = format_error(fm, txn, r, "cannot build the Slack message "
				    "(out of memory?)", err);
				break;
			}
		} else if (text == NULL && slackfmt_render(&o, r, &text, &blocks) != 0) {
			rc = format_error(fm, txn, r, "cannot build the Slack message "
			    "(out of memory?)", err);
			break;
		}
		if (mlc_proto_make_id(parts, 3, id, sizeof(id)) != 0) {
			rc = format_error(fm, txn, r, "message id too long", err);
			break;
		}
		memset(&f, 0, sizeof(f));
		f.type = MLC_FRAME_MESSAGE;
		f.u.msg.id = id;
		f.u.msg.from = "formatter";
		f.u.msg.record_id = r->id;
		f.u.msg.entity = r->entity;
		f.u.msg.key = r->key;
		f.u.msg.route = (char *)(uintptr_t)rt->name;
		f.u.msg.channel = (char *)(uintptr_t)rt->channel;
		f.u.msg.text = rt->template_text[0] != '\0' ? ttext : text;
		f.u.msg.blocks = rt->template_text[0] != '\0' ? tblocks : blocks;
		f.u.msg.created_at = now;
		d = mlc_topo_dispatcher_for(&fm->cfg, rt->channel);
		if ((rc = put_message(fm, txn, fm->to_disp[d], &f, r, err)) != 0)
			break;
	}
	free(text);
	free(blocks);
	free(ttext);
	free(tblocks);
	if (rc == 0) {
		fm->records++;
		fm->messages += n;
		if (n == 0)
			mlc_debug("record %s matches no route", r->id);
	}
	return rc;
}

static int
on_frame(void *arg, MDB_txn *txn, const struct mlc_frame *f, struct mlc_err *err)
{
	struct formatter *fm = arg;

	if (f->type != MLC_FRAME_RECORD) {
		struct mlc_auditb b;

		mlc_auditb_init(&b, "error");
		mlc_auditb_str(&b, "where", "formatter inbox");
		mlc_auditb_str(&b, "error", "received a frame that is not a record; dropped");
		return mlc_auditb_put(&b, fm->to_auditor, txn, err);
	}
	return route_record(fm, txn, &f->u.rec, err);
}

static void
on_reject(void *arg, const char *reason)
{
	struct formatter *fm = arg;
	struct mlc_auditb b;

	mlc_warn("dropped a malformed frame: %s", reason);
	mlc_auditb_init(&b, "error");
	mlc_auditb_str(&b, "where", "formatter inbox");
	mlc_auditb_str(&b, "error", reason);
	mlc_auditb_emit(&b, fm->st, fm->to_auditor);
}

static void
lifecycle(struct formatter *fm, const char *kind, const struct mlc_drain *dr)
{
	struct mlc_auditb b;

	mlc_auditb_init(&b, kind);
	mlc_auditb_str(&b, "process", "formatter");
	if (dr != NULL)
		mlc_drain_report(dr, &b);
	mlc_auditb_emit(&b, fm->st, fm->to_auditor);
}

/* Frames not yet acked by the dispatchers and the auditor. */
static uint64_t
pending(struct formatter *fm)
{
	uint64_t n = 0;

	for (size_t i = 0; i < fm->n_all; i++)
		n += mlc_outbox_pending(fm->all[i]);
	return n;
}

/* SIGHUP: routes, templates, links and the log level change at once, between
 * two batches (each is one transaction, so none is half-routed); every
 * record routed before stays in the outboxes as it was made. */
static void
reload(struct formatter *fm)
{
	struct mlc_auditb b;
	struct mlc_err err;
	char restart[512];
	int rc = mlc_proc_reload("formatter", &fm->cfg, NULL, 0, restart, sizeof(restart),
	    &err);

	if (rc == 0)
		mlc_info("routing with %zu routes", fm->cfg.n_routes);
	mlc_proc_reload_audit(&b, "formatter", rc, restart, &err);
	if (rc == 0)
		mlc_auditb_int(&b, "routes", (int64_t)fm->cfg.n_routes);
	mlc_auditb_emit(&b, fm->st, fm->to_auditor);
}

int
main(int argc, char **argv)
{
	struct formatter fm;
	struct mlc_custody_opts co;
	struct mlc_err err;
	char dir[512];
	int64_t next_prune = 0, last_rx = 0;
	struct mlc_drain dr;

	memset(&fm, 0, sizeof(fm));
	mlc_proc_start("formatter", argc, argv, &fm.cfg, NULL, NULL, "");
	mlc_topo_custody_opts(&fm.cfg, &co);
	if (mlc_topo_state_path(&fm.cfg, "formatter", dir, sizeof(dir)) != 0)
		mlc_proc_die("state_dir too long");
	if (mlc_store_open(&fm.st, dir, 0, &err) != 0)
		mlc_proc_die("%s", err.msg);
	fm.zctx = zmq_ctx_new();
	fm.ack_sock = mlc_zmq_pull_bind(fm.zctx, fm.cfg.ep.formatter_ack,
	    fm.cfg.ep.bind_host, fm.cfg.max_frame_bytes, &err);
	if (fm.ack_sock == NULL)
		mlc_proc_die("%s", err.msg);
	for (size_t i = 0; i < fm.cfg.ep.n_dispatchers; i++) {
		char name[32];

		mlc_topo_dispatcher_name(i, name, sizeof(name));
		if (mlc_outbox_open(&fm.to_disp[i], fm.st, fm.zctx, name,
		    fm.cfg.ep.dispatchers[i].in, &co, &err) != 0)
			mlc_proc_die("%s", err.msg);
		fm.all[fm.n_all++] = fm.to_disp[i];
	}
	if (mlc_outbox_open(&fm.to_auditor, fm.st, fm.zctx, "auditor",
	    fm.cfg.ep.auditor_in, &co, &err) != 0)
		mlc_proc_die("%s", err.msg);
	fm.all[fm.n_all++] = fm.to_auditor;
	if (mlc_inbox_open(&fm.in, fm.st, fm.zctx, "formatter", fm.cfg.ep.formatter_in,
	    fm.cfg.ep.bind_host, &co, mlc_topo_ack_endpoint, &fm.cfg, &err) != 0)
		mlc_proc_die("%s", err.msg);

	mlc_info("started: %zu routes, %zu dispatchers", fm.cfg.n_routes,
	    fm.cfg.ep.n_dispatchers);
	lifecycle(&fm, "start", NULL);
	mlc_drain_init(&dr, fm.cfg.drain_timeout_ms, 2 * fm.cfg.resend_after_ms);
	/* SIGTERM: what is received is still routed, and the outboxes handed on,
	 * until both are done or shutdown.drain_timeout passes (mlc_proc.h). */
	while (mlc_drain_step(&dr, mlc_proc_stop, 0,
	    mlc_time_mono_ms() - last_rx < DRAIN_QUIET_MS, pending(&fm), mlc_time_mono_ms())) {
		zmq_pollitem_t items[3] = {
			{ mlc_inbox_socket(fm.in), 0, ZMQ_POLLIN, 0 },
			{ fm.ack_sock, 0, ZMQ_POLLIN, 0 },
			{ NULL, mlc_proc_wake_fd(), ZMQ_POLLIN, 0 },
		};
		int64_t now = mlc_time_mono_ms();
		/* Sleep until a frame, an ack or a timer (outbox resend, the
		 * hourly prune): an idle formatter does not wake at all. */
		int64_t timeout = mlc_time_until(next_prune, mlc_time_now_ms());

		for (size_t i = 0; i < fm.n_all; i++) {
			if (mlc_outbox_pump(fm.all[i], now, &err) < 0)
				mlc_error("%s", err.msg);
			timeout = mlc_time_sooner(timeout, mlc_outbox_due_in(fm.all[i], now));
		}
		if (mlc_proc_hup) {
			mlc_proc_hup = 0;
			reload(&fm);
		}
		if (mlc_drain_active(&dr))
			timeout = mlc_time_sooner(timeout, DRAIN_TICK_MS);
		if (zmq_poll(items, 3, (long)timeout) < 0)
			continue;
		mlc_proc_wake_drain();
		if (items[0].revents & ZMQ_POLLIN) {
			last_rx = mlc_time_mono_ms();
			if (mlc_inbox_drain(fm.in, BATCH, on_frame, on_reject, &fm, &err) < 0)
				mlc_error("%s", err.msg);
		}
		if (items[1].revents & ZMQ_POLLIN) {
			if (mlc_custody_take_acks(fm.ack_sock, fm.all, fm.n_all,
			    mlc_time_mono_ms(), &err) < 0)
				mlc_error("%s", err.msg);
		}
		if (mlc_time_now_ms() >= next_prune) {
			if (mlc_inbox_prune(fm.in, mlc_time_now_ms(), &err) < 0)
				mlc_error("%s", err.msg);
			next_prune = mlc_time_now_ms() + 3600 * 1000;
		}
	}
	mlc_info("stopping after %llu records, %llu messages",
	    (unsigned long long)fm.records, (unsigned long long)fm.messages);
	lifecycle(&fm, "stop", &dr);
	mlc_proc_final_flush(fm.to_auditor, fm.ack_sock, fm.all, fm.n_all, FINAL_FLUSH_MS);
	mlc_inbox_close(&fm.in);
	for (size_t i = 0; i < fm.n_all; i++)
		mlc_outbox_close(&fm.all[i]);
	mlc_zmq_close(&fm.ack_sock);
	zmq_ctx_term(fm.zctx);
	mlc_store_close(&fm.st);
	return 0;
}
