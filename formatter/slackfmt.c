/* slackfmt: see slackfmt.h. */
#include "slackfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "mlc_money.h"
#include "route.h"

#define ELLIPSIS "\xe2\x80\xa6"

/* Per-value caps inside blocks (characters, escaped). They keep one long
 * value from eating the whole message; the block budget is the real bound. */
#define CAP_CODE    100   /* numbers, codes, dates, currencies */
#define CAP_NAME    500   /* supplier names, descriptions */
#define CAP_LINE    400   /* one GL line */
#define CAP_CONTEXT 300
/* Raw X3 text copied into a buffer before it is escaped: large enough
 * (CAP_NAME characters of 4 bytes and more) that the escape step, which
 * cuts with an ellipsis at a character boundary, decides every cut. */
#define RAW_BUF     2304

static size_t
utf8_len(unsigned char c)
{
	if (c < 0x80) return 1;
	if ((c & 0xe0) == 0xc0) return 2;
	if ((c & 0xf0) == 0xe0) return 3;
	if ((c & 0xf8) == 0xf0) return 4;
	return 1; /* stray continuation byte: count it alone */
}

/* Characters a source character takes once escaped. */
static size_t
esc_width(char c)
{
	return c == '&' ? 5 : (c == '<' || c == '>') ? 4 : 1;
}

/* Width of s once escaped, in characters (code points). */
static size_t
escaped_width(const char *s)
{
	size_t total = 0;

	for (size_t i = 0; s[i] != '\0';) {
		total += esc_width(s[i]);
		for (size_t n = utf8_len((unsigned char)s[i]); n > 0 && s[i]; n--)
			i++;
	}
	return total;
}

/* Code points in s (UTF-8). */
static size_t
u8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

char *
slackfmt_escape(const char *s, size_t max_chars)
{
	size_t cap = strlen(s) * 5 + 4, o = 0, total, budget, used = 0;
	char *out = malloc(cap);
	int cut;

	if (out == NULL)
		return NULL;
	if (max_chars == 0) { /* not even room for the ellipsis */
		out[0] = '\0';
		return out;
	}
	total = escaped_width(s);
	/* Too long: keep what fits in max_chars - 1, then the ellipsis. */
	cut = total > max_chars;
	budget = cut ? max_chars - 1 : total;
	for (size_t i = 0; s[i] != '\0' && used + esc_width(s[i]) <= budget;) {
		used += esc_width(s[i]);
		switch (s[i]) {
		case '&': memcpy(out + o, "&amp;", 5); o += 5; i++; break;
		case '<': memcpy(out + o, "&lt;", 4); o += 4; i++; break;
		case '>': memcpy(out + o, "&gt;", 4); o += 4; i++; break;
		default:
			for (size_t n = utf8_len((unsigned char)s[i]); n > 0 && s[i]; n--)
				out[o++] = s[i++];
		}
	}
	if (cut) {
		memcpy(out + o, ELLIPSIS, 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

const char *
slackfmt_approval(const char *appflg)
{
	static const char *names[] = { "?", "Not approved", "Approved in part",
		"Approved in full", "Approval not managed", "Approved automatically" };

	if (appflg != NULL && appflg[0] >= '1' && appflg[0] <= '5' && appflg[1] == '\0')
		return names[appflg[0] - '0'];
	return "Unknown";
}

const char *
slackfmt_kind_label(const char *kind)
{
	if (kind == NULL)
		return "Record";
	if (strcmp(kind, "purchase_order") == 0)
		return "Purchase order";
	if (strcmp(kind, "supplier_invoice") == 0)
		return "Supplier invoice";
	if (strcmp(kind, "gl_entry") == 0)
		return "GL entry";
	return "Record";
}

const char *
slackfmt_event_label(const char *event)
{
	if (event == NULL)
		return "";
	if (strcmp(event, "status_changed") == 0)
		return "status changed";
	return event;
}

/* ---- a bounded text builder ------------------------------------------- */

/*
 * Text is built from trusted pieces (labels, templates) and X3 pieces
 * (escaped), within max characters. What does not fit is cut at a
 * character boundary, never inside an entity, and marked with one ellipsis;
 * after that the builder is full and ignores the rest. One character is
 * kept in reserve so the ellipsis always fits (so a text of exactly max
 * characters is cut one character early: harmless, and never over).
 */
struct sb {
	char *p;
	size_t len, size;   /* bytes used (without NUL), allocated */
	size_t chars, max;  /* characters used, allowed */
	int full, oom;
};

static void
sb_init(struct sb *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->full = max == 0;
}

static void
sb_bytes(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->size) {
		size_t want = (b->len + n + 1) * 2;
		char *q = realloc(b->p, want < 64 ? 64 : want);

		if (q == NULL) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->size = want < 64 ? 64 : want;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_ellipsis(struct sb *b)
{
	sb_bytes(b, ELLIPSIS, 3);
	b->chars++;
	b->full = 1;
}

/* Trusted text (our labels, the route's template text). */
static void
sb_lit_n(struct sb *b, const char *s, size_t n)
{
	size_t room, chars = 0, i = 0;

	if (b->full || n == 0)
		return;
	room = b->max - 1 - b->chars;
	/* Whole characters while they fit in room. */
	while (i < n) {
		size_t l = utf8_len((unsigned char)s[i]);

		if (i + l > n)
			l = n - i;
		if (chars == room)
			break;
		i += l;
		chars++;
	}
	sb_bytes(b, s, i);
	b->chars += chars;
	if (i < n)
		sb_ellipsis(b);
}

static void
sb_lit(struct sb *b, const char *s)
{
	sb_lit_n(b, s, strlen(s));
}

/* Text from X3: escaped, at most piece_max characters (cut with an
 * ellipsis but the builder goes on), and within what is left. */
static void
sb_esc(struct sb *b, const char *raw, size_t piece_max)
{
	size_t w, room;
	char *e;
	int fills = 0;

	if (b->full || raw == NULL || raw[0] == '\0' || piece_max == 0)
		return;
	w = escaped_width(raw);
	room = b->max - 1 - b->chars;
	if (w <= room && w <= piece_max) {
		e = slackfmt_escape(raw, w);
	} else if (piece_max <= room) {
		e = slackfmt_escape(raw, piece_max);
	} else {
		if (room == 0) {
			sb_ellipsis(b);
			return;
		}
		e = slackfmt_escape(raw, room); /* w > room: cut, ends in the ellipsis */
		fills = 1;
	}
	if (e == NULL) {
		b->oom = 1;
		return;
	}
	sb_bytes(b, e, strlen(e));
	b->chars += u8_chars(e);
	b->full = b->full || fills;
	free(e);
}

/* The built string (malloc'd, "" when nothing was added), or NULL when
 * memory ran out. The builder is emptied. */
static char *
sb_take(struct sb *b)
{
	char *p;

	if (b->oom) {
		free(b->p);
		b->p = NULL;
		return NULL;
	}
	p = b->p != NULL ? b->p : strdup("");
	b->p = NULL;
	return p;
}

/* ---- values ----------------------------------------------------------- */

static const char *
fld(const struct mlc_record *r, const char *name)
{
	const char *v = mlc_record_field(r, name);

	return v ? v : "";
}

static const char *
number_of(const struct mlc_record *r)
{
	const char *n = fld(r, "number");

	return n[0] != '\0' ? n : r->key;
}

static int
is_kind(const struct slackfmt_opts *o, const char *kind)
{
	return o->kind != NULL && strcmp(o->kind, kind) == 0;
}

/* Digits after the point for a currency (ISO 4217 minor units): most have
 * two; these have none or three. */
static int
minor_units(const char *cur)
{
	static const char *const zero[] = { "BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
		"KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF", NULL };
	static const char *const three[] = { "BHD", "IQD", "JOD", "KWD", "LYD", "OMR",
		"TND", NULL };

	for (size_t i = 0; zero[i] != NULL; i++)
		if (strcmp(cur, zero[i]) == 0)
			return 0;
	for (size_t i = 0; three[i] != NULL; i++)
		if (strcmp(cur, three[i]) == 0)
			return 3;
	return 2;
}

/* Copies the longest prefix of s that fits in out without splitting a
 * UTF-8 sequence ("%s" into a short buffer would cut mid-character, and
 * jansson refuses invalid UTF-8). */
static void
u8_copy(char *out, size_t outsz, const char *s)
{
	size_t n = strnlen(s, outsz - 1);

	if (s[n] != '\0')
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* "12,345.60" for a decimal; the raw text (bounded) otherwise; "" when
 * empty. out is raw text: escape it like any X3 value. */
static void
amount_num(const char *amount, const char *cur, char *out, size_t outsz)
{
	struct mlc_money m;

	out[0] = '\0';
	if (amount[0] == '\0')
		return;
	if (mlc_money_parse(amount, &m) == 0 &&
	    mlc_money_format(&m, minor_units(cur), 1, out, outsz) >= 0)
		return;
	u8_copy(out, outsz, amount); /* escaped and cut by the caller */
}

/* "12,345.60 EUR"; "?" for a missing amount. */
static void
amount_text(const char *amount, const char *cur, char *out, size_t outsz)
{
	size_t n;

	amount_num(amount, cur, out, outsz);
	if (out[0] == '\0')
		u8_copy(out, outsz, "?");
	n = strlen(out);
	if (cur[0] != '\0' && n + 2 < outsz) {
		out[n++] = ' ';
		u8_copy(out + n, outsz - n, cur);
	}
}

/* The record's status as words. */
static void
status_words(const struct slackfmt_opts *o, const struct mlc_record *r, char *out,
    size_t outsz)
{
	const char *st = fld(r, "status"), *txt = fld(r, "status_text");

	if (txt[0] != '\0')
		u8_copy(out, outsz, txt);
	else if (is_kind(o, "gl_entry") && strcmp(st, "1") == 0)
		snprintf(out, outsz, "Temporary");
	else if (is_kind(o, "gl_entry") && strcmp(st, "2") == 0)
		snprintf(out, outsz, "Final");
	else if (is_kind(o, "purchase_order") && strcmp(fld(r, "closed"), "2") == 0)
		snprintf(out, outsz, "Closed");
	else
		u8_copy(out, outsz, st);
}

/* The value of template placeholder `name`, raw (to be escaped), in buf
 * when computed. */
static const char *
placeholder(const struct slackfmt_opts *o, const struct mlc_record *r, const char *name,
    char *buf, size_t bufsz)
{
	const char *cur = fld(r, "currency");

	if (strcmp(name, "kind") == 0)
		return slackfmt_kind_label(o->kind);
	if (strcmp(name, "event") == 0)
		return slackfmt_event_label(r->event);
	if (strcmp(name, "entity") == 0)
		return r->entity;
	if (strcmp(name, "key") == 0)
		return r->key;
	if (strcmp(name, "stamp") == 0)
		return r->stamp;
	if (strcmp(name, "route") == 0)
		return o->route != NULL ? o->route : "";
	if (strcmp(name, "number") == 0)
		return number_of(r);
	if (strcmp(name, "approval") == 0)
		return fld(r, "approval")[0] ? slackfmt_approval(fld(r, "approval")) : "";
	if (strcmp(name, "status_text") == 0) {
		status_words(o, r, buf, bufsz);
		return buf;
	}
	if (strcmp(name, "date") == 0)
		return fld(r, is_kind(o, "purchase_order") ? "order_date" : "accounting_date");
	if (strcmp(name, "amount") == 0) {
		struct mlc_money m;

		buf[0] = '\0';
		if (route_amount(r, o->kind ? o->kind : "", o->amount_field, &m) == 0 &&
		    mlc_money_format(&m, minor_units(cur), 1, buf, bufsz) < 0)
			buf[0] = '\0';
		return buf;
	}
	if (strcmp(name, "amount_excl_tax") == 0 || strcmp(name, "amount_incl_tax") == 0) {
		amount_num(fld(r, name), cur, buf, bufsz);
		return buf;
	}
	return fld(r, name);
}

char *
slackfmt_template(const struct slackfmt_opts *o, const struct mlc_record *r,
    size_t max_chars)
{
	const char *t = o->tmpl != NULL ? o->tmpl : "";
	struct sb b;

	sb_init(&b, max_chars);
	while (*t != '\0' && !b.full) {
		size_t lit = strcspn(t, "{}");

		sb_lit_n(&b, t, lit);
		t += lit;
		if (*t == '\0')
			break;
		if ((t[0] == '{' && t[1] == '{') || (t[0] == '}' && t[1] == '}')) {
			sb_lit_n(&b, t, 1);
			t += 2;
		} else if (t[0] == '{' && strchr(t, '}') != NULL) {
			size_t n = (size_t)(strchr(t, '}') - t - 1);
			char name[64], buf[RAW_BUF];

			/* The loader accepted only known names; an unknown
			 * (longer) one renders empty. */
			if (n < sizeof(name)) {
				memcpy(name, t + 1, n);
				name[n] = '\0';
				sb_esc(&b, placeholder(o, r, name, buf, sizeof(buf)), CAP_NAME);
			}
			t += n + 2;
		} else {
			sb_lit_n(&b, t, 1); /* a lone brace: the loader refuses it */
			t++;
		}
	}
	return sb_take(&b);
}

/* ---- deep links -------------------------------------------------------- */

static void
pct_byte(struct sb *b, unsigned char c)
{
	char hex[4];

	snprintf(hex, sizeof(hex), "%%%02X", c);
	sb_bytes(b, hex, 3);
}

/* Appends v percent-encoded: only RFC 3986 unreserved characters stay. */
static void
pct_value(struct sb *b, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~')
			sb_bytes(b, (const char *)p, 1);
		else
			pct_byte(b, *p);
	}
}

char *
slackfmt_link(const char *pattern, const struct mlc_record *r, const char *folder,
    const char *kind)
{
	struct sb b;
	char *url;

	if (pattern == NULL || pattern[0] == '\0')
		return NULL;
	sb_init(&b, 0);
	for (const char *p = pattern; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '{' && strchr(p, '}') != NULL) {
			size_t n = (size_t)(strchr(p, '}') - p - 1);
			const char *v = "";

			if (n == 6 && strncmp(p + 1, "number", 6) == 0)
				v = number_of(r);
			else if (n == 3 && strncmp(p + 1, "key", 3) == 0)
				v = r->key;
			else if (n == 6 && strncmp(p + 1, "folder", 6) == 0)
				v = folder != NULL ? folder : "";
			else if (n == 6 && strncmp(p + 1, "entity", 6) == 0)
				v = r->entity;
			else if (n == 4 && strncmp(p + 1, "kind", 4) == 0)
				v = kind != NULL ? kind : "";
			pct_value(&b, v);
			p += n + 1;
		} else if (c == '&') {
			sb_bytes(&b, "&amp;", 5);
		} else if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '|' ||
		    c == '"') {
			/* The loader refuses these in a pattern; should one get
			 * here, it still cannot end the link. */
			pct_byte(&b, c);
		} else {
			sb_bytes(&b, p, 1);
		}
		if (b.len > SLACKFMT_URL_MAX)
			break;
	}
	url = sb_take(&b);
	if (url != NULL && strlen(url) > SLACKFMT_URL_MAX) {
		free(url);
		return NULL;
	}
	return url;
}

/* ---- Block Kit ---------------------------------------------------------- */

/* The blocks being built, by slot (the order they are shown in), and the
 * characters of block text still allowed. Slots are filled in order of
 * importance (context, header, fields, template, lines) so a tight budget
 * drops the least useful text first. */
enum { SLOT_HEADER, SLOT_TEMPLATE, SLOT_FIELDS, SLOT_LINES, SLOT_CONTEXT, N_SLOTS };

struct kit {
	json_t *slot[N_SLOTS];
	size_t left;
	int oom;
};

static void
kit_put(struct kit *k, int slot, json_t *block)
{
	if (block == NULL) {
		k->oom = 1;
		return;
	}
	json_decref(k->slot[slot]);
	k->slot[slot] = block;
}

/* Takes the characters of s from the budget. */
static void
kit_spend(struct kit *k, const char *s)
{
	size_t n = u8_chars(s);

	k->left = n < k->left ? k->left - n : 0;
}

static json_t *
mrkdwn_obj(const char *text)
{
	return json_pack("{s:s, s:s}", "type", "mrkdwn", "text", text);
}

/* One field "*Label*\nv1<sep>v2"; skipped when both values are empty
 * (unless `always`) or when the budget cannot hold it. */
static void
add_field(struct kit *k, json_t *fields, const char *label, const char *v1, size_t max1,
    const char *sep, const char *v2, size_t max2, int always)
{
	struct sb b;
	char *t;
	size_t cap = k->left < SLACKFMT_FIELD_MAX ? k->left : SLACKFMT_FIELD_MAX;

	v1 = v1 != NULL ? v1 : "";
	v2 = v2 != NULL ? v2 : "";
	if ((!always && v1[0] == '\0' && v2[0] == '\0') ||
	    json_array_size(fields) >= SLACKFMT_MAX_FIELDS || cap < strlen(label) + 8)
		return;
	sb_init(&b, cap);
	sb_lit(&b, "*");
	sb_lit(&b, label);
	sb_lit(&b, "*\n");
	if (v1[0] == '\0' && v2[0] == '\0')
		sb_lit(&b, "-");
	sb_esc(&b, v1, max1);
	if (v1[0] != '\0' && v2[0] != '\0')
		sb_lit(&b, sep);
	sb_esc(&b, v2, max2);
	t = sb_take(&b);
	if (t == NULL) {
		k->oom = 1;
		return;
	}
	kit_spend(k, t);
	if (json_array_append_new(fields, mrkdwn_obj(t)) != 0)
		k->oom = 1;
	free(t);
}

static void
add_section_text(struct kit *k, int slot, char *text)
{
	if (text == NULL) {
		k->oom = 1;
		return;
	}
	if (u8_chars(text) > 0) {
		kit_spend(k, text);
		kit_put(k, slot, json_pack("{s:s, s:o}", "type", "section", "text",
		    mrkdwn_obj(text)));
	}
	free(text);
}

/* The fields section for r's kind. */
static void
add_fields(struct kit *k, const struct slackfmt_opts *o, const struct mlc_record *r)
{
	json_t *fields = json_array();
	const char *cur = fld(r, "currency");
	char excl[RAW_BUF], incl[RAW_BUF], status[RAW_BUF], total[RAW_BUF];

	if (fields == NULL) {
		k->oom = 1;
		return;
	}
	status_words(o, r, status, sizeof(status));
	excl[0] = incl[0] = total[0] = '\0';
	if (fld(r, "amount_excl_tax")[0] != '\0')
		amount_text(fld(r, "amount_excl_tax"), cur, excl, sizeof(excl));
	if (fld(r, "amount_incl_tax")[0] != '\0')
		amount_text(fld(r, "amount_incl_tax"), cur, incl, sizeof(incl));
	if (is_kind(o, "purchase_order")) {
		const char *appr = fld(r, "approval");

		add_field(k, fields, "Order", number_of(r), CAP_CODE, "", NULL, 0, 1);
		add_field(k, fields, "Supplier", fld(r, "supplier_code"), CAP_CODE, " ",
		    fld(r, "supplier_name"), CAP_NAME, 0);
		add_field(k, fields, "Amount (excl. tax)", excl, CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Amount (incl. tax)", incl, CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Approval", slackfmt_approval(appr), CAP_CODE, "", NULL,
		    0, 1);
		/* The approval is the PO's status in X3 terms; show another
		 * status only when it says something else (closed, ...). */
		if (strcmp(status, slackfmt_approval(appr)) != 0)
			add_field(k, fields, "Status", status, CAP_NAME, "", NULL, 0, 0);
		add_field(k, fields, "Site", fld(r, "site"), CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Order date", fld(r, "order_date"), CAP_CODE, "", NULL,
		    0, 0);
		add_field(k, fields, "Reference", fld(r, "reference"), CAP_NAME, "", NULL, 0, 0);
		add_field(k, fields, "Updated by", fld(r, "updated_by"), CAP_CODE, "", NULL,
		    0, 0);
	} else if (is_kind(o, "supplier_invoice")) {
		add_field(k, fields, "Invoice", number_of(r), CAP_CODE, "", NULL, 0, 1);
		add_field(k, fields, "Supplier", fld(r, "supplier_code"), CAP_CODE, " ",
		    fld(r, "supplier_name"), CAP_NAME, 0);
		add_field(k, fields, "Supplier document", fld(r, "supplier_doc"), CAP_CODE, "",
		    NULL, 0, 0);
		add_field(k, fields, "Amount (excl. tax)", excl, CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Amount (incl. tax)", incl, CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "GL account", fld(r, "gl_accounts"), CAP_NAME, "", NULL,
		    0, 0);
		add_field(k, fields, "Status", status, CAP_NAME, ", payment approval ",
		    fld(r, "payment_approval"), CAP_CODE, 0);
		add_field(k, fields, "Site", fld(r, "site"), CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Accounting date", fld(r, "accounting_date"), CAP_CODE,
		    "", NULL, 0, 0);
		add_field(k, fields, "Type", fld(r, "invoice_type"), CAP_CODE, "", NULL, 0, 0);
	} else if (is_kind(o, "gl_entry")) {
		struct mlc_money m;

		if (route_amount(r, "gl_entry", NULL, &m) == 0) {
			char num[64];

			if (mlc_money_format(&m, -1, 0, num, sizeof(num)) >= 0)
				amount_text(num, cur, total, sizeof(total));
		}
		add_field(k, fields, "Entry", number_of(r), CAP_CODE, "", NULL, 0, 1);
		add_field(k, fields, "Journal", fld(r, "journal"), CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Source", fld(r, "entry_type"), CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Status", status, CAP_NAME, "", NULL, 0, 0);
		add_field(k, fields, "Accounting date", fld(r, "accounting_date"), CAP_CODE,
		    "", NULL, 0, 0);
		add_field(k, fields, "Company / site", fld(r, "company"), CAP_CODE, " / ",
		    fld(r, "site"), CAP_CODE, 0);
		add_field(k, fields, "Total debit", total, CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Lines", fld(r, "lines"), CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Description", fld(r, "description"), CAP_NAME, "", NULL,
		    0, 0);
	} else {
		add_field(k, fields, "Number", number_of(r), CAP_CODE, "", NULL, 0, 1);
		add_field(k, fields, "Status", status, CAP_NAME, "", NULL, 0, 0);
		add_field(k, fields, "Site", fld(r, "site"), CAP_CODE, "", NULL, 0, 0);
		add_field(k, fields, "Amount", excl, CAP_CODE, "", NULL, 0, 0);
	}
	if (json_array_size(fields) == 0) {
		json_decref(fields);
		return;
	}
	kit_put(k, SLOT_FIELDS, json_pack("{s:s, s:o}", "type", "section", "fields", fields));
}

/* One GL line as text: "601000 · debit 1,200.00 EUR · SUP01 · Office rent". */
static char *
gl_line(const struct mlc_record *r, unsigned i)
{
	char name[48], amount[RAW_BUF];
	const char *acc, *side, *amt, *cur, *partner, *desc;
	struct sb b;

#define LINE_FIELD(var, what) \
	(snprintf(name, sizeof(name), "line.%u." what, i), var = fld(r, name))
	LINE_FIELD(acc, "account");
	LINE_FIELD(side, "side");
	LINE_FIELD(amt, "amount");
	LINE_FIELD(cur, "currency");
	LINE_FIELD(partner, "partner");
	LINE_FIELD(desc, "description");
#undef LINE_FIELD
	if (acc[0] == '\0' && amt[0] == '\0' && side[0] == '\0')
		return NULL;
	if (cur[0] == '\0')
		cur = fld(r, "currency");
	amount_text(amt, cur, amount, sizeof(amount));
	sb_init(&b, CAP_LINE);
	sb_lit(&b, "\xe2\x80\xa2 ");
	sb_esc(&b, acc[0] ? acc : "?", CAP_CODE);
	sb_lit(&b, " \xc2\xb7 ");
	sb_esc(&b, side[0] ? side : "?", 20);
	sb_lit(&b, " ");
	sb_esc(&b, amount, CAP_CODE);
	if (partner[0] != '\0') {
		sb_lit(&b, " \xc2\xb7 ");
		sb_esc(&b, partner, CAP_CODE);
	}
	if (desc[0] != '\0') {
		sb_lit(&b, " \xc2\xb7 ");
		sb_esc(&b, desc, 150);
	}
	return sb_take(&b);
}

/* GL entries: their lines, as many as fit, then how many were left out. */
static void
add_gl_lines(struct kit *k, const struct mlc_record *r)
{
	unsigned n = route_gl_lines(r), shown = 0, carried = 0, total;
	size_t cap = k->left < SLACKFMT_TEXT_MAX ? k->left : SLACKFMT_TEXT_MAX;
	const char *lines = fld(r, "lines");
	struct sb b;
	char more[96];

	if (cap < 100)
		return;
	/* Keep room for the "... more" note. */
	sb_init(&b, cap - 60);
	sb_lit(&b, "*Lines*");
	for (unsigned i = 0; i < n; i++) {
		char *line = gl_line(r, i);

		if (line == NULL)
			continue;
		carried++;
		if (!b.full && b.chars + 1 + u8_chars(line) < b.max) {
			sb_lit(&b, "\n");
			sb_lit(&b, line);
			shown++;
		} else {
			b.full = 1;
		}
		free(line);
	}
	total = carried;
	if (lines[0] != '\0' && strspn(lines, "0123456789") == strlen(lines) &&
	    strlen(lines) < 6 && (unsigned)atoi(lines) > carried)
		total = (unsigned)atoi(lines);
	if (carried == 0) {
		free(b.p);
		return;
	}
	if (shown < total) {
		snprintf(more, sizeof(more), "\n_" ELLIPSIS " %u more line%s, see Sage X3_",
		    total - shown, total - shown == 1 ? "" : "s");
		b.full = 0;
		b.max += 60;
		sb_lit(&b, more);
	}
	add_section_text(k, SLOT_LINES, sb_take(&b));
}

/* The context line: where the record came from, and the deep link. */
static json_t *
context_block(const struct slackfmt_opts *o, const struct mlc_record *r, size_t *chars)
{
	json_t *elems = json_array(), *e;
	struct sb b;
	char *t, *url;

	if (elems == NULL)
		return NULL;
	sb_init(&b, CAP_CONTEXT);
	sb_lit(&b, "Sage X3 ");
	sb_esc(&b, r->entity, 60);
	sb_lit(&b, ", updated ");
	sb_esc(&b, r->stamp, 40);
	if (fld(r, "updated_by")[0] != '\0') {
		sb_lit(&b, " by ");
		sb_esc(&b, fld(r, "updated_by"), 60);
	}
	t = sb_take(&b);
	if (t == NULL)
		goto err;
	*chars = u8_chars(t);
	e = mrkdwn_obj(t);
	free(t);
	if (json_array_append_new(elems, e) != 0)
		goto err;
	url = slackfmt_link(o->link_pattern, r, o->folder, o->kind);
	if (url != NULL) {
		sb_init(&b, CAP_CONTEXT);
		sb_lit(&b, "Open ");
		sb_esc(&b, number_of(r), CAP_CODE);
		sb_lit(&b, " in Sage X3");
		t = sb_take(&b);
		if (t != NULL) {
			size_t n = strlen(url) + strlen(t) + 4;
			char *link = malloc(n);

			if (link != NULL) {
				snprintf(link, n, "<%s|%s>", url, t);
				*chars += u8_chars(link);
				json_array_append_new(elems, mrkdwn_obj(link));
				free(link);
			}
			free(t);
		}
		free(url);
	}
	return json_pack("{s:s, s:o}", "type", "context", "elements", elems);
err:
	json_decref(elems);
	return NULL;
}

/* The one-line fallback (also what notifications show). */
static char *
fallback_text(const struct slackfmt_opts *o, const struct mlc_record *r)
{
	const char *cur = fld(r, "currency"), *ev = slackfmt_event_label(r->event);
	char amount[RAW_BUF], status[RAW_BUF];
	struct sb b;

	if (o->tmpl != NULL && o->tmpl[0] != '\0')
		return slackfmt_template(o, r, SLACKFMT_TEXT_MAX);
	sb_init(&b, SLACKFMT_TEXT_MAX);
	sb_lit(&b, slackfmt_kind_label(o->kind));
	sb_lit(&b, " ");
	sb_esc(&b, number_of(r), CAP_CODE);
	if (ev[0] != '\0') {
		sb_lit(&b, " ");
		sb_esc(&b, ev, 40);
	}
	status_words(o, r, status, sizeof(status));
	if (is_kind(o, "purchase_order")) {
		sb_lit(&b, " (");
		sb_lit(&b, slackfmt_approval(fld(r, "approval")));
		sb_lit(&b, ")");
	}
	if (is_kind(o, "purchase_order") || is_kind(o, "supplier_invoice")) {
		amount_text(fld(r, "amount_excl_tax"), cur, amount, sizeof(amount));
		sb_lit(&b, ": supplier ");
		sb_esc(&b, fld(r, "supplier_code"), CAP_CODE);
		sb_lit(&b, " ");
		sb_esc(&b, fld(r, "supplier_name"), CAP_NAME);
		sb_lit(&b, ", amount ");
		sb_esc(&b, amount, CAP_CODE);
		sb_lit(&b, " excl. tax");
		if (is_kind(o, "supplier_invoice") && status[0] != '\0') {
			sb_lit(&b, ", status ");
			sb_esc(&b, status, CAP_CODE);
		}
	} else if (is_kind(o, "gl_entry")) {
		struct mlc_money m;
		char num[64];

		sb_lit(&b, ": journal ");
		sb_esc(&b, fld(r, "journal"), CAP_CODE);
		sb_lit(&b, ", source ");
		sb_esc(&b, fld(r, "entry_type"), CAP_CODE);
		if (route_amount(r, "gl_entry", NULL, &m) == 0 &&
		    mlc_money_format(&m, minor_units(cur), 1, num, sizeof(num)) >= 0) {
			sb_lit(&b, ", total debit ");
			sb_lit(&b, num);
			sb_lit(&b, " ");
			sb_esc(&b, cur, CAP_CODE);
		}
		if (fld(r, "lines")[0] != '\0') {
			sb_lit(&b, ", lines ");
			sb_esc(&b, fld(r, "lines"), 10);
		}
	} else if (status[0] != '\0') {
		sb_lit(&b, ": status ");
		sb_esc(&b, status, CAP_CODE);
	}
	if (fld(r, "site")[0] != '\0') {
		sb_lit(&b, ", site ");
		sb_esc(&b, fld(r, "site"), CAP_CODE);
	}
	return sb_take(&b);
}

int
slackfmt_render(const struct slackfmt_opts *o, const struct mlc_record *r,
    char **text, char **blocks)
{
	struct kit k;
	json_t *arr = NULL;
	size_t ctx_chars = 0;
	struct sb b;
	char *hdr;
	const char *ev = slackfmt_event_label(r->event);

	*text = *blocks = NULL;
	memset(&k, 0, sizeof(k));
	k.left = SLACKFMT_BLOCKS_BUDGET;
	if (o->blocks_budget > 0 && o->blocks_budget < k.left)
		k.left = o->blocks_budget;
	/* The context is small and says where to look: it is set aside first
	 * so the budget cannot squeeze it out. */
	kit_put(&k, SLOT_CONTEXT, context_block(o, r, &ctx_chars));
	k.left -= ctx_chars < k.left ? ctx_chars : k.left;

	sb_init(&b, SLACKFMT_HEADER_MAX);
	sb_lit(&b, slackfmt_kind_label(o->kind));
	sb_lit(&b, " ");
	sb_esc(&b, number_of(r), CAP_CODE);
	if (ev[0] != '\0') {
		sb_lit(&b, " ");
		sb_esc(&b, ev, 40);
	}
	hdr = sb_take(&b);
	if (hdr == NULL)
		goto err;
	kit_spend(&k, hdr);
	kit_put(&k, SLOT_HEADER, json_pack("{s:s, s:{s:s, s:s}}", "type", "header", "text",
	    "type", "plain_text", "text", hdr));
	free(hdr);
	add_fields(&k, o, r);
	if (o->tmpl != NULL && o->tmpl[0] != '\0' && k.left > 0)
		add_section_text(&k, SLOT_TEMPLATE, slackfmt_template(o, r,
		    k.left < SLACKFMT_TEXT_MAX ? k.left : SLACKFMT_TEXT_MAX));
	if (is_kind(o, "gl_entry"))
		add_gl_lines(&k, r);
	if (k.oom || (arr = json_array()) == NULL)
		goto err;
	for (int i = 0; i < N_SLOTS; i++) {
		if (k.slot[i] != NULL && json_array_append(arr, k.slot[i]) != 0)
			goto err;
	}
	*text = fallback_text(o, r);
	*blocks = json_dumps(arr, JSON_COMPACT);
	if (*text == NULL || *blocks == NULL)
		goto err;
	json_decref(arr);
	for (int i = 0; i < N_SLOTS; i++)
		json_decref(k.slot[i]);
	return 0;
err:
	json_decref(arr);
	for (int i = 0; i < N_SLOTS; i++)
		json_decref(k.slot[i]);
	free(*text);
	free(*blocks);
	*text = *blocks = NULL;
	return -1;
}

int
slackfmt_record(const struct mlc_record *r, char **text, char **blocks)
{
	struct slackfmt_opts o = { .kind = "purchase_order" };

	return slackfmt_render(&o, r, text, blocks);
}
