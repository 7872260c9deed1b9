/*
 * bounce.h - what parleyd does with the bounces of its copies: a message to
 * L+bounce-TOKEN@ (a DSN, a non-standard bounce, an ARF complaint, read by
 * lib/dsn.c) and a 5xx at RCPT from the relay.
 *
 * The TOKEN names the copy (a delivery id, token kind 'b'): a token we did
 * not make, a copy that does not exist, is not of that list, went to no
 * subscriber or was never handed to the relay makes the bounce count for
 * nothing. A failure scores on the copy's subscriber (store_bounce.h); at
 * the list's bounce_threshold a probe goes out (a notice to the subscriber
 * whose envelope sender is a bounce address of its own), and a bounce of
 * the probe disables the subscriber and tells the list's owners. A
 * complaint (an ARF feedback report) unsubscribes at once, also when a
 * feedback loop sends it to the list or owner address and the returned copy
 * in it carries our bounce address with its token. A subscriber
 * disabled by bounces is enabled again when mail from it reaches the list.
 *
 * Never answers a bounce (no backscatter): the only messages written are
 * the probe, to the subscriber's address as stored, and the note to the
 * configured owners, both from the null sender's side of things (the probe
 * from its own bounce address, which nothing answers either).
 */
#ifndef PARLEY_BOUNCE_H
#define PARLEY_BOUNCE_H

#include "classify.h"
#include "recipient.h"

/* bounce_classify: act on IN's message sent to T (an RCPT_BOUNCE), inside
 * the caller's transaction. 0, or -1 on a store error. */
int bounce_classify(struct store *st, const struct classify_in *in, const struct rcpt_target *t);

/* bounce_report_to_list: a feedback report (ARF) sent to one of list L's
 * other addresses (a feedback loop registered with the list or owner
 * address): if the message it returns carries one of our bounce addresses
 * L+bounce-TOKEN@ (its Return-Path, an Original-Mail-From) with a valid
 * token for a copy of L, it is a complaint about that copy, acted on as at
 * the bounce address. 1 if it was (the caller does nothing else with it), 0
 * if not, -1 on a store error. */
int bounce_report_to_list(struct store *st, const struct classify_in *in,
			  const struct cfg_list *l);

/* bounce_at_rcpt: the relay refused copy DELIVERY_ID at RCPT with a 5xx
 * (TEXT its reply): a hard bounce of its subscriber, scored by the same
 * rules, inside the caller's transaction. KEY makes a probe's token (NULL:
 * no probe). 0 or -1. */
int bounce_at_rcpt(struct store *st, const struct config *cfg, const unsigned char *key,
		   long long delivery_id, const char *text, long long now);

/* bounce_revive: IN's message reached list L from a person (not an
 * automatic message): if its sender or From is a subscriber that bounces
 * disabled, enable it again. 0 or -1. */
int bounce_revive(struct store *st, const struct classify_in *in, const struct cfg_list *l);

#endif
