/*
 * notify.h - the messages parleyd writes to people about a message it
 * received: a note to a list's owners that it is held, a request to its
 * author to confirm it, a note to that author that a confirmation came too
 * late. Each is composed (lib/notice.c) and queued as a notice inside the
 * caller's transaction, to go out from the null sender. Only configured
 * owners and authors are written to, never the sender (no backscatter).
 */
#ifndef PARLEY_NOTIFY_H
#define PARLEY_NOTIFY_H

#include "classify.h"
#include "mailfmt.h"
#include "store_held.h"

/* A notice to queue (notify_queue). */
struct notice_spec {
	const struct cfg_list *list;
	const char *kind;		/* notices.kind */
	long long held_id;		/* or 0 */
	const struct strv *to;
	const char *from_name;
	const char *from_addr;
	const char *reply_to;		/* or NULL */
	const char *subject;
	const char *auto_submitted;	/* "auto-replied", "auto-generated" */
	const char *body;
	const char *attach;		/* a message attached as message/rfc822, or NULL */
	size_t attach_len;
	const char *sender;		/* envelope sender; NULL: the null sender */
};

/* notify_queue: compose NS about IN's message and queue its copies inside
 * the caller's transaction. 0 or -1. */
int notify_queue(struct store *st, const struct classify_in *in, long long list_id,
		 const struct notice_spec *ns);

/* notify_addf: append printf-style text to B (each piece bounded). */
void notify_addf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* notify_about: the From, Subject, Date and Message-ID lines of IN's
 * message, for a notice's text. */
void notify_about(struct mbuf *b, const struct classify_in *in);

/* notify_owners: tell L's owners (and AUTHOR, the post's author, for a
 * reply in a moderated thread, when not NULL) that IN's message is held as
 * HELD_ID for REASON: one note each, with the message attached, its first
 * lines, and a personal pair of addresses to approve or reject it by
 * replying (L+approve-TOKEN@, L+reject-TOKEN@); at most 10 notes per list
 * and hour (the tenth says so); none without owners. 0 or -1. */
int notify_owners(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		  long long list_id, long long held_id, const char *reason, const char *author);

/* notify_confirm: ask AUTHOR to confirm IN's message, held as HELD_ID,
 * by replying to L+confirm-TOKEN@ (or clicking its mailto: link, or the
 * list's confirm_url page) before EXPIRES. 0 or -1. */
int notify_confirm(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		   long long list_id, long long held_id, const char *author, const char *token,
		   long long expires);

/* notify_expired: tell the author of held post H (parsed as HM) that its
 * confirmation came too late. 0 or -1. */
int notify_expired(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		   const struct held *h, const struct message *hm);

/* notify_rejected: send the sender of held message H the text the decider
 * wrote in IN (quote-trimmed), if any. 0 or -1. */
int notify_rejected(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		    long long list_id, const struct held *h);

#endif
