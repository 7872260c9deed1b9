/*
 * store_archive.c - archive rows, threads and the delivery queue (see
 * store_archive.h). Never creates two copies of one message for one address
 * (UNIQUE (archive_id, address)), and never marks a copy sent that the relay
 * did not accept.
 */
#include "autoconf.h"

#include "store_archive.h"

#include <stdio.h>
#include <string.h>

static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static long long thread_add(struct store *st, const struct archive_new *a)
{
	sqlite3_stmt *s = store_prepare(st, STMT_THREAD_ADD,
					"INSERT INTO threads(list_id, subject, created_at, last_at)"
					" VALUES (?1, ?2, ?3, ?3)");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, a->list_id);
	bind_opt(s, 2, a->subject);
	sqlite3_bind_int64(s, 3, a->now);
	if (store_step_done(st, s) < 0)
		return -1;
	return sqlite3_last_insert_rowid(store_db(st));
}

static int thread_touch(struct store *st, long long thread_id, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_THREAD_TOUCH,
					"UPDATE threads SET last_at = ?2 WHERE id = ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, thread_id);
	sqlite3_bind_int64(s, 2, now);
	return store_step_done(st, s);
}

static int list_posted(struct store *st, long long list_id, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_LIST_POSTED,
					"UPDATE lists SET post_count = post_count + 1, last_post_at = ?2"
					" WHERE id = ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_int64(s, 2, now);
	return store_step_done(st, s);
}

long long store_archive_add(struct store *st, const struct archive_new *a)
{
	long long thread = a->thread_id;
	sqlite3_stmt *s;

	if (thread == 0 && (thread = thread_add(st, a)) < 0)
		return -1;
	if (a->thread_id != 0 && thread_touch(st, thread, a->now) < 0)
		return -1;
	s = store_prepare(st, STMT_ARCHIVE_ADD,
			  "INSERT INTO archive(list_id, thread_id, parent_id, inbound_id, kind,"
			  " list_msgid, orig_msgid, author_addr, author_name, subject, text, raw,"
			  " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, a->list_id);
	sqlite3_bind_int64(s, 2, thread);
	if (a->parent_id != 0)
		sqlite3_bind_int64(s, 3, a->parent_id);
	if (a->inbound_id != 0)
		sqlite3_bind_int64(s, 4, a->inbound_id);
	sqlite3_bind_text(s, 5, a->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, a->list_msgid, -1, SQLITE_STATIC);
	bind_opt(s, 7, a->orig_msgid);
	sqlite3_bind_text(s, 8, a->author_addr, -1, SQLITE_STATIC);
	bind_opt(s, 9, a->author_name);
	bind_opt(s, 10, a->subject);
	bind_opt(s, 11, a->text);
	sqlite3_bind_blob64(s, 12, a->raw, a->size, SQLITE_STATIC);
	sqlite3_bind_int64(s, 13, a->now);
	if (store_step_done(st, s) < 0)
		return -1;
	if (strcmp(a->kind, "post") == 0 && list_posted(st, a->list_id, a->now) < 0)
		return -1;
	return sqlite3_last_insert_rowid(store_db(st));
}

long long store_deliveries_create(struct store *st, long long archive_id, long long list_id,
				  const char *mode_kind, long long now)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_DELIVERIES_CREATE,
		"INSERT OR IGNORE INTO deliveries(archive_id, subscriber_id, address, next_at,"
		" created_at, updated_at) SELECT ?1, id, address, ?3, ?3, ?3 FROM subscribers"
		" WHERE list_id = ?2 AND status = 'active'"
		" AND (mode = 'all' OR (mode = 'posts' AND ?4 = 'post'))");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, archive_id);
	sqlite3_bind_int64(s, 2, list_id);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_text(s, 4, mode_kind, -1, SQLITE_STATIC);
	if (store_step_done(st, s) < 0)
		return -1;
	return sqlite3_changes(store_db(st));
}

int store_delivery_claim(struct store *st, long long now, struct delivery *out, int max)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_DELIVERY_DUE,
		"SELECT id, COALESCE(archive_id, 0), COALESCE(subscriber_id, 0), address, attempts,"
		" created_at, COALESCE(notice_id, 0) FROM deliveries"
		" WHERE (status = 'queued' OR status = 'deferred') AND next_at <= ?1"
		" ORDER BY next_at, id LIMIT ?2");
	int n = 0, rc, i;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, max);
	while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *addr = sqlite3_column_text(s, 3);
		out[n].id = sqlite3_column_int64(s, 0);
		out[n].archive_id = sqlite3_column_int64(s, 1);
		out[n].subscriber_id = sqlite3_column_int64(s, 2);
		snprintf(out[n].address, sizeof(out[n].address), "%s", addr ? (const char *)addr : "");
		out[n].attempts = sqlite3_column_int(s, 4);
		out[n].created_at = sqlite3_column_int64(s, 5);
		out[n].notice_id = sqlite3_column_int64(s, 6);
		n++;
	}
	sqlite3_reset(s);
	for (i = 0; i < n; i++) {
		s = store_prepare(st, STMT_DELIVERY_MARK,
				  "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
				  " updated_at = ?2 WHERE id = ?1");
		if (s == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, out[i].id);
		sqlite3_bind_int64(s, 2, now);
		if (store_step_done(st, s) < 0)
			return -1;
		out[i].attempts++;
	}
	return n;
}

int store_delivery_result(struct store *st, long long id, const char *status, long long next_at,
			  const char *error, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_DELIVERY_RESULT,
					"UPDATE deliveries SET status = ?2, next_at = ?3, last_error = ?4,"
					" updated_at = ?5 WHERE id = ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, next_at);
	bind_opt(s, 4, error);
	sqlite3_bind_int64(s, 5, now);
	return store_step_done(st, s);
}

long long store_delivery_requeue_sending(struct store *st, long long now)
{
	return store_update_now(st, STMT_DELIVERY_REQUEUE,
				"UPDATE deliveries SET status = 'queued', next_at = ?1,"
				" updated_at = ?1 WHERE status = 'sending'",
				now);
}
