/*
 * test_smtp_reply.c - daemon/smtp_reply.c: SMTP replies read line by line,
 * strictly (RFC 5321 §4.2): one line, several with the same code, a code
 * alone; lines that are not reply lines, codes that change, a line over
 * 16 KB and a reply over 64 KB refused; the text kept on one line of
 * printable UTF-8, joined with "; " and cut between characters.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"
#include "tap.h"

/* feed: the lines of TEXT (LF-separated, no CR) into R; the last result. */
static int feed(struct smtp_reply_reader *r, const char *text, const char **why)
{
	const char *p = text;
	int rc = -1;

	smtp_reply_begin(r);
	*why = "";
	do {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if ((rc = smtp_reply_line(r, p, n, why)) != 0)
			return rc;
		p += n + (nl != NULL);
	} while (*p);
	return rc;
}

static void test_good(void)
{
	struct smtp_reply_reader r;
	const char *why;

	ok(feed(&r, "250 2.0.0 Ok: queued as 4Xy", &why) == 1 && r.code == 250,
	   "one line: the last, code 250");
	is_str(r.text, "2.0.0 Ok: queued as 4Xy", "its text");
	ok(feed(&r, "250-relay.test\n250-PIPELINING\n250 SIZE 1000", &why) == 1 && r.lines == 3,
	   "three lines with the same code");
	is_str(r.text, "relay.test; PIPELINING; SIZE 1000", "texts joined with '; '");
	ok(feed(&r, "354", &why) == 1 && r.code == 354 && r.text[0] == '\0', "a code alone");
	ok(feed(&r, "250-first\n250 ", &why) == 1, "a last line with an empty text");
	smtp_reply_begin(&r);
	ok(smtp_reply_line(&r, "421-going", 9, &why) == 0, "a continuation line: more to come");
}

static void test_bad(void)
{
	static const char *const bad[] = {"", "25", "199 too low", "600 too high", "260 second digit",
					  "2a0 x", "250x", "250\tx", "ok", " 250 x", NULL};
	struct smtp_reply_reader r;
	const char *why;
	char *big;

	for (int i = 0; bad[i]; i++)
		ok(feed(&r, bad[i], &why) == -1 && why[0] != '\0', "refused: '%s' (%s)", bad[i], why);
	ok(feed(&r, "250-a\n550 b", &why) == -1 && strstr(why, "different codes"),
	   "a code that changes between lines");
	big = malloc(SMTP_REPLY_MAX + 100);
	memset(big, 'x', SMTP_REPLY_LINE_MAX + 10);
	memcpy(big, "250 ", 4);
	smtp_reply_begin(&r);
	ok(smtp_reply_line(&r, big, SMTP_REPLY_LINE_MAX, &why) == 1, "a line of 16 KB is read");
	smtp_reply_begin(&r);
	ok(smtp_reply_line(&r, big, SMTP_REPLY_LINE_MAX + 1, &why) == -1, "one byte more is refused");
	memcpy(big, "250-", 4);
	smtp_reply_begin(&r);
	int rc = 0, n = 0;
	while (rc == 0 && n++ < 10)
		rc = smtp_reply_line(&r, big, SMTP_REPLY_LINE_MAX, &why);
	ok(rc == -1 && n == 5 && strstr(why, "64 KB"), "a reply over 64 KB is refused (%d lines)", n);
	free(big);
}

static void test_clean(void)
{
	struct smtp_reply_reader r;
	const char *why;
	char line[SMTP_TEXT_MAX * 3];
	char out[8] = "";

	smtp_reply_begin(&r);
	ok(smtp_reply_line(&r, "550 a\x1b[31mb\x7f\xc2\x85z\xff\xe2\x82\xac", 19, &why) == 1,
	   "a line with controls and bad bytes");
	is_str(r.text, "a?[31mb??z?\xe2\x82\xac", "ESC, DEL, C1 NEL and 0xff become '?', the euro stays");
	smtp_reply_begin(&r);
	ok(smtp_reply_line(&r, "550 a\0b", 7, &why) == 1 && strcmp(r.text, "a?b") == 0,
	   "a NUL becomes '?'");
	memset(line, 'y', sizeof(line));
	memcpy(line, "250 ", 4);
	smtp_reply_begin(&r);
	ok(smtp_reply_line(&r, line, sizeof(line), &why) == 1 && strlen(r.text) == SMTP_TEXT_MAX - 1,
	   "a long text is cut to fit");
	smtp_reply_clean(out, sizeof(out), "abc\xe2\x82\xac\xe2\x82\xac", 9);
	is_str(out, "abc\xe2\x82\xac", "cut between characters, never inside one");
}

int main(void)
{
	test_good();
	test_bad();
	test_clean();
	return tap_done();
}
