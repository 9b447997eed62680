/*
 * Fuzz target: the X3 api1 page parser (poller/x3_api1.c), which reads
 * whatever an X3 server, or anything pretending to be one, sends back.
 * Built as a libFuzzer target (fuzz/run.sh) and as a corpus replay under
 * gcc + ASan/UBSan (ctest fuzz.x3_api1_page).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "x3_api1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mlc_cfg_entity e = {
		.name = "purchase_order", .class_name = "PORDER",
		.representation = "PORDER", .key_field = "POHNUM",
		.stamp_field = "UPDDATTIM", .enabled = 1,
	};
	struct x3_page page;
	struct mlc_err err;
	/* An exact-size copy without a NUL, so a read past len is caught. */
	char *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(&page, 0, sizeof(page));
	if (x3_api1_parse_page(copy, size, &e, "http://127.0.0.1:8124", &page, &err) == 0)
		x3_page_free(&page);
	free(copy);
	return 0;
}
