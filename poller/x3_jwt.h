/*
 * x3_jwt: the JSON Web Tokens the poller deals with.
 *
 * On-premise connected applications have no token endpoint: the client
 * signs its own HS256 JWT {iss: client id, sub: X3 user, aud, iat, exp} with
 * the application's secret, fresh for every request (sage-x3.md §3). The
 * cloud gateway's access tokens are JWTs too; when its token response has
 * no expires_in, the lifetime is read from their `exp` claim (unverified:
 * it only tells us when to refresh, the server still checks the token).
 */
#ifndef X3_JWT_H
#define X3_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_err.h"

/* Returns a malloc'd "header.payload.signature" (base64url, no padding),
 * header {"alg":"HS256","typ":"JWT"}, payload {"iss","sub","aud","iat","exp"}
 * (iat and exp in epoch seconds). NULL with err on failure. */
char *x3_jwt_hs256(const char *iss, const char *sub, const char *aud, int64_t iat,
    int64_t exp, const unsigned char *secret, size_t secret_len, struct mlc_err *err);

/* Reads the integer `exp` claim of a JWT's payload. Returns 0 / -1 (not a
 * JWT, bad base64url or JSON, no integer exp). */
int x3_jwt_exp(const char *jwt, int64_t *exp_s);

/* base64url without padding. encode: returns a malloc'd string or NULL.
 * decode: returns a malloc'd buffer (NUL-terminated, *outlen bytes) or NULL
 * for any character outside the alphabet or an impossible length. */
char *x3_b64url_encode(const unsigned char *in, size_t len);
unsigned char *x3_b64url_decode(const char *in, size_t len, size_t *outlen);

#endif
