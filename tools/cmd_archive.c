/*
 * cmd_archive.c - `parley archive ls LIST` and `parley archive show MSGID`:
 * what the archive holds, read-only. MSGID may be the list's Message-ID of a
 * message or the author's original one. Never changes the store.
 */
#include "autoconf.h"

#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#define ARCHIVE_LS_SQL                                                                     \
	"SELECT a.id, a.created_at, a.kind, a.author_addr, a.subject, a.list_msgid,"       \
	" a.thread_id, (SELECT count(*) FROM deliveries d WHERE d.archive_id = a.id),"    \
	" (SELECT count(*) FROM deliveries d WHERE d.archive_id = a.id"                    \
	"  AND d.status = 'sent') FROM archive a WHERE a.list_id = ?1 ORDER BY a.id"

static int archive_ls(struct cli *cli, int argc, char **argv)
{
	sqlite3_stmt *s;
	struct json j;
	long long list_id;
	char t[32];
	int rc;

	if (argc != 2)
		return cli_usage("archive ls", "LIST");
	if (cli_list(cli, argv[1], &list_id) == NULL ||
	    (s = store_prepare_once(cli->store, ARCHIVE_LS_SQL)) == NULL)
		return EXIT_FAIL;
	sqlite3_bind_int64(s, 1, list_id);
	if (cli->json) {
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_str(&j, "list", argv[1]);
		json_array_open(&j, "messages");
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *subject = (const char *)sqlite3_column_text(s, 4);
		if (cli->json) {
			json_object_open(&j, NULL);
			json_int(&j, "id", sqlite3_column_int64(s, 0));
			json_str(&j, "date", cli_time(sqlite3_column_int64(s, 1), t, sizeof(t)));
			json_str(&j, "kind", (const char *)sqlite3_column_text(s, 2));
			json_str(&j, "author", (const char *)sqlite3_column_text(s, 3));
			json_str(&j, "subject", subject);
			json_str(&j, "message_id", (const char *)sqlite3_column_text(s, 5));
			json_int(&j, "thread", sqlite3_column_int64(s, 6));
			json_int(&j, "copies", sqlite3_column_int64(s, 7));
			json_int(&j, "sent", sqlite3_column_int64(s, 8));
			json_object_close(&j);
		} else {
			printf("%-6lld %s %-5s %-28s %lld/%lld sent  %s\n      %s\n",
			       sqlite3_column_int64(s, 0), cli_time(sqlite3_column_int64(s, 1), t, sizeof(t)),
			       (const char *)sqlite3_column_text(s, 2),
			       (const char *)sqlite3_column_text(s, 3), sqlite3_column_int64(s, 8),
			       sqlite3_column_int64(s, 7), subject ? subject : "(no subject)",
			       (const char *)sqlite3_column_text(s, 5));
		}
	}
	return cli_rows_end(cli, &j, s, rc, "archive ls");
}

static int archive_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"raw", no_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
	sqlite3_stmt *s;
	struct json j;
	char t[32], id[1024];
	int ch, raw = 0, rc;

	while ((ch = getopt_long(argc, argv, "r", opts, NULL)) != -1) {
		if (ch != 'r')
			return cli_usage("archive show", "MSGID [--raw]");
		raw = 1;
	}
	if (argc - optind != 1)
		return cli_usage("archive show", "MSGID [--raw]");
	snprintf(id, sizeof(id), "%s%s%s", argv[optind][0] == '<' ? "" : "<", argv[optind],
		 argv[optind][0] == '<' ? "" : ">");
	if (cli_store(cli) == NULL ||
	    (s = store_prepare_once(cli->store,
				    "SELECT a.id, l.name, a.kind, a.author_addr, a.author_name,"
				    " a.subject, a.list_msgid, a.orig_msgid, a.created_at, a.text,"
				    " a.raw, a.thread_id FROM archive a JOIN lists l ON l.id = a.list_id"
				    " WHERE a.list_msgid = ?1 OR a.orig_msgid = ?1 ORDER BY a.id LIMIT 1")) ==
		    NULL)
		return EXIT_FAIL;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(s);
		log_error("%s: not in the archive", id);
		return EXIT_FAIL;
	}
	if (raw) {
		fwrite(sqlite3_column_blob(s, 10), 1, (size_t)sqlite3_column_bytes(s, 10), stdout);
	} else if (cli->json) {
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_int(&j, "id", sqlite3_column_int64(s, 0));
		json_str(&j, "list", (const char *)sqlite3_column_text(s, 1));
		json_str(&j, "kind", (const char *)sqlite3_column_text(s, 2));
		json_str(&j, "author", (const char *)sqlite3_column_text(s, 3));
		json_str(&j, "author_name", (const char *)sqlite3_column_text(s, 4));
		json_str(&j, "subject", (const char *)sqlite3_column_text(s, 5));
		json_str(&j, "message_id", (const char *)sqlite3_column_text(s, 6));
		json_str(&j, "original_message_id", (const char *)sqlite3_column_text(s, 7));
		json_str(&j, "date", cli_time(sqlite3_column_int64(s, 8), t, sizeof(t)));
		json_int(&j, "thread", sqlite3_column_int64(s, 11));
		json_str(&j, "text", (const char *)sqlite3_column_text(s, 9));
		json_object_close(&j);
		json_end(&j);
	} else {
		const char *name = (const char *)sqlite3_column_text(s, 4);
		printf("list:        %s\n", (const char *)sqlite3_column_text(s, 1));
		printf("kind:        %s (thread %lld)\n", (const char *)sqlite3_column_text(s, 2),
		       sqlite3_column_int64(s, 11));
		printf("author:      %s%s%s%s\n", name ? name : "", name ? " <" : "",
		       (const char *)sqlite3_column_text(s, 3), name ? ">" : "");
		printf("date:        %s\n", cli_time(sqlite3_column_int64(s, 8), t, sizeof(t)));
		printf("subject:     %s\n", sqlite3_column_text(s, 5) ? (const char *)sqlite3_column_text(s, 5) : "");
		printf("message-id:  %s\n", (const char *)sqlite3_column_text(s, 6));
		printf("original-id: %s\n\n", sqlite3_column_text(s, 7) ? (const char *)sqlite3_column_text(s, 7) : "-");
		printf("%s", sqlite3_column_text(s, 9) ? (const char *)sqlite3_column_text(s, 9) : "");
	}
	sqlite3_finalize(s);
	return EXIT_OK;
}

static const struct cli_cmd archive_cmds[] = {
	{"ls", archive_ls, "LIST", "the archived messages of a list, with their copies sent"},
	{"show", archive_show, "MSGID [--raw]",
	 "one archived message (by the list's or the author's Message-ID); --raw: as received"},
	{NULL, NULL, NULL, NULL}};

int cmd_archive(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "archive", archive_cmds, argc, argv);
}
