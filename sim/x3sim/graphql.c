/*
 * graphql.c: POST /xtrem/api, X3's GraphQL ("X3 Services", reference
 * section 2), for the three connection queries the connector runs:
 *
 *   { ROOT { NODE { query(first, after, filter, orderBy) {
 *       edges { cursor node { ... } } pageInfo { ... } totalCount } } } }
 *
 * gql.c parses; this file maps ROOT.NODE to a table, builds each node as a
 * full JSON object (decimals as strings, stamps as ISO text) and projects
 * the client's selection onto it, so only the selected fields go out and an
 * unknown field is an error naming it. The selection is checked against a
 * dummy node before any data is read, so a bad query fails the same way
 * whether or not rows match.
 *
 * Paging is keyset paging on live data, as in api1.c: a cursor is the order
 * tuple of its row, and the next page holds the rows strictly after it.
 * journalEntryLine has one node per GL line (id "<entry>|<line>"), all
 * lines of an entry sharing its stamps; serving a line marks its entry
 * served for /sim/truth.
 */
#include "x3sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_time.h"

struct gql_node {
	const char    *root_new, *root_old, *node, *type;
	enum x3_entity ent;
};

static const struct gql_node nodes[] = {
	{ "xtremX3Purchasing", "x3Purchasing", "purchaseOrder", "PurchaseOrder",
	  X3_ENT_PORDER },
	{ "xtremX3InvoicingData", "x3InvoicingData", "supplierInvoiceHeader",
	  "SupplierInvoiceHeader", X3_ENT_PINVOICE },
	{ "xtremX3Finance", "x3Finance", "journalEntryLine", "JournalEntryLine",
	  X3_ENT_GACCENTRY },
};
#define NNODES (sizeof(nodes) / sizeof(nodes[0]))

/* ---- node builders ----------------------------------------------------- */

static const struct x3_value *
fv(const struct x3_schema *s, const struct x3_record *rec, const char *name)
{
	static const struct x3_value zero;
	int i = x3_schema_find(s, name, strlen(name));

	return i >= 0 ? &rec->v[i] : &zero;
}

static const struct x3_value *
lv(const struct x3_schema *s, const struct x3_record *rec, int line, const char *name)
{
	static const struct x3_value zero;

	for (int i = 0; i < s->nline_fields; i++)
		if (strcmp(s->line_fields[i].name, name) == 0)
			return &rec->lines[line][i];
	return &zero;
}

static json_t *
j_dec(int64_t cents)
{
	char tmp[32];

	x3_dec2_format(cents, tmp);
	return json_string(tmp);
}

static json_t *
j_stamp(int64_t t)
{
	char iso[MLC_TIME_ISO_LEN];

	mlc_time_format(t, iso);
	return json_string(iso);
}

static json_t *
j_code(const char *code)
{
	return json_pack("{s:s}", "code", code);
}

static const char *
enum_of(int64_t v, const char *const *names, int n)
{
	return v >= 1 && v <= n ? names[v - 1] : "unknown";
}

static json_t *
node_porder(const struct x3_schema *s, const struct x3_record *rec)
{
	static const char *const sig[] = { "notSigned", "partlySigned", "signed",
		"notManaged", "automatic" };
	const struct x3_value *bps = fv(s, rec, "BPSNUM");

	return json_pack("{s:s, s:s, s:o, s:{s:{s:s, s:s}}, s:s, s:b, s:o, s:o, s:o, s:o, s:o}",
	    "id", fv(s, rec, "POHNUM")->str,
	    "orderDate", fv(s, rec, "ORDDAT")->str,
	    "purchaseSite", j_code(fv(s, rec, "POHFCY")->str),
	    "orderFromSupplier", "code", "code", bps->str, "description",
	    bps->ref ? bps->ref : "",
	    "signatureStatus", enum_of(fv(s, rec, "APPFLG")->num, sig, 5),
	    "isClosed", fv(s, rec, "CLEFLG")->num == 2,
	    "currency", j_code(fv(s, rec, "CUR")->str),
	    "taxExcludedTotalAmount", j_dec(fv(s, rec, "TOTORD")->num),
	    "taxIncludedTotalAmount", j_dec(fv(s, rec, "TTVORD")->num),
	    "_createStamp", j_stamp(fv(s, rec, "CREDATTIM")->num),
	    "_updateStamp", j_stamp(fv(s, rec, "UPDDATTIM")->num));
}

static json_t *
node_pinvoice(const struct x3_schema *s, const struct x3_record *rec)
{
	static const char *const typ[] = { "invoice", "creditNote" };
	static const char *const sta[] = { "notPosted", "posted" };
	static const char *const paz[] = { "notApproved", "approved" };
	const struct x3_value *bpr = fv(s, rec, "BPR");
	json_t *o;

	o = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}",
	    "id", fv(s, rec, "NUM")->str,
	    "billBySupplier", "code", bpr->str, "description", bpr->ref ? bpr->ref : "",
	    "supplierDocumentNumber", fv(s, rec, "BPRVCR")->str,
	    "invoiceType", enum_of(fv(s, rec, "INVTYP")->num, typ, 2),
	    "accountingDate", fv(s, rec, "ACCDAT")->str,
	    "status", enum_of(fv(s, rec, "STA")->num, sta, 2),
	    "paymentApproval", enum_of(fv(s, rec, "PAZ")->num, paz, 2),
	    "totalAmountIncludingTax", j_dec(fv(s, rec, "AMTATI")->num),
	    "totalAmountExcludingTax", j_dec(fv(s, rec, "AMTNOT")->num),
	    "currency", j_code(fv(s, rec, "CUR")->str),
	    "site", j_code(fv(s, rec, "FCY")->str));
	if (o != NULL) {
		json_object_set_new(o, "account", json_string(fv(s, rec, "ACC")->str));
		json_object_set_new(o, "_createStamp", j_stamp(fv(s, rec, "CREDATTIM")->num));
		json_object_set_new(o, "_updateStamp", j_stamp(fv(s, rec, "UPDDATTIM")->num));
	}
	return o;
}

static json_t *
node_glline(const struct x3_schema *s, const struct x3_record *rec, int line)
{
	static const char *const sta[] = { "temporary", "final" };
	int64_t amt = lv(s, rec, line, "AMTCUR")->num;
	int debit = lv(s, rec, line, "SNS")->num == 1;
	char id[X3_GQL_ID_MAX];
	json_t *o;

	snprintf(id, sizeof(id), "%s|%lld", fv(s, rec, "NUM")->str,
	    (long long)lv(s, rec, line, "LIN")->num);
	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "id", id,
	    "journalEntry", fv(s, rec, "NUM")->str,
	    "journalEntryType", fv(s, rec, "TYP")->str,
	    "lineNumber", (json_int_t)lv(s, rec, line, "LIN")->num,
	    "journal", fv(s, rec, "JOU")->str,
	    "accountingDate", fv(s, rec, "ACCDAT")->str,
	    "company", fv(s, rec, "CPY")->str,
	    "site", fv(s, rec, "FCY")->str,
	    "account", lv(s, rec, line, "ACC")->str,
	    "businessPartner", lv(s, rec, line, "BPR")->str,
	    "sign", debit ? "debit" : "credit");
	if (o != NULL) {
		json_object_set_new(o, "transactionAmount", j_dec(amt));
		json_object_set_new(o, "debitAmountInTransactionCurrency", j_dec(debit ? amt : 0));
		json_object_set_new(o, "creditAmountInTransactionCurrency", j_dec(debit ? 0 : amt));
		json_object_set_new(o, "currency", json_string(lv(s, rec, line, "CUR")->str));
		json_object_set_new(o, "description", json_string(lv(s, rec, line, "DES")->str));
		json_object_set_new(o, "status", json_string(enum_of(fv(s, rec, "STA")->num, sta, 2)));
		json_object_set_new(o, "_createStamp", j_stamp(fv(s, rec, "CREDATTIM")->num));
		json_object_set_new(o, "_updateStamp", j_stamp(fv(s, rec, "UPDDATTIM")->num));
	}
	return o;
}

static json_t *
build_node(enum x3_entity e, const struct x3_schema *s, const struct x3_record *rec, int line)
{
	switch (e) {
	case X3_ENT_PINVOICE:
		return node_pinvoice(s, rec);
	case X3_ENT_GACCENTRY:
		return node_glline(s, rec, line);
	default:
		return node_porder(s, rec);
	}
}

/* ---- selection projection ---------------------------------------------- */

/* Copies the fields selected under `first` from full; NULL + err on a field
 * the type does not have or a leaf/object mismatch. */
static json_t *
project(const struct x3_gql_doc *d, int first, const json_t *full, const char *type,
    struct mlc_err *err)
{
	json_t *out = json_object();

	for (int i = first; out != NULL && i >= 0; i = d->fields[i].next) {
		const struct x3_gql_field *f = &d->fields[i];
		json_t *v = json_object_get(full, f->name), *pv;

		if (v == NULL) {
			mlc_err_set(err, "Cannot query field \"%s\" on type \"%s\"", f->name, type);
			goto err;
		}
		if (f->nargs > 0) {
			mlc_err_set(err, "Field \"%s\" on type \"%s\" takes no arguments", f->name, type);
			goto err;
		}
		if (json_is_array(v) || json_is_object(v)) {
			if (f->first_child < 0) {
				mlc_err_set(err, "Field \"%s\" of type \"%s\" must have a selection of "
				    "subfields", f->name, type);
				goto err;
			}
			if (json_is_object(v)) {
				pv = project(d, f->first_child, v, f->name, err);
			} else {
				pv = json_array();
				for (size_t k = 0; pv != NULL && k < json_array_size(v); k++) {
					json_t *e = project(d, f->first_child, json_array_get(v, k),
					    f->name, err);

					if (e == NULL) {
						json_decref(pv);
						pv = NULL;
						break;
					}
					json_array_append_new(pv, e);
				}
			}
			if (pv == NULL)
				goto err;
		} else {
			if (f->first_child >= 0) {
				mlc_err_set(err, "Field \"%s\" must not have a selection since its type "
				    "on \"%s\" is a scalar", f->name, type);
				goto err;
			}
			pv = json_incref(v);
		}
		json_object_set_new(out, f->name, pv);
	}
	return out;
err:
	json_decref(out);
	return NULL;
}

static json_t *
connection(json_t *edges, const char *end, int has_next, const char *start, int has_prev,
    size_t total)
{
	return json_pack("{s:o, s:{s:s?, s:b, s:s?, s:b}, s:I}", "edges", edges,
	    "pageInfo", "endCursor", end, "hasNextPage", has_next,
	    "startCursor", start, "hasPreviousPage", has_prev,
	    "totalCount", (json_int_t)total);
}

/* ---- rows, sorting ----------------------------------------------------- */

static void
sort_rows(struct x3_gql_row **a, struct x3_gql_row **tmp, size_t n,
    const struct x3_gql_order *o)
{
	size_t mid, i, j, k;

	if (n < 2)
		return;
	mid = n / 2;
	sort_rows(a, tmp, mid, o);
	sort_rows(a + mid, tmp, n - mid, o);
	for (i = 0, j = mid, k = 0; i < mid && j < n; k++)
		tmp[k] = x3_gql_order_cmp(o, a[j], a[i]) < 0 ? a[j++] : a[i++];
	while (i < mid)
		tmp[k++] = a[i++];
	while (j < n)
		tmp[k++] = a[j++];
	memcpy(a, tmp, n * sizeof(*a));
}

static void
fill_row(struct x3_gql_row *row, const struct x3_schema *s, struct x3_record *rec, int line)
{
	row->stamp = rec->v[s->stamp].num;
	row->cstamp = rec->v[s->cstamp].num;
	row->rec = rec;
	row->line = line;
	if (s->lines_name != NULL)
		snprintf(row->id, sizeof(row->id), "%s|%lld", rec->v[s->key].str,
		    (long long)rec->lines[line][0].num);
	else
		snprintf(row->id, sizeof(row->id), "%s", rec->v[s->key].str);
}

/* ---- the handler ------------------------------------------------------- */

struct request {
	struct x3_gql_doc    *doc;
	json_t               *body;
	struct x3_gql_qargs   qa;
	struct x3_gql_filter *filter;
	struct x3_gql_order   order;
	struct x3_gql_row     after;
	int                   root, node, query;
	const struct gql_node *gn;
};

/* Reads and checks everything before the store is touched. 0 / -1 (reply set). */
static int
prepare(const struct x3_req *rq, struct request *q, struct x3_reply *r)
{
	const char *folder = x3_req_header(rq, "x-xtrem-endpoint");
	const json_t *query, *vars;
	struct mlc_err err;
	char shown[80];
	const char *rootname, *nodename;

	if (folder == NULL || folder[0] == '\0') {
		x3_reply_gql_error(r, 400, "Missing x-xtrem-endpoint header: it must name the X3 "
		    "folder (endpoint)");
		return -1;
	}
	if (strcmp(folder, rq->srv->folder) != 0) {
		x3_sanitize(folder, shown, sizeof(shown));
		x3_reply_gql_error(r, 400, "Unknown endpoint '%s' in x-xtrem-endpoint", shown);
		return -1;
	}
	q->body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, NULL);
	query = json_object_get(q->body, "query");
	vars = json_object_get(q->body, "variables");
	if (!json_is_object(q->body) || !json_is_string(query)) {
		x3_reply_gql_error(r, 400, "The body must be a JSON object with a \"query\" string");
		return -1;
	}
	if (vars != NULL && !json_is_object(vars) && !json_is_null(vars)) {
		x3_reply_gql_error(r, 400, "\"variables\" must be a JSON object");
		return -1;
	}
	if (x3_gql_parse(json_string_value(query), json_string_length(query), &q->doc, &err) != 0 ||
	    x3_gql_connection(q->doc, &q->root, &q->node, &q->query, &err) != 0) {
		x3_reply_gql_error(r, 400, "%s", err.msg);
		return -1;
	}
	rootname = q->doc->fields[q->root].name;
	nodename = q->doc->fields[q->node].name;
	for (size_t i = 0; i < NNODES; i++) {
		const char *want = rq->srv->graphql_old_roots ? nodes[i].root_old : nodes[i].root_new;

		if (strcmp(rootname, want) == 0 && strcmp(nodename, nodes[i].node) == 0)
			q->gn = &nodes[i];
	}
	if (q->gn == NULL) {
		int root_known = 0;

		for (size_t i = 0; i < NNODES; i++)
			root_known |= strcmp(rootname, rq->srv->graphql_old_roots ?
			    nodes[i].root_old : nodes[i].root_new) == 0;
		if (!root_known)
			x3_reply_gql_error(r, 400, "Cannot query field \"%s\" on type \"Query\" "
			    "(this server's roots are %s)", rootname, rq->srv->graphql_old_roots ?
			    "x3Purchasing, x3InvoicingData, x3Finance" :
			    "xtremX3Purchasing, xtremX3InvoicingData, xtremX3Finance");
		else
			x3_reply_gql_error(r, 400, "Cannot query field \"%s\" on type \"%s\"",
			    nodename, rootname);
		return -1;
	}
	if (x3_gql_qargs_resolve(q->doc, q->query, json_is_object(vars) ? vars : NULL, &q->qa,
	    &err) != 0 ||
	    x3_gql_filter_parse(q->qa.filter ? q->qa.filter : "", &q->filter, &err) != 0 ||
	    x3_gql_order_parse(q->qa.orderBy ? q->qa.orderBy : "", &q->order, &err) != 0 ||
	    (q->qa.after != NULL &&
	    x3_gql_cursor_decode(q->qa.after, &q->order, &q->after, &err) != 0)) {
		x3_reply_gql_error(r, 400, "%s", err.msg);
		return -1;
	}
	return 0;
}

/* Validates the selection on a dummy connection of one zeroed node. */
static int
check_selection(const struct request *q, const struct x3_schema *s, struct x3_reply *r)
{
	struct x3_record *dummy = calloc(1, sizeof(*dummy));
	json_t *edges, *conn, *p = NULL;
	struct mlc_err err;

	if (dummy == NULL) {
		x3_reply_gql_error(r, 500, "out of memory");
		return -1;
	}
	edges = json_pack("[{s:s, s:o}]", "cursor", "", "node",
	    build_node(q->gn->ent, s, dummy, 0));
	conn = connection(edges, "", 0, "", 0, 0);
	free(dummy);
	if (conn != NULL)
		p = project(q->doc, q->doc->fields[q->query].first_child, conn,
		    "Connection", &err);
	json_decref(conn);
	if (p == NULL) {
		x3_reply_gql_error(r, 400, "%s", conn ? err.msg : "out of memory");
		return -1;
	}
	json_decref(p);
	return 0;
}

void
x3_graphql_handle(const struct x3_req *rq, struct x3_reply *r)
{
	struct x3_server *srv = rq->srv;
	struct request q;
	const struct x3_schema *s;
	struct x3_table *t;
	struct x3_gql_row *rows = NULL, **cand = NULL, **tmp = NULL;
	size_t nrows = 0, ncand = 0, total = 0, npage, cap;
	json_t *edges = NULL, *conn = NULL, *data = NULL, *out = NULL;
	char first_cur[1100], last_cur[1100];
	struct mlc_err err;
	int locked = 0;

	memset(&q, 0, sizeof(q));
	if (prepare(rq, &q, r) != 0)
		goto out;
	t = &srv->store->tables[q.gn->ent];
	s = t->schema;
	if (check_selection(&q, s, r) != 0)
		goto out;

	x3_store_lock(srv->store);
	locked = 1;
	cap = t->nrecs * (s->lines_name ? X3_MAX_LINES : 1);
	if (cap > 0) {
		rows = calloc(cap, sizeof(*rows));
		cand = calloc(cap, sizeof(*cand));
		tmp = calloc(cap, sizeof(*tmp));
		if (rows == NULL || cand == NULL || tmp == NULL) {
			x3_reply_gql_error(r, 500, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < t->nrecs; i++) {
		struct x3_record *rec = &t->recs[i];
		int nl = s->lines_name ? rec->nlines : 1;

		for (int l = 0; l < nl && l < X3_MAX_LINES; l++) {
			struct x3_gql_row *row = &rows[nrows++];

			fill_row(row, s, rec, l);
			if (!x3_gql_filter_match(q.filter, row))
				continue;
			total++;
			if (q.qa.after != NULL && x3_gql_order_cmp(&q.order, row, &q.after) <= 0)
				continue;
			cand[ncand++] = row;
		}
	}
	sort_rows(cand, tmp, ncand, &q.order);
	npage = ncand < (size_t)q.qa.first ? ncand : (size_t)q.qa.first;

	edges = json_array();
	first_cur[0] = last_cur[0] = '\0';
	for (size_t i = 0; edges != NULL && i < npage; i++) {
		struct x3_record *rec = cand[i]->rec;
		char cur[1100];

		if (x3_gql_cursor_encode(&q.order, cand[i], cur, sizeof(cur)) != 0) {
			x3_reply_gql_error(r, 500, "cannot encode a cursor");
			goto out;
		}
		json_array_append_new(edges, json_pack("{s:s, s:o}", "cursor", cur, "node",
		    build_node(q.gn->ent, s, rec, cand[i]->line)));
		x3_table_mark_served(t, rec);
		if (i == 0)
			memcpy(first_cur, cur, sizeof(cur));
		memcpy(last_cur, cur, sizeof(cur));
	}
	conn = connection(edges, npage ? last_cur : NULL, ncand > npage,
	    npage ? first_cur : NULL, q.qa.after != NULL, total);
	edges = NULL;
	if (ncand > npage)
		x3_gen_modify_locked(srv->gen, q.gn->ent, x3_fault_paging_changes(srv->faults));
	x3_store_unlock(srv->store);
	locked = 0;

	data = conn ? project(q.doc, q.doc->fields[q.query].first_child, conn, "Connection",
	    &err) : NULL;
	if (data == NULL) {
		x3_reply_gql_error(r, 500, "%s", conn ? err.msg : "out of memory");
		goto out;
	}
	out = json_pack("{s:{s:{s:{s:o}}}}", "data", q.doc->fields[q.root].name,
	    q.doc->fields[q.node].name, "query", data);
	if (out != NULL && x3_fault_take_partial(srv->faults)) {
		/* What X3 does when the user lacks rights on a child node: the
		 * data that could be read, plus an error for what could not. */
		json_object_set_new(out, "errors", json_pack("[{s:s, s:[s, s, s]}]",
		    "message", "Access denied: you do not have the rights to read some "
		    "properties of these records (partial result)",
		    "path", q.doc->fields[q.root].name, q.doc->fields[q.node].name, "query"));
	}
	x3_reply_json(r, 200, out);
out:
	if (locked)
		x3_store_unlock(srv->store);
	json_decref(edges);
	json_decref(conn);
	free(rows);
	free(cand);
	free(tmp);
	x3_gql_filter_free(&q.filter);
	x3_gql_qargs_free(&q.qa);
	x3_gql_free(&q.doc);
	json_decref(q.body);
}
