/*
 * slacksim store: what the simulator remembers between requests - channels
 * (name <-> ID), the messages it accepted and a log of every API call - and
 * the documents the /sim routes and conversations.* are built from.
 *
 * Everything sits behind one mutex: requests are short and the simulator's
 * job is to be right, not fast. Everything is bounded: channels by
 * SIM_MAX_CHANNELS (open-addressing indexes allocated once), messages and
 * calls by rings that drop the oldest entry and count the drops, so a long
 * soak run cannot exhaust memory.
 *
 * Messages are kept in arrival order in one ring; history scans it backwards.
 * That is O(stored messages) per call, which is fine at simulator scale and
 * keeps eviction trivial.
 */
#include "slacksim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a ring of fixed-size elements that grows up to a maximum ---------- */

struct ring {
	unsigned char *buf;
	size_t elsz;
	size_t cap;    /* allocated elements */
	size_t head;   /* index of the oldest element */
	size_t len;
	size_t max;
};

static void *
ring_at(const struct ring *r, size_t i)
{
	return r->buf + ((r->head + i) % r->cap) * r->elsz;
}

/* Makes room for one more element, growing (and unwrapping) if allowed.
 * Returns 0, or -1 when full at max (caller drops the oldest first) or out
 * of memory. */
static int
ring_grow(struct ring *r)
{
	unsigned char *nb;
	size_t ncap;

	if (r->len < r->cap)
		return 0;
	if (r->cap >= r->max)
		return -1;
	ncap = r->cap == 0 ? 1024 : r->cap * 2;
	if (ncap > r->max)
		ncap = r->max;
	nb = malloc(ncap * r->elsz);
	if (nb == NULL)
		return -1;
	for (size_t i = 0; i < r->len; i++)
		memcpy(nb + i * r->elsz, ring_at(r, i), r->elsz);
	free(r->buf);
	r->buf = nb;
	r->cap = ncap;
	r->head = 0;
	return 0;
}

static void
ring_drop_oldest(struct ring *r)
{
	if (r->len == 0)
		return;
	r->head = (r->head + 1) % r->cap;
	r->len--;
}

static void *
ring_push(struct ring *r)
{
	void *slot;

	if (ring_grow(r) != 0)
		return NULL;
	slot = r->buf + ((r->head + r->len) % r->cap) * r->elsz;
	r->len++;
	return slot;
}

static void
ring_free(struct ring *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->head = r->len = 0;
}

/* ---- the store ----------------------------------------------------------- */

#define IDX_SLOTS (1u << 18)  /* > 2 * SIM_MAX_CHANNELS: short probe chains */

struct channel {
	char id[SIM_CHANNEL_ID_MAX + 1];
	char name[SIM_CHANNEL_NAME_MAX + 1];
	uint64_t last_ts_us;
	uint64_t created_s;
};

struct msg {
	uint32_t chan;          /* index into channels */
	uint64_t ts_us;
	uint64_t received_ms;
	char *text;
	char *blocks;           /* compact JSON or NULL */
	char *metadata;         /* compact JSON or NULL */
	size_t bytes;
};

struct sim_store {
	pthread_mutex_t mu;
	int print;
	struct channel *chans;  /* SIM_MAX_CHANNELS, allocated once */
	uint32_t nchans;
	int32_t *by_name;       /* IDX_SLOTS, -1 = empty */
	int32_t *by_id;
	struct ring msgs;       /* struct msg */
	size_t msg_bytes;
	struct ring calls;      /* struct sim_call */
	uint64_t posted, ratelimited, ncalls, dropped_msgs, dropped_calls;
};

static uint64_t
fnv1a(const char *s, unsigned salt)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	for (unsigned i = 0; i < 4; i++) {
		h ^= (salt >> (8 * i)) & 0xffu;
		h *= 1099511628211ULL;
	}
	return h;
}

void
sim_channel_id_derive(const char *name, unsigned salt,
    char out[SIM_CHANNEL_ID_MAX + 1])
{
	static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint64_t h = fnv1a(name, salt);

	out[0] = 'C';
	for (int i = 1; i <= 10; i++) {
		out[i] = alnum[h % 36];
		h /= 36;
	}
	out[11] = '\0';
}

int
sim_channel_id_shape(const char *arg)
{
	size_t n;

	if (arg[0] != 'C' && arg[0] != 'G' && arg[0] != 'D')
		return 0;
	for (n = 1; arg[n] != '\0'; n++)
		if (!((arg[n] >= 'A' && arg[n] <= 'Z') ||
		    (arg[n] >= '0' && arg[n] <= '9')))
			return 0;
	return n >= 9 && n <= SIM_CHANNEL_ID_MAX;
}

/* Normalises "#Name" / "name" into out; 0, or -1 if not a channel name we
 * accept (Slack: lower case, no spaces or punctuation beyond - _ ., <= 80). */
static int
normalise_name(const char *arg, char out[SIM_CHANNEL_NAME_MAX + 1])
{
	size_t n = 0;

	if (*arg == '#')
		arg++;
	for (; *arg != '\0'; arg++) {
		unsigned char c = (unsigned char)*arg;

		if (n >= SIM_CHANNEL_NAME_MAX)
			return -1;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c >= 0x80))
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return n == 0 ? -1 : 0;
}

static int32_t
idx_find(const struct sim_store *st, const int32_t *idx, const char *key,
    int by_name)
{
	size_t slot = (size_t)(fnv1a(key, 0) & (IDX_SLOTS - 1));

	for (;;) {
		int32_t ci = idx[slot];

		if (ci < 0)
			return -1;
		if (strcmp(by_name ? st->chans[ci].name : st->chans[ci].id,
		    key) == 0)
			return ci;
		slot = (slot + 1) & (IDX_SLOTS - 1);
	}
}

static void
idx_insert(int32_t *idx, const char *key, int32_t ci)
{
	size_t slot = (size_t)(fnv1a(key, 0) & (IDX_SLOTS - 1));

	while (idx[slot] >= 0)
		slot = (slot + 1) & (IDX_SLOTS - 1);
	idx[slot] = ci;
}

static void
msg_free(struct msg *m)
{
	free(m->text);
	free(m->blocks);
	free(m->metadata);
}

static void
store_clear(struct sim_store *st)
{
	for (size_t i = 0; i < st->msgs.len; i++)
		msg_free(ring_at(&st->msgs, i));
	ring_free(&st->msgs);
	ring_free(&st->calls);
	st->msg_bytes = 0;
	st->nchans = 0;
	memset(st->by_name, 0xff, IDX_SLOTS * sizeof(int32_t));
	memset(st->by_id, 0xff, IDX_SLOTS * sizeof(int32_t));
	st->posted = st->ratelimited = st->ncalls = 0;
	st->dropped_msgs = st->dropped_calls = 0;
}

struct sim_store *
sim_store_new(int print, struct mlc_err *err)
{
	struct sim_store *st = calloc(1, sizeof(*st));

	if (st == NULL)
		goto nomem;
	st->print = print;
	st->chans = calloc(SIM_MAX_CHANNELS, sizeof(*st->chans));
	st->by_name = malloc(IDX_SLOTS * sizeof(int32_t));
	st->by_id = malloc(IDX_SLOTS * sizeof(int32_t));
	if (st->chans == NULL || st->by_name == NULL || st->by_id == NULL)
		goto nomem;
	if (pthread_mutex_init(&st->mu, NULL) != 0)
		goto nomem;
	st->msgs.elsz = sizeof(struct msg);
	st->msgs.max = SIM_MAX_MESSAGES;
	st->calls.elsz = sizeof(struct sim_call);
	st->calls.max = SIM_MAX_CALLS;
	store_clear(st);
	return st;
nomem:
	if (st != NULL) {
		free(st->chans);
		free(st->by_name);
		free(st->by_id);
		free(st);
	}
	mlc_err_set(err, "slacksim: out of memory allocating the store");
	return NULL;
}

void
sim_store_destroy(struct sim_store **stp)
{
	struct sim_store *st;

	if (stp == NULL || *stp == NULL)
		return;
	st = *stp;
	store_clear(st);
	pthread_mutex_destroy(&st->mu);
	free(st->chans);
	free(st->by_name);
	free(st->by_id);
	free(st);
	*stp = NULL;
}

void
sim_store_reset(struct sim_store *st)
{
	pthread_mutex_lock(&st->mu);
	store_clear(st);
	pthread_mutex_unlock(&st->mu);
}

enum sim_resolve
sim_store_resolve(struct sim_store *st, const char *arg, int create,
    struct sim_channel_ref *out)
{
	char name[SIM_CHANNEL_NAME_MAX + 1];
	enum sim_resolve rc = SIM_RESOLVE_NOT_FOUND;
	struct channel *ch;
	int32_t ci;

	pthread_mutex_lock(&st->mu);
	if (sim_channel_id_shape(arg)) {
		ci = idx_find(st, st->by_id, arg, 0);
		if (ci >= 0)
			goto found;
		goto out;
	}
	if (normalise_name(arg, name) != 0)
		goto out;
	ci = idx_find(st, st->by_name, name, 1);
	if (ci >= 0)
		goto found;
	if (!create)
		goto out;
	if (st->nchans >= SIM_MAX_CHANNELS) {
		rc = SIM_RESOLVE_FULL;
		goto out;
	}
	ci = (int32_t)st->nchans++;
	ch = &st->chans[ci];
	memset(ch, 0, sizeof(*ch));
	memcpy(ch->name, name, sizeof(ch->name));
	/* Two names hashing to one ID would be two channels sharing a history:
	 * re-derive with a salt until the ID is free. */
	for (unsigned salt = 0;; salt++) {
		sim_channel_id_derive(name, salt, ch->id);
		if (idx_find(st, st->by_id, ch->id, 0) < 0)
			break;
	}
	ch->created_s = sim_now_wall_ms() / 1000;
	idx_insert(st->by_name, ch->name, ci);
	idx_insert(st->by_id, ch->id, ci);
found:
	ch = &st->chans[ci];
	memcpy(out->id, ch->id, sizeof(out->id));
	memcpy(out->name, ch->name, sizeof(out->name));
	rc = SIM_RESOLVE_OK;
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void
sim_ts_format(uint64_t us, char out[SIM_TS_LEN + 1])
{
	snprintf(out, SIM_TS_LEN + 1, "%010" PRIu64 ".%06" PRIu64,
	    (us / 1000000u) % 10000000000u, us % 1000000u);
}

int
sim_ts_parse(const char *s, uint64_t *us)
{
	uint64_t sec = 0, frac = 0;
	size_t i = 0, nd = 0, nf = 0;

	for (; s[i] >= '0' && s[i] <= '9'; i++, nd++) {
		if (nd >= 10)
			return -1;
		sec = sec * 10 + (uint64_t)(s[i] - '0');
	}
	if (nd == 0)
		return -1;
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++, nf++) {
			if (nf >= 6)
				return -1;
			frac = frac * 10 + (uint64_t)(s[i] - '0');
		}
		for (size_t k = nf; k < 6; k++)
			frac *= 10;
	}
	if (s[i] != '\0')
		return -1;
	*us = sec * 1000000u + frac;
	return 0;
}

static void
print_message(const struct channel *ch, const char *text)
{
	/* One message, one line: a watcher must not be fooled by a text
	 * holding newlines into seeing two messages. */
	flockfile(stdout);
	printf("[#%s] ", ch->name);
	if (text == NULL || *text == '\0')
		fputs("(blocks only)", stdout);
	for (const char *p = text; p != NULL && *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		putchar_unlocked(c < 0x20 || c == 0x7f ? ' ' : c);
	}
	putchar_unlocked('\n');
	fflush(stdout);
	funlockfile(stdout);
}

int
sim_store_post(struct sim_store *st, const char *id,
    const struct sim_post *post, uint64_t now_us,
    char ts_out[SIM_TS_LEN + 1], struct mlc_err *err)
{
	struct msg m = { 0 }, *slot;
	struct channel *ch;
	int32_t ci;
	int rc = -1;

	m.text = strdup(post->text != NULL ? post->text : "");
	m.blocks = post->blocks != NULL ? strdup(post->blocks) : NULL;
	m.metadata = post->metadata != NULL ? strdup(post->metadata) : NULL;
	if (m.text == NULL || (post->blocks != NULL && m.blocks == NULL) ||
	    (post->metadata != NULL && m.metadata == NULL)) {
		mlc_err_set(err, "slacksim: out of memory storing a message");
		msg_free(&m);
		return -1;
	}
	m.bytes = strlen(m.text) + (m.blocks ? strlen(m.blocks) : 0) +
	    (m.metadata ? strlen(m.metadata) : 0) + sizeof(m);
	m.received_ms = now_us / 1000;

	pthread_mutex_lock(&st->mu);
	ci = idx_find(st, st->by_id, id, 0);
	if (ci < 0) {
		mlc_err_set(err, "slacksim: channel %s vanished (reset?)", id);
		goto out;
	}
	ch = &st->chans[ci];
	while (st->msgs.len > 0 && (st->msgs.len >= SIM_MAX_MESSAGES ||
	    st->msg_bytes + m.bytes > SIM_MAX_MESSAGE_BYTES)) {
		struct msg *old = ring_at(&st->msgs, 0);

		st->msg_bytes -= old->bytes;
		msg_free(old);
		ring_drop_oldest(&st->msgs);
		st->dropped_msgs++;
	}
	slot = ring_push(&st->msgs);
	if (slot == NULL) {
		mlc_err_set(err, "slacksim: out of memory growing the message log");
		goto out;
	}
	m.chan = (uint32_t)ci;
	m.ts_us = now_us > ch->last_ts_us ? now_us : ch->last_ts_us + 1;
	ch->last_ts_us = m.ts_us;
	*slot = m;
	st->msg_bytes += m.bytes;
	st->posted++;
	sim_ts_format(m.ts_us, ts_out);
	if (st->print)
		print_message(ch, m.text);
	rc = 0;
out:
	pthread_mutex_unlock(&st->mu);
	if (rc != 0)
		msg_free(&m);
	return rc;
}

void
sim_store_record_call(struct sim_store *st, const struct sim_call *c)
{
	struct sim_call *slot;

	pthread_mutex_lock(&st->mu);
	st->ncalls++;
	if (c->status == 429)
		st->ratelimited++;
	if (st->calls.len >= SIM_MAX_CALLS) {
		ring_drop_oldest(&st->calls);
		st->dropped_calls++;
	}
	slot = ring_push(&st->calls);
	if (slot != NULL)
		*slot = *c;
	else
		st->dropped_calls++;
	pthread_mutex_unlock(&st->mu);
}

/* Parses stored compact JSON back into a value; JSON null if absent. */
static json_t *
json_or_null(const char *s)
{
	json_t *v;

	if (s == NULL)
		return json_null();
	v = json_loads(s, JSON_DECODE_ANY, NULL);
	return v != NULL ? v : json_null();
}

int
sim_store_history(struct sim_store *st, const char *id,
    const struct sim_history_q *q, json_t *messages, int *has_more,
    uint64_t *next_us, struct mlc_err *err)
{
	char ts[SIM_TS_LEN + 1];
	size_t n = 0;
	int32_t ci;
	int rc = -1;

	*has_more = 0;
	pthread_mutex_lock(&st->mu);
	ci = idx_find(st, st->by_id, id, 0);
	if (ci < 0) {
		mlc_err_set(err, "slacksim: unknown channel %s", id);
		goto out;
	}
	for (size_t i = st->msgs.len; i-- > 0;) {
		const struct msg *m = ring_at(&st->msgs, i);
		json_t *o;

		if (m->chan != (uint32_t)ci || m->ts_us > q->before_us)
			continue;
		if (q->inclusive ? m->ts_us > q->latest_us :
		    m->ts_us >= q->latest_us)
			continue;
		/* Per channel, ts falls with the index: nothing older can match. */
		if (q->inclusive ? m->ts_us < q->oldest_us :
		    m->ts_us <= q->oldest_us)
			break;
		if (n == q->limit) {
			*has_more = 1;
			*next_us = m->ts_us;
			break;
		}
		sim_ts_format(m->ts_us, ts);
		o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "message",
		    "user", SIM_USER_ID, "bot_id", SIM_BOT_ID, "text", m->text,
		    "ts", ts);
		if (o == NULL)
			goto nomem;
		if (m->blocks != NULL)
			json_object_set_new(o, "blocks", json_or_null(m->blocks));
		if (q->with_metadata && m->metadata != NULL)
			json_object_set_new(o, "metadata",
			    json_or_null(m->metadata));
		if (json_array_append_new(messages, o) != 0)
			goto nomem;
		n++;
	}
	rc = 0;
	goto out;
nomem:
	mlc_err_set(err, "slacksim: out of memory building history");
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

json_t *
sim_store_channel_json(struct sim_store *st, const char *id)
{
	json_t *o = NULL;
	int32_t ci;

	pthread_mutex_lock(&st->mu);
	ci = idx_find(st, st->by_id, id, 0);
	if (ci >= 0) {
		const struct channel *ch = &st->chans[ci];

		o = json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:I}",
		    "id", ch->id, "name", ch->name, "is_channel", 1,
		    "is_private", 0, "is_member", 1, "is_archived", 0,
		    "created", (json_int_t)ch->created_s);
	}
	pthread_mutex_unlock(&st->mu);
	return o;
}

/* Channels [start, start + limit) in creation order, as conversations.list
 * gives them; *next is the index to continue from, 0 when none is left. */
json_t *
sim_store_channels_json(struct sim_store *st, size_t start, size_t limit,
    size_t *next)
{
	json_t *arr = json_array();
	size_t i;

	*next = 0;
	if (arr == NULL)
		return NULL;
	pthread_mutex_lock(&st->mu);
	for (i = start; i < st->nchans && i - start < limit; i++) {
		const struct channel *ch = &st->chans[i];

		json_array_append_new(arr, json_pack(
		    "{s:s, s:s, s:b, s:b, s:b, s:b, s:I}",
		    "id", ch->id, "name", ch->name, "is_channel", 1,
		    "is_private", 0, "is_member", 1, "is_archived", 0,
		    "created", (json_int_t)ch->created_s));
	}
	if (i < st->nchans)
		*next = i;
	pthread_mutex_unlock(&st->mu);
	return arr;
}

json_t *
sim_store_messages_json(struct sim_store *st, const char *channel_id,
    size_t limit)
{
	char ts[SIM_TS_LEN + 1];
	json_t *arr = json_array(), *doc = NULL;
	size_t start = 0, matched = 0;
	int32_t ci = -1;

	if (arr == NULL)
		return NULL;
	pthread_mutex_lock(&st->mu);
	if (channel_id != NULL) {
		ci = idx_find(st, st->by_id, channel_id, 0);
		if (ci < 0)
			goto done;  /* unknown channel: no messages */
	}
	/* With a limit, find where the latest `limit` matches begin. */
	if (limit > 0) {
		start = st->msgs.len;
		while (start > 0 && matched < limit) {
			const struct msg *m = ring_at(&st->msgs, start - 1);

			if (ci < 0 || m->chan == (uint32_t)ci)
				matched++;
			start--;
		}
	}
	for (size_t i = start; i < st->msgs.len; i++) {
		const struct msg *m = ring_at(&st->msgs, i);
		const struct channel *ch = &st->chans[m->chan];
		json_t *o;

		if (ci >= 0 && m->chan != (uint32_t)ci)
			continue;
		sim_ts_format(m->ts_us, ts);
		o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I}",
		    "channel", ch->id, "channel_name", ch->name, "ts", ts,
		    "text", m->text, "blocks", json_or_null(m->blocks),
		    "metadata", json_or_null(m->metadata),
		    "received_at_ms", (json_int_t)m->received_ms);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto fail;
	}
done:
	doc = json_pack("{s:o, s:I}", "messages", arr, "dropped",
	    (json_int_t)st->dropped_msgs);
	arr = NULL;
fail:
	pthread_mutex_unlock(&st->mu);
	json_decref(arr);
	return doc;
}

json_t *
sim_store_calls_json(struct sim_store *st, size_t limit)
{
	json_t *arr = json_array(), *doc = NULL;
	size_t start = 0;

	if (arr == NULL)
		return NULL;
	pthread_mutex_lock(&st->mu);
	if (limit > 0 && st->calls.len > limit)
		start = st->calls.len - limit;
	for (size_t i = start; i < st->calls.len; i++) {
		const struct sim_call *c = ring_at(&st->calls, i);
		json_t *o;

		o = json_pack("{s:s, s:i, s:b, s:o, s:o, s:I, s:o, s:{s:i, s:i, s:b, s:o},"
		    " s:o, s:b}",
		    "method", c->method, "status", (int)c->status, "ok", c->ok,
		    "error", c->error[0] ? json_string(c->error) : json_null(),
		    "channel", c->channel[0] ? json_string(c->channel) :
		    json_null(), "at_ms", (json_int_t)c->at_ms,
		    "headers", json_or_null(c->headers),
		    "body", "text_chars", (int)c->text_chars, "blocks", (int)c->n_blocks,
		    "metadata", c->has_metadata,
		    "msg_id", c->msg_id[0] ? json_string(c->msg_id) : json_null(),
		    "fault", c->fault[0] ? json_string(c->fault) : json_null(),
		    "dropped", c->dropped);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto fail;
	}
	doc = json_pack("{s:o, s:I}", "calls", arr, "dropped",
	    (json_int_t)st->dropped_calls);
	arr = NULL;
fail:
	pthread_mutex_unlock(&st->mu);
	json_decref(arr);
	return doc;
}

json_t *
sim_store_stats_json(struct sim_store *st)
{
	json_t *doc;

	pthread_mutex_lock(&st->mu);
	doc = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "posted", (json_int_t)st->posted,
	    "ratelimited", (json_int_t)st->ratelimited,
	    "calls", (json_int_t)st->ncalls,
	    "stored_messages", (json_int_t)st->msgs.len,
	    "dropped_messages", (json_int_t)st->dropped_msgs,
	    "dropped_calls", (json_int_t)st->dropped_calls,
	    "channels", (json_int_t)st->nchans);
	pthread_mutex_unlock(&st->mu);
	return doc;
}
