/*
 * publish.c - a message becomes a post (see publish.h). Never queues a copy
 * without the archive row it copies, both in the caller's transaction.
 */
#include "autoconf.h"

#include "publish.h"

#include <string.h>

#include "log.h"
#include "notice.h"
#include "store_archive.h"

long long publish_post(struct store *st, const struct publish_in *p)
{
	const struct message *m = p->msg;
	struct archive_new a;
	char msgid[300];
	long long list_id, id, n;

	if ((list_id = store_list_id(st, p->list->name)) < 0)
		return -1;
	notice_msgid(p->cfg, p->now, msgid, sizeof(msgid));
	memset(&a, 0, sizeof(a));
	a.list_id = list_id;
	a.inbound_id = p->inbound_id;
	a.kind = "post";
	a.list_msgid = msgid;
	a.orig_msgid = m->message_id;
	a.author_addr = p->author_addr;
	a.author_name = p->author_name;
	a.subject = m->subject;
	a.text = m->text;
	a.raw = p->raw;
	a.size = p->len;
	a.now = p->now;
	if ((id = store_archive_add(st, &a)) < 0 ||
	    (n = store_deliveries_create(st, id, list_id, "post", p->now)) < 0)
		return -1;
	log_info("%s: post to %s by <%s> archived as %s, %lld copies queued", p->tag,
		 p->list->name, p->author_addr, msgid, n);
	return id;
}
