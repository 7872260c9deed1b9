/*
 * mime_decode.c - bounded quoted-printable and base64 decoding (see
 * mime_decode.h). Never reads outside [body, body + len).
 */
#include "autoconf.h"

#include "mime_decode.h"

#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#include "xalloc.h"

struct dbuf {
	char *p;
	size_t len, cap;
};

static void dbuf_add(struct dbuf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int hexval(char c)
{
	return (c >= '0' && c <= '9')	? c - '0'
	       : (c >= 'A' && c <= 'F') ? c - 'A' + 10
	       : (c >= 'a' && c <= 'f') ? c - 'a' + 10
					: -1;
}

/* qp_decode: RFC 2045 §6.7, leniently: "=XX" a byte, "=" before optional
 * white space and a line end a soft break, any other "=" itself. Line ends
 * stay as they are. (Debian's libetpan decoder reads past its input.) */
static void qp_decode(struct dbuf *out, const char *s, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		if (s[i] != '=') {
			const char *eq = memchr(s + i, '=', n - i);
			size_t k = eq ? (size_t)(eq - s) : n;
			dbuf_add(out, s + i, k - i);
			i = k;
			continue;
		}
		if (i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			char b = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			dbuf_add(out, &b, 1);
			i += 3;
			continue;
		}
		for (j = i + 1; j < n && is_wsp(s[j]); j++)
			;
		if (j == n || s[j] == '\n' || (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n')) {
			i = j == n ? n : j + (s[j] == '\r' ? 2 : 1);
			continue;
		}
		dbuf_add(out, "=", 1);
		i++;
	}
}

static int b64val(char c)
{
	return (c >= 'A' && c <= 'Z')	? c - 'A'
	       : (c >= 'a' && c <= 'z') ? c - 'a' + 26
	       : (c >= '0' && c <= '9') ? c - '0' + 52
	       : c == '+'		? 62
	       : c == '/'		? 63
					: -1;
}

/* b64_decode: base64, skipping what is not in the alphabet, up to the
 * first '='; a final incomplete group gives what bytes it holds. */
static void b64_decode(struct dbuf *out, const char *s, size_t n)
{
	unsigned long acc = 0;
	size_t i;
	int bits = 0;

	for (i = 0; i < n && s[i] != '='; i++) {
		int v = b64val(s[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			char b = (char)((acc >> (bits - 8)) & 0xff);
			dbuf_add(out, &b, 1);
			bits -= 8;
		}
	}
}

char *mime_decode_body(const char *body, size_t len, int cte, size_t *outlen)
{
	struct dbuf out = {NULL, 0, 0};

	dbuf_add(&out, "", 0);
	if (cte == MAILMIME_MECHANISM_7BIT || cte == MAILMIME_MECHANISM_8BIT ||
	    cte == MAILMIME_MECHANISM_BINARY)
		dbuf_add(&out, body, len);
	else if (cte == MAILMIME_MECHANISM_QUOTED_PRINTABLE)
		qp_decode(&out, body, len);
	else if (cte == MAILMIME_MECHANISM_BASE64)
		b64_decode(&out, body, len);
	else {
		free(out.p);
		return NULL;
	}
	*outlen = out.len;
	return out.p;
}
