/*
 * Fuzz target: the inbound Slack request path of mlc-auditor
 * (auditor/inbound.c): signature verification, then the form / JSON body
 * parsers behind it. Byte 0 picks the mode: even, the harness signs the
 * body correctly (so the fuzzer reaches the body parsers, as a real Slack
 * request would); odd, the timestamp and signature headers come from the
 * input too (the verifier itself is fuzzed). Byte 1 picks the content type.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "inbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000
static const char secret[] = "8f742231b10e8888abcd99yyyzzz85a5";

static char *
dup_text(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static char *
status_text(void *arg)
{
	(void)arg;
	return dup_text("all good");
}

static char *
replay_failed(void *arg, const char *user)
{
	(void)arg;
	(void)user;
	return dup_text("replayed 0");
}

static int
event_seen(void *arg, const char *id)
{
	(void)arg;
	return id != NULL && id[0] == 'X';
}

static void
audit(void *arg, const char *type, const char *outcome, const char *reason,
    const char *user, const char *command, const char *text, const char *event_id)
{
	/* Touch every string so ASan sees a bad pointer. */
	const char *all[] = { type, outcome, reason, user, command, text, event_id };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		n += all[i] ? strlen(all[i]) : 0;
	*(size_t *)arg += n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ctypes[] = { "application/x-www-form-urlencoded",
	    "application/json", "text/plain", NULL };
	size_t sink = 0;
	struct aud_inbound_ops ops = { &sink, status_text, replay_failed, event_seen, audit };
	struct aud_inbound_cfg c = { secret, sizeof(secret) - 1, "/x3", "U1,U2", 4096 };
	struct aud_inbound_req rq;
	struct aud_inbound_resp out;
	char ts[32], sig[80], hdr_ts[64] = "", hdr_sig[128] = "", *body;
	const uint8_t *p;
	size_t n;

	if (size < 2)
		return 0;
	memset(&rq, 0, sizeof(rq));
	memset(&out, 0, sizeof(out));
	rq.content_type = ctypes[data[1] % 4];
	p = data + 2;
	n = size - 2;
	if (data[0] & 1) {
		/* headers from the input: "ts\nsig\nbody" */
		const uint8_t *nl = memchr(p, '\n', n);
		size_t l;

		if (nl != NULL) {
			l = (size_t)(nl - p) < sizeof(hdr_ts) - 1 ? (size_t)(nl - p) : sizeof(hdr_ts) - 1;
			memcpy(hdr_ts, p, l);
			n -= (size_t)(nl - p) + 1;
			p = nl + 1;
			nl = memchr(p, '\n', n);
			if (nl != NULL) {
				l = (size_t)(nl - p) < sizeof(hdr_sig) - 1 ? (size_t)(nl - p) :
				    sizeof(hdr_sig) - 1;
				memcpy(hdr_sig, p, l);
				n -= (size_t)(nl - p) + 1;
				p = nl + 1;
			}
		}
		rq.ts_header = (data[0] & 2) ? NULL : hdr_ts;
		rq.sig_header = (data[0] & 4) ? NULL : hdr_sig;
	}
	body = malloc(n ? n : 1);
	if (body == NULL)
		return 0;
	memcpy(body, p, n);
	if (!(data[0] & 1)) {
		unsigned char mac[32];
		unsigned int ml = 0;
		{
			/* v0:ts:body */
			size_t blen = 3 + 10 + 1 + n;
			unsigned char *base = malloc(blen + 1);

			if (base == NULL) {
				free(body);
				return 0;
			}
			snprintf(ts, sizeof(ts), "%d", NOW);
			memcpy(base, "v0:", 3);
			memcpy(base + 3, ts, 10);
			base[13] = ':';
			memcpy(base + 14, body, n);
			HMAC(EVP_sha256(), secret, (int)sizeof(secret) - 1, base, blen, mac, &ml);
			free(base);
		}
		strcpy(sig, "v0=");
		for (unsigned i = 0; i < ml; i++)
			snprintf(sig + 3 + 2 * i, 3, "%02x", mac[i]);
		rq.ts_header = ts;
		rq.sig_header = sig;
	}
	rq.body = body;
	rq.len = n > c.max_body ? c.max_body : n;
	rq.too_big = n > c.max_body;
	aud_inbound_handle(&c, &ops, &rq, NOW, &out);
	free(out.body);
	free(body);
	return 0;
}
