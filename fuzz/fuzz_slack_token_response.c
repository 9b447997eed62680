/*
 * Fuzz target: the Slack token rotation answer parser
 * (dispatcher/slack_api.c slack_refresh_scan, oauth.v2.access). The X3
 * token answer is parsed inside a static function of poller/x3_auth.c and
 * has no target yet (docs/fuzzing.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slack_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *access = NULL, *refresh = NULL;
	long exp = 0, status;
	struct mlc_err err;

	if (size < 1)
		return 0;
	status = data[0] < 200 ? 200 : (long)data[0] * 2;      /* mostly 200 */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (slack_refresh_scan(status, copy, size - 1, &access, &refresh, &exp, &err) == 0) {
		if (access == NULL || refresh == NULL)
			abort();        /* success must hand both tokens */
	}
	free(access);
	free(refresh);
	free(copy);
	return 0;
}
