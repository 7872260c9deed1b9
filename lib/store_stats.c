/*
 * store_stats.c - the counters of parley stats and /metrics (see
 * store_stats.h). Reads the archive through its archive_kind index, the
 * per-minute and all-time copy counts the delivery_count trigger keeps,
 * and the copies still waiting; the relays' counts and state (schema 11).
 * Must never write anything but the workers' tallies, the relays' state
 * and the pruning of old minute counts, and never count by itself what the
 * trigger counts.
 */
#include "autoconf.h"

#include "store_stats.h"

#include <stdio.h>
#include <string.h>

static const char *const copy_names[STATS__COPIES] = {"sent", "deferred", "failed",
						      "cancelled"};
static const char *const span_names[STATS__SPANS] = {"hour", "day", "all"};
static const char *const bounce_names[STATS__BOUNCES] = {"hard", "soft", "complaint"};
static const char *const rspan_names[STATS__RSPANS] = {"minute", "hour", "day", "all"};

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

/* tallied: the status STATUS counts ("sent", "deferred", "failed") into *C;
 * 0 if it is one the store counts itself or not at all. */
static int tallied(const char *status, enum stats_copy *c)
{
	if (strcmp(status, "sent") == 0)
		*c = STATS_SENT;
	else if (strcmp(status, "deferred") == 0)
		*c = STATS_DEFERRED;
	else if (strcmp(status, "failed") == 0)
		*c = STATS_FAILED;
	else
		return 0;
	return 1;
}

/* list_slot, relay_slot: the entry of T for (LIST_ID or RELAY, C): its
 * index, T->n or T->nr if it is new (not yet counted), or -1 if full. */
static long list_slot(const struct stats_tally *t, long long list_id, enum stats_copy c)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].list_id == list_id && t->v[i].copy == c)
			return (long)i;
	return t->n < STATS_TALLY_MAX ? (long)t->n : -1;
}

static long relay_slot(const struct stats_tally *t, const char *relay, enum stats_copy c)
{
	size_t i;

	for (i = 0; i < t->nr; i++)
		if (t->r[i].copy == c && strcmp(t->r[i].relay, relay) == 0)
			return (long)i;
	return t->nr < STATS_TALLY_MAX ? (long)t->nr : -1;
}

int stats_tally_copy(struct stats_tally *t, long long list_id, const char *relay,
		     const char *status)
{
	enum stats_copy c;
	long i, k = -1;

	if (!tallied(status, &c))
		return 0;
	if (relay != NULL && relay[0] == '\0')
		relay = NULL;
	if ((i = list_slot(t, list_id, c)) < 0 || (relay && (k = relay_slot(t, relay, c)) < 0))
		return -1;
	if ((size_t)i == t->n) {
		t->v[t->n].list_id = list_id;
		t->v[t->n].copy = c;
		t->v[t->n++].n = 0;
	}
	t->v[i].n++;
	if (relay == NULL)
		return 0;
	if ((size_t)k == t->nr) {
		t->r[t->nr].relay = relay;
		t->r[t->nr].copy = c;
		t->r[t->nr++].n = 0;
	}
	t->r[k].n++;
	return 0;
}

int stats_tally_add(struct stats_tally *t, long long list_id, const char *status)
{
	return stats_tally_copy(t, list_id, NULL, status);
}

/* relays_tally: T's relay counts added to the minute of NOW and all time. */
static int relays_tally(struct store *st, const struct stats_tally *t, long long now)
{
	size_t i;

	for (i = 0; i < t->nr; i++) {
		sqlite3_stmt *s = store_prepare(
			st, STMT_STATS_RELAY_ADD,
			"INSERT INTO relay_counts(relay, minute, status, n)"
			" VALUES (?1, ?2, ?3, ?4), (?1, 0, ?3, ?4)"
			" ON CONFLICT DO UPDATE SET n = n + excluded.n");
		if (s == NULL)
			return -1;
		sqlite3_bind_text(s, 1, t->r[i].relay, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now / 60);
		sqlite3_bind_text(s, 3, copy_names[t->r[i].copy], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, t->r[i].n);
		if (store_step_done(st, s) < 0)
			return -1;
	}
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
	return relays_tally(st, t, now);
}

int store_stats_prune(struct store *st, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_STATS_PRUNE,
					"DELETE FROM delivery_counts WHERE minute > 0 AND minute < ?1");
	int n;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now / 60 - STATS_MINUTES_KEPT);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_error(st, "pruning the minute counts");
	n = sqlite3_changes(store_db(st));
	s = store_prepare(st, STMT_STATS_RELAY_PRUNE,
			  "DELETE FROM relay_counts WHERE minute > 0 AND minute < ?1");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now / 60 - STATS_MINUTES_KEPT);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_error(st, "pruning the relays' minute counts");
	return n + sqlite3_changes(store_db(st));
}

const char *stats_rspan_name(enum stats_rspan s)
{
	return rspan_names[s];
}

/* relay_find: the entry of KEY in OUT[0..*N), added if new and there is
 * room (MAX); NULL if not. */
static struct stats_relay *relay_find(struct stats_relay *out, size_t *n, size_t max,
				      const char *key)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(out[i].relay, key) == 0)
			return &out[i];
	if (*n == max)
		return NULL;
	memset(&out[*n], 0, sizeof(out[*n]));
	snprintf(out[*n].relay, sizeof(out[*n].relay), "%s", key);
	out[*n].state = -1;
	return &out[(*n)++];
}

/* relay_states: the state rows into OUT (see store_stats_relays). */
static int relay_states(struct store *st, struct stats_relay *out, size_t *n, size_t max)
{
	sqlite3_stmt *s = store_prepare(st, STMT_STATS_RELAY_STATES,
					"SELECT relay, state, down_until, reason FROM relay_state"
					" ORDER BY relay");
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(s, 0);
		const char *state = (const char *)sqlite3_column_text(s, 1);
		const char *why = (const char *)sqlite3_column_text(s, 3);
		struct stats_relay *r = key ? relay_find(out, n, max, key) : NULL;
		if (r == NULL)
			continue;
		r->state = state != NULL && strcmp(state, "up") == 0;
		r->down_until = sqlite3_column_int64(s, 2);
		snprintf(r->reason, sizeof(r->reason), "%s", why ? why : "");
	}
	return rc == SQLITE_DONE ? 0 : store_error(st, "reading the relays' state");
}

/* relay_counts: the copies per relay and status since the minutes MINUTE,
 * HOUR and DAY, and in all, into OUT. */
static int relay_counts(struct store *st, long long minute, long long hour, long long day,
			struct stats_relay *out, size_t *n, size_t max)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_STATS_RELAY_COUNTS,
		"SELECT relay, status, total(CASE WHEN minute = 0 THEN n END),"
		" total(CASE WHEN minute >= ?1 THEN n END), total(CASE WHEN minute >= ?2 THEN n END),"
		" total(CASE WHEN minute >= ?3 THEN n END)"
		" FROM relay_counts GROUP BY relay, status ORDER BY relay");
	int rc, c;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, minute);
	sqlite3_bind_int64(s, 2, hour);
	sqlite3_bind_int64(s, 3, day);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(s, 0);
		const char *status = (const char *)sqlite3_column_text(s, 1);
		enum stats_copy k;
		struct stats_relay *r;
		if (key == NULL || status == NULL || !tallied(status, &k) ||
		    (r = relay_find(out, n, max, key)) == NULL)
			continue;
		r->copies[k][STATS_R_ALL] = sqlite3_column_int64(s, 2);
		for (c = 0; c < 3; c++)
			r->copies[k][c] = sqlite3_column_int64(s, 3 + c);
	}
	return rc == SQLITE_DONE ? 0 : store_error(st, "counting the relays' copies");
}

int store_stats_relays(struct store *st, long long now, struct stats_relay *out, size_t max)
{
	sqlite3 *db = store_db(st);
	long long into = now % 60 + 1;	/* seconds of the current minute, this one too */
	size_t n = 0, i;
	int rc;

	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return store_error(st, "beginning to read the relays");
	rc = relay_states(st, out, &n, max);
	if (rc == 0)
		rc = relay_counts(st, now / 60, now / 60 - 59, now / 60 - (24 * 60 - 1), out, &n, max);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK && rc == 0)
		rc = store_error(st, "ending the read of the relays");
	for (i = 0; i < n; i++) {
		out[i].rate_minute = (double)out[i].copies[STATS_SENT][STATS_R_MINUTE] / (double)into;
		out[i].rate_hour =
			(double)out[i].copies[STATS_SENT][STATS_R_HOUR] / (double)(59 * 60 + into);
	}
	return rc == 0 ? (int)n : -1;
}

int store_relay_state_set(struct store *st, const char *key, long long down_until,
			  const char *reason, long long now)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_RELAY_STATE_SET,
		"INSERT INTO relay_state(relay, state, down_until, reason, updated_at)"
		" VALUES (?1, CASE WHEN ?2 > 0 THEN 'down' ELSE 'up' END, NULLIF(?2, 0), ?3, ?4)"
		" ON CONFLICT (relay) DO UPDATE SET state = excluded.state,"
		" down_until = excluded.down_until, reason = excluded.reason,"
		" updated_at = excluded.updated_at");

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, down_until);
	if (down_until > 0 && reason != NULL)
		sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	return store_step_done(st, s);
}

int store_relay_state_reset(struct store *st, const char *const *keys, size_t n, long long now)
{
	sqlite3_stmt *s = store_prepare_once(st, "DELETE FROM relay_state");
	size_t i;
	int rc;

	if (s == NULL)
		return -1;
	rc = store_step_done(st, s);
	sqlite3_finalize(s);
	for (i = 0; i < n && rc == 0; i++)
		rc = store_relay_state_set(st, keys[i], 0, NULL, now);
	return rc;
}
