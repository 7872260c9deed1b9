/*
 * publish.c - a message becomes a post or a reply (see publish.h). Never
 * queues a copy without the archive row it copies, both in the caller's
 * transaction; never queues a copy of a reply for its replier.
 */
#include "autoconf.h"

#include "publish.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "notice.h"
#include "store_archive.h"
#include "subject.h"
#include "thread.h"
#include "trim.h"
#include "xalloc.h"

#define BASE_SUBJECT_MAX 512

/* joined: the Authentication-Results of M, one per line, or NULL. */
static char *joined(const struct strv *v)
{
	size_t i, n = 0;
	char *out;

	if (v->n == 0)
		return NULL;
	for (i = 0; i < v->n; i++)
		n += strlen(v->v[i]) + 1;
	out = xmalloc(n + 1);
	out[0] = '\0';
	for (i = 0; i < v->n; i++) {
		strcat(out, v->v[i]);
		strcat(out, "\n");
	}
	return out;
}

/* trimmed_of: the quote-trimmed text of M (its text part, else its HTML
 * part converted); both members NULL if it has neither or on failure. */
static void trimmed_of(const struct message *m, struct trim_result *r)
{
	memset(r, 0, sizeof(*r));
	if (m->text != NULL) {
		if (trim_text(m->text, strlen(m->text), r) < 0)
			memset(r, 0, sizeof(*r));
	} else if (m->html != NULL) {
		if (trim_html(m->html, strlen(m->html), r) < 0)
			memset(r, 0, sizeof(*r));
	}
}

/* archive: P's message as an archive row of LIST_ID (a reply to PARENT
 * when not NULL); the new id, or -1. */
static long long archive(struct store *st, const struct publish_in *p, long long list_id,
			 const struct archive_row *parent, char *msgid, size_t msgid_len)
{
	const struct message *m = p->msg;
	char base[BASE_SUBJECT_MAX];
	struct archive_new a;
	struct trim_result tr;
	char *auth = joined(&m->auth_results), *refs = NULL, *hint;
	long long id;

	notice_msgid(p->cfg, p->now, msgid, msgid_len);
	trimmed_of(m, &tr);
	subject_normalise(m->subject, p->list->subject_prefix, base, sizeof(base));
	memset(&a, 0, sizeof(a));
	a.list_id = list_id;
	a.inbound_id = p->inbound_id;
	a.kind = parent ? "reply" : "post";
	a.list_msgid = msgid;
	a.orig_msgid = m->message_id;
	a.author_addr = p->author_addr;
	a.author_name = p->author_name;
	a.subject = m->subject;
	a.base_subject = base;
	a.text = m->text ? m->text : tr.trimmed;
	a.trimmed = tr.trimmed;
	a.elided = tr.elided;
	a.auth_results = auth;
	a.subscriber_id = p->subscriber_id;
	a.raw = p->raw;
	a.size = p->len;
	a.now = p->now;
	a.parent_hint = hint = thread_parent_hint(m);
	if (parent != NULL) {
		a.thread_id = parent->thread_id;
		a.parent_id = parent->id;
		a.refs = refs = thread_refs(parent->refs, parent->list_msgid);
	}
	id = store_archive_add(st, &a);
	trim_result_free(&tr);
	free(auth);
	free(refs);
	free(hint);
	return id;
}

long long publish_post(struct store *st, const struct publish_in *p)
{
	char msgid[300];
	long long list_id, id, n;

	if ((list_id = store_list_id(st, p->list->name)) < 0)
		return -1;
	if ((id = archive(st, p, list_id, NULL, msgid, sizeof(msgid))) < 0 ||
	    (n = store_deliveries_create(st, id, list_id, "post", p->now)) < 0)
		return -1;
	log_info("%s: post to %s by <%s> archived as %s, %lld copies queued", p->tag,
		 p->list->name, p->author_addr, msgid, n);
	return id;
}

int publish_policy(const struct cfg_list *l, const char *root_author)
{
	size_t i;

	for (i = 0; root_author != NULL && i < l->nauthors; i++)
		if (strcasecmp(l->authors[i].address, root_author) == 0 &&
		    l->authors[i].reply_policy >= 0)
			return l->authors[i].reply_policy;
	return (int)l->reply_policy;
}

long long publish_reply(struct store *st, const struct publish_in *p, long long parent_id)
{
	static const char *const names[] = {"list", "author", "thread", "moderated"};
	struct archive_row parent;
	struct reply_rcpts r;
	char msgid[300];
	long long list_id, id, n;
	int rc, policy;

	if ((list_id = store_list_id(st, p->list->name)) < 0)
		return -1;
	if ((rc = store_archive_row(st, parent_id, &parent)) <= 0 || parent.list_id != list_id) {
		archive_row_clear(&parent);
		return rc < 0 ? -1 : publish_post(st, p);
	}
	policy = publish_policy(p->list, parent.root_author);
	if ((id = archive(st, p, list_id, &parent, msgid, sizeof(msgid))) < 0) {
		archive_row_clear(&parent);
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.archive_id = id;
	r.list_id = list_id;
	r.thread_id = parent.thread_id;
	r.now = p->now;
	/* a moderated reply is published once approved: then it goes to every reader */
	r.policy = policy == REPLY_MODERATED ? REPLY_LIST : policy;
	r.replier = p->author_addr;
	r.author = parent.root_author;
	if ((n = store_reply_deliveries(st, &r)) < 0) {
		archive_row_clear(&parent);
		return -1;
	}
	log_info("%s: reply to %s by <%s> threaded under %s, archived as %s; policy %s: %lld "
		 "copies queued", p->tag, p->list->name, p->author_addr, parent.list_msgid, msgid,
		 names[policy], n);
	archive_row_clear(&parent);
	return id;
}
