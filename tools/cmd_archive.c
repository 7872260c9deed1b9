/*
 * cmd_archive.c - `parley archive ls|thread|search|show`: what the archive
 * holds, read-only. A message is named by the list's Message-ID of its
 * copies or by the author's original one; a thread by its id or by any of
 * its messages.
 *
 * Never changes the store, and never recurses over a thread: a thread can be
 * thousands of replies deep, so its tree is built in memory from one query
 * and walked with parent links. Text from the archive is untrusted: it is
 * written through termsafe.h (cli_printf) in every view but --raw.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "redact.h"
#include "termsafe.h"
#include "xalloc.h"

#define ELLIPSIS "\xe2\x80\xa6"	/* U+2026 */
#define SUMMARY_COLS 72		/* a message's first line in the thread tree */
#define THREAD_JSON_LEVELS 24	/* nested "replies" below this are listed flat */
#define SEARCH_LIMIT 20

/* archive_msgid: ARG as "<...>" (the brackets may be left out) in BUF. */
static const char *archive_msgid(const char *arg, char *buf, size_t len)
{
	int b = arg[0] == '<';

	snprintf(buf, len, "%s%s%s", b ? "" : "<", arg, b ? "" : ">");
	return buf;
}

/* put_text: N bytes of S for a terminal (termsafe.h); with ONE_LINE, TAB,
 * CR and LF become spaces. */
static void put_text(const char *s, size_t n, int one_line)
{
	termsafe_write(stdout, s, n, one_line ? TERMSAFE_ONE_LINE : 0);
}

static void put_str(const char *s)
{
	if (s != NULL)
		put_text(s, strlen(s), 1);
}

/* put_author: "Name <addr>", or "addr" without a name. */
static void put_author(const char *name, const char *addr)
{
	if (name != NULL && name[0] != '\0') {
		put_str(name);
		fputs(" <", stdout);
		put_str(addr);
		putchar('>');
	} else
		put_str(addr);
}

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
			cli_printf("%-6lld %s %-5s %-28s %lld/%lld sent  %s\n      %s\n",
			       sqlite3_column_int64(s, 0), cli_time(sqlite3_column_int64(s, 1), t, sizeof(t)),
			       (const char *)sqlite3_column_text(s, 2),
			       (const char *)sqlite3_column_text(s, 3), sqlite3_column_int64(s, 8),
			       sqlite3_column_int64(s, 7), subject ? subject : "(no subject)",
			       (const char *)sqlite3_column_text(s, 5));
		}
	}
	return cli_rows_end(cli, &j, s, rc, "archive ls");
}

/*
 * The thread tree. Nodes are the thread's messages in id order; a node's
 * parent is its parent_id if that is an earlier message of the thread
 * (a reply is archived after what it answers), otherwise it is a root: so
 * the links never form a cycle, whatever the rows say. Siblings are linked
 * in created_at order.
 */
#define TREE_NONE ((size_t)-1)

struct tree_node {
	long long id, parent_id, created;
	char *msgid, *addr, *name, *kind, *trimmed, *body;	/* body: trimmed, or text */
	size_t parent, first, last, next;
	int depth;
};

struct tree {
	struct tree_node *v;
	size_t n, first, last;	/* first, last: the roots */
};

static void tree_free(struct tree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].msgid);
		free(t->v[i].addr);
		free(t->v[i].name);
		free(t->v[i].kind);
		free(t->v[i].trimmed);
		free(t->v[i].body);
	}
	free(t->v);
}

/* tree_find: the node with id ID among the first N (sorted by id). */
static size_t tree_find(const struct tree *t, size_t n, long long id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && t->v[lo].id == id ? lo : TREE_NONE;
}

static int tree_cmp_time(const void *a, const void *b)
{
	const struct tree_node *x = *(const struct tree_node *const *)a;
	const struct tree_node *y = *(const struct tree_node *const *)b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* tree_link: parents, children in created_at order, and depths. */
static void tree_link(struct tree *t)
{
	/* An array of pointers. NOLINTNEXTLINE(bugprone-sizeof-expression) */
	struct tree_node **ord = xreallocarray(NULL, t->n ? t->n : 1, sizeof(*ord));
	size_t i, k;

	t->first = t->last = TREE_NONE;
	for (i = 0; i < t->n; i++) {
		struct tree_node *n = &t->v[i];
		n->first = n->last = n->next = TREE_NONE;
		n->parent = n->parent_id > 0 ? tree_find(t, i, n->parent_id) : TREE_NONE;
		ord[i] = n;
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): as above */
	qsort(ord, t->n, sizeof(*ord), tree_cmp_time);
	for (k = 0; k < t->n; k++) {
		size_t p = ord[k]->parent;
		size_t *first = p == TREE_NONE ? &t->first : &t->v[p].first;
		size_t *last = p == TREE_NONE ? &t->last : &t->v[p].last;

		i = (size_t)(ord[k] - t->v);
		if (*last == TREE_NONE)
			*first = i;
		else
			t->v[*last].next = i;
		*last = i;
	}
	free(ord);
	/* parents come before their replies in id order */
	for (i = 0; i < t->n; i++)
		t->v[i].depth = t->v[i].parent == TREE_NONE ? 0 : t->v[t->v[i].parent].depth + 1;
}

/* tree_next: the node after I in depth-first order, or TREE_NONE. */
static size_t tree_next(const struct tree *t, size_t i)
{
	if (t->v[i].first != TREE_NONE)
		return t->v[i].first;
	while (i != TREE_NONE && t->v[i].next == TREE_NONE)
		i = t->v[i].parent;
	return i == TREE_NONE ? TREE_NONE : t->v[i].next;
}

/* tree_load: the messages of thread TID; 0 or -1 (logged). */
static int tree_load(struct cli *cli, long long tid, struct tree *t)
{
	sqlite3_stmt *s;
	size_t cap = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	s = store_prepare_once(cli->store,
			       "SELECT id, parent_id, created_at, list_msgid, author_addr, author_name,"
			       " kind, trimmed, CASE WHEN trim(coalesce(trimmed, ''),"
			       " char(9, 10, 13, 32)) = '' THEN text ELSE trimmed END"
			       " FROM archive WHERE thread_id = ?1 ORDER BY id");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, tid);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct tree_node *n;
		if (t->n == cap) {
			cap = cap ? 2 * cap : 64;
			t->v = xreallocarray(t->v, cap, sizeof(*t->v));
		}
		n = &t->v[t->n++];
		memset(n, 0, sizeof(*n));
		n->id = sqlite3_column_int64(s, 0);
		n->parent_id = sqlite3_column_int64(s, 1);
		n->created = sqlite3_column_int64(s, 2);
		n->msgid = store_col_text(s, 3);
		n->addr = store_col_text(s, 4);
		n->name = store_col_text(s, 5);
		n->kind = store_col_text(s, 6);
		n->trimmed = store_col_text(s, 7);
		n->body = store_col_text(s, 8);
	}
	if (rc != SQLITE_DONE) {
		log_error("archive thread: %s", sqlite3_errmsg(store_db(cli->store)));
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	tree_link(t);
	return 0;
}

/* thread_find: the thread named by ARG (an id, or a Message-ID of one of
 * its messages) in *TID, its subject (malloc'd, or NULL) and list name
 * (malloc'd); 1 found, 0 not (logged), -1 on error (logged). */
static int thread_find(struct cli *cli, const char *arg, long long *tid, char **subject,
		       char **list)
{
	sqlite3_stmt *s;
	int rc;

	if (arg[0] != '\0' && strspn(arg, "0123456789") == strlen(arg) && strlen(arg) < 19) {
		*tid = strtoll(arg, NULL, 10);
	} else {
		char id[1024];
		s = store_prepare_once(cli->store, "SELECT thread_id FROM archive WHERE"
						   " list_msgid = ?1 OR orig_msgid = ?1 ORDER BY id LIMIT 1");
		if (s == NULL)
			return -1;
		sqlite3_bind_text(s, 1, archive_msgid(arg, id, sizeof(id)), -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		*tid = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
		sqlite3_finalize(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return store_error(cli->store, "archive thread");
	}
	s = store_prepare_once(cli->store,
			       "SELECT coalesce(t.subject, (SELECT subject FROM archive WHERE id = t.root_id)),"
			       " l.name FROM threads t JOIN lists l ON l.id = t.list_id WHERE t.id = ?1");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, *tid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*subject = store_col_text(s, 0);
		*list = store_col_text(s, 1);
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return store_error(cli->store, "archive thread");
	log_error("%s: no such thread in the archive", arg);
	return 0;
}

/* put_summary: the first non-blank line of BODY, cut to SUMMARY_COLS
 * characters with an ellipsis. */
static void put_summary(const char *body)
{
	const char *p = body ? body : "", *e, *q;
	size_t cols = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p != '\n')
			break;
		p++;
	}
	e = p + strcspn(p, "\n");
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	for (q = p; q < e; q++)
		cols += ((unsigned char)*q & 0xc0) != 0x80;
	if (cols <= SUMMARY_COLS) {
		put_text(p, (size_t)(e - p), 1);
		return;
	}
	for (q = p, cols = 0; q < e; q++)
		if (((unsigned char)*q & 0xc0) != 0x80 && ++cols == SUMMARY_COLS)
			break;
	while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	put_text(p, (size_t)(q - p), 1);
	fputs(ELLIPSIS, stdout);
}

/* put_body: TEXT line by line, each indented by INDENT spaces, without the
 * trailing blank lines. */
static void put_body(const char *text, int indent)
{
	const char *p = text ? text : "", *end = p + strlen(p);

	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *e;

		e = nl != NULL ? nl : end;
		if (e > p && e[-1] == '\r')
			e--;
		if (e > p)
			cli_printf("%*s", indent, "");
		put_text(p, (size_t)(e - p), 0);
		putchar('\n');
		p = nl != NULL ? nl + 1 : end;
	}
}

static void thread_print(const struct tree *t, long long tid, const char *subject, int full)
{
	char date[32];
	size_t i;

	cli_printf("thread %lld: ", tid);
	put_str(subject ? subject : "(no subject)");
	cli_printf(" (%zu message%s)\n", t->n, t->n == 1 ? "" : "s");
	for (i = t->first; i != TREE_NONE; i = tree_next(t, i)) {
		const struct tree_node *n = &t->v[i];
		cli_printf("%*s- ", 2 * n->depth, "");
		put_author(n->name, n->addr);
		cli_printf("  %s", cli_time(n->created, date, sizeof(date)));
		if (!full) {
			fputs("  ", stdout);
			put_summary(n->body);
			putchar('\n');
		} else {
			putchar('\n');
			put_body(n->body, 2 * n->depth + 4);
			putchar('\n');
		}
	}
}

/* thread_json: the tree as nested "replies"; below THREAD_JSON_LEVELS
 * levels the deeper replies are listed flat, in order, in the replies of
 * the last nested level ("parent" and "depth" say where they belong). */
static void thread_json(const struct tree *t, long long tid, const char *subject,
			const char *list)
{
	struct json j;
	char date[32];
	size_t i;
	int open = 0;

	json_init(&j, stdout);
	json_object_open(&j, NULL);
	json_int(&j, "thread", tid);
	json_str(&j, "list", list);
	json_str(&j, "subject", subject);
	json_array_open(&j, "messages");
	for (i = t->first; i != TREE_NONE; i = tree_next(t, i)) {
		const struct tree_node *n = &t->v[i];
		int level = n->depth < THREAD_JSON_LEVELS ? n->depth : THREAD_JSON_LEVELS - 1;
		for (; open > level; open--) {
			json_array_close(&j);
			json_object_close(&j);
		}
		json_object_open(&j, NULL);
		json_int(&j, "id", n->id);
		json_str(&j, "message_id", n->msgid);
		json_str(&j, "parent", n->parent == TREE_NONE ? NULL : t->v[n->parent].msgid);
		json_int(&j, "depth", n->depth);
		json_str(&j, "author", n->addr);
		json_str(&j, "name", n->name);
		json_str(&j, "date", cli_time(n->created, date, sizeof(date)));
		json_str(&j, "kind", n->kind);
		json_str(&j, "trimmed", n->trimmed);
		json_array_open(&j, "replies");
		open++;
	}
	for (; open > 0; open--) {
		json_array_close(&j);
		json_object_close(&j);
	}
	json_array_close(&j);
	json_object_close(&j);
	json_end(&j);
}

static int archive_thread(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"full", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	static const char usage[] = "ID|MSGID [--full]";
	char *subject = NULL, *list = NULL;
	struct tree t;
	long long tid;
	int ch, full = 0, rc;

	while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (ch != 'f')
			return cli_usage("archive thread", usage);
		full = 1;
	}
	if (argc - optind != 1)
		return cli_usage("archive thread", usage);
	if (cli_store(cli) == NULL)
		return EXIT_FAIL;
	rc = thread_find(cli, argv[optind], &tid, &subject, &list);
	if (rc == 1 && tree_load(cli, tid, &t) == 0) {
		if (cli->json)
			thread_json(&t, tid, subject, list);
		else
			thread_print(&t, tid, subject, full);
		tree_free(&t);
	} else
		rc = 0;
	free(subject);
	free(list);
	return rc == 1 ? EXIT_OK : EXIT_FAIL;
}

#define ARCHIVE_SEARCH_SQL                                                                 \
	"SELECT a.id, a.list_msgid, a.thread_id, a.author_addr, a.author_name, a.subject,"  \
	" a.created_at, snippet(archive_fts, -1, '[', ']', '" ELLIPSIS "', 12),"            \
	" bm25(archive_fts) FROM archive_fts JOIN archive a ON a.id = archive_fts.rowid"   \
	" WHERE archive_fts MATCH ?1 AND a.list_id = ?2"                                    \
	" ORDER BY bm25(archive_fts), a.id LIMIT ?3"

static int archive_search(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"limit", required_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	static const char usage[] = "LIST QUERY [--limit N]";
	sqlite3_stmt *s;
	struct json j;
	long long list_id, limit = SEARCH_LIMIT;
	char t[32], *end;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		if (ch != 'n')
			return cli_usage("archive search", usage);
		errno = 0;
		limit = strtoll(optarg, &end, 10);
		if (optarg[0] == '\0' || *end != '\0' || limit < 1 || errno == ERANGE) {
			log_error("--limit %s: not a positive number", optarg);
			return cli_usage("archive search", usage);
		}
	}
	if (argc - optind != 2)
		return cli_usage("archive search", usage);
	if (cli_list(cli, argv[optind], &list_id) == NULL ||
	    (s = store_prepare_once(cli->store, ARCHIVE_SEARCH_SQL)) == NULL)
		return EXIT_FAIL;
	sqlite3_bind_text(s, 1, argv[optind + 1], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, list_id);
	sqlite3_bind_int64(s, 3, limit);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		/* a malformed query: say what FTS5 said, print nothing */
		log_error("archive search: %s: %s", argv[optind + 1],
			  sqlite3_errmsg(store_db(cli->store)));
		sqlite3_finalize(s);
		return EXIT_FAIL;
	}
	if (cli->json) {
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_str(&j, "list", argv[optind]);
		json_str(&j, "query", argv[optind + 1]);
		json_array_open(&j, "results");
	}
	for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
		const char *subject = (const char *)sqlite3_column_text(s, 5);
		const char *snippet = (const char *)sqlite3_column_text(s, 7);
		cli_time(sqlite3_column_int64(s, 6), t, sizeof(t));
		if (cli->json) {
			json_object_open(&j, NULL);
			json_int(&j, "id", sqlite3_column_int64(s, 0));
			json_str(&j, "message_id", (const char *)sqlite3_column_text(s, 1));
			json_int(&j, "thread", sqlite3_column_int64(s, 2));
			json_str(&j, "author", (const char *)sqlite3_column_text(s, 3));
			json_str(&j, "name", (const char *)sqlite3_column_text(s, 4));
			json_str(&j, "subject", subject);
			json_str(&j, "date", t);
			json_str(&j, "snippet", snippet);
			json_double(&j, "rank", sqlite3_column_double(s, 8));
			json_object_close(&j);
		} else {
			put_str((const char *)sqlite3_column_text(s, 1));
			cli_printf("  %s  ", t);
			put_author((const char *)sqlite3_column_text(s, 4),
				   (const char *)sqlite3_column_text(s, 3));
			fputs("\n    ", stdout);
			put_str(subject ? subject : "(no subject)");
			fputs("\n    ", stdout);
			put_str(snippet);
			fputs("\n\n", stdout);
		}
	}
	return cli_rows_end(cli, &j, s, rc, "archive search");
}

/* put_column: the text of column I as stored, ended by a newline. */
static void put_column(sqlite3_stmt *s, int i)
{
	const char *v = (const char *)sqlite3_column_text(s, i);
	size_t n = v ? strlen(v) : 0;

	if (n == 0)
		return;
	put_text(v, n, 0);
	if (v[n - 1] != '\n')
		putchar('\n');
}

static int archive_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"raw", no_argument, NULL, 'r'},
					     {"trimmed", no_argument, NULL, 't'},
					     {"elided", no_argument, NULL, 'e'},
					     {"unredacted", no_argument, NULL, 'u'},
					     {NULL, 0, NULL, 0}};
	static const char usage[] = "MSGID [--raw [--unredacted]|--trimmed|--elided]";
	sqlite3_stmt *s;
	struct json j;
	char t[32], id[1024];
	int ch, only = 0, rc, unredacted = 0;

	while ((ch = getopt_long(argc, argv, "rteu", opts, NULL)) != -1) {
		if (ch == 'u') {
			unredacted = 1;
			continue;
		}
		if ((ch != 'r' && ch != 't' && ch != 'e') || (only != 0 && only != ch))
			return cli_usage("archive show", usage);
		only = ch;
	}
	if (argc - optind != 1 || (unredacted && only != 'r'))
		return cli_usage("archive show", usage);
	archive_msgid(argv[optind], id, sizeof(id));
	if (cli_store(cli) == NULL ||
	    (s = store_prepare_once(cli->store,
				    "SELECT a.id, l.name, a.kind, a.author_addr, a.author_name,"
				    " a.subject, a.list_msgid, a.orig_msgid, a.created_at, a.text,"
				    " a.raw, a.thread_id, a.trimmed, a.elided"
				    " FROM archive a JOIN lists l ON l.id = a.list_id"
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
	if (only == 'r' && unredacted) {
		fwrite(sqlite3_column_blob(s, 10), 1, (size_t)sqlite3_column_bytes(s, 10), stdout);
	} else if (only == 'r') {
		struct mbuf b = {0};

		redact_text(&b, sqlite3_column_blob(s, 10), (size_t)sqlite3_column_bytes(s, 10),
			    cli->cfg);
		fwrite(b.p ? b.p : "", 1, b.n, stdout);
		mbuf_free(&b);
	} else if (only == 't') {
		put_column(s, 12);
	} else if (only == 'e') {
		put_column(s, 13);
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
		json_str(&j, "trimmed", (const char *)sqlite3_column_text(s, 12));
		json_str(&j, "elided", (const char *)sqlite3_column_text(s, 13));
		json_object_close(&j);
		json_end(&j);
	} else {
		const char *name = (const char *)sqlite3_column_text(s, 4);
		cli_printf("list:        %s\n", (const char *)sqlite3_column_text(s, 1));
		cli_printf("kind:        %s (thread %lld)\n", (const char *)sqlite3_column_text(s, 2),
		       sqlite3_column_int64(s, 11));
		cli_printf("author:      %s%s%s%s\n", name ? name : "", name ? " <" : "",
		       (const char *)sqlite3_column_text(s, 3), name ? ">" : "");
		cli_printf("date:        %s\n", cli_time(sqlite3_column_int64(s, 8), t, sizeof(t)));
		cli_printf("subject:     %s\n", sqlite3_column_text(s, 5) ? (const char *)sqlite3_column_text(s, 5) : "");
		cli_printf("message-id:  %s\n", (const char *)sqlite3_column_text(s, 6));
		cli_printf("original-id: %s\n\n", sqlite3_column_text(s, 7) ? (const char *)sqlite3_column_text(s, 7) : "-");
		cli_printf("%s", sqlite3_column_text(s, 9) ? (const char *)sqlite3_column_text(s, 9) : "");
	}
	sqlite3_finalize(s);
	return EXIT_OK;
}

static const struct cli_cmd archive_cmds[] = {
	{"ls", archive_ls, "LIST", "the archived messages of a list, with their copies sent"},
	{"thread", archive_thread, "ID|MSGID [--full]",
	 "a thread, by its id or any of its Message-IDs, as a tree; --full: the trimmed texts"},
	{"search", archive_search, "LIST QUERY [--limit N]",
	 "full-text search (FTS5 query) of subjects, authors, trimmed texts; best first"},
	{"show", archive_show, "MSGID [--raw [--unredacted]|--trimmed|--elided]",
	 "one archived message (by the list's or the author's Message-ID); --raw: as received,\n"
	 "      its secret addresses redacted (--unredacted: byte for byte),\n"
	 "      --trimmed: its text without quotes, --elided: what trimming cut"},
	{NULL, NULL, NULL, NULL}};

int cmd_archive(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "archive", archive_cmds, argc, argv);
}
