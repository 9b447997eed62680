/*
 * mlc secrets / mlc keys: the operator's side of the encrypted secret store
 * (common/mlc_secrets.h) and of the key material it and CURVE need.
 *
 *   mlc secrets set NAME [--file F]   value from stdin (or F), never argv
 *   mlc secrets list                  names and dates, never values
 *   mlc secrets rm NAME
 *   mlc keys generate --master FILE   a new 32-byte master key (64 hex)
 *   mlc keys generate --curve DIR     CURVE key pairs for zmq.curve
 *
 * The store is secrets.store from the config (-c), else state_dir/secrets.db;
 * --store PATH names it directly (no config needed). The master key comes
 * from MLC_MASTER_KEY_FILE or MLC_MASTER_KEY, as for every process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cli.h"
#include "mlc_secrets.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mlc secrets set NAME [--file F] [-c CONFIG | --store PATH]\n"
	    "       mlc secrets list [-c CONFIG | --store PATH]\n"
	    "       mlc secrets rm NAME [-c CONFIG | --store PATH]\n"
	    "       mlc keys generate --master FILE\n"
	    "       mlc keys generate --curve DIR\n"
	    "\n"
	    "The value of `set` is read from standard input (one line; a final\n"
	    "newline is dropped) or from --file F, never from the command line.\n"
	    "The master key comes from MLC_MASTER_KEY_FILE or MLC_MASTER_KEY.\n");
}

/* Finds the store path from --store or the config; removes those args. */
static int
store_path(int *argc, char **argv, char *out, size_t outsz)
{
	struct mlc_cfg *cfg;
	struct mlc_err err;
	int j = 0, rc;

	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < *argc) {
			snprintf(out, outsz, "%s", argv[++i]);
			continue;
		}
		argv[j++] = argv[i];
	}
	*argc = j;
	argv[j] = NULL;
	if (out[0] != '\0')
		return 0;
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return -1;
	rc = cli_load_config(argc, argv, cfg, NULL);
	if (rc == 0 && mlc_secrets_path(cfg->state_dir, cfg->secrets_store, out, outsz,
	    &err) != 0) {
		fprintf(stderr, "mlc: %s\n", err.msg);
		rc = -1;
	}
	free(cfg);
	return rc;
}

/* Reads the value: the whole of fd, at most MLC_SECRETS_VALUE_MAX bytes,
 * one final "\n" or "\r\n" dropped. */
static char *
read_value(int fd, size_t *len)
{
	size_t cap = MLC_SECRETS_VALUE_MAX + 2, n = 0;
	char *buf = malloc(cap);

	if (buf == NULL)
		return NULL;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "mlc secrets: read: %s\n", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			fprintf(stderr, "mlc secrets: the value is longer than %d bytes\n",
			    MLC_SECRETS_VALUE_MAX);
			goto fail;
		}
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	OPENSSL_cleanse(buf, cap);
	free(buf);
	return NULL;
}

static int
cmd_set(int argc, char **argv, const char *path)
{
	struct mlc_secrets *s = NULL;
	struct mlc_err err;
	const char *name = NULL, *file = NULL;
	struct termios old, quiet;
	int fd = 0, echo_off = 0, rc = 1;
	size_t len = 0;
	char *v;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (name == NULL && argv[i][0] != '-')
			name = argv[i];
		else {
			fprintf(stderr, "mlc secrets set: unexpected argument '%s' (the value "
			    "is read from stdin or --file, never the command line)\n",
			    argv[i]);
			return 2;
		}
	}
	if (name == NULL || !mlc_secrets_name_ok(name)) {
		fprintf(stderr, "mlc secrets set: NAME must be 1 to %d letters, digits, "
		    "'.', '_' or '-'\n", MLC_SECRETS_NAME_MAX);
		return 2;
	}
	/* Open (and so check the key) before reading the value. */
	if (mlc_secrets_open(&s, path, NULL, 1, &err) != 0) {
		fprintf(stderr, "mlc secrets: %s\n", err.msg);
		return 1;
	}
	if (file != NULL) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "mlc secrets set: %s: %s\n", file, strerror(errno));
			goto done;
		}
	} else if (isatty(0) && tcgetattr(0, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		if (tcsetattr(0, TCSAFLUSH, &quiet) == 0)
			echo_off = 1;
		fprintf(stderr, "value for %s (then Enter and Ctrl-D): ", name);
	}
	v = read_value(fd, &len);
	if (echo_off) {
		tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (file != NULL)
		close(fd);
	if (v == NULL)
		goto done;
	if (mlc_secrets_put(s, name, v, len, &err) != 0)
		fprintf(stderr, "mlc secrets: %s\n", err.msg);
	else {
		printf("secret %s saved in %s\n", name, path);
		rc = 0;
	}
	mlc_secrets_free_value(v);
done:
	mlc_secrets_close(&s);
	return rc;
}

static void
print_entry(const char *name, int64_t updated_ms, void *arg)
{
	time_t t = (time_t)(updated_ms / 1000);
	struct tm tm;
	char when[32];

	(void)arg;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-40s %s\n", name, when);
}

static int
cmd_list_rm(int argc, char **argv, const char *path, int rm)
{
	struct mlc_secrets *s = NULL;
	struct mlc_err err;
	int rc;

	if (rm && (argc != 2 || !mlc_secrets_name_ok(argv[1]))) {
		fprintf(stderr, "usage: mlc secrets rm NAME\n");
		return 2;
	}
	if (!rm && argc != 1) {
		fprintf(stderr, "usage: mlc secrets list\n");
		return 2;
	}
	if (mlc_secrets_open(&s, path, NULL, 0, &err) != 0) {
		fprintf(stderr, "mlc secrets: %s\n", err.msg);
		return 1;
	}
	if (!rm) {
		mlc_secrets_list(s, print_entry, NULL);
		mlc_secrets_close(&s);
		return 0;
	}
	rc = mlc_secrets_rm(s, argv[1], &err);
	mlc_secrets_close(&s);
	if (rc < 0) {
		fprintf(stderr, "mlc secrets: %s\n", err.msg);
		return 1;
	}
	if (rc == 1) {
		fprintf(stderr, "mlc secrets: no secret '%s' in %s\n", argv[1], path);
		return 1;
	}
	printf("secret %s removed from %s\n", argv[1], path);
	return 0;
}

/* Creates path (mode 0600, never over an existing file) holding text. */
static int
write_new(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	size_t len = strlen(text);

	if (fd < 0) {
		fprintf(stderr, "mlc keys: %s: %s%s\n", path, strerror(errno),
		    errno == EEXIST ? " (not overwritten: remove it first)" : "");
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		fprintf(stderr, "mlc keys: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
gen_master(const char *path)
{
	unsigned char key[MLC_SECRETS_KEY_LEN];
	char hex[2 * MLC_SECRETS_KEY_LEN + 2];
	int rc;

	if (RAND_bytes(key, sizeof(key)) != 1) {
		fprintf(stderr, "mlc keys: no randomness (OpenSSL RAND_bytes failed)\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	hex[2 * MLC_SECRETS_KEY_LEN] = '\n';
	hex[2 * MLC_SECRETS_KEY_LEN + 1] = '\0';
	rc = write_new(path, hex, 0600);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc != 0)
		return 1;
	printf("master key written to %s (mode 0600); point MLC_MASTER_KEY_FILE at it "
	    "and keep a copy apart from the store: without it the store cannot be "
	    "read\n", path);
	return 0;
}

static int
gen_curve(const char *dir)
{
	static const char *const who[] = { "server", "client" };
	char pub[2][41], sec[41], path[PATH_MAX], line[64];

	if (!zmq_has("curve")) {
		fprintf(stderr, "mlc keys: this libzmq was built without CURVE\n");
		return 1;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "mlc keys: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		if (zmq_curve_keypair(pub[i], sec) != 0) {
			fprintf(stderr, "mlc keys: zmq_curve_keypair: %s\n", zmq_strerror(errno));
			return 1;
		}
		snprintf(path, sizeof(path), "%s/%s.key", dir, who[i]);
		if ((size_t)snprintf(line, sizeof(line), "%s\n", sec) >= sizeof(line)) {
			OPENSSL_cleanse(sec, sizeof(sec));
			return 1;
		}
		OPENSSL_cleanse(sec, sizeof(sec));
		if (write_new(path, line, 0600) != 0) {
			OPENSSL_cleanse(line, sizeof(line));
			return 1;
		}
		OPENSSL_cleanse(line, sizeof(line));
		snprintf(path, sizeof(path), "%s/%s.pub", dir, who[i]);
		if ((size_t)snprintf(line, sizeof(line), "%s\n", pub[i]) >= sizeof(line) ||
		    write_new(path, line, 0644) != 0)
			return 1;
	}
	printf("CURVE keys written to %s. Configuration (every process):\n\n"
	    "zmq:\n"
	    "  curve:\n"
	    "    enabled: true\n"
	    "    server_secret_key_file: %s/server.key\n"
	    "    server_public_key: \"%s\"\n"
	    "    client_secret_key_file: %s/client.key\n"
	    "    client_public_key: \"%s\"\n", dir, dir, pub[0], dir, pub[1]);
	return 0;
}

static int
cli_keys(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "generate") == 0) {
		if (strcmp(argv[2], "--master") == 0)
			return gen_master(argv[3]);
		if (strcmp(argv[2], "--curve") == 0)
			return gen_curve(argv[3]);
	}
	usage(stderr);
	return 2;
}

int
cli_secrets(int argc, char **argv)
{
	char path[PATH_MAX] = "";

	if (strcmp(argv[0], "keys") == 0)
		return cli_keys(argc, argv);
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (store_path(&argc, argv, path, sizeof(path)) != 0)
		return 1;
	if (strcmp(argv[1], "set") == 0)
		return cmd_set(argc - 1, argv + 1, path);
	if (strcmp(argv[1], "list") == 0)
		return cmd_list_rm(argc - 1, argv + 1, path, 0);
	if (strcmp(argv[1], "rm") == 0)
		return cmd_list_rm(argc - 1, argv + 1, path, 1);
	fprintf(stderr, "mlc secrets: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
