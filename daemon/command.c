/*
 * command.c - the email commands (see command.h). Every state change is in
 * the caller's ingest transaction; every answer is a notice queued there.
 * Must never subscribe anyone without a confirmed reply, never write to an
 * address that did not write to us, never answer an automatic message.
 */
#include "autoconf.h"

#include "command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "notice.h"
#include "notify.h"
#include "reply.h"
#include "store_archive.h"
#include "store_request.h"
#include "store_sub.h"
#include "subaddr.h"
#include "xalloc.h"

#define CONFIRMS_PER_DAY 3	/* confirmation mails to one address, whatever the list */

/* sender_addr: the envelope sender of IN, normalised, into OUT; 0 or -1. */
static int sender_addr(const struct classify_in *in, char out[ADDRESS_MAX + 1])
{
	char err[ADDRESS_ERR_MAX];

	if (in->env->sender == NULL || in->env->sender[0] == '\0')
		return -1;
	return address_parse_spec(in->env->sender, out, err, sizeof(err));
}

/* limited: 1 if IN's sender has sent commands_per_hour commands in the
 * last hour already (logged), 0 if not, -1 on error. */
static int limited(struct store *st, const struct classify_in *in)
{
	long long n = store_commands_since(st, in->env->sender, in->now - 3600, in->inbound_id);

	if (n < 0)
		return -1;
	if (n < in->cfg->daemon.limits.commands_per_hour)
		return 0;
	log_info("%s: <%s> sent %lld commands in the last hour (limits.commands_per_hour): no "
		 "answer", in->env->queue_id, in->env->sender, n);
	return 1;
}

static void list_addr(const struct classify_in *in, const struct cfg_list *l, const char *what,
		      const char *token, char *out, size_t len)
{
	if (subaddr_list(out, len, in->cfg, l, what, token) < 0)
		snprintf(out, len, "%s", l->address);
}

/* mail: a notice of KIND from L+FROM_WHAT@ to TO with SUBJECT and BODY,
 * answering IN. 0 or -1. */
static int mail(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		long long list_id, const char *kind, const char *from_what, const char *reply_to,
		const char *to, const char *subject, const char *body)
{
	struct notice_spec ns;
	struct strv tov = {NULL, 0};
	char from[ADDRESS_MAX + 1], name[CONFIG_LIST_NAME_MAX + 32];
	int rc;

	list_addr(in, l, from_what, NULL, from, sizeof(from));
	snprintf(name, sizeof(name), "%s list", l->name);
	strv_push(&tov, to);
	ns = (struct notice_spec){.list = l, .kind = kind, .to = &tov, .from_name = name,
				  .from_addr = from, .reply_to = reply_to, .subject = subject,
				  .auto_submitted = "auto-replied", .body = body};
	rc = notify_queue(st, in, list_id, &ns);
	strv_free(&tov);
	return rc;
}

static const char *action_text(const char *action, const char *mode, char *buf, size_t len)
{
	if (strcmp(action, "subscribe") == 0)
		return "subscribe this address to";
	if (strcmp(action, "unsubscribe") == 0)
		return "unsubscribe this address from";
	snprintf(buf, len, "change the delivery of this address to '%s' for", mode);
	return buf;
}

/* request: open ACTION (MODE) for ADDR and mail its confirmation. */
static int request(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		   long long list_id, const char *addr, const char *action, const char *mode)
{
	long long expires = in->now + in->cfg->daemon.confirm_lifetime, id, mailed;
	struct token tok = {TOKEN_REQUEST, 0, 0, expires};
	char tokstr[TOKEN_MAX + 1], confirm[ADDRESS_MAX + 1], subject[300], what[160], date[64];
	struct mbuf b = {0};
	int rc;

	if ((id = store_request_open(st, list_id, addr, action, mode, in->msg->message_id,
				     in->inbound_id, in->now, expires)) < 0 ||
	    (mailed = store_requests_mailed(st, addr, in->now - 86400)) < 0)
		return -1;
	if (mailed >= CONFIRMS_PER_DAY) {
		log_info("%s: %s request %lld for <%s> recorded; %lld confirmation mails to it "
			 "today already: none sent", in->env->queue_id, action, id, addr, mailed);
		return 0;
	}
	tok.a = (unsigned long long)id;
	token_make(in->key, &tok, tokstr);
	list_addr(in, l, "confirm", tokstr, confirm, sizeof(confirm));
	mailfmt_date(expires, date, sizeof(date));
	snprintf(subject, sizeof(subject), "Confirm: %s %s", action, l->name);
	notify_addf(&b, "Hello,\n\nSomeone, probably you, asked to %s the list\n%s <%s>.\n\n",
		    action_text(action, mode, what, sizeof(what)), l->name, l->address);
	notify_addf(&b, "To confirm, reply to this message: what you write does not matter.\n"
			"Or click: mailto:%s?subject=confirm\n\n", confirm);
	if (l->confirm_url != NULL)
		notify_addf(&b, "Or open: %.900s%st=%s\n\n", l->confirm_url,
			    strchr(l->confirm_url, '?') ? "&" : "?", tokstr);
	notify_addf(&b, "This request expires on %s. If you did not ask for this,\n"
			"ignore this message: nothing changes without your reply.\n", date);
	rc = mail(st, in, l, list_id, "request", "confirm", confirm, addr, subject, b.p);
	mbuf_free(&b);
	/* the From is the confirm address itself, so that Reply answers it */
	log_info("%s: %s request %lld for <%s> to %s: confirmation mailed", in->env->queue_id,
		 action, id, addr, l->name);
	return rc;
}

static int help(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		long long list_id, const char *addr)
{
	char sub[ADDRESS_MAX + 1], unsub[ADDRESS_MAX + 1], owner[ADDRESS_MAX + 1], subject[200];
	struct mbuf b = {0};
	int rc;

	list_addr(in, l, "subscribe", NULL, sub, sizeof(sub));
	list_addr(in, l, "unsubscribe", NULL, unsub, sizeof(unsub));
	list_addr(in, l, "owner", NULL, owner, sizeof(owner));
	snprintf(subject, sizeof(subject), "Help for the list %s", l->name);
	notify_addf(&b, "The list %s <%s>%s%.200s\n\n", l->name, l->address,
		    l->description ? ": " : "", l->description ? l->description : "");
	notify_addf(&b, "  Write to the list (replies to its posts): %s\n", l->address);
	notify_addf(&b, "  Subscribe:    mail %s (you confirm by replying)\n", sub);
	notify_addf(&b, "  Unsubscribe:  mail %s, or use the link in the\n"
			"                List-Unsubscribe header of any message from the list\n",
		    unsub);
	notify_addf(&b, "  Delivery:     mail %s+set-all, -posts, -digest or -nomail at the\n"
			"                list's domain (you confirm by replying)\n", l->name);
	notify_addf(&b, "  A thread:     every message has a mute address in its footer\n");
	notify_addf(&b, "  The owners:   %s\n", owner);
	if (l->archive_url)
		notify_addf(&b, "  The archive:  %.900s\n", l->archive_url);
	rc = mail(st, in, l, list_id, "help", "help", NULL, addr, subject, b.p);
	mbuf_free(&b);
	log_info("%s: help for %s mailed to <%s>", in->env->queue_id, l->name, addr);
	return rc;
}

/* relay: IN's message to TO (kind KIND), From "NAME via L" <L+FROM_WHAT@>,
 * Reply-To its sender. 0 or -1. */
static int relay(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		 long long list_id, const char *kind, const char *from_what, const struct strv *to)
{
	const struct message *m = in->msg;
	const char *sender = m->from_addr ? m->from_addr : in->env->sender;
	char from[ADDRESS_MAX + 1], msgid[300];
	struct notice_relay r;
	struct notice_new nn;
	char *raw, *name;
	size_t len;
	long long id;

	list_addr(in, l, from_what, NULL, from, sizeof(from));
	name = xasprintf("%.100s via %s", m->from_name ? m->from_name : sender, l->name);
	notice_msgid(in->cfg, in->now, msgid, sizeof(msgid));
	r = (struct notice_relay){.list = l, .from_name = name, .from_addr = from, .to = to,
				  .reply_name = m->from_name, .reply_to = sender, .msgid = msgid,
				  .raw = in->raw, .len = in->len};
	raw = notice_relay(&r, &len);
	memset(&nn, 0, sizeof(nn));
	nn.list_id = list_id;
	nn.kind = kind;
	nn.sender = "";
	nn.raw = raw;
	nn.len = len;
	nn.rcpts = to;
	nn.now = in->now;
	id = store_notice_add(st, &nn);
	free(raw);
	free(name);
	return id < 0 ? -1 : 0;
}

/* private: L+p-TOKEN@: relayed to the author of the message answered. */
static int private_reply(struct store *st, const struct classify_in *in,
			 const struct rcpt_target *t, long long list_id)
{
	struct archive_row row;
	struct strv to = {NULL, 0};
	struct token tok;
	int rc;

	if (token_check(in->key, t->token, &tok, in->now) != 0 || tok.kind != TOKEN_PRIVATE) {
		log_info("%s: private reply with a token we did not make for %s: dropped",
			 in->env->queue_id, t->list->name);
		return 0;
	}
	if ((rc = store_archive_row(st, (long long)tok.a, &row)) <= 0 || row.list_id != list_id) {
		archive_row_clear(&row);
		return rc < 0 ? -1 : 0;
	}
	strv_push(&to, row.author_addr);
	rc = relay(st, in, t->list, list_id, "private", NULL, &to);
	log_info("%s: private reply relayed to <%s>, the author of %s (archived nowhere)",
		 in->env->queue_id, row.author_addr, row.list_msgid);
	strv_free(&to);
	archive_row_clear(&row);
	return rc;
}

/* thread_pref: L+follow-TOKEN@ or L+mute-TOKEN@. */
static int thread_pref(struct store *st, const struct classify_in *in, const struct rcpt_target *t,
		       long long list_id)
{
	char want = t->kind == RCPT_FOLLOW ? TOKEN_FOLLOW : TOKEN_MUTE;
	const char *pref = t->kind == RCPT_FOLLOW ? "follow" : "mute";
	struct token tok;
	long long th;
	char addr[ADDRESS_MAX + 1];
	int rc;

	if (token_check(in->key, t->token, &tok, in->now) != 0 || tok.kind != want) {
		log_info("%s: %s with a token we did not make for %s: ignored", in->env->queue_id,
			 pref, t->list->name);
		return 0;
	}
	/* a store error is -1 (the message is tried again), not "no such thread or
	 * subscriber" (the command dropped) */
	if ((th = store_thread_of(st, (long long)tok.a, list_id)) <= 0)
		return th < 0 ? -1 : 0;
	if ((rc = store_sub_address(st, (long long)tok.b, list_id, addr, sizeof(addr))) <= 0)
		return rc < 0 ? -1 : 0;
	if (store_thread_pref(st, th, (long long)tok.b, pref, in->now) < 0)
		return -1;
	log_info("%s: <%s> %s thread %lld of %s", in->env->queue_id, addr,
		 t->kind == RCPT_FOLLOW ? "follows" : "muted", th, t->list->name);
	return 0;
}

int command_classify(struct store *st, const struct classify_in *in, const struct rcpt_target *t)
{
	const struct cfg_list *l = t->list;
	char addr[ADDRESS_MAX + 1];
	const char *why;
	long long list_id, sub;
	int rc = 0;

	if (t->kind != RCPT_SUBSCRIBE && t->kind != RCPT_SET && t->kind != RCPT_HELP &&
	    t->kind != RCPT_OWNER && t->kind != RCPT_FOLLOW && t->kind != RCPT_MUTE &&
	    t->kind != RCPT_PRIVATE && !(t->kind == RCPT_UNSUBSCRIBE && t->token[0] == '\0'))
		return 0;
	if ((list_id = store_list_id(st, l->name)) < 0)
		return -1;
	if (t->kind == RCPT_MUTE && in->key != NULL)
		return thread_pref(st, in, t, list_id);	/* a valid token is honoured as is */
	if ((why = reply_automatic(in)) != NULL) {
		log_info("%s: to %s+%s, dropped: %s", in->env->queue_id, l->name,
			 recipient_kind_name(t->kind), why);
		return 0;
	}
	if (t->kind == RCPT_FOLLOW || t->kind == RCPT_PRIVATE) {
		if (in->key == NULL)
			return 0;
		return t->kind == RCPT_FOLLOW ? thread_pref(st, in, t, list_id)
					      : private_reply(st, in, t, list_id);
	}
	if (t->kind == RCPT_OWNER) {
		if (l->owners.n == 0 || (rc = limited(st, in)) != 0)
			return rc < 0 ? -1 : 0;
		log_info("%s: to the owners of %s: relayed", in->env->queue_id, l->name);
		return relay(st, in, l, list_id, "owner", "owner", &l->owners);
	}
	if (sender_addr(in, addr) < 0 || (rc = limited(st, in)) != 0)
		return rc < 0 ? -1 : 0;
	if (t->kind == RCPT_HELP)
		return help(st, in, l, list_id, addr);
	if (in->key == NULL)
		return 0;
	if ((sub = store_sub_active_id(st, list_id, addr)) < 0)
		return -1;
	if (t->kind == RCPT_SUBSCRIBE && sub > 0) {
		log_info("%s: <%s> asked to subscribe to %s and already is: no answer (it would "
			 "tell a stranger)", in->env->queue_id, addr, l->name);
		return 0;
	}
	if (t->kind != RCPT_SUBSCRIBE && sub == 0) {
		log_info("%s: <%s> is no subscriber of %s: no answer", in->env->queue_id, addr,
			 l->name);
		return 0;
	}
	return request(st, in, l, list_id, addr,
		       t->kind == RCPT_SUBSCRIBE ? "subscribe"
		       : t->kind == RCPT_SET	 ? "set"
						 : "unsubscribe",
		       t->kind == RCPT_SET ? t->token : NULL);
}

/* apply: do request R of list LIST_ID, confirmed by ACTOR, at NOW. */
static int apply(struct store *st, long long now, long long list_id, const struct request *r,
		 const char *actor)
{
	struct sub_request q;

	if (strcmp(r->action, "unsubscribe") == 0)
		return store_sub_remove(st, list_id, r->address, "email", actor, now) < 0 ? -1 : 0;
	memset(&q, 0, sizeof(q));
	q.address = r->address;
	q.status = SUB_ACTIVE;
	q.how = CONSENT_EMAIL;
	q.actor = actor;
	q.resubscribe = 1;
	q.now = now;
	if (strcmp(r->action, "set") == 0) {
		if (sub_mode_parse(r->mode, &q.mode) < 0)
			return 0;
		q.mode_set = 1;
		q.update_mode = 1;
	}
	return store_sub_add(st, list_id, &q) < 0 ? -1 : 0;
}

int command_confirm(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		    long long list_id, const struct token *tok, int trc)
{
	const char *q = in->env->queue_id;
	struct request r;
	char actor[1000];
	int rc;

	if ((rc = store_request_get(st, (long long)tok->a, &r)) <= 0)
		return rc;
	if (r.list_id != list_id || strcmp(r.state, "pending") != 0) {
		log_info("%s: confirmation of request %lld, which is %s: nothing to do", q, r.id,
			 r.state);
		return 0;
	}
	if (trc == -2 || r.expires_at <= in->now) {
		log_info("%s: confirmation of request %lld came too late: expired", q, r.id);
		return store_request_close(st, r.id, "expired", in->now) < 0 ? -1 : 0;
	}
	snprintf(actor, sizeof(actor), "%s confirmed by reply %.300s from <%.254s>",
		 r.message_id[0] ? r.message_id : "(no Message-ID)",
		 in->msg->message_id ? in->msg->message_id : "(no Message-ID)", in->env->sender);
	if (apply(st, in->now, list_id, &r, actor) < 0 ||
	    store_request_close(st, r.id, "done", in->now) < 0)
		return -1;
	log_info("%s: %s%s%s of <%s> to %s confirmed by email: done", q, r.action,
		 r.mode[0] ? " " : "", r.mode, r.address, l->name);
	return 0;
}

long long command_request_list(struct store *st, long long request_id)
{
	struct request r;
	int rc = store_request_get(st, request_id, &r);

	return rc <= 0 ? rc : r.list_id;
}

int command_click(struct store *st, const struct token *tok, int trc, int act, long long now,
		  const char *tag, struct click *out)
{
	struct request r;
	char what[160], actor[400];
	int rc;

	if ((rc = store_request_get(st, (long long)tok->a, &r)) <= 0)
		return rc;
	snprintf(out->address, sizeof(out->address), "%.254s", r.address);
	snprintf(out->subject, sizeof(out->subject), "%s",
		 action_text(r.action, r.mode, what, sizeof(what)));
	if (strcmp(r.state, "done") == 0) {
		out->state = CLICK_ALREADY;
		return 0;
	}
	if (strcmp(r.state, "pending") != 0 || trc == -2 || r.expires_at <= now) {
		out->state = CLICK_EXPIRED;
		if (act && strcmp(r.state, "pending") == 0 &&
		    store_request_close(st, r.id, "expired", now) < 0)
			return -1;
		return 0;
	}
	out->state = CLICK_READY;
	if (!act)
		return 0;
	snprintf(actor, sizeof(actor), "%s confirmed on the web page",
		 r.message_id[0] ? r.message_id : "(no Message-ID)");
	if (apply(st, now, r.list_id, &r, actor) < 0 ||
	    store_request_close(st, r.id, "done", now) < 0)
		return -1;
	out->state = CLICK_DONE;
	log_info("%s: %s%s%s of <%s> to %s confirmed on the web page: done", tag, r.action,
		 r.mode[0] ? " " : "", r.mode, r.address, out->list ? out->list->name : "?");
	return 0;
}
