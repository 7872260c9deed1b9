/*
 * dkim.c - the relaxed canonicalisations of DKIM (RFC 6376 §3.4.2, §3.4.4)
 * and the body hash (see dkim.h).
 *
 * Written here rather than taken from libopendkim: that library has its own
 * message model and wants the whole message per signature, where parley
 * hashes a post's body once and will sign each copy's header. Both
 * canonicalisations stream through a small buffer (struct sink) into
 * SHA-256 or a buffer, so nothing is copied whole.
 *
 * Must never: read past a length it was given, or keep state between calls.
 */
#include "autoconf.h"

#include "dkim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#define SINK_BUF 1024

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt,
							 ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ---- the sink: canonical bytes, buffered, to a hash or a buffer ---- */

struct sink {
	int (*flush)(void *arg, const void *p, size_t n); /* 0 or -1 */
	void *arg;
	int failed;
	size_t n;
	unsigned char buf[SINK_BUF];
};

static void sink_init(struct sink *s, int (*flush)(void *, const void *, size_t), void *arg)
{
	s->flush = flush;
	s->arg = arg;
	s->failed = 0;
	s->n = 0;
}

/* sink_flush: hand the buffered bytes on; 0, or -1 if this or an earlier
 * flush failed. */
static int sink_flush(struct sink *s)
{
	if (s->n > 0 && !s->failed && s->flush(s->arg, s->buf, s->n) < 0)
		s->failed = 1;
	s->n = 0;
	return s->failed ? -1 : 0;
}

static void sink_put(struct sink *s, char c)
{
	if (s->n == SINK_BUF)
		sink_flush(s);
	s->buf[s->n++] = (unsigned char)c;
}

static void sink_crlf(struct sink *s)
{
	sink_put(s, '\r');
	sink_put(s, '\n');
}

static int flush_mbuf(void *arg, const void *p, size_t n)
{
	mbuf_add(arg, p, n);
	return 0;
}

static int flush_digest(void *arg, const void *p, size_t n)
{
	return EVP_DigestUpdate(arg, p, n) == 1 ? 0 : -1;
}

/* ---- canonicalisation (RFC 6376 §3.4.2, §3.4.4) ---- */

/* line_break: the length of the line end at P[I] (CR LF 2, LF 1), else 0. */
static size_t line_break(const char *p, size_t n, size_t i)
{
	if (p[i] == '\n')
		return 1;
	return (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') ? 2 : 0;
}

/*
 * canon_body: relaxed body canonicalisation in one pass. WSP seen in a line
 * is written as one SP only when something follows it in the line; an empty
 * line (once its WSP is dropped) is held back, and written only when a line
 * with content follows, so that empty lines at the end disappear.
 */
static void canon_body(struct sink *s, const char *p, size_t n)
{
	size_t i, held = 0, br;
	int wsp = 0, content = 0;

	for (i = 0; i < n; i++) {
		if ((br = line_break(p, n, i)) > 0) {
			if (content)
				sink_crlf(s);
			else
				held++;
			i += br - 1;
			wsp = content = 0;
		} else if (is_wsp(p[i])) {
			wsp = 1;
		} else {
			for (; !content && held > 0; held--)
				sink_crlf(s);
			if (wsp)
				sink_put(s, ' ');
			sink_put(s, p[i]);
			wsp = 0;
			content = 1;
		}
	}
	if (content)
		sink_crlf(s);
}

/*
 * canon_field: relaxed header canonicalisation of one field P[0..N) (name,
 * colon, value with its folds and line end): the name lower-case, no WSP
 * around the colon, line ends removed (unfolding), WSP runs one SP, none at
 * the end of the value; CRLF after it if CRLF.
 */
static void canon_field(struct sink *s, const char *p, size_t n, int crlf)
{
	size_t i, br;
	int wsp = 0, content = 0;

	for (i = 0; i < n && p[i] != ':'; i++)
		if (!is_wsp(p[i]))
			sink_put(s, ascii_lower(p[i]));
	sink_put(s, ':');
	for (i++; i < n; i++) {
		if ((br = line_break(p, n, i)) > 0) {
			i += br - 1;
		} else if (is_wsp(p[i])) {
			wsp = 1;
		} else {
			if (wsp && content)
				sink_put(s, ' ');
			sink_put(s, p[i]);
			wsp = 0;
			content = 1;
		}
	}
	if (crlf)
		sink_crlf(s);
}

/* ---- header sections ---- */

struct field {
	size_t off, len; /* the whole field, continuation lines and line end included */
	size_t namelen;
};

struct scan {
	const char *p;
	size_t len, pos, line;
};

/* line_next: the offset after the line at I; *CE where its content ends. */
static size_t line_next(const char *p, size_t len, size_t i, size_t *ce)
{
	const char *nl = memchr(p + i, '\n', len - i);
	size_t e = nl ? (size_t)(nl - p) : len;

	*ce = (e > i && p[e - 1] == '\r') ? e - 1 : e;
	return nl ? e + 1 : len;
}

/* name_len: the length of the field name if the line [I, CE) starts a
 * field (printable ASCII but ':', optional WSP, ':'), else 0. */
static size_t name_len(const char *p, size_t i, size_t ce)
{
	size_t j = i, n;

	while (j < ce && p[j] > 32 && p[j] < 127 && p[j] != ':')
		j++;
	n = j - i;
	while (j < ce && is_wsp(p[j]))
		j++;
	return (n > 0 && j < ce && p[j] == ':') ? n : 0;
}

/*
 * scan_field: the next field of the header section into F. 1 for a field,
 * 0 at the end (the end of the section, or an empty line that is its last
 * line), -1 with ERR set for a line that is no field, a continuation line
 * with no field before it, or an empty line with more after it.
 */
static int scan_field(struct scan *s, struct field *f, char *err, size_t errlen)
{
	size_t ce, next;

	if (s->pos >= s->len)
		return 0;
	next = line_next(s->p, s->len, s->pos, &ce);
	s->line++;
	if (ce == s->pos) {
		if (next == s->len) {
			s->pos = next;
			return 0;
		}
		seterr(err, errlen, "header line %zu: an empty line inside the header section",
		       s->line);
		return -1;
	}
	if ((f->namelen = name_len(s->p, s->pos, ce)) == 0) {
		seterr(err, errlen, "header line %zu: %s", s->line,
		       is_wsp(s->p[s->pos]) ? "a continuation line with no field before it"
					    : "not a header field");
		return -1;
	}
	f->off = s->pos;
	while (next < s->len && is_wsp(s->p[next])) {
		next = line_next(s->p, s->len, next, &ce);
		s->line++;
	}
	f->len = next - f->off;
	s->pos = next;
	return 1;
}

static int scan_init(struct scan *s, const char *header, size_t hlen, char *err, size_t errlen)
{
	s->p = header;
	s->len = hlen;
	s->pos = 0;
	s->line = 0;
	if (hlen > DKIM_HEADER_MAX) {
		seterr(err, errlen, "a header section of %zu octets: at most %lu are signed", hlen,
		       DKIM_HEADER_MAX);
		return -1;
	}
	if (header == NULL && hlen > 0) {
		seterr(err, errlen, "no header section");
		return -1;
	}
	return 0;
}

void dkim_canon_body(const char *body, size_t len, struct mbuf *out)
{
	struct sink s;

	mbuf_add(out, "", 0);
	sink_init(&s, flush_mbuf, out);
	if (len > 0)
		canon_body(&s, body, len);
	sink_flush(&s);
}

int dkim_canon_header(const char *header, size_t hlen, struct mbuf *out, char *err, size_t errlen)
{
	struct scan sc;
	struct field f;
	struct sink s;
	size_t start = out->n;
	int r;

	if (scan_init(&sc, header, hlen, err, errlen) < 0)
		return -1;
	mbuf_add(out, "", 0);
	sink_init(&s, flush_mbuf, out);
	while ((r = scan_field(&sc, &f, err, errlen)) > 0)
		canon_field(&s, header + f.off, f.len, 1);
	sink_flush(&s);
	if (r < 0) {
		out->n = start;
		out->p[start] = '\0';
		return -1;
	}
	return 0;
}

/* ---- the body hash ---- */

int dkim_body_hash(const char *body, size_t len, char out[DKIM_BH_MAX])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct sink s;
	int ok;

	out[0] = '\0';
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		return -1;
	}
	sink_init(&s, flush_digest, ctx);
	if (len > 0 && body != NULL)
		canon_body(&s, body, len);
	ok = sink_flush(&s) == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return -1;
	}
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	return 0;
}
