/*
 * imap_guard.c - the stream layer that keeps a hostile IMAP server's bytes
 * from libetpan's parser when they would crash or wedge it (see
 * imap_guard.h for what is refused and why).
 *
 * It must never pass on a byte of a response it has refused, never buffer
 * (libetpan keeps its own buffer; the guard only looks at what goes by),
 * and never let a read return 0: libetpan 1.9.4 treats 0 inside a literal
 * as "try again" and spins.
 *
 * Scanning. Outside literals every byte goes through two small state
 * machines: one follows "{digits[+]}" and notes whether it ends a line (a
 * literal of that many bytes follows, skipped unscanned); any such number
 * over the limit is refused even mid-line, since libetpan also takes
 * "{N}" without CRLF as a literal (its Lotus Domino workaround). The other
 * follows "[PERMANENTFLAGS" SP "(" and requires a strict flag list up to
 * ")": flag *(SP flag), flag = "\" ("*" / atom) / atom. Anything else
 * there (a lone "\", a space first, a quoted string, a literal, 8-bit) is
 * refused; a real server sends "(\Answered \Flagged \Deleted \Seen \*)".
 * The same machine checks every "FLAGS" SP "(" after a space or "(" (the
 * FLAGS of SELECT and of FETCH): libetpan 1.9.4 parses a flag keyword as
 * an astring but frees it as an atom, so a quoted or literal keyword is
 * freed with free() while its MMAPString stays in libetpan's global table,
 * to leak when a later string gets the same address (found by fuzz_imap:
 * 40 bytes, one in some 20,000 sessions).
 * A third follows "* CAPABILITY" at a line's start and "[CAPABILITY"
 * anywhere: one space and an atom must follow. libetpan 1.9.4 takes an
 * empty or unparsable list for a capability list of NULL, which its
 * CAPABILITY command and every has-extension check then dereference
 * (found by fuzz_imap: "* CAPABILITY" alone crashed the daemon). And a
 * first line "* BYE" (a server that does not take the connection now, or
 * a BYE after STARTTLS) is refused before libetpan parses it: its
 * mailimap_connect leaks the parsed greeting on that path. In the first
 * line, a "[PERMANENTFLAGS " or "[BADCHARSET " code is refused too:
 * libetpan 1.9.4 parses the greeting without a parser context, and the
 * flag and astring parsers of those lists dereference it (a SIGSEGV of
 * the daemon, found by fuzz_imap; neither code belongs in a greeting).
 */
#include "autoconf.h"

#include "imap_guard.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_MARGIN (16u * 1024 * 1024)	/* besides one literal, per command */
#define NUMBER_CAP	(1ULL << 40)		/* digits beyond this are not counted */

static const char PF_WORD[] = "[PERMANENTFLAGS";
static const char FL_WORD[] = "FLAGS";		/* after a space or "(" */
static const char CAP_CODE[] = "[CAPABILITY";	/* a response code, anywhere */
static const char CAP_LINE[] = "* CAPABILITY";	/* untagged data, at a line's start */
static const char BYE_FIRST[] = "* BYE";	/* the first line of a stream */
/* response codes with a list, which libetpan cannot parse in a greeting */
static const char *const GREETING_BAD[] = {"[PERMANENTFLAGS ", "[BADCHARSET "};
#define GREETING_BAD_N (sizeof(GREETING_BAD) / sizeof(GREETING_BAD[0]))

/* Where the CAPABILITY machine is. */
enum cap_state {
	CAP_SEARCH,	/* matching CAP_CODE, and CAP_LINE while at a line's start */
	CAP_SPACE,	/* after either word: one space */
	CAP_FIRST	/* after it: an atom, the first capability */
};

/* Where the PERMANENTFLAGS machine is. */
enum pf_state {
	PF_SEARCH,	/* pf_matched chars of PF_WORD matched so far */
	PF_SPACE,	/* after the word: spaces, then "(" */
	PF_FIRST,	/* after "(": a flag or ")" */
	PF_FLAG_START,	/* after SP: a flag */
	PF_BACKSLASH,	/* after "\": "*" or an atom char */
	PF_IN_FLAG,	/* inside a flag: more of it, SP or ")" */
	PF_AFTER_STAR	/* after "\*": SP or ")" */
};

struct guard {
	mailstream_low *inner;
	unsigned long long literal_max;
	unsigned long long response_max;
	unsigned long long since_write;	/* bytes read since our last write */
	unsigned long long lit_left;	/* bytes of a literal still to come */
	/* the "{N}" machine */
	int brace;			/* inside "{digits" */
	int digits, plus, closed;	/* closed: "}" seen, only "\r" since */
	unsigned long long num;
	/* the PERMANENTFLAGS machine */
	enum pf_state pf;
	size_t pf_matched;
	size_t fl_matched;		/* chars of FL_WORD matched */
	int fl_may_start;		/* the last byte was a space or "(" */
	int fl_list;			/* the list being checked follows FL_WORD */
	/* the CAPABILITY machine */
	enum cap_state cap;
	size_t cap_code, cap_line;	/* chars of CAP_CODE, CAP_LINE matched */
	int line_start;			/* CAP_LINE may still match from the line's start */
	int first_line;			/* in the stream's first line */
	int greeting;			/* in the first line (first_line ends at a mismatch) */
	size_t bad_matched[GREETING_BAD_N];	/* chars of each GREETING_BAD matched */
	size_t bye_matched;		/* chars of BYE_FIRST matched there */
	/* outcome */
	int failed;
	unsigned long long refused_literal;
	char why[160];
	int timeout;
};

static ssize_t guard_read(mailstream_low *s, void *buf, size_t count);
static ssize_t guard_write(mailstream_low *s, const void *buf, size_t count);
static int guard_close(mailstream_low *s);
static int guard_get_fd(mailstream_low *s);
static void guard_free(mailstream_low *s);
static void guard_cancel(mailstream_low *s);
static struct mailstream_cancel *guard_get_cancel(mailstream_low *s);
static carray *guard_get_certificate_chain(mailstream_low *s);
static int guard_setup_idle(mailstream_low *s);
static int guard_unsetup_idle(mailstream_low *s);
static int guard_interrupt_idle(mailstream_low *s);

static mailstream_low_driver guard_driver = {
	guard_read,	   guard_write,	     guard_close,
	guard_get_fd,	   guard_free,	     guard_cancel,
	guard_get_cancel,  guard_get_certificate_chain,
	guard_setup_idle,  guard_unsetup_idle, guard_interrupt_idle,
};

static struct guard *guard_of(mailstream *stream)
{
	mailstream_low *low = stream != NULL ? mailstream_get_low(stream) : NULL;

	return low != NULL && low->driver == &guard_driver ? low->data : NULL;
}

static int refuse(struct guard *g, const char *why)
{
	g->failed = 1;
	snprintf(g->why, sizeof(g->why), "%s", why);
	return -1;
}

/* atom_char: RFC 3501 ATOM-CHAR (no 8-bit: libetpan's parser may fail on
 * it, and a failed first flag is the crash). */
static int atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* pf_step: feed C to the PERMANENTFLAGS machine; -1 if the list is bad. */
static int pf_step(struct guard *g, unsigned char c)
{
	switch (g->pf) {
	case PF_SEARCH:
		if (toupper(c) == PF_WORD[g->pf_matched]) {
			if (PF_WORD[++g->pf_matched] == '\0')
				g->pf = PF_SPACE, g->fl_list = 0;
		} else {
			g->pf_matched = c == '[';
		}
		if (toupper(c) == FL_WORD[g->fl_matched] && (g->fl_matched > 0 || g->fl_may_start)) {
			if (FL_WORD[++g->fl_matched] == '\0' && g->pf == PF_SEARCH)
				g->pf = PF_SPACE, g->fl_list = 1;
		} else {
			g->fl_matched = 0;
		}
		if (g->pf != PF_SEARCH)
			g->pf_matched = g->fl_matched = 0;
		g->fl_may_start = c == ' ' || c == '(';
		return 0;
	case PF_SPACE:
		if (c == '(')
			g->pf = PF_FIRST;
		else if (c != ' ')
			g->pf = PF_SEARCH, g->pf_matched = 0;	/* not a flag list: parsed as text */
		g->fl_may_start = c == ' ';
		return 0;
	case PF_FIRST:
	case PF_FLAG_START:
		if (c == ')' && g->pf == PF_FIRST)
			break;
		if (c == '\\')
			g->pf = PF_BACKSLASH;
		else if (atom_char(c))
			g->pf = PF_IN_FLAG;
		else
			return -1;
		return 0;
	case PF_BACKSLASH:
		if (c == '*')
			g->pf = PF_AFTER_STAR;
		else if (atom_char(c))
			g->pf = PF_IN_FLAG;
		else
			return -1;
		return 0;
	case PF_IN_FLAG:
	case PF_AFTER_STAR:
		if (c == ' ')
			g->pf = PF_FLAG_START;
		else if (c == ')')
			break;
		else if (g->pf == PF_AFTER_STAR || !atom_char(c))
			return -1;
		return 0;
	}
	g->pf = PF_SEARCH;	/* the list ended well */
	g->pf_matched = g->fl_matched = 0;
	g->fl_may_start = 0;
	return 0;
}

/* cap_step: feed C (not CR or LF) to the CAPABILITY machine; -1 if the
 * list is empty or does not begin with an atom. */
static int cap_step(struct guard *g, unsigned char c)
{
	switch (g->cap) {
	case CAP_SEARCH:
		if (toupper(c) == CAP_CODE[g->cap_code])
			g->cap_code++;
		else
			g->cap_code = c == '[';
		if (g->line_start && toupper(c) == CAP_LINE[g->cap_line])
			g->cap_line++;
		else
			g->line_start = 0;
		if (CAP_CODE[g->cap_code] == '\0' || (g->line_start && CAP_LINE[g->cap_line] == '\0')) {
			g->cap = CAP_SPACE;
			g->cap_code = g->cap_line = 0;
			g->line_start = 0;
		}
		return 0;
	case CAP_SPACE:
		if (c != ' ')
			return -1;
		g->cap = CAP_FIRST;
		return 0;
	case CAP_FIRST:
		if (!atom_char(c))
			return -1;
		g->cap = CAP_SEARCH;
		return 0;
	}
	return 0;
}

/* cap_line_end: a line ends; -1 if it ended where a capability was due. */
static int cap_line_end(struct guard *g)
{
	int bad = g->cap != CAP_SEARCH;

	g->cap = CAP_SEARCH;
	g->cap_code = g->cap_line = 0;
	g->line_start = 1;
	return bad ? -1 : 0;
}

/* lit_step: feed C to the "{N}" machine; -1 if a literal is too large. At
 * a line end after "{N}" a literal of N bytes follows. */
static int lit_step(struct guard *g, unsigned char c)
{
	char why[sizeof(g->why)];

	if (c == '\n') {
		if (g->closed)
			g->lit_left = g->num;
		g->brace = g->closed = 0;
		return 0;
	}
	if (c == '\r' && g->closed)
		return 0;
	g->closed = 0;
	if (c == '{') {
		g->brace = 1;
		g->digits = g->plus = 0;
		g->num = 0;
	} else if (g->brace && !g->plus && c >= '0' && c <= '9') {
		if (g->num < NUMBER_CAP)
			g->num = g->num * 10 + (c - '0');
		g->digits++;
	} else if (g->brace && g->digits > 0 && !g->plus && c == '+') {
		g->plus = 1;
	} else if (g->brace && g->digits > 0 && c == '}') {
		g->brace = 0;
		g->closed = 1;
		if (g->num > g->literal_max) {
			g->refused_literal = g->num;
			snprintf(why, sizeof(why),
				 "the server announced a literal of %llu%s bytes, over the limit of "
				 "%llu (daemon.limits.message_size and a margin)",
				 g->num, g->num >= NUMBER_CAP ? " or more" : "", g->literal_max);
			return refuse(g, why);
		}
	} else {
		g->brace = 0;
	}
	return 0;
}

/* greeting_step: feed C of the first line to the GREETING_BAD matchers; -1
 * when one of them is complete. */
static int greeting_step(struct guard *g, unsigned char c)
{
	size_t k;

	for (k = 0; k < GREETING_BAD_N; k++) {
		if (toupper(c) == GREETING_BAD[k][g->bad_matched[k]]) {
			if (GREETING_BAD[k][++g->bad_matched[k]] == '\0')
				return -1;
		} else {
			g->bad_matched[k] = c == '[';
		}
	}
	return 0;
}

/* scan: check the N bytes at P; 0, or -1 (refused). */
static int scan(struct guard *g, const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (g->lit_left > 0) {
			size_t k = n - i < g->lit_left ? n - i : (size_t)g->lit_left;
			g->lit_left -= k;
			i += k;
			g->line_start = 0;	/* the line goes on after the literal */
			continue;
		}
		if (g->first_line && p[i] != '\n' && p[i] != '\r') {
			if (toupper(p[i]) != BYE_FIRST[g->bye_matched])
				g->first_line = 0;
			else if (BYE_FIRST[++g->bye_matched] == '\0')
				return refuse(g, "the server's first line is * BYE: it does not take "
						 "the connection now");
		}
		if (g->greeting && greeting_step(g, p[i]) < 0)
			return refuse(g, "the server's greeting carries a PERMANENTFLAGS or BADCHARSET "
					 "list (libetpan 1.9.4 crashes on it there)");
		if (p[i] == '\n')
			g->first_line = g->greeting = 0;
		if (p[i] == '\n' || p[i] == '\r') {
			if (g->pf != PF_SEARCH && g->pf != PF_SPACE)
				return refuse(g, g->fl_list ? "the server sent an unterminated FLAGS list"
							    : "the server sent an unterminated "
							      "PERMANENTFLAGS list");
			g->pf = PF_SEARCH;
			g->pf_matched = g->fl_matched = 0;
			g->fl_may_start = 0;
			if (cap_line_end(g) < 0)
				return refuse(g, "the server sent an empty CAPABILITY list (libetpan "
						 "1.9.4 crashes on it)");
		} else if (pf_step(g, p[i]) < 0) {
			return refuse(g, g->fl_list ? "the server sent a malformed FLAGS list (a flag "
						      "that is not an atom: libetpan 1.9.4 leaks it)"
						    : "the server sent a malformed PERMANENTFLAGS list "
						      "(libetpan 1.9.4 crashes on it)");
		} else if (cap_step(g, p[i]) < 0) {
			return refuse(g, "the server sent a malformed CAPABILITY list (libetpan "
					 "1.9.4 crashes on it)");
		}
		if (lit_step(g, p[i]) < 0)
			return -1;
		i++;
	}
	return 0;
}

static ssize_t guard_read(mailstream_low *s, void *buf, size_t count)
{
	struct guard *g = s->data;
	char why[sizeof(g->why)];
	ssize_t r;

	if (g->failed)
		return -1;
	g->inner->timeout = s->timeout != 0 ? s->timeout : (unsigned long)g->timeout;
	r = mailstream_low_read(g->inner, buf, count);
	if (r == 0)
		return refuse(g, "the server closed the connection");
	if (r < 0) {
		snprintf(why, sizeof(why), "a read failed or timed out (%lu s)", g->inner->timeout);
		return refuse(g, why);
	}
	g->since_write += (unsigned long long)r;
	if (g->since_write > g->response_max) {
		snprintf(why, sizeof(why), "the server sent more than %llu bytes in one response",
			 g->response_max);
		return refuse(g, why);
	}
	return scan(g, buf, (size_t)r) < 0 ? -1 : r;
}

static ssize_t guard_write(mailstream_low *s, const void *buf, size_t count)
{
	struct guard *g = s->data;

	if (g->failed)
		return -1;
	g->inner->timeout = s->timeout != 0 ? s->timeout : (unsigned long)g->timeout;
	g->since_write = 0;
	return mailstream_low_write(g->inner, buf, count);
}

static int guard_close(mailstream_low *s)
{
	return mailstream_low_close(((struct guard *)s->data)->inner);
}

static int guard_get_fd(mailstream_low *s)
{
	return mailstream_low_get_fd(((struct guard *)s->data)->inner);
}

static void guard_free(mailstream_low *s)
{
	struct guard *g = s->data;

	mailstream_low_free(g->inner);
	free(g);
	free(s);
}

static void guard_cancel(mailstream_low *s)
{
	mailstream_low_cancel(((struct guard *)s->data)->inner);
}

static struct mailstream_cancel *guard_get_cancel(mailstream_low *s)
{
	return mailstream_low_get_cancel(((struct guard *)s->data)->inner);
}

static carray *guard_get_certificate_chain(mailstream_low *s)
{
	return mailstream_low_get_certificate_chain(((struct guard *)s->data)->inner);
}

static int guard_setup_idle(mailstream_low *s)
{
	return mailstream_low_setup_idle(((struct guard *)s->data)->inner);
}

static int guard_unsetup_idle(mailstream_low *s)
{
	return mailstream_low_unsetup_idle(((struct guard *)s->data)->inner);
}

static int guard_interrupt_idle(mailstream_low *s)
{
	return mailstream_low_interrupt_idle(((struct guard *)s->data)->inner);
}

int imap_guard_attach(mailstream *stream, size_t literal_max, int timeout)
{
	mailstream_low *inner = mailstream_get_low(stream), *low;
	struct guard *g;

	if (inner == NULL || (g = calloc(1, sizeof(*g))) == NULL)
		return -1;
	g->inner = inner;
	g->literal_max = literal_max;
	g->response_max = (unsigned long long)literal_max + RESPONSE_MARGIN;
	g->timeout = timeout;
	g->line_start = 1;
	g->first_line = 1;
	g->greeting = 1;
	if ((low = mailstream_low_new(g, &guard_driver)) == NULL) {
		free(g);
		return -1;
	}
	mailstream_low_set_timeout(low, (time_t)timeout);
	mailstream_set_low(stream, low);
	return 0;
}

const char *imap_guard_why(mailstream *stream)
{
	struct guard *g = guard_of(stream);

	return g != NULL && g->failed ? g->why : "";
}

unsigned long long imap_guard_literal(mailstream *stream)
{
	struct guard *g = guard_of(stream);

	return g != NULL ? g->refused_literal : 0;
}
