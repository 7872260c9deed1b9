/*
 * notice.c - parley's own messages (see notice.h). Must never emit a header
 * line over 998 octets, raw 8-bit header text, or a body whose encoding
 * does not match its label; and never leave out Auto-Submitted or X-Loop.
 */
#include "autoconf.h"

#include "notice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "mailfmt.h"
#include "xalloc.h"

#define SUBJECT_MAX 400 /* bytes of a notice's subject */
#define NAME_MAX_ 200	/* bytes of a display name */
#define BODY_LINE_MAX 76

void notice_msgid(const struct config *cfg, long long now, char *out, size_t len)
{
	unsigned char r[9];
	char host[256], hex[2 * sizeof(r) + 1];
	size_t i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0, sizeof(r));
	for (i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	config_hostname(cfg, host, sizeof(host));
	snprintf(out, len, "<parley.%llx.%s@%s>", (unsigned long long)now, hex, host);
}

/* mailbox_out: "Name" <addr> (or the bare address) as the value of NAME. */
static void mailbox_field(struct mbuf *out, const char *name, const char *dname,
			  const char *addr)
{
	struct mbuf v = {0};
	char *clean = dname != NULL ? mailfmt_clean(dname, NAME_MAX_) : NULL;

	if (clean != NULL && clean[0] != '\0') {
		mailfmt_phrase(&v, clean);
		mbuf_str(&v, " ");
	}
	mbuf_str(&v, "<");
	mbuf_str(&v, addr);
	mbuf_str(&v, ">");
	(void)mailfmt_field(out, name, v.p);
	mbuf_free(&v);
	free(clean);
}

static void to_field(struct mbuf *out, const struct strv *to)
{
	struct mbuf v = {0};
	size_t i;

	for (i = 0; i < to->n; i++) {
		if (i > 0)
			mbuf_str(&v, ", ");
		mbuf_str(&v, to->v[i]);
	}
	(void)mailfmt_field(out, "To", v.p != NULL ? v.p : "undisclosed-recipients:;");
	mbuf_free(&v);
}

static void subject_field(struct mbuf *out, const char *subject)
{
	struct mbuf v = {0};
	char *clean = mailfmt_clean(subject, SUBJECT_MAX);

	mbuf_add(&v, "", 0);
	mailfmt_unstructured(&v, clean);
	(void)mailfmt_field(out, "Subject", v.p);
	mbuf_free(&v);
	free(clean);
}

/* plain_ok: can BODY go as it is (7bit: ASCII, short lines)? */
static int plain_ok(const char *body)
{
	size_t col = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)body; *p; p++) {
		if (*p >= 0x80 || (*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
			return 0;
		col = *p == '\n' ? 0 : col + 1;
		if (col > BODY_LINE_MAX)
			return 0;
	}
	return 1;
}

/* body_out: BODY with CRLF line ends, ending in one. */
static void body_out(struct mbuf *out, const char *body, int plain)
{
	const char *p = body, *nl;

	if (!plain) {
		mailfmt_qp(out, body, strlen(body));
		if (out->n < 2 || out->p[out->n - 1] != '\n')
			mbuf_add(out, "\r\n", 2);
		return;
	}
	while (*p != '\0') {
		nl = strchr(p, '\n');
		mbuf_add(out, p, nl ? (size_t)(nl - p) : strlen(p));
		mbuf_add(out, "\r\n", 2);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* msgid_ok: "<...>" of visible ASCII, short enough to cite. */
static int msgid_ok(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0, i;

	if (n < 3 || n > 900 || id[0] != '<' || id[n - 1] != '>')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
			return 0;
	return 1;
}

/* attach_boundary: a boundary that the attached message does not contain
 * (made of its Message-ID's random part, lengthened until it is unique). */
static void attach_boundary(const struct notice_msg *m, char *out, size_t len)
{
	unsigned long h = 5381;
	const char *p;
	int i;

	for (p = m->msgid ? m->msgid : ""; *p; p++)
		h = h * 33 + (unsigned char)*p;
	for (i = 0; i < 100; i++, h = h * 33 + 7) {
		snprintf(out, len, "=_parley_%lx_%d", h, i);
		if (memmem(m->attach, m->attach_len, out, strlen(out)) == NULL)
			return;
	}
}

/* attach_out: the message/rfc822 part and the closing boundary. */
static void attach_out(struct mbuf *out, const struct notice_msg *m)
{
	char boundary[80];

	attach_boundary(m, boundary, sizeof(boundary));
	mbuf_str(out, "\r\n--");
	mbuf_str(out, boundary);
	mbuf_str(out, "\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n"
		      "Content-Transfer-Encoding: 8bit\r\n\r\n");
	mbuf_add(out, m->attach, m->attach_len);
	if (m->attach_len < 2 || memcmp(m->attach + m->attach_len - 2, "\r\n", 2) != 0)
		mbuf_str(out, "\r\n");
	mbuf_str(out, "--");
	mbuf_str(out, boundary);
	mbuf_str(out, "--\r\n");
}

char *notice_compose(const struct notice_msg *m, size_t *len)
{
	struct mbuf out = {0};
	char date[64];
	int plain = plain_ok(m->body);

	mailfmt_date(m->date, date, sizeof(date));
	(void)mailfmt_field(&out, "Date", date);
	mailbox_field(&out, "From", m->from_name, m->from_addr);
	to_field(&out, m->to);
	if (m->reply_to != NULL)
		mailbox_field(&out, "Reply-To", NULL, m->reply_to);
	subject_field(&out, m->subject);
	(void)mailfmt_field(&out, "Message-ID", m->msgid);
	if (msgid_ok(m->in_reply_to)) {
		(void)mailfmt_field(&out, "In-Reply-To", m->in_reply_to);
		(void)mailfmt_field(&out, "References", m->in_reply_to);
	}
	(void)mailfmt_field(&out, "Auto-Submitted", m->auto_submitted);
	(void)mailfmt_field(&out, "X-Loop", m->list->address);
	(void)mailfmt_field(&out, "Precedence", "bulk");
	(void)mailfmt_field(&out, "MIME-Version", "1.0");
	if (m->attach != NULL) {
		char boundary[80], ct[120];
		attach_boundary(m, boundary, sizeof(boundary));
		snprintf(ct, sizeof(ct), "multipart/mixed; boundary=\"%s\"", boundary);
		(void)mailfmt_field(&out, "Content-Type", ct);
		mbuf_str(&out, "\r\nThis is a message in MIME format.\r\n\r\n--");
		mbuf_str(&out, boundary);
		mbuf_str(&out, "\r\n");
	}
	(void)mailfmt_field(&out, "Content-Type",
			    plain ? "text/plain; charset=us-ascii" : "text/plain; charset=utf-8");
	(void)mailfmt_field(&out, "Content-Transfer-Encoding", plain ? "7bit" : "quoted-printable");
	mbuf_add(&out, "\r\n", 2);
	body_out(&out, m->body, plain);
	if (m->attach != NULL)
		attach_out(&out, m);
	*len = out.n;
	return out.p;
}

/* relay_kept: a field of the relayed message that goes along: its subject,
 * date, threading and MIME structure; never its addresses, routing,
 * signatures or list fields. */
static int relay_kept(const char *f, size_t n)
{
	static const char *const kept[] = {"Subject:",	   "Date:",	  "In-Reply-To:",
					   "References:",  "MIME-Version:", "Content-",
					   NULL};
	const char *const *k;

	for (k = kept; *k; k++)
		if (n >= strlen(*k) && strncasecmp(f, *k, strlen(*k)) == 0)
			return 1;
	return 0;
}

char *notice_relay(const struct notice_relay *r, size_t *len)
{
	struct mbuf out = {0};
	const char *p = r->raw, *end = r->raw + r->len, *body = end;

	mailbox_field(&out, "From", r->from_name, r->from_addr);
	to_field(&out, r->to);
	mailbox_field(&out, "Reply-To", r->reply_name, r->reply_to);
	(void)mailfmt_field(&out, "Message-ID", r->msgid);
	(void)mailfmt_field(&out, "X-Loop", r->list->address);
	while (p < end) {
		const char *f = p, *nl;
		int keep;
		if (*p == '\r' || *p == '\n') {	/* the empty line */
			body = p + (*p == '\r' && p + 1 < end && p[1] == '\n' ? 2 : 1);
			break;
		}
		do {	/* one field with its continuation lines */
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
		} while (p < end && (*p == ' ' || *p == '\t'));
		keep = relay_kept(f, (size_t)(p - f));
		if (keep)
			mbuf_add(&out, f, (size_t)(p - f));
	}
	mbuf_add(&out, "\r\n", 2);
	if (body < end)
		mbuf_add(&out, body, (size_t)(end - body));
	*len = out.n;
	return out.p;
}
