/*
 * mlc_secrets: see mlc_secrets.h.
 *
 * File layout (all integers big-endian):
 *
 *   "MLCSECR1"                       magic and version
 *   u32 count                        entries, key-check record included
 *   count x {
 *     u8  name_len, name             the check record is named "@check"
 *     u64 updated_ms                 when the entry was written
 *     u8  nonce[12]                  fresh from RAND_bytes() on every write
 *     u32 ct_len, ct[ct_len]         AES-256-GCM ciphertext
 *     u8  tag[16]                    GCM tag; AAD = magic|name_len|name|updated
 *   }
 *   u8 mac[32]                       HMAC-SHA256(mac key, all bytes before)
 *
 * Why a key-check record and a MAC: GCM alone tells "this entry does not
 * decrypt" but not why. The check record decrypts with the right key
 * whatever else happened to the file, so its failure means "wrong key";
 * with the right key, a MAC failure means the file was altered (an entry
 * removed or an old copy of one put back, which per-entry GCM cannot see).
 */
#include "mlc_secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define MAGIC        "MLCSECR1"
#define MAGIC_LEN    8
#define NONCE_LEN    12
#define TAG_LEN      16
#define MAC_LEN      32
#define CHECK_NAME   "@check"
#define CHECK_TEXT   "mlc-secrets key check v1"
#define FILE_MAX     (20 * 1024 * 1024)
#define KEYFILE_MAX  4096

struct entry {
	char name[MLC_SECRETS_NAME_MAX + 1];
	int64_t updated_ms;
	unsigned char *value;   /* plaintext, NUL-terminated, len bytes */
	size_t len;
};

struct mlc_secrets {
	char path[PATH_MAX];
	unsigned char enc_key[32];
	unsigned char mac_key[32];
	struct entry *e;
	size_t n;
};

static unsigned char g_master[MLC_SECRETS_KEY_LEN];
static int g_master_set;

/* ---- small helpers ---------------------------------------------------- */

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
mlc_secrets_free_value(char *value)
{
	if (value != NULL) {
		OPENSSL_cleanse(value, strlen(value));
		free(value);
	}
}

static void
entry_clear(struct entry *e)
{
	if (e->value != NULL) {
		OPENSSL_cleanse(e->value, e->len);
		free(e->value);
	}
	memset(e, 0, sizeof(*e));
}

static void
entries_free(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		entry_clear(&e[i]);
	free(e);
}

int
mlc_secrets_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > MLC_SECRETS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
mlc_secrets_parse_key(const char *text, size_t len,
    unsigned char key[MLC_SECRETS_KEY_LEN], struct mlc_err *err)
{
	unsigned char tmp[64];
	int n, pad = 0;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
	    text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 2 * MLC_SECRETS_KEY_LEN) {
		int ok = 1;

		for (size_t i = 0; i < MLC_SECRETS_KEY_LEN; i++) {
			int hi = hexval((unsigned char)text[2 * i]);
			int lo = hexval((unsigned char)text[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				ok = 0;
				break;
			}
			key[i] = (unsigned char)(hi << 4 | lo);
		}
		if (ok)
			return 0;
	}
	/* base64 of 32 bytes is 44 characters with one '='. */
	if (len == 44) {
		for (size_t i = 0; i < len; i++) {
			char c = text[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '+' || c == '/' ||
			    (c == '=' && i >= len - 2)))
				goto bad;
			pad += c == '=';
		}
		n = EVP_DecodeBlock(tmp, (const unsigned char *)text, (int)len);
		if (n - pad == MLC_SECRETS_KEY_LEN) {
			memcpy(key, tmp, MLC_SECRETS_KEY_LEN);
			OPENSSL_cleanse(tmp, sizeof(tmp));
			return 0;
		}
		OPENSSL_cleanse(tmp, sizeof(tmp));
	}
bad:
	OPENSSL_cleanse(key, MLC_SECRETS_KEY_LEN);
	return mlc_err_set(err, "the master key must be 32 bytes given as 64 hex "
	    "characters or 44 base64 characters (got %zu characters); "
	    "`mlc keys generate --master FILE` makes one", len);
}

/* Reads a whole small file; NULL with errno set, *too_big when over max. */
static unsigned char *
read_all(const char *path, size_t max, size_t *len, int *too_big)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;

	*too_big = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		*too_big = 1;
		errno = EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			goto fail;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	*len = got;
	return buf;
fail:
	{
		int e = errno;

		if (buf != NULL) {
			OPENSSL_cleanse(buf, (size_t)st.st_size);
			free(buf);
		}
		close(fd);
		errno = e;
	}
	return NULL;
}

void
mlc_secrets_forget_master_key(void)
{
	OPENSSL_cleanse(g_master, sizeof(g_master));
	g_master_set = 0;
}

int
mlc_secrets_master_key(unsigned char key[MLC_SECRETS_KEY_LEN], struct mlc_err *err)
{
	const char *file = getenv("MLC_MASTER_KEY_FILE");
	char *text = getenv("MLC_MASTER_KEY");
	unsigned char *buf;
	size_t len;
	int too_big, rc;

	if (g_master_set) {
		memcpy(key, g_master, MLC_SECRETS_KEY_LEN);
		return 0;
	}
	if (file != NULL && *file != '\0' && text != NULL && *text != '\0')
		return mlc_err_set(err, "both MLC_MASTER_KEY_FILE and MLC_MASTER_KEY are "
		    "set; set only one (the file is preferred: the environment of a "
		    "process can be read by its user)");
	if (file != NULL && *file != '\0') {
		buf = read_all(file, KEYFILE_MAX, &len, &too_big);
		if (buf == NULL)
			return mlc_err_set(err, "MLC_MASTER_KEY_FILE %s: %s", file,
			    too_big ? "larger than 4 KiB; it should hold the 32-byte key" :
			    strerror(errno));
		if (len == MLC_SECRETS_KEY_LEN) {
			memcpy(key, buf, MLC_SECRETS_KEY_LEN);
			rc = 0;
		} else {
			rc = mlc_secrets_parse_key((const char *)buf, len, key, err);
			if (rc != 0)
				mlc_err_set(err, "MLC_MASTER_KEY_FILE %s: must hold 32 raw bytes "
				    "or 64 hex characters (holds %zu bytes); `mlc keys generate "
				    "--master FILE` makes one", file, len);
		}
		OPENSSL_cleanse(buf, len);
		free(buf);
		if (rc != 0)
			return -1;
	} else if (text != NULL && *text != '\0') {
		if (mlc_secrets_parse_key(text, strlen(text), key, err) != 0)
			return mlc_err_set(err, "MLC_MASTER_KEY: must be 64 hex characters or "
			    "the base64 of 32 bytes (holds %zu characters)", strlen(text));
		/* getenv() points into the process's original environment block,
		 * which /proc/PID/environ shows: wipe the text there. */
		OPENSSL_cleanse(text, strlen(text));
	} else {
		return mlc_err_set(err, "no master key: set MLC_MASTER_KEY_FILE to a file "
		    "holding 32 random bytes or 64 hex characters (a Docker secret; "
		    "`mlc keys generate --master FILE` makes one), or MLC_MASTER_KEY");
	}
	memcpy(g_master, key, MLC_SECRETS_KEY_LEN);
	g_master_set = 1;
	return 0;
}

static int
derive(const unsigned char *master, const char *label, unsigned char out[32])
{
	unsigned int n = 0;

	return HMAC(EVP_sha256(), master, MLC_SECRETS_KEY_LEN,
	    (const unsigned char *)label, strlen(label), out, &n) != NULL && n == 32 ? 0 : -1;
}

/* AAD: magic | name_len | name | updated_ms */
static size_t
make_aad(unsigned char *aad, const char *name, int64_t updated)
{
	size_t nl = strlen(name);

	memcpy(aad, MAGIC, MAGIC_LEN);
	aad[MAGIC_LEN] = (unsigned char)nl;
	memcpy(aad + MAGIC_LEN + 1, name, nl);
	put_u64(aad + MAGIC_LEN + 1 + nl, (uint64_t)updated);
	return MAGIC_LEN + 1 + nl + 8;
}

static int
gcm(int enc, const unsigned char *key, const unsigned char *nonce,
    const unsigned char *aad, size_t aadlen, const unsigned char *in, size_t len,
    unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, ok = 0;

	if (c == NULL)
		return -1;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
		goto done;
	if (len > 0 && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto done;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
		goto done;
	if (EVP_CipherFinal_ex(c, out + (len > 0 ? n : 0), &n) != 1)
		goto done;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
		goto done;
	ok = 1;
done:
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* ---- parse / serialise ------------------------------------------------ */

/* Parses and verifies buf into a fresh entry array (check record left out).
 * Messages name the file; they are for the person starting the process. */
static int
parse_store(struct mlc_secrets *s, const unsigned char *buf, size_t len,
    struct entry **out, size_t *nout, struct mlc_err *err)
{
	const unsigned char *p = buf, *end;
	struct entry *e = NULL;
	size_t n = 0;
	uint32_t count;
	unsigned char mac[MAC_LEN];
	unsigned int maclen = 0;
	int checked = 0;

	if (len < MAGIC_LEN + 4 + MAC_LEN || memcmp(buf, MAGIC, MAGIC_LEN) != 0)
		return mlc_err_set(err, "secret store %s is not a secret store file (or is "
		    "damaged: bad header); restore it from a backup", s->path);
	end = buf + len - MAC_LEN;
	p += MAGIC_LEN;
	count = get_u32(p);
	p += 4;
	if (count == 0 || count > MLC_SECRETS_MAX + 1)
		goto corrupt;
	e = calloc(count, sizeof(*e));
	if (e == NULL)
		return mlc_err_set(err, "secret store: out of memory");
	for (uint32_t i = 0; i < count; i++) {
		unsigned char aad[MAGIC_LEN + 1 + MLC_SECRETS_NAME_MAX + 8];
		const unsigned char *nonce, *ct, *tag;
		char name[MLC_SECRETS_NAME_MAX + 1];
		size_t nl, ctl, aadlen;
		int64_t upd;
		unsigned char *pt;

		if (end - p < 1)
			goto corrupt;
		nl = *p++;
		if (nl == 0 || nl > MLC_SECRETS_NAME_MAX || (size_t)(end - p) < nl + 8 + NONCE_LEN + 4)
			goto corrupt;
		memcpy(name, p, nl);
		name[nl] = '\0';
		p += nl;
		upd = (int64_t)get_u64(p);
		p += 8;
		nonce = p;
		p += NONCE_LEN;
		ctl = get_u32(p);
		p += 4;
		if (ctl > MLC_SECRETS_VALUE_MAX || (size_t)(end - p) < ctl + TAG_LEN)
			goto corrupt;
		ct = p;
		tag = p + ctl;
		p += ctl + TAG_LEN;
		if (i == 0 ? strcmp(name, CHECK_NAME) != 0 : !mlc_secrets_name_ok(name))
			goto corrupt;
		pt = malloc(ctl + 1);
		if (pt == NULL) {
			mlc_err_set(err, "secret store: out of memory");
			goto fail;
		}
		aadlen = make_aad(aad, name, upd);
		if (gcm(0, s->enc_key, nonce, aad, aadlen, ct, ctl, pt, (unsigned char *)tag) != 0) {
			OPENSSL_cleanse(pt, ctl + 1);
			free(pt);
			if (i == 0) {
				mlc_err_set(err, "the master key does not open secret store %s "
				    "(its key-check record does not decrypt): check "
				    "MLC_MASTER_KEY_FILE / MLC_MASTER_KEY; the store was not "
				    "changed", s->path);
				goto fail;
			}
			mlc_err_set(err, "secret store %s: entry '%s' fails its integrity "
			    "check (the file was altered); restore it from a backup", s->path,
			    name);
			goto fail;
		}
		pt[ctl] = '\0';
		if (i == 0) {
			int ok = ctl == strlen(CHECK_TEXT) && memcmp(pt, CHECK_TEXT, ctl) == 0;

			free(pt);
			if (!ok)
				goto corrupt;
			checked = 1;
			continue;
		}
		for (size_t j = 0; j < n; j++) {
			if (strcmp(e[j].name, name) == 0) {
				OPENSSL_cleanse(pt, ctl);
				free(pt);
				goto corrupt;
			}
		}
		memcpy(e[n].name, name, nl + 1);
		e[n].updated_ms = upd;
		e[n].value = pt;
		e[n].len = ctl;
		n++;
	}
	if (p != end || !checked)
		goto corrupt;
	if (HMAC(EVP_sha256(), s->mac_key, sizeof(s->mac_key), buf, (size_t)(end - buf),
	    mac, &maclen) == NULL || maclen != MAC_LEN ||
	    CRYPTO_memcmp(mac, end, MAC_LEN) != 0) {
		mlc_err_set(err, "secret store %s fails its integrity check (an entry was "
		    "removed, replaced or reordered); restore it from a backup", s->path);
		goto fail;
	}
	*out = e;
	*nout = n;
	return 0;
corrupt:
	mlc_err_set(err, "secret store %s is damaged (bad entry layout); restore it "
	    "from a backup", s->path);
fail:
	if (e != NULL)
		entries_free(e, count);
	return -1;
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Serialises the check record plus e[0..n) into *out (malloc'd). Every
 * entry gets a fresh nonce: GCM must never see a (key, nonce) pair twice. */
static int
build_store(struct mlc_secrets *s, struct entry *e, size_t n, unsigned char **out,
    size_t *outlen, struct mlc_err *err)
{
	size_t cap = MAGIC_LEN + 4 + MAC_LEN, off;
	unsigned char *buf;
	unsigned int maclen = 0;

	cap += 1 + strlen(CHECK_NAME) + 8 + NONCE_LEN + 4 + strlen(CHECK_TEXT) + TAG_LEN;
	for (size_t i = 0; i < n; i++)
		cap += 1 + strlen(e[i].name) + 8 + NONCE_LEN + 4 + e[i].len + TAG_LEN;
	buf = malloc(cap);
	if (buf == NULL)
		return mlc_err_set(err, "secret store: out of memory");
	memcpy(buf, MAGIC, MAGIC_LEN);
	put_u32(buf + MAGIC_LEN, (uint32_t)(n + 1));
	off = MAGIC_LEN + 4;
	for (size_t i = 0; i <= n; i++) {
		unsigned char aad[MAGIC_LEN + 1 + MLC_SECRETS_NAME_MAX + 8];
		const char *name = i == 0 ? CHECK_NAME : e[i - 1].name;
		const unsigned char *pt = i == 0 ? (const unsigned char *)CHECK_TEXT :
		    e[i - 1].value;
		size_t len = i == 0 ? strlen(CHECK_TEXT) : e[i - 1].len, nl = strlen(name);
		int64_t upd = i == 0 ? now_ms() : e[i - 1].updated_ms;
		unsigned char *nonce;
		size_t aadlen;

		buf[off++] = (unsigned char)nl;
		memcpy(buf + off, name, nl);
		off += nl;
		put_u64(buf + off, (uint64_t)upd);
		off += 8;
		nonce = buf + off;
		if (RAND_bytes(nonce, NONCE_LEN) != 1)
			goto crypto;
		off += NONCE_LEN;
		put_u32(buf + off, (uint32_t)len);
		off += 4;
		aadlen = make_aad(aad, name, upd);
		if (gcm(1, s->enc_key, nonce, aad, aadlen, pt, len, buf + off,
		    buf + off + len) != 0)
			goto crypto;
		off += len + TAG_LEN;
	}
	if (HMAC(EVP_sha256(), s->mac_key, sizeof(s->mac_key), buf, off, buf + off,
	    &maclen) == NULL || maclen != MAC_LEN)
		goto crypto;
	*out = buf;
	*outlen = off + MAC_LEN;
	return 0;
crypto:
	free(buf);
	return mlc_err_set(err, "secret store: encryption failed (OpenSSL)");
}

static int
fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* tmp file, write, fsync, rename over the store, fsync the directory: a
 * crash leaves the old store or the new one, never a torn file. */
static int
write_atomic(const char *path, const unsigned char *buf, size_t len, struct mlc_err *err)
{
	char tmp[PATH_MAX + 32];
	size_t done = 0;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    sizeof(tmp))
		return mlc_err_set(err, "secret store path too long");
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return mlc_err_set(err, "secret store: cannot create %s: %s", tmp,
		    strerror(errno));
	fchmod(fd, 0600);
	while (done < len) {
		ssize_t w = write(fd, buf + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	if (fsync_dir(path) != 0)
		return mlc_err_set(err, "secret store: fsync of the directory of %s: %s",
		    path, strerror(errno));
	return 0;
fail:
	mlc_err_set(err, "secret store: cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* Reads the file at s->path into fresh entries. ENOENT gives an empty set
 * and *missing = 1. */
static int
load(struct mlc_secrets *s, struct entry **e, size_t *n, int *missing,
    struct mlc_err *err)
{
	unsigned char *buf;
	size_t len = 0;
	int too_big, rc;

	*e = NULL;
	*n = 0;
	*missing = 0;
	buf = read_all(s->path, FILE_MAX, &len, &too_big);
	if (buf == NULL) {
		if (errno == ENOENT) {
			*missing = 1;
			return 0;
		}
		return mlc_err_set(err, "secret store %s: %s", s->path,
		    too_big ? "larger than 20 MiB" : strerror(errno));
	}
	rc = parse_store(s, buf, len, e, n, err);
	free(buf);              /* ciphertext only */
	return rc;
}

int
mlc_secrets_open(struct mlc_secrets **sp, const char *path, const unsigned char *key,
    int create, struct mlc_err *err)
{
	struct mlc_secrets *s;
	unsigned char mk[MLC_SECRETS_KEY_LEN];
	int missing;

	*sp = NULL;
	if (path == NULL || *path == '\0' || strlen(path) >= PATH_MAX)
		return mlc_err_set(err, "secret store: no path (or too long)");
	if (key == NULL) {
		if (mlc_secrets_master_key(mk, err) != 0)
			return -1;
		key = mk;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mlc_err_set(err, "secret store: out of memory");
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (derive(key, "mlc-secrets v1 encryption", s->enc_key) != 0 ||
	    derive(key, "mlc-secrets v1 integrity", s->mac_key) != 0) {
		mlc_err_set(err, "secret store: key derivation failed (OpenSSL)");
		goto fail;
	}
	OPENSSL_cleanse(mk, sizeof(mk));
	if (load(s, &s->e, &s->n, &missing, err) != 0)
		goto fail;
	if (missing && !create) {
		mlc_err_set(err, "no secret store at %s: create it with `mlc secrets set "
		    "NAME` (or fix secrets.store)", path);
		goto fail;
	}
	*sp = s;
	return 0;
fail:
	OPENSSL_cleanse(mk, sizeof(mk));
	mlc_secrets_close(&s);
	return -1;
}

void
mlc_secrets_close(struct mlc_secrets **sp)
{
	struct mlc_secrets *s = sp ? *sp : NULL;

	if (s == NULL)
		return;
	entries_free(s->e, s->n);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

static struct entry *
find(struct mlc_secrets *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].name, name) == 0)
			return &s->e[i];
	return NULL;
}

char *
mlc_secrets_get(struct mlc_secrets *s, const char *name, size_t *len, struct mlc_err *err)
{
	struct entry *e = mlc_secrets_name_ok(name) ? find(s, name) : NULL;
	char *v;

	if (e == NULL) {
		mlc_err_set(err, "no secret '%s' in store %s; add it with `mlc secrets set "
		    "%s`", mlc_secrets_name_ok(name) ? name : "(invalid name)", s->path,
		    mlc_secrets_name_ok(name) ? name : "NAME");
		return NULL;
	}
	v = malloc(e->len + 1);
	if (v == NULL) {
		mlc_err_set(err, "secret store: out of memory");
		return NULL;
	}
	memcpy(v, e->value, e->len + 1);
	if (len != NULL)
		*len = e->len;
	return v;
}

/* Re-reads the file under an exclusive lock, applies the change (value
 * NULL: remove), writes it and adopts the result as s's entries. */
static int
modify(struct mlc_secrets *s, const char *name, const void *value, size_t len,
    struct mlc_err *err)
{
	char lock[PATH_MAX + 8];
	struct entry *e = NULL, *x;
	size_t n = 0;
	unsigned char *buf = NULL;
	size_t buflen = 0;
	int fd, missing, rc = -1, found = 0;

	snprintf(lock, sizeof(lock), "%s.lock", s->path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mlc_err_set(err, "secret store: cannot open lock %s: %s", lock,
		    strerror(errno));
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			mlc_err_set(err, "secret store: cannot lock %s: %s", lock,
			    strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (load(s, &e, &n, &missing, err) != 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(e[i].name, name) != 0)
			continue;
		found = 1;
		entry_clear(&e[i]);
		e[i] = e[n - 1];
		memset(&e[n - 1], 0, sizeof(e[n - 1]));
		n--;
		break;
	}
	if (value != NULL) {
		if (n >= MLC_SECRETS_MAX) {
			mlc_err_set(err, "secret store %s holds %d secrets, the limit", s->path,
			    MLC_SECRETS_MAX);
			goto done;
		}
		x = realloc(e, (n + 1) * sizeof(*e));
		if (x == NULL) {
			mlc_err_set(err, "secret store: out of memory");
			goto done;
		}
		e = x;
		memset(&e[n], 0, sizeof(e[n]));
		e[n].value = malloc(len + 1);
		if (e[n].value == NULL) {
			mlc_err_set(err, "secret store: out of memory");
			goto done;
		}
		memcpy(e[n].value, value, len);
		e[n].value[len] = '\0';
		e[n].len = len;
		snprintf(e[n].name, sizeof(e[n].name), "%s", name);
		e[n].updated_ms = now_ms();
		n++;
	} else if (!found) {
		rc = 1;
		goto done;
	}
	if (n > 0)
		qsort(e, n, sizeof(*e), cmp_entry);
	if (build_store(s, e, n, &buf, &buflen, err) != 0 ||
	    write_atomic(s->path, buf, buflen, err) != 0)
		goto done;
	entries_free(s->e, s->n);
	s->e = e;
	s->n = n;
	e = NULL;
	n = 0;
	rc = 0;
done:
	free(buf);
	if (e != NULL)
		entries_free(e, n);
	flock(fd, LOCK_UN);
	close(fd);
	return rc;
}

int
mlc_secrets_put(struct mlc_secrets *s, const char *name, const void *value, size_t len,
    struct mlc_err *err)
{
	if (!mlc_secrets_name_ok(name))
		return mlc_err_set(err, "secret name must be 1 to %d characters of letters, "
		    "digits, '.', '_' and '-'", MLC_SECRETS_NAME_MAX);
	if (value == NULL || len == 0)
		return mlc_err_set(err, "secret '%s': the value is empty", name);
	if (len > MLC_SECRETS_VALUE_MAX)
		return mlc_err_set(err, "secret '%s': the value is %zu bytes, the limit is "
		    "%d", name, len, MLC_SECRETS_VALUE_MAX);
	if (memchr(value, '\0', len) != NULL)
		return mlc_err_set(err, "secret '%s': the value contains a NUL byte", name);
	return modify(s, name, value, len, err);
}

int
mlc_secrets_rm(struct mlc_secrets *s, const char *name, struct mlc_err *err)
{
	if (!mlc_secrets_name_ok(name))
		return 1;
	return modify(s, name, NULL, 0, err);
}

void
mlc_secrets_list(struct mlc_secrets *s,
    void (*fn)(const char *name, int64_t updated_ms, void *arg), void *arg)
{
	if (s->n > 0)           /* an empty store has no array (qsort(NULL) is UB) */
		qsort(s->e, s->n, sizeof(*s->e), cmp_entry);
	for (size_t i = 0; i < s->n; i++)
		fn(s->e[i].name, s->e[i].updated_ms, arg);
}

int
mlc_secrets_path(const char *state_dir, const char *store, char *out, size_t outsz,
    struct mlc_err *err)
{
	int n;

	if (store != NULL && *store != '\0')
		n = snprintf(out, outsz, "%s", store);
	else
		n = snprintf(out, outsz, "%s/secrets.db", state_dir ? state_dir : ".");
	if (n < 0 || (size_t)n >= outsz)
		return mlc_err_set(err, "secret store path is too long");
	return 0;
}

/* ---- config references ------------------------------------------------ */

int
mlc_secrets_is_ref(const char *field)
{
	return field != NULL &&
	    strncmp(field, MLC_SECRETS_REF_PREFIX, strlen(MLC_SECRETS_REF_PREFIX)) == 0;
}

int
mlc_secrets_ref_split(const char *field, char *name, size_t namesz, char *path,
    size_t pathsz)
{
	const char *p, *at;

	if (!mlc_secrets_is_ref(field))
		return -1;
	p = field + strlen(MLC_SECRETS_REF_PREFIX);
	at = strchr(p, '@');
	if (at == NULL || at == p || (size_t)(at - p) >= namesz || at[1] == '\0' ||
	    strlen(at + 1) >= pathsz)
		return -1;
	memcpy(name, p, (size_t)(at - p));
	name[at - p] = '\0';
	snprintf(path, pathsz, "%s", at + 1);
	return mlc_secrets_name_ok(name) ? 0 : -1;
}

char *
mlc_secrets_get_ref(const char *field, const char *what, struct mlc_err *err)
{
	char name[MLC_SECRETS_NAME_MAX + 1], path[PATH_MAX];
	struct mlc_secrets *s = NULL;
	char *v;

	if (mlc_secrets_ref_split(field, name, sizeof(name), path, sizeof(path)) != 0) {
		mlc_err_set(err, "%s: bad secret store reference", what ? what : "secret");
		return NULL;
	}
	if (mlc_secrets_open(&s, path, NULL, 0, err) != 0) {
		mlc_err_prefix(err, "%s", what ? what : name);
		return NULL;
	}
	v = mlc_secrets_get(s, name, NULL, err);
	mlc_secrets_close(&s);
	return v;
}

int
mlc_secrets_put_at(const char *path, const char *name, const void *value, size_t len,
    struct mlc_err *err)
{
	struct mlc_secrets *s = NULL;
	int rc;

	if (mlc_secrets_open(&s, path, NULL, 1, err) != 0)
		return -1;
	rc = mlc_secrets_put(s, name, value, len, err);
	mlc_secrets_close(&s);
	return rc;
}

int
mlc_secrets_put_ref(const char *field, const void *value, size_t len, struct mlc_err *err)
{
	char name[MLC_SECRETS_NAME_MAX + 1], path[PATH_MAX];

	if (mlc_secrets_ref_split(field, name, sizeof(name), path, sizeof(path)) != 0)
		return mlc_err_set(err, "bad secret store reference");
	return mlc_secrets_put_at(path, name, value, len, err);
}
