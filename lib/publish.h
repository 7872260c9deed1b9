/*
 * publish.h - makes a message a post or a reply of a list: archived with a
 * list Message-ID of its own (the author's is kept), its quote-trimmed text
 * and what was cut, and its copies queued, inside the caller's transaction.
 * A post is the root of a new thread, copied to every active subscriber who
 * wants posts; a reply goes under its parent, copied by the reply policy
 * (design §3). Shared by ingest and `parley mod approve`. Never decides who
 * may post or reply: callers do.
 */
#ifndef PARLEY_PUBLISH_H
#define PARLEY_PUBLISH_H

#include <stddef.h>

#include "config.h"
#include "message.h"
#include "store.h"

struct publish_in {
	const struct config *cfg;	/* hostname for the Message-ID */
	const struct cfg_list *list;
	const struct message *msg;	/* parsed from RAW */
	const char *raw;		/* the message as received */
	size_t len;
	long long inbound_id;
	const char *author_addr;
	const char *author_name;	/* or NULL */
	long long subscriber_id;	/* the author's subscriber row, or 0 */
	long long now;
	const char *tag;		/* names the message in the log line */
};

/* publish_post: the new archive id, or -1 (the caller rolls back). */
long long publish_post(struct store *st, const struct publish_in *p);

/* publish_reply: P's message archived as a reply to PARENT_ID (a post when
 * PARENT_ID is not of P's list) and its copies queued; the new archive id,
 * or -1. A moderated list's reply is published by this once approved, and
 * then goes to every reader. */
long long publish_reply(struct store *st, const struct publish_in *p, long long parent_id);

/* publish_policy: the reply policy (enum reply_policy) of a thread whose
 * first message is by ROOT_AUTHOR: that author's own, else the list's. */
int publish_policy(const struct cfg_list *l, const char *root_author);

#endif
