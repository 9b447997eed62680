/*
 * api1.c: the Syracuse REST "api1" routes.
 *
 *   GET /api1/x3/erp/{FOLDER}/{CLASS}?representation={CLASS}.$query
 *       &count=N&where=...&orderBy=...[&key=gt.KEY][&startIndex=S&cursor=C]
 *   GET /api1/x3/erp/{FOLDER}/{CLASS}('{KEY}')?representation={CLASS}.$details
 *
 * Paging is keyset paging over live data: the order is made total by a
 * final `KEY asc`, and `$links.$next.$url` repeats the query with `cursor`,
 * an opaque encoding of the last row's order tuple (see x3_cursor_encode).
 * Each page re-runs the query and returns the rows strictly after the
 * cursor, so a row that does not change while a client pages is returned
 * exactly once, and a row that changes is returned as its new version
 * wherever it now sorts (after the cursor for `UPDDATTIM asc`). No snapshot
 * is kept, so the simulator holds no per-client state. `startIndex` in the
 * next URL only feeds `$startIndex` (1-based position of the page's first
 * row); `$totalResults` counts the rows matching `where` right now.
 *
 * GACCENTRY resources carry their lines as the array field "GACCENTRYD".
 * With the paging_changes fault on, every page that has a next page is
 * followed by changes to records of that class before the client asks for
 * the next one: what a busy X3 does to a poller mid-query.
 */
#include "x3sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_time.h"

#define API1_PREFIX     "/api1/x3/erp/"
#define COUNT_DEFAULT   20
#define COUNT_MAX       1000
#define PARAM_MAX       1024 /* any query parameter but where / cursor */

struct x3_class {
	const char    *name;
	enum x3_entity ent;
};

static const struct x3_class classes[] = {
	{ "PORDER", X3_ENT_PORDER },
	{ "PINVOICE", X3_ENT_PINVOICE },
	{ "GACCENTRY", X3_ENT_GACCENTRY },
};

/* Parses 1..max decimal digits into [lo, hi]; 0 / -1. */
static int
parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 10)
			return -1;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	if (n == 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void
render_value(struct x3_buf *b, const struct x3_field *f, const struct x3_value *v)
{
	char tmp[32];

	switch (f->type) {
	case X3_T_STRING:
	case X3_T_DATE:
		x3_buf_json_str(b, v->str);
		break;
	case X3_T_DATETIME: {
		char iso[MLC_TIME_ISO_LEN];

		mlc_time_format(v->num, iso);
		x3_buf_json_str(b, iso);
		break;
	}
	case X3_T_INT:
		x3_buf_printf(b, "%lld", (long long)v->num);
		break;
	case X3_T_DEC2:
		/* The exact decimal text as a JSON number: never via a double. */
		x3_dec2_format(v->num, tmp);
		x3_buf_puts(b, tmp);
		break;
	}
}

static void
render_record_url(struct x3_buf *b, const struct x3_server *srv,
    const struct x3_schema *s, const char *key)
{
	char quoted[2 * X3_STR_MAX];
	size_t n = 0;

	/* The key goes between quotes, where a quote is written twice. */
	for (const char *k = key; *k && n + 2 < sizeof(quoted); k++) {
		quoted[n++] = *k;
		if (*k == '\'')
			quoted[n++] = '\'';
	}
	quoted[n] = '\0';
	x3_buf_printf(b, "%s" API1_PREFIX "%s/%s('", srv->base_url, srv->folder,
	    s->class_name);
	x3_buf_url_enc(b, quoted);
	x3_buf_printf(b, "')?representation=%s.$details", s->class_name);
}

static void
render_resource(struct x3_buf *b, const struct x3_server *srv,
    const struct x3_schema *s, const struct x3_record *rec)
{
	x3_buf_puts(b, "{\"$uuid\":");
	x3_buf_json_str(b, rec->uuid);
	x3_buf_puts(b, ",\"$key\":");
	x3_buf_json_str(b, rec->v[s->key].str);
	x3_buf_puts(b, ",\"$url\":\"");
	render_record_url(b, srv, s, rec->v[s->key].str);
	x3_buf_printf(b, "\",\"$etag\":\"%u\"", rec->version);
	for (int i = 0; i < s->nfields; i++) {
		const struct x3_field *f = &s->fields[i];

		x3_buf_printf(b, ",\"%s\":", f->name);
		render_value(b, f, &rec->v[i]);
		if (f->has_ref && rec->v[i].ref != NULL) {
			x3_buf_printf(b, ",\"%s_REF\":{\"$description\":", f->name);
			x3_buf_json_str(b, rec->v[i].ref);
			x3_buf_puts(b, ",\"$title\":");
			x3_buf_json_str(b, rec->v[i].ref);
			x3_buf_puts(b, "}");
		}
	}
	if (s->lines_name != NULL) {
		x3_buf_printf(b, ",\"%s\":[", s->lines_name);
		for (int l = 0; l < rec->nlines && l < X3_MAX_LINES; l++) {
			x3_buf_puts(b, l ? ",{" : "{");
			for (int i = 0; i < s->nline_fields; i++) {
				x3_buf_printf(b, "%s\"%s\":", i ? "," : "", s->line_fields[i].name);
				render_value(b, &s->line_fields[i], &rec->lines[l][i]);
			}
			x3_buf_puts(b, "}");
		}
		x3_buf_puts(b, "]");
	}
	x3_buf_puts(b, "}");
}

/* Stable merge sort of record pointers by the query order. */
static void
sort_records(struct x3_record **a, struct x3_record **tmp, size_t n,
    const struct x3_order *o, const struct x3_schema *s)
{
	size_t mid, i, j, k;

	if (n < 2)
		return;
	mid = n / 2;
	sort_records(a, tmp, mid, o, s);
	sort_records(a + mid, tmp, n - mid, o, s);
	for (i = 0, j = mid, k = 0; i < mid && j < n; k++) {
		if (x3_order_cmp(o, s, a[j]->v, a[i]->v) < 0)
			tmp[k] = a[j++];
		else
			tmp[k] = a[i++];
	}
	while (i < mid)
		tmp[k++] = a[i++];
	while (j < n)
		tmp[k++] = a[j++];
	memcpy(a, tmp, n * sizeof(*a));
}

/* The doc's `key=gt.{lastKey}` paging: op "." value on the key. */
struct key_filter {
	int  active;
	int  op; /* 0 eq, 1 gt, 2 ge, 3 lt, 4 le */
	char value[X3_STR_MAX];
};

static int
parse_key_filter(const char *s, struct key_filter *kf)
{
	static const char *ops[] = { "eq.", "gt.", "ge.", "lt.", "le." };

	for (int i = 0; i < 5; i++) {
		if (strncmp(s, ops[i], 3) == 0 && strlen(s + 3) < sizeof(kf->value)) {
			kf->active = 1;
			kf->op = i;
			snprintf(kf->value, sizeof(kf->value), "%s", s + 3);
			return 0;
		}
	}
	return -1;
}

static int
key_filter_match(const struct key_filter *kf, const char *key)
{
	int c;

	if (!kf->active)
		return 1;
	c = strcmp(key, kf->value);
	switch (kf->op) {
	case 0: return c == 0;
	case 1: return c > 0;
	case 2: return c >= 0;
	case 3: return c < 0;
	default: return c <= 0;
	}
}

static void
where_error(struct x3_reply *r, enum x3_where_err why, const struct mlc_err *err,
    const char *syntax_code)
{
	if (why == X3_WHERE_UNKNOWN_FIELD)
		x3_reply_diag(r, 500, "ApplicationDiagnosis", NULL, "%s", err->msg);
	else
		x3_reply_diag(r, 400, syntax_code, "2403", "%s", err->msg);
}

/* Checks representation = CLASS.facet; 0, or -1 with the reply set. */
static int
check_representation(const struct x3_req *rq, const struct x3_schema *s,
    const char *facet, struct x3_reply *r)
{
	const char *rep = x3_req_arg(rq, "representation");
	char want[64], shown[80];

	if (rep == NULL || rep[0] == '\0') {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "The 'representation' parameter is mandatory (e.g. representation=%s.%s)",
		    s->class_name, facet);
		return -1;
	}
	snprintf(want, sizeof(want), "%s.%s", s->class_name, facet);
	if (strcmp(rep, want) != 0) {
		x3_sanitize(rep, shown, sizeof(shown));
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "Representation '%s' is not a valid representation here for class %s: expected '%s'",
		    shown, s->class_name, want);
		return -1;
	}
	return 0;
}

/* Bounded parameter fetch: NULL if absent, sets the reply if too long. */
static int
get_param(const struct x3_req *rq, const char *name, size_t max,
    const char **out, struct x3_reply *r)
{
	const char *v = x3_req_arg(rq, name);

	*out = v;
	if (v != NULL && strnlen(v, max + 1) > max) {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "The '%s' parameter is longer than %zu bytes", name, max);
		return -1;
	}
	return 0;
}

static void
handle_query(const struct x3_req *rq, enum x3_entity ent, struct x3_reply *r)
{
	struct x3_table *t = &rq->srv->store->tables[ent];
	const struct x3_schema *s = t->schema;
	struct x3_server *srv = rq->srv;
	const char *count_s, *where_s, *order_s, *cursor_s, *start_s, *key_s;
	unsigned long count = COUNT_DEFAULT, start = 1;
	struct x3_where *w = NULL;
	struct x3_order order;
	struct x3_value cursor_row[X3_MAX_FIELDS];
	struct key_filter kf = { 0 };
	enum x3_where_err why;
	struct mlc_err err;
	struct x3_record **cand = NULL, **tmp = NULL;
	size_t ncand = 0, total = 0, npage;
	struct x3_buf b = { 0 };
	int locked = 0;

	if (check_representation(rq, s, "$query", r) != 0)
		return;
	if (get_param(rq, "count", 16, &count_s, r) != 0 ||
	    get_param(rq, "orderBy", PARAM_MAX, &order_s, r) != 0 ||
	    get_param(rq, "cursor", X3_CURSOR_MAX, &cursor_s, r) != 0 ||
	    get_param(rq, "startIndex", 16, &start_s, r) != 0 ||
	    get_param(rq, "key", PARAM_MAX, &key_s, r) != 0)
		return;
	if (count_s != NULL && parse_uint(count_s, 1, COUNT_MAX, &count) != 0) {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "The 'count' parameter must be an integer from 1 to %d", COUNT_MAX);
		return;
	}
	if (start_s != NULL && parse_uint(start_s, 1, 1000000000UL, &start) != 0) {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "The 'startIndex' parameter must be an integer from 1 to 1000000000");
		return;
	}
	if (key_s != NULL && parse_key_filter(key_s, &kf) != 0) {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "The 'key' parameter must look like gt.KEY (eq, gt, ge, lt, le)");
		return;
	}
	/* x3_where_parse bounds the length itself (BadWhereSyntax when over). */
	where_s = x3_req_arg(rq, "where");
	if (where_s != NULL && x3_where_parse(where_s, s, &w, &why, &err) != 0) {
		where_error(r, why, &err, "BadWhereSyntax");
		return;
	}
	if (x3_order_parse(order_s ? order_s : "", s, &order, &why, &err) != 0) {
		where_error(r, why, &err, "BadOrderBySyntax");
		goto out;
	}
	x3_order_tiebreak(&order, s->key);
	memset(cursor_row, 0, sizeof(cursor_row));
	if (cursor_s != NULL &&
	    x3_cursor_decode(cursor_s, &order, s, cursor_row, &err) != 0) {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "%s (restart the query without 'cursor')", err.msg);
		goto out;
	}

	x3_store_lock(srv->store);
	locked = 1;
	if (t->nrecs > 0) {
		cand = calloc(t->nrecs, sizeof(*cand));
		tmp = calloc(t->nrecs, sizeof(*tmp));
		if (cand == NULL || tmp == NULL) {
			x3_reply_diag(r, 500, "ApplicationDiagnosis", NULL, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < t->nrecs; i++) {
		struct x3_record *rec = &t->recs[i];

		if (!x3_where_match(w, rec->v) || !key_filter_match(&kf, rec->v[s->key].str))
			continue;
		total++;
		if (cursor_s != NULL && x3_order_cmp(&order, s, rec->v, cursor_row) <= 0)
			continue;
		cand[ncand++] = rec;
	}
	sort_records(cand, tmp, ncand, &order, s);
	npage = ncand < count ? ncand : count;

	x3_buf_printf(&b, "{\"$itemsPerPage\":%lu,\"$totalResults\":%zu,\"$startIndex\":%lu,"
	    "\"$resources\":[", count, total, start);
	for (size_t i = 0; i < npage; i++) {
		if (i > 0)
			x3_buf_puts(&b, ",");
		render_resource(&b, srv, s, cand[i]);
		x3_table_mark_served(t, cand[i]);
	}
	x3_buf_puts(&b, "],\"$links\":{");
	if (ncand > npage) {
		char cur[X3_CURSOR_MAX + 1];

		if (x3_cursor_encode(&order, s, cand[npage - 1]->v, cur, sizeof(cur)) != 0) {
			x3_buf_free(&b);
			x3_reply_diag(r, 500, "ApplicationDiagnosis", NULL,
			    "cannot encode the paging cursor");
			goto out;
		}
		x3_buf_printf(&b, "\"$next\":{\"$url\":\"%s" API1_PREFIX "%s/%s?representation=",
		    srv->base_url, srv->folder, s->class_name);
		x3_buf_url_enc(&b, s->class_name);
		x3_buf_printf(&b, ".$query&count=%lu", count);
		if (where_s != NULL) {
			x3_buf_puts(&b, "&where=");
			x3_buf_url_enc(&b, where_s);
		}
		if (order_s != NULL) {
			x3_buf_puts(&b, "&orderBy=");
			x3_buf_url_enc(&b, order_s);
		}
		if (key_s != NULL) {
			x3_buf_puts(&b, "&key=");
			x3_buf_url_enc(&b, key_s);
		}
		x3_buf_printf(&b, "&startIndex=%lu&cursor=%s\"}", start + npage, cur);
		/* After the page is rendered: it shows the rows as they were. */
		x3_gen_modify_locked(srv->gen, ent, x3_fault_paging_changes(srv->faults));
	}
	x3_buf_puts(&b, "}}");
	x3_store_unlock(srv->store);
	locked = 0;
	x3_reply_buf(r, 200, &b);
out:
	if (locked)
		x3_store_unlock(srv->store);
	free(cand);
	free(tmp);
	x3_where_free(&w);
}

/* Parses "('KEY')" ('' is a quote) into key; 0 / -1. */
static int
parse_key_segment(const char *p, char *key, size_t keysz)
{
	size_t n = 0;

	if (p[0] != '(' || p[1] != '\'')
		return -1;
	for (p += 2; *p; p++) {
		if (*p == '\'') {
			if (p[1] == '\'') {
				p++;
			} else {
				break;
			}
		}
		if (n + 1 >= keysz)
			return -1;
		key[n++] = *p;
	}
	key[n] = '\0';
	return (p[0] == '\'' && p[1] == ')' && p[2] == '\0') ? 0 : -1;
}

static void
handle_details(const struct x3_req *rq, struct x3_table *t, const char *key,
    struct x3_reply *r)
{
	struct x3_record *rec;
	struct x3_buf b = { 0 };

	if (check_representation(rq, t->schema, "$details", r) != 0)
		return;
	x3_store_lock(rq->srv->store);
	rec = x3_table_find(t, key);
	if (rec == NULL) {
		x3_store_unlock(rq->srv->store);
		/* What a real X3 answers for a missing record: 200 + diagnosis. */
		x3_reply_diag(r, 200, "ApplicationDiagnosis", "721", "721 : Record does not exist");
		return;
	}
	render_resource(&b, rq->srv, t->schema, rec);
	x3_table_mark_served(t, rec);
	x3_store_unlock(rq->srv->store);
	x3_reply_buf(r, 200, &b);
}

void
x3_api1_handle(const struct x3_req *rq, struct x3_reply *r)
{
	const char *p = rq->path + strlen(API1_PREFIX), *slash, *cls_end;
	char folder[64], cls[64], key[X3_STR_MAX], shown[80];
	const struct x3_class *c = NULL;
	size_t n;

	if (strncmp(rq->path, API1_PREFIX, strlen(API1_PREFIX)) != 0 ||
	    (slash = strchr(p, '/')) == NULL) {
		x3_reply_diag(r, 404, "ResourceNotFound", NULL,
		    "Expected " API1_PREFIX "{FOLDER}/{CLASS}");
		return;
	}
	n = (size_t)(slash - p);
	if (n == 0 || n >= sizeof(folder)) {
		x3_reply_diag(r, 404, "ResourceNotFound", NULL, "Missing or overlong folder name");
		return;
	}
	memcpy(folder, p, n);
	folder[n] = '\0';
	if (strcmp(folder, rq->srv->folder) != 0) {
		x3_sanitize(folder, shown, sizeof(shown));
		x3_reply_diag(r, 404, "ResourceNotFound", NULL,
		    "Endpoint 'x3/erp/%s' does not exist", shown);
		return;
	}
	p = slash + 1;
	cls_end = p + strcspn(p, "(/");
	n = (size_t)(cls_end - p);
	if (n == 0 || n >= sizeof(cls) || *cls_end == '/') {
		x3_reply_diag(r, 404, "ResourceNotFound", NULL, "Missing class name or extra path");
		return;
	}
	memcpy(cls, p, n);
	cls[n] = '\0';
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(classes[i].name, cls) == 0)
			c = &classes[i];
	if (c == NULL) {
		x3_sanitize(cls, shown, sizeof(shown));
		x3_reply_diag(r, 404, "ResourceNotFound", NULL,
		    "Class '%s' does not exist in folder %s", shown, rq->srv->folder);
		return;
	}
	if (strcmp(rq->method, "GET") != 0) {
		x3_reply_diag(r, 405, "MethodNotAllowed", NULL,
		    "Only GET is simulated on class %s", cls);
		return;
	}
	if (*cls_end == '\0') {
		handle_query(rq, c->ent, r);
		return;
	}
	if (parse_key_segment(cls_end, key, sizeof(key)) != 0) {
		x3_reply_diag(r, 404, "ResourceNotFound", NULL,
		    "Expected %s('KEY') with the key between single quotes", cls);
		return;
	}
	handle_details(rq, &rq->srv->store->tables[c->ent], key, r);
}
