/*
 * dmarc.h - the DMARC policy (RFC 7489) of an author's domain, as the
 * delivery workers need it for a list with from_rewrite = "dmarc": does
 * the domain ask receivers to quarantine or reject mail that fails DMARC?
 * Then a copy must not go out From the author (the list's signature does
 * not align with the author's domain, and the author's own is broken by
 * the list's changes), and From is rewritten to the list.
 *
 * Lookups go through the system's resolver (libresolv's res_nquery, or the
 * one server of daemon.resolver) and their answers are kept in a small
 * cache with a lifetime, shared by the workers (its own mutex). A lookup
 * that fails (SERVFAIL, a timeout) counts as strict: rewriting is always
 * safe, keeping the From is not. NXDOMAIN or no record is not strict.
 */
#ifndef PARLEY_DMARC_H
#define PARLEY_DMARC_H

#include <stddef.h>

#include "config.h"

#define DMARC_CACHE_MAX	 512	/* domains remembered */
#define DMARC_TTL	 3600	/* seconds an answer is kept (at most) */
#define DMARC_FAIL_TTL	 60	/* seconds a failed lookup is kept */
#define DMARC_WALK_MAX	 5	/* names asked for one domain (the domain, then its parents) */

enum dmarc_policy {
	DMARC_NONE,	/* no record, p=none, or a record that does not parse */
	DMARC_STRICT,	/* p=quarantine or p=reject (sp= for a subdomain) */
	DMARC_FAILED,	/* the lookup failed: treated as strict */
};

struct dmarc_cache;

/* dmarc_cache_new, dmarc_cache_free: an empty cache; free takes NULL. */
struct dmarc_cache *dmarc_cache_new(void);
void dmarc_cache_free(struct dmarc_cache *c);

/*
 * dmarc_policy: the policy of DOMAIN (an author's, ASCII), from C or asked
 * of the DNS at NOW (seconds): _dmarc.DOMAIN TXT, and if there is none,
 * the same at each parent domain up to (not including) the top-level one,
 * at most DMARC_WALK_MAX names; a record found at a parent gives its sp=
 * if it has one, else its p=. RESOLVER is daemon.resolver ("IPV4:PORT") or
 * NULL for the system's. May block up to a few seconds per name on a
 * resolver that does not answer. Logs a failed lookup once per cache entry.
 */
enum dmarc_policy dmarc_policy(struct dmarc_cache *c, const char *resolver, const char *domain,
			       long long now);

/*
 * dmarc_from_kept: may a copy on list L of a message by AUTHOR (an
 * address) keep the author's From? 0 for from_rewrite "always"; 1 for
 * "never"; for "dmarc" 1 only if the author's domain's policy is
 * DMARC_NONE.
 */
int dmarc_from_kept(struct dmarc_cache *c, const struct config *cfg, const struct cfg_list *l,
		    const char *author, long long now);

/* dmarc_parse: the policy of one TXT record TXT[0..LEN) found at the
 * domain itself (SUB 0) or at a parent (SUB 1); -1 if it is no DMARC
 * record (no "v=DMARC1" first). For tests. */
int dmarc_parse(const char *txt, size_t len, int sub);

#endif
