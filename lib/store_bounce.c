/*
 * store_bounce.c - bounces, the scores of subscribers and their probes (see
 * store_bounce.h).
 *
 * Must never score a subscriber that is not active, never disable or
 * enable one outside the guarded UPDATEs below, and never change a
 * subscriber row without its subscriber_events row in the same transaction.
 */
#include "autoconf.h"

#include "store_bounce.h"

#include <stdio.h>
#include <string.h>

#include "store_sub.h"

int bounce_rule(const struct bounce_score *old, enum dsn_class cls, long long now,
		struct bounce_score *out)
{
	double w = cls == DSN_HARD ? BOUNCE_HARD_WEIGHT : cls == DSN_SOFT ? BOUNCE_SOFT_WEIGHT : 0;
	int stale = old->last_at != 0 && now - old->last_at >= BOUNCE_STALE;

	out->score = stale ? 0 : old->score;
	out->last_at = stale ? 0 : old->last_at;
	if (w == 0)
		return 0;
	if (out->last_at != 0 && now - out->last_at < BOUNCE_DAY)
		return 0;
	out->score += w;
	out->last_at = now;
	return 1;
}

double bounce_effective(const struct bounce_score *old, long long now)
{
	if (old->last_at != 0 && now - old->last_at >= BOUNCE_STALE)
		return 0;
	return old->score;
}

static void col_copy(sqlite3_stmt *s, int i, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, len, "%s", t ? (const char *)t : "");
}

int store_bounce_copy(struct store *st, long long delivery_id, struct bounce_copy *out)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_BOUNCE_COPY,
		"SELECT d.id, COALESCE(a.list_id, n.list_id), d.subscriber_id,"
		" COALESCE(n.kind = 'probe', 0), d.address FROM deliveries d"
		" LEFT JOIN archive a ON a.id = d.archive_id"
		" LEFT JOIN notices n ON n.id = d.notice_id"
		" WHERE d.id = ?1 AND d.subscriber_id IS NOT NULL AND d.attempts > 0"
		" AND d.status <> 'queued' AND d.status <> 'cancelled'");
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, delivery_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 1) != SQLITE_NULL) {
		out->delivery_id = sqlite3_column_int64(s, 0);
		out->list_id = sqlite3_column_int64(s, 1);
		out->subscriber_id = sqlite3_column_int64(s, 2);
		out->probe = sqlite3_column_int(s, 3);
		col_copy(s, 4, out->address, sizeof(out->address));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_error(st, "read a bounced copy");
	return out->delivery_id != 0;
}

/* sub_score: 1 and the stored score, probe and status of SUB_ID, 0 if no
 * such row, -1. */
static int sub_score(struct store *st, long long sub_id, struct bounce_score *sc,
		     long long *probe_id, int *active)
{
	sqlite3_stmt *s = store_prepare(st, STMT_BOUNCE_SUB,
					"SELECT bounce_score, COALESCE(bounce_last_at, 0),"
					" COALESCE(bounce_probe_id, 0), status = 'active'"
					" FROM subscribers WHERE id = ?1");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, sub_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		sc->score = sqlite3_column_double(s, 0);
		sc->last_at = sqlite3_column_int64(s, 1);
		*probe_id = sqlite3_column_int64(s, 2);
		*active = sqlite3_column_int(s, 3);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_error(st, "read a bounce score");
	return rc == SQLITE_ROW;
}

/* set_score: store SC on active subscriber SUB_ID; a stale score (its
 * last_at gone to 0) forgets its probe too. 0 or -1. */
static int set_score(struct store *st, long long sub_id, const struct bounce_score *sc,
		     long long now)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_BOUNCE_SCORE,
		"UPDATE subscribers SET bounce_score = ?2, bounce_last_at = NULLIF(?3, 0),"
		" bounce_probe_id = CASE WHEN ?3 = 0 THEN NULL ELSE bounce_probe_id END,"
		" updated_at = ?4 WHERE id = ?1 AND status = 'active'");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, sub_id);
	sqlite3_bind_double(s, 2, sc->score);
	sqlite3_bind_int64(s, 3, sc->last_at);
	sqlite3_bind_int64(s, 4, now);
	return store_step_done(st, s);
}

static int history_add(struct store *st, const struct bounce_new *b, double added)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_BOUNCE_ADD,
		"INSERT INTO bounces(subscriber_id, delivery_id, at, source, class, status,"
		" diagnostic, score, probe) VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, ''),"
		" NULLIF(?7, ''), ?8, ?9)");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, b->copy->subscriber_id);
	sqlite3_bind_int64(s, 2, b->copy->delivery_id);
	sqlite3_bind_int64(s, 3, b->now);
	sqlite3_bind_text(s, 4, b->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, b->cls == DSN_CLASS_NONE ? "complaint" : dsn_class_name(b->cls), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 6, b->status ? b->status : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, b->diag ? b->diag : "", -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 8, added);
	sqlite3_bind_int(s, 9, b->copy->probe);
	return store_step_done(st, s);
}

int store_bounce_add(struct store *st, const struct bounce_new *b, struct bounce_outcome *out)
{
	struct bounce_score old = {0, 0}, now_sc;
	long long probe_id = 0, sub = b->copy->subscriber_id;
	char actor[DSN_DIAG_MAX + 64];
	int active = 0, rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sub_score(st, sub, &old, &probe_id, &active)) <= 0)
		return rc;
	out->active = active && b->cls != DSN_CLASS_NONE;
	now_sc = old;
	if (out->active) {
		out->scored = bounce_rule(&old, b->cls, b->now, &now_sc);
		if (set_score(st, sub, &now_sc, b->now) < 0)
			return -1;
		if (now_sc.last_at == 0)
			probe_id = 0;
	}
	out->score = bounce_effective(&now_sc, b->now);
	if (history_add(st, b, out->scored ? now_sc.score - bounce_effective(&old, b->now) : 0) < 0)
		return -1;
	snprintf(actor, sizeof(actor), "copy %lld: %s %s%s%s", b->copy->delivery_id,
		 b->cls == DSN_CLASS_NONE ? "complaint" : dsn_class_name(b->cls),
		 b->status && b->status[0] ? b->status : "-", b->diag && b->diag[0] ? " " : "",
		 b->diag ? b->diag : "");
	if (store_sub_event(st, sub, b->now, out->scored ? "bounce" : "bounce-unscored", b->source,
			    actor) < 0)
		return -1;
	out->disable = out->active && b->copy->probe;
	out->probe_due = out->active && !out->disable && probe_id == 0 &&
			 out->score >= b->threshold;
	return 0;
}

int store_bounce_probe_sent(struct store *st, long long sub_id, long long delivery_id,
			    long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_BOUNCE_PROBE,
					"UPDATE subscribers SET bounce_probe_id = ?2, updated_at = ?3"
					" WHERE id = ?1 AND status = 'active' AND bounce_probe_id IS NULL");
	char actor[64];

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, sub_id);
	sqlite3_bind_int64(s, 2, delivery_id);
	sqlite3_bind_int64(s, 3, now);
	if (store_step_done(st, s) < 0)
		return -1;
	if (sqlite3_changes(store_db(st)) == 0)
		return 0;
	snprintf(actor, sizeof(actor), "copy %lld", delivery_id);
	return store_sub_event(st, sub_id, now, "probe", "bounce", actor) < 0 ? -1 : 1;
}

int store_bounce_disable(struct store *st, long long sub_id, const char *actor, long long now)
{
	sqlite3_stmt *s = store_prepare(st, STMT_BOUNCE_DISABLE,
					"UPDATE subscribers SET status = 'disabled', bounce_disabled_at = ?2,"
					" bounce_probe_id = NULL, updated_at = ?2"
					" WHERE id = ?1 AND status = 'active'");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, sub_id);
	sqlite3_bind_int64(s, 2, now);
	if (store_step_done(st, s) < 0)
		return -1;
	if (sqlite3_changes(store_db(st)) == 0)
		return 0;
	return store_sub_event(st, sub_id, now, "disabled", "bounce", actor) < 0 ? -1 : 1;
}

int store_bounce_enable(struct store *st, long long list_id, const char *address,
			const char *how, const char *actor, long long now)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_BOUNCE_ENABLE,
		"UPDATE subscribers SET status = 'active', bounce_score = 0, bounce_last_at = NULL,"
		" bounce_probe_id = NULL, bounce_disabled_at = NULL, updated_at = ?3"
		" WHERE list_id = ?1 AND address = ?2 AND status = 'disabled'"
		" AND bounce_disabled_at IS NOT NULL RETURNING id");
	long long id;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_text(s, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if ((id = store_step_int(st, s, "enable a subscriber")) <= 0)
		return id < 0 ? -1 : 0;
	return store_sub_event(st, id, now, "enabled", how, actor) < 0 ? -1 : 1;
}

long long store_bounce_notice_subscriber(struct store *st, long long notice_id, long long sub_id,
					 const char *address)
{
	sqlite3_stmt *s = store_prepare(st, STMT_BOUNCE_NOTICE_SUB,
					"UPDATE deliveries SET subscriber_id = ?2"
					" WHERE notice_id = ?1 AND address = ?3 RETURNING id");
	long long id;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, notice_id);
	sqlite3_bind_int64(s, 2, sub_id);
	sqlite3_bind_text(s, 3, address, -1, SQLITE_STATIC);
	id = store_step_int(st, s, "give a notice to a subscriber");
	return id == 0 ? -1 : id;
}

int store_bounce_notice_sender(struct store *st, long long notice_id, const char *sender)
{
	sqlite3_stmt *s = store_prepare(st, STMT_BOUNCE_NOTICE_SENDER,
					"UPDATE notices SET sender = ?2 WHERE id = ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, notice_id);
	sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

static const char *col_or_empty(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}

int store_bounce_each(struct store *st, long long sub_id, bounce_row_cb cb, void *ctx)
{
	sqlite3_stmt *s = store_prepare(st, STMT_BOUNCE_EACH,
					"SELECT at, COALESCE(delivery_id, 0), source, class, status,"
					" diagnostic, score, probe FROM bounces WHERE subscriber_id = ?1"
					" ORDER BY at, id");
	struct bounce_row r;
	int rc, stop = 0;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, sub_id);
	while (stop == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		r.at = sqlite3_column_int64(s, 0);
		r.delivery_id = sqlite3_column_int64(s, 1);
		r.source = col_or_empty(s, 2);
		r.cls = col_or_empty(s, 3);
		r.status = col_or_empty(s, 4);
		r.diag = col_or_empty(s, 5);
		r.score = sqlite3_column_double(s, 6);
		r.probe = sqlite3_column_int(s, 7);
		stop = cb(&r, ctx);
	}
	sqlite3_reset(s);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? 0 : store_error(st, "list bounces");
}

int store_bounce_subs(struct store *st, long long list_id, const char *address, bounce_sub_cb cb,
		      void *ctx)
{
	sqlite3_stmt *s = store_prepare(
		st, STMT_BOUNCE_SUBS,
		"SELECT s.id, s.address, s.status, s.bounce_score, COALESCE(s.bounce_last_at, 0),"
		" COALESCE(s.bounce_probe_id, 0), COALESCE(s.bounce_disabled_at, 0),"
		" (SELECT count(*) FROM bounces b WHERE b.subscriber_id = s.id) AS n"
		" FROM subscribers s WHERE s.list_id = ?1 AND (?2 IS NULL OR s.address = ?2)"
		" AND (s.bounce_score > 0 OR n > 0 OR ?2 IS NOT NULL) ORDER BY s.address");
	struct bounce_sub b;
	int rc, stop = 0;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	if (address != NULL)
		sqlite3_bind_text(s, 2, address, -1, SQLITE_STATIC);
	while (stop == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		b.id = sqlite3_column_int64(s, 0);
		b.address = col_or_empty(s, 1);
		b.status = col_or_empty(s, 2);
		b.score.score = sqlite3_column_double(s, 3);
		b.score.last_at = sqlite3_column_int64(s, 4);
		b.probe_id = sqlite3_column_int64(s, 5);
		b.disabled_at = sqlite3_column_int64(s, 6);
		b.bounces = sqlite3_column_int64(s, 7);
		stop = cb(&b, ctx);
	}
	sqlite3_reset(s);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? 0 : store_error(st, "list bounce scores");
}
