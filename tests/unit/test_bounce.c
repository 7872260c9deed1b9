/*
 * test_bounce.c - the bounce scoring rules (lib/store_bounce.c): weights,
 * one scored bounce a day, a stale score starting again; and on a real
 * database: which copies a bounce may name, the history kept, the probe at
 * the threshold, disabling on the probe's bounce, enabling again, and the
 * migration from version 7 (notices kept).
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_bounce.h"
#include "store_sub.h"
#include "tap.h"

#define DAY 86400LL
#define T0  1700000000LL

static char dir[] = "/tmp/parley-test-bounce.XXXXXX";

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

static int near(double a, double b)
{
	return a - b < 1e-9 && b - a < 1e-9;
}

static void test_rule(void)
{
	struct bounce_score s = {0, 0}, o;

	ok(bounce_rule(&s, DSN_HARD, T0, &o) == 1 && near(o.score, 1.0) && o.last_at == T0,
	   "a first hard bounce scores 1.0");
	ok(bounce_rule(&s, DSN_SOFT, T0, &o) == 1 && near(o.score, 0.5) && o.last_at == T0,
	   "a first soft bounce scores 0.5");
	s = (struct bounce_score){1.0, T0};
	ok(bounce_rule(&s, DSN_HARD, T0 + 3600, &o) == 0 && near(o.score, 1.0) && o.last_at == T0,
	   "a second bounce within the day is not scored, and does not move the day");
	ok(bounce_rule(&s, DSN_HARD, T0 + DAY - 1, &o) == 0, "nor one a second before the day ends");
	ok(bounce_rule(&s, DSN_SOFT, T0 + DAY, &o) == 1 && near(o.score, 1.5) &&
		   o.last_at == T0 + DAY,
	   "a bounce a day later adds its weight");
	ok(bounce_rule(&s, DSN_HARD, T0 - 10, &o) == 0, "a bounce dated before the last is not scored");
	s = (struct bounce_score){4.5, T0};
	ok(bounce_rule(&s, DSN_HARD, T0 + 7 * DAY - 1, &o) == 1 && near(o.score, 5.5),
	   "six days and a bit later the score still counts");
	ok(bounce_rule(&s, DSN_SOFT, T0 + 7 * DAY, &o) == 1 && near(o.score, 0.5) &&
		   o.last_at == T0 + 7 * DAY,
	   "seven days without a scored bounce: stale, the score starts again");
	ok(bounce_rule(&s, DSN_CLASS_NONE, T0 + 8 * DAY, &o) == 0 && near(o.score, 0) &&
		   o.last_at == 0,
	   "a complaint is not scored; a stale score reads 0");
	ok(near(bounce_effective(&s, T0 + 6 * DAY), 4.5) &&
		   near(bounce_effective(&s, T0 + 7 * DAY), 0),
	   "bounce_effective: 0 once stale");
	s = (struct bounce_score){0, 0};
	for (int i = 0; i < 5; i++)
		(void)bounce_rule(&s, DSN_HARD, T0 + i * DAY, &s);
	ok(near(s.score, 5.0), "five hard bounces on five days reach the default threshold (%g)",
	   s.score);
	s = (struct bounce_score){0, 0};
	for (int i = 0; i < 48; i++)
		(void)bounce_rule(&s, DSN_HARD, T0 + i * 3600, &s);
	ok(near(s.score, 2.0), "48 bounces in two days score 2.0 (%g)", s.score);
}

/* A database with list 1, subscriber 1 (a@), copies: 1 sent, 2 queued,
 * 3 sent to no subscriber, 4 a probe notice sent to a@. */
static struct store *setup(const char *name)
{
	char path[256];
	struct store *st;
	struct sub_request r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((st = store_open(path)) == NULL)
		return NULL;
	memset(&r, 0, sizeof(r));
	r.address = "a@example.org";
	r.status = SUB_ACTIVE;
	r.how = CONSENT_CLI;
	r.actor = "tester";
	r.now = T0;
	if (store_list_id(st, "dev") != 1 || store_sub_add(st, 1, &r) != SUB_ADD_NEW ||
	    sqlite3_exec(
		    store_db(st),
		    "INSERT INTO inbound(id, spool_id, received_at, ingested_at, sender, size, raw)"
		    " VALUES (1, 'Q1', 1, 1, 'x@example.org', 1, 'x');"
		    "INSERT INTO threads(id, list_id, created_at, last_at) VALUES (1, 1, 1, 1);"
		    "INSERT INTO archive(id, list_id, thread_id, inbound_id, kind, list_msgid,"
		    " author_addr, raw, created_at) VALUES (1, 1, 1, 1, 'post', '<p@x>', 'x', 'x', 1);"
		    "INSERT INTO notices(id, list_id, kind, sender, raw, created_at)"
		    " VALUES (1, 1, 'probe', '', 'x', 1);"
		    "INSERT INTO deliveries(id, archive_id, subscriber_id, address, status, attempts,"
		    " next_at, created_at, updated_at) VALUES"
		    " (1, 1, 1, 'a@example.org', 'sent', 1, 1, 1, 1),"
		    " (2, 1, 1, 'b@example.org', 'queued', 0, 1, 1, 1),"
		    " (3, 1, NULL, 'c@example.org', 'sent', 1, 1, 1, 1);"
		    "INSERT INTO deliveries(id, notice_id, subscriber_id, address, status, attempts,"
		    " next_at, created_at, updated_at) VALUES (4, 1, 1, 'a@example.org', 'sent', 1,"
		    " 1, 1, 1);",
		    NULL, NULL, NULL) != SQLITE_OK) {
		store_close(st);
		return NULL;
	}
	return st;
}

static void test_store(void)
{
	struct store *st = setup("score.db");
	struct bounce_copy c, p;
	struct bounce_new b;
	struct bounce_outcome o;
	struct sub s;
	sqlite3 *db;

	if (!ok(st != NULL, "a database with a list, a subscriber and copies"))
		return;
	db = store_db(st);
	ok(store_bounce_copy(st, 1, &c) == 1 && c.list_id == 1 && c.subscriber_id == 1 &&
		   !c.probe && strcmp(c.address, "a@example.org") == 0,
	   "a sent copy to a subscriber may be bounced");
	ok(store_bounce_copy(st, 2, &p) == 0, "a copy never sent may not");
	ok(store_bounce_copy(st, 3, &p) == 0, "nor one to no subscriber");
	ok(store_bounce_copy(st, 99, &p) == 0, "nor one that does not exist");
	ok(store_bounce_copy(st, 4, &p) == 1 && p.probe, "a probe's copy is known as one");

	b = (struct bounce_new){.copy = &c, .source = "dsn", .cls = DSN_HARD, .status = "5.1.1",
				.diag = "no such user", .threshold = 2.0, .now = T0};
	ok(store_bounce_add(st, &b, &o) == 0 && o.active && o.scored && near(o.score, 1.0) &&
		   !o.probe_due && !o.disable,
	   "a hard bounce scores 1.0, below the threshold");
	b.cls = DSN_SOFT;
	b.now = T0 + 60;
	ok(store_bounce_add(st, &b, &o) == 0 && !o.scored && near(o.score, 1.0),
	   "a second bounce the same day is kept but not scored");
	ok(query_int(db, "SELECT count(*) FROM bounces WHERE subscriber_id = 1") == 2 &&
		   query_int(db, "SELECT count(*) FROM bounces WHERE score = 0 AND class = 'soft'") ==
			   1,
	   "both are in the history, the second with score 0");
	b.now = T0 + DAY;
	b.cls = DSN_HARD;
	ok(store_bounce_add(st, &b, &o) == 0 && o.scored && near(o.score, 2.0) && o.probe_due,
	   "at the threshold a probe is due");
	ok(store_bounce_probe_sent(st, 1, 4, T0 + DAY) == 1, "the probe is recorded");
	ok(store_bounce_probe_sent(st, 1, 4, T0 + DAY) == 0, "only one probe at a time");
	b.now = T0 + 2 * DAY;
	ok(store_bounce_add(st, &b, &o) == 0 && o.scored && !o.probe_due && !o.disable,
	   "a bounce of an ordinary copy while the probe is out sends no second probe");
	b.copy = &p;
	b.now = T0 + 2 * DAY + 60;
	ok(store_bounce_add(st, &b, &o) == 0 && !o.scored && o.disable,
	   "the probe's bounce disables, even unscored");
	ok(store_bounce_disable(st, 1, "probe bounced", b.now) == 1, "disabled");
	ok(store_bounce_disable(st, 1, "probe bounced", b.now) == 0, "only once");
	ok(store_sub_get(st, 1, "a@example.org", &s) == 1 && s.status == SUB_DISABLED,
	   "the subscriber is disabled");
	sub_clear(&s);
	b.now = T0 + 3 * DAY;
	b.copy = &c;
	ok(store_bounce_add(st, &b, &o) == 0 && !o.active && !o.scored && !o.probe_due,
	   "a disabled subscriber is not scored");
	ok(store_bounce_enable(st, 1, "b@example.org", "mail", "x", b.now) == 0,
	   "enabling an address that is no subscriber does nothing");
	ok(store_bounce_enable(st, 1, "a@example.org", "mail", "mail from a@", b.now) == 1,
	   "mail from the disabled address enables it");
	ok(store_sub_get(st, 1, "a@example.org", &s) == 1 && s.status == SUB_ACTIVE &&
		   near(s.bounce_score, 0),
	   "active again, score reset");
	sub_clear(&s);
	ok(query_int(db, "SELECT count(*) FROM subscriber_events WHERE subscriber_id = 1 AND"
			 " event IN ('bounce', 'bounce-unscored', 'probe', 'disabled', 'enabled')") ==
		   9,
	   "every step wrote its subscriber event (%lld)",
	   query_int(db, "SELECT count(*) FROM subscriber_events WHERE subscriber_id = 1"));
	ok(sqlite3_exec(db, "UPDATE subscribers SET status = 'disabled' WHERE id = 1", NULL, NULL,
			NULL) == SQLITE_OK &&
		   store_bounce_enable(st, 1, "a@example.org", "mail", "x", b.now) == 0,
	   "a subscriber disabled otherwise than by bounces is not enabled by mail");
	store_close(st);
}

/* A version-7 database moves to version 8 with its notices and scores. */
static void test_migrate(void)
{
	char path[256];
	struct store *st;
	struct sub s;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/v7.db", dir);
	if (!ok((st = store_open_at(path, 7)) != NULL && store_version(st) == 7,
		"a version-7 database"))
		return;
	ok(sqlite3_exec(store_db(st),
			"INSERT INTO lists(id, name, created_at) VALUES (1, 'dev', 1);"
			"INSERT INTO subscribers(id, list_id, address, status, created_at, updated_at,"
			" bounce_score) VALUES (1, 1, 'a@example.org', 'active', 1, 1, 3);"
			"INSERT INTO notices(id, list_id, kind, sender, raw, created_at)"
			" VALUES (7, 1, 'owner', '', 'x', 1);"
			"INSERT INTO deliveries(notice_id, address, next_at, created_at, updated_at)"
			" VALUES (7, 'o@example.org', 1, 1, 1);",
			NULL, NULL, NULL) == SQLITE_OK,
	   "version-7 rows written");
	store_close(st);
	if (!ok((st = store_open(path)) != NULL && store_version(st) == STORE_SCHEMA_VERSION,
		"migrated from version 7 to the current one"))
		return;
	db = store_db(st);
	ok(query_int(db, "SELECT count(*) FROM notices n JOIN deliveries d ON d.notice_id = n.id"
			 " WHERE n.id = 7 AND n.kind = 'owner'") == 1,
	   "notices and their copies kept");
	ok(query_int(db, "SELECT bounce_score FROM subscribers WHERE id = 1") == 3 &&
		   query_int(db, "SELECT count(*) FROM subscribers WHERE bounce_last_at = 1 AND"
				 " bounce_probe_id IS NULL AND bounce_disabled_at IS NULL") == 1,
	   "scores kept, dated from their last change (so they go stale), no probe");
	memset(&s, 0, sizeof(s));
	ok(store_sub_get(st, 1, "a@example.org", &s) == 1 && near(s.bounce_score, 0),
	   "store_sub_get (parley sub show) reads that score of 1970 as stale: 0 (%g)", s.bounce_score);
	sub_clear(&s);
	ok(sqlite3_exec(db, "INSERT INTO notices(list_id, kind, sender, raw, created_at)"
			    " VALUES (1, 'probe', '', 'x', 1)", NULL, NULL, NULL) == SQLITE_OK,
	   "notices of kind 'probe' are allowed");
	ok(sqlite3_exec(db, "INSERT INTO notices(list_id, kind, sender, raw, created_at)"
			    " VALUES (1, 'nonsense', '', 'x', 1)", NULL, NULL, NULL) != SQLITE_OK,
	   "other kinds still are not");
	store_close(st);
}

int main(void)
{
	log_init("test_bounce", LOG_DEST_STDERR);
	if (mkdtemp(dir) == NULL)
		return 1;
	test_rule();
	test_store();
	test_migrate();
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return tap_done();
}
