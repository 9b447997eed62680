/* slack_tokens: see slack_tokens.h. One LMDB record "pair":
 * expires_at_ms (decimal) NUL access NUL refresh. */
#include "slack_tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX 4096

struct slack_tokens {
	struct mlc_store *st;
	MDB_dbi dbi;
};

struct ts_arg {
	struct slack_tokens *ts;
	const char *access, *refresh;
	int64_t expires_at_ms;
	char *out_access, *out_refresh;
	int found;
};

int
slack_tokens_open(struct slack_tokens **tsp, struct mlc_store *st, struct mlc_err *err)
{
	struct slack_tokens *ts = calloc(1, sizeof(*ts));

	if (ts == NULL)
		return mlc_err_set(err, "out of memory");
	ts->st = st;
	if (mlc_store_dbi(st, "tokens", 0, &ts->dbi, err) != 0) {
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

static int
load_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct ts_arg *a = arg;
	MDB_val v;
	const char *p, *end, *acc, *ref;
	int r = mlc_store_get(txn, a->ts->dbi, "pair", 4, &v, err);

	if (r <= 0)
		return r;
	p = v.mv_data;
	end = p + v.mv_size;
	acc = memchr(p, '\0', v.mv_size);
	if (acc == NULL || ++acc >= end)
		return mlc_err_set(err, "token store: damaged record");
	ref = memchr(acc, '\0', (size_t)(end - acc));
	if (ref == NULL || ++ref >= end || memchr(ref, '\0', (size_t)(end - ref)) == NULL)
		return mlc_err_set(err, "token store: damaged record");
	a->expires_at_ms = strtoll(p, NULL, 10);
	a->out_access = strdup(acc);
	a->out_refresh = strdup(ref);
	if (a->out_access == NULL || a->out_refresh == NULL)
		return mlc_err_set(err, "out of memory");
	a->found = 1;
	return 0;
}

int
slack_tokens_load(struct slack_tokens *ts, char **access, char **refresh,
    int64_t *expires_at_ms, struct mlc_err *err)
{
	struct ts_arg a = { .ts = ts };

	*access = *refresh = NULL;
	if (mlc_store_read(ts->st, load_txn, &a, err) != 0) {
		free(a.out_access);
		free(a.out_refresh);
		return -1;
	}
	if (!a.found)
		return 0;
	*access = a.out_access;
	*refresh = a.out_refresh;
	*expires_at_ms = a.expires_at_ms;
	return 1;
}

static int
save_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct ts_arg *a = arg;
	size_t la = strlen(a->access), lr = strlen(a->refresh);
	char head[32];
	size_t lh = (size_t)snprintf(head, sizeof(head), "%lld", (long long)a->expires_at_ms);
	char *buf = malloc(lh + la + lr + 3);
	int rc;

	if (buf == NULL)
		return mlc_err_set(err, "out of memory");
	memcpy(buf, head, lh + 1);
	memcpy(buf + lh + 1, a->access, la + 1);
	memcpy(buf + lh + la + 2, a->refresh, lr + 1);
	rc = mlc_store_put(txn, a->ts->dbi, "pair", 4, buf, lh + la + lr + 3, err);
	explicit_bzero(buf, lh + la + lr + 3);
	free(buf);
	return rc;
}

int
slack_tokens_save(struct slack_tokens *ts, const char *access, const char *refresh,
    int64_t expires_at_ms, struct mlc_err *err)
{
	struct ts_arg a = { .ts = ts, .access = access, .refresh = refresh,
		.expires_at_ms = expires_at_ms };

	if (strlen(access) > TOKEN_MAX || strlen(refresh) > TOKEN_MAX)
		return mlc_err_set(err, "token store: token longer than %d bytes", TOKEN_MAX);
	return mlc_store_write(ts->st, save_txn, &a, err);
}
