/*
 * store_archive.h - the archive (posts and replies, threads) and the
 * delivery queue: one row per copy (message x recipient), whose state says
 * where that copy is: queued, sending (handed to a worker), sent, deferred
 * (retried at next_at), failed, or cancelled (its subscriber left first: a
 * trigger cancels queued and deferred copies in the transaction that
 * changes the subscriber). A copy is of an archived message or of a notice
 * (store_held.h).
 *
 * Writers run inside the caller's transaction.
 *
 * The states of a copy, who moves it, and the SQL guard of each move:
 *   (none)   -> queued     ingest/fan-out, store_deliveries_create and
 *                          store_reply_deliveries, in the archiving transaction
 *   queued, deferred (next_at <= now) -> sending
 *                          a delivery worker, store_delivery_claim, committed
 *                          before the copy is handed to the relay
 *                          (WHERE status IN ('queued', 'deferred'))
 *   sending  -> sent, deferred, failed, cancelled
 *                          the same worker, store_delivery_result, for a group
 *                          of copies in one transaction after their replies
 *                          (WHERE status = 'sending')
 *   sending  -> queued     the worker putting back copies it did not begin
 *                          (stop, a failed record), and the next start for
 *                          every copy left 'sending' by a crash
 *                          (store_delivery_requeue_sending; WHERE status = 'sending')
 *   queued, deferred -> cancelled
 *                          the trigger when the subscriber leaves or mutes
 *                          the thread, in that transaction
 * Crash points: before the claim commits, nothing happened; between the
 * claim and the result's commit, the copy is sent again after the restart:
 * the only duplicate SMTP allows, at most one group of results (a worker's
 * batch) per relay connection; one copy per worker with the maildir sink,
 * whose results are committed one by one.
 */
#ifndef PARLEY_STORE_ARCHIVE_H
#define PARLEY_STORE_ARCHIVE_H

#include <stddef.h>

#include "store.h"

struct archive_new {
	long long list_id;
	long long thread_id;		/* 0: start a new thread with this message */
	long long parent_id;		/* 0: none (a post) */
	long long inbound_id;
	const char *kind;		/* "post" or "reply" */
	const char *list_msgid;		/* "<...>" unique */
	const char *orig_msgid;		/* the author's Message-ID, or NULL */
	const char *author_addr;
	const char *author_name;
	const char *subject;
	const char *base_subject;	/* normalised, for a new thread (subject.h) */
	const char *text;
	const char *trimmed;		/* quote-trimmed text (trim.h); NULL: TEXT */
	const char *elided;		/* what trimming cut, or NULL */
	const char *auth_results;	/* the author's Authentication-Results, or NULL */
	const char *refs;		/* list Message-IDs from the root to the parent */
	long long subscriber_id;	/* the author's subscriber row, or 0 */
	const char *parent_hint;	/* the Message-ID its author named as parent, or NULL */
	const char *raw;
	size_t size;
	long long now;
};

/* One archived message as the threader and the reply path see it. */
struct archive_row {
	long long id, list_id, thread_id, root_id, subscriber_id;
	char *list_msgid;
	char *refs;			/* or NULL */
	char *author_addr;
	char *author_name;		/* or NULL */
	char *subject;			/* or NULL */
	char root_author[256];		/* the author of the thread's first message */
};

/* store_archive_row: 1 and OUT filled (free with archive_row_clear), 0 if
 * there is no archived message ID, -1 on error. */
int store_archive_row(struct store *st, long long id, struct archive_row *out);
void archive_row_clear(struct archive_row *r);

/* store_archive_find_msgid: the first archived message of LIST_ID whose
 * list Message-ID or original Message-ID is MSGID ("<...>"); 0 if none, -1
 * on error. */
long long store_archive_find_msgid(struct store *st, long long list_id, const char *msgid);

/* store_thread_find_subject: the root of the thread of LIST_ID active
 * since SINCE whose normalised subject is BASE (the latest); 0 if none. */
long long store_thread_find_subject(struct store *st, long long list_id, const char *base,
				    long long since);

/* store_thread_of: THREAD_ID if it is a thread of LIST_ID, 0 if not. */
long long store_thread_of(struct store *st, long long thread_id, long long list_id);

/* store_thread_pref: subscriber SUB_ID follows or mutes ("follow",
 * "mute") THREAD_ID from NOW; a mute cancels its queued copies of the
 * thread (a trigger, same transaction). 0 or -1. */
int store_thread_pref(struct store *st, long long thread_id, long long sub_id, const char *pref,
		      long long now);

/* Who gets the copies of a reply (design §3). */
struct reply_rcpts {
	long long archive_id, list_id, thread_id, now;
	int policy;			/* 0 list, 1 author, 2 thread (moderated: approved first) */
	const char *replier;		/* never gets a copy */
	const char *author;		/* the thread's first author */
};

/* store_reply_deliveries: queue the copies of reply R->archive_id; the
 * number queued, or -1. */
long long store_reply_deliveries(struct store *st, const struct reply_rcpts *r);

/* store_archive_add: insert (and the thread when thread_id is 0); the new
 * archive id, or -1. Earlier replies of the thread whose parent_hint is this
 * message's orig_msgid (they arrived before it) move under it. */
long long store_archive_add(struct store *st, const struct archive_new *a);

/* store_deliveries_create: one queued copy of ARCHIVE_ID per active
 * subscriber of LIST_ID whose mode wants MODE_KIND ("post": all and posts;
 * "reply": all), due at NOW. The number created, or -1. */
long long store_deliveries_create(struct store *st, long long archive_id, long long list_id,
				  const char *mode_kind, long long now);

struct delivery {
	long long id;
	long long archive_id;		/* a copy of an archived message, or 0 */
	long long notice_id;		/* a copy of a notice, or 0 */
	long long subscriber_id;
	long long list_id;		/* of the message or notice, 0 for a notice to no list */
	char sub_status[16];		/* at the claim: the subscriber's status, "muted" if
					 * active but muting the thread, "gone" if deleted,
					 * "" for a copy to no subscriber */
	char address[256];
	int attempts;
	long long created_at;
};

/* store_delivery_claim: mark up to MAX due copies (queued, or deferred with
 * next_at <= NOW) as 'sending' and return them in OUT (committed by the
 * caller), each with its list and its subscriber's status read in the same
 * query. The count, or -1. */
int store_delivery_claim(struct store *st, long long now, struct delivery *out, int max);

/* store_delivery_claim_archive: the same, only copies of ARCHIVE_ID (a
 * batch-mode list's transaction is topped up with them). */
int store_delivery_claim_archive(struct store *st, long long now, long long archive_id,
				 struct delivery *out, int max);

/* store_delivery_result: record one attempt's outcome of a copy in
 * 'sending': "sent", "deferred" (with NEXT_AT), "failed" or "cancelled";
 * ERROR is the relay's reply or NULL; RELAY the relay it was handed to
 * ("host:port"), or NULL to keep the one recorded. A copy no longer
 * 'sending' is left as it is. 1 if the copy's row changed, 0 if not, -1 on
 * error. */
int store_delivery_result(struct store *st, long long id, const char *status, long long next_at,
			  const char *error, const char *relay, long long now);

/* store_delivery_requeue_sending: at start, copies left 'sending' by a
 * crash become queued again. The count, or -1. */
long long store_delivery_requeue_sending(struct store *st, long long now);

#endif
