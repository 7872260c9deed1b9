/*
 * termsafe.c - escaping of untrusted text for terminals (see termsafe.h).
 * Pure output: no allocation, no state. Must never let a control character,
 * in any encoding, through to F.
 */
#include "autoconf.h"

#include "termsafe.h"

#include <string.h>

#include "utf8.h"

/* seq_len: length of the UTF-8 sequence at P (LEFT bytes), 0 if invalid. */
static size_t seq_len(const unsigned char *p, size_t left)
{
	size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;

	return n > 0 && n <= left && utf8_valid((const char *)p, n) ? n : 0;
}

/* code_point: the code point of the valid sequence P[0..N). */
static unsigned long code_point(const unsigned char *p, size_t n)
{
	unsigned long cp = n == 1 ? p[0] : n == 2 ? p[0] & 0x1fu : n == 3 ? p[0] & 0x0fu : p[0] & 0x07u;
	size_t i;

	for (i = 1; i < n; i++)
		cp = (cp << 6) | (p[i] & 0x3fu);
	return cp;
}

static int escaped_cp(unsigned long cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

void termsafe_write(FILE *f, const char *s, size_t n, int flags)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;

	while (p < e) {
		size_t len = seq_len(p, (size_t)(e - p));
		if (len == 1 && (*p == '\t' || *p == '\n' || *p == '\r') && (flags & TERMSAFE_ONE_LINE)) {
			fputc(' ', f);
		} else if (len == 1 && (*p == '\t' || *p == '\n')) {
			fputc(*p, f);
		} else if (len == 0 || (len == 1 && (*p < 0x20 || *p == 0x7f))) {
			fprintf(f, "\\x%02x", *p);
			len = 1;
		} else if (len > 1 && escaped_cp(code_point(p, len))) {
			fprintf(f, "\\u%04lx", code_point(p, len));
		} else {
			fwrite(p, 1, len, f);
		}
		p += len;
	}
}

void termsafe_puts(FILE *f, const char *s, int flags)
{
	if (s != NULL)
		termsafe_write(f, s, strlen(s), flags);
}
