/* The inbound Slack endpoint: request signing (reference/slack.md section 4
 * vectors, clock pinned) and what each kind of request is answered. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "inbound.h"

#define SECRET "8f742231b10e8888abcd99yyyzzz85a5"
#define TS 1531420618
#define TS_S "1531420618"
#define BODY "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&" \
	"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&" \
	"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F" \
	"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=" \
	"398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
#define SIG "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
#define UV_BODY "{\"token\":\"Jhj5dZrVaK7ZwHHjRyZWjbDl\",\"challenge\":" \
	"\"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P\",\"type\":\"url_verification\"}"
#define UV_SIG "v0=f9bd80929259f3f6d5fe3a3186c453c89cd1ad4862815a15837584f31c993652"
#define EMPTY_SIG "v0=55f41ec73231010289b54e669149ea021fccab11b5524355523533ce930cb739"

static int
verify(const char *ts, const char *sig, const char *body, size_t len, int64_t now)
{
	struct mlc_err err;

	return aud_slack_verify(SECRET, strlen(SECRET), ts, sig, body, len, now, &err);
}

static void
test_official_vector_passes_with_clock_pinned(void **state)
{
	(void)state;
	assert_int_equal(strlen(BODY), 362);
	assert_int_equal(verify(TS_S, SIG, BODY, strlen(BODY), TS), 0);
}

static void
test_computed_vectors_pass(void **state)
{
	(void)state;
	assert_int_equal(verify(TS_S, UV_SIG, UV_BODY, strlen(UV_BODY), TS), 0);
	assert_int_equal(verify(TS_S, EMPTY_SIG, "", 0, TS), 0);
}

static void
test_altered_body_is_rejected(void **state)
{
	char body[400];

	(void)state;
	snprintf(body, sizeof(body), "%s&x=1", BODY);
	assert_int_equal(verify(TS_S, SIG, body, strlen(body), TS), -1);
	/* One byte changed, same length. */
	snprintf(body, sizeof(body), "%s", BODY);
	body[10] ^= 1;
	assert_int_equal(verify(TS_S, SIG, body, strlen(body), TS), -1);
}

static void
test_timestamp_301_s_away_is_rejected_300_accepted(void **state)
{
	(void)state;
	assert_int_equal(verify(TS_S, SIG, BODY, strlen(BODY), TS + 301), -1);
	assert_int_equal(verify(TS_S, SIG, BODY, strlen(BODY), TS - 301), -1);
	assert_int_equal(verify(TS_S, SIG, BODY, strlen(BODY), TS + 300), 0);
	assert_int_equal(verify(TS_S, SIG, BODY, strlen(BODY), TS - 300), 0);
}

static void
test_v1_prefix_is_rejected(void **state)
{
	char sig[80];

	(void)state;
	snprintf(sig, sizeof(sig), "v1=%s", SIG + 3);
	assert_int_equal(verify(TS_S, sig, BODY, strlen(BODY), TS), -1);
}

static void
test_missing_headers_are_rejected(void **state)
{
	(void)state;
	assert_int_equal(verify(NULL, SIG, BODY, strlen(BODY), TS), -1);
	assert_int_equal(verify(TS_S, NULL, BODY, strlen(BODY), TS), -1);
	assert_int_equal(verify("", SIG, BODY, strlen(BODY), TS), -1);
	assert_int_equal(verify("15314x0618", SIG, BODY, strlen(BODY), TS), -1);
}

static void
test_upper_case_digest_is_rejected(void **state)
{
	char sig[80];

	(void)state;
	snprintf(sig, sizeof(sig), "%s", SIG);
	for (char *p = sig + 3; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	assert_int_equal(verify(TS_S, sig, BODY, strlen(BODY), TS), -1);
}

static void
test_truncated_and_padded_signatures_are_rejected(void **state)
{
	char sig[80];

	(void)state;
	snprintf(sig, sizeof(sig), "%.*s", (int)strlen(SIG) - 1, SIG);
	assert_int_equal(verify(TS_S, sig, BODY, strlen(BODY), TS), -1);
	snprintf(sig, sizeof(sig), "%s0", SIG);
	assert_int_equal(verify(TS_S, sig, BODY, strlen(BODY), TS), -1);
}

/* ---- aud_inbound_handle ---- */

struct rec {
	char type[64], outcome[64], reason[512], user[64], text[128], event[64];
	int audits, replays, seen_calls;
	char seen_ids[8][64];
	int n_seen;
};

static struct rec R;

static char *
st_text(void *arg)
{
	(void)arg;
	return strdup("ml-connector: healthy");
}

static char *
replay_failed(void *arg, const char *user)
{
	(void)arg;
	(void)user;
	R.replays++;
	return strdup("Replaying 2 failed message(s)");
}

static int
event_seen(void *arg, const char *id)
{
	(void)arg;
	for (int i = 0; i < R.n_seen; i++)
		if (strcmp(R.seen_ids[i], id) == 0)
			return 1;
	snprintf(R.seen_ids[R.n_seen++], sizeof(R.seen_ids[0]), "%s", id);
	return 0;
}

static void
audit(void *arg, const char *type, const char *outcome, const char *reason,
    const char *user, const char *command, const char *text, const char *event_id)
{
	(void)arg;
	(void)command;
	R.audits++;
	snprintf(R.type, sizeof(R.type), "%s", type);
	snprintf(R.outcome, sizeof(R.outcome), "%s", outcome);
	snprintf(R.reason, sizeof(R.reason), "%s", reason ? reason : "");
	snprintf(R.user, sizeof(R.user), "%s", user ? user : "");
	snprintf(R.text, sizeof(R.text), "%s", text ? text : "");
	snprintf(R.event, sizeof(R.event), "%s", event_id ? event_id : "");
}

static const struct aud_inbound_ops OPS = { NULL, st_text, replay_failed, event_seen, audit };

static struct aud_inbound_cfg
cfg(void)
{
	struct aud_inbound_cfg c = { SECRET, strlen(SECRET), "/x3", "U2CERLKJA,UOTHER1", 65536 };

	return c;
}

/* Signs body with SECRET at ts with EVP_Q_mac (independent of the code
 * under test). */
static void
sign(const char *ts, const char *body, char out[80])
{
	char msg[2048];
	unsigned char mac[64];
	size_t n, maclen = 0;

	n = (size_t)snprintf(msg, sizeof(msg), "v0:%s:%s", ts, body);
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, SECRET, strlen(SECRET),
	    (unsigned char *)msg, n, mac, sizeof(mac), &maclen));
	strcpy(out, "v0=");
	for (size_t i = 0; i < maclen; i++)
		sprintf(out + 3 + 2 * i, "%02x", mac[i]);
}

static void
handle(const char *ct, const char *ts, const char *sig, const char *body, size_t len,
    int too_big, int64_t now, struct aud_inbound_resp *out)
{
	struct aud_inbound_cfg c = cfg();
	struct aud_inbound_req rq = { ts, sig, NULL, ct, body, len, too_big };

	memset(&R, 0, sizeof(R));
	aud_inbound_handle(&c, &OPS, &rq, now, out);
}

static void
test_url_verification_is_answered_with_the_challenge(void **state)
{
	struct aud_inbound_resp rs;

	(void)state;
	handle("application/json", TS_S, UV_SIG, UV_BODY, strlen(UV_BODY), 0, TS, &rs);
	assert_int_equal(rs.status, 200);
	assert_non_null(rs.body);
	assert_string_equal(rs.body,
	    "{\"challenge\":\"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P\"}");
	assert_string_equal(R.type, "url_verification");
	free(rs.body);
}

static void
test_rejects_are_401_with_no_body_and_audited_without_the_secret(void **state)
{
	struct aud_inbound_resp rs;
	char body[400];

	(void)state;
	snprintf(body, sizeof(body), "%sX", UV_BODY);
	handle("application/json", TS_S, UV_SIG, body, strlen(body), 0, TS, &rs);
	assert_int_equal(rs.status, 401);
	assert_null(rs.body);
	assert_string_equal(R.outcome, "rejected");
	assert_null(strstr(R.reason, SECRET));
	assert_non_null(strstr(R.reason, "signature"));
	/* Stale */
	handle("application/json", TS_S, UV_SIG, UV_BODY, strlen(UV_BODY), 0, TS + 301, &rs);
	assert_int_equal(rs.status, 401);
	assert_null(rs.body);
	/* Missing headers */
	handle("application/json", NULL, NULL, UV_BODY, strlen(UV_BODY), 0, TS, &rs);
	assert_int_equal(rs.status, 401);
	assert_int_equal(R.audits, 1);
}

static void
test_oversized_body_is_rejected_even_if_signed(void **state)
{
	struct aud_inbound_resp rs;
	struct aud_inbound_cfg c = cfg();
	struct aud_inbound_req rq = { TS_S, SIG, NULL, "application/x-www-form-urlencoded",
		BODY, strlen(BODY), 0 };

	(void)state;
	c.max_body = 100; /* the official body is 362 bytes */
	memset(&R, 0, sizeof(R));
	aud_inbound_handle(&c, &OPS, &rq, TS, &rs);
	assert_int_equal(rs.status, 401);
	assert_null(rs.body);
	assert_non_null(strstr(R.reason, "max_body"));
	/* The HTTP layer stopped keeping bytes at the limit. */
	handle("application/json", TS_S, UV_SIG, UV_BODY, strlen(UV_BODY), 1, TS, &rs);
	assert_int_equal(rs.status, 401);
}

static void
test_ssl_check_is_answered_unsigned(void **state)
{
	struct aud_inbound_resp rs;
	const char *b = "ssl_check=1&token=abc";

	(void)state;
	handle("application/x-www-form-urlencoded", NULL, NULL, b, strlen(b), 0, TS, &rs);
	assert_int_equal(rs.status, 200);
	assert_null(rs.body);
	assert_string_equal(R.type, "ssl_check");
}

static void
test_other_slash_command_is_answered_not_acted_on(void **state)
{
	struct aud_inbound_resp rs;

	(void)state;
	/* The official body is /webhook-collect: signed, but not our command. */
	handle("application/x-www-form-urlencoded", TS_S, SIG, BODY, strlen(BODY), 0, TS, &rs);
	assert_int_equal(rs.status, 200);
	assert_non_null(strstr(rs.body, "/x3 only"));
	assert_string_equal(R.outcome, "unknown_command");
	assert_string_equal(R.user, "U2CERLKJA");
	free(rs.body);
}

static void
signed_command(const char *user, const char *text, int64_t now, struct aud_inbound_resp *rs)
{
	static char body[512], sig[80];
	char ts[24];

	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	snprintf(body, sizeof(body), "token=t&team_id=T1&user_id=%s&command=%%2Fx3&text=%s",
	    user, text);
	sign(ts, body, sig);
	handle("application/x-www-form-urlencoded", ts, sig, body, strlen(body), 0, now, rs);
}

static void
test_x3_status_answers_the_summary(void **state)
{
	struct aud_inbound_resp rs;

	(void)state;
	signed_command("UNOBODY1", "+Status+", 1700000000, &rs);
	assert_int_equal(rs.status, 200);
	assert_non_null(strstr(rs.body, "ml-connector: healthy"));
	assert_non_null(strstr(rs.body, "ephemeral"));
	assert_string_equal(R.text, "status");
	free(rs.body);
}

static void
test_x3_replay_failed_only_for_listed_users(void **state)
{
	struct aud_inbound_resp rs;

	(void)state;
	signed_command("UNOBODY1", "replay+failed", 1700000000, &rs);
	assert_int_equal(rs.status, 200);
	assert_int_equal(R.replays, 0);
	assert_string_equal(R.outcome, "denied");
	assert_non_null(strstr(rs.body, "not allowed"));
	free(rs.body);
	signed_command("UOTHER1", "replay+failed", 1700000000, &rs);
	assert_int_equal(R.replays, 1);
	assert_string_equal(R.outcome, "ok");
	assert_non_null(strstr(rs.body, "Replaying 2"));
	free(rs.body);
}

static void
test_event_retries_are_deduplicated_by_event_id(void **state)
{
	struct aud_inbound_cfg c = cfg();
	const char *body = "{\"type\":\"event_callback\",\"event_id\":\"Ev123\","
	    "\"event\":{\"type\":\"app_mention\"}}";
	char sig[80];
	struct aud_inbound_req rq = { "1700000000", sig, NULL, "application/json", body,
		strlen(body), 0 };
	struct aud_inbound_resp rs;

	(void)state;
	sign("1700000000", body, sig);
	memset(&R, 0, sizeof(R));
	aud_inbound_handle(&c, &OPS, &rq, 1700000000, &rs);
	assert_int_equal(rs.status, 200);
	assert_string_equal(R.outcome, "ok");
	assert_string_equal(R.event, "Ev123");
	rq.retry_num = "1";
	aud_inbound_handle(&c, &OPS, &rq, 1700000000, &rs);
	assert_int_equal(rs.status, 200);
	assert_string_equal(R.outcome, "duplicate");
	assert_int_equal(R.n_seen, 1);
}

static void
test_form_decoding(void **state)
{
	const char *b = "a=1&text=replay+Failed%21&user_id=U1&empty=&x";
	char *v;

	(void)state;
	v = aud_form_get(b, strlen(b), "text");
	assert_string_equal(v, "replay Failed!");
	free(v);
	v = aud_form_get(b, strlen(b), "empty");
	assert_string_equal(v, "");
	free(v);
	assert_null(aud_form_get(b, strlen(b), "missing"));
	assert_null(aud_form_get("t=a%00b", 7, "t"));
	assert_true(aud_user_listed("U1,U22", "U22"));
	assert_false(aud_user_listed("U1,U22", "U2"));
	assert_false(aud_user_listed("", "U2"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_official_vector_passes_with_clock_pinned),
		cmocka_unit_test(test_computed_vectors_pass),
		cmocka_unit_test(test_altered_body_is_rejected),
		cmocka_unit_test(test_timestamp_301_s_away_is_rejected_300_accepted),
		cmocka_unit_test(test_v1_prefix_is_rejected),
		cmocka_unit_test(test_missing_headers_are_rejected),
		cmocka_unit_test(test_upper_case_digest_is_rejected),
		cmocka_unit_test(test_truncated_and_padded_signatures_are_rejected),
		cmocka_unit_test(test_url_verification_is_answered_with_the_challenge),
		cmocka_unit_test(test_rejects_are_401_with_no_body_and_audited_without_the_secret),
		cmocka_unit_test(test_oversized_body_is_rejected_even_if_signed),
		cmocka_unit_test(test_ssl_check_is_answered_unsigned),
		cmocka_unit_test(test_other_slash_command_is_answered_not_acted_on),
		cmocka_unit_test(test_form_decoding),
		cmocka_unit_test(test_x3_status_answers_the_summary),
		cmocka_unit_test(test_x3_replay_failed_only_for_listed_users),
		cmocka_unit_test(test_event_retries_are_deduplicated_by_event_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
