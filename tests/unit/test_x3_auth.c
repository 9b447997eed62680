/* Unit tests for poller/x3_auth timing: when an access token is refreshed
 * (never after it expires) and when the refresh token's expiry warnings are
 * due. The token store itself: test_token_stores.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token_store.h"
#include "x3_auth.h"

#define S 1000LL
#define D (86400 * S)

static void
test_five_minute_token_is_refreshed_a_margin_before_expiry(void **state)
{
	(void)state;
	assert_int_equal(x3_token_refresh_at(0, 300 * S, 60 * S), 240 * S);
}

static void
test_short_token_is_refreshed_at_half_life_never_after_expiry(void **state)
{
	(void)state;
	/* 3 s token, 60 s margin: refresh after 1.5 s, not "57 s ago" */
	assert_int_equal(x3_token_refresh_at(10 * S, 13 * S, 60 * S), 11500);
	for (int64_t life = 1; life < 1000 * S; life += 777) {
		int64_t r = x3_token_refresh_at(5000, 5000 + life, 60 * S);

		assert_true(r >= 5000);
		assert_true(r < 5000 + life);
	}
	/* an already expired token: refresh now */
	assert_int_equal(x3_token_refresh_at(10 * S, 9 * S, 60 * S), 10 * S);
}

static void
test_expiry_warnings_are_due_once_each_at_7_and_1_days(void **state)
{
	int64_t g = 1000 * D, ttl = 30 * D;

	(void)state;
	assert_int_equal(x3_token_warning_due(g, ttl, 7 * D, 1 * D, 0, g + 22 * D), 0);
	assert_int_equal(x3_token_warning_due(g, ttl, 7 * D, 1 * D, 0, g + 23 * D), 1);
	assert_int_equal(x3_token_warning_due(g, ttl, 7 * D, 1 * D, 1, g + 25 * D), 0);
	assert_int_equal(x3_token_warning_due(g, ttl, 7 * D, 1 * D, 1, g + 29 * D), 2);
	assert_int_equal(x3_token_warning_due(g, ttl, 7 * D, 1 * D, 3, g + 29 * D + 1), 0);
	/* both passed at once (poller was down): only the last one */
	assert_int_equal(x3_token_warning_due(g, ttl, 7 * D, 1 * D, 0, g + 29 * D + 5), 2);
	/* no grant known: nothing */
	assert_int_equal(x3_token_warning_due(0, ttl, 7 * D, 1 * D, 0, g), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_five_minute_token_is_refreshed_a_margin_before_expiry),
		cmocka_unit_test(test_short_token_is_refreshed_at_half_life_never_after_expiry),
		cmocka_unit_test(test_expiry_warnings_are_due_once_each_at_7_and_1_days),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
