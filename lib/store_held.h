/*
 * store_held.h - messages held back from a list, and parley's own notices.
 *
 * A held row keeps an inbound message out of a list until someone decides:
 * state 'held' (for the owners: an unproven post, a loop, an automatic
 * message), 'confirm' (waiting for its author to confirm by email, until
 * expires_at), then 'published', 'expired' or 'rejected'. One row per
 * message and list.
 *
 * A notice is a message parley writes itself (a confirmation request, a
 * note to the owners): its bytes are composed once and stored, and one copy
 * per recipient goes through the delivery queue like any other copy.
 *
 * Writers run inside the caller's transaction.
 */
#ifndef PARLEY_STORE_HELD_H
#define PARLEY_STORE_HELD_H

#include <stddef.h>

#include "store.h"
#include "strv.h"

struct held_new {
	long long inbound_id;
	long long list_id;
	const char *reason;
	const char *state;		/* "held" or "confirm" */
	const char *author_addr;	/* the author asked to confirm, or NULL */
	long long expires_at;		/* 'confirm': when the request lapses */
	const char *kind;		/* "post" (NULL), "reply" or "thread" (a new one) */
	long long now;
};

/* store_held_add: hold a message; the held id, 0 if it was already held
 * for that list, or -1. */
long long store_held_add(struct store *st, const struct held_new *h);

struct held {
	long long id;
	long long inbound_id;
	long long list_id;
	char state[16];
	char *list_name;
	char *author_addr;		/* or NULL */
	char *reason;
	long long expires_at;
	long long created_at;
	char *sender;			/* the envelope sender */
	char *raw;			/* the message as received, NUL-terminated */
	size_t len;
	char kind[16];			/* "post", "reply", "thread" */
	char *decided_by;		/* who decided, or NULL */
};

/* store_held_get: 1 and OUT filled (free with held_free), 0 if there is no
 * held row ID, -1 on error. */
int store_held_get(struct store *st, long long id, struct held *out);
void held_free(struct held *h);

/* store_held_decide: move held row ID from state FROM to TO (with the
 * archive id of the post when published, else 0). 1 if it moved, 0 if it
 * was not in state FROM, -1 on error. */
int store_held_decide(struct store *st, long long id, const char *from, const char *to,
		      long long archive_id, long long now);

/* store_held_decided_by: record WHO decided held row ID. 0 or -1. */
int store_held_decided_by(struct store *st, long long id, const char *who);

/* store_held_expire: posts still waiting for a confirmation whose time is
 * up at NOW become 'expired' (nobody is told: the author never answered).
 * The count, or -1. */
long long store_held_expire(struct store *st, long long now);

/* store_held_awaiting: posts of AUTHOR to LIST_ID still waiting for a
 * confirmation at NOW; the count or -1. */
long long store_held_awaiting(struct store *st, long long list_id, const char *author,
			      long long now);

struct notice_new {
	long long list_id;
	const char *kind;		/* "confirm", "held", "expired", "published" */
	long long held_id;		/* or 0 */
	const char *sender;		/* envelope sender; "" for the null sender */
	const char *raw;		/* the composed message, CRLF */
	size_t len;
	const struct strv *rcpts;	/* one queued copy for each */
	long long now;
};

/* store_notice_add: store a notice and queue its copies; its id or -1. */
long long store_notice_add(struct store *st, const struct notice_new *n);

/* store_notices_since: notices of KIND for LIST_ID created at or after
 * SINCE; the count or -1. */
long long store_notices_since(struct store *st, long long list_id, const char *kind,
			      long long since);

#endif
