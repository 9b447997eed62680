/* Unit tests for the rotated-token stores: poller/token_store (X3 OAuth2
 * refresh token) and dispatcher/slack_tokens (Slack access + refresh pair)
 * keep their tokens only in the encrypted secret store: after a save no
 * file under the state directory holds a token in plaintext; a reopen reads
 * them back; a plain file / LMDB record left by an older version is moved
 * into the store once and removed; a wrong master key fails the load and
 * leaves everything as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlc_cfg.h"
#include "mlc_secrets.h"
#include "mlc_store.h"
#include "slack_tokens.h"
#include "token_store.h"

#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static int
holds(const char *buf, size_t n, const char *s)
{
	size_t k = strlen(s);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(buf + i, s, k) == 0)
			return 1;
	return 0;
}

/* How many files under dir (recursively) contain s. */
static int
files_holding(const char *dir, const char *s)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int hits = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[1024];
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			hits += files_holding(path, s);
		} else if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
			FILE *f = fopen(path, "rb");
			char *buf = malloc((size_t)sb.st_size);
			size_t n = f && buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;

			if (f)
				fclose(f);
			if (holds(buf, n, s)) {
				fprintf(stderr, "plaintext token in %s\n", path);
				hits++;
			}
			free(buf);
		}
	}
	closedir(d);
	return hits;
}

static void
rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[1024];
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void
use_key(const char *hex)
{
	mlc_secrets_forget_master_key();
	unsetenv("MLC_MASTER_KEY_FILE");
	setenv("MLC_MASTER_KEY", hex, 1);
}

static void
make_cfg(struct mlc_cfg *cfg, const char *dir)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", dir);
}

static void
test_x3_tokens_live_encrypted_and_survive_a_reopen(void **state)
{
	char dir[] = "/tmp/mlc-tok-XXXXXX", path[600];
	struct mlc_cfg cfg;
	struct x3_tokens t = { 0 }, u;
	struct mlc_err err;
	struct stat sb;
	int found;

	(void)state;
	use_key(KEY_A);
	assert_non_null(mkdtemp(dir));
	make_cfg(&cfg, dir);
	assert_int_equal(x3_tokens_path(&cfg, path, sizeof(path)), 0);
	assert_int_equal(x3_tokens_load(path, &u, &found, &err), 0);
	assert_int_equal(found, 0);
	t.refresh_token = strdup("x3-refresh-ROTATED-one");
	t.granted_ms = 123456;
	t.refreshed_ms = 234567;
	t.warned = 1;
	assert_int_equal(x3_tokens_save(path, &t, &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(files_holding(dir, "x3-refresh-ROTATED-one"), 0);
	assert_int_equal(files_holding(dir, "ROTATED"), 0);
	assert_int_equal(x3_tokens_load(path, &u, &found, &err), 0);
	assert_int_equal(found, 1);
	assert_string_equal(u.refresh_token, "x3-refresh-ROTATED-one");
	assert_int_equal(u.granted_ms, 123456);
	assert_int_equal(u.refreshed_ms, 234567);
	assert_int_equal(u.warned, 1);
	assert_int_equal(u.rejected, 0);
	x3_tokens_free(&u);
	/* rotation replaces the entry */
	free(t.refresh_token);
	t.refresh_token = strdup("x3-refresh-ROTATED-two");
	t.rejected = 1;
	assert_int_equal(x3_tokens_save(path, &t, &err), 0);
	assert_int_equal(files_holding(dir, "ROTATED"), 0);
	assert_int_equal(x3_tokens_load(path, &u, &found, &err), 0);
	assert_string_equal(u.refresh_token, "x3-refresh-ROTATED-two");
	assert_int_equal(u.rejected, 1);
	x3_tokens_free(&u);
	x3_tokens_free(&t);
	/* another master key: an error naming the store, no token */
	use_key(KEY_B);
	assert_int_equal(x3_tokens_load(path, &u, &found, &err), -1);
	assert_non_null(strstr(err.msg, "master key does not open"));
	assert_null(u.refresh_token);
	rm_tree(dir);
}

static void
test_x3_plain_token_file_is_migrated_once_then_removed(void **state)
{
	char dir[] = "/tmp/mlc-tok-XXXXXX", path[600], legacy[600], sub[600];
	struct mlc_cfg cfg;
	struct x3_tokens u;
	struct mlc_err err;
	int found, migrated;
	FILE *f;

	(void)state;
	use_key(KEY_A);
	assert_non_null(mkdtemp(dir));
	make_cfg(&cfg, dir);
	assert_int_equal(x3_tokens_path(&cfg, path, sizeof(path)), 0);
	assert_int_equal(x3_tokens_legacy_path(&cfg, legacy, sizeof(legacy)), 0);
	snprintf(sub, sizeof(sub), "%s/poller", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	f = fopen(legacy, "w");
	assert_non_null(f);
	fputs("{\"refresh_token\":\"legacy-PLAIN-refresh\",\"granted_at\":77,"
	    "\"refreshed_at\":88,\"warned\":1,\"rejected\":0}\n", f);
	fclose(f);
	assert_int_equal(files_holding(dir, "legacy-PLAIN-refresh"), 1); /* the scan works */
	/* The store exists (with a password, say) under KEY_A. Without a store
	 * any key would do: it would create one. */
	assert_int_equal(mlc_secrets_put_at(path, "x3.password", "pw", 2, &err), 0);
	/* a wrong key: error, the file stays, the store unchanged */
	use_key(KEY_B);
	assert_int_equal(x3_tokens_migrate(legacy, path, &migrated, &err), -1);
	assert_int_equal(access(legacy, F_OK), 0);
	use_key(KEY_A);
	assert_int_equal(x3_tokens_migrate(legacy, path, &migrated, &err), 0);
	assert_int_equal(migrated, 1);
	assert_int_not_equal(access(legacy, F_OK), 0);
	assert_int_equal(files_holding(dir, "legacy-PLAIN-refresh"), 0);
	assert_int_equal(x3_tokens_load(path, &u, &found, &err), 0);
	assert_int_equal(found, 1);
	assert_string_equal(u.refresh_token, "legacy-PLAIN-refresh");
	assert_int_equal(u.granted_ms, 77);
	assert_int_equal(u.refreshed_ms, 88);
	x3_tokens_free(&u);
	/* nothing left to migrate */
	assert_int_equal(x3_tokens_migrate(legacy, path, &migrated, &err), 0);
	assert_int_equal(migrated, 0);
	/* a stale file next to a store entry: removed, the entry wins */
	f = fopen(legacy, "w");
	fputs("{\"refresh_token\":\"stale-PLAIN\"}", f);
	fclose(f);
	assert_int_equal(x3_tokens_migrate(legacy, path, &migrated, &err), 0);
	assert_int_equal(migrated, 1);
	assert_int_not_equal(access(legacy, F_OK), 0);
	assert_int_equal(x3_tokens_load(path, &u, &found, &err), 0);
	assert_string_equal(u.refresh_token, "legacy-PLAIN-refresh");
	x3_tokens_free(&u);
	/* a corrupt file is an error that says what to do, and stays */
	f = fopen(legacy, "w");
	fputs("{not json", f);
	fclose(f);
	assert_int_equal(x3_tokens_migrate(legacy, path, &migrated, &err), -1);
	assert_non_null(strstr(err.msg, "mlc x3 login"));
	rm_tree(dir);
}

struct pair_arg {
	MDB_dbi dbi;
	const char *val;
	size_t len;
};

static int
put_pair(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct pair_arg *a = arg;

	return mlc_store_put(txn, a->dbi, "pair", 4, a->val, a->len, err);
}

static int
get_pair(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct pair_arg *a = arg;
	MDB_val v;
	int r = mlc_store_get(txn, a->dbi, "pair", 4, &v, err);

	a->len = r == 1 ? v.mv_size : 0;
	return r < 0 ? -1 : 0;
}

static void
test_slack_pair_lives_encrypted_and_an_lmdb_pair_is_migrated(void **state)
{
	char dir[] = "/tmp/mlc-tok-XXXXXX", sub[600];
	static const char old[] = "1700000000000\0xoxe.xoxb-OLD-access\0xoxe-1-OLD-refresh";
	struct mlc_cfg cfg;
	struct mlc_store *st = NULL;
	struct slack_tokens *ts = NULL;
	struct pair_arg pa;
	struct mlc_err err;
	char *acc, *ref;
	int64_t exp = 0;

	(void)state;
	use_key(KEY_A);
	assert_non_null(mkdtemp(dir));
	make_cfg(&cfg, dir);
	snprintf(sub, sizeof(sub), "%s/dispatcher-0", dir);
	assert_int_equal(mlc_store_open(&st, sub, 0, &err), 0);
	/* an older version's LMDB record */
	assert_int_equal(mlc_store_dbi(st, "tokens", 0, &pa.dbi, &err), 0);
	pa.val = old;
	pa.len = sizeof(old);
	assert_int_equal(mlc_store_write(st, put_pair, &pa, &err), 0);
	assert_int_equal(slack_tokens_open(&ts, st, &cfg, "dispatcher-0", &err), 0);
	snprintf(sub, sizeof(sub), "%s/secrets.db", dir);
	assert_int_equal(mlc_secrets_put_at(sub, "slack.token", "xoxb-cfg", 8, &err), 0);
	/* wrong key: error, the record stays */
	use_key(KEY_B);
	assert_int_equal(slack_tokens_load(ts, &acc, &ref, &exp, &err), -1);
	assert_non_null(strstr(err.msg, "master key"));
	assert_int_equal(mlc_store_read(st, get_pair, &pa, &err), 0);
	assert_int_equal(pa.len, sizeof(old));
	use_key(KEY_A);
	assert_int_equal(slack_tokens_load(ts, &acc, &ref, &exp, &err), 1);
	assert_string_equal(acc, "xoxe.xoxb-OLD-access");
	assert_string_equal(ref, "xoxe-1-OLD-refresh");
	assert_int_equal(exp, 1700000000000LL);
	free(acc);
	free(ref);
	assert_int_equal(mlc_store_read(st, get_pair, &pa, &err), 0);
	assert_int_equal(pa.len, 0);
	/* a rotation: the new pair is in the store only */
	assert_int_equal(slack_tokens_save(ts, "xoxe.xoxb-NEW-access", "xoxe-1-NEW-refresh",
	    1800000000000LL, &err), 0);
	assert_int_equal(files_holding(dir, "NEW-access"), 0);
	assert_int_equal(files_holding(dir, "NEW-refresh"), 0);
	slack_tokens_close(&ts);
	/* a restart reads it back */
	assert_int_equal(slack_tokens_open(&ts, st, &cfg, "dispatcher-0", &err), 0);
	assert_int_equal(slack_tokens_load(ts, &acc, &ref, &exp, &err), 1);
	assert_string_equal(acc, "xoxe.xoxb-NEW-access");
	assert_string_equal(ref, "xoxe-1-NEW-refresh");
	assert_int_equal(exp, 1800000000000LL);
	free(acc);
	free(ref);
	/* another dispatcher has its own entry */
	{
		struct slack_tokens *t1 = NULL;

		assert_int_equal(slack_tokens_open(&t1, st, &cfg, "dispatcher-1", &err), 0);
		assert_int_equal(slack_tokens_load(t1, &acc, &ref, &exp, &err), 0);
		slack_tokens_close(&t1);
	}
	/* tokens with a newline (the entry's separator) are refused */
	assert_int_equal(slack_tokens_save(ts, "a\nb", "r", 0, &err), -1);
	assert_int_equal(slack_tokens_save(ts, "", "r", 0, &err), -1);
	slack_tokens_close(&ts);
	mlc_store_close(&st);
	rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x3_tokens_live_encrypted_and_survive_a_reopen),
		cmocka_unit_test(test_x3_plain_token_file_is_migrated_once_then_removed),
		cmocka_unit_test(test_slack_pair_lives_encrypted_and_an_lmdb_pair_is_migrated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
