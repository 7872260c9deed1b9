/*
 * store_sub.c - subscriber rows and consent events (see store_sub.h).
 *
 * Must never delete a subscriber row nor change one without writing the
 * matching subscriber_events row in the same transaction.
 */
#include "autoconf.h"

#include "store_sub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const char *const status_names[] = {"pending", "active", "disabled", "unsubscribed"};
static const char *const mode_names[] = {"all", "posts", "digest", "nomail"};
static const char *const consent_names[] = {NULL, "cli", "email-confirmed", "import"};

const char *sub_status_name(enum sub_status s)
{
	return status_names[s];
}

const char *sub_mode_name(enum sub_mode m)
{
	return mode_names[m];
}

const char *sub_consent_name(enum consent_how h)
{
	return consent_names[h];
}

static int name_index(const char *const *names, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (names[i] != NULL && name != NULL && strcmp(names[i], name) == 0)
			return i;
	return -1;
}

int sub_status_parse(const char *name, enum sub_status *out)
{
	int i = name_index(status_names, SUB_STATUS__COUNT, name);

	if (i < 0)
		return -1;
	*out = (enum sub_status)i;
	return 0;
}

int sub_mode_parse(const char *name, enum sub_mode *out)
{
	int i = name_index(mode_names, SUB_MODE__COUNT, name);

	if (i < 0)
		return -1;
	*out = (enum sub_mode)i;
	return 0;
}

static char *col_strdup(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	return t ? xstrdup((const char *)t) : NULL;
}

#define SUB_COLUMNS                                                                  \
	"id, address, name, status, mode, consent_how, consent_at, consent_by, "     \
	"created_at, updated_at, unsubscribed_at, "                                 \
	"CASE WHEN bounce_last_at < CAST(strftime('%s') AS INTEGER) - 7 * 86400 "     \
	"THEN 0 ELSE bounce_score END"

static void sub_from_row(sqlite3_stmt *s, struct sub *out)
{
	const char *addr = (const char *)sqlite3_column_text(s, 1);
	int i;

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(s, 0);
	snprintf(out->address, sizeof(out->address), "%s", addr ? addr : "");
	out->name = col_strdup(s, 2);
	i = name_index(status_names, SUB_STATUS__COUNT, (const char *)sqlite3_column_text(s, 3));
	out->status = i < 0 ? SUB_DISABLED : (enum sub_status)i;
	i = name_index(mode_names, SUB_MODE__COUNT, (const char *)sqlite3_column_text(s, 4));
	out->mode = i < 0 ? MODE_ALL : (enum sub_mode)i;
	i = name_index(consent_names, 4, (const char *)sqlite3_column_text(s, 5));
	out->consent_how = i < 0 ? CONSENT_NONE : (enum consent_how)i;
	out->consent_at = sqlite3_column_int64(s, 6);
	out->consent_by = col_strdup(s, 7);
	out->created_at = sqlite3_column_int64(s, 8);
	out->updated_at = sqlite3_column_int64(s, 9);
	out->unsubscribed_at = sqlite3_column_int64(s, 10);
	out->bounce_score = sqlite3_column_double(s, 11);
}

void sub_clear(struct sub *s)
{
	free(s->name);
	free(s->consent_by);
	s->name = NULL;
	s->consent_by = NULL;
}

int store_sub_get(struct store *st, long long list_id, const char *address, struct sub *out)
{
	sqlite3_stmt *s;
	int rc;

	s = store_prepare(st, STMT_SUB_GET,
			  "SELECT " SUB_COLUMNS " FROM subscribers WHERE list_id = ?1 AND address = ?2");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_text(s, 2, address, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		sub_from_row(s, out);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_error(st, "read subscriber");
}

int store_sub_event(struct store *st, long long sub_id, long long at, const char *event,
		    const char *how, const char *actor)
{
	sqlite3_stmt *s;

	s = store_prepare(st, STMT_SUB_EVENT,
			  "INSERT INTO subscriber_events(subscriber_id, at, event, how, actor) "
			  "VALUES (?1, ?2, ?3, ?4, ?5)");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, sub_id);
	sqlite3_bind_int64(s, 2, at);
	sqlite3_bind_text(s, 3, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, how, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, actor, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_sub_address(struct store *st, long long sub_id, long long list_id, char *out,
		      size_t len)
{
	sqlite3_stmt *s = store_prepare(st, STMT_SUB_ADDRESS,
					"SELECT address FROM subscribers WHERE id = ?1 AND list_id = ?2");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, sub_id);
	sqlite3_bind_int64(s, 2, list_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_error(st, "read a subscriber");
	return rc == SQLITE_ROW;
}

long long store_sub_active_id(struct store *st, long long list_id, const char *address)
{
	struct sub s;
	long long id = 0;
	int rc;

	if (address == NULL)
		return 0;
	if ((rc = store_sub_get(st, list_id, address, &s)) < 0)
		return -1;
	if (rc > 0) {
		/* 1 means sub_from_row filled S: store_error() (store.c) returns -1.
		 * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
		if (s.status == SUB_ACTIVE)
			id = s.id;
		sub_clear(&s);
	}
	return id;
}

long long store_sub_list_of(struct store *st, long long sub_id)
{
	sqlite3_stmt *s = store_prepare(st, STMT_SUB_LIST_OF,
					"SELECT list_id FROM subscribers WHERE id = ?1");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, sub_id);
	return store_step_int(st, s, "read a subscriber");
}

/* sub_insert: insert a new row with its first event; 1 done, 0 if the
 * address already has a row (nothing written), -1 on error. */
static int sub_insert(struct store *st, long long list_id, const struct sub_request *r)
{
	sqlite3_stmt *s;
	int active = r->status == SUB_ACTIVE;

	s = store_prepare(st, STMT_SUB_INSERT,
			  "INSERT INTO subscribers(list_id, address, name, status, mode, consent_how,"
			  " consent_at, consent_by, created_at, updated_at)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)"
			  " ON CONFLICT (list_id, address) DO NOTHING");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_text(s, 2, r->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, status_names[r->status], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, mode_names[r->mode_set ? r->mode : MODE_ALL], -1, SQLITE_STATIC);
	if (active) {
		sqlite3_bind_text(s, 6, consent_names[r->how], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, r->now);
		sqlite3_bind_text(s, 8, r->actor, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(s, 9, r->now);
	if (store_step_done(st, s) < 0)
		return -1;
	if (sqlite3_changes(store_db(st)) == 0)
		return 0;
	if (store_sub_event(st, sqlite3_last_insert_rowid(store_db(st)), r->now,
		      active ? "subscribed" : "requested", active ? consent_names[r->how] : "cli",
		      r->actor) < 0)
		return -1;
	return 1;
}

/*
 * One UPDATE serves every status change: ?3 status, ?4 name or NULL to keep,
 * ?5 mode or NULL to keep, ?6..?8 consent or NULL to keep (a pending row has
 * none: an earlier consent ended when the address unsubscribed), ?9 now,
 * ?10 1 to stamp unsubscribed_at (0 clears it), ?11 1 to reset the bounce score.
 */
static int sub_update(struct store *st, const struct sub *old, enum sub_status status,
		      const struct sub_request *r, int unsubscribe, int reset_bounces)
{
	sqlite3_stmt *s;

	s = store_prepare(st, STMT_SUB_UPDATE_STATUS,
			  "UPDATE subscribers SET status = ?3, name = COALESCE(?4, name),"
			  " mode = COALESCE(?5, mode),"
			  " consent_how = CASE ?3 WHEN 'pending' THEN NULL ELSE COALESCE(?6, consent_how) END,"
			  " consent_at = CASE ?3 WHEN 'pending' THEN NULL ELSE COALESCE(?7, consent_at) END,"
			  " consent_by = CASE ?3 WHEN 'pending' THEN NULL ELSE COALESCE(?8, consent_by) END,"
			  " updated_at = ?9,"
			  " unsubscribed_at = CASE WHEN ?10 THEN ?9 ELSE NULL END,"
			  " bounce_score = CASE WHEN ?11 THEN 0 ELSE bounce_score END,"
			  " bounce_last_at = CASE WHEN ?11 THEN NULL ELSE bounce_last_at END,"
			  " bounce_probe_id = CASE WHEN ?11 THEN NULL ELSE bounce_probe_id END,"
			  " bounce_disabled_at = CASE WHEN ?11 THEN NULL ELSE bounce_disabled_at END"
			  " WHERE id = ?1 AND status = ?2");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, old->id);
	sqlite3_bind_text(s, 2, status_names[old->status], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, status_names[status], -1, SQLITE_STATIC);
	if (r != NULL) {
		sqlite3_bind_text(s, 4, r->name, -1, SQLITE_STATIC);
		if (r->mode_set)
			sqlite3_bind_text(s, 5, mode_names[r->mode], -1, SQLITE_STATIC);
		if (status == SUB_ACTIVE && r->how != CONSENT_NONE) {
			sqlite3_bind_text(s, 6, consent_names[r->how], -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 7, r->now);
			sqlite3_bind_text(s, 8, r->actor, -1, SQLITE_STATIC);
		}
		sqlite3_bind_int64(s, 9, r->now);
	}
	sqlite3_bind_int(s, 10, unsubscribe);
	sqlite3_bind_int(s, 11, reset_bounces);
	return store_step_done(st, s);
}

int store_sub_add(struct store *st, long long list_id, const struct sub_request *r)
{
	struct sub old;
	int found, rc = SUB_ADD_ALREADY;
	const char *event = NULL;

	found = sub_insert(st, list_id, r);
	if (found != 0)
		return found < 0 ? -1 : SUB_ADD_NEW;
	found = store_sub_get(st, list_id, r->address, &old);
	if (found <= 0)
		return -1;	/* the row that blocked the insert must exist */
	switch (old.status) {
	case SUB_UNSUBSCRIBED:
		if (!r->resubscribe) {
			rc = SUB_ADD_SKIPPED;
			break;
		}
		event = r->status == SUB_ACTIVE ? "resubscribed" : "requested";
		rc = SUB_ADD_REUSED;
		break;
	case SUB_PENDING:
		if (r->status == SUB_ACTIVE) {
			event = "subscribed";
			rc = SUB_ADD_ACTIVATED;
		}
		break;
	case SUB_DISABLED:
		if (r->status == SUB_ACTIVE) {
			event = "enabled";
			rc = SUB_ADD_ACTIVATED;
		}
		break;
	case SUB_ACTIVE:
		if (r->update_mode && r->mode_set && r->mode != old.mode) {
			event = "mode";
			rc = SUB_ADD_MODE;
		}
		break;
	case SUB_STATUS__COUNT:
		break;
	}
	if (rc == SUB_ADD_MODE) {
		struct sub_request mode_only;
		memset(&mode_only, 0, sizeof(mode_only));
		mode_only.mode = r->mode;
		mode_only.mode_set = 1;
		mode_only.now = r->now;	/* how stays CONSENT_NONE: consent unchanged */
		if (sub_update(st, &old, old.status, &mode_only, 0, 0) < 0 ||
		    store_sub_event(st, old.id, r->now, event, mode_names[r->mode], r->actor) < 0)
			rc = -1;
	} else if (event != NULL &&
		   (sub_update(st, &old, r->status, r, 0, old.status == SUB_DISABLED) < 0 ||
		    store_sub_event(st, old.id, r->now, event,
			      r->status == SUB_ACTIVE ? consent_names[r->how] : "cli", r->actor) < 0)) {
		rc = -1;
	}
	sub_clear(&old);
	return rc;
}

int store_sub_remove(struct store *st, long long list_id, const char *address, const char *how,
		     const char *actor, long long now)
{
	struct sub old;
	struct sub_request r;
	int found, rc = 0;

	found = store_sub_get(st, list_id, address, &old);
	if (found <= 0)
		return found;
	/* As above. NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (old.status != SUB_UNSUBSCRIBED) {
		memset(&r, 0, sizeof(r));
		r.now = now;
		rc = sub_update(st, &old, SUB_UNSUBSCRIBED, &r, 1, 0) < 0 ||
			     store_sub_event(st, old.id, now, "unsubscribed", how, actor) < 0
			     ? -1
			     : 1;
	}
	sub_clear(&old);
	return rc;
}

int store_sub_each(struct store *st, long long list_id, unsigned mask, sub_cb cb, void *ctx)
{
	sqlite3_stmt *s;
	struct sub row;
	int rc, stop = 0;

	s = store_prepare(st, STMT_SUB_EACH,
			  "SELECT " SUB_COLUMNS " FROM subscribers WHERE list_id = ?1 AND"
			  " (?2 >> CASE status WHEN 'pending' THEN 0 WHEN 'active' THEN 1"
			  " WHEN 'disabled' THEN 2 ELSE 3 END) & 1 ORDER BY address");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_int(s, 2, (int)mask);
	while (stop == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		sub_from_row(s, &row);
		stop = cb(&row, ctx);
		sub_clear(&row);
	}
	sqlite3_reset(s);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? 0 : store_error(st, "list subscribers");
}

int store_sub_counts(struct store *st, long long list_id, long long counts[SUB_STATUS__COUNT])
{
	sqlite3_stmt *s;
	int rc, i;

	memset(counts, 0, sizeof(long long) * SUB_STATUS__COUNT);
	s = store_prepare(st, STMT_LIST_COUNTS,
			  "SELECT status, count(*) FROM subscribers WHERE list_id = ?1 GROUP BY status");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, list_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		i = name_index(status_names, SUB_STATUS__COUNT, (const char *)sqlite3_column_text(s, 0));
		if (i >= 0)
			counts[i] = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_error(st, "count subscribers");
}

int store_sub_events(struct store *st, long long sub_id, sub_event_cb cb, void *ctx)
{
	sqlite3_stmt *s;
	int rc, stop = 0;

	s = store_prepare(st, STMT_SUB_EVENTS,
			  "SELECT at, event, how, actor FROM subscriber_events"
			  " WHERE subscriber_id = ?1 ORDER BY at, id");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, sub_id);
	while (stop == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
		stop = cb(sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
			  (const char *)sqlite3_column_text(s, 2),
			  (const char *)sqlite3_column_text(s, 3), ctx);
	sqlite3_reset(s);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? 0 : store_error(st, "list events");
}
