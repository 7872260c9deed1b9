/*
 * test_thread.c - the threader (lib/thread.c): by In-Reply-To, by the
 * nearest archived ancestor in References (newest first, 10,000 of them in
 * bounded work, repeated ids), by subject within the window only, the
 * References chain of copies capped at 20 with the root kept, and the same
 * tree whatever order the messages arrive in.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "publish.h"
#include "store_archive.h"
#include "tap.h"
#include "thread.h"
#include "strv.h"
#include "xalloc.h"

static long long add(struct store *st, long long list, long long thread, long long parent,
		     const char *lmid, const char *omid, const char *subj, long long now)
{
	struct archive_new a;

	memset(&a, 0, sizeof(a));
	a.list_id = list;
	a.thread_id = thread;
	a.parent_id = parent;
	a.kind = parent ? "reply" : "post";
	a.list_msgid = lmid;
	a.orig_msgid = omid;
	a.author_addr = "alice@example.org";
	a.subject = subj;
	a.base_subject = "fence";
	a.raw = "x";
	a.size = 1;
	a.now = now;
	return store_archive_add(st, &a);
}

/* keep_str: a copy of S kept in KEEP until the end (message fields are char *). */
static char *keep_str(struct strv *keep, const char *s)
{
	strv_push(keep, s);
	return keep->v[keep->n - 1];
}

/* arrive: parse RAW and publish it in list L (a reply when it threads);
 * its archive id. */
static long long arrive(struct store *st, const struct config *cfg, const struct cfg_list *l,
			const char *raw, long long now)
{
	struct thread_in ti;
	struct publish_in p;
	struct message m;
	const char *how;
	char err[200];
	long long parent, id, list_id = store_list_id(st, l->name);

	if (message_parse(raw, strlen(raw), 100, &m, err, sizeof(err)) < 0)
		return -1;
	thread_in_set(&ti, l, list_id, &m, now);
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.list = l;
	p.msg = &m;
	p.raw = raw;
	p.len = strlen(raw);
	p.author_addr = m.from_addr;
	p.now = now;
	p.tag = "test";
	store_begin(st);
	parent = thread_find(st, &ti, &how);
	id = parent > 0 ? publish_reply(st, &p, parent) : publish_post(st, &p);
	store_commit(st);
	message_free(&m);
	return id;
}

/* tree: "orig_msgid<parent's orig_msgid" of every message of list NAME,
 * sorted, into OUT. */
static void tree(struct store *st, const char *name, char *out, size_t len)
{
	sqlite3_stmt *s = store_prepare_once(
		st, "SELECT a.orig_msgid || '<' || COALESCE(p.orig_msgid, '-') FROM archive a"
		    " LEFT JOIN archive p ON p.id = a.parent_id JOIN lists l ON l.id = a.list_id"
		    " WHERE l.name = ?1 ORDER BY 1");

	out[0] = '\0';
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW)
		snprintf(out + strlen(out), len - strlen(out), "%s ", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
}

static void out_of_order(struct store *st)
{
	static const char a[] = "From: alice@example.org\r\nSubject: Fence\r\nMessage-ID: <A@x>\r\n\r\nA\r\n";
	static const char b[] = "From: bob@example.org\r\nSubject: Re: Fence\r\nMessage-ID: <B@x>\r\n"
				"In-Reply-To: <A@x>\r\nReferences: <A@x>\r\n\r\nB\r\n";
	static const char c[] = "From: carol@example.org\r\nSubject: Re: Fence\r\nMessage-ID: <C@x>\r\n"
				"In-Reply-To: <B@x>\r\nReferences: <A@x> <B@x>\r\n\r\nC\r\n";
	static const char d[] = "From: dave@example.org\r\nSubject: Re: Fence\r\nMessage-ID: <D@x>\r\n"
				"References: <A@x> <B@x> <C@x>\r\n\r\nD\r\n";
	struct config cfg;
	struct cfg_list l1, l2;
	char t1[400], t2[400];

	memset(&cfg, 0, sizeof(cfg));
	cfg.daemon.hostname = (char *)"lists.example.org";
	memset(&l1, 0, sizeof(l1));
	l1.name = (char *)"inorder";
	l1.subject_window = 30;
	l2 = l1;
	l2.name = (char *)"shuffled";
	arrive(st, &cfg, &l1, a, 1000);
	arrive(st, &cfg, &l1, b, 1001);
	arrive(st, &cfg, &l1, c, 1002);
	arrive(st, &cfg, &l1, d, 1003);
	arrive(st, &cfg, &l2, a, 1000);
	arrive(st, &cfg, &l2, d, 1001);
	arrive(st, &cfg, &l2, c, 1002);
	arrive(st, &cfg, &l2, b, 1003);
	tree(st, "inorder", t1, sizeof(t1));
	tree(st, "shuffled", t2, sizeof(t2));
	is_str(t1, "<A@x><- <B@x><<A@x> <C@x><<B@x> <D@x><<C@x> ", "in order: the tree of the References");
	is_str(t2, t1, "arrival out of order (A, D, C, B) gives the same tree");
}

int main(void)
{
	struct strv keep = {NULL, 0};
	char path[] = "/tmp/parley-test-thread.XXXXXX";
	struct cfg_list l;
	struct message m;
	struct thread_in ti;
	struct store *st;
	const char *how;
	char *refs, big_id[64];
	long long list, post, reply, now = 1800000000;
	int fd = mkstemp(path), i;
	size_t n = 0;

	log_init("test_thread", LOG_DEST_STDERR);
	if (fd < 0 || (st = store_open(path)) == NULL)
		return 99;
	close(fd);
	list = store_list_id(st, "dev");
	store_begin(st);
	post = add(st, list, 0, 0, "<l1@x>", "<o1@x>", "Fence", now);
	reply = add(st, list, 1, post, "<l2@x>", "<o2@x>", "Re: Fence", now);
	store_commit(st);
	memset(&l, 0, sizeof(l));
	l.name = keep_str(&keep, "dev");
	l.subject_prefix = keep_str(&keep, "[dev]");
	l.subject_window = 30;
	memset(&m, 0, sizeof(m));
	thread_in_set(&ti, &l, list, &m, now + 60);

	m.in_reply_to = keep_str(&keep, "<o2@x>");
	is_int(thread_find(st, &ti, &how), reply, "In-Reply-To: the author's Message-ID");
	is_str(how, "In-Reply-To", "found by In-Reply-To");
	m.in_reply_to = keep_str(&keep, "<missing@x>");
	m.references = keep_str(&keep, "<o1@x> <missing@x>");
	is_int(thread_find(st, &ti, &how), post, "missing parent: under the archived ancestor");
	is_str(how, "References", "found by References");
	m.references = keep_str(&keep, "<l1@x> <l2@x> <l1@x> <l2@x>");
	is_int(thread_find(st, &ti, &how), reply, "repeated ids (a cycle): the newest archived one");
	ti.token_archive_id = post;
	is_int(thread_find(st, &ti, &how), post, "the token comes first");
	ti.token_archive_id = 0;

	/* 10,000 References, the archived ancestor among the newest */
	{
		size_t cap = 10000 * 24 + 32;
		char *r = xmalloc(cap);
		r[0] = '\0';
		for (i = 0; i < 10000; i++) {
			snprintf(big_id, sizeof(big_id), "%s<r%d@x>", i ? " " : "", i);
			if (i == 9990)
				snprintf(big_id, sizeof(big_id), " <l2@x>");
			n += strlen(big_id);
			strcat(r + n - strlen(big_id), big_id);
		}
		m.references = r;
		m.in_reply_to = NULL;
		is_int(thread_find(st, &ti, &how), reply, "10,000 References: the archived one found");
		snprintf(strstr(r, " <l2@x>"), 8, " <zz@x>");
		r[strlen(r)] = ' ';
		m.subject = keep_str(&keep, "AW: [dev] Fence");
		is_int(thread_find(st, &ti, &how), post, "none archived among them: by subject");
		is_str(how, "subject", "found by subject");
		free(r);
	}
	m.references = NULL;
	m.subject = keep_str(&keep, "Fence");
	is_int(thread_find(st, &ti, &how), 0, "a subject without a reply prefix: a new thread");
	m.subject = keep_str(&keep, "Re: Fence");
	ti.now = now + 31LL * 86400;
	is_int(thread_find(st, &ti, &how), 0, "outside the subject window: a new thread");

	refs = thread_refs(NULL, "<p@x>");
	is_str(refs, "<p@x>", "a reply to a post: References is the post");
	free(refs);
	{
		char chain[2000] = "<root@x>";
		for (i = 1; i < 30; i++)
			snprintf(chain + strlen(chain), sizeof(chain) - strlen(chain), " <m%d@x>", i);
		refs = thread_refs(chain, "<parent@x>");
		n = 1;
		for (i = 0; refs[i]; i++)
			n += refs[i] == ' ';
		is_int(n, THREAD_REFS_MAX, "capped at 20 ids");
		ok(strncmp(refs, "<root@x> ", 9) == 0, "the root kept first");
		ok(strlen(refs) > 10 && strcmp(refs + strlen(refs) - 10, "<parent@x>") == 0,
		   "the parent last");
		free(refs);
	}
	out_of_order(st);
	store_close(st);
	strv_free(&keep);
	unlink(path);
	return tap_done();
}
