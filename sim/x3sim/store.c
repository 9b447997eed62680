/*
 * store.c: the simulated X3 tables (PORDER, PINVOICE, GACCENTRY with its
 * GACCENTRYD lines) and the log of served versions.
 *
 * A table holds the current version of each record (what a real X3 query
 * would read). The served log is the ground truth for the tests: every
 * distinct (key, stamp) pair that left in an api1 or GraphQL response
 * (a GL line served over GraphQL counts as its entry), with the field
 * values of its first serving. The X3 stamp has one-second precision, so
 * two changes to one record within a second share a pair; the log keeps the
 * first values and counts the later ones in `revisions`, since that is what
 * a connector deduplicating by (key, stamp) can have posted.
 */
#include "x3sim.h"

#include <stdlib.h>
#include <string.h>

/* Caps memory for a simulator left running at a high rate. */
#define X3_TABLE_MAX_RECORDS 100000
#define X3_TABLE_MAX_SERVED  500000 /* ~4 KiB each */

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
	.cstamp = 10,
};

/* Field order is gen.c's PI_* enum. */
static const struct x3_field pinvoice_fields[] = {
	{ "NUM", X3_T_STRING, 0 },
	{ "BPR", X3_T_STRING, 1 },
	{ "BPRVCR", X3_T_STRING, 0 },
	{ "PIHTYP", X3_T_STRING, 0 },
	{ "INVTYP", X3_T_INT, 0 },
	{ "ACCDAT", X3_T_DATE, 0 },
	{ "CUR", X3_T_STRING, 0 },
	{ "AMTNOT", X3_T_DEC2, 0 },
	{ "AMTATI", X3_T_DEC2, 0 },
	{ "STA", X3_T_INT, 0 },
	{ "PAZ", X3_T_INT, 0 },
	{ "ACC", X3_T_STRING, 0 },
	{ "FCY", X3_T_STRING, 0 },
	{ "CREDATTIM", X3_T_DATETIME, 0 },
	{ "UPDDATTIM", X3_T_DATETIME, 0 },
	{ "UPDUSR", X3_T_STRING, 0 },
};

const struct x3_schema x3_pinvoice_schema = {
	.class_name = "PINVOICE",
	.fields = pinvoice_fields,
	.nfields = (int)(sizeof(pinvoice_fields) / sizeof(pinvoice_fields[0])),
	.key = 0,
	.stamp = 14,
	.cstamp = 13,
};

/* Field order is gen.c's GL_* enum; lines follow its GLD_* enum. */
static const struct x3_field gaccentry_fields[] = {
	{ "NUM", X3_T_STRING, 0 },
	{ "TYP", X3_T_STRING, 0 },
	{ "JOU", X3_T_STRING, 0 },
	{ "ACCDAT", X3_T_DATE, 0 },
	{ "CPY", X3_T_STRING, 0 },
	{ "FCY", X3_T_STRING, 0 },
	{ "CUR", X3_T_STRING, 0 },
	{ "STA", X3_T_INT, 0 },
	{ "CAT", X3_T_INT, 0 },
	{ "DESVCR", X3_T_STRING, 0 },
	{ "BPRVCR", X3_T_STRING, 0 },
	{ "CREDATTIM", X3_T_DATETIME, 0 },
	{ "UPDDATTIM", X3_T_DATETIME, 0 },
};

static const struct x3_field gaccentryd_fields[] = {
	{ "LIN", X3_T_INT, 0 },
	{ "LEDTYP", X3_T_INT, 0 },
	{ "ACC", X3_T_STRING, 0 },
	{ "BPR", X3_T_STRING, 0 },
	{ "SNS", X3_T_INT, 0 },
	{ "AMTCUR", X3_T_DEC2, 0 },
	{ "AMTLED", X3_T_DEC2, 0 },
	{ "CUR", X3_T_STRING, 0 },
	{ "CURLED", X3_T_STRING, 0 },
	{ "DES", X3_T_STRING, 0 },
};

const struct x3_schema x3_gaccentry_schema = {
	.class_name = "GACCENTRY",
	.fields = gaccentry_fields,
	.nfields = (int)(sizeof(gaccentry_fields) / sizeof(gaccentry_fields[0])),
	.key = 0,
	.stamp = 12,
	.cstamp = 11,
	.lines_name = "GACCENTRYD",
	.line_fields = gaccentryd_fields,
	.nline_fields = (int)(sizeof(gaccentryd_fields) / sizeof(gaccentryd_fields[0])),
};

static const char *const entity_names[X3_ENT_COUNT] = { "po", "pinv", "gl" };

const char *
x3_entity_name(enum x3_entity e)
{
	return (unsigned)e < X3_ENT_COUNT ? entity_names[e] : "?";
}

int
x3_entity_parse(const char *s)
{
	for (int i = 0; s != NULL && i < X3_ENT_COUNT; i++)
		if (strcmp(s, entity_names[i]) == 0)
			return i;
	return -1;
}

int
x3_store_init(struct x3_store *st, struct mlc_err *err)
{
	memset(st, 0, sizeof(*st));
	if (pthread_mutex_init(&st->mu, NULL) != 0)
		return mlc_err_set(err, "x3sim: cannot create the store mutex");
	st->tables[X3_ENT_PORDER].schema = &x3_porder_schema;
	st->tables[X3_ENT_PINVOICE].schema = &x3_pinvoice_schema;
	st->tables[X3_ENT_GACCENTRY].schema = &x3_gaccentry_schema;
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
