/* mlc_audit: see mlc_audit.h. */
#include "mlc_audit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "mlc_log.h"
#include "mlc_time.h"

/*
 * The kernel's CSPRNG (getrandom), not OpenSSL's: RAND_bytes() initialises
 * OpenSSL's providers and DRBG on first use, about 2.4 MB of resident
 * memory in every process that never needs OpenSSL otherwise (issue 7:
 * idle RSS). Bytes are fetched 256 at a time (the size getrandom() always
 * returns whole), so a busy stage does one system call per 16 ids.
 */
static int
random_bytes(unsigned char *b, size_t n)
{
	static _Thread_local unsigned char pool[256];
	static _Thread_local size_t left;

	while (n > 0) {
		size_t k;

		if (left == 0) {
			ssize_t r = getrandom(pool, sizeof(pool), 0);

			if (r != (ssize_t)sizeof(pool))
				return -1;
			left = sizeof(pool);
		}
		k = n < left ? n : left;
		memcpy(b, pool + sizeof(pool) - left, k);
		/* Served bytes are not kept around. */
		memset(pool + sizeof(pool) - left, 0, k);
		left -= k;
		b += k;
		n -= k;
	}
	return 0;
}

void
mlc_random_hex(char out[33])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";

	if (random_bytes(b, sizeof(b)) != 0) {
		/* The kernel's CSPRNG failing is not recoverable in any useful
		 * way; fall back to time + address entropy rather than crash. */
		int64_t t = mlc_time_now_ms() ^ (int64_t)(uintptr_t)out;
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)i;
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
}

void
mlc_auditb_init(struct mlc_auditb *b, const char *kind)
{
	char hex[33];

	memset(b, 0, sizeof(*b));
	mlc_random_hex(hex);
	memcpy(b->id, hex, sizeof(hex));
	mlc_time_format_ms(mlc_time_now_ms(), b->at);
	b->a.id = b->id;
	b->a.from = (char *)(uintptr_t)mlc_log_process();
	b->a.at = b->at;
	b->a.kind = (char *)(uintptr_t)kind;
	b->a.attrs = b->attrs;
}

void
mlc_auditb_str(struct mlc_auditb *b, const char *name, const char *value)
{
	struct mlc_attr *at;

	if (value == NULL || b->a.n_attrs >= MLC_AUDITB_MAX)
		return;
	at = &b->attrs[b->a.n_attrs];
	at->name = strdup(name);
	at->s = strdup(value);
	if (at->name == NULL || at->s == NULL) {
		free(at->name);
		free(at->s);
		memset(at, 0, sizeof(*at));
		return;
	}
	b->a.n_attrs++;
}

void
mlc_auditb_int(struct mlc_auditb *b, const char *name, int64_t value)
{
	struct mlc_attr *at;

	if (b->a.n_attrs >= MLC_AUDITB_MAX)
		return;
	at = &b->attrs[b->a.n_attrs];
	at->name = strdup(name);
	if (at->name == NULL)
		return;
	at->is_int = 1;
	at->i = value;
	b->a.n_attrs++;
}

void
mlc_auditb_free(struct mlc_auditb *b)
{
	for (size_t i = 0; i < b->a.n_attrs; i++) {
		free(b->attrs[i].name);
		free(b->attrs[i].s);
	}
	b->a.n_attrs = 0;
}

int
mlc_auditb_put(struct mlc_auditb *b, struct mlc_outbox *ob, MDB_txn *txn,
    struct mlc_err *err)
{
	struct mlc_frame f;
	int r;

	memset(&f, 0, sizeof(f));
	f.type = MLC_FRAME_AUDIT;
	f.u.aud = b->a;
	r = mlc_outbox_put_frame(ob, txn, &f, b->id, err);
	mlc_auditb_free(b);
	return r;
}

struct emit_arg {
	struct mlc_auditb *b;
	struct mlc_outbox *ob;
};

static int
emit_txn(MDB_txn *txn, void *arg, struct mlc_err *err)
{
	struct emit_arg *ea = arg;
	struct mlc_frame f;

	memset(&f, 0, sizeof(f));
	f.type = MLC_FRAME_AUDIT;
	f.u.aud = ea->b->a;
	return mlc_outbox_put_frame(ea->ob, txn, &f, ea->b->id, err);
}

int
mlc_auditb_emit(struct mlc_auditb *b, struct mlc_store *st, struct mlc_outbox *ob)
{
	struct emit_arg ea = { b, ob };
	struct mlc_err err;
	int r = mlc_store_write(st, emit_txn, &ea, &err);

	if (r != 0)
		mlc_error("cannot store audit event '%s': %s", b->a.kind, err.msg);
	mlc_auditb_free(b);
	return r;
}
