/* route: see route.h. */
#include "route.h"

#include <stdio.h>
#include <string.h>

const char *
route_kind(const struct mlc_cfg *cfg, const char *entity)
{
	const struct mlc_cfg_entity *e = mlc_cfg_entity_find(cfg, entity);

	return e != NULL ? e->kind : "";
}

unsigned
route_gl_lines(const struct mlc_record *r)
{
	const char *v = mlc_record_field(r, "lines");
	unsigned n = 0;

	/* "lines" is the true count; only the first ROUTE_GL_LINES_MAX are
	 * carried. Absent or damaged: look at every index that could be. */
	if (v == NULL || *v == '\0')
		return ROUTE_GL_LINES_MAX;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			return ROUTE_GL_LINES_MAX;
		n = n * 10 + (unsigned)(*v - '0');
		if (n >= ROUTE_GL_LINES_MAX)
			return ROUTE_GL_LINES_MAX;
	}
	return n;
}

/* a + b at the larger of the two scales; -1 on overflow. */
static int
money_add(const struct mlc_money *a, const struct mlc_money *b, struct mlc_money *out)
{
	struct mlc_money x = *a, y = *b;

	while (x.scale < y.scale) {
		if (__builtin_mul_overflow(x.units, 10, &x.units))
			return -1;
		x.scale++;
	}
	while (y.scale < x.scale) {
		if (__builtin_mul_overflow(y.units, 10, &y.units))
			return -1;
		y.scale++;
	}
	if (__builtin_add_overflow(x.units, y.units, &out->units))
		return -1;
	out->scale = x.scale;
	return 0;
}

int
route_amount(const struct mlc_record *r, const char *kind, const char *field,
    struct mlc_money *out)
{
	const char *v;

	if (strcmp(kind, "gl_entry") == 0) {
		struct mlc_money total = { 0, 0 };
		int any = 0;

		/* The entry's amount is what it moves: the total of its debit
		 * lines (an entry balances, so the credits give the same). Only
		 * the lines carried are summed (docs/records.md: at most 50). */
		for (unsigned i = 0, n = route_gl_lines(r); i < n; i++) {
			char name[40];
			const char *side, *amt;
			struct mlc_money m;

			snprintf(name, sizeof(name), "line.%u.side", i);
			side = mlc_record_field(r, name);
			if (side == NULL || strcmp(side, "debit") != 0)
				continue;
			snprintf(name, sizeof(name), "line.%u.amount", i);
			amt = mlc_record_field(r, name);
			if (amt == NULL || mlc_money_parse(amt, &m) != 0 ||
			    money_add(&total, &m, &total) != 0)
				return -1;
			any = 1;
		}
		if (!any)
			return -1;
		*out = total;
		return 0;
	}
	v = mlc_record_field(r, field != NULL && field[0] != '\0' ? field : "amount_excl_tax");
	if (v == NULL || mlc_money_parse(v, out) != 0)
		return -1;
	return 0;
}

/* A list value "ABC" matches "ABC" exactly; "AB*" matches by prefix. */
static int
value_matches(const char *pattern, const char *v)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, v, n - 1) == 0;
	return strcmp(pattern, v) == 0;
}

/* The config keeps lists as char[n][stride] arrays. */
#define LIST(a) (&(a)[0][0]), sizeof((a)[0])

static int
list_has(const char *list, size_t stride, size_t n, const char *v)
{
	if (v == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (value_matches(list + i * stride, v))
			return 1;
	return 0;
}

/* Any of the comma-separated values in csv (invoice gl_accounts). */
static int
list_has_csv(const char *list, size_t stride, size_t n, const char *csv)
{
	char one[MLC_CFG_ROUTE_VALUE * 2];

	if (csv == NULL)
		return 0;
	while (*csv != '\0') {
		size_t len = strcspn(csv, ",");
		size_t b = 0, e = len;

		while (b < e && csv[b] == ' ')
			b++;
		while (e > b && csv[e - 1] == ' ')
			e--;
		/* A value longer than any list value cannot equal one; it may
		 * still match a prefix pattern, which its first bytes decide. */
		if (e - b >= sizeof(one))
			e = b + sizeof(one) - 1;
		memcpy(one, csv + b, e - b);
		one[e - b] = '\0';
		if (e > b && list_has(list, stride, n, one))
			return 1;
		csv += len;
		if (*csv == ',')
			csv++;
	}
	return 0;
}

/* Any GL line's `what` (account, partner) in the list. */
static int
list_has_line(const char *list, size_t stride, size_t n, const struct mlc_record *r,
    const char *what)
{
	for (unsigned i = 0, lines = route_gl_lines(r); i < lines; i++) {
		char name[48];

		snprintf(name, sizeof(name), "line.%u.%s", i, what);
		if (list_has(list, stride, n, mlc_record_field(r, name)))
			return 1;
	}
	return 0;
}

int
route_matches(const struct mlc_cfg *cfg, const struct mlc_cfg_route *rt,
    const struct mlc_record *r)
{
	const char *kind = route_kind(cfg, r->entity);
	int gl = strcmp(kind, "gl_entry") == 0;

	if (strcmp(rt->entity, "*") != 0 && strcmp(rt->entity, r->entity) != 0 &&
	    (kind[0] == '\0' || strcmp(rt->entity, kind) != 0))
		return 0;
	for (size_t i = 0; i < rt->n_events; i++) {
		if (strcmp(rt->events[i], r->event) == 0)
			break;
		if (i + 1 == rt->n_events)
			return 0;
	}
	if (rt->currency[0] != '\0') {
		const char *cur = mlc_record_field(r, "currency");

		if (cur == NULL || strcmp(cur, rt->currency) != 0)
			return 0;
	}
	if (rt->amount_gte[0] != '\0' || rt->amount_lt[0] != '\0') {
		struct mlc_money amount, bound;

		if (route_amount(r, kind, rt->amount_field, &amount) != 0)
			return 0;
		if (rt->amount_gte[0] != '\0' && (mlc_money_parse(rt->amount_gte, &bound) != 0 ||
		    mlc_money_cmp(&amount, &bound) < 0))
			return 0;
		if (rt->amount_lt[0] != '\0' && (mlc_money_parse(rt->amount_lt, &bound) != 0 ||
		    mlc_money_cmp(&amount, &bound) >= 0))
			return 0;
	}
	if (rt->n_suppliers > 0 && !(gl ?
	    list_has_line(LIST(rt->suppliers), rt->n_suppliers, r, "partner") :
	    list_has(LIST(rt->suppliers), rt->n_suppliers, mlc_record_field(r, "supplier_code"))))
		return 0;
	if (rt->n_sites > 0 &&
	    !list_has(LIST(rt->sites), rt->n_sites, mlc_record_field(r, "site")))
		return 0;
	if (rt->n_accounts > 0 && !(gl ?
	    list_has_line(LIST(rt->accounts), rt->n_accounts, r, "account") :
	    list_has_csv(LIST(rt->accounts), rt->n_accounts, mlc_record_field(r, "gl_accounts"))))
		return 0;
	if (rt->n_journals > 0 &&
	    !list_has(LIST(rt->journals), rt->n_journals, mlc_record_field(r, "journal")))
		return 0;
	return 1;
}

size_t
route_select(const struct mlc_cfg *cfg, const struct mlc_record *r, size_t *out,
    size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_routes && n < max; i++) {
		const struct mlc_cfg_route *rt = &cfg->routes[i];
		int taken = 0;

		if (!route_matches(cfg, rt, r))
			continue;
		for (size_t j = 0; j < n && !taken; j++)
			taken = strcmp(cfg->routes[out[j]].channel, rt->channel) == 0;
		if (!taken)
			out[n++] = i;
	}
	return n;
}
