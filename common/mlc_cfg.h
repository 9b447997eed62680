/*
 * mlc_cfg: the one YAML configuration file shared by every process
 * (`-c FILE`, else $MLC_CONFIG, else ./mlc.yaml).
 *
 * Loading is strict: an unknown key, a wrong type, a missing required key or
 * a value out of range is an error "FILE:LINE: key 'x3.page_size': must be
 * an integer between 1 and 1000 (got '0')". Secrets are never in the file:
 * it names an environment variable or a file that holds each one (`password_env`,
 * `password_file`, `token_env`, `token_file`), and mlc_cfg_secret() reads
 * it when needed. config/mlc.example.yaml documents every key.
 */
#ifndef MLC_CFG_H
#define MLC_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_err.h"

#define MLC_CFG_MAX_ENTITIES    16
#define MLC_CFG_MAX_ROUTES      64
#define MLC_CFG_MAX_DISPATCHERS 32
#define MLC_CFG_STR 256

/* A ZeroMQ endpoint such as "ipc:///run/mlc/formatter.in" or "tcp://127.0.0.1:7201". */
struct mlc_cfg_endpoints {
	char poller_ack[MLC_CFG_STR];     /* poller binds: acks from formatter, auditor */
	char formatter_in[MLC_CFG_STR];   /* formatter binds: records from poller */
	char formatter_ack[MLC_CFG_STR];  /* formatter binds: acks from dispatchers, auditor */
	struct {
		char in[MLC_CFG_STR];     /* dispatcher i binds: messages from formatter */
		char ack[MLC_CFG_STR];    /* dispatcher i binds: acks from auditor */
	} dispatchers[MLC_CFG_MAX_DISPATCHERS];
	size_t n_dispatchers;             /* >= 1 */
	char auditor_in[MLC_CFG_STR];     /* auditor binds: audit events from all stages */
	char auditor_pub[MLC_CFG_STR];    /* auditor binds: live stream (PUB) for `mlc tail` */
	/* auditor binds (ROUTER): JSON queries and commands from `mlc`;
	 * default: auditor_in with "-ctl" appended (tcp: port + 1000). */
	char auditor_ctl[MLC_CFG_STR];
	/* auditor binds (PULL): acks from dispatchers for replays and alerts;
	 * default: auditor_in with "-ack" appended (tcp: port + 1001). */
	char auditor_ack[MLC_CFG_STR];
	/* When set (e.g. "0.0.0.0" or "*"), processes bind tcp endpoints on this
	 * host instead of the host named in the endpoint (containers). */
	char bind_host[64];
};

#define MLC_CFG_MAX_NOTIFY      8
#define MLC_CFG_ROUTE_LIST  32     /* values in one route list (suppliers, ...) */
#define MLC_CFG_ROUTE_VALUE 32     /* bytes of one list value, incl. NUL */
#define MLC_CFG_TEMPLATE    1024   /* bytes of a route template / link pattern */
#define MLC_CFG_MAX_XFIELDS     16
#define MLC_CFG_MAX_SCHEDULE    8

/* An extra field carried in records: canonical name "x_<name>" from the X3
 * field `from` (api1 field name, or GraphQL dotted path such as "buyer.code"). */
struct mlc_cfg_xfield {
	char name[64];              /* as written, must start with "x_" */
	char from[128];
};

struct mlc_cfg_entity {
	char name[64];              /* config name, e.g. "purchase_order" */
	char class_name[64];        /* api1 class, e.g. "PORDER" */
	char representation[64];    /* api1 representation, e.g. "PORDER" */
	char key_field[64];         /* e.g. "POHNUM" */
	char stamp_field[64];       /* default "UPDDATTIM" (api1), "_updateStamp" (graphql) */
	int  enabled;               /* default 1 */
	/* docs/records.md: purchase_order | supplier_invoice | gl_entry; default
	 * from class (PORDER, PINVOICE, GACCENTRY; else required). */
	char kind[24];
	char api[16];               /* api1 | graphql; default x3.api (resolved at load) */
	char graphql_root[64];      /* default by kind, e.g. "xtremX3Purchasing" */
	char graphql_node[64];      /* default by kind, e.g. "purchaseOrder" */
	char graphql_key[64];       /* default "id" (gl_entry: "journalEntry") */
	char notify[MLC_CFG_MAX_NOTIFY][24]; /* events emitted; default per kind */
	size_t n_notify;
	struct mlc_cfg_xfield fields[MLC_CFG_MAX_XFIELDS];
	size_t n_fields;
	/* Deep link to a record in X3 (overrides x3.link_pattern): an http(s)
	 * URL with {number}, {key}, {folder}, {entity}, {kind}; "" = none. */
	char link[MLC_CFG_TEMPLATE];
};

/* One rule of x3.schedule: poll every `every_ms` on `days` between `from`
 * and `to` (local time of `tz`). The first matching rule wins; outside all
 * rules x3.poll_interval applies. */
struct mlc_cfg_schedule_rule {
	int64_t every_ms;
	char days[32];              /* "Mon-Fri", "Sat,Sun", ...; default every day */
	char from[8];               /* "07:00"; default "00:00" */
	char to[8];                 /* "19:00"; default "24:00" (end of day) */
	char tz[64];                /* IANA zone, default "UTC" */
	unsigned days_mask;         /* parsed: bit 0 = Sunday .. bit 6 = Saturday */
	int from_min, to_min;       /* parsed: minutes since local midnight, from < to */
};

struct mlc_cfg_x3_oauth2 {
	char token_url[MLC_CFG_STR];     /* default {x3.url}/v1/token */
	char client_id[128];
	char client_secret_env[128];
	char client_secret_file[MLC_CFG_STR];
	char redirect_uri[MLC_CFG_STR];  /* sent with the code exchange when set */
	int64_t refresh_margin_ms;       /* refresh this long before expiry; default 60s */
	int64_t refresh_ttl_ms;          /* refresh-token lifetime from the pairing; default 30d */
	int64_t warn_first_ms;           /* audit warning this long before the end; 7d */
	int64_t warn_last_ms;            /* second warning; 1d */
};

struct mlc_cfg_x3_app {
	char client_id[128];             /* JWT iss */
	char secret_env[128];            /* HS256 secret */
	char secret_file[MLC_CFG_STR];
	char audience[MLC_CFG_STR];      /* JWT aud */
	int64_t validity_ms;             /* exp - now; default 60s */
	int64_t skew_ms;                 /* iat = now - skew; default 30s */
};

struct mlc_cfg_x3 {
	char url[MLC_CFG_STR];      /* e.g. "https://x3.example.com:8124" (no trailing '/') */
	char folder[64];            /* endpoint folder, e.g. "SEED" */
	char auth[16];              /* "basic", "oauth2" or "connected_app" */
	char user[128];
	char password_env[128];     /* env var holding the password, or "" */
	char password_file[MLC_CFG_STR]; /* file holding the password, or "" */
	char ca_file[MLC_CFG_STR];  /* extra CA bundle, or "" */
	int64_t timeout_ms;         /* default 30000 */
	int page_size;              /* default 100, 1..1000 */
	int64_t poll_interval_ms;   /* default 60000; >= 1000 */
	int64_t initial_window_ms;  /* first start reads changes from now - this; default 24h */
	char api[16];               /* api1 | graphql; default api1 */
	int64_t lookback_ms;        /* re-read before the watermark; default 5m */
	int max_attempts;           /* per X3 request (5xx, timeouts, throttling); default 4 */
	int64_t retry_backoff_ms;   /* first backoff, doubled each attempt; default 1s */
	struct mlc_cfg_x3_oauth2 oauth2;
	struct mlc_cfg_x3_app app;  /* key "connected_app" */
	struct mlc_cfg_schedule_rule schedule[MLC_CFG_MAX_SCHEDULE];
	size_t n_schedule;
	struct mlc_cfg_entity entities[MLC_CFG_MAX_ENTITIES];
	size_t n_entities;
	char link_pattern[MLC_CFG_TEMPLATE]; /* deep link for every entity; see entity link */
};

struct mlc_cfg_slack {
	char api_url[MLC_CFG_STR];  /* default "https://slack.com/api" */
	char token_env[128];        /* env var holding the bot token, or "" */
	char token_file[MLC_CFG_STR];
	char ca_file[MLC_CFG_STR];
	int64_t timeout_ms;         /* default 10000 */
	int64_t min_interval_ms;    /* per channel, default 1000 (1 post/s) */
	int max_attempts;           /* retries for retryable errors, default 8 */
	int burst;                  /* posts allowed back to back per channel, default 1 */
	/* Token rotation (oauth.v2.access): all "" when rotation is off. */
	char refresh_token_env[128];
	char refresh_token_file[MLC_CFG_STR];
	char client_id[128];
	char client_secret_env[128];
	char client_secret_file[MLC_CFG_STR];
};

/* A route sends the records it matches to one channel (formatter/route.h
 * has the matching rules). Every filter is optional: an empty string or a
 * count of 0 means "any". A list value ending in '*' matches by prefix. */
struct mlc_cfg_route {
	char name[64];
	char entity[64];            /* entity config name, entity kind, or "*" */
	char channel[128];          /* "#procure" or "C0123456789" */
	char events[MLC_CFG_MAX_NOTIFY][24]; /* key "event": approved, received, ... */
	size_t n_events;
	char amount_gte[40];        /* decimal text: amount >= this */
	char amount_lt[40];         /* decimal text: amount < this */
	char amount_field[24];      /* amount_excl_tax (default) | amount_incl_tax */
	char currency[8];           /* ISO code the record must carry */
	char suppliers[MLC_CFG_ROUTE_LIST][MLC_CFG_ROUTE_VALUE];
	size_t n_suppliers;
	char sites[MLC_CFG_ROUTE_LIST][MLC_CFG_ROUTE_VALUE];
	size_t n_sites;
	char accounts[MLC_CFG_ROUTE_LIST][MLC_CFG_ROUTE_VALUE];
	size_t n_accounts;
	char journals[MLC_CFG_ROUTE_LIST][MLC_CFG_ROUTE_VALUE];
	size_t n_journals;
	char template_text[MLC_CFG_TEMPLATE]; /* key "template"; "" = default message */
};

/* Placeholders a route template may use ({name}), NULL-terminated: the
 * canonical record fields of docs/records.md and the formatter's own
 * (kind, event, amount, date, ...). Names starting with "x_" (extra
 * fields, x3.entities[].fields) are accepted too. */
extern const char *const mlc_cfg_template_names[];

/* auditor.* besides retention (which is audit_retention_ms). */
struct mlc_cfg_auditor {
	char http_listen[64];       /* /metrics, /healthz (+ inbound): "127.0.0.1:9464"; "" = off */
	char alert_channel[128];    /* dead letters raise an alert here; "" = none */
	int alert_max_per_hour;     /* default 20; more are counted, not sent */
	int64_t compact_interval_ms;/* default 7d; 0 = only on demand (mlc audit --compact) */
	int64_t health_max_silence_ms; /* /healthz: a stage silent longer is unhealthy; default 5m */
};

/* inbound.*: the signed Slack endpoint (slash commands, interactivity, Events). */
struct mlc_cfg_inbound {
	char listen[64];            /* own listener "HOST:PORT"; "" = on auditor.http_listen */
	char signing_secret_env[128];
	char signing_secret_file[MLC_CFG_STR]; /* neither set = inbound off */
	char replay_users[MLC_CFG_STR]; /* comma-separated Slack user IDs allowed to replay */
	char command[32];           /* slash command name, default "/x3" */
	int64_t max_body;           /* bytes, default 65536 */
};

struct mlc_cfg {
	char path[MLC_CFG_STR];     /* file it was loaded from */
	char state_dir[MLC_CFG_STR];/* each process keeps LMDB under state_dir/<process> */
	char log_level[16];         /* default "info" */
	int64_t resend_after_ms;    /* chain of custody: resend unacked after, default 3000 */
	int64_t max_frame_bytes;    /* ZMQ_MAXMSGSIZE, default 1 MiB */
	struct mlc_cfg_endpoints ep;
	struct mlc_cfg_x3 x3;
	struct mlc_cfg_slack slack;
	struct mlc_cfg_route routes[MLC_CFG_MAX_ROUTES];
	size_t n_routes;
	int64_t audit_retention_ms; /* default 90 days */
	struct mlc_cfg_auditor aud;
	struct mlc_cfg_inbound inbound;
	/* shutdown.drain_timeout: on SIGTERM a stage finishes what is in flight
	 * for at most this long, then exits anyway (mlc_proc.h); default 10s. */
	int64_t drain_timeout_ms;
	/* secrets.store: the encrypted secret store (mlc_secrets.h); "" means
	 * state_dir/secrets.db. Used by `<x>_secret: NAME` keys. */
	char secrets_store[MLC_CFG_STR];
	/* zmq.curve: CURVE on every ZeroMQ socket (mlc_zmq.h), for stages on
	 * several hosts. Off by default; when on, all four keys are required. */
	struct {
		int enabled;
		char server_secret_key_file[MLC_CFG_STR];
		char server_public_key[48];     /* Z85, 40 characters */
		char client_secret_key_file[MLC_CFG_STR];
		char client_public_key[48];
	} curve;
};

/* Loads and validates path (or $MLC_CONFIG, or "mlc.yaml" when path is NULL
 * or ""). The file may be at most 1 MiB. On failure *cfg is left unchanged
 * and err holds one line "FILE[:LINE]: ..." naming the key path
 * ("x3.entities[0].key"); values that may be secrets are never echoed. */
int mlc_cfg_load(struct mlc_cfg *cfg, const char *path, struct mlc_err *err);
/* Same, from a string (tests); `name` stands for the file name in errors. */
int mlc_cfg_load_string(struct mlc_cfg *cfg, const char *yaml, size_t len,
    const char *name, struct mlc_err *err);

/* Reads a secret named by an env var (preferred when set) or a file (first
 * line, trailing newline stripped). what names it for errors, e.g.
 * "x3.password". Returns a malloc'd string or NULL with err set; the error
 * names the variable or file, never the value.
 * Details: the variable is used when env_name is non-empty and the variable
 * is set and non-empty; otherwise the file (at most 64 KiB; "\r\n" or "\n"
 * ends the first line, which must be non-empty). The caller frees the result
 * (and may explicit_bzero() it first).
 * When env_name is set but empty in the environment, "<env_name>_FILE" may
 * name a file holding the value instead (container secrets). When file is
 * a secret store reference (a `<base>_secret: NAME` key in the config put
 * it there, see mlc_secrets.h), the value comes from the encrypted store
 * and the variable is not consulted: store, then variable, then file. */
char *mlc_cfg_secret(const char *env_name, const char *file, const char *what,
    struct mlc_err *err);

/* Finds an entity by config name; NULL if none. */
const struct mlc_cfg_entity *mlc_cfg_entity_find(const struct mlc_cfg *cfg, const char *name);

#endif
