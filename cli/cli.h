/*
 * The `mlc` command: one binary, one subcommand per file.
 *
 *   mlc up      start and supervise the four stages on this host (up.c)
 *   mlc tail    print the auditor's live stream (tail.c)
 *   mlc audit   query the audit journal (audit.c)
 *   mlc status  health per entity, channel, token (status.c)
 *   mlc replay  post again what failed (replay.c)
 *   mlc check   try the configured X3 and Slack credentials (check.c)
 */
#ifndef MLC_CLI_H
#define MLC_CLI_H

#include <stdint.h>
#include <jansson.h>

#include "mlc_cfg.h"

/* Loads the config from "-c FILE" in argv (removing it) or $MLC_CONFIG.
 * Prints the error and returns -1 on failure. */
int cli_load_config(int *argc, char **argv, struct mlc_cfg *cfg, const char **path);

int cli_up(int argc, char **argv);
int cli_tail(int argc, char **argv);
int cli_audit(int argc, char **argv);
/* mlc secrets set|list|rm, mlc keys generate (secrets.c); argv[0] is "secrets" or "keys". */
int cli_secrets(int argc, char **argv);

/* mlc status | replay | check (status.c, replay.c, check.c). */
int cli_status(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_check(int argc, char **argv);

/* The auditor's control socket (ctl.c). cli_ctl_call returns the reply
 * ({"ok":true,...}) or NULL with errbuf saying why (no answer within
 * timeout_ms, or the auditor's own error). */
struct cli_ctl;
struct cli_ctl *cli_ctl_open(const struct mlc_cfg *cfg);
void cli_ctl_close(struct cli_ctl *c);
json_t *cli_ctl_call(struct cli_ctl *c, json_t *req, int timeout_ms, char *errbuf,
    size_t errsz);
/* "1h" (that long ago) or an ISO-8601 UTC time -> epoch ms. 0 / -1. */
int cli_parse_when(const char *s, int64_t now_ms, int64_t *out_ms);

/* Writes an audit event (JSON text) as one readable line to stdout. */
void cli_print_event_line(const char *json);
/* Does the event (JSON text) pass the filters? NULL filters pass all. */
int cli_event_matches(const char *json, int errors_only, const char *entity,
    const char *channel);

#endif
