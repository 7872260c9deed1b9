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
};

/* 1 if a row for SPOOL_ID (or SOURCE) exists, 0 if not, -1 on error. */
int store_inbound_exists(struct store *st, const char *spool_id);
int store_inbound_source_exists(struct store *st, const char *source);

/* store_inbound_add: insert the row and its recipients (inside the caller's
 * transaction); the new row id, or -1. */
long long store_inbound_add(struct store *st, const struct inbound_row *row, long long now);

/* Ingest attempts: bump returns the new count (or -1); clear forgets. */
int store_attempt_bump(struct store *st, const char *spool_id, long long now);
int store_attempt_error(struct store *st, const char *spool_id, const char *error);
int store_attempt_clear(struct store *st, const char *spool_id);

/* IMAP position of MAILBOX: 1 and the values, 0 if unknown, -1 on error. */
int store_imap_get(struct store *st, const char *mailbox, long long *uidvalidity,
		   long long *last_uid);
int store_imap_set(struct store *st, const char *mailbox, long long uidvalidity,
		   long long last_uid, long long now);

#endif
