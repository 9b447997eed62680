/*
 * store.c: the simulated X3 tables and the log of served versions.
 *
 * A table holds the current version of each record (what a real X3 query
 * would read). The served log is the ground truth for the tests: every
 * distinct (key, stamp) pair that left in an api1 response, with the field
 * values of its first serving. The X3 stamp has one-second precision, so
 * two changes to one record within a second share a pair; the log keeps the
 * first values and counts the later ones in `revisions`, since that is what
 * a connector deduplicating by (key, stamp) can have posted.
 */
#include "x3sim.h"

#include <stdlib.h>
#include <string.h>

/* Caps memory for a simulator left running at a high rate. */
#define X3_TABLE_MAX_RECORDS 200000
#define X3_TABLE_MAX_SERVED  2000000

static const struct x3_field porder_fields[] = {
	{ "POHNUM", X3_T_STRING, 0 },
	{ "POHFCY", X3_T_STRING, 0 },
	{ "BPSNUM", X3_T_STRING, 1 },
	{ "ORDDAT", X3_T_DATE, 0 },
	{ "CUR", X3_T_STRING, 0 },
	{ "TOTORD", X3_T_DEC2, 0 },
	{ "TTVORD", X3_T_DEC2, 0 },
	{ "APPFLG", X3_T_INT, 0 },
	{ "CLEFLG", X3_T_INT, 0 },
	{ "ORDREF", X3_T_STRING, 0 },
	{ "CREDATTIM", X3_T_DATETIME, 0 },
	{ "UPDDATTIM", X3_T_DATETIME, 0 },
	{ "UPDUSR", X3_T_STRING, 0 },
};

const struct x3_schema x3_porder_schema = {
	.class_name = "PORDER",
	.fields = porder_fields,
	.nfields = (int)(sizeof(porder_fields) / sizeof(porder_fields[0])),
	.key = 0,
	.stamp = 11,
};

int
x3_store_init(struct x3_store *st, struct mlc_err *err)
{
	memset(st, 0, sizeof(*st));
	if (pthread_mutex_init(&st->mu, NULL) != 0)
		return mlc_err_set(err, "x3sim: cannot create the store mutex");
	st->tables[X3_ENT_PORDER].schema = &x3_porder_schema;
	return 0;
}

void
x3_store_destroy(struct x3_store *st)
{
	for (int i = 0; i < X3_ENT_COUNT; i++) {
		free(st->tables[i].recs);
		free(st->tables[i].served);
	}
	pthread_mutex_destroy(&st->mu);
	memset(st, 0, sizeof(*st));
}

void
x3_store_lock(struct x3_store *st)
{
	pthread_mutex_lock(&st->mu);
}

void
x3_store_unlock(struct x3_store *st)
{
	pthread_mutex_unlock(&st->mu);
}

struct x3_record *
x3_table_add(struct x3_table *t)
{
	struct x3_record *r;

	if (t->nrecs >= X3_TABLE_MAX_RECORDS)
		return NULL;
	if (t->nrecs == t->caprecs) {
		size_t ncap = t->caprecs ? t->caprecs * 2 : 64;
		struct x3_record *nr = realloc(t->recs, ncap * sizeof(*nr));

		if (nr == NULL)
			return NULL;
		t->recs = nr;
		t->caprecs = ncap;
	}
	r = &t->recs[t->nrecs++];
	memset(r, 0, sizeof(*r));
	r->served_idx = -1;
	return r;
}

struct x3_record *
x3_table_find(struct x3_table *t, const char *key)
{
	int k = t->schema->key;

	for (size_t i = 0; i < t->nrecs; i++)
		if (strcmp(t->recs[i].v[k].str, key) == 0)
			return &t->recs[i];
	return NULL;
}

int
x3_table_mark_served(struct x3_table *t, struct x3_record *rec)
{
	int s = t->schema->stamp;
	struct x3_served *e;

	if (rec->served_idx >= 0 &&
	    t->served[rec->served_idx].snap.v[s].num == rec->v[s].num) {
		e = &t->served[rec->served_idx];
		if (rec->served_ver != rec->version) {
			e->revisions++;
			rec->served_ver = rec->version;
		}
		return 0;
	}
	if (t->nserved >= X3_TABLE_MAX_SERVED)
		return -1;
	if (t->nserved == t->capserved) {
		size_t ncap = t->capserved ? t->capserved * 2 : 64;
		struct x3_served *ns = realloc(t->served, ncap * sizeof(*ns));

		if (ns == NULL)
			return -1;
		t->served = ns;
		t->capserved = ncap;
	}
	e = &t->served[t->nserved];
	e->snap = *rec;
	e->revisions = 1;
	rec->served_idx = (long)t->nserved++;
	rec->served_ver = rec->version;
	return 0;
}

size_t
x3_store_served_total(const struct x3_store *st)
{
	size_t n = 0;

	for (int i = 0; i < X3_ENT_COUNT; i++)
		n += st->tables[i].nserved;
	return n;
}
