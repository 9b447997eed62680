/*
 * test_x3sim_jwt: the X3 simulator's base64url, HS256 JWT signing and
 * verification, and the connected-app claim rules, in isolation.
 *
 * Unit tests link only the libraries, so the module is compiled in here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../sim/x3sim/jwt.c"

static const unsigned char KEY[] = "app-secret-for-tests";
#define KEYLEN (sizeof(KEY) - 1)
#define NOW 1714521600LL

static void
test_b64url_matches_rfc4648_vectors_without_padding(void **state)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
		{ "\xfb\xff", "-_8" },
	};
	char out[32];
	unsigned char back[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].in);
		long m;

		x3_b64url_encode((const unsigned char *)v[i].in, n, out);
		assert_string_equal(out, v[i].out);
		m = x3_b64url_decode(out, strlen(out), back, sizeof(back));
		assert_int_equal(m, (long)n);
		assert_memory_equal(back, v[i].in, n);
	}
}

static void
test_b64url_decode_rejects_padding_bad_bytes_and_noncanonical(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(x3_b64url_decode("Zg==", 4, out, sizeof(out)), -1);
	assert_int_equal(x3_b64url_decode("Zm+v", 4, out, sizeof(out)), -1); /* std alphabet */
	assert_int_equal(x3_b64url_decode("Z", 1, out, sizeof(out)), -1);
	assert_int_equal(x3_b64url_decode("Zh", 2, out, sizeof(out)), -1);   /* low bits set */
	assert_int_equal(x3_b64url_decode("Zm9vYmFy", 8, out, 5), -1);       /* too small */
}

static char *
sign(const char *claims_json, const unsigned char *key, size_t keylen)
{
	json_t *c = json_loads(claims_json, 0, NULL);
	char *t;

	assert_non_null(c);
	t = x3_jwt_sign(c, key, keylen);
	json_decref(c);
	assert_non_null(t);
	return t;
}

static void
test_sign_then_verify_returns_the_claims(void **state)
{
	char *t = sign("{\"sub\":\"admin\",\"exp\":123}", KEY, KEYLEN);
	json_t *claims = NULL;
	struct mlc_err err;
	int64_t exp;

	(void)state;
	/* header {"alg":"HS256","typ":"JWT"} */
	assert_int_equal(strncmp(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37), 0);
	assert_int_equal(x3_jwt_verify(t, KEY, KEYLEN, &claims, &err), 0);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")), "admin");
	assert_int_equal(x3_jwt_claim_int(claims, "exp", &exp), 0);
	assert_int_equal(exp, 123);
	assert_int_equal(x3_jwt_claim_int(claims, "sub", &exp), -1);
	json_decref(claims);
	free(t);
}

static void
test_verify_rejects_wrong_key_tampering_and_alg_none(void **state)
{
	char *t = sign("{\"sub\":\"admin\"}", KEY, KEYLEN), *dot, buf[512];
	json_t *claims = NULL;
	struct mlc_err err = { { 0 } };
	char none[256], payload[64];

	(void)state;
	assert_int_equal(x3_jwt_verify(t, (const unsigned char *)"other", 5, &claims, &err), -1);
	assert_null(claims);
	assert_non_null(strstr(err.msg, "signature"));

	/* flip one payload character */
	snprintf(buf, sizeof(buf), "%s", t);
	dot = strchr(buf, '.');
	dot[2] = dot[2] == 'A' ? 'B' : 'A';
	assert_int_equal(x3_jwt_verify(buf, KEY, KEYLEN, &claims, &err), -1);

	/* alg none with an empty signature, and with the real signature */
	x3_b64url_encode((const unsigned char *)"{\"sub\":\"admin\"}", 15, payload);
	snprintf(none, sizeof(none), "eyJhbGciOiJub25lIn0.%s.", payload);
	assert_int_equal(x3_jwt_verify(none, KEY, KEYLEN, &claims, &err), -1);
	snprintf(none, sizeof(none), "eyJhbGciOiJub25lIn0.%s", strchr(t, '.') + 1);
	assert_int_equal(x3_jwt_verify(none, KEY, KEYLEN, &claims, &err), -1);
	assert_non_null(strstr(err.msg, "HS256"));

	assert_int_equal(x3_jwt_verify("a.b", KEY, KEYLEN, &claims, &err), -1);
	assert_int_equal(x3_jwt_verify("a.b.c.d", KEY, KEYLEN, &claims, &err), -1);
	assert_int_equal(x3_jwt_verify("", KEY, KEYLEN, &claims, &err), -1);
	assert_null(claims);
	free(t);
}

static void
test_verify_rejects_non_object_payload_and_overlong_token(void **state)
{
	json_t *arr = json_pack("[i]", 1), *claims = NULL;
	char *t = x3_jwt_sign(arr, KEY, KEYLEN), *big;
	struct mlc_err err;

	(void)state;
	assert_non_null(t);
	assert_int_equal(x3_jwt_verify(t, KEY, KEYLEN, &claims, &err), -1);
	assert_non_null(strstr(err.msg, "object"));
	big = malloc(X3_JWT_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', X3_JWT_MAX + 1);
	big[X3_JWT_MAX + 1] = '\0';
	assert_int_equal(x3_jwt_verify(big, KEY, KEYLEN, &claims, &err), -1);
	free(big);
	free(t);
	json_decref(arr);
}

/* Checks claims text against the app rules (iss app, sub admin, aud x3,
 * max validity 300 s) at NOW. */
static int
app_ok(const char *claims_json, const char *mention)
{
	json_t *c = json_loads(claims_json, 0, NULL);
	struct mlc_err err = { { 0 } };
	int rc;

	assert_non_null(c);
	rc = x3_jwt_check_app(c, "app", "admin", "x3", NOW, 300, &err);
	json_decref(c);
	if (rc != 0 && mention != NULL && strstr(err.msg, mention) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, mention);
	return rc == 0;
}

static void
test_app_claims_accept_valid_and_audience_array(void **state)
{
	(void)state;
	assert_true(app_ok("{\"iss\":\"app\",\"sub\":\"admin\",\"aud\":\"x3\","
	    "\"iat\":1714521590,\"exp\":1714521650}", NULL));
	assert_true(app_ok("{\"iss\":\"app\",\"sub\":\"admin\",\"aud\":[\"other\",\"x3\"],"
	    "\"iat\":1714521600,\"exp\":1714521900}", NULL)); /* exactly 300 s */
}

static void
test_app_claims_reject_each_rule(void **state)
{
	(void)state;
	assert_false(app_ok("{\"iss\":\"evil\",\"sub\":\"admin\",\"aud\":\"x3\","
	    "\"iat\":1714521590,\"exp\":1714521650}", "iss"));
	assert_false(app_ok("{\"iss\":\"app\",\"sub\":\"root\",\"aud\":\"x3\","
	    "\"iat\":1714521590,\"exp\":1714521650}", "sub"));
	assert_false(app_ok("{\"iss\":\"app\",\"sub\":\"admin\",\"aud\":\"y\","
	    "\"iat\":1714521590,\"exp\":1714521650}", "aud"));
	assert_false(app_ok("{\"iss\":\"app\",\"sub\":\"admin\","
	    "\"iat\":1714521590,\"exp\":1714521650}", "aud"));
	/* iat one second in the future: no skew is tolerated */
	assert_false(app_ok("{\"iss\":\"app\",\"sub\":\"admin\",\"aud\":\"x3\","
	    "\"iat\":1714521601,\"exp\":1714521650}", "future"));
	/* exp == now is expired */
	assert_false(app_ok("{\"iss\":\"app\",\"sub\":\"admin\",\"aud\":\"x3\","
	    "\"iat\":1714521500,\"exp\":1714521600}", "expired"));
	/* 301 s of validity > 300 */
	assert_false(app_ok("{\"iss\":\"app\",\"sub\":\"admin\",\"aud\":\"x3\","
	    "\"iat\":1714521599,\"exp\":1714521900}", "validity"));
	assert_false(app_ok("{\"iss\":\"app\",\"sub\":\"admin\",\"aud\":\"x3\","
	    "\"iat\":\"1714521590\",\"exp\":1714521650}", "integers"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url_matches_rfc4648_vectors_without_padding),
		cmocka_unit_test(test_b64url_decode_rejects_padding_bad_bytes_and_noncanonical),
		cmocka_unit_test(test_sign_then_verify_returns_the_claims),
		cmocka_unit_test(test_verify_rejects_wrong_key_tampering_and_alg_none),
		cmocka_unit_test(test_verify_rejects_non_object_payload_and_overlong_token),
		cmocka_unit_test(test_app_claims_accept_valid_and_audience_array),
		cmocka_unit_test(test_app_claims_reject_each_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
