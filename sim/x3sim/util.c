/*
 * util.c: the small text helpers x3sim renders responses with.
 *
 * api1 amounts must go out as JSON numbers with exactly two decimals
 * ("12345.60"), which jansson can only produce through a double. So api1
 * bodies are written as text with this builder; jansson is kept for the
 * bodies that hold no amounts ($diagnoses, /sim/ routes).
 */
#include "x3sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
grow(struct x3_buf *b, size_t need)
{
	size_t ncap;
	char *np;

	if (b->oom)
		return -1;
	if (b->len + need + 1 <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + need + 1) {
		if (ncap > ((size_t)1 << 30)) {
			b->oom = 1;
			return -1;
		}
		ncap *= 2;
	}
	np = realloc(b->p, ncap);
	if (np == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

void
x3_buf_put(struct x3_buf *b, const char *s, size_t n)
{
	if (grow(b, n) != 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
x3_buf_puts(struct x3_buf *b, const char *s)
{
	x3_buf_put(b, s, strlen(s));
}

void
x3_buf_printf(struct x3_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(b, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
x3_buf_json_str(struct x3_buf *b, const char *s)
{
	char esc[8];

	x3_buf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			x3_buf_put(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			x3_buf_put(b, esc, 6);
		} else {
			x3_buf_put(b, s, 1);
		}
	}
	x3_buf_put(b, "\"", 1);
}

void
x3_buf_url_enc(struct x3_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char pct[3];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
			x3_buf_put(b, s, 1);
		} else {
			pct[0] = '%';
			pct[1] = hex[c >> 4];
			pct[2] = hex[c & 15];
			x3_buf_put(b, pct, 3);
		}
	}
}

char *
x3_buf_take(struct x3_buf *b, size_t *len)
{
	char *p;

	if (b->oom || grow(b, 0) != 0) {
		x3_buf_free(b);
		return NULL;
	}
	p = b->p;
	if (len != NULL)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return p;
}

void
x3_buf_free(struct x3_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
x3_dec2_format(int64_t cents, char out[32])
{
	/* Work on the magnitude as unsigned so INT64_MIN cannot overflow. */
	uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;

	snprintf(out, 32, "%s%llu.%02llu", cents < 0 ? "-" : "",
	    (unsigned long long)(mag / 100), (unsigned long long)(mag % 100));
}

void
x3_sanitize(const char *in, char *out, size_t outsz)
{
	size_t n = 0;

	if (outsz == 0)
		return;
	for (; *in && n + 1 < outsz; in++)
		out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[n] = '\0';
	if (*in && outsz > 4)
		memcpy(out + outsz - 4, "...", 4);
}
