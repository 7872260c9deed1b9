/*
 * dkim.c - DKIM signing of the copies parley sends (see dkim.h; RFC 6376,
 * RFC 8463, RFC 8301).
 *
 * The canonicalisations are written here rather than taken from
 * libopendkim: that library has its own message model and wants the whole
 * message per signature, where parley hashes a post's body once and signs
 * each copy's header. Both canonicalisations stream through a small buffer
 * (struct sink) into SHA-256, so a signature needs no copy of the header;
 * the field is written straight into the caller's buffer, and what is
 * hashed of it is read back from there, so the hashed text and the sent
 * text cannot differ.
 *
 * rsa-sha256 signs with EVP_DigestSign* (PKCS#1 v1.5, SHA-256 over the
 * canonical header); ed25519-sha256 hashes the canonical header with
 * SHA-256 and signs the 32-byte hash with one-shot PureEdDSA (RFC 8463 §3).
 *
 * ARC (RFC 8617): the ARC-Message-Signature is the DKIM signature with
 * another field name and i= for v=; the ARC-Seal hashes the chain's earlier
 * sets as given, the new set's AAR and AMS as written, and itself with an
 * empty b=, like the DKIM field's own hash.
 *
 * Must never: read past a length it was given, keep state between calls
 * other than in the caller's cache (struct dkim_cache: a thread's signing
 * contexts and body hash states; a key is read-only once loaded), write a field whose hashed form differs
 * from what it appends, sign without From, accept an RSA key under 1024
 * bits, or leave the key file's bytes in memory it frees.
 */
#include "autoconf.h"

#include "dkim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "xalloc.h"

#define SINK_BUF      1024
#define SIG_MAX	      (DKIM_RSA_BITS_MAX / 8)
#define SIG_B64_MAX   (4 * ((SIG_MAX + 2) / 3) + 1)
#define BH_LEN	      44 /* base64 of 32 bytes */
#define LABEL_MAX     63
#define SELFTEST_TEXT "parley dkim self-test"

struct dkim_key {
	enum dkim_alg alg;
	int bits;
	EVP_PKEY *pkey;
	EVP_MD *sha256;
	char domain[DKIM_NAME_MAX + 1];
	char selector[DKIM_NAME_MAX + 1];
};

/* The fields dkim_sign signs, in h= order, and whether each is listed once
 * more than present (oversigned). Read-only. */
static const struct {
	const char *name;
	unsigned char oversign;
} signed_fields[] = {
    {"from", 1},
    {"to", 1},
    {"cc", 0},
    {"subject", 1},
    {"date", 1},
    {"message-id", 1},
    {"in-reply-to", 0},
    {"references", 0},
    {"list-id", 1},
    {"list-unsubscribe", 1},
    {"list-unsubscribe-post", 1},
    {"list-post", 0},
    {"list-help", 0},
    {"reply-to", 1},
    {"mime-version", 1},
    {"content-type", 1},
    {"content-transfer-encoding", 0},
};

#define NSIGNED (sizeof(signed_fields) / sizeof(signed_fields[0]))

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

/* ssl_reason: the reason of OpenSSL's oldest queued error (or "unknown"),
 * and the thread's queue emptied. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown OpenSSL error";
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
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
 * with content follows, so that empty lines at the end disappear. It can
 * stop at any line start and go on later from the same state (struct
 * canon): the body hash cache resumes it from a mark (see below).
 */
struct canon {
	size_t held;		/* empty lines held back */
	int wsp, content;	/* in the current line */
	/* at the start of each line, if set (the marks of the cache) */
	void (*line)(void *arg, struct sink *s, const struct canon *st, size_t at);
	void *arg;
};

static void canon_run(struct sink *s, struct canon *st, const char *p, size_t n, size_t base)
{
	size_t i, br;

	for (i = 0; i < n; i++) {
		if ((br = line_break(p, n, i)) > 0) {
			if (st->content)
				sink_crlf(s);
			else
				st->held++;
			i += br - 1;
			st->wsp = st->content = 0;
			if (st->line != NULL && i + 1 < n)
				st->line(st->arg, s, st, base + i + 1);
		} else if (is_wsp(p[i])) {
			st->wsp = 1;
		} else {
			for (; !st->content && st->held > 0; st->held--)
				sink_crlf(s);
			if (st->wsp)
				sink_put(s, ' ');
			sink_put(s, p[i]);
			st->wsp = 0;
			st->content = 1;
		}
	}
}

static void canon_end(struct sink *s, const struct canon *st)
{
	if (st->content)
		sink_crlf(s);
}

static void canon_body(struct sink *s, const char *p, size_t n)
{
	struct canon st = {0};

	canon_run(s, &st, p, n, 0);
	canon_end(s, &st);
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

/* signed_index: the index in signed_fields of the field name P[0..N), or -1. */
static int signed_index(const char *p, size_t n)
{
	size_t i, j;

	for (i = 0; i < NSIGNED; i++) {
		const char *name = signed_fields[i].name;
		for (j = 0; j < n && name[j] != '\0' && ascii_lower(p[j]) == name[j]; j++)
			;
		if (j == n && name[j] == '\0')
			return (int)i;
	}
	return -1;
}

/* The instances of signed fields in a header section, top to bottom. */
struct picks {
	size_t n;
	struct field f[DKIM_INSTANCES_MAX];
	unsigned char which[DKIM_INSTANCES_MAX]; /* index in signed_fields */
	unsigned count[NSIGNED];
};

static int pick_fields(const char *header, size_t hlen, struct picks *pk, char *err, size_t errlen)
{
	struct scan s;
	struct field f;
	int r, w;

	memset(pk, 0, sizeof(*pk));
	if (scan_init(&s, header, hlen, err, errlen) < 0)
		return -1;
	while ((r = scan_field(&s, &f, err, errlen)) > 0) {
		if ((w = signed_index(header + f.off, f.namelen)) < 0)
			continue;
		if (pk->n == DKIM_INSTANCES_MAX) {
			seterr(err, errlen, "more than %d instances of signed header fields",
			       DKIM_INSTANCES_MAX);
			return -1;
		}
		pk->f[pk->n] = f;
		pk->which[pk->n++] = (unsigned char)w;
		pk->count[w]++;
	}
	if (r < 0)
		return -1;
	if (pk->count[0] == 0) {
		seterr(err, errlen, "no From field: DKIM must sign it (RFC 6376 §5.4)");
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

/* ---- the body hash cache ---- */

/*
 * The copies of one post differ in their body only where the footer has
 * their personal addresses, near the end. The cache keeps the body it last
 * hashed in full (the reference) and, every BH_GAP octets or more, a mark at
 * a line start: the SHA-256 state and the canonicaliser's state there. For
 * the next body it finds where it first differs from the reference and goes
 * on from the last mark before that point: the octets before a mark are the
 * same, so the state there is too. Nothing is trusted that memcmp did not
 * check.
 */
#define BH_MARKS 64	/* marks per reference */
#define BH_GAP	 256	/* octets at least between two marks */

struct bh_mark {
	size_t at;	/* offset in the body of the line start */
	size_t held;	/* the canonicaliser's empty lines held back there */
	EVP_MD_CTX *ctx;
};

/* A signing context of one key made once per thread (EVP_DigestSignInit
 * fetches the algorithms and sets the key up, some 40 us for RSA) and
 * copied for each signature. It holds a reference to the key's EVP_PKEY,
 * so that a key freed by a reload cannot have its address reused by
 * another while the template is kept. */
#define SIGN_TEMPLATES 8

struct sign_template {
	EVP_PKEY *pkey;		/* referenced; NULL: a free entry */
	EVP_MD_CTX *ctx;	/* EVP_DigestSignInit'ed for PKEY */
	unsigned long used;	/* when last used (the cache's clock) */
};

struct dkim_cache {
	struct sign_template t[SIGN_TEMPLATES];
	unsigned long clock;
	EVP_MD *sha256;
	char *ref;	/* the reference body, or NULL */
	size_t ref_len;
	struct bh_mark m[BH_MARKS];
	size_t n, gap;	/* marks made; octets between them for this reference */
	int failed;	/* a mark could not be made */
};

struct dkim_cache *dkim_cache_new(void)
{
	struct dkim_cache *c = xcalloc(1, sizeof(*c));

	if ((c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		ERR_clear_error();
		free(c);
		return NULL;
	}
	return c;
}

static void bh_forget(struct dkim_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		EVP_MD_CTX_free(c->m[i].ctx);
	c->n = 0;
	free(c->ref);
	c->ref = NULL;
	c->ref_len = 0;
}

static void template_clear(struct sign_template *t)
{
	EVP_MD_CTX_free(t->ctx);
	EVP_PKEY_free(t->pkey);
	memset(t, 0, sizeof(*t));
}

void dkim_cache_free(struct dkim_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < SIGN_TEMPLATES; i++)
		template_clear(&c->t[i]);
	bh_forget(c);
	EVP_MD_free(c->sha256);
	free(c);
}

/* bh_mark_line: at the line start AT of the reference, a mark if the last
 * one is far enough behind (the sink flushed first: the state is the
 * digest's alone). */
static void bh_mark_line(void *arg, struct sink *s, const struct canon *st, size_t at)
{
	struct dkim_cache *c = arg;
	struct bh_mark *m;

	if (c->n == BH_MARKS || c->failed || at < (c->n ? c->m[c->n - 1].at : 0) + c->gap)
		return;
	if (sink_flush(s) < 0)
		return;
	m = &c->m[c->n];
	if ((m->ctx = EVP_MD_CTX_new()) == NULL || EVP_MD_CTX_copy_ex(m->ctx, s->arg) != 1) {
		EVP_MD_CTX_free(m->ctx);
		ERR_clear_error();
		c->failed = 1;
		return;
	}
	m->at = at;
	m->held = st->held;
	c->n++;
}

/* bh_resume: the mark to go on from for BODY[0..LEN), or NULL: the last one
 * before the first octet where BODY and the reference differ, if it saves at
 * least half the work. */
static const struct bh_mark *bh_resume(const struct dkim_cache *c, const char *body,
				       size_t len)
{
	size_t same = 0, k = c->ref_len < len ? c->ref_len : len, i;
	const struct bh_mark *best = NULL;

	if (c->ref == NULL)
		return NULL;
	while (same < k && body[same] == c->ref[same])
		same++;
	for (i = 0; i < c->n && c->m[i].at <= same; i++)
		best = &c->m[i];
	return best != NULL && best->at >= len / 2 ? best : NULL;
}

/* bh_final: the digest of CTX as base64 into OUT; 0 or -1. */
static int bh_final(EVP_MD_CTX *ctx, char out[DKIM_BH_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
		ERR_clear_error();
		return -1;
	}
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	return 0;
}

int dkim_body_hash_cached(struct dkim_cache *c, const char *body, size_t len,
			  char out[DKIM_BH_MAX])
{
	const struct bh_mark *m;
	struct canon st = {0};
	EVP_MD_CTX *ctx;
	struct sink s;
	size_t from = 0;
	int ok;

	if (c == NULL || body == NULL || len == 0)
		return dkim_body_hash(body, len, out);
	out[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if ((m = bh_resume(c, body, len)) != NULL) {
		ok = EVP_MD_CTX_copy_ex(ctx, m->ctx) == 1;
		from = m->at;
		st.held = m->held;
	} else {
		bh_forget(c);
		c->ref = xmalloc(len);
		memcpy(c->ref, body, len);
		c->ref_len = len;
		c->gap = len / BH_MARKS > BH_GAP ? len / BH_MARKS : BH_GAP;
		c->failed = 0;
		st.line = bh_mark_line;
		st.arg = c;
		ok = EVP_DigestInit_ex(ctx, c->sha256, NULL) == 1;
	}
	sink_init(&s, flush_digest, ctx);
	if (ok) {
		canon_run(&s, &st, body + from, len - from, from);
		canon_end(&s, &st);
	}
	ok = ok && sink_flush(&s) == 0 && bh_final(ctx, out) == 0;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* ---- signing ---- */

/* A signature in the making: the canonical header goes into CTX (with the
 * key for RSA, plain SHA-256 for Ed25519); TMPL, if set, is the thread's
 * signing context of the key, copied instead of set up again. */
struct signer {
	const struct dkim_key *key;
	EVP_MD_CTX *ctx;
	const EVP_MD_CTX *tmpl;
};

/* sign_template: C's signing context for KEY, made if it has none (the
 * least recently used one goes); NULL if OpenSSL fails. */
static const EVP_MD_CTX *sign_template(struct dkim_cache *c, const struct dkim_key *key)
{
	struct sign_template *t = &c->t[0];
	size_t i;

	for (i = 0; i < SIGN_TEMPLATES; i++) {
		if (c->t[i].pkey == key->pkey) {
			c->t[i].used = ++c->clock;
			return c->t[i].ctx;
		}
		if (c->t[i].used < t->used)
			t = &c->t[i];
	}
	template_clear(t);
	if ((t->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(t->ctx, NULL, key->alg == DKIM_RSA_SHA256 ? key->sha256 : NULL,
			       NULL, key->pkey) != 1 ||
	    EVP_PKEY_up_ref(key->pkey) != 1) {
		template_clear(t);
		ERR_clear_error();
		return NULL;
	}
	t->pkey = key->pkey;
	t->used = ++c->clock;
	return t->ctx;
}

static int signer_begin(struct signer *sg, const struct dkim_key *key, struct dkim_cache *c)
{
	int ok;

	sg->key = key;
	sg->tmpl = c != NULL ? sign_template(c, key) : NULL;
	if ((sg->ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (key->alg == DKIM_RSA_SHA256)
		ok = sg->tmpl != NULL
			 ? EVP_MD_CTX_copy_ex(sg->ctx, sg->tmpl)
			 : EVP_DigestSignInit(sg->ctx, NULL, key->sha256, NULL, key->pkey);
	else
		ok = EVP_DigestInit_ex(sg->ctx, key->sha256, NULL);
	return ok == 1 ? 0 : -1;
}

static int signer_update(void *arg, const void *p, size_t n)
{
	struct signer *sg = arg;
	int ok = sg->key->alg == DKIM_RSA_SHA256 ? EVP_DigestSignUpdate(sg->ctx, p, n)
						 : EVP_DigestUpdate(sg->ctx, p, n);
	return ok == 1 ? 0 : -1;
}

/* signer_end: the signature into SIG (SIG_MAX bytes), its length in
 * *SIGLEN; 0 or -1. */
static int signer_end(struct signer *sg, unsigned char sig[SIG_MAX], size_t *siglen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	*siglen = SIG_MAX;
	if (sg->key->alg == DKIM_RSA_SHA256)
		return EVP_DigestSignFinal(sg->ctx, sig, siglen) == 1 ? 0 : -1;
	if (EVP_DigestFinal_ex(sg->ctx, md, &mdlen) != 1)
		return -1;
	if (sg->tmpl != NULL ? EVP_MD_CTX_copy_ex(sg->ctx, sg->tmpl) != 1
			     : (EVP_MD_CTX_reset(sg->ctx) != 1 ||
				EVP_DigestSignInit(sg->ctx, NULL, NULL, NULL, sg->key->pkey) != 1))
		return -1;
	return EVP_DigestSign(sg->ctx, sig, siglen, md, mdlen) == 1 ? 0 : -1;
}

static void signer_free(struct signer *sg)
{
	EVP_MD_CTX_free(sg->ctx);
	sg->ctx = NULL;
}

/* Writing the field, folded: F->col is the column the next byte goes to. */
struct fold {
	struct mbuf *out;
	size_t col;
};

static void fold_break(struct fold *f)
{
	mbuf_add(f->out, "\r\n ", 3);
	f->col = 1;
}

/* fold_word: " W", or W on a new line if it would pass the fold width. */
static void fold_word(struct fold *f, const char *w, size_t n)
{
	if (f->col > 1 && f->col + 1 + n > MAILFMT_FOLD_AT) {
		fold_break(f);
		mbuf_add(f->out, w, n);
		f->col += n;
		return;
	}
	mbuf_add(f->out, " ", 1);
	mbuf_add(f->out, w, n);
	f->col += 1 + n;
}

/* fold_glued: W right after what precedes it, or on a new line after FWS
 * where the syntax allows it (after a colon in h=). */
static void fold_glued(struct fold *f, const char *w, size_t n)
{
	if (f->col > 1 && f->col + n > MAILFMT_FOLD_AT)
		fold_break(f);
	mbuf_add(f->out, w, n);
	f->col += n;
}

/* fold_base64: S[0..N) filling each line, FWS between lines (allowed
 * anywhere in a base64 tag value, RFC 6376 §2.4). */
static void fold_base64(struct fold *f, const char *s, size_t n)
{
	while (n > 0) {
		size_t room = f->col < MAILFMT_FOLD_AT ? MAILFMT_FOLD_AT - f->col : 0, k;
		if (room == 0) {
			fold_break(f);
			continue;
		}
		k = n < room ? n : room;
		mbuf_add(f->out, s, k);
		f->col += k;
		s += k;
		n -= k;
	}
}

static const char *alg_name(enum dkim_alg a)
{
	return a == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256";
}

/* What the signature field is: a DKIM-Signature ("v=1;" first) or an
 * ARC-Message-Signature ("i=N;" first, RFC 8617 §4.1.2). */
struct sigkind {
	const char *name;	/* "DKIM-Signature:" */
	const char *first;	/* "v=1;" */
};

/* write_tags: the field up to and with "b=" (the value comes after the
 * signature) into F: v (or i), a, c, d, s, t, h (each name as often as PK
 * has it, once more if oversigned), bh. */
static void write_tags(struct fold *f, const struct sigkind *kind, const struct dkim_key *key,
		       const struct picks *pk, const char *bh, long long timestamp)
{
	char word[DKIM_NAME_MAX + 8];
	size_t i, k, listed = 0, total = 0;
	int n;

	for (i = 0; i < NSIGNED; i++)
		total += pk->count[i] + signed_fields[i].oversign;
	mbuf_str(f->out, kind->name);
	f->col = strlen(kind->name);
	fold_word(f, kind->first, strlen(kind->first));
	n = snprintf(word, sizeof(word), "a=%s;", alg_name(key->alg));
	fold_word(f, word, (size_t)n);
	fold_word(f, "c=relaxed/relaxed;", 18);
	n = snprintf(word, sizeof(word), "d=%s;", key->domain);
	fold_word(f, word, (size_t)n);
	n = snprintf(word, sizeof(word), "s=%s;", key->selector);
	fold_word(f, word, (size_t)n);
	n = snprintf(word, sizeof(word), "t=%lld;", timestamp);
	fold_word(f, word, (size_t)n);
	for (i = 0; i < NSIGNED; i++) {
		for (k = 0; k < pk->count[i] + signed_fields[i].oversign; k++) {
			listed++;
			n = snprintf(word, sizeof(word), "%s%s%c", listed == 1 ? "h=" : "",
				     signed_fields[i].name, listed == total ? ';' : ':');
			if (listed == 1)
				fold_word(f, word, (size_t)n);
			else
				fold_glued(f, word, (size_t)n);
		}
	}
	n = snprintf(word, sizeof(word), "bh=%s;", bh);
	fold_word(f, word, (size_t)n);
	fold_word(f, "b=", 2);
}

/* hash_fields: the picked fields into S in h= order, each name's instances
 * bottom-up (RFC 6376 §5.4.2); an oversigned name's extra entry hashes
 * nothing. */
static void hash_fields(struct sink *s, const char *header, const struct picks *pk)
{
	size_t i, j;

	for (i = 0; i < NSIGNED; i++)
		for (j = pk->n; j-- > 0;)
			if (pk->which[j] == i)
				canon_field(s, header + pk->f[j].off, pk->f[j].len, 1);
}

static int bh_valid(const char *bh)
{
	size_t i;

	if (bh == NULL || strnlen(bh, DKIM_BH_MAX) != BH_LEN)
		return 0;
	for (i = 0; i < BH_LEN - 1; i++)
		if (!is_alnum(bh[i]) && bh[i] != '+' && bh[i] != '/')
			return 0;
	return bh[BH_LEN - 1] == '=';
}

/* sign_as: dkim_sign for a field of KIND. */
static int sign_as(const struct sigkind *kind, const struct dkim_key *key, struct dkim_cache *c,
		   const char *header, size_t hlen, const char *bh, long long timestamp,
		   struct mbuf *out_field, char *err, size_t errlen)
{
	struct picks pk;
	struct signer sg = {0};
	struct sink s;
	struct fold f = {out_field, 0};
	unsigned char sig[SIG_MAX];
	char b64[SIG_B64_MAX];
	size_t start = out_field->n, siglen = 0;
	int ok;

	seterr(err, errlen, "%s", "");
	if (!bh_valid(bh)) {
		seterr(err, errlen, "not a body hash: %.60s", bh ? bh : "(null)");
		return -1;
	}
	if (timestamp < 0) {
		seterr(err, errlen, "negative timestamp %lld", timestamp);
		return -1;
	}
	if (pick_fields(header, hlen, &pk, err, errlen) < 0)
		return -1;
	if (signer_begin(&sg, key, c) < 0) {
		seterr(err, errlen, "cannot start a signature: %s", ssl_reason());
		signer_free(&sg);
		return -1;
	}
	sink_init(&s, signer_update, &sg);
	hash_fields(&s, header, &pk);
	write_tags(&f, kind, key, &pk, bh, timestamp);
	canon_field(&s, out_field->p + start, out_field->n - start, 0);
	ok = sink_flush(&s) == 0 && signer_end(&sg, sig, &siglen) == 0;
	signer_free(&sg);
	if (!ok) {
		seterr(err, errlen, "cannot sign: %s", ssl_reason());
		out_field->n = start;
		out_field->p[start] = '\0';
		return -1;
	}
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	fold_base64(&f, b64, strlen(b64));
	mbuf_add(out_field, "\r\n", 2);
	return 0;
}

static const struct sigkind dkim_kind = {"DKIM-Signature:", "v=1;"};

int dkim_sign(const struct dkim_key *key, const char *header, size_t hlen, const char *bh,
	      long long timestamp, struct mbuf *out_field, char *err, size_t errlen)
{
	return sign_as(&dkim_kind, key, NULL, header, hlen, bh, timestamp, out_field, err, errlen);
}

int dkim_sign_cached(struct dkim_cache *c, const struct dkim_key *key, const char *header,
		     size_t hlen, const char *bh, long long timestamp, struct mbuf *out_field,
		     char *err, size_t errlen)
{
	return sign_as(&dkim_kind, key, c, header, hlen, bh, timestamp, out_field, err, errlen);
}

/* ---- ARC (RFC 8617) ---- */

/* seal_tags: "ARC-Seal: i=N; a=rsa-sha256; t=...; cv=...; d=...; s=...;
 * b=" into F (RFC 8617 §4.1.3: no h=, no bh=), with ARC's i= and cv=. */
static void seal_tags(struct fold *f, const struct dkim_key *key, const struct dkim_arc *arc,
		      long long timestamp)
{
	char word[DKIM_NAME_MAX + 8];
	int n;

	mbuf_str(f->out, "ARC-Seal:");
	f->col = strlen("ARC-Seal:");
	n = snprintf(word, sizeof(word), "i=%d;", arc->instance);
	fold_word(f, word, (size_t)n);
	n = snprintf(word, sizeof(word), "a=%s;", alg_name(key->alg));
	fold_word(f, word, (size_t)n);
	n = snprintf(word, sizeof(word), "t=%lld;", timestamp);
	fold_word(f, word, (size_t)n);
	n = snprintf(word, sizeof(word), "cv=%s;", arc->cv);
	fold_word(f, word, (size_t)n);
	n = snprintf(word, sizeof(word), "d=%s;", key->domain);
	fold_word(f, word, (size_t)n);
	n = snprintf(word, sizeof(word), "s=%s;", key->selector);
	fold_word(f, word, (size_t)n);
	fold_word(f, "b=", 2);
}

/* hash_prior: the fields of the chain's earlier sets (ARC->prior, in
 * order) into S; 0, or -1 (ERR set) if they do not parse as fields. */
static int hash_prior(struct sink *s, const struct dkim_arc *arc, char *err, size_t errlen)
{
	struct scan sc;
	struct field f;
	int r;

	if (arc->prior == NULL || arc->prior_len == 0)
		return 0;
	if (scan_init(&sc, arc->prior, arc->prior_len, err, errlen) < 0)
		return -1;
	while ((r = scan_field(&sc, &f, err, errlen)) > 0)
		canon_field(s, arc->prior + f.off, f.len, 1);
	return r;
}

/* seal: the ARC-Seal over the chain's earlier sets, AAR and AMS (whole
 * fields, CRLF ended) into OUT; 0 or -1 (ERR set, OUT as it was). */
static int seal(const struct dkim_key *key, const struct dkim_arc *arc, const struct mbuf *aar,
		const struct mbuf *ams, long long timestamp, struct mbuf *out, char *err,
		size_t errlen)
{
	struct signer sg = {0};
	struct sink s;
	struct fold f = {out, 0};
	unsigned char sig[SIG_MAX];
	char b64[SIG_B64_MAX];
	size_t start = out->n, siglen = 0;
	int ok;

	if (signer_begin(&sg, key, NULL) < 0) {
		seterr(err, errlen, "cannot start a seal: %s", ssl_reason());
		signer_free(&sg);
		return -1;
	}
	sink_init(&s, signer_update, &sg);
	if (hash_prior(&s, arc, err, errlen) < 0) {	/* i=1 AAR, AMS, AS, i=2 ... */
		signer_free(&sg);
		return -1;
	}
	canon_field(&s, aar->p, aar->n, 1);	/* then ours: AAR, AMS, AS */
	canon_field(&s, ams->p, ams->n, 1);
	seal_tags(&f, key, arc, timestamp);
	canon_field(&s, out->p + start, out->n - start, 0);
	ok = sink_flush(&s) == 0 && signer_end(&sg, sig, &siglen) == 0;
	signer_free(&sg);
	if (!ok) {
		seterr(err, errlen, "cannot seal: %s", ssl_reason());
		out->n = start;
		out->p[start] = '\0';
		return -1;
	}
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	fold_base64(&f, b64, strlen(b64));
	mbuf_add(out, "\r\n", 2);
	return 0;
}

int dkim_arc_seal(const struct dkim_key *key, const char *header, size_t hlen, const char *bh,
		  long long timestamp, const struct dkim_arc *arc, struct mbuf *out_fields,
		  char *err, size_t errlen)
{
	struct mbuf aar = {0}, ams = {0}, as = {0};
	char first[16];
	struct sigkind ams_kind = {"ARC-Message-Signature:", first};
	const char *results = arc->results;
	char *v;
	int rc = -1;

	seterr(err, errlen, "%s", "");
	if (results == NULL || results[0] == '\0' || strpbrk(results, "\r\n") != NULL ||
	    strlen(results) > DKIM_AAR_MAX) {
		seterr(err, errlen, "ARC: the authentication results are empty, too long or "
				    "more than one line");
		return -1;
	}
	if (arc->instance < 1 || arc->instance > DKIM_ARC_MAX || arc->cv == NULL ||
	    (arc->instance == 1) != (strcmp(arc->cv, "none") == 0) ||
	    (arc->instance == 1) != (arc->prior == NULL)) {
		seterr(err, errlen, "ARC: instance %d with cv=%s", arc->instance,
		       arc->cv ? arc->cv : "(null)");
		return -1;
	}
	snprintf(first, sizeof(first), "i=%d;", arc->instance);
	v = xasprintf("i=%d; %s", arc->instance, results);
	if (mailfmt_field(&aar, "ARC-Authentication-Results", v) < 0)
		seterr(err, errlen, "ARC: the authentication results cannot be folded");
	else if (sign_as(&ams_kind, key, NULL, header, hlen, bh, timestamp, &ams, err, errlen) == 0 &&
		 seal(key, arc, &aar, &ams, timestamp, &as, err, errlen) == 0)
		rc = 0;
	if (rc == 0) {
		mbuf_add(out_fields, as.p, as.n);
		mbuf_add(out_fields, ams.p, ams.n);
		mbuf_add(out_fields, aar.p, aar.n);
	}
	free(v);
	mbuf_free(&aar);
	mbuf_free(&ams);
	mbuf_free(&as);
	return rc;
}

/* ---- keys ---- */

/* name_ok: S is 1 to DKIM_NAME_MAX octets of dot-separated labels of ASCII
 * letters, digits and inner hyphens (and '_' if UNDERSCORE: selectors are
 * DNS labels, where some sites use it), 1 to 63 octets each. */
static int name_ok(const char *s, int underscore)
{
	size_t i, label = 0, n;

	if (s == NULL || (n = strnlen(s, DKIM_NAME_MAX + 1)) == 0 || n > DKIM_NAME_MAX)
		return 0;
	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > LABEL_MAX || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (is_alnum(s[i]) || (underscore && s[i] == '_') ||
			   (s[i] == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* key_file_read: the key file's bytes into *BUF (DKIM_KEY_FILE_MAX + 1
 * bytes, caller wipes and frees), their number in *N; 0, or -1 with ERR. */
static int key_file_read(const char *path, char **buf, size_t *n, char *err, size_t errlen)
{
	struct stat st;
	ssize_t got = 1;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	*buf = NULL;
	*n = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(err, errlen, "%s: the DKIM key is not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 027) != 0) {
		seterr(err, errlen,
		       "%s: the DKIM key may be read or written by others, or written by its "
		       "group (mode %04o): refusing it (chmod 600 or 640)",
		       path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	*buf = xmalloc(DKIM_KEY_FILE_MAX + 1);
	while (*n <= DKIM_KEY_FILE_MAX &&
	       (got = read(fd, *buf + *n, DKIM_KEY_FILE_MAX + 1 - *n)) != 0) {
		if (got < 0 && errno != EINTR)
			break;
		*n += got > 0 ? (size_t)got : 0;
	}
	if (got < 0)
		seterr(err, errlen, "%s: %s", path, strerror(errno));
	else if (*n > DKIM_KEY_FILE_MAX)
		seterr(err, errlen, "%s: over %d octets: not a DKIM key", path, DKIM_KEY_FILE_MAX);
	else if (*n == 0)
		seterr(err, errlen, "%s: empty", path);
	close(fd);
	return (got < 0 || *n == 0 || *n > DKIM_KEY_FILE_MAX) ? -1 : 0;
}

/* no_passphrase: the PEM password callback: there is none, and OpenSSL
 * must never ask the terminal for one. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* key_parse: the private key in the PEM text P[0..N) (from PATH), or NULL
 * with ERR. */
static EVP_PKEY *key_parse(const char *path, const char *p, size_t n, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(p, (int)n);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;

	BIO_free(bio);
	if (pkey != NULL) {
		ERR_clear_error();
		return pkey;
	}
	if (memmem(p, n, "ENCRYPTED", 9) != NULL)
		seterr(err, errlen,
		       "%s: the key is encrypted: parley needs it without a passphrase", path);
	else if (memmem(p, n, "-----BEGIN ", 11) == NULL)
		seterr(err, errlen, "%s: not a PEM file (a DKIM key is PEM: PKCS#8 or traditional)",
		       path);
	else
		seterr(err, errlen, "%s: no private key OpenSSL can read: %s", path, ssl_reason());
	ERR_clear_error();
	return NULL;
}

/* key_kind: KEY->alg and KEY->bits from KEY->pkey; 0, or -1 with ERR for a
 * type or size we do not sign with. A note in ERR for a weak RSA key. */
static int key_kind(struct dkim_key *key, const char *path, char *err, size_t errlen)
{
	const char *type;

	key->bits = EVP_PKEY_get_bits(key->pkey);
	if (EVP_PKEY_is_a(key->pkey, "ED25519")) {
		key->alg = DKIM_ED25519_SHA256;
		return 0;
	}
	if (!EVP_PKEY_is_a(key->pkey, "RSA")) {
		type = EVP_PKEY_get0_type_name(key->pkey);
		seterr(err, errlen,
		       "%s: the key type is %s: DKIM signs with RSA (rsa-sha256) or Ed25519 "
		       "(ed25519-sha256) keys only",
		       path, type ? type : "unknown");
		return -1;
	}
	key->alg = DKIM_RSA_SHA256;
	if (key->bits < DKIM_RSA_BITS_MIN || key->bits > DKIM_RSA_BITS_MAX ||
	    EVP_PKEY_get_size(key->pkey) > SIG_MAX) {
		seterr(err, errlen, "%s: an RSA key of %d bits: DKIM needs %d to %d (RFC 8301)",
		       path, key->bits, DKIM_RSA_BITS_MIN, DKIM_RSA_BITS_MAX);
		return -1;
	}
	if (key->bits < DKIM_RSA_BITS_GOOD)
		seterr(err, errlen,
		       "%s: an RSA key of %d bits: RFC 8301 asks for %d; some receivers "
		       "treat shorter keys as no signature",
		       path, key->bits, DKIM_RSA_BITS_GOOD);
	return 0;
}

/* self_test: sign a fixed text with KEY and verify it with KEY's public
 * half, so that a broken key fails at load, not at the first copy (and any
 * cache OpenSSL fills on first use is filled before threads share KEY). */
static int self_test(const struct dkim_key *key)
{
	struct signer sg = {0};
	unsigned char sig[SIG_MAX], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t siglen = 0;
	EVP_MD_CTX *v = EVP_MD_CTX_new();
	int ok = v != NULL && signer_begin(&sg, key, NULL) == 0 &&
		 signer_update(&sg, SELFTEST_TEXT, strlen(SELFTEST_TEXT)) == 0 &&
		 signer_end(&sg, sig, &siglen) == 0;

	if (ok && key->alg == DKIM_RSA_SHA256)
		ok = EVP_DigestVerifyInit(v, NULL, key->sha256, NULL, key->pkey) == 1 &&
		     EVP_DigestVerify(v, sig, siglen, (const unsigned char *)SELFTEST_TEXT,
				      strlen(SELFTEST_TEXT)) == 1;
	else if (ok)
		ok = EVP_Digest(SELFTEST_TEXT, strlen(SELFTEST_TEXT), md, &mdlen, key->sha256,
				NULL) == 1 &&
		     EVP_DigestVerifyInit(v, NULL, NULL, NULL, key->pkey) == 1 &&
		     EVP_DigestVerify(v, sig, siglen, md, mdlen) == 1;
	signer_free(&sg);
	EVP_MD_CTX_free(v);
	return ok ? 0 : -1;
}

struct dkim_key *dkim_key_load(const char *key_file, const char *domain, const char *selector,
			       char *err, size_t errlen)
{
	struct dkim_key *key;
	char *pem = NULL;
	size_t n = 0;

	seterr(err, errlen, "%s", "");
	if (!name_ok(domain, 0)) {
		seterr(err, errlen, "d=%.80s: not a domain name of ASCII labels",
		       domain ? domain : "");
		return NULL;
	}
	if (!name_ok(selector, 1)) {
		seterr(err, errlen, "s=%.80s: not a selector (ASCII labels)",
		       selector ? selector : "");
		return NULL;
	}
	if (key_file_read(key_file, &pem, &n, err, errlen) < 0) {
		if (pem)
			OPENSSL_clear_free(pem, DKIM_KEY_FILE_MAX + 1);
		return NULL;
	}
	key = xcalloc(1, sizeof(*key));
	key->pkey = key_parse(key_file, pem, n, err, errlen);
	OPENSSL_clear_free(pem, DKIM_KEY_FILE_MAX + 1);
	if (key->pkey == NULL || key_kind(key, key_file, err, errlen) < 0) {
		dkim_key_free(key);
		return NULL;
	}
	if ((key->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL || self_test(key) < 0) {
		seterr(err, errlen, "%s: the key does not sign: %s", key_file, ssl_reason());
		dkim_key_free(key);
		return NULL;
	}
	snprintf(key->domain, sizeof(key->domain), "%s", domain);
	snprintf(key->selector, sizeof(key->selector), "%s", selector);
	return key;
}

void dkim_key_free(struct dkim_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	EVP_MD_free(key->sha256);
	free(key);
}

enum dkim_alg dkim_key_alg(const struct dkim_key *key)
{
	return key->alg;
}

int dkim_key_bits(const struct dkim_key *key)
{
	return key->bits;
}
