/*
 * mailfmt.c - the small pieces every message parley writes is made of (see
 * mailfmt.h): a growable buffer, header fields folded to 78 columns, RFC 2047
 * encoded words for display names and unstructured text, and the
 * quoted-printable and base64 body encodings (RFC 2045).
 *
 * Must never emit a header line over 998 octets, an encoded word over 75
 * characters or split inside a UTF-8 character, or a body line over 76
 * characters in quoted-printable.
 */
#include "autoconf.h"

#include "mailfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "utf8.h"
#include "xalloc.h"

#define EW_Q_MAX 63 /* encoded text of a Q word: 75 - "=?utf-8?q?" - "?=" */
#define EW_B_MAX 45 /* raw bytes of a B word: 60 base64 characters */

static const char hexdig[] = "0123456789ABCDEF";

void mbuf_add(struct mbuf *b, const void *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void mbuf_str(struct mbuf *b, const char *s)
{
	mbuf_add(b, s, strlen(s));
}

void mbuf_free(struct mbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int mailfmt_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * fold_out: write S[0..N), a whole unfolded field "Name: value" without line
 * ends, folded before white space so that lines stay within 78 columns where
 * possible. Unfolding gives S back exactly. -1 (nothing written) if a word
 * does not fit in 998 octets.
 */
int mailfmt_fold(struct mbuf *out, const char *s, size_t n)
{
	size_t i = 0, col = 0, start = out->n;
	int tokens = 0;

	while (i < n) {
		size_t j = i, w;
		while (j < n && mailfmt_is_wsp(s[j]))
			j++;
		while (j < n && !mailfmt_is_wsp(s[j]))
			j++;
		w = j - i;
		if (tokens >= 2 && mailfmt_is_wsp(s[i]) && col + w > MAILFMT_FOLD_AT) {
			mbuf_add(out, "\r\n", 2);
			col = 0;
		}
		if (col + w > MAILFMT_LINE_MAX) {
			out->n = start;
			return -1;
		}
		mbuf_add(out, s + i, w);
		col += w;
		tokens++;
		i = j;
	}
	mbuf_add(out, "\r\n", 2);
	return 0;
}

/* field_out: a field we generate; VALUE has no line ends. */
int mailfmt_field(struct mbuf *out, const char *name, const char *value)
{
	struct mbuf f = {0};
	int r;

	mbuf_str(&f, name);
	mbuf_add(&f, ":", 1);
	if (value[0] != '\0') {
		mbuf_add(&f, " ", 1);
		mbuf_str(&f, value);
	}
	r = mailfmt_fold(out, f.p, f.n);
	mbuf_free(&f);
	return r;
}

/* utf8_len: length of the UTF-8 character at S, 1 for an invalid byte. */
size_t mailfmt_utf8_len(const char *s, size_t left)
{
	unsigned char c = (unsigned char)s[0];
	size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

	return (n <= left && utf8_valid(s, n)) ? n : 1;
}

/*
 * text_clean: S as one line of valid UTF-8: invalid bytes become '?',
 * controls spaces, white space runs single spaces, no space at either end;
 * cut to at most MAX bytes between characters. Caller frees.
 */
char *mailfmt_clean(const char *s, size_t max)
{
	struct mbuf b = {0};
	size_t i = 0, n = strlen(s);

	mbuf_add(&b, "", 0);
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t cl = mailfmt_utf8_len(s + i, n - i);
		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (b.n > 0 && b.p[b.n - 1] != ' ')
				mbuf_add(&b, " ", 1);
		} else if (c >= 0x80 && cl == 1) {
			mbuf_add(&b, "?", 1);
		} else {
			if (b.n + cl > max)
				break;
			mbuf_add(&b, s + i, cl);
		}
		i += cl;
	}
	while (b.n > 0 && b.p[b.n - 1] == ' ')
		b.p[--b.n] = '\0';
	return b.p;
}

/* q_plain: may C stand for itself in a Q word, even in a phrase (RFC 2047 §5)? */
static int q_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

static void q_word(struct mbuf *out, const char *s, size_t n)
{
	size_t i;

	mbuf_str(out, "=?utf-8?q?");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[3] = {'=', hexdig[c >> 4], hexdig[c & 15]};
		if (q_plain(c))
			mbuf_add(out, s + i, 1);
		else if (c == ' ')
			mbuf_add(out, "_", 1);
		else
			mbuf_add(out, e, 3);
	}
	mbuf_str(out, "?=");
}

static void b_word(struct mbuf *out, const char *s, size_t n)
{
	unsigned char enc[4 * ((EW_B_MAX + 2) / 3) + 1];
	int k = EVP_EncodeBlock(enc, (const unsigned char *)s, (int)n);

	mbuf_str(out, "=?utf-8?b?");
	mbuf_add(out, enc, k > 0 ? (size_t)k : 0);
	mbuf_str(out, "?=");
}

/*
 * ew_out: S[0..N) (UTF-8) as encoded words separated by spaces, each at most
 * 75 characters and split between characters; Q when mostly ASCII, else B.
 */
static void ew_out(struct mbuf *out, const char *s, size_t n)
{
	size_t i, special = 0;
	int b64;

	for (i = 0; i < n; i++)
		if (!q_plain((unsigned char)s[i]) && s[i] != ' ')
			special++;
	b64 = special * 3 > n;
	i = 0;
	while (i < n) {
		size_t j = i, cost = 0;
		while (j < n) {
			size_t cl = mailfmt_utf8_len(s + j, n - j), c = 0, k;
			for (k = 0; k < cl; k++)
				c += (q_plain((unsigned char)s[j + k]) || s[j + k] == ' ') ? 1 : 3;
			if (j > i && (b64 ? j - i + cl > EW_B_MAX : cost + c > EW_Q_MAX))
				break;
			cost += c;
			j += cl;
		}
		if (i > 0)
			mbuf_add(out, " ", 1);
		if (b64)
			b_word(out, s + i, j - i);
		else
			q_word(out, s + i, j - i);
		i = j;
	}
}

static int word_needs_ew(const char *w, size_t n)
{
	size_t i;

	if (n > 70)
		return 1;
	for (i = 0; i < n; i++)
		if ((unsigned char)w[i] >= 0x7f || (unsigned char)w[i] < 0x20)
			return 1;
	return memmem(w, n, "=?", 2) != NULL;
}

/*
 * unstructured_out: cleaned text V (single spaces) as an unstructured field
 * body: plain words stay as they are, runs of words that need it become
 * encoded words, so "[dev] Café" keeps its prefix readable.
 */
void mailfmt_unstructured(struct mbuf *out, const char *v)
{
	size_t n = strlen(v), i = 0;

	while (i < n) {
		const char *sp = memchr(v + i, ' ', n - i);
		size_t j = sp ? (size_t)(sp - v) : n;
		if (word_needs_ew(v + i, j - i)) {
			while (j < n) {
				const char *sp2 = memchr(v + j + 1, ' ', n - j - 1);
				size_t k = sp2 ? (size_t)(sp2 - v) : n;
				if (!word_needs_ew(v + j + 1, k - j - 1))
					break;
				j = k;
			}
			ew_out(out, v + i, j - i);
		} else {
			mbuf_add(out, v + i, j - i);
		}
		i = j;
		if (i < n) {
			mbuf_add(out, " ", 1);
			i++;
		}
	}
}

/* phrase_out: a display name: a quoted string if ASCII, else encoded words. */
void mailfmt_phrase(struct mbuf *out, const char *s)
{
	const char *c;

	for (c = s; *c; c++)
		if ((unsigned char)*c >= 0x7f)
			break;
	if (*c != '\0') {
		ew_out(out, s, strlen(s));
		return;
	}
	mbuf_add(out, "\"", 1);
	for (c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			mbuf_add(out, "\\", 1);
		mbuf_add(out, c, 1);
	}
	mbuf_add(out, "\"", 1);
}

/* qp_encode: RFC 2045 §6.7; CR LF and bare LF are line breaks, lines of at
 * most 76 characters, white space before a line end encoded. */
/* qp_plain: CH may stand for itself in quoted-printable (white space only
 * where no line end follows: qp_run sees to that). */
static int qp_plain(unsigned char ch)
{
	return (ch >= 33 && ch <= 126 && ch != '=') || ch == ' ' || ch == '\t';
}

/* qp_at_eol: S[J] starts a line end, or J is the end. */
static int qp_at_eol(const char *s, size_t n, size_t j)
{
	return j == n || s[j] == '\n' || (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n');
}

/* qp_run: how many bytes from S[I] on can be copied as they are onto a
 * line at column COL: plain bytes up to column 75, white space only up to
 * column 73 (room left for its =XX form: the byte-at-a-time rule), less the
 * white space right before a line end. */
static size_t qp_run(const char *s, size_t n, size_t i, size_t col)
{
	size_t r = 0;

	while (col + r < 75 && i + r < n && qp_plain((unsigned char)s[i + r]) &&
	       !((s[i + r] == ' ' || s[i + r] == '\t') && col + r + 3 > 75))
		r++;
	while (r > 0 && (s[i + r - 1] == ' ' || s[i + r - 1] == '\t') && qp_at_eol(s, n, i + r))
		r--;
	return r;
}

void mailfmt_qp(struct mbuf *out, const char *s, size_t n)
{
	char buf[4096];		/* encoded bytes not yet in OUT */
	size_t i = 0, col = 0, k = 0;

	while (i < n) {
		unsigned char ch = (unsigned char)s[i];
		int eol;
		if (k > sizeof(buf) - 84) {	/* room for a run of 75 and a soft break */
			mbuf_add(out, buf, k);
			k = 0;
		}
		if (ch == '\n' || (ch == '\r' && i + 1 < n && s[i + 1] == '\n')) {
			buf[k++] = '\r';
			buf[k++] = '\n';
			col = 0;
			i += ch == '\r' ? 2 : 1;
			continue;
		}
		if (col < 75 && qp_plain(ch)) {	/* a run of bytes that stand for themselves */
			size_t r = qp_run(s, n, i, col);
			if (r > 0) {
				memcpy(buf + k, s + i, r);
				k += r;
				col += r;
				i += r;
				continue;
			}
		}
		eol = i + 1 == n || s[i + 1] == '\n' ||
		      (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n');
		if (col + ((ch >= 33 && ch <= 126 && ch != '=') ? 1 : 3) > 75) {
			buf[k++] = '=';
			buf[k++] = '\r';
			buf[k++] = '\n';
			col = 0;
		}
		if ((ch >= 33 && ch <= 126 && ch != '=') || ((ch == ' ' || ch == '\t') && !eol)) {
			buf[k++] = (char)ch;
			col++;
		} else {
			buf[k++] = '=';
			buf[k++] = hexdig[ch >> 4];
			buf[k++] = hexdig[ch & 15];
			col += 3;
		}
		i++;
	}
	mbuf_add(out, buf, k);
}

void mailfmt_b64(struct mbuf *out, const char *s, size_t n)
{
	unsigned char enc[80];
	size_t i;

	for (i = 0; i < n; i += 57) {
		size_t k = n - i < 57 ? n - i : 57;
		int m = EVP_EncodeBlock(enc, (const unsigned char *)s + i, (int)k);
		mbuf_add(out, enc, m > 0 ? (size_t)m : 0);
		mbuf_add(out, "\r\n", 2);
	}
}

void mailfmt_date(long long t, char *out, size_t len)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, len, "Thu, 01 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
