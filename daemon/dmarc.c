/*
 * dmarc.c - DMARC policy lookups for From rewriting (see dmarc.h).
 *
 * One res_state per lookup (res_ninit, res_nclose), so that threads never
 * share resolver state; with daemon.resolver its one server replaces the
 * system's. Answers are parsed with libresolv's ns_* functions, bounded by
 * the answer buffer. The cache is a fixed array: a full cache drops the
 * entry that expires first.
 *
 * Must never treat a failed lookup as "no policy" (that would keep an
 * author's From that the receiver then rejects), never block without a
 * bound (retrans and retry are set), and never ask more than
 * DMARC_WALK_MAX names for one domain.
 */
#include "autoconf.h"

#include "dmarc.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mailfmt.h"
#include "xalloc.h"

#define ANSWER_MAX   4096
#define RECORD_MAX   2048	/* octets of one TXT record's strings joined */
#define DOMAIN_MAX   253
#define RES_RETRANS  2		/* seconds before a query is sent again */
#define RES_RETRY    1		/* sends per server */

struct entry {
	char domain[DOMAIN_MAX + 1];	/* "" : free */
	enum dmarc_policy policy;
	long long expires;
};

struct dmarc_cache {
	pthread_mutex_t mu;
	struct entry e[DMARC_CACHE_MAX];
};

struct dmarc_cache *dmarc_cache_new(void)
{
	struct dmarc_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void dmarc_cache_free(struct dmarc_cache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* ---- records ---- */

/* tag_value: the value of tag NAME in the record R (tags "n=v" separated
 * by ';', white space around them allowed) into OUT; 0, or -1 if absent. */
static int tag_value(const char *r, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	const char *p = r;

	while (*p != '\0') {
		const char *end = strchr(p, ';'), *eq;
		size_t tl;
		if (end == NULL)
			end = p + strlen(p);
		while (p < end && mailfmt_is_wsp(*p))
			p++;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL) {
			const char *k = eq;
			while (k > p && mailfmt_is_wsp(k[-1]))
				k--;
			if ((size_t)(k - p) == n && strncasecmp(p, name, n) == 0) {
				const char *v = eq + 1, *ve = end;
				while (v < ve && mailfmt_is_wsp(*v))
					v++;
				while (ve > v && mailfmt_is_wsp(ve[-1]))
					ve--;
				tl = (size_t)(ve - v);
				snprintf(out, len, "%.*s", (int)tl, v);
				return 0;
			}
		}
		p = *end ? end + 1 : end;
	}
	return -1;
}

int dmarc_parse(const char *txt, size_t len, int sub)
{
	char r[RECORD_MAX + 1], v[32];
	const char *p;

	if (len > RECORD_MAX || memchr(txt, '\0', len) != NULL)
		return -1;
	memcpy(r, txt, len);
	r[len] = '\0';
	/* RFC 7489 §6.4: "v=DMARC1" is the first tag, exactly */
	for (p = r; mailfmt_is_wsp(*p); p++)
		;
	if (strncmp(p, "v", 1) != 0)
		return -1;
	for (p++; mailfmt_is_wsp(*p); p++)
		;
	if (*p++ != '=')
		return -1;
	while (mailfmt_is_wsp(*p))
		p++;
	if (strncmp(p, "DMARC1", 6) != 0 || (p[6] != '\0' && p[6] != ';' && !mailfmt_is_wsp(p[6])))
		return -1;
	if ((sub && tag_value(r, "sp", v, sizeof(v)) == 0) || tag_value(r, "p", v, sizeof(v)) == 0)
		return strcasecmp(v, "quarantine") == 0 || strcasecmp(v, "reject") == 0 ? DMARC_STRICT
											  : DMARC_NONE;
	return DMARC_NONE;	/* no valid p=: §6.6.3 says as p=none */
}

/* ---- the DNS ---- */

/* resolver_open: a resolver state for one lookup, with daemon.resolver's
 * one server if RESOLVER is set; 0 or -1. */
static int resolver_open(res_state rs, const char *resolver)
{
	memset(rs, 0, sizeof(*rs));
	if (res_ninit(rs) != 0)
		return -1;
	rs->retrans = RES_RETRANS;
	rs->retry = RES_RETRY;
	rs->options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (resolver != NULL) {
		const char *colon = strrchr(resolver, ':');
		char host[INET_ADDRSTRLEN], *end;
		struct sockaddr_in sa;
		long port;
		memset(&sa, 0, sizeof(sa));
		if (colon == NULL || (size_t)(colon - resolver) >= sizeof(host)) {
			res_nclose(rs);
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(colon - resolver), resolver);
		port = strtol(colon + 1, &end, 10);
		sa.sin_family = AF_INET;
		sa.sin_port = htons((unsigned short)port);
		if (*end != '\0' || port < 1 || port > 65535 ||
		    inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
			res_nclose(rs);
			return -1;
		}
		rs->nsaddr_list[0] = sa;
		rs->nscount = 1;
	}
	return 0;
}

/* txt_policy: the policy in the TXT answer A[0..LEN): -1 if it holds no
 * DMARC record or more than one (RFC 7489 §6.6.3: then none applies). */
static int txt_policy(const unsigned char *a, int len, int sub)
{
	ns_msg msg;
	ns_rr rr;
	int i, n, found = -1, records = 0;

	if (ns_initparse(a, len, &msg) < 0)
		return -1;
	n = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < n; i++) {
		char txt[RECORD_MAX];
		size_t tl = 0;
		const unsigned char *p, *end;
		int pol;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return -1;
		if (ns_rr_type(rr) != ns_t_txt)
			continue;
		p = ns_rr_rdata(rr);
		end = p + ns_rr_rdlen(rr);
		while (p < end) {	/* <length><octets> strings, joined */
			size_t sl = *p++;
			if (sl > (size_t)(end - p) || tl + sl > sizeof(txt))
				return -1;
			memcpy(txt + tl, p, sl);
			tl += sl;
			p += sl;
		}
		if ((pol = dmarc_parse(txt, tl, sub)) >= 0) {
			records++;
			found = pol;
		}
	}
	return records == 1 ? found : -1;
}

/* ask: the policy at _dmarc.NAME: DMARC_NONE or DMARC_STRICT, -1 if there
 * is no record there (NXDOMAIN, no TXT, no DMARC record), -2 if the lookup
 * failed (WHY set). */
static int ask(res_state rs, const char *name, int sub, char *why, size_t len)
{
	unsigned char a[ANSWER_MAX];
	char q[DOMAIN_MAX + 16];
	int n;

	snprintf(q, sizeof(q), "_dmarc.%s", name);
	n = res_nquery(rs, q, ns_c_in, ns_t_txt, a, sizeof(a));
	if (n < 0) {
		int h = rs->res_h_errno;
		if (h == HOST_NOT_FOUND || h == NO_DATA)
			return -1;
		snprintf(why, len, "%s: %s", q,
			 h == TRY_AGAIN ? "no answer (SERVFAIL or timeout)" : "the lookup failed");
		return -2;
	}
	return txt_policy(a, n, sub);
}

/* lookup: the policy of DOMAIN, asked of the DNS (see dmarc_policy). */
static enum dmarc_policy lookup(const char *resolver, const char *domain, char *why, size_t len)
{
	struct __res_state rs;
	const char *name = domain;
	int i, r = -1;

	if (resolver_open(&rs, resolver) < 0) {
		snprintf(why, len, "cannot set up the resolver");
		return DMARC_FAILED;
	}
	for (i = 0; i < DMARC_WALK_MAX && name != NULL && strchr(name, '.') != NULL; i++) {
		if ((r = ask(&rs, name, name != domain, why, len)) != -1)
			break;
		name = strchr(name, '.') + 1;	/* the parent, never the TLD alone */
	}
	res_nclose(&rs);
	return r == -2 ? DMARC_FAILED : r == DMARC_STRICT ? DMARC_STRICT : DMARC_NONE;
}

/* ---- the cache ---- */

static struct entry *cache_find(struct dmarc_cache *c, const char *domain, long long now)
{
	for (size_t i = 0; i < DMARC_CACHE_MAX; i++)
		if (c->e[i].domain[0] != '\0' && c->e[i].expires > now &&
		    strcasecmp(c->e[i].domain, domain) == 0)
			return &c->e[i];
	return NULL;
}

static void cache_put(struct dmarc_cache *c, const char *domain, enum dmarc_policy p,
		      long long now)
{
	struct entry *victim = &c->e[0];

	for (size_t i = 0; i < DMARC_CACHE_MAX; i++) {
		struct entry *e = &c->e[i];
		if (e->domain[0] == '\0' || e->expires <= now ||
		    strcasecmp(e->domain, domain) == 0) {
			victim = e;
			break;
		}
		if (e->expires < victim->expires)
			victim = e;
	}
	snprintf(victim->domain, sizeof(victim->domain), "%s", domain);
	victim->policy = p;
	victim->expires = now + (p == DMARC_FAILED ? DMARC_FAIL_TTL : DMARC_TTL);
}

enum dmarc_policy dmarc_policy(struct dmarc_cache *c, const char *resolver, const char *domain,
			       long long now)
{
	struct entry *e;
	enum dmarc_policy p;
	char why[512] = "";

	if (strlen(domain) > DOMAIN_MAX || domain[0] == '\0')
		return DMARC_FAILED;
	pthread_mutex_lock(&c->mu);
	e = cache_find(c, domain, now);
	p = e ? e->policy : DMARC_NONE;
	pthread_mutex_unlock(&c->mu);
	if (e != NULL)
		return p;
	/* asked without the lock: two workers may ask at once, once each */
	p = lookup(resolver, domain, why, sizeof(why));
	if (p == DMARC_FAILED)
		log_warn("dmarc: the policy of %s is unknown (%s): From is rewritten for %d s",
			 domain, why, DMARC_FAIL_TTL);
	pthread_mutex_lock(&c->mu);
	cache_put(c, domain, p, now);
	pthread_mutex_unlock(&c->mu);
	return p;
}

int dmarc_from_kept(struct dmarc_cache *c, const struct config *cfg, const struct cfg_list *l,
		    const char *author, long long now)
{
	const char *at = author ? strrchr(author, '@') : NULL;

	if (l->from_rewrite == FROM_REWRITE_NEVER)
		return 1;
	if (l->from_rewrite != FROM_REWRITE_DMARC || at == NULL || c == NULL)
		return 0;
	return dmarc_policy(c, cfg->daemon.resolver, at + 1, now) == DMARC_NONE;
}
