/*
 * classify.c - posts, proofs of authorship and holds (see classify.h). Must
 * never publish on the strength of a From header, never redistribute a
 * message that carries our own List-Id or X-Loop, an Auto-Submitted other
 * than "no", or an empty return path, and never answer any of them.
 */
#include "autoconf.h"

#include "classify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "log.h"
#include "recipient.h"
#include "store_archive.h"
#include "store_inbound.h"
#include "xalloc.h"

/* aligned: the domains D and FROM_DOMAIN are the same or one is a parent of
 * the other (DMARC's relaxed alignment, without a public-suffix list). */
static int aligned(const char *d, size_t dlen, const char *from_domain)
{
	size_t flen = strlen(from_domain);

	if (dlen == 0 || flen == 0)
		return 0;
	if (dlen == flen)
		return strncasecmp(d, from_domain, dlen) == 0;
	if (dlen < flen)
		return from_domain[flen - dlen - 1] == '.' &&
		       strncasecmp(d, from_domain + flen - dlen, dlen) == 0;
	return d[dlen - flen - 1] == '.' && strncasecmp(d + dlen - flen, from_domain, flen) == 0;
}

/* prop: the value of "NAME=" within the method clause [START, END), or NULL. */
static const char *prop(const char *start, const char *end, const char *name, size_t *len)
{
	size_t n = strlen(name);
	const char *p;

	for (p = start; p + n < end; p++) {
		if ((p == start || p[-1] == ' ' || p[-1] == '\t') && strncasecmp(p, name, n) == 0) {
			const char *v = p + n;
			*len = strcspn(v, " \t;");
			if (v + *len > end)
				*len = (size_t)(end - v);
			return v;
		}
	}
	return NULL;
}

/* One "method=pass ..." clause: does it prove FROM_DOMAIN? */
static int clause_proves(const char *c, const char *end, const char *from_domain)
{
	const char *v, *at;
	size_t len;

	while (c < end && (*c == ' ' || *c == '\t'))
		c++;
	if (strncasecmp(c, "dkim=pass", 9) == 0) {
		v = prop(c, end, "header.d=", &len);
		return v != NULL && aligned(v, len, from_domain);
	}
	if (strncasecmp(c, "spf=pass", 8) == 0) {
		v = prop(c, end, "smtp.mailfrom=", &len);
		if (v == NULL)
			return 0;
		at = memchr(v, '@', len);
		if (at != NULL) {
			len -= (size_t)(at + 1 - v);
			v = at + 1;
		}
		return aligned(v, len, from_domain);
	}
	return 0;
}

static int one_result_proves(const char *ar, const struct strv *trusted, const char *from_domain)
{
	const char *semi = strchr(ar, ';'), *c;
	size_t idlen, i;
	int trusted_id = 0;

	if (semi == NULL)
		return 0;
	idlen = strcspn(ar, " \t;");
	for (i = 0; i < trusted->n; i++)
		if (strlen(trusted->v[i]) == idlen && strncasecmp(ar, trusted->v[i], idlen) == 0)
			trusted_id = 1;
	if (!trusted_id)
		return 0;
	for (c = semi + 1; c != NULL && *c; c = strchr(c, ';') ? strchr(c, ';') + 1 : NULL) {
		const char *end = strchr(c, ';');
		if (clause_proves(c, end ? end : c + strlen(c), from_domain))
			return 1;
	}
	return 0;
}

int classify_auth_proves(const struct strv *auth_results, const struct strv *trusted,
			 const char *from)
{
	const char *at = from ? strrchr(from, '@') : NULL;
	size_t i;

	if (at == NULL || trusted->n == 0)
		return 0;
	for (i = 0; i < auth_results->n; i++)
		if (one_result_proves(auth_results->v[i], trusted, at + 1))
			return 1;
	return 0;
}

static const struct cfg_author *author_of(const struct cfg_list *l, const char *addr)
{
	size_t i;

	for (i = 0; addr != NULL && i < l->nauthors; i++)
		if (strcasecmp(l->authors[i].address, addr) == 0)
			return &l->authors[i];
	return NULL;
}

/* not_for_lists: why this message must never be redistributed, or NULL. */
static const char *not_for_lists(const struct config *cfg, const struct envelope *env,
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

static void new_msgid(const struct config *cfg, long long now, char *out, size_t len)
{
	unsigned char r[9];
	char host[256] = "localhost";
	size_t i;
	char hex[19];

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0, sizeof(r));
	for (i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	if (cfg->daemon.hostname == NULL)
		gethostname(host, sizeof(host) - 1);
	snprintf(out, len, "<parley.%llx.%s@%s>", (unsigned long long)now, hex,
		 cfg->daemon.hostname ? cfg->daemon.hostname : host);
}

static int publish_post(struct store *st, const struct classify_in *in, const struct cfg_list *l,
			const char *author_addr, const char *author_name)
{
	const struct message *m = in->msg;
	struct archive_new a;
	char msgid[300];
	long long list_id, id, n;

	if ((list_id = store_list_id(st, l->name)) < 0)
		return -1;
	new_msgid(in->cfg, in->now, msgid, sizeof(msgid));
	memset(&a, 0, sizeof(a));
	a.list_id = list_id;
	a.inbound_id = in->inbound_id;
	a.kind = "post";
	a.list_msgid = msgid;
	a.orig_msgid = m->message_id;
	a.author_addr = author_addr;
	a.author_name = author_name;
	a.subject = m->subject;
	a.text = m->text;
	a.raw = in->raw;
	a.size = in->len;
	a.now = in->now;
	if ((id = store_archive_add(st, &a)) < 0 ||
	    (n = store_deliveries_create(st, id, list_id, "post", in->now)) < 0)
		return -1;
	log_info("%s: post to %s by <%s> archived as %s, %lld copies queued", in->env->queue_id,
		 l->name, author_addr, msgid, n);
	return 0;
}

static int hold(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		const char *reason)
{
	long long list_id = l ? store_list_id(st, l->name) : 0;

	if (list_id < 0 || store_held_add(st, in->inbound_id, list_id, reason, in->now) < 0)
		return -1;
	log_info("%s: held for the owner of %s: %s", in->env->queue_id, l ? l->name : "(none)",
		 reason);
	return 0;
}

static int classify_post(struct store *st, const struct classify_in *in,
			 const struct rcpt_target *t)
{
	const struct message *m = in->msg;
	const struct cfg_author *au;
	const char *why = not_for_lists(in->cfg, in->env, m);
	char reason[400];

	if (why != NULL)
		return hold(st, in, t->list, why);
	if (t->author != NULL)
		return publish_post(st, in, t->list, t->author->address,
				    t->author->name ? t->author->name : m->from_name);
	au = author_of(t->list, m->from_addr);
	if (au != NULL && classify_auth_proves(&m->auth_results, &in->cfg->daemon.authserv_ids,
					       m->from_addr))
		return publish_post(st, in, t->list, au->address, au->name ? au->name : m->from_name);
	snprintf(reason, sizeof(reason),
		 "post from <%s> without proof of authorship (secret post address, or DKIM/SPF "
		 "from a trusted authserv-id)",
		 m->from_addr ? m->from_addr : "?");
	return hold(st, in, t->list, reason);
}

int classify_message(struct store *st, const struct classify_in *in)
{
	struct rcpt_target t;
	size_t i;

	for (i = 0; i < in->env->rcpts.n; i++) {
		if (recipient_resolve(in->cfg, in->env->rcpts.v[i], &t) < 0)
			continue;
		if (t.kind == RCPT_POST && classify_post(st, in, &t) < 0)
			return -1;
	}
	return 0;
}
