/*
 * slacksim tokens: which bot tokens are accepted, and token rotation.
 *
 * Without --rotate-tokens the one configured token never expires. With it,
 * every access token lasts ttl seconds from when it was issued (the
 * configured one from start-up) and then answers token_expired;
 * oauth.v2.access with grant_type=refresh_token and the current refresh
 * token issues a new access + refresh pair and revokes the old refresh
 * token, as Slack does (reference/slack.md section 5).
 */
#include "slacksim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define SIM_MAX_TOKENS 64

struct tok {
	char value[128];
	uint64_t expires_ms;   /* 0 = never */
};

struct sim_tokens {
	pthread_mutex_t mu;
	int rotate;
	uint64_t ttl_ms;
	struct tok toks[SIM_MAX_TOKENS];  /* a ring: the oldest is replaced */
	size_t n, next;
	char refresh[128];
	unsigned issued;
};

static int
same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static void
tok_add(struct sim_tokens *t, const char *v, uint64_t expires_ms)
{
	struct tok *k = &t->toks[t->next];

	snprintf(k->value, sizeof(k->value), "%s", v);
	k->expires_ms = expires_ms;
	t->next = (t->next + 1) % SIM_MAX_TOKENS;
	if (t->n < SIM_MAX_TOKENS)
		t->n++;
}

struct sim_tokens *
sim_tokens_new(const char *token, const char *refresh, int rotate, uint64_t ttl_s)
{
	struct sim_tokens *t = calloc(1, sizeof(*t));

	if (t == NULL || pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t);
		return NULL;
	}
	t->rotate = rotate;
	t->ttl_ms = ttl_s * 1000;
	tok_add(t, token, rotate ? sim_now_mono_ms() + t->ttl_ms : 0);
	snprintf(t->refresh, sizeof(t->refresh), "%s", refresh);
	return t;
}

void
sim_tokens_destroy(struct sim_tokens **tp)
{
	if (tp == NULL || *tp == NULL)
		return;
	pthread_mutex_destroy(&(*tp)->mu);
	OPENSSL_cleanse(*tp, sizeof(**tp));
	free(*tp);
	*tp = NULL;
}

const char *
sim_tokens_check(struct sim_tokens *t, const char *token, uint64_t now_ms)
{
	const char *e = "invalid_auth";

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->n; i++) {
		if (!same(t->toks[i].value, token))
			continue;
		e = t->toks[i].expires_ms != 0 && now_ms >= t->toks[i].expires_ms ?
		    "token_expired" : NULL;
		break;
	}
	pthread_mutex_unlock(&t->mu);
	return e;
}

static void
random_token(const char *prefix, unsigned n, char out[80])
{
	unsigned char r[16];
	size_t len;

	RAND_bytes(r, sizeof(r));
	len = (size_t)snprintf(out, 80, "%s%u-", prefix, n);
	for (size_t i = 0; i < sizeof(r) && len + 2 < 80; i++)
		len += (size_t)snprintf(out + len, 80 - len, "%02x", r[i]);
}

const char *
sim_tokens_refresh(struct sim_tokens *t, const char *refresh, uint64_t now_ms,
    char access_out[80], char refresh_out[80], uint64_t *expires_in_s)
{
	const char *e = NULL;

	pthread_mutex_lock(&t->mu);
	if (!t->rotate) {
		e = "invalid_grant_type";
		goto out;
	}
	if (refresh == NULL || !same(refresh, t->refresh)) {
		e = "invalid_refresh_token";
		goto out;
	}
	t->issued++;
	random_token("xoxe.xoxb-sim", t->issued, access_out);
	random_token("xoxe-1-sim", t->issued, refresh_out);
	tok_add(t, access_out, now_ms + t->ttl_ms);
	snprintf(t->refresh, sizeof(t->refresh), "%s", refresh_out);
	*expires_in_s = t->ttl_ms / 1000;
out:
	pthread_mutex_unlock(&t->mu);
	return e;
}
