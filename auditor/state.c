/* state: see state.h. */
#include "state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "mlc_time.h"

/* Bucket bounds in milliseconds (printed in seconds). */
static const int64_t bucket_ms[AUD_HIST_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000
};

void
aud_state_init(struct aud_state *s)
{
	memset(s, 0, sizeof(*s));
}

static void
copy(char *dst, size_t dsz, const char *src)
{
	snprintf(dst, dsz, "%s", src != NULL ? src : "");
}

static struct aud_entity_st *
ent_get(struct aud_state *s, const char *name)
{
	for (size_t i = 0; i < s->n_ent; i++)
		if (strcmp(s->ent[i].name, name) == 0)
			return &s->ent[i];
	if (s->n_ent == AUD_MAX_ENT || strlen(name) >= sizeof(s->ent[0].name))
		return NULL;
	memset(&s->ent[s->n_ent], 0, sizeof(s->ent[0]));
	copy(s->ent[s->n_ent].name, sizeof(s->ent[0].name), name);
	s->ent[s->n_ent].wm_stamp_s = -1;
	return &s->ent[s->n_ent++];
}

static struct aud_channel_st *
chan_get(struct aud_state *s, const char *name)
{
	for (size_t i = 0; i < s->n_chan; i++)
		if (strcmp(s->chan[i].name, name) == 0)
			return &s->chan[i];
	if (s->n_chan == AUD_MAX_CHAN || strlen(name) >= sizeof(s->chan[0].name))
		return NULL;
	memset(&s->chan[s->n_chan], 0, sizeof(s->chan[0]));
	copy(s->chan[s->n_chan].name, sizeof(s->chan[0].name), name);
	s->chan[s->n_chan].backlog = -1;
	return &s->chan[s->n_chan++];
}

static struct aud_stage_st *
stage_get(struct aud_state *s, const char *name)
{
	for (size_t i = 0; i < s->n_stage; i++)
		if (strcmp(s->stage[i].name, name) == 0)
			return &s->stage[i];
	if (s->n_stage == AUD_MAX_STAGE || strlen(name) >= sizeof(s->stage[0].name))
		return NULL;
	memset(&s->stage[s->n_stage], 0, sizeof(s->stage[0]));
	copy(s->stage[s->n_stage].name, sizeof(s->stage[0].name), name);
	return &s->stage[s->n_stage++];
}

static struct aud_token_st *
tok_get(struct aud_state *s, const char *name)
{
	for (size_t i = 0; i < s->n_tok; i++)
		if (strcmp(s->tok[i].name, name) == 0)
			return &s->tok[i];
	if (s->n_tok == AUD_MAX_TOKEN || strlen(name) >= sizeof(s->tok[0].name))
		return NULL;
	memset(&s->tok[s->n_tok], 0, sizeof(s->tok[0]));
	copy(s->tok[s->n_tok].name, sizeof(s->tok[0].name), name);
	s->tok[s->n_tok].expires_s = -1;
	return &s->tok[s->n_tok++];
}

static struct aud_dispatcher_st *
disp_get(struct aud_state *s, const char *name)
{
	for (size_t i = 0; i < s->n_disp; i++)
		if (strcmp(s->disp[i].name, name) == 0)
			return &s->disp[i];
	if (s->n_disp == AUD_MAX_STAGE || strlen(name) >= sizeof(s->disp[0].name))
		return NULL;
	memset(&s->disp[s->n_disp], 0, sizeof(s->disp[0]));
	copy(s->disp[s->n_disp].name, sizeof(s->disp[0].name), name);
	return &s->disp[s->n_disp++];
}

static void
hist_add(struct aud_hist *h, int64_t ms)
{
	size_t i = 0;

	if (ms < 0)
		ms = 0;
	while (i < AUD_HIST_BUCKETS && ms > bucket_ms[i])
		i++;
	h->counts[i]++;
	h->n++;
	h->sum_ms += ms;
}

/* A watermark "2026-11-29T01:02:03Z KEY": its stamp, or -1. */
static int64_t
wm_stamp(const char *wm)
{
	char iso[MLC_TIME_ISO_LEN];
	int64_t t;

	if (wm == NULL || strlen(wm) < MLC_TIME_ISO_LEN - 1)
		return -1;
	memcpy(iso, wm, MLC_TIME_ISO_LEN - 1);
	iso[MLC_TIME_ISO_LEN - 1] = '\0';
	return mlc_time_parse(iso, &t) == 0 ? t : -1;
}

static void
apply_stats(struct aud_state *s, const struct mlc_audit *a)
{
	struct aud_dispatcher_st *d = disp_get(s, a->from);
	const char *chs = aud_attr_str(a, "channel_backlog");
	int found;
	int64_t v;

	if (d == NULL)
		return;
	v = aud_attr_int(a, "backlog", &found);
	if (found)
		d->backlog = v;
	v = aud_attr_int(a, "dead_letters", &found);
	if (found)
		d->dead_letters = v;
	if (chs != NULL) {
		json_error_t je;
		json_t *o = json_loads(chs, 0, &je), *val;
		const char *k;

		if (json_is_object(o)) {
			json_object_foreach(o, k, val) {
				struct aud_channel_st *c = chan_get(s, k);

				if (c != NULL && json_is_integer(val))
					c->backlog = json_integer_value(val);
				else if (c != NULL && json_is_object(val) &&
				    json_is_integer(json_object_get(val, "backlog")))
					c->backlog = json_integer_value(json_object_get(val,
					    "backlog"));
			}
		}
		json_decref(o);
	}
}

void
aud_state_apply(struct aud_state *s, const struct mlc_audit *a, int64_t recv_ms)
{
	struct aud_stage_st *st = stage_get(s, a->from);
	const char *o = aud_attr_str(a, "outcome");
	int found;
	int64_t v;

	s->events_total++;
	if (st != NULL) {
		st->last_seen_ms = recv_ms;
		if (strcmp(a->kind, "start") == 0) {
			copy(st->last_start, sizeof(st->last_start), a->at);
			st->stopped = 0;
		} else if (strcmp(a->kind, "stop") == 0) {
			copy(st->last_stop, sizeof(st->last_stop), a->at);
			st->stopped = 1;
		} else if (strcmp(a->kind, "poll") == 0) {
			/* Poll cycles come every poll_interval; dispatchers send stats
			 * only while they have a backlog, so silence proves nothing. */
			st->periodic = 1;
			st->stopped = 0;
		}
	}
	if (strcmp(a->kind, "poll") == 0) {
		const char *e = aud_attr_str(a, "entity");
		struct aud_entity_st *en = e != NULL ? ent_get(s, e) : NULL;

		if (en == NULL)
			return;
		en->polls++;
		copy(en->last_poll_at, sizeof(en->last_poll_at), a->at);
		copy(en->outcome, sizeof(en->outcome), o);
		copy(en->error, sizeof(en->error), aud_attr_str(a, "error"));
		en->records += (uint64_t)(aud_attr_int(a, "records", NULL) > 0 ?
		    aud_attr_int(a, "records", NULL) : 0);
		if (aud_attr_str(a, "wm_after") != NULL) {
			copy(en->wm, sizeof(en->wm), aud_attr_str(a, "wm_after"));
			en->wm_stamp_s = wm_stamp(en->wm);
		}
		v = aud_attr_int(a, "duration_ms", &found);
		if (found)
			hist_add(&s->poll_hist, v);
	} else if (strcmp(a->kind, "post") == 0 && o != NULL) {
		const char *ch = aud_attr_str(a, "channel");
		struct aud_channel_st *c = ch != NULL ? chan_get(s, ch) : NULL;

		if (strcmp(o, "posted") == 0) {
			if (c != NULL) {
				c->posted++;
				copy(c->last_post_at, sizeof(c->last_post_at), a->at);
			}
			v = aud_attr_int(a, "latency_ms", &found);
			if (found)
				hist_add(&s->post_hist, v);
		} else if (strcmp(o, "failed") == 0) {
			s->failed_total++;
			if (c != NULL)
				c->failed++;
		} else if (strcmp(o, "ratelimited") == 0) {
			s->ratelimited_total++;
		} else {
			s->retries_total++;
		}
		if (c != NULL)
			copy(c->last_outcome, sizeof(c->last_outcome), o);
	} else if (strcmp(a->kind, "stats") == 0) {
		apply_stats(s, a);
	} else if (strcmp(a->kind, "token") == 0) {
		const char *name = aud_attr_str(a, "token");
		struct aud_token_st *t;
		const char *exp = aud_attr_str(a, "expires_at");
		int64_t es;

		if (name == NULL)
			name = aud_attr_str(a, "name");
		if (name == NULL)
			name = a->from;
		if ((t = tok_get(s, name)) == NULL)
			return;
		copy(t->at, sizeof(t->at), a->at);
		copy(t->last_event, sizeof(t->last_event), aud_attr_str(a, "event") ?
		    aud_attr_str(a, "event") : aud_attr_str(a, "what"));
		if (exp != NULL && mlc_time_parse(exp, &es) == 0) {
			copy(t->expires_at, sizeof(t->expires_at), exp);
			t->expires_s = es;
		}
	} else if (strcmp(a->kind, "alert") == 0 && strcmp(a->from, "auditor") == 0) {
		if (o != NULL && strcmp(o, "sent") == 0)
			s->alerts_sent++;
		else
			s->alerts_suppressed++;
	} else if (strcmp(a->kind, "replay") == 0) {
		if (o != NULL && strcmp(o, "sent") == 0)
			s->replays_sent++;
	} else if (strcmp(a->kind, "inbound") == 0) {
		s->inbound_total++;
		if (o != NULL && strcmp(o, "rejected") == 0)
			s->inbound_rejected++;
	}
}

/* ---- rendering ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void
sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t nc = (b->cap + (size_t)n + 1) * 2;
			char *np = realloc(b->p, nc);

			if (np == NULL) {
				b->oom = 1;
				return;
			}
			b->p = np;
			b->cap = nc;
		}
	}
}

/* Prometheus label value: backslash, double quote and newline escaped. */
static void
label(char *out, size_t outsz, const char *v)
{
	size_t n = 0;

	for (; *v != '\0' && n + 3 < outsz; v++) {
		if (*v == '\\' || *v == '"') {
			out[n++] = '\\';
			out[n++] = *v;
		} else if (*v == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *v;
		}
	}
	out[n] = '\0';
}

static void
secs(char *out, size_t outsz, int64_t ms)
{
	const char *sign = ms < 0 ? "-" : "";

	if (ms < 0)
		ms = -ms;
	snprintf(out, outsz, "%s%lld.%03lld", sign, (long long)(ms / 1000),
	    (long long)(ms % 1000));
}

static void
hist_print(struct sbuf *b, const char *name, const char *help, const struct aud_hist *h)
{
	uint64_t cum = 0;
	char le[32], sum[32];

	sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < AUD_HIST_BUCKETS; i++) {
		cum += h->counts[i];
		secs(le, sizeof(le), bucket_ms[i]);
		sb_printf(b, "%s_bucket{le=\"%s\"} %llu\n", name, le, (unsigned long long)cum);
	}
	cum += h->counts[AUD_HIST_BUCKETS];
	secs(sum, sizeof(sum), h->sum_ms);
	sb_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %s\n%s_count %llu\n", name,
	    (unsigned long long)cum, name, sum, name, (unsigned long long)h->n);
}

static void
counter(struct sbuf *b, const char *name, const char *help, uint64_t v)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)v);
}

char *
aud_state_metrics(const struct aud_state *s, int64_t now_ms)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	char l[300];
	int64_t backlog = 0, dead = 0;

	b.p = malloc(4096);
	if (b.p == NULL)
		return NULL;
	b.cap = 4096;
	b.p[0] = '\0';

	sb_printf(&b, "# HELP mlc_records_polled_total Records the poller handed on, per entity.\n"
	    "# TYPE mlc_records_polled_total counter\n");
	for (size_t i = 0; i < s->n_ent; i++) {
		label(l, sizeof(l), s->ent[i].name);
		sb_printf(&b, "mlc_records_polled_total{entity=\"%s\"} %llu\n", l,
		    (unsigned long long)s->ent[i].records);
	}
	sb_printf(&b, "# HELP mlc_polls_total Poll cycles, per entity.\n"
	    "# TYPE mlc_polls_total counter\n");
	for (size_t i = 0; i < s->n_ent; i++) {
		label(l, sizeof(l), s->ent[i].name);
		sb_printf(&b, "mlc_polls_total{entity=\"%s\"} %llu\n", l,
		    (unsigned long long)s->ent[i].polls);
	}
	sb_printf(&b, "# HELP mlc_messages_posted_total Messages Slack accepted, per channel.\n"
	    "# TYPE mlc_messages_posted_total counter\n");
	for (size_t i = 0; i < s->n_chan; i++) {
		label(l, sizeof(l), s->chan[i].name);
		sb_printf(&b, "mlc_messages_posted_total{channel=\"%s\"} %llu\n", l,
		    (unsigned long long)s->chan[i].posted);
	}
	counter(&b, "mlc_messages_failed_total",
	    "Messages given up (dead letters), all channels.", s->failed_total);
	counter(&b, "mlc_retries_total", "Post attempts that will be retried (not 429).",
	    s->retries_total);
	counter(&b, "mlc_ratelimited_total", "Post attempts answered 429 by Slack.",
	    s->ratelimited_total);
	counter(&b, "mlc_alerts_sent_total", "Alerts sent to auditor.alert_channel.",
	    s->alerts_sent);
	counter(&b, "mlc_alerts_suppressed_total",
	    "Alerts not sent (over auditor.alert_max_per_hour).", s->alerts_suppressed);
	counter(&b, "mlc_replays_total", "Messages sent again by mlc replay.", s->replays_sent);
	counter(&b, "mlc_inbound_requests_total", "Requests to the inbound Slack endpoint.",
	    s->inbound_total);
	counter(&b, "mlc_inbound_rejected_total",
	    "Inbound requests rejected (signature, age, size).", s->inbound_rejected);
	counter(&b, "mlc_audit_events_total", "Audit events journaled.", s->events_total);

	for (size_t i = 0; i < s->n_disp; i++) {
		backlog += s->disp[i].backlog;
		dead += s->disp[i].dead_letters;
	}
	sb_printf(&b, "# HELP mlc_backlog Messages queued in the dispatchers, not yet posted.\n"
	    "# TYPE mlc_backlog gauge\nmlc_backlog %lld\n", (long long)backlog);
	sb_printf(&b, "# HELP mlc_channel_backlog Messages queued per channel.\n"
	    "# TYPE mlc_channel_backlog gauge\n");
	for (size_t i = 0; i < s->n_chan; i++) {
		if (s->chan[i].backlog < 0)
			continue;
		label(l, sizeof(l), s->chan[i].name);
		sb_printf(&b, "mlc_channel_backlog{channel=\"%s\"} %lld\n", l,
		    (long long)s->chan[i].backlog);
	}
	sb_printf(&b, "# HELP mlc_dead_letters Dead letters held by the dispatchers.\n"
	    "# TYPE mlc_dead_letters gauge\nmlc_dead_letters %lld\n", (long long)dead);
	sb_printf(&b, "# HELP mlc_watermark_age_seconds Now minus the poller's watermark stamp.\n"
	    "# TYPE mlc_watermark_age_seconds gauge\n");
	for (size_t i = 0; i < s->n_ent; i++) {
		if (s->ent[i].wm_stamp_s < 0)
			continue;
		label(l, sizeof(l), s->ent[i].name);
		sb_printf(&b, "mlc_watermark_age_seconds{entity=\"%s\"} %lld\n", l,
		    (long long)(now_ms / 1000 - s->ent[i].wm_stamp_s));
	}
	sb_printf(&b, "# HELP mlc_token_expiry_seconds Seconds until a token expires "
	    "(negative: expired).\n# TYPE mlc_token_expiry_seconds gauge\n");
	for (size_t i = 0; i < s->n_tok; i++) {
		if (s->tok[i].expires_s < 0)
			continue;
		label(l, sizeof(l), s->tok[i].name);
		sb_printf(&b, "mlc_token_expiry_seconds{token=\"%s\"} %lld\n", l,
		    (long long)(s->tok[i].expires_s - now_ms / 1000));
	}
	hist_print(&b, "mlc_poll_duration_seconds", "Duration of a poll cycle.", &s->poll_hist);
	hist_print(&b, "mlc_post_latency_seconds",
	    "From a message's creation to Slack's answer.", &s->post_hist);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

json_t *
aud_state_health(const struct aud_state *s, const struct mlc_cfg *cfg, int64_t now_ms,
    int *code)
{
	json_t *doc = json_object(), *stages = json_object();
	char names[AUD_MAX_STAGE][32];
	size_t n = 0;
	int ok = 1;

	snprintf(names[n++], sizeof(names[0]), "poller");
	snprintf(names[n++], sizeof(names[0]), "formatter");
	for (size_t i = 0; i < cfg->ep.n_dispatchers && n < AUD_MAX_STAGE; i++)
		snprintf(names[n++], sizeof(names[0]), "dispatcher-%zu", i);
	for (size_t i = 0; i < n; i++) {
		const struct aud_stage_st *st = NULL;
		json_t *o = json_object();
		const char *why = NULL;

		for (size_t k = 0; k < s->n_stage; k++)
			if (strcmp(s->stage[k].name, names[i]) == 0)
				st = &s->stage[k];
		if (st == NULL) {
			why = "no event received from it";
		} else {
			json_object_set_new(o, "last_start", json_string(st->last_start));
			json_object_set_new(o, "last_stop", json_string(st->last_stop));
			json_object_set_new(o, "last_seen_age_s",
			    json_integer((now_ms - st->last_seen_ms) / 1000));
			if (st->stopped)
				why = "stopped";
			else if (st->periodic &&
			    now_ms - st->last_seen_ms > cfg->aud.health_max_silence_ms)
				why = "silent longer than auditor.health_max_silence";
		}
		json_object_set_new(o, "healthy", json_boolean(why == NULL));
		if (why != NULL) {
			json_object_set_new(o, "why", json_string(why));
			ok = 0;
		}
		json_object_set_new(stages, names[i], o);
	}
	json_object_set_new(doc, "status", json_string(ok ? "ok" : "unhealthy"));
	json_object_set_new(doc, "stages", stages);
	*code = ok ? 200 : 503;
	return doc;
}

json_t *
aud_state_status(const struct aud_state *s, const struct mlc_cfg *cfg, int64_t now_ms)
{
	json_t *doc = json_object(), *ents = json_array(), *chans = json_array(),
	    *toks = json_array(), *health;
	int64_t backlog = 0, dead = 0;
	int code;

	for (size_t i = 0; i < s->n_ent; i++) {
		const struct aud_entity_st *e = &s->ent[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "entity", e->name,
		    "last_poll", e->last_poll_at, "outcome", e->outcome, "watermark", e->wm,
		    "records_total", (json_int_t)e->records);

		if (e->error[0])
			json_object_set_new(o, "error", json_string(e->error));
		if (e->wm_stamp_s >= 0)
			json_object_set_new(o, "watermark_age_s",
			    json_integer(now_ms / 1000 - e->wm_stamp_s));
		json_array_append_new(ents, o);
	}
	for (size_t i = 0; i < s->n_chan; i++) {
		const struct aud_channel_st *c = &s->chan[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "channel", c->name,
		    "last_post", c->last_post_at, "last_outcome", c->last_outcome,
		    "posted_total", (json_int_t)c->posted, "failed_total", (json_int_t)c->failed);

		if (c->backlog >= 0)
			json_object_set_new(o, "backlog", json_integer(c->backlog));
		json_array_append_new(chans, o);
	}
	for (size_t i = 0; i < s->n_tok; i++) {
		const struct aud_token_st *t = &s->tok[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "token", t->name,
		    "expires_at", t->expires_at, "last_event", t->last_event, "at", t->at);

		if (t->expires_s >= 0)
			json_object_set_new(o, "expires_in_s",
			    json_integer(t->expires_s - now_ms / 1000));
		json_array_append_new(toks, o);
	}
	for (size_t i = 0; i < s->n_disp; i++) {
		backlog += s->disp[i].backlog;
		dead += s->disp[i].dead_letters;
	}
	health = aud_state_health(s, cfg, now_ms, &code);
	json_object_set_new(doc, "entities", ents);
	json_object_set_new(doc, "channels", chans);
	json_object_set_new(doc, "backlog", json_integer(backlog));
	json_object_set_new(doc, "dead_letters", json_integer(dead));
	json_object_set_new(doc, "failed_total", json_integer((json_int_t)s->failed_total));
	json_object_set_new(doc, "tokens", toks);
	json_object_set_new(doc, "health", health);
	return doc;
}

char *
aud_state_summary(const struct aud_state *s, const struct mlc_cfg *cfg, int64_t now_ms)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	int64_t dead = 0, backlog = 0;
	int code;
	json_t *h = aud_state_health(s, cfg, now_ms, &code);

	json_decref(h);
	b.p = malloc(1024);
	if (b.p == NULL)
		return NULL;
	b.cap = 1024;
	b.p[0] = '\0';
	sb_printf(&b, "ml-connector: %s\n", code == 200 ? "healthy" : "UNHEALTHY");
	for (size_t i = 0; i < s->n_ent; i++) {
		const struct aud_entity_st *e = &s->ent[i];

		sb_printf(&b, "- %s: last poll %s (%s%s%s), watermark %s", e->name,
		    e->last_poll_at[0] ? e->last_poll_at : "never", e->outcome,
		    e->error[0] ? ": " : "", e->error, e->wm[0] ? e->wm : "none");
		if (e->wm_stamp_s >= 0)
			sb_printf(&b, " (%lld s old)", (long long)(now_ms / 1000 - e->wm_stamp_s));
		sb_printf(&b, "\n");
	}
	for (size_t i = 0; i < s->n_chan; i++) {
		const struct aud_channel_st *c = &s->chan[i];

		sb_printf(&b, "- %s: last post %s, %llu posted, %llu failed", c->name,
		    c->last_post_at[0] ? c->last_post_at : "never",
		    (unsigned long long)c->posted, (unsigned long long)c->failed);
		if (c->backlog >= 0)
			sb_printf(&b, ", backlog %lld", (long long)c->backlog);
		sb_printf(&b, "\n");
	}
	for (size_t i = 0; i < s->n_disp; i++) {
		dead += s->disp[i].dead_letters;
		backlog += s->disp[i].backlog;
	}
	sb_printf(&b, "backlog %lld, dead letters %lld\n", (long long)backlog, (long long)dead);
	for (size_t i = 0; i < s->n_tok; i++)
		sb_printf(&b, "token %s expires %s\n", s->tok[i].name,
		    s->tok[i].expires_at[0] ? s->tok[i].expires_at : "unknown");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
