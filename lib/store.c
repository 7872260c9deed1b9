/*
 * store.c - opens parley's SQLite database and keeps its schema current
 * (see store.h).
 *
 * The schema is a sequence of forward migrations; migrations[i] takes a
 * database from user_version i to i + 1 inside one transaction, so a crash
 * leaves either the old or the new version, never a mix. Never edit a
 * migration that has shipped: add a new one.
 */
#include "autoconf.h"

#include "store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define STORE_APPLICATION_ID 0x7061726c /* "parl" */
#define STORE_BUSY_TIMEOUT_MS 10000

struct store {
	sqlite3 *db;
	char *path;
	char runner[64];	/* store_runner() */
	sqlite3_stmt *stmts[STMT__COUNT];
};

/* The counting of cancelled copies (schema 8, parley stats), made again by
 * a migration that rebuilds a table it reads. */
#define DELIVERY_COUNT_TRIGGER \
	"CREATE TRIGGER delivery_count AFTER UPDATE OF status ON deliveries" \
	"  WHEN NEW.status = 'cancelled' AND OLD.status <> 'cancelled' BEGIN" \
	"  INSERT INTO delivery_counts(list_id, minute, status, n) VALUES" \
	"    (COALESCE((SELECT list_id FROM archive WHERE id = NEW.archive_id)," \
	"      (SELECT list_id FROM notices WHERE id = NEW.notice_id), 0)," \
	"      NEW.updated_at / 60, NEW.status, 1)," \
	"    (COALESCE((SELECT list_id FROM archive WHERE id = NEW.archive_id)," \
	"      (SELECT list_id FROM notices WHERE id = NEW.notice_id), 0), 0, NEW.status, 1)" \
	"    ON CONFLICT DO UPDATE SET n = n + 1;" \
	"  END;"

static const char *const migrations[STORE_SCHEMA_VERSION] = {
	/* 0 -> 1: lists' runtime state and subscribers. */
	"CREATE TABLE lists ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL,"
	"  post_count INTEGER NOT NULL DEFAULT 0,"
	"  last_post_at INTEGER"
	");"
	"CREATE TABLE subscribers ("
	"  id INTEGER PRIMARY KEY,"
	"  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,"
	"  address TEXT NOT NULL,"
	"  name TEXT,"
	/* CHECKs are written as OR chains: "x IN (...)" makes SQLite build an
	 * ephemeral index on every insert, which costs 3x on bulk imports. */
	"  status TEXT NOT NULL CHECK (status = 'pending' OR status = 'active'"
	"    OR status = 'disabled' OR status = 'unsubscribed'),"
	"  mode TEXT NOT NULL DEFAULT 'all' CHECK (mode = 'all' OR mode = 'posts'"
	"    OR mode = 'digest' OR mode = 'nomail'),"
	"  consent_how TEXT CHECK (consent_how = 'cli' OR consent_how = 'email-confirmed'"
	"    OR consent_how = 'import'),"
	"  consent_at INTEGER,"
	"  consent_by TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  bounce_score REAL NOT NULL DEFAULT 0,"
	"  UNIQUE (list_id, address)"
	");"
	"CREATE INDEX subscribers_list_status ON subscribers(list_id, status);",

	/* 1 -> 2: consent history, one row per subscription event, back-filled
	 * from the consent record of existing subscribers. */
	"CREATE TABLE subscriber_events ("
	"  id INTEGER PRIMARY KEY,"
	"  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,"
	"  at INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  how TEXT,"
	"  actor TEXT"
	");"
	"CREATE INDEX subscriber_events_sub ON subscriber_events(subscriber_id, at);"
	"ALTER TABLE subscribers ADD COLUMN unsubscribed_at INTEGER;"
	"INSERT INTO subscriber_events(subscriber_id, at, event, how, actor)"
	"  SELECT id, COALESCE(consent_at, created_at),"
	"         CASE status WHEN 'pending' THEN 'requested' ELSE 'subscribed' END,"
	"         consent_how, consent_by FROM subscribers;"
	"UPDATE subscribers SET unsubscribed_at = updated_at WHERE status = 'unsubscribed';",

	/* 2 -> 3: inbound mail taken from the spool (raw bytes kept: the spool
	 * file is removed once this row is committed), its recipients, the
	 * ingest attempts that guard against a message that crashes us, and
	 * the IMAP poller's place in each mailbox. */
	"CREATE TABLE inbound ("
	"  id INTEGER PRIMARY KEY,"
	"  spool_id TEXT NOT NULL UNIQUE,"
	"  source TEXT UNIQUE,"
	"  received_at INTEGER NOT NULL,"
	"  ingested_at INTEGER NOT NULL,"
	"  proto TEXT, client TEXT, helo TEXT, tls TEXT,"
	"  sender TEXT NOT NULL,"
	"  message_id TEXT,"
	"  subject TEXT, from_addr TEXT, from_name TEXT,"
	"  size INTEGER NOT NULL,"
	"  raw BLOB NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'new'"
	");"
	"CREATE INDEX inbound_message_id ON inbound(message_id);"
	"CREATE TABLE inbound_rcpts ("
	"  inbound_id INTEGER NOT NULL REFERENCES inbound(id) ON DELETE CASCADE,"
	"  address TEXT NOT NULL,"
	"  list TEXT,"
	"  kind TEXT,"
	"  PRIMARY KEY (inbound_id, address)"
	");"
	"CREATE TABLE spool_attempts ("
	"  spool_id TEXT PRIMARY KEY,"
	"  attempts INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  updated_at INTEGER NOT NULL"
	");"
	"CREATE TABLE imap_state ("
	"  mailbox TEXT PRIMARY KEY,"
	"  uidvalidity INTEGER NOT NULL,"
	"  last_uid INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");",

	/* 3 -> 4: the archive (threads of posts and replies, raw bytes kept),
	 * the delivery queue (one row per copy: message x recipient), and the
	 * inbound messages held for an owner (an unproven post, a loop). */
	"CREATE TABLE threads ("
	"  id INTEGER PRIMARY KEY,"
	"  list_id INTEGER NOT NULL REFERENCES lists(id),"
	"  subject TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  last_at INTEGER NOT NULL"
	");"
	"CREATE TABLE archive ("
	"  id INTEGER PRIMARY KEY,"
	"  list_id INTEGER NOT NULL REFERENCES lists(id),"
	"  thread_id INTEGER NOT NULL REFERENCES threads(id),"
	"  parent_id INTEGER REFERENCES archive(id),"
	"  inbound_id INTEGER REFERENCES inbound(id),"
	"  kind TEXT NOT NULL CHECK (kind = 'post' OR kind = 'reply'),"
	"  list_msgid TEXT NOT NULL UNIQUE,"
	"  orig_msgid TEXT,"
	"  author_addr TEXT NOT NULL,"
	"  author_name TEXT,"
	"  subject TEXT,"
	"  text TEXT,"
	"  raw BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX archive_orig_msgid ON archive(orig_msgid);"
	"CREATE INDEX archive_list ON archive(list_id, created_at);"
	"CREATE TABLE deliveries ("
	"  id INTEGER PRIMARY KEY,"
	"  archive_id INTEGER NOT NULL REFERENCES archive(id),"
	"  subscriber_id INTEGER REFERENCES subscribers(id),"
	"  address TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'queued' CHECK (status = 'queued' OR status = 'sending'"
	"    OR status = 'sent' OR status = 'deferred' OR status = 'failed'),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (archive_id, address)"
	");"
	"CREATE INDEX deliveries_due ON deliveries(status, next_at);"
	"CREATE TABLE held ("
	"  inbound_id INTEGER PRIMARY KEY REFERENCES inbound(id),"
	"  list_id INTEGER REFERENCES lists(id),"
	"  reason TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	");",

	/* 4 -> 5: system mail (notices: a confirmation request to an author, a
	 * note to the owners) goes through the delivery queue too, so a copy
	 * names either an archived message or a notice; a copy can be
	 * 'cancelled' (its subscriber left before it was sent: a trigger does
	 * it in the transaction that changes the subscriber); held messages get
	 * an id of their own, one row per list, and a state. */
	"CREATE TABLE held_v5 ("
	"  id INTEGER PRIMARY KEY,"
	"  inbound_id INTEGER NOT NULL REFERENCES inbound(id),"
	"  list_id INTEGER REFERENCES lists(id),"
	"  reason TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'held' CHECK (state = 'held' OR state = 'confirm'"
	"    OR state = 'published' OR state = 'expired' OR state = 'rejected'),"
	"  author_addr TEXT,"
	"  expires_at INTEGER,"
	"  archive_id INTEGER REFERENCES archive(id),"
	"  created_at INTEGER NOT NULL,"
	"  decided_at INTEGER,"
	"  UNIQUE (inbound_id, list_id)"
	");"
	"INSERT INTO held_v5(inbound_id, list_id, reason, created_at)"
	"  SELECT inbound_id, list_id, reason, created_at FROM held ORDER BY created_at;"
	"DROP TABLE held;"
	"ALTER TABLE held_v5 RENAME TO held;"
	"CREATE INDEX held_author ON held(list_id, author_addr, state);"
	"CREATE TABLE notices ("
	"  id INTEGER PRIMARY KEY,"
	"  list_id INTEGER REFERENCES lists(id),"
	"  kind TEXT NOT NULL CHECK (kind = 'confirm' OR kind = 'held' OR kind = 'expired'"
	"    OR kind = 'published'),"
	"  held_id INTEGER REFERENCES held(id),"
	"  sender TEXT NOT NULL,"
	"  raw BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX notices_list ON notices(list_id, kind, created_at);"
	"CREATE TABLE deliveries_v5 ("
	"  id INTEGER PRIMARY KEY,"
	"  archive_id INTEGER REFERENCES archive(id),"
	"  notice_id INTEGER REFERENCES notices(id),"
	"  subscriber_id INTEGER REFERENCES subscribers(id),"
	"  address TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'queued' CHECK (status = 'queued' OR status = 'sending'"
	"    OR status = 'sent' OR status = 'deferred' OR status = 'failed'"
	"    OR status = 'cancelled'),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (archive_id, address),"
	"  UNIQUE (notice_id, address),"
	"  CHECK ((archive_id IS NULL) <> (notice_id IS NULL))"
	");"
	"INSERT INTO deliveries_v5(id, archive_id, subscriber_id, address, status, attempts,"
	"  next_at, last_error, created_at, updated_at)"
	"  SELECT id, archive_id, subscriber_id, address, status, attempts, next_at,"
	"  last_error, created_at, updated_at FROM deliveries;"
	"DROP TABLE deliveries;"
	"ALTER TABLE deliveries_v5 RENAME TO deliveries;"
	"CREATE INDEX deliveries_due ON deliveries(status, next_at);"
	"CREATE INDEX deliveries_subscriber ON deliveries(subscriber_id, status);"
	"CREATE TRIGGER deliveries_cancel AFTER UPDATE OF status ON subscribers"
	"  WHEN NEW.status <> 'active' BEGIN"
	"  UPDATE deliveries SET status = 'cancelled', updated_at = CAST(strftime('%s') AS INTEGER),"
	"    last_error = 'not sent: the subscriber is ' || NEW.status || ' now'"
	"    WHERE subscriber_id = NEW.id AND (status = 'queued' OR status = 'deferred');"
	"  END;",

	/* 5 -> 6: the conversation. Archived messages get the quote-trimmed
	 * text and what was cut (elided), the author's Authentication-Results
	 * (removed from copies), the chain of list Message-IDs from the root
	 * (the References of their copies), the Message-ID its author named as
	 * its parent (a reply that came before its parent moves under it when
	 * the parent arrives), and an FTS5 index over subject,
	 * author and trimmed text kept by triggers in the same transaction;
	 * threads their normalised subject and root; readers follow or mute a
	 * thread (a mute cancels the queued copies of that thread at once);
	 * requests (subscribe, unsubscribe, a mode change) wait for their
	 * confirmation; held messages record who decided; notices get the new
	 * kinds (the table is rebuilt: deliveries refer to it, so the check of
	 * foreign keys waits for the commit). */
	"PRAGMA defer_foreign_keys = ON;"
	"ALTER TABLE archive ADD COLUMN trimmed TEXT;"
	"ALTER TABLE archive ADD COLUMN elided TEXT;"
	"ALTER TABLE archive ADD COLUMN auth_results TEXT;"
	"ALTER TABLE archive ADD COLUMN refs TEXT;"
	"ALTER TABLE archive ADD COLUMN subscriber_id INTEGER REFERENCES subscribers(id);"
	"ALTER TABLE archive ADD COLUMN parent_hint TEXT;"
	"UPDATE archive SET trimmed = text;"
	"CREATE INDEX archive_parent_hint ON archive(list_id, parent_hint);"
	"CREATE INDEX archive_thread ON archive(thread_id, created_at);"
	"CREATE INDEX archive_list_msgid ON archive(list_id, list_msgid);"
	"ALTER TABLE threads ADD COLUMN base_subject TEXT;"
	"ALTER TABLE threads ADD COLUMN root_id INTEGER REFERENCES archive(id);"
	"UPDATE threads SET root_id = (SELECT min(id) FROM archive WHERE thread_id = threads.id),"
	"  base_subject = lower(trim(subject));"
	"CREATE INDEX threads_subject ON threads(list_id, base_subject, last_at);"
	"CREATE VIRTUAL TABLE archive_fts USING fts5(subject, author_name, author_addr, trimmed,"
	"  content = 'archive', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');"
	"INSERT INTO archive_fts(archive_fts) VALUES ('rebuild');"
	"CREATE TRIGGER archive_fts_insert AFTER INSERT ON archive BEGIN"
	"  INSERT INTO archive_fts(rowid, subject, author_name, author_addr, trimmed)"
	"    VALUES (NEW.id, NEW.subject, NEW.author_name, NEW.author_addr, NEW.trimmed);"
	"  END;"
	"CREATE TRIGGER archive_fts_delete AFTER DELETE ON archive BEGIN"
	"  INSERT INTO archive_fts(archive_fts, rowid, subject, author_name, author_addr, trimmed)"
	"    VALUES ('delete', OLD.id, OLD.subject, OLD.author_name, OLD.author_addr, OLD.trimmed);"
	"  END;"
	"CREATE TRIGGER archive_fts_update AFTER UPDATE ON archive BEGIN"
	"  INSERT INTO archive_fts(archive_fts, rowid, subject, author_name, author_addr, trimmed)"
	"    VALUES ('delete', OLD.id, OLD.subject, OLD.author_name, OLD.author_addr, OLD.trimmed);"
	"  INSERT INTO archive_fts(rowid, subject, author_name, author_addr, trimmed)"
	"    VALUES (NEW.id, NEW.subject, NEW.author_name, NEW.author_addr, NEW.trimmed);"
	"  END;"
	"CREATE TABLE thread_prefs ("
	"  thread_id INTEGER NOT NULL REFERENCES threads(id),"
	"  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,"
	"  pref TEXT NOT NULL CHECK (pref = 'follow' OR pref = 'mute'),"
	"  at INTEGER NOT NULL,"
	"  PRIMARY KEY (thread_id, subscriber_id)"
	");"
	"CREATE TRIGGER thread_mute AFTER INSERT ON thread_prefs WHEN NEW.pref = 'mute' BEGIN"
	"  UPDATE deliveries SET status = 'cancelled', updated_at = NEW.at,"
	"    last_error = 'not sent: the reader muted the thread'"
	"    WHERE subscriber_id = NEW.subscriber_id AND (status = 'queued' OR status = 'deferred')"
	"    AND archive_id IN (SELECT id FROM archive WHERE thread_id = NEW.thread_id);"
	"  END;"
	"CREATE TRIGGER thread_mute_update AFTER UPDATE OF pref ON thread_prefs"
	"  WHEN NEW.pref = 'mute' BEGIN"
	"  UPDATE deliveries SET status = 'cancelled', updated_at = NEW.at,"
	"    last_error = 'not sent: the reader muted the thread'"
	"    WHERE subscriber_id = NEW.subscriber_id AND (status = 'queued' OR status = 'deferred')"
	"    AND archive_id IN (SELECT id FROM archive WHERE thread_id = NEW.thread_id);"
	"  END;"
	"CREATE TABLE requests ("
	"  id INTEGER PRIMARY KEY,"
	"  list_id INTEGER NOT NULL REFERENCES lists(id),"
	"  address TEXT NOT NULL,"
	"  action TEXT NOT NULL CHECK (action = 'subscribe' OR action = 'unsubscribe'"
	"    OR action = 'set'),"
	"  mode TEXT CHECK (mode IS NULL OR mode = 'all' OR mode = 'posts' OR mode = 'digest'"
	"    OR mode = 'nomail'),"
	"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state = 'pending' OR state = 'done'"
	"    OR state = 'expired' OR state = 'superseded'),"
	"  message_id TEXT,"
	"  inbound_id INTEGER REFERENCES inbound(id),"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  decided_at INTEGER"
	");"
	"CREATE UNIQUE INDEX requests_pending ON requests(list_id, address, action)"
	"  WHERE state = 'pending';"
	"ALTER TABLE held ADD COLUMN decided_by TEXT;"
	"ALTER TABLE held ADD COLUMN kind TEXT NOT NULL DEFAULT 'post';"
	"CREATE TABLE notices_v6 ("
	"  id INTEGER PRIMARY KEY,"
	"  list_id INTEGER REFERENCES lists(id),"
	"  kind TEXT NOT NULL CHECK (kind = 'confirm' OR kind = 'held' OR kind = 'expired'"
	"    OR kind = 'published' OR kind = 'request' OR kind = 'help' OR kind = 'owner'"
	"    OR kind = 'private' OR kind = 'rejected' OR kind = 'moderate'),"
	"  held_id INTEGER REFERENCES held(id),"
	"  sender TEXT NOT NULL,"
	"  raw BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL"
	");"
	"INSERT INTO notices_v6 SELECT id, list_id, kind, held_id, sender, raw, created_at"
	"  FROM notices;"
	"DROP TABLE notices;"
	"ALTER TABLE notices_v6 RENAME TO notices;"
	"CREATE INDEX notices_list ON notices(list_id, kind, created_at);"
	"CREATE INDEX deliveries_notice ON deliveries(notice_id);",
	/* 6 -> 7: redelivery is recognised (the same Message-ID and content for
	 * the same recipient), and an ingest attempt names the process making
	 * it, so that only an attempt that never returned counts as a crash. */
	"ALTER TABLE inbound ADD COLUMN content_hash TEXT;"
	"CREATE INDEX inbound_dedupe ON inbound(message_id, content_hash)"
	"  WHERE content_hash IS NOT NULL;"
	"ALTER TABLE spool_attempts ADD COLUMN runner TEXT;",
	/* 7 -> 8: counters for parley stats and /metrics: per list, minute
	 * (unix time / 60; 0: all time) and status, the copies that reached
	 * sent, deferred, failed or cancelled. The delivery workers count their
	 * results a batch at a time, in the transaction that records them
	 * (store_stats_tally: a trigger per row cost the result's UPDATE four
	 * times its own work); cancellations, made by the subscriber and mute
	 * triggers, the CLI and the workers, are counted by the trigger
	 * delivery_count, which no other status fires. The minute rows are
	 * pruned after a day (store_stats_prune); list 0 is a notice to no
	 * list. And an index that counts posts and replies without reading the
	 * raw messages (created_at comes after raw in the archive's rows). */
	"CREATE TABLE delivery_counts ("
	"  list_id INTEGER NOT NULL,"
	"  minute INTEGER NOT NULL,"
	"  status TEXT NOT NULL,"
	"  n INTEGER NOT NULL,"
	"  PRIMARY KEY (list_id, minute, status)"
	") WITHOUT ROWID;"
	"INSERT INTO delivery_counts(list_id, minute, status, n)"
	"  SELECT COALESCE(a.list_id, n.list_id, 0), 0, d.status, count(*) FROM deliveries d"
	"  LEFT JOIN archive a ON a.id = d.archive_id LEFT JOIN notices n ON n.id = d.notice_id"
	"  WHERE d.status IN ('sent', 'deferred', 'failed', 'cancelled')"
	"  GROUP BY 1, 3;"
	DELIVERY_COUNT_TRIGGER
	"CREATE INDEX archive_kind ON archive(list_id, kind, created_at);"
	/* and indexes that a copy's way from queued to sent touches less: the
	 * due copies by a partial index (a claim takes the entry out, a result
	 * of sent or failed touches none; before, each status change moved an
	 * entry of (status, next_at)); a subscriber's copies by subscriber
	 * alone (the cancelling trigger reads their status from the rows). Per
	 * copy sent: 1 index change instead of 8. */
	"DROP INDEX deliveries_due;"
	"CREATE INDEX deliveries_due ON deliveries(next_at, id)"
	"  WHERE status IN ('queued', 'deferred');"
	"DROP INDEX deliveries_subscriber;"
	"CREATE INDEX deliveries_subscriber ON deliveries(subscriber_id);",
	/* 8 -> 9 (bounces): every bounce of a subscriber's copy (a DSN to
	 * L+bounce-TOKEN@, a 5xx at RCPT, a complaint) is kept with the copy
	 * it names; subscribers get the time of their last scored bounce (the
	 * per-day and the stale rules), the probe copy they were sent at the
	 * threshold, and when bounces disabled them; notices get the kinds
	 * 'probe' and 'disabled' (the table is rebuilt, as for 6; the trigger delivery_count reads
	 * notices, so it goes while the table is rebuilt: a rename re-reads
	 * every trigger, and one naming a missing table fails it). */
	"PRAGMA defer_foreign_keys = ON;"
	"DROP TRIGGER delivery_count;"
	"ALTER TABLE subscribers ADD COLUMN bounce_last_at INTEGER;"
	"ALTER TABLE subscribers ADD COLUMN bounce_probe_id INTEGER;"
	"ALTER TABLE subscribers ADD COLUMN bounce_disabled_at INTEGER;"
	/* a score from before counts from its last change, so it goes stale */
	"UPDATE subscribers SET bounce_last_at = updated_at WHERE bounce_score > 0;"
	"CREATE TABLE bounces ("
	"  id INTEGER PRIMARY KEY,"
	"  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,"
	"  delivery_id INTEGER REFERENCES deliveries(id),"
	"  at INTEGER NOT NULL,"
	"  source TEXT NOT NULL CHECK (source = 'dsn' OR source = 'rcpt' OR source = 'arf'),"
	"  class TEXT NOT NULL CHECK (class = 'hard' OR class = 'soft' OR class = 'complaint'),"
	"  status TEXT,"
	"  diagnostic TEXT,"
	"  score REAL NOT NULL DEFAULT 0,"
	"  probe INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX bounces_subscriber ON bounces(subscriber_id, at);"
	"CREATE TABLE notices_v9 ("
	"  id INTEGER PRIMARY KEY,"
	"  list_id INTEGER REFERENCES lists(id),"
	"  kind TEXT NOT NULL CHECK (kind = 'confirm' OR kind = 'held' OR kind = 'expired'"
	"    OR kind = 'published' OR kind = 'request' OR kind = 'help' OR kind = 'owner'"
	"    OR kind = 'private' OR kind = 'rejected' OR kind = 'moderate' OR kind = 'probe'"
	"    OR kind = 'disabled'),"
	"  held_id INTEGER REFERENCES held(id),"
	"  sender TEXT NOT NULL,"
	"  raw BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL"
	");"
	"INSERT INTO notices_v9 SELECT id, list_id, kind, held_id, sender, raw, created_at"
	"  FROM notices;"
	"DROP TABLE notices;"
	"ALTER TABLE notices_v9 RENAME TO notices;"
	"CREATE INDEX notices_list ON notices(list_id, kind, created_at);"
	DELIVERY_COUNT_TRIGGER,
	/* 9 -> 10 (relays): the relay each copy was last handed to, "host:port"
	 * or "maildir:/DIR" (several relays share the copies, issue 10). */
	"ALTER TABLE deliveries ADD COLUMN relay TEXT;",
	/* 10 -> 11 (relay stats): per relay ("host:port", as deliveries.relay),
	 * minute (unix time / 60; 0: all time) and status, the copies that
	 * reached sent, deferred or failed, counted by the workers' tally in
	 * the transaction of their results, like delivery_counts (no trigger),
	 * pruned with it; the all-time rows back-filled from the copies'
	 * relay. And each configured relay's state as the workers last saw it:
	 * up, or down until a time (unix) for a reason; parleyd writes a row
	 * 'up' per configured relay when it starts and deletes the others. */
	"CREATE TABLE relay_counts ("
	"  relay TEXT NOT NULL,"
	"  minute INTEGER NOT NULL,"
	"  status TEXT NOT NULL,"
	"  n INTEGER NOT NULL,"
	"  PRIMARY KEY (relay, minute, status)"
	") WITHOUT ROWID;"
	"INSERT INTO relay_counts(relay, minute, status, n)"
	"  SELECT relay, 0, status, count(*) FROM deliveries"
	"  WHERE relay IS NOT NULL AND status IN ('sent', 'deferred', 'failed')"
	"  GROUP BY relay, status;"
	"CREATE TABLE relay_state ("
	"  relay TEXT PRIMARY KEY,"
	"  state TEXT NOT NULL CHECK (state IN ('up', 'down')),"
	"  down_until INTEGER,"
	"  reason TEXT,"
	"  updated_at INTEGER NOT NULL"
	");",
};

/* Each connection's page cache: parleyd opens one per worker, ingest and
 * the HTTP sessions, and SQLite's default (2 MB each) is most of the
 * daemon's memory once a large list has been fanned out; what they read
 * again is recent (the due copies, the archive row, a subscriber), so 512
 * KiB does as well (bench/fanout.sh --sink: the same rate). */
#define STORE_CACHE_PRAGMA "PRAGMA cache_size = -512"

int store_error(struct store *st, const char *what)
{
	log_error("%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return -1;
}

long long store_now(void)
{
	return (long long)time(NULL);
}

sqlite3 *store_db(struct store *st)
{
	return st->db;
}

static int pragma_int(struct store *st, const char *sql, int *out)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_error(st, sql);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return store_error(st, sql);
	return 0;
}

int store_version(struct store *st)
{
	int v;

	return pragma_int(st, "PRAGMA user_version", &v) < 0 ? -1 : v;
}

static int exec(struct store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("%s: %s", st->path, msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int store_synced(struct store *st, int on)
{
	return exec(st, on ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

int store_begin(struct store *st)
{
	return exec(st, "BEGIN IMMEDIATE");
}

int store_commit(struct store *st)
{
	return exec(st, "COMMIT");
}

void store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		(void)exec(st, "ROLLBACK");
}

/* fk_check: 0 if no row breaks a foreign key, else -1 (logged). */
static int fk_check(struct store *st)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA foreign_key_check", -1, &s, NULL) != SQLITE_OK)
		return store_error(st, "check foreign keys");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		log_error("%s: migration left a row of %s without its parent in %s", st->path,
			  (const char *)sqlite3_column_text(s, 0),
			  (const char *)sqlite3_column_text(s, 2));
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
	return rc == SQLITE_ROW ? -1 : store_error(st, "check foreign keys");
}

static int store_migrate(struct store *st, int target)
{
	int v, tables;
	char sql[64];

	if (store_begin(st) < 0)
		return -1;
	if ((v = store_version(st)) < 0 ||
	    pragma_int(st, "SELECT count(*) FROM sqlite_schema", &tables) < 0)
		goto fail;
	if (v > STORE_SCHEMA_VERSION) {
		log_error("%s: database schema version %d is newer than this parley supports "
			  "(%d): upgrade parley, or use the database with the version that wrote it",
			  st->path, v, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (v == 0 && tables > 0) {
		log_error("%s: not a parley database (it has tables but no parley schema)",
			  st->path);
		goto fail;
	}
	if (v == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", STORE_APPLICATION_ID);
		if (exec(st, sql) < 0)
			goto fail;
	}
	for (; v < target; v++) {
		if (exec(st, migrations[v]) < 0)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(st, sql) < 0)
			goto fail;
		log_debug("%s: schema migrated to version %d", st->path, v + 1);
	}
	if (fk_check(st) < 0)
		goto fail;
	return store_commit(st);
fail:
	store_rollback(st);
	return -1;
}

/* create_private: PATH made empty with mode 0600 if it does not exist, so
 * that the database, and the -wal and -shm SQLite gives the database's
 * mode, are never readable by others. */
static void create_private(const char *path)
{
	int fd = path[0] == ':' ? -1 : open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
						  O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

static void runner_name(struct store *st)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(st->runner, sizeof(st->runner), "%ld.%lld.%09ld.%p", (long)getpid(),
		 (long long)ts.tv_sec, (long)ts.tv_nsec, (void *)st);
}

const char *store_runner(struct store *st)
{
	return st->runner;
}

int store_outage(struct store *st)
{
	/* extended result codes are on: SQLITE_IOERR_WRITE is 778, not 10 */
	switch (sqlite3_extended_errcode(st->db) & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_NOMEM:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:	/* the file system went read-only after errors */
	case SQLITE_PROTOCOL:
	case SQLITE_CORRUPT:	/* the store's trouble, not the message's */
	case SQLITE_NOTADB:
		return 1;
	default:
		return 0;
	}
}

struct store *store_open_at(const char *path, int version)
{
	struct store *st = xcalloc(1, sizeof(*st));
	int rc, mode;

	st->path = xstrdup(path);
	create_private(path);
	runner_name(st);
	rc = sqlite3_open_v2(path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("%s: cannot open database: %s", path,
			  st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		store_close(st);
		return NULL;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	if (exec(st, "PRAGMA synchronous = FULL") < 0 || exec(st, STORE_CACHE_PRAGMA) < 0 ||
	    pragma_int(st, "PRAGMA application_id", &mode) < 0)
		goto fail;
	if (mode != 0 && mode != STORE_APPLICATION_ID) {
		log_error("%s: not a parley database (application id %#x)", path, (unsigned)mode);
		goto fail;
	}
	/* migrations run with foreign keys off (SQLite's way to rebuild a table
	 * that others refer to: DROP TABLE of the old one would count its rows'
	 * children as violations) and are checked before their commit */
	if (exec(st, "PRAGMA journal_mode = WAL") < 0 || exec(st, "PRAGMA foreign_keys = OFF") < 0 ||
	    store_migrate(st, version) < 0 || exec(st, "PRAGMA foreign_keys = ON") < 0)
		goto fail;
	return st;
fail:
	store_close(st);
	return NULL;
}

struct store *store_open(const char *path)
{
	return store_open_at(path, STORE_SCHEMA_VERSION);
}

void store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < STMT__COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_warn("%s: close: %s", st->path, sqlite3_errmsg(st->db));
	free(st->path);
	free(st);
}

sqlite3_stmt *store_prepare(struct store *st, enum store_stmt id, const char *sql)
{
	sqlite3_stmt *s = st->stmts[id];

	if (s == NULL) {
		if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
		    SQLITE_OK) {
			store_error(st, "prepare");
			return NULL;
		}
		st->stmts[id] = s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

sqlite3_stmt *store_prepare_once(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_error(st, "prepare");
		return NULL;
	}
	return s;
}

long long store_step_int(struct store *st, sqlite3_stmt *s, const char *what)
{
	long long v = 0;
	int rc;

	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_error(st, what);
	return v;
}

int store_step_done(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store_error(st, "step");
	return 0;
}

long long store_update_now(struct store *st, enum store_stmt id, const char *sql, long long now)
{
	sqlite3_stmt *s = store_prepare(st, id, sql);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	if (store_step_done(st, s) < 0)
		return -1;
	return sqlite3_changes(st->db);
}

char *store_col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

char *store_col_blob(sqlite3_stmt *s, int i, size_t *len)
{
	const void *p = sqlite3_column_blob(s, i);
	size_t n = (size_t)sqlite3_column_bytes(s, i);
	char *out = xmalloc(n + 1);

	if (n > 0 && p != NULL)
		memcpy(out, p, n);
	out[n] = '\0';
	*len = n;
	return out;
}

long long store_list_id(struct store *st, const char *name)
{
	sqlite3_stmt *s;
	long long id = -1;

	s = store_prepare(st, STMT_LIST_GET, "SELECT id FROM lists WHERE name = ?1");
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		return id;
	}
	sqlite3_reset(s);
	s = store_prepare(st, STMT_LIST_INSERT,
			  "INSERT INTO lists(name, created_at) VALUES (?1, ?2)");
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, store_now());
	if (store_step_done(st, s) < 0)
		return -1;
	return sqlite3_last_insert_rowid(st->db);
}
