/*
 * test_imap_guard.c - daemon/imap_guard.c on scripted server bytes: a fake
 * mailstream_low under the guard hands out chunks, then EOF. What a real
 * server sends passes byte for byte (literals skipped unscanned, also when
 * split across reads); EOF, an oversized literal (also {N+} and mid-line),
 * an endless response, every malformed PERMANENTFLAGS list and every empty
 * or malformed CAPABILITY list that libetpan 1.9.4 crashes on, and a first
 * line "* BYE" (whose greeting libetpan leaks), are refused with a reason.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#include "imap_guard.h"
#include "tap.h"

struct script {
	const char *const *chunks;	/* NULL-terminated */
	size_t i;
	const char *big;		/* a chunk of BIG_LEN bytes handed out BIG_TIMES times */
	size_t big_len, big_times;
};

static ssize_t fake_read(mailstream_low *s, void *buf, size_t count)
{
	struct script *sc = s->data;
	const char *c;
	size_t n;

	if (sc->big != NULL && sc->big_times > 0) {
		sc->big_times--;
		n = sc->big_len < count ? sc->big_len : count;
		memcpy(buf, sc->big, n);
		return (ssize_t)n;
	}
	if ((c = sc->chunks[sc->i]) == NULL)
		return 0;	/* EOF */
	sc->i++;
	n = strlen(c) < count ? strlen(c) : count;
	memcpy(buf, c, n);
	return (ssize_t)n;
}

static ssize_t fake_write(mailstream_low *s, const void *buf, size_t count)
{
	(void)s, (void)buf;
	return (ssize_t)count;
}

static int fake_close(mailstream_low *s)
{
	(void)s;
	return 0;
}

static int fake_fd(mailstream_low *s)
{
	(void)s;
	return -1;
}

static void fake_free(mailstream_low *s)
{
	free(s);
}

static mailstream_low_driver fake_driver = {
	fake_read, fake_write, fake_close, fake_fd, fake_free, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* run: the bytes of SC through a guard with LITERAL_MAX; how many passed,
 * the reason in WHY. */
static size_t run(struct script *sc, size_t literal_max, char *why, size_t len)
{
	mailstream *stream = mailstream_new(mailstream_low_new(sc, &fake_driver), 8192);
	char buf[4096];
	size_t total = 0;
	ssize_t r;

	if (imap_guard_attach(stream, literal_max, 5) < 0)
		return (size_t)-1;
	while ((r = mailstream_low_read(mailstream_get_low(stream), buf, sizeof(buf))) > 0)
		total += (size_t)r;
	snprintf(why, len, "%s", imap_guard_why(stream));
	mailstream_close(stream);
	return total;
}

static size_t run_chunks(const char *const *chunks, size_t literal_max, char *why, size_t len)
{
	struct script sc = {chunks, 0, NULL, 0, 0};

	return run(&sc, literal_max, why, len);
}

static size_t sum(const char *const *chunks)
{
	size_t n = 0;

	while (*chunks != NULL)
		n += strlen(*chunks++);
	return n;
}

/* passes: every byte of CHUNKS goes through, then EOF is refused. */
static void passes(const char *const *chunks, const char *what)
{
	char why[200];
	size_t n = run_chunks(chunks, 1000, why, sizeof(why));

	ok(n == sum(chunks) && strcmp(why, "the server closed the connection") == 0,
	   "%s: passes (%zu of %zu bytes), then EOF is refused", what, n, sum(chunks));
}

/* refused: CHUNKS are refused before the end, the reason containing WANT. */
static void refused(const char *const *chunks, const char *want, const char *what)
{
	char why[200];
	size_t n = run_chunks(chunks, 1000, why, sizeof(why));

	ok(n < sum(chunks) && strstr(why, want) != NULL, "%s: refused (%s)", what, why);
}

int main(void)
{
	static const char *const dovecot[] = {
		"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n", "1 OK logged in\r\n",
		"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
		"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] "
		"Flags permitted.\r\n",
		"* OK [PERMANENTFLAGS ()] none\r\n", "* ok [permanentflags (\\seen)] lower case\r\n",
		"3 OK [READ-WRITE] Select completed\r\n", NULL};
	static const char *const literal[] = {
		"* 1 FETCH (UID 1 BODY[] {40}\r\n", "[PERMANENTFLAGS (\\)] in a body: skipped",
		")\r\n4 OK done\r\n", NULL};
	static const char *const split[] = {"* 1 FETCH (UID 1 BODY[] {1", "0", "}", "\r", "\n",
					    "0123", "456789", ")\r\n", NULL};
	static const char *const plus[] = {"5 LOGIN {3+}\r\nabc {2}\r\nxy\r\n", NULL};
	static const char *const at_limit[] = {"* 1 FETCH (BODY[] {1000}\r\n", NULL};
	static const char *const huge[] = {"* 1 FETCH (UID 1 BODY[] {4294967295}\r\n", "xxxx", NULL};
	static const char *const huge_plus[] = {"* 1 FETCH (BODY[] {1001+}\r\n", NULL};
	static const char *const domino[] = {"* 1 FETCH (BODY[] {99999999999999999999}  x)\r\n",
					     NULL};
	static const char *const pf_empty_flag[] = {"* OK ready\r\n", "* OK [PERMANENTFLAGS (\\)] x\r\n", NULL};
	static const char *const pf_space[] = {"* OK ready\r\n", "* OK [PERMANENTFLAGS ( \\Seen)] x\r\n", NULL};
	static const char *const pf_quoted[] = {"* OK ready\r\n", "* OK [PERMANENTFLAGS (\"x\")] x\r\n", NULL};
	static const char *const pf_literal[] = {"* OK ready\r\n", "* OK [PERMANENTFLAGS ({3}\r\nabc)] x\r\n", NULL};
	static const char *const pf_8bit[] = {"* OK ready\r\n", "* OK [PERMANENTFLAGS (\xc3\xa9)] x\r\n", NULL};
	static const char *const pf_split[] = {"* OK ready\r\n", "* OK [PERMANENT", "FLAGS (", "\\", ")] x\r\n", NULL};
	static const char *const pf_open[] = {"* OK ready\r\n", "* OK [PERMANENTFLAGS (\\Seen\r\n", NULL};
	static const char *const pf_tagged[] = {"* OK ready\r\n", "3 OK [PERMANENTFLAGS (\\Seen \\)] x\r\n", NULL};
	static const char *const pf_text[] = {"* OK PERMANENTFLAGS (\\) is text here\r\n", NULL};
	static const char *const fl_fetch[] = {
		"* 1 FETCH (UID 1 FLAGS (\\Seen $Forwarded NonJunk))\r\n", "* 2 FETCH (FLAGS ())\r\n",
		"* 3 FETCH (UID 3 RFC822.SIZE 9 FLAGS (\\Recent))\r\n",
		"* OK the FLAGS are text here, and SOMEFLAGS (\"x\") too\r\n", NULL};
	static const char *const fl_quoted[] = {"* FLAGS (\\Seen \"\\Delet*d\")\r\n", NULL};
	static const char *const fl_quote_glued[] = {"* FLAGS (\\Seen\"\\Delet*d)\r\n", NULL};
	static const char *const fl_literal[] = {"* 1 FETCH (FLAGS ({1}\r\nx))\r\n", NULL};
	static const char *const fl_fetch_quoted[] = {"* 1 FETCH (UID 1 FLAGS (\"x\"))\r\n", NULL};
	static const char *const fl_split[] = {"* 1 FETCH (FL", "AGS (\\Seen ", "\"x\"))\r\n", NULL};
	static const char *const caps[] = {
		"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n",
		"* CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE\r\n", "2 OK capability\r\n",
		"3 OK text that ends with the word capability\r\n",
		"* 1 FETCH (UID 1 BODY[] {14}\r\n", "* CAPABILITY\r\n", ")\r\n",
		"* OK [CAP", "ABILITY IMAP4rev1] split\r\n", NULL};
	static const char *const cap_empty[] = {"* CAPABILITY\r\n", "2 OK done\r\n", NULL};
	static const char *const cap_lf[] = {"* capability\n", NULL};
	static const char *const cap_space[] = {"* CAPABILITY \r\n", NULL};
	static const char *const cap_code[] = {"* OK [CAPABILITY] hello\r\n", NULL};
	static const char *const cap_paren[] = {"1 OK [CAPABILITY (IMAP4rev1)] x\r\n", NULL};
	static const char *const cap_split[] = {"* CAPA", "BILITY", "\r", "\n", NULL};
	static const char *const bye_greeting[] = {"* BYE too many connections\r\n", NULL};
	static const char *const bye_split[] = {"* b", "ye busy\r\n", NULL};
	static const char *const bye_later[] = {"* OK ready\r\n", "* BYE logging out\r\n",
						"5 OK bye\r\n", NULL};
	static const char *const greet_pf[] = {"* OK [PERMANENTFLAGS (\\Seen)] hi\r\n", NULL};
	static const char *const greet_bc[] = {"* PREAUTH [badcharset (x)] hi\r\n", NULL};
	static const char *const greet_split[] = {"* OK [PERMANENT", "FLAGS ()] hi\r\n", NULL};
	static const char *const greet_ok[] = {"* OK [CAPABILITY IMAP4rev1] [BADCHARSET] ready\r\n",
					       "* OK [PERMANENTFLAGS (\\Seen)] later: fine\r\n",
					       "* BAD [BADCHARSET (utf-8)] later: fine\r\n", NULL};
	static const char *const none[] = {NULL};
	char why[200];
	struct script sc;
	size_t n;

	passes(dovecot, "a Dovecot greeting, login and select");
	passes(literal, "PERMANENTFLAGS inside a literal");
	passes(split, "a literal whose size and body are split across reads");
	passes(plus, "{N+} literals");
	passes(at_limit, "a literal of exactly the limit");
	passes(pf_text, "PERMANENTFLAGS without '[' (text, not a response code)");
	passes(fl_fetch, "FLAGS of FETCH, empty, and the word in text");
	refused(fl_quoted, "malformed FLAGS list", "* FLAGS with a quoted keyword (libetpan leaks it)");
	refused(fl_quote_glued, "malformed FLAGS list", "* FLAGS (\\Seen\"... (fuzz_imap's leak)");
	refused(fl_literal, "malformed FLAGS list", "FETCH FLAGS with a literal keyword");
	refused(fl_fetch_quoted, "malformed FLAGS list", "FETCH FLAGS with a quoted keyword");
	refused(fl_split, "malformed FLAGS list", "a quoted keyword in FLAGS split across reads");
	refused(huge, "announced a literal of 4294967295 bytes, over the limit of 1000",
		"{4294967295}");
	n = run_chunks(huge, 1000, why, sizeof(why));
	ok(n == 0, "none of the line that announced it is passed on (%zu bytes)", n);
	refused(huge_plus, "literal of 1001 bytes", "{1001+}");
	refused(domino, "or more bytes", "a huge literal mid-line (libetpan's Domino workaround)");
	refused(pf_empty_flag, "malformed PERMANENTFLAGS", "PERMANENTFLAGS (\\)");
	refused(pf_space, "malformed PERMANENTFLAGS", "PERMANENTFLAGS ( \\Seen)");
	refused(pf_quoted, "malformed PERMANENTFLAGS", "PERMANENTFLAGS (\"x\")");
	refused(pf_literal, "malformed PERMANENTFLAGS", "PERMANENTFLAGS with a literal");
	refused(pf_8bit, "malformed PERMANENTFLAGS", "PERMANENTFLAGS with 8-bit");
	refused(pf_split, "malformed PERMANENTFLAGS", "PERMANENTFLAGS (\\) split across reads");
	refused(pf_open, "unterminated PERMANENTFLAGS", "PERMANENTFLAGS list cut by CRLF");
	refused(pf_tagged, "malformed PERMANENTFLAGS", "a tagged response with (\\Seen \\)");
	passes(caps, "CAPABILITY lists, as code and as data, the word in text and in a literal");
	refused(cap_empty, "empty CAPABILITY", "\"* CAPABILITY\" alone (libetpan crashed on it)");
	refused(cap_lf, "empty CAPABILITY", "\"* capability\" ending in a bare LF");
	refused(cap_space, "empty CAPABILITY", "\"* CAPABILITY \" with nothing after the space");
	refused(cap_code, "malformed CAPABILITY", "\"[CAPABILITY]\"");
	refused(cap_paren, "malformed CAPABILITY", "\"[CAPABILITY (\" in a tagged reply");
	refused(cap_split, "empty CAPABILITY", "an empty CAPABILITY split across reads");
	refused(bye_greeting, "first line is * BYE", "a * BYE greeting (libetpan leaks it)");
	refused(bye_split, "first line is * BYE", "a * bye greeting split across reads");
	passes(bye_later, "a * BYE after the first line (LOGOUT)");
	refused(greet_pf, "greeting carries a PERMANENTFLAGS", "a greeting with [PERMANENTFLAGS ( (a SIGSEGV)");
	refused(greet_bc, "greeting carries", "a PREAUTH greeting with [badcharset (");
	refused(greet_split, "greeting carries", "[PERMANENTFLAGS in a greeting split across reads");
	passes(greet_ok, "[BADCHARSET] alone in a greeting, both codes after it");
	n = run_chunks(none, 1000, why, sizeof(why));
	ok(n == 0 && strcmp(why, "the server closed the connection") == 0,
	   "EOF at once is refused, never returned as 0 (%s)", why);

	memset(&sc, 0, sizeof(sc));
	sc.chunks = none;
	sc.big = "* 1 EXISTS and on and on and on without a line end ";
	sc.big_len = strlen(sc.big);
	sc.big_times = (16u * 1024 * 1024 + 2000) / sc.big_len + 2;
	n = run(&sc, 1000, why, sizeof(why));
	ok(strstr(why, "more than") != NULL && n <= 16u * 1024 * 1024 + 1000,
	   "an endless line is cut after the literal limit + 16 MB (%zu bytes; %s)", n, why);
	return tap_done();
}
