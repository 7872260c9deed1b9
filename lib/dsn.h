/*
 * dsn.h - what a message that came back to a list's bounce address reports:
 * which recipients failed (hard or soft), were delayed, were delivered, or
 * complained. Reads RFC 3464 delivery status notifications (and RFC 6533's
 * global ones), RFC 5965 abuse feedback reports, and the non-standard
 * bounces common in the wild (Exim, qmail, Exchange, Gmail, Yahoo, Postfix
 * without DSN, plain "user unknown" texts).
 *
 * A pure function over bytes: no database, no daemon state, no logging, no
 * global mutable state. It never reads past the length it is given, never
 * recurses without a depth bound, runs in time and memory linear in its
 * input, and hands out only bounded, NUL-terminated, printable UTF-8. What
 * it says is a hint to weigh, not a proof: a bounce is unauthenticated mail,
 * and the daemon identifies the copy that bounced by the token in the bounce
 * address, not by anything read here.
 */
#ifndef PARLEY_DSN_H
#define PARLEY_DSN_H

#include <stddef.h>

#include "address.h"

#define DSN_RCPT_MAX	 100	     /* recipients kept; more set truncated */
#define DSN_STATUS_MAX	 16	     /* "5.1.1" and its NUL */
#define DSN_DIAG_MAX	 256	     /* a diagnostic, cut at a character boundary */
#define DSN_ID_MAX	 256	     /* a Message-ID with its <>: longer ones are dropped */
#define DSN_MTA_MAX	 256	     /* a Reporting-MTA name */
#define DSN_FEEDBACK_MAX 32	     /* an ARF Feedback-Type */
#define DSN_INPUT_MAX	 (64u << 20) /* larger messages are refused */

enum dsn_kind {
	DSN_NONE,      /* not a report understood here (or an auto-reply, RFC 3834) */
	DSN_FAILED,    /* delivery failed for good (action "failed") */
	DSN_DELAYED,   /* still being retried: a warning, counts for nothing yet */
	DSN_DELIVERED, /* delivered, relayed or expanded: counts for nothing */
	DSN_COMPLAINT, /* an ARF feedback report (or a look-alike: see dsn.c) */
};

enum dsn_class {
	DSN_CLASS_NONE, /* not a failure (delivered, complaint) */
	DSN_HARD,	/* permanent: the address does not work */
	DSN_SOFT,	/* transient: mailbox full, over quota, try later */
};

/* Which reader recognised the report. */
enum dsn_form {
	DSN_FORM_NONE,
	DSN_FORM_RFC3464,  /* delivery-status fields (in a MIME part or, broken, in the text) */
	DSN_FORM_ARF,	   /* feedback report (RFC 5965 or a known look-alike) */
	DSN_FORM_EXIM,	   /* "This message was created automatically by mail delivery software" */
	DSN_FORM_QMAIL,	   /* "This is the qmail-send program" */
	DSN_FORM_EXCHANGE, /* Microsoft Exchange's text ("did not reach the following recipient") */
	DSN_FORM_TEXT,	   /* any other text bounce (Gmail, Yahoo, Postfix, X-Failed-Recipients) */
	DSN_FORM_SES,	   /* an Amazon SES / SNS notification (JSON) */
};

struct dsn_rcpt {
	char addr[ADDRESS_MAX + 1];  /* normalised (address.h); the Original-Recipient
				      * when a DSN gives one, else the Final-Recipient */
	enum dsn_kind action;	     /* FAILED, DELAYED, DELIVERED or COMPLAINT */
	enum dsn_class cls;	     /* HARD or SOFT iff FAILED; SOFT if DELAYED; else NONE */
	char status[DSN_STATUS_MAX]; /* "5.1.1" (RFC 3463), or "" when none was given */
	char diag[DSN_DIAG_MAX];     /* Diagnostic-Code (after its type) or the text line,
				      * one line of printable UTF-8, or "" */
};

struct dsn_report {
	enum dsn_kind kind; /* FAILED if any recipient failed, else DELAYED if any was
			     * delayed, else DELIVERED if any was; COMPLAINT for a
			     * feedback report (even with no recipient known); NONE
			     * otherwise, and then n is 0 */
	enum dsn_form form; /* NONE iff kind is NONE */
	size_t n;	    /* recipients in rcpt[], at most DSN_RCPT_MAX */
	int truncated;	    /* 1 if the report named more recipients than that */
	struct dsn_rcpt rcpt[DSN_RCPT_MAX];
	char feedback_type[DSN_FEEDBACK_MAX]; /* ARF: "abuse", "fraud", ... lower case, or "" */
	char orig_message_id[DSN_ID_MAX];     /* "<id>" of the returned message, or "" */
	char reporting_mta[DSN_MTA_MAX];      /* Reporting-MTA without its type, or "" */
};

/*
 * dsn_parse: read RAW (LEN bytes, the whole message as received, need not
 * be NUL-terminated) into OUT, which is cleared first. Returns 0 when the
 * message was read (OUT->kind may be DSN_NONE: not a report understood
 * here), or -1 when it is refused unread: RAW or OUT NULL, LEN above
 * DSN_INPUT_MAX, or a MIME structure message_check_structure() refuses
 * (nesting deeper than MESSAGE_MIME_DEPTH_MAX, a NUL in a header ...); OUT is
 * then all DSN_NONE. OUT is large (about 55 KiB): do not put it on a small
 * thread stack. Allocates only while parsing, frees all before returning;
 * aborts only if memory runs out (xalloc.h). Thread-safe.
 */
int dsn_parse(const char *raw, size_t len, struct dsn_report *out);

/* dsn_kind_name, dsn_class_name, dsn_form_name: a static lower-case name
 * ("failed", "hard", "exim" ...; "none" for NONE and "?" for a value out of
 * range), for logs and tests. */
const char *dsn_kind_name(enum dsn_kind k);
const char *dsn_class_name(enum dsn_class c);
const char *dsn_form_name(enum dsn_form f);

#endif
