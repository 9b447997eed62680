/* x3_client: see x3_client.h. */
#include "x3_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mlc_http.h"
#include "mlc_json.h"
#include "mlc_log.h"
#include "mlc_time.h"
#include "x3_graphql.h"

#define MAX_RETRY_AFTER_S 60

static size_t
entity_index(const struct mlc_cfg *cfg, const struct mlc_cfg_entity *e)
{
	return (size_t)(e - cfg->x3.entities);
}

void
x3_client_explain(const struct mlc_cfg *cfg, const struct mlc_cfg_entity *e,
    long status, const char *body, size_t len, char *out, size_t outsz)
{
	char why[400];
	size_t i = entity_index(cfg, e);
	int gql = strcmp(e->api, "graphql") == 0;

	x3_api1_describe_error(status, body, len, why, sizeof(why));
	if (gql && body != NULL && strstr(body, "\"errors\"") != NULL) {
		/* GraphQL: {"errors":[{"message":...}]} */
		struct mlc_err jerr;
		json_t *j = mlc_json_loads_exact(body, len, 16, &jerr);
		const char *m = mlc_json_scalar_text(json_object_get(json_array_get(
		    json_object_get(j, "errors"), 0), "message"));

		if (m != NULL)
			snprintf(why, sizeof(why), "HTTP %ld from X3 GraphQL: %.300s", status, m);
		json_decref(j);
	}
	if (status == 401 || status == 403) {
		if (strcmp(cfg->x3.auth, "oauth2") == 0)
			snprintf(out, outsz, "%s: the gateway refused a freshly refreshed access "
			    "token; check x3.oauth2.client_id and the rights of the paired user",
			    why);
		else if (strcmp(cfg->x3.auth, "connected_app") == 0)
			snprintf(out, outsz, "%s: the connected-app JWT was refused; check "
			    "x3.connected_app.client_id, its secret (secret_env/secret_file), "
			    "audience, x3.user, and that validity is within the app's token "
			    "validity and the clocks agree (skew)", why);
		else
			snprintf(out, outsz, "%s: check x3.user and the password "
			    "(x3.password_env or x3.password_file)", why);
	} else if (status == 404) {
		if (gql)
			snprintf(out, outsz, "%s: check x3.url (GraphQL is at /xtrem/api) and "
			    "x3.folder '%s' (sent as x-xtrem-endpoint)", why, cfg->x3.folder);
		else
			snprintf(out, outsz, "%s: check x3.folder '%s' and "
			    "x3.entities[%zu].class '%s'", why, cfg->x3.folder, i, e->class_name);
	} else if (status == 400 || (status == 500 && body != NULL &&
	    strstr(body, "$diagnoses") != NULL)) {
		/* SData: a bad where/orderBy is a 400, an unknown property a 500.
		 * Not 502-504: a 503 $diagnoses is the licence cap (or an outage),
		 * which no entity setting explains. */
		if (gql)
			snprintf(out, outsz, "%s: check x3.entities[%zu].graphql_root '%s', "
			    "graphql_node '%s', graphql_key '%s' and stamp '%s'", why, i,
			    e->graphql_root, e->graphql_node, e->graphql_key, e->stamp_field);
		else if (body != NULL && strstr(body, "epresentation") != NULL)
			snprintf(out, outsz, "%s: check x3.entities[%zu].representation '%s' "
			    "(it must belong to class '%s')", why, i, e->representation,
			    e->class_name);
		else
			snprintf(out, outsz, "%s: check x3.entities[%zu].stamp '%s' and key '%s' "
			    "(fields of representation '%s')", why, i, e->stamp_field,
			    e->key_field, e->representation);
	} else {
		snprintf(out, outsz, "%s", why);
	}
}

static int
retryable(long status)
{
	return status == 0 || status == 408 || status == 429 || status >= 500;
}

/* Sleeps ms, calling idle; returns non-zero if told to give up. */
static int
wait_ms(struct x3_client *c, int64_t ms)
{
	int64_t end = mlc_time_mono_ms() + ms;

	for (;;) {
		int64_t left = end - mlc_time_mono_ms();
		struct timespec ts;

		if (c->idle != NULL && c->idle(c->idle_arg))
			return 1;
		if (left <= 0)
			return 0;
		if (left > 200)
			left = 200;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

int
x3_client_page(struct x3_client *c, const struct mlc_cfg_entity *e,
    const char *url, int64_t since_s, const char *after, struct x3_page *page,
    struct x3_fetch_stats *st, int *fatal, struct mlc_err *err)
{
	const struct mlc_cfg *cfg = c->cfg;
	int gql = strcmp(e->api, "graphql") == 0;
	struct mlc_http_opts o = {
		.timeout_ms = cfg->x3.timeout_ms,
		.ca_file = cfg->x3.ca_file[0] ? cfg->x3.ca_file : NULL,
		.max_body = X3_MAX_PAGE_BYTES,
		.cancel = c->cancel,
		.cancel_arg = c->idle_arg,
	};
	char endpoint[128], gurl[MLC_CFG_STR + 32], why[600];
	char *body = NULL;
	int attempt = 0, reauth = 0, rc = -1;
	int64_t backoff = cfg->x3.retry_backoff_ms;
	struct x3_cred cred;

	*fatal = 0;
	memset(page, 0, sizeof(*page));
	if (gql) {
		body = x3_gql_body(cfg, e, since_s, after, err);
		if (body == NULL)
			return -1;
		snprintf(endpoint, sizeof(endpoint), "x-xtrem-endpoint: %s", cfg->x3.folder);
		snprintf(gurl, sizeof(gurl), "%s/xtrem/api", cfg->x3.url);
		url = gurl;
	}
	for (;;) {
		const char *hdrs[6];
		size_t nh = 0;
		struct mlc_http_resp resp;
		int64_t delay;
		int r;

		attempt++;
		if (x3_auth_prepare(c->auth, mlc_time_now_ms(), &cred, fatal, err) != 0) {
			if (*fatal || attempt >= cfg->x3.max_attempts)
				goto out;
			snprintf(why, sizeof(why), "%s", err->msg);
			delay = backoff;
			goto retry;
		}
		if (gql) {
			hdrs[nh++] = "Content-Type: application/json";
			hdrs[nh++] = "Accept: application/json";
			hdrs[nh++] = endpoint;
		} else {
			hdrs[nh++] = "Accept: application/json;vnd.sage=syracuse";
			hdrs[nh++] = "X-Requested-With: stateless";
		}
		if (cred.header[0] != '\0')
			hdrs[nh++] = cred.header;
		hdrs[nh] = NULL;
		memset(&resp, 0, sizeof(resp));
		r = mlc_http_request(gql ? "POST" : "GET", url, hdrs, body, body ? strlen(body) : 0,
		    cred.user, cred.password, &o, &resp, err);
		explicit_bzero(cred.header, sizeof(cred.header));
		if (r != 0 && c->cancel != NULL && c->cancel(c->idle_arg)) {
			/* Stopping: no retry; the page was not committed, the
			 * watermark has not moved, the next start reads it. */
			mlc_http_resp_free(&resp);
			goto out;
		}
		if (r != 0) {
			mlc_http_resp_free(&resp);
			if (attempt >= cfg->x3.max_attempts) {
				mlc_err_prefix(err, "after %d attempts", attempt);
				goto out;
			}
			snprintf(why, sizeof(why), "%s", err->msg);
			delay = backoff;
			goto retry;
		}
		if (resp.status == 200) {
			r = gql ? x3_gql_parse_page(resp.body, resp.body_len, e, page, err) :
			    x3_api1_parse_page(resp.body, resp.body_len, e, cfg->x3.url, page, err);
			mlc_http_resp_free(&resp);
			rc = r;
			goto out;
		}
		if (resp.status == 401 && !reauth && x3_auth_unauthorized(c->auth)) {
			/* Once, at once, with fresh credentials. */
			mlc_http_resp_free(&resp);
			reauth = 1;
			attempt--;
			continue;
		}
		x3_client_explain(cfg, e, resp.status, resp.body, resp.body_len, why, sizeof(why));
		if (!retryable(resp.status) || attempt >= cfg->x3.max_attempts) {
			mlc_err_set(err, "%s%s", why, retryable(resp.status) ?
			    " (gave up after the configured x3.max_attempts)" : "");
			mlc_http_resp_free(&resp);
			goto out;
		}
		delay = backoff;
		if (resp.retry_after_s >= 0) {
			int64_t ra = resp.retry_after_s > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S :
			    resp.retry_after_s;

			if (ra * 1000 > delay)
				delay = ra * 1000;
		}
		mlc_http_resp_free(&resp);
retry:
		st->retries++;
		snprintf(st->last_retry, sizeof(st->last_retry), "%.290s", why);
		mlc_warn("%s: attempt %d failed (%s); retrying in %lld ms", e->name, attempt, why,
		    (long long)delay);
		if (wait_ms(c, delay)) {
			mlc_err_set(err, "stopping during a retry wait (%s)", why);
			goto out;
		}
		backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
	}
out:
	free(body);
	return rc;
}
