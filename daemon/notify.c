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
#include "trim.h"
#include "xalloc.h"

#define OWNER_NOTES_PER_HOUR 10 /* notes about held messages, per list */
#define EXCERPT_LINES	     15 /* lines of a held message quoted to the owners */
#define EXCERPT_LINE_MAX     200

/* addf: append printf-style text to B (each piece bounded). */
void notify_addf(struct mbuf *b, const char *fmt, ...)
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
	notify_addf(b, "  From:       %s%s<%.254s>\n", name ? name : "", name ? " " : "",
	     m->from_addr ? m->from_addr : "?");
	notify_addf(b, "  Subject:    %s\n", subject);
	notify_addf(b, "  Date:       %s\n", date);
	notify_addf(b, "  Message-ID: %.300s\n", m->message_id ? m->message_id : "(none)");
	free(subject);
	free(name);
}

void notify_about(struct mbuf *b, const struct classify_in *in)
{
	about_lines(b, in);
}

int notify_queue(struct store *st, const struct classify_in *in, long long list_id,
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
	nm.attach = ns->attach;
	nm.attach_len = ns->attach_len;
	raw = notice_compose(&nm, &len);
	memset(&nn, 0, sizeof(nn));
	nn.list_id = list_id;
	nn.kind = ns->kind;
	nn.held_id = ns->held_id;
	nn.sender = ns->sender ? ns->sender : "";
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
		notify_addf(b, "> %s\n", clean);
		free(clean);
		free(line);
		lines++;
		p = nl ? nl + 1 : NULL;
	}
	if (p != NULL && *p != '\0')
		notify_addf(b, "> [...]\n");
}

/* owner_note: the note about held message HELD_ID to one person TO, whose
 * personal approve and reject addresses carry DECIDER (0: the post's
 * author, n: owner n). 0 or -1. */
static int owner_note(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		      long long list_id, long long held_id, const char *reason, const char *to,
		      unsigned long decider, int last_of_hour)
{
	struct notice_spec ns;
	struct strv tov = {NULL, 0};
	struct mbuf b = {0};
	char from[ADDRESS_MAX + 16], name[CONFIG_LIST_NAME_MAX + 32], subject[300], *s;
	char approve[ADDRESS_MAX + 1] = "", reject[ADDRESS_MAX + 1] = "";
	int rc;

	if (in->key != NULL) {
		struct token t = {TOKEN_APPROVE, (unsigned long long)held_id, decider,
				  in->now + in->cfg->daemon.confirm_lifetime};
		char tok[TOKEN_MAX + 1];
		token_make(in->key, &t, tok);
		sub_addr(in->cfg, l, "approve", tok, approve, sizeof(approve));
		t.kind = TOKEN_REJECT;
		token_make(in->key, &t, tok);
		sub_addr(in->cfg, l, "reject", tok, reject, sizeof(reject));
	}
	sub_addr(in->cfg, l, "owner", NULL, from, sizeof(from));
	snprintf(name, sizeof(name), "%s list", l->name);
	s = mailfmt_clean(in->msg->subject ? in->msg->subject : "(no subject)", 200);
	snprintf(subject, sizeof(subject), "Held for %s: %s", l->name, s);
	free(s);
	notify_addf(&b, "A message to the list %s <%s> was held: it was not sent to the list,\n",
		    l->name, l->address);
	notify_addf(&b, "and nothing was sent back to its sender. It is attached.\n\n");
	notify_addf(&b, "  Why:        %.600s\n", reason);
	about_lines(&b, in);
	notify_addf(&b, "  Sender:     <%.254s>\n", in->env->sender ? in->env->sender : "");
	notify_addf(&b, "  Held as:    %lld (inbound message %lld)\n\n", held_id, in->inbound_id);
	if (approve[0] != '\0') {
		notify_addf(&b, "To publish it, reply to (what you write does not matter):\n  %s\n",
			    approve);
		notify_addf(&b, "To drop it, reply to (what you write is sent to its sender):\n"
				"  %s\n\n", reject);
	}
	notify_addf(&b, "Or from the command line:\n"
			"  parley mod approve %lld\n  parley mod reject %lld\n\n", held_id, held_id);
	notify_addf(&b, "Authors post through their secret post address, or from a domain whose\n"
			"DKIM or SPF pass a trusted server reports (daemon.authserv_ids); a\n"
			"configured author without either is asked to confirm by email.\n");
	if (last_of_hour)
		notify_addf(&b, "\nThis is note %d of this hour for %s; further held messages are "
				"not\nannounced until the hour has passed.\n",
			    OWNER_NOTES_PER_HOUR, l->name);
	notify_addf(&b, "\nIts first lines:\n\n");
	excerpt(&b, in->msg->text);
	strv_push(&tov, to);
	ns = (struct notice_spec){.list = l, .kind = "held", .held_id = held_id, .to = &tov,
				  .from_name = name, .from_addr = from,
				  .reply_to = approve[0] ? approve : NULL, .subject = subject,
				  .auto_submitted = "auto-generated", .body = b.p, .attach = in->raw,
				  .attach_len = in->len};
	rc = notify_queue(st, in, list_id, &ns);
	mbuf_free(&b);
	strv_free(&tov);
	return rc;
}

int notify_owners(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		  long long list_id, long long held_id, const char *reason, const char *author)
{
	long long recent;
	size_t i, n = l->owners.n + (author && author[0] ? 1 : 0);

	if (n == 0) {
		log_info("%s: list %s has no owners to tell", in->env->queue_id, l->name);
		return 0;
	}
	if ((recent = store_notices_since(st, list_id, "held", in->now - 3600)) < 0)
		return -1;
	recent /= (long long)n;
	if (recent >= OWNER_NOTES_PER_HOUR) {
		log_info("%s: %lld notes about held messages sent to the owners of %s in the last "
			 "hour: no note for this one", in->env->queue_id, recent, l->name);
		return 0;
	}
	for (i = 0; i < l->owners.n; i++)
		if (owner_note(st, in, l, list_id, held_id, reason, l->owners.v[i],
			       (unsigned long)i + 1, recent + 1 >= OWNER_NOTES_PER_HOUR) < 0)
			return -1;
	if (author && author[0] &&
	    owner_note(st, in, l, list_id, held_id, reason, author, 0,
		       recent + 1 >= OWNER_NOTES_PER_HOUR) < 0)
		return -1;
	log_info("%s: note queued for the owners of %s%s", in->env->queue_id, l->name,
		 author && author[0] ? " and the post's author" : "");
	return 0;
}

/* confirm_body: the request to confirm IN's message, with CONFIRM the
 * address and TOKEN the token. */
static void confirm_body(struct mbuf *b, const struct classify_in *in, const struct cfg_list *l,
			 const char *confirm, const char *token, long long expires)
{
	char date[64];

	mailfmt_date(expires, date, sizeof(date));
	notify_addf(b, "Hello,\n\n");
	notify_addf(b, "The list %s <%s> received a post from your address, but it came\n", l->name,
	     l->address);
	notify_addf(b, "without a proof that you sent it (your secret post address, or a DKIM\n"
		"or SPF pass reported by a trusted server). It is not published yet.\n\n");
	about_lines(b, in);
	notify_addf(b, "\nTo publish it, reply to this message: what you write does not matter.\n");
	if (l->confirm_url != NULL) {
		notify_addf(b, "Or open this page and press Publish:\n\n");
		notify_addf(b, "  %.900s%st=%s\n\n", l->confirm_url, strchr(l->confirm_url, '?') ? "&" : "?",
		     token);
	}
	notify_addf(b, "Or click this link, which opens the reply for you to send:\n\n");
	notify_addf(b, "  mailto:%s?subject=confirm\n\n", confirm);
	notify_addf(b, "This request expires on %s.\n", date);
	notify_addf(b, "If you did not send this post, ignore this message: nothing is\n"
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
	rc = notify_queue(st, in, list_id, &ns);
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
	notify_addf(&b, "Hello,\n\nYour confirmation came after the request had expired, so this post\n"
		 "to %s <%s> was not published:\n\n", l->name, l->address);
	about_lines(&b, &about);
	notify_addf(&b, "\nTo publish it, send it again.\n");
	strv_push(&to, h->author_addr);
	ns = (struct notice_spec){.list = l, .kind = "expired", .held_id = h->id, .to = &to,
				  .from_name = name, .from_addr = from, .subject = subject,
				  .auto_submitted = "auto-replied", .body = b.p};
	rc = notify_queue(st, &about, h->list_id, &ns);
	mbuf_free(&b);
	strv_free(&to);
	return rc;
}


int notify_rejected(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		    long long list_id, const struct held *h)
{
	struct trim_result tr;
	struct notice_spec ns;
	struct strv to = {NULL, 0};
	struct mbuf b = {0};
	char from[ADDRESS_MAX + 16], name[CONFIG_LIST_NAME_MAX + 32], subject[300];
	int rc = 0;

	if (h->sender == NULL || h->sender[0] == '\0' || in->msg->text == NULL ||
	    trim_text(in->msg->text, strlen(in->msg->text), &tr) < 0)
		return 0;
	if (tr.trimmed[strspn(tr.trimmed, " \t\r\n")] != '\0') {
		sub_addr(in->cfg, l, "owner", NULL, from, sizeof(from));
		snprintf(name, sizeof(name), "%s list", l->name);
		snprintf(subject, sizeof(subject), "Not published in %s", l->name);
		notify_addf(&b, "Your message to the list %s <%s> was not published.\n"
				"Its moderator wrote:\n\n", l->name, l->address);
		mbuf_str(&b, tr.trimmed);
		notify_addf(&b, "\n");
		strv_push(&to, h->sender);
		ns = (struct notice_spec){.list = l, .kind = "rejected", .held_id = h->id, .to = &to,
					  .from_name = name, .from_addr = from, .subject = subject,
					  .auto_submitted = "auto-replied", .body = b.p};
		rc = notify_queue(st, in, list_id, &ns);
		mbuf_free(&b);
		strv_free(&to);
	}
	trim_result_free(&tr);
	return rc;
}
