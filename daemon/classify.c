/*
 * classify.c - posts, proofs of authorship, holds, confirmations, token
 * unsubscribes and the clicks of the web pages (see classify.h); what is
 * written to owners and authors is in notify.c. Must never publish on the
 * strength of a From header, never redistribute a message that carries our
 * own List-Id or X-Loop, an Auto-Submitted other than "no", or an empty
 * return path, and never answer any of them.
 */
#include "autoconf.h"

#include "classify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "autoreply.h"
#include "bounce.h"
#include "command.h"
#include "log.h"
#include "moderate.h"
#include "mailfmt.h"
#include "notify.h"
#include "publish.h"
#include "recipient.h"
#include "reply.h"
#include "store_held.h"
#include "store_sub.h"
#include "token.h"
#include "xalloc.h"

#define CONFIRM_PENDING_MAX 5 /* unconfirmed posts per author and list */

static const struct cfg_author *author_of(const struct cfg_list *l, const char *addr)
{
	size_t i;

	for (i = 0; addr != NULL && i < l->nauthors; i++)
		if (strcasecmp(l->authors[i].address, addr) == 0)
			return &l->authors[i];
	return NULL;
}

const char *classify_not_for_lists(const struct config *cfg, const struct envelope *env,
				   const struct message *m)
{
	size_t i;

	if (env->sender == NULL || env->sender[0] == '\0')
		return "empty return path (a bounce or an automatic message)";
	if (m->auto_submitted != NULL && strncasecmp(m->auto_submitted, "no", 2) != 0)
		return "Auto-Submitted (RFC 3834)";
	for (i = 0; i < cfg->nlists; i++) {
		const struct cfg_list *l = &cfg->lists[i];
		if (m->x_loop != NULL && strcasecmp(m->x_loop, l->address) == 0)
			return "our own X-Loop: a mail loop";
		if (m->list_id != NULL) {
			const char *at = strrchr(l->address, '@');
			char id[CONFIG_LIST_NAME_MAX + ADDRESS_MAX + 4];
			snprintf(id, sizeof(id), "<%s.%s>", l->name, at + 1);
			if (strcasestr(m->list_id, id) != NULL)
				return "our own List-Id: a mail loop";
		}
	}
	return NULL;
}

void classify_publish_in(const struct classify_in *in, const struct cfg_list *l,
			 const char *author_addr, const char *author_name, long long sub_id,
			 struct publish_in *out)
{
	*out = (struct publish_in){.cfg = in->cfg,
				   .list = l,
				   .msg = in->msg,
				   .raw = in->raw,
				   .len = in->len,
				   .inbound_id = in->inbound_id,
				   .author_addr = author_addr,
				   .author_name = author_name,
				   .subscriber_id = sub_id,
				   .now = in->now,
				   .tag = in->env->queue_id};
}

/* publish: archive IN's message as a new post of L by AUTHOR_ADDR
 * (AUTHOR_NAME) and queue its copies; the archive id or -1. */
static long long publish(struct store *st, const struct classify_in *in, const struct cfg_list *l,
			 const char *author_addr, const char *author_name)
{
	struct publish_in p;

	classify_publish_in(in, l, author_addr, author_name, 0, &p);
	return publish_post(st, &p);
}

/* hold: keep IN's post to L with REASON; tell the owners if TELL. 0 or -1. */
static int hold(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		const char *reason, int tell)
{
	struct held_new h;
	long long list_id;

	if (tell)
		return moderate_hold(st, in, l, "post", reason, NULL);
	if ((list_id = store_list_id(st, l->name)) < 0)
		return -1;
	memset(&h, 0, sizeof(h));
	h.inbound_id = in->inbound_id;
	h.list_id = list_id;
	h.reason = reason;
	h.state = "held";
	h.now = in->now;
	if (store_held_add(st, &h) < 0)
		return -1;
	log_info("%s: held for the owners of %s: %s", in->env->queue_id, l->name, reason);
	return 0;
}

/* confirm_request: hold IN's message for L and ask author AU to confirm
 * it. 0 or -1. */
static int confirm_request(struct store *st, const struct classify_in *in,
			   const struct cfg_list *l, const struct cfg_author *au)
{
	struct held_new h;
	struct token tok;
	char tokstr[TOKEN_MAX + 1];
	long long list_id = store_list_id(st, l->name), id, waiting;

	if (list_id < 0 || (waiting = store_held_awaiting(st, list_id, au->address, in->now)) < 0)
		return -1;
	if (waiting >= CONFIRM_PENDING_MAX)
		return hold(st, in, l,
			    "post from an author's address without proof, while earlier posts "
			    "from that address already wait for confirmation: no new request sent",
			    1);
	memset(&h, 0, sizeof(h));
	h.inbound_id = in->inbound_id;
	h.list_id = list_id;
	h.reason = "waiting for the author to confirm by email";
	h.state = "confirm";
	h.author_addr = au->address;
	h.expires_at = in->now + in->cfg->daemon.confirm_lifetime;
	h.now = in->now;
	if ((id = store_held_add(st, &h)) <= 0)
		return id < 0 ? -1 : 0;
	tok.kind = TOKEN_PUBLISH;
	tok.a = (unsigned long long)id;
	tok.b = 0;
	tok.expires = h.expires_at;
	token_make(in->key, &tok, tokstr);
	if (notify_confirm(st, in, l, list_id, id, au->address, tokstr, h.expires_at) < 0)
		return -1;
	log_info("%s: post to %s from <%s> without proof: held (%lld), confirmation requested "
		 "from the author", in->env->queue_id, l->name, au->address, id);
	return 0;
}

static int classify_post(struct store *st, const struct classify_in *in,
			 const struct rcpt_target *t)
{
	const struct message *m = in->msg;
	const struct cfg_author *au;
	const char *why = classify_not_for_lists(in->cfg, in->env, m);
	char reason[400], how[256];
	int rc;

	if (why == NULL)
		why = autoreply_why(in->raw, in->len);
	if (why != NULL)
		return hold(st, in, t->list, why, strstr(why, "loop") == NULL);
	if (t->author != NULL)
		return publish(st, in, t->list, t->author->address,
				    t->author->name ? t->author->name : m->from_name) < 0 ? -1 : 0;
	au = author_of(t->list, m->from_addr);
	if (au != NULL && authres_proves(in->raw, in->len, &in->cfg->daemon.authserv_ids,
					 au->address, au->proof, how, sizeof(how))) {
		log_info("%s: post to %s from <%s> proven by our border: %s", in->env->queue_id,
			 t->list->name, au->address, how);
		return publish(st, in, t->list, au->address,
				    au->name ? au->name : m->from_name) < 0 ? -1 : 0;
	}
	if (au != NULL && in->key != NULL)
		return confirm_request(st, in, t->list, au);
	if (au == NULL && (rc = reply_classify(st, in, t, 1)) != 0)
		return rc < 0 ? -1 : 0;	/* a reply sent to the post address */
	snprintf(reason, sizeof(reason),
		 "post from <%s> without proof of authorship (secret post address, or the "
		 "author's DKIM or chosen SPF pass from our border's trusted authserv-id)%s",
		 m->from_addr ? m->from_addr : "?",
		 au != NULL ? ", and no token key to ask the author" : ", not an author");
	return hold(st, in, t->list, reason, 1);
}

/* confirm_held: act on a valid confirmation of held post H (TOKEN_RC from
 * token_check). 0 or -1. */
static int confirm_held(struct store *st, const struct classify_in *in, const struct cfg_list *l,
			const struct held *h, int token_rc)
{
	const char *q = in->env->queue_id;
	const struct cfg_author *au = author_of(l, h->author_addr);
	struct classify_in hin = *in;
	struct message hm;
	char err[256];
	long long aid;
	int rc = 0;

	if (message_parse(h->raw, h->len, in->cfg->daemon.limits.header_count + 1, &hm, err,
			  sizeof(err)) < 0) {
		log_warn("%s: confirmation for held post %lld: cannot parse it: %s", q, h->id, err);
		return 0;
	}
	if (token_rc == -2 || h->expires_at <= in->now) {
		if (store_held_decide(st, h->id, "confirm", "expired", 0, in->now) > 0) {
			log_info("%s: confirmation for held post %lld came too late: expired, author "
				 "told", q, h->id);
			rc = notify_expired(st, in, l, h, &hm);
		}
	} else if (au == NULL) {
		log_warn("%s: confirmation for held post %lld: <%s> is no longer an author of %s: "
			 "not published", q, h->id, h->author_addr ? h->author_addr : "?", l->name);
	} else {
		hin.inbound_id = h->inbound_id;
		hin.msg = &hm;
		hin.raw = h->raw;
		hin.len = h->len;
		if ((aid = publish(st, &hin, l, au->address,
					au->name ? au->name : hm.from_name)) < 0 ||
		    store_held_decide(st, h->id, "confirm", "published", aid, in->now) < 0)
			rc = -1;
		else
			log_info("%s: held post %lld confirmed by its author by email: published", q,
				 h->id);
	}
	message_free(&hm);
	return rc;
}

/* classify_confirm: a message to L+confirm-TOKEN@. Answers nobody: a bad,
 * forged or spent token is logged and dropped. 0 or -1. */
static int classify_confirm(struct store *st, const struct classify_in *in,
			    const struct rcpt_target *t)
{
	const char *q = in->env->queue_id;
	const char *why = reply_automatic(in);
	struct token tok;
	struct held h;
	long long list_id;
	int trc, rc;

	if (why != NULL) {
		log_info("%s: to a confirmation address, ignored: %s", q, why);
		return 0;
	}
	if (in->key == NULL) {
		log_warn("%s: confirmation ignored: no token key", q);
		return 0;
	}
	trc = token_check(in->key, t->token, &tok, in->now);
	if ((list_id = store_list_id(st, t->list->name)) < 0)
		return -1;
	if (trc != -1 && tok.kind == TOKEN_REQUEST)
		return command_confirm(st, in, t->list, list_id, &tok, trc);
	if (trc == -1 || tok.kind != TOKEN_PUBLISH) {
		log_info("%s: confirmation with a token we did not make for %s: ignored", q,
			 t->list->name);
		return 0;
	}
	if ((rc = store_held_get(st, (long long)tok.a, &h)) <= 0)
		return rc < 0 ? -1 : 0;
	if (strcmp(h.state, "confirm") != 0 || h.list_id != list_id)
		log_info("%s: confirmation for held post %lld, which is %s now: nothing to do", q,
			 h.id, h.state);
	else
		rc = confirm_held(st, in, t->list, &h, trc);
	held_free(&h);
	return rc < 0 ? -1 : 0;
}

/* classify_unsubscribe: a message to L+unsubscribe-TOKEN@, the personal
 * address of every copy's List-Unsubscribe (design §5: one email, always
 * works, honoured before the next delivery). A valid token is honoured
 * whatever the message looks like (Auto-Submitted included: mail providers
 * send these for their users, and nothing is answered, so nothing can
 * loop); a token we did not make is logged and dropped. The command
 * address L+unsubscribe@ comes with the commands. 0 or -1. */
static int classify_unsubscribe(struct store *st, const struct classify_in *in,
				const struct rcpt_target *t)
{
	const char *q = in->env->queue_id;
	char addr[ADDRESS_MAX + 1], actor[ADDRESS_MAX + 64];
	struct token tok;
	long long list_id;
	int rc;

	if (t->token[0] == '\0')
		return 0;
	if (in->key == NULL) {
		log_warn("%s: to an unsubscribe address, ignored: no token key", q);
		return 0;
	}
	if ((list_id = store_list_id(st, t->list->name)) < 0)
		return -1;
	if (token_check(in->key, t->token, &tok, in->now) != 0 || tok.kind != TOKEN_UNSUBSCRIBE) {
		log_info("%s: unsubscribe with a token we did not make for %s: ignored", q,
			 t->list->name);
		return 0;
	}
	if ((rc = store_sub_address(st, (long long)tok.a, list_id, addr, sizeof(addr))) <= 0)
		return rc;
	snprintf(actor, sizeof(actor), "%s+unsubscribe from <%.254s>", t->list->name,
		 in->env->sender);
	if ((rc = store_sub_remove(st, list_id, addr, "email", actor, in->now)) < 0)
		return -1;
	log_info("%s: <%s> %s %s by email", q, addr,
		 rc > 0 ? "unsubscribed from" : "was already off", t->list->name);
	return 0;
}

/* list_by_id: the configured list whose store id is ID, or NULL. */
static const struct cfg_list *list_by_id(struct store *st, const struct config *cfg,
					 long long id)
{
	size_t i;

	for (i = 0; i < cfg->nlists; i++)
		if (store_list_id(st, cfg->lists[i].name) == id)
			return &cfg->lists[i];
	return NULL;
}

/* token_list: the store id of the list that the row named by TOK (a
 * subscriber, a held post) belongs to; 0 if there is none, -1 on error. */
static long long token_list(struct store *st, const struct token *tok)
{
	struct held h;
	long long id;
	int rc;

	if (tok->kind == TOKEN_UNSUBSCRIBE)
		return store_sub_list_of(st, (long long)tok->a);
	if (tok->kind == TOKEN_REQUEST)
		return command_request_list(st, (long long)tok->a);
	if ((rc = store_held_get(st, (long long)tok->a, &h)) <= 0)
		return rc;
	id = h.list_id;
	held_free(&h);
	return id;
}

static int click_unsubscribe(struct store *st, const struct token *tok, long long list_id,
			     int act, long long now, const char *tag, struct click *out)
{
	struct sub sub;
	int rc = store_sub_address(st, (long long)tok->a, list_id, out->address,
				   sizeof(out->address));

	if (rc <= 0)
		return rc;
	if ((rc = store_sub_get(st, list_id, out->address, &sub)) <= 0)
		return rc;
	out->state = sub.status == SUB_UNSUBSCRIBED ? CLICK_ALREADY : CLICK_READY;
	sub_clear(&sub);
	if (out->state != CLICK_READY || !act)
		return 0;
	if (store_sub_remove(st, list_id, out->address, "one-click", "web", now) < 0)
		return -1;
	out->state = CLICK_DONE;
	log_info("%s: <%s> unsubscribed from %s by one click", tag, out->address, out->list->name);
	return 0;
}

static int click_publish(struct store *st, const struct classify_in *in, int trc,
			 const struct token *tok, long long list_id, int act, struct click *out)
{
	struct held h;
	struct message hm;
	char err[256];
	int rc = store_held_get(st, (long long)tok->a, &h);

	if (rc <= 0)
		return rc;
	if (h.list_id == list_id &&
	    message_parse(h.raw, h.len, in->cfg->daemon.limits.header_count + 1, &hm, err,
			  sizeof(err)) == 0) {
		char *s = mailfmt_clean(hm.subject ? hm.subject : "(no subject)", 200);
		snprintf(out->subject, sizeof(out->subject), "%s", s);
		free(s);
		message_free(&hm);
		if (strcmp(h.state, "published") == 0)
			out->state = CLICK_ALREADY;
		else if (strcmp(h.state, "expired") == 0 ||
			 (strcmp(h.state, "confirm") == 0 && (trc == -2 || h.expires_at <= in->now)))
			out->state = CLICK_EXPIRED;
		else if (strcmp(h.state, "confirm") == 0)
			out->state = CLICK_READY;
	}
	if (act && strcmp(h.state, "confirm") == 0 && h.list_id == list_id &&
	    (out->state == CLICK_READY || out->state == CLICK_EXPIRED)) {
		if (confirm_held(st, in, out->list, &h, trc) < 0)
			rc = -1;
		else if (out->state == CLICK_READY)
			out->state = CLICK_DONE;
	}
	held_free(&h);
	return rc < 0 ? -1 : 0;
}

int classify_click(struct store *st, const struct config *cfg, const unsigned char *key,
		   const char *token, int act, long long now, const char *tag, struct click *out)
{
	struct envelope env;
	struct classify_in in;
	struct token tok;
	long long list_id;
	int trc;

	memset(out, 0, sizeof(*out));
	if (key == NULL || (trc = token_check(key, token, &tok, now)) == -1 ||
	    (tok.kind != TOKEN_UNSUBSCRIBE && tok.kind != TOKEN_PUBLISH && tok.kind != TOKEN_REQUEST))
		return 0;
	out->kind = tok.kind;
	if ((list_id = token_list(st, &tok)) <= 0)
		return list_id < 0 ? -1 : 0;
	if ((out->list = list_by_id(st, cfg, list_id)) == NULL)
		return 0;
	if (tok.kind == TOKEN_REQUEST)
		return command_click(st, &tok, trc, act, now, tag, out);
	if (tok.kind == TOKEN_UNSUBSCRIBE)
		return trc == 0 ? click_unsubscribe(st, &tok, list_id, act, now, tag, out) : 0;
	memset(&env, 0, sizeof(env));
	snprintf(env.queue_id, sizeof(env.queue_id), "%s", tag);
	memset(&in, 0, sizeof(in));
	in.cfg = cfg;
	in.env = &env;
	in.now = now;
	in.key = key;
	return click_publish(st, &in, trc, &tok, list_id, act, out);
}

int classify_message(struct store *st, const struct classify_in *in)
{
	struct rcpt_target t;
	size_t i;

	for (i = 0; i < in->env->rcpts.n; i++) {
		if (recipient_resolve(in->cfg, in->env->rcpts.v[i], &t) < 0)
			continue;
		if (t.kind == RCPT_BOUNCE) {	/* before any rule about empty return paths */
			if (bounce_classify(st, in, &t) < 0)
				return -1;
			continue;
		}
		if (t.kind == RCPT_LIST || t.kind == RCPT_OWNER) {
			int rc = bounce_report_to_list(st, in, t.list);
			if (rc < 0)
				return -1;
			if (rc > 0)
				continue;	/* a complaint: never answered, never relayed */
		}
		if ((t.kind == RCPT_LIST || t.kind == RCPT_REPLY || t.kind == RCPT_POST) &&
		    bounce_revive(st, in, t.list) < 0)
			return -1;
		if (t.kind == RCPT_POST && classify_post(st, in, &t) < 0)
			return -1;
		if (t.kind == RCPT_CONFIRM && classify_confirm(st, in, &t) < 0)
			return -1;
		if (t.kind == RCPT_UNSUBSCRIBE && t.token[0] != '\0' &&
		    classify_unsubscribe(st, in, &t) < 0)
			return -1;
		if ((t.kind == RCPT_LIST || t.kind == RCPT_REPLY) && reply_classify(st, in, &t, 0) < 0)
			return -1;
		if ((t.kind == RCPT_APPROVE || t.kind == RCPT_REJECT) &&
		    moderate_decide(st, in, &t) < 0)
			return -1;
		if (command_classify(st, in, &t) < 0)
			return -1;
	}
	return 0;
}
