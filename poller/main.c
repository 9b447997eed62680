/*
 * mlc-poller: reads what changed in Sage X3 since the watermark and hands
 * each changed record to the formatter.
 *
 * Sage X3 has no outbound webhooks, so this process polls each configured
 * entity every x3.poll_interval. The watermark per entity is a (stamp, key)
 * tuple taken from the data, never from our clock (except the very first
 * start, which begins at now - x3.initial_window). Each page is committed
 * in one LMDB transaction that both puts the page's records in the outbox
 * for the formatter and advances the watermark: a crash at any point either
 * keeps both or neither (pitfalls.md #6, #7).
 *
 * Each cycle re-reads from LOOKBACK_S before the watermark's stamp: rows
 * that share a second with rows already read, or that committed late with
 * an older stamp, are caught there (pitfalls.md #1, #2, #5). Versions
 * already handed on are recognised by their id (entity/key/stamp) in the
 * "handed" set and dropped, so the look-back never sends a row twice.
 * Handed ids are forgotten once their stamp is well behind the look-back.
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
#include "x3_api1.h"

#define MAX_PAGES_PER_CYCLE 100000
#define LOOKBACK_S 300
#define HANDED_KEEP_S (LOOKBACK_S + 3600)

struct poller {
	struct mlc_cfg cfg;
	struct mlc_store *st;
	void *zctx;
	void *ack_sock;
	struct mlc_outbox *to_formatter;
	struct mlc_outbox *to_auditor;
	MDB_dbi wm_db;
	MDB_dbi handed, handed_t; /* id -> stamp; be64(stamp) id -> "" */
	char *password;
};

struct wm {
	int64_t stamp_s;
	char key[160];
};

/* Watermarks are stored as "<epoch seconds>\t<key>". */
static int
wm_read_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	void **a = arg;
	struct poller *p = a[0];
	const char *entity = a[1];
	struct wm *w = a[2];
	MDB_val v;
	char buf[256];
	char *tab;
	int r = mlc_store_get(txn, p->wm_db, entity, strlen(entity), &v, err);

	if (r <= 0)
		return r;
	if (v.mv_size >= sizeof(buf))
		return mlc_err_set(err, "watermark of %s is corrupt", entity);
	memcpy(buf, v.mv_data, v.mv_size);
	buf[v.mv_size] = '\0';
	tab = strchr(buf, '\t');
	if (tab == NULL)
		return mlc_err_set(err, "watermark of %s is corrupt", entity);
	*tab = '\0';
	w->stamp_s = strtoll(buf, NULL, 10);
	snprintf(w->key, sizeof(w->key), "%s", tab + 1);
	return 1;
}

static int
wm_load(struct poller *p, const struct mlc_cfg_entity *e, struct wm *w, int *found,
    struct mlc_err *err)
{
	void *a[3] = { p, (void *)(uintptr_t)e->name, w };
	int r;

	memset(w, 0, sizeof(*w));
	r = mlc_store_read(p->st, wm_read_txn, a, err);
	if (r < 0)
		return -1;
	*found = r == 1;
	return 0;
}

static int
wm_cmp(int64_t s, const char *k, const struct wm *w)
{
	if (s != w->stamp_s)
		return s < w->stamp_s ? -1 : 1;
	return strcmp(k, w->key);
}

static void
wm_text(const struct wm *w, char *out, size_t outsz)
{
	char iso[MLC_TIME_ISO_LEN];

	mlc_time_format(w->stamp_s, iso);
	snprintf(out, outsz, "%s %s", iso, w->key);
}

struct page_arg {
	struct poller *p;
	const struct mlc_cfg_entity *e;
	struct x3_page *page;
	struct wm wm;       /* in: current watermark; out: advanced */
	size_t handed;
	char polled_at[MLC_TIME_ISO_LEN];
};

static int
page_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct page_arg *pa = arg;
	struct poller *p = pa->p;
	struct wm w = pa->wm;
	char buf[256];
	int n;

	pa->handed = 0;
	for (size_t i = 0; i < pa->page->n_rows; i++) {
		struct x3_row *row = &pa->page->rows[i];
		const char *parts[3] = { pa->e->name, row->key, row->stamp };
		char id[MLC_PROTO_MAX_ID];
		struct mlc_frame f;

		unsigned char tkey[8 + MLC_PROTO_MAX_ID], be[8];
		MDB_val hv;
		size_t idlen;
		int r;

		if (mlc_proto_make_id(parts, 3, id, sizeof(id)) != 0)
			return mlc_err_set(err, "record id too long for %s", row->key);
		idlen = strlen(id);
		/* Read again by the look-back: handed on already. */
		r = mlc_store_get(txn, p->handed, id, idlen, &hv, err);
		if (r < 0)
			return -1;
		if (r == 1)
			continue;
		mlc_store_be64((uint64_t)row->stamp_s, be);
		memcpy(tkey, be, 8);
		memcpy(tkey + 8, id, idlen);
		if (mlc_store_put(txn, p->handed, id, idlen, be, 8, err) != 0 ||
		    mlc_store_put(txn, p->handed_t, tkey, 8 + idlen, "", 0, err) != 0)
			return -1;
		memset(&f, 0, sizeof(f));
		f.type = MLC_FRAME_RECORD;
		f.u.rec.id = id;
		f.u.rec.from = "poller";
		f.u.rec.entity = (char *)(uintptr_t)pa->e->name;
		f.u.rec.key = row->key;
		f.u.rec.stamp = row->stamp;
		f.u.rec.event = "changed";
		f.u.rec.polled_at = pa->polled_at;
		f.u.rec.fields = row->fields;
		f.u.rec.n_fields = row->n_fields;
		if (mlc_outbox_put_frame(p->to_formatter, txn, &f, id, err) != 0)
			return -1;
		if (wm_cmp(row->stamp_s, row->key, &w) > 0) {
			w.stamp_s = row->stamp_s;
			snprintf(w.key, sizeof(w.key), "%s", row->key);
		}
		pa->handed++;
	}
	n = snprintf(buf, sizeof(buf), "%lld\t%s", (long long)w.stamp_s, w.key);
	if (mlc_store_put(txn, p->wm_db, pa->e->name, strlen(pa->e->name), buf,
	    (size_t)n, err) != 0)
		return -1;
	pa->wm = w;
	return 0;
}

static void
audit_now(struct poller *p, struct mlc_auditb *b)
{
	mlc_auditb_emit(b, p->st, p->to_auditor);
}

/* Moves frames along while a cycle runs: sends what is due, applies acks. */
static void
pump(struct poller *p)
{
	struct mlc_outbox *obs[2] = { p->to_formatter, p->to_auditor };
	int64_t now = mlc_time_mono_ms();
	struct mlc_err err;

	if (mlc_custody_take_acks(p->ack_sock, obs, 2, now, &err) < 0)
		mlc_error("%s", err.msg);
	for (int i = 0; i < 2; i++)
		if (mlc_outbox_pump(obs[i], now, &err) < 0)
			mlc_error("%s", err.msg);
}

/* Forgets handed ids whose stamp is far behind every watermark. */
static int
prune_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct poller *p = ((void **)arg)[0];
	int64_t cutoff = *(int64_t *)((void **)arg)[1];
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, p->handed_t, &c), n = 0;

	if (rc != 0)
		return mlc_err_set(err, "handed cursor: %s", mdb_strerror(rc));
	while (n++ < 10000 && mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 &&
	    k.mv_size > 8 && (int64_t)mlc_store_unbe64(k.mv_data) < cutoff) {
		if (mlc_store_del(txn, p->handed, (char *)k.mv_data + 8, k.mv_size - 8,
		    err) != 0 || (rc = mdb_cursor_del(c, 0)) != 0) {
			mdb_cursor_close(c);
			return rc ? mlc_err_set(err, "prune: %s", mdb_strerror(rc)) : -1;
		}
	}
	mdb_cursor_close(c);
	return 0;
}

static void
prune_handed(struct poller *p)
{
	int64_t min_stamp = INT64_MAX;
	struct mlc_err err;

	for (size_t i = 0; i < p->cfg.x3.n_entities; i++) {
		struct wm w;
		int found;

		if (wm_load(p, &p->cfg.x3.entities[i], &w, &found, &err) != 0 || !found)
			return; /* keep everything until every entity has a watermark */
		if (w.stamp_s < min_stamp)
			min_stamp = w.stamp_s;
	}
	{
		int64_t cutoff = min_stamp - HANDED_KEEP_S;
		void *a[2] = { p, &cutoff };

		if (mlc_store_write(p->st, prune_txn, a, &err) != 0)
			mlc_error("pruning handed ids: %s", err.msg);
	}
}

static void
poll_entity(struct poller *p, const struct mlc_cfg_entity *e)
{
	struct page_arg pa;
	struct mlc_auditb b;
	struct mlc_err err;
	char before[200], after[200];
	char *url = NULL;
	int64_t t0 = mlc_time_mono_ms();
	size_t pages = 0, records = 0;
	int found, failed = 0;

	memset(&pa, 0, sizeof(pa));
	err.msg[0] = '\0';
	pa.p = p;
	pa.e = e;
	if (wm_load(p, e, &pa.wm, &found, &err) != 0) {
		failed = 1;
		goto done;
	}
	if (!found)
		pa.wm.stamp_s = (mlc_time_now_ms() - p->cfg.x3.initial_window_ms) / 1000;
	wm_text(&pa.wm, before, sizeof(before));
	if (x3_api1_first_url(&p->cfg, e, pa.wm.stamp_s - (found ? LOOKBACK_S : 0),
	    &url, &err) != 0) {
		failed = 1;
		goto done;
	}
	while (url != NULL && !mlc_proc_stop && pages < MAX_PAGES_PER_CYCLE) {
		struct x3_page page;

		if (x3_api1_fetch(&p->cfg, e, url, p->password, &page, &err) != 0) {
			mlc_err_prefix(&err, "page %zu of %s", pages + 1, e->name);
			failed = 1;
			break;
		}
		mlc_time_format(mlc_time_now_ms() / 1000, pa.polled_at);
		pa.page = &page;
		if (mlc_store_write(p->st, page_txn, &pa, &err) != 0) {
			x3_page_free(&page);
			failed = 1;
			break;
		}
		pages++;
		records += pa.handed;
		free(url);
		url = page.next_url;
		page.next_url = NULL;
		x3_page_free(&page);
		pump(p);
	}
done:
	free(url);
	wm_text(&pa.wm, after, sizeof(after));
	if (failed)
		mlc_error("cycle %s failed: %s", e->name, err.msg);
	else
		mlc_info("cycle %s: %zu records in %zu pages, watermark %s", e->name,
		    records, pages, after);
	mlc_auditb_init(&b, "poll");
	mlc_auditb_str(&b, "entity", e->name);
	mlc_auditb_int(&b, "pages", (int64_t)pages);
	mlc_auditb_int(&b, "records", (int64_t)records);
	mlc_auditb_str(&b, "wm_before", before);
	mlc_auditb_str(&b, "wm_after", after);
	mlc_auditb_int(&b, "duration_ms", mlc_time_mono_ms() - t0);
	mlc_auditb_str(&b, "outcome", failed ? "failed" : "ok");
	if (failed)
		mlc_auditb_str(&b, "error", err.msg);
	audit_now(p, &b);
}

static void
lifecycle_event(struct poller *p, const char *kind)
{
	struct mlc_auditb b;

	mlc_auditb_init(&b, kind);
	mlc_auditb_str(&b, "process", "poller");
	audit_now(p, &b);
}

int
main(int argc, char **argv)
{
	struct poller p;
	struct mlc_custody_opts co;
	struct mlc_err err;
	char dir[512];
	int64_t next_cycle;

	memset(&p, 0, sizeof(p));
	mlc_proc_start("poller", argc, argv, &p.cfg, NULL, NULL, "");
	p.password = mlc_cfg_secret(p.cfg.x3.password_env, p.cfg.x3.password_file,
	    "x3 password", &err);
	if (p.password == NULL)
		mlc_proc_die("%s", err.msg);
	mlc_topo_custody_opts(&p.cfg, &co);
	if (mlc_topo_state_path(&p.cfg, "poller", dir, sizeof(dir)) != 0)
		mlc_proc_die("state_dir too long");
	if (mlc_store_open(&p.st, dir, 0, &err) != 0 ||
	    mlc_store_dbi(p.st, "watermark", 0, &p.wm_db, &err) != 0 ||
	    mlc_store_dbi(p.st, "handed", 0, &p.handed, &err) != 0 ||
	    mlc_store_dbi(p.st, "handed_t", 0, &p.handed_t, &err) != 0)
		mlc_proc_die("%s", err.msg);
	p.zctx = zmq_ctx_new();
	p.ack_sock = mlc_zmq_pull_bind(p.zctx, p.cfg.ep.poller_ack, p.cfg.ep.bind_host,
	    p.cfg.max_frame_bytes, &err);
	if (p.ack_sock == NULL ||
	    mlc_outbox_open(&p.to_formatter, p.st, p.zctx, "formatter",
	    p.cfg.ep.formatter_in, &co, &err) != 0 ||
	    mlc_outbox_open(&p.to_auditor, p.st, p.zctx, "auditor",
	    p.cfg.ep.auditor_in, &co, &err) != 0)
		mlc_proc_die("%s", err.msg);

	mlc_info("started: %zu entities, every %lld ms from %s", p.cfg.x3.n_entities,
	    (long long)p.cfg.x3.poll_interval_ms, p.cfg.x3.url);
	lifecycle_event(&p, "start");
	next_cycle = mlc_time_mono_ms();
	while (!mlc_proc_stop) {
		int64_t now = mlc_time_mono_ms(), timeout, d;
		zmq_pollitem_t item = { p.ack_sock, 0, ZMQ_POLLIN, 0 };

		if (now >= next_cycle || mlc_proc_usr1) {
			mlc_proc_usr1 = 0;
			for (size_t i = 0; i < p.cfg.x3.n_entities && !mlc_proc_stop; i++)
				if (p.cfg.x3.entities[i].enabled)
					poll_entity(&p, &p.cfg.x3.entities[i]);
			prune_handed(&p);
			/* Fixed interval from the start of the cycle; an overrun
			 * starts the next cycle at once, never piles up. */
			next_cycle = now + p.cfg.x3.poll_interval_ms;
		}
		pump(&p);
		now = mlc_time_mono_ms();
		timeout = next_cycle - now;
		d = mlc_outbox_due_in(p.to_formatter, now);
		if (d >= 0 && d < timeout)
			timeout = d;
		d = mlc_outbox_due_in(p.to_auditor, now);
		if (d >= 0 && d < timeout)
			timeout = d;
		if (timeout < 0)
			timeout = 0;
		if (timeout > 1000)
			timeout = 1000;
		zmq_poll(&item, 1, (long)timeout);
	}
	mlc_info("stopping");
	lifecycle_event(&p, "stop");
	pump(&p);
	mlc_outbox_close(&p.to_formatter);
	mlc_outbox_close(&p.to_auditor);
	mlc_zmq_close(&p.ack_sock);
	zmq_ctx_term(p.zctx);
	mlc_store_close(&p.st);
	free(p.password);
	return 0;
}
