/* Unit tests for poller/records: canonical fields from api1 and GraphQL
 * rows, fingerprints (a save with no change that matters is no record),
 * and the events of docs/records.md. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

static struct mlc_cfg_entity
entity(const char *kind, const char *api)
{
	struct mlc_cfg_entity e;

	memset(&e, 0, sizeof(e));
	strcpy(e.name, kind);
	strcpy(e.kind, kind);
	strcpy(e.api, api);
	if (strcmp(kind, "purchase_order") == 0) {
		strcpy(e.key_field, "POHNUM");
		strcpy(e.notify[0], "approved");
		strcpy(e.notify[1], "modified");
		e.n_notify = 2;
	} else {
		strcpy(e.key_field, "NUM");
	}
	strcpy(e.graphql_key, strcmp(kind, "gl_entry") == 0 ? "journalEntry" : "id");
	strcpy(e.stamp_field, strcmp(api, "graphql") == 0 ? "_updateStamp" : "UPDDATTIM");
	return e;
}

/* A row from "NAME=value" pairs. */
static struct x3_row
row(const char *key, ...)
{
	struct x3_row r;
	va_list ap;
	const char *kv;

	memset(&r, 0, sizeof(r));
	r.key = strdup(key);
	r.stamp = strdup("2024-05-01T10:00:00Z");
	r.fields = calloc(X3_MAX_RAW_FIELDS, sizeof(*r.fields));
	va_start(ap, key);
	while ((kv = va_arg(ap, const char *)) != NULL) {
		const char *eq = strchr(kv, '=');

		r.fields[r.n_fields].name = strndup(kv, (size_t)(eq - kv));
		r.fields[r.n_fields].value = strdup(eq + 1);
		r.n_fields++;
	}
	va_end(ap);
	return r;
}

static void
row_free(struct x3_row *r)
{
	for (size_t i = 0; i < r->n_fields; i++) {
		free(r->fields[i].name);
		free(r->fields[i].value);
	}
	free(r->fields);
	free(r->key);
	free(r->stamp);
}

static const char *
field(const struct x3_canon *c, const char *name)
{
	for (size_t i = 0; i < c->n_fields; i++)
		if (strcmp(c->fields[i].name, name) == 0)
			return c->fields[i].value;
	return NULL;
}

static void
map(const struct mlc_cfg_entity *e, struct x3_row *r, struct x3_canon *c)
{
	struct mlc_err err;

	assert_int_equal(x3_canon_map(e, r, c, &err), 0);
}

static void
test_api1_po_maps_to_canonical_names(void **state)
{
	struct mlc_cfg_entity e = entity("purchase_order", "api1");
	struct x3_row r = row("PO1", "POHNUM=PO1", "POHFCY=FR011", "BPSNUM=FR053",
	    "BPSNUM_REF=Acme", "CUR=EUR", "TOTORD=1000.50", "TTVORD=1200.60", "APPFLG=3",
	    "CLEFLG=1", "ORDDAT=2024-05-01", "UPDUSR=JDOE", "UNMAPPED=x", NULL);
	struct x3_canon c;

	(void)state;
	map(&e, &r, &c);
	assert_string_equal(c.number, "PO1");
	assert_string_equal(field(&c, "number"), "PO1");
	assert_string_equal(field(&c, "site"), "FR011");
	assert_string_equal(field(&c, "supplier_code"), "FR053");
	assert_string_equal(field(&c, "supplier_name"), "Acme");
	assert_string_equal(field(&c, "amount_excl_tax"), "1000.50");
	assert_string_equal(field(&c, "amount_incl_tax"), "1200.60");
	assert_string_equal(field(&c, "approval"), "3");
	assert_string_equal(field(&c, "closed"), "1");
	assert_string_equal(field(&c, "order_date"), "2024-05-01");
	assert_string_equal(field(&c, "updated_by"), "JDOE");
	assert_null(field(&c, "UNMAPPED"));
	assert_null(field(&c, "POHNUM"));
	assert_string_equal(c.st.a, "3");
	x3_canon_free(&c);
	row_free(&r);
}

static void
test_graphql_po_maps_signature_status_and_closed_to_codes(void **state)
{
	struct mlc_cfg_entity e = entity("purchase_order", "graphql");
	struct x3_row r = row("PO1", "id=PO1", "purchaseSite.code=FR011",
	    "orderFromSupplier.code.code=FR053", "orderFromSupplier.code.description=Acme",
	    "currency.code=EUR", "taxExcludedTotalAmount=800", "taxIncludedTotalAmount=960",
	    "signatureStatus=automatic", "isClosed=false", NULL);
	struct x3_canon c;

	(void)state;
	map(&e, &r, &c);
	assert_string_equal(field(&c, "number"), "PO1");
	assert_string_equal(field(&c, "supplier_code"), "FR053");
	assert_string_equal(field(&c, "supplier_name"), "Acme");
	assert_string_equal(field(&c, "currency"), "EUR");
	assert_string_equal(field(&c, "amount_excl_tax"), "800");
	assert_string_equal(field(&c, "approval"), "5");
	assert_string_equal(field(&c, "closed"), "1");
	x3_canon_free(&c);
	row_free(&r);
}

static void
test_api1_gl_entry_flattens_lines_with_sides_and_positive_amounts(void **state)
{
	struct mlc_cfg_entity e = entity("gl_entry", "api1");
	struct x3_row r = row("000123", "NUM=000123", "TYP=SPINV", "JOU=PUR", "CPY=FR1",
	    "FCY=FR011", "CUR=EUR", "STA=2", "DESVCR=Invoice",
	    "GACCENTRYD.0.ACC=401000", "GACCENTRYD.0.SNS=-1", "GACCENTRYD.0.AMTCUR=120.00",
	    "GACCENTRYD.0.BPR=FR053", "GACCENTRYD.1.ACC=607000", "GACCENTRYD.1.SNS=1",
	    "GACCENTRYD.1.AMTCUR=-100.00", "GACCENTRYD.2.ACC=445660", "GACCENTRYD.2.SNS=1",
	    "GACCENTRYD.2.AMTCUR=20.00", NULL);
	struct x3_canon c;

	(void)state;
	map(&e, &r, &c);
	assert_string_equal(c.number, "SPINV-000123");
	assert_string_equal(field(&c, "entry_type"), "SPINV");
	assert_string_equal(field(&c, "journal"), "PUR");
	assert_string_equal(field(&c, "status"), "2");
	assert_string_equal(field(&c, "status_text"), "Final");
	assert_string_equal(field(&c, "lines"), "3");
	assert_string_equal(field(&c, "line.0.account"), "401000");
	assert_string_equal(field(&c, "line.0.side"), "credit");
	assert_string_equal(field(&c, "line.0.partner"), "FR053");
	assert_string_equal(field(&c, "line.1.side"), "debit");
	assert_string_equal(field(&c, "line.1.amount"), "100.00");
	assert_string_equal(field(&c, "line.2.amount"), "20.00");
	assert_null(field(&c, "line.3.account"));
	x3_canon_free(&c);
	row_free(&r);
}

static void
test_gl_entry_with_many_lines_carries_40_and_counts_all(void **state)
{
	struct mlc_cfg_entity e = entity("gl_entry", "api1");
	struct x3_row r = row("9", "NUM=9", "TYP=X", NULL);
	struct x3_canon c, c2;
	char n[64], v[32];

	(void)state;
	for (int i = 0; i < 60; i++) {
		snprintf(n, sizeof(n), "GACCENTRYD.%d.ACC", i);
		snprintf(v, sizeof(v), "6%05d", i);
		r.fields[r.n_fields].name = strdup(n);
		r.fields[r.n_fields++].value = strdup(v);
	}
	map(&e, &r, &c);
	assert_string_equal(field(&c, "lines"), "60");
	assert_non_null(field(&c, "line.39.account"));
	assert_null(field(&c, "line.40.account"));
	assert_true(c.n_fields <= MLC_PROTO_MAX_FIELDS);
	/* a change on line 55 (not carried) still changes the fingerprint */
	free(r.fields[r.n_fields - 5].value);
	r.fields[r.n_fields - 5].value = strdup("999999");
	map(&e, &r, &c2);
	assert_string_not_equal(c.st.fp, c2.st.fp);
	x3_canon_free(&c);
	x3_canon_free(&c2);
	row_free(&r);
}

static void
test_graphql_invoice_and_extra_fields(void **state)
{
	struct mlc_cfg_entity e = entity("supplier_invoice", "graphql");
	struct x3_row r = row("INV1", "id=INV1", "billBySupplier.code=FR053",
	    "billBySupplier.description=Acme", "supplierDocumentNumber=F-77",
	    "totalAmountExcludingTax=100", "totalAmountIncludingTax=120", "currency.code=EUR",
	    "status=2", "paymentApproval=4", "accountingDate=2024-05-01", "buyer.code=JD", NULL);
	struct x3_canon c;

	(void)state;
	strcpy(e.fields[0].name, "x_buyer");
	strcpy(e.fields[0].from, "buyer.code");
	e.n_fields = 1;
	map(&e, &r, &c);
	assert_string_equal(field(&c, "supplier_doc"), "F-77");
	assert_string_equal(field(&c, "amount_incl_tax"), "120");
	assert_string_equal(field(&c, "payment_approval"), "4");
	assert_string_equal(field(&c, "accounting_date"), "2024-05-01");
	assert_string_equal(field(&c, "x_buyer"), "JD");
	assert_string_equal(c.st.a, "2");
	assert_string_equal(c.st.b, "4");
	x3_canon_free(&c);
	row_free(&r);
}

static void
test_missing_document_number_names_the_field(void **state)
{
	struct mlc_cfg_entity e = entity("purchase_order", "api1");
	struct x3_row r = row("PO1", "POHFCY=FR011", NULL);
	struct x3_canon c;
	struct mlc_err err;

	(void)state;
	assert_int_equal(x3_canon_map(&e, &r, &c, &err), -1);
	assert_non_null(strstr(err.msg, "POHNUM"));
	row_free(&r);
}

/* fingerprint of a PO with the given approval, amount and reference */
static struct x3_fpstate
po_state(const char *appflg, const char *amount, const char *ref, const char *user)
{
	struct mlc_cfg_entity e = entity("purchase_order", "api1");
	char a[32], t[32], rf[64], u[32];
	struct x3_row r;
	struct x3_canon c;
	struct x3_fpstate s;

	snprintf(a, sizeof(a), "APPFLG=%s", appflg);
	snprintf(t, sizeof(t), "TOTORD=%s", amount);
	snprintf(rf, sizeof(rf), "ORDREF=%s", ref);
	snprintf(u, sizeof(u), "UPDUSR=%s", user);
	r = row("PO1", "POHNUM=PO1", "BPSNUM=FR053", a, t, rf, u, NULL);
	map(&e, &r, &c);
	s = c.st;
	x3_canon_free(&c);
	row_free(&r);
	return s;
}

static void
test_saving_again_without_a_change_that_matters_is_no_record(void **state)
{
	struct x3_fpstate s1 = po_state("3", "100.00", "ref A", "JDOE");
	/* reference and user are not fields that matter */
	struct x3_fpstate s2 = po_state("3", "100.00", "ref B", "MSMITH");

	(void)state;
	assert_string_equal(s1.fp, s2.fp);
	assert_null(x3_event_decide(X3_KIND_PO, &s1, &s2));
}

static void
test_po_events(void **state)
{
	struct x3_fpstate draft = po_state("1", "100.00", "", "");
	struct x3_fpstate draft2 = po_state("1", "150.00", "", "");
	struct x3_fpstate appr = po_state("3", "150.00", "", "");
	struct x3_fpstate auto5 = po_state("5", "150.00", "", "");
	struct x3_fpstate appr_more = po_state("3", "175.00", "", "");

	(void)state;
	assert_string_equal(x3_event_decide(X3_KIND_PO, NULL, &draft), "created");
	assert_string_equal(x3_event_decide(X3_KIND_PO, NULL, &appr), "approved");
	assert_string_equal(x3_event_decide(X3_KIND_PO, NULL, &auto5), "approved");
	/* a not-approved PO changing amount: nothing to say */
	assert_null(x3_event_decide(X3_KIND_PO, &draft, &draft2));
	assert_string_equal(x3_event_decide(X3_KIND_PO, &draft2, &appr), "approved");
	assert_string_equal(x3_event_decide(X3_KIND_PO, &appr, &appr_more), "modified");
	assert_null(x3_event_decide(X3_KIND_PO, &appr, &appr));
}

static void
test_invoice_and_gl_events(void **state)
{
	struct x3_fpstate a = { "aaaa", "1", "1" }, b = { "bbbb", "1", "2" },
	    c = { "cccc", "2", "2" }, amt = { "dddd", "2", "2" };
	struct x3_fpstate g1 = { "1111", "1", "" }, g1b = { "2222", "1", "" },
	    g2 = { "3333", "2", "" }, g3 = { "4444", "3", "" };

	(void)state;
	assert_string_equal(x3_event_decide(X3_KIND_PINV, NULL, &a), "received");
	assert_string_equal(x3_event_decide(X3_KIND_PINV, &a, &b), "status_changed");
	assert_string_equal(x3_event_decide(X3_KIND_PINV, &b, &c), "status_changed");
	assert_null(x3_event_decide(X3_KIND_PINV, &c, &amt)); /* amount only */
	assert_string_equal(x3_event_decide(X3_KIND_GL, NULL, &g1), "posted");
	assert_null(x3_event_decide(X3_KIND_GL, &g1, &g1b));
	assert_string_equal(x3_event_decide(X3_KIND_GL, &g1b, &g2), "posted");
	assert_string_equal(x3_event_decide(X3_KIND_GL, &g2, &g3), "status_changed");
}

static void
test_notify_list_filters_events(void **state)
{
	struct mlc_cfg_entity e = entity("purchase_order", "api1");

	(void)state;
	assert_true(x3_event_notified(&e, "approved"));
	assert_true(x3_event_notified(&e, "modified"));
	assert_false(x3_event_notified(&e, "created"));
}

static void
test_fpstate_round_trips_and_rejects_corruption(void **state)
{
	struct x3_fpstate s = { "0123456789abcdef0123456789abcdef", "3", "" }, t;
	char buf[128];
	size_t n = x3_fpstate_format(&s, buf, sizeof(buf));

	(void)state;
	assert_int_equal(x3_fpstate_parse(buf, n, &t), 0);
	assert_string_equal(t.fp, s.fp);
	assert_string_equal(t.a, "3");
	assert_string_equal(t.b, "");
	assert_int_equal(x3_fpstate_parse("no tabs", 7, &t), -1);
	assert_int_equal(x3_fpstate_parse(buf, 3, &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api1_po_maps_to_canonical_names),
		cmocka_unit_test(test_graphql_po_maps_signature_status_and_closed_to_codes),
		cmocka_unit_test(test_api1_gl_entry_flattens_lines_with_sides_and_positive_amounts),
		cmocka_unit_test(test_gl_entry_with_many_lines_carries_40_and_counts_all),
		cmocka_unit_test(test_graphql_invoice_and_extra_fields),
		cmocka_unit_test(test_missing_document_number_names_the_field),
		cmocka_unit_test(test_saving_again_without_a_change_that_matters_is_no_record),
		cmocka_unit_test(test_po_events),
		cmocka_unit_test(test_invoice_and_gl_events),
		cmocka_unit_test(test_notify_list_filters_events),
		cmocka_unit_test(test_fpstate_round_trips_and_rejects_corruption),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
