/* slack_tokens: see slack_tokens.h. The store entry's value is text:
 * "1\n" expires_at_ms "\n" access "\n" refresh (tokens hold no control
 * characters, so the newlines are unambiguous). */
#include "slack_tokens.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_secrets.h"

struct slack_tokens {
	struct mlc_store *st;
	MDB_dbi dbi;            /* the LMDB database older versions used */
	char path[PATH_MAX];    /* the secret store */
	char name[MLC_SECRETS_NAME_MAX + 1];
};

struct lm_arg {
	struct slack_tokens *ts;
	char *access, *refresh;
	int64_t expires_at_ms;
	int found;
};

int
slack_tokens_open(struct slack_tokens **tsp, struct mlc_store *st,
    const struct mlc_cfg *cfg, const char *process, struct mlc_err *err)
{
	struct slack_tokens *ts = calloc(1, sizeof(*ts));

	if (ts == NULL)
		return mlc_err_set(err, "out of memory");
	ts->st = st;
	if (mlc_secrets_path(cfg->state_dir, cfg->secrets_store, ts->path, sizeof(ts->path),
	    err) != 0 ||
	    (size_t)snprintf(ts->name, sizeof(ts->name), "slack.tokens.%s", process) >=
	    sizeof(ts->name) || !mlc_secrets_name_ok(ts->name) ||
	    mlc_store_dbi(st, "tokens", 0, &ts->dbi, err) != 0) {
		if (ts->name[0] == '\0' || !mlc_secrets_name_ok(ts->name))
			mlc_err_set(err, "token store: bad process name");
		free(ts);
		return -1;
	}
	*tsp = ts;
	return 0;
}

void
slack_tokens_close(struct slack_tokens **tsp)
{
	if (tsp == NULL || *tsp == NULL)
		return;
	free(*tsp);
	*tsp = NULL;
}

static void
wipe_free(char **s)
{
	if (*s != NULL) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

static int
token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > SLACK_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return 0;
	return 1;
}

/* ---- the old LMDB record: expires_at_ms NUL access NUL refresh NUL ---- */

static int
lm_load_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct lm_arg *a = arg;
	MDB_val v;
	const char *p, *end, *acc, *ref;
	int r = mlc_store_get(txn, a->ts->dbi, "pair", 4, &v, err);

	if (r <= 0)
		return r;
	p = v.mv_data;
	end = p + v.mv_size;
	acc = memchr(p, '\0', v.mv_size);
	if (acc == NULL || ++acc >= end)
		return mlc_err_set(err, "token store: damaged LMDB record");
	ref = memchr(acc, '\0', (size_t)(end - acc));
	if (ref == NULL || ++ref >= end || memchr(ref, '\0', (size_t)(end - ref)) == NULL)
		return mlc_err_set(err, "token store: damaged LMDB record");
	a->expires_at_ms = strtoll(p, NULL, 10);
	a->access = strdup(acc);
	a->refresh = strdup(ref);
	if (a->access == NULL || a->refresh == NULL)
		return mlc_err_set(err, "out of memory");
	a->found = 1;
	return 0;
}

static int
lm_del_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct lm_arg *a = arg;

	return mlc_store_del(txn, a->ts->dbi, "pair", 4, err) < 0 ? -1 : 0;
}

struct has_arg {
	const char *name;
	int found;
};

static void
has_entry(const char *name, int64_t updated_ms, void *arg)
{
	struct has_arg *h = arg;

	(void)updated_ms;
	if (strcmp(name, h->name) == 0)
		h->found = 1;
}

/* 1 and the pair from the store, 0 none, -1 error. */
static int
store_load(struct slack_tokens *ts, char **access, char **refresh, int64_t *exp,
    struct mlc_err *err)
{
	struct mlc_secrets *s = NULL;
	char *v, *p, *nl1, *nl2, *nl3;
	size_t len = 0;
	struct has_arg h = { .name = ts->name };

	if (mlc_secrets_open(&s, ts->path, NULL, 1, err) != 0)
		return mlc_err_prefix(err, "slack rotated tokens");
	mlc_secrets_list(s, has_entry, &h);
	if (!h.found) {
		mlc_secrets_close(&s);
		return 0;
	}
	v = mlc_secrets_get(s, ts->name, &len, err);
	mlc_secrets_close(&s);
	if (v == NULL)
		return -1;
	p = v;
	if (strncmp(p, "1\n", 2) != 0 || (nl1 = strchr(p + 2, '\n')) == NULL ||
	    (nl2 = strchr(nl1 + 1, '\n')) == NULL || (nl3 = strchr(nl2 + 1, '\n')) != NULL) {
		mlc_secrets_free_value(v);
		return mlc_err_set(err, "secret '%s' in %s is damaged; remove it with `mlc "
		    "secrets rm %s` to start again from the configured refresh token",
		    ts->name, ts->path, ts->name);
	}
	*nl1 = *nl2 = '\0';
	*exp = strtoll(p + 2, NULL, 10);
	*access = strdup(nl1 + 1);
	*refresh = strdup(nl2 + 1);
	mlc_secrets_free_value(v);
	if (*access == NULL || *refresh == NULL) {
		wipe_free(access);
		wipe_free(refresh);
		return mlc_err_set(err, "out of memory");
	}
	if (!token_ok(*access) || !token_ok(*refresh)) {
		wipe_free(access);
		wipe_free(refresh);
		return mlc_err_set(err, "secret '%s' in %s is damaged (bad token)", ts->name,
		    ts->path);
	}
	return 1;
}

int
slack_tokens_load(struct slack_tokens *ts, char **access, char **refresh,
    int64_t *expires_at_ms, struct mlc_err *err)
{
	struct lm_arg a = { .ts = ts };
	int r;

	*access = *refresh = NULL;
	/* The store first: a wrong master key stops here, LMDB untouched. */
	r = store_load(ts, access, refresh, expires_at_ms, err);
	if (r < 0)
		return -1;
	if (mlc_store_read(ts->st, lm_load_txn, &a, err) != 0) {
		wipe_free(&a.access);
		wipe_free(&a.refresh);
		wipe_free(access);
		wipe_free(refresh);
		return -1;
	}
	if (a.found) {
		/* Left by an older version. An entry already in the store is
		 * newer (this version never writes LMDB). */
		if (r == 0) {
			if (slack_tokens_save(ts, a.access, a.refresh, a.expires_at_ms, err) != 0) {
				wipe_free(&a.access);
				wipe_free(&a.refresh);
				return -1;
			}
			*access = a.access;
			*refresh = a.refresh;
			*expires_at_ms = a.expires_at_ms;
			a.access = a.refresh = NULL;
			r = 1;
		}
		wipe_free(&a.access);
		wipe_free(&a.refresh);
		if (mlc_store_write(ts->st, lm_del_txn, &a, err) != 0) {
			wipe_free(access);
			wipe_free(refresh);
			return -1;
		}
	}
	return r;
}

int
slack_tokens_save(struct slack_tokens *ts, const char *access, const char *refresh,
    int64_t expires_at_ms, struct mlc_err *err)
{
	size_t la = strlen(access), lr = strlen(refresh), cap = la + lr + 32;
	char *buf;
	int n, rc;

	if (!token_ok(access) || !token_ok(refresh))
		return mlc_err_set(err, "token store: a token is empty, longer than %d bytes "
		    "or holds control characters", SLACK_TOKEN_MAX);
	buf = malloc(cap);
	if (buf == NULL)
		return mlc_err_set(err, "out of memory");
	n = snprintf(buf, cap, "1\n%lld\n%s\n%s", (long long)expires_at_ms, access, refresh);
	if (n < 0 || (size_t)n >= cap) {
		free(buf);
		return mlc_err_set(err, "token store: encoding failed");
	}
	rc = mlc_secrets_put_at(ts->path, ts->name, buf, (size_t)n, err);
	if (rc != 0)
		mlc_err_prefix(err, "saving the rotated Slack tokens");
	explicit_bzero(buf, cap);
	free(buf);
	return rc;
}
