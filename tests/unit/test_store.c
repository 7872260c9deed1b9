/*
 * test_store.c - the SQLite store (lib/store.c, lib/store_sub.c): creation,
 * migrations from an empty, a version-1, -4, -6, -7 and -10 database (the
 * counters of parley stats, per list and per relay), refusal of newer
 * and foreign databases, and the subscriber life cycle with its consent
 * history.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_archive.h"
#include "store_inbound.h"
#include "store_stats.h"
#include "store_sub.h"
#include "tap.h"

static char dir[] = "/tmp/parley-test-store.XXXXXX";

static long long query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static const char *query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *s;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return "(prepare failed)";
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return buf;
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void test_fresh(void)
{
	char path[256], buf[64];
	struct store *st;

	path_in(path, sizeof(path), "fresh.db");
	st = store_open(path);
	if (!ok(st != NULL, "a new database is created"))
		return;
	is_int(store_version(st), STORE_SCHEMA_VERSION, "migrated to the current version");
	is_int(query_int(store_db(st), "PRAGMA application_id"), 0x7061726c, "application id set");
	is_str(query_text(store_db(st), "PRAGMA journal_mode", buf, sizeof(buf)), "wal", "WAL mode");
	is_int(query_int(store_db(st), "PRAGMA foreign_keys"), 1, "foreign keys on");
	is_int(query_int(store_db(st), "PRAGMA synchronous"), 2, "synchronous FULL");
	store_close(st);
	st = store_open(path);
	ok(st != NULL && store_version(st) == STORE_SCHEMA_VERSION, "reopening is a no-op");
	store_close(st);
}

static void test_from_v1(void)
{
	char path[256], buf[64];
	struct store *st;
	sqlite3 *db;

	path_in(path, sizeof(path), "v1.db");
	st = store_open_at(path, 1);
	if (!ok(st != NULL && store_version(st) == 1, "a version-1 database"))
		return;
	db = store_db(st);
	ok(sqlite3_exec(db,
			"INSERT INTO lists(id, name, created_at) VALUES (1, 'dev', 100);"
			"INSERT INTO subscribers(list_id, address, status, mode, consent_how,"
			" consent_at, consent_by, created_at, updated_at) VALUES"
			" (1, 'a@example.org', 'active', 'all', 'cli', 110, 'root', 105, 110),"
			" (1, 'b@example.org', 'unsubscribed', 'digest', 'import', 120, 'x.csv:2', 120, 130),"
			" (1, 'c@example.org', 'pending', 'all', NULL, NULL, NULL, 140, 140);",
			NULL, NULL, NULL) == SQLITE_OK,
	   "version-1 rows written");
	store_close(st);
	st = store_open(path);
	if (!ok(st != NULL, "version-1 database opens"))
		return;
	db = store_db(st);
	is_int(store_version(st), STORE_SCHEMA_VERSION, "migrated from version 1 to the current one");
	is_int(query_int(db, "SELECT count(*) FROM subscribers"), 3, "subscribers kept");
	is_int(query_int(db, "SELECT count(*) FROM subscriber_events"), 3, "history back-filled");
	is_str(query_text(db,
			  "SELECT event || ' ' || how || ' ' || actor || ' ' || at FROM subscriber_events"
			  " JOIN subscribers s ON s.id = subscriber_id WHERE s.address = 'a@example.org'",
			  buf, sizeof(buf)),
	       "subscribed cli root 110", "history of an active subscriber");
	is_str(query_text(db,
			  "SELECT event FROM subscriber_events JOIN subscribers s ON s.id = subscriber_id"
			  " WHERE s.address = 'c@example.org'",
			  buf, sizeof(buf)),
	       "requested", "history of a pending subscriber");
	is_int(query_int(db, "SELECT unsubscribed_at FROM subscribers WHERE address = 'b@example.org'"),
	       130, "unsubscribed_at back-filled");
	store_close(st);
}

static void test_refusals(void)
{
	char path[256];
	sqlite3 *db;
	struct store *st;

	path_in(path, sizeof(path), "newer.db");
	st = store_open(path);
	store_close(st);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(db);
	ok(store_open(path) == NULL, "a database from a newer parley is refused");

	path_in(path, sizeof(path), "foreign.db");
	sqlite3_open(path, &db);
	sqlite3_exec(db, "CREATE TABLE photos(id INTEGER)", NULL, NULL, NULL);
	sqlite3_close(db);
	ok(store_open(path) == NULL, "a database of another program is refused");

	path_in(path, sizeof(path), "no/such/dir/x.db");
	ok(store_open(path) == NULL, "an impossible path is refused");
}

static struct sub_request req(const char *addr, enum sub_status status, long long now)
{
	struct sub_request r;

	memset(&r, 0, sizeof(r));
	r.address = addr;
	r.status = status;
	r.how = status == SUB_ACTIVE ? CONSENT_CLI : CONSENT_NONE;
	r.actor = "tester";
	r.now = now;
	return r;
}

static int count_cb(const struct sub *s, void *ctx)
{
	(void)s;
	++*(int *)ctx;
	return 0;
}

static int event_count_cb(long long at, const char *e, const char *h, const char *a, void *ctx)
{
	(void)at, (void)e, (void)h, (void)a;
	++*(int *)ctx;
	return 0;
}

static void test_subscribers(void)
{
	char path[256];
	struct store *st;
	struct sub_request r;
	struct sub s;
	long long dev, news, id, counts[SUB_STATUS__COUNT];
	int n;

	path_in(path, sizeof(path), "subs.db");
	if (!ok((st = store_open(path)) != NULL, "open"))
		return;
	dev = store_list_id(st, "dev");
	news = store_list_id(st, "news");
	ok(dev > 0 && news > 0 && dev != news, "list rows created");
	is_int(store_list_id(st, "dev"), dev, "list row reused");

	store_begin(st);
	r = req("a@example.org", SUB_ACTIVE, 1000);
	r.name = "Ann";
	is_int(store_sub_add(st, dev, &r), SUB_ADD_NEW, "new subscriber");
	is_int(store_sub_add(st, dev, &r), SUB_ADD_ALREADY, "same again: already");
	is_int(store_sub_add(st, news, &r), SUB_ADD_NEW, "same address on another list");
	r = req("p@example.org", SUB_PENDING, 1000);
	is_int(store_sub_add(st, dev, &r), SUB_ADD_NEW, "pending subscriber");
	is_int(store_sub_add(st, dev, &r), SUB_ADD_ALREADY, "pending again: unchanged");
	store_commit(st);

	ok(store_sub_get(st, dev, "a@example.org", &s) == 1, "get");
	is_str(s.name, "Ann", "name stored");
	is_str(sub_status_name(s.status), "active", "status active");
	is_str(sub_consent_name(s.consent_how), "cli", "consent how");
	is_int(s.consent_at, 1000, "consent when");
	is_str(s.consent_by, "tester", "consent by");
	id = s.id;
	sub_clear(&s);
	ok(store_sub_get(st, dev, "p@example.org", &s) == 1 && s.consent_how == CONSENT_NONE &&
		   s.status == SUB_PENDING,
	   "pending has no consent yet");
	sub_clear(&s);
	is_int(store_sub_get(st, dev, "nobody@example.org", &s), 0, "unknown address: 0");

	store_begin(st);
	is_int(store_sub_remove(st, dev, "a@example.org", "cli", "tester", 2000), 1, "remove");
	is_int(store_sub_remove(st, dev, "a@example.org", "cli", "tester", 2001), 0,
	       "remove again: not subscribed");
	is_int(store_sub_remove(st, dev, "zz@example.org", "cli", "tester", 2001), 0,
	       "remove unknown: 0");
	r = req("a@example.org", SUB_ACTIVE, 3000);
	r.how = CONSENT_IMPORT;
	is_int(store_sub_add(st, dev, &r), SUB_ADD_SKIPPED, "import does not resubscribe");
	r.resubscribe = 1;
	r.mode = MODE_DIGEST;
	r.mode_set = 1;
	is_int(store_sub_add(st, dev, &r), SUB_ADD_REUSED, "explicit resubscribe");
	r = req("p@example.org", SUB_ACTIVE, 3000);
	is_int(store_sub_add(st, dev, &r), SUB_ADD_ACTIVATED, "pending activated");
	store_commit(st);

	ok(store_sub_get(st, dev, "a@example.org", &s) == 1, "get after resubscribe");
	is_int(s.id, id, "the unsubscribed row was reused");
	is_str(sub_mode_name(s.mode), "digest", "mode changed");
	is_str(sub_consent_name(s.consent_how), "import", "new consent recorded");
	is_int(s.unsubscribed_at, 0, "unsubscribed_at cleared");
	is_str(s.name, "Ann", "name kept");
	n = 0;
	store_sub_events(st, s.id, event_count_cb, &n);
	is_int(n, 3, "history: subscribed, unsubscribed, resubscribed");
	sub_clear(&s);

	ok(store_sub_counts(st, dev, counts) == 0, "counts");
	is_int(counts[SUB_ACTIVE], 2, "two active on dev");
	is_int(counts[SUB_PENDING], 0, "none pending on dev");
	n = 0;
	store_sub_each(st, dev, SUB_MASK(SUB_ACTIVE), count_cb, &n);
	is_int(n, 2, "each(active) visits two");
	n = 0;
	store_sub_each(st, news, SUB_MASK_ALL, count_cb, &n);
	is_int(n, 1, "each(all) on news visits one");

	store_begin(st);
	r = req("bulk@example.org", SUB_ACTIVE, 4000);
	store_sub_add(st, dev, &r);
	store_rollback(st);
	is_int(store_sub_get(st, dev, "bulk@example.org", &s), 0, "rollback leaves nothing");
	store_close(st);
}

/* A version-4 database with a post, its copies and a held message moves to
 * version 5 with all of it; then an unsubscribe cancels the copies still
 * queued or deferred for that subscriber, and only those. */
static void test_from_v4(void)
{
	char path[256], buf[128];
	struct store *st;
	sqlite3 *db;

	path_in(path, sizeof(path), "v4.db");
	st = store_open_at(path, 4);
	if (!ok(st != NULL && store_version(st) == 4, "a version-4 database"))
		return;
	db = store_db(st);
	ok(sqlite3_exec(db,
			"INSERT INTO lists(id, name, created_at) VALUES (1, 'dev', 100);"
			"INSERT INTO subscribers(id, list_id, address, status, mode, created_at,"
			" updated_at) VALUES (1, 1, 'a@example.org', 'active', 'all', 100, 100),"
			" (2, 1, 'b@example.org', 'active', 'all', 100, 100);"
			"INSERT INTO inbound(id, spool_id, received_at, ingested_at, sender, size, raw)"
			" VALUES (1, 'Q1', 100, 100, 'x@example.org', 3, 'abc'),"
			" (2, 'Q2', 100, 100, 'y@example.org', 3, 'def');"
			"INSERT INTO threads(id, list_id, created_at, last_at) VALUES (1, 1, 100, 100);"
			"INSERT INTO archive(id, list_id, thread_id, inbound_id, kind, list_msgid,"
			" author_addr, raw, created_at) VALUES (1, 1, 1, 1, 'post', '<p1@x>',"
			" 'x@example.org', 'abc', 100);"
			"INSERT INTO deliveries(id, archive_id, subscriber_id, address, status, next_at,"
			" created_at, updated_at) VALUES"
			" (1, 1, 1, 'a@example.org', 'sent', 100, 100, 100),"
			" (2, 1, 2, 'b@example.org', 'deferred', 200, 100, 100);"
			"INSERT INTO held(inbound_id, list_id, reason, created_at) VALUES"
			" (2, 1, 'a loop', 150);",
			NULL, NULL, NULL) == SQLITE_OK,
	   "version-4 rows written");
	store_close(st);
	if (!ok((st = store_open(path)) != NULL, "version-4 database opens"))
		return;
	db = store_db(st);
	is_int(store_version(st), STORE_SCHEMA_VERSION, "migrated from version 4");
	is_str(query_text(db, "SELECT group_concat(id || ':' || status, ' ') FROM deliveries",
			  buf, sizeof(buf)),
	       "1:sent 2:deferred", "copies kept with their state");
	is_str(query_text(db, "SELECT id || ' ' || inbound_id || ' ' || state || ' ' || reason"
			      " FROM held", buf, sizeof(buf)),
	       "1 2 held a loop", "held message kept, with an id and state 'held'");
	ok(sqlite3_exec(db, "INSERT INTO deliveries(address, next_at, created_at, updated_at)"
			    " VALUES ('z@example.org', 1, 1, 1)", NULL, NULL, NULL) != SQLITE_OK,
	   "a copy of nothing is refused");
	is_int(store_sub_remove(st, 1, "a@example.org", "cli", "tester", 300), 1,
	       "a@ unsubscribes");
	is_str(query_text(db, "SELECT status FROM deliveries WHERE id = 1", buf, sizeof(buf)),
	       "sent", "a copy already sent stays sent");
	is_int(store_sub_remove(st, 1, "b@example.org", "cli", "tester", 300), 1,
	       "b@ unsubscribes");
	is_str(query_text(db, "SELECT status || ': ' || last_error FROM deliveries WHERE id = 2",
			  buf, sizeof(buf)),
	       "cancelled: not sent: the subscriber is unsubscribed now",
	       "a deferred copy is cancelled in the same transaction");
	store_close(st);
}

/* A version-6 database moves to version 7 with its ingest attempts; then
 * only a mark left by another runner (a daemon that died in the attempt)
 * counts, a counted failure does, a released attempt does not; and a
 * redelivery is found by Message-ID, content hash and recipient. */
static void test_from_v6(void)
{
	char path[256], why[128];
	struct store *st, *other;
	sqlite3 *db;

	path_in(path, sizeof(path), "v6.db");
	st = store_open_at(path, 6);
	if (!ok(st != NULL && store_version(st) == 6, "a version-6 database"))
		return;
	db = store_db(st);
	ok(sqlite3_exec(db,
			"INSERT INTO spool_attempts(spool_id, attempts, updated_at) VALUES ('Q1', 1, 5);"
			"INSERT INTO inbound(id, spool_id, received_at, ingested_at, sender, message_id,"
			" size, raw) VALUES (1, 'Q0', 100, 100, 'x@example.org', '<m@x>', 3, 'abc');"
			"INSERT INTO inbound_rcpts(inbound_id, address) VALUES (1, 'dev@example.org');",
			NULL, NULL, NULL) == SQLITE_OK,
	   "version-6 rows written");
	store_close(st);
	if (!ok((st = store_open(path)) != NULL, "version-6 database opens"))
		return;
	db = store_db(st);
	other = store_open(path);
	is_int(store_version(st), STORE_SCHEMA_VERSION, "migrated from version 6 to the current one");
	ok(strcmp(store_runner(st), store_runner(other)) != 0, "two opens are two runners");
	is_int(store_attempt_begin(st, "Q1", store_runner(st), 10, why, sizeof(why)), 1,
	       "an attempt counted by version 6 is kept, unmarked: not a crash");
	is_int(store_attempt_begin(st, "Q1", store_runner(st), 11, why, sizeof(why)), 1,
	       "the same runner again (its attempt returned): not counted");
	is_int(store_attempt_begin(other, "Q1", store_runner(other), 12, why, sizeof(why)), 2,
	       "a mark left by another runner: counted as a crash");
	is_str(why, "the daemon stopped while ingesting it", "with that reason");
	is_int(store_attempt_release(other, "Q1"), 0, "released");
	is_int(store_attempt_begin(st, "Q1", store_runner(st), 13, why, sizeof(why)), 2,
	       "after a release, another runner's attempt is no crash");
	is_int(store_attempt_fail(st, "Q1", "cannot parse", 14), 3, "a counted failure");
	is_int(store_attempt_begin(other, "Q1", store_runner(other), 15, why, sizeof(why)), 3,
	       "is not counted twice by the next runner");
	is_str(why, "cannot parse", "its reason kept");
	is_int(store_attempt_begin(st, "Q2", store_runner(st), 16, why, sizeof(why)), 0,
	       "a new message: no failures");
	ok(sqlite3_exec(db, "UPDATE inbound SET content_hash = 'h1' WHERE id = 1", NULL, NULL,
			NULL) == SQLITE_OK, "a content hash recorded");
	is_int(store_inbound_duplicate(st, "<m@x>", "h1", "DEV@example.org"), 1,
	       "the same Message-ID, content and recipient: a redelivery");
	is_int(store_inbound_duplicate(st, "<m@x>", "h2", "dev@example.org"), 0,
	       "other content: new");
	is_int(store_inbound_duplicate(st, "<m@x>", "h1", "news@example.org"), 0,
	       "another recipient: new");
	store_close(other);
	store_close(st);
}

static int interrupt_cb(void *arg)
{
	(void)arg;
	return 1;	/* every statement ends with SQLITE_INTERRUPT */
}

/* test_claim_error: a step error while claiming due copies is an error
 * (logged, -1, nothing marked), not "nothing is due" (lint finding). */
static void test_claim_error(void)
{
	char path[300];
	struct store *st;
	struct delivery d[4];

	path_in(path, sizeof(path), "claim.db");
	if (!ok((st = store_open(path)) != NULL, "claim: open"))
		return;
	ok(sqlite3_exec(store_db(st),
			"PRAGMA foreign_keys = OFF;"
			"INSERT INTO deliveries (archive_id, address, next_at, created_at, updated_at)"
			" VALUES (1, 'a@example.org', 0, 0, 0), (1, 'b@example.org', 0, 0, 0);",
			NULL, NULL, NULL) == SQLITE_OK,
	   "claim: two copies due");
	sqlite3_progress_handler(store_db(st), 1, interrupt_cb, NULL);
	ok(store_delivery_claim(st, 100, d, 4) == -1, "a failing step: the claim fails (-1), not 0");
	sqlite3_progress_handler(store_db(st), 0, NULL, NULL);
	ok(query_int(store_db(st), "SELECT count(*) FROM deliveries WHERE status = 'queued'") == 2,
	   "and nothing was marked");
	ok(store_delivery_claim(st, 100, d, 4) == 2, "once the store works: both claimed");
	ok(store_delivery_result(st, d[0].id, "deferred", 200, "451 later", "mx1:25", 101) == 1 &&
	   store_delivery_result(st, d[1].id, "cancelled", 200, "gone", NULL, 101) == 1,
	   "results recorded (each changed its row), one with its relay (schema v10)");
	ok(query_int(store_db(st), "SELECT count(*) FROM deliveries WHERE relay = 'mx1:25'") == 1 &&
	   query_int(store_db(st), "SELECT count(*) FROM deliveries WHERE relay IS NULL") == 1,
	   "the relay a copy went to is kept; none for a copy that went nowhere");
	store_close(st);
}

/* fail_with(CODE): fails its statement with the result code CODE. */
static void fail_with(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_error_code(ctx, sqlite3_value_int(argv[0]));
}

/* store_outage with extended result codes on (the store turns them on): an
 * I/O error at write is SQLITE_IOERR_WRITE (778), which the first version
 * compared with SQLITE_IOERR (10) and took for the message's fault. */
static void test_outage(void)
{
	static const struct {
		int code;
		int outage;
		const char *what;
	} cases[] = {
	    {SQLITE_IOERR_WRITE, 1, "SQLITE_IOERR_WRITE"},    {SQLITE_IOERR_FSYNC, 1, "SQLITE_IOERR_FSYNC"},
	    {SQLITE_IOERR_SHORT_READ, 1, "SQLITE_IOERR_SHORT_READ"}, {SQLITE_IOERR, 1, "SQLITE_IOERR"},
	    {SQLITE_BUSY_SNAPSHOT, 1, "SQLITE_BUSY_SNAPSHOT"}, {SQLITE_FULL, 1, "SQLITE_FULL"},
	    {SQLITE_CANTOPEN_ISDIR, 1, "SQLITE_CANTOPEN_ISDIR"}, {SQLITE_READONLY_DBMOVED, 1, "SQLITE_READONLY_DBMOVED"},
	    {SQLITE_CORRUPT, 1, "SQLITE_CORRUPT (\"database disk image is malformed\")"},
	    {SQLITE_CONSTRAINT_UNIQUE, 0, "SQLITE_CONSTRAINT_UNIQUE"}, {SQLITE_MISMATCH, 0, "SQLITE_MISMATCH"},
	};
	char path[300];
	struct store *st;

	path_in(path, sizeof(path), "outage.db");
	if (!ok((st = store_open(path)) != NULL, "outage: open"))
		return;
	ok(sqlite3_create_function(store_db(st), "fail_with", 1, SQLITE_UTF8, NULL, fail_with, NULL,
				   NULL) == SQLITE_OK,
	   "outage: a function that fails with a given code");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "SELECT fail_with(%d)", cases[i].code);
		(void)sqlite3_exec(store_db(st), sql, NULL, NULL, NULL);
		is_int(store_outage(st), cases[i].outage, "%s is %san outage", cases[i].what,
		       cases[i].outage ? "" : "not ");
	}
	store_close(st);
}

/* set_status: copy ID's status to STATUS at time AT (as the delivery code
 * and the cancelling triggers do: status and updated_at together). */
static int set_status(sqlite3 *db, int id, const char *status, long long at)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "UPDATE deliveries SET status = '%s', updated_at = %lld"
		 " WHERE id = %d", status, at, id);
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* test_stats: version 8's counters. Copies of version 7 are counted in all
 * at the migration; later, an UPDATE of a copy's status counts nothing but a
 * cancellation (the trigger, once per change); the workers' tallies count
 * per list and minute; notices to no list count for list 0 only;
 * store_stats_get's spans and queue; the minute counts pruned after a day,
 * the all-time counts kept. */
static void test_stats(void)
{
	const long long now = 1800000000LL;	/* a fixed clock, on a minute boundary */
	char path[256];
	size_t i;
	struct stats x;
	struct store *st;
	sqlite3 *db;

	path_in(path, sizeof(path), "v7.db");
	st = store_open_at(path, 7);
	if (!ok(st != NULL && store_version(st) == 7, "a version-7 database"))
		return;
	ok(sqlite3_exec(store_db(st),
			"INSERT INTO lists(id, name, created_at) VALUES (1, 'dev', 0), (2, 'news', 0);"
			"INSERT INTO threads(id, list_id, subject, created_at, last_at)"
			" VALUES (1, 1, 's', 0, 0), (2, 2, 's', 0, 0);"
			"INSERT INTO archive(id, list_id, thread_id, kind, list_msgid, author_addr, raw,"
			" created_at) VALUES (1, 1, 1, 'post', '<a1>', 'a@x', 'r', 1799990000),"
			" (2, 1, 1, 'reply', '<a2>', 'b@x', 'r', 1799999000),"
			" (3, 2, 2, 'post', '<a3>', 'a@x', 'r', 1700000000);"
			"INSERT INTO notices(id, list_id, kind, sender, raw, created_at)"
			" VALUES (1, NULL, 'owner', '', 'r', 0);"
			"INSERT INTO deliveries(id, archive_id, notice_id, address, status, next_at,"
			" created_at, updated_at) VALUES"
			" (1, 1, NULL, 'r1@x', 'sent', 0, 1799990000, 1799990000),"
			" (2, 1, NULL, 'r2@x', 'queued', 0, 1799990100, 1799990100),"
			" (3, 2, NULL, 'r1@x', 'queued', 0, 1799999000, 1799999000),"
			" (4, 3, NULL, 'r1@x', 'failed', 0, 1700000000, 1700000000),"
			" (5, NULL, 1, 'o@x', 'queued', 0, 1799999500, 1799999500);",
			NULL, NULL, NULL) == SQLITE_OK,
	   "version-7 lists, posts, a reply and copies written");
	store_close(st);
	if (!ok((st = store_open(path)) != NULL && store_version(st) == STORE_SCHEMA_VERSION,
		"migrated from version 7"))
		return;
	db = store_db(st);
	is_int(store_stats_get(st, 1, now, &x), 0, "counters of dev read");
	is_int(x.copies[STATS_SENT][STATS_ALL], 1, "the copy sent before the migration counts in all");
	is_int(x.copies[STATS_SENT][STATS_DAY], 0, "but in no minute");
	is_int(x.posts[STATS_ALL], 1, "one post");
	is_int(x.replies[STATS_ALL], 1, "one reply");
	is_int(x.replies[STATS_HOUR], 1, "in the last hour");
	is_int(x.posts[STATS_HOUR], 0, "the post is older than an hour");
	is_int(x.posts[STATS_DAY], 1, "but from the last day");
	is_int(x.queued, 2, "two copies of dev queued");
	is_int(x.oldest_at, 1799990100, "the oldest of them");

	struct stats_tally tl = {0};
	ok(set_status(db, 2, "sending", now - 120) == 0 && set_status(db, 2, "sent", now - 60) == 0 &&
	   set_status(db, 3, "cancelled", now - 7200) == 0 && set_status(db, 3, "cancelled", now) == 0,
	   "status changes made");
	ok(stats_tally_add(&tl, 1, "sent") == 0 && stats_tally_add(&tl, 1, "deferred") == 0 &&
	   stats_tally_add(&tl, 1, "sent") == 0 && stats_tally_add(&tl, 0, "sent") == 0 &&
	   stats_tally_add(&tl, 1, "cancelled") == 0 && tl.n == 3,
	   "a tally: dev sent 2, deferred 1; no list sent 1; a cancel not tallied");
	ok(store_begin(st) == 0 && store_stats_tally(st, &tl, now - 60) == 0 && store_commit(st) == 0,
	   "the tally written");
	memset(&tl, 0, sizeof(tl));
	for (i = 0; i < STATS_TALLY_MAX; i++)
		(void)stats_tally_add(&tl, (long long)i + 10, "failed");
	is_int(stats_tally_add(&tl, 999, "failed"), -1, "a full tally says so");
	is_int(stats_tally_add(&tl, 10, "failed"), 0, "but still counts what it holds");
	is_int(store_stats_get(st, 1, now, &x), 0, "counters of dev read again");
	is_int(x.copies[STATS_SENT][STATS_ALL], 3, "sent in all: 3 (1 of version 7, 2 tallied; the"
	       " UPDATE itself counts nothing)");
	is_int(x.copies[STATS_SENT][STATS_HOUR], 2, "sent in the last hour: 2");
	is_int(x.copies[STATS_DEFERRED][STATS_HOUR], 1, "deferred once");
	is_int(x.copies[STATS_CANCELLED][STATS_HOUR], 0, "the cancel (by the trigger) was two hours ago");
	is_int(x.copies[STATS_CANCELLED][STATS_DAY], 1, "within the day, once (cancelled again is no change)");
	is_int(x.queued + x.deferred + x.sending, 0, "nothing of dev waits");
	is_int(x.oldest_at, 0, "so no oldest");
	ok(sqlite3_exec(db,
			"INSERT INTO subscribers(id, list_id, address, status, created_at, updated_at)"
			" VALUES (1, 1, 'b@x', 'active', 0, 0);"
			"INSERT INTO bounces(subscriber_id, at, source, class) VALUES"
			" (1, 1799999900, 'dsn', 'hard'), (1, 1799992800, 'dsn', 'soft'),"
			" (1, 1799800000, 'arf', 'complaint');",
			NULL, NULL, NULL) == SQLITE_OK,
	   "bounces of a subscriber of dev recorded");
	is_int(store_stats_get(st, 1, now, &x), 0, "counters of dev read with its bounces");
	ok(x.bounces[STATS_HARD][STATS_HOUR] == 1 && x.bounces[STATS_SOFT][STATS_HOUR] == 0 &&
	   x.bounces[STATS_SOFT][STATS_DAY] == 1 && x.bounces[STATS_COMPLAINT][STATS_DAY] == 0 &&
	   x.bounces[STATS_COMPLAINT][STATS_ALL] == 1,
	   "bounces by class: hard in the hour, soft in the day, the complaint in all");
	is_int(store_stats_get(st, 2, now, &x), 0, "counters of news read");
	is_int(x.bounces[STATS_HARD][STATS_ALL], 0, "news: none of dev's bounces");
	is_int(x.copies[STATS_FAILED][STATS_ALL], 1, "news: its failed copy of version 7");
	is_int(x.copies[STATS_SENT][STATS_ALL], 0, "and none of dev's");
	is_int(store_stats_get(st, 0, now, &x), 0, "counters of everything read");
	is_int(x.copies[STATS_SENT][STATS_ALL], 4, "all: dev's three and the notice to no list");
	is_int(x.posts[STATS_ALL], 2, "all: two posts");
	is_int(store_stats_prune(st, now), 0, "nothing is a day old yet");
	is_int(store_stats_prune(st, now + 2 * 86400), 4, "two days later: the four minute counts go"
	       " (dev sent and deferred, no list sent, dev cancelled)");
	is_int(store_stats_get(st, 0, now + 2 * 86400, &x), 0, "counters read after the pruning");
	is_int(x.copies[STATS_SENT][STATS_ALL], 4, "the all-time counts stay");
	is_int(x.copies[STATS_SENT][STATS_DAY], 0, "the day's are gone");
	store_close(st);
}

/* find_relay: the entry of KEY in R[0..N), or NULL. */
static const struct stats_relay *find_relay(const struct stats_relay *r, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(r[i].relay, key) == 0)
			return &r[i];
	return NULL;
}

/* test_relay_stats: schema 11: the relays' all-time counts back-filled
 * from deliveries.relay, the workers' tally per relay, its pruning, and
 * the relays' state rows. */
static void test_relay_stats(void)
{
	const long long now = 1800000030LL;	/* 30 s into a minute */
	static struct stats_relay r[STATS_RELAYS_MAX];
	const struct stats_relay *a, *b;
	const char *keys[] = {"a.example:25", "c.example:2525"};
	char path[256], buf[64];
	struct stats_tally tl;
	struct store *st;
	sqlite3 *db;
	int n;

	path_in(path, sizeof(path), "v10.db");
	st = store_open_at(path, 10);
	if (!ok(st != NULL && store_version(st) == 10, "a version-10 database"))
		return;
	ok(sqlite3_exec(store_db(st),
			"INSERT INTO lists(id, name, created_at) VALUES (1, 'dev', 0);"
			"INSERT INTO threads(id, list_id, subject, created_at, last_at)"
			" VALUES (1, 1, 's', 0, 0);"
			"INSERT INTO archive(id, list_id, thread_id, kind, list_msgid, author_addr, raw,"
			" created_at) VALUES (1, 1, 1, 'post', '<a1>', 'a@x', 'r', 1799990000);"
			"INSERT INTO deliveries(id, archive_id, address, status, next_at, created_at,"
			" updated_at, relay) VALUES"
			" (1, 1, 'r1@x', 'sent', 0, 0, 0, 'a.example:25'),"
			" (2, 1, 'r2@x', 'sent', 0, 0, 0, 'a.example:25'),"
			" (3, 1, 'r3@x', 'deferred', 0, 0, 0, 'b.example:25'),"
			" (4, 1, 'r4@x', 'failed', 0, 0, 0, 'a.example:25'),"
			" (5, 1, 'r5@x', 'queued', 0, 0, 0, NULL),"
			" (6, 1, 'r6@x', 'sent', 0, 0, 0, NULL);",
			NULL, NULL, NULL) == SQLITE_OK,
	   "version-10 copies with their relays written");
	store_close(st);
	if (!ok((st = store_open(path)) != NULL && store_version(st) == 11, "migrated to version 11"))
		return;
	db = store_db(st);
	is_int(query_int(db, "SELECT count(*) FROM relay_counts WHERE minute <> 0"), 0,
	       "the back-fill makes no minute rows");
	n = store_stats_relays(st, now, r, STATS_RELAYS_MAX);
	is_int(n, 2, "two relays known from the copies");
	a = find_relay(r, n, "a.example:25");
	b = find_relay(r, n, "b.example:25");
	ok(a != NULL && a->copies[STATS_SENT][STATS_R_ALL] == 2 &&
	   a->copies[STATS_FAILED][STATS_R_ALL] == 1 && a->copies[STATS_DEFERRED][STATS_R_ALL] == 0 &&
	   a->copies[STATS_SENT][STATS_R_DAY] == 0,
	   "a: 2 sent and 1 failed in all, back-filled, none in the day");
	ok(b != NULL && b->copies[STATS_DEFERRED][STATS_R_ALL] == 1, "b: 1 deferred");
	ok(a != NULL && a->state == -1, "no state row: state unknown");

	memset(&tl, 0, sizeof(tl));
	ok(stats_tally_copy(&tl, 1, "a.example:25", "sent") == 0 &&
	   stats_tally_copy(&tl, 1, "a.example:25", "sent") == 0 &&
	   stats_tally_copy(&tl, 1, "c.example:2525", "deferred") == 0 &&
	   stats_tally_copy(&tl, 1, "", "deferred") == 0 &&
	   stats_tally_copy(&tl, 1, "a.example:25", "cancelled") == 0 && tl.n == 2 && tl.nr == 2,
	   "a tally per relay: a sent 2, c deferred 1; no relay and a cancel not per relay");
	ok(store_begin(st) == 0 && store_stats_tally(st, &tl, now) == 0 && store_commit(st) == 0,
	   "the tally written");
	memset(&tl, 0, sizeof(tl));
	ok(store_begin(st) == 0 && stats_tally_copy(&tl, 1, "a.example:25", "sent") == 0 &&
	   store_stats_tally(st, &tl, now - 1800) == 0 && store_commit(st) == 0,
	   "one more sent by a half an hour ago");
	is_int(query_int(db, "SELECT total(n) FROM delivery_counts WHERE minute = 0 AND status ="
			     " 'deferred'"), 2, "the lists' counts got both deferred copies");
	n = store_stats_relays(st, now, r, STATS_RELAYS_MAX);
	is_int(n, 3, "three relays now");
	a = find_relay(r, n, "a.example:25");
	ok(a != NULL && a->copies[STATS_SENT][STATS_R_MINUTE] == 2 &&
	   a->copies[STATS_SENT][STATS_R_HOUR] == 3 && a->copies[STATS_SENT][STATS_R_DAY] == 3 &&
	   a->copies[STATS_SENT][STATS_R_ALL] == 5,
	   "a sent: 2 this minute, 3 in the hour and the day, 5 in all");
	ok(a != NULL && a->rate_minute > 2.0 / 31 - 1e-9 && a->rate_minute < 2.0 / 31 + 1e-9,
	   "a's rate over the minute: 2 in its 31 seconds so far");
	ok(a != NULL && a->rate_hour > 3.0 / 3571 - 1e-9 && a->rate_hour < 3.0 / 3571 + 1e-9,
	   "a's rate over the hour: 3 in 59 min 31 s");
	b = find_relay(r, n, "c.example:2525");
	ok(b != NULL && b->copies[STATS_DEFERRED][STATS_R_MINUTE] == 1, "c deferred 1 this minute");

	memset(&tl, 0, sizeof(tl));
	for (int i = 0; i < STATS_TALLY_MAX; i++) {
		snprintf(r[i].relay, sizeof(r[i].relay), "r%d:25", i);
		(void)stats_tally_copy(&tl, 1, r[i].relay, "failed");
	}
	is_int(stats_tally_copy(&tl, 1, "other:25", "failed"), -1, "a tally full of relays says so");
	is_int((int)tl.v[0].n, STATS_TALLY_MAX, "and counted nothing of the copy it had no room for");

	is_int(store_stats_prune(st, now), 0, "nothing is a day old yet");
	is_int(store_stats_prune(st, now + 2 * 86400), 6,
	       "two days later: the lists' 3 and the relays' 3 minute rows go");
	n = store_stats_relays(st, now + 2 * 86400, r, STATS_RELAYS_MAX);
	a = find_relay(r, n, "a.example:25");
	ok(a != NULL && a->copies[STATS_SENT][STATS_R_ALL] == 5 &&
	   a->copies[STATS_SENT][STATS_R_DAY] == 0, "the relays' all-time counts stay");

	ok(store_begin(st) == 0 && store_relay_state_reset(st, keys, 2, now) == 0 &&
	   store_commit(st) == 0, "the configured relays a and c reset to up");
	ok(store_begin(st) == 0 &&
	   store_relay_state_set(st, "c.example:2525", now + 30, "connection refused", now) == 0 &&
	   store_commit(st) == 0, "c marked down for 30 s");
	n = store_stats_relays(st, now, r, STATS_RELAYS_MAX);
	a = find_relay(r, n, "a.example:25");
	b = find_relay(r, n, "c.example:2525");
	ok(a != NULL && a->state == 1, "a is up");
	ok(b != NULL && b->state == 0 && b->down_until == now + 30, "c is down until now + 30");
	is_str(b ? b->reason : NULL, "connection refused", "with its reason");
	ok((b = find_relay(r, n, "b.example:25")) != NULL && b->state == -1,
	   "b has counts but no state row: unknown");
	ok(store_begin(st) == 0 && store_relay_state_set(st, "c.example:2525", 0, NULL, now) == 0 &&
	   store_commit(st) == 0, "c back up");
	is_str(query_text(db, "SELECT state || ',' || COALESCE(reason, '-') || ','"
			      " || COALESCE(down_until, '-') FROM relay_state"
			      " WHERE relay = 'c.example:2525'", buf, sizeof(buf)),
	       "up,-,-", "up again: no reason, no time");
	ok(store_begin(st) == 0 && store_relay_state_reset(st, keys + 1, 1, now) == 0 &&
	   store_commit(st) == 0, "a no longer configured");
	is_int(query_int(db, "SELECT count(*) FROM relay_state"), 1, "its state row is gone");
	ok(sqlite3_exec(db, "INSERT INTO relay_state VALUES ('x:25', 'sideways', NULL, NULL, 0)",
			NULL, NULL, NULL) != SQLITE_OK, "a state other than up or down is refused");
	store_close(st);
}

int main(void)
{
	char cmd[300];

	log_init("test_store", LOG_DEST_STDERR);
	if (mkdtemp(dir) == NULL)
		return 99;
	test_fresh();
	test_from_v1();
	test_from_v4();
	test_from_v6();
	test_stats();
	test_relay_stats();
	test_refusals();
	test_subscribers();
	test_claim_error();
	test_outage();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
