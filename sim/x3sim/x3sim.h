/*
 * x3sim: a Sage X3 server simulator for the demo and the end-to-end tests.
 *
 * It serves what the connector's poller reads from a real X3 (the project's
 * X3 reference, sections 1-5): the REST "api1" routes, the GraphQL
 * ("xtrem") endpoint, the cloud OAuth2 token gateway and connected-app JWTs,
 * over three record kinds that a generator thread keeps changing, with
 * faults that tests switch on at run time. It records which record versions
 * it actually served, so a test can compare what reached Slack with what X3
 * showed (/sim/truth). docs/simulators.md is the user-level copy of this.
 *
 * ======================= THE INTERFACE (fixed) ============================
 *
 * CLI (all optional):
 *   --port N (0 = pick)  --port-file FILE  --host 127.0.0.1  --folder SEED
 *   --user admin  --password-env VAR (default X3_PASSWORD, else "admin")
 *   --seed N  --initial N (records created at start, per enabled entity)
 *   --rate R (changes/s, 0 = none)  --max-versions N  --quiet
 *   --entities po,pinv,gl     kinds the generator makes (default all three)
 *   --graphql-roots new|old   new (default): xtremX3Purchasing,
 *                             xtremX3InvoicingData, xtremX3Finance;
 *                             old: x3Purchasing, x3InvoicingData, x3Finance
 *   --auth basic|oauth2|connected-app|any   (default basic; any = all three)
 *   --client-id ID (default mlc-client)
 *   --client-secret-env VAR (default X3_CLIENT_SECRET, else "sim-secret")
 *   --access-ttl S (default 300)   --refresh-ttl S (default 2592000)
 *   --refresh-expiry sliding|absolute  sliding (default): a rotated refresh
 *                             token lives --refresh-ttl from its own issue;
 *                             absolute: it keeps the pairing's end date
 *   --app-secret-env VAR (default X3_APP_SECRET, else "sim-app-secret")
 *   --app-audience AUD (default x3)  --app-max-validity S (default 300)
 *   --tls-cert FILE --tls-key FILE   serve HTTPS (PEM; both or neither)
 *
 * api1 (auth per --auth), amounts JSON numbers with two decimals:
 *   GET /api1/x3/erp/{FOLDER}/{CLASS}?representation={CLASS}.$query
 *       [&count=N 1..1000, default 20][&where=SData][&orderBy=P asc|desc,...]
 *       [&key=gt.KEY]  -> {$itemsPerPage,$totalResults,$startIndex,
 *       $resources[{$uuid,$key,$url,$etag,FIELDS...,F_REF{$description,$title}}],
 *       $links{$next{$url}}}   (follow $next until absent)
 *   GET /api1/x3/erp/{FOLDER}/{CLASS}('{KEY}')?representation={CLASS}.$details
 *   CLASS / key / stamp / fields:
 *     PORDER   key POHNUM: POHFCY BPSNUM(+_REF) ORDDAT CUR TOTORD TTVORD
 *              APPFLG(1..5) CLEFLG(1/2) ORDREF CREDATTIM UPDDATTIM UPDUSR
 *     PINVOICE key NUM: BPR(+_REF) BPRVCR PIHTYP("FAF" invoice / "AVF"
 *              credit note) INVTYP(1 invoice, 2 credit note) ACCDAT CUR
 *              AMTNOT AMTATI STA(1 not posted, 2 posted) PAZ(1 not approved
 *              to pay, 2 approved) ACC FCY CREDATTIM UPDDATTIM UPDUSR
 *     GACCENTRY key NUM (unique across TYP): TYP JOU ACCDAT CPY FCY CUR
 *              STA(1 temporary, 2 final) CAT DESVCR BPRVCR CREDATTIM
 *              UPDDATTIM, and "GACCENTRYD": [{LIN LEDTYP ACC BPR SNS(1 debit,
 *              -1 credit) AMTCUR AMTLED CUR CURLED DES}] (2-4 lines, balanced)
 *   Errors: {"$diagnoses":[{"$severity":"error","$sdataCode",...,"$message"}]}
 *
 * GraphQL: POST /xtrem/api, header x-xtrem-endpoint: FOLDER, JSON body
 *   {"query": "...", "variables": {...}} (query text <= 16 KiB). Shape:
 *   [query Name($first: Int, $after: String, $filter: String, $orderBy: String)]
 *   { ROOT { NODE { query(first: N, after: "C", filter: "F", orderBy: "O") {
 *       edges { cursor node { SELECTION } } pageInfo { endCursor hasNextPage
 *       startCursor hasPreviousPage } totalCount } } } }
 *   first 1..1000 (default 20). Only the selected fields are returned.
 *   NODE fields (decimals are JSON strings "800.00", stamps "...Z" strings):
 *     purchaseOrder: id orderDate purchaseSite{code}
 *       orderFromSupplier{code{code description}} signatureStatus
 *       ("notSigned","partlySigned","signed","notManaged","automatic" =
 *       APPFLG 1..5) isClosed currency{code} taxExcludedTotalAmount
 *       taxIncludedTotalAmount _createStamp _updateStamp
 *     supplierInvoiceHeader: id billBySupplier{code description}
 *       supplierDocumentNumber invoiceType ("invoice","creditNote")
 *       accountingDate status ("notPosted","posted") paymentApproval
 *       ("notApproved","approved") totalAmountIncludingTax
 *       totalAmountExcludingTax currency{code} site{code} account
 *       _createStamp _updateStamp
 *     journalEntryLine (one node per GL line; id "<journalEntry>|<lineNumber>",
 *       all lines share the entry's stamps): id journalEntry journalEntryType
 *       lineNumber journal accountingDate company site account
 *       businessPartner sign ("debit"/"credit") transactionAmount
 *       debitAmountInTransactionCurrency creditAmountInTransactionCurrency
 *       currency description status ("temporary","final") _createStamp
 *       _updateStamp
 *   filter: object literal, keys unquoted or quoted ('...' or "..."):
 *     {_updateStamp:{_gt:'2024-05-01T00:00:00Z'}} ops _eq _ne _gt _gte _lt
 *     _lte on _updateStamp, _createStamp, id; `_and:[{..},{..}]`,
 *     `_or:[..]`; several keys in one object are ANDed.
 *   orderBy: "{_updateStamp:1, id:1}" (1 asc, -1 desc; id asc is appended
 *     when absent, default {id:1}). Cursor paging is keyset paging on live
 *     data, as for api1.
 *   Errors: {"errors":[{"message":...}]}: 400 for a bad request (parse,
 *   unknown root/node/field/argument, bad folder, bad filter or cursor);
 *   fault "partial": 200 with "data" AND "errors".
 *
 * Auth (api1 and GraphQL), per --auth:
 *   basic: Authorization: Basic (realm "Syracuse"); failure 401 $diagnoses
 *     (GraphQL: 401 {"message":"Unauthorised"}).
 *   oauth2: Bearer access JWT from POST /v1/token; expired, revoked or bad
 *     -> 401 (api1 $diagnoses, GraphQL {"message":"Unauthorised"}).
 *   connected-app: Bearer HS256 JWT signed with the app secret, claims
 *     iss = --client-id, sub = --user, aud = --app-audience (string or array
 *     holding it), iat <= now (no skew allowed), exp > now,
 *     exp - iat <= --app-max-validity -> else 401 text/plain
 *     "Error 401: Invalid token".
 *   any: Basic, or a Bearer that verifies with the sim key (oauth2 rules),
 *     else the connected-app rules.
 *   POST /v1/token {grant_type: authorization_code|refresh_token,
 *     code|refresh_token, client_id, client_secret, redirect_uri (optional;
 *     checked when the code was issued for one)} -> 200 {"access_token":JWT
 *     (HS256, claims iss sub aud iat exp jti), "token_type":"bearer",
 *     "expires_in":ACCESS_TTL, "refresh_token":opaque}; a refresh ROTATES
 *     (the used refresh token dies). Errors: 400 {"message":"Invalid grant
 *     type"}, 400 {"message":"Missing required request parameters"},
 *     401 {"message":"Unauthorised"}.
 *   GET /v1/token/authorise?client_id&scope&customer&redirect_uri&state
 *     -> 302 Location: redirect_uri?code=...&state=...
 *
 * Simulator control (no auth):
 *   GET  /sim/truth[?entity=po|pinv|gl]  (default po) {"versions":[{class,
 *        key, stamp, revisions, fields}]}: every (key, stamp) served
 *   GET  /sim/stats   generated, served_versions, requests, records, paused,
 *        records_by_entity{po,pinv,gl}, routes{api1,graphql,token,
 *        authorise,sim,other}, faults{KIND: times fired}, auth{...}
 *   POST /sim/generate?n=K[&entity=po|pinv|gl|any][&mode=any|create]
 *        (entity absent: po, as before; any: a random mix of --entities)
 *   POST /sim/pause, /sim/resume
 *   POST /sim/fault?kind=K&...  GET /sim/fault  (list, with fired counts)
 *        5xx&rate=PCT | latency&ms=N | throttle&n=K | malformed&n=K |
 *        partial&n=K | equal_stamps&n=K | late&n=K&age=S |
 *        paging_changes&n=K (0 turns it off) | expire_tokens | clear
 *   POST /sim/token/code -> {"code":...} (valid 10 min, single use)
 *   POST /sim/token/revoke (all refresh tokens)
 *   GET  /sim/token/stats -> {"issued","refreshed","rejected",
 *        "expired_access_rejections","valid_requests","auth_rejections"}
 * ==========================================================================
 *
 * Modules, one concern each:
 *   where.c   - pure SData `where` / `orderBy` parsing, api1 paging cursor
 *   gql.c     - pure GraphQL mini-parser, filter / orderBy literals, cursor
 *   jwt.c     - base64url and HS256 JWT signing / verification
 *   util.c    - string builder, JSON/URL escaping, decimal formatting
 *   store.c   - schemas, tables of current records, log of served versions
 *   gen.c     - the deterministic change generator and its thread
 *   fault.c   - run-time switchable faults and /sim/fault
 *   auth.c    - auth modes, token gateway, pairing codes, /sim/token
 *   api1.c    - /api1/x3/erp/{FOLDER}/{CLASS} routes
 *   graphql.c - /xtrem/api
 *   simctl.c  - /sim/ control and ground-truth routes
 *   server.c  - libmicrohttpd plumbing (TLS), dispatch, counters, log
 *   main.c    - CLI, listening socket, signals
 */
#ifndef X3SIM_H
#define X3SIM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mlc_err.h"
#include "mlc_money.h"

#define X3_STR_MAX         48   /* longest string field value, incl. NUL */
#define X3_MAX_FIELDS      24
#define X3_MAX_LINES       4    /* GL lines per entry */
#define X3_LINE_FIELDS     10
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
	int                    cstamp; /* index of the creation stamp */
	/* Detail lines served as an array field (GACCENTRY's GACCENTRYD). */
	const char            *lines_name;  /* NULL: no lines */
	const struct x3_field *line_fields;
	int                    nline_fields;
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

/* ---- GraphQL mini-language (gql.c, pure) -------------------------------- */

#define X3_GQL_TEXT_MAX   (16 * 1024) /* query text */
#define X3_GQL_NAME_MAX   64          /* identifier bytes */
#define X3_GQL_DEPTH_MAX  12          /* selection-set nesting */
#define X3_GQL_FIELDS_MAX 256         /* fields in one document */
#define X3_GQL_ARGS_MAX   16          /* arguments in one document */
#define X3_GQL_VARS_MAX   8           /* declared variables */
#define X3_GQL_STR_MAX    4096        /* one string literal / variable */
#define X3_GQL_FILTER_MAX 4096        /* filter / orderBy text */
#define X3_GQL_FILTER_NODES 128
#define X3_GQL_FILTER_DEPTH 16
#define X3_GQL_ID_MAX     (2 * X3_STR_MAX + 8)
#define X3_GQL_FIRST_DEFAULT 20
#define X3_GQL_FIRST_MAX  1000

enum x3_gql_vkind { X3_GQL_V_NULL, X3_GQL_V_INT, X3_GQL_V_STRING, X3_GQL_V_VAR };

struct x3_gql_arg {
	char              name[X3_GQL_NAME_MAX + 1];
	enum x3_gql_vkind kind;
	long long         ival;
	char             *sval; /* STRING: decoded text; VAR: variable name */
};

struct x3_gql_field {
	char name[X3_GQL_NAME_MAX + 1];
	int  first_child; /* -1: a leaf (no selection set) */
	int  next;        /* next sibling, -1 at the end */
	int  arg0, nargs; /* args[arg0 .. arg0 + nargs) */
};

struct x3_gql_vardef {
	char              name[X3_GQL_NAME_MAX + 1];
	char              type[X3_GQL_NAME_MAX + 1]; /* "Int", "String" */
	int               non_null;
	struct x3_gql_arg dflt; /* kind NULL when there is no default */
};

struct x3_gql_doc {
	struct x3_gql_field  fields[X3_GQL_FIELDS_MAX];
	int                  nfields;
	struct x3_gql_arg    args[X3_GQL_ARGS_MAX];
	int                  nargs;
	struct x3_gql_vardef vars[X3_GQL_VARS_MAX];
	int                  nvars;
	int                  top; /* first top-level field */
};

/*
 * Parses one GraphQL operation: an anonymous `{...}` or `query [Name]
 * [($v: Type[!] [= literal], ...)] {...}`. Fields may carry arguments
 * (Int, "string", """block""" is not supported, null, $variable) and
 * selection sets; commas and # comments are ignored. Aliases, fragments,
 * directives, mutations and subscriptions are refused by name. Bounded by
 * the X3_GQL_* limits. Returns 0 with *out (free with x3_gql_free), or -1
 * with err naming the problem and its offset.
 */
int  x3_gql_parse(const char *text, size_t len, struct x3_gql_doc **out,
    struct mlc_err *err);
void x3_gql_free(struct x3_gql_doc **dp);

/*
 * Checks the connection shape `{ ROOT { NODE { query(...) {...} } } }`:
 * exactly one field at each of the three levels, the third named "query"
 * with a selection set. Sets the indices of the root, node and query fields.
 */
int x3_gql_connection(const struct x3_gql_doc *d, int *root, int *node,
    int *query, struct mlc_err *err);

/* The arguments of query(...), variables substituted. */
struct x3_gql_qargs {
	long  first;   /* X3_GQL_FIRST_DEFAULT when absent */
	char *after;   /* NULL when absent or null; malloc'd */
	char *filter;
	char *orderBy;
};

/*
 * Resolves the arguments of field `field` (first: Int 1..X3_GQL_FIRST_MAX,
 * after / filter / orderBy: String) with vars (a JSON object or NULL).
 * A $variable must be declared with a matching type; an undeclared or
 * unknown argument, a repeated one or a wrong type is an error. Free with
 * x3_gql_qargs_free.
 */
int  x3_gql_qargs_resolve(const struct x3_gql_doc *d, int field,
    const json_t *vars, struct x3_gql_qargs *out, struct mlc_err *err);
void x3_gql_qargs_free(struct x3_gql_qargs *q);

/* What filters and sorts see of a node. */
enum x3_gql_key { X3_GQL_K_STAMP, X3_GQL_K_CSTAMP, X3_GQL_K_ID };

struct x3_gql_row {
	int64_t stamp;  /* _updateStamp, epoch seconds */
	int64_t cstamp; /* _createStamp */
	char    id[X3_GQL_ID_MAX];
	void   *rec;    /* the store record (opaque here) */
	int     line;   /* GL line index, else 0 */
};

struct x3_gql_filter; /* opaque */

/*
 * Parses a filter object literal (see the interface above). Stamp values
 * are ISO-8601 UTC strings, fractions of a second honoured; id values are
 * strings. Blank text gives *out = NULL (matches all). Returns 0 / -1.
 */
int  x3_gql_filter_parse(const char *text, struct x3_gql_filter **out,
    struct mlc_err *err);
int  x3_gql_filter_match(const struct x3_gql_filter *f, const struct x3_gql_row *r);
void x3_gql_filter_free(struct x3_gql_filter **fp);

struct x3_gql_order {
	int n;
	enum x3_gql_key key[4];
	int desc[4];
};

/* Parses "{_updateStamp:1, id:1}" (values 1 / -1); appends id asc when
 * absent so the order is total. Blank text gives {id:1}. Returns 0 / -1. */
int x3_gql_order_parse(const char *text, struct x3_gql_order *o,
    struct mlc_err *err);
int x3_gql_order_cmp(const struct x3_gql_order *o, const struct x3_gql_row *a,
    const struct x3_gql_row *b);

/* Opaque keyset cursor of a row's order tuple (like x3_cursor_*). */
int x3_gql_cursor_encode(const struct x3_gql_order *o,
    const struct x3_gql_row *r, char *out, size_t outsz);
int x3_gql_cursor_decode(const char *text, const struct x3_gql_order *o,
    struct x3_gql_row *out, struct mlc_err *err);

/* ---- JWT (jwt.c) -------------------------------------------------------- */

#define X3_JWT_MAX 4096 /* longest token accepted */

/* base64url without padding. encode returns the length written (out must
 * hold 4 * ceil(n / 3) + 1); decode returns the length or -1 on a byte
 * outside the alphabet, padding, or an impossible length. */
size_t x3_b64url_encode(const unsigned char *in, size_t n, char *out);
long   x3_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outsz);

/* Signs claims (a JSON object) as an HS256 JWT; returns a malloc'd token
 * or NULL. */
char *x3_jwt_sign(const json_t *claims, const unsigned char *key, size_t keylen);
/*
 * Verifies an HS256 JWT: three base64url parts, header alg "HS256", the
 * signature compared in constant time, the payload a JSON object.
 * Returns 0 with *claims (caller decrefs), or -1 with err set.
 */
int x3_jwt_verify(const char *token, const unsigned char *key, size_t keylen,
    json_t **claims, struct mlc_err *err);
/* Reads an integer claim; 0, or -1 if absent or not an integer. */
int x3_jwt_claim_int(const json_t *claims, const char *name, int64_t *out);
/*
 * The connected-app rules on verified claims: iss, sub equal; aud equal or
 * an array holding it; integer iat <= now; integer exp > now;
 * exp - iat <= max_validity. Returns 0, or -1 with err saying which.
 */
int x3_jwt_check_app(const json_t *claims, const char *iss, const char *sub,
    const char *aud, int64_t now, int64_t max_validity, struct mlc_err *err);

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
	X3_ENT_PINVOICE,
	X3_ENT_GACCENTRY,
	X3_ENT_COUNT,
};

/* "po", "pinv", "gl" <-> entity; parse returns -1 for anything else. */
const char *x3_entity_name(enum x3_entity e);
int         x3_entity_parse(const char *s);

struct x3_record {
	uint32_t        version;    /* 1 at creation, +1 per change */
	char            uuid[37];
	long            served_idx; /* served[] entry of the current stamp, or -1 */
	uint32_t        served_ver; /* version that entry was last served at */
	struct x3_value v[X3_MAX_FIELDS];
	int             nlines;
	struct x3_value lines[X3_MAX_LINES][X3_LINE_FIELDS];
};

/* One distinct (key, stamp) pair that went out in a response. */
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
extern const struct x3_schema x3_pinvoice_schema;
extern const struct x3_schema x3_gaccentry_schema;

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

/* ---- fault.c ----------------------------------------------------------- */

enum x3_fault_kind {
	X3_FAULT_5XX, X3_FAULT_LATENCY, X3_FAULT_THROTTLE, X3_FAULT_MALFORMED,
	X3_FAULT_PARTIAL, X3_FAULT_EQUAL_STAMPS, X3_FAULT_LATE,
	X3_FAULT_PAGING_CHANGES, X3_FAULT_EXPIRE_TOKENS, X3_FAULT_RATELIMIT,
	X3_FAULT_KINDS,
};

struct x3_faults {
	pthread_mutex_t mu;
	uint64_t        rng;
	unsigned        rate_5xx;       /* percent of data requests */
	unsigned        latency_ms;
	unsigned        throttle_left, malformed_left, partial_left;
	unsigned        equal_left, late_left, paging_changes;
	unsigned        ratelimit_left, ratelimit_after; /* 429s left, Retry-After s */
	int64_t         late_age;       /* seconds */
	int             equal_have;
	int64_t         equal_stamp;
	uint64_t        fired[X3_FAULT_KINDS];
};

/* What a data request (api1, GraphQL) meets before its handler runs. */
enum x3_fault_gate { X3_GATE_PASS, X3_GATE_5XX, X3_GATE_THROTTLE, X3_GATE_RATELIMIT };

int  x3_faults_init(struct x3_faults *f, uint64_t seed, struct mlc_err *err);
void x3_faults_destroy(struct x3_faults *f);
/* Sleeps the injected latency, then decides 5xx / throttle / 429 (then
 * *retry_after_s is the Retry-After to send). */
enum x3_fault_gate x3_fault_gate(struct x3_faults *f, unsigned *retry_after_s);
/* 1 if this data page must be corrupted / answered partially (counts down). */
int  x3_fault_take_malformed(struct x3_faults *f);
int  x3_fault_take_partial(struct x3_faults *f);
/* The stamp for a generated change made at `now` (equal / late faults). */
int64_t  x3_fault_stamp(struct x3_faults *f, int64_t now);
/* Records to modify after a page that has a next page (0 = off). */
unsigned x3_fault_paging_changes(struct x3_faults *f);
/* Inserts an invalid JSON escape into body (realloc'd); 0 / -1. */
int  x3_fault_corrupt(char **body, size_t *len);

/* ---- gen.c ------------------------------------------------------------- */

struct x3_gen {
	struct x3_store  *store;
	struct x3_faults *faults;       /* stamp faults, may be NULL */
	uint64_t         rng;
	unsigned         rate;          /* changes per second, 0 = none */
	uint64_t         max_versions;  /* 0 = unlimited */
	unsigned         entities;      /* bit per enum x3_entity */
	int              paused;
	int              stop;
	uint64_t         next_po;       /* POHNUM sequence */
	uint64_t         next_pinv;     /* PINVOICE NUM sequence */
	uint64_t         next_gl;       /* GACCENTRY NUM sequence (all TYPs) */
	pthread_cond_t   cv;            /* waits on store->mu */
	pthread_t        thread;
	int              started;
};

int  x3_gen_init(struct x3_gen *g, struct x3_store *st, uint64_t seed,
    unsigned rate, uint64_t max_versions, struct mlc_err *err);
/* Creates n records of each enabled entity now. Locks the store. */
void x3_gen_initial(struct x3_gen *g, unsigned n);
/* Creates up to n records of entity ent (-1: a random enabled one each
 * time); returns how many. Locks the store. */
unsigned x3_gen_create(struct x3_gen *g, int ent, unsigned n);
/* Makes up to k changes (creations or modifications) of entity ent (-1: a
 * random enabled one each time); returns how many. Locks the store. */
unsigned x3_gen_run(struct x3_gen *g, int ent, unsigned k);
/* Modifies k existing records of ent (paging_changes fault); the store
 * lock must be held. Returns how many. */
unsigned x3_gen_modify_locked(struct x3_gen *g, enum x3_entity ent, unsigned k);
int  x3_gen_start(struct x3_gen *g, struct mlc_err *err);
void x3_gen_set_paused(struct x3_gen *g, int paused);
void x3_gen_stop(struct x3_gen *g);

/* ---- auth.c ------------------------------------------------------------ */

enum x3_auth_mode {
	X3_AUTH_BASIC = 1,
	X3_AUTH_OAUTH2 = 2,
	X3_AUTH_APP = 4,
	X3_AUTH_ANY = 7,
};

/* Why a data request was refused; the route picks the body. */
enum x3_auth_result {
	X3_AUTH_OK,
	X3_AUTH_BAD_BASIC,   /* no / wrong credentials for Basic */
	X3_AUTH_BAD_BEARER,  /* OAuth2 access token invalid */
	X3_AUTH_EXPIRED,     /* OAuth2 access token expired or force-expired */
	X3_AUTH_BAD_APP,     /* connected-app token refused */
};

struct x3_refresh;
struct x3_code;

struct x3_auth {
	pthread_mutex_t    mu;
	unsigned           modes;
	const char        *user, *password;
	const char        *client_id, *client_secret;
	const char        *app_secret, *app_audience;
	int64_t            access_ttl, refresh_ttl, app_max_validity;
	int                refresh_absolute;
	unsigned char      key[32]; /* signs access tokens */
	uint64_t           next_jti, min_jti;
	struct x3_refresh *rts;
	size_t             nrts, caprts;
	struct x3_code    *codes;
	size_t             ncodes, capcodes;
	uint64_t           issued, refreshed, rejected, expired_rejections,
	                   valid_requests, auth_rejections;
};

int  x3_auth_init(struct x3_auth *a, struct mlc_err *err);
void x3_auth_destroy(struct x3_auth *a);
/* Checks a data request's credentials (Authorization header or NULL). */
enum x3_auth_result x3_auth_check(struct x3_auth *a, const char *authz);
/* Force-expires every access token issued so far (fault expire_tokens). */
void x3_auth_expire_all(struct x3_auth *a);

/* ---- server.c / api1.c / graphql.c / simctl.c -------------------------- */

struct MHD_Connection;
struct MHD_Daemon;

enum x3_route {
	X3_ROUTE_API1, X3_ROUTE_GRAPHQL, X3_ROUTE_TOKEN, X3_ROUTE_AUTHORISE,
	X3_ROUTE_SIM, X3_ROUTE_OTHER, X3_ROUTE_COUNT,
};

struct x3_server {
	struct x3_store   *store;
	struct x3_gen     *gen;
	struct x3_faults  *faults;
	struct x3_auth    *auth;
	const char        *folder;
	int                graphql_old_roots;
	char               base_url[128]; /* "http://127.0.0.1:PORT" */
	int                quiet;
	char              *tls_cert, *tls_key; /* PEM text, or NULL */
	uint64_t           routes[X3_ROUTE_COUNT]; /* under the store lock */
	struct MHD_Daemon *mhd;
};

/* A request as the route handlers see it. */
struct x3_req {
	struct x3_server      *srv;
	struct MHD_Connection *conn;
	const char            *method;
	const char            *path; /* decoded, without the query */
	const char            *body; /* NUL-terminated request body ("" if none) */
	size_t                 body_len;
};

/* What a route answers: status and a malloc'd body. */
struct x3_reply {
	int         status;
	char       *body;
	size_t      len;
	int         auth_challenge; /* add WWW-Authenticate: Basic realm="Syracuse" */
	const char *ctype;          /* NULL: application/json; charset=utf-8 */
	char       *location;       /* malloc'd Location header, or NULL */
	int         retry_after;    /* > 0: Retry-After: retry_after - 1 */
};

/* Query parameter / request header, or NULL. */
const char *x3_req_arg(const struct x3_req *rq, const char *name);
const char *x3_req_header(const struct x3_req *rq, const char *name);

/* Sets an SData error reply: {"$diagnoses":[{...}]}. */
void x3_reply_diag(struct x3_reply *r, int status, const char *sdata_code,
    const char *app_code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Sets {"message": msg} (the token gateway's error shape). */
void x3_reply_message(struct x3_reply *r, int status, const char *msg);
/* Sets {"errors":[{"message": ...}]} (GraphQL). */
void x3_reply_gql_error(struct x3_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets a body of another content type (copied). */
void x3_reply_text(struct x3_reply *r, int status, const char *ctype,
    const char *text);
/* Takes b's text as the body (500 diagnosis if b ran out of memory). */
void x3_reply_buf(struct x3_reply *r, int status, struct x3_buf *b);
/* Serializes and takes root (decref'd) as the JSON body. */
void x3_reply_json(struct x3_reply *r, int status, json_t *root);

/* Handles /api1/... (auth already checked). */
void x3_api1_handle(const struct x3_req *rq, struct x3_reply *r);
/* Handles POST /xtrem/api (auth already checked). */
void x3_graphql_handle(const struct x3_req *rq, struct x3_reply *r);
/* Handles /v1/token and /v1/token/authorise. */
void x3_auth_token_handle(const struct x3_req *rq, struct x3_reply *r);
/* Handles /sim/token/... */
void x3_auth_sim_handle(const struct x3_req *rq, struct x3_reply *r);
/* Handles /sim/fault. */
void x3_fault_handle(const struct x3_req *rq, struct x3_reply *r);
json_t *x3_fault_fired_json(struct x3_faults *f);
json_t *x3_auth_stats_json(struct x3_auth *a);
/* Handles /sim/... */
void x3_simctl_handle(const struct x3_req *rq, struct x3_reply *r);

/* Starts libmicrohttpd on an already listening socket. */
int  x3_server_start(struct x3_server *srv, int listen_fd, struct mlc_err *err);
void x3_server_stop(struct x3_server *srv);

/* ---- hex, for the opaque paging cursors of api1 and GraphQL ------------- */

/* Lower-case hex of n bytes into out (needs 2n+1 bytes). -1 if it does not fit. */
static inline int
x3_hex_encode(const char *in, size_t n, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";

	if (outsz < 2 * n + 1)
		return -1;
	for (size_t k = 0; k < n; k++) {
		out[2 * k] = hex[(unsigned char)in[k] >> 4];
		out[2 * k + 1] = hex[(unsigned char)in[k] & 15];
	}
	out[2 * n] = '\0';
	return 0;
}

/* Value of one hex digit (either case), -1 if c is not one. */
static inline int
x3_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
