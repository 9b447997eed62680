/* Unit tests for the encrypted secret store (common/mlc_secrets.c) and the
 * config's `*_secret` keys resolved by mlc_cfg_secret(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlc_cfg.h"
#include "mlc_secrets.h"

static char g_dir[] = "/tmp/mlc-test-secrets-XXXXXX";
static char g_store[256];
static const unsigned char key_a[32] = "0123456789abcdef0123456789abcde";
static const unsigned char key_b[32] = "Z123456789abcdef0123456789abcde";

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(1 << 20);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 1 << 20, f);
	fclose(f);
	*len = n;
	return buf;
}

static void
spit(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static int
has_bytes(const unsigned char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return 1;
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/mlc-test-secrets-XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	snprintf(g_store, sizeof(g_store), "%s/secrets.db", g_dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	assert_int_equal(system(cmd), 0);
	unsetenv("MLC_MASTER_KEY");
	unsetenv("MLC_MASTER_KEY_FILE");
	mlc_secrets_forget_master_key();
	return 0;
}

static void
put(const unsigned char *key, const char *name, const char *value)
{
	struct mlc_secrets *s = NULL;
	struct mlc_err err;

	if (mlc_secrets_open(&s, g_store, key, 1, &err) != 0)
		fail_msg("open: %s", err.msg);
	if (mlc_secrets_put(s, name, value, strlen(value), &err) != 0)
		fail_msg("put: %s", err.msg);
	mlc_secrets_close(&s);
	assert_null(s);
}

static void
test_store_round_trips_and_file_holds_no_plaintext(void **state)
{
	struct mlc_secrets *s = NULL;
	struct mlc_err err;
	unsigned char *buf;
	size_t len, vlen = 0;
	struct stat st;
	char *v;

	(void)state;
	put(key_a, "slack.token", "xoxb-PLAINTEXT-TOKEN-1234");
	put(key_a, "x3.password", "hunter2-PASSWORD");
	buf = slurp(g_store, &len);
	assert_false(has_bytes(buf, len, "PLAINTEXT-TOKEN"));
	assert_false(has_bytes(buf, len, "hunter2"));
	assert_false(has_bytes(buf, len, "key check"));
	free(buf);
	assert_int_equal(stat(g_store, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(mlc_secrets_open(&s, g_store, key_a, 0, &err), 0);
	v = mlc_secrets_get(s, "slack.token", &vlen, &err);
	assert_non_null(v);
	assert_string_equal(v, "xoxb-PLAINTEXT-TOKEN-1234");
	assert_int_equal(vlen, strlen(v));
	mlc_secrets_free_value(v);
	assert_null(mlc_secrets_get(s, "nope", NULL, &err));
	assert_non_null(strstr(err.msg, "mlc secrets set nope"));
	mlc_secrets_close(&s);
}

static void
test_wrong_key_fails_open_and_leaves_store_unchanged(void **state)
{
	struct mlc_secrets *s = NULL;
	struct mlc_err err;
	unsigned char *before, *after;
	size_t lb, la;

	(void)state;
	put(key_a, "slack.token", "xoxb-1");
	before = slurp(g_store, &lb);
	assert_int_equal(mlc_secrets_open(&s, g_store, key_b, 1, &err), -1);
	assert_null(s);
	assert_non_null(strstr(err.msg, "master key does not open"));
	assert_non_null(strstr(err.msg, g_store));
	after = slurp(g_store, &la);
	assert_int_equal(la, lb);
	assert_memory_equal(before, after, lb);
	free(before);
	free(after);
}

static void
test_every_single_byte_change_is_detected(void **state)
{
	struct mlc_secrets *s = NULL;
	struct mlc_err err;
	unsigned char *orig;
	size_t len;

	(void)state;
	put(key_a, "a", "value-a");
	put(key_a, "b", "value-b");
	orig = slurp(g_store, &len);
	for (size_t i = 0; i < len; i++) {
		orig[i] ^= 0x01;
		spit(g_store, orig, len);
		if (mlc_secrets_open(&s, g_store, key_a, 0, &err) == 0)
			fail_msg("byte %zu of %zu changed, store still opened", i, len);
		assert_true(err.msg[0] != '\0');
		orig[i] ^= 0x01;
	}
	/* Truncated (an entry cut off) and extended files are refused too. */
	spit(g_store, orig, len - 1);
	assert_int_equal(mlc_secrets_open(&s, g_store, key_a, 0, &err), -1);
	spit(g_store, orig, len);
	assert_int_equal(mlc_secrets_open(&s, g_store, key_a, 0, &err), 0);
	mlc_secrets_close(&s);
	free(orig);
}

static void
test_old_copy_of_an_entry_is_detected(void **state)
{
	struct mlc_secrets *s = NULL;
	struct mlc_err err;
	unsigned char *v1, *v2;
	size_t l1, l2;

	(void)state;
	/* A rotated token: put back the old version's bytes of the entry into
	 * the new file (same length, different nonce) -> whole-file MAC fails. */
	put(key_a, "tok", "version-1");
	v1 = slurp(g_store, &l1);
	put(key_a, "tok", "version-2");
	v2 = slurp(g_store, &l2);
	assert_int_equal(l1, l2);
	assert_memory_not_equal(v1, v2, l1);    /* fresh nonces: new bytes */
	/* Splice: new header/check record, old "tok" entry, new MAC. The
	 * entry is the last one: its bytes are before the final 32-byte MAC. */
	{
		size_t entry = 1 + 3 + 8 + 12 + 4 + 9 + 16;

		memcpy(v2 + l2 - 32 - entry, v1 + l1 - 32 - entry, entry);
		spit(g_store, v2, l2);
		assert_int_equal(mlc_secrets_open(&s, g_store, key_a, 0, &err), -1);
		assert_non_null(strstr(err.msg, "integrity"));
	}
	free(v1);
	free(v2);
}

static void
test_names_values_and_missing_store_are_checked(void **state)
{
	struct mlc_secrets *s = NULL;
	struct mlc_err err;
	char *big;

	(void)state;
	assert_int_equal(mlc_secrets_open(&s, g_store, key_a, 0, &err), -1);
	assert_non_null(strstr(err.msg, "no secret store at"));
	assert_int_equal(mlc_secrets_open(&s, g_store, key_a, 1, &err), 0);
	assert_int_equal(mlc_secrets_put(s, "bad name", "v", 1, &err), -1);
	assert_int_equal(mlc_secrets_put(s, "", "v", 1, &err), -1);
	assert_int_equal(mlc_secrets_put(s, "n", "", 0, &err), -1);
	assert_int_equal(mlc_secrets_put(s, "n", "a\0b", 3, &err), -1);
	assert_non_null(strstr(err.msg, "NUL"));
	big = calloc(1, MLC_SECRETS_VALUE_MAX + 1);
	memset(big, 'x', MLC_SECRETS_VALUE_MAX + 1);
	assert_int_equal(mlc_secrets_put(s, "n", big, MLC_SECRETS_VALUE_MAX + 1, &err), -1);
	assert_non_null(strstr(err.msg, "limit"));
	assert_int_equal(mlc_secrets_put(s, "n", big, MLC_SECRETS_VALUE_MAX, &err), 0);
	free(big);
	assert_int_equal(mlc_secrets_rm(s, "n", &err), 0);
	assert_int_equal(mlc_secrets_rm(s, "n", &err), 1);
	mlc_secrets_close(&s);
}

static void
count_entry(const char *name, int64_t updated, void *arg)
{
	(void)name;
	assert_true(updated > 0);
	(*(int *)arg)++;
}

static void
test_two_writers_of_different_names_keep_both(void **state)
{
	struct mlc_secrets *a = NULL, *b = NULL, *c = NULL;
	struct mlc_err err;
	int n = 0;
	char *v;

	(void)state;
	/* The poller and a dispatcher both hold the store open and each
	 * rewrites its own rotated token. */
	assert_int_equal(mlc_secrets_open(&a, g_store, key_a, 1, &err), 0);
	assert_int_equal(mlc_secrets_open(&b, g_store, key_a, 1, &err), 0);
	assert_int_equal(mlc_secrets_put(a, "x3.refresh_token", "r1", 2, &err), 0);
	assert_int_equal(mlc_secrets_put(b, "slack.token", "s1", 2, &err), 0);
	assert_int_equal(mlc_secrets_open(&c, g_store, key_a, 0, &err), 0);
	mlc_secrets_list(c, count_entry, &n);
	assert_int_equal(n, 2);
	v = mlc_secrets_get(c, "x3.refresh_token", NULL, &err);
	assert_string_equal(v, "r1");
	mlc_secrets_free_value(v);
	mlc_secrets_close(&a);
	mlc_secrets_close(&b);
	mlc_secrets_close(&c);
}

static void
test_master_key_from_env_hex_base64_raw_file(void **state)
{
	unsigned char k[32];
	struct mlc_err err;
	char path[300];

	(void)state;
	mlc_secrets_forget_master_key();
	unsetenv("MLC_MASTER_KEY");
	unsetenv("MLC_MASTER_KEY_FILE");
	assert_int_equal(mlc_secrets_master_key(k, &err), -1);
	assert_non_null(strstr(err.msg, "no master key: set MLC_MASTER_KEY_FILE"));

	setenv("MLC_MASTER_KEY", "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF", 1);
	assert_int_equal(mlc_secrets_master_key(k, &err), 0);
	assert_int_equal(k[0], 0x00);
	assert_int_equal(k[31], 0xff);
	/* The text was wiped from the environment once read. */
	assert_null(strstr(getenv("MLC_MASTER_KEY") ? getenv("MLC_MASTER_KEY") : "",
	    "0011"));
	mlc_secrets_forget_master_key();

	/* base64 of 32 bytes 0x41 ('A') */
	setenv("MLC_MASTER_KEY", "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=", 1);
	assert_int_equal(mlc_secrets_master_key(k, &err), 0);
	assert_int_equal(k[0], 'A');
	assert_int_equal(k[31], 'A');
	mlc_secrets_forget_master_key();

	setenv("MLC_MASTER_KEY", "short-and-wrong", 1);
	assert_int_equal(mlc_secrets_master_key(k, &err), -1);
	assert_non_null(strstr(err.msg, "MLC_MASTER_KEY: must be 64 hex"));
	assert_null(strstr(err.msg, "short-and-wrong"));
	unsetenv("MLC_MASTER_KEY");

	snprintf(path, sizeof(path), "%s/raw.key", g_dir);
	spit(path, key_b, 32);
	setenv("MLC_MASTER_KEY_FILE", path, 1);
	assert_int_equal(mlc_secrets_master_key(k, &err), 0);
	assert_memory_equal(k, key_b, 32);
	mlc_secrets_forget_master_key();

	spit(path, "0123\n", 5);
	assert_int_equal(mlc_secrets_master_key(k, &err), -1);
	assert_non_null(strstr(err.msg, "must hold 32 raw bytes or 64 hex"));

	setenv("MLC_MASTER_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
	assert_int_equal(mlc_secrets_master_key(k, &err), -1);
	assert_non_null(strstr(err.msg, "set only one"));
}

static const char cfg_head[] =
    "state_dir: %s\n"
    "endpoints:\n"
    "  poller_ack: inproc://a\n  formatter_in: inproc://b\n  formatter_ack: inproc://c\n"
    "  dispatchers:\n    - in: inproc://d\n      ack: inproc://e\n"
    "  auditor_in: inproc://f\n  auditor_pub: inproc://g\n"
    "x3:\n  url: http://127.0.0.1:8124\n  folder: SEED\n  user: admin\n"
    "%s"
    "  entities:\n    - name: purchase_order\n      class: PORDER\n      key: POHNUM\n"
    "slack:\n%s"
    "routes:\n  - name: po\n    entity: purchase_order\n    channel: \"#procure\"\n"
    "%s";

static int
load_cfg(struct mlc_cfg *cfg, const char *x3, const char *slack, const char *tail,
    struct mlc_err *err)
{
	char yaml[4096];
	int n = snprintf(yaml, sizeof(yaml), cfg_head, g_dir, x3, slack, tail);

	return mlc_cfg_load_string(cfg, yaml, (size_t)n, "t.yaml", err);
}

static void
test_cfg_secret_keys_read_the_store_before_env_and_file(void **state)
{
	static struct mlc_cfg cfg;
	struct mlc_err err;
	char hex[65], *v;

	(void)state;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key_a[i]);
	setenv("MLC_MASTER_KEY", hex, 1);
	put(key_a, "x3.password", "pw-from-store");
	put(key_a, "slack-bot", "xoxb-from-store");
	setenv("MLC_TEST_X3_PW", "pw-from-env", 1);
	if (load_cfg(&cfg, "  password_secret: x3.password\n  password_env: MLC_TEST_X3_PW\n",
	    "  token_secret: slack-bot\n", "", &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(mlc_secrets_is_ref(cfg.x3.password_file));
	v = mlc_cfg_secret(cfg.x3.password_env, cfg.x3.password_file, "x3.password", &err);
	if (v == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(v, "pw-from-store");
	mlc_secrets_free_value(v);
	v = mlc_cfg_secret(cfg.slack.token_env, cfg.slack.token_file, "slack.token", &err);
	assert_non_null(v);
	assert_string_equal(v, "xoxb-from-store");
	free(v);

	/* secrets.store moves the store; a name not in it fails with advice. */
	if (load_cfg(&cfg, "  password_secret: nope\n", "  token_secret: slack-bot\n",
	    "secrets:\n  store: /nonexistent/dir/s.db\n", &err) != 0)
		fail_msg("%s", err.msg);
	assert_non_null(strstr(cfg.x3.password_file, "@/nonexistent/dir/s.db"));
	assert_null(mlc_cfg_secret(cfg.x3.password_env, cfg.x3.password_file,
	    "x3.password", &err));
	assert_non_null(strstr(err.msg, "x3.password: no secret store at /nonexistent"));
	unsetenv("MLC_TEST_X3_PW");
}

static void
test_cfg_wrong_master_key_fails_when_the_secret_is_read(void **state)
{
	static struct mlc_cfg cfg;
	struct mlc_err err;
	char hex[65];

	(void)state;
	put(key_a, "x3.password", "pw");
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key_b[i]);
	mlc_secrets_forget_master_key();
	setenv("MLC_MASTER_KEY", hex, 1);
	assert_int_equal(load_cfg(&cfg, "  password_secret: x3.password\n",
	    "  token_env: T\n", "", &err), 0);
	assert_null(mlc_cfg_secret(cfg.x3.password_env, cfg.x3.password_file,
	    "x3.password", &err));
	assert_non_null(strstr(err.msg, "x3.password: the master key does not open"));
	mlc_secrets_forget_master_key();
	unsetenv("MLC_MASTER_KEY");
	assert_null(mlc_cfg_secret(cfg.x3.password_env, cfg.x3.password_file,
	    "x3.password", &err));
	assert_non_null(strstr(err.msg, "no master key"));
}

static void
test_cfg_refuses_bad_secret_names_and_plain_secrets(void **state)
{
	static struct mlc_cfg cfg;
	struct mlc_err err;

	(void)state;
	assert_int_equal(load_cfg(&cfg, "  password_secret: \"hunter2 !!\"\n",
	    "  token_env: T\n", "", &err), -1);
	assert_non_null(strstr(err.msg, "x3.password_secret"));
	assert_null(strstr(err.msg, "hunter2"));
	assert_int_equal(load_cfg(&cfg, "  password_secret: a\n  password_file: /x\n",
	    "  token_env: T\n", "", &err), -1);
	assert_int_equal(load_cfg(&cfg, "  password_env: P\n",
	    "  token_env: T\n  bot_secret: x\n", "", &err), -1);
	assert_non_null(strstr(err.msg, "unknown key 'slack.bot_secret'"));
	assert_int_equal(load_cfg(&cfg, "  password: hunter2\n", "  token_env: T\n", "",
	    &err), -1);
	assert_non_null(strstr(err.msg, "secrets are not accepted in the config"));
	assert_null(strstr(err.msg, "hunter2"));
	assert_int_equal(load_cfg(&cfg, "  password_env: P\n",
	    "  token_env: T\n  refresh_token: xoxe-1\n", "", &err), -1);
	assert_null(strstr(err.msg, "xoxe"));
}

static void
test_env_FILE_variable_names_a_file_for_containers(void **state)
{
	struct mlc_err err;
	char path[300], *v;

	(void)state;
	snprintf(path, sizeof(path), "%s/tok", g_dir);
	spit(path, "xoxb-from-file\n", 15);
	unsetenv("MLC_TEST_TOK");
	setenv("MLC_TEST_TOK_FILE", path, 1);
	v = mlc_cfg_secret("MLC_TEST_TOK", NULL, "slack.token", &err);
	if (v == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(v, "xoxb-from-file");
	free(v);
	setenv("MLC_TEST_TOK", "xoxb-from-env", 1);
	v = mlc_cfg_secret("MLC_TEST_TOK", NULL, "slack.token", &err);
	assert_string_equal(v, "xoxb-from-env");
	free(v);
	unsetenv("MLC_TEST_TOK");
	unsetenv("MLC_TEST_TOK_FILE");
}

static void
test_put_ref_rewrites_a_rotated_token(void **state)
{
	struct mlc_err err;
	char ref[400], *v;

	(void)state;
	mlc_secrets_forget_master_key();
	setenv("MLC_MASTER_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
	snprintf(ref, sizeof(ref), "mlc-secret:slack.refresh@%s", g_store);
	assert_int_equal(mlc_secrets_put_ref(ref, "xoxe-1", 6, &err), 0);
	assert_int_equal(mlc_secrets_put_ref(ref, "xoxe-2", 6, &err), 0);
	v = mlc_secrets_get_ref(ref, "slack.refresh_token", &err);
	assert_non_null(v);
	assert_string_equal(v, "xoxe-2");
	mlc_secrets_free_value(v);
	assert_int_equal(mlc_secrets_put_ref("not-a-ref", "x", 1, &err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_round_trips_and_file_holds_no_plaintext, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key_fails_open_and_leaves_store_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_single_byte_change_is_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_copy_of_an_entry_is_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_values_and_missing_store_are_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_writers_of_different_names_keep_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_key_from_env_hex_base64_raw_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfg_secret_keys_read_the_store_before_env_and_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfg_wrong_master_key_fails_when_the_secret_is_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfg_refuses_bad_secret_names_and_plain_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_FILE_variable_names_a_file_for_containers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_ref_rewrites_a_rotated_token, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
