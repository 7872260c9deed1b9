/*
 * test_message.c - message parsing (lib/message.c): identity, threading and
 * loop headers, RFC 2047 subjects and names, the first text part decoded from
 * its transfer encoding and charset; then every message of the MIME corpus
 * (tests/corpus/mime), which must parse or be refused without a crash, and
 * whose decoded strings must all be valid UTF-8.
 */
#include "autoconf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "tap.h"
#include "utf8.h"
#include "xalloc.h"

static int parse(const char *raw, struct message *m)
{
	char err[200];
	return message_parse(raw, strlen(raw), 1000, m, err, sizeof(err));
}

static void test_headers(void)
{
	struct message m;
	const char *raw =
		"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		"Received: from c by d; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <Joerg@Example.DE>\r\n"
		"To: dev@lists.example.org\r\n"
		"Subject: =?iso-8859-1?q?Caf=E9?= and\r\n =?utf-8?b?w6l0w6k=?=\r\n"
		"Message-ID: <abc@example.de>\r\n"
		"In-Reply-To: <parent@example.org>\r\n"
		"References: <root@example.org>\r\n <parent@example.org>\r\n"
		"Date: Tue, 2 Jan 2024 10:00:00 +0100\r\n"
		"Auto-Submitted: auto-replied\r\n"
		"List-Id: Other list <other.example.com>\r\n"
		"X-Loop: other@example.com\r\n"
		"Precedence: bulk\r\n"
		"\r\n"
		"Hello\r\n";

	if (!ok(parse(raw, &m) == 0, "headers parse"))
		return;
	is_str(m.message_id, "<abc@example.de>", "Message-ID");
	is_str(m.in_reply_to, "<parent@example.org>", "In-Reply-To");
	is_str(m.references, "<root@example.org> <parent@example.org>", "References");
	is_str(m.from_addr, "Joerg@example.de", "From address normalised");
	is_str(m.from_name, "J\xc3\xb6rg M\xc3\xbcller", "From name decoded");
	ok(m.subject && strstr(m.subject, "Caf\xc3\xa9") && strstr(m.subject, "\xc3\xa9t\xc3\xa9"),
	   "Subject decoded from two charsets (%s)", m.subject ? m.subject : "null");
	is_int(m.date, 1704186000, "Date with its zone");
	is_str(m.auto_submitted, "auto-replied", "Auto-Submitted");
	ok(m.list_id && strstr(m.list_id, "<other.example.com>"), "List-Id");
	is_str(m.x_loop, "other@example.com", "X-Loop");
	is_str(m.precedence, "bulk", "Precedence");
	is_int(m.received_count, 2, "Received headers counted");
	is_int(m.parts, 1, "one part");
	is_str(m.text, "Hello\n", "text of a plain message, with LF line ends");
	message_free(&m);
}

static void test_bodies(void)
{
	struct message m;
	const char *qp = "Content-Type: text/plain; charset=iso-8859-1\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
			 "Gr=FC=DFe, caf=E9=\r\n au lait\r\n";
	const char *alt = "MIME-Version: 1.0\r\n"
			  "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
			  "--b1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
			  "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
			  "Content-Transfer-Encoding: base64\r\n\r\n"
			  "cGxhaW4gdGV4dCDinJM=\r\n--b1--\r\n";
	const char *bad = "Content-Type: text/plain; charset=utf-8\r\n\r\nbad \xff\xfe bytes\r\n";

	if (ok(parse(qp, &m) == 0, "quoted-printable latin-1 parses"))
		is_str(m.text, "Gr\xc3\xbc\xc3\x9f" "e, caf\xc3\xa9 au lait\n", "decoded to UTF-8");
	message_free(&m);
	if (ok(parse(alt, &m) == 0, "multipart/alternative parses")) {
		is_int(m.parts, 2, "two leaf parts");
		is_str(m.text, "plain text \xe2\x9c\x93", "the text/plain part, base64-decoded");
	}
	message_free(&m);
	if (ok(parse(bad, &m) == 0, "invalid UTF-8 body parses"))
		ok(m.text && utf8_valid(m.text, strlen(m.text)) && strstr(m.text, "\xef\xbf\xbd"),
		   "invalid bytes replaced by U+FFFD");
	message_free(&m);
}

static void test_limits(void)
{
	char *raw = xmalloc(30 * 12 + 10), err[200];
	struct message m;
	size_t o = 0;
	int i;

	for (i = 0; i < 30; i++)
		o += (size_t)sprintf(raw + o, "X-H%02d: v\r\n", i);
	strcpy(raw + o, "\r\nbody\r\n");
	ok(message_parse(raw, strlen(raw), 20, &m, err, sizeof(err)) < 0 && strstr(err, "30 header"),
	   "more header fields than allowed: refused (%s)", err);
	free(raw);
}

static int all_utf8(const struct message *m)
{
	const char *v[] = {m->message_id, m->in_reply_to, m->references, m->subject, m->from_addr,
			   m->from_name, m->auto_submitted, m->list_id, m->x_loop, m->precedence,
			   m->text};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i] != NULL && !utf8_valid(v[i], strlen(v[i])))
			return 0;
	return 1;
}

static void test_corpus(void)
{
	static const char *const dirs[] = {"rfc", "legacy", "thirdparty", "malformed"};
	const char *src = getenv("TESTS_SRCDIR");
	char path[2048], err[200];
	int files = 0, parsed = 0, bad_utf8 = 0;
	size_t d;

	for (d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		struct dirent **names;
		int i, n;
		snprintf(path, sizeof(path), "%s/corpus/mime/%s", src ? src : ".", dirs[d]);
		n = scandir(path, &names, NULL, alphasort);
		for (i = 0; i < n; i++) {
			struct message m;
			char file[2600], *raw;
			size_t len;
			if (names[i]->d_name[0] != '.') {
				snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
				if ((raw = tap_slurp(file, &len)) != NULL) {
					files++;
					if (message_parse(raw, len, 1000, &m, err, sizeof(err)) == 0) {
						parsed++;
						if (!all_utf8(&m)) {
							bad_utf8++;
							printf("# not UTF-8: %s\n", file);
						}
						message_free(&m);
					}
					free(raw);
				}
			}
			free(names[i]);
		}
		if (n >= 0)
			free(names);
	}
	ok(files >= 100, "corpus read: %d messages", files);
	ok(parsed >= files * 9 / 10, "%d of %d corpus messages parse", parsed, files);
	is_int(bad_utf8, 0, "every decoded string of the corpus is valid UTF-8");
}

int main(void)
{
	test_headers();
	test_bodies();
	test_limits();
	test_corpus();
	return tap_done();
}
