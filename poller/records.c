/* records: see records.h. The field tables follow docs/records.md. */
#include "records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct cmap {
	const char *canon;
	const char *api1;   /* NULL: not read over api1 */
	const char *gql;    /* NULL: not read over GraphQL */
	int matters;        /* part of the fingerprint */
};

/* "number" and the coded fields (approval, closed, GL status, lines) are
 * handled in code; these are the plain copies. */
static const struct cmap po_map[] = {
	{ "site", "POHFCY", "purchaseSite.code", 0 },
	{ "supplier_code", "BPSNUM", "orderFromSupplier.code.code", 1 },
	{ "supplier_name", "BPSNUM_REF", "orderFromSupplier.code.description", 0 },
	{ "order_date", "ORDDAT", "orderDate", 0 },
	{ "currency", "CUR", "currency.code", 1 },
	{ "amount_excl_tax", "TOTORD", "taxExcludedTotalAmount", 1 },
	{ "amount_incl_tax", "TTVORD", "taxIncludedTotalAmount", 1 },
	{ "reference", "ORDREF", NULL, 0 },
	{ "updated_by", "UPDUSR", NULL, 0 },
	{ NULL, NULL, NULL, 0 },
};

static const struct cmap pinv_map[] = {
	{ "supplier_code", "BPR", "billBySupplier.code", 1 },
	{ "supplier_name", "BPR_REF", "billBySupplier.description", 0 },
	{ "supplier_doc", "BPRVCR", "supplierDocumentNumber", 1 },
	{ "invoice_type", "PIHTYP", "invoiceType", 0 },
	{ "accounting_date", "ACCDAT", "accountingDate", 0 },
	{ "currency", "CUR", "currency.code", 1 },
	{ "amount_excl_tax", "AMTNOT", "totalAmountExcludingTax", 1 },
	{ "amount_incl_tax", "AMTATI", "totalAmountIncludingTax", 1 },
	{ "status", "STA", "status", 1 },
	{ "payment_approval", "PAZ", "paymentApproval", 1 },
	{ "site", "FCY", "site.code", 0 },
	{ "updated_by", "UPDUSR", NULL, 0 },
	{ NULL, NULL, NULL, 0 },
};

static const struct cmap gl_map[] = {
	{ "entry_type", "TYP", "journalEntryType", 0 },
	{ "journal", "JOU", "journal", 0 },
	{ "accounting_date", "ACCDAT", "accountingDate", 0 },
	{ "company", "CPY", "company", 0 },
	{ "site", "FCY", "site", 0 },
	{ "currency", "CUR", "currency", 1 },
	{ "description", "DESVCR", "description", 0 },
	{ "updated_by", "UPDUSR", NULL, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* GL line fields: canonical suffix, api1 field of GACCENTRYD, GraphQL field
 * of journalEntryLine. side and amount are coded. */
static const struct cmap gl_line_map[] = {
	{ "account", "ACC", "account", 1 },
	{ "currency", "CUR", "currency", 1 },
	{ "partner", "BPR", "businessPartner", 0 },
	{ "description", "DES", "description", 0 },
	{ NULL, NULL, NULL, 0 },
};

enum x3_kind
x3_kind_of(const struct mlc_cfg_entity *e)
{
	if (strcmp(e->kind, "supplier_invoice") == 0)
		return X3_KIND_PINV;
	if (strcmp(e->kind, "gl_entry") == 0)
		return X3_KIND_GL;
	return X3_KIND_PO;
}

static const char *
raw(const struct x3_row *row, const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < row->n_fields; i++)
		if (strcmp(row->fields[i].name, name) == 0)
			return row->fields[i].value;
	return NULL;
}

/* A GraphQL reference may come as a scalar or as an object {code}. */
static const char *
raw_gql(const struct x3_row *row, const char *path)
{
	const char *v = raw(row, path);
	char alt[160];

	if (v == NULL && path != NULL) {
		snprintf(alt, sizeof(alt), "%s.code", path);
		v = raw(row, alt);
	}
	return v;
}

struct builder {
	struct x3_canon *c;
	EVP_MD_CTX *md;
	int oom;
	int hash_only;
};

/* Adds a canonical field; matters: hashed into the fingerprint; with
 * b->hash_only set the field is hashed but not carried (GL lines past
 * X3_MAX_GL_LINES still make the fingerprint). */
static void
put(struct builder *b, const char *name, const char *value, int matters)
{
	struct x3_canon *c = b->c;

	if (value == NULL)
		return;
	if (matters) {
		/* name=value\n: names keep "" and absent apart from each other. */
		EVP_DigestUpdate(b->md, name, strlen(name));
		EVP_DigestUpdate(b->md, "=", 1);
		EVP_DigestUpdate(b->md, value, strlen(value));
		EVP_DigestUpdate(b->md, "\n", 1);
	}
	if (c->n_fields >= MLC_PROTO_MAX_FIELDS || b->hash_only)
		return;
	c->fields[c->n_fields].name = strdup(name);
	c->fields[c->n_fields].value = strdup(value);
	if (c->fields[c->n_fields].name == NULL || c->fields[c->n_fields].value == NULL) {
		free(c->fields[c->n_fields].name);
		free(c->fields[c->n_fields].value);
		b->oom = 1;
		return;
	}
	c->n_fields++;
}

static void
put_map(struct builder *b, const struct cmap *m, const struct x3_row *row, int gql)
{
	for (; m->canon != NULL; m++)
		put(b, m->canon, gql ? raw_gql(row, m->gql) : raw(row, m->api1), m->matters);
}

static const char *
po_approval_text(const char *code)
{
	static const char *const t[] = { NULL, "Not approved", "Partly approved",
		"Approved", "Approval not managed", "Approved automatically" };

	if (code != NULL && code[0] >= '1' && code[0] <= '5' && code[1] == '\0')
		return t[code[0] - '0'];
	return NULL;
}

/* signatureStatus enum -> the APPFLG codes. */
static const char *
gql_approval(const char *s)
{
	static const char *const names[][2] = {
		{ "notSigned", "1" }, { "partlySigned", "2" }, { "signed", "3" },
		{ "notManaged", "4" }, { "automatic", "5" },
	};

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i][0]) == 0)
			return names[i][1];
	return s; /* an unknown value is carried as is */
}

static const char *
gql_bool12(const char *s)
{
	if (s == NULL)
		return NULL;
	if (strcmp(s, "true") == 0)
		return "2";
	if (strcmp(s, "false") == 0)
		return "1";
	return s;
}

/* GL status: 1 temporary, 2 final; GraphQL may give the words. */
static const char *
gl_status(const char *s)
{
	if (s == NULL)
		return NULL;
	if (strcmp(s, "temporary") == 0)
		return "1";
	if (strcmp(s, "final") == 0 || strcmp(s, "definitive") == 0)
		return "2";
	return s;
}

static const char *
gl_side(const char *s)
{
	if (s == NULL)
		return NULL;
	if (strcmp(s, "1") == 0 || strcmp(s, "debit") == 0)
		return "debit";
	if (strcmp(s, "-1") == 0 || strcmp(s, "credit") == 0)
		return "credit";
	return s;
}

static void
gl_lines(struct builder *b, const struct x3_row *row, int gql)
{
	size_t n = 0;
	char name[96], canon[64], cnt[24];

	for (;; n++) {
		const char *side, *amount;

		snprintf(name, sizeof(name), gql ? "lines.%zu.account" : "GACCENTRYD.%zu.ACC", n);
		if (raw(row, name) == NULL) {
			/* a line without an account still counts if it has a side */
			snprintf(name, sizeof(name), gql ? "lines.%zu.sign" : "GACCENTRYD.%zu.SNS", n);
			if (raw(row, name) == NULL)
				break;
		}
		b->hash_only = n >= X3_MAX_GL_LINES;
		for (const struct cmap *m = gl_line_map; m->canon != NULL; m++) {
			snprintf(name, sizeof(name), gql ? "lines.%zu.%s" : "GACCENTRYD.%zu.%s", n,
			    gql ? m->gql : m->api1);
			snprintf(canon, sizeof(canon), "line.%zu.%s", n, m->canon);
			put(b, canon, gql ? raw_gql(row, name) : raw(row, name), m->matters);
		}
		snprintf(name, sizeof(name), gql ? "lines.%zu.sign" : "GACCENTRYD.%zu.SNS", n);
		side = gl_side(raw(row, name));
		snprintf(canon, sizeof(canon), "line.%zu.side", n);
		put(b, canon, side, 1);
		snprintf(name, sizeof(name), gql ? "lines.%zu.transactionAmount" :
		    "GACCENTRYD.%zu.AMTCUR", n);
		amount = raw(row, name);
		if (amount != NULL && amount[0] == '-')
			amount++; /* amounts are positive; the side says which way */
		snprintf(canon, sizeof(canon), "line.%zu.amount", n);
		put(b, canon, amount, 1);
	}
	b->hash_only = 0;
	snprintf(cnt, sizeof(cnt), "%zu", n);
	put(b, "lines", cnt, 1);
}

/* Invoice accounts: ACC, or ACC.0, ACC.1 ... joined with ", ". */
static void
pinv_accounts(struct builder *b, const struct x3_row *row)
{
	char buf[1024], name[32];
	size_t used = 0;
	const char *v = raw(row, "ACC");

	if (v != NULL) {
		put(b, "gl_accounts", v, 0);
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "ACC.%zu", i);
		v = raw(row, name);
		if (v == NULL)
			break;
		if (used + strlen(v) + 3 >= sizeof(buf))
			break;
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? ", " : "", v);
	}
	if (used > 0)
		put(b, "gl_accounts", buf, 0);
}

int
x3_canon_number(const struct mlc_cfg_entity *e, const struct x3_row *row, char *out,
    size_t outsz, struct mlc_err *err)
{
	int gql = strcmp(e->api, "graphql") == 0;
	const char *num = gql ? raw(row, e->graphql_key) : raw(row, e->key_field), *v;

	if (num == NULL || num[0] == '\0')
		return mlc_err_set(err, "%s has no document number (field %s)", row->key,
		    gql ? e->graphql_key : e->key_field);
	if (x3_kind_of(e) == X3_KIND_GL && !gql && (v = raw(row, "TYP")) != NULL &&
	    v[0] != '\0')
		snprintf(out, outsz, "%s-%s", v, num);
	else
		snprintf(out, outsz, "%s", num);
	return 0;
}

int
x3_canon_map(const struct mlc_cfg_entity *e, const struct x3_row *row,
    struct x3_canon *out, struct mlc_err *err)
{
	enum x3_kind kind = x3_kind_of(e);
	int gql = strcmp(e->api, "graphql") == 0;
	struct builder b = { out, NULL, 0, 0 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *v;

	memset(out, 0, sizeof(*out));
	out->fields = calloc(MLC_PROTO_MAX_FIELDS, sizeof(*out->fields));
	b.md = EVP_MD_CTX_new();
	if (out->fields == NULL || b.md == NULL ||
	    EVP_DigestInit_ex(b.md, EVP_sha256(), NULL) != 1) {
		mlc_err_set(err, "out of memory");
		goto fail;
	}
	if (x3_canon_number(e, row, out->number, sizeof(out->number), err) != 0)
		goto fail;
	put(&b, "number", out->number, 1);

	switch (kind) {
	case X3_KIND_PO: {
		const char *appr = gql ? gql_approval(raw(row, "signatureStatus")) :
		    raw(row, "APPFLG");
		const char *closed = gql ? gql_bool12(raw(row, "isClosed")) : raw(row, "CLEFLG");

		put_map(&b, po_map, row, gql);
		if (gql && raw(row, "orderFromSupplier.code.description") == NULL)
			put(&b, "supplier_name", raw(row, "orderFromSupplier.companyName"), 0);
		put(&b, "approval", appr, 1);
		put(&b, "status_text", po_approval_text(appr), 0);
		put(&b, "closed", closed, 1);
		snprintf(out->st.a, sizeof(out->st.a), "%s", appr ? appr : "");
		break;
	}
	case X3_KIND_PINV:
		put_map(&b, pinv_map, row, gql);
		if (!gql && raw(row, "PIHTYP") == NULL)
			put(&b, "invoice_type", raw(row, "INVTYP"), 0);
		if (!gql)
			pinv_accounts(&b, row);
		v = gql ? raw(row, "status") : raw(row, "STA");
		snprintf(out->st.a, sizeof(out->st.a), "%s", v ? v : "");
		v = gql ? raw(row, "paymentApproval") : raw(row, "PAZ");
		snprintf(out->st.b, sizeof(out->st.b), "%s", v ? v : "");
		break;
	case X3_KIND_GL: {
		const char *st = gl_status(gql ? raw(row, "status") : raw(row, "STA"));

		put_map(&b, gl_map, row, gql);
		if (gql && raw(row, "currency") == NULL)
			put(&b, "currency", raw(row, "lines.0.currency"), 1);
		put(&b, "status", st, 1);
		put(&b, "status_text", st == NULL ? NULL : strcmp(st, "1") == 0 ? "Temporary" :
		    strcmp(st, "2") == 0 ? "Final" : NULL, 0);
		gl_lines(&b, row, gql);
		snprintf(out->st.a, sizeof(out->st.a), "%s", st ? st : "");
		break;
	}
	}
	for (size_t i = 0; i < e->n_fields; i++)
		put(&b, e->fields[i].name, raw(row, e->fields[i].from), 0);
	if (b.oom) {
		mlc_err_set(err, "out of memory");
		goto fail;
	}
	if (EVP_DigestFinal_ex(b.md, md, &mdlen) != 1 || mdlen < 16) {
		mlc_err_set(err, "fingerprint: SHA-256 failed");
		goto fail;
	}
	for (unsigned i = 0; i < 16; i++)
		snprintf(out->st.fp + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(b.md);
	return 0;
fail:
	EVP_MD_CTX_free(b.md);
	x3_canon_free(out);
	return -1;
}

void
x3_canon_free(struct x3_canon *c)
{
	for (size_t i = 0; c->fields != NULL && i < c->n_fields; i++) {
		free(c->fields[i].name);
		free(c->fields[i].value);
	}
	free(c->fields);
	c->fields = NULL;
	c->n_fields = 0;
}

static int
po_approved(const char *a)
{
	return strcmp(a, "3") == 0 || strcmp(a, "5") == 0;
}

const char *
x3_event_decide(enum x3_kind kind, const struct x3_fpstate *prev,
    const struct x3_fpstate *cur)
{
	switch (kind) {
	case X3_KIND_PO:
		if (prev == NULL)
			return po_approved(cur->a) ? "approved" : "created";
		if (strcmp(prev->fp, cur->fp) == 0)
			return NULL;
		if (po_approved(cur->a) && !po_approved(prev->a))
			return "approved";
		if (po_approved(prev->a))
			return "modified";
		return NULL;
	case X3_KIND_PINV:
		if (prev == NULL)
			return "received";
		if (strcmp(prev->fp, cur->fp) == 0)
			return NULL;
		if (strcmp(prev->a, cur->a) != 0 || strcmp(prev->b, cur->b) != 0)
			return "status_changed";
		return NULL;
	case X3_KIND_GL:
		if (prev == NULL)
			return "posted";
		if (strcmp(prev->fp, cur->fp) == 0 || strcmp(prev->a, cur->a) == 0)
			return NULL;
		return strcmp(cur->a, "2") == 0 ? "posted" : "status_changed";
	}
	return NULL;
}

int
x3_event_notified(const struct mlc_cfg_entity *e, const char *event)
{
	for (size_t i = 0; i < e->n_notify; i++)
		if (strcmp(e->notify[i], event) == 0)
			return 1;
	return 0;
}

size_t
x3_fpstate_format(const struct x3_fpstate *s, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s\t%s\t%s", s->fp, s->a, s->b);

	return n < 0 ? 0 : (size_t)n < outsz ? (size_t)n : outsz - 1;
}

int
x3_fpstate_parse(const void *v, size_t len, struct x3_fpstate *s)
{
	char buf[sizeof(s->fp) + sizeof(s->a) + sizeof(s->b) + 4];
	char *t1, *t2;

	memset(s, 0, sizeof(*s));
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	t1 = strchr(buf, '\t');
	if (t1 == NULL)
		return -1;
	*t1++ = '\0';
	t2 = strchr(t1, '\t');
	if (t2 == NULL)
		return -1;
	*t2++ = '\0';
	if (strlen(buf) >= sizeof(s->fp) || strlen(t1) >= sizeof(s->a) ||
	    strlen(t2) >= sizeof(s->b))
		return -1;
	strcpy(s->fp, buf);
	strcpy(s->a, t1);
	strcpy(s->b, t2);
	return 0;
}
