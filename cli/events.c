/* Printing and filtering audit events for `mlc tail` and `mlc audit`. */
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"

static const char *
str_or(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "?";
}

void
cli_print_event_line(const char *json)
{
	json_error_t je;
	json_t *o = json_loads(json, 0, &je);
	const char *k;
	json_t *v;

	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
	printf("%s %-13s %-6s", str_or(o, "at"), str_or(o, "from"), str_or(o, "kind"));
	json_object_foreach(o, k, v) {
		if (strcmp(k, "at") == 0 || strcmp(k, "from") == 0 ||
		    strcmp(k, "kind") == 0 || strcmp(k, "id") == 0 ||
		    strcmp(k, "jseq") == 0 || strcmp(k, "blocks") == 0)
			continue;
		/* Long values (a failed post's text) are cut: --json has them whole. */
		if (json_is_string(v) && strlen(json_string_value(v)) > 100)
			printf(" %s=%.97s...", k, json_string_value(v));
		else if (json_is_string(v))
			printf(" %s=%s", k, json_string_value(v));
		else if (json_is_integer(v))
			printf(" %s=%lld", k, (long long)json_integer_value(v));
	}
	putchar('\n');
	fflush(stdout);
	json_decref(o);
}

int
cli_event_matches(const char *json, int errors_only, const char *entity,
    const char *channel)
{
	json_error_t je;
	json_t *o = json_loads(json, 0, &je);
	const char *kind, *outcome, *s;
	int ok = 1;

	if (!json_is_object(o)) {
		json_decref(o);
		return 0;
	}
	kind = json_string_value(json_object_get(o, "kind"));
	outcome = json_string_value(json_object_get(o, "outcome"));
	if (errors_only) {
		ok = (kind && (strcmp(kind, "error") == 0 || strcmp(kind, "alert") == 0)) ||
		    (outcome && strcmp(outcome, "ok") != 0 && strcmp(outcome, "posted") != 0 &&
		    strcmp(outcome, "sent") != 0) ||
		    json_object_get(o, "error") != NULL;
	}
	if (ok && entity != NULL) {
		s = json_string_value(json_object_get(o, "entity"));
		ok = s && strcmp(s, entity) == 0;
	}
	if (ok && channel != NULL) {
		s = json_string_value(json_object_get(o, "channel"));
		ok = s && strcmp(s, channel) == 0;
	}
	json_decref(o);
	return ok;
}
