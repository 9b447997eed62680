/*
 * Fuzz target: the X3 GraphQL page parser (poller/x3_graphql.c), then the
 * GL line grouping that runs on what it returns (finding 2 in
 * docs/fuzzing.md, fixed; its input is in corpus/graphql_page/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "x3_graphql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mlc_cfg_entity e[2];
	struct x3_page page, carry;
	struct mlc_err err;
	char *copy;
	int which;

	if (size < 1)
		return 0;
	if (e[0].name[0] == '\0') {
		strcpy(e[0].name, "purchase_order");
		strcpy(e[0].kind, "purchase_order");
		strcpy(e[0].api, "graphql");
		strcpy(e[0].key_field, "id");
		strcpy(e[0].graphql_key, "id");
		strcpy(e[0].stamp_field, "_updateStamp");
		strcpy(e[0].graphql_root, "xtremX3Purchasing");
		strcpy(e[0].graphql_node, "purchaseOrder");
		e[0].enabled = 1;
		e[1] = e[0];
		strcpy(e[1].name, "gl_entry");
		strcpy(e[1].kind, "gl_entry");
		strcpy(e[1].graphql_key, "journalEntry");
		strcpy(e[1].key_field, "journalEntry");
		strcpy(e[1].graphql_root, "xtremX3Finance");
		strcpy(e[1].graphql_node, "journalEntryLine");
	}
	/* First byte: which entity kind (GL pages are grouped afterwards). */
	which = data[0] & 1;
	data++;
	size--;
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(&page, 0, sizeof(page));
	memset(&carry, 0, sizeof(carry));
	if (x3_gql_parse_page(copy, size, &e[which], &page, &err) == 0) {
		if (which == 1)
			(void)x3_gql_group_lines(&page, &carry, page.has_next, &err);
		x3_page_free(&page);
		x3_page_free(&carry);
	}
	free(copy);
	return 0;
}
