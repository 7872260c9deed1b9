/*
 * bounce.c - bounces of our copies: DSNs and complaints to L+bounce-TOKEN@,
 * 5xx at RCPT, the probe at the threshold, disabling and enabling (see
 * bounce.h).
 *
 * Must never act on a bounce whose token we did not make or whose copy was
 * never sent to a subscriber of that list, never trust a bounce's text to
 * name the subscriber, never answer a bounce, and never write anything
 * outside the caller's transaction.
 */
#include "autoconf.h"

#include "bounce.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "autoreply.h"
#include "dsn.h"
#include "log.h"
#include "mailfmt.h"
#include "notice.h"
#include "notify.h"
#include "store_bounce.h"
#include "store_held.h"
#include "store_sub.h"
#include "subaddr.h"
#include "token.h"
#include "xalloc.h"

/* What one bounce says about one copy. */
struct bounce_fact {
	const char *tag;	/* for the log: the queue id, or "delivery" */
	const char *source;	/* "dsn", "rcpt", "arf" */
	enum dsn_class cls;	/* DSN_HARD, DSN_SOFT; DSN_CLASS_NONE for a complaint */
	const char *status;
	const char *diag;
	const char *feedback;	/* ARF Feedback-Type, or "" */
	long long now;
};

static const struct cfg_list *list_of(struct store *st, const struct config *cfg, long long id)
{
	size_t i;

	for (i = 0; i < cfg->nlists; i++)
		if (store_list_id(st, cfg->lists[i].name) == id)
			return &cfg->lists[i];
	return NULL;
}

static void list_addr(const struct config *cfg, const struct cfg_list *l, const char *what,
		      const char *token, char *out, size_t len)
{
	if (subaddr_list(out, len, cfg, l, what, token) < 0)
		snprintf(out, len, "%s", l->address);
}

/* queue_notice: compose and queue a notice of KIND from L's owner address
 * to TO; its id, or -1. */
static long long queue_notice(struct store *st, const struct config *cfg,
			      const struct cfg_list *l, long long list_id, const char *kind,
			      const struct strv *to, const char *subject, const char *body,
			      long long now)
{
	struct notice_msg nm;
	struct notice_new nn;
	char msgid[300], from[ADDRESS_MAX + 1], name[CONFIG_LIST_NAME_MAX + 32];
	size_t len;
	char *raw;
	long long id;

	list_addr(cfg, l, "owner", NULL, from, sizeof(from));
	snprintf(name, sizeof(name), "%s list", l->name);
	notice_msgid(cfg, now, msgid, sizeof(msgid));
	memset(&nm, 0, sizeof(nm));
	nm.list = l;
	nm.from_name = name;
	nm.from_addr = from;
	nm.to = to;
	nm.subject = subject;
	nm.msgid = msgid;
	nm.auto_submitted = "auto-generated";
	nm.date = now;
	nm.body = body;
	raw = notice_compose(&nm, &len);
	memset(&nn, 0, sizeof(nn));
	nn.list_id = list_id;
	nn.kind = kind;
	nn.sender = "";
	nn.raw = raw;
	nn.len = len;
	nn.rcpts = to;
	nn.now = now;
	id = store_notice_add(st, &nn);
	free(raw);
	return id;
}

/* send_probe: the probe to the subscriber of copy C: a notice whose
 * envelope sender is L+bounce-TOKEN@ naming the probe's own copy. 0 or -1. */
static int send_probe(struct store *st, const struct config *cfg, const unsigned char *key,
		      const struct cfg_list *l, const struct bounce_copy *c, double score,
		      long long now, const char *tag)
{
	struct strv to = {NULL, 0};
	struct mbuf b = {0};
	struct token tok = {TOKEN_BOUNCE, 0, 0, 0};
	char subject[300], sender[ADDRESS_MAX + 1], tokstr[TOKEN_MAX + 1];
	long long nid, did;
	int rc = -1;

	strv_push(&to, c->address);
	snprintf(subject, sizeof(subject), "Mail to you from the %s list bounces", l->name);
	notify_addf(&b,
		    "Copies of the %s list (%s) sent to your address, %s,\n"
		    "have come back undelivered (bounce score %.1f).\n\n"
		    "This message tests whether your address still takes mail. If you read\n"
		    "it, nothing needs doing: you stay subscribed. If it bounces too, your\n"
		    "subscription is disabled (not removed); mail to the list from your\n"
		    "address enables it again.\n",
		    l->name, l->address, c->address, score);
	nid = queue_notice(st, cfg, l, c->list_id, "probe", &to, subject, b.p, now);
	if (nid > 0 && (did = store_bounce_notice_subscriber(st, nid, c->subscriber_id,
							     c->address)) > 0) {
		tok.a = (unsigned long long)did;
		token_make(key, &tok, tokstr);
		if (subaddr_list(sender, sizeof(sender), cfg, l, "bounce", tokstr) == 0 &&
		    store_bounce_notice_sender(st, nid, sender) == 0 &&
		    store_bounce_probe_sent(st, c->subscriber_id, did, now) >= 0) {
			log_info("%s: <%s> of %s reached bounce score %.1f: probe queued (copy %lld)",
				 tag, c->address, l->name, score, did);
			rc = 0;
		}
	}
	mbuf_free(&b);
	strv_free(&to);
	return rc;
}

/* tell_owners: the subscriber of copy C was disabled. 0 or -1. */
static int tell_owners(struct store *st, const struct config *cfg, const struct cfg_list *l,
		       const struct bounce_copy *c, const struct bounce_fact *f)
{
	struct mbuf b = {0};
	char subject[300];
	long long id;

	if (l->owners.n == 0) {
		log_info("%s: list %s has no owners to tell", f->tag, l->name);
		return 0;
	}
	snprintf(subject, sizeof(subject), "%s: <%s> disabled for bouncing", l->name, c->address);
	notify_addf(&b,
		    "The subscription of <%s> to %s is disabled: copies to it kept\n"
		    "bouncing, and so did the probe sent to it at the bounce threshold\n"
		    "(%.1f).\n\n"
		    "  Last bounce:  %s %s\n"
		    "  Diagnostic:   %.200s\n\n"
		    "No more copies go to it. It is enabled again when mail from that\n"
		    "address reaches the list, or by 'parley sub add %s %s --no-confirm'.\n"
		    "Its history: 'parley bounces %s %s'.\n",
		    c->address, l->name, l->bounce_threshold,
		    f->cls == DSN_CLASS_NONE ? "complaint" : dsn_class_name(f->cls),
		    f->status[0] ? f->status : "(no status code)", f->diag[0] ? f->diag : "(none)",
		    l->name, c->address, l->name, c->address);
	id = queue_notice(st, cfg, l, c->list_id, "disabled", &l->owners, subject, b.p, f->now);
	mbuf_free(&b);
	return id < 0 ? -1 : 0;
}

/* complaint: the subscriber of copy C complained (ARF): unsubscribe. */
static int complaint(struct store *st, const struct cfg_list *l, const struct bounce_copy *c,
		     const struct bounce_fact *f)
{
	struct bounce_new bn;
	struct bounce_outcome o;
	char actor[DSN_FEEDBACK_MAX + 64];
	int rc;

	bn = (struct bounce_new){.copy = c, .source = "arf", .cls = DSN_CLASS_NONE,
				 .status = "", .diag = f->feedback, .threshold = l->bounce_threshold,
				 .now = f->now};
	if (store_bounce_add(st, &bn, &o) < 0)
		return -1;
	snprintf(actor, sizeof(actor), "feedback report (%s) about copy %lld",
		 f->feedback[0] ? f->feedback : "abuse", c->delivery_id);
	if ((rc = store_sub_remove(st, c->list_id, c->address, "complaint", actor, f->now)) < 0)
		return -1;
	log_info("%s: complaint (%s) about copy %lld: <%s> %s %s", f->tag,
		 f->feedback[0] ? f->feedback : "abuse", c->delivery_id, c->address,
		 rc > 0 ? "unsubscribed from" : "was already off", l->name);
	return 0;
}

/* score: bounce F of copy C, by the rules; then the probe or the disable. */
static int score(struct store *st, const struct config *cfg, const unsigned char *key,
		 const struct cfg_list *l, const struct bounce_copy *c, const struct bounce_fact *f)
{
	struct bounce_new bn;
	struct bounce_outcome o;
	char actor[128];
	int rc;

	if (f->cls == DSN_CLASS_NONE)
		return complaint(st, l, c, f);
	bn = (struct bounce_new){.copy = c, .source = f->source, .cls = f->cls,
				 .status = f->status, .diag = f->diag,
				 .threshold = l->bounce_threshold, .now = f->now};
	if (store_bounce_add(st, &bn, &o) < 0)
		return -1;
	log_info("%s: %s bounce (%s%s%s) of copy %lld to <%s> of %s: %s, score %.1f%s", f->tag,
		 dsn_class_name(f->cls), f->source, f->status[0] ? " " : "", f->status,
		 c->delivery_id, c->address, l->name,
		 !o.active ? "not active, not scored" : o.scored ? "scored" : "not scored (one a day)",
		 o.score, c->probe ? ", a bounce of the probe" : "");
	if (o.disable) {
		snprintf(actor, sizeof(actor), "its probe (copy %lld) bounced", c->delivery_id);
		if ((rc = store_bounce_disable(st, c->subscriber_id, actor, f->now)) < 0)
			return -1;
		if (rc > 0) {
			log_info("%s: <%s> of %s disabled: the probe bounced", f->tag, c->address,
				 l->name);
			return tell_owners(st, cfg, l, c, f);
		}
		return 0;
	}
	if (o.probe_due && key != NULL)
		return send_probe(st, cfg, key, l, c, o.score, f->now, f->tag);
	return 0;
}

/* the_rcpt: the recipient of report R that copy C is about: the one with
 * C's address, else the first that failed; NULL if none failed. */
static const struct dsn_rcpt *the_rcpt(const struct dsn_report *r, const struct bounce_copy *c)
{
	const struct dsn_rcpt *first = NULL;
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (r->rcpt[i].action != DSN_FAILED)
			continue;
		if (strcasecmp(r->rcpt[i].addr, c->address) == 0)
			return &r->rcpt[i];
		if (first == NULL)
			first = &r->rcpt[i];
	}
	return first;
}

/* the_copy: 1 and C filled if TOKEN names a copy of list L that was sent to
 * a subscriber; 0 if it does not (logged: counts for nothing); -1. */
static int the_copy(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		    const char *token, struct bounce_copy *c)
{
	const char *q = in->env->queue_id;
	struct token tok;
	long long list_id;
	int rc;

	if (in->key == NULL) {
		log_warn("%s: bounce ignored: no token key", q);
		return 0;
	}
	if (token_check(in->key, token, &tok, in->now) != 0 || tok.kind != TOKEN_BOUNCE) {
		log_info("%s: bounce with a token we did not make for %s: ignored", q, l->name);
		return 0;
	}
	if ((list_id = store_list_id(st, l->name)) < 0 ||
	    (rc = store_bounce_copy(st, (long long)tok.a, c)) < 0)
		return -1;
	if (rc == 0 || c->list_id != list_id) {
		log_info("%s: bounce about copy %llu, which %s: ignored", q, tok.a,
			 rc == 0 ? "was never sent to a subscriber" : "is not of this list");
		return 0;
	}
	return 1;
}

int bounce_classify(struct store *st, const struct classify_in *in, const struct rcpt_target *t)
{
	const char *q = in->env->queue_id;
	struct dsn_report *r;
	const struct dsn_rcpt *one;
	struct bounce_copy c;
	struct bounce_fact f;
	int rc;

	if ((rc = the_copy(st, in, t->list, t->token, &c)) <= 0)
		return rc;
	r = xcalloc(1, sizeof(*r));
	memset(&f, 0, sizeof(f));
	f.tag = q;
	f.now = in->now;
	f.status = f.diag = f.feedback = "";
	if (dsn_parse(in->raw, in->len, r) < 0 || r->kind == DSN_NONE) {
		log_info("%s: to the bounce address of copy %lld: not a report understood here: "
			 "ignored", q, c.delivery_id);
	} else if (r->kind == DSN_COMPLAINT) {
		f.source = "arf";
		f.cls = DSN_CLASS_NONE;
		f.feedback = r->feedback_type;
		rc = score(st, in->cfg, in->key, t->list, &c, &f);
	} else if ((one = the_rcpt(r, &c)) == NULL) {
		log_info("%s: %s report (%s) about copy %lld: not a failure, counts for nothing", q,
			 dsn_kind_name(r->kind), dsn_form_name(r->form), c.delivery_id);
	} else {
		f.source = "dsn";
		f.cls = one->cls;
		f.status = one->status;
		f.diag = one->diag;
		rc = score(st, in->cfg, in->key, t->list, &c, &f);
	}
	free(r);
	return rc < 0 ? -1 : 0;
}

/* find_ci: the first place of NEEDLE (lower case) in the N bytes at HAY,
 * ignoring case, or NULL. */
static const char *find_ci(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle), i, j;

	for (i = 0; k > 0 && i + k <= n; i++) {
		for (j = 0; j < k && tolower((unsigned char)hay[i + j]) == needle[j]; j++)
			;
		if (j == k)
			return hay + i;
	}
	return NULL;
}

/* token_after: the token characters (base32, any case) at P (at most
 * TOKEN_MAX, before END) into OUT; their count. */
static size_t token_after(const char *p, const char *end, char out[TOKEN_MAX + 1])
{
	size_t n = 0;

	while (p + n < end && n < TOKEN_MAX &&
	       (isalpha((unsigned char)p[n]) || (p[n] >= '2' && p[n] <= '7'))) {
		out[n] = p[n];
		n++;
	}
	out[n] = '\0';
	return n;
}

int bounce_report_to_list(struct store *st, const struct classify_in *in,
			  const struct cfg_list *l)
{
	const char *at = strchr(l->address, '@'), *p, *end = in->raw + in->len;
	char needle[ADDRESS_MAX + 16], tok[TOKEN_MAX + 1];
	struct dsn_report *r;
	struct bounce_copy c;
	struct bounce_fact f;
	struct token tk;
	long long list_id;
	int rc = 0, found = 0;
	size_t i;

	if (in->key == NULL || at == NULL)
		return 0;
	snprintf(needle, sizeof(needle), "%.*s%cbounce-", (int)(at - l->address), l->address,
		 in->cfg->daemon.delimiter);
	for (i = 0; needle[i] != '\0'; i++)
		needle[i] = (char)tolower((unsigned char)needle[i]);
	if (find_ci(in->raw, in->len, needle) == NULL)
		return 0;	/* the cheap test first: none of our bounce addresses in it */
	r = xcalloc(1, sizeof(*r));
	if (dsn_parse(in->raw, in->len, r) < 0 || r->kind != DSN_COMPLAINT ||
	    (list_id = store_list_id(st, l->name)) < 0) {
		free(r);
		return 0;
	}
	for (p = in->raw; !found && (p = find_ci(p, (size_t)(end - p), needle)) != NULL;
	     p += strlen(needle)) {
		if (token_after(p + strlen(needle), end, tok) == 0 ||
		    token_check(in->key, tok, &tk, in->now) != 0 || tk.kind != TOKEN_BOUNCE)
			continue;
		if ((rc = store_bounce_copy(st, (long long)tk.a, &c)) < 0)
			break;
		found = rc > 0 && c.list_id == list_id;
	}
	if (found) {
		memset(&f, 0, sizeof(f));
		f.tag = in->env->queue_id;
		f.source = "arf";
		f.cls = DSN_CLASS_NONE;
		f.status = f.diag = "";
		f.feedback = r->feedback_type;
		f.now = in->now;
		log_info("%s: a feedback report to %s names copy %lld by its bounce address",
			 f.tag, l->name, c.delivery_id);
		rc = complaint(st, l, &c, &f);
	}
	free(r);
	return rc < 0 ? -1 : found;
}

/* rcpt_status: the first enhanced status code (RFC 3463) in a relay's
 * reply TEXT ("RCPT TO: 550 5.1.1 <a@b>: ..."), or "", into OUT. */
static void rcpt_status(const char *text, char *out, size_t len)
{
	const char *p;
	size_t n = 0;

	out[0] = '\0';
	for (p = text; *p != '\0'; p++)
		if ((p[0] == '4' || p[0] == '5') && p[1] == '.' && isdigit((unsigned char)p[2]) &&
		    (p == text || p[-1] == ' '))
			break;
	if (*p == '\0')
		return;
	while (n + 1 < len && (isdigit((unsigned char)p[n]) || p[n] == '.'))
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

int bounce_at_rcpt(struct store *st, const struct config *cfg, const unsigned char *key,
		   long long delivery_id, const char *text, long long now)
{
	const struct cfg_list *l;
	struct bounce_copy c;
	struct bounce_fact f;
	char status[DSN_STATUS_MAX], diag[DSN_DIAG_MAX];
	int rc;

	if ((rc = store_bounce_copy(st, delivery_id, &c)) <= 0)
		return rc;
	if ((l = list_of(st, cfg, c.list_id)) == NULL)
		return 0;	/* a list no longer configured */
	rcpt_status(text ? text : "", status, sizeof(status));
	snprintf(diag, sizeof(diag), "%s", text ? text : "");
	memset(&f, 0, sizeof(f));
	f.tag = "delivery";
	f.source = "rcpt";
	f.cls = DSN_HARD;
	f.status = status;
	f.diag = diag;
	f.feedback = "";
	f.now = now;
	return score(st, cfg, key, l, &c, &f);
}

int bounce_revive(struct store *st, const struct classify_in *in, const struct cfg_list *l)
{
	const char *who[2] = {in->env->sender, in->msg->from_addr};
	char actor[ADDRESS_MAX + 64], addr[ADDRESS_MAX + 1], err[ADDRESS_ERR_MAX];
	long long list_id;
	int i, rc;

	if (classify_not_for_lists(in->cfg, in->env, in->msg) != NULL ||
	    autoreply_why(in->raw, in->len) != NULL)
		return 0;
	if ((list_id = store_list_id(st, l->name)) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (who[i] == NULL || who[i][0] == '\0' ||
		    address_parse_spec(who[i], addr, err, sizeof(err)) < 0)
			continue;
		snprintf(actor, sizeof(actor), "mail from <%.254s>", addr);
		if ((rc = store_bounce_enable(st, list_id, addr, "mail", actor, in->now)) < 0)
			return -1;
		if (rc > 0)
			log_info("%s: <%s> of %s was disabled for bouncing: mail from it came, "
				 "enabled again", in->env->queue_id, addr, l->name);
	}
	return 0;
}
