/*
 * slacksim rate limiter: one token bucket per key (the simulator uses
 * "token\x1fchannelID"), like Slack's "about one message per second per
 * channel, short bursts allowed" for chat.postMessage.
 *
 * Tokens are counted in whole units with integer arithmetic: a bucket keeps
 * how many tokens it has and the time the last whole token was credited, so
 * the time to the next token is exact and Retry-After is never a rounding
 * artefact. The clock is a parameter, which lets the unit test drive it.
 *
 * The table is a chained hash. A bucket that has refilled to full is the
 * same as no bucket, so when the table reaches SIM_MAX_RL_BUCKETS we sweep
 * the full ones away instead of growing without bound.
 */
#include "slacksim.h"

#include <stdlib.h>
#include <string.h>

#define RL_NSLOTS 4096u

struct rl_bucket {
	struct rl_bucket *next;
	uint64_t tokens;
	uint64_t credited_ms;  /* time up to which refill has been counted */
	char key[];
};

struct sim_rl {
	pthread_mutex_t mu;
	uint64_t burst;
	uint64_t interval_ms;
	size_t count;
	struct rl_bucket *slots[RL_NSLOTS];
};

static uint64_t
rl_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Credits whole tokens earned since credited_ms, capped at burst. */
static void
rl_refill(const struct sim_rl *rl, struct rl_bucket *b, uint64_t now_ms)
{
	uint64_t earned;

	if (now_ms <= b->credited_ms)
		return;
	earned = (now_ms - b->credited_ms) / rl->interval_ms;
	if (b->tokens + earned >= rl->burst) {
		b->tokens = rl->burst;
		b->credited_ms = now_ms;
	} else {
		b->tokens += earned;
		b->credited_ms += earned * rl->interval_ms;
	}
}

/* Drops every bucket that is full at now_ms; they carry no information. */
static void
rl_sweep(struct sim_rl *rl, uint64_t now_ms)
{
	for (size_t i = 0; i < RL_NSLOTS; i++) {
		struct rl_bucket **pp = &rl->slots[i];

		while (*pp != NULL) {
			struct rl_bucket *b = *pp;

			rl_refill(rl, b, now_ms);
			if (b->tokens >= rl->burst) {
				*pp = b->next;
				free(b);
				rl->count--;
			} else {
				pp = &b->next;
			}
		}
	}
}

struct sim_rl *
sim_rl_new(unsigned burst, uint64_t interval_ms)
{
	struct sim_rl *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	if (pthread_mutex_init(&rl->mu, NULL) != 0) {
		free(rl);
		return NULL;
	}
	rl->burst = burst == 0 ? 1 : burst;
	rl->interval_ms = interval_ms;
	return rl;
}

static void
rl_clear(struct sim_rl *rl)
{
	for (size_t i = 0; i < RL_NSLOTS; i++) {
		struct rl_bucket *b = rl->slots[i];

		while (b != NULL) {
			struct rl_bucket *next = b->next;

			free(b);
			b = next;
		}
		rl->slots[i] = NULL;
	}
	rl->count = 0;
}

void
sim_rl_destroy(struct sim_rl **rlp)
{
	struct sim_rl *rl;

	if (rlp == NULL || *rlp == NULL)
		return;
	rl = *rlp;
	rl_clear(rl);
	pthread_mutex_destroy(&rl->mu);
	free(rl);
	*rlp = NULL;
}

void
sim_rl_reset(struct sim_rl *rl)
{
	pthread_mutex_lock(&rl->mu);
	rl_clear(rl);
	pthread_mutex_unlock(&rl->mu);
}

int
sim_rl_take(struct sim_rl *rl, const char *key, uint64_t now_ms,
    uint64_t *retry_ms)
{
	struct rl_bucket *b;
	size_t slot, klen;
	int rc;

	if (rl->interval_ms == 0)
		return 1;
	slot = (size_t)(rl_hash(key) % RL_NSLOTS);
	pthread_mutex_lock(&rl->mu);
	for (b = rl->slots[slot]; b != NULL; b = b->next)
		if (strcmp(b->key, key) == 0)
			break;
	if (b == NULL) {
		if (rl->count >= SIM_MAX_RL_BUCKETS)
			rl_sweep(rl, now_ms);
		if (rl->count >= SIM_MAX_RL_BUCKETS) {
			rc = -1;
			goto out;
		}
		klen = strlen(key);
		b = malloc(sizeof(*b) + klen + 1);
		if (b == NULL) {
			rc = -1;
			goto out;
		}
		memcpy(b->key, key, klen + 1);
		b->tokens = rl->burst;
		b->credited_ms = now_ms;
		b->next = rl->slots[slot];
		rl->slots[slot] = b;
		rl->count++;
	}
	rl_refill(rl, b, now_ms);
	if (b->tokens > 0) {
		/* Taking from a full bucket starts the refill clock now, not at
		 * whenever the bucket last became full. */
		if (b->tokens == rl->burst)
			b->credited_ms = now_ms;
		b->tokens--;
		rc = 1;
	} else {
		uint64_t wait = b->credited_ms + rl->interval_ms - now_ms;

		if (retry_ms != NULL)
			*retry_ms = wait == 0 ? 1 : wait;
		rc = 0;
	}
out:
	pthread_mutex_unlock(&rl->mu);
	return rc;
}

unsigned long
sim_rl_retry_after_s(uint64_t retry_ms)
{
	uint64_t s = (retry_ms + 999) / 1000;

	return s < 1 ? 1 : (unsigned long)s;
}
