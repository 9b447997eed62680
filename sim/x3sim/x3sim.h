/*
 * x3sim: a Sage X3 server simulator for the demo and the end-to-end tests.
 *
 * It serves what the connector's poller reads from a real X3 (the project's
 * X3 reference, sections 1 and 5): the REST "api1" query and
 * details routes with Basic auth, SData `where` / `orderBy`, `$links.$next`
 * paging and `$diagnoses` errors, over records that a generator thread keeps
 * changing. It also records which record versions it has actually served, so
 * a test can compare what reached Slack with what X3 showed (/sim/truth).
 *
 * Modules, one concern each:
 *   where.c  - pure SData `where` / `orderBy` parsing and evaluation, and the
 *              opaque paging cursor (no I/O, no locks: unit-tested alone)
 *   util.c   - string builder, JSON/URL escaping, decimal formatting
 *   store.c  - tables of current records + the log of served versions
 *   gen.c    - the deterministic change generator and its thread
 *   api1.c   - /api1/x3/erp/{FOLDER}/{CLASS} routes
 *   simctl.c - /sim/ control and ground-truth routes
 *   server.c - libmicrohttpd plumbing, auth, dispatch, request log
 *   main.c   - CLI, listening socket, signals
 *
 * Records are generic: a schema (list of typed fields) describes an entity,
 * and a record is an array of values in schema order. Adding an entity
 * (PINVOICE, GACCENTRY) means a schema, a generator and a line in the class
 * table of api1.c; the query engine, rendering and truth log are shared.
 */
#ifndef X3SIM_H
#define X3SIM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "mlc_err.h"
#include "mlc_money.h"

#define X3_STR_MAX         48   /* longest string field value, incl. NUL */
#define X3_MAX_FIELDS      24
#define X3_WHERE_MAX_LEN   4096 /* longer `where` texts are rejected */
#define X3_WHERE_MAX_DEPTH 32   /* parenthesis nesting */
#define X3_ORDER_MAX       8    /* orderBy terms incl. the implicit key */
#define X3_CURSOR_MAX      2048 /* hex text of a paging cursor */

/* ---- schema and values ------------------------------------------------- */

enum x3_type {
	X3_T_STRING,   /* str */
	X3_T_DATE,     /* str "YYYY-MM-DD" (sorts as text) */
	X3_T_DATETIME, /* num = epoch seconds, served as "YYYY-MM-DDTHH:MM:SSZ" */
	X3_T_INT,      /* num */
	X3_T_DEC2,     /* num = hundredths; served as a JSON number "123.40" */
};

struct x3_field {
	const char  *name;
	enum x3_type type;
	int          has_ref; /* served with a NAME_REF {$description,$title} */
};

struct x3_schema {
	const char            *class_name; /* api1 class, e.g. "PORDER" */
	const struct x3_field *fields;
	int                    nfields;
	int                    key;   /* index of the key field (a string) */
	int                    stamp; /* index of the change stamp (datetime) */
};

struct x3_value {
	int64_t     num;
	char        str[X3_STR_MAX];
	const char *ref; /* static description for has_ref fields, or NULL */
};

/* Returns the index of the field called name (exact, case-sensitive), or -1. */
int x3_schema_find(const struct x3_schema *s, const char *name, size_t len);

/* Compares two values of one type: <0, 0, >0. Strings compare byte-wise. */
int x3_value_cmp(enum x3_type t, const struct x3_value *a,
    const struct x3_value *b);

/* ---- where / orderBy / cursor (where.c) -------------------------------- */

/* Why a where/orderBy/cursor text was refused; api1 maps it to HTTP. */
enum x3_where_err {
	X3_WHERE_OK = 0,
	X3_WHERE_SYNTAX,        /* 400 BadWhereSyntax */
	X3_WHERE_UNKNOWN_FIELD, /* 500, as a real X3 answers */
	X3_WHERE_TOO_LONG,      /* 400: > X3_WHERE_MAX_LEN or too deep */
};

struct x3_where; /* opaque parsed expression */

/*
 * Parses an SData where subset: `FIELD op VALUE` with op one of
 * eq ne lt le gt ge (any case), combined with `and` / `or` (and binds
 * tighter) and parentheses. VALUE is @YYYY-MM-DDTHH:MM:SSZ@, @YYYY-MM-DD@,
 * 'text' ('' is a quote) or a decimal number; it must suit the field's type
 * (a date literal on a datetime field means midnight UTC). An empty or
 * all-blank text gives *out = NULL, which matches everything.
 * Returns 0, or -1 with *why and err set; *out is then NULL.
 */
int x3_where_parse(const char *text, const struct x3_schema *s,
    struct x3_where **out, enum x3_where_err *why, struct mlc_err *err);
/* 1 if the record (values in schema order) matches; NULL matches all. */
int x3_where_match(const struct x3_where *w, const struct x3_value *row);
void x3_where_free(struct x3_where **wp);

struct x3_order {
	int n;
	int field[X3_ORDER_MAX];
	int desc[X3_ORDER_MAX];
};

/*
 * Parses "PROP [asc|desc]" terms separated by ',' or ';' (blank text gives
 * n = 0). At most X3_ORDER_MAX - 1 terms, no repeated property. Returns 0,
 * or -1 with *why (SYNTAX or UNKNOWN_FIELD) and err set.
 */
int x3_order_parse(const char *text, const struct x3_schema *s,
    struct x3_order *out, enum x3_where_err *why, struct mlc_err *err);
/* Appends `key asc` unless the key is already a term: this makes the order
 * total, which keyset paging needs. */
void x3_order_tiebreak(struct x3_order *o, int key_field);
int  x3_order_cmp(const struct x3_order *o, const struct x3_schema *s,
    const struct x3_value *a, const struct x3_value *b);

/*
 * The paging cursor: the order-tuple values of the last row of a page,
 * versioned and hex-encoded so it is opaque and URL-safe. The next page
 * holds the rows strictly after it in the (total) order, evaluated on live
 * data: no unchanged row can be skipped or repeated, and a row that changes
 * during paging shows up as its new version where it now sorts.
 * encode returns 0, or -1 if out is too small. decode fills the order fields
 * of row_out and returns 0, or -1 with err set on any malformed input.
 */
int x3_cursor_encode(const struct x3_order *o, const struct x3_schema *s,
    const struct x3_value *row, char *out, size_t outsz);
int x3_cursor_decode(const char *text, const struct x3_order *o,
    const struct x3_schema *s, struct x3_value *row_out, struct mlc_err *err);

/* ---- util.c ------------------------------------------------------------ */

/* Growable text; a failed allocation sets oom and later appends do nothing. */
struct x3_buf {
	char  *p;
	size_t len, cap;
	int    oom;
};

void  x3_buf_put(struct x3_buf *b, const char *s, size_t n);
void  x3_buf_puts(struct x3_buf *b, const char *s);
void  x3_buf_printf(struct x3_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string (s is trusted UTF-8). */
void  x3_buf_json_str(struct x3_buf *b, const char *s);
/* Appends s percent-encoded (everything but RFC 3986 unreserved). */
void  x3_buf_url_enc(struct x3_buf *b, const char *s);
/* Returns the NUL-terminated text (caller frees) or NULL on oom. */
char *x3_buf_take(struct x3_buf *b, size_t *len);
void  x3_buf_free(struct x3_buf *b);

/* Formats hundredths as "-123.40" (always two decimals, no float). */
void x3_dec2_format(int64_t cents, char out[32]);
/* Copies untrusted text for an error message: printable ASCII only,
 * truncated to outsz - 1 with "..." when cut. */
void x3_sanitize(const char *in, char *out, size_t outsz);

/* ---- store.c ----------------------------------------------------------- */

enum x3_entity {
	X3_ENT_PORDER = 0,
	X3_ENT_COUNT,
};

struct x3_record {
	uint32_t        version;    /* 1 at creation, +1 per change */
	char            uuid[37];
	long            served_idx; /* served[] entry of the current stamp, or -1 */
	uint32_t        served_ver; /* version that entry was last served at */
	struct x3_value v[X3_MAX_FIELDS];
};

/* One distinct (key, stamp) pair that went out in an api1 response. */
struct x3_served {
	struct x3_record snap;      /* fields as first served */
	uint32_t         revisions; /* how many different versions shared it */
};

struct x3_table {
	const struct x3_schema *schema;
	struct x3_record       *recs;
	size_t                  nrecs, caprecs;
	struct x3_served       *served;
	size_t                  nserved, capserved;
};

struct x3_store {
	pthread_mutex_t mu;     /* guards everything below and the generator */
	struct x3_table tables[X3_ENT_COUNT];
	uint64_t        generated; /* versions created, incl. initial ones */
	uint64_t        requests;
};

extern const struct x3_schema x3_porder_schema;

int  x3_store_init(struct x3_store *st, struct mlc_err *err);
void x3_store_destroy(struct x3_store *st);
void x3_store_lock(struct x3_store *st);
void x3_store_unlock(struct x3_store *st);
/* The functions below need the lock held. */
/* Appends a zeroed record; returns it or NULL (out of memory / full). */
struct x3_record *x3_table_add(struct x3_table *t);
struct x3_record *x3_table_find(struct x3_table *t, const char *key);
/* Records that rec's current version was served (see struct x3_served). */
int x3_table_mark_served(struct x3_table *t, struct x3_record *rec);
size_t x3_store_served_total(const struct x3_store *st);

/* ---- gen.c ------------------------------------------------------------- */

struct x3_gen {
	struct x3_store *store;
	uint64_t         rng;
	unsigned         rate;          /* changes per second, 0 = none */
	uint64_t         max_versions;  /* 0 = unlimited */
	int              paused;
	int              stop;
	uint64_t         next_po;       /* POHNUM sequence */
	pthread_cond_t   cv;            /* waits on store->mu */
	pthread_t        thread;
	int              started;
};

int  x3_gen_init(struct x3_gen *g, struct x3_store *st, uint64_t seed,
    unsigned rate, uint64_t max_versions, struct mlc_err *err);
/* Creates n records now (bounded by max_versions). Locks the store. */
void x3_gen_initial(struct x3_gen *g, unsigned n);
/* Makes up to k changes now; returns how many were made. Locks the store. */
unsigned x3_gen_run(struct x3_gen *g, unsigned k);
int  x3_gen_start(struct x3_gen *g, struct mlc_err *err);
void x3_gen_set_paused(struct x3_gen *g, int paused);
void x3_gen_stop(struct x3_gen *g);

/* ---- server.c / api1.c / simctl.c -------------------------------------- */

struct MHD_Connection;
struct MHD_Daemon;

struct x3_server {
	struct x3_store   *store;
	struct x3_gen     *gen;
	const char        *folder;
	const char        *user;
	const char        *password; /* never logged */
	char               base_url[128]; /* "http://127.0.0.1:PORT" */
	int                quiet;
	struct MHD_Daemon *mhd;
};

/* A request as the route handlers see it. */
struct x3_req {
	struct x3_server      *srv;
	struct MHD_Connection *conn;
	const char            *method;
	const char            *path; /* decoded, without the query */
};

/* What a route answers: status and a malloc'd JSON body. */
struct x3_reply {
	int    status;
	char  *body;
	size_t len;
	int    auth_challenge; /* add WWW-Authenticate: Basic realm="Syracuse" */
};

/* Query parameter or NULL. */
const char *x3_req_arg(const struct x3_req *rq, const char *name);

/* Sets an SData error reply: {"$diagnoses":[{...}]}. */
void x3_reply_diag(struct x3_reply *r, int status, const char *sdata_code,
    const char *app_code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Takes b's text as the body (500 diagnosis if b ran out of memory). */
void x3_reply_buf(struct x3_reply *r, int status, struct x3_buf *b);

/* Handles /api1/... (auth already checked). */
void x3_api1_handle(const struct x3_req *rq, struct x3_reply *r);
/* Handles /sim/... */
void x3_simctl_handle(const struct x3_req *rq, struct x3_reply *r);

/* Starts libmicrohttpd on an already listening socket. */
int  x3_server_start(struct x3_server *srv, int listen_fd, struct mlc_err *err);
void x3_server_stop(struct x3_server *srv);

#endif
