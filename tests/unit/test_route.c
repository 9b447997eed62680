/*
 * test_route: which routes a record goes to, and which route rules the
 * config loader refuses.
 *
 * Matching is table-driven: one row per rule type (entity by name, by kind
 * and "*", event, amount thresholds at the boundary across scales, currency,
 * suppliers, sites, accounts, journals, prefix values), each with a record
 * that matches and one that does not. Then: several routes and one post per
 * channel; the shipped example's routes; and the loader's refusals, each
 * naming the route and the reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_cfg.h"
#include "route.h"

static struct mlc_cfg g_cfg;
static struct mlc_err g_err;

#define BASE \
	"state_dir: /tmp/mlc-test-route\n" \
	"endpoints:\n" \
	"  poller_ack: ipc:///tmp/mlc-tr/pa\n" \
	"  formatter_in: ipc:///tmp/mlc-tr/fi\n" \
	"  formatter_ack: ipc:///tmp/mlc-tr/fa\n" \
	"  dispatchers:\n" \
	"    - in: ipc:///tmp/mlc-tr/d0\n" \
	"      ack: ipc:///tmp/mlc-tr/d0a\n" \
	"  auditor_in: ipc:///tmp/mlc-tr/ai\n" \
	"  auditor_pub: ipc:///tmp/mlc-tr/ap\n" \
	"x3:\n" \
	"  url: http://127.0.0.1:8124\n" \
	"  folder: SEED\n" \
	"  user: admin\n" \
	"  password_env: X3_PASSWORD\n" \
	"  entities:\n" \
	"    - name: orders\n" \
	"      class: PORDER\n" \
	"      key: POHNUM\n" \
	"    - name: invoices\n" \
	"      class: PINVOICE\n" \
	"      key: NUM\n" \
	"    - name: journal\n" \
	"      class: GACCENTRY\n" \
	"      key: NUM\n" \
	"slack:\n" \
	"  token_env: SLACK_BOT_TOKEN\n"

/* Loads BASE + "routes:\n" + routes; 0 or -1 (g_err). */
static int
load_routes(const char *routes)
{
	char yaml[8192];
	int n = snprintf(yaml, sizeof(yaml), "%sroutes:\n%s", BASE, routes);

	assert_true(n > 0 && (size_t)n < sizeof(yaml));
	memset(&g_err, 0, sizeof(g_err));
	return mlc_cfg_load_string(&g_cfg, yaml, (size_t)n, "test.yaml", &g_err);
}

static void
load_ok(const char *routes)
{
	if (load_routes(routes) != 0)
		fail_msg("config refused: %s\nroutes:\n%s", g_err.msg, routes);
}

/* ---- records ---- */

struct rec {
	struct mlc_record r;
	struct mlc_field f[64];
};

/* fields: "name=value" strings, NULL-terminated. */
static void
rec_make(struct rec *x, const char *entity, const char *event, const char *const *fields)
{
	static char store[64][2][64];

	memset(x, 0, sizeof(*x));
	x->r.id = (char *)"id";
	x->r.from = (char *)"poller";
	x->r.entity = (char *)entity;
	x->r.key = (char *)"K1";
	x->r.stamp = (char *)"2026-11-29T01:02:03Z";
	x->r.event = (char *)event;
	x->r.polled_at = (char *)"2026-11-29T01:02:04Z";
	x->r.fields = x->f;
	for (size_t i = 0; fields != NULL && fields[i] != NULL; i++) {
		const char *eq = strchr(fields[i], '=');

		assert_non_null(eq);
		assert_true(i < 64);
		snprintf(store[i][0], sizeof(store[i][0]), "%.*s", (int)(eq - fields[i]),
		    fields[i]);
		snprintf(store[i][1], sizeof(store[i][1]), "%s", eq + 1);
		x->f[i].name = store[i][0];
		x->f[i].value = store[i][1];
		x->r.n_fields = i + 1;
	}
}

/* ---- matching, one row per rule ---- */

struct match_case {
	const char *what;
	const char *rule;        /* YAML lines of the route after name/channel */
	const char *entity, *event;
	const char *fields[12];
	int want;
};

#define PO_FIELDS "number=PO1", "supplier_code=FR053", "site=FR011", "currency=EUR"
#define GL_LINES "lines=3", "line.0.account=607000", "line.0.side=debit", \
	"line.0.amount=500.5", "line.0.partner=SUP01", "line.1.account=445660", \
	"line.1.side=debit", "line.1.amount=499.50", "line.2.account=401000", \
	"line.2.side=credit"

static const struct match_case match_cases[] = {
	/* entity: config name, kind, "*" */
	{ "entity by name", "entity: orders", "orders", "approved", { PO_FIELDS }, 1 },
	{ "entity by name, other entity", "entity: orders", "invoices", "received", { 0 }, 0 },
	{ "entity by kind", "entity: supplier_invoice", "invoices", "received", { 0 }, 1 },
	{ "entity by kind, other kind", "entity: supplier_invoice", "orders", "approved",
	  { 0 }, 0 },
	{ "entity *", "entity: \"*\"", "journal", "posted", { 0 }, 1 },
	/* event */
	{ "event listed", "entity: orders\n    event: [approved, modified]", "orders",
	  "modified", { PO_FIELDS }, 1 },
	{ "event not listed", "entity: orders\n    event: [approved]", "orders", "created",
	  { PO_FIELDS }, 0 },
	{ "event as one string", "entity: invoices\n    event: status_changed", "invoices",
	  "status_changed", { 0 }, 1 },
	{ "no event filter takes every event", "entity: orders", "orders", "created",
	  { 0 }, 1 },
	/* amount thresholds: decimal, at the boundary, across scales */
	{ "gte equal, wider record scale", "entity: invoices\n    amount_gte: 1000",
	  "invoices", "received", { "amount_excl_tax=1000.00" }, 1 },
	{ "gte equal, wider rule scale", "entity: invoices\n    amount_gte: \"1000.00\"",
	  "invoices", "received", { "amount_excl_tax=1000" }, 1 },
	{ "gte just below", "entity: invoices\n    amount_gte: 1000", "invoices",
	  "received", { "amount_excl_tax=999.999999999" }, 0 },
	{ "lt equal is out", "entity: invoices\n    amount_lt: \"1000.00\"", "invoices",
	  "received", { "amount_excl_tax=1000" }, 0 },
	{ "lt just below is in", "entity: invoices\n    amount_lt: 1000", "invoices",
	  "received", { "amount_excl_tax=999.99" }, 1 },
	{ "gte and lt band, inside", "entity: invoices\n    amount_gte: 100\n"
	  "    amount_lt: 1000", "invoices", "received", { "amount_excl_tax=100.00" }, 1 },
	{ "gte and lt band, above", "entity: invoices\n    amount_gte: 100\n"
	  "    amount_lt: 1000", "invoices", "received", { "amount_excl_tax=1000.0" }, 0 },
	{ "negative amounts compare as numbers", "entity: invoices\n    amount_lt: 0",
	  "invoices", "received", { "amount_excl_tax=-0.01" }, 1 },
	{ "no amount never passes a threshold", "entity: invoices\n    amount_gte: 0",
	  "invoices", "received", { "currency=EUR" }, 0 },
	{ "non-decimal amount never passes", "entity: invoices\n    amount_gte: 0",
	  "invoices", "received", { "amount_excl_tax=1e3" }, 0 },
	{ "amount_field incl tax", "entity: invoices\n    amount_gte: 1000\n"
	  "    amount_field: amount_incl_tax", "invoices", "received",
	  { "amount_excl_tax=900", "amount_incl_tax=1080" }, 1 },
	{ "amount_field excl tax by default", "entity: invoices\n    amount_gte: 1000",
	  "invoices", "received", { "amount_excl_tax=900", "amount_incl_tax=1080" }, 0 },
	{ "GL amount is the total of debits", "entity: journal\n    amount_gte: 1000",
	  "journal", "posted", { GL_LINES, "line.2.amount=1000" }, 1 },
	{ "GL total just below", "entity: journal\n    amount_gte: \"1000.01\"",
	  "journal", "posted", { GL_LINES, "line.2.amount=1000" }, 0 },
	/* currency */
	{ "currency equal", "entity: invoices\n    currency: EUR\n    amount_gte: 10",
	  "invoices", "received", { "currency=EUR", "amount_excl_tax=10" }, 1 },
	{ "currency differs", "entity: invoices\n    currency: EUR\n    amount_gte: 10",
	  "invoices", "received", { "currency=USD", "amount_excl_tax=10" }, 0 },
	{ "currency missing", "entity: invoices\n    currency: EUR", "invoices",
	  "received", { "amount_excl_tax=10" }, 0 },
	/* suppliers */
	{ "supplier listed", "entity: orders\n    suppliers: [FR001, FR053]", "orders",
	  "approved", { PO_FIELDS }, 1 },
	{ "supplier not listed", "entity: orders\n    suppliers: [FR001]", "orders",
	  "approved", { PO_FIELDS }, 0 },
	{ "supplier prefix", "entity: orders\n    suppliers: [\"FR*\"]", "orders",
	  "approved", { PO_FIELDS }, 1 },
	{ "supplier prefix no match", "entity: orders\n    suppliers: [\"DE*\"]", "orders",
	  "approved", { PO_FIELDS }, 0 },
	{ "supplier is not a prefix without *", "entity: orders\n    suppliers: [FR05]",
	  "orders", "approved", { PO_FIELDS }, 0 },
	{ "GL supplier is a line partner", "entity: journal\n    suppliers: [SUP01]",
	  "journal", "posted", { GL_LINES }, 1 },
	/* sites */
	{ "site listed", "entity: orders\n    sites: [FR011]", "orders", "approved",
	  { PO_FIELDS }, 1 },
	{ "site not listed", "entity: orders\n    sites: [DE011]", "orders", "approved",
	  { PO_FIELDS }, 0 },
	/* accounts */
	{ "invoice account among several", "entity: invoices\n    accounts: [607100]",
	  "invoices", "received", { "gl_accounts=401000, 607100" }, 1 },
	{ "invoice account prefix", "entity: invoices\n    accounts: [\"60*\"]",
	  "invoices", "received", { "gl_accounts=401000,607100" }, 1 },
	{ "invoice account absent", "entity: invoices\n    accounts: [\"5*\"]",
	  "invoices", "received", { "gl_accounts=401000,607100" }, 0 },
	{ "GL account on any line", "entity: journal\n    accounts: [401000]", "journal",
	  "posted", { GL_LINES }, 1 },
	{ "GL account on no line", "entity: journal\n    accounts: [512000]", "journal",
	  "posted", { GL_LINES }, 0 },
	/* journals */
	{ "journal listed", "entity: journal\n    journals: [ACH, VEN]", "journal",
	  "posted", { "journal=VEN" }, 1 },
	{ "journal not listed", "entity: journal\n    journals: [ACH]", "journal",
	  "posted", { "journal=VEN" }, 0 },
	/* every filter must hold */
	{ "all filters hold", "entity: invoices\n    event: [received]\n"
	  "    amount_gte: 5000\n    currency: EUR\n    suppliers: [SUP9]\n"
	  "    sites: [FR011]\n    accounts: [\"6*\"]", "invoices", "received",
	  { "amount_excl_tax=5000.00", "currency=EUR", "supplier_code=SUP9",
	    "site=FR011", "gl_accounts=607000" }, 1 },
	{ "one filter fails", "entity: invoices\n    event: [received]\n"
	  "    amount_gte: 5000\n    currency: EUR\n    suppliers: [SUP9]\n"
	  "    sites: [FR011]\n    accounts: [\"6*\"]", "invoices", "received",
	  { "amount_excl_tax=5000.00", "currency=EUR", "supplier_code=SUP9",
	    "site=FR012", "gl_accounts=607000" }, 0 },
};

static void
test_each_rule_type_matches_and_refuses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		char routes[1024];
		struct rec x;
		int got;

		snprintf(routes, sizeof(routes), "  - name: r\n    channel: \"#c\"\n    %s\n",
		    match_cases[i].rule);
		load_ok(routes);
		rec_make(&x, match_cases[i].entity, match_cases[i].event, match_cases[i].fields);
		got = route_matches(&g_cfg, &g_cfg.routes[0], &x.r);
		if (got != match_cases[i].want)
			fail_msg("case '%s': route_matches = %d, want %d", match_cases[i].what, got,
			    match_cases[i].want);
	}
}

static void
test_gl_amount_sums_debits_across_scales(void **state)
{
	static const char *const f[] = { GL_LINES, "line.2.amount=1000", NULL };
	struct mlc_money m, want = { 100000, 2 };
	struct rec x;

	(void)state;
	rec_make(&x, "journal", "posted", f);
	assert_int_equal(route_amount(&x.r, "gl_entry", NULL, &m), 0);
	assert_int_equal(mlc_money_cmp(&m, &want), 0);
	assert_int_equal(route_amount(&x.r, "purchase_order", NULL, &m), -1);
}

/* Several routes match: one message per channel, the first route of each
 * channel in config order. */
static void
test_several_routes_give_one_post_per_channel(void **state)
{
	static const char *const f[] = { "amount_excl_tax=25000", "currency=EUR",
		"supplier_code=SUP1", "site=FR011", NULL };
	struct rec x;
	size_t sel[MLC_CFG_MAX_ROUTES], n;

	(void)state;
	load_ok("  - name: small-to-finance\n    entity: invoices\n    channel: \"#finance\"\n"
	    "    amount_lt: 100\n"
	    "  - name: all-invoices\n    entity: invoices\n    channel: \"#procure\"\n"
	    "  - name: big-invoices\n    entity: supplier_invoice\n    channel: \"#finance\"\n"
	    "    amount_gte: 10000\n"
	    "  - name: big-invoices-again\n    entity: invoices\n    channel: \"#finance\"\n"
	    "    amount_gte: 20000\n"
	    "  - name: everything\n    entity: \"*\"\n    channel: \"#procure\"\n"
	    "  - name: orders\n    entity: orders\n    channel: \"#orders\"\n"
	    "  - name: audit\n    entity: \"*\"\n    channel: C0123456789\n");
	rec_make(&x, "invoices", "received", f);
	n = route_select(&g_cfg, &x.r, sel, MLC_CFG_MAX_ROUTES);
	assert_int_equal(n, 3);
	assert_string_equal(g_cfg.routes[sel[0]].name, "all-invoices");
	assert_string_equal(g_cfg.routes[sel[1]].name, "big-invoices");
	assert_string_equal(g_cfg.routes[sel[2]].name, "audit");
	/* max bounds the output */
	assert_int_equal(route_select(&g_cfg, &x.r, sel, 1), 1);
	/* nothing matches: nothing posted */
	rec_make(&x, "journal", "posted", NULL);
	n = route_select(&g_cfg, &x.r, sel, MLC_CFG_MAX_ROUTES);
	assert_int_equal(n, 2);
	assert_string_equal(g_cfg.routes[sel[0]].name, "everything");
	assert_string_equal(g_cfg.routes[sel[1]].name, "audit");
}

/* The minimal route of the first release (name, entity, channel) still
 * loads and takes every record of its entity. */
static void
test_minimal_route_shape_still_works(void **state)
{
	struct rec x;

	(void)state;
	load_ok("  - name: po-0\n    entity: orders\n    channel: \"#procure\"\n");
	assert_int_equal(g_cfg.routes[0].n_events, 0);
	assert_string_equal(g_cfg.routes[0].amount_gte, "");
	rec_make(&x, "orders", "modified", NULL);
	assert_int_equal(route_matches(&g_cfg, &g_cfg.routes[0], &x.r), 1);
	rec_make(&x, "orders", "changed", NULL);
	assert_int_equal(route_matches(&g_cfg, &g_cfg.routes[0], &x.r), 1);
}

/* The shipped example: approved POs and new invoices to #procure, invoices
 * above a threshold to #finance, GL entries to #gl. */
static void
test_example_routes_send_each_kind_where_documented(void **state)
{
	static const char *const big[] = { "amount_excl_tax=25000.00", "currency=EUR", NULL };
	static const char *const small[] = { "amount_excl_tax=9999.99", "currency=EUR", NULL };
	const char *po = NULL, *inv = NULL, *gl = NULL;
	size_t sel[MLC_CFG_MAX_ROUTES], n;
	struct rec x;
	char chans[256];

	(void)state;
	if (mlc_cfg_load(&g_cfg, MLC_TEST_DATA "/../../config/mlc.example.yaml", &g_err) != 0)
		fail_msg("example refused: %s", g_err.msg);
	for (size_t i = 0; i < g_cfg.x3.n_entities; i++) {
		const struct mlc_cfg_entity *e = &g_cfg.x3.entities[i];

		if (strcmp(e->kind, "purchase_order") == 0 && po == NULL)
			po = e->name;
		if (strcmp(e->kind, "supplier_invoice") == 0 && inv == NULL)
			inv = e->name;
		if (strcmp(e->kind, "gl_entry") == 0 && gl == NULL)
			gl = e->name;
	}
	assert_non_null(po);
	assert_non_null(inv);
	assert_non_null(gl);

#define CHANNELS(entity, event, fields) do { \
	size_t used_ = 0; \
	rec_make(&x, entity, event, fields); \
	n = route_select(&g_cfg, &x.r, sel, MLC_CFG_MAX_ROUTES); \
	chans[0] = '\0'; \
	for (size_t i_ = 0; i_ < n; i_++) \
		used_ += (size_t)snprintf(chans + used_, sizeof(chans) - used_, "%s%s", \
		    i_ ? " " : "", g_cfg.routes[sel[i_]].channel); \
} while (0)
	CHANNELS(po, "approved", NULL);
	assert_string_equal(chans, "#procure");
	CHANNELS(po, "created", NULL);
	assert_string_equal(chans, "");
	CHANNELS(inv, "received", small);
	assert_string_equal(chans, "#procure");
	CHANNELS(inv, "received", big);
	assert_string_equal(chans, "#procure #finance");
	CHANNELS(inv, "status_changed", big);
	assert_string_equal(chans, "#finance");
	CHANNELS(gl, "posted", NULL);
	assert_string_equal(chans, "#gl");
#undef CHANNELS
}

/* ---- rules refused at start, naming the route and the reason ---- */

static const struct {
	const char *route;        /* YAML after "  - name: bad\n    channel: \"#c\"\n" */
	const char *reasons[3];   /* substrings the error must hold */
} refused[] = {
	{ "    entity: invoices\n    amount_gte: abc\n",
	  { "routes[0].amount_gte", "must be a decimal", "(got 'abc')" } },
	{ "    entity: invoices\n    amount_lt: 1e3\n",
	  { "routes[0].amount_lt", "must be a decimal", "1e3" } },
	{ "    entity: invoices\n    amount_gte: \"1,000\"\n",
	  { "amount_gte", "must be a decimal", NULL } },
	{ "    entity: invoices\n    amount_gte: 1000\n    amount_lt: \"1000.00\"\n",
	  { "amount_gte (1000) must be less than amount_lt (1000.00)", NULL, NULL } },
	{ "    entity: invoices\n    amount_gte: 2000\n    amount_lt: 1000\n",
	  { "must be less than", NULL, NULL } },
	{ "    entity: orders\n    event: [approved, received]\n",
	  { "routes[0].event", "'received' is not an event of a purchase_order",
	    "approved, modified, created" } },
	{ "    entity: purchase_order\n    event: posted\n",
	  { "'posted' is not an event of a purchase_order", NULL, NULL } },
	{ "    entity: \"*\"\n    event: [shipped]\n",
	  { "'shipped' is not an event", "purchase_order or supplier_invoice or gl_entry",
	    NULL } },
	{ "    entity: orders\n    suppliers: []\n",
	  { "routes[0].suppliers", "the list is empty", NULL } },
	{ "    entity: orders\n    event: []\n",
	  { "routes[0].event", "the list is empty", NULL } },
	{ "    entity: journal\n    journals: []\n",
	  { "journals", "empty", NULL } },
	{ "    entity: orders\n    accounts: [\"6*\"]\n",
	  { "routes[0].accounts", "a purchase_order carries no GL account", NULL } },
	{ "    entity: invoices\n    journals: [ACH]\n",
	  { "routes[0].journals", "a supplier_invoice carries no journal", NULL } },
	{ "    entity: orders\n    sites: [\"F*R\"]\n",
	  { "'*' may only end a value", "F*R", NULL } },
	{ "    entity: orders\n    currency: eur\n",
	  { "routes[0].currency", "ISO 4217", NULL } },
	{ "    entity: orders\n    amount_field: amount\n",
	  { "amount_field", "amount_excl_tax, amount_incl_tax", NULL } },
	{ "    entity: orders\n    template: \"{number} {nope}\"\n",
	  { "routes[0].template", "unknown placeholder '{nope}'", NULL } },
	{ "    entity: orders\n    template: \"{supplier_nam} owes\"\n",
	  { "unknown placeholder '{supplier_nam}'", "did you mean '{supplier_name}'", NULL } },
	{ "    entity: orders\n    template: \"{number\"\n",
	  { "a '{' without its '}'", NULL, NULL } },
	{ "    entity: orders\n    template: \"a } b\"\n",
	  { "a '}' without its '{'", NULL, NULL } },
	{ "    entity: gl_entry_typo\n",
	  { "routes[0].entity", "not in x3.entities", NULL } },
	{ "    entity: orders\n    suppliers: {a: b}\n",
	  { "routes[0].suppliers", "must be a list", NULL } },
};

static void
test_bad_rules_are_refused_with_route_name_and_reason(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char routes[1024];

		snprintf(routes, sizeof(routes), "  - name: bad-route\n    channel: \"#c\"\n%s",
		    refused[i].route);
		if (load_routes(routes) == 0)
			fail_msg("accepted:\n%s", routes);
		if (strstr(g_err.msg, "route 'bad-route'") == NULL)
			fail_msg("error does not name the route: %s", g_err.msg);
		for (size_t k = 0; k < 3 && refused[i].reasons[k] != NULL; k++)
			if (strstr(g_err.msg, refused[i].reasons[k]) == NULL)
				fail_msg("error for\n%slacks \"%s\": %s", refused[i].route,
				    refused[i].reasons[k], g_err.msg);
		assert_non_null(strstr(g_err.msg, "test.yaml:"));
	}
}

/* Every refusal names the route by name and by index, also when it is not
 * the first route. */
static void
test_semantic_refusals_name_the_route(void **state)
{
	static const char *const rules[] = {
		"    entity: invoices\n    amount_gte: abc\n",
		"    entity: invoices\n    amount_gte: 3\n    amount_lt: 2\n",
		"    entity: orders\n    event: [posted]\n",
		"    entity: orders\n    suppliers: []\n",
		"    entity: orders\n    accounts: [\"1\"]\n",
		"    entity: orders\n    template: \"{x}\"\n",
		"    entity: orders\n    currency: EURO\n",
		"    entity: orders\n    sites: {a: b}\n",
		"    entity: orders\n    amount_field: total\n",
		"    entity: orders\n    journals: [\"\"]\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		char routes[512];

		snprintf(routes, sizeof(routes), "  - name: ok\n    entity: orders\n"
		    "    channel: \"#c\"\n  - name: the-bad-one\n    channel: \"#c\"\n%s",
		    rules[i]);
		assert_int_equal(load_routes(routes), -1);
		if (strstr(g_err.msg, "route 'the-bad-one'") == NULL ||
		    strstr(g_err.msg, "routes[1]") == NULL)
			fail_msg("error does not name the route: %s", g_err.msg);
	}
}

static void
test_good_rules_load(void **state)
{
	(void)state;
	load_ok("  - name: r\n    entity: invoices\n    channel: \"#c\"\n"
	    "    event: [received, status_changed]\n    amount_gte: \"0.01\"\n"
	    "    amount_lt: 1000000000\n    currency: CHF\n    suppliers: [A, \"B*\"]\n"
	    "    sites: FR011\n    accounts: [\"6*\", 401000]\n"
	    "    template: \"{{x}} {kind} {number} {x_buyer} {amount} {date}\"\n"
	    "  - name: gl\n    entity: gl_entry\n    channel: \"#gl\"\n    journals: [ACH]\n"
	    "    accounts: [\"6*\"]\n    event: posted\n");
	assert_int_equal(g_cfg.routes[0].n_events, 2);
	assert_string_equal(g_cfg.routes[0].events[1], "status_changed");
	assert_int_equal(g_cfg.routes[0].n_suppliers, 2);
	assert_string_equal(g_cfg.routes[0].suppliers[1], "B*");
	assert_int_equal(g_cfg.routes[0].n_sites, 1);
	assert_string_equal(g_cfg.routes[0].sites[0], "FR011");
	assert_string_equal(g_cfg.routes[0].currency, "CHF");
	assert_string_equal(g_cfg.routes[1].journals[0], "ACH");
}

/* x3.link_pattern and x3.entities[].link: refused when they could break
 * the Slack link or name an unknown placeholder. */
static void
test_link_patterns_are_checked_at_load(void **state)
{
	static const struct {
		const char *pattern;
		const char *reason;       /* NULL: accepted */
	} cases[] = {
		{ "https://x3.example.com/{folder}/{number}?k={key}&e={entity}&t={kind}", NULL },
		{ "http://x3/{number}", NULL },
		{ "ftp://x3/{number}", "http:// or https://" },
		{ "https://x3/{number}|evil", "would end the Slack link" },
		{ "https://x3/{number}>", "would end the Slack link" },
		{ "https://x3/a b/{number}", "would end the Slack link" },
		{ "https://x3/{nmber}", "unknown placeholder '{nmber}' (did you mean '{number}'" },
		{ "https://x3/{supplier_name}", "unknown placeholder" },
		{ "https://x3/{number", "without its '}'" },
	};
	char yaml[8192], routes[] = "routes:\n  - name: r\n    entity: orders\n"
	    "    channel: \"#c\"\n";

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int per_entity = 0; per_entity < 2; per_entity++) {
			char base[sizeof(BASE) + 256];
			const char *anchor = per_entity ? "      key: POHNUM\n" : "  folder: SEED\n";
			const char *at = strstr(BASE, anchor);
			int n, rc;

			assert_non_null(at);
			n = snprintf(base, sizeof(base), "%.*s%s%s: \"%s\"\n%s",
			    (int)(at - BASE), BASE, anchor, per_entity ? "      link" :
			    "  link_pattern", cases[i].pattern, at + strlen(anchor));
			assert_true(n > 0 && (size_t)n < sizeof(base));
			n = snprintf(yaml, sizeof(yaml), "%s%s", base, routes);
			rc = mlc_cfg_load_string(&g_cfg, yaml, (size_t)n, "t.yaml", &g_err);
			if (cases[i].reason == NULL) {
				if (rc != 0)
					fail_msg("'%s' refused: %s", cases[i].pattern, g_err.msg);
				assert_string_equal(per_entity ? g_cfg.x3.entities[0].link :
				    g_cfg.x3.link_pattern, cases[i].pattern);
			} else if (rc == 0 || strstr(g_err.msg, cases[i].reason) == NULL) {
				fail_msg("'%s': want an error with \"%s\", got %s", cases[i].pattern,
				    cases[i].reason, rc == 0 ? "none" : g_err.msg);
			} else {
				assert_non_null(strstr(g_err.msg, per_entity ?
				    "x3.entities[0].link" : "x3.link_pattern"));
			}
		}
	}
}

/* Every placeholder the loader accepts renders (none is silently unknown
 * to the formatter). */
static void
test_template_names_are_all_known(void **state)
{
	(void)state;
	for (size_t i = 0; mlc_cfg_template_names[i] != NULL; i++) {
		char routes[256];

		snprintf(routes, sizeof(routes), "  - name: r\n    entity: orders\n"
		    "    channel: \"#c\"\n    template: \"{%s}\"\n", mlc_cfg_template_names[i]);
		load_ok(routes);
	}
	assert_true(mlc_cfg_template_names[10] != NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_rule_type_matches_and_refuses),
		cmocka_unit_test(test_gl_amount_sums_debits_across_scales),
		cmocka_unit_test(test_several_routes_give_one_post_per_channel),
		cmocka_unit_test(test_minimal_route_shape_still_works),
		cmocka_unit_test(test_example_routes_send_each_kind_where_documented),
		cmocka_unit_test(test_bad_rules_are_refused_with_route_name_and_reason),
		cmocka_unit_test(test_semantic_refusals_name_the_route),
		cmocka_unit_test(test_good_rules_load),
		cmocka_unit_test(test_link_patterns_are_checked_at_load),
		cmocka_unit_test(test_template_names_are_all_known),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
