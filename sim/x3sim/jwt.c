/*
 * jwt.c: HS256 JSON Web Tokens, as the X3 cloud gateway issues them and as
 * an on-premise connected application signs them (reference section 3).
 *
 * Only what x3sim needs: base64url without padding, HMAC-SHA256 through
 * OpenSSL, a strict parser (three parts, header alg exactly "HS256", a
 * constant-time signature compare, a JSON-object payload) and the
 * connected-app claim rules. No I/O and no global state, so
 * tests/unit/test_x3sim_jwt.c includes this file directly.
 */
#include "x3sim.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
x3_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long
x3_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outsz)
{
	size_t o = 0, i;
	uint32_t acc = 0;
	int bits = 0;

	/* A lone trailing character carries 6 bits: no byte can end there. */
	if (n % 4 == 1)
		return -1;
	if ((n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0) > outsz)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64val(in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Canonical form only: the unused low bits must be zero. */
	if (acc != 0)
		return -1;
	return (long)o;
}

static int
hmac256(const unsigned char *key, size_t keylen, const char *data, size_t n,
    unsigned char mac[32])
{
	unsigned int maclen = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, n,
	    mac, &maclen) == NULL || maclen != 32)
		return -1;
	return 0;
}

char *
x3_jwt_sign(const json_t *claims, const unsigned char *key, size_t keylen)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char *payload = json_dumps(claims, JSON_COMPACT), *tok = NULL;
	unsigned char mac[32];
	size_t plen, n;

	if (payload == NULL)
		return NULL;
	plen = strlen(payload);
	if (plen > X3_JWT_MAX)
		goto out;
	tok = malloc(4 * (sizeof(hdr) + plen + 32) / 3 + 16);
	if (tok == NULL)
		goto out;
	n = x3_b64url_encode((const unsigned char *)hdr, sizeof(hdr) - 1, tok);
	tok[n++] = '.';
	n += x3_b64url_encode((const unsigned char *)payload, plen, tok + n);
	if (hmac256(key, keylen, tok, n, mac) != 0) {
		free(tok);
		tok = NULL;
		goto out;
	}
	tok[n++] = '.';
	x3_b64url_encode(mac, sizeof(mac), tok + n);
out:
	free(payload);
	return tok;
}

/* Decodes one base64url part into a NUL-terminated malloc'd buffer. */
static unsigned char *
decode_part(const char *p, size_t n, size_t *outlen)
{
	unsigned char *buf = malloc(n + 1);
	long m;

	if (buf == NULL)
		return NULL;
	m = x3_b64url_decode(p, n, buf, n);
	if (m < 0) {
		free(buf);
		return NULL;
	}
	buf[m] = '\0';
	*outlen = (size_t)m;
	return buf;
}

int
x3_jwt_verify(const char *token, const unsigned char *key, size_t keylen,
    json_t **claims, struct mlc_err *err)
{
	size_t len = strnlen(token, X3_JWT_MAX + 1), n1, n2, hlen = 0, plen = 0;
	const char *d1, *d2;
	unsigned char *hdr = NULL, *pay = NULL, mac[32], sig[48];
	json_t *h = NULL, *c = NULL;
	long slen;
	int rc = -1;

	*claims = NULL;
	if (len > X3_JWT_MAX)
		return mlc_err_set(err, "token longer than %d bytes", X3_JWT_MAX);
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		return mlc_err_set(err, "not three dot-separated parts");
	n1 = (size_t)(d1 - token);
	n2 = (size_t)(d2 - d1 - 1);
	slen = x3_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), sig, sizeof(sig));
	if (slen != 32)
		return mlc_err_set(err, "signature is not 32 bytes of base64url");
	hdr = decode_part(token, n1, &hlen);
	pay = decode_part(d1 + 1, n2, &plen);
	if (hdr == NULL || pay == NULL) {
		mlc_err_set(err, "header or payload is not base64url");
		goto out;
	}
	h = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(h) || !json_is_string(json_object_get(h, "alg")) ||
	    strcmp(json_string_value(json_object_get(h, "alg")), "HS256") != 0) {
		/* alg "none" and every other algorithm are refused outright. */
		mlc_err_set(err, "header is not a JSON object with alg HS256");
		goto out;
	}
	if (hmac256(key, keylen, token, (size_t)(d2 - token), mac) != 0) {
		mlc_err_set(err, "HMAC failed");
		goto out;
	}
	if (CRYPTO_memcmp(mac, sig, 32) != 0) {
		mlc_err_set(err, "bad signature");
		goto out;
	}
	c = json_loadb((const char *)pay, plen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(c)) {
		mlc_err_set(err, "payload is not a JSON object");
		goto out;
	}
	*claims = c;
	c = NULL;
	rc = 0;
out:
	json_decref(h);
	json_decref(c);
	free(hdr);
	free(pay);
	return rc;
}

int
x3_jwt_claim_int(const json_t *claims, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(claims, name);

	if (!json_is_integer(v))
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int
claim_is(const json_t *claims, const char *name, const char *want)
{
	const json_t *v = json_object_get(claims, name);

	return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

int
x3_jwt_check_app(const json_t *claims, const char *iss, const char *sub,
    const char *aud, int64_t now, int64_t max_validity, struct mlc_err *err)
{
	const json_t *a = json_object_get(claims, "aud");
	int64_t iat, exp;
	int aud_ok = 0;

	if (!claim_is(claims, "iss", iss))
		return mlc_err_set(err, "iss is not the application's client id");
	if (!claim_is(claims, "sub", sub))
		return mlc_err_set(err, "sub is not the X3 user");
	if (json_is_string(a)) {
		aud_ok = strcmp(json_string_value(a), aud) == 0;
	} else if (json_is_array(a)) {
		for (size_t i = 0; i < json_array_size(a); i++) {
			const json_t *e = json_array_get(a, i);

			if (json_is_string(e) && strcmp(json_string_value(e), aud) == 0)
				aud_ok = 1;
		}
	}
	if (!aud_ok)
		return mlc_err_set(err, "aud does not name this server");
	if (x3_jwt_claim_int(claims, "iat", &iat) != 0 ||
	    x3_jwt_claim_int(claims, "exp", &exp) != 0)
		return mlc_err_set(err, "iat and exp must be integers");
	if (iat > now)
		return mlc_err_set(err, "iat is in the future (clock skew)");
	if (exp <= now)
		return mlc_err_set(err, "token expired");
	if (exp - iat > max_validity)
		return mlc_err_set(err, "exp - iat exceeds the app's token validity");
	return 0;
}
