/*
 * reply.c - who may reply, and where a reply goes (see reply.h); the
 * threading itself is lib/thread.c, the archive row and copies
 * lib/publish.c. Must never redistribute an automatic message, never send a
 * replier their own reply, never answer the sender of a refused one.
 */
#include "autoconf.h"

#include "reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "autoreply.h"
#include "log.h"
#include "moderate.h"
#include "publish.h"
#include "store_archive.h"
#include "store_sub.h"
#include "thread.h"
#include "token.h"

/* Who the replier is to the list. */
struct replier {
	const char *addr;		/* From (or the envelope sender) */
	const char *name;
	long long sub_id;		/* an active subscriber: its id, else 0 */
	int member;			/* may reply without a hold */
	char why[400];			/* when not a member: why */
};

const char *reply_automatic(const struct classify_in *in)
{
	const char *why = classify_not_for_lists(in->cfg, in->env, in->msg);

	return why ? why : autoreply_why(in->raw, in->len);
}

/* is_author: ADDR is one of L's configured authors. */
static int is_author(const struct cfg_list *l, const char *addr)
{
	size_t i;

	for (i = 0; addr && i < l->nauthors; i++)
		if (strcasecmp(l->authors[i].address, addr) == 0)
			return 1;
	return 0;
}

/* who: R for IN's message to L; TOK_SUB the token's subscriber (0 none).
 * 0 or -1. */
static int who(struct store *st, const struct classify_in *in, const struct cfg_list *l,
	       long long list_id, long long tok_sub, struct replier *r)
{
	char tok_addr[ADDRESS_MAX + 1] = "";

	memset(r, 0, sizeof(*r));
	r->addr = in->msg->from_addr ? in->msg->from_addr : in->env->sender;
	r->name = in->msg->from_name;
	if ((r->sub_id = store_sub_active_id(st, list_id, r->addr)) < 0)
		return -1;
	if (tok_sub > 0 && store_sub_address(st, tok_sub, list_id, tok_addr, sizeof(tok_addr)) < 0)
		return -1;
	r->member = r->sub_id > 0 || is_author(l, r->addr);
	if (r->member)
		return 0;
	if (tok_addr[0] != '\0')
		snprintf(r->why, sizeof(r->why),
			 "a reply sent with <%.100s>'s reply address from <%.60s>, which does not "
			 "read the list", tok_addr, r->addr ? r->addr : "?");
	else
		snprintf(r->why, sizeof(r->why), "a reply from <%.100s>, who does not read the list",
			 r->addr ? r->addr : "?");
	return 0;
}

/* token_parent: the archived message a valid reply token of list LIST_ID
 * names (and its subscriber in *SUB); 0 for none (forged, expired, of
 * another list: logged), -1 on error. */
static long long token_parent(struct store *st, const struct classify_in *in,
			      const struct rcpt_target *t, long long list_id, long long *sub)
{
	struct archive_row row;
	struct token tok;
	int rc;

	*sub = 0;
	if (t->kind != RCPT_REPLY || in->key == NULL)
		return 0;
	if (token_check(in->key, t->token, &tok, in->now) != 0 || tok.kind != TOKEN_REPLY) {
		log_info("%s: reply with a token we did not make for %s: taken as a message to "
			 "the list", in->env->queue_id, t->list->name);
		return 0;
	}
	if ((rc = store_archive_row(st, (long long)tok.a, &row)) < 0)
		return -1;
	if (rc == 0 || row.list_id != list_id) {
		archive_row_clear(&row);
		return 0;
	}
	archive_row_clear(&row);
	*sub = (long long)tok.b;
	return (long long)tok.a;
}

static long long do_publish(struct store *st, const struct classify_in *in,
			    const struct cfg_list *l, const struct replier *r, long long parent)
{
	struct publish_in p;

	classify_publish_in(in, l, r->addr, r->name, r->sub_id, &p);
	return parent > 0 ? publish_reply(st, &p, parent) : publish_post(st, &p);
}

/* new_thread: IN's message threads to nothing. */
static int new_thread(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		      const struct replier *r)
{
	if (in->approved || (r->member && l->subscriber_posts))
		return do_publish(st, in, l, r, 0) < 0 ? -1 : 1;
	return moderate_hold(st, in, l, "thread",
			     r->member ? "a new thread from a subscriber: this list does not let "
					 "subscribers start threads (subscriber_posts)"
				       : r->why,
			     NULL) < 0
		       ? -1
		       : 1;
}

int reply_classify(struct store *st, const struct classify_in *in, const struct rcpt_target *t,
		   int via_post)
{
	const struct cfg_list *l = t->list;
	const char *why = reply_automatic(in), *how;
	struct thread_in ti;
	struct archive_row parent;
	struct replier r;
	long long list_id, tok_sub = 0, pid;
	int rc, policy;

	if (why != NULL) {
		log_info("%s: to %s, dropped (never redistributed nor answered): %s",
			 in->env->queue_id, l->name, why);
		return 1;
	}
	if ((list_id = store_list_id(st, l->name)) < 0)
		return -1;
	thread_in_set(&ti, l, list_id, in->msg, in->now);
	if ((ti.token_archive_id = token_parent(st, in, t, list_id, &tok_sub)) < 0 ||
	    (pid = thread_find(st, &ti, &how)) < 0 || who(st, in, l, list_id, tok_sub, &r) < 0)
		return -1;
	if (pid == 0 && via_post)
		return 0;
	if (!r.member && !in->approved && l->outsiders != OUTSIDERS_ACCEPT) {
		if (l->outsiders == OUTSIDERS_REJECT) {
			log_info("%s: to %s, dropped (outsiders = reject): %s", in->env->queue_id,
				 l->name, r.why);
			return 1;
		}
		return moderate_hold(st, in, l, pid ? "reply" : "thread", r.why, NULL) < 0 ? -1 : 1;
	}
	if (pid == 0)
		return new_thread(st, in, l, &r);
	log_debug("%s: threaded by %s", in->env->queue_id, how);
	if ((rc = store_archive_row(st, pid, &parent)) <= 0)
		return rc < 0 ? -1 : new_thread(st, in, l, &r);
	policy = publish_policy(l, parent.root_author);
	if (policy == REPLY_MODERATED && !in->approved) {
		rc = moderate_hold(st, in, l, "reply",
				   "a reply in a moderated thread: the owners or the post's author "
				   "decide",
				   parent.root_author);
		archive_row_clear(&parent);
		return rc < 0 ? -1 : 1;
	}
	archive_row_clear(&parent);
	return do_publish(st, in, l, &r, pid) < 0 ? -1 : 1;
}
