/*
 * store_request.c - confirmation requests and command counts (see
 * store_request.h). Never lets two requests of one kind wait for one
 * address of one list.
 */
#include "autoconf.h"

#include "store_request.h"

#include <stdio.h>
#include <string.h>

static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL && v[0] != '\0')
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* supersede: the other pending requests of (LIST_ID, ADDRESS) give way to a
 * new one of ACTION (one pending request per list and address). */
static int supersede(struct store *st, long long list_id, const char *address,
		     const char *action, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_REQUEST_SUPERSEDE,
					"UPDATE requests SET state = 'superseded', decided_at = ?4"
					" WHERE list_id = ?1 AND address = ?2 AND action <> ?3"
					" AND state = 'pending'");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_text(s, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	return store_step_done(st, s);
}

long long store_request_open(struct store *st, long long list_id, const char *address,
			     const char *action, const char *mode, const char *msgid,
			     long long inbound_id, long long now, long long expires)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_REQUEST_OPEN,
		"INSERT INTO requests(list_id, address, action, mode, message_id, inbound_id,"
		" created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
		" ON CONFLICT (list_id, address, action) WHERE state = 'pending'"
		" DO UPDATE SET mode = excluded.mode, expires_at = excluded.expires_at,"
		" message_id = excluded.message_id RETURNING id");
	long long id = -1;
	int rc;

	if (s == NULL || supersede(st, list_id, address, action, now) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_text(s, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, action, -1, SQLITE_STATIC);
	bind_opt(s, 4, mode);
	bind_opt(s, 5, msgid);
	if (inbound_id > 0)
		sqlite3_bind_int64(s, 6, inbound_id);
	sqlite3_bind_int64(s, 7, now);
	sqlite3_bind_int64(s, 8, expires);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_error(st, "record a request");
	return id;
}

static void col_copy(sqlite3_stmt *s, int i, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, len, "%s", t ? (const char *)t : "");
}

int store_request_get(struct store *st, long long id, struct request *out)
{
	sqlite3_stmt *s = store_prepare(st, STMT_REQUEST_GET,
					"SELECT list_id, address, action, mode, state, message_id,"
					" created_at, expires_at FROM requests WHERE id = ?1");
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		out->id = id;
		out->list_id = sqlite3_column_int64(s, 0);
		col_copy(s, 1, out->address, sizeof(out->address));
		col_copy(s, 2, out->action, sizeof(out->action));
		col_copy(s, 3, out->mode, sizeof(out->mode));
		col_copy(s, 4, out->state, sizeof(out->state));
		col_copy(s, 5, out->message_id, sizeof(out->message_id));
		out->created_at = sqlite3_column_int64(s, 6);
		out->expires_at = sqlite3_column_int64(s, 7);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_error(st, "read a request");
	return rc == SQLITE_ROW;
}

int store_request_close(struct store *st, long long id, const char *state, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_REQUEST_CLOSE,
					"UPDATE requests SET state = ?2, decided_at = ?3"
					" WHERE id = ?1 AND state = 'pending'");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if (store_step_done(st, s) < 0)
		return -1;
	return sqlite3_changes(store_db(st)) > 0;
}

long long store_requests_mailed(struct store *st, const char *address, long long since)
{
	sqlite3_stmt *s = store_prepare(st, STMT_REQUESTS_MAILED,
					"SELECT count(*) FROM notices n JOIN deliveries d ON"
					" d.notice_id = n.id WHERE n.kind = 'request' AND"
					" d.address = ?1 COLLATE NOCASE AND n.created_at >= ?2");

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, since);
	return store_step_int(st, s, "count confirmation mails");
}

long long store_commands_since(struct store *st, const char *sender, long long since,
			       long long except)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_COMMANDS_SINCE,
		"SELECT count(DISTINCT i.id) FROM inbound i JOIN inbound_rcpts r ON"
		" r.inbound_id = i.id WHERE i.sender = ?1 COLLATE NOCASE AND i.received_at >= ?2"
		" AND i.id <> ?3 AND (r.kind = 'subscribe' OR r.kind = 'unsubscribe' OR"
		" r.kind = 'help' OR r.kind = 'set' OR r.kind = 'owner')");

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, since);
	sqlite3_bind_int64(s, 3, except);
	return store_step_int(st, s, "count commands");
}
