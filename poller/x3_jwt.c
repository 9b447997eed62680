/* x3_jwt: see x3_jwt.h. */
#include "x3_jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mlc_json.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
x3_b64url_encode(const unsigned char *in, size_t len)
{
	char *out = malloc(len / 3 * 4 + 5), *o = out;
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		*o++ = b64url[v >> 18 & 63];
		*o++ = b64url[v >> 12 & 63];
		*o++ = b64url[v >> 6 & 63];
		*o++ = b64url[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)in[i] << 16;

		*o++ = b64url[v >> 18 & 63];
		*o++ = b64url[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;

		*o++ = b64url[v >> 18 & 63];
		*o++ = b64url[v >> 12 & 63];
		*o++ = b64url[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

unsigned char *
x3_b64url_decode(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	if (len % 4 == 1)
		return NULL;
	out = malloc(len / 4 * 3 + 4);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		const char *p = in[i] ? strchr(b64url, in[i]) : NULL;

		if (p == NULL) {
			free(out);
			return NULL;
		}
		acc = (acc << 6 | (unsigned)(p - b64url)) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static char *
b64_json(json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	char *out = text ? x3_b64url_encode((const unsigned char *)text, strlen(text)) : NULL;

	free(text);
	return out;
}

char *
x3_jwt_hs256(const char *iss, const char *sub, const char *aud, int64_t iat,
    int64_t exp, const unsigned char *secret, size_t secret_len, struct mlc_err *err)
{
	json_t *hdr = json_pack("{s:s,s:s}", "alg", "HS256", "typ", "JWT");
	json_t *pl = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", iss, "sub", sub, "aud", aud,
	    "iat", (json_int_t)iat, "exp", (json_int_t)exp);
	char *h = b64_json(hdr), *p = b64_json(pl), *sig = NULL, *tok = NULL;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t n;

	json_decref(hdr);
	json_decref(pl);
	if (h == NULL || p == NULL)
		goto oom;
	n = strlen(h) + 1 + strlen(p);
	tok = malloc(n + 1 + 64);
	if (tok == NULL)
		goto oom;
	snprintf(tok, n + 1, "%s.%s", h, p);
	if (HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)tok, n,
	    mac, &maclen) == NULL) {
		mlc_err_set(err, "HS256 signing failed");
		goto fail;
	}
	sig = x3_b64url_encode(mac, maclen);
	if (sig == NULL)
		goto oom;
	snprintf(tok + n, 64, ".%s", sig);
	free(h);
	free(p);
	free(sig);
	return tok;
oom:
	mlc_err_set(err, "out of memory");
fail:
	free(h);
	free(p);
	free(sig);
	free(tok);
	return NULL;
}

int
x3_jwt_exp(const char *jwt, int64_t *exp_s)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	unsigned char *pl;
	size_t len;
	json_t *j, *e;
	struct mlc_err err;
	int rc = -1;

	if (d2 == NULL)
		return -1;
	pl = x3_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &len);
	if (pl == NULL)
		return -1;
	j = mlc_json_loads_exact((const char *)pl, len, 8, &err);
	e = j ? json_object_get(j, "exp") : NULL;
	if (e != NULL) {
		const char *t = mlc_json_scalar_text(e);
		char *end;
		long long v = t ? strtoll(t, &end, 10) : 0;

		if (t != NULL && *t != '\0' && *end == '\0' && v > 0) {
			*exp_s = v;
			rc = 0;
		}
	}
	json_decref(j);
	free(pl);
	return rc;
}
