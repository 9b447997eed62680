/*
 * test_slack_api: what the dispatcher sends to chat.postMessage and how it
 * sorts Slack's answers.
 *
 * Pins the request body (channel, text, blocks, no unfurling, metadata by
 * which a post can be found again) and the class of every answer listed in
 * reference/slack.md section 1: each platform error code, 429 with and
 * without Retry-After, 5xx with HTML, transport failures before and after
 * the request went out, unreadable 200s and ok:true.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "slack_api.h"

static void
msg_init(struct mlc_message *m, const char *blocks)
{
	memset(m, 0, sizeof(*m));
	m->id = (char *)"purchase_order/PO-1/2026-11-29T01%3A02%3A03Z/po/C0123";
	m->from = (char *)"formatter";
	m->record_id = (char *)"purchase_order/PO-1/2026-11-29T01:02:03Z";
	m->entity = (char *)"purchase_order";
	m->key = (char *)"PO-1";
	m->route = (char *)"po";
	m->channel = (char *)"C0123456789";
	m->text = (char *)"Purchase order PO-1: \"Acme\" &amp; caf\xc3\xa9 \\ done";
	m->blocks = (char *)blocks;
	m->created_at = (char *)"2026-11-29T01:03:00.000Z";
}

static json_t *
body_json(const struct mlc_message *m)
{
	char *body = slack_post_body(m);
	json_error_t je;
	json_t *root;

	assert_non_null(body);
	root = json_loads(body, 0, &je);
	free(body);
	if (root == NULL)
		fail_msg("body is not JSON: %s", je.text);
	assert_true(json_is_object(root));
	return root;
}

static void
test_post_body_has_channel_text_blocks_and_metadata(void **state)
{
	const char *blocks = "[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\","
	    "\"text\":\"*x* &lt;\"}},{\"type\":\"divider\"}]";
	struct mlc_message m;
	json_t *root, *b, *want, *meta, *payload;
	json_error_t je;

	(void)state;
	msg_init(&m, blocks);
	root = body_json(&m);
	assert_string_equal(json_string_value(json_object_get(root, "channel")),
	    "C0123456789");
	assert_string_equal(json_string_value(json_object_get(root, "text")), m.text);
	b = json_object_get(root, "blocks");
	assert_true(json_is_array(b));
	want = json_loads(blocks, 0, &je);
	assert_non_null(want);
	assert_true(json_equal(b, want));
	json_decref(want);
	assert_true(json_is_false(json_object_get(root, "unfurl_links")));
	meta = json_object_get(root, "metadata");
	assert_true(json_is_object(meta));
	assert_string_equal(json_string_value(json_object_get(meta, "event_type")),
	    "mlc_notification");
	payload = json_object_get(meta, "event_payload");
	assert_true(json_is_object(payload));
	assert_string_equal(json_string_value(json_object_get(payload, "msg_id")), m.id);
	assert_string_equal(json_string_value(json_object_get(payload, "record_id")),
	    m.record_id);
	json_decref(root);
}

/* Blocks are passed through as JSON, not as a string holding JSON. */
static void
test_post_body_embeds_blocks_as_array_not_string(void **state)
{
	struct mlc_message m;
	char *body;

	(void)state;
	msg_init(&m, "[{\"type\":\"divider\"}]");
	body = slack_post_body(&m);
	assert_non_null(body);
	assert_non_null(strstr(body, "\"blocks\":[{\"type\":\"divider\"}]"));
	free(body);
}

static void
test_post_body_refuses_invalid_blocks_json(void **state)
{
	static const char *const bad[] = {
		"[{", "not json", "[{\"type\":\"divider\"}] trailing", "{\"type\":\"divider\"}",
		"\"[]\"",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mlc_message m;
		char *body;

		msg_init(&m, bad[i]);
		body = slack_post_body(&m);
		if (body != NULL) {
			free(body);
			fail_msg("blocks %s accepted", bad[i]);
		}
	}
}

/* ---- slack_classify ---- */

static void
classify_200(const char *body, struct slack_result *r)
{
	slack_classify(1, 1, NULL, 200, body, strlen(body), -1, r);
}

static void
test_every_documented_error_code_has_its_class(void **state)
{
	static const struct {
		const char *code;
		enum slack_outcome want;
	} table[] = {
		/* permanent, for every channel: stop and alert */
		{ "not_authed", SLACK_TOKEN_ERROR },
		{ "invalid_auth", SLACK_TOKEN_ERROR },
		{ "account_inactive", SLACK_TOKEN_ERROR },
		{ "token_revoked", SLACK_TOKEN_ERROR },
		{ "missing_scope", SLACK_TOKEN_ERROR },
		{ "no_permission", SLACK_TOKEN_ERROR },
		{ "not_allowed_token_type", SLACK_TOKEN_ERROR },
		{ "token_expired", SLACK_TOKEN_ERROR },
		/* permanent for that channel */
		{ "channel_not_found", SLACK_CHANNEL_ERROR },
		{ "not_in_channel", SLACK_CHANNEL_ERROR },
		{ "is_archived", SLACK_CHANNEL_ERROR },
		{ "restricted_action", SLACK_CHANNEL_ERROR },
		/* permanent for that message: our bug, dead letter */
		{ "no_text", SLACK_MESSAGE_ERROR },
		{ "msg_too_long", SLACK_MESSAGE_ERROR },
		{ "invalid_blocks", SLACK_MESSAGE_ERROR },
		{ "invalid_blocks_format", SLACK_MESSAGE_ERROR },
		{ "msg_blocks_too_long", SLACK_MESSAGE_ERROR },
		{ "invalid_arguments", SLACK_MESSAGE_ERROR },
		{ "invalid_charset", SLACK_MESSAGE_ERROR },
		{ "invalid_post_type", SLACK_MESSAGE_ERROR },
		{ "missing_post_type", SLACK_MESSAGE_ERROR },
		/* may already have posted */
		{ "internal_error", SLACK_RETRY_DOUBT },
		{ "fatal_error", SLACK_DOUBT_FATAL },
		/* not posted: retry with backoff */
		{ "service_unavailable", SLACK_RETRY },
		{ "request_timeout", SLACK_RETRY },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		char body[160];
		struct slack_result r;

		snprintf(body, sizeof(body), "{\"ok\":false,\"error\":\"%s\"}", table[i].code);
		memset(&r, 0xa5, sizeof(r));
		classify_200(body, &r);
		if (r.outcome != table[i].want)
			fail_msg("%s: got %s, want %s", table[i].code,
			    slack_outcome_name(r.outcome), slack_outcome_name(table[i].want));
		assert_string_equal(r.error, table[i].code);
		assert_string_equal(r.ts, "");
	}
}

static void
test_unknown_error_code_is_kept_and_not_retried_blindly(void **state)
{
	struct slack_result r;

	(void)state;
	classify_200("{\"ok\":false,\"error\":\"some_new_code\"}", &r);
	assert_string_equal(r.error, "some_new_code");
	assert_true(r.outcome != SLACK_POSTED && r.outcome != SLACK_RETRY);
}

static void
test_overlong_error_code_is_truncated_safely(void **state)
{
	char body[400], code[300];
	struct slack_result r;

	(void)state;
	memset(code, 'e', sizeof(code) - 1);
	code[sizeof(code) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"ok\":false,\"error\":\"%s\"}", code);
	classify_200(body, &r);
	assert_int_equal(strlen(r.error), sizeof(r.error) - 1);
	assert_memory_equal(r.error, code, sizeof(r.error) - 1);
}

static void
test_429_waits_retry_after(void **state)
{
	const char *body = "{\"ok\":false,\"error\":\"ratelimited\"}";
	struct slack_result r;

	(void)state;
	slack_classify(1, 1, NULL, 429, body, strlen(body), 30, &r);
	assert_int_equal(r.outcome, SLACK_RATELIMITED);
	assert_int_equal(r.retry_after_s, 30);
	assert_string_equal(r.error, "ratelimited");
}

static void
test_429_without_retry_after_waits_at_least_one_second(void **state)
{
	const long absent[] = { -1, 0 };
	struct slack_result r;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		slack_classify(1, 1, NULL, 429, "", 0, absent[i], &r);
		assert_int_equal(r.outcome, SLACK_RATELIMITED);
		assert_true(r.retry_after_s >= 1);
	}
}

static void
test_5xx_with_html_is_retried_in_doubt(void **state)
{
	const char *html = "<html><body><h1>503 Service Unavailable</h1></body></html>";
	const long statuses[] = { 500, 502, 503, 504 };
	struct slack_result r;

	(void)state;
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		char want[32];

		slack_classify(1, 1, NULL, statuses[i], html, strlen(html), -1, &r);
		assert_int_equal(r.outcome, SLACK_RETRY_DOUBT);
		snprintf(want, sizeof(want), "http_%ld", statuses[i]);
		assert_string_equal(r.error, want);
	}
}

static void
test_transport_error_before_sending_is_a_plain_retry(void **state)
{
	struct slack_result r;

	(void)state;
	slack_classify(0, 0, "Couldn't connect to server", 0, NULL, 0, -1, &r);
	assert_int_equal(r.outcome, SLACK_RETRY);
	assert_string_equal(r.error, "Couldn't connect to server");
}

static void
test_transport_error_after_sending_is_in_doubt(void **state)
{
	struct slack_result r;

	(void)state;
	slack_classify(0, 1, "Operation timed out after 10000 milliseconds", 0, NULL, 0,
	    -1, &r);
	assert_int_equal(r.outcome, SLACK_RETRY_DOUBT);
	assert_non_null(strstr(r.error, "timed out"));
	slack_classify(0, 1, NULL, 0, NULL, 0, -1, &r);
	assert_int_equal(r.outcome, SLACK_RETRY_DOUBT);
	assert_true(r.error[0] != '\0');
}

/* A 200 we cannot read may well be a post that happened. */
static void
test_unreadable_200_is_in_doubt(void **state)
{
	static const char *const bodies[] = {
		"", "<html>ok</html>", "{\"ok\":tru", "[true]", "\"ok\"", "null",
	};
	struct slack_result r;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		classify_200(bodies[i], &r);
		if (r.outcome != SLACK_RETRY_DOUBT)
			fail_msg("200 \"%s\": got %s", bodies[i], slack_outcome_name(r.outcome));
	}
	slack_classify(1, 1, NULL, 200, NULL, 0, -1, &r);
	assert_int_equal(r.outcome, SLACK_RETRY_DOUBT);
}

static void
test_ok_true_captures_ts(void **state)
{
	struct slack_result r;

	(void)state;
	classify_200("{\"ok\":true,\"channel\":\"C123ABC456\",\"ts\":\"1503435956.000247\","
	    "\"message\":{\"text\":\"x\"},\"warning\":\"missing_charset\"}", &r);
	assert_int_equal(r.outcome, SLACK_POSTED);
	assert_string_equal(r.ts, "1503435956.000247");
}

/* The body need not be NUL-terminated: only len bytes count. */
static void
test_classify_reads_only_len_bytes(void **state)
{
	const char *json = "{\"ok\":true,\"ts\":\"1503435956.000247\"}";
	size_t n = strlen(json);
	char *body = malloc(n);
	struct slack_result r;

	(void)state;
	assert_non_null(body);
	memcpy(body, json, n);
	slack_classify(1, 1, NULL, 200, body, n, -1, &r);
	assert_int_equal(r.outcome, SLACK_POSTED);
	assert_string_equal(r.ts, "1503435956.000247");
	free(body);
}

static void
test_outcome_names_are_distinct(void **state)
{
	(void)state;
	for (int a = SLACK_POSTED; a <= SLACK_DOUBT_FATAL; a++) {
		assert_string_not_equal(slack_outcome_name((enum slack_outcome)a), "?");
		for (int b = a + 1; b <= SLACK_DOUBT_FATAL; b++)
			assert_string_not_equal(slack_outcome_name((enum slack_outcome)a),
			    slack_outcome_name((enum slack_outcome)b));
	}
	assert_string_equal(slack_outcome_name(SLACK_POSTED), "posted");
}

/* ---- resolving in-doubt posts, rotation ---- */

static void
test_ok_true_captures_the_channel_id_for_history(void **state)
{
	const char *body = "{\"ok\":true,\"channel\":\"C0ABCDEF12\",\"ts\":\"1.000001\"}";
	struct slack_result r;

	(void)state;
	slack_classify(1, 1, NULL, 200, body, strlen(body), -1, &r);
	assert_int_equal(r.outcome, SLACK_POSTED);
	assert_string_equal(r.channel, "C0ABCDEF12");
}

static void
test_history_body_asks_from_oldest_with_metadata_and_cursor(void **state)
{
	char *b;

	(void)state;
	b = slack_history_body("C0ABCDEF12", 1795917797349LL, "bmV4dF90czox");
	assert_non_null(b);
	assert_non_null(strstr(b, "channel=C0ABCDEF12"));
	assert_non_null(strstr(b, "oldest=1795917797.349000"));
	assert_non_null(strstr(b, "include_all_metadata=true"));
	assert_non_null(strstr(b, "inclusive=true"));
	assert_non_null(strstr(b, "cursor=bmV4dF90czox"));
	free(b);
	b = slack_history_body("C0ABCDEF12", 5, "");
	assert_null(strstr(b, "cursor"));
	free(b);
}

static void
test_history_finds_the_message_by_msg_id_in_metadata(void **state)
{
	const char *body = "{\"ok\":true,\"has_more\":false,\"messages\":["
	    "{\"ts\":\"2.000000\",\"metadata\":{\"event_type\":\"x\",\"event_payload\":{\"msg_id\":\"other\"}}},"
	    "{\"ts\":\"1.000005\",\"text\":\"no metadata\"},"
	    "{\"ts\":\"1.000001\",\"metadata\":{\"event_type\":\"mlc_notification\","
	    "\"event_payload\":{\"msg_id\":\"po/1/x\",\"record_id\":\"po/1\"}}}]}";
	struct slack_history_result h;

	(void)state;
	slack_history_scan(1, 200, body, strlen(body), -1, "po/1/x", &h);
	assert_int_equal(h.outcome, SLACK_HIST_FOUND);
	assert_string_equal(h.ts, "1.000001");
	slack_history_scan(1, 200, body, strlen(body), -1, "po/1", &h);
	assert_int_equal(h.outcome, SLACK_HIST_ABSENT);
}

static void
test_history_pages_with_the_next_cursor(void **state)
{
	const char *body = "{\"ok\":true,\"has_more\":true,\"messages\":[],"
	    "\"response_metadata\":{\"next_cursor\":\"abc=\"}}";
	struct slack_history_result h;

	(void)state;
	slack_history_scan(1, 200, body, strlen(body), -1, "m", &h);
	assert_int_equal(h.outcome, SLACK_HIST_MORE);
	assert_string_equal(h.cursor, "abc=");
}

static void
test_history_errors_say_whether_to_give_up_or_ask_again(void **state)
{
	static const struct {
		long status;
		const char *body;
		enum slack_hist want;
	} cases[] = {
		{ 200, "{\"ok\":false,\"error\":\"missing_scope\"}", SLACK_HIST_NO_SCOPE },
		{ 200, "{\"ok\":false,\"error\":\"not_in_channel\"}", SLACK_HIST_CANNOT_CHECK },
		{ 200, "{\"ok\":false,\"error\":\"token_expired\"}", SLACK_HIST_TOKEN_EXPIRED },
		{ 200, "{\"ok\":false,\"error\":\"internal_error\"}", SLACK_HIST_RETRY },
		{ 503, "<html>down</html>", SLACK_HIST_RETRY },
		{ 429, "{\"ok\":false,\"error\":\"ratelimited\"}", SLACK_HIST_RETRY },
		{ 200, "{\"ok\":true}", SLACK_HIST_RETRY },
		{ 200, "not json", SLACK_HIST_RETRY },
	};
	struct slack_history_result h;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		slack_history_scan(1, cases[i].status, cases[i].body, strlen(cases[i].body),
		    7, "m", &h);
		if (h.outcome != cases[i].want)
			fail_msg("case %zu: outcome %d, want %d", i, h.outcome, cases[i].want);
	}
	slack_history_scan(1, 429, "", 0, 7, "m", &h);
	assert_int_equal(h.retry_after_s, 7);
	slack_history_scan(0, 0, NULL, 0, -1, "m", &h);
	assert_int_equal(h.outcome, SLACK_HIST_RETRY);
}

static void
test_list_scan_finds_the_name_or_pages_on(void **state)
{
	const char *p1 = "{\"ok\":true,\"channels\":[{\"id\":\"C0AAAAAAA1\",\"name\":\"general\"},"
	    "{\"id\":\"C0ABCDEF12\",\"name\":\"procure\"}],"
	    "\"response_metadata\":{\"next_cursor\":\"\"}}";
	const char *more = "{\"ok\":true,\"channels\":[{\"id\":\"C0AAAAAAA1\",\"name\":\"general\"}],"
	    "\"response_metadata\":{\"next_cursor\":\"dGVhbTpDMDYx\"}}";
	const char *last = "{\"ok\":true,\"channels\":[],\"response_metadata\":{\"next_cursor\":\"\"}}";
	const char *bad_id = "{\"ok\":true,\"channels\":[{\"id\":\"../x\",\"name\":\"procure\"}]}";
	const char *scope = "{\"ok\":false,\"error\":\"missing_scope\"}";
	char id[32], cur[256], e[64], *body;

	(void)state;
	assert_int_equal(slack_list_scan(1, 200, p1, strlen(p1), "#Procure", id, sizeof(id),
	    cur, sizeof(cur), e, sizeof(e)), 1);
	assert_string_equal(id, "C0ABCDEF12");
	assert_int_equal(slack_list_scan(1, 200, more, strlen(more), "procure", id, sizeof(id),
	    cur, sizeof(cur), e, sizeof(e)), 0);
	assert_string_equal(cur, "dGVhbTpDMDYx");
	assert_int_equal(slack_list_scan(1, 200, last, strlen(last), "procure", id, sizeof(id),
	    cur, sizeof(cur), e, sizeof(e)), 0);
	assert_string_equal(cur, "");
	assert_int_equal(slack_list_scan(1, 200, bad_id, strlen(bad_id), "procure", id,
	    sizeof(id), cur, sizeof(cur), e, sizeof(e)), -1);
	assert_int_equal(slack_list_scan(1, 200, scope, strlen(scope), "procure", id, sizeof(id),
	    cur, sizeof(cur), e, sizeof(e)), -1);
	assert_string_equal(e, "missing_scope");
	assert_int_equal(slack_list_scan(1, 429, "", 0, "procure", id, sizeof(id),
	    cur, sizeof(cur), e, sizeof(e)), -1);
	assert_int_equal(slack_list_scan(1, 200, "<html>", 6, "procure", id, sizeof(id),
	    cur, sizeof(cur), e, sizeof(e)), -1);
	assert_int_equal(slack_list_scan(1, 200, p1, strlen(p1), "procure", id, 5,
	    cur, sizeof(cur), e, sizeof(e)), -1);
	assert_int_equal(slack_list_scan(1, 200, more, strlen(more), "procure", id, sizeof(id),
	    cur, 4, e, sizeof(e)), -1);
	body = slack_list_body("dGVhbTpDMDYx");
	assert_non_null(body);
	assert_non_null(strstr(body, "cursor=dGVhbTpDMDYx"));
	assert_non_null(strstr(body, "limit=200"));
	free(body);
	assert_true(slack_channel_id_shape("C0ABCDEF12"));
	assert_true(slack_channel_id_shape("G0123456789"));
	assert_false(slack_channel_id_shape("#procure"));
	assert_false(slack_channel_id_shape("C0abcdef12"));
	assert_false(slack_channel_id_shape("C01"));
	assert_false(slack_channel_id_shape("Cprocure"));
}

static void
test_refresh_body_and_answer(void **state)
{
	const char *ans = "{\"ok\":true,\"access_token\":\"xoxe.xoxb-new\",\"refresh_token\":"
	    "\"xoxe-1-new\",\"expires_in\":43200,\"token_type\":\"bot\"}";
	const char *bad = "{\"ok\":false,\"error\":\"invalid_refresh_token\"}";
	char *b, *acc, *ref;
	long exp;
	struct mlc_err err;

	(void)state;
	b = slack_refresh_body("123.456", "s&cret", "xoxe-1-old");
	assert_non_null(b);
	assert_non_null(strstr(b, "grant_type=refresh_token"));
	assert_non_null(strstr(b, "refresh_token=xoxe-1-old"));
	assert_non_null(strstr(b, "client_secret=s%26cret"));
	free(b);
	assert_int_equal(slack_refresh_scan(200, ans, strlen(ans), &acc, &ref, &exp, &err), 0);
	assert_string_equal(acc, "xoxe.xoxb-new");
	assert_string_equal(ref, "xoxe-1-new");
	assert_int_equal(exp, 43200);
	free(acc);
	free(ref);
	assert_int_equal(slack_refresh_scan(200, bad, strlen(bad), &acc, &ref, &exp, &err), -1);
	assert_null(acc);
	assert_non_null(strstr(err.msg, "invalid_refresh_token"));
}

static void
test_scopes_header_tells_whether_history_is_readable(void **state)
{
	(void)state;
	assert_true(slack_scopes_allow_history(" chat:write,channels:history,channels:read"));
	assert_false(slack_scopes_allow_history(" chat:write,channels:read"));
	assert_false(slack_scopes_allow_history("chat:write,channels:history2"));
	assert_false(slack_scopes_allow_history(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_body_has_channel_text_blocks_and_metadata),
		cmocka_unit_test(test_post_body_embeds_blocks_as_array_not_string),
		cmocka_unit_test(test_post_body_refuses_invalid_blocks_json),
		cmocka_unit_test(test_every_documented_error_code_has_its_class),
		cmocka_unit_test(test_unknown_error_code_is_kept_and_not_retried_blindly),
		cmocka_unit_test(test_overlong_error_code_is_truncated_safely),
		cmocka_unit_test(test_429_waits_retry_after),
		cmocka_unit_test(test_429_without_retry_after_waits_at_least_one_second),
		cmocka_unit_test(test_5xx_with_html_is_retried_in_doubt),
		cmocka_unit_test(test_transport_error_before_sending_is_a_plain_retry),
		cmocka_unit_test(test_transport_error_after_sending_is_in_doubt),
		cmocka_unit_test(test_unreadable_200_is_in_doubt),
		cmocka_unit_test(test_ok_true_captures_ts),
		cmocka_unit_test(test_classify_reads_only_len_bytes),
		cmocka_unit_test(test_outcome_names_are_distinct),
		cmocka_unit_test(test_ok_true_captures_the_channel_id_for_history),
		cmocka_unit_test(test_history_body_asks_from_oldest_with_metadata_and_cursor),
		cmocka_unit_test(test_history_finds_the_message_by_msg_id_in_metadata),
		cmocka_unit_test(test_history_pages_with_the_next_cursor),
		cmocka_unit_test(test_history_errors_say_whether_to_give_up_or_ask_again),
		cmocka_unit_test(test_list_scan_finds_the_name_or_pages_on),
		cmocka_unit_test(test_refresh_body_and_answer),
		cmocka_unit_test(test_scopes_header_tells_whether_history_is_readable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
