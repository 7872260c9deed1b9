/*
 * classify.h - what an inbound message is to a list, decided inside the
 * transaction that stores it: a post by a proven author becomes the root of
 * a new archived thread with one queued copy per subscriber; a post without
 * proof, a loop or an automatic message sent to a post address is held for
 * an owner, silently (no backscatter).
 *
 * Authorship (design §5): an author's secret post address, or an
 * Authentication-Results header from a configured trusted authserv-id with
 * dkim=pass aligned with the From domain, or spf=pass aligned with it. A From
 * header alone never publishes.
 */
#ifndef PARLEY_CLASSIFY_H
#define PARLEY_CLASSIFY_H

#include "config.h"
#include "message.h"
#include "spool.h"
#include "store.h"

struct classify_in {
	const struct config *cfg;
	long long inbound_id;
	const struct envelope *env;
	const struct message *msg;
	const char *raw;
	size_t len;
	long long now;
};

/* classify_message: act on every recipient of IN (inside the caller's
 * transaction). 0, or -1 on a store error (the caller rolls back). */
int classify_message(struct store *st, const struct classify_in *in);

/* classify_auth_proves: 1 if one of AUTH_RESULTS, from a trusted authserv-id
 * in TRUSTED, says dkim=pass or spf=pass for a domain aligned with FROM's.
 * Exposed for tests. */
int classify_auth_proves(const struct strv *auth_results, const struct strv *trusted,
			 const char *from);

#endif
