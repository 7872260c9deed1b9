/*
 * test_notice.c - parley's own messages (lib/notice.c) and the pieces they
 * share with the copies (lib/mailfmt.c): headers always 7-bit and folded,
 * non-ASCII subjects and names as RFC 2047 words, bodies 7bit when they can
 * be and quoted-printable otherwise, loop headers always present, a cited
 * Message-ID only when it is sane. Test code only.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailfmt.h"
#include "notice.h"
#include "tap.h"

static struct cfg_list list;

/* head_ok: every header line 7-bit and at most 78 columns. */
static int head_ok(const char *p, size_t n)
{
	const char *end = strstr(p, "\r\n\r\n"), *line = p;

	if (end == NULL)
		return 0;
	while (line < end) {
		const char *nl = strstr(line, "\r\n");
		const char *c;
		if ((size_t)(nl - line) > 78)
			return 0;
		for (c = line; c < nl; c++)
			if ((unsigned char)*c >= 0x80 || (unsigned char)*c < 0x20)
				return 0;
		line = nl + 2;
	}
	return (size_t)(end - p) < n;
}

static char *compose(const char *subject, const char *name, const char *body, const char *irt,
		     size_t *n)
{
	struct strv to = {NULL, 0};
	struct notice_msg m;
	char *out;

	strv_push(&to, "bob@example.org");
	strv_push(&to, "carol@example.org");
	memset(&m, 0, sizeof(m));
	m.list = &list;
	m.from_name = name;
	m.from_addr = "dev+owner@lists.example.org";
	m.to = &to;
	m.reply_to = "dev+confirm-abc@lists.example.org";
	m.subject = subject;
	m.msgid = "<parley.1.ab@lists.example.org>";
	m.in_reply_to = irt;
	m.auto_submitted = "auto-generated";
	m.date = 1795468857;
	m.body = body;
	out = notice_compose(&m, n);
	strv_free(&to);
	return out;
}

static void test_ascii(void)
{
	size_t n;
	char *out = compose("Held for dev: hello", "dev list", "Line one\nLine two\n",
			    "<orig@example.org>", &n);

	ok(head_ok(out, n), "ascii: header lines 7-bit, at most 78 columns");
	ok(strstr(out, "Date: Mon, 23 Nov 2026 21:20:57 +0000\r\n") != NULL, "Date in UTC");
	ok(strstr(out, "From: \"dev list\" <dev+owner@lists.example.org>\r\n") != NULL, "From");
	ok(strstr(out, "To: bob@example.org, carol@example.org\r\n") != NULL, "To: both");
	ok(strstr(out, "Reply-To: <dev+confirm-abc@lists.example.org>\r\n") != NULL, "Reply-To");
	ok(strstr(out, "Subject: Held for dev: hello\r\n") != NULL, "Subject as it is");
	ok(strstr(out, "In-Reply-To: <orig@example.org>\r\nReferences: <orig@example.org>\r\n") !=
		   NULL,
	   "In-Reply-To and References cite the message");
	ok(strstr(out, "Auto-Submitted: auto-generated\r\n") != NULL, "Auto-Submitted");
	ok(strstr(out, "X-Loop: dev@lists.example.org\r\n") != NULL, "X-Loop: the list");
	ok(strstr(out, "Content-Type: text/plain; charset=us-ascii\r\n"
		       "Content-Transfer-Encoding: 7bit\r\n\r\nLine one\r\nLine two\r\n") != NULL,
	   "ascii body: 7bit, CRLF");
	is_int((long long)n, (long long)strlen(out), "length matches");
	free(out);
}

static void test_utf8(void)
{
	size_t n;
	char *out = compose("Held for dev: Caf\xc3\xa9 \xe2\x98\xba", "Liste M\xc3\xbcnchen",
			    "Gr\xc3\xbc\xc3\x9f" "e\n", "<bad id@example.org>", &n);

	ok(head_ok(out, n), "utf-8: header lines 7-bit, at most 78 columns");
	ok(strstr(out, "Subject: Held for dev: =?utf-8?") != NULL, "subject: encoded words");
	ok(strstr(out, "From: =?utf-8?") != NULL, "name: encoded words");
	ok(strstr(out, "charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
		       "Gr=C3=BC=C3=9Fe\r\n") != NULL,
	   "utf-8 body: quoted-printable");
	ok(strstr(out, "In-Reply-To") == NULL, "a Message-ID with a space is not cited");
	free(out);
}

static void test_long_lines(void)
{
	char body[300];
	size_t n;
	char *out;

	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	out = compose("long", NULL, body, NULL, &n);
	ok(strstr(out, "Content-Transfer-Encoding: quoted-printable\r\n") != NULL,
	   "a line over 76 characters: quoted-printable");
	ok(strstr(out, "=\r\n") != NULL, "with soft line breaks");
	ok(strstr(out, "From: <dev+owner@lists.example.org>\r\n") != NULL, "no name: bare address");
	free(out);
}

static void test_msgid(void)
{
	struct config cfg;
	char a[300], b[300];
	char host[] = "lists.example.org";

	memset(&cfg, 0, sizeof(cfg));
	cfg.daemon.hostname = host;
	notice_msgid(&cfg, 0x5f5e100, a, sizeof(a));
	notice_msgid(&cfg, 0x5f5e100, b, sizeof(b));
	ok(strncmp(a, "<parley.5f5e100.", 16) == 0 && strstr(a, "@lists.example.org>") != NULL,
	   "msgid: <parley.TIME.RANDOM@HOST> (%s)", a);
	ok(strcmp(a, b) != 0, "two msgids differ");
}

int main(void)
{
	strcpy(list.address, "dev@lists.example.org");
	test_ascii();
	test_utf8();
	test_long_lines();
	test_msgid();
	return tap_done();
}
