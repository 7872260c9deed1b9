/*
 * notice.h - composes the messages parley writes itself: a request to an
 * author to confirm a post, a note to a list's owners about a held message.
 * Plain text (UTF-8, quoted-printable when needed), with the headers that
 * keep them out of loops: Auto-Submitted (RFC 3834), X-Loop naming the list.
 * They go out with the null envelope sender, so nothing ever answers them.
 *
 * Pure functions of their inputs but for notice_msgid (random bytes); no
 * store, no clock, no network.
 */
#ifndef PARLEY_NOTICE_H
#define PARLEY_NOTICE_H

#include <stddef.h>

#include "config.h"
#include "strv.h"

struct notice_msg {
	const struct cfg_list *list;	/* X-Loop (its address) */
	const char *from_name;		/* UTF-8 display name, or NULL */
	const char *from_addr;
	const struct strv *to;		/* at least one address */
	const char *reply_to;		/* or NULL */
	const char *subject;		/* UTF-8, one line */
	const char *msgid;		/* "<...>" */
	const char *in_reply_to;	/* "<...>" the message it is about, or NULL */
	const char *auto_submitted;	/* "auto-replied" or "auto-generated" */
	long long date;
	const char *body;		/* UTF-8 text, LF line ends */
	const char *attach;		/* a message to attach (message/rfc822), or NULL */
	size_t attach_len;
};

/* notice_compose: the message, CRLF line ends; malloc'd, its length in
 * *LEN. With ATTACH, a multipart/mixed of the text and the message. */
char *notice_compose(const struct notice_msg *m, size_t *len);

/* A message relayed to someone (the owners, a post's author) as it came,
 * From rewritten to the list (DMARC) and the sender in Reply-To. */
struct notice_relay {
	const struct cfg_list *list;	/* X-Loop */
	const char *from_name;		/* "Sender via L" */
	const char *from_addr;		/* an address of the list */
	const struct strv *to;
	const char *reply_name;		/* or NULL */
	const char *reply_to;		/* the original sender */
	const char *msgid;
	const char *raw;		/* the message as received (CRLF) */
	size_t len;
};

/* notice_relay: the relayed message: our From, To, Reply-To, Message-ID and
 * X-Loop, then its Subject, Date, In-Reply-To, References, MIME-Version and
 * Content-* fields and its body as they came. malloc'd, length in *LEN. */
char *notice_relay(const struct notice_relay *r, size_t *len);

/* notice_msgid: a new unique "<parley.TIME.RANDOM@HOST>" into OUT. */
void notice_msgid(const struct config *cfg, long long now, char *out, size_t len);

#endif
