/*
 * store_held.c - held messages and notices (see store_held.h). Never moves
 * a held row out of a state it is not in (every decision names the state it
 * expects, so two decisions cannot both win), and never queues a notice
 * without its stored bytes.
 */
#include "autoconf.h"

#include "store_held.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

long long store_held_add(struct store *st, const struct held_new *h)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_HELD_ADD,
		"INSERT INTO held(inbound_id, list_id, reason, state, author_addr, expires_at,"
		" created_at, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, COALESCE(?8, 'post'))"
		" ON CONFLICT (inbound_id, list_id) DO NOTHING");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, h->inbound_id);
	if (h->list_id > 0)
		sqlite3_bind_int64(s, 2, h->list_id);
	sqlite3_bind_text(s, 3, h->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, h->state, -1, SQLITE_STATIC);
	bind_opt(s, 5, h->author_addr);
	if (h->expires_at > 0)
		sqlite3_bind_int64(s, 6, h->expires_at);
	sqlite3_bind_int64(s, 7, h->now);
	bind_opt(s, 8, h->kind);
	if (store_step_done(st, s) < 0)
		return -1;
	return sqlite3_changes(store_db(st)) > 0 ? sqlite3_last_insert_rowid(store_db(st)) : 0;
}

int store_held_get(struct store *st, long long id, struct held *out)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_HELD_GET,
		"SELECT h.id, h.inbound_id, COALESCE(h.list_id, 0), h.state, l.name, h.author_addr,"
		" h.reason, COALESCE(h.expires_at, 0), h.created_at, i.sender, i.raw, h.kind,"
		" h.decided_by FROM held h"
		" JOIN inbound i ON i.id = h.inbound_id LEFT JOIN lists l ON l.id = h.list_id"
		" WHERE h.id = ?1");
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? 0 : store_error(st, "read a held message");
	}
	out->id = sqlite3_column_int64(s, 0);
	out->inbound_id = sqlite3_column_int64(s, 1);
	out->list_id = sqlite3_column_int64(s, 2);
	snprintf(out->state, sizeof(out->state), "%s", (const char *)sqlite3_column_text(s, 3));
	out->list_name = store_col_text(s, 4);
	out->author_addr = store_col_text(s, 5);
	out->reason = store_col_text(s, 6);
	out->expires_at = sqlite3_column_int64(s, 7);
	out->created_at = sqlite3_column_int64(s, 8);
	out->sender = store_col_text(s, 9);
	out->raw = store_col_blob(s, 10, &out->len);
	snprintf(out->kind, sizeof(out->kind), "%s", (const char *)sqlite3_column_text(s, 11));
	out->decided_by = store_col_text(s, 12);
	sqlite3_reset(s);
	return 1;
}

void held_free(struct held *h)
{
	free(h->list_name);
	free(h->author_addr);
	free(h->reason);
	free(h->sender);
	free(h->raw);
	free(h->decided_by);
	memset(h, 0, sizeof(*h));
}

int store_held_decided_by(struct store *st, long long id, const char *who)
{
	sqlite3_stmt *s = store_prepare(st, STMT_HELD_DECIDED_BY,
					"UPDATE held SET decided_by = ?2 WHERE id = ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, who, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_held_decide(struct store *st, long long id, const char *from, const char *to,
		      long long archive_id, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_HELD_DECIDE,
					"UPDATE held SET state = ?3, archive_id = ?4, decided_at = ?5"
					" WHERE id = ?1 AND state = ?2");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, to, -1, SQLITE_STATIC);
	if (archive_id > 0)
		sqlite3_bind_int64(s, 4, archive_id);
	sqlite3_bind_int64(s, 5, now);
	if (store_step_done(st, s) < 0)
		return -1;
	return sqlite3_changes(store_db(st)) > 0;
}

long long store_held_expire(struct store *st, long long now)
{
	return store_update_now(st, STMT_HELD_EXPIRE,
				"UPDATE held SET state = 'expired', decided_at = ?1"
				" WHERE state = 'confirm' AND expires_at <= ?1",
				now);
}

/* count: the single integer STMT returns after binding; -1 on error. */
static long long count(struct store *st, sqlite3_stmt *s, const char *what)
{
	long long n = -1;
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	else
		store_error(st, what);
	sqlite3_reset(s);
	return n;
}

long long store_held_awaiting(struct store *st, long long list_id, const char *author,
			      long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_HELD_AWAITING,
					"SELECT count(*) FROM held WHERE list_id = ?1"
					" AND author_addr = ?2 COLLATE NOCASE AND state = 'confirm'"
					" AND expires_at > ?3");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_text(s, 2, author, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	return count(st, s, "count posts awaiting confirmation");
}

static int notice_rcpt(struct store *st, long long notice_id, const char *addr, long long now)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_NOTICE_RCPT,
		"INSERT OR IGNORE INTO deliveries(notice_id, address, next_at, created_at, updated_at)"
		" VALUES (?1, ?2, ?3, ?3, ?3)");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, notice_id);
	sqlite3_bind_text(s, 2, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	return store_step_done(st, s);
}

long long store_notice_add(struct store *st, const struct notice_new *n)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_NOTICE_ADD,
		"INSERT INTO notices(list_id, kind, held_id, sender, raw, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	long long id;
	size_t i;

	if (s == NULL)
		return -1;
	if (n->list_id > 0)
		sqlite3_bind_int64(s, 1, n->list_id);
	sqlite3_bind_text(s, 2, n->kind, -1, SQLITE_STATIC);
	if (n->held_id > 0)
		sqlite3_bind_int64(s, 3, n->held_id);
	sqlite3_bind_text(s, 4, n->sender, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(s, 5, n->raw, n->len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, n->now);
	if (store_step_done(st, s) < 0)
		return -1;
	id = sqlite3_last_insert_rowid(store_db(st));
	for (i = 0; i < n->rcpts->n; i++)
		if (notice_rcpt(st, id, n->rcpts->v[i], n->now) < 0)
			return -1;
	return id;
}

long long store_notices_since(struct store *st, long long list_id, const char *kind,
			      long long since)
{
	sqlite3_stmt *s = store_prepare(st, STMT_NOTICES_SINCE,
					"SELECT count(*) FROM notices WHERE list_id = ?1 AND kind = ?2"
					" AND created_at >= ?3");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, since);
	return count(st, s, "count notices");
}
