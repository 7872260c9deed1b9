/*
 * cmd_mod.c - `parley mod ls|show|approve|reject`: the messages held back
 * from the lists (unproven posts, posts waiting for their author's
 * confirmation, loops, replies from outsiders or in moderated threads, new
 * threads from subscribers).
 *
 * approve publishes a held message in one transaction with its decision: a
 * post exactly as parleyd does for a proven author, a reply threaded as
 * parleyd would thread it now; parleyd's workers send the copies within a
 * second. reject only records the decision. Neither
 * ever writes to the sender (no backscatter), and a message is decided once.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "log.h"
#include "thread.h"
#include "message.h"
#include "publish.h"
#include "store_held.h"

#define MOD_LS_SQL                                                                            \
	"SELECT h.id, COALESCE(l.name, '-'), h.state, h.created_at, COALESCE(i.from_addr, ''),"  \
	" COALESCE(i.subject, ''), h.reason, COALESCE(h.expires_at, 0), i.sender, h.kind,"      \
	" h.decided_by FROM held h"                                                               \
	" JOIN inbound i ON i.id = h.inbound_id LEFT JOIN lists l ON l.id = h.list_id"          \
	" WHERE (?1 = 0 OR h.list_id = ?1) AND (?2 OR h.state = 'held' OR h.state = 'confirm')" \
	" ORDER BY h.id"

static void mod_row_json(struct json *j, sqlite3_stmt *s)
{
	char t[32];

	json_object_open(j, NULL);
	json_int(j, "id", sqlite3_column_int64(s, 0));
	json_str(j, "list", (const char *)sqlite3_column_text(s, 1));
	json_str(j, "state", (const char *)sqlite3_column_text(s, 2));
	json_str(j, "held_at", cli_time(sqlite3_column_int64(s, 3), t, sizeof(t)));
	json_str(j, "from", (const char *)sqlite3_column_text(s, 4));
	json_str(j, "subject", (const char *)sqlite3_column_text(s, 5));
	json_str(j, "reason", (const char *)sqlite3_column_text(s, 6));
	json_str(j, "expires", cli_time(sqlite3_column_int64(s, 7), t, sizeof(t)));
	json_str(j, "sender", (const char *)sqlite3_column_text(s, 8));
	json_str(j, "kind", (const char *)sqlite3_column_text(s, 9));
	json_str(j, "decided_by", (const char *)sqlite3_column_text(s, 10));
	json_object_close(j);
}

static int mod_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
	long long list_id = 0;
	sqlite3_stmt *s;
	struct json j;
	char t[32];
	int ch, all = 0, rc;

	while ((ch = getopt_long(argc, argv, "a", opts, NULL)) != -1) {
		if (ch != 'a')
			return cli_usage("mod ls", "[LIST] [--all]");
		all = 1;
	}
	if (argc - optind > 1)
		return cli_usage("mod ls", "[LIST] [--all]");
	if (optind < argc && cli_list(cli, argv[optind], &list_id) == NULL)
		return EXIT_FAIL;
	if (cli_store(cli) == NULL || (s = store_prepare_once(cli->store, MOD_LS_SQL)) == NULL)
		return EXIT_FAIL;
	sqlite3_bind_int64(s, 1, list_id);
	sqlite3_bind_int(s, 2, all);
	if (cli->json) {
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_array_open(&j, "held");
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cli->json) {
			mod_row_json(&j, s);
			continue;
		}
		const unsigned char *by = sqlite3_column_text(s, 10);
		cli_printf("%-6lld %-10s %-9s %-6s %s  <%s>  %s\n       %s%s%s\n",
		       sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
		       (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 9),
		       cli_time(sqlite3_column_int64(s, 3), t, sizeof(t)),
		       (const char *)sqlite3_column_text(s, 4), (const char *)sqlite3_column_text(s, 5),
		       (const char *)sqlite3_column_text(s, 6), by ? "; decided by " : "",
		       by ? (const char *)by : "");
	}
	return cli_rows_end(cli, &j, s, rc, "mod ls");
}

/* held_id: ARG as a held message id, or 0 after saying why. */
static long long held_id(const char *arg)
{
	char *end;
	long long id = strtoll(arg, &end, 10);

	if (*end != '\0' || id <= 0) {
		log_error("'%s' is not a held message id (see parley mod ls)", arg);
		return 0;
	}
	return id;
}

/* held_load: held message ARG into H; EXIT_OK or an exit code (said). */
static int held_load(struct cli *cli, const char *arg, struct held *h)
{
	long long id = held_id(arg);
	int rc;

	if (id == 0)
		return EXIT_USAGE;
	if (cli_store(cli) == NULL || (rc = store_held_get(cli->store, id, h)) < 0)
		return EXIT_FAIL;
	if (rc == 0) {
		log_error("no held message %lld", id);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int mod_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"raw", no_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
	const struct config *cfg = cli_config(cli);
	struct message m;
	struct held h;
	char err[256], t[32];
	int ch, raw = 0, rc;

	while ((ch = getopt_long(argc, argv, "r", opts, NULL)) != -1) {
		if (ch != 'r')
			return cli_usage("mod show", "ID [--raw]");
		raw = 1;
	}
	if (argc - optind != 1)
		return cli_usage("mod show", "ID [--raw]");
	if (cfg == NULL)
		return EXIT_FAIL;
	if ((rc = held_load(cli, argv[optind], &h)) != EXIT_OK)
		return rc;
	if (raw) {
		rc = fwrite(h.raw, 1, h.len, stdout) == h.len ? EXIT_OK : EXIT_FAIL;
		held_free(&h);
		return rc;
	}
	if (message_parse(h.raw, h.len, cfg->daemon.limits.header_count + 1, &m, err,
			  sizeof(err)) < 0) {
		log_error("held message %lld cannot be parsed: %s (see --raw)", h.id, err);
		held_free(&h);
		return EXIT_FAIL;
	}
	if (cli->json) {
		struct json j;
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_int(&j, "id", h.id);
		json_str(&j, "list", h.list_name);
		json_str(&j, "state", h.state);
		json_str(&j, "kind", h.kind);
		json_str(&j, "decided_by", h.decided_by);
		json_str(&j, "reason", h.reason);
		json_str(&j, "held_at", cli_time(h.created_at, t, sizeof(t)));
		json_str(&j, "sender", h.sender);
		json_str(&j, "from", m.from_addr);
		json_str(&j, "subject", m.subject);
		json_str(&j, "message_id", m.message_id);
		json_str(&j, "text", m.text);
		json_object_close(&j);
		json_end(&j);
	} else {
		cli_printf("Held:       %lld (%s, a %s) %s\nList:       %s\nWhy:        %s\n", h.id,
		       h.state, h.kind, cli_time(h.created_at, t, sizeof(t)),
		       h.list_name ? h.list_name : "-", h.reason);
		if (h.decided_by)
			cli_printf("Decided by: %s\n", h.decided_by);
		cli_printf("Sender:     <%s>\nFrom:       %s <%s>\nSubject:    %s\nMessage-ID: %s\n\n%s\n",
		       h.sender ? h.sender : "", m.from_name ? m.from_name : "",
		       m.from_addr ? m.from_addr : "", m.subject ? m.subject : "(no subject)",
		       m.message_id ? m.message_id : "(none)", m.text ? m.text : "");
	}
	message_free(&m);
	held_free(&h);
	return EXIT_OK;
}

static int undecided(const struct held *h)
{
	return strcmp(h->state, "held") == 0 || strcmp(h->state, "confirm") == 0 ||
	       strcmp(h->state, "expired") == 0;
}

/* approve_reply: a held reply, threaded now as ingest would (its parent
 * may have arrived since), published under its parent or as a post. */
static long long approve_reply(struct cli *cli, const struct cfg_list *l, const struct publish_in *p)
{
	struct thread_in ti;
	const char *how;
	long long list_id = store_list_id(cli->store, l->name), parent;

	if (list_id < 0)
		return -1;
	thread_in_set(&ti, l, list_id, p->msg, p->now);
	if ((parent = thread_find(cli->store, &ti, &how)) < 0)
		return -1;
	return parent > 0 ? publish_reply(cli->store, p, parent) : publish_post(cli->store, p);
}

/* approve_one: publish held message H as a post of its list; 0 or -1. */
static int approve_one(struct cli *cli, const struct held *h, long long now)
{
	const struct config *cfg = cli->cfg;
	const struct cfg_list *l = h->list_name ? config_list_find(cfg, h->list_name) : NULL;
	const char *author = h->author_addr;
	struct publish_in p;
	struct message m;
	char err[256], tag[64];
	long long aid;
	size_t i;

	if (l == NULL) {
		log_error("held message %lld: its list is not in %s", h->id, cfg->file);
		return -1;
	}
	if (message_parse(h->raw, h->len, cfg->daemon.limits.header_count + 1, &m, err,
			  sizeof(err)) < 0) {
		log_error("held message %lld cannot be parsed: %s", h->id, err);
		return -1;
	}
	if (author == NULL)
		author = m.from_addr;
	if (author == NULL) {
		log_error("held message %lld has no From address to publish it under", h->id);
		message_free(&m);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.author_name = m.from_name;
	for (i = 0; i < l->nauthors; i++)
		if (strcasecmp(l->authors[i].address, author) == 0 && l->authors[i].name)
			p.author_name = l->authors[i].name;
	snprintf(tag, sizeof(tag), "mod approve %lld", h->id);
	p.cfg = cfg;
	p.list = l;
	p.msg = &m;
	p.raw = h->raw;
	p.len = h->len;
	p.inbound_id = h->inbound_id;
	p.author_addr = author;
	p.now = now;
	p.tag = tag;
	aid = strcmp(h->kind, "reply") == 0 ? approve_reply(cli, l, &p) : publish_post(cli->store, &p);
	message_free(&m);
	if (aid < 0 || store_held_decide(cli->store, h->id, h->state, "published", aid, now) != 1 ||
	    store_held_decided_by(cli->store, h->id, "parley mod approve") < 0)
		return -1;
	return 0;
}

/* decide: approve (APPROVE) or reject each held message of ARGV, one
 * transaction each. */
static int decide(struct cli *cli, int argc, char **argv, int approve)
{
	const char *what = approve ? "mod approve" : "mod reject";
	int i, rc = EXIT_OK;

	if (argc < 2)
		return cli_usage(what, "ID...");
	if (cli_config(cli) == NULL || cli_store(cli) == NULL)
		return EXIT_FAIL;
	for (i = 1; i < argc; i++) {
		struct held h;
		long long now = store_now();
		int r = held_load(cli, argv[i], &h), ok = 0;
		if (r != EXIT_OK) {
			rc = r;
			continue;
		}
		if (!undecided(&h)) {
			log_error("held message %lld is %s: already decided", h.id, h.state);
		} else if (store_begin(cli->store) == 0) {
			ok = approve ? approve_one(cli, &h, now) == 0
				     : store_held_decide(cli->store, h.id, h.state, "rejected", 0,
							 now) == 1;
			if (!ok || store_commit(cli->store) < 0) {
				store_rollback(cli->store);
				ok = 0;
			}
		}
		if (ok)
			cli_printf("held message %lld: %s\n", h.id,
			       approve ? "published (parleyd sends the copies)" : "rejected");
		else
			rc = EXIT_FAIL;
		held_free(&h);
	}
	return rc;
}

static int mod_approve(struct cli *cli, int argc, char **argv)
{
	return decide(cli, argc, argv, 1);
}

static int mod_reject(struct cli *cli, int argc, char **argv)
{
	return decide(cli, argc, argv, 0);
}

static const struct cli_cmd mod_cmds[] = {
	{"ls", mod_ls, "[LIST] [--all]", "held messages waiting for a decision (--all: every one)"},
	{"show", mod_show, "ID [--raw]", "one held message: why, who, and its text (or its bytes)"},
	{"approve", mod_approve, "ID...", "publish held messages as posts"},
	{"reject", mod_reject, "ID...", "decide that held messages are never published"},
	{NULL, NULL, NULL, NULL}};

int cmd_mod(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "mod", mod_cmds, argc, argv);
}
