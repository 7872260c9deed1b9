/*
 * dsn.c - reads what a bounce, delay warning, delivery report or abuse
 * complaint says (see dsn.h).
 *
 * How a message is read:
 *   1. message_check_structure() first: libetpan's MIME parser recurses and
 *      can be crashed by deep nesting, so it sees nothing the check refuses.
 *   2. The top header section, with our own field reader (64 KiB, 8 KiB a
 *      field): the bounce signals (a From or Sender of mailer-daemon or
 *      postmaster, a bounce Subject, X-Failed-Recipients, multipart/report),
 *      an auto-reply Subject, and the addresses of the bounce itself
 *      (From, To, Cc, Reply-To, Sender, Return-Path, Errors-To), never
 *      taken for a failed recipient (not Delivered-To or X-Original-To:
 *      DragonFly names the failed recipient there).
 *   3. libetpan's MIME tree, walked (at most 16 levels, 256 parts; never
 *      into the returned message): the message/delivery-status and
 *      message/global-delivery-status parts, the message/feedback-report
 *      part, the returned message (message/rfc822, message/global,
 *      text/rfc822-headers, message/global-headers: its Message-ID, its To,
 *      its Return-Path and Sender, also never failed recipients), the first
 *      two text/plain parts and the first text/html part, each decoded
 *      (bounded) and converted to UTF-8.
 *   4. The first reader that finds something:
 *      - ARF (RFC 5965): the feedback-report fields. The complaining
 *        recipients are the Removal-Recipient fields, else the
 *        Original-Rcpt-To fields, else the returned message's
 *        X-HmXmrOriginalRecipient or its first To address. Also read as a
 *        complaint: Hotmail's "complaint about message from" with a
 *        returned message, and Apple Mail's X-Apple-Unsubscribe (From is
 *        the recipient, feedback type "unsubscribe").
 *      - RFC 3464 (and RFC 6533): the delivery-status fields, groups split
 *        by empty lines, and also by a second Final- or
 *        Original-Recipient, or one after the other and an Action, Status
 *        or Diagnostic-Code (for MTAs that forget the empty line). A group needs a usable Original-
 * or Final-Recipient (rfc822 or utf-8 type, comments and <> removed, RFC 6533 \x{HEX} decoded), and
 * an Action, Status or Diagnostic-Code. An unknown or missing Action comes from the Status (2
 * delivered, 4 delayed, otherwise failed); a missing Status from the Diagnostic-Code when it holds
 * one.
 *      - Amazon SES notifications (JSON, also inside an SNS envelope).
 *      - The text of the first text part (or of the HTML part made text,
 *        or at last of the raw body: a MIME structure libetpan could not
 *        follow) that yields a recipient, up to the line where the copy of the
 *        returned message starts ("--- Below this line is a copy of the
 *        message", a Received: after an empty line ...), and only when the
 *        header has a bounce signal (so a bounce without one, such as
 *        KDDI's from no-reply@, is missed, and a person forwarding or
 *        quoting a bounce is not taken for one): the
 *        delivery-status fields of a report whose MIME structure is
 *        broken; else the addresses of X-Failed-Recipients when given;
 *        else the addresses that stand where a recipient is named (first
 *        on a line, after "RCPT TO:", after "...: " or "... to"), else any
 *        address in the text. Each recipient's diagnostic is the text from
 *        its address to the next recipient's line. The form is named by a
 *        marker (Exim, qmail, Exchange), else "text". The whole text is
 *        delayed when it says so ("has been delayed", "will be retried",
 *        "this is a warning" ...) and nowhere that it gave up
 *        ("permanent", "giving up" ...); otherwise failed.
 *   5. An auto-reply (RFC 3834: a Subject such as "Out of Office",
 *      "Automatic reply") is DSN_NONE unless it carries a report part.
 *
 * Classification of a recipient (RFC 3463, RFC 5321):
 *   delivered / relayed / expanded, or a complaint: no class;
 *   delayed: soft;
 *   failed: by its Status: 5.x.x hard, except X.2.2 (mailbox full) and
 *   X.3.1 (mail system full), which RFC 3463 calls persistent transient:
 *   soft; 4.x.x soft. Without a 4 or 5 Status: by the SMTP reply code in
 *   the diagnostic, 4xx soft, 5xx hard unless the diagnostic says the
 *   mailbox is full or over quota (soft); without a code: by phrases,
 *   soft first ("mailbox full", "over quota", "quota exceeded" ...), then
 *   hard ("user unknown", "no such user", "does not exist" ...); without
 *   any: hard (the MTA gave up on it).
 *
 * Must never: read past LEN, recurse without a bound, allocate more than a
 * constant times LEN (plus libetpan's tree), hand out a string that is not
 * NUL-terminated printable UTF-8, keep state between calls, or log.
 */
#include "autoconf.h"

#include "dsn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

#include "address.h"
#include "message_check.h"
#include "mime_decode.h"
#include "utf8.h"
#include "xalloc.h"

#define HEADERS_MAX (64 * 1024)	 /* of a header section read */
#define FIELD_MAX   8192	 /* of one unfolded field */
#define NAME_MAX_   64		 /* of a field name */
#define PART_MAX    (512 * 1024) /* of a part's encoded body read */
#define TEXT_MAX    (64 * 1024)	 /* of a text read for recipients */
#define SUBJECT_MAX 512
#define WALK_DEPTH  16
#define WALK_PARTS  256
#define DSN_PARTS   4
#define TEXT_PARTS  2
#define EXCLUDE_MAX 16
#define OCC_MAX	    1024 /* address occurrences looked at in one text */

/* ---- characters and strings ---- */

static int is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* in_set: 1 if C is one of the characters of SET (never for NUL). */
static int in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* iprefix: 1 if S[0..N) starts with P (lower case) without regard to case. */
static int iprefix(const char *s, size_t n, const char *p)
{
	size_t i;

	for (i = 0; p[i] != '\0'; i++)
		if (i >= n || lower((unsigned char)s[i]) != (unsigned char)p[i])
			return 0;
	return 1;
}

/* isuffix: 1 if S[0..N) ends with P (lower case) without regard to case. */
static int isuffix(const char *s, size_t n, const char *p)
{
	size_t m = strlen(p);

	return m <= n && iprefix(s + n - m, m, p);
}

/* contains: 1 if the NUL-free S[0..N) holds P. */
static int contains(const char *s, size_t n, const char *p)
{
	return memmem(s, n, p, strlen(p)) != NULL;
}

/* any_of: 1 if S[0..N) holds one of the phrases of LIST (NULL-terminated). */
static int any_of(const char *s, size_t n, const char *const *list)
{
	for (; *list != NULL; list++)
		if (contains(s, n, *list))
			return 1;
	return 0;
}

/* trim: [*S, *S + *N) without white space at both ends. */
static void trim(const char **s, size_t *n)
{
	while (*n > 0 && is_space((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* normalise: S[0..N) ASCII lower-cased, each run of white space or
 * controls one space (NUL included); malloc'd, its length in *OUTLEN. What
 * phrases are looked for in. */
static char *normalise(const char *s, size_t n, size_t *outlen)
{
	char *out = xmalloc(n + 1);
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == ' ' || c == 0x7f) {
			if (o > 0 && out[o - 1] != ' ')
				out[o++] = ' ';
		} else {
			out[o++] = (char)lower(c);
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* ---- printable UTF-8 out ---- */

/* seq_len: the length of the well-formed UTF-8 sequence at S[0..N), or 0. */
static size_t seq_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80		    ? 1
		     : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
		     : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		     : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
						    : 0;

	if (len == 0 || len > n || !utf8_valid((const char *)s, len))
		return 0;
	return len;
}

/* is_blankish: 1 if the sequence Q (LEN bytes) is white space or a control
 * to print as a space: C0, DEL, C1, NBSP, U+2028, U+2029. */
static int is_blankish(const unsigned char *q, size_t len)
{
	if (len == 1)
		return q[0] <= 0x20 || q[0] == 0x7f;
	if (len == 2)
		return q[0] == 0xc2 && q[1] <= 0xa0;
	return len == 3 && q[0] == 0xe2 && q[1] == 0x80 && (q[2] == 0xa8 || q[2] == 0xa9);
}

/* is_invisible: 1 if the sequence Q (LEN bytes) is a bidirectional control
 * (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) or U+FEFF: dropped. */
static int is_invisible(const unsigned char *q, size_t len)
{
	if (len == 2)
		return q[0] == 0xd8 && q[1] == 0x9c;
	if (len != 3)
		return 0;
	if (q[0] == 0xe2 && q[1] == 0x80)
		return q[2] == 0x8e || q[2] == 0x8f || (q[2] >= 0xaa && q[2] <= 0xae);
	if (q[0] == 0xe2 && q[1] == 0x81)
		return q[2] >= 0xa6 && q[2] <= 0xa9;
	return q[0] == 0xef && q[1] == 0xbb && q[2] == 0xbf;
}

/*
 * put: SRC[0..N) into DST (SIZE > 0 bytes) as one line of printable UTF-8:
 * white space and controls become single spaces, trimmed at both ends;
 * bidirectional controls are dropped; a byte that does not start a
 * well-formed sequence becomes U+FFFD. Stops before the first character
 * that does not fit. Returns the length written.
 */
static size_t put(char *dst, size_t size, const char *src, size_t n)
{
	static const char rep[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;
	int space = 0;

	while (i < n) {
		size_t len = seq_len(s + i, n - i);
		const char *emit = (const char *)s + i;
		size_t elen = len;

		if (len == 0) {
			emit = rep;
			elen = 3;
			i++;
		} else {
			i += len;
			if (is_blankish(s + i - len, len)) {
				space = 1;
				continue;
			}
			if (is_invisible(s + i - len, len))
				continue;
		}
		if (space && o > 0)
			elen++;
		if (o + elen > size - 1)
			break;
		if (space && o > 0) {
			dst[o++] = ' ';
			elen--;
		}
		space = 0;
		memcpy(dst + o, emit, elen);
		o += elen;
	}
	dst[o] = '\0';
	return o;
}

/* put_lower: put, then ASCII lower-cased. */
static void put_lower(char *dst, size_t size, const char *src, size_t n)
{
	put(dst, size, src, n);
	for (; *dst != '\0'; dst++)
		*dst = (char)lower((unsigned char)*dst);
}

/* ---- header fields ---- */

struct field {
	char name[NAME_MAX_];
	char value[FIELD_MAX];
	size_t vlen;
};

/* line_at: the length of the line at P (before E) without its CR LF; the
 * length with them in *STEP. */
static size_t line_at(const char *p, const char *e, size_t *step)
{
	const char *nl = memchr(p, '\n', (size_t)(e - p));
	size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(e - p);

	*step = nl != NULL ? n + 1 : n;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

static int is_blank_line(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_space((unsigned char)p[i]))
			return 0;
	return 1;
}

/* field_append: S[0..N) after F's value, NULs made spaces, cut to the buffer. */
static void field_append(struct field *f, const char *s, size_t n)
{
	size_t i;

	if (n > sizeof(f->value) - 1 - f->vlen)
		n = sizeof(f->value) - 1 - f->vlen;
	for (i = 0; i < n; i++)
		f->value[f->vlen + i] = s[i] == '\0' ? ' ' : s[i];
	f->vlen += n;
	f->value[f->vlen] = '\0';
}

/* field_name: the field name P[0..N), blanks before the colon dropped, into
 * F; 0 if it is empty, too long, or holds anything but printable ASCII. */
static int field_name(struct field *f, const char *p, size_t n)
{
	size_t i;

	while (n > 0 && is_wsp((unsigned char)p[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(f->name))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return 0;
	memcpy(f->name, p, n);
	f->name[n] = '\0';
	return 1;
}

/*
 * next_field: the field at *P (before E) into F, continuation lines
 * appended, *P moved past them: 1; 0 at a line of white space only (*P moved
 * past it); -1 at E. Lines that are not fields (no colon, a name with
 * blanks such as an mbox "From " line, a stray continuation) are skipped.
 */
static int next_field(const char **p, const char *e, struct field *f)
{
	for (;;) {
		const char *line = *p, *colon;
		size_t step, n;

		if (line >= e)
			return -1;
		n = line_at(line, e, &step);
		*p = line + step;
		if (is_blank_line(line, n))
			return 0;
		if (is_wsp((unsigned char)line[0]) || (colon = memchr(line, ':', n)) == NULL ||
		    !field_name(f, line, (size_t)(colon - line)))
			continue;
		f->vlen = 0;
		f->value[0] = '\0';
		field_append(f, colon + 1, n - (size_t)(colon + 1 - line));
		while (*p < e && is_wsp((unsigned char)**p)) {
			n = line_at(*p, e, &step);
			if (is_blank_line(*p, n))
				break;
			field_append(f, *p, n);
			*p += step;
		}
		return 1;
	}
}

static int is_name(const struct field *f, const char *name)
{
	return strcasecmp(f->name, name) == 0;
}

/* uncomment: V without its (comments) (quoted strings kept), into OUT (SIZE
 * bytes); OUT. */
static char *uncomment(const char *v, char *out, size_t size)
{
	size_t o = 0;
	int depth = 0, quoted = 0;

	for (; *v != '\0' && o + 2 < size; v++) {
		if (*v == '\\' && v[1] != '\0') {
			if (depth == 0) {
				out[o++] = v[0];
				out[o++] = v[1];
			}
			v++;
		} else if (depth == 0 && *v == '"') {
			quoted = !quoted;
			out[o++] = *v;
		} else if (!quoted && *v == '(') {
			depth++;
		} else if (!quoted && depth > 0 && *v == ')') {
			if (--depth == 0)
				out[o++] = ' ';
		} else if (depth == 0) {
			out[o++] = *v;
		}
	}
	out[o] = '\0';
	return out;
}

/* after_type: the text of a "type; text" value V (Reporting-MTA,
 * Diagnostic-Code, ...): after the ';' when a short type word comes before
 * it, else all of V; blanks skipped. */
static const char *after_type(const char *v)
{
	const char *semi, *p;

	while (is_space((unsigned char)*v))
		v++;
	semi = strchr(v, ';');
	if (semi != NULL && semi - v <= 32) {
		for (p = v; p < semi && !is_space((unsigned char)*p); p++)
			;
		while (p < semi && is_space((unsigned char)*p))
			p++;
		if (p == semi)
			v = semi + 1;
	}
	while (is_space((unsigned char)*v))
		v++;
	return v;
}

/* ---- addresses ---- */

static int is_local_char(unsigned char c)
{
	return is_alnum(c) || in_set((char)c, "!#$%&'*+/=?^_`{|}~.-");
}

static int is_domain_char(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '-';
}

/* utf8_addr: BUF (N bytes, NUL-terminated) as an internationalised address
 * (RFC 6531): well-formed UTF-8 with some non-ASCII, no blanks, controls or
 * specials, exactly one '@' with something on both sides, the local part at
 * most 64 bytes; into OUT with the ASCII of the domain lower-cased. 0 or -1. */
static int utf8_addr(const char *buf, size_t n, char out[ADDRESS_MAX + 1])
{
	const unsigned char *s = (const unsigned char *)buf;
	const char *at = strchr(buf, '@');
	size_t i;
	int wide = 0;

	if (n > ADDRESS_MAX || !utf8_valid(buf, n) || at == NULL || at == buf || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || (size_t)(at - buf) > ADDRESS_LOCAL_MAX)
		return -1;
	for (i = 0; i < n;) {
		size_t len = seq_len(s + i, n - i);
		if (len == 0 || is_blankish(s + i, len) || is_invisible(s + i, len) ||
		    (len == 1 && in_set((char)s[i], "<>()[],;:\"\\")))
			return -1;
		wide |= len > 1;
		i += len;
	}
	if (!wide)
		return -1;
	memcpy(out, buf, n);
	out[n] = '\0';
	for (i = (size_t)(at - buf) + 1; i < n; i++)
		out[i] = (char)lower((unsigned char)out[i]);
	return 0;
}

/* addr_norm: the address S[0..N) (with blanks, one pair of <> and a final
 * dot around it allowed) normalised into OUT: by address_parse_spec, or as
 * an internationalised address. 0, or -1 if it is not an address. */
static int addr_norm(const char *s, size_t n, char out[ADDRESS_MAX + 1])
{
	char buf[ADDRESS_MAX + 1], err[ADDRESS_ERR_MAX];

	trim(&s, &n);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
		trim(&s, &n);
	}
	while (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > ADDRESS_MAX || memchr(s, '\0', n) != NULL)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (address_parse_spec(buf, out, err, sizeof(err)) == 0)
		return 0;
	return utf8_addr(buf, n, out);
}

/* addr_at: the ASCII address around the '@' at S[I] (S has N bytes)
 * normalised into OUT, its bounds in *A and *B; 0, or -1 if none is there. */
static int addr_at(const char *s, size_t n, size_t i, char out[ADDRESS_MAX + 1], size_t *a,
		   size_t *b)
{
	size_t l = i, r = i + 1;

	while (l > 0 && i - l < ADDRESS_LOCAL_MAX && is_local_char((unsigned char)s[l - 1]))
		l--;
	if (l > 0 && is_local_char((unsigned char)s[l - 1]))
		return -1; /* a local part longer than 64 */
	while (l < i && in_set(s[l], ".'`=/"))
		l++;
	while (r < n && r - i <= 253 && is_domain_char((unsigned char)s[r]))
		r++;
	while (r > i + 1 && (s[r - 1] == '.' || s[r - 1] == '-'))
		r--;
	if (l == i || r == i + 1 || addr_norm(s + l, r - l, out) < 0)
		return -1;
	*a = l;
	*b = r;
	return 0;
}

/* A few addresses: those never taken for a failed recipient. */
struct addrs {
	char a[EXCLUDE_MAX][ADDRESS_MAX + 1];
	int n;
};

static int addrs_has(const struct addrs *s, const char *addr)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcasecmp(s->a[i], addr) == 0)
			return 1;
	return 0;
}

/* addrs_scan: every address in the header value V added to S (while room). */
static void addrs_scan(struct addrs *s, const char *v)
{
	size_t n = strlen(v), i, a, b;
	char addr[ADDRESS_MAX + 1] = "";

	for (i = 0; i < n && s->n < EXCLUDE_MAX; i++)
		if (v[i] == '@' && addr_at(v, n, i, addr, &a, &b) == 0) {
			if (!addrs_has(s, addr))
				memcpy(s->a[s->n++], addr, sizeof(addr));
			i = b - 1;
		}
}

/* first_addr: the first address in the header value V into OUT ("" if none). */
static void first_addr(const char *v, char out[ADDRESS_MAX + 1])
{
	size_t n = strlen(v), i, a, b;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		if (v[i] == '@' && addr_at(v, n, i, out, &a, &b) == 0)
			return;
	out[0] = '\0';
}

/* ---- status codes, SMTP replies, phrases ---- */

/* status_at: 1 if S[I..N) starts an enhanced status code (RFC 3463) whose
 * class is one of CLASSES ("245", "45"), not inside a number or a word; the
 * code copied to OUT (DSN_STATUS_MAX) and its length in *LEN. */
static int status_at(const char *s, size_t n, size_t i, const char *classes, char *out, size_t *len)
{
	size_t j = i + 2, k, part;

	if (i + 5 > n || !in_set(s[i], classes) || s[i + 1] != '.')
		return 0;
	if (i > 0 && (is_alnum((unsigned char)s[i - 1]) || s[i - 1] == '.'))
		return 0;
	for (part = 0; part < 2; part++) {
		for (k = 0; j < n && is_digit((unsigned char)s[j]) && k < 4; j++, k++)
			;
		if (k == 0 || k > 3)
			return 0;
		if (part == 0) {
			if (j >= n || s[j] != '.')
				return 0;
			j++;
		}
	}
	if (j < n && (is_alnum((unsigned char)s[j]) ||
		      (s[j] == '.' && j + 1 < n && is_digit((unsigned char)s[j + 1]))))
		return 0;
	*len = j - i;
	memcpy(out, s + i, *len);
	out[*len] = '\0';
	return 1;
}

/* find_status: the first enhanced status code of class CLASSES in
 * S[0..N) into OUT; its offset, or N if none ("" in OUT). */
static size_t find_status(const char *s, size_t n, const char *classes, char *out)
{
	size_t i, len;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		if (status_at(s, n, i, classes, out, &len))
			return i;
	return n;
}

/* code_at: the SMTP reply code (4xx or 5xx) at S[I..N), or 0: three digits
 * standing alone, followed by a blank, '-', ':', ')' or the end, where a
 * reply is reported: first on its line (after blanks and quoting marks),
 * after ':', ';', '\'', '"', '(', "said", "returned" or "reason", or before
 * an enhanced status code. */
static int code_at(const char *s, size_t n, size_t i)
{
	size_t j = i, len;
	char st[DSN_STATUS_MAX] = "";
	int code;

	if (i + 3 > n || (s[i] != '4' && s[i] != '5') || !is_digit((unsigned char)s[i + 1]) ||
	    !is_digit((unsigned char)s[i + 2]))
		return 0;
	if (i + 3 < n && s[i + 3] != '\0' && !in_set(s[i + 3], " \t\r\n-:)]',;"))
		return 0;
	if (i > 0 && (is_alnum((unsigned char)s[i - 1]) || in_set(s[i - 1], ".-/+_@=[")))
		return 0;
	code = (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	while (j > 0 && in_set(s[j - 1], " \t<>*|#"))
		j--;
	if (j == 0 || in_set(s[j - 1], "\r\n:;'\"(") || isuffix(s, j, "said") ||
	    isuffix(s, j, "returned") || isuffix(s, j, "reason"))
		return code;
	if (i + 4 < n && (s[i + 3] == ' ' || s[i + 3] == '-') &&
	    status_at(s, n, i + 4, "45", st, &len))
		return code;
	return 0;
}

/* find_code: the first SMTP reply code in S[0..N) (0 if none), its offset
 * in *AT. */
static int find_code(const char *s, size_t n, size_t *at)
{
	size_t i;
	int code;

	for (i = 0; i < n; i++)
		if ((code = code_at(s, n, i)) != 0) {
			*at = i;
			return code;
		}
	*at = n;
	return 0;
}

/* Phrases, lower case, single spaces: matched in normalised text. */
static const char *const soft_phrases[] = {
    "mailbox full",
    "mailbox is full",
    "mailbox is over quota",
    "over quota",
    "overquota",
    "quota exceeded",
    "exceeded quota",
    "quota exceed",
    "over its quota",
    "storage quota",
    "exceeded storage",
    "exceeds allowed size",
    "insufficient storage",
    "insufficient disk space",
    "mailbox exceeds",
    "mail box full",
    "mailbox size limit",
    "exceeded the local limit",
    "not enough storage",
    "disk quota",
    "mailfolder is full",
    "too many messages",
    "try again later",
    "temporarily",
    "is over the limit",
    NULL,
};

static const char *const hard_phrases[] = {
    "user unknown",
    "unknown user",
    "no such user",
    "no such recipient",
    "no such mailbox",
    "no such address",
    "no such account",
    "unknown recipient",
    "recipient unknown",
    "does not exist",
    "doesn't exist",
    "address rejected",
    "invalid recipient",
    "invalid address",
    "invalid mailbox",
    "recipient not found",
    "user not found",
    "address not found",
    "mailbox not found",
    "mailbox unavailable",
    "mailbox not available",
    "no mailbox",
    "is not a valid",
    "recipient name is not recognized",
    "not listed in",
    "account disabled",
    "account is disabled",
    "account has been disabled",
    "user disabled",
    "host unknown",
    "unknown host",
    "host not found",
    "domain not found",
    "no mx record",
    "unrouteable",
    "unroutable",
    "invalid final delivery userid",
    "unknown or illegal",
    "recipient rejected",
    "not our customer",
    "no longer available",
    "no longer active",
    NULL,
};

/* phrase_class: the class the phrases of S[0..N) (any text) say, soft first. */
static enum dsn_class phrase_class(const char *s, size_t n)
{
	size_t nn;
	char *norm = normalise(s, n, &nn);
	enum dsn_class c = any_of(norm, nn, soft_phrases)   ? DSN_SOFT
			   : any_of(norm, nn, hard_phrases) ? DSN_HARD
							    : DSN_CLASS_NONE;

	free(norm);
	return c;
}

/* persistent_transient: 1 for the codes RFC 3463 says should be used as
 * persistent transient failures although their class may be 5: X.2.2
 * mailbox full, X.3.1 mail system full. */
static int persistent_transient(const char *status)
{
	return strcmp(status + 1, ".2.2") == 0 || strcmp(status + 1, ".3.1") == 0;
}

/* classify: the class of a recipient (rules in the head comment). */
static enum dsn_class classify(enum dsn_kind action, const char *status, int code,
			       enum dsn_class phrase)
{
	if (action == DSN_DELIVERED || action == DSN_COMPLAINT)
		return DSN_CLASS_NONE;
	if (action == DSN_DELAYED)
		return DSN_SOFT;
	if (status[0] == '5')
		return persistent_transient(status) ? DSN_SOFT : DSN_HARD;
	if (status[0] == '4')
		return DSN_SOFT;
	if (code >= 500)
		return phrase == DSN_SOFT ? DSN_SOFT : DSN_HARD;
	if (code >= 400)
		return DSN_SOFT;
	return phrase != DSN_CLASS_NONE ? phrase : DSN_HARD;
}

/* ---- the context of one call ---- */

struct span {
	const char *p;
	size_t n;
	char *own; /* P, when it was decoded into a copy */
};

struct ctx {
	struct dsn_report *out;
	/* the top header section */
	int robot, report_ct, bounce_subject, autoreply_subject, complaint_subject, apple_unsub;
	char subject[SUBJECT_MAX];  /* decoded, printable, lower case */
	char from[ADDRESS_MAX + 1]; /* its first From address */
	char *xfailed;		    /* X-Failed-Recipients values, ", "-joined, or NULL */
	struct addrs exclude;	    /* never taken for failed recipients */
	const char *body;	    /* the raw body, after the top header section */
	size_t body_len;
	/* the parts */
	struct span dsn[DSN_PARTS], text[TEXT_PARTS], arf, orig, html;
	int ndsn, ntext, has_arf, has_orig, has_html, parts;
	int complaint; /* a complaint was read (even naming nobody) */
	/* the returned message */
	char orig_to[ADDRESS_MAX + 1], orig_hmxmr[ADDRESS_MAX + 1], orig_id[DSN_ID_MAX];
	struct field f; /* scratch */
};

static void span_free(struct span *s)
{
	free(s->own);
	memset(s, 0, sizeof(*s));
}

static void ctx_free(struct ctx *c)
{
	int i;

	for (i = 0; i < c->ndsn; i++)
		span_free(&c->dsn[i]);
	for (i = 0; i < c->ntext; i++)
		span_free(&c->text[i]);
	span_free(&c->arf);
	span_free(&c->orig);
	span_free(&c->html);
	free(c->xfailed);
	free(c);
}

/* add_rcpt: a recipient into the report, its class made to agree with its
 * action (see dsn.h); a second mention of an address only replaces a first
 * that did not fail; truncated once the report is full. */
static void add_rcpt(struct ctx *c, const char *addr, enum dsn_kind action, enum dsn_class cls,
		     const char *status, const char *diag)
{
	struct dsn_report *r = c->out;
	struct dsn_rcpt *p = NULL;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcasecmp(r->rcpt[i].addr, addr) == 0) {
			if (r->rcpt[i].action == DSN_FAILED || action != DSN_FAILED)
				return;
			p = &r->rcpt[i];
		}
	if (p == NULL) {
		if (r->n == DSN_RCPT_MAX) {
			r->truncated = 1;
			return;
		}
		p = &r->rcpt[r->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->addr, sizeof(p->addr), "%s", addr);
	} else {
		memset(p->status, 0, sizeof(p->status));
		memset(p->diag, 0, sizeof(p->diag));
	}
	p->action = action;
	p->cls = action == DSN_FAILED	 ? (cls == DSN_SOFT ? DSN_SOFT : DSN_HARD)
		 : action == DSN_DELAYED ? DSN_SOFT
					 : DSN_CLASS_NONE;
	snprintf(p->status, sizeof(p->status), "%s", status);
	put(p->diag, sizeof(p->diag), diag, strlen(diag));
}

/* set_mta: the Reporting-MTA value V into the report, once. */
static void set_mta(struct ctx *c, const char *v)
{
	if (c->out->reporting_mta[0] == '\0') {
		v = after_type(v);
		put(c->out->reporting_mta, sizeof(c->out->reporting_mta), v, strlen(v));
	}
}

/* ---- RFC 3464 delivery-status fields ---- */

/* One per-recipient group being read. */
struct group {
	char orig[ADDRESS_MAX + 1], final[ADDRESS_MAX + 1];
	int orig_seen, final_seen;
	int facts;  /* an Action, Status or Diagnostic-Code was read */
	int later;  /* one was read after an Original- or Final-Recipient */
	int action; /* an enum dsn_kind, or -1 */
	char status[DSN_STATUS_MAX], dstatus[DSN_STATUS_MAX];
	int code;
	enum dsn_class phrase;
	char diag[DSN_DIAG_MAX];
};

static void group_clear(struct group *g)
{
	memset(g, 0, sizeof(*g));
	g->action = -1;
}

/* unxtext: the RFC 6533 utf-8-addr-xtext S with each \x{HEX} decoded to
 * UTF-8, into OUT (SIZE bytes); an escape that is not one is kept. */
static void unxtext(const char *s, char *out, size_t size)
{
	size_t o = 0;

	while (*s != '\0' && o + 5 < size) {
		unsigned long cp = 0;
		size_t k = 0;

		if (s[0] == '\\' && s[1] == 'x' && s[2] == '{') {
			while (k < 6 && strchr("0123456789abcdefABCDEF", s[3 + k]) != NULL &&
			       s[3 + k] != '\0') {
				unsigned char h = (unsigned char)s[3 + k];
				cp = cp * 16 +
				     (unsigned long)(is_digit(h) ? h - '0' : lower(h) - 'a' + 10);
				k++;
			}
		}
		if (k == 0 || s[3 + k] != '}' || cp == 0 || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			out[o++] = *s++;
			continue;
		}
		s += 4 + k;
		if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if (cp < 0x800) {
			out[o++] = (char)(0xc0 | (cp >> 6));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out[o++] = (char)(0xe0 | (cp >> 12));
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[o++] = (char)(0xf0 | (cp >> 18));
			out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	out[o] = '\0';
}

/* recipient_value: the address of an Original- or Final-Recipient value V
 * ("rfc822; addr", "utf-8; addr", or a bare address) into OUT ("" if none). */
static void recipient_value(const char *v, char out[ADDRESS_MAX + 1])
{
	char buf[FIELD_MAX], dec[FIELD_MAX];
	const char *a, *semi;

	out[0] = '\0';
	uncomment(v, buf, sizeof(buf));
	semi = strchr(buf, ';');
	a = semi != NULL ? semi + 1 : buf;
	unxtext(a, dec, sizeof(dec));
	if (addr_norm(dec, strlen(dec), out) < 0)
		out[0] = '\0';
}

/* action_value: the enum dsn_kind of an Action value, or -1. */
static int action_value(const char *v)
{
	char buf[256] = "";
	const char *p = uncomment(v, buf, sizeof(buf));
	size_t n;

	while (is_space((unsigned char)*p))
		p++;
	for (n = 0; is_alnum((unsigned char)p[n]) || p[n] == '-'; n++)
		;
	if (n == 6 && iprefix(p, n, "failed"))
		return DSN_FAILED;
	if (n == 7 && iprefix(p, n, "delayed"))
		return DSN_DELAYED;
	if ((n == 9 && iprefix(p, n, "delivered")) || (n == 7 && iprefix(p, n, "relayed")) ||
	    (n == 8 && iprefix(p, n, "expanded")))
		return DSN_DELIVERED;
	return -1;
}

static void group_flush(struct ctx *c, struct group *g)
{
	const char *addr = g->orig[0] != '\0' ? g->orig : g->final;
	const char *status = g->status[0] != '\0' ? g->status : g->dstatus;
	enum dsn_kind action;
	enum dsn_class cls;

	if (addr[0] != '\0' && g->facts) {
		action = g->action >= 0	    ? (enum dsn_kind)g->action
			 : status[0] == '2' ? DSN_DELIVERED
			 : status[0] == '4' ? DSN_DELAYED
					    : DSN_FAILED;
		cls = classify(action, status, g->code, g->phrase);
		add_rcpt(c, addr, action, cls, status, g->diag);
	}
	group_clear(g);
}

static void dsn_field(struct ctx *c, struct group *g, const struct field *f)
{
	char buf[FIELD_MAX] = "";
	const char *v = f->value;
	size_t at;

	if (is_name(f, "Original-Recipient")) {
		if (g->orig_seen || (g->final_seen && g->later))
			group_flush(c, g);
		g->orig_seen = 1;
		recipient_value(v, g->orig);
	} else if (is_name(f, "Final-Recipient")) {
		if (g->final_seen || (g->orig_seen && g->later))
			group_flush(c, g);
		g->final_seen = 1;
		recipient_value(v, g->final);
	} else if (is_name(f, "Action")) {
		g->action = action_value(v);
		g->facts = 1;
		g->later = g->orig_seen || g->final_seen;
	} else if (is_name(f, "Status")) {
		uncomment(v, buf, sizeof(buf));
		find_status(buf, strlen(buf), "245", g->status);
		g->facts = 1;
		g->later = g->orig_seen || g->final_seen;
	} else if (is_name(f, "Diagnostic-Code")) {
		v = after_type(v);
		g->code = find_code(v, strlen(v), &at);
		find_status(v, strlen(v), "245", g->dstatus);
		g->phrase = phrase_class(v, strlen(v));
		put(g->diag, sizeof(g->diag), v, strlen(v));
		g->facts = 1;
		g->later = g->orig_seen || g->final_seen;
	} else if (is_name(f, "Reporting-MTA")) {
		set_mta(c, v);
	}
}

/* dsn_fields: the delivery-status fields of S[0..N) into the report. */
static void dsn_fields(struct ctx *c, const char *s, size_t n)
{
	const char *p = s, *e = s + n;
	struct group g;
	int r;

	group_clear(&g);
	while ((r = next_field(&p, e, &c->f)) >= 0) {
		if (r == 0)
			group_flush(c, &g);
		else
			dsn_field(c, &g, &c->f);
	}
	group_flush(c, &g);
}

/* ---- ARF (RFC 5965) ---- */

/* arf_fields: the feedback-report fields of S[0..N): the feedback type, the
 * Reporting-MTA, and as complaining recipients the fields named NAME. */
static void arf_fields(struct ctx *c, const char *s, size_t n, const char *name)
{
	const char *p = s, *e = s + n;
	char addr[ADDRESS_MAX + 1] = "";
	int r;

	while ((r = next_field(&p, e, &c->f)) >= 0) {
		if (r == 0)
			continue;
		if (is_name(&c->f, "Feedback-Type") && c->out->feedback_type[0] == '\0') {
			char buf[FIELD_MAX] = "";
			const char *v = uncomment(c->f.value, buf, sizeof(buf));
			size_t len;
			while (is_space((unsigned char)*v))
				v++;
			for (len = 0;
			     v[len] != '\0' && !is_space((unsigned char)v[len]) && v[len] != ';';
			     len++)
				;
			put_lower(c->out->feedback_type, sizeof(c->out->feedback_type), v, len);
		} else if (is_name(&c->f, "Reporting-MTA")) {
			set_mta(c, c->f.value);
		} else if (is_name(&c->f, name)) {
			recipient_value(c->f.value, addr);
			if (addr[0] != '\0')
				add_rcpt(c, addr, DSN_COMPLAINT, DSN_CLASS_NONE, "", "");
		}
	}
}

/* complaint_fallback: with no recipient named, the returned message's
 * X-HmXmrOriginalRecipient, else its To. */
static void complaint_fallback(struct ctx *c)
{
	const char *a = c->orig_hmxmr[0] != '\0' ? c->orig_hmxmr : c->orig_to;

	if (c->out->n == 0 && a[0] != '\0')
		add_rcpt(c, a, DSN_COMPLAINT, DSN_CLASS_NONE, "", "");
}

static int read_arf(struct ctx *c)
{
	if (c->has_arf) {
		arf_fields(c, c->arf.p, c->arf.n, "Removal-Recipient");
		if (c->out->n == 0)
			arf_fields(c, c->arf.p, c->arf.n, "Original-Rcpt-To");
	} else if (c->complaint_subject && c->has_orig) {
		snprintf(c->out->feedback_type, sizeof(c->out->feedback_type), "abuse");
	} else if (c->apple_unsub && c->from[0] != '\0') {
		snprintf(c->out->feedback_type, sizeof(c->out->feedback_type), "unsubscribe");
		add_rcpt(c, c->from, DSN_COMPLAINT, DSN_CLASS_NONE, "", "");
	} else {
		return 0;
	}
	complaint_fallback(c);
	c->out->form = DSN_FORM_ARF;
	c->complaint = 1;
	return 1;
}

/* ---- Amazon SES notifications (JSON) ---- */

/* json_string: the JSON string at S[*I] (a '"') into OUT (SIZE bytes, cut),
 * escapes simplified (\uXXXX kept as is); *I moved past it. 0, or -1. */
static int json_string(const char *s, size_t n, size_t *i, char *out, size_t size)
{
	size_t j = *i + 1, o = 0;

	if (*i >= n || s[*i] != '"')
		return -1;
	for (; j < n && s[j] != '"'; j++) {
		if (s[j] == '\\' && j + 1 < n)
			j++;
		if (o + 1 < size)
			out[o++] = s[j];
	}
	if (j >= n)
		return -1;
	out[o] = '\0';
	*i = j + 1;
	return 0;
}

/* json_value_of: the string value of the first "KEY" in S[0..N) at or after
 * FROM into OUT; its end offset, or 0 if there is none. */
static size_t json_value_of(const char *s, size_t n, size_t from, const char *key, char *out,
			    size_t size)
{
	size_t klen = strlen(key), i;

	out[0] = '\0';
	for (i = from; i + klen + 2 < n; i++) {
		size_t j;
		if (s[i] != '"' || memcmp(s + i + 1, key, klen) != 0 || s[i + klen + 1] != '"')
			continue;
		for (j = i + klen + 2; j < n && (is_space((unsigned char)s[j]) || s[j] == ':'); j++)
			;
		if (j < n && json_string(s, n, &j, out, size) == 0)
			return j;
		return 0;
	}
	return 0;
}

/* ses_recipients: the objects of the array "KEY" of S[0..N), each an
 * "emailAddress" with its "status" and "diagnosticCode", into the report. */
static void ses_recipients(struct ctx *c, const char *s, size_t n, const char *key,
			   enum dsn_kind action, enum dsn_class cls)
{
	char k[64], addr[ADDRESS_MAX + 1], v[DSN_DIAG_MAX], status[DSN_STATUS_MAX];
	char diag[DSN_DIAG_MAX], mail[DSN_DIAG_MAX]; /* an over-long address: refused */
	size_t i, klen = strlen(key), at;
	int depth = 0;
	const char *p = NULL;

	for (i = 0; i + klen + 2 < n && p == NULL; i++)
		if (s[i] == '"' && memcmp(s + i + 1, key, klen) == 0 && s[i + klen + 1] == '"')
			p = s + i + klen + 2;
	if (p == NULL || (p = memchr(p, '[', (size_t)(s + n - p))) == NULL)
		return;
	mail[0] = status[0] = diag[0] = '\0';
	for (i = (size_t)(p - s) + 1; i < n; i++) {
		if (s[i] == '{') {
			depth++;
			mail[0] = status[0] = diag[0] = '\0';
		} else if (s[i] == '}' || (s[i] == ']' && depth == 0)) {
			if (depth == 1 && mail[0] != '\0' &&
			    addr_norm(mail, strlen(mail), addr) == 0) {
				int code = find_code(diag, strlen(diag), &at);
				if (status[0] == '\0')
					find_status(diag, strlen(diag), "245", status);
				add_rcpt(c, addr, action,
					 classify(action, status, code,
						  cls != DSN_CLASS_NONE
						      ? cls
						      : phrase_class(diag, strlen(diag))),
					 status, diag);
			}
			if (s[i] == ']' || --depth < 0)
				return;
		} else if (s[i] == '"' && depth == 1) {
			if (json_string(s, n, &i, k, sizeof(k)) < 0)
				return;
			while (i < n && is_space((unsigned char)s[i]))
				i++;
			if (i < n && s[i] == ':') {
				i++;
				while (i < n && is_space((unsigned char)s[i]))
					i++;
				if (i < n && s[i] == '"' &&
				    json_string(s, n, &i, v, sizeof(v)) == 0) {
					if (strcmp(k, "emailAddress") == 0)
						snprintf(mail, sizeof(mail), "%s", v);
					else if (strcmp(k, "status") == 0)
						find_status(v, strlen(v), "245", status);
					else if (strcmp(k, "diagnosticCode") == 0)
						snprintf(diag, sizeof(diag), "%s", v);
				}
			}
			i--;
		} else if (s[i] == '"' && json_string(s, n, &i, v, sizeof(v)) == 0) {
			i--;
		}
	}
}

/* ses_plain_list: the strings of the array "KEY" of S[0..N) as recipients. */
static void ses_plain_list(struct ctx *c, const char *s, size_t n, const char *key,
			   enum dsn_kind action)
{
	char v[ADDRESS_MAX + 1], addr[ADDRESS_MAX + 1];
	size_t klen = strlen(key), i;
	const char *p = NULL;

	for (i = 0; i + klen + 2 < n && p == NULL; i++)
		if (s[i] == '"' && memcmp(s + i + 1, key, klen) == 0 && s[i + klen + 1] == '"')
			p = s + i + klen + 2;
	if (p == NULL || (p = memchr(p, '[', (size_t)(s + n - p))) == NULL)
		return;
	for (i = (size_t)(p - s) + 1; i < n && s[i] != ']'; i++)
		if (s[i] == '"') {
			if (json_string(s, n, &i, v, sizeof(v)) < 0)
				return;
			if (addr_norm(v, strlen(v), addr) == 0)
				add_rcpt(c, addr, action, DSN_CLASS_NONE, "", "");
			i--;
		}
}

/* read_ses: an SES notification in the text S[0..N) (an SNS envelope's
 * escaped quotes undone first); 1 if it was one. */
static int read_ses(struct ctx *c, const char *s, size_t n)
{
	char type[32], btype[32], ftype[DSN_FEEDBACK_MAX], mta[DSN_MTA_MAX];
	char *j = xmalloc(n + 1);
	size_t i, m = 0;

	while (n > 0 && is_space((unsigned char)*s)) {
		s++;
		n--;
	}
	if (n == 0 || s[0] != '{' || !contains(s, n, "notificationType")) {
		free(j);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!(s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '/')))
			j[m++] = s[i];
	j[m] = '\0';
	json_value_of(j, m, 0, "notificationType", type, sizeof(type));
	json_value_of(j, m, 0, "bounceType", btype, sizeof(btype));
	if (json_value_of(j, m, 0, "reportingMTA", mta, sizeof(mta)) > 0)
		set_mta(c, mta);
	if (strcmp(type, "Bounce") == 0) {
		ses_recipients(c, j, m, "bouncedRecipients",
			       strcmp(btype, "Transient") == 0 ? DSN_DELAYED : DSN_FAILED,
			       strcmp(btype, "Permanent") == 0 ? DSN_HARD : DSN_SOFT);
	} else if (strcmp(type, "Complaint") == 0) {
		json_value_of(j, m, 0, "complaintFeedbackType", ftype, sizeof(ftype));
		put_lower(c->out->feedback_type, sizeof(c->out->feedback_type), ftype,
			  strlen(ftype));
		ses_recipients(c, j, m, "complainedRecipients", DSN_COMPLAINT, DSN_CLASS_NONE);
		c->complaint = 1;
	} else if (strcmp(type, "Delivery") == 0) {
		ses_plain_list(c, j, m, "recipients", DSN_DELIVERED);
	}
	free(j);
	if (c->complaint || c->out->n > 0) {
		c->out->form = DSN_FORM_SES;
		return 1;
	}
	return 0;
}

/* ---- the returned message ---- */

/* msgid_value: the "<id>" of a Message-ID value V into OUT ("" if none or
 * too long). */
static void msgid_value(const char *v, char *out, size_t size)
{
	const char *lt = strchr(v, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;
	size_t n;

	out[0] = '\0';
	if (lt == NULL || gt == NULL || gt - lt < 2 || (size_t)(gt - lt) + 1 >= size)
		return;
	n = (size_t)(gt - lt) + 1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)lt[i] <= 0x20 || (unsigned char)lt[i] >= 0x7f)
			return;
	memcpy(out, lt, n);
	out[n] = '\0';
}

/* orig_headers: the header section at S[0..N) read as the returned
 * message's: its Message-ID, To, X-HmXmrOriginalRecipient, and Return-Path
 * and Sender (never failed recipients). */
static void orig_headers(struct ctx *c, const char *s, size_t n)
{
	const char *p = s, *e = s + (n < HEADERS_MAX ? n : HEADERS_MAX);

	while (p < e && is_space((unsigned char)*p))
		p++;
	while (next_field(&p, e, &c->f) > 0) {
		if (is_name(&c->f, "Message-ID") && c->orig_id[0] == '\0')
			msgid_value(c->f.value, c->orig_id, sizeof(c->orig_id));
		else if (is_name(&c->f, "To") && c->orig_to[0] == '\0')
			first_addr(c->f.value, c->orig_to);
		else if (is_name(&c->f, "X-HmXmrOriginalRecipient") && c->orig_hmxmr[0] == '\0')
			first_addr(c->f.value, c->orig_hmxmr);
		else if (is_name(&c->f, "Return-Path") || is_name(&c->f, "Sender"))
			addrs_scan(&c->exclude, c->f.value);
	}
}

/* ---- the top header section ---- */

/* Subjects that begin bounces, delay warnings and reports. */
static const char *const bounce_subjects[] = {
    "undeliver",
    "undelivered",
    "delivery status notification",
    "delivery notification",
    "delivery failure",
    "delivery failed",
    "delivery has failed",
    "delivery problem",
    "delivery error",
    "delivery delayed",
    "delayed mail",
    "mail delivery",
    "message delivery",
    "failure notice",
    "failure delivery",
    "failed delivery",
    "returned mail",
    "mail returned",
    "mail system error",
    "mail could not be delivered",
    "message could not be delivered",
    "could not send message",
    "warning: could not send",
    "warning: message",
    "non-delivery",
    "nondeliverable",
    "non delivery",
    "mail failed",
    "mail failure",
    "there was an error sending",
    "message not delivered",
    "delivery status",
    "returned to sender",
    NULL,
};

/* Subjects that begin auto-replies (RFC 3834 and common practice). */
static const char *const autoreply_subjects[] = {
    "out of office",
    "out of the office",
    "automatic reply",
    "auto:",
    "autoreply",
    "auto-reply",
    "auto reply",
    "automatische antwort",
    "abwesenheitsnotiz",
    "vacation",
    "on vacation",
    "away from",
    "away until",
    "i am away",
    "i'm away",
    "absence",
    NULL,
};

static int starts_any(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strncmp(s, *list, strlen(*list)) == 0)
			return 1;
	return 0;
}

/* is_robot: 1 if the mailbox value V is a delivery system's: a local part
 * of mailer-daemon, postmaster (and a few spellings), or a display name
 * of "Mail Delivery System" and the like. */
static int is_robot(const char *v)
{
	static const char *const locals[] = {
	    "mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon",
	    "maildaemon",    "postmaster",    "post_master",  NULL};
	static const char *const names[] = {"mail delivery",	  "mailer-daemon",
					    "mail administrator", "delivery subsystem",
					    "mail system",	  NULL};
	char addr[ADDRESS_MAX + 1] = "";
	size_t nn, i, n = strlen(v), m = n;
	const char *p = v;
	char *norm;
	int robot;

	first_addr(v, addr);
	trim(&p, &m);
	for (i = 0; locals[i] != NULL; i++) {
		size_t l = strlen(locals[i]);
		if (iprefix(addr, strlen(addr), locals[i]) && addr[l] == '@')
			return 1;
		if (m == l && iprefix(p, m, locals[i]))
			return 1; /* a bare local part: "MAILER-DAEMON" */
	}
	norm = normalise(v, n, &nn);
	robot = any_of(norm, nn, names);
	free(norm);
	return robot;
}

/* subject_value: the Subject V decoded (RFC 2047) into C->subject, lower case. */
static void subject_value(struct ctx *c, const char *v)
{
	size_t idx = 0;
	char *dec = NULL;

	if (strstr(v, "=?") != NULL &&
	    mailmime_encoded_phrase_parse("utf-8", v, strlen(v), &idx, "utf-8", &dec) ==
		MAILIMF_NO_ERROR &&
	    dec != NULL)
		v = dec;
	put_lower(c->subject, sizeof(c->subject), v, strlen(v));
	free(dec);
	c->bounce_subject = starts_any(c->subject, bounce_subjects);
	c->autoreply_subject = starts_any(c->subject, autoreply_subjects);
	c->complaint_subject = strncmp(c->subject, "complaint about message from", 28) == 0;
}

/* xfailed_value: an X-Failed-Recipients value kept (joined to earlier ones). */
static void xfailed_value(struct ctx *c, const char *v)
{
	size_t old = c->xfailed != NULL ? strlen(c->xfailed) : 0, n = strlen(v);

	if (old + n > FIELD_MAX * 4)
		return;
	c->xfailed = xrealloc(c->xfailed, old + n + 3);
	if (old > 0) {
		memcpy(c->xfailed + old, ", ", 2);
		old += 2;
	}
	memcpy(c->xfailed + old, v, n + 1);
}

static void top_field(struct ctx *c, const struct field *f)
{
	const char *v = f->value;
	char t[64] = "";

	if (is_name(f, "From") || is_name(f, "Sender")) {
		c->robot |= is_robot(v);
		if (c->from[0] == '\0' && is_name(f, "From"))
			first_addr(v, c->from);
		addrs_scan(&c->exclude, v);
	} else if (is_name(f, "To") || is_name(f, "Cc") || is_name(f, "Reply-To") ||
		   is_name(f, "Return-Path") || is_name(f, "Errors-To")) {
		addrs_scan(&c->exclude, v);
	} else if (is_name(f, "Subject")) {
		subject_value(c, v);
	} else if (is_name(f, "Content-Type")) {
		put_lower(t, sizeof(t), v, strlen(v));
		c->report_ct |= strncmp(t, "multipart/report", 16) == 0;
	} else if (is_name(f, "X-Failed-Recipients")) {
		xfailed_value(c, v);
	} else if (is_name(f, "X-Apple-Unsubscribe")) {
		put_lower(t, sizeof(t), v, strlen(v));
		c->apple_unsub |= strcmp(t, "true") == 0;
	}
}

/* top_headers: the top header section's fields read; where the body
 * starts kept (the end if no empty line ends the first 64 KiB). */
static void top_headers(struct ctx *c, const char *raw, size_t len)
{
	const char *p = raw, *e = raw + (len < HEADERS_MAX ? len : HEADERS_MAX);
	int r;

	while ((r = next_field(&p, e, &c->f)) > 0)
		top_field(c, &c->f);
	c->body = r == 0 ? p : raw + len;
	c->body_len = (size_t)(raw + len - c->body);
}

/* ---- the MIME parts ---- */

/* ct_is: 1 if the Content-Type CT is TYPE/SUBTYPE (a missing one is
 * text/plain). */
static int ct_is(const struct mailmime_content *ct, const char *type, const char *subtype)
{
	const struct mailmime_type *t;
	const char *name = NULL;

	if (ct == NULL || ct->ct_type == NULL)
		return strcmp(type, "text") == 0 && strcmp(subtype, "plain") == 0;
	t = ct->ct_type;
	if (t->tp_type == MAILMIME_TYPE_DISCRETE_TYPE && t->tp_data.tp_discrete_type != NULL) {
		switch (t->tp_data.tp_discrete_type->dt_type) {
		case MAILMIME_DISCRETE_TYPE_TEXT:
			name = "text";
			break;
		case MAILMIME_DISCRETE_TYPE_APPLICATION:
			name = "application";
			break;
		case MAILMIME_DISCRETE_TYPE_EXTENSION:
			name = t->tp_data.tp_discrete_type->dt_extension;
			break;
		default:
			break;
		}
	} else if (t->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
		   t->tp_data.tp_composite_type != NULL) {
		switch (t->tp_data.tp_composite_type->ct_type) {
		case MAILMIME_COMPOSITE_TYPE_MESSAGE:
			name = "message";
			break;
		case MAILMIME_COMPOSITE_TYPE_MULTIPART:
			name = "multipart";
			break;
		default:
			name = t->tp_data.tp_composite_type->ct_token;
			break;
		}
	}
	return name != NULL && ct->ct_subtype != NULL && strcasecmp(name, type) == 0 &&
	       strcasecmp(ct->ct_subtype, subtype) == 0;
}

/* part_body: the body of MM (a leaf, or a message part read raw) decoded
 * from its transfer encoding (at most PART_MAX bytes of it read) and, with
 * CONVERT, from its charset to UTF-8, into OUT. 0, or -1 without a body. */
static int part_body(struct mailmime *mm, int convert, struct span *out)
{
	struct mailmime_data *d = mm->mm_body;
	const char *charset;
	char *conv = NULL;
	size_t n, dlen = 0, clen = 0;
	int enc = MAILMIME_MECHANISM_8BIT;

	memset(out, 0, sizeof(*out));
	if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT || d->dt_data.dt_text.dt_data == NULL)
		return -1;
	n = d->dt_data.dt_text.dt_length < PART_MAX ? d->dt_data.dt_text.dt_length : PART_MAX;
	out->p = d->dt_data.dt_text.dt_data;
	out->n = n;
	if (mm->mm_mime_fields != NULL)
		enc = mailmime_transfer_encoding_get(mm->mm_mime_fields);
	if (enc == MAILMIME_MECHANISM_QUOTED_PRINTABLE || enc == MAILMIME_MECHANISM_BASE64) {
		out->own = mime_decode_body(out->p, n, enc, &dlen);
		if (out->own == NULL)
			return -1;
		out->p = out->own;
		out->n = dlen;
	}
	charset = convert && mm->mm_content_type != NULL
		      ? mailmime_content_charset_get(mm->mm_content_type)
		      : NULL;
	if (charset != NULL && strcasecmp(charset, "utf-8") != 0 &&
	    strcasecmp(charset, "us-ascii") != 0 &&
	    charconv_buffer("utf-8", charset, out->p, out->n, &conv, &clen) ==
		MAIL_CHARCONV_NO_ERROR) {
		free(out->own);
		out->own = xmalloc(clen + 1);
		memcpy(out->own, conv, clen);
		out->own[clen] = '\0';
		charconv_buffer_free(conv);
		out->p = out->own;
		out->n = clen;
	}
	return 0;
}

static void leaf(struct ctx *c, struct mailmime *mm)
{
	const struct mailmime_content *ct = mm->mm_content_type;

	if (ct_is(ct, "message", "delivery-status") ||
	    ct_is(ct, "message", "global-delivery-status")) {
		if (c->ndsn < DSN_PARTS && part_body(mm, 0, &c->dsn[c->ndsn]) == 0)
			c->ndsn++;
	} else if (ct_is(ct, "message", "feedback-report")) {
		if (!c->has_arf && part_body(mm, 0, &c->arf) == 0)
			c->has_arf = 1;
	} else if (ct_is(ct, "text", "rfc822-headers") || ct_is(ct, "message", "rfc822") ||
		   ct_is(ct, "message", "global") || ct_is(ct, "message", "global-headers") ||
		   ct_is(ct, "message", "rfc822-headers")) {
		if (!c->has_orig && part_body(mm, 0, &c->orig) == 0)
			c->has_orig = 1;
	} else if (ct_is(ct, "text", "plain")) {
		if (c->ntext < TEXT_PARTS && part_body(mm, 1, &c->text[c->ntext]) == 0)
			c->ntext++;
	} else if (ct_is(ct, "text", "html")) {
		if (!c->has_html && part_body(mm, 1, &c->html) == 0)
			c->has_html = 1;
	}
}

/* walk: the parts of MM, DEPTH levels down; not into a returned message. */
static void walk(struct ctx *c, struct mailmime *mm, int depth)
{
	clistiter *it;

	if (mm == NULL || depth > WALK_DEPTH || c->parts >= WALK_PARTS)
		return;
	c->parts++;
	switch (mm->mm_type) {
	case MAILMIME_SINGLE:
		leaf(c, mm);
		break;
	case MAILMIME_MESSAGE:
		if (!c->has_orig && part_body(mm, 0, &c->orig) == 0)
			c->has_orig = 1;
		break;
	case MAILMIME_MULTIPLE:
		if (mm->mm_data.mm_multipart.mm_mp_list == NULL)
			break;
		for (it = clist_begin(mm->mm_data.mm_multipart.mm_mp_list); it != NULL;
		     it = clist_next(it))
			walk(c, clist_content(it), depth + 1);
		break;
	default:
		break;
	}
}

/* ---- text bounces ---- */

/* Lines (after leading punctuation, without case) where the returned
 * message's copy starts. */
static const char *const copy_markers[] = {
    "below this line is a copy of the message",
    "this is a copy of the message",
    "this is a copy of your message",
    "original message follows",
    "original message",
    "the header of the original message",
    "headers of the original message",
    "message headers follow",
    "a copy of the original message",
    "original message header",
    "message text follows",
    "returned message follows",
    "unsent message below",
    "the original message headers",
    "unsent message follows",
    "below is a copy of",
    "enclosed is a copy of",
    "included is a copy of",
    "original mail info",
    "here is a copy of",
    "a copy of the message",
    "message header follows",
    "header of the original",
    "returned message",
    NULL,
};

/* Header fields that start an inline copy (after an empty line), and the
 * MIME part headers that start an attached one (when the raw body is read). */
static const char *const copy_fields[] = {
    "received:", "return-path:", "dkim-signature:", "x-received:", NULL,
};
static const char *const copy_parts[] = {
    "content-type: message/rfc822",
    "content-type: text/rfc822-headers",
    "content-type: message/global",
    "content-type: message/partial",
    NULL,
};

/* Phrases that say the whole text is a delay warning, and those that
 * say it gave up (which win). */
static const char *const delay_phrases[] = {
    "has been delayed",
    "delivery is delayed",
    "has not yet been delivered",
    "not been delivered yet",
    "will be retried",
    "will continue to try",
    "still being retried",
    "warning message only",
    "this is a warning",
    "is a warning only",
    "delivery attempts will continue",
    "could not be delivered for more than",
    "delivery delayed",
    "temporarily delayed",
    "message is delayed",
    "only a temporary failure",
    "do not need to re-send",
    "do not need to resend",
    NULL,
};

static const char *const giveup_phrases[] = {
    "permanent",	   "given up", "giving up", "not going to try again", "fatal",
    "will not be retried", NULL,
};

static const char *const exim_markers[] = {"created automatically by mail delivery software", NULL};
static const char *const qmail_markers[] = {"qmail-send program", "this is the qmail",
					    "wasn't able to deliver your message to the following",
					    NULL};
static const char *const exchange_markers[] = {
    "msexch",
    "microsoft exchange",
    "did not reach the following recipient",
    "delivery has failed to these recipients",
    "could not be reached:",
    "did not reach some or all of the intended recipients",
    NULL};

/* find_cut: where the text S[0..N) stops being the report: the start of the
 * line that marks the returned message's copy, or N; in *COPY where the
 * copy's header section starts (N if none). */
static size_t find_cut(const char *s, size_t n, size_t *copy)
{
	const char *p = s, *e = s + n;
	int prev_blank = 1;

	while (p < e) {
		size_t step, len = line_at(p, e, &step), k = 0;
		const char *q = p;
		int blank = is_blank_line(p, len), i;

		while (k < len && !is_alnum((unsigned char)q[k]))
			k++;
		for (i = 0; copy_markers[i] != NULL; i++)
			if (k < len && iprefix(q + k, len - k, copy_markers[i])) {
				*copy = (size_t)(p + step - s);
				return (size_t)(p - s);
			}
		for (i = 0; prev_blank && copy_fields[i] != NULL; i++)
			if (iprefix(p, len, copy_fields[i])) {
				*copy = (size_t)(p - s);
				return (size_t)(p - s);
			}
		for (i = 0; copy_parts[i] != NULL; i++)
			if (iprefix(p, len, copy_parts[i])) {
				*copy = (size_t)(p + step - s);
				return (size_t)(p - s);
			}
		prev_blank = blank;
		p += step;
	}
	*copy = n;
	return n;
}

/* strong_at: 1 if the address at S[AT] on the line starting at S[LS]
 * stands where a recipient is named: first on the line (after blanks and
 * punctuation), after "RCPT TO:", after a phrase and ':' (not a header
 * name such as To: or From:), or after the word "to". */
static int strong_at(const char *s, size_t ls, size_t at)
{
	static const char *const headers[] = {
	    "to",	   "from",	    "cc", "bcc", "sender",	  "reply-to",
	    "return-path", "mailto",	    "by", "for", "envelope-from", "delivered-to",
	    "errors-to",   "x-original-to", NULL};
	size_t e = at, i, w, we;
	int colon;

	while (e > ls && (s[e - 1] == '\0' || in_set(s[e - 1], " \t<\"'([")))
		e--;
	for (i = ls; i < e && !is_alnum((unsigned char)s[i]) && (unsigned char)s[i] < 0x80; i++)
		;
	if (i == e)
		return 1; /* only ASCII punctuation before it */
	if (isuffix(s + ls, e - ls, "rcpt to:"))
		return 1;
	colon = s[e - 1] == ':';
	we = colon ? e - 1 : e;
	while (we > ls && is_wsp((unsigned char)s[we - 1]))
		we--;
	for (w = we; w > ls && (is_alnum((unsigned char)s[w - 1]) || s[w - 1] == '-'); w--)
		;
	if (!colon)
		return we - w == 2 && iprefix(s + w, 2, "to");
	for (i = 0; headers[i] != NULL; i++)
		if (strlen(headers[i]) == we - w && iprefix(s + w, we - w, headers[i]))
			return 0;
	return 1;
}

/* One mention of an address in a text. */
struct occ {
	size_t line, at, end; /* its line's start, its bounds */
	int cand;	      /* index into the candidates */
	int strong;	      /* where a recipient is named (strong_at) */
};

/* Which mentions name recipients: strong ones, any, strong ones of the
 * bounce's own addresses (when nothing else is named: sender and recipient
 * can be the same), or every one (to find an X-Failed-Recipients address). */
enum mode { MODE_STRONG, MODE_ANY, MODE_EXCLUDED, MODE_ALL };

/* What a stretch of text says. */
struct said {
	char status[DSN_STATUS_MAX];
	int code;
	enum dsn_class phrase;
};

struct tscan {
	const char *s;
	size_t n;
	struct said all; /* what the whole text says, once whole_said ran */
	size_t all_at;	 /* where its status or code is (N if nowhere) */
	int all_done;
	struct occ occ[OCC_MAX];
	size_t nocc;
	char cand[DSN_RCPT_MAX][ADDRESS_MAX + 1];
	int excluded[DSN_RCPT_MAX];
	size_t ncand;
	int more; /* candidates beyond DSN_RCPT_MAX */
};

/* is_msgid_line: 1 if the line at S (N bytes to the end) is a field whose
 * addresses are no text's recipients: message identifiers (which look like
 * addresses), and report fields (read as fields when they are usable). */
static int is_msgid_line(const char *s, size_t n)
{
	static const char *const names[] = {
	    "message-id:",
	    "in-reply-to:",
	    "references:",
	    "x-original-message-id:",
	    "original-envelope-id:",
	    "final-recipient:",
	    "original-recipient:",
	    "x-actual-recipient:",
	    "x-postfix-sender:",
	    "original-mail-from:",
	    "original-rcpt-to:",
	    "removal-recipient:",
	    NULL,
	};
	size_t i;

	while (n > 0 && (is_wsp((unsigned char)*s) || *s == '>')) {
		s++;
		n--;
	}
	for (i = 0; names[i] != NULL; i++)
		if (iprefix(s, n, names[i]))
			return 1;
	return 0;
}

/* collect: every address mentioned in T's text as a candidate (marked when
 * it is one of the bounce's own), each mention as an occurrence. */
static void collect(struct ctx *c, struct tscan *t)
{
	const char *s = t->s;
	size_t ls = 0, i, a, b, k;
	char addr[ADDRESS_MAX + 1] = "";

	for (i = 0; i < t->n && t->nocc < OCC_MAX; i++) {
		if (s[i] == '\n') {
			ls = i + 1;
			continue;
		}
		if (s[i] != '@' || addr_at(s, t->n, i, addr, &a, &b) < 0)
			continue;
		i = b - 1;
		if (is_msgid_line(s + ls, t->n - ls))
			continue;
		for (k = 0; k < t->ncand && strcasecmp(t->cand[k], addr) != 0; k++)
			;
		if (k == t->ncand) {
			if (t->ncand == DSN_RCPT_MAX) {
				t->more = 1;
				continue;
			}
			memcpy(t->cand[t->ncand], addr, sizeof(addr));
			t->excluded[t->ncand++] = addrs_has(&c->exclude, addr);
		}
		t->occ[t->nocc].line = ls;
		t->occ[t->nocc].at = a;
		t->occ[t->nocc].end = b;
		t->occ[t->nocc].cand = (int)k;
		t->occ[t->nocc].strong = strong_at(s, ls, a);
		t->nocc++;
	}
}

/* counts: 1 if the mention O names a recipient in MODE. */
static int counts(const struct tscan *t, const struct occ *o, enum mode mode)
{
	int excl = t->excluded[o->cand];

	switch (mode) {
	case MODE_STRONG:
		return o->strong && !excl;
	case MODE_ANY:
		return !excl;
	case MODE_EXCLUDED:
		return o->strong;
	default:
		return 1;
	}
}

/* text_class: the status, SMTP code and phrases of S[0..N) into *ST; the
 * offset of the first status or code (N if none) returned. */
static size_t text_class(const char *s, size_t n, struct said *st)
{
	size_t at_status = find_status(s, n, "45", st->status), at_code;

	st->code = find_code(s, n, &at_code);
	st->phrase = phrase_class(s, n);
	return at_status < at_code ? at_status : at_code;
}

/* line_start: the start of the line of S holding AT, not before FROM. */
static size_t line_start(const char *s, size_t from, size_t at)
{
	while (at > from && s[at - 1] != '\n')
		at--;
	return at;
}

/* whole_said: what T's whole text says (read once); its status's or
 * code's offset returned. */
static size_t whole_said(struct tscan *t, struct said *st)
{
	if (!t->all_done) {
		t->all_at = text_class(t->s, t->n, &t->all);
		t->all_done = 1;
	}
	*st = t->all;
	return t->all_at;
}

/*
 * one_rcpt: the recipient ADDR of T's text, whose candidate is K (-1 if not
 * mentioned): its diagnostic runs from its first mention that counts in
 * MODE to the line of the next one of another address (for MODE_ALL: the
 * next strong one); its status, code
 * and phrases are read there, else in the whole text. The diagnostic shown
 * starts at the line of the status or code, else after the address.
 */
static void one_rcpt(struct ctx *c, struct tscan *t, const char *addr, int k, enum mode mode,
		     enum dsn_kind action)
{
	const char *s = t->s;
	size_t i, start = 0, end = t->n, from;
	struct said st;
	char diag[DSN_DIAG_MAX] = "";
	int found = 0;

	enum mode bound = mode == MODE_ALL ? MODE_STRONG : mode;

	for (i = 0; i < t->nocc && k >= 0; i++) {
		if (!found && t->occ[i].cand == k && counts(t, &t->occ[i], mode)) {
			found = 1;
			start = t->occ[i].end;
		} else if (found && t->occ[i].cand != k && counts(t, &t->occ[i], bound)) {
			end = t->occ[i].line > start ? t->occ[i].line : start;
			break;
		}
	}
	from = found ? start + text_class(s + start, end - start, &st) : whole_said(t, &st);
	from = from < end ? line_start(s, start, from) : found ? start : end;
	if (found && st.status[0] == '\0' && st.code == 0 && st.phrase == DSN_CLASS_NONE)
		(void)whole_said(t, &st); /* the class the whole text says; the
					   * diagnostic stays the address's */
	while (from < end && (s[from] == '\0' || in_set(s[from], " \t\r\n:>.")))
		from++;
	put(diag, sizeof(diag), s + from, end - from);
	add_rcpt(c, addr, action, classify(action, st.status, st.code, st.phrase), st.status, diag);
}

/* text_rcpts: the recipients T's text names: those mentioned where a
 * recipient is named, else anywhere, else the bounce's own addresses where
 * a recipient is named. */
static void text_rcpts(struct ctx *c, struct tscan *t, enum dsn_kind action)
{
	static const enum mode modes[] = {MODE_STRONG, MODE_ANY, MODE_EXCLUDED};
	int named[DSN_RCPT_MAX];
	size_t m, i;
	int any;

	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		memset(named, 0, sizeof(named));
		any = 0;
		for (i = 0; i < t->nocc; i++)
			if (counts(t, &t->occ[i], modes[m]))
				any = named[t->occ[i].cand] = 1;
		if (!any)
			continue;
		for (i = 0; i < t->ncand; i++)
			if (named[i])
				one_rcpt(c, t, t->cand[i], (int)i, modes[m], action);
		c->out->truncated |= t->more;
		return;
	}
}

/* xfailed_rcpts: the addresses of X-Failed-Recipients, each read in T. */
static void xfailed_rcpts(struct ctx *c, struct tscan *t, enum dsn_kind action)
{
	const char *v = c->xfailed;
	size_t n = strlen(v), i, a, b, k;
	char addr[ADDRESS_MAX + 1] = "";

	for (i = 0; i < n; i++) {
		if (v[i] != '@' || addr_at(v, n, i, addr, &a, &b) < 0)
			continue;
		i = b - 1;
		if (c->out->n == DSN_RCPT_MAX) {
			c->out->truncated = 1;
			return;
		}
		for (k = 0; k < t->ncand && strcasecmp(t->cand[k], addr) != 0; k++)
			;
		one_rcpt(c, t, addr, k < t->ncand ? (int)k : -1, MODE_ALL, action);
	}
}

/* has_dsn_lines: 1 if a line of S[0..N) starts with Final-Recipient: or
 * Original-Recipient: (a report whose MIME structure broke). */
static int has_dsn_lines(const char *s, size_t n)
{
	const char *p = s, *e = s + n;

	while (p < e) {
		size_t step, len = line_at(p, e, &step);
		if (iprefix(p, len, "final-recipient:") || iprefix(p, len, "original-recipient:"))
			return 1;
		p += step;
	}
	return 0;
}

static enum dsn_form text_form(const char *norm, size_t nn)
{
	return any_of(norm, nn, exim_markers)	    ? DSN_FORM_EXIM
	       : any_of(norm, nn, qmail_markers)    ? DSN_FORM_QMAIL
	       : any_of(norm, nn, exchange_markers) ? DSN_FORM_EXCHANGE
						    : DSN_FORM_TEXT;
}

/* read_text: the recipients the text S[0..N) names; 1 if it named any. */
static int read_text(struct ctx *c, const char *s, size_t n)
{
	size_t cut, copy, nn;
	struct tscan *t;
	enum dsn_kind action;
	char *norm;

	if (n > TEXT_MAX)
		n = TEXT_MAX;
	cut = find_cut(s, n, &copy);
	norm = normalise(s, cut, &nn);
	if (!(c->robot || c->report_ct || c->bounce_subject || c->xfailed != NULL)) {
		free(norm);
		return 0; /* nothing says bounce: a person's text names addresses too */
	}
	if (has_dsn_lines(s, cut)) {
		dsn_fields(c, s, cut);
		if (c->out->n > 0) {
			free(norm);
			c->out->form = DSN_FORM_RFC3464;
			return 1;
		}
	}
	action = (any_of(norm, nn, delay_phrases) || strstr(c->subject, "delay") != NULL ||
		  strncmp(c->subject, "warning:", 8) == 0) &&
			 !any_of(norm, nn, giveup_phrases)
		     ? DSN_DELAYED
		     : DSN_FAILED;
	t = xcalloc(1, sizeof(*t));
	t->s = s;
	t->n = cut;
	collect(c, t);
	if (c->xfailed != NULL)
		xfailed_rcpts(c, t, action);
	else
		text_rcpts(c, t, action);
	free(t);
	if (c->out->n > 0) {
		c->out->form = text_form(norm, nn);
		if (!c->has_orig && copy < n)
			orig_headers(c, s + copy, n - copy);
	}
	free(norm);
	return c->out->n > 0;
}

/* html_text: the HTML S[0..N) as text: tags dropped (a line end for those
 * that end a line), the common entities decoded; malloc'd, *OUTLEN. */
static char *html_text(const char *s, size_t n, size_t *outlen)
{
	static const struct {
		const char *name, *text;
	} ents[] = {{"&lt;", "<"},   {"&gt;", ">"},  {"&amp;", "&"}, {"&quot;", "\""},
		    {"&nbsp;", " "}, {"&#64;", "@"}, {"&#39;", "'"}};
	char *out = xmalloc(n + 1);
	size_t i = 0, o = 0, k;

	while (i < n) {
		if (s[i] == '<') {
			const char *gt = memchr(s + i, '>', n - i);
			size_t tl = gt != NULL ? (size_t)(gt - (s + i)) + 1 : n - i;
			if (iprefix(s + i, tl, "<br") || iprefix(s + i, tl, "<p") ||
			    iprefix(s + i, tl, "</p") || iprefix(s + i, tl, "<div") ||
			    iprefix(s + i, tl, "</div") || iprefix(s + i, tl, "<tr") ||
			    iprefix(s + i, tl, "<li") || iprefix(s + i, tl, "</h"))
				out[o++] = '\n';
			i += tl;
			continue;
		}
		if (s[i] == '&') {
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
				if (iprefix(s + i, n - i, ents[k].name))
					break;
			if (k < sizeof(ents) / sizeof(ents[0])) {
				out[o++] = ents[k].text[0];
				i += strlen(ents[k].name);
				continue;
			}
		}
		out[o++] = s[i++];
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static int read_texts(struct ctx *c)
{
	int i, done = 0;

	for (i = 0; i < c->ntext && !done; i++)
		done = read_ses(c, c->text[i].p, c->text[i].n) ||
		       read_text(c, c->text[i].p, c->text[i].n);
	if (!done && c->ntext == 0 && c->has_html) {
		size_t n;
		char *t = html_text(c->html.p, c->html.n, &n);
		done = read_text(c, t, n);
		free(t);
	}
	if (!done && c->body_len > 0 && c->ndsn == 0) {
		/* a MIME structure libetpan could not follow (a boundary that
		 * never comes, a parameter on a line of its own): the raw body;
		 * not when it found the delivery-status part and it named nobody */
		done = read_text(c, c->body, c->body_len);
	}
	if (!done && c->xfailed != NULL) {
		/* X-Failed-Recipients and no text that names anyone */
		done = read_text(c, "", 0);
	}
	return done;
}

/* ---- the whole ---- */

static void finish(struct ctx *c)
{
	struct dsn_report *r = c->out;
	size_t i;
	int failed = 0, delayed = 0, delivered = 0;

	for (i = 0; i < r->n; i++) {
		failed |= r->rcpt[i].action == DSN_FAILED;
		delayed |= r->rcpt[i].action == DSN_DELAYED;
		delivered |= r->rcpt[i].action == DSN_DELIVERED;
	}
	r->kind = c->complaint ? DSN_COMPLAINT
		  : failed     ? DSN_FAILED
		  : delayed    ? DSN_DELAYED
		  : delivered  ? DSN_DELIVERED
			       : DSN_NONE;
	if (r->kind == DSN_NONE) {
		memset(r, 0, sizeof(*r));
		return;
	}
	snprintf(r->orig_message_id, sizeof(r->orig_message_id), "%s", c->orig_id);
}

int dsn_parse(const char *raw, size_t len, struct dsn_report *out)
{
	char err[128] = "";
	struct ctx *c;
	struct mailmime *mime = NULL;
	size_t idx = 0;
	int i;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (raw != NULL && len > 5 && memcmp(raw, "From ", 5) == 0) {
		/* an mbox separator line: libetpan would take it for the body */
		const char *nl = memchr(raw, '\n', len);
		len = nl != NULL ? len - (size_t)(nl + 1 - raw) : 0;
		raw = nl != NULL ? nl + 1 : raw + len;
	}
	if (raw == NULL || out == NULL || len > DSN_INPUT_MAX ||
	    message_check_structure(raw, len, MESSAGE_MIME_DEPTH_MAX, err, sizeof(err)) < 0)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->out = out;
	top_headers(c, raw, len);
	if (mailmime_parse(raw, len, &idx, &mime) == MAILIMF_NO_ERROR && mime != NULL) {
		if (mime->mm_type == MAILMIME_MESSAGE)
			walk(c, mime->mm_data.mm_message.mm_msg_mime, 0);
		else
			walk(c, mime, 0);
	}
	if (c->has_orig)
		orig_headers(c, c->orig.p, c->orig.n);
	if (!read_arf(c)) {
		for (i = 0; i < c->ndsn; i++)
			dsn_fields(c, c->dsn[i].p, c->dsn[i].n);
		if (out->n > 0)
			out->form = DSN_FORM_RFC3464;
		else if (!c->autoreply_subject || c->robot || c->report_ct)
			read_texts(c);
	}
	finish(c);
	if (mime != NULL)
		mailmime_free(mime);
	ctx_free(c);
	return 0;
}

const char *dsn_kind_name(enum dsn_kind k)
{
	static const char *const names[] = {"none", "failed", "delayed", "delivered", "complaint"};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

const char *dsn_class_name(enum dsn_class c)
{
	static const char *const names[] = {"none", "hard", "soft"};

	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

const char *dsn_form_name(enum dsn_form f)
{
	static const char *const names[] = {"none",  "rfc3464",	 "arf",	 "exim",
					    "qmail", "exchange", "text", "ses"};

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}
