/*
 * gql.c: the small part of GraphQL that X3's xtrem endpoint is queried with
 * (reference section 2), parsed strictly and bounded:
 *
 *   - a document parser: one `query` operation (named or anonymous) with
 *     optional variable definitions, nested selection sets and field
 *     arguments (Int, String, null, $variable literals);
 *   - the `query(first, after, filter, orderBy)` argument resolver;
 *   - the filter object-literal language ({_updateStamp:{_gt:'...'}},
 *     _and / _or) and the orderBy literal ("{_updateStamp:1, id:1}");
 *   - the opaque keyset cursor of a connection.
 *
 * Not a GraphQL engine: graphql.c checks the connection shape and projects
 * the selection onto nodes it builds. Pure functions over text (jansson only
 * to read the variables object): no I/O, no locks, so
 * tests/unit/test_x3sim_gql.c includes this file directly. Every error names
 * what was wrong and where, since the text comes from the client.
 */
#include "x3sim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_time.h"

/* ---- document parser --------------------------------------------------- */

struct gp {
	const char        *s;
	size_t             len, pos;
	struct x3_gql_doc *d;
	struct mlc_err    *err;
};

static int
gp_err(struct gp *p, const char *what)
{
	return mlc_err_set(p->err, "Syntax Error: %s at offset %zu", what, p->pos);
}

/* Skips GraphQL's ignored tokens: white space, commas, # comments. */
static void
gp_skip(struct gp *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
			p->pos++;
		} else if (c == '#') {
			while (p->pos < p->len && p->s[p->pos] != '\n' && p->s[p->pos] != '\r')
				p->pos++;
		} else {
			break;
		}
	}
}

static int
gp_peek(struct gp *p)
{
	gp_skip(p);
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int
gp_expect(struct gp *p, char c, const char *what)
{
	if (gp_peek(p) != (unsigned char)c)
		return gp_err(p, what);
	p->pos++;
	return 0;
}

static int
is_name_start(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
is_name_char(int c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Reads a Name into out (X3_GQL_NAME_MAX + 1 bytes). */
static int
gp_name(struct gp *p, char *out, const char *what)
{
	size_t n = 0;

	if (!is_name_start(gp_peek(p)))
		return gp_err(p, what);
	while (p->pos + n < p->len && is_name_char((unsigned char)p->s[p->pos + n]))
		n++;
	if (n > X3_GQL_NAME_MAX)
		return gp_err(p, "name longer than 64 bytes");
	memcpy(out, p->s + p->pos, n);
	out[n] = '\0';
	p->pos += n;
	return 0;
}

static void
put_utf8(char *out, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		out[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*n)++] = (char)(0xc0 | cp >> 6);
		out[(*n)++] = (char)(0x80 | (cp & 63));
	} else {
		out[(*n)++] = (char)(0xe0 | cp >> 12);
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 63));
		out[(*n)++] = (char)(0x80 | (cp & 63));
	}
}

/* A "string" literal with JSON-like escapes; returns a malloc'd copy. */
static char *
gp_string(struct gp *p)
{
	char *out;
	size_t n = 0, start = p->pos;

	if (p->pos + 2 < p->len && strncmp(p->s + p->pos, "\"\"\"", 3) == 0) {
		gp_err(p, "block strings are not supported");
		return NULL;
	}
	out = malloc(X3_GQL_STR_MAX + 4);
	if (out == NULL) {
		gp_err(p, "out of memory");
		return NULL;
	}
	p->pos++;
	for (;;) {
		unsigned char c;

		if (p->pos >= p->len) {
			p->pos = start;
			gp_err(p, "unterminated string");
			goto bad;
		}
		if (n >= X3_GQL_STR_MAX) {
			p->pos = start;
			gp_err(p, "string literal longer than 4096 bytes");
			goto bad;
		}
		c = (unsigned char)p->s[p->pos++];
		if (c == '"')
			break;
		if (c < 0x20 && c != '\t') {
			gp_err(p, "control character in string");
			goto bad;
		}
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		if (p->pos >= p->len) {
			gp_err(p, "unterminated escape");
			goto bad;
		}
		c = (unsigned char)p->s[p->pos++];
		switch (c) {
		case '"': case '\\': case '/': out[n++] = (char)c; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u': {
			unsigned cp = 0;

			for (int i = 0; i < 4; i++) {
				int h = p->pos < p->len ? p->s[p->pos++] : 0;

				if (!isxdigit(h)) {
					gp_err(p, "bad \\u escape");
					goto bad;
				}
				cp = cp * 16 + (unsigned)(isdigit(h) ? h - '0' : (tolower(h) - 'a' + 10));
			}
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
				gp_err(p, "\\u escape of NUL or a surrogate");
				goto bad;
			}
			put_utf8(out, &n, cp);
			break;
		}
		default:
			gp_err(p, "invalid escape in string");
			goto bad;
		}
	}
	out[n] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* A value literal into a (name already set by the caller). */
static int
gp_value(struct gp *p, struct x3_gql_arg *a)
{
	int c = gp_peek(p);

	if (c == '"') {
		a->kind = X3_GQL_V_STRING;
		a->sval = gp_string(p);
		return a->sval != NULL ? 0 : -1;
	}
	if (c == '$') {
		char name[X3_GQL_NAME_MAX + 1];

		p->pos++;
		if (gp_name(p, name, "variable name expected after '$'") != 0)
			return -1;
		a->kind = X3_GQL_V_VAR;
		a->sval = strdup(name);
		return a->sval != NULL ? 0 : gp_err(p, "out of memory");
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		size_t start = p->pos, n = 0;
		long long v = 0;
		int neg = c == '-';

		if (neg)
			p->pos++;
		while (p->pos < p->len && isdigit((unsigned char)p->s[p->pos])) {
			if (++n > 12) {
				p->pos = start;
				return gp_err(p, "integer out of range");
			}
			v = v * 10 + (p->s[p->pos++] - '0');
		}
		if (n == 0 || (p->pos < p->len && (p->s[p->pos] == '.' ||
		    p->s[p->pos] == 'e' || p->s[p->pos] == 'E' ||
		    is_name_start((unsigned char)p->s[p->pos])))) {
			p->pos = start;
			return gp_err(p, "only integer numbers are supported");
		}
		a->kind = X3_GQL_V_INT;
		a->ival = neg ? -v : v;
		return 0;
	}
	if (is_name_start(c)) {
		char name[X3_GQL_NAME_MAX + 1];

		if (gp_name(p, name, "value expected") != 0)
			return -1;
		if (strcmp(name, "null") == 0) {
			a->kind = X3_GQL_V_NULL;
			return 0;
		}
		p->pos -= strlen(name);
		return gp_err(p, "unsupported value (use an integer, a \"string\", null or a $variable)");
	}
	return gp_err(p, "value expected");
}

static int gp_selset(struct gp *p, int depth);

static int
gp_field(struct gp *p, int depth)
{
	struct x3_gql_doc *d = p->d;
	struct x3_gql_field *f;
	int idx;

	if (gp_peek(p) == '.')
		return gp_err(p, "fragments are not supported");
	if (d->nfields >= X3_GQL_FIELDS_MAX)
		return gp_err(p, "more than 256 fields");
	idx = d->nfields++;
	f = &d->fields[idx];
	f->first_child = -1;
	f->next = -1;
	if (gp_name(p, f->name, "field name expected") != 0)
		return -1;
	if (gp_peek(p) == ':')
		return gp_err(p, "aliases are not supported");
	if (gp_peek(p) == '(') {
		p->pos++;
		f->arg0 = d->nargs;
		while (gp_peek(p) != ')') {
			struct x3_gql_arg *a;

			if (d->nargs >= X3_GQL_ARGS_MAX)
				return gp_err(p, "more than 16 arguments");
			a = &d->args[d->nargs++];
			f->nargs++;
			if (gp_name(p, a->name, "argument name expected") != 0 ||
			    gp_expect(p, ':', "':' expected after the argument name") != 0 ||
			    gp_value(p, a) != 0)
				return -1;
		}
		p->pos++;
		if (f->nargs == 0)
			return gp_err(p, "empty argument list");
	}
	if (gp_peek(p) == '@')
		return gp_err(p, "directives are not supported");
	if (gp_peek(p) == '{') {
		int child = gp_selset(p, depth + 1);

		if (child < 0)
			return -1;
		d->fields[idx].first_child = child;
	}
	return idx;
}

/* '{' field+ '}'; returns the first field's index. */
static int
gp_selset(struct gp *p, int depth)
{
	int first = -1, prev = -1, idx;

	if (depth > X3_GQL_DEPTH_MAX)
		return gp_err(p, "selection sets nested deeper than 12");
	if (gp_expect(p, '{', "'{' expected") != 0)
		return -1;
	while (gp_peek(p) != '}') {
		if (gp_peek(p) < 0)
			return gp_err(p, "'}' expected");
		idx = gp_field(p, depth);
		if (idx < 0)
			return -1;
		if (prev < 0)
			first = idx;
		else
			p->d->fields[prev].next = idx;
		prev = idx;
	}
	p->pos++;
	if (first < 0)
		return gp_err(p, "empty selection set");
	return first;
}

static int
gp_vardefs(struct gp *p)
{
	struct x3_gql_doc *d = p->d;

	p->pos++; /* '(' */
	while (gp_peek(p) != ')') {
		struct x3_gql_vardef *v;

		if (d->nvars >= X3_GQL_VARS_MAX)
			return gp_err(p, "more than 8 variables");
		v = &d->vars[d->nvars];
		if (gp_expect(p, '$', "'$' expected in a variable definition") != 0 ||
		    gp_name(p, v->name, "variable name expected") != 0 ||
		    gp_expect(p, ':', "':' expected after the variable name") != 0)
			return -1;
		for (int i = 0; i < d->nvars; i++)
			if (strcmp(d->vars[i].name, v->name) == 0)
				return gp_err(p, "variable defined twice");
		if (gp_peek(p) == '[')
			return gp_err(p, "list types are not supported");
		if (gp_name(p, v->type, "type name expected") != 0)
			return -1;
		if (gp_peek(p) == '!') {
			p->pos++;
			v->non_null = 1;
		}
		d->nvars++;
		if (gp_peek(p) == '=') {
			p->pos++;
			if (gp_value(p, &v->dflt) != 0)
				return -1;
			if (v->dflt.kind == X3_GQL_V_VAR)
				return gp_err(p, "a default value cannot be a variable");
		}
	}
	p->pos++;
	return 0;
}

int
x3_gql_parse(const char *text, size_t len, struct x3_gql_doc **out,
    struct mlc_err *err)
{
	struct gp p = { text, len, 0, NULL, err };
	char word[X3_GQL_NAME_MAX + 1];

	*out = NULL;
	if (len > X3_GQL_TEXT_MAX)
		return mlc_err_set(err, "query text longer than %d bytes", X3_GQL_TEXT_MAX);
	if (memchr(text, '\0', len) != NULL)
		return mlc_err_set(err, "NUL byte in the query text");
	p.d = calloc(1, sizeof(*p.d));
	if (p.d == NULL)
		return mlc_err_set(err, "out of memory");
	if (is_name_start(gp_peek(&p))) {
		if (gp_name(&p, word, "operation expected") != 0)
			goto err;
		if (strcmp(word, "query") != 0) {
			p.pos -= strlen(word);
			mlc_err_set(err, "operation '%s' is not supported: only query", word);
			goto err;
		}
		if (is_name_start(gp_peek(&p)) && gp_name(&p, word, "operation name") != 0)
			goto err;
		if (gp_peek(&p) == '(' && gp_vardefs(&p) != 0)
			goto err;
	}
	p.d->top = gp_selset(&p, 0);
	if (p.d->top < 0)
		goto err;
	if (gp_peek(&p) >= 0) {
		gp_err(&p, "unexpected text after the operation (one operation per request)");
		goto err;
	}
	*out = p.d;
	return 0;
err:
	x3_gql_free(&p.d);
	return -1;
}

void
x3_gql_free(struct x3_gql_doc **dp)
{
	struct x3_gql_doc *d;

	if (dp == NULL || *dp == NULL)
		return;
	d = *dp;
	for (int i = 0; i < d->nargs; i++)
		free(d->args[i].sval);
	for (int i = 0; i < d->nvars; i++)
		free(d->vars[i].dflt.sval);
	free(d);
	*dp = NULL;
}

int
x3_gql_connection(const struct x3_gql_doc *d, int *root, int *node, int *query,
    struct mlc_err *err)
{
	const struct x3_gql_field *f;

	*root = d->top;
	f = &d->fields[*root];
	if (f->next >= 0)
		return mlc_err_set(err, "exactly one root field (e.g. xtremX3Purchasing) per request");
	if (f->nargs > 0 || f->first_child < 0)
		return mlc_err_set(err, "root field \"%s\" takes no arguments and needs a selection",
		    f->name);
	*node = f->first_child;
	f = &d->fields[*node];
	if (f->next >= 0)
		return mlc_err_set(err, "exactly one node field under the root per request");
	if (f->nargs > 0 || f->first_child < 0)
		return mlc_err_set(err, "node field \"%s\" takes no arguments and needs a selection",
		    f->name);
	*query = f->first_child;
	f = &d->fields[*query];
	if (strcmp(f->name, "query") != 0)
		return mlc_err_set(err, "Cannot query field \"%s\" on the node: only query(...) is "
		    "simulated", f->name);
	if (f->next >= 0)
		return mlc_err_set(err, "only one field (query) under the node");
	if (f->first_child < 0)
		return mlc_err_set(err, "query(...) needs a selection (edges, pageInfo, totalCount)");
	return 0;
}

/* ---- query(...) arguments ---------------------------------------------- */

static const struct x3_gql_vardef *
find_var(const struct x3_gql_doc *d, const char *name)
{
	for (int i = 0; i < d->nvars; i++)
		if (strcmp(d->vars[i].name, name) == 0)
			return &d->vars[i];
	return NULL;
}

int
x3_gql_qargs_resolve(const struct x3_gql_doc *d, int field, const json_t *vars,
    struct x3_gql_qargs *out, struct mlc_err *err)
{
	const struct x3_gql_field *f = &d->fields[field];
	int seen[4] = { 0 };

	memset(out, 0, sizeof(*out));
	out->first = X3_GQL_FIRST_DEFAULT;
	for (int i = 0; i < f->nargs; i++) {
		const struct x3_gql_arg *a = &d->args[f->arg0 + i];
		static const char *const names[4] = { "first", "after", "filter", "orderBy" };
		static const size_t maxlen[4] = { 0, X3_CURSOR_MAX, X3_GQL_FILTER_MAX,
			X3_GQL_FILTER_MAX };
		int k, is_int;
		long long ival = 0;
		const char *sval = NULL;
		char **dst;

		for (k = 0; k < 4; k++)
			if (strcmp(a->name, names[k]) == 0)
				break;
		if (k == 4) {
			mlc_err_set(err, "Unknown argument \"%s\" on field \"query\" "
			    "(first, after, filter, orderBy)", a->name);
			goto err;
		}
		if (seen[k]++) {
			mlc_err_set(err, "argument \"%s\" given twice", a->name);
			goto err;
		}
		is_int = k == 0;
		if (a->kind == X3_GQL_V_VAR) {
			const struct x3_gql_vardef *v = find_var(d, a->sval);
			const json_t *j = json_is_object(vars) ? json_object_get(vars, a->sval) : NULL;

			if (v == NULL) {
				mlc_err_set(err, "Variable \"$%s\" is not defined", a->sval);
				goto err;
			}
			if (strcmp(v->type, is_int ? "Int" : "String") != 0) {
				mlc_err_set(err, "Variable \"$%s\" of type \"%s\" used in position "
				    "expecting type \"%s\"", a->sval, v->type, is_int ? "Int" : "String");
				goto err;
			}
			if (j == NULL && v->dflt.kind != X3_GQL_V_NULL) {
				if ((v->dflt.kind == X3_GQL_V_INT) != is_int) {
					mlc_err_set(err, "Variable \"$%s\" has a default of the wrong type",
					    a->sval);
					goto err;
				}
				ival = v->dflt.ival;
				sval = v->dflt.sval;
			} else if (j == NULL || json_is_null(j)) {
				if (v->non_null) {
					mlc_err_set(err, "Variable \"$%s\" of required type \"%s!\" was "
					    "not provided", a->sval, v->type);
					goto err;
				}
				continue; /* null: as if absent */
			} else if (is_int) {
				if (!json_is_integer(j)) {
					mlc_err_set(err, "Variable \"$%s\" got an invalid value: Int expected",
					    a->sval);
					goto err;
				}
				ival = (long long)json_integer_value(j);
			} else {
				if (!json_is_string(j)) {
					mlc_err_set(err, "Variable \"$%s\" got an invalid value: String "
					    "expected", a->sval);
					goto err;
				}
				sval = json_string_value(j);
			}
		} else if (a->kind == X3_GQL_V_NULL) {
			continue;
		} else if ((a->kind == X3_GQL_V_INT) != is_int) {
			mlc_err_set(err, "Argument \"%s\" has an invalid value: %s expected", a->name,
			    is_int ? "Int" : "String");
			goto err;
		} else {
			ival = a->ival;
			sval = a->sval;
		}
		if (is_int) {
			if (ival < 1 || ival > X3_GQL_FIRST_MAX) {
				mlc_err_set(err, "first must be from 1 to %d", X3_GQL_FIRST_MAX);
				goto err;
			}
			out->first = (long)ival;
			continue;
		}
		if (strlen(sval) > maxlen[k]) {
			mlc_err_set(err, "argument \"%s\" longer than %zu bytes", names[k], maxlen[k]);
			goto err;
		}
		dst = k == 1 ? &out->after : k == 2 ? &out->filter : &out->orderBy;
		*dst = strdup(sval);
		if (*dst == NULL) {
			mlc_err_set(err, "out of memory");
			goto err;
		}
	}
	return 0;
err:
	x3_gql_qargs_free(out);
	return -1;
}

void
x3_gql_qargs_free(struct x3_gql_qargs *q)
{
	free(q->after);
	free(q->filter);
	free(q->orderBy);
	q->after = q->filter = q->orderBy = NULL;
}

/* ---- filter and orderBy literals --------------------------------------- */

enum fop { FOP_EQ, FOP_NE, FOP_GT, FOP_GTE, FOP_LT, FOP_LTE };
enum fkind { FN_AND, FN_OR, FN_CMP };

struct fnode {
	enum fkind      kind;
	int             first_child, next;
	enum x3_gql_key key;
	enum fop        op;
	int64_t         ms;              /* stamp keys, milliseconds */
	char            str[X3_GQL_ID_MAX]; /* id */
};

struct x3_gql_filter {
	struct fnode nodes[X3_GQL_FILTER_NODES];
	int          n, root;
};

struct lp {
	const char     *s;
	size_t          len, pos;
	struct mlc_err *err;
	const char     *what; /* "filter" or "orderBy" */
};

static int
lp_err(struct lp *p, const char *msg)
{
	return mlc_err_set(p->err, "%s: %s at offset %zu", p->what, msg, p->pos);
}

static int
lp_peek(struct lp *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
	    p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

/* A 'single' or "double" quoted string with \ escapes, into out. */
static int
lp_quoted(struct lp *p, char *out, size_t outsz)
{
	char q = p->s[p->pos];
	size_t n = 0, start = p->pos++;

	for (;;) {
		char c;

		if (p->pos >= p->len) {
			p->pos = start;
			return lp_err(p, "unterminated string");
		}
		c = p->s[p->pos++];
		if (c == q)
			break;
		if (c == '\\') {
			if (p->pos >= p->len)
				continue;
			c = p->s[p->pos++];
			if (c != '\\' && c != '\'' && c != '"' && c != '/') {
				p->pos -= 2;
				return lp_err(p, "unsupported escape in string");
			}
		}
		if ((unsigned char)c < 0x20)
			return lp_err(p, "control character in string");
		if (n + 1 >= outsz) {
			p->pos = start;
			return lp_err(p, "string too long");
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

/* An object key: a name, or a quoted name. */
static int
lp_key(struct lp *p, char *out, size_t outsz)
{
	int c = lp_peek(p);
	size_t n = 0;

	if (c == '\'' || c == '"')
		return lp_quoted(p, out, outsz);
	if (!is_name_start(c))
		return lp_err(p, "property name expected");
	while (p->pos < p->len && is_name_char((unsigned char)p->s[p->pos])) {
		if (n + 1 >= outsz)
			return lp_err(p, "property name too long");
		out[n++] = p->s[p->pos++];
	}
	out[n] = '\0';
	return 0;
}

static int
lp_expect(struct lp *p, char c, const char *msg)
{
	if (lp_peek(p) != (unsigned char)c)
		return lp_err(p, msg);
	p->pos++;
	return 0;
}

/* After a member: ',' (then maybe the closer) or the closer. Returns 1 when
 * the closer was consumed, 0 to read another member, -1 on error. */
static int
lp_after_member(struct lp *p, char closer)
{
	int c = lp_peek(p);

	if (c == ',') {
		p->pos++;
		if (lp_peek(p) == (unsigned char)closer) {
			p->pos++;
			return 1;
		}
		return 0;
	}
	if (c == (unsigned char)closer) {
		p->pos++;
		return 1;
	}
	return lp_err(p, closer == '}' ? "',' or '}' expected" : "',' or ']' expected");
}

static int
key_of(const char *name, enum x3_gql_key *k)
{
	if (strcmp(name, "_updateStamp") == 0)
		*k = X3_GQL_K_STAMP;
	else if (strcmp(name, "_createStamp") == 0)
		*k = X3_GQL_K_CSTAMP;
	else if (strcmp(name, "id") == 0)
		*k = X3_GQL_K_ID;
	else
		return -1;
	return 0;
}

/* ISO-8601 UTC (or a date) into milliseconds, the fraction kept. */
static int
stamp_ms(const char *s, int64_t *ms)
{
	char tmp[64];
	int64_t sec;
	int frac = 0, digits = 0;
	size_t n = strlen(s);

	if (n == 10) {
		if (snprintf(tmp, sizeof(tmp), "%sT00:00:00Z", s) >= (int)sizeof(tmp))
			return -1;
		s = tmp;
	}
	if (mlc_time_parse(s, &sec) != 0)
		return -1;
	if (strlen(s) > 19 && s[19] == '.') {
		for (const char *q = s + 20; isdigit((unsigned char)*q) && digits < 3; q++, digits++)
			frac = frac * 10 + (*q - '0');
		while (digits++ < 3)
			frac *= 10;
	}
	*ms = sec * 1000 + frac;
	return 0;
}

static int
new_fnode(struct lp *p, struct x3_gql_filter *f, enum fkind kind)
{
	if (f->n >= X3_GQL_FILTER_NODES)
		return lp_err(p, "more than 128 conditions");
	memset(&f->nodes[f->n], 0, sizeof(f->nodes[f->n]));
	f->nodes[f->n].kind = kind;
	f->nodes[f->n].first_child = -1;
	f->nodes[f->n].next = -1;
	return f->n++;
}

static void
add_child(struct x3_gql_filter *f, int parent, int *last, int child)
{
	if (*last < 0)
		f->nodes[parent].first_child = child;
	else
		f->nodes[*last].next = child;
	*last = child;
}

/* One comparison `op: 'value'` (or a bare value: _eq) on key. */
static int
lp_cmp(struct lp *p, struct x3_gql_filter *f, enum x3_gql_key key, enum fop op)
{
	char val[X3_GQL_ID_MAX];
	int c = lp_peek(p), idx;

	if (c != '\'' && c != '"')
		return lp_err(p, "a quoted value expected");
	if (lp_quoted(p, val, sizeof(val)) != 0)
		return -1;
	idx = new_fnode(p, f, FN_CMP);
	if (idx < 0)
		return -1;
	f->nodes[idx].key = key;
	f->nodes[idx].op = op;
	if (key == X3_GQL_K_ID) {
		memcpy(f->nodes[idx].str, val, sizeof(val));
	} else if (stamp_ms(val, &f->nodes[idx].ms) != 0) {
		return lp_err(p, "stamp value is not an ISO-8601 date-time "
		    "(YYYY-MM-DDTHH:MM:SS[.fff]Z)");
	}
	return idx;
}

static int
lp_ops(struct lp *p, struct x3_gql_filter *f, enum x3_gql_key key)
{
	static const char *const ops[] = { "_eq", "_ne", "_gt", "_gte", "_lt", "_lte" };
	int node, last = -1, rc;

	node = new_fnode(p, f, FN_AND);
	if (node < 0)
		return -1;
	p->pos++; /* '{' */
	if (lp_peek(p) == '}') {
		p->pos++;
		return node;
	}
	do {
		char name[X3_GQL_NAME_MAX + 1];
		size_t at = p->pos;
		int k, child;

		if (lp_key(p, name, sizeof(name)) != 0)
			return -1;
		for (k = 0; k < 6; k++)
			if (strcmp(name, ops[k]) == 0)
				break;
		if (k == 6) {
			p->pos = at;
			return lp_err(p, "unsupported operator (use _eq _ne _gt _gte _lt _lte)");
		}
		if (lp_expect(p, ':', "':' expected after the operator") != 0)
			return -1;
		child = lp_cmp(p, f, key, (enum fop)k);
		if (child < 0)
			return -1;
		add_child(f, node, &last, child);
		rc = lp_after_member(p, '}');
	} while (rc == 0);
	return rc < 0 ? -1 : node;
}

static int
lp_object(struct lp *p, struct x3_gql_filter *f, int depth)
{
	int node, last = -1, rc;

	if (depth > X3_GQL_FILTER_DEPTH)
		return lp_err(p, "nested deeper than 16");
	if (lp_expect(p, '{', "'{' expected") != 0)
		return -1;
	node = new_fnode(p, f, FN_AND);
	if (node < 0)
		return -1;
	if (lp_peek(p) == '}') {
		p->pos++;
		return node;
	}
	do {
		char name[X3_GQL_NAME_MAX + 1];
		enum x3_gql_key key;
		size_t at;
		int child;

		at = p->pos;
		if (lp_key(p, name, sizeof(name)) != 0 ||
		    lp_expect(p, ':', "':' expected after the property") != 0)
			return -1;
		if (strcmp(name, "_and") == 0 || strcmp(name, "_or") == 0) {
			int clast = -1;

			child = new_fnode(p, f, name[1] == 'a' ? FN_AND : FN_OR);
			if (child < 0 || lp_expect(p, '[', "'[' expected after _and / _or") != 0)
				return -1;
			if (lp_peek(p) == ']') {
				p->pos++;
			} else {
				int r2;

				do {
					int g = lp_object(p, f, depth + 1);

					if (g < 0)
						return -1;
					add_child(f, child, &clast, g);
					r2 = lp_after_member(p, ']');
				} while (r2 == 0);
				if (r2 < 0)
					return -1;
			}
		} else if (key_of(name, &key) == 0) {
			child = lp_peek(p) == '{' ? lp_ops(p, f, key) : lp_cmp(p, f, key, FOP_EQ);
			if (child < 0)
				return -1;
		} else {
			p->pos = at;
			return lp_err(p, "unknown property (filter on _updateStamp, _createStamp, "
			    "id, or combine with _and / _or)");
		}
		add_child(f, node, &last, child);
		rc = lp_after_member(p, '}');
	} while (rc == 0);
	return rc < 0 ? -1 : node;
}

static int
blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

int
x3_gql_filter_parse(const char *text, struct x3_gql_filter **out,
    struct mlc_err *err)
{
	struct lp p = { text, 0, 0, err, "filter" };
	struct x3_gql_filter *f;

	*out = NULL;
	p.len = strnlen(text, X3_GQL_FILTER_MAX + 1);
	if (p.len > X3_GQL_FILTER_MAX)
		return mlc_err_set(err, "filter longer than %d bytes", X3_GQL_FILTER_MAX);
	if (blank(text))
		return 0;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return mlc_err_set(err, "out of memory");
	f->root = lp_object(&p, f, 0);
	if (f->root < 0)
		goto err;
	if (lp_peek(&p) >= 0) {
		lp_err(&p, "unexpected text after the filter object");
		goto err;
	}
	*out = f;
	return 0;
err:
	free(f);
	return -1;
}

static int
feval(const struct x3_gql_filter *f, int idx, const struct x3_gql_row *r)
{
	const struct fnode *nd = &f->nodes[idx];
	int c;

	if (nd->kind == FN_AND || nd->kind == FN_OR) {
		int any = 0;

		for (int ch = nd->first_child; ch >= 0; ch = f->nodes[ch].next) {
			int m = feval(f, ch, r);

			if (nd->kind == FN_AND && !m)
				return 0;
			any |= m;
		}
		return nd->kind == FN_AND ? 1 : any;
	}
	if (nd->key == X3_GQL_K_ID) {
		c = strcmp(r->id, nd->str);
	} else {
		int64_t v = (nd->key == X3_GQL_K_STAMP ? r->stamp : r->cstamp) * 1000;

		c = (v > nd->ms) - (v < nd->ms);
	}
	switch (nd->op) {
	case FOP_EQ: return c == 0;
	case FOP_NE: return c != 0;
	case FOP_GT: return c > 0;
	case FOP_GTE: return c >= 0;
	case FOP_LT: return c < 0;
	case FOP_LTE: return c <= 0;
	}
	return 0;
}

int
x3_gql_filter_match(const struct x3_gql_filter *f, const struct x3_gql_row *r)
{
	return f == NULL || feval(f, f->root, r);
}

void
x3_gql_filter_free(struct x3_gql_filter **fp)
{
	if (fp != NULL) {
		free(*fp);
		*fp = NULL;
	}
}

int
x3_gql_order_parse(const char *text, struct x3_gql_order *o, struct mlc_err *err)
{
	struct lp p = { text, 0, 0, err, "orderBy" };
	int rc, has_id = 0;

	memset(o, 0, sizeof(*o));
	p.len = strnlen(text, X3_GQL_FILTER_MAX + 1);
	if (p.len > X3_GQL_FILTER_MAX)
		return mlc_err_set(err, "orderBy longer than %d bytes", X3_GQL_FILTER_MAX);
	if (!blank(text)) {
		if (lp_expect(&p, '{', "'{' expected") != 0)
			return -1;
		if (lp_peek(&p) == '}') {
			p.pos++;
			rc = 1;
		} else {
			rc = 0;
		}
		while (rc == 0) {
			char name[X3_GQL_NAME_MAX + 1];
			enum x3_gql_key key;
			int neg = 0;
			size_t at = p.pos;

			if (lp_key(&p, name, sizeof(name)) != 0)
				return -1;
			if (key_of(name, &key) != 0) {
				p.pos = at;
				return lp_err(&p, "can only sort on _updateStamp, _createStamp, id");
			}
			for (int i = 0; i < o->n; i++)
				if (o->key[i] == key)
					return lp_err(&p, "property listed twice");
			if (o->n >= 3)
				return lp_err(&p, "too many sort properties");
			if (lp_expect(&p, ':', "':' expected") != 0)
				return -1;
			if (lp_peek(&p) == '-') {
				neg = 1;
				p.pos++;
			}
			if (lp_peek(&p) != '1' || (p.pos + 1 < p.len &&
			    isdigit((unsigned char)p.s[p.pos + 1])))
				return lp_err(&p, "sort direction must be 1 or -1");
			p.pos++;
			o->key[o->n] = key;
			o->desc[o->n] = neg;
			o->n++;
			has_id |= key == X3_GQL_K_ID;
			rc = lp_after_member(&p, '}');
			if (rc < 0)
				return -1;
		}
		if (lp_peek(&p) >= 0)
			return lp_err(&p, "unexpected text after the orderBy object");
	}
	if (!has_id) {
		o->key[o->n] = X3_GQL_K_ID;
		o->desc[o->n] = 0;
		o->n++;
	}
	return 0;
}

int
x3_gql_order_cmp(const struct x3_gql_order *o, const struct x3_gql_row *a,
    const struct x3_gql_row *b)
{
	for (int i = 0; i < o->n; i++) {
		int c;

		switch (o->key[i]) {
		case X3_GQL_K_STAMP:
			c = (a->stamp > b->stamp) - (a->stamp < b->stamp);
			break;
		case X3_GQL_K_CSTAMP:
			c = (a->cstamp > b->cstamp) - (a->cstamp < b->cstamp);
			break;
		default:
			c = strcmp(a->id, b->id);
			c = (c > 0) - (c < 0);
			break;
		}
		if (c != 0)
			return o->desc[i] ? -c : c;
	}
	return 0;
}

/* ---- cursor ------------------------------------------------------------ */

/*
 * Plain text "g1", then per order term 0x1F, a tag (u c i, upper-case when
 * descending) and the value; hex-encoded. The tags let a cursor given with
 * another orderBy be refused instead of misread.
 */
#define GSEP '\x1f'

static char
term_tag(const struct x3_gql_order *o, int i)
{
	static const char tags[] = "uci";
	char t = tags[o->key[i]];

	return o->desc[i] ? (char)toupper((unsigned char)t) : t;
}

int
x3_gql_cursor_encode(const struct x3_gql_order *o, const struct x3_gql_row *r,
    char *out, size_t outsz)
{
	char plain[512];
	size_t n;
	int m;

	n = (size_t)snprintf(plain, sizeof(plain), "g1");
	for (int i = 0; i < o->n; i++) {
		if (o->key[i] == X3_GQL_K_ID) {
			if (strchr(r->id, GSEP) != NULL)
				return -1;
			m = snprintf(plain + n, sizeof(plain) - n, "%c%c%s", GSEP, term_tag(o, i), r->id);
		} else {
			m = snprintf(plain + n, sizeof(plain) - n, "%c%c%lld", GSEP, term_tag(o, i),
			    (long long)(o->key[i] == X3_GQL_K_STAMP ? r->stamp : r->cstamp));
		}
		if (m < 0 || (size_t)m >= sizeof(plain) - n)
			return -1;
		n += (size_t)m;
	}
	return x3_hex_encode(plain, n, out, outsz);
}

int
x3_gql_cursor_decode(const char *text, const struct x3_gql_order *o,
    struct x3_gql_row *out, struct mlc_err *err)
{
	char plain[512];
	size_t hlen = strnlen(text, 1024 + 1), n, pos = 2;
	int term = 0;

	memset(out, 0, sizeof(*out));
	if (hlen > 1024 || hlen < 4 || hlen % 2 != 0)
		return mlc_err_set(err, "Invalid cursor: malformed (restart without 'after')");
	n = hlen / 2;
	for (size_t k = 0; k < n; k++) {
		int hi = x3_hex_digit(text[2 * k]), lo = x3_hex_digit(text[2 * k + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return mlc_err_set(err, "Invalid cursor: malformed (restart without 'after')");
		plain[k] = (char)(hi << 4 | lo);
	}
	plain[n] = '\0';
	if (memcmp(plain, "g1", 2) != 0)
		return mlc_err_set(err, "Invalid cursor: unknown version");
	while (pos < n) {
		size_t vlen;
		const char *v;

		if (plain[pos] != GSEP || pos + 1 >= n || term >= o->n ||
		    plain[pos + 1] != term_tag(o, term))
			return mlc_err_set(err, "Invalid cursor: it was made for another orderBy");
		pos += 2;
		v = plain + pos;
		for (vlen = 0; pos + vlen < n && plain[pos + vlen] != GSEP; vlen++)
			;
		if (o->key[term] == X3_GQL_K_ID) {
			if (vlen >= sizeof(out->id))
				return mlc_err_set(err, "Invalid cursor: id too long");
			memcpy(out->id, v, vlen);
			out->id[vlen] = '\0';
		} else {
			int64_t x = 0;
			size_t i = 0;
			int neg = 0;

			if (vlen > 0 && v[0] == '-') {
				neg = 1;
				i = 1;
			}
			if (vlen == i || vlen - i > 18)
				return mlc_err_set(err, "Invalid cursor: bad stamp");
			for (; i < vlen; i++) {
				if (!isdigit((unsigned char)v[i]))
					return mlc_err_set(err, "Invalid cursor: bad stamp");
				x = x * 10 + (v[i] - '0');
			}
			if (o->key[term] == X3_GQL_K_STAMP)
				out->stamp = neg ? -x : x;
			else
				out->cstamp = neg ? -x : x;
		}
		pos += vlen;
		term++;
	}
	if (term != o->n)
		return mlc_err_set(err, "Invalid cursor: it was made for another orderBy");
	return 0;
}
