/*
 * Fuzz target: the frame decoder (proto/mlc_proto.c), which every process
 * runs on every ZeroMQ frame it receives. A frame that decodes must also
 * encode again (the decoder accepts only what the encoder could produce)
 * and decode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlc_frame f, g;
	struct mlc_err err;
	char *copy = malloc(size ? size : 1), *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(&f, 0, sizeof(f));
	memset(&g, 0, sizeof(g));
	if (mlc_proto_decode(copy, size, &f, &err) == 0) {
		if (mlc_proto_encode(&f, &buf, &len, &err) != 0)
			abort();        /* decoded but not encodable: the rules differ */
		if (mlc_proto_decode(buf, len, &g, &err) != 0)
			abort();
		if (mlc_proto_encode(&g, &buf2, &len2, &err) != 0 || len2 != len ||
		    memcmp(buf, buf2, len) != 0)
			abort();        /* encoding is not deterministic */
		mlc_frame_free(&g);
	}
	mlc_frame_free(&f);
	free(buf);
	free(buf2);
	free(copy);
	return 0;
}
