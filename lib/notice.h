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
};

/* notice_compose: the message, CRLF line ends; malloc'd, its length in
 * *LEN. */
char *notice_compose(const struct notice_msg *m, size_t *len);

/* notice_msgid: a new unique "<parley.TIME.RANDOM@HOST>" into OUT. */
void notice_msgid(const struct config *cfg, long long now, char *out, size_t len);

#endif
