/*
 * notify.c - the messages parleyd writes to people about a message it
 * received (see notify.h): their texts, and their queueing as notices.
 *
 * Must never write to the sender of the message a notice is about (only to
 * a list's configured owners and authors), never put more than a bounded
 * excerpt of it in a notice, and never queue a notice outside the caller's
 * transaction.
 */
#include "autoconf.h"

#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mailfmt.h"
#include "notice.h"
#include "store_held.h"
#include "subaddr.h"
#include "token.h"
#include "xalloc.h"

#define OWNER_NOTES_PER_HOUR 10 /* notes about held messages, per list */
#define EXCERPT_LINES	     15 /* lines of a held message quoted to the owners */
#define EXCERPT_LINE_MAX     200

/* addf: append printf-style text to B (each piece bounded). */
static void addf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct mbuf *b, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		mbuf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* sub_addr: LOCAL+WHAT[-TOKEN]@DOMAIN of list L (the list address if it
 * could not be made: never happens for a list the loader accepted). */
static void sub_addr(const struct config *cfg, const struct cfg_list *l, const char *what,
		     const char *token, char *out, size_t len)
{
	if (subaddr_list(out, len, cfg, l, what, token) < 0)
		snprintf(out, len, "%s", l->address);
}

/* The message a notice is about, as shown in its text. */
static void about_lines(struct mbuf *b, const struct classify_in *in)
{
	const struct message *m = in->msg;
	char *subject = mailfmt_clean(m->subject ? m->subject : "(no subject)", 200);
	char *name = m->from_name ? mailfmt_clean(m->from_name, 100) : NULL;
	char date[64];

	mailfmt_date(m->date ? m->date : in->now, date, sizeof(date));
	addf(b, "  From:       %s%s<%.254s>\n", name ? name : "", name ? " " : "",
	     m->from_addr ? m->from_addr : "?");
	addf(b, "  Subject:    %s\n", subject);
	addf(b, "  Date:       %s\n", date);
	addf(b, "  Message-ID: %.300s\n", m->message_id ? m->message_id : "(none)");
	free(subject);
	free(name);
}

struct notice_spec {
	const struct cfg_list *list;
	const char *kind;
	long long held_id;
	const struct strv *to;
	const char *from_name;
	const char *from_addr;
	const char *reply_to;
	const char *subject;
	const char *auto_submitted;
	const char *body;
};

/* notice_queue: compose a notice about IN's message and queue its copies,
 * with the null envelope sender. 0 or -1. */
static int notice_queue(struct store *st, const struct classify_in *in, long long list_id,
			const struct notice_spec *ns)
{
	struct notice_msg nm;
	struct notice_new nn;
	char msgid[300];
	size_t len;
	char *raw;
	long long id;

	notice_msgid(in->cfg, in->now, msgid, sizeof(msgid));
	memset(&nm, 0, sizeof(nm));
	nm.list = ns->list;
	nm.from_name = ns->from_name;
	nm.from_addr = ns->from_addr;
	nm.to = ns->to;
	nm.reply_to = ns->reply_to;
	nm.subject = ns->subject;
	nm.msgid = msgid;
	nm.in_reply_to = in->msg->message_id;
	nm.auto_submitted = ns->auto_submitted;
	nm.date = in->now;
	nm.body = ns->body;
	raw = notice_compose(&nm, &len);
	memset(&nn, 0, sizeof(nn));
	nn.list_id = list_id;
	nn.kind = ns->kind;
	nn.held_id = ns->held_id;
	nn.sender = "";
	nn.raw = raw;
	nn.len = len;
	nn.rcpts = ns->to;
	nn.now = in->now;
	id = store_notice_add(st, &nn);
	free(raw);
	return id < 0 ? -1 : 0;
}

/* excerpt: the first lines of TEXT, quoted, bounded. */
static void excerpt(struct mbuf *b, const char *text)
{
	const char *p = text;
	int lines = 0;

	while (p != NULL && *p != '\0' && lines < EXCERPT_LINES) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, n < EXCERPT_LINE_MAX ? n : EXCERPT_LINE_MAX);
		char *clean = mailfmt_clean(line, EXCERPT_LINE_MAX);
		addf(b, "> %s\n", clean);
		free(clean);
		free(line);
		lines++;
		p = nl ? nl + 1 : NULL;
	}
	if (p != NULL && *p != '\0')
		addf(b, "> [...]\n");
}

int notify_owners(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		  long long list_id, long long held_id, const char *reason)
{
	struct notice_spec ns;
	struct mbuf b = {0};
	char from[ADDRESS_MAX + 16], post[ADDRESS_MAX + 16], name[CONFIG_LIST_NAME_MAX + 32];
	char subject[300], *s;
	long long recent;
	int rc;

	if (l->owners.n == 0) {
		log_info("%s: list %s has no owners to tell", in->env->queue_id, l->name);
		return 0;
	}
	if ((recent = store_notices_since(st, list_id, "held", in->now - 3600)) < 0)
		return -1;
	if (recent >= OWNER_NOTES_PER_HOUR) {
		log_info("%s: %lld notes about held messages sent to the owners of %s in the last "
			 "hour: no note for this one", in->env->queue_id, recent, l->name);
		return 0;
	}
	sub_addr(in->cfg, l, "owner", NULL, from, sizeof(from));
	sub_addr(in->cfg, l, "post", NULL, post, sizeof(post));
	snprintf(name, sizeof(name), "%s list", l->name);
	s = mailfmt_clean(in->msg->subject ? in->msg->subject : "(no subject)", 200);
	snprintf(subject, sizeof(subject), "Held for %s: %s", l->name, s);
	free(s);
	addf(&b, "A message to the list %s <%s> was held: it was not sent to the list,\n",
	     l->name, l->address);
	addf(&b, "and nothing was sent back to its sender.\n\n");
	addf(&b, "  Why:        %.600s\n", reason);
	about_lines(&b, in);
	addf(&b, "  Sender:     <%.254s>\n", in->env->sender ? in->env->sender : "");
	addf(&b, "  Held as:    %lld (inbound message %lld)\n\n", held_id, in->inbound_id);
	addf(&b, "To publish it as a post: parley mod approve %lld\n"
		 "To drop it:              parley mod reject %lld\n\n", held_id, held_id);
	addf(&b, "Authors post through their secret post address, or from a domain whose\n"
		 "DKIM or SPF pass a trusted server reports (daemon.authserv_ids); a\n"
		 "configured author without either is asked to confirm by email.\n");
	if (recent + 1 >= OWNER_NOTES_PER_HOUR)
		addf(&b, "\nThis is note %d of this hour for %s; further held messages are not\n"
			 "announced until the hour has passed.\n", OWNER_NOTES_PER_HOUR, l->name);
	addf(&b, "\nIts first lines:\n\n");
	excerpt(&b, in->msg->text);
	ns = (struct notice_spec){.list = l, .kind = "held", .held_id = held_id, .to = &l->owners,
				  .from_name = name, .from_addr = from, .subject = subject,
				  .auto_submitted = "auto-generated", .body = b.p};
	rc = notice_queue(st, in, list_id, &ns);
	mbuf_free(&b);
	if (rc == 0)
		log_info("%s: note queued for the owners of %s", in->env->queue_id, l->name);
	return rc;
}

/* confirm_body: the request to confirm IN's message, with CONFIRM the
 * address and TOKEN the token. */
static void confirm_body(struct mbuf *b, const struct classify_in *in, const struct cfg_list *l,
			 const char *confirm, const char *token, long long expires)
{
	char date[64];

	mailfmt_date(expires, date, sizeof(date));
	addf(b, "Hello,\n\n");
	addf(b, "The list %s <%s> received a post from your address, but it came\n", l->name,
	     l->address);
	addf(b, "without a proof that you sent it (your secret post address, or a DKIM\n"
		"or SPF pass reported by a trusted server). It is not published yet.\n\n");
	about_lines(b, in);
	addf(b, "\nTo publish it, reply to this message: what you write does not matter.\n");
	if (l->confirm_url != NULL) {
		addf(b, "Or open this page and press Publish:\n\n");
		addf(b, "  %.900s%st=%s\n\n", l->confirm_url, strchr(l->confirm_url, '?') ? "&" : "?",
		     token);
	}
	addf(b, "Or click this link, which opens the reply for you to send:\n\n");
	addf(b, "  mailto:%s?subject=confirm\n\n", confirm);
	addf(b, "This request expires on %s.\n", date);
	addf(b, "If you did not send this post, ignore this message: nothing is\n"
		"published without your confirmation.\n");
}

int notify_confirm(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		   long long list_id, long long held_id, const char *author, const char *token,
		   long long expires)
{
	struct notice_spec ns;
	struct strv to = {NULL, 0};
	struct mbuf b = {0};
	char confirm[ADDRESS_MAX + 64];
	char subject[300], name[CONFIG_LIST_NAME_MAX + 32], *s;
	int rc;

	sub_addr(in->cfg, l, "confirm", token, confirm, sizeof(confirm));
	strv_push(&to, author);
	snprintf(name, sizeof(name), "%s list", l->name);
	s = mailfmt_clean(in->msg->subject ? in->msg->subject : "(no subject)", 200);
	snprintf(subject, sizeof(subject), "Confirm your post to %s: %s", l->name, s);
	free(s);
	confirm_body(&b, in, l, confirm, token, expires);
	ns = (struct notice_spec){.list = l, .kind = "confirm", .held_id = held_id, .to = &to,
				  .from_name = name, .from_addr = confirm, .reply_to = confirm,
				  .subject = subject, .auto_submitted = "auto-replied", .body = b.p};
	rc = notice_queue(st, in, list_id, &ns);
	mbuf_free(&b);
	strv_free(&to);
	return rc;
}

int notify_expired(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		   const struct held *h, const struct message *hm)
{
	struct classify_in about = *in;
	struct notice_spec ns;
	struct strv to = {NULL, 0};
	struct mbuf b = {0};
	char from[ADDRESS_MAX + 16], name[CONFIG_LIST_NAME_MAX + 32], subject[300], *s;
	int rc;

	about.msg = hm;
	sub_addr(in->cfg, l, "owner", NULL, from, sizeof(from));
	snprintf(name, sizeof(name), "%s list", l->name);
	s = mailfmt_clean(hm->subject ? hm->subject : "(no subject)", 200);
	snprintf(subject, sizeof(subject), "Not published in %s (confirmation expired): %s",
		 l->name, s);
	free(s);
	addf(&b, "Hello,\n\nYour confirmation came after the request had expired, so this post\n"
		 "to %s <%s> was not published:\n\n", l->name, l->address);
	about_lines(&b, &about);
	addf(&b, "\nTo publish it, send it again.\n");
	strv_push(&to, h->author_addr);
	ns = (struct notice_spec){.list = l, .kind = "expired", .held_id = h->id, .to = &to,
				  .from_name = name, .from_addr = from, .subject = subject,
				  .auto_submitted = "auto-replied", .body = b.p};
	rc = notice_queue(st, &about, h->list_id, &ns);
	mbuf_free(&b);
	strv_free(&to);
	return rc;
}

