/*
 * simctl.c: the simulator's own routes, outside anything X3 has. No auth:
 * they serve tests and the demo, on loopback.
 *
 *   GET  /sim/truth[?entity=po|pinv|gl]  every distinct (key, stamp)
 *                         version of that entity (default po) served by
 *                         api1 or GraphQL
 *   GET  /sim/stats       {"generated","served_versions","requests",
 *                         "records","paused","records_by_entity","routes",
 *                         "faults","auth"}
 *   POST /sim/generate?n=K  K changes now (1..100000, default 1);
 *                         &entity=po|pinv|gl|any (default po, as before
 *                         there were three; any = a random mix of the
 *                         enabled entities); &mode=create makes K new
 *                         records only (no modifications), for tests that
 *                         kill the poller
 *   POST /sim/pause, /sim/resume  stop / restart automatic changes
 *   (/sim/fault is fault.c's, /sim/token/... auth.c's.)
 *
 * Truth amounts are strings ("123.40") so that a test reading them with any
 * JSON library compares exact decimals.
 */
#include "x3sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mlc_time.h"

static json_t *
value_fields(const struct x3_field *fields, int nfields, const struct x3_value *vals)
{
	json_t *o = json_object();
	char tmp[32];

	for (int i = 0; o != NULL && i < nfields; i++) {
		const struct x3_field *f = &fields[i];
		const struct x3_value *v = &vals[i];
		json_t *j = NULL;

		switch (f->type) {
		case X3_T_STRING:
		case X3_T_DATE:
			j = json_string(v->str);
			break;
		case X3_T_DATETIME: {
			char iso[MLC_TIME_ISO_LEN];

			mlc_time_format(v->num, iso);
			j = json_string(iso);
			break;
		}
		case X3_T_INT:
			j = json_integer((json_int_t)v->num);
			break;
		case X3_T_DEC2:
			x3_dec2_format(v->num, tmp);
			j = json_string(tmp);
			break;
		}
		json_object_set_new(o, f->name, j);
		if (f->has_ref && v->ref != NULL) {
			char name[64];

			snprintf(name, sizeof(name), "%s_REF", f->name);
			json_object_set_new(o, name, json_pack("{s:s, s:s}",
			    "$description", v->ref, "$title", v->ref));
		}
	}
	return o;
}

static json_t *
truth_fields(const struct x3_schema *s, const struct x3_record *rec)
{
	json_t *o = value_fields(s->fields, s->nfields, rec->v);

	if (o != NULL && s->lines_name != NULL) {
		json_t *lines = json_array();

		for (int l = 0; lines != NULL && l < rec->nlines && l < X3_MAX_LINES; l++)
			json_array_append_new(lines, value_fields(s->line_fields, s->nline_fields,
			    rec->lines[l]));
		json_object_set_new(o, s->lines_name, lines);
	}
	return o;
}

static void
truth(const struct x3_req *rq, struct x3_reply *r)
{
	struct x3_store *st = rq->srv->store;
	const char *ename = x3_req_arg(rq, "entity");
	int e = ename ? x3_entity_parse(ename) : X3_ENT_PORDER;
	json_t *versions;

	if (e < 0) {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL, "entity must be po, pinv or gl");
		return;
	}
	versions = json_array();
	x3_store_lock(st);
	if (versions != NULL) {
		const struct x3_table *t = &st->tables[e];
		const struct x3_schema *s = t->schema;

		for (size_t i = 0; i < t->nserved; i++) {
			const struct x3_served *sv = &t->served[i];
			char iso[MLC_TIME_ISO_LEN];

			mlc_time_format(sv->snap.v[s->stamp].num, iso);
			json_array_append_new(versions, json_pack("{s:s, s:s, s:s, s:i, s:o}",
			    "class", s->class_name,
			    "key", sv->snap.v[s->key].str,
			    "stamp", iso,
			    "revisions", (int)sv->revisions,
			    "fields", truth_fields(s, &sv->snap)));
		}
	}
	x3_store_unlock(st);
	x3_reply_json(r, 200, versions ? json_pack("{s:o}", "versions", versions) : NULL);
}

static void
stats(const struct x3_req *rq, struct x3_reply *r)
{
	struct x3_store *st = rq->srv->store;
	const uint64_t *rt = rq->srv->routes;
	json_t *o;

	x3_store_lock(st);
	o = json_pack("{s:I, s:I, s:I, s:I, s:b, s:{s:I, s:I, s:I}, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "generated", (json_int_t)st->generated,
	    "served_versions", (json_int_t)x3_store_served_total(st),
	    "requests", (json_int_t)st->requests,
	    "records", (json_int_t)st->tables[X3_ENT_PORDER].nrecs,
	    "paused", rq->srv->gen->paused,
	    "records_by_entity",
	    "po", (json_int_t)st->tables[X3_ENT_PORDER].nrecs,
	    "pinv", (json_int_t)st->tables[X3_ENT_PINVOICE].nrecs,
	    "gl", (json_int_t)st->tables[X3_ENT_GACCENTRY].nrecs,
	    "routes",
	    "api1", (json_int_t)rt[X3_ROUTE_API1],
	    "graphql", (json_int_t)rt[X3_ROUTE_GRAPHQL],
	    "token", (json_int_t)rt[X3_ROUTE_TOKEN],
	    "authorise", (json_int_t)rt[X3_ROUTE_AUTHORISE],
	    "sim", (json_int_t)rt[X3_ROUTE_SIM],
	    "other", (json_int_t)rt[X3_ROUTE_OTHER]);
	x3_store_unlock(st);
	if (o != NULL) {
		/* Taken outside the store lock: those modules lock their own. */
		json_object_set_new(o, "faults", x3_fault_fired_json(rq->srv->faults));
		json_object_set_new(o, "auth", x3_auth_stats_json(rq->srv->auth));
	}
	x3_reply_json(r, 200, o);
}

static void
generate(const struct x3_req *rq, struct x3_reply *r)
{
	const char *ns = x3_req_arg(rq, "n");
	const char *mode, *ename = x3_req_arg(rq, "entity");
	unsigned long n = 1;
	char *end = NULL;
	int ent = X3_ENT_PORDER; /* backward compatible: no entity = po */

	if (ns != NULL) {
		if (strnlen(ns, 8) > 6 || ns[0] < '0' || ns[0] > '9' ||
		    (n = strtoul(ns, &end, 10)) < 1 || n > 100000 || *end != '\0') {
			x3_reply_diag(r, 400, "BadQueryParameter", NULL,
			    "n must be an integer from 1 to 100000");
			return;
		}
	}
	if (ename != NULL && strcmp(ename, "any") == 0)
		ent = -1;
	else if (ename != NULL && (ent = x3_entity_parse(ename)) < 0) {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "entity must be po, pinv, gl or any");
		return;
	}
	mode = x3_req_arg(rq, "mode");
	if (mode != NULL && strcmp(mode, "create") == 0) {
		n = x3_gen_create(rq->srv->gen, ent, (unsigned)n);
	} else if (mode != NULL && strcmp(mode, "any") != 0) {
		x3_reply_diag(r, 400, "BadQueryParameter", NULL,
		    "mode must be 'any' (default) or 'create'");
		return;
	} else {
		n = x3_gen_run(rq->srv->gen, ent, (unsigned)n);
	}
	x3_reply_json(r, 200, json_pack("{s:I}", "generated", (json_int_t)n));
}

void
x3_simctl_handle(const struct x3_req *rq, struct x3_reply *r)
{
	const char *p = rq->path + 5; /* after "/sim/" */
	int get = strcmp(rq->method, "GET") == 0;
	int post = strcmp(rq->method, "POST") == 0;

	if (strcmp(p, "truth") == 0 && get) {
		truth(rq, r);
	} else if (strcmp(p, "stats") == 0 && get) {
		stats(rq, r);
	} else if (strcmp(p, "generate") == 0 && post) {
		generate(rq, r);
	} else if ((strcmp(p, "pause") == 0 || strcmp(p, "resume") == 0) && post) {
		x3_gen_set_paused(rq->srv->gen, p[0] == 'p');
		x3_reply_json(r, 200, json_pack("{s:b}", "paused", p[0] == 'p'));
	} else if (strcmp(p, "truth") == 0 || strcmp(p, "stats") == 0 ||
	    strcmp(p, "generate") == 0 || strcmp(p, "pause") == 0 ||
	    strcmp(p, "resume") == 0) {
		x3_reply_diag(r, 405, "MethodNotAllowed", NULL, "Wrong method for /sim/%s", p);
	} else {
		x3_reply_diag(r, 404, "ResourceNotFound", NULL, "No such simulator route");
	}
}
