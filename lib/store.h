/*
 * store.h - parley's SQLite store: opening, schema migrations, transactions
 * and the prepared-statement cache. Table-specific operations live in
 * store_<table>.c files built on this.
 *
 * One struct store per thread (SQLite connection opened NOMUTEX). All SQL goes
 * through store_prepare(): statements are prepared once, with parameters
 * bound, never assembled from data. Errors are logged through log.h and
 * reported as -1.
 */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include <stddef.h>

#include <sqlite3.h>

/* The schema version this program writes; see migrations[] in store.c. */
#define STORE_SCHEMA_VERSION 11

/* Identifiers of cached statements: one per SQL text in the program. */
enum store_stmt {
	STMT_LIST_GET,
	STMT_LIST_INSERT,
	STMT_LIST_COUNTS,
	STMT_LIST_GET_STATE,
	STMT_SUB_GET,
	STMT_SUB_INSERT,
	STMT_SUB_UPDATE_STATUS,
	STMT_SUB_EVENT,
	STMT_SUB_EACH,
	STMT_SUB_EVENTS,
	STMT_INBOUND_EXISTS,
	STMT_INBOUND_SOURCE_EXISTS,
	STMT_INBOUND_INSERT,
	STMT_INBOUND_RCPT,
	STMT_ATTEMPT_BUMP,
	STMT_ATTEMPT_GET,
	STMT_ATTEMPT_ERROR,
	STMT_ATTEMPT_CLEAR,
	STMT_ATTEMPT_FAIL,
	STMT_ATTEMPT_RELEASE,
	STMT_INBOUND_DUPLICATE,
	STMT_IMAP_GET,
	STMT_IMAP_SET,
	STMT_THREAD_ADD,
	STMT_THREAD_TOUCH,
	STMT_ARCHIVE_ADD,
	STMT_DELIVERIES_CREATE,
	STMT_DELIVERY_DUE,
	STMT_DELIVERY_DUE_ARCHIVE,
	STMT_DELIVERY_MARK,
	STMT_DELIVERY_RESULT,
	STMT_DELIVERY_REQUEUE,
	STMT_HELD_ADD,
	STMT_HELD_GET,
	STMT_HELD_DECIDE,
	STMT_HELD_AWAITING,
	STMT_NOTICE_ADD,
	STMT_NOTICE_RCPT,
	STMT_NOTICES_SINCE,
	STMT_DELIVERY_NOTICE,
	STMT_SUB_BOUNCE,
	STMT_SUB_ADDRESS,
	STMT_HELD_EXPIRE,
	STMT_LIST_POSTED,
	STMT_DELIVERY_COPY,
	STMT_DELIVERY_SUBSCRIBER,
	STMT_DELIVERY_RELEASE,
	STMT_SUB_LIST_OF,
	STMT_THREAD_ROOT,
	STMT_ARCHIVE_FIND_MSGID,
	STMT_THREAD_FIND_SUBJECT,
	STMT_ARCHIVE_ROW,
	STMT_REPLY_DELIVER_LIST,
	STMT_REPLY_DELIVER_AUTHOR,
	STMT_REPLY_DELIVER_THREAD,
	STMT_REPLY_DELIVER_OUTSIDE_AUTHOR,
	STMT_THREAD_PREF,
	STMT_THREAD_OF,
	STMT_HELD_DECIDED_BY,
	STMT_ARCHIVE_ADOPT,
	STMT_REQUEST_OPEN,
	STMT_REQUEST_SUPERSEDE,
	STMT_REQUEST_GET,
	STMT_REQUEST_CLOSE,
	STMT_REQUESTS_MAILED,
	STMT_COMMANDS_SINCE,
	STMT_STATS_ARCHIVE,
	STMT_STATS_COPIES,
	STMT_STATS_QUEUE,
	STMT_STATS_PRUNE,
	STMT_STATS_ADD,
	STMT_STATS_BOUNCES,
	STMT_BOUNCE_COPY,
	STMT_BOUNCE_SUB,
	STMT_BOUNCE_SCORE,
	STMT_BOUNCE_ADD,
	STMT_BOUNCE_PROBE,
	STMT_BOUNCE_DISABLE,
	STMT_BOUNCE_ENABLE,
	STMT_BOUNCE_EACH,
	STMT_BOUNCE_SUBS,
	STMT_BOUNCE_NOTICE_SUB,
	STMT_BOUNCE_NOTICE_SENDER,
	STMT_STATS_RELAY_ADD,
	STMT_STATS_RELAY_PRUNE,
	STMT_STATS_RELAY_COUNTS,
	STMT_STATS_RELAY_STATES,
	STMT_RELAY_STATE_SET,
	STMT__COUNT
};

struct store;

/*
 * store_open: open (creating if needed) the database at PATH, set WAL,
 * foreign keys, busy timeout and synchronous=FULL, and migrate the schema up
 * to STORE_SCHEMA_VERSION. Fails (NULL, error logged) if the file is not a
 * parley database or was written by a newer parley.
 */
struct store *store_open(const char *path);

/* store_open_at: like store_open, but migrate only up to VERSION (tests). */
struct store *store_open_at(const char *path, int version);

void store_close(struct store *st);

/* store_version: the schema version of the open database, or -1. */
int store_version(struct store *st);

sqlite3 *store_db(struct store *st);

/* store_runner: a name for this open store that no other process, and no
 * later run, shares (pid, open time, address): what marks an attempt as
 * this process's (store_attempt_begin). Belongs to the store. */
const char *store_runner(struct store *st);

/* store_outage: 1 if the last error on ST is one of a store that cannot be
 * written just now (busy or locked, disk full, I/O error, out of memory, a
 * file system gone read-only, a damaged database file), which says nothing
 * against the message: it stays in the spool and is tried again; 0 if not
 * (a constraint, a bad statement). Any extended code counts by its primary
 * code. Ask before store_rollback. */
int store_outage(struct store *st);

/*
 * store_synced: ON 0 lets the commits of ST that follow reach the disk
 * later (synchronous=NORMAL: no fsync at COMMIT; the WAL stays consistent,
 * and the next synced commit of any connection makes them durable too); ON
 * 1 (the default) syncs every commit again. Only for a transaction whose
 * loss to a power failure is harmless: the claim of copies to send (lost,
 * they are queued, as a restart makes claimed copies anyway). 0 or -1.
 */
int store_synced(struct store *st, int on);

/* Transactions: begin is BEGIN IMMEDIATE (a writer). 0 or -1. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/*
 * store_prepare: the cached statement ID, prepared from SQL on first use,
 * reset and with bindings cleared. NULL (logged) on error. The statement
 * belongs to the store: never finalize it.
 */
sqlite3_stmt *store_prepare(struct store *st, enum store_stmt id, const char *sql);

/* store_prepare_once: a statement for SQL that is run rarely (listings of
 * the CLI), prepared now; the caller finalizes it. NULL (logged) on error. */
sqlite3_stmt *store_prepare_once(struct store *st, const char *sql);

/* store_col_text: column I of the current row as a malloc'd string, or NULL
 * if it is NULL. */
char *store_col_text(sqlite3_stmt *s, int i);

/* store_col_blob: column I of the current row as a malloc'd copy with a NUL
 * after it (for text in a BLOB), its length in *LEN; never NULL. */
char *store_col_blob(sqlite3_stmt *s, int i, size_t *len);

/* store_update_now: run cached statement ID (SQL, which returns no rows)
 * with ?1 bound to NOW; the number of rows changed, or -1 (logged). */
long long store_update_now(struct store *st, enum store_stmt id, const char *sql, long long now);

/* store_step_int: step S (bound by the caller) and return the first
 * column of its first row as an integer, 0 if it returns no row, -1 on an
 * error (logged as WHAT); S is reset. */
long long store_step_int(struct store *st, sqlite3_stmt *s, const char *what);

/* store_step_done: step a statement that returns no rows; 0 or -1 (logged). */
int store_step_done(struct store *st, sqlite3_stmt *s);

/* store_error: log "WHAT: sqlite message" and return -1. */
int store_error(struct store *st, const char *what);

/* store_now: current time in seconds since the epoch (the store's clock). */
long long store_now(void);

/* Lists: the row id of list NAME, created on first use; -1 on error. */
long long store_list_id(struct store *st, const char *name);

#endif
