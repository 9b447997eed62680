/* token_store: see token_store.h. */
#include "token_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "mlc_json.h"
#include "mlc_secrets.h"
#include "mlc_topo.h"

#define TOKENS_MAX_FILE (64 * 1024)

int
x3_tokens_path(const struct mlc_cfg *cfg, char *out, size_t outsz)
{
	struct mlc_err err;

	return mlc_secrets_path(cfg->state_dir, cfg->secrets_store, out, outsz, &err);
}

int
x3_tokens_legacy_path(const struct mlc_cfg *cfg, char *out, size_t outsz)
{
	char dir[512];

	if (mlc_topo_state_path(cfg, "poller", dir, sizeof(dir)) != 0)
		return -1;
	return (size_t)snprintf(out, outsz, "%s/x3-tokens", dir) < outsz ? 0 : -1;
}

void
x3_tokens_free(struct x3_tokens *t)
{
	if (t->refresh_token != NULL) {
		explicit_bzero(t->refresh_token, strlen(t->refresh_token));
		free(t->refresh_token);
	}
	memset(t, 0, sizeof(*t));
}

static int64_t
num(json_t *o, const char *k)
{
	const char *s = mlc_json_scalar_text(json_object_get(o, k));

	return s ? strtoll(s, NULL, 10) : 0;
}

/* The JSON record (store entry or legacy file) into t; what names it in
 * errors. */
static int
parse(const char *buf, size_t len, const char *what, struct x3_tokens *t,
    struct mlc_err *err)
{
	json_t *j = mlc_json_loads_exact(buf, len, 4, err);
	const char *rt;

	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return mlc_err_set(err, "%s is corrupt (not a JSON object); run `mlc x3 login` "
		    "again", what);
	}
	rt = mlc_json_scalar_text(json_object_get(j, "refresh_token"));
	if (rt != NULL && rt[0] != '\0' && (t->refresh_token = strdup(rt)) == NULL) {
		json_decref(j);
		return mlc_err_set(err, "out of memory");
	}
	t->granted_ms = num(j, "granted_at");
	t->refreshed_ms = num(j, "refreshed_at");
	t->warned = (int)num(j, "warned");
	t->rejected = (int)num(j, "rejected");
	/* jansson keeps its own copy of the token: wipe it before freeing. */
	if (rt != NULL)
		explicit_bzero((char *)rt, strlen(rt));
	json_decref(j);
	return 0;
}

static void
has_entry(const char *name, int64_t updated_ms, void *arg)
{
	(void)updated_ms;
	if (strcmp(name, X3_TOKENS_ENTRY) == 0)
		*(int *)arg = 1;
}

int
x3_tokens_load(const char *path, struct x3_tokens *t, int *found, struct mlc_err *err)
{
	struct mlc_secrets *s = NULL;
	char *v;
	size_t len = 0;
	int present = 0, rc;

	memset(t, 0, sizeof(*t));
	*found = 0;
	if (mlc_secrets_open(&s, path, NULL, 1, err) != 0)
		return mlc_err_prefix(err, "X3 tokens");
	mlc_secrets_list(s, has_entry, &present);
	if (!present) {
		mlc_secrets_close(&s);
		return 0;
	}
	v = mlc_secrets_get(s, X3_TOKENS_ENTRY, &len, err);
	mlc_secrets_close(&s);
	if (v == NULL)
		return -1;
	rc = parse(v, len, "secret '" X3_TOKENS_ENTRY "'", t, err);
	mlc_secrets_free_value(v);
	if (rc != 0) {
		x3_tokens_free(t);
		return -1;
	}
	*found = 1;
	return 0;
}

int
x3_tokens_save(const char *path, const struct x3_tokens *t, struct mlc_err *err)
{
	char dir[600], *slash, *text;
	json_t *j;
	int rc;

	/* `mlc x3 login` may run before any stage created state_dir. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return mlc_err_set(err, "cannot create %s: %s", dir, strerror(errno));
	}
	j = json_pack("{s:s?,s:I,s:I,s:i,s:i}", "refresh_token", t->refresh_token,
	    "granted_at", (json_int_t)t->granted_ms, "refreshed_at", (json_int_t)t->refreshed_ms,
	    "warned", t->warned, "rejected", t->rejected);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (j != NULL && t->refresh_token != NULL) {
		const char *c = json_string_value(json_object_get(j, "refresh_token"));

		if (c != NULL)
			explicit_bzero((char *)c, strlen(c));
	}
	json_decref(j);
	if (text == NULL)
		return mlc_err_set(err, "out of memory");
	rc = mlc_secrets_put_at(path, X3_TOKENS_ENTRY, text, strlen(text), err);
	if (rc != 0)
		mlc_err_prefix(err, "saving the X3 tokens");
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

/* Reads the legacy file: 1 read, 0 absent, -1 error. */
static int
read_legacy(const char *legacy, struct x3_tokens *t, size_t *size, struct mlc_err *err)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd, rc;

	memset(t, 0, sizeof(*t));
	fd = open(legacy, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return mlc_err_set(err, "cannot read %s: %s", legacy, strerror(errno));
	}
	buf = malloc(TOKENS_MAX_FILE + 1);
	if (buf == NULL) {
		close(fd);
		return mlc_err_set(err, "out of memory");
	}
	while (len < TOKENS_MAX_FILE && (n = read(fd, buf + len, TOKENS_MAX_FILE - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mlc_err_set(err, "cannot read %s: %s", legacy, strerror(errno));
			explicit_bzero(buf, len);
			free(buf);
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	rc = parse(buf, len, legacy, t, err);
	explicit_bzero(buf, len);
	free(buf);
	*size = len;
	return rc == 0 ? 1 : -1;
}

/* Overwrites the file's bytes with zeros before removing it, so the token
 * does not stay in the freed blocks (best effort: a copy-on-write or
 * journalling file system may keep older blocks). */
static int
shred_unlink(const char *path, size_t size, struct mlc_err *err)
{
	static const char zeros[4096];
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0) {
		size_t left = size;

		while (left > 0) {
			size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
			ssize_t w = write(fd, zeros, k);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			left -= (size_t)w;
		}
		(void)fsync(fd);
		close(fd);
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return mlc_err_set(err, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

int
x3_tokens_migrate(const char *legacy, const char *path, int *migrated,
    struct mlc_err *err)
{
	struct x3_tokens old, cur;
	size_t size = 0;
	int r, found;

	*migrated = 0;
	r = read_legacy(legacy, &old, &size, err);
	if (r <= 0)
		return r;
	/* The store is opened first: a wrong master key stops here, file intact. */
	if (x3_tokens_load(path, &cur, &found, err) != 0) {
		x3_tokens_free(&old);
		return -1;
	}
	/* An entry already in the store was written after the file (this
	 * version never writes the file): the file is stale. */
	if (!found && x3_tokens_save(path, &old, err) != 0) {
		x3_tokens_free(&old);
		return -1;
	}
	x3_tokens_free(&cur);
	x3_tokens_free(&old);
	*migrated = 1;
	return shred_unlink(legacy, size, err);
}
