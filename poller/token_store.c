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
#include "mlc_topo.h"

#define TOKENS_MAX_FILE (64 * 1024)

int
x3_tokens_path(const struct mlc_cfg *cfg, char *out, size_t outsz)
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

int
x3_tokens_load(const char *path, struct x3_tokens *t, int *found, struct mlc_err *err)
{
	char *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd;
	json_t *j = NULL;
	const char *rt;

	memset(t, 0, sizeof(*t));
	*found = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return mlc_err_set(err, "cannot read %s: %s", path, strerror(errno));
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
			mlc_err_set(err, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	j = mlc_json_loads_exact(buf, len, 4, err);
	if (j == NULL || !json_is_object(j)) {
		mlc_err_set(err, "%s is corrupt (not a JSON object); run `mlc x3 login` again",
		    path);
		goto fail;
	}
	rt = mlc_json_scalar_text(json_object_get(j, "refresh_token"));
	if (rt != NULL && rt[0] != '\0' && (t->refresh_token = strdup(rt)) == NULL) {
		mlc_err_set(err, "out of memory");
		goto fail;
	}
	t->granted_ms = num(j, "granted_at");
	t->refreshed_ms = num(j, "refreshed_at");
	t->warned = (int)num(j, "warned");
	t->rejected = (int)num(j, "rejected");
	*found = 1;
	json_decref(j);
	explicit_bzero(buf, len);
	free(buf);
	close(fd);
	return 0;
fail:
	json_decref(j);
	explicit_bzero(buf, len);
	free(buf);
	close(fd);
	x3_tokens_free(t);
	return -1;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
x3_tokens_save(const char *path, const struct x3_tokens *t, struct mlc_err *err)
{
	char tmp[600], dir[600], *slash, *text;
	json_t *j;
	int fd, dfd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return mlc_err_set(err, "token file path too long");
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return mlc_err_set(err, "cannot create %s: %s", dir, strerror(errno));
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	j = json_pack("{s:s?,s:I,s:I,s:i,s:i}", "refresh_token", t->refresh_token,
	    "granted_at", (json_int_t)t->granted_ms, "refreshed_at", (json_int_t)t->refreshed_ms,
	    "warned", t->warned, "rejected", t->rejected);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text == NULL)
		return mlc_err_set(err, "out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		mlc_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, 0600) != 0 || write_all(fd, text, strlen(text)) != 0 ||
	    write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
		mlc_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		mlc_err_set(err, "cannot replace %s: %s", path, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	explicit_bzero(text, strlen(text));
	free(text);
	return 0;
fail:
	explicit_bzero(text, strlen(text));
	free(text);
	return -1;
}
