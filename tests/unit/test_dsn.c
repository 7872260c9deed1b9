/*
 * test_dsn.c - the bounce reader (lib/dsn.c): hand-written cases for each
 * RFC 3464 field rule (folding, comments, case, CRLF and LF, several
 * recipients, delayed, relayed, a missing Status or Action, utf-8 address
 * types, over-long fields, more recipients than the cap), each other form
 * (ARF, Exim, qmail, Exchange, Gmail, Yahoo, Postfix without DSN, plain
 * texts, SES), auto-replies and people's mail that must stay DSN_NONE,
 * refused and truncated input and garbage; every report is held to dsn.h's
 * promises (dsn_check.h). Then the corpora: the sisimai bounces, each form
 * counted, with floors and golden cases checked by hand, and the ordinary
 * mail of tests/corpus/mime and replies-talon, none of which may be taken
 * for a report. Every message is handed over in a buffer of exactly its
 * length, so a read past LEN shows under ASan. Reads only files under
 * TESTS_SRCDIR; never writes.
 */
#include "autoconf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "dsn_check.h"
#include "mailfmt.h"
#include "mime_nested.h"
#include "tap.h"

static struct dsn_report r;

/* run: dsn_parse of S[0..LEN) from an exact-size copy into R, the report
 * held to dsn.h's promises (a failed promise is a failed test). */
static int run(const char *s, size_t len)
{
	char *m = malloc(len ? len : 1);
	const char *why;
	int rc;

	if (m == NULL)
		exit(99);
	memcpy(m, s, len);
	rc = dsn_parse(m, len, &r);
	free(m);
	if ((why = dsn_check_report(&r)) != NULL)
		ok(0, "dsn.h's promises kept: %s", why);
	return rc;
}

static int run_str(const char *s)
{
	return run(s, strlen(s));
}

/* crlf: S with every LF made CRLF, into B (freed by the caller). */
static const char *crlf(struct mbuf *b, const char *s)
{
	for (; *s != '\0'; s++)
		mbuf_add(b, *s == '\n' ? "\r\n" : s, *s == '\n' ? 2 : 1);
	return b->p;
}

/* ---- RFC 3464 ---- */

#define DSN_HEAD                                                                                   \
	"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"                              \
	"To: dev-bounces+t0k3n@lists.example.org\n"                                                \
	"Subject: Undelivered Mail Returned to Sender\n"                                           \
	"MIME-Version: 1.0\n"                                                                      \
	"Content-Type: multipart/report; report-type=delivery-status;\n"                           \
	"\tboundary=\"BB\"\n"                                                                      \
	"\n"                                                                                       \
	"--BB\n"                                                                                   \
	"Content-Type: text/plain\n"                                                               \
	"\n"                                                                                       \
	"The mail system\n"                                                                        \
	"\n"                                                                                       \
	"--BB\n"
#define DSN_TAIL                                                                                   \
	"\n--BB\n"                                                                                 \
	"Content-Type: text/rfc822-headers\n"                                                      \
	"\n"                                                                                       \
	"Message-ID: <post-1@lists.example.org>\n"                                                 \
	"From: alice@example.org\n"                                                                \
	"To: dev@lists.example.org\n"                                                              \
	"Subject: Fence\n"                                                                         \
	"\n"                                                                                       \
	"--BB--\n"

/* dsn_message: a report whose delivery-status part (of TYPE) holds FIELDS,
 * into B. */
static const char *dsn_message(struct mbuf *b, const char *type, const char *fields)
{
	mbuf_str(b, DSN_HEAD);
	mbuf_str(b, "Content-Type: ");
	mbuf_str(b, type);
	mbuf_str(b, "\n\nReporting-MTA: dns; mx.example.net\n\n");
	mbuf_str(b, fields);
	mbuf_str(b, DSN_TAIL);
	return b->p;
}

struct want {
	const char *addr;
	enum dsn_kind action;
	enum dsn_class cls;
	const char *status;
	const char *diag; /* NULL: not checked */
};

static const struct {
	const char *name, *fields;
	enum dsn_kind kind;
	size_t n;
	struct want w[3];
} fields[] = {
    {"one recipient",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.1.1\n"
     "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>... User unknown\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1",
       "550 5.1.1 <bob@example.com>... User unknown"}}},
    {"a folded Diagnostic-Code is unfolded",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.1.1\n"
     "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach\n"
     "    does not exist.\n\tPlease try again\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1",
       "550-5.1.1 The email account that you tried to reach does not exist. Please try again"}}},
    {"a folded Final-Recipient",
     "Final-Recipient:\n rfc822;\n\tbob@example.com\nAction: failed\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", ""}}},
    {"comments in Final-Recipient, Action and Status",
     "Final-Recipient: rfc822; bob@example.com (Bob (the builder))\n"
     "Action: failed (bad destination mailbox address)\nStatus: 5.1.1 (user unknown)\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", ""}}},
    {"names and values without case; the domain lower-cased",
     "final-recipient: RFC822; Bob@Example.COM\nACTION: Failed\nstatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"Bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", ""}}},
    {"an address in <>",
     "Final-Recipient: rfc822; <bob@example.com>\nAction: failed\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", NULL}}},
    {"three recipients: failed, delayed, delivered",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.1.1\n\n"
     "Final-Recipient: rfc822; carol@example.com\nAction: delayed\nStatus: 4.4.1\n"
     "Diagnostic-Code: X-Postfix; connect to mx.example.com: Connection timed out\n\n"
     "Final-Recipient: rfc822; dave@example.com\nAction: delivered\nStatus: 2.0.0\n",
     DSN_FAILED,
     3,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", ""},
      {"carol@example.com", DSN_DELAYED, DSN_SOFT, "4.4.1",
       "connect to mx.example.com: Connection timed out"},
      {"dave@example.com", DSN_DELIVERED, DSN_CLASS_NONE, "2.0.0", ""}}},
    {"delayed only",
     "Final-Recipient: rfc822; carol@example.com\nAction: delayed\nStatus: 4.4.7\n"
     "Will-Retry-Until: Fri, 5 Dec 2026 10:00:00 +0000\n",
     DSN_DELAYED,
     1,
     {{"carol@example.com", DSN_DELAYED, DSN_SOFT, "4.4.7", NULL}}},
    {"relayed counts for nothing",
     "Final-Recipient: rfc822; dave@example.com\nAction: relayed\nStatus: 2.0.0\n",
     DSN_DELIVERED,
     1,
     {{"dave@example.com", DSN_DELIVERED, DSN_CLASS_NONE, "2.0.0", NULL}}},
    {"expanded counts for nothing",
     "Final-Recipient: rfc822; dave@example.com\nAction: expanded (to 3 recipients)\n"
     "Status: 2.0.0\n",
     DSN_DELIVERED,
     1,
     {{"dave@example.com", DSN_DELIVERED, DSN_CLASS_NONE, "2.0.0", NULL}}},
    {"missing Status: taken from the Diagnostic-Code",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\n"
     "Diagnostic-Code: smtp; 550 5.2.1 mailbox disabled\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.2.1", "550 5.2.1 mailbox disabled"}}},
    {"missing Status: a 452 reply is soft",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\n"
     "Diagnostic-Code: smtp; 452 Requested action not taken: insufficient system storage\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "", NULL}}},
    {"missing Status: a 552 reply saying mailbox full is soft",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\n"
     "Diagnostic-Code: smtp; 552 Mailbox full\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "", NULL}}},
    {"missing Status: a 550 reply is hard",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\n"
     "Diagnostic-Code: smtp; 550 Requested action not taken\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "", NULL}}},
    {"missing Status and code: \"over quota\" is soft",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\n"
     "Diagnostic-Code: X-Local; user is over quota\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "", "user is over quota"}}},
    {"missing Status and code: \"no such user\" is hard",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\n"
     "Diagnostic-Code: X-Local; no such user here\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "", NULL}}},
    {"missing Status and Diagnostic-Code: failed is hard",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "", ""}}},
    {"missing Action, Status 4.x.x: delayed",
     "Final-Recipient: rfc822; bob@example.com\nStatus: 4.2.2\n",
     DSN_DELAYED,
     1,
     {{"bob@example.com", DSN_DELAYED, DSN_SOFT, "4.2.2", NULL}}},
    {"missing Action, Status 5.x.x: failed",
     "Final-Recipient: rfc822; bob@example.com\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", NULL}}},
    {"an unknown Action comes from the Status",
     "Final-Recipient: rfc822; bob@example.com\nAction: bounced\nStatus: 2.1.5\n",
     DSN_DELIVERED,
     1,
     {{"bob@example.com", DSN_DELIVERED, DSN_CLASS_NONE, "2.1.5", NULL}}},
    {"5.2.2 (mailbox full) is soft: RFC 3463's persistent transient",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.2.2\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "5.2.2", NULL}}},
    {"5.3.1 (mail system full) is soft",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.3.1\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "5.3.1", NULL}}},
    {"5.2.1 is hard",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.2.1\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.2.1", NULL}}},
    {"a failed 4.4.7 (expired) is soft",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 4.4.7\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "4.4.7", NULL}}},
    {"the Status wins over a 5xx in the diagnostic",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 4.0.0\n"
     "Diagnostic-Code: smtp; 550 try later\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "4.0.0", NULL}}},
    {"no empty line between groups",
     "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n"
     "Final-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.2.2\n",
     DSN_FAILED,
     2,
     {{"a@example.com", DSN_FAILED, DSN_HARD, "5.1.1", NULL},
      {"b@example.com", DSN_FAILED, DSN_SOFT, "5.2.2", NULL}}},
    {"the Original-Recipient is the address the list sent to",
     "Original-Recipient: rfc822; alias@example.com\nFinal-Recipient: rfc822; real@example.net\n"
     "Action: failed\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"alias@example.com", DSN_FAILED, DSN_HARD, "5.1.1", NULL}}},
    {"Final- then Original-Recipient (Postfix's order): one group",
     "Final-Recipient: rfc822; real@example.net\nOriginal-Recipient: rfc822;alias@example.com\n"
     "Action: failed\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"alias@example.com", DSN_FAILED, DSN_HARD, "5.1.1", NULL}}},
    {"Action before the recipient (SES's order): one group",
     "Action: failed\nFinal-Recipient: rfc822; bob@example.com\n"
     "Original-Recipient: rfc822; bob@example.com\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\n"
     "Status: 5.2.2\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "5.2.2", "552 5.2.2 Mailbox full"}}},
    {"an unusable Original-Recipient leaves the Final-Recipient",
     "Final-Recipient: rfc822; \"neko..nyaan\"@example.org\n"
     "Original-Recipient: rfc822;neko..nyaan@example.org\nAction: failed\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"\"neko..nyaan\"@example.org", DSN_FAILED, DSN_HARD, "5.1.1", NULL}}},
    {"utf-8 address type with an ASCII address",
     "Final-Recipient: utf-8; bob@example.com\nAction: failed\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", NULL}}},
    {"utf-8 address type, RFC 6533 \\x{HEX} decoded",
     "Final-Recipient: utf-8; j\\x{F6}rg@example.org\nAction: failed\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"j\xc3\xb6rg@example.org", DSN_FAILED, DSN_HARD, "5.1.1", NULL}}},
    {"utf-8 address type, raw UTF-8",
     "Final-Recipient: utf-8; j\xc3\xb6rg@Example.ORG\nAction: failed\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"j\xc3\xb6rg@example.org", DSN_FAILED, DSN_HARD, "5.1.1", NULL}}},
    {"X-Actual-Recipient and unknown fields are ignored",
     "Final-Recipient: rfc822; bob@example.com\nX-Actual-Recipient: rfc822; |/bin/true\n"
     "X-Nonsense: whatever\nAction: failed\nStatus: 5.5.0\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.5.0", NULL}}},
    {"the same address twice is listed once, failed first",
     "Final-Recipient: rfc822; bob@example.com\nAction: delayed\nStatus: 4.4.1\n\n"
     "Final-Recipient: rfc822; BOB@example.com\nAction: failed\nStatus: 5.1.1\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", NULL}}},
    {"controls, bidi overrides and bad UTF-8 in a diagnostic are cleaned",
     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.1.1\n"
     "Diagnostic-Code: smtp; 550 a\x1b[2Jb \xe2\x80\xae"
     "c\xc2\x85"
     "d \xff"
     "e\x7f"
     "f\n",
     DSN_FAILED,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1",
       "550 a [2Jb c d \xef\xbf\xbd"
       "e f"}}},
    /* not recipients */
    {"a group with a recipient only is not one",
     "Final-Recipient: rfc822; bob@example.com\n",
     DSN_NONE,
     0,
     {{NULL, 0, 0, NULL, NULL}}},
    {"not an address",
     "Final-Recipient: rfc822; bob\nAction: failed\nStatus: 5.1.1\n",
     DSN_NONE,
     0,
     {{NULL, 0, 0, NULL, NULL}}},
    {"a control in a utf-8 address",
     "Final-Recipient: utf-8; b\\x{7}ob@example.com\nAction: failed\nStatus: 5.1.1\n",
     DSN_NONE,
     0,
     {{NULL, 0, 0, NULL, NULL}}},
    {"a U+202E in a utf-8 address",
     "Final-Recipient: utf-8; b\xe2\x80\xae"
     "ob@example.com\nAction: failed\nStatus: 5.1.1\n",
     DSN_NONE,
     0,
     {{NULL, 0, 0, NULL, NULL}}},
};

static void check_want(const struct want *w, size_t i, const char *name)
{
	const struct dsn_rcpt *p = &r.rcpt[i];

	is_str(p->addr, w->addr, "%s: recipient %zu address", name, i);
	is_int(p->action, w->action, "%s: recipient %zu %s", name, i, dsn_kind_name(w->action));
	is_int(p->cls, w->cls, "%s: recipient %zu %s", name, i, dsn_class_name(w->cls));
	is_str(p->status, w->status, "%s: recipient %zu status", name, i);
	if (w->diag != NULL)
		is_str(p->diag, w->diag, "%s: recipient %zu diagnostic", name, i);
}

static void test_fields(void)
{
	size_t i, k;
	int pass;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		for (pass = 0; pass < 2; pass++) {
			struct mbuf lf = {0}, cr = {0};
			const char *m =
			    dsn_message(&lf, "message/delivery-status", fields[i].fields);
			char name[200];

			snprintf(name, sizeof(name), "%s (%s)", fields[i].name,
				 pass ? "CRLF" : "LF");
			if (pass)
				m = crlf(&cr, m);
			is_int(run_str(m), 0, "%s: read", name);
			is_int(r.kind, fields[i].kind, "%s: %s", name,
			       dsn_kind_name(fields[i].kind));
			is_int(r.n, fields[i].n, "%s: %zu recipients", name, fields[i].n);
			if (fields[i].kind != DSN_NONE) {
				is_int(r.form, DSN_FORM_RFC3464, "%s: form rfc3464", name);
				is_str(r.reporting_mta, "mx.example.net", "%s: Reporting-MTA",
				       name);
				is_str(r.orig_message_id, "<post-1@lists.example.org>",
				       "%s: the returned message's Message-ID", name);
			}
			for (k = 0; k < fields[i].n && k < r.n; k++)
				check_want(&fields[i].w[k], k, name);
			mbuf_free(&lf);
			mbuf_free(&cr);
		}
}

static void test_field_bounds(void)
{
	struct mbuf b = {0}, f = {0};
	size_t i;
	char line[128];

	/* a 10 KiB Diagnostic-Code, folded */
	mbuf_str(&f, "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.1.1\n"
		     "Diagnostic-Code: smtp; 550 5.1.1 ");
	for (i = 0; i < 200; i++)
		mbuf_str(&f, "user unknown, really unknown, not here at all\n ");
	mbuf_str(&f, "end\n");
	run_str(dsn_message(&b, "message/delivery-status", f.p));
	ok(r.n == 1 && strlen(r.rcpt[0].diag) < DSN_DIAG_MAX &&
	       strncmp(r.rcpt[0].diag, "550 5.1.1 user unknown, really", 30) == 0,
	   "a 10 KiB Diagnostic-Code is cut to %d bytes: %zu", DSN_DIAG_MAX - 1,
	   strlen(r.rcpt[0].diag));
	mbuf_free(&b);
	mbuf_free(&f);

	/* a 1000-byte Reporting-MTA and a 300-byte local part */
	mbuf_str(&f, "Final-Recipient: rfc822; ");
	for (i = 0; i < 300; i++)
		mbuf_str(&f, "x");
	mbuf_str(&f, "@example.com\nAction: failed\nStatus: 5.1.1\n\n"
		     "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.1.1\n");
	mbuf_str(&b, DSN_HEAD "Content-Type: message/delivery-status\n\nReporting-MTA: dns; ");
	for (i = 0; i < 1000; i++)
		mbuf_str(&b, "m");
	mbuf_str(&b, "\n\n");
	mbuf_str(&b, f.p);
	mbuf_str(&b, DSN_TAIL);
	run(b.p, b.n);
	is_int(r.n, 1, "a 300-byte local part is not an address; the next group is read");
	is_str(r.rcpt[0].addr, "bob@example.com", "the next group's recipient");
	is_int(strlen(r.reporting_mta), DSN_MTA_MAX - 1, "a 1000-byte Reporting-MTA is cut");
	mbuf_free(&b);
	mbuf_free(&f);

	/* a 400-byte Message-ID is dropped, not cut */
	mbuf_str(&b, DSN_HEAD "Content-Type: message/delivery-status\n\n"
			      "Final-Recipient: rfc822; bob@example.com\nAction: failed\n"
			      "Status: 5.1.1\n\n--BB\nContent-Type: text/rfc822-headers\n\n"
			      "Message-ID: <");
	for (i = 0; i < 400; i++)
		mbuf_str(&b, "i");
	mbuf_str(&b, "@example.org>\n\n--BB--\n");
	run(b.p, b.n);
	ok(r.n == 1 && r.orig_message_id[0] == '\0', "a Message-ID longer than %d is dropped",
	   DSN_ID_MAX - 1);
	mbuf_free(&b);

	/* 150 recipients: the first 100 kept, truncated said */
	for (i = 0; i < 150; i++) {
		snprintf(line, sizeof(line),
			 "Final-Recipient: rfc822; user%zu@example.com\nAction: failed\n"
			 "Status: 5.1.1\n\n",
			 i);
		mbuf_str(&f, line);
	}
	run_str(dsn_message(&b, "message/delivery-status", f.p));
	is_int(r.n, DSN_RCPT_MAX, "150 recipients: %d kept", DSN_RCPT_MAX);
	is_int(r.truncated, 1, "150 recipients: truncated");
	is_str(r.rcpt[DSN_RCPT_MAX - 1].addr, "user99@example.com", "the first ones are kept");
	mbuf_free(&b);
	mbuf_free(&f);

	/* message/global-delivery-status (RFC 6533) */
	run_str(dsn_message(&b, "message/global-delivery-status",
			    "Final-Recipient: utf-8; \xe7\x94\xa8\xe6\x88\xb7@example.cn\n"
			    "Action: failed\nStatus: 5.1.1\n"
			    "Diagnostic-Code: smtp; 550 5.1.1 \xe7\x94\xa8\xe6\x88\xb7 unknown\n"));
	ok(r.kind == DSN_FAILED && r.n == 1 &&
	       strcmp(r.rcpt[0].addr, "\xe7\x94\xa8\xe6\x88\xb7@example.cn") == 0 &&
	       strcmp(r.rcpt[0].diag, "550 5.1.1 \xe7\x94\xa8\xe6\x88\xb7 unknown") == 0,
	   "message/global-delivery-status with a UTF-8 address and diagnostic");
	mbuf_free(&b);
}

/* ---- the other forms ---- */

static const struct {
	const char *name, *msg;
	enum dsn_kind kind;
	enum dsn_form form;
	size_t n;
	struct want w[2];
	const char *feedback, *msgid;
} forms[] = {
    {"ARF: Original-Rcpt-To",
     "From: <feedback@arf.example.net>\nTo: abuse@lists.example.org\nSubject: FW: Fence\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\n\n"
     "--A\nContent-Type: text/plain\n\nThis is an email abuse report.\n\n"
     "--A\nContent-Type: message/feedback-report\n\nFeedback-Type: Abuse\n"
     "User-Agent: SomeGenerator/1.0\nVersion: 1\nOriginal-Mail-From: "
     "<dev-bounces@lists.example.org>\n"
     "Original-Rcpt-To: <bob@example.com>\nReporting-MTA: dns; arf.example.net\n\n"
     "--A\nContent-Type: message/rfc822\n\nMessage-ID: <post-7@lists.example.org>\n"
     "From: alice@example.org\nTo: dev@lists.example.org\nSubject: Fence\n\nhello\n--A--\n",
     DSN_COMPLAINT,
     DSN_FORM_ARF,
     1,
     {{"bob@example.com", DSN_COMPLAINT, DSN_CLASS_NONE, "", ""}},
     "abuse",
     "<post-7@lists.example.org>"},
    {"ARF: Removal-Recipient wins over Original-Rcpt-To",
     "From: <feedback@arf.example.net>\nSubject: report\nMIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\n\n"
     "--A\nContent-Type: text/plain\n\nreport\n\n"
     "--A\nContent-Type: message/feedback-report\n\nFeedback-Type: fraud\n"
     "Original-Rcpt-To: <bob@example.com>\nRemoval-Recipient: carol@example.com\n\n--A--\n",
     DSN_COMPLAINT,
     DSN_FORM_ARF,
     1,
     {{"carol@example.com", DSN_COMPLAINT, DSN_CLASS_NONE, "", ""}},
     "fraud",
     ""},
    {"ARF: neither: the returned message's To",
     "From: <feedback@arf.example.net>\nSubject: report\nMIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\n\n"
     "--A\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n\n"
     "--A\nContent-Type: text/rfc822-headers\n\nTo: Bob <bob@example.com>\n"
     "Message-ID: <p@example.org>\n\n--A--\n",
     DSN_COMPLAINT,
     DSN_FORM_ARF,
     1,
     {{"bob@example.com", DSN_COMPLAINT, DSN_CLASS_NONE, "", ""}},
     "abuse",
     "<p@example.org>"},
    {"ARF: nobody named is still a complaint",
     "From: <feedback@arf.example.net>\nSubject: report\nMIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\n\n"
     "--A\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n\n--A--\n",
     DSN_COMPLAINT,
     DSN_FORM_ARF,
     0,
     {{NULL, 0, 0, NULL, NULL}},
     "abuse",
     ""},
    {"Exim, X-Failed-Recipients",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Mail delivery failed: returning message to sender\n"
     "X-Failed-Recipients: bob@example.com,\n carol@example.com\n"
     "Auto-Submitted: auto-replied\n\n"
     "This message was created automatically by mail delivery software.\n\n"
     "A message that you sent could not be delivered to one or more of its\n"
     "recipients. This is a permanent error. The following address(es) failed:\n\n"
     "  bob@example.com\n"
     "    SMTP error from remote mail server after RCPT TO:<bob@example.com>:\n"
     "    host mx.example.com [192.0.2.1]: 550 5.1.1 <bob@example.com>... User unknown\n"
     "  carol@example.com\n"
     "    SMTP error from remote mail server after MAIL "
     "FROM:<dev-bounces+t0k3n@lists.example.org>:\n"
     "    host mx.example.com [192.0.2.1]: 452 4.2.2 Mailbox full\n\n"
     "------ This is a copy of the message, including all the headers. ------\n\n"
     "Return-path: <dev-bounces+t0k3n@lists.example.org>\n"
     "Message-Id: <post-9@lists.example.org>\nFrom: alice@example.org\n"
     "To: dev@lists.example.org\n\nhello\n",
     DSN_FAILED,
     DSN_FORM_EXIM,
     2,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1",
       "host mx.example.com [192.0.2.1]: 550 5.1.1 <bob@example.com>... User unknown"},
      {"carol@example.com", DSN_FAILED, DSN_SOFT, "4.2.2",
       "host mx.example.com [192.0.2.1]: 452 4.2.2 Mailbox full"}},
     "",
     "<post-9@lists.example.org>"},
    {"Exim, delayed",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Warning: message 1abc-000 delayed 24 hours\n\n"
     "This message was created automatically by mail delivery software.\n"
     "A message that you sent has not yet been delivered to one or more of its\n"
     "recipients after more than 24 hours on the queue on mx.example.net.\n\n"
     "The address to which the message has not yet been delivered is:\n\n"
     "  bob@example.com\n    Delay reason: SMTP error from remote mail server after RCPT TO:\n"
     "    host mx.example.com [192.0.2.1]: 451 Temporary local problem\n\n"
     "No action is required on your part. Delivery attempts will continue for\n"
     "some time, and this warning may be repeated at intervals if the message\n"
     "remains undelivered. Eventually the mail delivery software will give up.\n",
     DSN_DELAYED,
     DSN_FORM_EXIM,
     1,
     {{"bob@example.com", DSN_DELAYED, DSN_SOFT, "", NULL}},
     "",
     ""},
    {"qmail, two recipients",
     "From: MAILER-DAEMON@mx.example.net\nTo: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: failure notice\n\n"
     "Hi. This is the qmail-send program at mx.example.net.\n"
     "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
     "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
     "<bob@example.com>:\n192.0.2.1 does not like recipient.\n"
     "Remote host said: 550 5.1.1 <bob@example.com>... User Unknown\n"
     "Giving up on 192.0.2.1.\n\n"
     "<carol@example.com>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
     "--- Below this line is a copy of the message.\n\n"
     "Return-Path: <dev-bounces+t0k3n@lists.example.org>\nMessage-ID: <q@lists.example.org>\n"
     "To: dev@lists.example.org\n\nhello\n",
     DSN_FAILED,
     DSN_FORM_QMAIL,
     2,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1",
       "Remote host said: 550 5.1.1 <bob@example.com>... User Unknown Giving up on 192.0.2.1."},
      {"carol@example.com", DSN_FAILED, DSN_HARD, "5.1.1",
       "Sorry, no mailbox here by that name. (#5.1.1)"}},
     "",
     "<q@lists.example.org>"},
    {"Exchange 2003",
     "From: System Administrator <postmaster@ex.example.net>\n"
     "To: dev-bounces+t0k3n@lists.example.org\nSubject: Undeliverable: Fence\n"
     "Content-Type: text/plain\n\n"
     "Your message\n\n  To:      dev@lists.example.org\n  Subject: Fence\n"
     "  Sent:    Thu, 29 Apr 2010 00:00:00 -0000\n\n"
     "did not reach the following recipient(s):\n\n"
     "bob@example.com on Thu, 29 Apr 2010 00:00:00 -0000\n"
     "    The recipient name is not recognized\n"
     "    MSEXCH:IMS:NNN:EXAMPLE:EX 0 (000C05A6) Unknown Recipient\n",
     DSN_FAILED,
     DSN_FORM_EXCHANGE,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "", NULL}},
     "",
     ""},
    {"a Message-ID in the report text is no recipient",
     "From: System Administrator <postmaster@ex.example.net>\n"
     "To: dev-bounces+t0k3n@lists.example.org\nSubject: Undeliverable: Fence\n\n"
     "Your message\n\n  Message-ID: <1234.5678@lists.example.org>\n  Subject: Fence\n\n"
     "did not reach the following recipient(s):\n\n"
     "bob@example.com on Thu, 29 Apr 2010 00:00:00 -0000\n"
     "    The recipient name is not recognized\n",
     DSN_FAILED,
     DSN_FORM_EXCHANGE,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "", NULL}},
     "",
     ""},
    {"Gmail, delayed",
     "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
     "To: dev-bounces+t0k3n@lists.example.org\nSubject: Delivery Status Notification (Delay)\n\n"
     "This is an automatically generated Delivery Status Notification\n\n"
     "THIS IS A WARNING MESSAGE ONLY.\n\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\n"
     "Delivery to the following recipient has been delayed:\n\n     bob@example.com\n\n"
     "Message will be retried for 2 more day(s)\n\n"
     "Technical details of temporary failure:\n"
     "The recipient server did not accept our requests to connect.\n\n"
     "----- Original message -----\n\nMessage-ID: <g@lists.example.org>\n",
     DSN_DELAYED,
     DSN_FORM_TEXT,
     1,
     {{"bob@example.com", DSN_DELAYED, DSN_SOFT, "", NULL}},
     "",
     "<g@lists.example.org>"},
    {"Yahoo",
     "From: MAILER-DAEMON@yahoo.example.com\nTo: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Failure Notice\n\n"
     "Sorry, we were unable to deliver your message to the following address.\n\n"
     "<bob@example.com>:\nRemote host said: 550 5.2.2 <bob@example.com>... Mailbox Full\n"
     "[RCPT_TO]\n\n--- Below this line is a copy of the message.\n\nReceived: x\n",
     DSN_FAILED,
     DSN_FORM_TEXT,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "5.2.2", NULL}},
     "",
     ""},
    {"Postfix without a DSN part",
     "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
     "To: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Undelivered Mail Returned to Sender\n\n"
     "This is the mail system at host mx.example.net.\n\n"
     "I'm sorry to have to inform you that your message could not\n"
     "be delivered to one or more recipients. It's attached below.\n\n"
     "                   The mail system\n\n"
     "<bob@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1\n"
     "    <bob@example.com>: Recipient address rejected: User unknown in local\n"
     "    recipient table (in reply to RCPT TO command)\n",
     DSN_FAILED,
     DSN_FORM_TEXT,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", NULL}},
     "",
     ""},
    {"plain text: mailbox full",
     "From: MAILER-DAEMON@mx.example.net\nTo: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Returned mail: Nyaan\n\n"
     "User's mailbox is full: <bob@example.com>\nUnable to deliver mail.\n",
     DSN_FAILED,
     DSN_FORM_TEXT,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "", "Unable to deliver mail."}},
     "",
     ""},
    {"plain text: quota exceeded",
     "From: postmaster@mx.example.net\nTo: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Undeliverable Mail\n\n"
     "Delivery failed: bob@example.com\nQuota exceeded.\n",
     DSN_FAILED,
     DSN_FORM_TEXT,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_SOFT, "", "Quota exceeded."}},
     "",
     ""},
    {"plain text: user unknown",
     "From: postmaster@mx.example.net\nTo: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Undeliverable Mail\n\n"
     "Unknown user: bob@example.com\n\nOriginal message follows.\n\n"
     "From: alice@example.org\nMessage-ID: <u@lists.example.org>\n",
     DSN_FAILED,
     DSN_FORM_TEXT,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "", NULL}},
     "",
     "<u@lists.example.org>"},
    {"plain text: the bounce's own addresses are not recipients",
     "From: MAILER-DAEMON@mx.example.net\nTo: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Returned mail: User unknown\n\n"
     "A message sent by\n  <dev-bounces+t0k3n@lists.example.org>\n"
     "could not be delivered to:\n  bob@example.com\nbecause: user unknown\n",
     DSN_FAILED,
     DSN_FORM_TEXT,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "", NULL}},
     "",
     ""},
    {"DSN fields in a report whose boundary never comes",
     "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
     "Subject: Returned mail: Service unavailable\nMIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"nowhere\"\n\n"
     "   ----- The following addresses had permanent fatal errors -----\n<bob@example.com>\n\n"
     "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: RFC822; <bob@example.com>\n"
     "Action: failed\nStatus: 5.5.0\n\nReturn-Path: <dev-bounces@lists.example.org>\n",
     DSN_FAILED,
     DSN_FORM_RFC3464,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.5.0", NULL}},
     "",
     ""},
    {"an mbox From line first",
     "From MAILER-DAEMON Thu Apr 29 23:34:45 2010\n"
     "From: MAILER-DAEMON@mx.example.net\nSubject: failure notice\n"
     "Received: from mx (mx [192.0.2.1]) by x for\n  carol@example.com; Thu, 29 Apr 2010\n\n"
     "Hi. This is the qmail-send program at mx.example.net.\n\n"
     "<bob@example.com>:\nSorry, no mailbox here by that name. (#5.1.1)\n",
     DSN_FAILED,
     DSN_FORM_QMAIL,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", NULL}},
     "",
     ""},
    {"Amazon SES bounce notification",
     "From: no-reply@sns.amazonaws.com\nSubject: AWS Notification Message\n\n"
     "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\","
     "\"bouncedRecipients\":[{\"emailAddress\":\"bob@example.com\",\"action\":\"failed\","
     "\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}],"
     "\"reportingMTA\":\"dsn; a1.smtp-out.amazonses.com\"}}\n",
     DSN_FAILED,
     DSN_FORM_SES,
     1,
     {{"bob@example.com", DSN_FAILED, DSN_HARD, "5.1.1", "smtp; 550 5.1.1 user unknown"}},
     "",
     ""},
    {"Amazon SES complaint in an SNS envelope",
     "From: no-reply@sns.amazonaws.com\nSubject: AWS Notification Message\n\n"
     "{\"Type\" : \"Notification\", \"Message\" : \"{\\\"notificationType\\\":\\\"Complaint\\\","
     "\\\"complaint\\\":{\\\"complainedRecipients\\\":[{\\\"emailAddress\\\":"
     "\\\"bob@example.com\\\"}],\\\"complaintFeedbackType\\\":\\\"abuse\\\"}}\"}\n",
     DSN_COMPLAINT,
     DSN_FORM_SES,
     1,
     {{"bob@example.com", DSN_COMPLAINT, DSN_CLASS_NONE, "", ""}},
     "abuse",
     ""},
    {"Hotmail's complaint look-alike",
     "From: staff@hotmail.com\nSubject: complaint about message from 192.0.2.1\n"
     "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"H\"\n\n"
     "--H\nContent-Type: message/rfc822\n\nX-HmXmrOriginalRecipient: bob@example.com\n"
     "To: dev@lists.example.org\nMessage-ID: <h@lists.example.org>\n\nhello\n--H--\n",
     DSN_COMPLAINT,
     DSN_FORM_ARF,
     1,
     {{"bob@example.com", DSN_COMPLAINT, DSN_CLASS_NONE, "", ""}},
     "abuse",
     "<h@lists.example.org>"},
    {"Apple Mail's unsubscribe",
     "From: bob@icloud.example.com\nTo: dev-unsubscribe@lists.example.org\n"
     "Subject: unsubscribe\nAuto-Submitted: auto-replied\nX-Apple-Unsubscribe: true\n\n"
     "Apple Mail sent this email to unsubscribe from the message.\n",
     DSN_COMPLAINT,
     DSN_FORM_ARF,
     1,
     {{"bob@icloud.example.com", DSN_COMPLAINT, DSN_CLASS_NONE, "", ""}},
     "unsubscribe",
     ""},
    /* not reports */
    {"a vacation auto-reply (RFC 3834)",
     "From: Bob <bob@example.com>\nTo: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Out of Office: Fence\nAuto-Submitted: auto-replied\n\n"
     "I am away until Monday. For urgent matters write to\ncarol@example.com\n",
     DSN_NONE,
     DSN_FORM_NONE,
     0,
     {{NULL, 0, 0, NULL, NULL}},
     "",
     ""},
    {"an auto-reply quoting a bounce",
     "From: Bob <bob@example.com>\nTo: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Automatic reply: Undeliverable: Fence\nAuto-Submitted: auto-replied\n\n"
     "Your message could not be delivered to\ncarol@example.com\nUser unknown\n",
     DSN_NONE,
     DSN_FORM_NONE,
     0,
     {{NULL, 0, 0, NULL, NULL}},
     "",
     ""},
    {"a person quoting a bounce",
     "From: Alice <alice@example.org>\nTo: dev-bounces+t0k3n@lists.example.org\n"
     "Subject: Re: Fence\n\nThis came back:\n\n"
     "> This message was created automatically by mail delivery software.\n"
     "> The following address(es) failed:\n>   carol@example.com\n"
     ">     550 5.1.1 User unknown\n",
     DSN_NONE,
     DSN_FORM_NONE,
     0,
     {{NULL, 0, 0, NULL, NULL}},
     "",
     ""},
    {"a person's message naming addresses",
     "From: Alice <alice@example.org>\nTo: dev@lists.example.org\nSubject: Contacts\n\n"
     "bob@example.com\ncarol@example.com: user unknown? 550 5.1.1\n",
     DSN_NONE,
     DSN_FORM_NONE,
     0,
     {{NULL, 0, 0, NULL, NULL}},
     "",
     ""},
    {"a bounce that names nobody",
     "From: MAILER-DAEMON@mx.example.net\nSubject: Returned mail: see transcript\n\n"
     "   ----- Transcript of session follows -----\n421 mx.example.com: Connection timed out\n",
     DSN_NONE,
     DSN_FORM_NONE,
     0,
     {{NULL, 0, 0, NULL, NULL}},
     "",
     ""},
};

static void test_forms(void)
{
	size_t i, k;
	int pass;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		for (pass = 0; pass < 2; pass++) {
			struct mbuf cr = {0};
			const char *m = pass ? crlf(&cr, forms[i].msg) : forms[i].msg;
			char name[200];

			snprintf(name, sizeof(name), "%s (%s)", forms[i].name,
				 pass ? "CRLF" : "LF");
			is_int(run_str(m), 0, "%s: read", name);
			is_int(r.kind, forms[i].kind, "%s: %s", name, dsn_kind_name(forms[i].kind));
			is_str(dsn_form_name(r.form), dsn_form_name(forms[i].form), "%s: form",
			       name);
			is_int(r.n, forms[i].n, "%s: %zu recipients", name, forms[i].n);
			for (k = 0; k < forms[i].n && k < r.n; k++)
				check_want(&forms[i].w[k], k, name);
			is_str(r.feedback_type, forms[i].feedback, "%s: feedback type", name);
			is_str(r.orig_message_id, forms[i].msgid, "%s: returned Message-ID", name);
			mbuf_free(&cr);
		}
}

/* ---- refused, truncated, garbage ---- */

static void test_refused(void)
{
	struct mbuf b = {0};

	is_int(dsn_parse(NULL, 10, &r), -1, "NULL message: refused");
	is_int(dsn_parse("x", 1, NULL), -1, "NULL report: refused");
	is_int(run("", 0), 0, "empty message: read");
	is_int(r.kind, DSN_NONE, "empty message: none");
	mime_nested(&b,
		    "From: MAILER-DAEMON@mx.example.net\r\nSubject: failure notice\r\n"
		    "MIME-Version: 1.0\r\n",
		    101);
	is_int(run(b.p, b.n), -1, "MIME nested 101 deep: refused before libetpan sees it");
	is_int(r.kind, DSN_NONE, "refused: the report is empty");
	mbuf_free(&b);
	mime_nested(&b,
		    "From: MAILER-DAEMON@mx.example.net\r\nSubject: failure notice\r\n"
		    "MIME-Version: 1.0\r\n",
		    100);
	is_int(run(b.p, b.n), 0, "MIME nested 100 deep: read");
	mbuf_free(&b);
	is_int(run_str("From: MAILER-DAEMON@mx.example.net\nSub\0ject: x\n\nbob@example.com\n"), 0,
	       "a NUL in a header (cut by strlen): read");
	is_int(run("From: MAILER-DAEMON@mx.example.net\nSub\0ject: x\n\nbob@example.com\n", 60), -1,
	       "a NUL in a header: refused (message_check)");
}

static void test_truncated(void)
{
	struct mbuf b = {0};
	const char *m = dsn_message(&b, "message/delivery-status",
				    "Final-Recipient: rfc822; bob@example.com\nAction: failed\n"
				    "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 unknown\n");
	size_t len = strlen(m), i, bad = 0, read = 0, full = 0;
	const char *status_end = strstr(m, "Status: 5.1.1\n") + 14;

	for (i = 0; i <= len; i++) {
		int rc = run(m, i);
		if (rc != 0 && rc != -1)
			bad++;
		read += rc == 0;
		if (i >= (size_t)(status_end - m))
			full += r.n == 1 && strcmp(r.rcpt[0].addr, "bob@example.com") == 0 &&
				r.rcpt[0].cls == DSN_HARD;
	}
	is_int(bad, 0, "every prefix of a report (%zu of them) is read or refused", len + 1);
	is_int(read, len + 1, "every prefix is read");
	is_int(full, len - (size_t)(status_end - m) + 1,
	       "every prefix that holds the Status yields the recipient");
	mbuf_free(&b);
}

/* garbage: LCG bytes, and LCG mixes of report fragments */
static void test_garbage(void)
{
	static const char *const bits[] = {
	    "Final-Recipient: rfc822; ",
	    "bob@example.com",
	    "\n",
	    "\r\n",
	    "Action: failed\n",
	    "Status: 5.1.1\n",
	    "Diagnostic-Code: smtp; 550 ",
	    "--BB\n",
	    "Content-Type: ",
	    "message/delivery-status\n",
	    "multipart/report; boundary=BB\n",
	    "\n\n",
	    "(",
	    ")",
	    "\\x{",
	    "}",
	    "<",
	    ">",
	    "@",
	    "From: MAILER-DAEMON@x.example\n",
	    "X-Failed-Recipients: ",
	    "message/feedback-report\n",
	    "Feedback-Type: abuse\n",
	    "Original-Rcpt-To: ",
	    "{\"notificationType\":\"Bounce\",\"bouncedRecipients\":[{\"emailAddress\":\"",
	    "\"}]",
	    "\xff",
	    "\xc2\x85",
	    "\xe2\x80\xae",
	    "\0",
	    " ",
	    "\t",
	    ";",
	    "5.2.2 ",
	    "452 ",
	    "This message was created automatically by mail delivery software.\n",
	    "--- Below this line is a copy of the message.\n",
	    "Received: x\n",
	};
	unsigned long seed = 12345;
	size_t i, k, bad = 0;
	char buf[4096];

	for (i = 0; i < 400; i++) {
		size_t n = 0, len;
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		len = (seed >> 33) % sizeof(buf);
		for (k = 0; k < len && n < sizeof(buf); k++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			if (i % 2 == 0) {
				buf[n++] = (char)(seed >> 56);
			} else {
				const char *b =
				    bits[(seed >> 33) % (sizeof(bits) / sizeof(bits[0]))];
				size_t bl = strlen(b) ? strlen(b) : 1;
				if (n + bl > sizeof(buf))
					break;
				memcpy(buf + n, b, bl);
				n += bl;
			}
		}
		if (run(buf, n) == 0 && dsn_check_report(&r) != NULL)
			bad++;
	}
	is_int(bad, 0, "400 garbage inputs: read or refused, promises kept");
}

/* ---- the corpora ---- */

static int is_eml(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && strcmp(d->d_name + n - 4, ".eml") == 0;
}

/* Files of the sisimai corpus read as DSN_NONE, each checked by hand. */
static const char *const sisimai_none[] =
    {
	"lhost-fml-02.eml",  /* a list server's "you are not a member": no bounce */
	"lhost-fml-03.eml",  /* a list server's loop alert: no bounce */
	"lhost-kddi-01.eml", /* KDDI, From: no-reply@, Japanese text only: no header says bounce */
	"lhost-kddi-02.eml",
	"lhost-kddi-03.eml",
	"lhost-postfix-64.eml",	   /* "Delivery report unavailable": names nobody */
	"lhost-sendmail-14.eml",   /* a person forwarding a bounce by hand */
	"lhost-v5sendmail-01.eml", /* the recipient only in the returned copy's To */
	"lhost-verizon-01.eml",	   /* the recipient only in the returned copy's To */
	"lhost-x5-01.eml",	   /* the report is inside the returned message */
	"rfc3834-01.eml",	   /* auto-replies */
	"rfc3834-02.eml",
	"rfc3834-03.eml",
	"rfc3834-04.eml",
	"rfc3834-05.eml",
	NULL,
};

/* Golden cases, each read by hand in the file. */
static const struct {
	const char *file, *addr;
	enum dsn_kind kind;
	enum dsn_class cls;
	const char *status, *msgid;
} golden[] = {
    {"rfc3464-01.eml", "userunknown@bouncehammer.jp", DSN_FAILED, DSN_HARD, "5.1.1",
     "<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>"},
    {"rfc3464-34.eml", "kijitora@example.com", DSN_DELAYED, DSN_SOFT, "4.4.1", NULL},
    {"lhost-postfix-32.eml", "\"neko....nyaan....\"@libsisimai.org", DSN_FAILED, DSN_HARD, "5.1.1",
     NULL},
    {"lhost-receivingses-04.eml", "mailboxfull@neko.example.jp", DSN_FAILED, DSN_SOFT, "5.2.2",
     NULL},
    {"rhost-franceptt-07.eml", "xxxx@wanadoo.fr", DSN_FAILED, DSN_SOFT, "4.0.0", NULL},
    {"lhost-exim-01.eml", "kijitora@example.ed.jp", DSN_FAILED, DSN_HARD, "5.7.0",
     "<E1P1ce6-000Egt-GZ@e1.example.org>"},
    {"lhost-qmail-06.eml", "kijitora@example.jp", DSN_FAILED, DSN_SOFT, "4.2.2", NULL},
    {"lhost-gmail-16.eml", "mailboxfull@bouncehammer.jp", DSN_FAILED, DSN_SOFT, "5.2.2", NULL},
    {"lhost-gmail-06.eml", "kijitora@example.jp", DSN_DELAYED, DSN_SOFT, NULL, NULL},
    {"lhost-yahoo-01.eml", "kijitora@example.org", DSN_FAILED, DSN_HARD, "5.1.1", NULL},
    {"lhost-exchange2003-01.eml", "kijitora@example.jp", DSN_FAILED, DSN_HARD, "", NULL},
    {"lhost-dragonfly-01.eml", "pseudo-local-part@google.example.com", DSN_FAILED, DSN_HARD,
     "5.7.26", NULL},
    {"lhost-imailserver-02.eml", "kijitora@example.co.jp", DSN_FAILED, DSN_SOFT, "", NULL},
    {"lhost-amazonses-09.eml", "bounce@simulator.amazonses.com", DSN_FAILED, DSN_HARD, "5.1.1",
     NULL},
    {"arf-22.eml", "kijitora@example.com", DSN_COMPLAINT, DSN_CLASS_NONE, "", NULL},
    {"arf-26.eml", "example@icloud.com", DSN_COMPLAINT, DSN_CLASS_NONE, "", NULL},
};

static int listed_none(const char *name)
{
	size_t i;

	for (i = 0; sisimai_none[i] != NULL; i++)
		if (strcmp(sisimai_none[i], name) == 0)
			return 1;
	return 0;
}

/* group_of: the corpus group of a file name: "rfc3464", "arf", "rfc3834",
 * "lhost-exim" ... (the name without its number). */
static void group_of(const char *name, char *out, size_t size)
{
	const char *dash = strrchr(name, '-');
	size_t n = dash != NULL ? (size_t)(dash - name) : strlen(name);

	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), name);
}

static int has_class(void)
{
	size_t i;

	for (i = 0; i < r.n; i++)
		if (r.rcpt[i].cls != DSN_CLASS_NONE)
			return 1;
	return 0;
}

static void test_sisimai(void)
{
	const char *src = getenv("TESTS_SRCDIR");
	char dir[4096], path[8192], group[64];
	struct dirent **names;
	int n, i, files = 0, recognised = 0, refused = 0, forms_seen[DSN_FORM_SES + 1] = {0};
	int none_bad = 0, floor_bad = 0, arf_bad = 0, rfc3834_bad = 0, arf = 0, rfc3834 = 0;
	int classed_groups = 0;
	size_t g;

	snprintf(dir, sizeof(dir), "%s/corpus/sisimai", src ? src : "tests");
	if ((n = scandir(dir, &names, is_eml, alphasort)) < 0) {
		ok(0, "read %s", dir);
		return;
	}
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len;
		char *m;
		int rc;

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if ((m = tap_slurp(path, &len)) == NULL) {
			printf("# unreadable: %s\n", path);
			free(names[i]);
			continue;
		}
		rc = run(m, len);
		free(m);
		files++;
		refused += rc != 0;
		recognised += r.kind != DSN_NONE;
		forms_seen[r.form]++;
		group_of(name, group, sizeof(group));
		if ((r.kind == DSN_NONE) != listed_none(name)) {
			printf("# %s: %s, but %s in the list of DSN_NONE files\n", name,
			       dsn_kind_name(r.kind), listed_none(name) ? "is" : "not");
			none_bad++;
		}
		if (strcmp(group, "arf") == 0) {
			arf++;
			if (r.kind != DSN_COMPLAINT) {
				printf("# %s: %s, not a complaint\n", name, dsn_kind_name(r.kind));
				arf_bad++;
			}
		}
		if (strcmp(group, "rfc3834") == 0) {
			rfc3834++;
			if (r.kind != DSN_NONE) {
				printf("# %s: an auto-reply read as %s\n", name,
				       dsn_kind_name(r.kind));
				rfc3834_bad++;
			}
		}
		if (strcmp(group, "rfc3464") == 0 || strcmp(group, "lhost-postfix") == 0 ||
		    strcmp(group, "lhost-sendmail") == 0 || strcmp(group, "lhost-exim") == 0 ||
		    strcmp(group, "lhost-qmail") == 0) {
			classed_groups++;
			/* a "delivered" report has no class; the DSN_NONE list says why */
			if (!has_class() && !listed_none(name) &&
			    strcmp(name, "rfc3464-28.eml") != 0) {
				printf("# %s: no recipient with a class\n", name);
				floor_bad++;
			}
		}
		for (g = 0; g < sizeof(golden) / sizeof(golden[0]); g++) {
			if (strcmp(golden[g].file, name) != 0)
				continue;
			if (!ok(r.kind == golden[g].kind && r.n >= 1 &&
				    strcmp(r.rcpt[0].addr, golden[g].addr) == 0 &&
				    r.rcpt[0].cls == golden[g].cls &&
				    (golden[g].status == NULL ||
				     strcmp(r.rcpt[0].status, golden[g].status) == 0) &&
				    (golden[g].msgid == NULL ||
				     strcmp(r.orig_message_id, golden[g].msgid) == 0),
				"golden %s: %s %s %s %s", name, golden[g].addr,
				dsn_kind_name(golden[g].kind), dsn_class_name(golden[g].cls),
				golden[g].status ? golden[g].status : "") &&
			    r.n >= 1)
				printf("#   got %s %s %s %s %s\n", r.rcpt[0].addr,
				       dsn_kind_name(r.kind), dsn_class_name(r.rcpt[0].cls),
				       r.rcpt[0].status, r.orig_message_id);
		}
		free(names[i]);
	}
	free(names);
	ok(files >= 589, "sisimai corpus read: %d messages", files);
	is_int(refused, 0, "no sisimai message refused");
	printf("# recognised %d of %d (%.1f%%):", recognised, files,
	       files ? 100.0 * recognised / files : 0.0);
	for (i = 0; i <= DSN_FORM_SES; i++)
		printf(" %s %d", dsn_form_name((enum dsn_form)i), forms_seen[i]);
	printf("\n");
	ok(recognised >= 574, "at least 574 of the 589 recognised (measured: %d)", recognised);
	is_int(none_bad, 0, "exactly the listed files are DSN_NONE");
	is_int(arf_bad, 0, "every arf-* (%d) is a complaint", arf);
	is_int(rfc3834_bad, 0, "every rfc3834-* (%d) is DSN_NONE", rfc3834);
	is_int(floor_bad, 0,
	       "every rfc3464, postfix, sendmail, exim, qmail message (%d) has a classed recipient "
	       "(but those listed)",
	       classed_groups);
	ok(forms_seen[DSN_FORM_RFC3464] >= 318 && forms_seen[DSN_FORM_EXIM] >= 60 &&
	       forms_seen[DSN_FORM_QMAIL] >= 25 && forms_seen[DSN_FORM_EXCHANGE] >= 9 &&
	       forms_seen[DSN_FORM_ARF] >= 17 && forms_seen[DSN_FORM_TEXT] >= 130 &&
	       forms_seen[DSN_FORM_SES] >= 5,
	   "each form at its measured floor");
}

/* ordinary: no file of DIR (under corpus/) is read as a report; the count
 * of files read returned. */
static int ordinary(const char *sub, int *reports)
{
	const char *src = getenv("TESTS_SRCDIR");
	char dir[4096], path[8192];
	struct dirent **names;
	int n, i, files = 0;

	snprintf(dir, sizeof(dir), "%s/corpus/%s", src ? src : "tests", sub);
	if ((n = scandir(dir, &names, is_eml, alphasort)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		size_t len;
		char *m;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if ((m = tap_slurp(path, &len)) != NULL) {
			run(m, len);
			files++;
			if (r.kind != DSN_NONE) {
				printf("# %s/%s read as %s\n", sub, names[i]->d_name,
				       dsn_kind_name(r.kind));
				(*reports)++;
			}
			free(m);
		}
		free(names[i]);
	}
	free(names);
	return files;
}

static void test_ordinary(void)
{
	static const char *const dirs[] = {"mime/rfc", "mime/legacy", "mime/thirdparty",
					   "mime/malformed", "replies-talon"};
	int files = 0, reports = 0, k;
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if ((k = ordinary(dirs[i], &reports)) > 0)
			files += k;
	ok(files >= 119, "ordinary mail read: %d messages", files);
	is_int(reports, 0, "no ordinary message is taken for a report");
}

int main(void)
{
	test_fields();
	test_field_bounds();
	test_forms();
	test_refused();
	test_truncated();
	test_garbage();
	test_sisimai();
	test_ordinary();
	return tap_done();
}
