/*
 * mlc-poller: reads what changed in Sage X3 since the watermark and hands
 * each change that matters to the formatter as a canonical record
 * (docs/records.md).
 *
 * Sage X3 has no outbound webhooks, so this process polls each configured
 * entity on the schedule (schedule.h), over api1 or GraphQL (x3_client.h),
 * authenticated in one of the three real modes (x3_auth.h). The watermark
 * per entity is a (stamp, key) tuple taken from the data, never from our
 * clock (except the very first start, which begins at now -
 * x3.initial_window). Each page is committed in one LMDB transaction that
 * puts the page's records in the outbox for the formatter, updates the
 * fingerprints and advances the watermark: a crash at any point keeps all
 * or none of it (pitfalls.md #6, #7).
 *
 * Each cycle re-reads from x3.lookback before the watermark's stamp: rows
 * that share a second with rows already read, or that committed late with
 * an older stamp, are caught there (pitfalls.md #1, #2, #5). Versions
 * already handed on are recognised by their id (entity/key/stamp) in the
 * "handed" set and dropped, so the look-back never sends a row twice.
 * A version that is new but changes nothing that matters (same
 * fingerprint, records.h) produces no record.
 *
 * `mlc-poller --x3-login` (run by `mlc x3 login`) only exchanges the OAuth2
 * pairing code read from stdin for the first tokens, and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
#include "records.h"
#include "schedule.h"
#include "x3_api1.h"
#include "x3_auth.h"
#include "x3_client.h"
#include "x3_graphql.h"

#define MAX_PAGES_PER_CYCLE 100000
#define HANDED_KEEP_EXTRA_S 3600

struct poller {
	struct mlc_cfg cfg;
	struct mlc_store *st;
	void *zctx;
	void *ack_sock;
	struct mlc_outbox *to_formatter;
	struct mlc_outbox *to_auditor;
	MDB_dbi wm_db;
	MDB_dbi handed, handed_t; /* id -> stamp; be64(stamp) id -> "" */
	MDB_dbi fp_db;            /* "entity\tkey" -> x3_fpstate */
	struct x3_auth *auth;
	struct x3_client client;
	struct x3_sched sched;
	char pid_path[600];
	int stopped_audited;
	struct mlc_drain drain;   /* SIGTERM (mlc_proc.h) */
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
	struct x3_canon *canon;   /* one per row, mapped before the transaction */
	unsigned char *seen;      /* per row: handed on already (not mapped) */
	struct wm wm;             /* in: current watermark; out: advanced */
	struct wm stored;         /* the watermark committed in the store */
	int have_stored;
	size_t handed, unchanged, filtered;
	char polled_at[MLC_TIME_ISO_LEN];
};

static int
page_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct page_arg *pa = arg;
	struct poller *p = pa->p;
	enum x3_kind kind = x3_kind_of(pa->e);
	struct wm w = pa->wm;
	char buf[256];
	int n;

	/* The callback may run again after a map resize: start from scratch. */
	pa->handed = pa->unchanged = pa->filtered = 0;
	for (size_t i = 0; i < pa->page->n_rows; i++) {
		struct x3_row *row = &pa->page->rows[i];
		struct x3_canon *c = &pa->canon[i];
		const char *parts[3] = { pa->e->name, c->number, row->stamp };
		char id[MLC_PROTO_MAX_ID], fpkey[256], fpval[128];
		struct x3_fpstate prev;
		const char *event;
		struct mlc_frame f;
		unsigned char tkey[8 + MLC_PROTO_MAX_ID], be[8];
		MDB_val hv;
		size_t idlen, fplen;
		int r, have_prev;

		if (wm_cmp(row->stamp_s, row->key, &w) > 0) {
			w.stamp_s = row->stamp_s;
			snprintf(w.key, sizeof(w.key), "%s", row->key);
		}
		if (pa->seen[i])
			continue; /* read again by the look-back; found before mapping */
		if (mlc_proto_make_id(parts, 3, id, sizeof(id)) != 0)
			return mlc_err_set(err, "record id too long for %s", c->number);
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
		/* Fingerprint: does this version change anything that matters? */
		fplen = (size_t)snprintf(fpkey, sizeof(fpkey), "%s\t%s", pa->e->name, c->number);
		if (fplen >= sizeof(fpkey))
			return mlc_err_set(err, "key too long: %s", c->number);
		r = mlc_store_get(txn, p->fp_db, fpkey, fplen, &hv, err);
		if (r < 0)
			return -1;
		have_prev = r == 1 && x3_fpstate_parse(hv.mv_data, hv.mv_size, &prev) == 0;
		event = x3_event_decide(kind, have_prev ? &prev : NULL, &c->st);
		if (!have_prev || strcmp(prev.fp, c->st.fp) != 0 || strcmp(prev.a, c->st.a) != 0 ||
		    strcmp(prev.b, c->st.b) != 0) {
			size_t vl = x3_fpstate_format(&c->st, fpval, sizeof(fpval));

			if (mlc_store_put(txn, p->fp_db, fpkey, fplen, fpval, vl, err) != 0)
				return -1;
		}
		if (event == NULL) {
			pa->unchanged++;
			continue;
		}
		if (!x3_event_notified(pa->e, event)) {
			pa->filtered++;
			continue;
		}
		memset(&f, 0, sizeof(f));
		f.type = MLC_FRAME_RECORD;
		f.u.rec.id = id;
		f.u.rec.from = "poller";
		f.u.rec.entity = (char *)(uintptr_t)pa->e->name;
		f.u.rec.key = c->number;
		f.u.rec.stamp = row->stamp;
		f.u.rec.event = (char *)(uintptr_t)event;
		f.u.rec.polled_at = pa->polled_at;
		f.u.rec.fields = c->fields;
		f.u.rec.n_fields = c->n_fields;
		r = mlc_outbox_put_frame(p->to_formatter, txn, &f, id, err);
		if (r == MLC_OUTBOX_TOO_BIG) {
			/* The formatter could never receive it (max_frame_bytes):
			 * the record is rejected, with the reason in the journal,
			 * and the cycle goes on (retrying would never succeed). */
			struct mlc_auditb b;

			mlc_warn("record %s rejected: %s", id, err->msg);
			mlc_auditb_init(&b, "error");
			mlc_auditb_str(&b, "where", "poll");
			mlc_auditb_str(&b, "record_id", id);
			mlc_auditb_str(&b, "outcome", "rejected");
			mlc_auditb_str(&b, "error", err->msg);
			if (mlc_auditb_put(&b, p->to_auditor, txn, err) != 0)
				return -1;
			continue;
		}
		if (r != 0)
			return -1;
		pa->handed++;
	}
	/* A page read again by the look-back usually changes nothing: then
	 * the transaction stays empty and its commit costs no disk write. */
	if (pa->have_stored && wm_cmp(w.stamp_s, w.key, &pa->stored) == 0) {
		pa->wm = w;
		return 0;
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

static int
idle_pump(void *arg)
{
	pump(arg);
	return mlc_proc_stop != 0;
}

/* A page request still running when shutdown.drain_timeout has passed
 * since SIGTERM is abandoned (nothing of it was committed). */
static int
cancel_request(void *arg)
{
	struct poller *p = arg;

	return mlc_proc_stop && mlc_drain_expired(&p->drain, mlc_time_mono_ms());
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
		int64_t cutoff = min_stamp - p->cfg.x3.lookback_ms / 1000 - HANDED_KEEP_EXTRA_S;
		void *a[2] = { p, &cutoff };

		if (mlc_store_write(p->st, prune_txn, a, &err) != 0)
			mlc_error("pruning handed ids: %s", err.msg);
	}
}

struct seen_arg {
	struct poller *p;
	const struct mlc_cfg_entity *e;
	struct x3_page *page;
	unsigned char *seen;
};

/* Marks the rows whose version was handed on already (read again by the
 * look-back): page_txn skips them, so they need no mapping. A row whose
 * number is missing is left unmarked, to fail in x3_canon_map as before. */
static int
seen_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct seen_arg *sa = arg;

	for (size_t i = 0; i < sa->page->n_rows; i++) {
		const struct x3_row *row = &sa->page->rows[i];
		char number[sizeof(((struct x3_canon *)0)->number)], id[MLC_PROTO_MAX_ID];
		const char *parts[3] = { sa->e->name, number, row->stamp };
		struct mlc_err ignored;
		MDB_val hv;
		int r;

		sa->seen[i] = 0;
		if (x3_canon_number(sa->e, row, number, sizeof(number), &ignored) != 0 ||
		    mlc_proto_make_id(parts, 3, id, sizeof(id)) != 0)
			continue;
		r = mlc_store_get(txn, sa->p->handed, id, strlen(id), &hv, err);
		if (r < 0)
			return -1;
		sa->seen[i] = r == 1;
	}
	return 0;
}

/* Maps every row of the page not seen before to its canonical record
 * before the write transaction (the transaction callback may run twice). */
static int
map_page(const struct mlc_cfg_entity *e, struct x3_page *page, const unsigned char *seen,
    struct x3_canon **out, struct mlc_err *err)
{
	struct x3_canon *c = calloc(page->n_rows + 1, sizeof(*c));

	if (c == NULL)
		return mlc_err_set(err, "out of memory");
	for (size_t i = 0; i < page->n_rows; i++) {
		if (seen[i])
			continue;
		if (x3_canon_map(e, &page->rows[i], &c[i], err) != 0) {
			for (size_t j = 0; j < i; j++)
				x3_canon_free(&c[j]);
			free(c);
			return -1;
		}
	}
	*out = c;
	return 0;
}

static void
free_canon(struct x3_canon *c, size_t n)
{
	for (size_t i = 0; c != NULL && i < n; i++)
		x3_canon_free(&c[i]);
	free(c);
}

/* One cycle of one entity. Returns -1 when polling must stop (auth). */
static int
poll_entity(struct poller *p, const struct mlc_cfg_entity *e)
{
	struct page_arg pa;
	struct seen_arg sa;
	struct mlc_auditb b;
	struct mlc_err err;
	struct x3_fetch_stats fs;
	struct x3_page carry;
	char before[200], after[200];
	char *url = NULL, *cursor = NULL;
	int gql = strcmp(e->api, "graphql") == 0, is_gl = x3_kind_of(e) == X3_KIND_GL;
	int64_t t0 = mlc_time_mono_ms(), since;
	size_t pages = 0, records = 0, rows = 0, unchanged = 0, filtered = 0, dropped = 0;
	int found, failed = 0, fatal = 0, more = 1;

	memset(&pa, 0, sizeof(pa));
	memset(&sa, 0, sizeof(sa));
	memset(&fs, 0, sizeof(fs));
	memset(&carry, 0, sizeof(carry));
	err.msg[0] = '\0';
	pa.p = p;
	pa.e = e;
	if (wm_load(p, e, &pa.wm, &found, &err) != 0) {
		failed = 1;
		goto done;
	}
	pa.stored = pa.wm;
	pa.have_stored = found;
	sa.p = p;
	sa.e = e;
	if (!found)
		pa.wm.stamp_s = (mlc_time_now_ms() - p->cfg.x3.initial_window_ms) / 1000;
	wm_text(&pa.wm, before, sizeof(before));
	since = pa.wm.stamp_s - (found ? p->cfg.x3.lookback_ms / 1000 : 0);
	if (!gql && x3_api1_first_url(&p->cfg, e, since, &url, &err) != 0) {
		failed = 1;
		goto done;
	}
	while (more && !mlc_proc_stop && pages < MAX_PAGES_PER_CYCLE) {
		struct x3_page page;

		if (x3_client_page(&p->client, e, url, since, cursor, &page, &fs, &fatal,
		    &err) != 0) {
			mlc_err_prefix(&err, "page %zu of %s", pages + 1, e->name);
			failed = 1;
			break;
		}
		more = gql ? page.has_next : page.next_url != NULL;
		rows += page.n_rows;
		for (size_t i = 0; i < page.n_rows; i++)
			dropped += page.rows[i].n_dropped;
		if (gql && is_gl && x3_gql_group_lines(&page, &carry, more, &err) != 0) {
			mlc_err_prefix(&err, "page %zu of %s", pages + 1, e->name);
			x3_page_free(&page);
			failed = 1;
			break;
		}
		mlc_time_format(mlc_time_now_ms() / 1000, pa.polled_at);
		pa.page = &page;
		sa.page = &page;
		sa.seen = pa.seen = calloc(page.n_rows + 1, 1);
		if (pa.seen == NULL)
			mlc_err_set(&err, "out of memory");
		if (pa.seen == NULL || mlc_store_read(p->st, seen_txn, &sa, &err) != 0 ||
		    map_page(e, &page, pa.seen, &pa.canon, &err) != 0 ||
		    mlc_store_write(p->st, page_txn, &pa, &err) != 0) {
			mlc_err_prefix(&err, "page %zu of %s", pages + 1, e->name);
			free_canon(pa.canon, page.n_rows);
			pa.canon = NULL;
			free(pa.seen);
			pa.seen = NULL;
			x3_page_free(&page);
			failed = 1;
			break;
		}
		pa.stored = pa.wm;
		pa.have_stored = 1;
		free_canon(pa.canon, page.n_rows);
		pa.canon = NULL;
		free(pa.seen);
		pa.seen = NULL;
		pages++;
		records += pa.handed;
		unchanged += pa.unchanged;
		filtered += pa.filtered;
		free(url);
		url = page.next_url;
		page.next_url = NULL;
		free(cursor);
		cursor = page.end_cursor;
		page.end_cursor = NULL;
		x3_page_free(&page);
		pump(p);
	}
done:
	free(url);
	free(cursor);
	x3_page_free(&carry);
	wm_text(&pa.wm, after, sizeof(after));
	if (failed)
		mlc_error("cycle %s failed: %s", e->name, err.msg);
	else
		mlc_info("cycle %s: %zu records (%zu rows, %zu unchanged) in %zu pages, "
		    "watermark %s", e->name, records, rows, unchanged, pages, after);
	if (dropped > 0)
		mlc_warn("cycle %s: %zu fields past the %dth of a row were ignored "
		    "(X3 sent rows wider than the connector keeps)", e->name, dropped,
		    X3_MAX_RAW_FIELDS);
	if (fatal)
		return -1; /* the auth module audited the alert once */
	mlc_auditb_init(&b, "poll");
	mlc_auditb_str(&b, "entity", e->name);
	mlc_auditb_str(&b, "api", e->api);
	mlc_auditb_int(&b, "pages", (int64_t)pages);
	mlc_auditb_int(&b, "rows", (int64_t)rows);
	mlc_auditb_int(&b, "records", (int64_t)records);
	mlc_auditb_int(&b, "unchanged", (int64_t)unchanged);
	mlc_auditb_int(&b, "not_notified", (int64_t)filtered);
	if (dropped > 0)
		mlc_auditb_int(&b, "fields_dropped", (int64_t)dropped);
	mlc_auditb_int(&b, "retries", fs.retries);
	if (fs.retries > 0)
		mlc_auditb_str(&b, "retry_reason", fs.last_retry);
	mlc_auditb_str(&b, "wm_before", before);
	mlc_auditb_str(&b, "wm_after", after);
	mlc_auditb_int(&b, "duration_ms", mlc_time_mono_ms() - t0);
	/* A page abandoned at the drain timeout is no X3 failure. */
	mlc_auditb_str(&b, "outcome", !failed ? "ok" : mlc_proc_stop ? "stopped" : "failed");
	if (failed)
		mlc_auditb_str(&b, "error", err.msg);
	audit_now(p, &b);
	return 0;
}

static void
lifecycle_event(struct poller *p, const char *kind, const struct mlc_drain *dr)
{
	struct mlc_auditb b;

	mlc_auditb_init(&b, kind);
	mlc_auditb_str(&b, "process", "poller");
	if (dr != NULL)
		mlc_drain_report(dr, &b);
	audit_now(p, &b);
}

/* SIGHUP: the X3 connection and credentials are the auth module's (read
 * at start); entities, the schedule, page size, look-back, timeouts and
 * retries reload. */
static const struct mlc_cfg_field poller_fixed[] = {
	MLC_CFG_FIELD("x3.url", x3.url),
	MLC_CFG_FIELD("x3.folder", x3.folder),
	MLC_CFG_FIELD("x3.auth", x3.auth),
	MLC_CFG_FIELD("x3.user", x3.user),
	MLC_CFG_FIELD("x3.password_env", x3.password_env),
	MLC_CFG_FIELD("x3.password_file", x3.password_file),
	MLC_CFG_FIELD("x3.oauth2", x3.oauth2),
	MLC_CFG_FIELD("x3.connected_app", x3.app),
};

/* Between cycles only (never while a page is being committed), so a
 * reload splits no page: the next cycle reads from the watermark with the
 * new settings. Returns 0 if the new configuration is in use. */
static int
reload_config(struct poller *p)
{
	struct mlc_auditb b;
	struct mlc_err err;
	char restart[512];
	int rc = mlc_proc_reload("poller", &p->cfg, poller_fixed,
	    sizeof(poller_fixed) / sizeof(poller_fixed[0]), restart, sizeof(restart), &err);

	mlc_proc_reload_audit(&b, "poller", rc, restart, &err);
	if (rc == 0) {
		x3_sched_init(&p->sched, &p->cfg);
		mlc_auditb_int(&b, "entities", (int64_t)p->cfg.x3.n_entities);
		mlc_auditb_int(&b, "poll_interval_ms", p->cfg.x3.poll_interval_ms);
		mlc_auditb_int(&b, "schedule_rules", (int64_t)p->cfg.x3.n_schedule);
	}
	audit_now(p, &b);
	return rc;
}

/* x3_auth events -> audit: kind "token" (refresh, rotation,
 * expiry_warning) and "alert" (refresh_rejected). */
static void
auth_event(void *arg, const char *kind, const char *event, const char *detail,
    int64_t expires_ms)
{
	struct poller *p = arg;
	struct mlc_auditb b;
	char iso[MLC_TIME_ISO_LEN];

	if (p->st == NULL)
		return;
	mlc_auditb_init(&b, kind);
	mlc_auditb_str(&b, "event", event);
	mlc_auditb_str(&b, "connection", p->cfg.x3.url);
	mlc_auditb_str(&b, "detail", detail);
	if (strcmp(kind, "alert") == 0)
		mlc_auditb_str(&b, "error", detail);
	if (expires_ms > 0) {
		mlc_time_format(expires_ms / 1000, iso);
		mlc_auditb_str(&b, "expires", iso);
	}
	audit_now(p, &b);
}

static void
audit_stopped(struct poller *p)
{
	const char *why;

	if (p->stopped_audited || !x3_auth_stopped(p->auth, &why))
		return;
	p->stopped_audited = 1;
	mlc_error("polling stopped: %s", why);
}

/* state_dir/poller/pid, for `mlc poll now` and `mlc x3 login`. */
static void
write_pid(struct poller *p, const char *dir)
{
	char tmp[620], buf[32];
	int fd, n;

	snprintf(p->pid_path, sizeof(p->pid_path), "%s/pid", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p->pid_path);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n) != n || close(fd) != 0 ||
	    rename(tmp, p->pid_path) != 0) {
		mlc_warn("cannot write %s: %s (mlc poll now will not find this poller)",
		    p->pid_path, strerror(errno));
		p->pid_path[0] = '\0';
	}
}

struct args {
	int login;
};

static int
extra_arg(int argc, char **argv, int i, void *arg)
{
	struct args *a = arg;

	(void)argc;
	if (strcmp(argv[i], "--x3-login") == 0) {
		a->login = 1;
		return 1;
	}
	return -1;
}

/* --x3-login: the pairing code on stdin (never in argv: ps shows argv). */
static int
login_main(struct poller *p)
{
	char code[4096];
	size_t n;
	struct mlc_err err;

	if (fgets(code, sizeof(code), stdin) == NULL) {
		fprintf(stderr, "mlc-poller: no authorization code on stdin\n");
		return 2;
	}
	n = strcspn(code, "\r\n");
	code[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "mlc-poller: empty authorization code\n");
		return 2;
	}
	if (x3_auth_login(&p->cfg, code, mlc_time_now_ms(), &err) != 0) {
		explicit_bzero(code, sizeof(code));
		fprintf(stderr, "mlc-poller: login failed: %s\n", err.msg);
		return 1;
	}
	explicit_bzero(code, sizeof(code));
	return 0;
}

static int
any_enabled(const struct mlc_cfg *cfg)
{
	for (size_t i = 0; i < cfg->x3.n_entities; i++)
		if (cfg->x3.entities[i].enabled)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct poller p;
	struct mlc_custody_opts co;
	struct mlc_err err;
	struct args args = { 0 };
	char dir[512];
	int64_t next_cycle_mono;
	struct mlc_drain *dr = &p.drain;

	mlc_proc_start("poller", argc, argv, &p.cfg, extra_arg, &args, "[--x3-login]");
	if (args.login)
		return login_main(&p);
	mlc_topo_custody_opts(&p.cfg, &co);
	if (mlc_topo_state_path(&p.cfg, "poller", dir, sizeof(dir)) != 0)
		mlc_proc_die("state_dir too long");
	if (mlc_store_open(&p.st, dir, 0, &err) != 0 ||
	    mlc_store_dbi(p.st, "watermark", 0, &p.wm_db, &err) != 0 ||
	    mlc_store_dbi(p.st, "handed", 0, &p.handed, &err) != 0 ||
	    mlc_store_dbi(p.st, "handed_t", 0, &p.handed_t, &err) != 0 ||
	    mlc_store_dbi(p.st, "fingerprint", 0, &p.fp_db, &err) != 0)
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
	if (x3_auth_open(&p.auth, &p.cfg, auth_event, &p, &err) != 0)
		mlc_proc_die("%s", err.msg);
	p.client.cfg = &p.cfg;
	p.client.auth = p.auth;
	p.client.idle = idle_pump;
	p.client.idle_arg = &p;
	p.client.cancel = cancel_request;
	x3_sched_init(&p.sched, &p.cfg);
	write_pid(&p, dir);

	mlc_info("started: %zu entities, auth %s, every %lld ms (%zu schedule rules) from %s",
	    p.cfg.x3.n_entities, p.cfg.x3.auth, (long long)p.cfg.x3.poll_interval_ms,
	    p.cfg.x3.n_schedule, p.cfg.x3.url);
	lifecycle_event(&p, "start", NULL);
	if (x3_auth_stopped(p.auth, NULL)) {
		const char *why;

		x3_auth_stopped(p.auth, &why);
		auth_event(&p, "alert", "polling_stopped", why, 0);
		p.stopped_audited = 1;
		mlc_error("polling stopped: %s", why);
	}
	next_cycle_mono = mlc_time_mono_ms();
	mlc_drain_init(dr, p.cfg.drain_timeout_ms, 2 * p.cfg.resend_after_ms);
	/* SIGTERM: a cycle stops after the page it is on (each page is one
	 * commit), no new one starts, and the outboxes are handed on until
	 * acked or shutdown.drain_timeout passes (mlc_proc.h). */
	while (mlc_drain_step(dr, mlc_proc_stop, 0, 0, mlc_outbox_pending(p.to_formatter) +
	    mlc_outbox_pending(p.to_auditor), mlc_time_mono_ms())) {
		int64_t now = mlc_time_mono_ms(), timeout;
		zmq_pollitem_t items[2] = {
			{ p.ack_sock, 0, ZMQ_POLLIN, 0 },
			{ NULL, mlc_proc_wake_fd(), ZMQ_POLLIN, 0 },
		};

		if (mlc_proc_hup) {
			mlc_proc_hup = 0;
			/* A new schedule applies from the cycle that follows. */
			reload_config(&p);
			if (x3_auth_reload(p.auth, &err) != 0)
				mlc_error("reloading X3 tokens: %s", err.msg);
			if (!x3_auth_stopped(p.auth, NULL)) {
				p.stopped_audited = 0;
				next_cycle_mono = now; /* resume at once */
			}
		}
		if ((now >= next_cycle_mono || mlc_proc_usr1) && !mlc_drain_active(dr) &&
		    !x3_auth_stopped(p.auth, NULL) && any_enabled(&p.cfg)) {
			int64_t wall = mlc_time_now_ms();

			mlc_proc_usr1 = 0;
			x3_auth_tick(p.auth, wall);
			for (size_t i = 0; i < p.cfg.x3.n_entities && !mlc_proc_stop; i++)
				if (p.cfg.x3.entities[i].enabled &&
				    poll_entity(&p, &p.cfg.x3.entities[i]) != 0)
					break;
			audit_stopped(&p);
			prune_handed(&p);
			/* From the start of this cycle; an overrun starts the next
			 * at once, one cycle, never a backlog of them. */
			next_cycle_mono = now + (x3_sched_next(&p.sched, wall) - wall);
		} else if (mlc_proc_usr1) {
			mlc_proc_usr1 = 0;
			if (x3_auth_stopped(p.auth, NULL))
				mlc_warn("poll now: polling is stopped (see the alert in the audit "
				    "journal); run `mlc x3 login` or send SIGHUP");
		}
		pump(&p);
		now = mlc_time_mono_ms();
		/* Sleep until the next cycle or outbox timer; with polling
		 * stopped, until an ack, SIGHUP or SIGUSR1 (-1: no timeout). */
		timeout = x3_auth_stopped(p.auth, NULL) || !any_enabled(&p.cfg) ? -1 :
		    mlc_time_until(next_cycle_mono, now);
		timeout = mlc_time_sooner(timeout, mlc_outbox_due_in(p.to_formatter, now));
		timeout = mlc_time_sooner(timeout, mlc_outbox_due_in(p.to_auditor, now));
		if (mlc_drain_active(dr))
			timeout = mlc_time_sooner(timeout, 50);
		zmq_poll(items, 2, (long)timeout);
		mlc_proc_wake_drain();
	}
	mlc_info("stopping");
	lifecycle_event(&p, "stop", dr);
	{
		struct mlc_outbox *obs[2] = { p.to_formatter, p.to_auditor };

		/* How long to wait for the auditor to take the stop record. */
		mlc_proc_final_flush(p.to_auditor, p.ack_sock, obs, 2, 500);
	}
	if (p.pid_path[0] != '\0')
		unlink(p.pid_path);
	x3_auth_close(&p.auth);
	mlc_outbox_close(&p.to_formatter);
	mlc_outbox_close(&p.to_auditor);
	mlc_zmq_close(&p.ack_sock);
	zmq_ctx_term(p.zctx);
	mlc_store_close(&p.st);
	return 0;
}
