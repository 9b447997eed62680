/*
 * x3_client: one page from X3 over either API, with authentication and
 * bounded retries.
 *
 * Retried inside the cycle with exponential backoff (x3.retry_backoff,
 * doubled, at most x3.max_attempts attempts; a Retry-After is honoured up
 * to 60 s): transport errors and timeouts, HTTP 5xx, 429 and 503 (licence
 * throttling: X3 slows down or stops answering near its web-service cap).
 * A 401 with a bearer token is retried once at once with a fresh token. Not
 * retried: other 4xx (a setting is wrong: the error names it), and a page
 * that does not parse (malformed JSON, GraphQL errors): the cycle fails,
 * the watermark stays, and the next cycle reads the page again.
 */
#ifndef X3_CLIENT_H
#define X3_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_cfg.h"
#include "mlc_err.h"
#include "x3_api1.h"
#include "x3_auth.h"

struct x3_client {
	const struct mlc_cfg *cfg;
	struct x3_auth *auth;
	/* Called while waiting between attempts (every <= 200 ms); returns
	 * non-zero to give up (the process is stopping). May be NULL. */
	int (*idle)(void *arg);
	void *idle_arg;
	/* Asked during a request (with idle_arg); non-zero abandons it and the
	 * page (the stage's drain timeout passed). May be NULL. */
	int (*cancel)(void *arg);
};

struct x3_fetch_stats {
	int retries;            /* attempts beyond the first, this cycle */
	char last_retry[300];   /* why the last retry happened */
};

/* Reads one page of e: api1 from `url`; GraphQL the page after `after`
 * (NULL: the first) of changes at or after since_s. *fatal is set when
 * polling must stop for this connection (x3_auth_stopped). */
int x3_client_page(struct x3_client *c, const struct mlc_cfg_entity *e,
    const char *url, int64_t since_s, const char *after, struct x3_page *page,
    struct x3_fetch_stats *st, int *fatal, struct mlc_err *err);

/* Turns an X3 error answer into a sentence naming the setting to check
 * ("HTTP 400 from X3: Bad where syntax (BadWhereSyntax): check
 * x3.entities[0].stamp 'UPDDATTIM' and key 'POHNUM'"). */
void x3_client_explain(const struct mlc_cfg *cfg, const struct mlc_cfg_entity *e,
    long status, const char *body, size_t len, char *out, size_t outsz);

#endif
