/*
 * subject.c - base subjects for threading by subject (see subject.h).
 * Pure functions over caller-owned strings: no globals, no allocation.
 * Must never write more than the caller's OUTLEN bytes, never split a
 * UTF-8 sequence, and never strip a word that merely begins like a prefix
 * ("Rework:", "AWS:"): a prefix is one of the words below followed only by
 * an optional count, optional spaces and a colon.
 */
#include "autoconf.h"

#include "subject.h"

#include <string.h>

enum { MARK_NONE = -1, MARK_FORWARD = 0, MARK_REPLY = 1 };

/* the prefix words, lower-case ASCII (input is folded to compare); the
 * non-ASCII ones are compared byte for byte */
static const struct {
	const char *word;
	int kind;
} marks[] = {
    {"re", MARK_REPLY},
    {"aw", MARK_REPLY},
    {"sv", MARK_REPLY},
    {"antw", MARK_REPLY},
    {"antwort", MARK_REPLY},
    {"r\xc3\xa9"
     "f.",
     MARK_REPLY}, /* réf. */
    {"r\xc3\x89"
     "f.",
     MARK_REPLY}, /* RÉF. */
    {"ref", MARK_REPLY},
    {"rif", MARK_REPLY},
    {"r", MARK_REPLY},
    {"odp", MARK_REPLY},
    {"vs", MARK_REPLY},
    {"ynt", MARK_REPLY},
    {"\xe5\x9b\x9e\xe5\xa4\x8d", MARK_REPLY}, /* 回复 */
    {"\xe5\x9b\x9e\xe8\xa6\x86", MARK_REPLY}, /* 回覆 */
    {"\xe7\xad\x94\xe5\xa4\x8d", MARK_REPLY}, /* 答复 */
    {"fwd", MARK_FORWARD},
    {"fw", MARK_FORWARD},
    {"wg", MARK_FORWARD},
    {"tr", MARK_FORWARD},
    {"enc", MARK_FORWARD},
    {"rv", MARK_FORWARD},
    {"\xe8\xbd\xac\xe5\x8f\x91", MARK_FORWARD}, /* 转发 */
};

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_ws(const char *p)
{
	while (is_ws((unsigned char)*p))
		p++;
	return p;
}

/* ci_prefix: P past the N bytes of W if P starts with them (ASCII case
 * folded), else NULL. */
static const char *ci_prefix(const char *p, const char *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == '\0' || lower((unsigned char)p[i]) != lower((unsigned char)w[i]))
			return NULL;
	return p + i;
}

/* after_count: P past an optional "[N]", "(N)" or "^N". */
static const char *after_count(const char *p)
{
	const char *q = p + 1;
	char close = *p == '[' ? ']' : *p == '(' ? ')' : *p == '^' ? '\0' : 'x';

	if (close == 'x' || !is_digit((unsigned char)*q))
		return p;
	while (is_digit((unsigned char)*q))
		q++;
	if (close == '\0')
		return q;
	return *q == close ? q + 1 : p;
}

/* after_colon: P past optional spaces and ":" or "：" (U+FF1A), else NULL. */
static const char *after_colon(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == ':')
		return p + 1;
	if (strncmp(p, "\xef\xbc\x9a", 3) == 0)
		return p + 3;
	return NULL;
}

/* after_mark: P past one reply/forward prefix with its count and colon, its
 * kind in *KIND; NULL if P does not start with one. */
static const char *after_mark(const char *p, int *kind)
{
	size_t i;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		const char *q = ci_prefix(p, marks[i].word, strlen(marks[i].word));
		if (q != NULL && (q = after_colon(after_count(q))) != NULL) {
			*kind = marks[i].kind;
			return q;
		}
	}
	return NULL;
}

/* after_tag: P past a "[...]" tag, else NULL. */
static const char *after_tag(const char *p)
{
	const char *end;

	if (*p != '[' || (end = strchr(p, ']')) == NULL)
		return NULL;
	return end + 1;
}

/* after_chain: S past its whole leading chain of prefixes, tags and the
 * list prefix [PB, PB+PN); the kind of the first reply/forward prefix in
 * *FIRST (MARK_NONE if none). */
static const char *after_chain(const char *s, const char *pb, size_t pn, int *first)
{
	const char *p = s, *q;
	int kind;

	*first = MARK_NONE;
	for (;;) {
		p = skip_ws(p);
		if (pn > 0 && (q = ci_prefix(p, pb, pn)) != NULL) {
			p = q;
		} else if ((q = after_tag(p)) != NULL) {
			p = q;
		} else if ((q = after_mark(p, &kind)) != NULL) {
			if (*first == MARK_NONE)
				*first = kind;
			p = q;
		} else {
			return p;
		}
	}
}

/* trimmed_prefix: PREFIX without surrounding whitespace in *PB, its length
 * returned (0: no prefix). */
static size_t trimmed_prefix(const char *prefix, const char **pb)
{
	size_t n;

	if (prefix == NULL)
		return 0;
	*pb = skip_ws(prefix);
	n = strlen(*pb);
	while (n > 0 && is_ws((unsigned char)(*pb)[n - 1]))
		n--;
	return n;
}

/* body_end: the end of [P, E) with trailing whitespace and " (fwd)" gone. */
static const char *body_end(const char *p, const char *e)
{
	for (;;) {
		while (e > p && is_ws((unsigned char)e[-1]))
			e--;
		if (e - p < 6 || ci_prefix(e - 5, "(fwd)", 5) == NULL ||
		    !is_ws((unsigned char)e[-6]))
			return e;
		e -= 5;
	}
}

/* seq_len: the length of the UTF-8 sequence at P (before E); a stray or
 * truncated sequence counts only its bytes that belong together. */
static size_t seq_len(const char *p, const char *e)
{
	unsigned char c = (unsigned char)*p;
	size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf8 ? 4 : 1, k;

	for (k = 1; k < n; k++)
		if (p + k >= e || ((unsigned char)p[k] & 0xc0) != 0x80)
			return k;
	return n;
}

char *subject_normalise(const char *s, const char *prefix, char *out, size_t outlen)
{
	const char *pb = NULL, *p, *e;
	size_t pn = trimmed_prefix(prefix, &pb), o = 0, n;
	int first;

	if (outlen == 0)
		return out;
	p = after_chain(s != NULL ? s : "", pb, pn, &first);
	e = body_end(p, p + strlen(p));
	while (p < e) {
		if (is_ws((unsigned char)*p)) {
			while (is_ws((unsigned char)*p))
				p++;
			if (o + 1 > outlen - 1)
				break;
			out[o++] = ' ';
			continue;
		}
		n = seq_len(p, e);
		if (o + n > outlen - 1)
			break;
		for (size_t k = 0; k < n; k++)
			out[o++] = (char)lower((unsigned char)p[k]);
		p += n;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return out;
}

int subject_is_reply(const char *s, const char *prefix)
{
	const char *pb = NULL;
	size_t pn = trimmed_prefix(prefix, &pb);
	int first;

	if (s == NULL)
		return 0;
	(void)after_chain(s, pb, pn, &first);
	return first == MARK_REPLY;
}
