/*
 * message_check.c - the MIME structure check (see message_check.h).
 *
 * One pass over the lines. A stack of open containers (a multipart with its
 * boundary, or a message/rfc822 part) is kept, never deeper than the limit:
 * the walk stops as soon as one more level would pass it. A line that starts
 * with "--" is matched against the boundaries from the outermost in, by
 * prefix, as libetpan bounds each part by its parent's delimiters before it
 * looks inside: so the depth counted here is never less than libetpan's.
 * Content-Type is read leniently (a superset of what libetpan accepts), and
 * when a part has two multipart or message Content-Type fields, which one
 * libetpan would take cannot be told: such a message is refused, as is one
 * with a NUL byte in a header field of any part.
 *
 * Must never: recurse, allocate in proportion to the message, look at a byte
 * twice more than the depth limit allows, or read past LEN.
 */
#include "autoconf.h"

#include "message_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

enum ct_kind { CT_NONE, CT_DISCRETE, CT_MULTIPART, CT_MESSAGE };

/* An open container: a multipart (B its boundary) or a message (B NULL). */
struct level {
	const char *b;
	char *own;		/* B, when unescaping made a copy */
	size_t blen;
	int digest;		/* multipart/digest: parts default to message/rfc822 */
};

struct walk {
	const char *p;
	size_t len;
	struct level *lv;
	int n, max;
	/* the header section being read, if IN_HEADERS */
	int in_headers, field_open, in_ct, composites, typed, default_message;
	size_t ct_start, ct_end;
	enum ct_kind kind;
	struct level pend;	/* what the composite Content-Type says */
	char *err;
	size_t errlen;
};

static int refuse(struct walk *w, const char *why)
{
	snprintf(w->err, w->errlen, "%s", why);
	return -1;
}

static void level_clear(struct level *l)
{
	free(l->own);
	memset(l, 0, sizeof(*l));
}

/* ---- Content-Type values (RFC 2045 §5.1), as libetpan reads them ---- */

static int is_tspecial(unsigned char c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* is_token: libetpan's token characters (which include TAB, CR and LF). */
static int is_token(unsigned char c)
{
	return c < 0x80 && c != ' ' && !is_tspecial(c);
}

/* skip_cfws: white space, line ends and (nested) comments. */
static size_t skip_cfws(const char *s, size_t n, size_t i)
{
	int depth = 0;

	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (depth > 0) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '(') {
			depth = 1;
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			break;
		}
	}
	return i;
}

static size_t token_end(const char *s, size_t n, size_t i)
{
	while (i < n && is_token((unsigned char)s[i]))
		i++;
	return i;
}

static int token_is(const char *s, size_t a, size_t b, const char *word)
{
	return b - a == strlen(word) && strncasecmp(s + a, word, b - a) == 0;
}

static int is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * boundary_value: the parameter value at S[I..N) into L (a quoted string
 * unquoted, unescaped and its white space runs one space, else a token). 0,
 * or -1 with a reason.
 */
static int boundary_value(struct walk *w, const char *s, size_t n, size_t i, struct level *l)
{
	size_t e;

	if (i < n && s[i] == '"') {
		size_t j, k = 0;
		for (e = i + 1; e < n && s[e] != '"'; e++)
			if (s[e] == '\\' && e + 1 < n)
				e++;
		l->own = xmalloc(e - i + 1);
		for (j = i + 1; j < e; j++) {
			if (is_fws(s[j])) { /* libetpan: a run of white space and folds is one space */
				while (j + 1 < e && is_fws(s[j + 1]))
					j++;
				l->own[k++] = ' ';
				continue;
			}
			if (s[j] == '\\' && j + 1 < e)
				j++;
			l->own[k++] = s[j];
		}
		l->own[k] = '\0';
		l->b = l->own;
		l->blen = k;
	} else {
		e = token_end(s, n, i);
		l->b = s + i;
		l->blen = e - i;
	}
	if (l->blen == 0 || l->blen > MESSAGE_BOUNDARY_MAX) {
		level_clear(l);
		return l->blen == 0 ? 0 : refuse(w, "MIME boundary longer than 998 characters");
	}
	if (memchr(l->b, '\n', l->blen) || memchr(l->b, '\r', l->blen) ||
	    memchr(l->b, '\t', l->blen)) {
		level_clear(l);
		return refuse(w, "MIME boundary with a line break or a tab in it");
	}
	return 0;
}

/* find_boundary: the first "boundary" parameter of S[I..N) into L; a
 * parameter that does not parse is skipped up to the next ';'. */
static int find_boundary(struct walk *w, const char *s, size_t n, size_t i, struct level *l)
{
	while (i < n) {
		size_t a, b;
		const char *semi = memchr(s + i, ';', n - i);
		if (semi == NULL)
			return 0;
		i = skip_cfws(s, n, (size_t)(semi - s) + 1);
		a = i;
		b = token_end(s, n, a);
		i = skip_cfws(s, n, b);
		if (b == a || i >= n || s[i] != '=')
			continue;
		i = skip_cfws(s, n, i + 1);
		if (token_is(s, a, b, "boundary"))
			return boundary_value(w, s, n, i, l);
	}
	return 0;
}

/* ct_eval: one Content-Type field's value S[0..N). */
static int ct_eval(struct walk *w, const char *s, size_t n)
{
	size_t i = skip_cfws(s, n, 0), t, st, se;
	struct level l = {NULL, NULL, 0, 0};

	if (i < n && s[i] == ':') /* the colon came after a fold */
		i = skip_cfws(s, n, i + 1);
	t = token_end(s, n, i);

	if (t == i)
		return 0;
	w->typed = 1;
	st = skip_cfws(s, n, t);
	if (st < n && s[st] == '/')
		st = skip_cfws(s, n, st + 1);
	se = token_end(s, n, st);
	if (token_is(s, i, t, "multipart")) {
		if (find_boundary(w, s, n, se, &l) < 0)
			return -1;
		if (l.b == NULL)
			return 0;	/* libetpan takes it for a leaf */
		l.digest = token_is(s, st, se, "digest");
	} else if (!token_is(s, i, t, "message") || !token_is(s, st, se, "rfc822")) {
		return 0;
	}
	if (++w->composites > 1) {
		level_clear(&l);
		return refuse(w, "more than one multipart or message Content-Type in one part");
	}
	w->kind = l.b != NULL ? CT_MULTIPART : CT_MESSAGE;
	w->pend = l;
	return 0;
}

/* ---- the walk ---- */

static void entity_start(struct walk *w, int default_message)
{
	level_clear(&w->pend);
	w->in_headers = 1;
	w->field_open = w->in_ct = w->composites = w->typed = 0;
	w->kind = CT_NONE;
	w->default_message = default_message;
}

static int field_close(struct walk *w)
{
	int r = 0;

	if (w->in_ct)
		r = ct_eval(w, w->p + w->ct_start, w->ct_end - w->ct_start);
	w->field_open = w->in_ct = 0;
	return r;
}

static int push(struct walk *w, struct level *l)
{
	if (w->n >= w->max) {
		char why[64];
		level_clear(l);
		snprintf(why, sizeof(why), "MIME nesting deeper than %d", w->max);
		return refuse(w, why);
	}
	w->lv[w->n++] = *l;
	memset(l, 0, sizeof(*l));
	return 0;
}

/* headers_end: the entity's header section is over; open what it says. */
static int headers_end(struct walk *w)
{
	struct level msg = {NULL, NULL, 0, 0};

	if (field_close(w) < 0)
		return -1;
	w->in_headers = 0;
	if (w->kind == CT_MULTIPART)
		return push(w, &w->pend);
	if (w->kind == CT_MESSAGE || (w->default_message && !w->typed)) {
		level_clear(&w->pend);
		if (push(w, &msg) < 0)
			return -1;
		entity_start(w, 0);
	}
	return 0;
}

/* delimiter: the level whose boundary the line [I, CE) is a delimiter of,
 * outermost first, or -1; *CLOSE if it is a close delimiter. */
static int delimiter(const struct walk *w, size_t i, size_t ce, int *close)
{
	const char *s = w->p + i + 2;
	size_t n = ce - i - 2;
	int k;

	if (ce - i < 3 || w->p[i] != '-' || w->p[i + 1] != '-')
		return -1;
	for (k = 0; k < w->n; k++) {
		const struct level *l = &w->lv[k];
		if (l->b != NULL && n >= l->blen && memcmp(s, l->b, l->blen) == 0) {
			*close = n >= l->blen + 2 && s[l->blen] == '-' && s[l->blen + 1] == '-';
			return k;
		}
	}
	return -1;
}

static void pop_to(struct walk *w, int n)
{
	while (w->n > n)
		level_clear(&w->lv[--w->n]);
}

/* delimiter_take: a delimiter of level K: the levels inside it end; a new
 * part of K starts, or (CLOSE) K ends too. */
static void delimiter_take(struct walk *w, int k, int close)
{
	int digest = w->lv[k].digest;

	pop_to(w, close ? k : k + 1);
	if (close)
		w->in_headers = 0;
	else
		entity_start(w, digest);
}

/* A NUL byte is never allowed in a header field (RFC 5322 §2.2, RFC 6532
 * §3.2): libetpan stops at it, and the copy, which cannot carry it, would be
 * read with another structure (a boundary the NUL hid from libetpan). A
 * line of a header section with a NUL in it is refused, field or not. */
#define NUL_WHY "a NUL byte in a header field"

/*
 * field_line: a header line [I, CE) of the entity being read. 1 if the
 * line is not a field and starts a nested message's header section (read it
 * again), 0, or -1 refused. A field is read as libetpan's mailimf does, and
 * more leniently: a name, then comments and white space (which may go on
 * onto continuation lines) before the colon.
 */
static int field_line(struct walk *w, size_t i, size_t ce)
{
	const char *p = w->p;
	size_t j = i, name;

	if (ce == i)
		return headers_end(w);
	if (memchr(p + i, '\0', ce - i) != NULL)
		return refuse(w, NUL_WHY);
	if ((p[i] == ' ' || p[i] == '\t') && w->field_open) {
		if (w->in_ct)
			w->ct_end = ce;
		return 0;
	}
	if (field_close(w) < 0)
		return -1;
	/* "--" + the boundary this header section declares: libetpan took the
	 * line before for the start of the body; so does this walk */
	if (w->kind == CT_MULTIPART && ce - i >= 2 + w->pend.blen && p[i] == '-' && p[i + 1] == '-' &&
	    memcmp(p + i + 2, w->pend.b, w->pend.blen) == 0)
		return headers_end(w) < 0 ? -1 : 2;
	while (j < ce && p[j] > 32 && p[j] < 127 && p[j] != ':')
		j++;
	name = j;
	j = skip_cfws(p, ce, j);
	if (name == i || (j < ce && p[j] != ':')) { /* not a field: the body starts here */
		if (headers_end(w) < 0)
			return -1;
		return w->in_headers;
	}
	w->field_open = 1;
	if (token_is(p, i, name, "content-type")) {
		w->in_ct = 1;
		w->ct_start = j < ce ? j + 1 : ce;
		w->ct_end = ce;
	}
	return 0;
}

static int walk_lines(struct walk *w)
{
	size_t i = 0;

	entity_start(w, 0);
	while (i < w->len) {
		const char *nl = memchr(w->p + i, '\n', w->len - i);
		size_t e = nl ? (size_t)(nl - w->p) : w->len, ce = e, next = nl ? e + 1 : e;
		int close = 0, k;
		if (ce > i && w->p[ce - 1] == '\r')
			ce--;
		if ((k = delimiter(w, i, ce, &close)) >= 0) {
			delimiter_take(w, k, close);
		} else if (w->in_headers) {
			int r;
			while ((r = field_line(w, i, ce)) == 1)
				;
			if (r < 0)
				return -1;
			if (r == 2 && (k = delimiter(w, i, ce, &close)) >= 0)
				delimiter_take(w, k, close);
		}
		i = next;
	}
	return w->in_headers ? headers_end(w) : 0;
}

int message_check_structure(const char *raw, size_t len, int max_depth, char *err, size_t errlen)
{
	struct walk w;
	int r;

	memset(&w, 0, sizeof(w));
	w.p = raw;
	w.len = len;
	w.max = max_depth > 0 ? max_depth : 0;
	w.lv = xcalloc((size_t)w.max + 1, sizeof(*w.lv));
	w.err = err;
	w.errlen = errlen;
	r = walk_lines(&w);
	pop_to(&w, 0);
	level_clear(&w.pend);
	free(w.lv);
	return r;
}
