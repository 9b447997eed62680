/*
 * Fuzz target: the configuration loader (common/mlc_cfg.c) on arbitrary
 * YAML. Config files come from operators, not attackers, but a loader that
 * crashes on a typo is a loader nobody trusts.
 *
 * The copy holds exactly `size` bytes with no NUL after them, so ASan
 * catches any read past len (finding 1 in docs/fuzzing.md, fixed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mlc_cfg cfg;
	struct mlc_err err;
	char *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	(void)mlc_cfg_load_string(&cfg, copy, size, "fuzz.yaml", &err);
	free(copy);
	return 0;
}
