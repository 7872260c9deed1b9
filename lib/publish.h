/*
 * publish.h - makes a message a post of a list: archived as the root of a
 * new thread with a list Message-ID of its own (the author's is kept), and
 * one copy queued for every active subscriber who wants posts, inside the
 * caller's transaction. Shared by ingest (proven authors, confirmations,
 * clicks) and `parley mod approve`. Never decides who may post: callers do.
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
	long long now;
	const char *tag;		/* names the message in the log line */
};

/* publish_post: the new archive id, or -1 (the caller rolls back). */
long long publish_post(struct store *st, const struct publish_in *p);

#endif
