/* mlc_topo: see mlc_topo.h. */
#include "mlc_topo.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
mlc_topo_ack_endpoint(void *arg, const char *peer)
{
	const struct mlc_cfg *cfg = arg;

	if (strcmp(peer, "poller") == 0)
		return cfg->ep.poller_ack;
	if (strcmp(peer, "formatter") == 0)
		return cfg->ep.formatter_ack;
	if (strcmp(peer, "auditor") == 0)
		return cfg->ep.auditor_ack;
	if (strncmp(peer, "dispatcher-", 11) == 0) {
		char *end;
		unsigned long i = strtoul(peer + 11, &end, 10);
		if (*end == '\0' && end != peer + 11 && i < cfg->ep.n_dispatchers)
			return cfg->ep.dispatchers[i].ack;
	}
	return NULL;
}

void
mlc_topo_dispatcher_name(size_t i, char *out, size_t outsz)
{
	snprintf(out, outsz, "dispatcher-%zu", i);
}

size_t
mlc_topo_dispatcher_for(const struct mlc_cfg *cfg, const char *channel)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)channel; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return cfg->ep.n_dispatchers ? h % cfg->ep.n_dispatchers : 0;
}

void
mlc_topo_custody_opts(const struct mlc_cfg *cfg, struct mlc_custody_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->resend_after_ms = cfg->resend_after_ms;
	o->max_frame = cfg->max_frame_bytes;
}

int
mlc_topo_state_path(const struct mlc_cfg *cfg, const char *process,
    char *out, size_t outsz)
{
	if ((size_t)snprintf(out, outsz, "%s/%s", cfg->state_dir, process) >= outsz)
		return -1;
	return 0;
}
