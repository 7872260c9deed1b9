/*
 * mailfmt.h - building blocks for the messages parley writes (the copies of
 * lib/render.c, the notices of lib/notice.c): a growable byte buffer,
 * folded header fields, RFC 2047 encoded words, quoted-printable and base64.
 * Pure functions: no I/O, no clock, no global state.
 */
#ifndef PARLEY_MAILFMT_H
#define PARLEY_MAILFMT_H

#include <stddef.h>

#define MAILFMT_FOLD_AT	 78	/* columns a folded header line aims for */
#define MAILFMT_LINE_MAX 998	/* octets of a line, CR LF not counted (RFC 5322) */

/* A growable buffer, always NUL-terminated once something was added;
 * {0} is empty. Allocation failure aborts (xalloc). */
struct mbuf {
	char *p;
	size_t n, cap;
};

void mbuf_add(struct mbuf *b, const void *s, size_t n);
void mbuf_str(struct mbuf *b, const char *s);
void mbuf_free(struct mbuf *b);

/* mailfmt_is_wsp: space or tab. */
int mailfmt_is_wsp(char c);

/* mailfmt_fold: S[0..N), a whole unfolded field "Name: value" without line
 * ends, folded before white space to stay within 78 columns where possible,
 * CR LF after. -1 (nothing written) if a word does not fit in 998 octets. */
int mailfmt_fold(struct mbuf *out, const char *s, size_t n);

/* mailfmt_field: "NAME: VALUE" folded; VALUE has no line ends. */
int mailfmt_field(struct mbuf *out, const char *name, const char *value);

/* mailfmt_utf8_len: length of the UTF-8 character at S, 1 for an invalid
 * byte. */
size_t mailfmt_utf8_len(const char *s, size_t left);

/* mailfmt_clean: S as one line of valid UTF-8 (invalid bytes '?', controls
 * and white space runs one space, trimmed), cut to at most MAX bytes between
 * characters. Caller frees. */
char *mailfmt_clean(const char *s, size_t max);

/* mailfmt_unstructured: cleaned text V as an unstructured field body: plain
 * words as they are, runs of words that need it as encoded words. */
void mailfmt_unstructured(struct mbuf *out, const char *v);

/* mailfmt_phrase: a display name: a quoted string if ASCII, else encoded
 * words. */
void mailfmt_phrase(struct mbuf *out, const char *s);

/* mailfmt_qp: S[0..N) quoted-printable (RFC 2045 §6.7); CR LF and bare LF
 * are line breaks. */
void mailfmt_qp(struct mbuf *out, const char *s, size_t n);

/* mailfmt_b64: S[0..N) base64 in lines of 76 characters, CR LF after each. */
void mailfmt_b64(struct mbuf *out, const char *s, size_t n);

/* mailfmt_date: T (seconds since the epoch) as an RFC 5322 date-time in
 * UTC, "Mon, 23 Nov 2026 21:11:03 +0000", into OUT (LEN >= 32), whatever
 * the locale. */
void mailfmt_date(long long t, char *out, size_t len);

#endif
