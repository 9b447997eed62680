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

#include "mlc_money.h"
#include "mlc_secrets.h"
#include "mlc_time.h"

/* A config file is small; anything bigger is a mistake (wrong file). */
#define CFG_MAX_FILE   (1024 * 1024)
/* Secret files hold one line; the cap keeps a wrong path from eating memory. */
#define SECRET_MAX_FILE (64 * 1024)
#define CFG_MAX_KEYS   32      /* keys per section table */
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
	CK_LIST,    /* sequence of 0..max strings (or one string) into char[max][size] */
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
	/* Lines of routes[i].event, .accounts, .journals, checked once the
	 * entities' kinds are known (post_root). */
	int route_rule_line[MLC_CFG_MAX_ROUTES][3];
	/* `<base>_secret` keys seen: where their `<base>_file` field is (offset
	 * in the config, size), completed with "@<store path>" by post_root
	 * once secrets.store and state_dir are known (cfg_secret_refs_finish). */
	size_t secret_ref_off[16], secret_ref_size[16];
	size_t n_secret_refs;
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
	/* Inside routes[i], a rule (not name, entity, channel, whose messages
	 * were fixed before rules existed) names the route too once its name
	 * has been read: a person knows routes by name, not by index. */
	if (strncmp(path, "routes[", 7) == 0 && ctx->cfg != NULL &&
	    strchr(path, '.') != NULL && strcmp(strchr(path, '.'), ".name") != 0 &&
	    strcmp(strchr(path, '.'), ".entity") != 0 &&
	    strcmp(strchr(path, '.'), ".channel") != 0 &&
	    ctx->index < MLC_CFG_MAX_ROUTES && ctx->cfg->routes[ctx->index].name[0] != '\0' &&
	    strstr(msg, "route '") == NULL) {
		char name[48];
		size_t n = 0;

		for (const char *p = ctx->cfg->routes[ctx->index].name; *p && n + 1 < sizeof(name); p++)
			name[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
		name[n] = '\0';
		return cfg_errf(ctx, line, "key '%s': route '%s': %s", path, name, msg);
	}
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

/* A GraphQL dotted path or api1 field name: letters, digits, '_' and '.'. */
static int
check_x3_path(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64];

	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || (*p == '.' && p != s &&
		    p[1] != '\0' && p[1] != '.'))) {
			cfg_echo(s, strlen(s), echo, sizeof(echo));
			return cfg_keyerr(ctx, line, NULL, "must be a field name or a dotted "
			    "path of letters, digits and '_' (got '%s')", echo);
		}
	}
	return 0;
}

static int
check_xfield_name(struct cfg_ctx *ctx, int line, char *s)
{
	if (strncmp(s, "x_", 2) != 0 || s[2] == '\0')
		return cfg_keyerr(ctx, line, NULL, "extra field names must start with 'x_' "
		    "(e.g. x_buyer), so they never clash with the canonical fields");
	return check_entity_name(ctx, line, s);
}

/* "Mon-Fri", "Sat,Sun", "Mon,Wed-Fri" (ranges may wrap: "Fri-Mon") into a
 * mask, bit 0 = Sunday. Case-insensitive three-letter names. */
static int
cfg_days_mask(const char *s, unsigned *mask)
{
	static const char *const names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	unsigned m = 0;

	while (*s != '\0') {
		int d[2] = { -1, -1 };

		for (int side = 0; side < 2; side++) {
			while (*s == ' ')
				s++;
			for (int i = 0; i < 7; i++) {
				if (strncasecmp(s, names[i], 3) == 0) {
					d[side] = i;
					break;
				}
			}
			if (d[side] < 0)
				return -1;
			s += 3;
			while (*s == ' ')
				s++;
			if (side == 0 && *s != '-') {
				d[1] = d[0];
				break;
			}
			if (side == 0)
				s++;
		}
		for (int i = d[0];; i = (i + 1) % 7) {
			m |= 1u << i;
			if (i == d[1])
				break;
		}
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return -1;
	}
	if (m == 0)
		return -1;
	*mask = m;
	return 0;
}

static int
check_days(struct cfg_ctx *ctx, int line, char *s)
{
	unsigned m;
	char echo[64];

	if (cfg_days_mask(s, &m) != 0) {
		cfg_echo(s, strlen(s), echo, sizeof(echo));
		return cfg_keyerr(ctx, line, NULL, "must be days such as Mon-Fri or Sat,Sun "
		    "(got '%s')", echo);
	}
	return 0;
}

/* "HH:MM" from 00:00 to 24:00 into minutes since midnight. */
static int
cfg_hhmm(const char *s, int *min)
{
	int h, m;

	if (strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '9' || s[1] < '0' ||
	    s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || (h == 24 && m != 0))
		return -1;
	*min = h * 60 + m;
	return 0;
}

static int
check_hhmm(struct cfg_ctx *ctx, int line, char *s)
{
	int m;
	char echo[64];

	if (cfg_hhmm(s, &m) != 0) {
		cfg_echo(s, strlen(s), echo, sizeof(echo));
		return cfg_keyerr(ctx, line, NULL, "must be a time HH:MM between 00:00 and "
		    "24:00, quoted (got '%s')", echo);
	}
	return 0;
}

/* An IANA zone name that has a file under $TZDIR or /usr/share/zoneinfo
 * (package tzdata): a misspelt zone would otherwise silently be UTC. */
static int
check_tz(struct cfg_ctx *ctx, int line, char *s)
{
	const char *dir = getenv("TZDIR");
	char path[512], echo[64];
	struct stat sb;

	cfg_echo(s, strlen(s), echo, sizeof(echo));
	for (const char *p = s; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '+' ||
		    (*p == '/' && p != s)) || (p[0] == '.' && p[1] == '.'))
			return cfg_keyerr(ctx, line, NULL, "must be an IANA time zone such as "
			    "Europe/Paris (got '%s')", echo);
	}
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", s);
	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return cfg_keyerr(ctx, line, NULL, "unknown time zone '%s' (no %s; is the "
		    "tzdata package installed?)", echo, path);
	return 0;
}

static int
check_event_name(struct cfg_ctx *ctx, int line, char *s)
{
	return check_entity_name(ctx, line, s);
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

/* ---- routes: deep links and templates (the formatter's keys) ---------- */

/* Placeholders of a deep link (formatter/slackfmt.c slackfmt_link). */
static const char *const link_names[] = {
	"number", "key", "folder", "entity", "kind", NULL
};

const char *const mlc_cfg_template_names[] = {
	/* canonical fields, docs/records.md */
	"number", "currency", "status", "status_text", "site", "company", "updated_by",
	"supplier_code", "supplier_name", "order_date", "amount_excl_tax",
	"amount_incl_tax", "approval", "closed", "reference", "supplier_doc",
	"invoice_type", "accounting_date", "payment_approval", "gl_accounts",
	"entry_type", "journal", "description", "lines",
	/* the formatter's: kind and event as words, the amount thresholds
	 * compare, the document date, and where the record came from */
	"kind", "event", "amount", "date", "entity", "key", "stamp", "route",
	NULL
};

/* The closest name in names to s[0..n), for "did you mean". */
static const char *
cfg_closest(const char *s, size_t n, const char *const *names)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; names[i] != NULL; i++) {
		size_t d = cfg_edit_distance(s, n, names[i]);

		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	return best;
}

/* Checks the {placeholders} of a template or link: every '{' opens a known
 * name closed by '}', "{{" / "}}" are literal braces when allowed. On error
 * writes the reason into why. */
static int
cfg_placeholders(const char *s, const char *const *names, bool x_names, bool doubled,
    char *why, size_t whysz)
{
	for (const char *p = s; *p != '\0'; p++) {
		const char *end, *best;
		char echo[64];
		size_t n;
		bool ok = false;

		if (doubled && (p[0] == '{' || p[0] == '}') && p[1] == p[0]) {
			p++;
			continue;
		}
		if (*p == '}') {
			snprintf(why, whysz, "a '}' without its '{'%s", doubled ?
			    " (write }} for a literal brace)" : "");
			return -1;
		}
		if (*p != '{')
			continue;
		end = strchr(p + 1, '}');
		n = end != NULL ? (size_t)(end - p - 1) : 0;
		if (end == NULL || memchr(p + 1, '{', n) != NULL) {
			snprintf(why, whysz, "a '{' without its '}'%s", doubled ?
			    " (write {{ for a literal brace)" : "");
			return -1;
		}
		for (size_t i = 0; names[i] != NULL && !ok; i++)
			ok = strlen(names[i]) == n && memcmp(names[i], p + 1, n) == 0;
		if (!ok && x_names && n > 2 && n < 64 && memcmp(p + 1, "x_", 2) == 0) {
			ok = true;
			for (size_t i = 1; i <= n; i++)
				ok = ok && ((p[i] >= 'a' && p[i] <= 'z') ||
				    (p[i] >= '0' && p[i] <= '9') || p[i] == '_');
		}
		if (!ok) {
			cfg_echo(p + 1, n, echo, sizeof(echo));
			best = cfg_closest(p + 1, n, names);
			if (best != NULL)
				snprintf(why, whysz, "unknown placeholder '{%s}' (did you mean "
				    "'{%s}'?)", echo, best);
			else
				snprintf(why, whysz, "unknown placeholder '{%s}' (known: %s)",
				    echo, x_names ? "the record fields of docs/records.md such as "
				    "{number}, {supplier_name}, {amount_excl_tax}, {currency}; "
				    "{kind}, {event}, {amount}, {date}; x_<name>" :
				    "{number}, {key}, {folder}, {entity}, {kind}");
			return -1;
		}
		p = end;
	}
	return 0;
}

/* x3.link_pattern, x3.entities[].link: an http(s) URL pattern. Nothing in
 * it may end the Slack link it is put in (<url|text>); values replacing
 * the placeholders are percent-encoded by the formatter. */
static int
check_link_pattern(struct cfg_ctx *ctx, int line, char *s)
{
	char why[200];

	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return cfg_keyerr(ctx, line, NULL, "must be an http:// or https:// URL pattern "
		    "such as https://x3.example.com/...?key={number}");
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '|' || c == '"')
			return cfg_keyerr(ctx, line, NULL, "must not contain spaces, quotes, "
			    "'<', '>' or '|' (they would end the Slack link); percent-encode "
			    "them (%%20, %%7C, ...)");
	}
	if (cfg_placeholders(s, link_names, false, false, why, sizeof(why)) != 0)
		return cfg_keyerr(ctx, line, NULL, "%s", why);
	return 0;
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

/* auditor.http_listen, inbound.listen: "HOST:PORT" with a numeric IPv4
 * host (or "*" for every interface) and a port 0..65535 (0 = any free). */
static int
check_listen(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64], host[64];
	const char *colon = strrchr(s, ':');
	unsigned a, b, c, d;
	char *end;
	long port;
	char tail;

	cfg_echo(s, strlen(s), echo, sizeof(echo));
	if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host))
		goto bad;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    port < 0 || port > 65535)
		goto bad;
	if (strcmp(host, "*") == 0)
		return 0;
	if (sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 &&
	    a < 256 && b < 256 && c < 256 && d < 256)
		return 0;
bad:
	return cfg_keyerr(ctx, line, NULL,
	    "must be IPV4:PORT such as 127.0.0.1:9464, or *:PORT for every "
	    "interface (got '%s')", echo);
}

/* inbound.replay_users: "U0123ABCD,W0456EFGH" (Slack user IDs). */
static int
check_user_ids(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64];
	size_t run = 0;

	for (const char *p = s;; p++) {
		if (*p == ',' || *p == '\0') {
			if (run < 3)
				goto bad;
			if (*p == '\0')
				return 0;
			run = 0;
			continue;
		}
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			goto bad;
		if (run == 0 && *p != 'U' && *p != 'W')
			goto bad;
		run++;
	}
bad:
	cfg_echo(s, strlen(s), echo, sizeof(echo));
	return cfg_keyerr(ctx, line, NULL,
	    "must be Slack user IDs separated by commas, no spaces, such as "
	    "U0123ABCD,W0456EFGH (got '%s')", echo);
}

static int
check_slash_command(struct cfg_ctx *ctx, int line, char *s)
{
	char echo[64];

	if (s[0] == '/' && s[1] != '\0') {
		const char *p = s + 1;

		while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_')
			p++;
		if (*p == '\0')
			return 0;
	}
	cfg_echo(s, strlen(s), echo, sizeof(echo));
	return cfg_keyerr(ctx, line, NULL,
	    "must be a slash command such as /x3 (lowercase letters, digits, '-', "
	    "'_') (got '%s')", echo);
}

/* Fills an unset auditor endpoint from auditor_in: ipc and inproc get a
 * suffix, tcp the same host with port + delta. */
static int
derive_auditor_ep(struct cfg_ctx *ctx, const char *in, const char *suffix,
    long delta, char *out, int line)
{
	if (out[0] != '\0' || in[0] == '\0')
		return 0;
	if (strncmp(in, "tcp://", 6) == 0) {
		const char *colon = strrchr(in, ':');
		long port = strtol(colon + 1, NULL, 10);

		if (strcmp(colon + 1, "*") == 0)
			snprintf(out, MLC_CFG_STR, "%.*s:*", (int)(colon - in), in);
		else if (port + delta <= 65535)
			snprintf(out, MLC_CFG_STR, "%.*s:%ld", (int)(colon - in), in,
			    port + delta);
		else
			return cfg_errf(ctx, line, "key 'endpoints.auditor_in': port %ld "
			    "leaves no room for the derived auditor_ctl/auditor_ack "
			    "(port + 1000/1001); set endpoints.auditor_ctl and "
			    "endpoints.auditor_ack", port);
		return 0;
	}
	if (strlen(in) + strlen(suffix) >= MLC_CFG_STR ||
	    (strncmp(in, "ipc://", 6) == 0 &&
	    strlen(in + 6) + strlen(suffix) > IPC_PATH_MAX))
		return cfg_errf(ctx, line, "key 'endpoints.auditor_in': too long to "
		    "derive endpoints.auditor_ctl/auditor_ack from it; set them");
	if ((size_t)snprintf(out, MLC_CFG_STR, "%s%s", in, suffix) >= MLC_CFG_STR)
		return cfg_errf(ctx, line, "key 'endpoints.auditor_in': too long to "
		    "derive endpoints.auditor_ctl/auditor_ack from it; set them");
	return 0;
}

/* ---- schema ---------------------------------------------------------- */

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const x3_auths[] = { "basic", "oauth2", "connected_app", NULL };
static const char *const x3_apis[] = { "api1", "graphql", NULL };
static const char *const entity_kinds[] = {
	"purchase_order", "supplier_invoice", "gl_entry", NULL
};

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
	K_STR(struct mlc_cfg_endpoints, "auditor_ctl", auditor_ctl, false, check_endpoint),
	K_STR(struct mlc_cfg_endpoints, "auditor_ack", auditor_ack, false, check_endpoint),
};
static const struct cfg_section endpoints_sec = {
	endpoints_keys, sizeof(endpoints_keys) / sizeof(endpoints_keys[0]), NULL,
	post_endpoints
};

static const struct cfg_key xfield_keys[] = {
	K_STR(struct mlc_cfg_xfield, "name", name, true, check_xfield_name),
	K_STR(struct mlc_cfg_xfield, "from", from, true, check_x3_path),
};
static const struct cfg_section xfield_sec = {
	xfield_keys, sizeof(xfield_keys) / sizeof(xfield_keys[0]), NULL, NULL
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
	K_STR(struct mlc_cfg_entity, "link", link, false, check_link_pattern),
	{ .name = "kind", .kind = CK_STR, .off = offsetof(struct mlc_cfg_entity, kind),
	  .size = FSIZE(struct mlc_cfg_entity, kind), .choices = entity_kinds },
	{ .name = "api", .kind = CK_STR, .off = offsetof(struct mlc_cfg_entity, api),
	  .size = FSIZE(struct mlc_cfg_entity, api), .choices = x3_apis },
	K_STR(struct mlc_cfg_entity, "graphql_root", graphql_root, false, check_x3_ident),
	K_STR(struct mlc_cfg_entity, "graphql_node", graphql_node, false, check_x3_ident),
	K_STR(struct mlc_cfg_entity, "graphql_key", graphql_key, false, check_x3_ident),
	{ .name = "notify", .kind = CK_LIST, .off = offsetof(struct mlc_cfg_entity, notify),
	  .size = FSIZE(struct mlc_cfg_entity, notify[0]), .max = MLC_CFG_MAX_NOTIFY,
	  .count_off = offsetof(struct mlc_cfg_entity, n_notify), .check = check_event_name },
	{ .name = "fields", .kind = CK_SEQ, .off = offsetof(struct mlc_cfg_entity, fields),
	  .size = FSIZE(struct mlc_cfg_entity, fields[0]), .max = MLC_CFG_MAX_XFIELDS,
	  .count_off = offsetof(struct mlc_cfg_entity, n_fields), .sub = &xfield_sec },
};
static const struct cfg_section entity_sec = {
	entity_keys, sizeof(entity_keys) / sizeof(entity_keys[0]), init_entity, post_entity
};

static const struct cfg_key oauth2_keys[] = {
	K_STR(struct mlc_cfg_x3_oauth2, "token_url", token_url, false, check_http_url),
	K_STR(struct mlc_cfg_x3_oauth2, "client_id", client_id, false, NULL),
	K_ENV(struct mlc_cfg_x3_oauth2, "client_secret_env", client_secret_env),
	K_STR(struct mlc_cfg_x3_oauth2, "client_secret_file", client_secret_file, false, NULL),
	K_STR(struct mlc_cfg_x3_oauth2, "redirect_uri", redirect_uri, false, NULL),
	K_DUR(struct mlc_cfg_x3_oauth2, "refresh_margin", refresh_margin_ms, 0, 1 * SEC_H),
	K_DUR(struct mlc_cfg_x3_oauth2, "refresh_ttl", refresh_ttl_ms, 1 * SEC_S, 3650 * SEC_D),
	K_DUR(struct mlc_cfg_x3_oauth2, "warn_first", warn_first_ms, 0, 3650 * SEC_D),
	K_DUR(struct mlc_cfg_x3_oauth2, "warn_last", warn_last_ms, 0, 3650 * SEC_D),
};
static const struct cfg_section oauth2_sec = {
	oauth2_keys, sizeof(oauth2_keys) / sizeof(oauth2_keys[0]), NULL, NULL
};

static const struct cfg_key app_keys[] = {
	K_STR(struct mlc_cfg_x3_app, "client_id", client_id, false, NULL),
	K_ENV(struct mlc_cfg_x3_app, "secret_env", secret_env),
	K_STR(struct mlc_cfg_x3_app, "secret_file", secret_file, false, NULL),
	K_STR(struct mlc_cfg_x3_app, "audience", audience, false, NULL),
	K_DUR(struct mlc_cfg_x3_app, "validity", validity_ms, 1 * SEC_S, 1 * SEC_D),
	K_DUR(struct mlc_cfg_x3_app, "skew", skew_ms, 0, 1 * SEC_H),
};
static const struct cfg_section app_sec = {
	app_keys, sizeof(app_keys) / sizeof(app_keys[0]), NULL, NULL
};

static void init_schedule(void *);
static int post_schedule(struct cfg_ctx *, void *, const int *, int);

static const struct cfg_key schedule_keys[] = {
	{ .name = "every", .kind = CK_DUR, .required = true,
	  .off = offsetof(struct mlc_cfg_schedule_rule, every_ms),
	  .size = FSIZE(struct mlc_cfg_schedule_rule, every_ms),
	  .min = 1 * SEC_S, .max = 1 * SEC_D },
	K_STR(struct mlc_cfg_schedule_rule, "days", days, false, check_days),
	K_STR(struct mlc_cfg_schedule_rule, "from", from, false, check_hhmm),
	K_STR(struct mlc_cfg_schedule_rule, "to", to, false, check_hhmm),
	K_STR(struct mlc_cfg_schedule_rule, "tz", tz, false, check_tz),
};
static const struct cfg_section schedule_sec = {
	schedule_keys, sizeof(schedule_keys) / sizeof(schedule_keys[0]), init_schedule,
	post_schedule
};

static int post_x3(struct cfg_ctx *, void *, const int *, int);

static const struct cfg_key x3_keys[] = {
	K_STR(struct mlc_cfg_x3, "url", url, true, check_http_url),
	K_STR(struct mlc_cfg_x3, "link_pattern", link_pattern, false, check_link_pattern),
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
	{ .name = "api", .kind = CK_STR, .off = offsetof(struct mlc_cfg_x3, api),
	  .size = FSIZE(struct mlc_cfg_x3, api), .choices = x3_apis },
	K_DUR(struct mlc_cfg_x3, "lookback", lookback_ms, 0, 30 * SEC_D),
	K_INT(struct mlc_cfg_x3, "max_attempts", max_attempts, 1, 20),
	K_DUR(struct mlc_cfg_x3, "retry_backoff", retry_backoff_ms, 0, 10 * SEC_M),
	{ .name = "oauth2", .kind = CK_MAP, .off = offsetof(struct mlc_cfg_x3, oauth2),
	  .sub = &oauth2_sec },
	{ .name = "connected_app", .kind = CK_MAP, .off = offsetof(struct mlc_cfg_x3, app),
	  .sub = &app_sec },
	{ .name = "schedule", .kind = CK_SEQ, .off = offsetof(struct mlc_cfg_x3, schedule),
	  .size = FSIZE(struct mlc_cfg_x3, schedule[0]), .max = MLC_CFG_MAX_SCHEDULE,
	  .count_off = offsetof(struct mlc_cfg_x3, n_schedule), .sub = &schedule_sec },
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
	K_INT(struct mlc_cfg_slack, "burst", burst, 1, 100),
	K_ENV(struct mlc_cfg_slack, "refresh_token_env", refresh_token_env),
	K_STR(struct mlc_cfg_slack, "refresh_token_file", refresh_token_file, false, NULL),
	K_STR(struct mlc_cfg_slack, "client_id", client_id, false, NULL),
	K_ENV(struct mlc_cfg_slack, "client_secret_env", client_secret_env),
	K_STR(struct mlc_cfg_slack, "client_secret_file", client_secret_file, false, NULL),
};
static const struct cfg_section slack_sec = {
	slack_keys, sizeof(slack_keys) / sizeof(slack_keys[0]), NULL, post_slack
};

static int post_route(struct cfg_ctx *, void *, const int *, int);

static const char *const amount_fields[] = { "amount_excl_tax", "amount_incl_tax", NULL };
/* A route list (event, suppliers, ...): 0..n strings; post_route refuses an
 * empty one with the route's name. */
#define K_RLIST(key, f) \
	{ .name = key, .kind = CK_LIST, .off = offsetof(struct mlc_cfg_route, f), \
	  .size = FSIZE(struct mlc_cfg_route, f[0]), \
	  .max = sizeof(((struct mlc_cfg_route *)0)->f) / \
	      sizeof(((struct mlc_cfg_route *)0)->f[0]), \
	  .count_off = offsetof(struct mlc_cfg_route, n_##f) }

static const struct cfg_key route_keys[] = {
	K_STR(struct mlc_cfg_route, "name", name, true, NULL),
	K_STR(struct mlc_cfg_route, "entity", entity, true, check_route_entity),
	{ .name = "channel", .kind = CK_STR, .required = true,
	  .off = offsetof(struct mlc_cfg_route, channel),
	  .size = FSIZE(struct mlc_cfg_route, channel), .check = check_channel,
	  .empty_hint = "; quote channel names (channel: \"#procure\"): "
	      "an unquoted # starts a YAML comment" },
	K_RLIST("event", events),
	K_STR(struct mlc_cfg_route, "amount_gte", amount_gte, false, NULL),
	K_STR(struct mlc_cfg_route, "amount_lt", amount_lt, false, NULL),
	{ .name = "amount_field", .kind = CK_STR,
	  .off = offsetof(struct mlc_cfg_route, amount_field),
	  .size = FSIZE(struct mlc_cfg_route, amount_field), .choices = amount_fields },
	K_STR(struct mlc_cfg_route, "currency", currency, false, NULL),
	K_RLIST("suppliers", suppliers),
	K_RLIST("sites", sites),
	K_RLIST("accounts", accounts),
	K_RLIST("journals", journals),
	K_STR(struct mlc_cfg_route, "template", template_text, false, NULL),
};
static const struct cfg_section route_sec = {
	route_keys, sizeof(route_keys) / sizeof(route_keys[0]), NULL, post_route
};

/* auditor.retention lives in struct mlc_cfg itself: the section's base is
 * the whole config (off 0 below). */
static const struct cfg_key auditor_keys[] = {
	K_DUR(struct mlc_cfg, "retention", audit_retention_ms, 1 * SEC_H, 36500 * SEC_D),
	K_STR(struct mlc_cfg, "http_listen", aud.http_listen, false, check_listen),
	K_STR(struct mlc_cfg, "alert_channel", aud.alert_channel, false, check_channel),
	K_INT(struct mlc_cfg, "alert_max_per_hour", aud.alert_max_per_hour, 1, 3600),
	K_DUR(struct mlc_cfg, "compact_interval", aud.compact_interval_ms, 0, 365 * SEC_D),
	K_DUR(struct mlc_cfg, "health_max_silence", aud.health_max_silence_ms, 1 * SEC_S,
	    7 * SEC_D),
};
static const struct cfg_section auditor_sec = {
	auditor_keys, sizeof(auditor_keys) / sizeof(auditor_keys[0]), NULL, NULL
};

static const struct cfg_key inbound_keys[] = {
	K_STR(struct mlc_cfg_inbound, "listen", listen, false, check_listen),
	K_ENV(struct mlc_cfg_inbound, "signing_secret_env", signing_secret_env),
	K_STR(struct mlc_cfg_inbound, "signing_secret_file", signing_secret_file, false, NULL),
	K_STR(struct mlc_cfg_inbound, "replay_users", replay_users, false, check_user_ids),
	K_STR(struct mlc_cfg_inbound, "command", command, false, check_slash_command),
	K_INT(struct mlc_cfg_inbound, "max_body", max_body, 1024, 1024 * 1024),
};
static const struct cfg_section inbound_sec = {
	inbound_keys, sizeof(inbound_keys) / sizeof(inbound_keys[0]), NULL, NULL
};

static int cfg_secret_refs_finish(struct cfg_ctx *, struct mlc_cfg *);
static int post_curve(struct cfg_ctx *, void *, const int *, int);

/* zmq.curve.* lives in struct mlc_cfg itself (base = the whole config). */
static const struct cfg_key curve_keys[] = {
	K_BOOL(struct mlc_cfg, "enabled", curve.enabled),
	K_STR(struct mlc_cfg, "server_secret_key_file", curve.server_secret_key_file, false,
	    NULL),
	K_STR(struct mlc_cfg, "server_public_key", curve.server_public_key, false, NULL),
	K_STR(struct mlc_cfg, "client_secret_key_file", curve.client_secret_key_file, false,
	    NULL),
	K_STR(struct mlc_cfg, "client_public_key", curve.client_public_key, false, NULL),
};
static const struct cfg_section curve_sec = {
	curve_keys, sizeof(curve_keys) / sizeof(curve_keys[0]), NULL, post_curve
};
static const struct cfg_key zmq_keys[] = {
	{ .name = "curve", .kind = CK_MAP, .off = 0, .sub = &curve_sec },
};
static const struct cfg_section zmq_sec = { zmq_keys, 1, NULL, NULL };

/* Keys are checked for form here; the files are read at start
 * (mlc_zmq_curve_enable), where a bad one stops the process. */
static int
post_curve(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg *cfg = base;
	const char *need[4] = { cfg->curve.server_secret_key_file,
	    cfg->curve.server_public_key, cfg->curve.client_secret_key_file,
	    cfg->curve.client_public_key };
	static const char *const names[4] = { "server_secret_key_file",
	    "server_public_key", "client_secret_key_file", "client_public_key" };

	(void)lines;
	if (!cfg->curve.enabled)
		return 0;
	for (int i = 0; i < 4; i++) {
		if (need[i][0] == '\0')
			return cfg_errf(ctx, map_line, "key 'zmq.curve.%s' is required "
			    "(zmq.curve.enabled is true; `mlc keys generate --curve DIR` "
			    "makes the keys)", names[i]);
		if ((i == 1 || i == 3) && strlen(need[i]) != 40)
			return cfg_errf(ctx, map_line, "key 'zmq.curve.%s': must be a Z85 "
			    "public key of 40 characters (got %zu)", names[i], strlen(need[i]));
	}
	return 0;
}

/* secrets.store lives in struct mlc_cfg itself (base = the whole config). */
static const struct cfg_key secrets_keys[] = {
	K_STR(struct mlc_cfg, "store", secrets_store, false, NULL),
};
static const struct cfg_section secrets_sec = {
	secrets_keys, sizeof(secrets_keys) / sizeof(secrets_keys[0]), NULL, NULL
};

/* shutdown.* lives in struct mlc_cfg itself (base = the whole config). */
static const struct cfg_key shutdown_keys[] = {
	K_DUR(struct mlc_cfg, "drain_timeout", drain_timeout_ms, 0, 10 * SEC_M),
};
static const struct cfg_section shutdown_sec = {
	shutdown_keys, sizeof(shutdown_keys) / sizeof(shutdown_keys[0]), NULL, NULL
};

static int post_root(struct cfg_ctx *, void *, const int *, int);

static const struct cfg_key root_keys[] = {
	K_STR(struct mlc_cfg, "state_dir", state_dir, true, NULL),
	{ .name = "log_level", .kind = CK_STR, .off = offsetof(struct mlc_cfg, log_level),
	  .size = FSIZE(struct mlc_cfg, log_level), .choices = log_levels },
	K_DUR(struct mlc_cfg, "resend_after", resend_after_ms, 100, 1 * SEC_D),
	/* One value for both ends of every hop: senders refuse (at put) what
	 * receivers (ZMQ_MAXMSGSIZE) would drop. At most MLC_PROTO_MAX_FRAME
	 * (1 MiB): no frame can be encoded or decoded past it. */
	K_INT(struct mlc_cfg, "max_frame_bytes", max_frame_bytes, 4096, 1024 * 1024),
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
	{ .name = "inbound", .kind = CK_MAP,
	  .off = offsetof(struct mlc_cfg, inbound), .sub = &inbound_sec },
	{ .name = "secrets", .kind = CK_MAP, .off = 0, .sub = &secrets_sec },
	{ .name = "zmq", .kind = CK_MAP, .off = 0, .sub = &zmq_sec },
	{ .name = "shutdown", .kind = CK_MAP, .off = 0, .sub = &shutdown_sec },
};
static const struct cfg_section root_sec = {
	root_keys, sizeof(root_keys) / sizeof(root_keys[0]), NULL, post_root
};

/* Keys that would hold a secret in the file itself, refused everywhere. */
static const char *const secret_keys[] = {
	"password", "token", "secret", "client_secret", "signing_secret",
	"refresh_token", "bot_token", "api_key", "private_key", NULL
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
	snprintf(cfg->x3.api, sizeof(cfg->x3.api), "api1");
	cfg->x3.lookback_ms = 5 * SEC_M;
	cfg->x3.max_attempts = 4;
	cfg->x3.retry_backoff_ms = 1 * SEC_S;
	cfg->x3.oauth2.refresh_margin_ms = 60 * SEC_S;
	cfg->x3.oauth2.refresh_ttl_ms = 30 * SEC_D;
	cfg->x3.oauth2.warn_first_ms = 7 * SEC_D;
	cfg->x3.oauth2.warn_last_ms = 1 * SEC_D;
	cfg->x3.app.validity_ms = 60 * SEC_S;
	cfg->x3.app.skew_ms = 30 * SEC_S;
	snprintf(cfg->slack.api_url, sizeof(cfg->slack.api_url), "https://slack.com/api");
	cfg->slack.timeout_ms = 10 * SEC_S;
	cfg->slack.min_interval_ms = 1 * SEC_S;
	cfg->slack.max_attempts = 8;
	cfg->slack.burst = 1;
	cfg->audit_retention_ms = 90 * SEC_D;
	snprintf(cfg->aud.http_listen, sizeof(cfg->aud.http_listen), "127.0.0.1:9464");
	cfg->aud.alert_max_per_hour = 20;
	cfg->aud.compact_interval_ms = 7 * SEC_D;
	cfg->aud.health_max_silence_ms = 5 * SEC_M;
	snprintf(cfg->inbound.command, sizeof(cfg->inbound.command), "/x3");
	cfg->inbound.max_body = 64 * 1024;
	cfg->drain_timeout_ms = 10 * SEC_S;
}

static void
init_entity(void *base)
{
	struct mlc_cfg_entity *e = base;

	/* stamp_field, api and the GraphQL names are defaulted in post_x3,
	 * once x3.api is known (it may come after the entities). */
	e->enabled = 1;
}

static void
init_schedule(void *base)
{
	struct mlc_cfg_schedule_rule *r = base;

	snprintf(r->tz, sizeof(r->tz), "UTC");
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
	const char *val[8 + 2 * MLC_CFG_MAX_DISPATCHERS];
	char name[8 + 2 * MLC_CFG_MAX_DISPATCHERS][48];
	size_t n = 0;

	if (derive_auditor_ep(ctx, ep->auditor_in, "-ctl", 1000, ep->auditor_ctl,
	    key_line(&endpoints_sec, lines, "auditor_in")) != 0 ||
	    derive_auditor_ep(ctx, ep->auditor_in, "-ack", 1001, ep->auditor_ack,
	    key_line(&endpoints_sec, lines, "auditor_in")) != 0)
		return -1;

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
	ADD_EP(ep->auditor_ctl, "endpoints.auditor_ctl");
	ADD_EP(ep->auditor_ack, "endpoints.auditor_ack");
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

/* Per kind (docs/records.md): standard api1 class, GraphQL names, events. */
static const struct {
	const char *kind, *class_name, *gql_root, *gql_node, *gql_key;
	const char *events[4];      /* every event of the kind */
	size_t n_default;           /* the first n_default are emitted by default */
} entity_kind_defaults[] = {
	{ "purchase_order", "PORDER", "xtremX3Purchasing", "purchaseOrder", "id",
	  { "approved", "modified", "created", NULL }, 2 },
	{ "supplier_invoice", "PINVOICE", "xtremX3InvoicingData", "supplierInvoiceHeader", "id",
	  { "received", "status_changed", NULL, NULL }, 2 },
	{ "gl_entry", "GACCENTRY", "xtremX3Finance", "journalEntryLine", "journalEntry",
	  { "posted", "status_changed", NULL, NULL }, 2 },
};
#define N_KIND_DEFAULTS (sizeof(entity_kind_defaults) / sizeof(entity_kind_defaults[0]))

static int
post_entity_kind(struct cfg_ctx *ctx, struct mlc_cfg_entity *e, const int *lines,
    int map_line)
{
	size_t k;

	if (e->kind[0] == '\0') {
		for (k = 0; k < N_KIND_DEFAULTS; k++)
			if (strcmp(e->class_name, entity_kind_defaults[k].class_name) == 0)
				snprintf(e->kind, sizeof(e->kind), "%s", entity_kind_defaults[k].kind);
		if (e->kind[0] == '\0')
			return cfg_keyerr(ctx, map_line, "kind", "must be set: class '%s' is not "
			    "one of the standard PORDER, PINVOICE, GACCENTRY, so say what it holds "
			    "(purchase_order, supplier_invoice or gl_entry)", e->class_name);
	}
	for (k = 0; k < N_KIND_DEFAULTS; k++)
		if (strcmp(e->kind, entity_kind_defaults[k].kind) == 0)
			break;
	if (k == N_KIND_DEFAULTS)
		return cfg_keyerr(ctx, map_line, "kind", "unknown kind '%s'", e->kind);
	if (e->graphql_root[0] == '\0')
		snprintf(e->graphql_root, sizeof(e->graphql_root), "%s",
		    entity_kind_defaults[k].gql_root);
	if (e->graphql_node[0] == '\0')
		snprintf(e->graphql_node, sizeof(e->graphql_node), "%s",
		    entity_kind_defaults[k].gql_node);
	if (e->graphql_key[0] == '\0')
		snprintf(e->graphql_key, sizeof(e->graphql_key), "%s",
		    entity_kind_defaults[k].gql_key);
	if (key_line(&entity_sec, lines, "notify") == 0) {
		e->n_notify = entity_kind_defaults[k].n_default;
		for (size_t i = 0; i < e->n_notify; i++)
			snprintf(e->notify[i], sizeof(e->notify[i]), "%s",
			    entity_kind_defaults[k].events[i]);
	}
	for (size_t i = 0; i < e->n_notify; i++) {
		const char *const *ev = entity_kind_defaults[k].events;
		char list[96];
		size_t used = 0, j;

		list[0] = '\0';
		for (j = 0; j < 4 && ev[j] != NULL; j++) {
			if (strcmp(ev[j], e->notify[i]) == 0)
				break;
		}
		if (j < 4 && ev[j] != NULL)
			continue;
		for (j = 0; j < 4 && ev[j] != NULL; j++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
			    j ? ", " : "", ev[j]);
		return cfg_keyerr(ctx, key_line(&entity_sec, lines, "notify"), "notify",
		    "'%s' is not an event of a %s (events: %s)", e->notify[i], e->kind, list);
	}
	return 0;
}

static int
post_schedule(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg_schedule_rule *r = base;

	r->days_mask = 0x7f;
	if (r->days[0] != '\0' && cfg_days_mask(r->days, &r->days_mask) != 0)
		return cfg_keyerr(ctx, key_line(&schedule_sec, lines, "days"), "days", "bad days");
	r->from_min = 0;
	r->to_min = 24 * 60;
	if (r->from[0] != '\0')
		(void)cfg_hhmm(r->from, &r->from_min);
	if (r->to[0] != '\0')
		(void)cfg_hhmm(r->to, &r->to_min);
	if (r->from_min >= r->to_min)
		return cfg_keyerr(ctx, map_line, "to", "must be after 'from' (%s); a period "
		    "across midnight is two rules, one ending at \"24:00\" and one starting "
		    "at \"00:00\"", r->from[0] ? r->from : "00:00");
	return 0;
}

static int
post_entity(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg_entity *e = base;
	const struct mlc_cfg_entity *all = ctx->cfg->x3.entities;

	if (e->representation[0] == '\0')
		memcpy(e->representation, e->class_name, sizeof(e->representation));
	if (post_entity_kind(ctx, e, lines, map_line) != 0)
		return -1;
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

	for (size_t i = 0; i < x3->n_entities; i++) {
		struct mlc_cfg_entity *e = &x3->entities[i];

		if (e->api[0] == '\0')
			snprintf(e->api, sizeof(e->api), "%s", x3->api);
		if (e->stamp_field[0] == '\0')
			snprintf(e->stamp_field, sizeof(e->stamp_field), "%s",
			    strcmp(e->api, "graphql") == 0 ? "_updateStamp" : "UPDDATTIM");
	}
	if (strcmp(x3->auth, "oauth2") == 0) {
		struct mlc_cfg_x3_oauth2 *o = &x3->oauth2;

		if (o->client_id[0] == '\0')
			return cfg_errf(ctx, map_line, "key 'x3.oauth2.client_id' is required "
			    "(x3.auth is 'oauth2')");
		if (o->client_secret_env[0] == '\0' && o->client_secret_file[0] == '\0')
			return cfg_errf(ctx, map_line, "key 'x3.oauth2.client_secret_env' or "
			    "'x3.oauth2.client_secret_file' is required (x3.auth is 'oauth2')");
		if (o->token_url[0] == '\0' &&
		    (size_t)snprintf(o->token_url, sizeof(o->token_url), "%s/v1/token",
		    x3->url) >= sizeof(o->token_url))
			return cfg_errf(ctx, map_line, "key 'x3.oauth2.token_url': the default "
			    "x3.url + /v1/token is too long; set it explicitly");
		if (o->warn_first_ms < o->warn_last_ms)
			return cfg_errf(ctx, map_line, "key 'x3.oauth2.warn_first' must not be "
			    "shorter than 'x3.oauth2.warn_last'");
	}
	if (strcmp(x3->auth, "connected_app") == 0) {
		struct mlc_cfg_x3_app *a = &x3->app;

		if (x3->user[0] == '\0')
			return cfg_errf(ctx, map_line, "key 'x3.user' is required (x3.auth is "
			    "'connected_app': it is the JWT subject)");
		if (a->client_id[0] == '\0' || a->audience[0] == '\0')
			return cfg_errf(ctx, map_line, "keys 'x3.connected_app.client_id' and "
			    "'x3.connected_app.audience' are required (x3.auth is 'connected_app')");
		if (a->secret_env[0] == '\0' && a->secret_file[0] == '\0')
			return cfg_errf(ctx, map_line, "key 'x3.connected_app.secret_env' or "
			    "'x3.connected_app.secret_file' is required (x3.auth is 'connected_app')");
	}
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
	/* Token rotation needs all three: the refresh token, the app's
	 * client_id and its client secret (oauth.v2.access). */
	if ((sl->refresh_token_env[0] || sl->refresh_token_file[0]) &&
	    (sl->client_id[0] == '\0' ||
	    (sl->client_secret_env[0] == '\0' && sl->client_secret_file[0] == '\0'))) {
		cfg_path_join(ctx, "client_id", p_env, sizeof(p_env));
		cfg_path_join(ctx, "client_secret_env", p_file, sizeof(p_file));
		return cfg_errf(ctx, map_line, "token rotation (refresh_token_env/_file) "
		    "needs key '%s' and '%s' (or client_secret_file)", p_env, p_file);
	}
	(void)lines;
	return 0;
}

/* A route's own rules (what needs no other section): thresholds are
 * decimals with gte < lt, currency is an ISO code, no list is empty, list
 * values use '*' only as a final prefix marker, the template's
 * placeholders exist. Every message names the route. */
static int
post_route_rules(struct cfg_ctx *ctx, struct mlc_cfg_route *r, const int *lines)
{
	static const struct {
		const char *key;
		size_t off, count_off;
	} lists[] = {
#define RL(k, f) { k, offsetof(struct mlc_cfg_route, f), offsetof(struct mlc_cfg_route, n_##f) }
		RL("event", events), RL("suppliers", suppliers), RL("sites", sites),
		RL("accounts", accounts), RL("journals", journals),
#undef RL
	};
	struct mlc_money lo, hi;
	char echo[64], why[300];
	int line;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		char (*vals)[MLC_CFG_ROUTE_VALUE] = (void *)((char *)r + lists[i].off);
		size_t n = *(const size_t *)(const void *)((char *)r + lists[i].count_off);

		line = key_line(&route_sec, lines, lists[i].key);
		if (line != 0 && n == 0)
			return cfg_keyerr(ctx, line, lists[i].key, "route '%s': the list is "
			    "empty, so the route could never match; list values or remove "
			    "the key", r->name);
		for (size_t j = 0; j < n && i > 0; j++) {
			const char *star = strchr(vals[j], '*');

			if (star != NULL && star[1] != '\0') {
				cfg_echo(vals[j], strlen(vals[j]), echo, sizeof(echo));
				return cfg_keyerr(ctx, line, lists[i].key, "route '%s': '*' may "
				    "only end a value, as a prefix match such as 6* (got '%s')",
				    r->name, echo);
			}
		}
	}
	if (r->amount_gte[0] != '\0' && mlc_money_parse(r->amount_gte, &lo) != 0) {
		cfg_echo(r->amount_gte, strlen(r->amount_gte), echo, sizeof(echo));
		return cfg_keyerr(ctx, key_line(&route_sec, lines, "amount_gte"), "amount_gte",
		    "route '%s': the threshold must be a decimal such as 1000 or 1000.00 "
		    "(got '%s')", r->name, echo);
	}
	if (r->amount_lt[0] != '\0' && mlc_money_parse(r->amount_lt, &hi) != 0) {
		cfg_echo(r->amount_lt, strlen(r->amount_lt), echo, sizeof(echo));
		return cfg_keyerr(ctx, key_line(&route_sec, lines, "amount_lt"), "amount_lt",
		    "route '%s': the threshold must be a decimal such as 1000 or 1000.00 "
		    "(got '%s')", r->name, echo);
	}
	if (r->amount_gte[0] != '\0' && r->amount_lt[0] != '\0' && mlc_money_cmp(&lo, &hi) >= 0)
		return cfg_keyerr(ctx, key_line(&route_sec, lines, "amount_lt"), "amount_lt",
		    "route '%s': amount_gte (%s) must be less than amount_lt (%s), or no "
		    "amount could match", r->name, r->amount_gte, r->amount_lt);
	if (r->currency[0] != '\0' && (strlen(r->currency) != 3 ||
	    strspn(r->currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)) {
		cfg_echo(r->currency, strlen(r->currency), echo, sizeof(echo));
		return cfg_keyerr(ctx, key_line(&route_sec, lines, "currency"), "currency",
		    "route '%s': must be an ISO 4217 code in capitals such as EUR (got '%s')",
		    r->name, echo);
	}
	if (cfg_placeholders(r->template_text, mlc_cfg_template_names, true, true, why,
	    sizeof(why)) != 0)
		return cfg_keyerr(ctx, key_line(&route_sec, lines, "template"), "template",
		    "route '%s': %s", r->name, why);
	ctx->route_rule_line[ctx->index][0] = key_line(&route_sec, lines, "event");
	ctx->route_rule_line[ctx->index][1] = key_line(&route_sec, lines, "accounts");
	ctx->route_rule_line[ctx->index][2] = key_line(&route_sec, lines, "journals");
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
	if (post_route_rules(ctx, r, lines) != 0)
		return -1;
	(void)map_line;
	return 0;
}

/* 1 when some configured entity has kind `kind`. */
static int
route_kind_configured(const struct mlc_cfg *cfg, const char *kind)
{
	for (size_t i = 0; i < cfg->x3.n_entities; i++)
		if (strcmp(cfg->x3.entities[i].kind, kind) == 0)
			return 1;
	return 0;
}

/* The rules of routes[i] that depend on the kinds of the entities it takes
 * (an entity name, a kind, or "*" for every configured kind): each event
 * must be one of those kinds' events; accounts need invoices or GL entries,
 * journals GL entries. */
static int
post_root_route(struct cfg_ctx *ctx, const struct mlc_cfg *cfg, size_t i, const int *lines)
{
	const struct mlc_cfg_route *r = &cfg->routes[i];
	const struct mlc_cfg_entity *e = mlc_cfg_entity_find(cfg, r->entity);
	const char *kind = e != NULL ? e->kind : r->entity;
	bool all = strcmp(r->entity, "*") == 0, has_acc = false, has_jou = false;
	int fallback = key_line(&root_sec, lines, "routes");
	char kinds[128], events[200], echo[64];
	size_t uk = 0, ue = 0;

	kinds[0] = events[0] = '\0';
	for (size_t k = 0; k < N_KIND_DEFAULTS; k++) {
		const char *kk = entity_kind_defaults[k].kind;

		if (all ? !route_kind_configured(cfg, kk) : strcmp(kk, kind) != 0)
			continue;
		has_acc = has_acc || strcmp(kk, "purchase_order") != 0;
		has_jou = has_jou || strcmp(kk, "gl_entry") == 0;
		if (uk < sizeof(kinds))
			uk += (size_t)snprintf(kinds + uk, sizeof(kinds) - uk, "%s%s",
			    uk ? " or " : "", kk);
		for (size_t j = 0; j < 4 && entity_kind_defaults[k].events[j] != NULL; j++) {
			const char *ev = entity_kind_defaults[k].events[j];

			if (strstr(events, ev) == NULL && ue < sizeof(events))
				ue += (size_t)snprintf(events + ue, sizeof(events) - ue, "%s%s",
				    ue ? ", " : "", ev);
		}
	}
	for (size_t j = 0; j < r->n_events; j++) {
		bool ok = false;

		for (const char *p = events; *p != '\0' && !ok; p += strcspn(p, ",") ,
		    p += strspn(p, ", ")) {
			size_t n = strcspn(p, ",");

			ok = n == strlen(r->events[j]) && memcmp(p, r->events[j], n) == 0;
		}
		if (!ok) {
			int line = ctx->route_rule_line[i][0];

			cfg_echo(r->events[j], strlen(r->events[j]), echo, sizeof(echo));
			return cfg_errf(ctx, line ? line : fallback, "key 'routes[%zu].event': "
			    "route '%s': '%s' is not an event of a %s (events: %s)", i, r->name,
			    echo, kinds[0] ? kinds : "configured entity", events);
		}
	}
	if (r->n_accounts > 0 && !has_acc) {
		int line = ctx->route_rule_line[i][1];

		return cfg_errf(ctx, line ? line : fallback, "key 'routes[%zu].accounts': "
		    "route '%s': a %s carries no GL account (accounts filter supplier "
		    "invoices and GL entries)", i, r->name, kinds);
	}
	if (r->n_journals > 0 && !has_jou) {
		int line = ctx->route_rule_line[i][2];

		return cfg_errf(ctx, line ? line : fallback, "key 'routes[%zu].journals': "
		    "route '%s': a %s carries no journal (journals filter GL entries)", i,
		    r->name, kinds);
	}
	return 0;
}

static int
post_root(struct cfg_ctx *ctx, void *base, const int *lines, int map_line)
{
	struct mlc_cfg *cfg = base;
	char known[MLC_ERR_MAX / 2];
	size_t used = 0;

	if (cfg_secret_refs_finish(ctx, cfg) != 0)
		return -1;
	for (size_t i = 0; i < cfg->x3.n_entities && used < sizeof(known); i++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
		    i ? ", " : "", cfg->x3.entities[i].name);
	if (cfg->x3.n_entities == 0)
		known[0] = '\0';
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct mlc_cfg_route *r = &cfg->routes[i];

		if (strcmp(r->entity, "*") == 0 || mlc_cfg_entity_find(cfg, r->entity) != NULL ||
		    route_kind_configured(cfg, r->entity)) {
			if (post_root_route(ctx, cfg, i, lines) != 0)
				return -1;
			continue;
		}
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
	size_t n, i = 0, outer_index = ctx->index;
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
	/* A sequence inside a sequence element (x3.entities[i].fields) must
	 * leave the element's index for the element's post hook. */
	ctx->index = outer_index;
	return 0;
}

/* CK_LIST: a YAML sequence of strings ([approved, modified]) or one string,
 * each copied into a char[size] slot of the array at k->off. Each item is
 * checked by k->check (path "key[i]"). */
static int
cfg_list(struct cfg_ctx *ctx, const struct cfg_key *k, struct fy_node *v, int line,
    void *base)
{
	char *arr = (char *)base + k->off;
	size_t *count = (size_t *)(void *)((char *)base + k->count_off);
	void *it = NULL;
	struct fy_node *item;
	size_t i = 0;

	*count = 0;
	if (v != NULL && !fy_node_is_alias(v) && fy_node_is_scalar(v))
		item = v;
	else if (v == NULL || fy_node_is_alias(v) || !fy_node_is_sequence(v))
		return cfg_keyerr(ctx, line, NULL, "must be a list of names (got %s)",
		    cfg_node_kind(v));
	else
		item = fy_node_sequence_iterate(v, &it);
	for (; item != NULL; item = item == v ? NULL : fy_node_sequence_iterate(v, &it)) {
		const char *s;
		size_t len = 0;
		char buf[MLC_CFG_STR], echo[64];
		int item_line = cfg_node_line(item, line);

		if (i >= (size_t)k->max)
			return cfg_keyerr(ctx, item_line, NULL, "at most %lld entries",
			    (long long)k->max);
		if (fy_node_is_alias(item) || !fy_node_is_scalar(item))
			return cfg_keyerr(ctx, item_line, NULL, "entry %zu must be a name (got %s)",
			    i, cfg_node_kind(item));
		s = fy_node_get_scalar(item, &len);
		if (s == NULL || len == 0 || cfg_has_ctrl(s, len))
			return cfg_keyerr(ctx, item_line, NULL, "entry %zu is empty or has "
			    "control characters", i);
		if (len >= k->size || len >= sizeof(buf)) {
			cfg_echo(s, len, echo, sizeof(echo));
			return cfg_keyerr(ctx, item_line, NULL, "entry %zu '%s' is longer than "
			    "%zu bytes", i, echo, k->size - 1);
		}
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (k->check != NULL && k->check(ctx, item_line, buf) != 0)
			return -1;
		memcpy(arr + i * k->size, buf, len + 1);
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
	char buf[MLC_CFG_TEMPLATE], echo[64], lo[24], hi[24]; /* longest CK_STR */
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

/*
 * `<base>_secret: NAME` in any section that has `<base>_file` (x3.password,
 * slack.token, x3.oauth2.client_secret, inbound.signing_secret, ...): the
 * secret is entry NAME of the encrypted store (mlc_secrets.h). The
 * reference is kept in the `<base>_file` field as "mlc-secret:NAME@STORE",
 * so every rule that asks for "_env or _file" is met and every caller of
 * mlc_cfg_secret() reads the store without change; the store wins over
 * `<base>_env`. Returns 1 when key is not such a key, 0 handled, -1 error.
 */
static int
cfg_secret_ref(struct cfg_ctx *ctx, const struct cfg_section *sec, const char *key,
    size_t klen, struct fy_node *vn, int line, void *base, int *lines)
{
	static const char sfx[] = "_secret";
	const size_t sl = sizeof(sfx) - 1;
	char file_key[96], path[CFG_PATH_MAX], name[MLC_SECRETS_NAME_MAX + 1];
	const char *v;
	size_t fi, vlen = 0;

	if (klen <= sl || klen - sl + 5 >= sizeof(file_key) ||
	    memcmp(key + klen - sl, sfx, sl) != 0)
		return 1;
	snprintf(file_key, sizeof(file_key), "%.*s_file", (int)(klen - sl), key);
	for (fi = 0; fi < sec->n_keys; fi++)
		if (strcmp(sec->keys[fi].name, file_key) == 0 && sec->keys[fi].kind == CK_STR)
			break;
	if (fi == sec->n_keys)
		return 1;
	snprintf(name, sizeof(name), "%.*s", (int)(klen < 64 ? klen : 64), key);
	cfg_path_join(ctx, name, path, sizeof(path));
	if (lines[fi] != 0)
		return cfg_errf(ctx, line, "key '%s': give either %.*s_secret or %s, not "
		    "both (or twice)", path, (int)(klen - sl), key, file_key);
	if (vn != NULL && !fy_node_is_alias(vn) && fy_node_is_scalar(vn))
		v = fy_node_get_scalar(vn, &vlen);
	else
		v = NULL;
	/* The value is not echoed: a pasted secret is the likely mistake. */
	if (v == NULL || vlen == 0 || vlen > MLC_SECRETS_NAME_MAX)
		goto bad;
	memcpy(name, v, vlen);
	name[vlen] = '\0';
	if (!mlc_secrets_name_ok(name))
		goto bad;
	if (ctx->n_secret_refs >= sizeof(ctx->secret_ref_off) / sizeof(ctx->secret_ref_off[0]))
		return cfg_errf(ctx, line, "key '%s': too many *_secret keys", path);
	if ((size_t)snprintf((char *)base + sec->keys[fi].off, sec->keys[fi].size, "%s%s",
	    MLC_SECRETS_REF_PREFIX, name) >= sec->keys[fi].size)
		return cfg_errf(ctx, line, "key '%s': name too long", path);
	ctx->secret_ref_off[ctx->n_secret_refs] =
	    (size_t)((char *)base + sec->keys[fi].off - (char *)ctx->cfg);
	ctx->secret_ref_size[ctx->n_secret_refs++] = sec->keys[fi].size;
	lines[fi] = line;
	return 0;
bad:
	return cfg_errf(ctx, line, "key '%s': must be the name of an entry of the secret "
	    "store (1 to %d letters, digits, '.', '_', '-'; see `mlc secrets list`)",
	    path, MLC_SECRETS_NAME_MAX);
}

/* Appends "@<store path>" to every reference (see cfg_secret_ref). */
static int
cfg_secret_refs_finish(struct cfg_ctx *ctx, struct mlc_cfg *cfg)
{
	char store[MLC_CFG_STR + 16];
	struct mlc_err e;

	if (ctx->n_secret_refs == 0)
		return 0;
	if (mlc_secrets_path(cfg->state_dir, cfg->secrets_store, store, sizeof(store), &e) != 0)
		return cfg_errf(ctx, 0, "secrets.store: %s", e.msg);
	for (size_t i = 0; i < ctx->n_secret_refs; i++) {
		char *f = (char *)cfg + ctx->secret_ref_off[i];
		size_t used = strlen(f);

		if ((size_t)snprintf(f + used, ctx->secret_ref_size[i] - used, "@%s", store) >=
		    ctx->secret_ref_size[i] - used)
			return cfg_errf(ctx, 0, "secret store path %s is too long for a *_secret "
			    "reference (set a shorter secrets.store)", store);
	}
	return 0;
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
		if (idx == sec->n_keys) {
			rc = cfg_secret_ref(ctx, sec, key, klen, vn, line, base, lines);
			if (rc == 0)
				continue;
			if (rc < 0)
				return -1;
			return cfg_unknown_key(ctx, sec, key, klen, line);
		}
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
		case CK_LIST:
			rc = cfg_list(ctx, &sec->keys[idx], vn, line, base);
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
	{
		/* Only the len bytes given: the buffer need not be NUL-terminated. */
		size_t i = 0;

		while (i < len && (yaml[i] == ' ' || yaml[i] == '\t' ||
		    yaml[i] == '\r' || yaml[i] == '\n'))
			i++;
		if (i >= len)
			return cfg_errf(&ctx, 0, "the configuration is empty");
	}
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
	/* A `<base>_secret` key put a store reference here: the store wins. */
	if (mlc_secrets_is_ref(file))
		return mlc_secrets_get_ref(file, what, err);
	if (env_name != NULL && *env_name != '\0') {
		char fenv[160];

		v = getenv(env_name);
		if (v != NULL && *v != '\0') {
			out = strdup(v);
			if (out == NULL)
				mlc_err_set(err, "%s: out of memory", what);
			return out;
		}
		/* Containers: NAME_FILE names a file holding the value (Docker
		 * secrets), so the value is never in the environment. */
		snprintf(fenv, sizeof(fenv), "%s_FILE", env_name);
		v = getenv(fenv);
		if (v != NULL && *v != '\0' && strlen(env_name) < 150)
			file = v;
		else if (file == NULL || *file == '\0') {
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
