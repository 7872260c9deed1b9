/*
 * render.c - builds one subscriber's copy of an archived message (render.h,
 * design §3).
 *
 * Works on the raw bytes. Header fields are split here and copied verbatim
 * (refolded only when a line would pass 998 octets); bodies are copied, and
 * only the text parts that take the footer are decoded and re-encoded. Where
 * the structure gives no safe place for the footer (signed, unknown or broken
 * multiparts, attachments, unknown encodings), the original content becomes
 * the first part of a new multipart/mixed and the footer the second.
 * libetpan parses Content-Type values, decodes RFC 2047 words and converts
 * charsets; quoted-printable and base64 are decoded here, because Debian's
 * libetpan decoder reads past its input. Nothing from libetpan or RAW
 * outlives the call.
 *
 * Must never: read past LEN, change an attachment or any part it does not add
 * the footer to, leave a part whose encoding does not match its label, emit a
 * header line over 998 octets, or create a boundary that occurs in the content.
 */
#include "autoconf.h"

#include "render.h"
#include "mailfmt.h"
#include "mime_decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "strv.h"
#include "subaddr.h"
#include "utf8.h"
#include "xalloc.h"

#define RENDER_MAX_LEN	(256UL * 1024 * 1024)
#define MAX_FIELDS	5000 /* header fields of the message or of one part */
#define MAX_PARTS	1000 /* parts of one multipart we look into */
#define MAX_DEPTH	4    /* multipart nesting we look into */
#define MAX_BOUNDARY	200  /* RFC 2046 says 70; be lenient, but bounded */
#define MAX_NAME	200  /* bytes of a display name */
#define MAX_SUBJECT	2000 /* bytes of a decoded subject */

static int ends_nl(const struct mbuf *b)
{
	return b->n > 0 && b->p[b->n - 1] == '\n';
}

static const char hexdig[] = "0123456789ABCDEF";

/* ---- header sections ---- */

struct field {
	const char *p; /* the whole field, continuation lines and line end included */
	size_t len, namelen;
};

struct hdr {
	struct field *f;
	size_t n, cap;
	size_t body; /* offset of the body in the entity */
};

/* line_at: the line starting at I; *CE is where its content ends (before
 * CR LF). Returns the offset of the next line. */
static size_t line_at(const char *p, size_t len, size_t i, size_t *ce)
{
	const char *nl = memchr(p + i, '\n', len - i);
	size_t e = nl ? (size_t)(nl - p) : len;

	*ce = (e > i && p[e - 1] == '\r') ? e - 1 : e;
	return nl ? e + 1 : len;
}

/* field_name_len: the length of the field name if [I, CE) starts a field. */
static size_t field_name_len(const char *p, size_t i, size_t ce)
{
	size_t j = i, n;

	while (j < ce && p[j] > 32 && p[j] < 127 && p[j] != ':')
		j++;
	n = j - i;
	while (j < ce && mailfmt_is_wsp(p[j]))
		j++;
	return (n > 0 && j < ce && p[j] == ':') ? n : 0;
}

static int hdr_push(struct hdr *h, const char *p, size_t len, size_t namelen)
{
	if (h->n == MAX_FIELDS)
		return -1;
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->f = xreallocarray(h->f, h->cap, sizeof(*h->f));
	}
	h->f[h->n].p = p;
	h->f[h->n].len = len;
	h->f[h->n].namelen = namelen;
	h->n++;
	return 0;
}

/*
 * hdr_split: the header fields of the entity P[0..LEN) and where its body
 * starts. A line that is neither a field nor a continuation ends the header
 * section (as in Python's parser); for the message itself (STRICT) the first
 * line must be a field. -1 if STRICT and it is not, or too many fields.
 */
static int hdr_split(const char *p, size_t len, int strict, struct hdr *h)
{
	size_t i = 0;

	memset(h, 0, sizeof(*h));
	while (i < len) {
		size_t ce, nl, next = line_at(p, len, i, &ce);
		if (ce == i) {
			h->body = next;
			return 0;
		}
		if (mailfmt_is_wsp(p[i]) && h->n > 0) {
			struct field *f = &h->f[h->n - 1];
			f->len = next - (size_t)(f->p - p);
		} else if ((nl = field_name_len(p, i, ce)) > 0) {
			if (hdr_push(h, p + i, next - i, nl) < 0)
				return -1;
		} else {
			if (strict && h->n == 0)
				return -1;
			h->body = i;
			return 0;
		}
		i = next;
	}
	h->body = len;
	return 0;
}

static void hdr_free(struct hdr *h)
{
	free(h->f);
	memset(h, 0, sizeof(*h));
}

static int field_is(const struct field *f, const char *name)
{
	return f->namelen == strlen(name) && strncasecmp(f->p, name, f->namelen) == 0;
}

static int field_prefix(const struct field *f, const char *prefix)
{
	size_t n = strlen(prefix);
	return f->namelen >= n && strncasecmp(f->p, prefix, n) == 0;
}

static const struct field *hdr_find(const struct hdr *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (field_is(&h->f[i], name))
			return &h->f[i];
	return NULL;
}

/* field_value: the unfolded value, without surrounding white space; NUL
 * bytes become spaces. Caller frees. */
static char *field_value(const struct field *f)
{
	const char *c = memchr(f->p, ':', f->len), *end = f->p + f->len;
	struct mbuf b = {0};
	size_t s = 0;

	mbuf_add(&b, "", 0);
	for (c = c ? c + 1 : end; c < end; c++)
		if (*c != '\r' && *c != '\n')
			mbuf_add(&b, *c ? c : " ", 1);
	while (s < b.n && mailfmt_is_wsp(b.p[s]))
		s++;
	while (b.n > s && mailfmt_is_wsp(b.p[b.n - 1]))
		b.p[--b.n] = '\0';
	memmove(b.p, b.p + s, b.n - s + 1);
	return b.p;
}

static size_t longest_line(const char *p, size_t n)
{
	size_t i = 0, max = 0;

	while (i < n) {
		size_t ce, next = line_at(p, n, i, &ce);
		if (ce - i > max)
			max = ce - i;
		i = next;
	}
	return max;
}

/* repeated_mime: is field I of H a Content-Type or Content-Transfer-Encoding
 * after the first one? The copy keeps only the first, the one the plan was
 * made from: a later one that kept_out's cleaning (NUL to space) made
 * well-formed would otherwise give the copy two MIME structures. */
static int repeated_mime(const struct hdr *h, size_t i)
{
	const char *name = field_is(&h->f[i], "Content-Type")		    ? "Content-Type"
			   : field_is(&h->f[i], "Content-Transfer-Encoding") ? "Content-Transfer-Encoding"
									      : NULL;

	return name != NULL && hdr_find(h, name) != &h->f[i];
}

/*
 * kept_out: one of the author's fields as it was, with CR LF line ends (bare
 * CR and NUL become spaces); refolded if a line passes 998 octets, dropped if
 * even that cannot make it fit.
 */
static void kept_out(struct mbuf *out, const struct field *f)
{
	struct mbuf t = {0}, u = {0};
	const char *colon = memchr(f->p, ':', f->len);
	size_t k;

	/* "Name :" (obsolete, RFC 5322 §4.5.8) becomes "Name:", which every
	 * reader takes for a field */
	mbuf_add(&t, f->p, f->namelen);
	if (colon != NULL)
		mbuf_add(&t, colon, f->len - (size_t)(colon - f->p));
	if (longest_line(t.p, t.n) <= MAILFMT_LINE_MAX) {
		size_t i = 0;
		while (i < t.n) {
			size_t ce, next = line_at(t.p, t.n, i, &ce);
			for (k = i; k < ce; k++)
				mbuf_add(out, (t.p[k] == '\r' || t.p[k] == '\0') ? " " : t.p + k, 1);
			mbuf_add(out, "\r\n", 2);
			i = next;
		}
	} else {
		for (k = 0; k < t.n; k++)
			if (t.p[k] != '\r' && t.p[k] != '\n')
				mbuf_add(&u, t.p[k] ? t.p + k : " ", 1);
		if (u.n > 0)
			(void)mailfmt_fold(out, u.p, u.n); /* -1: unrepresentable, dropped */
	}
	mbuf_free(&u);
	mbuf_free(&t);
}

/* ---- text cleaning and RFC 2047 encoding ---- */

/* words_decode: an unstructured value with RFC 2047 words decoded, cleaned. */
static char *words_decode(const char *v)
{
	char *dec = NULL, *out;
	size_t idx = 0;

	if (mailmime_encoded_phrase_parse("utf-8", v, strlen(v), &idx, "utf-8", &dec) !=
		MAILIMF_NO_ERROR ||
	    dec == NULL)
		return mailfmt_clean(v, MAX_SUBJECT);
	out = mailfmt_clean(dec, MAX_SUBJECT);
	free(dec);
	return out;
}

/* ---- the footer ---- */

struct ctx {
	const struct render_in *in;
	struct strv footer; /* lines without trailing blanks; n == 0: none */
	int footer_ascii;
	int footer_sep;     /* the configured footer began with its own "-- " line */
	const char *bounds[MAX_DEPTH + 1]; /* boundaries of the enclosing multiparts */
	size_t nbounds;
};

static void footer_load(struct ctx *c, const char *text)
{
	const char *p = text;
	size_t keep = 0, i;

	c->footer_ascii = 1;
	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line;
		while (n > 0 && (p[n - 1] == '\r' || mailfmt_is_wsp(p[n - 1])))
			n--;
		line = xstrndup(p, n);
		if (c->footer.n > 0 || n > 0)
			strv_push(&c->footer, line);
		if (n > 0)
			keep = c->footer.n;
		free(line);
		p = nl ? nl + 1 : NULL;
	}
	while (c->footer.n > keep)
		free(c->footer.v[--c->footer.n]);
	if (c->footer.n > 0 && strcmp(c->footer.v[0], "--") == 0) {
		/* "-- " already written by the owner: the separator is ours to add
		 * (once), so that a copy never gets two */
		free(c->footer.v[0]);
		memmove(c->footer.v, c->footer.v + 1, (c->footer.n - 1) * sizeof(c->footer.v[0]));
		c->footer.n--;
		c->footer_sep = 1;
	}
	for (i = 0; i < c->footer.n; i++)
		for (p = c->footer.v[i]; *p; p++)
			if ((unsigned char)*p >= 0x80)
				c->footer_ascii = 0;
}

/* footer_text: the footer lines joined by NL, without a final line end. */
static void footer_text(const struct ctx *c, struct mbuf *out, const char *nl)
{
	size_t i;

	for (i = 0; i < c->footer.n; i++) {
		if (i > 0)
			mbuf_str(out, nl);
		mbuf_str(out, c->footer.v[i]);
	}
}

/* html_escape: S with markup characters and all non-ASCII as references. */
static void html_escape(struct mbuf *out, const char *s)
{
	size_t n = strlen(s), i = 0;
	char ref[16];

	while (i < n) {
		unsigned char ch = (unsigned char)s[i];
		size_t cl = mailfmt_utf8_len(s + i, n - i);
		if (ch == '&' || ch == '<' || ch == '>' || ch == '"' || ch == '\'' || ch >= 0x80) {
			unsigned long cp = ch;
			if (cl > 1) {
				cp = ch & (cl == 2 ? 0x1f : cl == 3 ? 0x0f : 0x07);
				for (size_t k = 1; k < cl; k++)
					cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3f);
			} else if (ch >= 0x80) {
				cp = 0xfffd;
			}
			snprintf(ref, sizeof(ref), "&#%lu;", cp);
			mbuf_str(out, ref);
		} else {
			mbuf_add(out, s + i, 1);
		}
		i += cl;
	}
}

static void footer_html(const struct ctx *c, struct mbuf *out, const char *nl)
{
	size_t i;

	mbuf_str(out, nl);
	mbuf_str(out, "<div class=\"parley-footer\">-- <br>");
	for (i = 0; i < c->footer.n; i++) {
		mbuf_str(out, i > 0 ? "<br>" : "");
		mbuf_str(out, nl);
		html_escape(out, c->footer.v[i]);
	}
	mbuf_str(out, "</div>");
	mbuf_str(out, nl);
}

/* ---- transfer encodings ---- */

enum { CTE_UNKNOWN = -1 };

static int cte_parse(const struct hdr *h)
{
	static const struct {
		const char *name;
		int mech;
	} names[] = {{"7bit", MAILMIME_MECHANISM_7BIT},
		     {"8bit", MAILMIME_MECHANISM_8BIT},
		     {"binary", MAILMIME_MECHANISM_BINARY},
		     {"quoted-printable", MAILMIME_MECHANISM_QUOTED_PRINTABLE},
		     {"base64", MAILMIME_MECHANISM_BASE64}};
	const struct field *f = hdr_find(h, "Content-Transfer-Encoding");
	char *v;
	size_t i, n;
	int r = CTE_UNKNOWN;

	if (f == NULL)
		return MAILMIME_MECHANISM_7BIT;
	v = field_value(f);
	n = strcspn(v, " \t(;");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n && strncasecmp(v, names[i].name, n) == 0)
			r = names[i].mech;
	free(v);
	return r;
}

static const char *cte_name(int cte)
{
	switch (cte) {
	case MAILMIME_MECHANISM_8BIT:
		return "8bit";
	case MAILMIME_MECHANISM_BINARY:
		return "binary";
	case MAILMIME_MECHANISM_QUOTED_PRINTABLE:
		return "quoted-printable";
	case MAILMIME_MECHANISM_BASE64:
		return "base64";
	default:
		return "7bit";
	}
}

static int cte_identity(int cte)
{
	return cte == MAILMIME_MECHANISM_7BIT || cte == MAILMIME_MECHANISM_8BIT ||
	       cte == MAILMIME_MECHANISM_BINARY;
}

/* body_decode: the decoded bytes of a part body into OUT; -1 if unknown. */
static int body_decode(const char *body, size_t len, int cte, struct mbuf *out)
{
	size_t n;
	char *dec = mime_decode_body(body, len, cte, &n);

	if (dec == NULL)
		return -1;
	mbuf_add(out, "", 0);
	mbuf_add(out, dec, n);
	free(dec);
	return 0;
}

/* lines_ok: may T go out unencoded: no NUL or bare CR, lines of at most 998
 * octets, and only ASCII if ASCII_ONLY? */
static int lines_ok(const char *t, size_t n, int ascii_only)
{
	const char *p = t, *end = t + n, *cr;

	/* a pass per condition, each with the C library's vectorised search:
	 * this runs on the whole text of every copy */
	if (memchr(t, '\0', n) != NULL)
		return 0;
	for (cr = memchr(t, '\r', n); cr != NULL; cr = memchr(cr + 1, '\r', (size_t)(end - cr - 1)))
		if (cr + 1 == end || cr[1] != '\n')
			return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl != NULL ? nl : end) - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > MAILFMT_LINE_MAX)
			return 0;
		p = nl != NULL ? nl + 1 : end;
	}
	if (ascii_only) {
		unsigned char all = 0;
		for (size_t i = 0; i < n; i++)	/* no early exit: the compiler vectorises it */
			all |= (unsigned char)t[i];
		return (all & 0x80) == 0;
	}
	return 1;
}

/* cte_pick: the encoding of a re-encoded text part: its own where it can
 * carry T, else quoted-printable. */
static int cte_pick(int orig, const char *t, size_t n)
{
	switch (orig) {
	case MAILMIME_MECHANISM_BASE64:
	case MAILMIME_MECHANISM_QUOTED_PRINTABLE:
	case MAILMIME_MECHANISM_BINARY:
		return orig;
	case MAILMIME_MECHANISM_8BIT:
		return lines_ok(t, n, 0) ? orig : MAILMIME_MECHANISM_QUOTED_PRINTABLE;
	default:
		return lines_ok(t, n, 1) ? MAILMIME_MECHANISM_7BIT
					 : MAILMIME_MECHANISM_QUOTED_PRINTABLE;
	}
}

static void body_encode(struct mbuf *out, int cte, const char *t, size_t n)
{
	mbuf_add(out, "", 0);
	if (cte == MAILMIME_MECHANISM_QUOTED_PRINTABLE)
		mailfmt_qp(out, t, n);
	else if (cte == MAILMIME_MECHANISM_BASE64)
		mailfmt_b64(out, t, n);
	else
		mbuf_add(out, t, n);
}

/* ---- MIME entities ---- */

enum kind { K_PLAIN, K_HTML, K_MIXED, K_ALT, K_RELATED, K_OTHER };

struct part {
	struct hdr h;
	struct mailmime_content *ct; /* NULL: no (or no parsable) Content-Type */
	enum kind kind;
	int cte;	/* MAILMIME_MECHANISM_* or CTE_UNKNOWN */
	int attachment; /* Content-Disposition: attachment */
};

static enum kind kind_of(const struct mailmime_content *ct)
{
	const struct mailmime_type *t = ct->ct_type;
	const char *sub = ct->ct_subtype ? ct->ct_subtype : "";

	if (t->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
	    t->tp_data.tp_discrete_type->dt_type == MAILMIME_DISCRETE_TYPE_TEXT)
		return strcasecmp(sub, "plain") == 0  ? K_PLAIN
		       : strcasecmp(sub, "html") == 0 ? K_HTML
						      : K_OTHER;
	if (t->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
	    t->tp_data.tp_composite_type->ct_type == MAILMIME_COMPOSITE_TYPE_MULTIPART)
		return strcasecmp(sub, "mixed") == 0	     ? K_MIXED
		       : strcasecmp(sub, "alternative") == 0 ? K_ALT
		       : strcasecmp(sub, "related") == 0     ? K_RELATED
							     : K_OTHER;
	return K_OTHER;
}

static int disposition_attachment(const struct hdr *h)
{
	const struct field *f = hdr_find(h, "Content-Disposition");
	char *v;
	int r;

	if (f == NULL)
		return 0;
	v = field_value(f);
	r = strncasecmp(v, "attachment", 10) == 0 && strchr(" \t;", v[10]) != NULL;
	free(v);
	return r;
}

/* part_open: split the entity P[0..LEN) and read its MIME fields. */
static int part_open(const char *p, size_t len, int strict, struct part *pt)
{
	const struct field *f;

	memset(pt, 0, sizeof(*pt));
	if (hdr_split(p, len, strict, &pt->h) < 0) {
		hdr_free(&pt->h);
		return -1;
	}
	pt->kind = K_PLAIN;
	if ((f = hdr_find(&pt->h, "Content-Type")) != NULL) {
		char *v = field_value(f);
		size_t idx = 0;
		if (mailmime_content_parse(v, strlen(v), &idx, &pt->ct) != MAILIMF_NO_ERROR)
			pt->ct = NULL;
		pt->kind = pt->ct ? kind_of(pt->ct) : K_OTHER;
		free(v);
	}
	pt->cte = cte_parse(&pt->h);
	pt->attachment = disposition_attachment(&pt->h);
	return 0;
}

static void part_close(struct part *pt)
{
	if (pt->ct)
		mailmime_content_free(pt->ct);
	hdr_free(&pt->h);
}

static const char *part_param(const struct part *pt, const char *name)
{
	return pt->ct ? mailmime_content_param_get(pt->ct, (char *)name) : NULL;
}

/* ---- charsets ---- */

static int cs_is(const char *cs, const char *const *names)
{
	for (; *names; names++)
		if (strcasecmp(cs, *names) == 0)
			return 1;
	return 0;
}

static const char *const cs_ascii[] = {"us-ascii", "ascii", "ansi_x3.4-1968", NULL};
static const char *const cs_utf8[] = {"utf-8", "utf8", NULL};

/* cs_ascii_compatible: do ASCII bytes mean ASCII in CS, so that an ASCII
 * footer can be appended as it is? */
static int cs_ascii_compatible(const char *cs)
{
	static const char *const prefixes[] = {
	    "iso-8859-", "iso8859-", "windows-",  "cp125",     "koi8-", "iso-2022-", "gb",
	    "big5",	 "euc-",     "shift_jis", "shift-jis", "sjis",	"tis-620",   NULL};
	const char *const *p;

	if (cs == NULL || cs_is(cs, cs_ascii) || cs_is(cs, cs_utf8))
		return 1;
	for (p = prefixes; *p; p++)
		if (strncasecmp(cs, *p, strlen(*p)) == 0)
			return 1;
	return 0;
}

/* text_charset: make the text T able to take the footer; *TO_UTF8 set when
 * its label must become utf-8. -1 if it cannot be converted. */
static int text_charset(const struct ctx *c, const char *cs, struct mbuf *t, int *to_utf8)
{
	char *conv = NULL;
	size_t clen = 0;

	*to_utf8 = 0;
	if (cs == NULL || cs_is(cs, cs_ascii)) {
		*to_utf8 = !c->footer_ascii;
		return 0;
	}
	if (cs_is(cs, cs_utf8) || (c->footer_ascii && cs_ascii_compatible(cs)))
		return 0;
	if (charconv_buffer("utf-8", cs, t->p, t->n, &conv, &clen) != MAIL_CHARCONV_NO_ERROR ||
	    conv == NULL)
		return -1;
	t->n = 0;
	mbuf_add(t, conv, clen);
	charconv_buffer_free(conv);
	*to_utf8 = 1;
	return 0;
}

/* ---- adding the footer to one text part ---- */

struct leaf_edit {
	int drop_ct, drop_cte; /* replace the part's own fields */
	struct mbuf fields;     /* the replacements */
	struct mbuf body;       /* the new encoded body */
};

static const char *text_nl(const struct mbuf *t)
{
	return (t->n > 0 && memchr(t->p, '\n', t->n) && !memmem(t->p, t->n, "\r\n", 2)) ? "\n"
											: "\r\n";
}

/* text_append: the text, a blank line, the signature separator, the footer. */
static void text_append(const struct ctx *c, struct mbuf *t)
{
	const char *nl = text_nl(t);

	if (t->n > 0) {
		if (!ends_nl(t))
			mbuf_str(t, nl);
		mbuf_str(t, nl);
	}
	mbuf_str(t, "-- ");
	mbuf_str(t, nl);
	footer_text(c, t, nl);
	mbuf_str(t, nl);
}

/* rfind_ci: the last occurrence of the ASCII string S in T, or T->n. */
static size_t rfind_ci(const struct mbuf *t, const char *s)
{
	size_t n = strlen(s), i;

	for (i = t->n >= n ? t->n - n + 1 : 0; i-- > 0;)
		if (strncasecmp(t->p + i, s, n) == 0)
			return i;
	return t->n;
}

/* html_insert: the footer before </body>, else before </html>, else at the end. */
static void html_insert(const struct ctx *c, struct mbuf *t)
{
	struct mbuf out = {0};
	size_t pos = rfind_ci(t, "</body");

	if (pos == t->n)
		pos = rfind_ci(t, "</html");
	mbuf_add(&out, t->p, pos);
	footer_html(c, &out, text_nl(t));
	mbuf_add(&out, t->p + pos, t->n - pos);
	mbuf_free(t);
	*t = out;
}

static int param_is_token(const char *v)
{
	if (*v == '\0')
		return 0;
	for (; *v; v++)
		if ((unsigned char)*v <= 32 || (unsigned char)*v >= 127 ||
		    strchr("()<>@,;:\\\"/[]?=", *v))
			return 0;
	return 1;
}

/* ct_text_utf8: "Content-Type: text/SUB; charset=utf-8" with the part's
 * other parameters. */
static void ct_text_utf8(struct mbuf *out, const struct part *pt)
{
	struct mbuf v = {0};
	clistiter *it;

	mbuf_str(&v, "text/");
	mbuf_str(&v, pt->ct && pt->ct->ct_subtype ? pt->ct->ct_subtype : "plain");
	mbuf_str(&v, "; charset=utf-8");
	for (it = pt->ct ? clist_begin(pt->ct->ct_parameters) : NULL; it; it = clist_next(it)) {
		const struct mailmime_parameter *prm = clist_content(it);
		if (strcasecmp(prm->pa_name, "charset") == 0)
			continue;
		mbuf_str(&v, "; ");
		mbuf_str(&v, prm->pa_name);
		mbuf_add(&v, "=", 1);
		if (param_is_token(prm->pa_value)) {
			mbuf_str(&v, prm->pa_value);
			continue;
		}
		mbuf_add(&v, "\"", 1);
		for (const char *q = prm->pa_value; *q; q++) {
			if (*q == '"' || *q == '\\')
				mbuf_add(&v, "\\", 1);
			mbuf_add(&v, q, 1);
		}
		mbuf_add(&v, "\"", 1);
	}
	(void)mailfmt_field(out, "Content-Type", v.p);
	mbuf_free(&v);
}

/* conflicts: does S contain the delimiter of an enclosing multipart? */
static int conflicts(const struct ctx *c, const struct mbuf *s)
{
	size_t i;

	for (i = 0; i < c->nbounds; i++) {
		struct mbuf d = {0};
		int hit;
		mbuf_str(&d, "--");
		mbuf_str(&d, c->bounds[i]);
		hit = s->n > 0 && memmem(s->p, s->n, d.p, d.n) != NULL;
		mbuf_free(&d);
		if (hit)
			return 1;
	}
	return 0;
}

static void leaf_edit_free(struct leaf_edit *e)
{
	mbuf_free(&e->fields);
	mbuf_free(&e->body);
}

/*
 * leaf_edit: the footer added to the text/plain or text/html part PT with
 * body BODY. 1 and E filled, or 0 (E empty) if this part cannot take it:
 * another type, an attachment, an unknown encoding or charset.
 */
static int leaf_edit(const struct ctx *c, const struct part *pt, const char *body, size_t blen,
		     struct leaf_edit *e)
{
	struct mbuf t = {0};
	const char *cs = part_param(pt, "charset");
	int to_utf8 = 0, cte;

	memset(e, 0, sizeof(*e));
	if ((pt->kind != K_PLAIN && pt->kind != K_HTML) || pt->attachment ||
	    body_decode(body, blen, pt->cte, &t) < 0)
		goto no;
	if (pt->kind == K_PLAIN) {
		if (text_charset(c, cs, &t, &to_utf8) < 0)
			goto no;
		text_append(c, &t);
	} else {
		if (!cs_ascii_compatible(cs))
			goto no;
		html_insert(c, &t);
	}
	cte = cte_pick(pt->cte, t.p, t.n);
	body_encode(&e->body, cte, t.p, t.n);
	mbuf_add(&e->fields, "", 0);
	if (to_utf8) {
		e->drop_ct = 1;
		ct_text_utf8(&e->fields, pt);
	}
	if (cte != pt->cte || hdr_find(&pt->h, "Content-Transfer-Encoding") != NULL) {
		e->drop_cte = 1;
		if (cte != MAILMIME_MECHANISM_7BIT || hdr_find(&pt->h, "Content-Transfer-Encoding"))
			(void)mailfmt_field(&e->fields, "Content-Transfer-Encoding", cte_name(cte));
	}
	if (conflicts(c, &e->body) || conflicts(c, &e->fields))
		goto no;
	mbuf_free(&t);
	return 1;
no:
	mbuf_free(&t);
	leaf_edit_free(e);
	memset(e, 0, sizeof(*e));
	return 0;
}

/* ---- multiparts ---- */

struct span {
	size_t start, end;
};

struct mp {
	struct span *v;
	size_t n, cap;
	int closed;
	size_t close_at; /* where the line end before the close delimiter starts */
};

/* delim_at: is the line at I "--BD" or "--BD--" plus optional white space?
 * *NEXT is always set to the next line. */
static int delim_at(const char *b, size_t len, size_t i, const char *bd, size_t bl, int *close,
		    size_t *next)
{
	size_t ce, j;

	*next = line_at(b, len, i, &ce);
	*close = 0;
	if (ce - i < bl + 2 || b[i] != '-' || b[i + 1] != '-' || memcmp(b + i + 2, bd, bl) != 0)
		return 0;
	j = i + 2 + bl;
	if (ce - j >= 2 && b[j] == '-' && b[j + 1] == '-') {
		*close = 1;
		j += 2;
	}
	while (j < ce && mailfmt_is_wsp(b[j]))
		j++;
	return j == ce;
}

/* line_end_before: where the line end before the line at I starts. */
static size_t line_end_before(const char *b, size_t i)
{
	if (i == 0)
		return 0;
	i--;
	return (i > 0 && b[i - 1] == '\r') ? i - 1 : i;
}

/* mp_split: the body parts of the multipart body B with boundary BD; -1 if
 * it has none or too many. */
static int mp_split(const char *b, size_t len, const char *bd, struct mp *mp)
{
	size_t i = 0, bl = strlen(bd), next;
	int close;

	memset(mp, 0, sizeof(*mp));
	if (bl == 0 || bl > MAX_BOUNDARY)
		return -1;
	while (i < len) {
		if (delim_at(b, len, i, bd, bl, &close, &next)) {
			size_t pe = line_end_before(b, i);
			if (mp->n > 0)
				mp->v[mp->n - 1].end =
				    pe > mp->v[mp->n - 1].start ? pe : mp->v[mp->n - 1].start;
			if (close) {
				mp->closed = 1;
				mp->close_at = mp->n > 0 ? mp->v[mp->n - 1].end : pe;
				break;
			}
			if (mp->n == MAX_PARTS)
				return -1;
			if (mp->n == mp->cap) {
				mp->cap = mp->cap ? mp->cap * 2 : 8;
				mp->v = xreallocarray(mp->v, mp->cap, sizeof(*mp->v));
			}
			mp->v[mp->n].start = next;
			mp->v[mp->n].end = len;
			mp->n++;
		}
		i = next;
	}
	return mp->n > 0 ? 0 : -1;
}

static void mp_free(struct mp *mp)
{
	free(mp->v);
	memset(mp, 0, sizeof(*mp));
}

static int mp_edit(struct ctx *c, const char *b, size_t len, const struct part *pt, int depth,
		   struct mbuf *out);

/* fields_out_except: the part's fields as they are, but those E replaces. */
static void fields_out_except(struct mbuf *out, const struct hdr *h, const struct leaf_edit *e)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		const struct field *f = &h->f[i];
		if ((e->drop_ct && field_is(f, "Content-Type")) ||
		    (e->drop_cte && field_is(f, "Content-Transfer-Encoding")))
			continue;
		mbuf_add(out, f->p, f->len);
		if (f->p[f->len - 1] != '\n')
			mbuf_add(out, "\r\n", 2);
	}
}

/* child_edit: the body part P[0..N) with the footer added, into OUT; 1 if
 * it took the footer, 0 (OUT untouched) if not. Only nested alternative and
 * related parts unless LEAVES. */
static int child_edit(struct ctx *c, const char *p, size_t n, int depth, int leaves,
		      struct mbuf *out)
{
	struct part pt;
	struct leaf_edit e;
	int r = 0;

	if (part_open(p, n, 0, &pt) < 0)
		return 0;
	if ((pt.kind == K_ALT || pt.kind == K_RELATED) && cte_identity(pt.cte)) {
		struct mbuf body = {0};
		if (mp_edit(c, p + pt.h.body, n - pt.h.body, &pt, depth, &body) > 0) {
			mbuf_add(out, p, pt.h.body);
			mbuf_add(out, body.p, body.n);
			r = 1;
		}
		mbuf_free(&body);
	} else if (leaves && leaf_edit(c, &pt, p + pt.h.body, n - pt.h.body, &e)) {
		fields_out_except(out, &pt.h, &e);
		mbuf_add(out, e.fields.p, e.fields.n);
		mbuf_add(out, "\r\n", 2);
		mbuf_add(out, e.body.p, e.body.n);
		leaf_edit_free(&e);
		r = 1;
	}
	part_close(&pt);
	return r;
}

/*
 * mp_edit: the body B of the multipart PT with the footer added to its text
 * parts: all of an alternative's, the root part of a related, and of a mixed
 * only an alternative or related first part; recursing into nested ones.
 * Returns how many parts took it; OUT is untouched when none did.
 */
static int mp_edit(struct ctx *c, const char *b, size_t len, const struct part *pt, int depth,
		   struct mbuf *out)
{
	const char *bd = part_param(pt, "boundary");
	size_t i, last = 0;
	struct mp mp = {0};
	int edited = 0;

	if (bd == NULL || depth >= MAX_DEPTH || mp_split(b, len, bd, &mp) < 0) {
		mp_free(&mp);
		return 0;
	}
	c->bounds[c->nbounds++] = bd;
	for (i = 0; i < mp.n; i++) {
		struct mbuf child = {0};
		if ((pt->kind == K_RELATED && (i > 0 || part_param(pt, "start") != NULL)) ||
		    (pt->kind == K_MIXED && i > 0))
			break;
		if (child_edit(c, b + mp.v[i].start, mp.v[i].end - mp.v[i].start, depth + 1,
			       pt->kind != K_MIXED, &child)) {
			mbuf_add(out, b + last, mp.v[i].start - last);
			mbuf_add(out, child.p, child.n);
			last = mp.v[i].end;
			edited++;
		}
		mbuf_free(&child);
	}
	c->nbounds--;
	if (edited)
		mbuf_add(out, b + last, len - last);
	mp_free(&mp);
	return edited;
}

/* footer_part: a text/plain part (fields, blank line, body) with the footer. */
static void footer_part(const struct ctx *c, struct mbuf *out)
{
	struct mbuf t = {0};
	int cte;

	if (c->footer_sep)
		mbuf_str(&t, "-- \r\n");	/* the owner's own separator, kept whole */
	footer_text(c, &t, "\r\n");
	cte = lines_ok(t.p, t.n, 1) ? MAILMIME_MECHANISM_7BIT : MAILMIME_MECHANISM_QUOTED_PRINTABLE;
	mbuf_str(out, "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Disposition: inline\r\n"
		     "Content-Transfer-Encoding: ");
	mbuf_str(out, cte_name(cte));
	mbuf_str(out, "\r\n\r\n");
	body_encode(out, cte, t.p, t.n);
	mbuf_free(&t);
}

/* mp_append: the multipart/mixed body B with a footer part at its end;
 * 1, or 0 (OUT untouched) if B has no parts. */
static int mp_append(const struct ctx *c, const char *b, size_t len, const struct part *pt,
		     struct mbuf *out)
{
	const char *bd = part_param(pt, "boundary");
	struct mbuf fp = {0};
	struct mp mp = {0};
	int r = 0;

	if (bd != NULL && cte_identity(pt->cte) && mp_split(b, len, bd, &mp) == 0) {
		footer_part(c, &fp);
		if (memmem(fp.p, fp.n, bd, strlen(bd)) == NULL) {
			size_t at = mp.closed ? mp.close_at : len;
			mbuf_add(out, b, at);
			mbuf_str(out, "\r\n--");
			mbuf_str(out, bd);
			mbuf_str(out, "\r\n");
			mbuf_add(out, fp.p, fp.n);
			if (mp.closed) {
				mbuf_add(out, b + at, len - at);
			} else {
				mbuf_str(out, "\r\n--");
				mbuf_str(out, bd);
				mbuf_str(out, "--\r\n");
			}
			r = 1;
		}
		mbuf_free(&fp);
	}
	mp_free(&mp);
	return r;
}

/* new_boundary: "=_parley_" and 24 random hex digits. -1 if no random bytes. */
static int new_boundary(char out[40])
{
	unsigned char r[12];
	size_t i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	strcpy(out, "=_parley_");
	for (i = 0; i < sizeof(r); i++) {
		out[9 + 2 * i] = hexdig[r[i] >> 4];
		out[10 + 2 * i] = hexdig[r[i] & 15];
	}
	out[9 + 2 * sizeof(r)] = '\0';
	return 0;
}

static int has8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80 || p[i] == '\0')
			return 1;
	return 0;
}

/* ---- the copy ---- */

enum { DROP_CT = 1, DROP_CTE = 2, DROP_CONTENT = 4 };

struct plan {
	int drop;	 /* which of the message's MIME fields go */
	struct mbuf mime; /* MIME fields that replace them */
	struct mbuf body; /* the new body; unused if body_raw */
	int body_raw;	 /* the body is the author's, byte for byte */
};

/*
 * wrap: a multipart/mixed whose first part is the original content (its
 * Content-* fields and body, untouched) and whose second is the footer.
 */
static int wrap(const struct ctx *c, const struct part *root, const char *body, size_t blen,
		struct plan *pl)
{
	struct mbuf inner = {0}, fp = {0};
	char bd[40];
	size_t i;
	int tries;

	for (i = 0; i < root->h.n; i++)
		if (field_prefix(&root->h.f[i], "Content-") && !repeated_mime(&root->h, i))
			kept_out(&inner, &root->h.f[i]);
	footer_part(c, &fp);
	for (tries = 0;; tries++) {
		if (tries == 8 || new_boundary(bd) < 0) {
			mbuf_free(&inner);
			mbuf_free(&fp);
			return -1;
		}
		if (!memmem(body, blen, bd, strlen(bd)) && !memmem(fp.p, fp.n, bd, strlen(bd)) &&
		    (inner.n == 0 || !memmem(inner.p, inner.n, bd, strlen(bd))))
			break;
	}
	mbuf_str(&pl->mime, "Content-Type: multipart/mixed; boundary=\"");
	mbuf_str(&pl->mime, bd);
	mbuf_str(&pl->mime, "\"\r\n");
	if (root->cte == MAILMIME_MECHANISM_BINARY)
		mbuf_str(&pl->mime, "Content-Transfer-Encoding: binary\r\n");
	else if (has8bit(body, blen) || (inner.n > 0 && has8bit(inner.p, inner.n)))
		mbuf_str(&pl->mime, "Content-Transfer-Encoding: 8bit\r\n");
	pl->drop = DROP_CONTENT;
	mbuf_str(&pl->body, "--");
	mbuf_str(&pl->body, bd);
	mbuf_str(&pl->body, "\r\n");
	mbuf_add(&pl->body, inner.p, inner.n);
	mbuf_str(&pl->body, "\r\n");
	mbuf_add(&pl->body, body, blen);
	mbuf_str(&pl->body, "\r\n--");
	mbuf_str(&pl->body, bd);
	mbuf_str(&pl->body, "\r\n");
	mbuf_add(&pl->body, fp.p, fp.n);
	mbuf_str(&pl->body, "\r\n--");
	mbuf_str(&pl->body, bd);
	mbuf_str(&pl->body, "--\r\n");
	mbuf_free(&inner);
	mbuf_free(&fp);
	return 0;
}

/* footer_plan: where the footer goes. -1 only if no random boundary. */
static int footer_plan(struct ctx *c, const struct part *root, const char *body, size_t blen,
		       struct plan *pl)
{
	struct leaf_edit e;

	if (root->kind == K_PLAIN || root->kind == K_HTML) {
		if (leaf_edit(c, root, body, blen, &e)) {
			pl->drop = (e.drop_ct ? DROP_CT : 0) | (e.drop_cte ? DROP_CTE : 0);
			pl->mime = e.fields;
			pl->body = e.body;
			return 0;
		}
	} else if (root->kind == K_MIXED && cte_identity(root->cte)) {
		if (mp_edit(c, body, blen, root, 0, &pl->body) > 0 ||
		    mp_append(c, body, blen, root, &pl->body))
			return 0;
	} else if ((root->kind == K_ALT || root->kind == K_RELATED) && cte_identity(root->cte)) {
		if (mp_edit(c, body, blen, root, 0, &pl->body) > 0)
			return 0;
	}
	return wrap(c, root, body, blen, pl);
}

/* kept: does the author's field F stay in the copy? */
static int kept(const struct field *f, int drop)
{
	static const char *const replaced[] = {"From",
					       "Sender",
					       "Reply-To",
					       "To",
					       "Cc",
					       "Bcc",
					       "Subject",
					       "Message-ID",
					       "In-Reply-To",
					       "References",
					       "Author",
					       "Precedence",
					       "Errors-To",
					       "Return-Path",
					       "Delivered-To",
					       "X-Original-To",
					       "Received",
					       "DKIM-Signature",
					       "DomainKey-Signature",
					       "MIME-Version",
					       "Content-Length",
					       /* read receipts from every subscriber to the author */
					       "Disposition-Notification-To",
					       "Return-Receipt-To",
					       /* they would take replies away from the list */
					       "Mail-Followup-To",
					       "Mail-Reply-To",
					       /* the author's, kept in the archive */
					       "Authentication-Results",
					       NULL};
	const char *const *r;

	for (r = replaced; *r; r++)
		if (field_is(f, *r))
			return 0;
	if (field_prefix(f, "List-") || field_prefix(f, "ARC-") || field_prefix(f, "Resent-"))
		return 0;
	if ((drop & DROP_CONTENT) && field_prefix(f, "Content-"))
		return 0;
	if ((drop & DROP_CT) && field_is(f, "Content-Type"))
		return 0;
	return !((drop & DROP_CTE) && field_is(f, "Content-Transfer-Encoding"));
}

/* sub_address: LOCAL+WHAT@DOMAIN of the list address (WHAT NULL: the
 * list address itself). */
static char *sub_address(const struct render_in *in, const char *what)
{
	char a[ADDRESS_MAX + 1];

	if (subaddr_list(a, sizeof(a), in->cfg, in->list, what, NULL) < 0)
		snprintf(a, sizeof(a), "%s", in->list->address);
	return xstrdup(a);
}

/* uri_out: S with what may not stand in a URI (RFC 3986; in a mailto
 * address, RFC 6068 §2) percent-encoded. */
static void uri_out(struct mbuf *out, const char *s, int mailto)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL;
		if (ch != '\0' && !ok)
			ok = strchr(mailto ? "!$'()*+,;:@" : "!$&'()*+,;=:@/?#[]%", ch) != NULL;
		if (ok) {
			mbuf_add(out, s, 1);
		} else {
			char e[3] = {'%', hexdig[ch >> 4], hexdig[ch & 15]};
			mbuf_add(out, e, 3);
		}
	}
}

static void list_fields_out(const struct render_in *in, struct mbuf *out)
{
	const struct cfg_list *l = in->list;
	const char *at = strrchr(l->address, '@');
	const char *url = l->unsubscribe_url, *token = in->unsubscribe_token;
	size_t mailto_len;
	char *a;
	struct mbuf v = {0};

	mbuf_add(&v, "", 0);
	if (l->description && l->description[0]) {
		char *d = mailfmt_clean(l->description, MAX_NAME);
		mailfmt_phrase(&v, d);
		mbuf_add(&v, " ", 1);
		free(d);
	}
	mbuf_str(&v, "<");
	mbuf_str(&v, l->name);
	mbuf_str(&v, ".");
	mbuf_str(&v, at ? at + 1 : l->address);
	mbuf_str(&v, ">");
	(void)mailfmt_field(out, "List-Id", v.p);
	v.n = 0;
	a = sub_address(in, NULL);	/* where replies go: "Reply List" buttons use it */
	mbuf_str(&v, "<mailto:");
	uri_out(&v, a, 1);
	mbuf_str(&v, ">");
	free(a);
	(void)mailfmt_field(out, "List-Post", v.p);
	v.n = 0;
	a = sub_address(in, "help");
	mbuf_str(&v, "<mailto:");
	uri_out(&v, a, 1);
	mbuf_str(&v, ">");
	free(a);
	(void)mailfmt_field(out, "List-Help", v.p);
	if (l->archive_url && l->archive_url[0]) {
		v.n = 0;
		mbuf_str(&v, "<");
		uri_out(&v, l->archive_url, 0);
		mbuf_str(&v, ">");
		(void)mailfmt_field(out, "List-Archive", v.p);
	}
	v.n = 0;
	mbuf_str(&v, "<mailto:");
	uri_out(&v, in->unsubscribe_addr, 1);
	mbuf_str(&v, ">");
	mailto_len = v.n;
	if (url && url[0] && token && token[0]) {
		mbuf_str(&v, ", <");
		uri_out(&v, url, 0);
		mbuf_str(&v, strchr(url, '?') ? "&t=" : "?t=");
		uri_out(&v, token, 1);
		mbuf_str(&v, ">");
	}
	if (mailfmt_field(out, "List-Unsubscribe", v.p) == 0) {
		if (v.n > mailto_len && strncasecmp(url, "https://", 8) == 0)
			(void)mailfmt_field(out, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
	} else {
		/* a URL too long for one line: unsubscribing by mail always works */
		v.p[v.n = mailto_len] = '\0';
		(void)mailfmt_field(out, "List-Unsubscribe", v.p);
	}
	(void)mailfmt_field(out, "Precedence", "list");
	mbuf_free(&v);
}

/* from_out: From: "Name via list" <L@> and Author: Name <addr> (RFC 9057). */
static void from_out(const struct render_in *in, struct mbuf *out)
{
	struct mbuf v = {0};
	char *name = in->author_name ? mailfmt_clean(in->author_name, MAX_NAME) : NULL, *via;
	int named = name != NULL && name[0] != '\0';

	if (!named) {
		const char *at = strrchr(in->author_addr, '@');
		char *local = xstrndup(in->author_addr, at ? (size_t)(at - in->author_addr)
							   : strlen(in->author_addr));
		free(name);
		name = mailfmt_clean(local, MAX_NAME);
		free(local);
	}
	via = xasprintf("%s via %s", name, in->list->name);
	mailfmt_phrase(&v, via);
	mbuf_str(&v, " <");
	mbuf_str(&v, in->list->address);
	mbuf_str(&v, ">");
	(void)mailfmt_field(out, "From", v.p);
	v.n = 0;
	if (named) {
		mailfmt_phrase(&v, name);
		mbuf_str(&v, " <");
		mbuf_str(&v, in->author_addr);
		mbuf_str(&v, ">");
	} else {
		mbuf_str(&v, in->author_addr);
	}
	(void)mailfmt_field(out, "Author", v.p);
	free(via);
	free(name);
	mbuf_free(&v);
}

/* subject_out: the author's Subject, with the list's prefix if it lacks it;
 * as it was unless it changes or carries raw 8-bit text. */
static void subject_out(const struct render_in *in, const struct hdr *h, struct mbuf *out)
{
	const struct field *f = hdr_find(h, "Subject");
	const char *prefix = in->list->subject_prefix;
	char *raw = f ? field_value(f) : NULL, *dec = words_decode(raw ? raw : "");
	struct mbuf v = {0};
	int add = prefix && prefix[0] && strcasestr(dec, prefix) == NULL;

	if (!add && (f == NULL || !has8bit(f->p, f->len))) {
		if (f)
			kept_out(out, f);
	} else {
		char *nv = add ? xasprintf("%s%s%s", prefix, dec[0] ? " " : "", dec) : xstrdup(dec);
		free(dec);
		dec = mailfmt_clean(nv, MAX_SUBJECT + 100);
		free(nv);
		mbuf_add(&v, "", 0);
		mailfmt_unstructured(&v, dec);
		(void)mailfmt_field(out, "Subject", v.p);
	}
	mbuf_free(&v);
	free(dec);
	free(raw);
}

static void headers_out(const struct ctx *c, const struct hdr *h, const struct plan *pl,
			struct mbuf *out)
{
	const struct render_in *in = c->in;
	size_t i;

	if (in->keep_from && hdr_find(h, "From") != NULL)
		kept_out(out, hdr_find(h, "From"));
	else
		from_out(in, out);
	(void)mailfmt_field(out, "To", in->list->address);
	(void)mailfmt_field(out, "Reply-To", in->reply_to);
	subject_out(in, h, out);
	(void)mailfmt_field(out, "Message-ID", in->list_msgid);
	if (hdr_find(h, "Date") == NULL && in->date > 0) {
		char date[64];
		mailfmt_date(in->date, date, sizeof(date));
		(void)mailfmt_field(out, "Date", date);
	}
	if (in->in_reply_to && in->in_reply_to[0])
		(void)mailfmt_field(out, "In-Reply-To", in->in_reply_to);
	if (in->references && in->references[0]) {
		char *r = mailfmt_clean(in->references, 64 * 1024);
		(void)mailfmt_field(out, "References", r);
		free(r);
	}
	for (i = 0; i < h->n; i++)
		if (kept(&h->f[i], pl->drop) && !repeated_mime(h, i))
			kept_out(out, &h->f[i]);
	list_fields_out(in, out);
	mbuf_str(out, "MIME-Version: 1.0\r\n");
	if (pl->mime.n > 0)
		mbuf_add(out, pl->mime.p, pl->mime.n);
}

static int one_line(const char *s, int required)
{
	if (s == NULL)
		return !required;
	return (!required || s[0] != '\0') && strpbrk(s, "\r\n") == NULL;
}

static int inputs_ok(const struct render_in *in)
{
	return in->cfg && in->list && in->list->name && in->raw && strchr(in->list->address, '@') &&
	       one_line(in->list_msgid, 1) && one_line(in->author_addr, 1) &&
	       one_line(in->reply_to, 1) && one_line(in->unsubscribe_addr, 1) &&
	       one_line(in->in_reply_to, 0) && one_line(in->references, 0) &&
	       one_line(in->unsubscribe_token, 0);
}

char *render_copy(const struct render_in *in, size_t *len, char *err, size_t errlen)
{
	struct ctx c;
	struct part root;
	struct plan pl;
	struct mbuf out = {0};
	const char *body;
	size_t blen;

	if (!inputs_ok(in)) {
		snprintf(err, errlen, "render: missing or multi-line input");
		return NULL;
	}
	if (in->len > RENDER_MAX_LEN) {
		snprintf(err, errlen, "message of %zu bytes is too large to render", in->len);
		return NULL;
	}
	if (part_open(in->raw, in->len, 1, &root) < 0 || root.h.n == 0) {
		part_close(&root);
		snprintf(err, errlen, "header section cannot be parsed");
		return NULL;
	}
	memset(&c, 0, sizeof(c));
	memset(&pl, 0, sizeof(pl));
	c.in = in;
	if ((in->list->footer && in->list->footer[0]) ||
	    (in->personal_footer && in->personal_footer[0])) {
		char *f = xasprintf("%s%s%s", in->list->footer ? in->list->footer : "",
				    in->list->footer && in->personal_footer ? "\n\n" : "",
				    in->personal_footer ? in->personal_footer : "");
		footer_load(&c, f);
		free(f);
	}
	body = in->raw + root.h.body;
	blen = in->len - root.h.body;
	pl.body_raw = c.footer.n == 0;
	if (!pl.body_raw && footer_plan(&c, &root, body, blen, &pl) < 0) {
		snprintf(err, errlen, "no random bytes for a MIME boundary");
		mbuf_free(&pl.mime);
		mbuf_free(&pl.body);
		part_close(&root);
		strv_free(&c.footer);
		return NULL;
	}
	headers_out(&c, &root.h, &pl, &out);
	mbuf_add(&out, "\r\n", 2);
	if (pl.body_raw)
		mbuf_add(&out, body, blen);
	else
		mbuf_add(&out, pl.body.p, pl.body.n);
	mbuf_free(&pl.mime);
	mbuf_free(&pl.body);
	part_close(&root);
	strv_free(&c.footer);
	*len = out.n;
	return out.p;
}
