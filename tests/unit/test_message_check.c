/*
 * test_message_check.c - the MIME structure check (lib/message_check.c):
 * nesting of multiparts, message/rfc822 parts and multipart/digest parts up
 * to the limit and one past it, delimiters matched by prefix from the
 * outermost boundary in (as libetpan does), conflicting Content-Types, NUL
 * bytes in header fields, and
 * message_parse refusing a 30,000-deep message (which overflowed the stack
 * in libetpan's recursive parser before the check) without a crash. Every
 * corpus message passes the check.
 */
#include "autoconf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mailfmt.h"
#include "message.h"
#include "message_check.h"
#include "mime_nested.h"
#include "tap.h"

#define HEAD "From: a@example.net\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"

static void nested(struct mbuf *b, int depth)
{
	mime_nested(b, HEAD, depth);
}

static int check(const struct mbuf *b, char *err, size_t errlen)
{
	err[0] = '\0';
	return message_check_structure(b->p, b->n, MESSAGE_MIME_DEPTH_MAX, err, errlen);
}

static void test_multipart(void)
{
	struct mbuf b = {0};
	char err[200];

	nested(&b, 100);
	is_int(check(&b, err, sizeof(err)), 0, "100 nested multiparts pass");
	mbuf_free(&b);
	nested(&b, 101);
	is_int(check(&b, err, sizeof(err)), -1, "101 nested multiparts are refused");
	is_str(err, "MIME nesting deeper than 100", "with the reason");
	mbuf_free(&b);
	/* many siblings, each 60 deep: the outer delimiter closes the inner levels */
	mbuf_str(&b, HEAD "Content-Type: multipart/mixed; boundary=top\r\n\r\n");
	for (int k = 0; k < 200; k++) {
		char line[128];
		mbuf_str(&b, "--top\r\n");
		for (int i = 0; i < 60; i++) {
			snprintf(line, sizeof(line),
				 "Content-Type: multipart/mixed;\r\n boundary=\"s%d\"\r\n\r\n--s%d\r\n", i, i);
			mbuf_str(&b, line);
		}
		mbuf_str(&b, "\r\ntext\r\n");
	}
	mbuf_str(&b, "--top--\r\n");
	is_int(check(&b, err, sizeof(err)), 0, "200 siblings 61 deep pass: '--top' closes the levels inside");
	mbuf_free(&b);
}

/* Boundaries b, bb, bbb...: every "--bb..." line is a delimiter of the
 * outermost "b" for libetpan (prefix match), so the depth stays 2. */
static void test_prefix(void)
{
	struct mbuf b = {0};
	char err[200], bd[300];
	int i;

	mbuf_str(&b, HEAD);
	for (i = 1; i <= 250; i++) {
		memset(bd, 'b', (size_t)i);
		bd[i] = '\0';
		mbuf_str(&b, "Content-Type: multipart/mixed; boundary=");
		mbuf_str(&b, bd);
		mbuf_str(&b, "\r\n\r\n--");
		mbuf_str(&b, bd);
		mbuf_str(&b, "\r\n");
	}
	mbuf_str(&b, "\r\nx\r\n");
	is_int(check(&b, err, sizeof(err)), 0, "delimiters match by prefix, outermost first: depth 2");
	mbuf_free(&b);
}

/* message/rfc822 inside message/rfc822, with or without the empty line. */
static void test_message(void)
{
	struct mbuf b = {0};
	char err[200];
	int i;

	mbuf_str(&b, HEAD);
	for (i = 0; i < 100; i++)
		mbuf_str(&b, i % 2 ? "Content-Type: message/rfc822\r\n\r\n"
				   : "Content-type : Message/RFC822 (a (nested) comment)\r\n\r\n");
	mbuf_str(&b, "\r\nhi\r\n");
	is_int(check(&b, err, sizeof(err)), 0, "100 nested message/rfc822 parts pass");
	b.n -= strlen("\r\nhi\r\n");
	mbuf_str(&b, "Content-Type: message/rfc822\r\n\r\nhi\r\n");
	is_int(check(&b, err, sizeof(err)), -1, "101 are refused");
	is_str(err, "MIME nesting deeper than 100", "with the reason");
	mbuf_free(&b);
	/* multipart/digest: a part without Content-Type is a message/rfc822 */
	mbuf_str(&b, HEAD);
	for (i = 0; i < 51; i++) {
		char line[128];
		snprintf(line, sizeof(line),
			 "Content-Type: multipart/digest; boundary=d%d.\r\n\r\n--d%d.\r\n\r\n", i, i);
		mbuf_str(&b, line);
	}
	mbuf_str(&b, "x\r\n");
	is_int(check(&b, err, sizeof(err)), -1,
	       "51 digests with headerless parts are 102 levels: refused");
	mbuf_free(&b);
}

/* libetpan reads "Name (comment)" + fold + ": value" as a field: so must
 * the check, or the Content-Type after it would be missed. */
static void test_lenient_fields(void)
{
	struct mbuf b = {0};
	char err[200], line[160];
	int i;

	mbuf_str(&b, HEAD);
	for (i = 0; i < 101; i++) {
		snprintf(line, sizeof(line),
			 "X-Pad (a comment\r\n  goes on)\r\n : v\r\nContent-Type (c)\r\n"
			 " : multipart/mixed; boundary=\"f%d.\"\r\n\r\n--f%d.\r\n", i, i);
		mbuf_str(&b, line);
	}
	mbuf_str(&b, "\r\nx\r\n");
	is_int(check(&b, err, sizeof(err)), -1, "101 levels declared after folded field names: refused");
	mbuf_free(&b);
	/* a line that is no field ends the header section; the delimiter after it counts */
	mbuf_str(&b, HEAD);
	for (i = 0; i < 101; i++) {
		snprintf(line, sizeof(line),
			 "Content-Type: multipart/mixed; boundary=g%d.\r\nno field here\r\n--g%d.\r\n",
			 i, i);
		mbuf_str(&b, line);
	}
	mbuf_str(&b, "\r\nx\r\n");
	is_int(check(&b, err, sizeof(err)), -1, "101 levels whose headers end without an empty line: refused");
	mbuf_free(&b);
	mbuf_str(&b, HEAD);
	for (i = 0; i < 101; i++) {
		snprintf(line, sizeof(line),
			 "Content-Type: multipart/mixed; boundary=h%d.\r\n--h%d.\r\n", i, i);
		mbuf_str(&b, line);
	}
	mbuf_str(&b, "\r\nx\r\n");
	is_int(check(&b, err, sizeof(err)), -1, "101 levels whose delimiter follows the header: refused");
	mbuf_free(&b);
}

static void test_refusals(void)
{
	struct mbuf b = {0};
	char err[200];

	mbuf_str(&b, HEAD "Content-Type: multipart/mixed; boundary=a\r\n"
			  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n");
	is_int(check(&b, err, sizeof(err)), -1, "two multipart Content-Types in one part: refused");
	ok(strstr(err, "more than one") != NULL, "with the reason: %s", err);
	mbuf_free(&b);
	mbuf_str(&b, HEAD "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx\r\n");
	is_int(check(&b, err, sizeof(err)), 0, "two discrete Content-Types: no nesting, passes");
	mbuf_free(&b);
	mbuf_str(&b, HEAD "Content-Type: multipart/mixed; boundary=ab\r\n\tcd\r\n\r\n--ab\r\n");
	is_int(check(&b, err, sizeof(err)), -1, "a boundary token with a fold in it: refused");
	mbuf_free(&b);
	mbuf_str(&b, HEAD "Content-Type: multipart/mixed; boundary=\"a\\\"b c\"\r\n\r\n"
			  "--a\"b c\r\n\r\nx\r\n--a\"b c--\r\n");
	is_int(check(&b, err, sizeof(err)), 0, "a quoted boundary with a quoted-pair passes");
	mbuf_free(&b);
	/* found by fuzz_render: the NUL hid the boundary from libetpan (a leaf),
	 * the copy's NUL-to-space cleaning showed it (a multipart with a part
	 * that has two composite Content-Types): the copy did not parse again */
	mbuf_str(&b, HEAD "Content-Type: multipart/mixed;");
	mbuf_add(&b, "\0", 1);
	mbuf_str(&b, "boundary=\"foo\r\n bar\"\r\n\r\n--foo bar\r\nContent-Type: message/rfc822\r\n"
		     "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\ny\r\n--foo bar--\r\n");
	is_int(check(&b, err, sizeof(err)), -1, "a NUL in a Content-Type field: refused");
	is_str(err, "a NUL byte in a header field", "with the reason");
	mbuf_free(&b);
	mbuf_str(&b, HEAD "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nX-Part: 1\r\n x");
	mbuf_add(&b, "\0", 1);
	mbuf_str(&b, "y\r\n\r\nz\r\n--a--\r\n");
	is_int(check(&b, err, sizeof(err)), -1, "a NUL in a part's folded field: refused");
	mbuf_free(&b);
	mbuf_str(&b, HEAD "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nbody ");
	mbuf_add(&b, "\0", 1);
	mbuf_str(&b, " byte\r\n--a--\r\n");
	is_int(check(&b, err, sizeof(err)), 0, "a NUL in a part's body passes (the copy re-encodes it)");
	mbuf_free(&b);
	mbuf_str(&b, "no header at all\r\n--x\r\n");
	is_int(check(&b, err, sizeof(err)), 0, "a message without a header section passes");
	mbuf_free(&b);
	is_int(message_check_structure("", 0, MESSAGE_MIME_DEPTH_MAX, err, sizeof(err)), 0,
	       "an empty message passes");
}

/* The defect: 30,000 levels crashed libetpan's parser (stack overflow). */
static void test_parse_deep(void)
{
	struct mbuf b = {0};
	struct message m;
	char err[200] = "";

	nested(&b, 30000);
	is_int(message_parse(b.p, b.n, 1000, &m, err, sizeof(err)), MESSAGE_REFUSED,
	       "message_parse refuses a 30,000-deep multipart (%zu bytes) without a crash", b.n);
	is_str(err, "MIME nesting deeper than 100", "with the reason");
	mbuf_free(&b);
	nested(&b, 100);
	is_int(message_parse(b.p, b.n, 1000, &m, err, sizeof(err)), 0, "and parses a 100-deep one");
	message_free(&m);
	mbuf_free(&b);
	nested(&b, 10);
	is_int(message_parse(b.p, b.n, 1000, &m, err, sizeof(err)), 0, "and a 10-deep one");
	is_str(m.text, "hello", "down to its text part");
	message_free(&m);
	mbuf_free(&b);
}

static void test_corpus(void)
{
	static const char *const dirs[] = {"mime/rfc", "mime/legacy", "mime/thirdparty",
					   "mime/malformed", "sisimai", "replies-talon"};
	const char *src = getenv("TESTS_SRCDIR");
	int files = 0, passed = 0;

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		char path[4096];
		DIR *dir;
		struct dirent *e;
		snprintf(path, sizeof(path), "%s/corpus/%s", src ? src : ".", dirs[d]);
		if ((dir = opendir(path)) == NULL)
			continue;
		while ((e = readdir(dir)) != NULL) {
			char file[8192], err[200];
			struct stat st;
			size_t len;
			char *raw;
			if (e->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
			if (stat(file, &st) < 0 || !S_ISREG(st.st_mode) || (raw = tap_slurp(file, &len)) == NULL)
				continue;
			files++;
			if (message_check_structure(raw, len, MESSAGE_MIME_DEPTH_MAX, err, sizeof(err)) == 0)
				passed++;
			else
				printf("# %s: %s\n", e->d_name, err);
			free(raw);
		}
		closedir(dir);
	}
	ok(files >= 100, "corpus read: %d messages", files);
	is_int(passed, files, "every corpus message passes the structure check");
}

int main(void)
{
	test_multipart();
	test_prefix();
	test_message();
	test_lenient_fields();
	test_refusals();
	test_parse_deep();
	test_corpus();
	return tap_done();
}
