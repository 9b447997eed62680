/*
 * mlc_proto: encoder and decoder of the frames the four processes exchange
 * (the contract is in mlc_proto.h).
 *
 * Each frame type is described once, by a table of its string keys in wire
 * order plus one typed extra (fields, attrs, ids); the encoder, the decoder
 * and mlc_frame_free all walk the same tables, so a key cannot be added to
 * one and forgotten in another.
 *
 * Decoding happens in two passes. msgpack-c's unpacker trusts the element
 * count in an array or map header and allocates for it up front (the five
 * bytes dd ff 00 00 00 make it ask for ~96 GB, msgpack-c #1013), so first a
 * small walker of our own checks every length and count against the bytes
 * that are left, the nesting depth and the absence of trailing bytes. Only a
 * frame that passed is handed to msgpack_unpack_next(); from then on every
 * count it allocates for is bounded by the frame length (each element takes
 * at least one byte, so msgpack-c needs at most 24 bytes of objects per
 * frame byte), and we copy values out with type checks that name the
 * offending key.
 */
#include "mlc_proto.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#define ID_MAX (MLC_PROTO_MAX_ID - 1) /* bytes of an id, without the NUL */

/* ---- frame descriptions -------------------------------------------------- */

/* One required string key of a frame: its name on the wire, where the
 * char * lives in the struct, its bound, and whether it is an id (ids may
 * not be empty: an empty id would make every duplicate check meaningless). */
struct key {
	const char *name;
	size_t off;
	size_t max;
	bool id;
};

#define KEY(st, f, max, id) { #f, offsetof(struct st, f), (max), (id) }

static const struct key rec_keys[] = {
	KEY(mlc_record, id, ID_MAX, true),
	KEY(mlc_record, from, MLC_PROTO_MAX_STR, false),
	KEY(mlc_record, entity, MLC_PROTO_MAX_STR, false),
	KEY(mlc_record, key, MLC_PROTO_MAX_STR, false),
	KEY(mlc_record, stamp, MLC_PROTO_MAX_STR, false),
	KEY(mlc_record, event, MLC_PROTO_MAX_STR, false),
	KEY(mlc_record, polled_at, MLC_PROTO_MAX_STR, false),
};

static const struct key msg_keys[] = {
	KEY(mlc_message, id, ID_MAX, true),
	KEY(mlc_message, from, MLC_PROTO_MAX_STR, false),
	KEY(mlc_message, record_id, ID_MAX, true),
	KEY(mlc_message, entity, MLC_PROTO_MAX_STR, false),
	KEY(mlc_message, key, MLC_PROTO_MAX_STR, false),
	KEY(mlc_message, route, MLC_PROTO_MAX_STR, false),
	KEY(mlc_message, channel, MLC_PROTO_MAX_STR, false),
	KEY(mlc_message, text, MLC_PROTO_MAX_STR, false),
	KEY(mlc_message, blocks, MLC_PROTO_MAX_STR, false),
	KEY(mlc_message, created_at, MLC_PROTO_MAX_STR, false),
};

static const struct key aud_keys[] = {
	KEY(mlc_audit, id, ID_MAX, true),
	KEY(mlc_audit, from, MLC_PROTO_MAX_STR, false),
	KEY(mlc_audit, at, MLC_PROTO_MAX_STR, false),
	KEY(mlc_audit, kind, MLC_PROTO_MAX_STR, false),
};

static const struct key ack_keys[] = {
	KEY(mlc_ack, from, MLC_PROTO_MAX_STR, false),
};

/* A frame type: wire name, string keys, and the name of the one key that is
 * not a plain string (it always comes last on the wire). */
struct ftype {
	enum mlc_frame_type type;
	const char *t;
	const struct key *keys;
	size_t n_keys;
	const char *extra;
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct ftype ftypes[] = {
	{ MLC_FRAME_RECORD, "rec", rec_keys, NELEM(rec_keys), "fields" },
	{ MLC_FRAME_MESSAGE, "msg", msg_keys, NELEM(msg_keys), NULL },
	{ MLC_FRAME_AUDIT, "aud", aud_keys, NELEM(aud_keys), "attrs" },
	{ MLC_FRAME_ACK, "ack", ack_keys, NELEM(ack_keys), "ids" },
};

/* Attribute names an audit event may not use: mlc_audit_to_json() puts the
 * attributes next to these keys, so one of them would silently be lost. */
static const char *const reserved_attrs[] = { "id", "from", "at", "kind" };

static const struct ftype *
ftype_by_type(enum mlc_frame_type type)
{
	size_t i;

	for (i = 0; i < NELEM(ftypes); i++)
		if (ftypes[i].type == type)
			return &ftypes[i];
	return NULL;
}

/* The struct of the union member a frame type uses. */
static void *
frame_body(struct mlc_frame *f)
{
	switch (f->type) {
	case MLC_FRAME_RECORD:
		return &f->u.rec;
	case MLC_FRAME_MESSAGE:
		return &f->u.msg;
	case MLC_FRAME_AUDIT:
		return &f->u.aud;
	case MLC_FRAME_ACK:
		return &f->u.ack;
	}
	return NULL;
}

static char **
key_slot(void *body, const struct key *k)
{
	return (char **)(void *)((char *)body + k->off);
}

static bool
is_reserved_attr(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < NELEM(reserved_attrs); i++)
		if (strlen(reserved_attrs[i]) == n &&
		    memcmp(reserved_attrs[i], name, n) == 0)
			return true;
	return false;
}

/* ---- text checks shared by encoder and decoder ---------------------------- */

/* Offset of the first byte that is not part of well-formed UTF-8 (no
 * overlong forms, no surrogates, nothing above U+10FFFF), or n. */
static size_t
utf8_bad_at(const unsigned char *s, size_t n)
{
	size_t i = 0, k, more;
	unsigned char c, lo, hi;

	while (i < n) {
		c = s[i];
		lo = 0x80;
		hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			if (c == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (c == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			if (c == 0xf0)
				lo = 0x90;	/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else {
			return i;
		}
		if (n - i - 1 < more)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (k = 2; k <= more; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return i;
		i += more + 1;
	}
	return n;
}

/*
 * Checks n bytes of text against a bound; returns NULL if fine, else a
 * description of the problem written to why ("is empty", ...).
 */
static const char *
text_problem(const char *s, size_t n, size_t max, bool nonempty, char *why,
    size_t whysz)
{
	const char *nul;
	size_t bad;

	if (n > max) {
		snprintf(why, whysz, "is %zu bytes, longer than the %zu byte limit",
		    n, max);
		return why;
	}
	if (nonempty && n == 0) {
		snprintf(why, whysz, "is empty");
		return why;
	}
	nul = n ? memchr(s, '\0', n) : NULL;
	if (nul != NULL) {
		snprintf(why, whysz, "contains a NUL byte at position %zu",
		    (size_t)(nul - s));
		return why;
	}
	bad = utf8_bad_at((const unsigned char *)s, n);
	if (bad != n) {
		snprintf(why, whysz, "is not valid UTF-8 (byte %zu)", bad);
		return why;
	}
	return NULL;
}

/* Copies untrusted bytes into buf for an error message: at most 40 of
 * them, anything but printable ASCII shown as '?', so that an error never
 * carries control characters into a log line. */
static const char *
printable(const char *s, size_t n, char *buf, size_t bufsz)
{
	size_t i, m = n;

	if (m > 40)
		m = 40;
	if (m > bufsz - 4)
		m = bufsz - 4;
	for (i = 0; i < m; i++)
		buf[i] = isprint((unsigned char)s[i]) && s[i] != '\'' ? s[i] : '?';
	if (m < n) {
		memcpy(buf + m, "...", 3);
		m += 3;
	}
	buf[m] = '\0';
	return buf;
}

/* ---- pass 1: bounded walk over the raw bytes ----------------------------- */

struct walk {
	const unsigned char *p;
	size_t len;
	size_t off;
	struct mlc_err *err;
};

static size_t
walk_left(const struct walk *w)
{
	return w->len - w->off;
}

static uint64_t
be_read(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Reads an n-byte big-endian length/count that belongs to the object
 * starting at `at`. */
static int
walk_uint(struct walk *w, size_t n, size_t at, const char *what, uint64_t *v)
{
	if (walk_left(w) < n)
		return mlc_err_set(w->err, "proto: truncated frame (%s header at "
		    "offset %zu needs %zu more bytes, %zu left)", what, at, n,
		    walk_left(w));
	*v = be_read(w->p + w->off, n);
	w->off += n;
	return 0;
}

static int
walk_skip(struct walk *w, uint64_t n, size_t at, const char *what)
{
	if (n > walk_left(w))
		return mlc_err_set(w->err, "proto: truncated frame (%s of %" PRIu64
		    " bytes at offset %zu, %zu left)", what, n, at, walk_left(w));
	w->off += (size_t)n;
	return 0;
}

/*
 * Walks one object at w->off. depth is the nesting level a container found
 * here would have (the top-level map is 1). Recursion is bounded by
 * MLC_PROTO_MAX_DEPTH, and the total work by the frame length because every
 * element consumes at least one byte.
 */
static int
walk_obj(struct walk *w, int depth)
{
	size_t at = w->off, lenbytes = 0;
	uint64_t n, i, elems;
	const char *what;
	unsigned char b;

	if (walk_left(w) == 0)
		return mlc_err_set(w->err, "proto: truncated frame (value expected "
		    "at offset %zu, 0 bytes left)", at);
	b = w->p[w->off++];

	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;	/* fixint, negative fixint, nil, false, true */
	if (b >= 0xa0 && b <= 0xbf)
		return walk_skip(w, b & 0x1f, at, "string");
	if (b >= 0x80 && b <= 0x9f) {
		n = b & 0x0f;
		what = b <= 0x8f ? "map" : "array";
		goto container;
	}
	switch (b) {
	case 0xc1:
		return mlc_err_set(w->err, "proto: malformed frame (reserved byte "
		    "0xc1 at offset %zu)", at);
	case 0xca: return walk_skip(w, 4, at, "float32");
	case 0xcb: return walk_skip(w, 8, at, "float64");
	case 0xcc: case 0xd0: return walk_skip(w, 1, at, "integer");
	case 0xcd: case 0xd1: return walk_skip(w, 2, at, "integer");
	case 0xce: case 0xd2: return walk_skip(w, 4, at, "integer");
	case 0xcf: case 0xd3: return walk_skip(w, 8, at, "integer");
	case 0xd4: return walk_skip(w, 2, at, "ext");
	case 0xd5: return walk_skip(w, 3, at, "ext");
	case 0xd6: return walk_skip(w, 5, at, "ext");
	case 0xd7: return walk_skip(w, 9, at, "ext");
	case 0xd8: return walk_skip(w, 17, at, "ext");
	case 0xd9: case 0xc4: case 0xc7: lenbytes = 1; break;
	case 0xda: case 0xc5: case 0xc8: lenbytes = 2; break;
	case 0xdb: case 0xc6: case 0xc9: lenbytes = 4; break;
	case 0xdc: case 0xdd: case 0xde: case 0xdf:
		lenbytes = (b == 0xdc || b == 0xde) ? 2 : 4;
		what = b <= 0xdd ? "array" : "map";
		if (walk_uint(w, lenbytes, at, what, &n) != 0)
			return -1;
		goto container;
	default:
		return mlc_err_set(w->err, "proto: malformed frame (byte 0x%02x at "
		    "offset %zu)", b, at);
	}

	/* str, bin, ext: a length, for ext a type byte, then the payload */
	what = b >= 0xd9 ? "string" : b <= 0xc6 ? "bin" : "ext";
	if (walk_uint(w, lenbytes, at, what, &n) != 0)
		return -1;
	if (b >= 0xc7 && b <= 0xc9)
		n += 1;
	return walk_skip(w, n, at, what);

container:
	if (depth > MLC_PROTO_MAX_DEPTH)
		return mlc_err_set(w->err, "proto: malformed frame (%s at offset "
		    "%zu nested deeper than %d levels)", what, at,
		    MLC_PROTO_MAX_DEPTH);
	elems = what[0] == 'm' ? 2 * n : n;
	if (elems > walk_left(w))
		return mlc_err_set(w->err, "proto: truncated frame (%s of %" PRIu64
		    " items at offset %zu, %zu bytes left)", what, n, at,
		    walk_left(w));
	for (i = 0; i < elems; i++)
		if (walk_obj(w, depth + 1) != 0)
			return -1;
	return 0;
}

static int
walk_frame(const void *buf, size_t len, struct mlc_err *err)
{
	struct walk w = { buf, len, 0, err };

	if (walk_obj(&w, 1) != 0)
		return -1;
	if (w.off != len)
		return mlc_err_set(err, "proto: malformed frame (%zu trailing bytes "
		    "after the frame at offset %zu)", len - w.off, w.off);
	return 0;
}

/* ---- pass 2: typed extraction from the unpacked object ------------------- */

static const char *
obj_type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "boolean";
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return "integer";
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative integer";
	case MSGPACK_OBJECT_FLOAT32: return "float32";
	case MSGPACK_OBJECT_FLOAT64: return "float64";
	case MSGPACK_OBJECT_STR: return "string";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	case MSGPACK_OBJECT_BIN: return "bin";
	case MSGPACK_OBJECT_EXT: return "ext";
	}
	return "unknown";
}

static bool
str_is(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	    memcmp(o->via.str.ptr, s, n) == 0;
}

/* Finds a required key of the top-level map; a key given twice is an error
 * because the two values could disagree. */
static int
map_get(const msgpack_object_map *m, const char *t, const char *key,
    const msgpack_object **out, struct mlc_err *err)
{
	uint32_t i;

	*out = NULL;
	for (i = 0; i < m->size; i++) {
		if (!str_is(&m->ptr[i].key, key))
			continue;
		if (*out != NULL)
			return mlc_err_set(err, "proto: frame%s%s%s: key '%s' appears "
			    "more than once", t ? " '" : "", t ? t : "", t ? "'" : "",
			    key);
		*out = &m->ptr[i].val;
	}
	if (*out == NULL)
		return mlc_err_set(err, "proto: frame%s%s%s: missing required key "
		    "'%s'", t ? " '" : "", t ? t : "", t ? "'" : "", key);
	return 0;
}

/* Copies a string object into a fresh NUL-terminated string after checking
 * type and content; label names it in errors ("key 'stamp'"). */
static int
take_str(const msgpack_object *o, size_t max, bool nonempty, const char *t,
    const char *label, char **out, struct mlc_err *err)
{
	char why[96];
	char *s;

	if (o->type != MSGPACK_OBJECT_STR)
		return mlc_err_set(err, "proto: frame '%s': %s must be a string "
		    "(got %s)", t, label, obj_type_name(o));
	if (text_problem(o->via.str.ptr, o->via.str.size, max, nonempty, why,
	    sizeof(why)) != NULL)
		return mlc_err_set(err, "proto: frame '%s': %s %s", t, label, why);
	s = malloc((size_t)o->via.str.size + 1);
	if (s == NULL)
		return mlc_err_set(err, "proto: out of memory decoding frame '%s'",
		    t);
	if (o->via.str.size > 0)
		memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = '\0';
	*out = s;
	return 0;
}

/* Name of a map entry for error messages: its text if it is a string. */
static const char *
entry_label(const char *what, const msgpack_object *k, uint32_t i, char *buf,
    size_t bufsz)
{
	char p[48];

	if (k->type == MSGPACK_OBJECT_STR)
		snprintf(buf, bufsz, "%s '%s'", what,
		    printable(k->via.str.ptr, k->via.str.size, p, sizeof(p)));
	else
		snprintf(buf, bufsz, "%s #%" PRIu32, what, i + 1);
	return buf;
}

static int
take_map_header(const msgpack_object *o, const char *t, const char *key,
    struct mlc_err *err)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return mlc_err_set(err, "proto: frame '%s': key '%s' must be a map "
		    "(got %s)", t, key, obj_type_name(o));
	if (o->via.map.size > MLC_PROTO_MAX_FIELDS)
		return mlc_err_set(err, "proto: frame '%s': key '%s' has %" PRIu32
		    " entries, more than %d", t, key, o->via.map.size,
		    MLC_PROTO_MAX_FIELDS);
	return 0;
}

/* Rejects a map (fields, attrs) that names one entry twice. The maps are
 * at most MLC_PROTO_MAX_FIELDS long, so the quadratic scan is cheap. */
static int
check_unique_names(const msgpack_object_map *m, const char *t, const char *key,
    struct mlc_err *err)
{
	char p[48];
	uint32_t i, j;

	for (i = 0; i < m->size; i++)
		for (j = i + 1; j < m->size; j++)
			if (m->ptr[i].key.via.str.size == m->ptr[j].key.via.str.size &&
			    memcmp(m->ptr[i].key.via.str.ptr, m->ptr[j].key.via.str.ptr,
			    m->ptr[i].key.via.str.size) == 0)
				return mlc_err_set(err, "proto: frame '%s': key '%s' "
				    "names '%s' twice", t, key,
				    printable(m->ptr[i].key.via.str.ptr,
				    m->ptr[i].key.via.str.size, p, sizeof(p)));
	return 0;
}

static int
decode_fields(const msgpack_object *o, struct mlc_record *r,
    struct mlc_err *err)
{
	const msgpack_object_map *m = &o->via.map;
	char label[96];
	uint32_t i;

	if (take_map_header(o, "rec", "fields", err) != 0)
		return -1;
	if (m->size == 0)
		return 0;
	r->fields = calloc(m->size, sizeof(*r->fields));
	if (r->fields == NULL)
		return mlc_err_set(err, "proto: out of memory decoding frame 'rec'");
	r->n_fields = m->size;
	for (i = 0; i < m->size; i++) {
		snprintf(label, sizeof(label), "field #%" PRIu32 " name", i + 1);
		if (take_str(&m->ptr[i].key, MLC_PROTO_MAX_STR, true, "rec", label,
		    &r->fields[i].name, err) != 0)
			return -1;
		entry_label("field", &m->ptr[i].key, i, label, sizeof(label));
		if (take_str(&m->ptr[i].val, MLC_PROTO_MAX_STR, false, "rec", label,
		    &r->fields[i].value, err) != 0)
			return -1;
	}
	return check_unique_names(m, "rec", "fields", err);
}

static int
decode_attrs(const msgpack_object *o, struct mlc_audit *a, struct mlc_err *err)
{
	const msgpack_object_map *m = &o->via.map;
	const msgpack_object *v;
	struct mlc_attr *at;
	char label[96];
	uint32_t i;

	if (take_map_header(o, "aud", "attrs", err) != 0)
		return -1;
	if (m->size == 0)
		return 0;
	a->attrs = calloc(m->size, sizeof(*a->attrs));
	if (a->attrs == NULL)
		return mlc_err_set(err, "proto: out of memory decoding frame 'aud'");
	a->n_attrs = m->size;
	for (i = 0; i < m->size; i++) {
		at = &a->attrs[i];
		v = &m->ptr[i].val;
		snprintf(label, sizeof(label), "attr #%" PRIu32 " name", i + 1);
		if (take_str(&m->ptr[i].key, MLC_PROTO_MAX_STR, true, "aud", label,
		    &at->name, err) != 0)
			return -1;
		entry_label("attr", &m->ptr[i].key, i, label, sizeof(label));
		if (is_reserved_attr(at->name, strlen(at->name)))
			return mlc_err_set(err, "proto: frame 'aud': %s is reserved "
			    "(id, from, at and kind are keys of the event itself)",
			    label);
		if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			if (v->via.u64 > (uint64_t)INT64_MAX)
				return mlc_err_set(err, "proto: frame 'aud': %s is %"
				    PRIu64 ", above the 64-bit signed range", label,
				    v->via.u64);
			at->is_int = 1;
			at->i = (int64_t)v->via.u64;
		} else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
			at->is_int = 1;
			at->i = v->via.i64;
		} else if (v->type == MSGPACK_OBJECT_STR) {
			if (take_str(v, MLC_PROTO_MAX_STR, false, "aud", label, &at->s,
			    err) != 0)
				return -1;
		} else {
			return mlc_err_set(err, "proto: frame 'aud': %s must be a "
			    "string or an integer (got %s)", label, obj_type_name(v));
		}
	}
	return check_unique_names(m, "aud", "attrs", err);
}

static int
decode_ids(const msgpack_object *o, struct mlc_ack *k, struct mlc_err *err)
{
	const msgpack_object_array *arr = &o->via.array;
	char label[64];
	uint32_t i;

	if (o->type != MSGPACK_OBJECT_ARRAY)
		return mlc_err_set(err, "proto: frame 'ack': key 'ids' must be an "
		    "array (got %s)", obj_type_name(o));
	if (arr->size < 1 || arr->size > MLC_PROTO_MAX_ACKS)
		return mlc_err_set(err, "proto: frame 'ack': key 'ids' has %" PRIu32
		    " ids, must have 1 to %d", arr->size, MLC_PROTO_MAX_ACKS);
	k->ids = calloc(arr->size, sizeof(*k->ids));
	if (k->ids == NULL)
		return mlc_err_set(err, "proto: out of memory decoding frame 'ack'");
	k->n_ids = arr->size;
	for (i = 0; i < arr->size; i++) {
		snprintf(label, sizeof(label), "key 'ids' item #%" PRIu32, i + 1);
		if (take_str(&arr->ptr[i], ID_MAX, true, "ack", label, &k->ids[i],
		    err) != 0)
			return -1;
	}
	return 0;
}

/* Checks "v" and "t" and returns the frame's type description. */
static const struct ftype *
decode_head(const msgpack_object_map *m, struct mlc_err *err)
{
	const msgpack_object *v, *t;
	char p[48];
	size_t i;

	if (map_get(m, NULL, "v", &v, err) != 0)
		return NULL;
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0) {
		mlc_err_set(err, "proto: frame: key 'v' must be a positive integer "
		    "(got %s)", obj_type_name(v));
		return NULL;
	}
	if (v->via.u64 > MLC_PROTO_VERSION) {
		mlc_err_set(err, "proto: frame version %" PRIu64 " is newer than "
		    "this build (%d)", v->via.u64, MLC_PROTO_VERSION);
		return NULL;
	}
	if (map_get(m, NULL, "t", &t, err) != 0)
		return NULL;
	if (t->type != MSGPACK_OBJECT_STR) {
		mlc_err_set(err, "proto: frame: key 't' must be a string (got %s)",
		    obj_type_name(t));
		return NULL;
	}
	for (i = 0; i < NELEM(ftypes); i++)
		if (str_is(t, ftypes[i].t))
			return &ftypes[i];
	mlc_err_set(err, "proto: frame type '%s' is unknown (expected rec, msg, "
	    "aud or ack)", printable(t->via.str.ptr, t->via.str.size, p,
	    sizeof(p)));
	return NULL;
}

int
mlc_proto_decode(const void *buf, size_t len, struct mlc_frame *out,
    struct mlc_err *err)
{
	const msgpack_object_map *m;
	const msgpack_object *o;
	const struct ftype *ft;
	msgpack_unpacked up;
	char label[64];
	size_t i, off = 0;
	void *body;

	memset(out, 0, sizeof(*out));
	msgpack_unpacked_init(&up);
	if (buf == NULL || len == 0) {
		mlc_err_set(err, "proto: empty frame");
		goto err;
	}
	if (len > MLC_PROTO_MAX_FRAME) {
		mlc_err_set(err, "proto: frame of %zu bytes is larger than the "
		    "%d byte limit", len, MLC_PROTO_MAX_FRAME);
		goto err;
	}
	if (walk_frame(buf, len, err) != 0)
		goto err;
	if (msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len) {
		mlc_err_set(err, "proto: msgpack could not unpack a %zu byte frame "
		    "that passed validation", len);
		goto err;
	}
	if (up.data.type != MSGPACK_OBJECT_MAP) {
		mlc_err_set(err, "proto: frame must be a map (got %s)",
		    obj_type_name(&up.data));
		goto err;
	}
	m = &up.data.via.map;
	for (i = 0; i < m->size; i++) {
		if (m->ptr[i].key.type != MSGPACK_OBJECT_STR) {
			mlc_err_set(err, "proto: frame: key #%zu must be a string "
			    "(got %s)", i + 1, obj_type_name(&m->ptr[i].key));
			goto err;
		}
	}
	if ((ft = decode_head(m, err)) == NULL)
		goto err;

	out->type = ft->type;
	body = frame_body(out);
	for (i = 0; i < ft->n_keys; i++) {
		snprintf(label, sizeof(label), "key '%s'", ft->keys[i].name);
		if (map_get(m, ft->t, ft->keys[i].name, &o, err) != 0 ||
		    take_str(o, ft->keys[i].max, ft->keys[i].id, ft->t, label,
		    key_slot(body, &ft->keys[i]), err) != 0)
			goto err;
	}
	if (ft->extra != NULL) {
		if (map_get(m, ft->t, ft->extra, &o, err) != 0)
			goto err;
		if ((ft->type == MLC_FRAME_RECORD &&
		    decode_fields(o, &out->u.rec, err) != 0) ||
		    (ft->type == MLC_FRAME_AUDIT &&
		    decode_attrs(o, &out->u.aud, err) != 0) ||
		    (ft->type == MLC_FRAME_ACK &&
		    decode_ids(o, &out->u.ack, err) != 0))
			goto err;
	}
	msgpack_unpacked_destroy(&up);
	return 0;

err:
	msgpack_unpacked_destroy(&up);
	mlc_frame_free(out);
	return -1;
}

void
mlc_frame_free(struct mlc_frame *f)
{
	const struct ftype *ft;
	void *body;
	size_t i;

	if (f == NULL)
		return;
	ft = ftype_by_type(f->type);
	if (ft != NULL) {
		body = frame_body(f);
		for (i = 0; i < ft->n_keys; i++)
			free(*key_slot(body, &ft->keys[i]));
		switch (f->type) {
		case MLC_FRAME_RECORD:
			for (i = 0; f->u.rec.fields && i < f->u.rec.n_fields; i++) {
				free(f->u.rec.fields[i].name);
				free(f->u.rec.fields[i].value);
			}
			free(f->u.rec.fields);
			break;
		case MLC_FRAME_AUDIT:
			for (i = 0; f->u.aud.attrs && i < f->u.aud.n_attrs; i++) {
				free(f->u.aud.attrs[i].name);
				free(f->u.aud.attrs[i].s);
			}
			free(f->u.aud.attrs);
			break;
		case MLC_FRAME_ACK:
			for (i = 0; f->u.ack.ids && i < f->u.ack.n_ids; i++)
				free(f->u.ack.ids[i]);
			free(f->u.ack.ids);
			break;
		case MLC_FRAME_MESSAGE:
			break;
		}
	}
	memset(f, 0, sizeof(*f));
}

/* ---- encoding ------------------------------------------------------------ */

/* Checks a string the encoder is about to write, with the same rules the
 * decoder applies, so that whatever we send the peer will accept. */
static int
enc_check(const char *s, size_t max, bool nonempty, const char *t,
    const char *label, struct mlc_err *err)
{
	char why[96];

	if (s == NULL)
		return mlc_err_set(err, "proto: encoding frame '%s': %s is missing "
		    "(NULL)", t, label);
	if (text_problem(s, strlen(s), max, nonempty, why, sizeof(why)) != NULL)
		return mlc_err_set(err, "proto: encoding frame '%s': %s %s", t,
		    label, why);
	return 0;
}

static int
enc_check_names(const char *const *names, size_t n, size_t stride,
    const char *t, const char *what, struct mlc_err *err)
{
	const char *a, *b;
	char label[96], p[48];
	size_t i, j;

	if (n > MLC_PROTO_MAX_FIELDS)
		return mlc_err_set(err, "proto: encoding frame '%s': %zu %s, more "
		    "than %d", t, n, what, MLC_PROTO_MAX_FIELDS);
	for (i = 0; i < n; i++) {
		a = *(const char *const *)(const void *)
		    ((const char *)names + i * stride);
		snprintf(label, sizeof(label), "%s #%zu name", what, i + 1);
		if (enc_check(a, MLC_PROTO_MAX_STR, true, t, label, err) != 0)
			return -1;
		for (j = 0; j < i; j++) {
			b = *(const char *const *)(const void *)
			    ((const char *)names + j * stride);
			if (strcmp(a, b) == 0)
				return mlc_err_set(err, "proto: encoding frame '%s': "
				    "%s '%s' given twice", t, what,
				    printable(a, strlen(a), p, sizeof(p)));
		}
	}
	return 0;
}

/* Validates the whole frame before a byte is packed. */
static int
enc_validate(const struct mlc_frame *f, const struct ftype *ft,
    struct mlc_err *err)
{
	const void *body = frame_body((struct mlc_frame *)(uintptr_t)f);
	char label[96], p[48];
	const char *s;
	size_t i;

	for (i = 0; i < ft->n_keys; i++) {
		s = *key_slot((void *)(uintptr_t)body, &ft->keys[i]);
		snprintf(label, sizeof(label), "key '%s'", ft->keys[i].name);
		if (enc_check(s, ft->keys[i].max, ft->keys[i].id, ft->t, label,
		    err) != 0)
			return -1;
	}
	switch (f->type) {
	case MLC_FRAME_RECORD:
		if (f->u.rec.n_fields > 0 && f->u.rec.fields == NULL)
			return mlc_err_set(err, "proto: encoding frame 'rec': %zu "
			    "fields but no array", f->u.rec.n_fields);
		if (enc_check_names((const char *const *)(const void *)
		    (f->u.rec.fields ? &f->u.rec.fields[0].name : NULL),
		    f->u.rec.n_fields, sizeof(struct mlc_field), "rec", "field",
		    err) != 0)
			return -1;
		for (i = 0; i < f->u.rec.n_fields; i++) {
			s = f->u.rec.fields[i].name;
			snprintf(label, sizeof(label), "field '%s'",
			    printable(s, strlen(s), p, sizeof(p)));
			if (enc_check(f->u.rec.fields[i].value, MLC_PROTO_MAX_STR,
			    false, "rec", label, err) != 0)
				return -1;
		}
		break;
	case MLC_FRAME_AUDIT:
		if (f->u.aud.n_attrs > 0 && f->u.aud.attrs == NULL)
			return mlc_err_set(err, "proto: encoding frame 'aud': %zu "
			    "attrs but no array", f->u.aud.n_attrs);
		if (enc_check_names((const char *const *)(const void *)
		    (f->u.aud.attrs ? &f->u.aud.attrs[0].name : NULL),
		    f->u.aud.n_attrs, sizeof(struct mlc_attr), "aud", "attr",
		    err) != 0)
			return -1;
		for (i = 0; i < f->u.aud.n_attrs; i++) {
			s = f->u.aud.attrs[i].name;
			snprintf(label, sizeof(label), "attr '%s'",
			    printable(s, strlen(s), p, sizeof(p)));
			if (is_reserved_attr(s, strlen(s)))
				return mlc_err_set(err, "proto: encoding frame 'aud': "
				    "%s is reserved (id, from, at and kind are keys of "
				    "the event itself)", label);
			if (!f->u.aud.attrs[i].is_int &&
			    enc_check(f->u.aud.attrs[i].s, MLC_PROTO_MAX_STR, false,
			    "aud", label, err) != 0)
				return -1;
		}
		break;
	case MLC_FRAME_ACK:
		if (f->u.ack.n_ids < 1 || f->u.ack.n_ids > MLC_PROTO_MAX_ACKS ||
		    f->u.ack.ids == NULL)
			return mlc_err_set(err, "proto: encoding frame 'ack': %zu ids, "
			    "must have 1 to %d", f->u.ack.n_ids, MLC_PROTO_MAX_ACKS);
		for (i = 0; i < f->u.ack.n_ids; i++) {
			snprintf(label, sizeof(label), "key 'ids' item #%zu", i + 1);
			if (enc_check(f->u.ack.ids[i], ID_MAX, true, "ack", label,
			    err) != 0)
				return -1;
		}
		break;
	case MLC_FRAME_MESSAGE:
		break;
	}
	return 0;
}

static int
pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	if (msgpack_pack_str(pk, n) != 0)
		return -1;
	return msgpack_pack_str_body(pk, s, n);
}

int
mlc_proto_encode(const struct mlc_frame *f, char **buf, size_t *len,
    struct mlc_err *err)
{
	const struct ftype *ft;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const void *body;
	int rc = 0;
	size_t i;

	*buf = NULL;
	*len = 0;
	if (f == NULL || (ft = ftype_by_type(f->type)) == NULL)
		return mlc_err_set(err, "proto: cannot encode a frame of unknown "
		    "type %d", f ? (int)f->type : -1);
	if (enc_validate(f, ft, err) != 0)
		return -1;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	body = frame_body((struct mlc_frame *)(uintptr_t)f);

	/* v, t, the string keys in declaration order, then the extra. */
	rc |= msgpack_pack_map(&pk, 2 + ft->n_keys + (ft->extra ? 1 : 0));
	rc |= pack_str(&pk, "v");
	rc |= msgpack_pack_int(&pk, MLC_PROTO_VERSION);
	rc |= pack_str(&pk, "t");
	rc |= pack_str(&pk, ft->t);
	for (i = 0; i < ft->n_keys; i++) {
		rc |= pack_str(&pk, ft->keys[i].name);
		rc |= pack_str(&pk, *key_slot((void *)(uintptr_t)body,
		    &ft->keys[i]));
	}
	if (ft->extra != NULL)
		rc |= pack_str(&pk, ft->extra);
	switch (f->type) {
	case MLC_FRAME_RECORD:
		rc |= msgpack_pack_map(&pk, f->u.rec.n_fields);
		for (i = 0; i < f->u.rec.n_fields; i++) {
			rc |= pack_str(&pk, f->u.rec.fields[i].name);
			rc |= pack_str(&pk, f->u.rec.fields[i].value);
		}
		break;
	case MLC_FRAME_AUDIT:
		rc |= msgpack_pack_map(&pk, f->u.aud.n_attrs);
		for (i = 0; i < f->u.aud.n_attrs; i++) {
			rc |= pack_str(&pk, f->u.aud.attrs[i].name);
			if (f->u.aud.attrs[i].is_int)
				rc |= msgpack_pack_int64(&pk, f->u.aud.attrs[i].i);
			else
				rc |= pack_str(&pk, f->u.aud.attrs[i].s);
		}
		break;
	case MLC_FRAME_ACK:
		rc |= msgpack_pack_array(&pk, f->u.ack.n_ids);
		for (i = 0; i < f->u.ack.n_ids; i++)
			rc |= pack_str(&pk, f->u.ack.ids[i]);
		break;
	case MLC_FRAME_MESSAGE:
		break;
	}
	if (rc != 0) {
		mlc_err_set(err, "proto: out of memory encoding frame '%s'", ft->t);
		goto err;
	}
	if (sb.size > MLC_PROTO_MAX_FRAME) {
		mlc_err_set(err, "proto: encoded frame '%s' is %zu bytes, larger "
		    "than the %d byte limit", ft->t, sb.size, MLC_PROTO_MAX_FRAME);
		goto err;
	}
	*len = sb.size;
	*buf = msgpack_sbuffer_release(&sb);
	return 0;

err:
	msgpack_sbuffer_destroy(&sb);
	return -1;
}

/* ---- helpers ------------------------------------------------------------- */

const char *
mlc_record_field(const struct mlc_record *r, const char *name)
{
	size_t i;

	if (r == NULL || name == NULL)
		return NULL;
	for (i = 0; i < r->n_fields; i++)
		if (r->fields[i].name != NULL &&
		    strcmp(r->fields[i].name, name) == 0)
			return r->fields[i].value;
	return NULL;
}

const struct mlc_attr *
mlc_audit_attr(const struct mlc_audit *a, const char *name)
{
	size_t i;

	if (a == NULL || name == NULL)
		return NULL;
	for (i = 0; i < a->n_attrs; i++)
		if (a->attrs[i].name != NULL && strcmp(a->attrs[i].name, name) == 0)
			return &a->attrs[i];
	return NULL;
}

int
mlc_proto_make_id(const char *const *parts, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0, lim, k;
	const char *p, *rep;
	char one[2] = { 0, 0 };

	if (out == NULL || outsz == 0)
		return -1;
	/* room for the text and its NUL: the smaller of outsz and an id */
	lim = outsz < MLC_PROTO_MAX_ID ? outsz : MLC_PROTO_MAX_ID;
	if (parts == NULL && n > 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (parts[i] == NULL)
			goto fail;
		if (i > 0) {
			if (o + 1 >= lim)
				goto fail;
			out[o++] = '/';
		}
		for (p = parts[i]; *p != '\0'; p++) {
			if (*p == '%') {
				rep = "%25";
			} else if (*p == '/') {
				rep = "%2F";
			} else {
				one[0] = *p;
				rep = one;
			}
			k = strlen(rep);
			if (o + k >= lim)
				goto fail;
			memcpy(out + o, rep, k);
			o += k;
		}
	}
	out[o] = '\0';
	return 0;

fail:
	out[0] = '\0';
	return -1;
}

char *
mlc_audit_to_json(const struct mlc_audit *a)
{
	const char *core[4];
	const char *names[4] = { "id", "from", "at", "kind" };
	const struct mlc_attr *at;
	json_t *o, *v;
	char *s = NULL;
	size_t i;

	if (a == NULL)
		return NULL;
	core[0] = a->id;
	core[1] = a->from;
	core[2] = a->at;
	core[3] = a->kind;
	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < 4; i++) {
		/* json_string() returns NULL for NULL or non-UTF-8 input */
		if (core[i] == NULL || (v = json_string(core[i])) == NULL ||
		    json_object_set_new(o, names[i], v) != 0)
			goto out;
	}
	for (i = 0; i < a->n_attrs; i++) {
		at = &a->attrs[i];
		/* an attribute may not replace a core key or an earlier one */
		if (at->name == NULL || json_object_get(o, at->name) != NULL)
			goto out;
		v = at->is_int ? json_integer((json_int_t)at->i) :
		    at->s ? json_string(at->s) : NULL;
		if (v == NULL || json_object_set_new(o, at->name, v) != 0)
			goto out;
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(o);
	return s;
}
