/* Unit tests for poller/x3_jwt: HS256 connected-app tokens, checked by
 * recomputing the signature with OpenSSL, and reading `exp`. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "x3_jwt.h"

static const unsigned char secret[] = "app-secret-0123456789";

static json_t *
part(const char *tok, int idx)
{
	const char *s = tok, *e;
	unsigned char *raw;
	size_t n;
	json_t *j;

	for (int i = 0; i < idx; i++)
		s = strchr(s, '.') + 1;
	e = strchr(s, '.');
	raw = x3_b64url_decode(s, e ? (size_t)(e - s) : strlen(s), &n);
	assert_non_null(raw);
	j = json_loadb((const char *)raw, n, 0, NULL);
	free(raw);
	assert_non_null(j);
	return j;
}

static void
test_hs256_token_verifies_with_openssl_and_has_the_claims(void **state)
{
	struct mlc_err err;
	char *tok = x3_jwt_hs256("client-1", "ADMIN", "x3-aud", 1700000000 - 30,
	    1700000000 + 30, secret, sizeof(secret) - 1, &err);
	const char *d2;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen;
	unsigned char *sig;
	size_t siglen;
	json_t *h, *p;

	(void)state;
	assert_non_null(tok);
	d2 = strrchr(tok, '.');
	assert_non_null(HMAC(EVP_sha256(), secret, sizeof(secret) - 1,
	    (const unsigned char *)tok, (size_t)(d2 - tok), mac, &maclen));
	sig = x3_b64url_decode(d2 + 1, strlen(d2 + 1), &siglen);
	assert_non_null(sig);
	assert_int_equal(siglen, maclen);
	assert_int_equal(CRYPTO_memcmp(sig, mac, maclen), 0);
	/* the wrong secret does not verify */
	assert_non_null(HMAC(EVP_sha256(), "other", 5, (const unsigned char *)tok,
	    (size_t)(d2 - tok), mac, &maclen));
	assert_int_not_equal(CRYPTO_memcmp(sig, mac, maclen), 0);
	h = part(tok, 0);
	p = part(tok, 1);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "HS256");
	assert_string_equal(json_string_value(json_object_get(p, "iss")), "client-1");
	assert_string_equal(json_string_value(json_object_get(p, "sub")), "ADMIN");
	assert_string_equal(json_string_value(json_object_get(p, "aud")), "x3-aud");
	assert_int_equal(json_integer_value(json_object_get(p, "iat")), 1700000000 - 30);
	assert_int_equal(json_integer_value(json_object_get(p, "exp")), 1700000000 + 30);
	/* no padding, URL-safe alphabet */
	assert_null(strchr(tok, '='));
	assert_null(strchr(tok, '+'));
	assert_null(strchr(tok, '/'));
	json_decref(h);
	json_decref(p);
	free(sig);
	free(tok);
}

static void
test_exp_is_read_from_a_token_and_garbage_is_refused(void **state)
{
	struct mlc_err err;
	char *tok = x3_jwt_hs256("a", "b", "c", 100, 400, secret, 4, &err);
	int64_t exp = 0;

	(void)state;
	assert_int_equal(x3_jwt_exp(tok, &exp), 0);
	assert_int_equal(exp, 400);
	assert_int_equal(x3_jwt_exp("not-a-jwt", &exp), -1);
	assert_int_equal(x3_jwt_exp("a.!!!.c", &exp), -1);
	assert_int_equal(x3_jwt_exp("a.eyJ4IjoxfQ.c", &exp), -1); /* {"x":1}: no exp */
	free(tok);
}

static void
test_base64url_round_trips_every_length(void **state)
{
	unsigned char in[64];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 250);
	for (size_t n = 0; n <= sizeof(in); n++) {
		char *e = x3_b64url_encode(in, n);
		size_t m;
		unsigned char *d = x3_b64url_decode(e, strlen(e), &m);

		assert_non_null(d);
		assert_int_equal(m, n);
		assert_memory_equal(d, in, n);
		free(e);
		free(d);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hs256_token_verifies_with_openssl_and_has_the_claims),
		cmocka_unit_test(test_exp_is_read_from_a_token_and_garbage_is_refused),
		cmocka_unit_test(test_base64url_round_trips_every_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
