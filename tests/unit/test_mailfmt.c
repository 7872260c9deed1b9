/*
 * test_mailfmt.c - lib/mailfmt.c's quoted-printable encoder (RFC 2045
 * §6.7), which every copy's text part goes through: against a plain
 * byte-at-a-time reference encoder (the one the run-copying encoder
 * replaced), on fixed cases and 20,000 random texts rich in the bytes
 * that matter (white space before line ends, '=', CR, LF, 8-bit, long
 * lines); every output line is at most 76 characters, no line ends in
 * white space, and it decodes back to the input (line ends as CR LF).
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "mailfmt.h"
#include "tap.h"

static const char hex[] = "0123456789ABCDEF";

/* ref_qp: the straightforward encoder, one byte at a time. */
static void ref_qp(struct mbuf *out, const char *s, size_t n)
{
	size_t i = 0, col = 0;

	while (i < n) {
		unsigned char ch = (unsigned char)s[i];
		int eol;
		if (ch == '\n' || (ch == '\r' && i + 1 < n && s[i + 1] == '\n')) {
			mbuf_add(out, "\r\n", 2);
			col = 0;
			i += ch == '\r' ? 2 : 1;
			continue;
		}
		eol = i + 1 == n || s[i + 1] == '\n' ||
		      (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n');
		if (col + ((ch >= 33 && ch <= 126 && ch != '=') ? 1 : 3) > 75) {
			mbuf_add(out, "=\r\n", 3);
			col = 0;
		}
		if ((ch >= 33 && ch <= 126 && ch != '=') || ((ch == ' ' || ch == '\t') && !eol)) {
			mbuf_add(out, s + i, 1);
			col++;
		} else {
			char e[3] = {'=', hex[ch >> 4], hex[ch & 15]};
			mbuf_add(out, e, 3);
			col += 3;
		}
		i++;
	}
}

/* decode: quoted-printable Q back to bytes; -1 on a malformed escape. */
static int decode(const char *q, size_t n, struct mbuf *out)
{
	size_t i = 0;

	while (i < n) {
		if (q[i] == '=' && i + 2 < n && q[i + 1] == '\r' && q[i + 2] == '\n') {
			i += 3;
		} else if (q[i] == '=') {
			const char *a, *b;
			char c;
			if (i + 2 >= n || (a = strchr(hex, q[i + 1])) == NULL ||
			    (b = strchr(hex, q[i + 2])) == NULL || q[i + 1] == 0 || q[i + 2] == 0)
				return -1;
			c = (char)((a - hex) * 16 + (b - hex));
			mbuf_add(out, &c, 1);
			i += 3;
		} else {
			mbuf_add(out, q + i, 1);
			i++;
		}
	}
	return 0;
}

/* lines_ok: every line of Q at most 76 characters, none ending in WSP. */
static int lines_ok(const char *q, size_t n)
{
	size_t start = 0, i;

	for (i = 0; i + 1 < n; i++) {
		if (q[i] != '\r' || q[i + 1] != '\n')
			continue;
		if (i - start > 76 || (i > start && (q[i - 1] == ' ' || q[i - 1] == '\t')))
			return 0;
		start = i + 2;
	}
	return n - start <= 76;
}

/* crlf: S with every line end (LF or CR LF) as CR LF. */
static void crlf(const char *s, size_t n, struct mbuf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			mbuf_add(out, "\r\n", 2);
		else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
			mbuf_add(out, "\r\n", 2);
			i++;
		} else
			mbuf_add(out, s + i, 1);
	}
}

/* check: the encoder against the reference and the rules on S[0..N); 1 if all hold. */
static int check(const char *s, size_t n, int verbose)
{
	struct mbuf a = {0}, b = {0}, d = {0}, w = {0};
	int good;

	mbuf_add(&a, "", 0);
	mbuf_add(&b, "", 0);
	mbuf_add(&d, "", 0);
	mbuf_add(&w, "", 0);
	mailfmt_qp(&a, s, n);
	ref_qp(&b, s, n);
	crlf(s, n, &w);
	good = a.n == b.n && memcmp(a.p, b.p, a.n) == 0 && lines_ok(a.p, a.n) &&
	       decode(a.p, a.n, &d) == 0 && d.n == w.n && memcmp(d.p, w.p, d.n) == 0;
	if (!good && verbose)
		printf("# input %zu bytes; got %zu, reference %zu; same %d, lines %d, decodes %d\n", n,
		       a.n, b.n, a.n == b.n && memcmp(a.p, b.p, a.n) == 0, lines_ok(a.p, a.n),
		       decode(a.p, a.n, &d) == 0 && d.n == w.n && memcmp(d.p, w.p, d.n) == 0);
	mbuf_free(&a);
	mbuf_free(&b);
	mbuf_free(&d);
	mbuf_free(&w);
	return good;
}

int main(void)
{
	static const char *const fixed[] = {
		"",
		"Hello list.\r\n",
		"trailing space \r\nand tab\t\nend",
		"two spaces  \r\n",
		"= sign and =3D\r\n",
		"caf\xc3\xa9 \xff\r\n",
		"bare\rCR\r\n",
		"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
		"012345678901234567890123456789012345678901234567890123456789012345678901234 \r\n",
		"01234567890123456789012345678901234567890123456789012345678901234567890123=\r\n",
		"ends in a space ",
	};
	static const char alphabet[] = "aZ09 \t=.\r\n\x80\xff-";
	char buf[600];
	size_t i, k;
	int all = 1;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		ok(check(fixed[i], strlen(fixed[i]), 1), "fixed case %zu", i);
	srand(20261202);
	for (i = 0; i < 20000; i++) {
		size_t n = (size_t)rand() % sizeof(buf);
		int dense = rand() % 4;
		for (k = 0; k < n; k++)
			buf[k] = dense == 0 ? alphabet[rand() % (int)(sizeof(alphabet) - 1)]
				 : dense == 1 ? (char)(rand() % 256)
					      : (rand() % 80 == 0 ? '\n' : 'x');
		if (!check(buf, n, all))
			all = 0;
	}
	ok(all, "20,000 random texts: as the reference, lines of at most 76, no WSP at a line end, "
		"decodes back");
	return tap_done();
}
