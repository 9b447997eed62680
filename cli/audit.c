/*
 * mlc audit: prints the auditor's journal, oldest first.
 *
 * Opens the auditor's LMDB environment read-only. That is safe on the same
 * host (or inside the auditor's container: `docker compose exec auditor mlc
 * audit`), where LMDB's reader table sees both processes in one PID space.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lmdb.h>

#include "cli.h"
#include "mlc_proto.h"
#include "mlc_topo.h"

int
cli_audit(int argc, char **argv)
{
	struct mlc_cfg cfg;
	const char *kind = NULL;
	long limit = -1, shown = 0;
	int json = 0, rc;
	char dir[600];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_cursor *c = NULL;
	MDB_val k, v;

	if (cli_load_config(&argc, argv, &cfg, NULL) != 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc)
			kind = argv[++i];
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
			limit = strtol(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "mlc audit: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (mlc_topo_state_path(&cfg, "auditor", dir, sizeof(dir)) != 0)
		return 2;
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 32)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600)) != 0) {
		fprintf(stderr, "mlc audit: cannot open the journal in %s: %s\n", dir,
		    mdb_strerror(rc));
		if (env)
			mdb_env_close(env);
		return 1;
	}
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "journal", 0, &dbi)) != 0 ||
	    (rc = mdb_cursor_open(txn, dbi, &c)) != 0) {
		fprintf(stderr, "mlc audit: journal in %s: %s\n", dir, mdb_strerror(rc));
		if (txn)
			mdb_txn_abort(txn);
		mdb_env_close(env);
		return 1;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && limit != shown;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct mlc_frame f;
		struct mlc_err err;
		char *js;

		if (mlc_proto_decode(v.mv_data, v.mv_size, &f, &err) != 0 ||
		    f.type != MLC_FRAME_AUDIT) {
			mlc_frame_free(&f);
			continue;
		}
		if (kind == NULL || strcmp(kind, f.u.aud.kind) == 0) {
			js = mlc_audit_to_json(&f.u.aud);
			if (js != NULL) {
				if (json)
					printf("%s\n", js);
				else
					cli_print_event_line(js);
				free(js);
				shown++;
			}
		}
		mlc_frame_free(&f);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return 0;
}
