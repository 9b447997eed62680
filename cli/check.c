/*
 * mlc check: "ping your real systems". With the configured credentials it
 * tries X3 (authenticates and runs one query of one row per entity) and
 * Slack (auth.test, the granted scopes, each configured channel exists and
 * the bot can post there), printing a verdict per item and, for each
 * failure, what to change. Exit 0 only when every item passes.
 *
 * It never posts: chat.postMessage would be a message in a real channel.
 * Whether the bot can post is read from conversations.info (is_member,
 * is_archived, is_private) and the token's scopes (X-OAuth-Scopes).
 *
 * X3 goes through the poller's own client (x3_auth, x3_client), so check
 * sees exactly what the poller would. With x3.auth oauth2 no request is
 * made: a refresh may rotate the refresh token under the running poller;
 * check reports the token store instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "cli.h"
#include "mlc_http.h"
#include "mlc_json.h"
#include "mlc_time.h"
#include "slack_api.h"
#include "token_store.h"
#include "x3_api1.h"
#include "x3_auth.h"
#include "x3_client.h"

struct verdicts {
	int pass, fail;
};

static void
verdict(struct verdicts *v, int ok, const char *item, const char *detail, const char *fix)
{
	printf("%s  %s: %s\n", ok ? "PASS" : "FAIL", item, detail);
	if (!ok && fix != NULL)
		printf("      fix: %s\n", fix);
	if (ok)
		v->pass++;
	else
		v->fail++;
	fflush(stdout);
}

/* ---- X3 ---- */

static void
no_events(void *arg, const char *kind, const char *event, const char *detail,
    int64_t expires_ms)
{
	(void)arg;
	(void)kind;
	(void)event;
	(void)detail;
	(void)expires_ms;
}

static const char *
x3_fix(const char *msg)
{
	if (strstr(msg, "401") != NULL || strstr(msg, "nauthori") != NULL)
		return "X3 refused the credentials: check x3.user and the password in the "
		    "variable named by x3.password_env (or x3.password_file), and that the "
		    "user may use web services";
	if (strstr(msg, "404") != NULL)
		return "check x3.url, x3.folder and the entity's class / representation "
		    "(sites often expose their own Y*/Z* representations)";
	if (strstr(msg, "certificate") != NULL || strstr(msg, "SSL") != NULL ||
	    strstr(msg, "TLS") != NULL)
		return "the server's certificate is not trusted: set x3.ca_file to the CA's "
		    "PEM file (verification is never turned off)";
	if (strstr(msg, "onnect") != NULL || strstr(msg, "resolve") != NULL ||
	    strstr(msg, "imeout") != NULL || strstr(msg, "timed out") != NULL)
		return "X3 cannot be reached: check x3.url (scheme, host, port) and that a "
		    "firewall or proxy lets this host through";
	if (strstr(msg, "password") != NULL || strstr(msg, "secret") != NULL)
		return "export the variable named by x3.password_env (or create "
		    "x3.password_file) before running mlc";
	return "see the message above; x3.* in the configuration names the settings";
}

static void
check_x3(const struct mlc_cfg *cfg0, struct verdicts *v)
{
	static struct mlc_cfg cfg;
	struct x3_auth *auth = NULL;
	struct mlc_err err;
	char item[128], detail[600];

	cfg = *cfg0;
	cfg.x3.page_size = 1;
	cfg.x3.max_attempts = 1;
	if (strcmp(cfg.x3.auth, "oauth2") == 0) {
		struct x3_tokens t;
		char path[600];
		int found = 0;

		memset(&t, 0, sizeof(t));
		if (x3_tokens_path(&cfg, path, sizeof(path)) != 0 ||
		    x3_tokens_load(path, &t, &found, &err) != 0) {
			verdict(v, 0, "x3 oauth2 tokens", err.msg, "run mlc x3 login CODE");
			return;
		}
		if (!found || t.refresh_token == NULL || t.rejected)
			verdict(v, 0, "x3 oauth2 tokens", !found ? "no token store yet" :
			    "the gateway refused the stored refresh token",
			    "pair again: mlc x3 login CODE (the code from the X3 cloud admin)");
		else
			verdict(v, 1, "x3 oauth2 tokens", "a refresh token is stored (entities are "
			    "not queried: a refresh here could rotate the poller's token)", NULL);
		free(t.refresh_token);
		return;
	}
	if (x3_auth_open(&auth, &cfg, no_events, NULL, &err) != 0) {
		verdict(v, 0, "x3 credentials", err.msg, x3_fix(err.msg));
		return;
	}
	for (size_t i = 0; i < cfg.x3.n_entities; i++) {
		const struct mlc_cfg_entity *e = &cfg.x3.entities[i];
		struct x3_client c = { &cfg, auth, NULL, NULL, NULL };
		struct x3_fetch_stats st;
		struct x3_page page;
		char *url = NULL;
		int fatal = 0, r;
		int64_t since = mlc_time_now_ms() / 1000 - 24 * 3600;

		snprintf(item, sizeof(item), "x3 entity %s", e->name);
		if (!e->enabled) {
			verdict(v, 1, item, "disabled (not queried)", NULL);
			continue;
		}
		memset(&page, 0, sizeof(page));
		memset(&st, 0, sizeof(st));
		if (strcmp(e->api, "graphql") != 0 &&
		    x3_api1_first_url(&cfg, e, since, &url, &err) != 0) {
			verdict(v, 0, item, err.msg, x3_fix(err.msg));
			continue;
		}
		r = x3_client_page(&c, e, url, since, NULL, &page, &st, &fatal, &err);
		free(url);
		if (r != 0) {
			verdict(v, 0, item, err.msg, x3_fix(err.msg));
		} else {
			snprintf(detail, sizeof(detail), "authenticated (%s), query answered (%zu "
			    "row(s) of at most 1 changed in the last 24 h)", cfg.x3.auth, page.n_rows);
			verdict(v, 1, item, detail, NULL);
		}
		x3_page_free(&page);
	}
	x3_auth_close(&auth);
}

/* ---- Slack ---- */

struct slack_call {
	char *body;
	size_t len;
	char scopes[1024];
	int scopes_seen;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct slack_call *sc = arg;
	size_t k = sz * n;
	char *nb;

	if (sc->len + k > 1024 * 1024)
		return 0;
	nb = realloc(sc->body, sc->len + k + 1);
	if (nb == NULL)
		return 0;
	sc->body = nb;
	memcpy(sc->body + sc->len, p, k);
	sc->len += k;
	sc->body[sc->len] = '\0';
	return k;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct slack_call *sc = arg;
	size_t k = sz * n, m;

	if (k > 15 && strncasecmp(p, "X-OAuth-Scopes:", 15) == 0) {
		const char *s = p + 15;

		while (*s == ' ' && s < p + k)
			s++;
		m = (size_t)(p + k - s);
		if (m >= sizeof(sc->scopes))
			m = sizeof(sc->scopes) - 1;
		memcpy(sc->scopes, s, m);
		while (m > 0 && (sc->scopes[m - 1] == '\r' || sc->scopes[m - 1] == '\n'))
			m--;
		sc->scopes[m] = '\0';
		sc->scopes_seen = 1;
	}
	return k;
}

/* Calls a Slack method; returns the parsed reply or NULL with err. */
static json_t *
slack_call(const struct mlc_cfg *cfg, const char *token, const char *method,
    const char *query, struct slack_call *sc, struct mlc_err *err)
{
	struct mlc_http_opts o = { 0, cfg->slack.timeout_ms,
		cfg->slack.ca_file[0] ? cfg->slack.ca_file : NULL, 1024 * 1024, NULL, NULL };
	struct curl_slist *h = NULL;
	char url[1200], auth[700];
	CURL *c = curl_easy_init();
	CURLcode rc;
	long status = 0;
	json_t *doc;

	memset(sc, 0, sizeof(*sc));
	if (c == NULL || mlc_http_easy_setup(c, &o, err) != 0) {
		if (c)
			curl_easy_cleanup(c);
		return NULL;
	}
	snprintf(url, sizeof(url), "%s/%s%s%s", cfg->slack.api_url, method,
	    query ? "?" : "", query ? query : "");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	explicit_bzero(auth, sizeof(auth));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sc);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, sc);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		free(sc->body);
		sc->body = NULL;
		mlc_err_set(err, "%s: %s", method, curl_easy_strerror(rc));
		return NULL;
	}
	doc = sc->body ? mlc_json_loads_exact(sc->body, sc->len, 32, err) : NULL;
	free(sc->body);
	sc->body = NULL;
	if (!json_is_object(doc)) {
		json_decref(doc);
		if (sc->len == 0 || status != 200)
			mlc_err_set(err, "%s: HTTP %ld without a Slack answer", method, status);
		return NULL;
	}
	return doc;
}

static int
has_scope(const char *list, const char *scope)
{
	size_t n = strlen(scope);

	for (const char *p = list; p != NULL && *p != '\0';) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		while (l > 0 && *p == ' ') {
			p++;
			l--;
		}
		if (l == n && strncmp(p, scope, n) == 0)
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

static const char *
token_fix(const char *e)
{
	if (strcmp(e, "token_expired") == 0)
		return "the token expired (token rotation is on): refresh it, or turn rotation off "
		    "for this app";
	if (strcmp(e, "account_inactive") == 0 || strcmp(e, "token_revoked") == 0)
		return "the app was uninstalled or the token revoked: reinstall the app and copy "
		    "the new Bot User OAuth Token (xoxb-...)";
	return "Slack does not accept the token: put the app's Bot User OAuth Token (xoxb-..., "
	    "OAuth & Permissions page) in the variable named by slack.token_env (or "
	    "slack.token_file)";
}

/* Slack's conversations.info takes a channel ID only: a configured name
 * is found with conversations.list first. Returns the answer to show: the
 * info answer of the ID, a list answer's error, or a made-up
 * channel_not_found when no page has the name. *method names the call. */
static json_t *
channel_info(const struct mlc_cfg *cfg, const char *token, const char *ch,
    const char **method, struct mlc_err *err)
{
	struct slack_call sc;
	char q[600], id[32] = "", cursor[256] = "";
	json_t *doc;
	char *enc;

	if (!slack_channel_id_shape(ch)) {
		*method = "conversations.list";
		for (int page = 0; page < 50 && id[0] == '\0'; page++) {
			char e[64], *form = slack_list_body(cursor);

			if (form == NULL) {
				mlc_err_set(err, "out of memory");
				return NULL;
			}
			doc = slack_call(cfg, token, "conversations.list", form, &sc, err);
			free(form);
			if (doc == NULL || !json_is_true(json_object_get(doc, "ok")))
				return doc;  /* its error is shown */
			/* cursor is "" after the last page, or on a bad answer */
			slack_list_find(doc, ch, id, sizeof(id), cursor, sizeof(cursor),
			    e, sizeof(e));
			json_decref(doc);
			if (cursor[0] == '\0')
				break;
		}
		if (id[0] == '\0')
			return json_pack("{s:b, s:s}", "ok", 0, "error", "channel_not_found");
		ch = id;
	}
	*method = "conversations.info";
	enc = mlc_http_urlencode(ch);
	snprintf(q, sizeof(q), "channel=%s", enc ? enc : "");
	free(enc);
	return slack_call(cfg, token, "conversations.info", q, &sc, err);
}

static void
check_channel(const struct mlc_cfg *cfg, const char *token, const char *ch,
    const char *where, const char *scopes, int scopes_known, struct verdicts *v)
{
	struct mlc_err err;
	char item[200], detail[400], fix[600];
	const char *method = "conversations.list";
	json_t *doc, *c;
	const char *e;

	snprintf(item, sizeof(item), "slack channel %s", ch);
	doc = channel_info(cfg, token, ch, &method, &err);
	if (doc == NULL) {
		verdict(v, 0, item, err.msg, "check slack.api_url and the network");
		return;
	}
	if (!json_is_true(json_object_get(doc, "ok"))) {
		e = json_string_value(json_object_get(doc, "error"));
		e = e ? e : "unknown error";
		if (strcmp(e, "channel_not_found") == 0)
			snprintf(fix, sizeof(fix), "no channel %s is visible to the bot: create it, "
			    "invite the bot if it is private (/invite @bot), or correct %s", ch, where);
		else if (strcmp(e, "missing_scope") == 0)
			snprintf(fix, sizeof(fix), "add the channels:read (and groups:read for "
			    "private channels) scope to the app and reinstall it, so channels can "
			    "be checked");
		else
			snprintf(fix, sizeof(fix), "%s", token_fix(e));
		snprintf(detail, sizeof(detail), "%s: %s", method, e);
		verdict(v, 0, item, detail, fix);
		json_decref(doc);
		return;
	}
	c = json_object_get(doc, "channel");
	if (json_is_true(json_object_get(c, "is_archived"))) {
		snprintf(fix, sizeof(fix), "unarchive the channel, or change %s", where);
		verdict(v, 0, item, "the channel is archived", fix);
	} else if (json_is_true(json_object_get(c, "is_member"))) {
		verdict(v, 1, item, "exists, the bot is a member and can post", NULL);
	} else if (!json_is_true(json_object_get(c, "is_private")) && scopes_known &&
	    has_scope(scopes, "chat:write.public")) {
		verdict(v, 1, item, "exists (public); the bot is not a member but has "
		    "chat:write.public", NULL);
	} else {
		snprintf(fix, sizeof(fix), "invite the bot to %s (/invite @your-bot)%s", ch,
		    json_is_true(json_object_get(c, "is_private")) ? "" :
		    ", or add the chat:write.public scope");
		verdict(v, 0, item, "the bot is not a member and cannot post", fix);
	}
	json_decref(doc);
}

static void
check_slack(const struct mlc_cfg *cfg, struct verdicts *v)
{
	struct slack_call sc;
	struct mlc_err err;
	char detail[600], where[64];
	char *token = mlc_cfg_secret(cfg->slack.token_env, cfg->slack.token_file,
	    "slack bot token", &err);
	json_t *doc;
	int scopes_known;
	char scopes[1024];

	if (token == NULL) {
		verdict(v, 0, "slack token", err.msg, "export the variable named by "
		    "slack.token_env (or create slack.token_file) with the bot token (xoxb-...)");
		return;
	}
	doc = slack_call(cfg, token, "auth.test", NULL, &sc, &err);
	if (doc == NULL) {
		verdict(v, 0, "slack auth.test", err.msg, "check slack.api_url (and "
		    "slack.ca_file behind a TLS-inspecting proxy) and that this host reaches it");
		goto out;
	}
	if (!json_is_true(json_object_get(doc, "ok"))) {
		const char *e = json_string_value(json_object_get(doc, "error"));

		snprintf(detail, sizeof(detail), "auth.test: %s", e ? e : "refused");
		verdict(v, 0, "slack token", detail, token_fix(e ? e : ""));
		json_decref(doc);
		goto out;
	}
	snprintf(detail, sizeof(detail), "valid for team %s as %s",
	    json_string_value(json_object_get(doc, "team")) ?
	    json_string_value(json_object_get(doc, "team")) : "?",
	    json_string_value(json_object_get(doc, "user")) ?
	    json_string_value(json_object_get(doc, "user")) : "?");
	json_decref(doc);
	verdict(v, 1, "slack token", detail, NULL);
	scopes_known = sc.scopes_seen;
	snprintf(scopes, sizeof(scopes), "%s", sc.scopes);
	if (scopes_known)
		verdict(v, has_scope(scopes, "chat:write"), "slack scope chat:write",
		    has_scope(scopes, "chat:write") ? "granted" : "missing: the bot cannot post",
		    "add the chat:write bot scope to the app (OAuth & Permissions) and "
		    "reinstall it");
	for (size_t i = 0; i < cfg->n_routes; i++) {
		int dup = 0;

		for (size_t k = 0; k < i; k++)
			dup |= strcmp(cfg->routes[k].channel, cfg->routes[i].channel) == 0;
		if (dup)
			continue;
		snprintf(where, sizeof(where), "routes[%zu].channel", i);
		check_channel(cfg, token, cfg->routes[i].channel, where, scopes, scopes_known, v);
	}
	if (cfg->aud.alert_channel[0] != '\0')
		check_channel(cfg, token, cfg->aud.alert_channel, "auditor.alert_channel", scopes,
		    scopes_known, v);
out:
	explicit_bzero(token, strlen(token));
	free(token);
}

int
cli_check(int argc, char **argv)
{
	struct mlc_cfg cfg;
	struct verdicts v = { 0, 0 };
	int x3 = 1, slack = 1;

	if (cli_load_config(&argc, argv, &cfg, NULL) != 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--x3") == 0)
			slack = 0;
		else if (strcmp(argv[i], "--slack") == 0)
			x3 = 0;
		else {
			fprintf(stderr, "mlc check: unknown option '%s'\nusage: mlc check "
			    "[--x3 | --slack]\n", argv[i]);
			return 2;
		}
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (x3)
		check_x3(&cfg, &v);
	if (slack)
		check_slack(&cfg, &v);
	curl_global_cleanup();
	printf("mlc check: %d item(s) pass, %d fail: %s\n", v.pass, v.fail,
	    v.fail ? "fix the items above and run mlc check again" : "all pass");
	return v.fail ? 1 : 0;
}
