/*
 * moderate.c - holds and decisions by email (see moderate.h). Must never
 * publish on a token it did not make, nor decide a message twice, nor
 * answer an automatic message.
 */
#include "autoconf.h"

#include "moderate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "publish.h"
#include "reply.h"
#include "store_held.h"
#include "token.h"

int moderate_hold(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		  const char *kind, const char *reason, const char *author)
{
	struct held_new h;
	long long list_id = store_list_id(st, l->name), id;

	if (list_id < 0)
		return -1;
	memset(&h, 0, sizeof(h));
	h.inbound_id = in->inbound_id;
	h.list_id = list_id;
	h.reason = reason;
	h.state = "held";
	h.kind = kind;
	h.now = in->now;
	if ((id = store_held_add(st, &h)) < 0)
		return -1;
	log_info("%s: held (%s) for the owners of %s: %s", in->env->queue_id, kind, l->name,
		 reason);
	return id > 0 ? notify_owners(st, in, l, list_id, id, reason, author) : 0;
}

int moderate_publish(struct store *st, const struct config *cfg, const unsigned char *key,
		     const struct cfg_list *l, const struct held *h, const char *who, long long now,
		     const char *tag)
{
	struct envelope env;
	struct classify_in in;
	struct rcpt_target t;
	struct message m;
	char err[256];
	int rc;

	if (message_parse(h->raw, h->len, cfg->daemon.limits.header_count + 1, &m, err,
			  sizeof(err)) < 0) {
		log_warn("%s: held message %lld cannot be parsed: %s", tag, h->id, err);
		return 0;
	}
	memset(&env, 0, sizeof(env));
	snprintf(env.queue_id, sizeof(env.queue_id), "%s", tag);
	env.sender = h->sender;
	memset(&in, 0, sizeof(in));
	in.cfg = cfg;
	in.inbound_id = h->inbound_id;
	in.env = &env;
	in.msg = &m;
	in.raw = h->raw;
	in.len = h->len;
	in.now = now;
	in.key = key;
	in.approved = 1;
	memset(&t, 0, sizeof(t));
	t.list = l;
	t.kind = RCPT_LIST;
	if (strcmp(h->kind, "post") == 0) {
		struct publish_in p;
		classify_publish_in(&in, l, m.from_addr ? m.from_addr : h->sender, m.from_name, 0, &p);
		rc = publish_post(st, &p) < 0 ? -1 : 1;
	} else {
		rc = reply_classify(st, &in, &t, 0) < 0 ? -1 : 1;
	}
	if (rc > 0 && (store_held_decide(st, h->id, "held", "published", 0, now) < 0 ||
		       store_held_decided_by(st, h->id, who) < 0))
		rc = -1;
	message_free(&m);
	return rc;
}

/* decider: who the token's B names for list L: an owner, or the author. */
static void decider(const struct cfg_list *l, unsigned long b, char *out, size_t len)
{
	if (b >= 1 && b <= l->owners.n)
		snprintf(out, len, "owner %s by email", l->owners.v[b - 1]);
	else
		snprintf(out, len, "the post's author by email");
}

int moderate_decide(struct store *st, const struct classify_in *in, const struct rcpt_target *t)
{
	const char *q = in->env->queue_id, *why = reply_automatic(in);
	char want = t->kind == RCPT_APPROVE ? TOKEN_APPROVE : TOKEN_REJECT, who[ADDRESS_MAX + 40];
	struct token tok;
	struct held h;
	long long list_id;
	int trc, rc;

	if (why != NULL) {
		log_info("%s: to a moderation address, ignored: %s", q, why);
		return 0;
	}
	if (in->key == NULL || (trc = token_check(in->key, t->token, &tok, in->now)) == -1 ||
	    tok.kind != want) {
		log_info("%s: moderation with a token we did not make for %s: ignored", q,
			 t->list->name);
		return 0;
	}
	if (trc == -2) {
		log_info("%s: moderation token for held message %llu expired: use parley mod", q,
			 tok.a);
		return 0;
	}
	if ((list_id = store_list_id(st, t->list->name)) < 0 ||
	    (rc = store_held_get(st, (long long)tok.a, &h)) < 0)
		return -1;
	if (rc == 0 || h.list_id != list_id || strcmp(h.state, "held") != 0) {
		log_info("%s: held message %llu is %s: nothing to decide", q, tok.a,
			 rc == 0 ? "unknown" : h.state);
		if (rc > 0)
			held_free(&h);
		return 0;
	}
	decider(t->list, tok.b, who, sizeof(who));
	if (t->kind == RCPT_APPROVE) {
		rc = moderate_publish(st, in->cfg, in->key, t->list, &h, who, in->now, q);
		if (rc > 0)
			log_info("%s: held message %lld approved by %s: published", q, h.id, who);
	} else if ((rc = store_held_decide(st, h.id, "held", "rejected", 0, in->now)) > 0 &&
		   (rc = store_held_decided_by(st, h.id, who)) == 0) {
		log_info("%s: held message %lld rejected by %s", q, h.id, who);
		rc = notify_rejected(st, in, t->list, list_id, &h);
	}
	held_free(&h);
	return rc < 0 ? -1 : 0;
}
