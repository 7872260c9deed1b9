/*
 * test_dkim.c - DKIM canonicalisation (lib/dkim.c): the relaxed forms of
 * RFC 6376 §3.4.6's example, empty and blank bodies, WSP at line ends,
 * folded fields and bare LF; body hashes against values computed elsewhere
 * (Python's hashlib); header sections refused. Test code only.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"
#include "mailfmt.h"
#include "tap.h"

#define EMPTY_BH "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" /* SHA-256 of nothing */
#define HI_BH	 "j+uJ1+KwQjMpdNiCngwvlv2FTzZnzkokoCYASnN36NE=" /* of "Hi\r\n" */

/* ---- helpers ---- */

static char *canon_body(const char *s, size_t n)
{
	struct mbuf b = {0};

	dkim_canon_body(s, n, &b);
	return b.p;
}

static char *canon_header(const char *s)
{
	struct mbuf b = {0};
	char err[200];

	if (dkim_canon_header(s, strlen(s), &b, err, sizeof(err)) < 0) {
		printf("# %s\n", err);
		mbuf_free(&b);
		return NULL;
	}
	return b.p;
}

/* ---- canonicalisation ---- */

static void test_rfc_example(void)
{
	static const char head[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n";
	static const char body[] = " C \r\nD \t E\r\n\r\n\r\n";
	char *h = canon_header(head), *b = canon_body(body, strlen(body));
	char bh[DKIM_BH_MAX];

	is_str(h, "a:X\r\nb:Y Z\r\n", "RFC 6376 §3.4.6: relaxed header");
	is_str(b, " C\r\nD E\r\n", "RFC 6376 §3.4.6: relaxed body");
	ok(dkim_body_hash(body, strlen(body), bh) == 0, "RFC 6376 §3.4.6: body hash made");
	is_str(bh, "unak6JHq0wL+Q1HP7dW1tjBx9FLA6DffoZ0qrLwbbpo=",
	       "RFC 6376 §3.4.6: body hash is sha256(\" C\\r\\nD E\\r\\n\")");
	free(h);
	free(b);
}

static void test_body(void)
{
	static const struct {
		const char *in, *want, *what;
	} cases[] = {
	    {"", "", "empty body stays empty (RFC 6376 errata 1376)"},
	    {"\r\n", "", "one empty line: removed"},
	    {"\r\n\r\n \t\r\n\t\r\n", "", "empty and white lines only: nothing"},
	    {"Hi", "Hi\r\n", "CRLF added after a last line without one"},
	    {"Hi  \t", "Hi\r\n", "WSP at the end of an unterminated last line removed"},
	    {"a  \t b \r\n", "a b\r\n", "WSP run one SP, trailing WSP removed"},
	    {"\t lead\r\n", " lead\r\n", "leading WSP run kept as one SP"},
	    {"a\r\n\r\n\r\nb\r\n\r\n\r\n", "a\r\n\r\n\r\nb\r\n",
	     "inner empty lines kept, trailing removed"},
	    {"a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n", "an inner line of WSP becomes empty"},
	    {"a\nb\n\n", "a\r\nb\r\n", "bare LF is a line end"},
	    {"a\rb\r\n", "a\rb\r\n", "a bare CR is an ordinary byte"},
	    {"x\r", "x\r\r\n", "a last bare CR is kept, CRLF added"},
	    {"caf\xc3\xa9 \xe2\x98\xba  \r\n", "caf\xc3\xa9 \xe2\x98\xba\r\n",
	     "8-bit bytes as they are"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = canon_body(cases[i].in, strlen(cases[i].in));
		is_str(got, cases[i].want, "body: %s", cases[i].what);
		free(got);
	}
	{
		char *got = canon_body("a\0b \0\r\n", 7);
		ok(got && memcmp(got, "a\0b \0\r\n", 7) == 0,
		   "body: NUL bytes kept, length honoured");
		free(got);
	}
}

static void test_body_hash(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"", EMPTY_BH},    {"\r\n", EMPTY_BH},    {"\r\n\r\n  \r\n\t\r\n", EMPTY_BH},
	    {"Hi\r\n", HI_BH}, {"Hi", HI_BH},	      {"Hi  \r\n\r\n", HI_BH},
	    {"Hi\n", HI_BH},   {"Hi\t\n\n\n", HI_BH},
	};
	char bh[DKIM_BH_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ok(dkim_body_hash(cases[i].in, strlen(cases[i].in), bh) == 0, "body hash %zu made",
		   i);
		is_str(bh, cases[i].want, "body hash %zu", i);
	}
	ok(dkim_body_hash(NULL, 0, bh) == 0 && strcmp(bh, EMPTY_BH) == 0,
	   "body hash of (NULL, 0): the well-known empty hash");
	ok(dkim_body_hash("Hi\r\nXYZ", 4, bh) == 0 && strcmp(bh, HI_BH) == 0,
	   "body hash reads LEN octets, no more");
}

static void test_header(void)
{
	static const struct {
		const char *in, *want, *what;
	} cases[] = {
	    {"Subject:   lead and trail  \r\n", "subject:lead and trail\r\n",
	     "WSP around the value"},
	    {"SUBJECT: x\r\n", "subject:x\r\n", "name lower-case"},
	    {"To: a,\r\n  b,\r\n\tc \r\n", "to:a, b, c\r\n", "unfolded, WSP runs one SP"},
	    {"Subject:\r\n folded at once\r\n", "subject:folded at once\r\n",
	     "fold right after the colon"},
	    {"X-Empty:\r\n", "x-empty:\r\n", "empty value"},
	    {"X-Empty: \t \r\n", "x-empty:\r\n", "value of WSP only"},
	    {"Subject: caf\xc3\xa9\r\n", "subject:caf\xc3\xa9\r\n", "8-bit value as it is"},
	    {"Subject: a\rb\r\n", "subject:a\rb\r\n", "a bare CR in a value is kept"},
	    {"From: x\nTo: y\n z\n", "from:x\r\nto:y z\r\n", "bare LF lines"},
	    {"From: x", "from:x\r\n", "a last field without line end"},
	    {"From: x\r\n\r\n", "from:x\r\n", "the empty line ending the section is ignored"},
	    {"From : x\r\n", "from:x\r\n", "WSP before the colon removed"},
	};
	static const char *bad[] = {
	    " continued\r\nFrom: x\r\n",
	    "From: x\r\nnot a field\r\n",
	    "From: x\r\n\r\nTo: y\r\n",
	    ":novalue\r\n",
	};
	struct mbuf b = {0};
	char err[200];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = canon_header(cases[i].in);
		is_str(got, cases[i].want, "header: %s", cases[i].what);
		free(got);
	}
	mbuf_str(&b, "keep");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(dkim_canon_header(bad[i], strlen(bad[i]), &b, err, sizeof(err)) < 0 &&
		       err[0] != '\0' && strcmp(b.p, "keep") == 0,
		   "header %zu refused, buffer unchanged (%s)", i, err);
	}
	mbuf_free(&b);
}

int main(void)
{
	test_rfc_example();
	test_body();
	test_body_hash();
	test_header();
	return tap_done();
}
