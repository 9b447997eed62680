/*
 * where.c: the SData query language subset x3sim understands - `where`
 * expressions, `orderBy` lists - and the opaque keyset paging cursor.
 *
 * Pure functions over a schema and value arrays: no I/O, no locks, no
 * global state, so tests/unit/test_x3sim_where.c includes this file
 * directly. Everything here reads untrusted text from a query string, so
 * every length is bounded and every error names what was wrong and where.
 *
 * The where grammar (a subset of SData 2.0 §0212):
 *   expr    := and ( "or" and )*
 *   and     := primary ( "and" primary )*
 *   primary := "(" expr ")" | FIELD op literal
 *   op      := eq | ne | lt | le | gt | ge           (any case)
 *   literal := @YYYY-MM-DDTHH:MM:SSZ@ | @YYYY-MM-DD@ | 'text' | [-]digits[.digits]
 */
#include "x3sim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_time.h"

int
x3_schema_find(const struct x3_schema *s, const char *name, size_t len)
{
	for (int i = 0; i < s->nfields; i++) {
		if (strlen(s->fields[i].name) == len &&
		    memcmp(s->fields[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

int
x3_value_cmp(enum x3_type t, const struct x3_value *a, const struct x3_value *b)
{
	int c;

	switch (t) {
	case X3_T_STRING:
	case X3_T_DATE:
		c = strcmp(a->str, b->str);
		return (c > 0) - (c < 0);
	case X3_T_DATETIME:
	case X3_T_INT:
	case X3_T_DEC2:
		return (a->num > b->num) - (a->num < b->num);
	}
	return 0;
}

/* ---- where ------------------------------------------------------------- */

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

enum node_kind { N_AND, N_OR, N_CMP };

struct node {
	enum node_kind kind;
	int            a, b;     /* children for AND / OR */
	int            field;    /* CMP */
	enum op        op;
	struct x3_value lit;     /* CMP literal, coerced to the field's type */
	struct mlc_money num;    /* CMP literal for INT / DEC2 fields */
};

struct x3_where {
	const struct x3_schema *schema;
	struct node            *nodes;
	int                     n, cap;
	int                     root;
};

struct parser {
	const char            *s;
	size_t                 pos, len;
	struct x3_where       *w;
	enum x3_where_err      why;
	struct mlc_err        *err;
};

static void
skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
	    p->s[p->pos] == '\r' || p->s[p->pos] == '\n'))
		p->pos++;
}

static int
perr(struct parser *p, enum x3_where_err why, const char *what)
{
	p->why = why;
	return mlc_err_set(p->err, "where: %s at offset %zu", what, p->pos);
}

static int
is_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static int
is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Reads an identifier at the cursor; returns its length (0 if none). */
static size_t
peek_ident(const struct parser *p)
{
	size_t n = 0;

	if (p->pos >= p->len || !is_ident_start(p->s[p->pos]))
		return 0;
	while (p->pos + n < p->len && is_ident_char(p->s[p->pos + n]))
		n++;
	return n;
}

static int
word_is(const struct parser *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p->s + p->pos, word, n) == 0;
}

static int
new_node(struct parser *p, enum node_kind kind)
{
	struct x3_where *w = p->w;

	if (w->n == w->cap) {
		int ncap = w->cap ? w->cap * 2 : 16;
		struct node *nn = realloc(w->nodes, (size_t)ncap * sizeof(*nn));

		if (nn == NULL)
			return perr(p, X3_WHERE_TOO_LONG, "out of memory");
		w->nodes = nn;
		w->cap = ncap;
	}
	memset(&w->nodes[w->n], 0, sizeof(w->nodes[w->n]));
	w->nodes[w->n].kind = kind;
	return w->n++;
}

static int parse_or(struct parser *p, int depth);

/* Parses a literal that must suit field type t into nd. */
static int
parse_literal(struct parser *p, enum x3_type t, struct node *nd)
{
	char c, tmp[32];
	size_t start, n;

	if (p->pos >= p->len)
		return perr(p, X3_WHERE_SYNTAX, "value expected");
	c = p->s[p->pos];
	if (c == '@') {
		/* Date or datetime literal: strict shape, then real calendar
		 * validation by mlc_time_parse. */
		start = ++p->pos;
		while (p->pos < p->len && p->s[p->pos] != '@' && p->pos - start < 24)
			p->pos++;
		if (p->pos >= p->len || p->s[p->pos] != '@') {
			p->pos = start - 1;
			return perr(p, X3_WHERE_SYNTAX, "unterminated @date@ literal");
		}
		n = p->pos - start;
		p->pos++;
		if (n == 10) {
			if (t == X3_T_DATE) {
				memcpy(tmp, p->s + start, 10);
				memcpy(tmp + 10, "T00:00:00Z", 11);
				if (mlc_time_parse(tmp, &nd->lit.num) != 0)
					goto bad_date;
				memcpy(nd->lit.str, p->s + start, 10);
				nd->lit.str[10] = '\0';
				return 0;
			}
			if (t == X3_T_DATETIME) {
				memcpy(tmp, p->s + start, 10);
				memcpy(tmp + 10, "T00:00:00Z", 11);
				if (mlc_time_parse(tmp, &nd->lit.num) != 0)
					goto bad_date;
				return 0;
			}
			return perr(p, X3_WHERE_SYNTAX, "date literal compared with a non-date property");
		}
		if (n == 20 && p->s[start + 10] == 'T' && p->s[start + 19] == 'Z') {
			if (t != X3_T_DATETIME)
				return perr(p, X3_WHERE_SYNTAX, "datetime literal compared with a non-datetime property");
			memcpy(tmp, p->s + start, 20);
			tmp[20] = '\0';
			if (mlc_time_parse(tmp, &nd->lit.num) != 0)
				goto bad_date;
			return 0;
		}
		p->pos = start - 1;
		return perr(p, X3_WHERE_SYNTAX, "literal is neither @YYYY-MM-DD@ nor @YYYY-MM-DDTHH:MM:SSZ@");
	}
	if (c == '\'') {
		if (t != X3_T_STRING)
			return perr(p, X3_WHERE_SYNTAX, "string literal compared with a non-string property");
		start = p->pos++;
		n = 0;
		for (;;) {
			if (p->pos >= p->len) {
				p->pos = start;
				return perr(p, X3_WHERE_SYNTAX, "unterminated string literal");
			}
			c = p->s[p->pos++];
			if (c == '\'') {
				if (p->pos < p->len && p->s[p->pos] == '\'')
					p->pos++; /* '' is one quote */
				else
					break;
			}
			if (n + 1 >= sizeof(nd->lit.str)) {
				p->pos = start;
				return perr(p, X3_WHERE_SYNTAX, "string literal too long");
			}
			nd->lit.str[n++] = c;
		}
		nd->lit.str[n] = '\0';
		return 0;
	}
	if (c == '-' || c == '+' || isdigit((unsigned char)c)) {
		if (t != X3_T_INT && t != X3_T_DEC2)
			return perr(p, X3_WHERE_SYNTAX, "number compared with a non-numeric property");
		start = p->pos++;
		while (p->pos < p->len && (isdigit((unsigned char)p->s[p->pos]) ||
		    p->s[p->pos] == '.'))
			p->pos++;
		n = p->pos - start;
		if (n >= sizeof(tmp)) {
			p->pos = start;
			return perr(p, X3_WHERE_SYNTAX, "number too long");
		}
		memcpy(tmp, p->s + start, n);
		tmp[n] = '\0';
		if (mlc_money_parse(tmp, &nd->num) != 0) {
			p->pos = start;
			return perr(p, X3_WHERE_SYNTAX, "malformed number");
		}
		return 0;
	}
	return perr(p, X3_WHERE_SYNTAX, "value expected (@date@, 'text' or number)");
bad_date:
	p->pos = start - 1;
	return perr(p, X3_WHERE_SYNTAX, "invalid calendar date or time");
}

static int
parse_cmp(struct parser *p)
{
	static const char *ops[] = { "eq", "ne", "lt", "le", "gt", "ge" };
	const struct x3_schema *s = p->w->schema;
	size_t n, fpos;
	int field, idx;
	enum op op = OP_EQ;
	int found = 0;

	n = peek_ident(p);
	if (n == 0 || word_is(p, n, "and") || word_is(p, n, "or"))
		return perr(p, X3_WHERE_SYNTAX, "property name expected");
	fpos = p->pos;
	field = x3_schema_find(s, p->s + p->pos, n);
	if (field < 0) {
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)(n < 40 ? n : 40), p->s + p->pos);
		p->why = X3_WHERE_UNKNOWN_FIELD;
		return mlc_err_set(p->err, "where: unknown property '%s' of class %s at offset %zu",
		    name, s->class_name, fpos);
	}
	p->pos += n;
	skip_ws(p);
	n = peek_ident(p);
	for (int i = 0; i < 6 && n > 0; i++) {
		if (word_is(p, n, ops[i])) {
			op = (enum op)i;
			found = 1;
			break;
		}
	}
	if (!found)
		return perr(p, X3_WHERE_SYNTAX, "operator expected (eq ne lt le gt ge)");
	p->pos += n;
	skip_ws(p);
	idx = new_node(p, N_CMP);
	if (idx < 0)
		return -1;
	p->w->nodes[idx].field = field;
	p->w->nodes[idx].op = op;
	if (parse_literal(p, s->fields[field].type, &p->w->nodes[idx]) != 0)
		return -1;
	return idx;
}

static int
parse_primary(struct parser *p, int depth)
{
	int idx;

	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '(') {
		if (depth >= X3_WHERE_MAX_DEPTH)
			return perr(p, X3_WHERE_TOO_LONG, "parentheses nested too deep");
		p->pos++;
		idx = parse_or(p, depth + 1);
		if (idx < 0)
			return -1;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ')')
			return perr(p, X3_WHERE_SYNTAX, "')' expected");
		p->pos++;
		return idx;
	}
	return parse_cmp(p);
}

static int
parse_and(struct parser *p, int depth)
{
	int left, right, idx;
	size_t n;

	left = parse_primary(p, depth);
	if (left < 0)
		return -1;
	for (;;) {
		skip_ws(p);
		n = peek_ident(p);
		if (n == 0 || !word_is(p, n, "and"))
			return left;
		p->pos += n;
		right = parse_primary(p, depth);
		if (right < 0)
			return -1;
		idx = new_node(p, N_AND);
		if (idx < 0)
			return -1;
		p->w->nodes[idx].a = left;
		p->w->nodes[idx].b = right;
		left = idx;
	}
}

static int
parse_or(struct parser *p, int depth)
{
	int left, right, idx;
	size_t n;

	left = parse_and(p, depth);
	if (left < 0)
		return -1;
	for (;;) {
		skip_ws(p);
		n = peek_ident(p);
		if (n == 0 || !word_is(p, n, "or"))
			return left;
		p->pos += n;
		right = parse_and(p, depth);
		if (right < 0)
			return -1;
		idx = new_node(p, N_OR);
		if (idx < 0)
			return -1;
		p->w->nodes[idx].a = left;
		p->w->nodes[idx].b = right;
		left = idx;
	}
}

int
x3_where_parse(const char *text, const struct x3_schema *s,
    struct x3_where **out, enum x3_where_err *why, struct mlc_err *err)
{
	struct parser p;
	size_t len;

	*out = NULL;
	*why = X3_WHERE_OK;
	len = strnlen(text, X3_WHERE_MAX_LEN + 1);
	if (len > X3_WHERE_MAX_LEN) {
		*why = X3_WHERE_TOO_LONG;
		return mlc_err_set(err, "where: expression longer than %d bytes", X3_WHERE_MAX_LEN);
	}
	memset(&p, 0, sizeof(p));
	p.s = text;
	p.len = len;
	p.err = err;
	skip_ws(&p);
	if (p.pos == p.len)
		return 0; /* blank: no filter */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') {
			*why = X3_WHERE_SYNTAX;
			return mlc_err_set(err, "where: control byte at offset %zu", i);
		}
	}
	p.w = calloc(1, sizeof(*p.w));
	if (p.w == NULL) {
		*why = X3_WHERE_TOO_LONG;
		return mlc_err_set(err, "where: out of memory");
	}
	p.w->schema = s;
	p.w->root = parse_or(&p, 0);
	if (p.w->root < 0)
		goto err;
	skip_ws(&p);
	if (p.pos != p.len) {
		perr(&p, X3_WHERE_SYNTAX, "unexpected text after the expression (missing 'and'/'or'?)");
		goto err;
	}
	*out = p.w;
	return 0;
err:
	*why = p.why ? p.why : X3_WHERE_SYNTAX;
	x3_where_free(&p.w);
	return -1;
}

static int
eval(const struct x3_where *w, int idx, const struct x3_value *row)
{
	const struct node *nd = &w->nodes[idx];
	const struct x3_field *f;
	int c;

	switch (nd->kind) {
	case N_AND:
		return eval(w, nd->a, row) && eval(w, nd->b, row);
	case N_OR:
		return eval(w, nd->a, row) || eval(w, nd->b, row);
	case N_CMP:
		break;
	}
	f = &w->schema->fields[nd->field];
	if (f->type == X3_T_INT || f->type == X3_T_DEC2) {
		struct mlc_money m = { row[nd->field].num, f->type == X3_T_DEC2 ? 2 : 0 };

		c = mlc_money_cmp(&m, &nd->num);
	} else {
		c = x3_value_cmp(f->type, &row[nd->field], &nd->lit);
	}
	switch (nd->op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	}
	return 0;
}

int
x3_where_match(const struct x3_where *w, const struct x3_value *row)
{
	if (w == NULL)
		return 1;
	return eval(w, w->root, row);
}

void
x3_where_free(struct x3_where **wp)
{
	if (wp == NULL || *wp == NULL)
		return;
	free((*wp)->nodes);
	free(*wp);
	*wp = NULL;
}

/* ---- orderBy ----------------------------------------------------------- */

int
x3_order_parse(const char *text, const struct x3_schema *s,
    struct x3_order *out, enum x3_where_err *why, struct mlc_err *err)
{
	size_t len = strnlen(text, 1025), pos = 0, n;
	int field;

	memset(out, 0, sizeof(*out));
	*why = X3_WHERE_SYNTAX;
	if (len > 1024)
		return mlc_err_set(err, "orderBy: longer than 1024 bytes");
	while (pos < len && text[pos] == ' ')
		pos++;
	if (pos == len) {
		*why = X3_WHERE_OK;
		return 0;
	}
	for (;;) {
		while (pos < len && text[pos] == ' ')
			pos++;
		for (n = 0; pos + n < len && is_ident_char(text[pos + n]); n++)
			;
		if (n == 0 || !is_ident_start(text[pos]))
			return mlc_err_set(err, "orderBy: property name expected at offset %zu", pos);
		field = x3_schema_find(s, text + pos, n);
		if (field < 0) {
			*why = X3_WHERE_UNKNOWN_FIELD;
			return mlc_err_set(err, "orderBy: unknown property '%.*s' of class %s",
			    (int)(n < 40 ? n : 40), text + pos, s->class_name);
		}
		for (int i = 0; i < out->n; i++)
			if (out->field[i] == field)
				return mlc_err_set(err, "orderBy: property %s listed twice",
				    s->fields[field].name);
		if (out->n >= X3_ORDER_MAX - 1)
			return mlc_err_set(err, "orderBy: more than %d properties", X3_ORDER_MAX - 1);
		out->field[out->n] = field;
		out->desc[out->n] = 0;
		pos += n;
		while (pos < len && text[pos] == ' ')
			pos++;
		for (n = 0; pos + n < len && isalpha((unsigned char)text[pos + n]); n++)
			;
		if (n == 3 && strncasecmp(text + pos, "asc", 3) == 0) {
			pos += n;
		} else if (n == 4 && strncasecmp(text + pos, "desc", 4) == 0) {
			out->desc[out->n] = 1;
			pos += n;
		} else if (n != 0) {
			return mlc_err_set(err, "orderBy: 'asc' or 'desc' expected at offset %zu", pos);
		}
		out->n++;
		while (pos < len && text[pos] == ' ')
			pos++;
		if (pos == len)
			break;
		if (text[pos] != ',' && text[pos] != ';')
			return mlc_err_set(err, "orderBy: ',' expected at offset %zu", pos);
		pos++;
	}
	*why = X3_WHERE_OK;
	return 0;
}

void
x3_order_tiebreak(struct x3_order *o, int key_field)
{
	for (int i = 0; i < o->n; i++)
		if (o->field[i] == key_field)
			return;
	if (o->n < X3_ORDER_MAX) {
		o->field[o->n] = key_field;
		o->desc[o->n] = 0;
		o->n++;
	}
}

int
x3_order_cmp(const struct x3_order *o, const struct x3_schema *s,
    const struct x3_value *a, const struct x3_value *b)
{
	for (int i = 0; i < o->n; i++) {
		int f = o->field[i];
		int c = x3_value_cmp(s->fields[f].type, &a[f], &b[f]);

		if (c != 0)
			return o->desc[i] ? -c : c;
	}
	return 0;
}

/* ---- cursor ------------------------------------------------------------ */

/*
 * Plain text "c1" then, per order term, 0x1F and the value (decimal for
 * numbers, raw text for strings), hex-encoded. The orderBy itself travels
 * in the next URL unchanged; the cursor only holds positions.
 */
#define CURSOR_SEP '\x1f'

int
x3_cursor_encode(const struct x3_order *o, const struct x3_schema *s,
    const struct x3_value *row, char *out, size_t outsz)
{
	char plain[X3_CURSOR_MAX / 2];
	size_t n = 0;
	int m;

	m = snprintf(plain, sizeof(plain), "c1");
	n = (size_t)m;
	for (int i = 0; i < o->n; i++) {
		const struct x3_value *v = &row[o->field[i]];
		enum x3_type t = s->fields[o->field[i]].type;

		if (t == X3_T_STRING || t == X3_T_DATE) {
			if (strchr(v->str, CURSOR_SEP) != NULL)
				return -1;
			m = snprintf(plain + n, sizeof(plain) - n, "%c%s", CURSOR_SEP, v->str);
		} else {
			m = snprintf(plain + n, sizeof(plain) - n, "%c%lld", CURSOR_SEP,
			    (long long)v->num);
		}
		if (m < 0 || (size_t)m >= sizeof(plain) - n)
			return -1;
		n += (size_t)m;
	}
	return x3_hex_encode(plain, n, out, outsz);
}

/* Strict int64 parse of exactly len bytes: optional '-', 1..18 digits. */
static int
parse_i64(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	int64_t v = 0;

	if (len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (len == i || len - i > 18)
		return -1;
	for (; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

int
x3_cursor_decode(const char *text, const struct x3_order *o,
    const struct x3_schema *s, struct x3_value *row_out, struct mlc_err *err)
{
	char plain[X3_CURSOR_MAX / 2 + 1];
	size_t hlen = strnlen(text, X3_CURSOR_MAX + 1), n, pos;
	int term = 0;

	if (hlen > X3_CURSOR_MAX || hlen % 2 != 0 || hlen == 0)
		return mlc_err_set(err, "cursor: malformed (length %zu)", hlen);
	n = hlen / 2;
	for (size_t k = 0; k < n; k++) {
		int hi = x3_hex_digit(text[2 * k]), lo = x3_hex_digit(text[2 * k + 1]);

		if (hi < 0 || lo < 0)
			return mlc_err_set(err, "cursor: malformed (not hex)");
		plain[k] = (char)(hi << 4 | lo);
	}
	plain[n] = '\0';
	if (n < 2 || memcmp(plain, "c1", 2) != 0)
		return mlc_err_set(err, "cursor: unknown version");
	pos = 2;
	while (pos < n) {
		const char *v;
		size_t vlen;
		struct x3_value *dst;
		enum x3_type t;

		if (plain[pos] != CURSOR_SEP || term >= o->n)
			return mlc_err_set(err, "cursor: does not match the orderBy of this query");
		v = plain + ++pos;
		for (vlen = 0; pos + vlen < n && plain[pos + vlen] != CURSOR_SEP; vlen++)
			if (plain[pos + vlen] == '\0')
				return mlc_err_set(err, "cursor: malformed (NUL byte)");
		pos += vlen;
		dst = &row_out[o->field[term]];
		t = s->fields[o->field[term]].type;
		if (t == X3_T_STRING || t == X3_T_DATE) {
			if (vlen >= sizeof(dst->str))
				return mlc_err_set(err, "cursor: value too long");
			memcpy(dst->str, v, vlen);
			dst->str[vlen] = '\0';
		} else if (parse_i64(v, vlen, &dst->num) != 0) {
			return mlc_err_set(err, "cursor: malformed number");
		}
		term++;
	}
	if (term != o->n)
		return mlc_err_set(err, "cursor: does not match the orderBy of this query");
	return 0;
}
