/*
 * store_inbound.h - mail taken in from the spool, the ingest attempt
 * counters, and the IMAP poller's position in each mailbox.
 *
 * An inbound row holds the raw message and its envelope: once it is
 * committed, the spool file may go. Its spool_id is unique, so a crash
 * between the commit and the spool file's removal re-ingests nothing twice;
 * its source (IMAP mailbox, UIDVALIDITY and UID) is unique too, so a message
 * fetched twice across a crash is stored once.
 */
#ifndef PARLEY_STORE_INBOUND_H
#define PARLEY_STORE_INBOUND_H

#include <stddef.h>

#include "message.h"
#include "spool.h"
#include "store.h"

struct inbound_rcpt {
	const char *address;
	const char *list;	/* list name, or NULL if no list serves it (config changed) */
	const char *kind;	/* recipient_kind_name(), or NULL */
};

struct inbound_row {
	const struct envelope *env;
	const struct message *msg;
	const char *raw;
	size_t size;
	const struct inbound_rcpt *rcpts;
	size_t nrcpts;
	const char *content_hash;	/* hex SHA-256 for store_inbound_duplicate, or NULL */
};

/* 1 if a row for SPOOL_ID (or SOURCE) exists, 0 if not, -1 on error. */
int store_inbound_exists(struct store *st, const char *spool_id);
int store_inbound_source_exists(struct store *st, const char *source);

/* store_inbound_add: insert the row and its recipients (inside the caller's
 * transaction); the new row id, or -1. */
long long store_inbound_add(struct store *st, const struct inbound_row *row, long long now);

/* store_inbound_duplicate: 1 if a row with MESSAGE_ID and CONTENT_HASH
 * was already stored for recipient ADDRESS (a redelivery), 0 if not, -1
 * on error. Call it inside the transaction that would store the copy. */
int store_inbound_duplicate(struct store *st, const char *message_id, const char *content_hash,
			    const char *address);

/*
 * Ingest attempts. An attempt is marked with RUNNER (store_runner(): this
 * process) and committed before the message is touched; a mark left by
 * another runner is an attempt that never returned (the daemon died in it)
 * and counts as a failure, with "the daemon stopped while ingesting it".
 *
 * store_attempt_begin: mark SPOOL_ID as being ingested by RUNNER; returns
 * the failures counted so far (0 for a new message) and, in WHY (WHYLEN
 * bytes), the last error ("" if none), or -1.
 * store_attempt_fail: count a failure with ERROR and drop the mark; the new
 * count, or -1.
 * store_attempt_release: drop the mark without counting (the attempt
 * returned with a passing store error); 0 or -1.
 * store_attempt_error: record ERROR; store_attempt_clear: forget SPOOL_ID.
 */
int store_attempt_begin(struct store *st, const char *spool_id, const char *runner,
			long long now, char *why, size_t whylen);
int store_attempt_fail(struct store *st, const char *spool_id, const char *error, long long now);
int store_attempt_release(struct store *st, const char *spool_id);
int store_attempt_error(struct store *st, const char *spool_id, const char *error);
int store_attempt_clear(struct store *st, const char *spool_id);

/* IMAP position of MAILBOX: 1 and the values, 0 if unknown, -1 on error. */
int store_imap_get(struct store *st, const char *mailbox, long long *uidvalidity,
		   long long *last_uid);
int store_imap_set(struct store *st, const char *mailbox, long long uidvalidity,
		   long long last_uid, long long now);

#endif
