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
	/* When set (e.g. "0.0.0.0" or "*"), processes bind tcp endpoints on this
	 * host instead of the host named in the endpoint (containers). */
	char bind_host[64];
};

struct mlc_cfg_entity {
	char name[64];              /* config name, e.g. "purchase_order" */
	char class_name[64];        /* api1 class, e.g. "PORDER" */
	char representation[64];    /* api1 representation, e.g. "PORDER" */
	char key_field[64];         /* e.g. "POHNUM" */
	char stamp_field[64];       /* default "UPDDATTIM" */
	int  enabled;               /* default 1 */
};

struct mlc_cfg_x3 {
	char url[MLC_CFG_STR];      /* e.g. "https://x3.example.com:8124" (no trailing '/') */
	char folder[64];            /* endpoint folder, e.g. "SEED" */
	char auth[16];              /* "basic" (issue 3 adds "oauth2", "connected_app") */
	char user[128];
	char password_env[128];     /* env var holding the password, or "" */
	char password_file[MLC_CFG_STR]; /* file holding the password, or "" */
	char ca_file[MLC_CFG_STR];  /* extra CA bundle, or "" */
	int64_t timeout_ms;         /* default 30000 */
	int page_size;              /* default 100, 1..1000 */
	int64_t poll_interval_ms;   /* default 60000; >= 1000 */
	int64_t initial_window_ms;  /* first start reads changes from now - this; default 24h */
	struct mlc_cfg_entity entities[MLC_CFG_MAX_ENTITIES];
	size_t n_entities;
};

struct mlc_cfg_slack {
	char api_url[MLC_CFG_STR];  /* default "https://slack.com/api" */
	char token_env[128];        /* env var holding the bot token, or "" */
	char token_file[MLC_CFG_STR];
	char ca_file[MLC_CFG_STR];
	int64_t timeout_ms;         /* default 10000 */
	int64_t min_interval_ms;    /* per channel, default 1000 (1 post/s) */
	int max_attempts;           /* retries for retryable errors, default 8 */
};

struct mlc_cfg_route {
	char name[64];
	char entity[64];            /* entity config name, or "*" */
	char channel[128];          /* "#procure" or "C0123456789" */
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
 * (and may explicit_bzero() it first). */
char *mlc_cfg_secret(const char *env_name, const char *file, const char *what,
    struct mlc_err *err);

/* Finds an entity by config name; NULL if none. */
const struct mlc_cfg_entity *mlc_cfg_entity_find(const struct mlc_cfg *cfg, const char *name);

#endif
