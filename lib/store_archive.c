/*
 * store_archive.c - archive rows, threads and the delivery queue (see
 * store_archive.h). Never creates two copies of one message for one address
 * (UNIQUE (archive_id, address)), and never marks a copy sent that the relay
 * did not accept.
 */
#include "autoconf.h"

#include "store_archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static long long thread_add(struct store *st, const struct archive_new *a)
{
	sqlite3_stmt *s = store_prepare(st, STMT_THREAD_ADD,
					"INSERT INTO threads(list_id, subject, base_subject, created_at,"
					" last_at) VALUES (?1, ?2, ?3, ?4, ?4)");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, a->list_id);
	bind_opt(s, 2, a->subject);
	bind_opt(s, 3, a->base_subject);
	sqlite3_bind_int64(s, 4, a->now);
	if (store_step_done(st, s) < 0)
		return -1;
	return sqlite3_last_insert_rowid(store_db(st));
}

static int thread_root(struct store *st, long long thread_id, long long root_id)
{
	sqlite3_stmt *s = store_prepare(st, STMT_THREAD_ROOT,
					"UPDATE threads SET root_id = ?2 WHERE id = ?1 AND root_id IS NULL");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, thread_id);
	sqlite3_bind_int64(s, 2, root_id);
	return store_step_done(st, s);
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

/* adopt: the replies of thread THREAD that named MSGID as their parent
 * before it was archived (they went under an ancestor) move under ID, so
 * that arrival order does not change the tree. 0 or -1. */
static int adopt(struct store *st, long long list_id, long long thread, long long id,
		 const char *msgid)
{
	sqlite3_stmt *s = store_prepare(st, STMT_ARCHIVE_ADOPT,
					"UPDATE archive SET parent_id = ?3 WHERE list_id = ?1 AND"
					" parent_hint = ?4 AND thread_id = ?2 AND id < ?3");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_int64(s, 2, thread);
	sqlite3_bind_int64(s, 3, id);
	sqlite3_bind_text(s, 4, msgid, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

long long store_archive_add(struct store *st, const struct archive_new *a)
{
	long long thread = a->thread_id, id;
	sqlite3_stmt *s;

	if (thread == 0 && (thread = thread_add(st, a)) < 0)
		return -1;
	if (a->thread_id != 0 && thread_touch(st, thread, a->now) < 0)
		return -1;
	s = store_prepare(st, STMT_ARCHIVE_ADD,
			  "INSERT INTO archive(list_id, thread_id, parent_id, inbound_id, kind,"
			  " list_msgid, orig_msgid, author_addr, author_name, subject, text, raw,"
			  " created_at, trimmed, elided, auth_results, refs, subscriber_id,"
			  " parent_hint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
			  " ?14, ?15, ?16, ?17, ?18, ?19)");
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
	bind_opt(s, 14, a->trimmed ? a->trimmed : a->text);
	bind_opt(s, 15, a->elided);
	bind_opt(s, 16, a->auth_results);
	bind_opt(s, 17, a->refs);
	if (a->subscriber_id > 0)
		sqlite3_bind_int64(s, 18, a->subscriber_id);
	bind_opt(s, 19, a->parent_hint);
	if (store_step_done(st, s) < 0)
		return -1;
	id = sqlite3_last_insert_rowid(store_db(st));
	if (a->orig_msgid != NULL && adopt(st, a->list_id, thread, id, a->orig_msgid) < 0)
		return -1;
	if (strcmp(a->kind, "post") == 0 && list_posted(st, a->list_id, a->now) < 0)
		return -1;
	if (thread_root(st, thread, id) < 0)
		return -1;
	return id;
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

/* The columns of a claimed copy (claim_rows): its list, and its
 * subscriber's status read in the same query ('muted' when active but
 * muting the thread, 'gone' when deleted, '' for no subscriber). */
#define CLAIM_COLUMNS                                                                          \
	"id, COALESCE(archive_id, 0), COALESCE(subscriber_id, 0), address, attempts,"          \
	" created_at, COALESCE(notice_id, 0),"                                                 \
	" COALESCE((SELECT list_id FROM archive a WHERE a.id = archive_id),"                   \
	" (SELECT list_id FROM notices n WHERE n.id = notice_id), 0),"                         \
	" CASE WHEN subscriber_id IS NULL THEN ''"                                             \
	" ELSE COALESCE((SELECT CASE WHEN s.status = 'active' AND EXISTS (SELECT 1"            \
	" FROM thread_prefs p JOIN archive a ON a.thread_id = p.thread_id"                     \
	" WHERE a.id = archive_id AND p.subscriber_id = s.id AND p.pref = 'mute')"             \
	" THEN 'muted' ELSE s.status END FROM subscribers s WHERE s.id = subscriber_id),"      \
	" 'gone') END"

/* claim_rows: the rows of the due-copies query S (bound, ?1 now) marked
 * 'sending' into OUT, up to MAX; the count or -1. */
static int claim_rows(struct store *st, sqlite3_stmt *s, long long now, struct delivery *out,
		      int max)
{
	int n = 0, rc = SQLITE_DONE, i;

	while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *addr = sqlite3_column_text(s, 3);
		out[n].id = sqlite3_column_int64(s, 0);
		out[n].archive_id = sqlite3_column_int64(s, 1);
		out[n].subscriber_id = sqlite3_column_int64(s, 2);
		snprintf(out[n].address, sizeof(out[n].address), "%s", addr ? (const char *)addr : "");
		out[n].attempts = sqlite3_column_int(s, 4);
		out[n].created_at = sqlite3_column_int64(s, 5);
		out[n].notice_id = sqlite3_column_int64(s, 6);
		out[n].list_id = sqlite3_column_int64(s, 7);
		snprintf(out[n].sub_status, sizeof(out[n].sub_status), "%s",
			 sqlite3_column_text(s, 8) ? (const char *)sqlite3_column_text(s, 8) : "gone");
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_error(st, "claiming due copies");	/* nothing marked */
	for (i = 0; i < n; i++) {
		s = store_prepare(st, STMT_DELIVERY_MARK,
				  "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
				  " updated_at = ?2 WHERE id = ?1 AND status IN ('queued', 'deferred')");
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

int store_delivery_claim(struct store *st, long long now, struct delivery *out, int max)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_DELIVERY_DUE,
		"SELECT " CLAIM_COLUMNS " FROM deliveries"
		" WHERE status IN ('queued', 'deferred') AND next_at <= ?1"	/* deliveries_due */
		" ORDER BY next_at, id LIMIT ?2");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, max);
	return claim_rows(st, s, now, out, max);
}

int store_delivery_claim_archive(struct store *st, long long now, long long archive_id,
				 struct delivery *out, int max)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_DELIVERY_DUE_ARCHIVE,
		"SELECT " CLAIM_COLUMNS " FROM deliveries"
		" WHERE archive_id = ?3 AND status IN ('queued', 'deferred') AND next_at <= ?1"
		" ORDER BY next_at, id LIMIT ?2");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, max);
	sqlite3_bind_int64(s, 3, archive_id);
	return claim_rows(st, s, now, out, max);
}

int store_delivery_result(struct store *st, long long id, const char *status, long long next_at,
			  const char *error, const char *relay, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_DELIVERY_RESULT,
					"UPDATE deliveries SET status = ?2, next_at = ?3, last_error = ?4,"
					" updated_at = ?5, relay = COALESCE(?6, relay)"
					" WHERE id = ?1 AND status = 'sending'");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, next_at);
	bind_opt(s, 4, error);
	sqlite3_bind_int64(s, 5, now);
	bind_opt(s, 6, relay);
	if (store_step_done(st, s) < 0)
		return -1;
	return sqlite3_changes(store_db(st)) > 0;
}

long long store_delivery_requeue_sending(struct store *st, long long now)
{
	return store_update_now(st, STMT_DELIVERY_REQUEUE,
				"UPDATE deliveries SET status = 'queued', next_at = ?1,"
				" updated_at = ?1 WHERE status = 'sending'",
				now);
}

long long store_archive_find_msgid(struct store *st, long long list_id, const char *msgid)
{
	sqlite3_stmt *s = store_prepare(st, STMT_ARCHIVE_FIND_MSGID,
					"SELECT id FROM archive WHERE list_id = ?1 AND"
					" (list_msgid = ?2 OR orig_msgid = ?2) ORDER BY id LIMIT 1");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_text(s, 2, msgid, -1, SQLITE_STATIC);
	return store_step_int(st, s, "look up a Message-ID in the archive");
}

long long store_thread_find_subject(struct store *st, long long list_id, const char *base,
				    long long since)
{
	sqlite3_stmt *s = store_prepare(st, STMT_THREAD_FIND_SUBJECT,
					"SELECT root_id FROM threads WHERE list_id = ?1 AND"
					" base_subject = ?2 AND last_at >= ?3 AND root_id IS NOT NULL"
					" ORDER BY last_at DESC LIMIT 1");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_text(s, 2, base, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, since);
	return store_step_int(st, s, "look up a thread by subject");
}

void archive_row_clear(struct archive_row *r)
{
	free(r->list_msgid);
	free(r->refs);
	free(r->author_addr);
	free(r->author_name);
	free(r->subject);
	memset(r, 0, sizeof(*r));
}

int store_archive_row(struct store *st, long long id, struct archive_row *out)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_ARCHIVE_ROW,
		"SELECT a.list_id, a.thread_id, a.list_msgid, a.refs, a.author_addr, a.author_name,"
		" a.subject, a.subscriber_id, t.root_id, (SELECT r.author_addr FROM archive r"
		" WHERE r.id = t.root_id) FROM archive a JOIN threads t ON t.id = a.thread_id"
		" WHERE a.id = ?1");
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char *root_author = store_col_text(s, 9);
		out->id = id;
		out->list_id = sqlite3_column_int64(s, 0);
		out->thread_id = sqlite3_column_int64(s, 1);
		out->list_msgid = store_col_text(s, 2);
		out->refs = store_col_text(s, 3);
		out->author_addr = store_col_text(s, 4);
		out->author_name = store_col_text(s, 5);
		out->subject = store_col_text(s, 6);
		out->subscriber_id = sqlite3_column_int64(s, 7);
		out->root_id = sqlite3_column_int64(s, 8);
		snprintf(out->root_author, sizeof(out->root_author), "%s",
			 root_author ? root_author : "");
		free(root_author);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_error(st, "read an archived message");
	return rc == SQLITE_ROW;
}

/* The readers of a reply, by policy (design §3): never the replier (?4),
 * never a reader who muted the thread (?5), only active subscribers.
 * ?6 is the post's author. */
#define REPLY_NOT_MUTED                                                                 \
	" AND s.status = 'active' AND lower(s.address) <> lower(?4) AND NOT EXISTS"     \
	" (SELECT 1 FROM thread_prefs p WHERE p.thread_id = ?5 AND p.subscriber_id = s.id" \
	" AND p.pref = 'mute')"
#define REPLY_FOLLOWS                                                                 \
	"EXISTS (SELECT 1 FROM thread_prefs p WHERE p.thread_id = ?5 AND"            \
	" p.subscriber_id = s.id AND p.pref = 'follow')"

long long store_reply_deliveries(struct store *st, const struct reply_rcpts *r)
{
	static const char *const sql[] = {
		/* list: every reader who wants replies, and followers */
		"INSERT OR IGNORE INTO deliveries(archive_id, subscriber_id, address, next_at,"
		" created_at, updated_at) SELECT ?1, s.id, s.address, ?3, ?3, ?3 FROM subscribers s"
		" WHERE s.list_id = ?2 AND (s.mode = 'all' OR " REPLY_FOLLOWS ")" REPLY_NOT_MUTED
		" AND ?6 IS NOT NULL",
		/* author: the post's author, as a subscriber if one */
		"INSERT OR IGNORE INTO deliveries(archive_id, subscriber_id, address, next_at,"
		" created_at, updated_at) SELECT ?1, s.id, s.address, ?3, ?3, ?3 FROM subscribers s"
		" WHERE s.list_id = ?2 AND lower(s.address) = lower(?6)" REPLY_NOT_MUTED,
		/* thread: the author, every earlier participant, the followers */
		"INSERT OR IGNORE INTO deliveries(archive_id, subscriber_id, address, next_at,"
		" created_at, updated_at) SELECT ?1, s.id, s.address, ?3, ?3, ?3 FROM subscribers s"
		" WHERE s.list_id = ?2 AND (lower(s.address) = lower(?6) OR " REPLY_FOLLOWS
		" OR EXISTS (SELECT 1 FROM archive a WHERE a.thread_id = ?5 AND a.id <> ?1 AND"
		" lower(a.author_addr) = lower(s.address)))" REPLY_NOT_MUTED,
	};
	static const enum store_stmt ids[] = {STMT_REPLY_DELIVER_LIST, STMT_REPLY_DELIVER_AUTHOR,
					      STMT_REPLY_DELIVER_THREAD};
	sqlite3_stmt *s, *a;
	long long n;

	if (r->policy < 0 || r->policy > 2)
		return 0;
	if ((s = store_prepare(st, ids[r->policy], sql[r->policy])) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, r->archive_id);
	sqlite3_bind_int64(s, 2, r->list_id);
	sqlite3_bind_int64(s, 3, r->now);
	sqlite3_bind_text(s, 4, r->replier, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, r->thread_id);
	sqlite3_bind_text(s, 6, r->author, -1, SQLITE_STATIC);
	if (store_step_done(st, s) < 0)
		return -1;
	n = sqlite3_changes(store_db(st));
	if (r->policy == 0 || r->author == NULL || r->author[0] == '\0' ||
	    strcasecmp(r->author, r->replier) == 0)
		return n;
	/* the post's author, when not a subscriber, gets the replies to it too */
	a = store_prepare(st, STMT_REPLY_DELIVER_OUTSIDE_AUTHOR,
			  "INSERT OR IGNORE INTO deliveries(archive_id, address, next_at, created_at,"
			  " updated_at) SELECT ?1, ?4, ?3, ?3, ?3 WHERE NOT EXISTS (SELECT 1 FROM"
			  " subscribers s WHERE s.list_id = ?2 AND lower(s.address) = lower(?4))");
	if (a == NULL)
		return -1;
	sqlite3_bind_int64(a, 1, r->archive_id);
	sqlite3_bind_int64(a, 2, r->list_id);
	sqlite3_bind_int64(a, 3, r->now);
	sqlite3_bind_text(a, 4, r->author, -1, SQLITE_STATIC);
	if (store_step_done(st, a) < 0)
		return -1;
	return n + sqlite3_changes(store_db(st));
}

int store_thread_pref(struct store *st, long long thread_id, long long sub_id, const char *pref,
		      long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_THREAD_PREF,
					"INSERT INTO thread_prefs(thread_id, subscriber_id, pref, at)"
					" VALUES (?1, ?2, ?3, ?4) ON CONFLICT (thread_id, subscriber_id)"
					" DO UPDATE SET pref = excluded.pref, at = excluded.at");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, thread_id);
	sqlite3_bind_int64(s, 2, sub_id);
	sqlite3_bind_text(s, 3, pref, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	return store_step_done(st, s);
}

long long store_thread_of(struct store *st, long long thread_id, long long list_id)
{
	sqlite3_stmt *s = store_prepare(st, STMT_THREAD_OF,
					"SELECT id FROM threads WHERE id = ?1 AND list_id = ?2");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, thread_id);
	sqlite3_bind_int64(s, 2, list_id);
	return store_step_int(st, s, "read a thread");
}
