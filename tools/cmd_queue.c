/*
 * cmd_queue.c - `parley queue ls|retry|flush`: the delivery queue, one row
 * per copy (message or notice x recipient). ls shows the copies not yet
 * sent or cancelled (--all: every copy), each with the relay it was last
 * handed to; retry puts failed or deferred copies (all, or the given ids)
 * back in the queue now; flush makes every deferred copy due now (--wait:
 * then shows what was sent until nothing is due). parleyd's workers pick
 * them up within a second. Never marks a copy sent.
 */
#include "autoconf.h"

#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "mono.h"
#include "store_stats.h"

#define FLUSH_POLL_MS  250	/* between looks at the queue (flush --wait) */
#define FLUSH_STALL_MS 120000	/* flush --wait gives up when nothing moved this long */

#define QUEUE_LS_SQL                                                                          \
	"SELECT d.id, COALESCE(l.name, '-'), COALESCE(a.list_msgid, '(' || n.kind || ' notice)'), d.address," \
	" d.status, d.attempts, d.next_at, d.last_error, d.created_at, d.relay FROM deliveries d" \
	" LEFT JOIN archive a ON a.id = d.archive_id LEFT JOIN notices n ON n.id = d.notice_id" \
	" LEFT JOIN lists l ON l.id = COALESCE(a.list_id, n.list_id)"                         \
	" WHERE ?1 OR (d.status <> 'sent' AND d.status <> 'cancelled') ORDER BY d.id"

static void queue_row_json(struct json *j, sqlite3_stmt *s)
{
	char t[32];

	json_object_open(j, NULL);
	json_int(j, "id", sqlite3_column_int64(s, 0));
	json_str(j, "list", (const char *)sqlite3_column_text(s, 1));
	json_str(j, "message_id", (const char *)sqlite3_column_text(s, 2));
	json_str(j, "to", (const char *)sqlite3_column_text(s, 3));
	json_str(j, "status", (const char *)sqlite3_column_text(s, 4));
	json_int(j, "attempts", sqlite3_column_int64(s, 5));
	json_str(j, "next", cli_time(sqlite3_column_int64(s, 6), t, sizeof(t)));
	json_str(j, "last_error", (const char *)sqlite3_column_text(s, 7));
	json_str(j, "queued", cli_time(sqlite3_column_int64(s, 8), t, sizeof(t)));
	json_str(j, "relay", (const char *)sqlite3_column_text(s, 9));
	json_object_close(j);
}

static int queue_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
	sqlite3_stmt *s;
	struct json j;
	char t[32];
	int ch, all = 0, rc;

	while ((ch = getopt_long(argc, argv, "a", opts, NULL)) != -1) {
		if (ch != 'a')
			return cli_usage("queue ls", "[--all]");
		all = 1;
	}
	if (optind != argc)
		return cli_usage("queue ls", "[--all]");
	if (cli_store(cli) == NULL || (s = store_prepare_once(cli->store, QUEUE_LS_SQL)) == NULL)
		return EXIT_FAIL;
	sqlite3_bind_int(s, 1, all);
	if (cli->json) {
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_array_open(&j, "copies");
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *err = (const char *)sqlite3_column_text(s, 7);
		const char *relay = (const char *)sqlite3_column_text(s, 9);
		if (cli->json) {
			queue_row_json(&j, s);
			continue;
		}
		cli_printf("%-7lld %-10s %-8s %2lld  next %s  %s  %s%s%s\n", sqlite3_column_int64(s, 0),
		       (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 4),
		       sqlite3_column_int64(s, 5), cli_time(sqlite3_column_int64(s, 6), t, sizeof(t)),
		       (const char *)sqlite3_column_text(s, 3), (const char *)sqlite3_column_text(s, 2),
		       relay ? "  via " : "", relay ? relay : "");
		if (err != NULL)
			cli_printf("        %s\n", err);
	}
	return cli_rows_end(cli, &j, s, rc, "queue ls");
}

/* queue_update: run SQL (binding ?1 = now, ?2 = id or 0 for all) in one
 * transaction for each id of ARGV, or once for all. */
static int queue_update(struct cli *cli, const char *what, const char *sql, int argc, char **argv)
{
	sqlite3_stmt *s;
	long long total = 0, id;
	int i, rc = EXIT_OK;
	char *end;

	if (cli_store(cli) == NULL || (s = store_prepare_once(cli->store, sql)) == NULL)
		return EXIT_FAIL;
	if (store_begin(cli->store) < 0) {
		sqlite3_finalize(s);
		return EXIT_FAIL;
	}
	for (i = 1; i <= (argc > 1 ? argc - 1 : 1) && rc == EXIT_OK; i++) {
		id = 0;
		if (argc > 1) {
			id = strtoll(argv[i], &end, 10);
			if (*end != '\0' || id <= 0) {
				log_error("'%s' is not a copy id (see parley queue ls)", argv[i]);
				rc = EXIT_USAGE;
				break;
			}
		}
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, store_now());
		sqlite3_bind_int64(s, 2, id);
		if (sqlite3_step(s) != SQLITE_DONE) {
			store_error(cli->store, what);
			rc = EXIT_FAIL;
		}
		total += sqlite3_changes(store_db(cli->store));
	}
	sqlite3_finalize(s);
	if (rc != EXIT_OK || store_commit(cli->store) < 0) {
		store_rollback(cli->store);
		return rc == EXIT_OK ? EXIT_FAIL : rc;
	}
	cli_printf("%s: %lld cop%s\n", what, total, total == 1 ? "y" : "ies");
	return EXIT_OK;
}

static int queue_retry(struct cli *cli, int argc, char **argv)
{
	return queue_update(cli, "queued again",
			    "UPDATE deliveries SET status = 'queued', next_at = ?1, updated_at = ?1"
			    " WHERE (status = 'failed' OR status = 'deferred') AND (?2 = 0 OR id = ?2)",
			    argc, argv);
}

/* to_go: the copies that are due (queued, being sent, or deferred until
 * no later than NOW) and those deferred until later. 0 or -1. */
static int to_go(struct cli *cli, long long now, long long *due, long long *later)
{
	sqlite3_stmt *s = store_prepare_once(
		cli->store, "SELECT total(status <> 'deferred' OR next_at <= ?1),"
			    " total(status = 'deferred' AND next_at > ?1) FROM deliveries"
			    " WHERE status IN ('queued', 'sending', 'deferred')");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*due = sqlite3_column_int64(s, 0);
		*later = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : store_error(cli->store, "counting the queue");
}

/* flush_wait: show, until no copy is due, how many were sent, failed and
 * cancelled since the start and how many are left (a line redrawn on a
 * terminal; the last line only otherwise). Gives up when nothing moved
 * for FLUSH_STALL_MS (parleyd not running?). */
static int flush_wait(struct cli *cli)
{
	struct stats base, x;
	long long due = 0, later = 0, start = mono_ms(), moved = start, last_done = -1, now;
	int tty = isatty(STDOUT_FILENO);

	if (store_stats_get(cli->store, 0, store_now(), &base) < 0)
		return EXIT_FAIL;
	for (;;) {
		long long sent, failed, cancelled, done;
		now = store_now();
		if (store_stats_get(cli->store, 0, now, &x) < 0 || to_go(cli, now, &due, &later) < 0)
			return EXIT_FAIL;
		sent = x.copies[STATS_SENT][STATS_ALL] - base.copies[STATS_SENT][STATS_ALL];
		failed = x.copies[STATS_FAILED][STATS_ALL] - base.copies[STATS_FAILED][STATS_ALL];
		cancelled = x.copies[STATS_CANCELLED][STATS_ALL] -
			    base.copies[STATS_CANCELLED][STATS_ALL];
		done = sent + failed + cancelled;
		if (done != last_done)
			moved = mono_ms();
		last_done = done;
		if (tty || due == 0)
			printf("%ssent %lld, failed %lld, cancelled %lld; %lld to go, %lld deferred"
			       " for later (%.0f/s)%s",
			       tty ? "\r\033[K" : "", sent, failed, cancelled, due, later,
			       (double)done * 1000.0 / (double)(mono_ms() - start + 1),
			       due == 0 || !tty ? "\n" : "");
		fflush(stdout);
		if (due == 0)
			return EXIT_OK;
		if (mono_ms() - moved > FLUSH_STALL_MS) {
			if (tty)
				printf("\n");
			log_error("queue flush --wait: no copy was sent for %d s (is parleyd "
				  "running?); %lld still due", FLUSH_STALL_MS / 1000, due);
			return EXIT_FAIL;
		}
		poll(NULL, 0, FLUSH_POLL_MS);
	}
}

static int queue_flush(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"wait", no_argument, NULL, 'w'},
					     {NULL, 0, NULL, 0}};
	char *one[] = {argv[0], NULL};
	int ch, wait = 0, rc;

	while ((ch = getopt_long(argc, argv, "w", opts, NULL)) != -1) {
		if (ch != 'w')
			return cli_usage("queue flush", "[--wait]");
		wait = 1;
	}
	if (optind != argc)
		return cli_usage("queue flush", "[--wait]");
	rc = queue_update(cli, "due now",
			  "UPDATE deliveries SET next_at = ?1, updated_at = ?1"
			  " WHERE status = 'deferred' AND ?2 = 0",
			  1, one);
	return rc == EXIT_OK && wait ? flush_wait(cli) : rc;
}

static const struct cli_cmd queue_cmds[] = {
	{"ls", queue_ls, "[--all]", "copies not yet sent (--all: every copy) with their state"},
	{"retry", queue_retry, "[ID...]", "put failed or deferred copies (all, or these) back in the queue now"},
	{"flush", queue_flush, "[--wait]",
	 "make every deferred copy due now (--wait: and show the progress until none is due)"},
	{NULL, NULL, NULL, NULL}};

int cmd_queue(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "queue", queue_cmds, argc, argv);
}
