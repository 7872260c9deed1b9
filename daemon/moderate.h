/*
 * moderate.h - held messages decided by email (design §2, L+approve-TOKEN@
 * and L+reject-TOKEN@): the hold itself with its notes to the deciders, and
 * the decision when one of them replies. A reply to the approve address
 * (whatever its body) publishes the message as if it had just arrived; to
 * the reject address drops it and sends its sender the decider's text, if
 * any. A message is decided once; who decided is recorded.
 */
#ifndef PARLEY_MODERATE_H
#define PARLEY_MODERATE_H

#include "classify.h"
#include "recipient.h"
#include "store_held.h"

/* moderate_hold: hold IN's message for L as KIND ("post", "reply",
 * "thread") for REASON, and tell the owners (and AUTHOR, when not NULL).
 * 0 or -1. */
int moderate_hold(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		  const char *kind, const char *reason, const char *author);

/* moderate_decide: IN is a message to T (RCPT_APPROVE or RCPT_REJECT).
 * 0 or -1. */
int moderate_decide(struct store *st, const struct classify_in *in, const struct rcpt_target *t);

/* moderate_publish: publish held message H of list L as approved by WHO
 * (inside the caller's transaction): a post as a post, a reply or a new
 * thread as if it had just arrived. 1 published, 0 it could not be
 * (logged), -1 on a store error. */
int moderate_publish(struct store *st, const struct config *cfg, const unsigned char *key,
		     const struct cfg_list *l, const struct held *h, const char *who, long long now,
		     const char *tag);

#endif
