/* x3_graphql: see x3_graphql.h. */
#include "x3_graphql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mlc_json.h"
#include "mlc_time.h"
#include "records.h"

#define MAX_PATHS 64
#define MAX_CARRY_LINES 5000

/* Node fields read per kind (docs/records.md); the stamp, the key and the
 * entity's extra `fields:` are added to these. */
static const char *const po_paths[] = {
	"orderDate", "purchaseSite.code", "orderFromSupplier.code.code",
	"orderFromSupplier.code.description", "signatureStatus", "isClosed",
	"currency.code", "taxExcludedTotalAmount", "taxIncludedTotalAmount", NULL,
};
static const char *const pinv_paths[] = {
	"billBySupplier.code", "billBySupplier.description", "supplierDocumentNumber",
	"invoiceType", "accountingDate", "currency.code", "totalAmountExcludingTax",
	"totalAmountIncludingTax", "status", "paymentApproval", "site.code", NULL,
};
static const char *const gl_paths[] = {
	"journalEntry", "journalEntryType", "lineNumber", "journal", "accountingDate",
	"company", "site", "account", "businessPartner", "sign", "transactionAmount",
	"currency", "description", "status", NULL,
};
/* Per-line fields of a grouped GL entry. */
static const char *const gl_line_fields[] = {
	"account", "sign", "transactionAmount", "currency", "businessPartner",
	"description", "lineNumber", NULL,
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Number of leading dotted segments a and b share. */
static size_t
common_segs(const char *a, const char *b)
{
	size_t n = 0;

	for (;;) {
		size_t la = strcspn(a, "."), lb = strcspn(b, ".");

		if (la != lb || strncmp(a, b, la) != 0 || a[la] == '\0' || b[lb] == '\0')
			return n;
		n++;
		a += la + 1;
		b += lb + 1;
	}
}

static size_t
n_segs(const char *p)
{
	size_t n = 1;

	for (; *p; p++)
		n += *p == '.';
	return n;
}

char *
x3_gql_selection(const struct mlc_cfg_entity *e)
{
	const char *paths[MAX_PATHS];
	const char *const *base;
	size_t n = 0, depth = 0, used = 0, cap = 4096;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	switch (x3_kind_of(e)) {
	case X3_KIND_PINV: base = pinv_paths; break;
	case X3_KIND_GL: base = gl_paths; break;
	default: base = po_paths; break;
	}
	paths[n++] = e->graphql_key;
	paths[n++] = e->stamp_field;
	for (size_t i = 0; base[i] != NULL && n < MAX_PATHS; i++)
		paths[n++] = base[i];
	for (size_t i = 0; i < e->n_fields && n < MAX_PATHS; i++)
		paths[n++] = e->fields[i].from;
	qsort(paths, n, sizeof(paths[0]), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *p = paths[i], *seg;
		size_t keep, segs = n_segs(p);

		if (i > 0 && strcmp(p, paths[i - 1]) == 0)
			continue;
		/* "a" and "a.b": a is an object, ask only for its subfields. */
		if (i + 1 < n && strncmp(paths[i + 1], p, strlen(p)) == 0 &&
		    paths[i + 1][strlen(p)] == '.')
			continue;
		keep = i > 0 ? common_segs(paths[i - 1], p) : 0;
		if (keep > depth)
			keep = depth;
		for (; depth > keep; depth--)
			used += (size_t)snprintf(out + used, cap - used, "}");
		seg = p;
		for (size_t s = 0; s < keep; s++)
			seg = strchr(seg, '.') + 1;
		for (size_t s = keep; s < segs; s++) {
			size_t l = strcspn(seg, ".");

			if (used + l + 8 >= cap)
				break;
			used += (size_t)snprintf(out + used, cap - used, "%s%.*s%s",
			    used && out[used - 1] != '{' ? " " : "", (int)l, seg,
			    s + 1 < segs ? "{" : "");
			if (s + 1 < segs)
				depth++;
			seg += l + (seg[l] == '.');
		}
	}
	for (; depth > 0; depth--)
		used += (size_t)snprintf(out + used, cap - used, "}");
	return out;
}

char *
x3_gql_body(const struct mlc_cfg *cfg, const struct mlc_cfg_entity *e,
    int64_t stamp_s, const char *after, struct mlc_err *err)
{
	char iso[MLC_TIME_ISO_LEN], *sel = x3_gql_selection(e), *query = NULL, *out = NULL;
	char *filter = NULL, *order = NULL;
	json_t *f = NULL, *o = NULL, *body = NULL;
	size_t qlen;

	if (sel == NULL)
		goto oom;
	mlc_time_format(stamp_s, iso);
	f = json_pack("{s:{s:s}}", e->stamp_field, "_gte", iso);
	/* GL: journalEntryLine nodes sort on their own id ("<entry>|<line>"),
	 * which keeps the lines of an entry together after the stamp. */
	o = json_pack("{s:i,s:i}", e->stamp_field, 1,
	    x3_kind_of(e) == X3_KIND_GL ? "id" : e->graphql_key, 1);
	filter = f ? json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	order = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (filter == NULL || order == NULL)
		goto oom;
	qlen = strlen(sel) + strlen(e->graphql_root) + strlen(e->graphql_node) + 400;
	query = malloc(qlen);
	if (query == NULL)
		goto oom;
	snprintf(query, qlen, "query($first:Int,$after:String,$filter:String,$orderBy:String)"
	    "{%s{%s{query(first:$first,after:$after,filter:$filter,orderBy:$orderBy)"
	    "{edges{cursor node{%s}} pageInfo{endCursor hasNextPage} totalCount}}}}",
	    e->graphql_root, e->graphql_node, sel);
	body = json_pack("{s:s,s:{s:i,s:s?,s:s,s:s}}", "query", query, "variables",
	    "first", cfg->x3.page_size, "after", after, "filter", filter, "orderBy", order);
	if (body == NULL)
		goto oom;
	/* "after": null on the first page (s? packs NULL as JSON null). */
	out = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (out == NULL)
		goto oom;
	goto done;
oom:
	mlc_err_set(err, "out of memory");
done:
	json_decref(f);
	json_decref(o);
	json_decref(body);
	free(filter);
	free(order);
	free(query);
	free(sel);
	return out;
}

static json_t *
dig(json_t *j, const char *a, const char *b, const char *c)
{
	j = json_object_get(j, a);
	j = json_object_get(j, b);
	return json_object_get(j, c);
}

/* "message (path a.b)" of the first error, and how many there are. */
static void
describe_errors(json_t *errors, struct mlc_err *err)
{
	json_t *e0 = json_array_get(errors, 0), *path = json_object_get(e0, "path");
	const char *msg = mlc_json_scalar_text(json_object_get(e0, "message"));
	char p[200];
	size_t used = 0, i;
	json_t *seg;

	p[0] = '\0';
	json_array_foreach(path, i, seg) {
		const char *s = mlc_json_scalar_text(seg);

		if (s != NULL && used < sizeof(p))
			used += (size_t)snprintf(p + used, sizeof(p) - used, "%s%s", i ? "." : "", s);
	}
	mlc_err_set(err, "GraphQL errors (%zu) in the answer: %.200s%s%s%s",
	    json_array_size(errors), msg ? msg : "(no message)", p[0] ? " (path " : "", p,
	    p[0] ? ")" : "");
}

int
x3_gql_parse_page(const char *body, size_t len, const struct mlc_cfg_entity *e,
    struct x3_page *page, struct mlc_err *err)
{
	json_t *root, *errors, *conn, *edges, *pi;
	const char *hn, *ec;
	size_t i;

	memset(page, 0, sizeof(*page));
	root = mlc_json_loads_exact(body, len, 32, err);
	if (root == NULL)
		return -1;
	if (!json_is_object(root)) {
		json_decref(root);
		return mlc_err_set(err, "response is not a JSON object");
	}
	errors = json_object_get(root, "errors");
	if (json_is_array(errors) && json_array_size(errors) > 0) {
		/* Partial data with errors: some nodes or fields are missing, and
		 * a watermark advanced past them would lose them for good. */
		describe_errors(errors, err);
		if (json_object_get(root, "data") != NULL && !json_is_null(json_object_get(root, "data")))
			mlc_err_prefix(err, "partial data refused");
		json_decref(root);
		return -1;
	}
	conn = dig(json_object_get(root, "data"), e->graphql_root, e->graphql_node, "query");
	edges = json_object_get(conn, "edges");
	if (!json_is_array(edges)) {
		json_decref(root);
		return mlc_err_set(err, "response has no data.%s.%s.query.edges array (check "
		    "graphql_root and graphql_node of entity %s)", e->graphql_root,
		    e->graphql_node, e->name);
	}
	if (json_array_size(edges) > X3_MAX_ROWS_PER_PAGE) {
		size_t n = json_array_size(edges);

		json_decref(root);
		return mlc_err_set(err, "page has %zu nodes, more than %d", n, X3_MAX_ROWS_PER_PAGE);
	}
	page->rows = calloc(json_array_size(edges) + 1, sizeof(*page->rows));
	if (page->rows == NULL) {
		json_decref(root);
		return mlc_err_set(err, "out of memory");
	}
	json_array_foreach(edges, i, conn) {
		json_t *node = json_object_get(conn, "node");
		struct x3_row *r = &page->rows[i];
		const char *key, *stamp;

		if (!json_is_object(node)) {
			mlc_err_set(err, "edge %zu has no node object", i);
			goto fail;
		}
		page->n_rows++;
		key = mlc_json_scalar_text(json_object_get(node, e->graphql_key));
		stamp = mlc_json_scalar_text(json_object_get(node, e->stamp_field));
		if (key == NULL || key[0] == '\0' || strlen(key) > 128) {
			mlc_err_set(err, "node %zu has no usable key field %s", i, e->graphql_key);
			goto fail;
		}
		if (stamp == NULL || mlc_time_parse(stamp, &r->stamp_s) != 0) {
			mlc_err_set(err, "node %zu (%s): field %s is missing or not a UTC date-time",
			    i, key, e->stamp_field);
			goto fail;
		}
		r->key = strdup(key);
		r->stamp = malloc(MLC_TIME_ISO_LEN);
		r->fields = calloc(X3_MAX_RAW_FIELDS, sizeof(*r->fields));
		r->cap_fields = X3_MAX_RAW_FIELDS;
		if (r->key == NULL || r->stamp == NULL || r->fields == NULL) {
			mlc_err_set(err, "out of memory");
			goto fail;
		}
		mlc_time_format(r->stamp_s, r->stamp);
		if (x3_row_flatten(r, "", node, 0, err) != 0) {
			mlc_err_prefix(err, "node %zu (%s)", i, key);
			goto fail;
		}
	}
	pi = json_object_get(dig(json_object_get(root, "data"), e->graphql_root,
	    e->graphql_node, "query"), "pageInfo");
	hn = mlc_json_scalar_text(json_object_get(pi, "hasNextPage"));
	ec = mlc_json_scalar_text(json_object_get(pi, "endCursor"));
	if (hn == NULL) {
		mlc_err_set(err, "response has no pageInfo.hasNextPage");
		goto fail;
	}
	page->has_next = strcmp(hn, "true") == 0;
	if (page->has_next) {
		if (ec == NULL || ec[0] == '\0' || strlen(ec) > 1024) {
			mlc_err_set(err, "hasNextPage is true but endCursor is missing or too long");
			goto fail;
		}
		page->end_cursor = strdup(ec);
		if (page->end_cursor == NULL) {
			mlc_err_set(err, "out of memory");
			goto fail;
		}
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	x3_page_free(page);
	return -1;
}

static const char *
rawf(const struct x3_row *r, const char *name)
{
	for (size_t i = 0; i < r->n_fields; i++)
		if (strcmp(r->fields[i].name, name) == 0)
			return r->fields[i].value;
	return NULL;
}

static int
addf(struct x3_row *r, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	if (r->n_fields >= X3_MAX_RAW_FIELDS) {
		r->n_dropped++;
		return 0;
	}
	r->fields[r->n_fields].name = strdup(name);
	r->fields[r->n_fields].value = strdup(value);
	if (r->fields[r->n_fields].name == NULL || r->fields[r->n_fields].value == NULL) {
		free(r->fields[r->n_fields].name);
		free(r->fields[r->n_fields].value);
		return -1;
	}
	r->n_fields++;
	return 0;
}

static void
row_clear(struct x3_row *r)
{
	free(r->key);
	free(r->stamp);
	for (size_t i = 0; i < r->n_fields; i++) {
		free(r->fields[i].name);
		free(r->fields[i].value);
	}
	free(r->fields);
	memset(r, 0, sizeof(*r));
}

static int
cmp_line(const void *a, const void *b)
{
	const char *x = rawf(a, "lineNumber"), *y = rawf(b, "lineNumber");
	long lx = x ? strtol(x, NULL, 10) : 0, ly = y ? strtol(y, NULL, 10) : 0;

	return lx < ly ? -1 : lx > ly;
}

/* One entry row from lines[0..n) (all of one journalEntry), lines in
 * lineNumber order. */
static int
make_entry(struct x3_row *lines, size_t n, struct x3_row *out)
{
	char name[96];

	qsort(lines, n, sizeof(*lines), cmp_line);

	memset(out, 0, sizeof(*out));
	out->key = strdup(lines[0].key);
	out->stamp = malloc(MLC_TIME_ISO_LEN);
	out->fields = calloc(X3_MAX_RAW_FIELDS, sizeof(*out->fields));
	out->cap_fields = X3_MAX_RAW_FIELDS;
	if (out->key == NULL || out->stamp == NULL || out->fields == NULL)
		return -1;
	out->stamp_s = lines[0].stamp_s;
	for (size_t i = 1; i < n; i++)
		if (lines[i].stamp_s > out->stamp_s)
			out->stamp_s = lines[i].stamp_s;
	mlc_time_format(out->stamp_s, out->stamp);
	/* Entry-level fields from the first line; its own per-line ones too. */
	for (size_t i = 0; i < lines[0].n_fields; i++)
		if (addf(out, lines[0].fields[i].name, lines[0].fields[i].value) != 0)
			return -1;
	for (size_t l = 0; l < n; l++) {
		for (size_t k = 0; gl_line_fields[k] != NULL; k++) {
			snprintf(name, sizeof(name), "lines.%zu.%s", l, gl_line_fields[k]);
			if (addf(out, name, rawf(&lines[l], gl_line_fields[k])) != 0)
				return -1;
		}
	}
	return 0;
}

int
x3_gql_group_lines(struct x3_page *page, struct x3_page *carry, int more,
    struct mlc_err *err)
{
	size_t n = carry->n_rows + page->n_rows, start, nout = 0, last_start;
	struct x3_row *all = calloc(n + 1, sizeof(*all)), *out = calloc(n + 1, sizeof(*out));

	if (all == NULL || out == NULL) {
		free(all);
		free(out);
		return mlc_err_set(err, "out of memory");
	}
	if (carry->n_rows > 0)
		memcpy(all, carry->rows, carry->n_rows * sizeof(*all));
	if (page->n_rows > 0)
		memcpy(all + carry->n_rows, page->rows, page->n_rows * sizeof(*all));
	free(carry->rows);
	free(page->rows);
	carry->rows = NULL;
	carry->n_rows = 0;
	page->rows = NULL;
	page->n_rows = 0;
	/* the last group: it may go on in the next page */
	last_start = n;
	if (n > 0) {
		last_start = n - 1;
		while (last_start > 0 && strcmp(all[last_start - 1].key, all[n - 1].key) == 0)
			last_start--;
	}
	if (!more)
		last_start = n;
	for (start = 0; start < last_start;) {
		size_t end = start + 1;

		while (end < last_start && strcmp(all[end].key, all[start].key) == 0)
			end++;
		if (make_entry(all + start, end - start, &out[nout]) != 0) {
			row_clear(&out[nout]);
			mlc_err_set(err, "out of memory");
			goto fail;
		}
		nout++;
		for (size_t i = start; i < end; i++)
			row_clear(&all[i]);
		start = end;
	}
	if (n - last_start > MAX_CARRY_LINES) {
		mlc_err_set(err, "journal entry %s has more than %d lines", all[last_start].key,
		    MAX_CARRY_LINES);
		goto fail;
	}
	if (last_start < n) {
		carry->rows = calloc(n - last_start + 1, sizeof(*carry->rows));
		if (carry->rows == NULL) {
			mlc_err_set(err, "out of memory");
			goto fail;
		}
		memcpy(carry->rows, all + last_start, (n - last_start) * sizeof(*all));
		carry->n_rows = n - last_start;
	}
	free(all);
	page->rows = out;
	page->n_rows = nout;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		row_clear(&all[i]);
	for (size_t i = 0; i < nout; i++)
		row_clear(&out[i]);
	free(all);
	free(out);
	return -1;
}
