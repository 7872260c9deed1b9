/*
 * store_inbound.c - inbound rows, ingest attempts, IMAP positions (see
 * store_inbound.h). Never stores a message without its raw bytes.
 */
#include "autoconf.h"

#include "store_inbound.h"

#include <stdio.h>
#include <string.h>

static int exists(struct store *st, enum store_stmt id, const char *sql, const char *key)
{
	sqlite3_stmt *s = store_prepare(st, id, sql);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : store_error(st, "lookup");
}

int store_inbound_exists(struct store *st, const char *spool_id)
{
	return exists(st, STMT_INBOUND_EXISTS, "SELECT 1 FROM inbound WHERE spool_id = ?1",
		      spool_id);
}

int store_inbound_source_exists(struct store *st, const char *source)
{
	return exists(st, STMT_INBOUND_SOURCE_EXISTS, "SELECT 1 FROM inbound WHERE source = ?1",
		      source);
}

static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

long long store_inbound_add(struct store *st, const struct inbound_row *row, long long now)
{
	const struct envelope *e = row->env;
	const struct message *m = row->msg;
	sqlite3_stmt *s;
	long long id;
	size_t i;

	s = store_prepare(st, STMT_INBOUND_INSERT,
			  "INSERT INTO inbound(spool_id, source, received_at, ingested_at, proto,"
			  " client, helo, tls, sender, message_id, subject, from_addr, from_name,"
			  " size, raw, content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
			  " ?11, ?12, ?13, ?14, ?15, ?16)");
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, e->queue_id, -1, SQLITE_STATIC);
	bind_opt(s, 2, e->source);
	sqlite3_bind_int64(s, 3, e->received);
	sqlite3_bind_int64(s, 4, now);
	bind_opt(s, 5, e->proto);
	bind_opt(s, 6, e->client);
	bind_opt(s, 7, e->helo);
	bind_opt(s, 8, e->tls);
	sqlite3_bind_text(s, 9, e->sender ? e->sender : "", -1, SQLITE_STATIC);
	bind_opt(s, 10, m->message_id);
	bind_opt(s, 11, m->subject);
	bind_opt(s, 12, m->from_addr);
	bind_opt(s, 13, m->from_name);
	sqlite3_bind_int64(s, 14, (long long)row->size);
	sqlite3_bind_blob64(s, 15, row->raw, row->size, SQLITE_STATIC);
	bind_opt(s, 16, row->content_hash);
	if (store_step_done(st, s) < 0)
		return -1;
	id = sqlite3_last_insert_rowid(store_db(st));
	for (i = 0; i < row->nrcpts; i++) {
		s = store_prepare(st, STMT_INBOUND_RCPT,
				  "INSERT OR IGNORE INTO inbound_rcpts(inbound_id, address, list, kind)"
				  " VALUES (?1, ?2, ?3, ?4)");
		if (s == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_text(s, 2, row->rcpts[i].address, -1, SQLITE_STATIC);
		bind_opt(s, 3, row->rcpts[i].list);
		bind_opt(s, 4, row->rcpts[i].kind);
		if (store_step_done(st, s) < 0)
			return -1;
	}
	return id;
}

int store_inbound_duplicate(struct store *st, const char *message_id, const char *content_hash,
			    const char *address)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_INBOUND_DUPLICATE,
		"SELECT 1 FROM inbound i JOIN inbound_rcpts r ON r.inbound_id = i.id"
		" WHERE i.message_id = ?1 AND i.content_hash = ?2 AND r.address = ?3 COLLATE NOCASE"
		" LIMIT 1");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, content_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, address, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : store_error(st, "duplicate lookup");
}

/* returning: run S, an upsert RETURNING a count (and, with WHY, a text
 * into WHY); the count, or -1 (logged as WHAT). */
static int returning(struct store *st, sqlite3_stmt *s, const char *what, char *why,
		     size_t whylen)
{
	int n = -1;

	if (sqlite3_step(s) == SQLITE_ROW) {
		n = sqlite3_column_int(s, 0);
		if (why != NULL) {
			const unsigned char *e = sqlite3_column_text(s, 1);
			snprintf(why, whylen, "%s", e ? (const char *)e : "");
		}
	}
	if (sqlite3_step(s) != SQLITE_DONE)
		n = -1;
	sqlite3_reset(s);
	return n < 0 ? store_error(st, what) : n;
}

int store_attempt_begin(struct store *st, const char *spool_id, const char *runner,
			long long now, char *why, size_t whylen)
{
	sqlite3_stmt *s;

	s = store_prepare(
		st, STMT_ATTEMPT_BUMP,
		"INSERT INTO spool_attempts(spool_id, attempts, updated_at, runner)"
		" VALUES (?1, 0, ?2, ?3) ON CONFLICT (spool_id) DO UPDATE SET"
		" attempts = attempts + (runner IS NOT NULL AND runner IS NOT ?3),"
		" last_error = CASE WHEN runner IS NOT NULL AND runner IS NOT ?3"
		"   THEN 'the daemon stopped while ingesting it' ELSE last_error END,"
		" updated_at = ?2, runner = ?3 RETURNING attempts, last_error");
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, spool_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_text(s, 3, runner, -1, SQLITE_STATIC);
	return returning(st, s, "count attempt", why, whylen);
}

int store_attempt_fail(struct store *st, const char *spool_id, const char *error, long long now)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_ATTEMPT_FAIL,
		"INSERT INTO spool_attempts(spool_id, attempts, updated_at, last_error)"
		" VALUES (?1, 1, ?3, ?2) ON CONFLICT (spool_id) DO UPDATE SET"
		" attempts = attempts + 1, last_error = ?2, updated_at = ?3, runner = NULL"
		" RETURNING attempts");

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, spool_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	return returning(st, s, "count failure", NULL, 0);
}

int store_attempt_release(struct store *st, const char *spool_id)
{
	sqlite3_stmt *s = store_prepare(st, STMT_ATTEMPT_RELEASE,
					"UPDATE spool_attempts SET runner = NULL WHERE spool_id = ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, spool_id, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_attempt_error(struct store *st, const char *spool_id, const char *error)
{
	sqlite3_stmt *s = store_prepare(st, STMT_ATTEMPT_ERROR,
					"UPDATE spool_attempts SET last_error = ?2 WHERE spool_id = ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, spool_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, error, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_attempt_clear(struct store *st, const char *spool_id)
{
	sqlite3_stmt *s = store_prepare(st, STMT_ATTEMPT_CLEAR,
					"DELETE FROM spool_attempts WHERE spool_id = ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, spool_id, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_imap_get(struct store *st, const char *mailbox, long long *uidvalidity,
		   long long *last_uid)
{
	sqlite3_stmt *s = store_prepare(st, STMT_IMAP_GET,
					"SELECT uidvalidity, last_uid FROM imap_state WHERE mailbox = ?1");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, mailbox, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*uidvalidity = sqlite3_column_int64(s, 0);
		*last_uid = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : store_error(st, "imap position");
}

int store_imap_set(struct store *st, const char *mailbox, long long uidvalidity,
		   long long last_uid, long long now)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_IMAP_SET,
		"INSERT INTO imap_state(mailbox, uidvalidity, last_uid, updated_at)"
		" VALUES (?1, ?2, ?3, ?4) ON CONFLICT (mailbox) DO UPDATE SET"
		" uidvalidity = ?2, last_uid = ?3, updated_at = ?4");

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, uidvalidity);
	sqlite3_bind_int64(s, 3, last_uid);
	sqlite3_bind_int64(s, 4, now);
	return store_step_done(st, s);
}
