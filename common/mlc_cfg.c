/*
 * mlc_cfg: see mlc_cfg.h. Loads the YAML configuration with libfyaml and
 * validates it against a schema written as tables (one per mapping).
 *
 * Why tables: every mapping is walked by the same code, so every section
 * gets the same strictness for free: unknown keys (with a did-you-mean),
 * duplicate keys, wrong types, missing required keys, plain secrets. The
 * few rules that span keys (auth needs a user, a route names an entity)
 * live in per-section `post` hooks that run once a mapping is complete.
 *
 * Error lines: libfyaml 0.7 exposes marks only for scalar tokens, so a
 * mapping's line is the line of the key that introduced it (1 for the top
 * level, the first key's line for a sequence item). That is also the line
 * a person looks at ("x3:" when x3.folder is missing).
 *
 * Values that may be secrets are never copied into an error: the names of
 * environment variables are not echoed when invalid (a pasted password is
 * the likely mistake), and `password:`/`token:` keys are refused without
 * looking at the value.
 */
#include "mlc_cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlc_time.h"

/* A config file is small; anything bigger is a mistake (wrong file). */
#define CFG_MAX_FILE   (1024 * 1024)
/* Secret files hold one line; the cap keeps a wrong path from eating memory. */
#define SECRET_MAX_FILE (64 * 1024)
#define CFG_MAX_KEYS   16      /* keys per section table */
#define CFG_PATH_MAX   256
#define CFG_ECHO_MAX   40      /* bytes of a bad value echoed in an error */
/* sun_path is 108 bytes on Linux, including the NUL. */
#define IPC_PATH_MAX   107
#define CHANNEL_NAME_MAX 80

#define FSIZE(type, f) sizeof(((type *)0)->f)

struct cfg_ctx;

enum cfg_kind {
	CK_STR,     /* string; optional check function */
	CK_ENVNAME, /* name of an environment variable; never echoed */
	CK_INT,     /* decimal integer in [min, max]; int or int64_t by size */
	CK_DUR,     /* duration (mlc_time_parse_duration) in ms, in [min, max] */
	CK_BOOL,    /* true / false into an int */
	CK_MAP,     /* nested mapping described by sub */
	CK_SEQ,     /* sequence of 1..max mappings described by sub */
};

struct cfg_section;

struct cfg_key {
	const char *name;
	enum cfg_kind kind;
	bool required;
	size_t off;                 /* where the value goes, from the section base */
	size_t size;                /* string buffer / integer / sequence element size */
	int64_t min, max;           /* CK_INT, CK_DUR range; CK_SEQ max elements */
	size_t count_off;           /* CK_SEQ: offset of the size_t element count */
	const struct cfg_section *sub;
	const char *const *choices; /* CK_STR: accepted values (NULL-terminated) */
	int (*check)(struct cfg_ctx *ctx, int line, char *s);
	const char *empty_hint;     /* appended when a required string is empty */
};

struct cfg_section {
	const struct cfg_key *keys;
	size_t n_keys;
	void (*init)(void *base);   /* defaults for a sequence element */
	int (*post)(struct cfg_ctx *ctx, void *base, const int *lines, int map_line);
};

struct cfg_ctx {
	const char *file;
	struct mlc_err *err;
	struct mlc_cfg *cfg;
	char path[CFG_PATH_MAX];    /* "x3.entities[0]" while walking there */
	size_t index;               /* index of the sequence element being walked */
	int route_entity_line[MLC_CFG_MAX_ROUTES];
};

/* ---- errors ---------------------------------------------------------- */

static int
cfg_errf(struct cfg_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
cfg_errf(struct cfg_ctx *ctx, int line, const char *fmt, ...)
{
	char msg[MLC_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		return mlc_err_set(ctx->err, "%s:%d: %s", ctx->file, line, msg);
	return mlc_err_set(ctx->err, "%s: %s", ctx->file, msg);
}

/* "x3" + "folder" -> "x3.folder"; child NULL -> the current path. Truncates
 * (paths are short; only a pathological unknown key could be long). */
static void
cfg_path_join(const struct cfg_ctx *ctx, const char *child, char *out, size_t outsz)
{
	size_t n = 0;
	const char *parts[3] = { ctx->path, NULL, NULL };

	if (child != NULL) {
		parts[1] = ctx->path[0] != '\0' ? "." : "";
		parts[2] = child;
	}
	for (size_t i = 0; i < 3 && parts[i] != NULL; i++) {
		for (const char *p = parts[i]; *p != '\0' && n + 1 < outsz; p++)
			out[n++] = *p;
	}
	out[n] = '\0';
}

/* "FILE:LINE: key 'PATH[.child]': message" */
static int
cfg_keyerr(struct cfg_ctx *ctx, int line, const char *child, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
cfg_keyerr(struct cfg_ctx *ctx, int line, const char *child, const char *fmt, ...)
{
	char path[CFG_PATH_MAX], msg[MLC_ERR_MAX];
	va_list ap;

	cfg_path_join(ctx, child, path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cfg_errf(ctx, line, "key '%s': %s", path, msg);
}

/* Copies a value for an error message: printable ASCII only, bounded. */
static void
cfg_echo(const char *s, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 4 < outsz; i++) {
		if (i == CFG_ECHO_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)s[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
}

/* Formats a duration bound in the largest unit that divides it. */
static void
cfg_fmt_dur(int64_t ms, char *out, size_t outsz)
{
	if (ms != 0 && ms % 86400000 == 0)
		snprintf(out, outsz, "%lldd", (long long)(ms / 86400000));
	else if (ms != 0 && ms % 3600000 == 0)
		snprintf(out, outsz, "%lldh", (long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(out, outsz, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(out, outsz, "%llds", (long long)(ms / 1000));
	else
		snprintf(out, outsz, "%lldms", (long long)ms);
}

/* ---- small helpers --------------------------------------------------- */

static int
cfg_node_line(struct fy_node *n, int fallback)
{
	struct fy_token *t;
	const struct fy_mark *m;

	if (n == NULL || !fy_node_is_scalar(n))
		return fallback;
	t = fy_node_get_scalar_token(n);
	if (t == NULL)
		return fallback;
	m = fy_token_start_mark(t);
	if (m == NULL || m->line < 0)
		return fallback;
	return m->line + 1;
}

/* Line of a mapping: that of its first key, else the fallback. */
static int
cfg_map_first_line(struct fy_node *map, int fallback)
{
	void *it = NULL;
	struct fy_node_pair *p = fy_node_mapping_iterate(map, &it);

	return p != NULL ? cfg_node_line(fy_node_pair_key(p), fallback) : fallback;
}

static const char *
cfg_node_kind(struct fy_node *n)
{
	if (n == NULL)
		return "an empty value";
	if (fy_node_is_alias(n))
		return "an alias";
	switch (fy_node_get_type(n)) {
	case FYNT_MAPPING:
		return "a mapping";
	case FYNT_SEQUENCE:
		return "a sequence";
	default:
		return "a scalar";
	}
}

/* YAML core-schema null: an empty plain scalar, "~" or "null". */
static bool
cfg_is_null(struct fy_node *n, const char *s, size_t len)
{
	if (n == NULL)
		return true;
	if (fy_node_get_style(n) != FYNS_PLAIN)
		return false;
	return len == 0 || (len == 1 && s[0] == '~') ||
	    (len == 4 && (memcmp(s, "null", 4) == 0 ||
	    memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

static size_t
cfg_min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* Levenshtein distance, for "did you mean"; both strings are short. */
static size_t
cfg_edit_distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), row[65], i, j;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];

			row[j] = cfg_min3(row[j] + 1, row[j - 1] + 1,
			    diag + (a[i - 1] == b[j - 1] ? 0 : 1));
			diag = up;
		}
	}
	return row[lb];
}

static bool
cfg_has_ctrl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

/* Returns the offset of the first byte that is not valid UTF-8 (or a NUL),
 * or len when all is well. Overlongs, surrogates and > U+10FFFF count as bad. */
static size_t
cfg_utf8_bad(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned int cp;

		if (c == 0)
			return i;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return i;
		}
		if (len - i <= n)
			return i;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

/* ---- value checks (CK_STR check functions) --------------------------- */

static int
check_endpoint(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64];
	const char *rest;

	cfg_echo(s, strlen(s), echo, sizeof(echo));
	if (strncmp(s, "ipc://", 6) == 0) {
		rest = s + 6;
		if (*rest == '\0')
			return cfg_keyerr(ctx, line, NULL,
			    "an ipc:// endpoint needs a socket path (got '%s')", echo);
		if (strlen(rest) > IPC_PATH_MAX)
			return cfg_keyerr(ctx, line, NULL,
			    "ipc:// socket path is %zu bytes, the limit is %d",
			    strlen(rest), IPC_PATH_MAX);
	} else if (strncmp(s, "tcp://", 6) == 0) {
		const char *colon;
		char *end;
		long port;

		rest = s + 6;
		colon = strrchr(rest, ':');
		if (colon == NULL || colon == rest)
			return cfg_keyerr(ctx, line, NULL,
			    "a tcp:// endpoint must be tcp://HOST:PORT (got '%s')", echo);
		if (strcmp(colon + 1, "*") != 0) {
			errno = 0;
			port = strtol(colon + 1, &end, 10);
			if (colon[1] < '0' || colon[1] > '9' || *end != '\0' ||
			    errno != 0 || port < 1 || port > 65535)
				return cfg_keyerr(ctx, line, NULL,
				    "a tcp:// endpoint needs a port 1..65535 or '*' (got '%s')",
				    echo);
		}
	} else if (strncmp(s, "inproc://", 9) == 0) {
		if (s[9] == '\0')
			return cfg_keyerr(ctx, line, NULL,
			    "an inproc:// endpoint needs a name (got '%s')", echo);
	} else {
		return cfg_keyerr(ctx, line, NULL,
		    "must start with ipc://, tcp:// or inproc:// (got '%s')", echo);
	}
	if (strpbrk(s, " \t") != NULL)
		return cfg_keyerr(ctx, line, NULL, "must not contain spaces (got '%s')", echo);
	return 0;
}

static int
check_bind_host(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64];

	for (const char *p = s; *p != '\0'; p++) {
		if (*p == ' ' || *p == '/' || *p == '\t') {
			cfg_echo(s, strlen(s), echo, sizeof(echo));
			return cfg_keyerr(ctx, line, NULL,
			    "must be a host name or address such as 0.0.0.0 or * (got '%s')",
			    echo);
		}
	}
	return 0;
}

/* http(s)://HOST[...]; one trailing '/' is stripped so callers can append
 * "/api1/..." without doubling it. */
static int
check_http_url(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64];
	size_t len = strlen(s), scheme;

	cfg_echo(s, len, echo, sizeof(echo));
	if (strncmp(s, "https://", 8) == 0)
		scheme = 8;
	else if (strncmp(s, "http://", 7) == 0)
		scheme = 7;
	else
		return cfg_keyerr(ctx, line, NULL,
		    "must start with http:// or https:// (got '%s')", echo);
	if (len > scheme && s[len - 1] == '/')
		s[--len] = '\0';
	if (len == scheme || s[scheme] == '/')
		return cfg_keyerr(ctx, line, NULL, "must name a host (got '%s')", echo);
	if (strpbrk(s, " \t?#") != NULL)
		return cfg_keyerr(ctx, line, NULL,
		    "must be a base URL without spaces, query or fragment (got '%s')", echo);
	if (strchr(s + scheme, '@') != NULL)
		return cfg_keyerr(ctx, line, NULL,
		    "must not carry credentials (user@host); use the secret keys");
	return 0;
}

/* A file that must be readable now: failing at start beats failing at the
 * first TLS handshake an hour later. */
static int
check_readable_file(struct cfg_ctx *ctx, int line, char *s)
{
	struct stat st;

	if (*s == '\0')
		return 0;
	if (stat(s, &st) != 0 || access(s, R_OK) != 0)
		return cfg_keyerr(ctx, line, NULL, "cannot read '%s': %s", s, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return cfg_keyerr(ctx, line, NULL, "'%s' is not a regular file", s);
	return 0;
}

/* Names that go into api1 URLs (folder, class, representation, fields):
 * letters, digits and '_' only, so nothing needs escaping. */
static int
check_x3_ident(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64];

	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_')) {
			cfg_echo(s, strlen(s), echo, sizeof(echo));
			return cfg_keyerr(ctx, line, NULL,
			    "must contain only letters, digits and '_' (got '%s')", echo);
		}
	}
	return 0;
}

/* HTTP Basic sends "user:password": a ':' in the user name cannot be sent. */
static int
check_basic_user(struct cfg_ctx *ctx, int line, char *s)
{
	if (strchr(s, ':') != NULL)
		return cfg_keyerr(ctx, line, NULL, "must not contain ':' (HTTP Basic)");
	return 0;
}

static int
check_entity_name(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64];

	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
			cfg_echo(s, strlen(s), echo, sizeof(echo));
			return cfg_keyerr(ctx, line, NULL,
			    "must contain only lowercase letters, digits and '_' (got '%s')",
			    echo);
		}
	}
	return 0;
}

static bool
channel_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n - 1 > CHANNEL_NAME_MAX || s[0] != '#')
		return false;
	for (const char *p = s + 1; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.'))
			return false;
	}
	return true;
}

static bool
channel_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 9 || (s[0] != 'C' && s[0] != 'G' && s[0] != 'D'))
		return false;
	for (const char *p = s + 1; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return false;
	}
	return true;
}

static int
check_channel(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64];

	if (channel_name_ok(s) || channel_id_ok(s))
		return 0;
	cfg_echo(s, strlen(s), echo, sizeof(echo));
	return cfg_keyerr(ctx, line, NULL,
	    "must be '#name' (lowercase letters, digits, '-', '_', '.'; at most %d) "
	    "or a channel ID such as C0123456789 (got '%s')", CHANNEL_NAME_MAX, echo);
}

static int
check_route_entity(struct cfg_ctx *ctx, int line, char *s)
{
	/* Resolved against x3.entities once the whole file is read: routes may
	 * come before x3 in the file. */
	ctx->route_entity_line[ctx->index] = line;
	if (strcmp(s, "*") == 0)
		return 0;
	return check_entity_name(ctx, line, s);
}

static bool
env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	}
	return true;
}

/* ---- schema ---------------------------------------------------------- */

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const x3_auths[] = { "basic", NULL };

#define K_STR(T, key, f, req, chk) \
	{ .name = key, .kind = CK_STR, .required = req, .off = offsetof(T, f), \
	  .size = FSIZE(T, f), .check = chk }
#define K_ENV(T, key, f) \
	{ .name = key, .kind = CK_ENVNAME, .off = offsetof(T, f), .size = FSIZE(T, f) }
#define K_INT(T, key, f, lo, hi) \
	{ .name = key, .kind = CK_INT, .off = offsetof(T, f), .size = FSIZE(T, f), \
	  .min = lo, .max = hi }
#define K_DUR(T, key, f, lo, hi) \
	{ .name = key, .kind = CK_DUR, .off = offsetof(T, f), .size = FSIZE(T, f), \
	  .min = lo, .max = hi }
#define K_BOOL(T, key, f) \
	{ .name = key, .kind = CK_BOOL, .off = offsetof(T, f), .size = FSIZE(T, f) }

#define SEC_S   1000LL
#define SEC_M   (60 * SEC_S)
#define SEC_H   (60 * SEC_M)
#define SEC_D   (24 * SEC_H)

/* The header's dispatcher entry is an anonymous struct; this twin gives the
 * table something to take offsetof() on, and the asserts keep them in step. */
struct cfg_dispatcher_ep {
	char in[MLC_CFG_STR];
	char ack[MLC_CFG_STR];
};
_Static_assert(sizeof(struct cfg_dispatcher_ep) ==
    FSIZE(struct mlc_cfg_endpoints, dispatchers[0]), "dispatcher entry layout");
_Static_assert(offsetof(struct cfg_dispatcher_ep, ack) ==
    offsetof(struct mlc_cfg_endpoints, dispatchers[0].ack) -
    offsetof(struct mlc_cfg_endpoints, dispatchers[0].in), "dispatcher entry layout");

static const struct cfg_key dispatcher_keys[] = {
	K_STR(struct cfg_dispatcher_ep, "in", in, true, check_endpoint),
	K_STR(struct cfg_dispatcher_ep, "ack", ack, true, check_endpoint),
};
static const struct cfg_section dispatcher_sec = {
	dispatcher_keys, sizeof(dispatcher_keys) / sizeof(dispatcher_keys[0]), NULL, NULL
};

static int post_endpoints(struct cfg_ctx *, void *, const int *, int);

static const struct cfg_key endpoints_keys[] = {
	K_STR(struct mlc_cfg_endpoints, "bind_host", bind_host, false, check_bind_host),
	K_STR(struct mlc_cfg_endpoints, "poller_ack", poller_ack, true, check_endpoint),
	K_STR(struct mlc_cfg_endpoints, "formatter_in", formatter_in, true, check_endpoint),
	K_STR(struct mlc_cfg_endpoints, "formatter_ack", formatter_ack, true, check_endpoint),
	{ .name = "dispatchers", .kind = CK_SEQ, .required = true,
	  .off = offsetof(struct mlc_cfg_endpoints, dispatchers),
	  .size = FSIZE(struct mlc_cfg_endpoints, dispatchers[0]),
	  .max = MLC_CFG_MAX_DISPATCHERS,
	  .count_off = offsetof(struct mlc_cfg_endpoints, n_dispatchers),
	  .sub = &dispatcher_sec },
	K_STR(struct mlc_cfg_endpoints, "auditor_in", auditor_in, true, check_endpoint),
	K_STR(struct mlc_cfg_endpoints, "auditor_pub", auditor_pub, true, check_endpoint),
};
static const struct cfg_section endpoints_sec = {
	endpoints_keys, sizeof(endpoints_keys) / sizeof(endpoints_keys[0]), NULL,
	post_endpoints
};

static void init_entity(void *);
static int post_entity(struct cfg_ctx *, void *, const int *, int);

static const struct cfg_key entity_keys[] = {
	K_STR(struct mlc_cfg_entity, "name", name, true, check_entity_name),
	K_STR(struct mlc_cfg_entity, "class", class_name, true, check_x3_ident),
	K_STR(struct mlc_cfg_entity, "representation", representation, false, check_x3_ident),
	K_STR(struct mlc_cfg_entity, "key", key_field, true, check_x3_ident),
	K_STR(struct mlc_cfg_entity, "stamp", stamp_field, false, check_x3_ident),
	K_BOOL(struct mlc_cfg_entity, "enabled", enabled),
};
static const struct cfg_section entity_sec = {
	entity_keys, sizeof(entity_keys) / sizeof(entity_keys[0]), init_entity, post_entity
};

static int post_x3(struct cfg_ctx *, void *, const int *, int);

static const struct cfg_key x3_keys[] = {
	K_STR(struct mlc_cfg_x3, "url", url, true, check_http_url),
	K_STR(struct mlc_cfg_x3, "folder", folder, true, check_x3_ident),
	{ .name = "auth", .kind = CK_STR, .off = offsetof(struct mlc_cfg_x3, auth),
	  .size = FSIZE(struct mlc_cfg_x3, auth), .choices = x3_auths },
	K_STR(struct mlc_cfg_x3, "user", user, false, check_basic_user),
	K_ENV(struct mlc_cfg_x3, "password_env", password_env),
	K_STR(struct mlc_cfg_x3, "password_file", password_file, false, NULL),
	K_STR(struct mlc_cfg_x3, "ca_file", ca_file, false, check_readable_file),
	K_DUR(struct mlc_cfg_x3, "timeout", timeout_ms, 1 * SEC_S, 1 * SEC_H),
	K_INT(struct mlc_cfg_x3, "page_size", page_size, 1, 1000),
	K_DUR(struct mlc_cfg_x3, "poll_interval", poll_interval_ms, 1 * SEC_S, 1 * SEC_D),
	K_DUR(struct mlc_cfg_x3, "initial_window", initial_window_ms, 0, 3650 * SEC_D),
	{ .name = "entities", .kind = CK_SEQ, .required = true,
	  .off = offsetof(struct mlc_cfg_x3, entities),
	  .size = FSIZE(struct mlc_cfg_x3, entities[0]),
	  .max = MLC_CFG_MAX_ENTITIES,
	  .count_off = offsetof(struct mlc_cfg_x3, n_entities),
	  .sub = &entity_sec },
};
static const struct cfg_section x3_sec = {
	x3_keys, sizeof(x3_keys) / sizeof(x3_keys[0]), NULL, post_x3
};

static int post_slack(struct cfg_ctx *, void *, const int *, int);

static const struct cfg_key slack_keys[] = {
	K_STR(struct mlc_cfg_slack, "api_url", api_url, false, check_http_url),
	K_ENV(struct mlc_cfg_slack, "token_env", token_env),
	K_STR(struct mlc_cfg_slack, "token_file", token_file, false, NULL),
	K_STR(struct mlc_cfg_slack, "ca_file", ca_file, false, check_readable_file),
	K_DUR(struct mlc_cfg_slack, "timeout", timeout_ms, 1 * SEC_S, 1 * SEC_H),
	K_DUR(struct mlc_cfg_slack, "min_interval", min_interval_ms, 0, 1 * SEC_H),
	K_INT(struct mlc_cfg_slack, "max_attempts", max_attempts, 1, 100),
};
static const struct cfg_section slack_sec = {
	slack_keys, sizeof(slack_keys) / sizeof(slack_keys[0]), NULL, post_slack
};

static int post_route(struct cfg_ctx *, void *, const int *, int);

static const struct cfg_key route_keys[] = {
	K_STR(struct mlc_cfg_route, "name", name, true, NULL),
	K_STR(struct mlc_cfg_route, "entity", entity, true, check_route_entity),
	{ .name = "channel", .kind = CK_STR, .required = true,
	  .off = offsetof(struct mlc_cfg_route, channel),
	  .size = FSIZE(struct mlc_cfg_route, channel), .check = check_channel,
	  .empty_hint = "; quote channel names (channel: \"#procure\"): "
	      "an unquoted # starts a YAML comment" },
};
static const struct cfg_section route_sec = {
	route_keys, sizeof(route_keys) / sizeof(route_keys[0]), NULL, post_route
};

/* auditor.retention lives in struct mlc_cfg itself: the section's base is
 * the whole config (off 0 below). */
static const struct cfg_key auditor_keys[] = {
	K_DUR(struct mlc_cfg, "retention", audit_retention_ms, 1 * SEC_H, 36500 * SEC_D),
};
static const struct cfg_section auditor_sec = {
	auditor_keys, 1, NULL, NULL
};

static int post_root(struct cfg_ctx *, void *, const int *, int);

static const struct cfg_key root_keys[] = {
	K_STR(struct mlc_cfg, "state_dir", state_dir, true, NULL),
	{ .name = "log_level", .kind = CK_STR, .off = offsetof(struct mlc_cfg, log_level),
	  .size = FSIZE(struct mlc_cfg, log_level), .choices = log_levels },
	K_DUR(struct mlc_cfg, "resend_after", resend_after_ms, 100, 1 * SEC_D),
	K_INT(struct mlc_cfg, "max_frame_bytes", max_frame_bytes, 4096, 64 * 1024 * 1024),
	{ .name = "endpoints", .kind = CK_MAP, .required = true,
	  .off = offsetof(struct mlc_cfg, ep), .sub = &endpoints_sec },
	{ .name = "x3", .kind = CK_MAP, .required = true,
	  .off = offsetof(struct mlc_cfg, x3), .sub = &x3_sec },
	{ .name = "slack", .kind = CK_MAP, .required = true,
	  .off = offsetof(struct mlc_cfg, slack), .sub = &slack_sec },
	{ .name = "routes", .kind = CK_SEQ, .required = true,
	  .off = offsetof(struct mlc_cfg, routes),
	  .size = FSIZE(struct mlc_cfg, routes[0]),
	  .max = MLC_CFG_MAX_ROUTES,
	  .count_off = offsetof(struct mlc_cfg, n_routes),
	  .sub = &route_sec },
	{ .name = "auditor", .kind = CK_MAP, .off = 0, .sub = &auditor_sec },
};
static const struct cfg_section root_sec = {
	root_keys, sizeof(root_keys) / sizeof(root_keys[0]), NULL, post_root
};

/* Keys that would hold a secret in the file itself, refused everywhere. */
static const char *const secret_keys[] = {
	"password", "token", "secret", "client_secret", NULL
};

static void
cfg_defaults(struct mlc_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
	cfg->resend_after_ms = 3 * SEC_S;
	cfg->max_frame_bytes = 1024 * 1024;
	snprintf(cfg->x3.auth, sizeof(cfg->x3.auth), "basic");
	cfg->x3.timeout_ms = 30 * SEC_S;
	cfg->x3.page_size = 100;
	cfg->x3.poll_interval_ms = 60 * SEC_S;
	cfg->x3.initial_window_ms = 24 * SEC_H;
	snprintf(cfg->slack.api_url, sizeof(cfg->slack.api_url), "https://slack.com/api");
	cfg->slack.timeout_ms = 10 * SEC_S;
	cfg->slack.min_interval_ms = 1 * SEC_S;
	cfg->slack.max_attempts = 8;
	cfg->audit_retention_ms = 90 * SEC_D;
}

static void
init_entity(void *base)
{
	struct mlc_cfg_entity *e = base;

	snprintf(e->stamp_field, sizeof(e->stamp_field), "UPDDATTIM");
	e->enabled = 1;
}

static int
key_line(const struct cfg_section *sec, const int *lines, const char *name)
{
	for (size_t i = 0; i < sec->n_keys; i++)
		if (strcmp(sec->keys[i].name, name) == 0)
			return lines[i];
	return 0;
}

/* ---- post hooks: rules that span keys -------------------------------- */

static int
post_endpoints(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg_endpoints *ep = base;
	const char *val[4 + 2 * MLC_CFG_MAX_DISPATCHERS];
	char name[4 + 2 * MLC_CFG_MAX_DISPATCHERS][48];
	size_t n = 0;

	/* Two processes binding one endpoint fail at start with EADDRINUSE, or
	 * worse, with ipc:// the second silently steals the socket file. */
#define ADD_EP(v, ...) do { \
	val[n] = (v); snprintf(name[n], sizeof(name[n]), __VA_ARGS__); n++; \
} while (0)
	ADD_EP(ep->poller_ack, "endpoints.poller_ack");
	ADD_EP(ep->formatter_in, "endpoints.formatter_in");
	ADD_EP(ep->formatter_ack, "endpoints.formatter_ack");
	ADD_EP(ep->auditor_in, "endpoints.auditor_in");
	ADD_EP(ep->auditor_pub, "endpoints.auditor_pub");
	for (size_t i = 0; i < ep->n_dispatchers && n + 2 <= sizeof(val) / sizeof(val[0]); i++) {
		ADD_EP(ep->dispatchers[i].in, "endpoints.dispatchers[%zu].in", i);
		ADD_EP(ep->dispatchers[i].ack, "endpoints.dispatchers[%zu].ack", i);
	}
#undef ADD_EP
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			if (strcmp(val[i], val[j]) == 0) {
				int line = key_line(&endpoints_sec, lines, "dispatchers");

				return cfg_errf(ctx, line ? line : map_line,
				    "key '%s': same endpoint as %s ('%s'); each process "
				    "needs its own", name[j], name[i], val[j]);
			}
		}
	}
	return 0;
}

static int
post_entity(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg_entity *e = base;
	const struct mlc_cfg_entity *all = ctx->cfg->x3.entities;

	if (e->representation[0] == '\0')
		memcpy(e->representation, e->class_name, sizeof(e->representation));
	for (size_t i = 0; i < ctx->index; i++) {
		if (strcmp(all[i].name, e->name) == 0)
			return cfg_keyerr(ctx, key_line(&entity_sec, lines, "name"), "name",
			    "duplicate entity name '%s' (also x3.entities[%zu])", e->name, i);
	}
	(void)map_line;
	return 0;
}

static int
post_x3(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg_x3 *x3 = base;
	char p_env[CFG_PATH_MAX], p_file[CFG_PATH_MAX];

	if (strcmp(x3->auth, "basic") == 0) {
		if (x3->user[0] == '\0') {
			cfg_path_join(ctx, "user", p_env, sizeof(p_env));
			return cfg_errf(ctx, map_line,
			    "key '%s' is required (x3.auth is 'basic')", p_env);
		}
		if (x3->password_env[0] == '\0' && x3->password_file[0] == '\0') {
			cfg_path_join(ctx, "password_env", p_env, sizeof(p_env));
			cfg_path_join(ctx, "password_file", p_file, sizeof(p_file));
			return cfg_errf(ctx, map_line,
			    "key '%s' or '%s' is required (x3.auth is 'basic')", p_env, p_file);
		}
	}
	(void)lines;
	return 0;
}

static int
post_slack(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg_slack *sl = base;
	char p_env[CFG_PATH_MAX], p_file[CFG_PATH_MAX];

	if (sl->token_env[0] == '\0' && sl->token_file[0] == '\0') {
		cfg_path_join(ctx, "token_env", p_env, sizeof(p_env));
		cfg_path_join(ctx, "token_file", p_file, sizeof(p_file));
		return cfg_errf(ctx, map_line, "key '%s' or '%s' is required", p_env, p_file);
	}
	(void)lines;
	return 0;
}

static int
post_route(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg_route *r = base;
	const struct mlc_cfg_route *all = ctx->cfg->routes;

	for (size_t i = 0; i < ctx->index; i++) {
		if (strcmp(all[i].name, r->name) == 0)
			return cfg_keyerr(ctx, key_line(&route_sec, lines, "name"), "name",
			    "duplicate route name '%s' (also routes[%zu])", r->name, i);
	}
	(void)map_line;
	return 0;
}

static int
post_root(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg *cfg = base;
	char known[MLC_ERR_MAX / 2];
	size_t used = 0;

	for (size_t i = 0; i < cfg->x3.n_entities && used < sizeof(known); i++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
		    i ? ", " : "", cfg->x3.entities[i].name);
	if (cfg->x3.n_entities == 0)
		known[0] = '\0';
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct mlc_cfg_route *r = &cfg->routes[i];

		if (strcmp(r->entity, "*") == 0 || mlc_cfg_entity_find(cfg, r->entity) != NULL)
			continue;
		return cfg_errf(ctx, ctx->route_entity_line[i] ? ctx->route_entity_line[i] :
		    key_line(&root_sec, lines, "routes"), "key 'routes[%zu].entity': route '%s' names entity "
		    "'%s', which is not in x3.entities (configured: %s; or use \"*\")",
		    i, r->name, r->entity, known);
	}
	(void)map_line;
	return 0;
}

/* ---- the walker ------------------------------------------------------ */

static int cfg_walk_map(struct cfg_ctx *ctx, struct fy_node *map, int map_line,
    const struct cfg_section *sec, void *base);

/* Appends ".key" or "[i]" to ctx->path; returns the old length to restore. */
static size_t
cfg_path_push(struct cfg_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t
cfg_path_push(struct cfg_ctx *ctx, const char *fmt, ...)
{
	size_t old = strlen(ctx->path);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->path + old, sizeof(ctx->path) - old, fmt, ap);
	va_end(ap);
	return old;
}

static int
cfg_seq(struct cfg_ctx *ctx, const struct cfg_key *k, struct fy_node *v, int line,
    void *base)
{
	char *arr = (char *)base + k->off;
	size_t *count = (size_t *)(void *)((char *)base + k->count_off);
	size_t n, i = 0;
	void *it = NULL;
	struct fy_node *item;

	if (v == NULL || fy_node_is_alias(v) || !fy_node_is_sequence(v))
		return cfg_keyerr(ctx, line, NULL,
		    "must be a sequence of 1 to %lld entries (got %s)",
		    (long long)k->max, cfg_node_kind(v));
	n = (size_t)fy_node_sequence_item_count(v);
	if (n < 1 || n > (size_t)k->max)
		return cfg_keyerr(ctx, line, NULL,
		    "must be a sequence of 1 to %lld entries (got %zu)", (long long)k->max, n);
	while ((item = fy_node_sequence_iterate(v, &it)) != NULL) {
		int item_line = cfg_node_line(item, line);
		void *elem = arr + i * k->size;
		size_t old = cfg_path_push(ctx, "[%zu]", i);

		if (fy_node_is_alias(item) || !fy_node_is_mapping(item))
			return cfg_keyerr(ctx, item_line, NULL, "must be a mapping (got %s)",
			    cfg_node_kind(item));
		memset(elem, 0, k->size);
		if (k->sub->init != NULL)
			k->sub->init(elem);
		ctx->index = i;
		if (cfg_walk_map(ctx, item, cfg_map_first_line(item, line), k->sub, elem) != 0)
			return -1;
		ctx->path[old] = '\0';
		i++;
		*count = i;
	}
	return 0;
}

static int
cfg_parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	bool neg = false;
	int64_t v = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

static int
cfg_scalar(struct cfg_ctx *ctx, const struct cfg_key *k, struct fy_node *v, int line,
    void *base)
{
	static const char *const what[] = {
		[CK_STR] = "a string", [CK_ENVNAME] = "an environment variable name",
		[CK_INT] = "an integer", [CK_DUR] = "a duration", [CK_BOOL] = "true or false",
	};
	char *dst = (char *)base + k->off;
	const char *s = "";
	size_t len = 0;
	char buf[MLC_CFG_STR], echo[64], lo[24], hi[24];
	int64_t n;

	if (v != NULL && (fy_node_is_alias(v) || !fy_node_is_scalar(v)))
		return cfg_keyerr(ctx, line, NULL, "must be %s (got %s)", what[k->kind],
		    cfg_node_kind(v));
	if (v != NULL) {
		s = fy_node_get_scalar(v, &len);
		if (s == NULL)
			s = "", len = 0;
	}
	if (cfg_is_null(v, s, len))
		s = "", len = 0;
	if (cfg_has_ctrl(s, len))
		return cfg_keyerr(ctx, line, NULL, "must not contain control characters");

	switch (k->kind) {
	case CK_STR:
	case CK_ENVNAME:
		if (len >= k->size)
			return cfg_keyerr(ctx, line, NULL,
			    "must be at most %zu bytes (got %zu)", k->size - 1, len);
		if (len == 0 && k->required)
			return cfg_keyerr(ctx, line, NULL, "must not be empty%s",
			    k->empty_hint ? k->empty_hint : "");
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (k->kind == CK_ENVNAME && len > 0 && !env_name_ok(buf))
			/* Not echoed: a value here that is not a variable name is
			 * most likely the secret itself. */
			return cfg_keyerr(ctx, line, NULL,
			    "must be the name of an environment variable "
			    "(letters, digits, '_'; not starting with a digit)");
		if (k->choices != NULL) {
			char list[128];
			size_t used = 0;
			bool ok = false;

			list[0] = '\0';
			for (size_t i = 0; k->choices[i] != NULL && used < sizeof(list); i++) {
				ok = ok || strcmp(buf, k->choices[i]) == 0;
				used += (size_t)snprintf(list + used, sizeof(list) - used,
				    "%s%s", i ? ", " : "", k->choices[i]);
			}
			if (!ok) {
				cfg_echo(s, len, echo, sizeof(echo));
				return cfg_keyerr(ctx, line, NULL,
				    "must be one of %s (got '%s')", list, echo);
			}
		}
		if (k->check != NULL && len > 0 && k->check(ctx, line, buf) != 0)
			return -1;
		memcpy(dst, buf, strlen(buf) + 1);
		return 0;
	case CK_INT:
		cfg_echo(s, len, echo, sizeof(echo));
		memcpy(buf, s, len < sizeof(buf) ? len : sizeof(buf) - 1);
		buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = '\0';
		if (len >= sizeof(buf) || cfg_parse_int(buf, &n) != 0 || n < k->min || n > k->max)
			return cfg_keyerr(ctx, line, NULL,
			    "must be an integer between %lld and %lld (got '%s')",
			    (long long)k->min, (long long)k->max, echo);
		if (k->size == sizeof(int)) {
			int iv = (int)n;

			memcpy(dst, &iv, sizeof(iv));
		} else {
			memcpy(dst, &n, sizeof(n));
		}
		return 0;
	case CK_DUR:
		cfg_echo(s, len, echo, sizeof(echo));
		cfg_fmt_dur(k->min, lo, sizeof(lo));
		cfg_fmt_dur(k->max, hi, sizeof(hi));
		memcpy(buf, s, len < sizeof(buf) ? len : sizeof(buf) - 1);
		buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = '\0';
		if (len >= sizeof(buf) || mlc_time_parse_duration(buf, &n) != 0 ||
		    n < k->min || n > k->max)
			return cfg_keyerr(ctx, line, NULL,
			    "must be a duration between %s and %s such as 500ms, 90s, 15m, "
			    "1h, 2d (got '%s')", lo, hi, echo);
		memcpy(dst, &n, sizeof(n));
		return 0;
	case CK_BOOL: {
		int b;

		if ((len == 4 && (memcmp(s, "true", 4) == 0 || memcmp(s, "True", 4) == 0 ||
		    memcmp(s, "TRUE", 4) == 0)))
			b = 1;
		else if (len == 5 && (memcmp(s, "false", 5) == 0 ||
		    memcmp(s, "False", 5) == 0 || memcmp(s, "FALSE", 5) == 0))
			b = 0;
		else {
			cfg_echo(s, len, echo, sizeof(echo));
			return cfg_keyerr(ctx, line, NULL, "must be true or false (got '%s')",
			    echo);
		}
		memcpy(dst, &b, sizeof(b));
		return 0;
	}
	default:
		return cfg_keyerr(ctx, line, NULL, "internal error: bad schema kind");
	}
}

static int
cfg_unknown_key(struct cfg_ctx *ctx, const struct cfg_section *sec, const char *key,
    size_t klen, int line)
{
	char echo[64], path[CFG_PATH_MAX];
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < sec->n_keys; i++) {
		size_t d = cfg_edit_distance(key, klen, sec->keys[i].name);

		if (d < best_d) {
			best_d = d;
			best = sec->keys[i].name;
		}
	}
	cfg_echo(key, klen, echo, sizeof(echo));
	cfg_path_join(ctx, echo, path, sizeof(path));
	if (best != NULL)
		return cfg_errf(ctx, line, "unknown key '%s' (did you mean '%s'?)", path, best);
	return cfg_errf(ctx, line, "unknown key '%s'", path);
}

static int
cfg_secret_key(struct cfg_ctx *ctx, const struct cfg_section *sec, const char *key,
    int line)
{
	char path[CFG_PATH_MAX], env[80], file[80], p_env[CFG_PATH_MAX], p_file[CFG_PATH_MAX];
	bool has_env = false, has_file = false;

	snprintf(env, sizeof(env), "%s_env", key);
	snprintf(file, sizeof(file), "%s_file", key);
	for (size_t i = 0; i < sec->n_keys; i++) {
		has_env = has_env || strcmp(sec->keys[i].name, env) == 0;
		has_file = has_file || strcmp(sec->keys[i].name, file) == 0;
	}
	cfg_path_join(ctx, key, path, sizeof(path));
	if (has_env && has_file) {
		cfg_path_join(ctx, env, p_env, sizeof(p_env));
		cfg_path_join(ctx, file, p_file, sizeof(p_file));
		return cfg_errf(ctx, line, "key '%s': secrets are not accepted in the config "
		    "file; use %s or %s", path, p_env, p_file);
	}
	return cfg_errf(ctx, line, "key '%s': secrets are not accepted in the config file; "
	    "name an environment variable or a file that holds it", path);
}

static int
cfg_walk_map(struct cfg_ctx *ctx, struct fy_node *map, int map_line,
    const struct cfg_section *sec, void *base)
{
	int lines[CFG_MAX_KEYS] = { 0 };
	void *it = NULL;
	struct fy_node_pair *pair;

	while ((pair = fy_node_mapping_iterate(map, &it)) != NULL) {
		struct fy_node *kn = fy_node_pair_key(pair), *vn = fy_node_pair_value(pair);
		int line = cfg_node_line(kn, map_line);
		const char *key;
		size_t klen, idx, old;
		int rc;

		if (kn == NULL || fy_node_is_alias(kn) || !fy_node_is_scalar(kn))
			return cfg_keyerr(ctx, line, NULL, "keys must be plain names (got %s)",
			    kn == NULL ? "an empty key" : cfg_node_kind(kn));
		key = fy_node_get_scalar(kn, &klen);
		if (key == NULL)
			key = "", klen = 0;
		for (size_t i = 0; secret_keys[i] != NULL; i++) {
			if (strlen(secret_keys[i]) == klen &&
			    memcmp(secret_keys[i], key, klen) == 0)
				return cfg_secret_key(ctx, sec, secret_keys[i], line);
		}
		for (idx = 0; idx < sec->n_keys; idx++) {
			if (strlen(sec->keys[idx].name) == klen &&
			    memcmp(sec->keys[idx].name, key, klen) == 0)
				break;
		}
		if (idx == sec->n_keys)
			return cfg_unknown_key(ctx, sec, key, klen, line);
		if (lines[idx] != 0)
			return cfg_keyerr(ctx, line, sec->keys[idx].name,
			    "duplicate key (first at line %d)", lines[idx]);
		lines[idx] = line;

		old = cfg_path_push(ctx, "%s%s", ctx->path[0] ? "." : "", sec->keys[idx].name);
		switch (sec->keys[idx].kind) {
		case CK_MAP:
			if (vn == NULL || fy_node_is_alias(vn) || !fy_node_is_mapping(vn))
				return cfg_keyerr(ctx, line, NULL, "must be a mapping (got %s)",
				    cfg_node_kind(vn));
			rc = cfg_walk_map(ctx, vn, line, sec->keys[idx].sub,
			    (char *)base + sec->keys[idx].off);
			break;
		case CK_SEQ:
			rc = cfg_seq(ctx, &sec->keys[idx], vn, line, base);
			break;
		default:
			rc = cfg_scalar(ctx, &sec->keys[idx], vn, line, base);
			break;
		}
		if (rc != 0)
			return -1;
		ctx->path[old] = '\0';
	}
	for (size_t i = 0; i < sec->n_keys; i++) {
		char path[CFG_PATH_MAX];

		if (sec->keys[i].required && lines[i] == 0) {
			cfg_path_join(ctx, sec->keys[i].name, path, sizeof(path));
			return cfg_errf(ctx, map_line, "key '%s' is required", path);
		}
	}
	return sec->post != NULL ? sec->post(ctx, base, lines, map_line) : 0;
}

static void
cfg_diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

/* ---- public API ------------------------------------------------------ */

int
mlc_cfg_load_string(struct mlc_cfg *cfg, const char *yaml, size_t len,
    const char *name, struct mlc_err *err)
{
	struct cfg_ctx ctx;
	struct mlc_cfg *tmp = NULL;
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag = NULL;
	struct fy_parse_cfg pcfg;
	struct fy_document *doc = NULL;
	struct fy_node *root;
	size_t bad;
	int rc = -1;

	memset(&ctx, 0, sizeof(ctx));
	ctx.file = name != NULL ? name : "<config>";
	ctx.err = err;
	if (cfg == NULL || yaml == NULL)
		return cfg_errf(&ctx, 0, "no configuration given");
	if (len > CFG_MAX_FILE)
		return cfg_errf(&ctx, 0, "configuration is %zu bytes, the limit is %d",
		    len, CFG_MAX_FILE);
	if (strspn(yaml, " \t\r\n") >= len)
		return cfg_errf(&ctx, 0, "the configuration is empty");
	/* libfyaml would read past an embedded NUL or mangle bad UTF-8 into an
	 * empty value; refuse both with a line number instead. */
	bad = cfg_utf8_bad((const unsigned char *)yaml, len);
	if (bad < len) {
		int line = 1;

		for (size_t i = 0; i < bad; i++)
			line += yaml[i] == '\n';
		return cfg_errf(&ctx, line, "%s", yaml[bad] == '\0' ?
		    "NUL byte in the configuration" : "invalid UTF-8 in the configuration");
	}

	tmp = malloc(sizeof(*tmp));
	if (tmp == NULL)
		return cfg_errf(&ctx, 0, "out of memory");
	cfg_defaults(tmp);
	snprintf(tmp->path, sizeof(tmp->path), "%s", ctx.file);
	ctx.cfg = tmp;

	/* Diagnostics are collected, not printed: the error goes to the caller
	 * as one line with file and line number. */
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = cfg_diag_discard;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (diag == NULL) {
		cfg_errf(&ctx, 0, "out of memory (YAML diagnostics)");
		goto err;
	}
	fy_diag_set_collect_errors(diag, true);
	memset(&pcfg, 0, sizeof(pcfg));
	/* Duplicate keys are allowed by the parser so this file can report them
	 * with the key path and both lines. */
	pcfg.flags = FYPCF_QUIET | FYPCF_ALLOW_DUPLICATE_KEYS;
	pcfg.diag = diag;
	doc = fy_document_build_from_string(&pcfg, yaml, len);
	if (doc == NULL) {
		void *it = NULL;
		struct fy_diag_error *de;

		while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
			if (de->type == FYET_ERROR && de->msg != NULL)
				break;
		}
		if (de != NULL && de->line > 0)
			cfg_errf(&ctx, de->line, "YAML syntax error: %s", de->msg);
		else if (de != NULL)
			cfg_errf(&ctx, 0, "YAML syntax error: %s", de->msg);
		else
			/* No document and no complaint: only comments (or a BOM). */
			cfg_errf(&ctx, 0, "the configuration is empty");
		goto err;
	}
	root = fy_document_root(doc);
	if (root == NULL || (fy_node_is_scalar(root) && fy_node_is_null(root))) {
		cfg_errf(&ctx, 0, "the configuration is empty");
		goto err;
	}
	if (fy_node_is_alias(root) || !fy_node_is_mapping(root)) {
		cfg_errf(&ctx, cfg_node_line(root, 1),
		    "the top level must be a mapping of keys such as state_dir, x3, slack "
		    "(got %s)", cfg_node_kind(root));
		goto err;
	}
	if (cfg_walk_map(&ctx, root, 1, &root_sec, tmp) != 0)
		goto err;
	memcpy(cfg, tmp, sizeof(*cfg));
	rc = 0;
err:
	if (doc != NULL)
		fy_document_destroy(doc);
	if (diag != NULL)
		fy_diag_destroy(diag);
	free(tmp);
	return rc;
}

/* Reads at most max bytes of path into a malloc'd NUL-terminated buffer. */
static char *
cfg_read_file(const char *path, size_t max, size_t *lenp, int *too_big)
{
	int fd;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;

	*too_big = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(max + 2);
	if (buf == NULL)
		goto err;
	/* Read one byte past the limit to tell "exactly max" from "too big". */
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		*too_big = 1;
		errno = EFBIG;
		goto err;
	}
	buf[len] = '\0';
	close(fd);
	*lenp = len;
	return buf;
err:
	if (buf != NULL) {
		explicit_bzero(buf, max + 2);
		free(buf);
	}
	n = errno;
	close(fd);
	errno = (int)n;
	return NULL;
}

int
mlc_cfg_load(struct mlc_cfg *cfg, const char *path, struct mlc_err *err)
{
	char *buf;
	size_t len;
	int too_big, rc;

	if (path == NULL || *path == '\0')
		path = getenv("MLC_CONFIG");
	if (path == NULL || *path == '\0')
		path = "mlc.yaml";
	if (strlen(path) >= MLC_CFG_STR)
		return mlc_err_set(err, "config path is longer than %d bytes", MLC_CFG_STR - 1);
	buf = cfg_read_file(path, CFG_MAX_FILE, &len, &too_big);
	if (buf == NULL && too_big)
		return mlc_err_set(err, "%s: configuration is larger than %d bytes", path,
		    CFG_MAX_FILE);
	if (buf == NULL)
		return mlc_err_set(err, "%s: cannot read the configuration: %s", path,
		    strerror(errno));
	rc = mlc_cfg_load_string(cfg, buf, len, path, err);
	free(buf);
	return rc;
}

char *
mlc_cfg_secret(const char *env_name, const char *file, const char *what,
    struct mlc_err *err)
{
	const char *v;
	char *buf, *out;
	size_t len, line;
	int too_big;

	if (what == NULL)
		what = "secret";
	if (env_name != NULL && *env_name != '\0') {
		v = getenv(env_name);
		if (v != NULL && *v != '\0') {
			out = strdup(v);
			if (out == NULL)
				mlc_err_set(err, "%s: out of memory", what);
			return out;
		}
		if (file == NULL || *file == '\0') {
			mlc_err_set(err, "%s: environment variable %s is not set or empty",
			    what, env_name);
			return NULL;
		}
	}
	if (file == NULL || *file == '\0') {
		mlc_err_set(err, "%s: not configured (name an environment variable or a file "
		    "that holds it)", what);
		return NULL;
	}
	buf = cfg_read_file(file, SECRET_MAX_FILE, &len, &too_big);
	if (buf == NULL && too_big) {
		mlc_err_set(err, "%s: file %s is larger than %d KiB; it should hold one line",
		    what, file, SECRET_MAX_FILE / 1024);
		return NULL;
	}
	if (buf == NULL) {
		mlc_err_set(err, "%s: cannot read file %s: %s", what, file, strerror(errno));
		return NULL;
	}
	for (line = 0; line < len && buf[line] != '\n'; line++)
		;
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	out = NULL;
	if (memchr(buf, '\0', line) != NULL) {
		mlc_err_set(err, "%s: file %s contains a NUL byte in its first line", what, file);
	} else if (line == 0) {
		mlc_err_set(err, "%s: file %s is empty (the secret is its first line)",
		    what, file);
	} else {
		out = strndup(buf, line);
		if (out == NULL)
			mlc_err_set(err, "%s: out of memory", what);
	}
	explicit_bzero(buf, len);
	free(buf);
	return out;
}

const struct mlc_cfg_entity *
mlc_cfg_entity_find(const struct mlc_cfg *cfg, const char *name)
{
	if (cfg == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->x3.n_entities && i < MLC_CFG_MAX_ENTITIES; i++) {
		if (strcmp(cfg->x3.entities[i].name, name) == 0)
			return &cfg->x3.entities[i];
	}
	return NULL;
}
