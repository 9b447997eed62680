/*
 * slacksim faults: error codes, HTTP failures, resets, slow answers,
 * store-then-drop and 429 modes switched on per channel, token and method
 * while the simulator runs (POST /sim/fault, /sim/fault/clear), so a test
 * can make one channel misbehave while the others carry on.
 *
 * A short list behind a mutex: tests set a handful of faults at a time.
 */
#include "slacksim.h"

#include <stdlib.h>
#include <string.h>

#define SIM_MAX_FAULTS 256

struct sim_faults {
	pthread_mutex_t mu;
	struct sim_fault list[SIM_MAX_FAULTS];
	size_t n;
	unsigned seed;
};

struct sim_faults *
sim_faults_new(void)
{
	struct sim_faults *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	if (pthread_mutex_init(&f->mu, NULL) != 0) {
		free(f);
		return NULL;
	}
	f->seed = (unsigned)sim_now_wall_us();
	return f;
}

void
sim_faults_destroy(struct sim_faults **fp)
{
	if (fp == NULL || *fp == NULL)
		return;
	pthread_mutex_destroy(&(*fp)->mu);
	free(*fp);
	*fp = NULL;
}

/* "#Name" -> "name"; IDs (upper case) kept as they are. */
static int
norm_channel(const char *in, char *out, size_t outsz)
{
	size_t n = 0;
	int id = in[0] == 'C' || in[0] == 'G' || in[0] == 'D';

	if (*in == '#') {
		in++;
		id = 0;
	}
	if (id && !sim_channel_id_shape(in))
		id = 0;
	for (; *in != '\0'; in++) {
		char ch = *in;

		if (n + 1 >= outsz)
			return -1;
		if (!id && ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		out[n++] = ch;
	}
	out[n] = '\0';
	return 0;
}

static int
get_str(json_t *spec, const char *key, char *out, size_t outsz, struct mlc_err *err)
{
	json_t *v = json_object_get(spec, key);

	out[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= outsz)
		return mlc_err_set(err, "'%s' must be a string of at most %zu bytes", key,
		    outsz - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int
get_uint(json_t *spec, const char *key, uint64_t max, uint64_t *out, struct mlc_err *err)
{
	json_t *v = json_object_get(spec, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return mlc_err_set(err, "'%s' must be an integer 0..%llu", key,
		    (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int
sim_faults_add(struct sim_faults *f, json_t *spec, struct mlc_err *err)
{
	struct sim_fault x;
	char chan[96];
	json_t *v;
	uint64_t u;
	int kinds = 0;

	memset(&x, 0, sizeof(x));
	if (!json_is_object(spec))
		return mlc_err_set(err, "a fault is a JSON object");
	if (get_str(spec, "channel", chan, sizeof(chan), err) != 0 ||
	    get_str(spec, "token", x.token, sizeof(x.token), err) != 0 ||
	    get_str(spec, "method", x.method, sizeof(x.method), err) != 0)
		return -1;
	if (strcmp(chan, "*") != 0 && chan[0] != '\0' &&
	    norm_channel(chan, x.channel, sizeof(x.channel)) != 0)
		return mlc_err_set(err, "'channel' too long");
	if (x.method[0] == '\0')
		snprintf(x.method, sizeof(x.method), "chat.postMessage");
	x.count = -1;
	if ((v = json_object_get(spec, "count")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < -1 ||
		    json_integer_value(v) == 0 || json_integer_value(v) > 1000000000)
			return mlc_err_set(err, "'count' must be a positive integer or -1");
		x.count = (long)json_integer_value(v);
	}
	if (json_object_get(spec, "error") != NULL) {
		kinds++;
		x.kind = SIM_FAULT_ERROR;
		if (get_str(spec, "error", x.error, sizeof(x.error), err) != 0)
			return -1;
		if (x.error[0] == '\0')
			return mlc_err_set(err, "'error' must not be empty");
	}
	if (json_object_get(spec, "http") != NULL) {
		kinds++;
		x.kind = SIM_FAULT_HTTP;
		if (get_uint(spec, "http", 599, &u, err) != 0)
			return -1;
		if (u < 400)
			return mlc_err_set(err, "'http' must be 400..599");
		x.http = (unsigned)u;
	}
	if (json_object_get(spec, "reset") != NULL) {
		kinds++;
		x.kind = SIM_FAULT_RESET;
		if (!json_is_true(json_object_get(spec, "reset")))
			return mlc_err_set(err, "'reset' must be true");
	}
	if (json_object_get(spec, "slow_ms") != NULL) {
		kinds++;
		x.kind = SIM_FAULT_SLOW;
		if (get_uint(spec, "slow_ms", 600000, &x.slow_ms, err) != 0)
			return -1;
	}
	if (json_object_get(spec, "store_then_drop") != NULL) {
		kinds++;
		x.kind = SIM_FAULT_STORE_THEN_DROP;
		if (get_uint(spec, "store_then_drop", 100, &u, err) != 0)
			return -1;
		x.pct = (unsigned)u;
	}
	if ((v = json_object_get(spec, "ratelimit")) != NULL) {
		const char *m = json_string_value(v);

		kinds++;
		x.kind = SIM_FAULT_RATELIMIT;
		if (m != NULL && strcmp(m, "once") == 0) {
			x.rl_mode = SIM_RL_ONCE;
			if (json_object_get(spec, "count") == NULL)
				x.count = 1;
		} else if (m != NULL && strcmp(m, "always") == 0) {
			x.rl_mode = SIM_RL_ALWAYS;
		} else if (m != NULL && strcmp(m, "no_retry_after") == 0) {
			x.rl_mode = SIM_RL_NO_RETRY_AFTER;
		} else {
			return mlc_err_set(err, "'ratelimit' must be \"once\", \"always\" "
			    "or \"no_retry_after\"");
		}
		x.retry_after = 1;
		if (json_object_get(spec, "retry_after") != NULL) {
			if (get_uint(spec, "retry_after", 3600, &u, err) != 0)
				return -1;
			x.retry_after = (unsigned)u;
		}
	}
	if (kinds != 1)
		return mlc_err_set(err, "a fault needs exactly one of error, http, reset, "
		    "slow_ms, store_then_drop, ratelimit");
	pthread_mutex_lock(&f->mu);
	if (f->n == SIM_MAX_FAULTS) {
		pthread_mutex_unlock(&f->mu);
		return mlc_err_set(err, "at most %d faults", SIM_MAX_FAULTS);
	}
	f->list[f->n++] = x;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

void
sim_faults_clear(struct sim_faults *f)
{
	pthread_mutex_lock(&f->mu);
	f->n = 0;
	pthread_mutex_unlock(&f->mu);
}

static const char *
kind_name(enum sim_fault_kind k)
{
	switch (k) {
	case SIM_FAULT_ERROR: return "error";
	case SIM_FAULT_HTTP: return "http";
	case SIM_FAULT_RESET: return "reset";
	case SIM_FAULT_SLOW: return "slow_ms";
	case SIM_FAULT_STORE_THEN_DROP: return "store_then_drop";
	case SIM_FAULT_RATELIMIT: return "ratelimit";
	}
	return "?";
}

json_t *
sim_faults_json(struct sim_faults *f)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; arr != NULL && i < f->n; i++) {
		const struct sim_fault *x = &f->list[i];

		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:I, s:i}",
		    "kind", kind_name(x->kind), "method", x->method,
		    "channel", x->channel[0] ? x->channel : "*",
		    "count", (json_int_t)x->count, "error", x->error, "http", (int)x->http,
		    "slow_ms", (json_int_t)x->slow_ms, "pct", (int)x->pct));
	}
	pthread_mutex_unlock(&f->mu);
	return json_pack("{s:o}", "faults", arr != NULL ? arr : json_array());
}

int
sim_faults_take(struct sim_faults *f, const char *method, const char *chan_id,
    const char *chan_name, const char *token, struct sim_fault *out)
{
	int rc = 0;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n; i++) {
		struct sim_fault *x = &f->list[i];

		if (strcmp(x->method, "*") != 0 && strcmp(x->method, method) != 0)
			continue;
		if (x->channel[0] != '\0' && strcmp(x->channel, chan_id) != 0 &&
		    strcmp(x->channel, chan_name) != 0)
			continue;
		if (x->token[0] != '\0' && (token == NULL || strcmp(x->token, token) != 0))
			continue;
		if (x->kind == SIM_FAULT_STORE_THEN_DROP &&
		    (unsigned)(rand_r(&f->seed) % 100) >= x->pct)
			continue;
		*out = *x;
		rc = 1;
		if (x->count > 0 && --x->count == 0) {
			memmove(x, x + 1, (f->n - i - 1) * sizeof(*x));
			f->n--;
		}
		break;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}
