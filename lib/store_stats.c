/*
 * store_stats.c - the counters of parley stats and /metrics (see
 * store_stats.h). Reads the archive through its archive_kind index, the
 * per-minute and all-time copy counts the delivery_count trigger keeps,
 * and the copies still waiting. Must never write anything but the pruning
 * of old minute counts, and never count by itself what the trigger counts.
 */
#include "autoconf.h"

#include "store_stats.h"

#include <string.h>

static const char *const copy_names[STATS__COPIES] = {"sent", "deferred", "failed",
						      "cancelled"};
static const char *const span_names[STATS__SPANS] = {"hour", "day", "all"};
static const char *const bounce_names[STATS__BOUNCES] = {"hard", "soft", "complaint"};

const char *stats_bounce_name(enum stats_bounce b)
{
	return bounce_names[b];
}

const char *stats_copy_name(enum stats_copy c)
{
	return copy_names[c];
}

const char *stats_span_name(enum stats_span s)
{
	return span_names[s];
}

/* spans: run S (the statement of counts ID, prepared from SQL) with ?1 =
 * LIST_ID, ?2 = HOUR, ?3 = DAY; each row is (name, all, hour, day) and
 * goes to V[i] where NAMES[i] is its name (N names). 0 or -1 (WHAT failed). */
static int spans(struct store *st, enum store_stmt id, const char *sql, long long list_id,
		 long long hour, long long day, const char *const *names, int n,
		 long long (*v)[STATS__SPANS], const char *what)
{
	sqlite3_stmt *s = store_prepare(st, id, sql);
	int rc, i;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_int64(s, 2, hour);
	sqlite3_bind_int64(s, 3, day);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		for (i = 0; i < n; i++) {
			if (name == NULL || strcmp(name, names[i]) != 0)
				continue;
			v[i][STATS_ALL] = sqlite3_column_int64(s, 1);
			v[i][STATS_HOUR] = sqlite3_column_int64(s, 2);
			v[i][STATS_DAY] = sqlite3_column_int64(s, 3);
		}
	}
	return rc == SQLITE_DONE ? 0 : store_error(st, what);
}

/* archived: the posts and replies of LIST_ID since HOUR and DAY (times). */
static int archived(struct store *st, long long list_id, long long hour, long long day,
		    struct stats *out)
{
	static const char *const kinds[] = {"post", "reply"};
	long long v[2][STATS__SPANS] = {{0}};
	int rc = spans(st, STMT_STATS_ARCHIVE,
		       "SELECT kind, count(*), total(created_at >= ?2), total(created_at >= ?3)"
		       " FROM archive WHERE ?1 = 0 OR list_id = ?1 GROUP BY kind",
		       list_id, hour, day, kinds, 2, v, "counting the archive");

	memcpy(out->posts, v[0], sizeof(out->posts));
	memcpy(out->replies, v[1], sizeof(out->replies));
	return rc;
}

/* copies: the status changes of LIST_ID's copies since the minutes HOUR
 * and DAY, and in all (minute 0). */
static int copies(struct store *st, long long list_id, long long hour, long long day,
		  struct stats *out)
{
	return spans(st, STMT_STATS_COPIES,
		     "SELECT status, total(CASE WHEN minute = 0 THEN n END),"
		     " total(CASE WHEN minute >= ?2 THEN n END),"
		     " total(CASE WHEN minute >= ?3 THEN n END)"
		     " FROM delivery_counts WHERE ?1 = 0 OR list_id = ?1 GROUP BY status",
		     list_id, hour, day, copy_names, STATS__COPIES, out->copies,
		     "counting the copies");
}

/* bounced: the bounces of LIST_ID's subscribers since HOUR and DAY (times). */
static int bounced(struct store *st, long long list_id, long long hour, long long day,
		   struct stats *out)
{
	return spans(st, STMT_STATS_BOUNCES,
		     "SELECT b.class, count(*), total(b.at >= ?2), total(b.at >= ?3)"
		     " FROM bounces b JOIN subscribers s ON s.id = b.subscriber_id"
		     " WHERE ?1 = 0 OR s.list_id = ?1 GROUP BY b.class",
		     list_id, hour, day, bounce_names, STATS__BOUNCES, out->bounces,
		     "counting the bounces");
}

/* waiting: the copies of LIST_ID not yet sent, failed or cancelled. */
static int waiting(struct store *st, long long list_id, struct stats *out)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_STATS_QUEUE,
		"SELECT d.status, count(*), min(d.created_at) FROM deliveries d"
		" LEFT JOIN archive a ON a.id = d.archive_id"
		" LEFT JOIN notices n ON n.id = d.notice_id"
		" WHERE d.status IN ('queued', 'deferred', 'sending')"
		" AND (?1 = 0 OR COALESCE(a.list_id, n.list_id, 0) = ?1) GROUP BY d.status");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(s, 0);
		long long n = sqlite3_column_int64(s, 1), at = sqlite3_column_int64(s, 2);
		if (status == NULL)
			continue;
		if (strcmp(status, "queued") == 0)
			out->queued = n;
		else if (strcmp(status, "deferred") == 0)
			out->deferred = n;
		else
			out->sending = n;
		if (out->oldest_at == 0 || at < out->oldest_at)
			out->oldest_at = at;
	}
	return rc == SQLITE_DONE ? 0 : store_error(st, "counting the queue");
}

int store_stats_get(struct store *st, long long list_id, long long now, struct stats *out)
{
	sqlite3 *db = store_db(st);
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return store_error(st, "beginning to read the counters");
	rc = archived(st, list_id, now - 3600, now - 86400, out);
	if (rc == 0)
		rc = copies(st, list_id, now / 60 - 59, now / 60 - (24 * 60 - 1), out);
	if (rc == 0)
		rc = bounced(st, list_id, now - 3600, now - 86400, out);
	if (rc == 0)
		rc = waiting(st, list_id, out);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK && rc == 0)
		rc = store_error(st, "ending the read of the counters");
	return rc;
}

int stats_tally_add(struct stats_tally *t, long long list_id, const char *status)
{
	enum stats_copy c;
	size_t i;

	if (strcmp(status, "sent") == 0)
		c = STATS_SENT;
	else if (strcmp(status, "deferred") == 0)
		c = STATS_DEFERRED;
	else if (strcmp(status, "failed") == 0)
		c = STATS_FAILED;
	else
		return 0;
	for (i = 0; i < t->n; i++)
		if (t->v[i].list_id == list_id && t->v[i].copy == c) {
			t->v[i].n++;
			return 0;
		}
	if (t->n == STATS_TALLY_MAX)
		return -1;
	t->v[t->n].list_id = list_id;
	t->v[t->n].copy = c;
	t->v[t->n].n = 1;
	t->n++;
	return 0;
}

int store_stats_tally(struct store *st, const struct stats_tally *t, long long now)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		sqlite3_stmt *s = store_prepare(
			st, STMT_STATS_ADD,
			"INSERT INTO delivery_counts(list_id, minute, status, n)"
			" VALUES (?1, ?2, ?3, ?4), (?1, 0, ?3, ?4)"
			" ON CONFLICT DO UPDATE SET n = n + excluded.n");
		if (s == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, t->v[i].list_id);
		sqlite3_bind_int64(s, 2, now / 60);
		sqlite3_bind_text(s, 3, copy_names[t->v[i].copy], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, t->v[i].n);
		if (store_step_done(st, s) < 0)
			return -1;
	}
	return 0;
}

int store_stats_prune(struct store *st, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_STATS_PRUNE,
					"DELETE FROM delivery_counts WHERE minute > 0 AND minute < ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now / 60 - STATS_MINUTES_KEPT);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_error(st, "pruning the minute counts");
	return sqlite3_changes(store_db(st));
}
