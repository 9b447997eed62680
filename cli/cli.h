/*
 * The `mlc` command: one binary, one subcommand per file.
 *
 *   mlc up      start and supervise the four stages on this host (up.c)
 *   mlc tail    print the auditor's live stream (tail.c)
 *   mlc audit   print the audit journal (audit.c)
 */
#ifndef MLC_CLI_H
#define MLC_CLI_H

#include "mlc_cfg.h"

/* Loads the config from "-c FILE" in argv (removing it) or $MLC_CONFIG.
 * Prints the error and returns -1 on failure. */
int cli_load_config(int *argc, char **argv, struct mlc_cfg *cfg, const char **path);

int cli_up(int argc, char **argv);
int cli_tail(int argc, char **argv);
int cli_audit(int argc, char **argv);

/* Writes an audit event (JSON text) as one readable line to stdout. */
void cli_print_event_line(const char *json);
/* Does the event (JSON text) pass the filters? NULL filters pass all. */
int cli_event_matches(const char *json, int errors_only, const char *entity,
    const char *channel);

#endif
