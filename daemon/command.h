/*
 * command.h - the email commands of a list (design §2): L+subscribe@,
 * L+unsubscribe@ and L+set-MODE@ (each confirmed by a reply to a
 * L+confirm-TOKEN@ mailed to the envelope sender, never to an address named
 * in the message), L+help@, L+owner@ (relayed to the owners, From rewritten
 * to the list, the sender in Reply-To), L+follow-TOKEN@ and L+mute-TOKEN@
 * (one thread, for the token's subscriber), and L+p-TOKEN@ (a private
 * reply relayed to the author of the message answered, archived nowhere).
 *
 * Never answers an automatic message, never sends more than
 * limits.commands_per_hour answers to one sender an hour nor more than 3
 * confirmation mails to one address a day, and never tells a stranger
 * whether an address is subscribed.
 */
#ifndef PARLEY_COMMAND_H
#define PARLEY_COMMAND_H

#include "classify.h"
#include "recipient.h"
#include "token.h"

/* command_classify: act on IN for T if T is a command or a follow, mute or
 * private address (else nothing). 0 or -1 on a store error. */
int command_classify(struct store *st, const struct classify_in *in, const struct rcpt_target *t);

/* command_confirm: a valid (TRC 0) or expired (-2) confirmation token TOK
 * of a request of list L (LIST_ID). 0 or -1. */
int command_confirm(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		    long long list_id, const struct token *tok, int trc);

/* command_request_list: the list id of request REQUEST_ID, 0 if there is
 * none, -1 on error. */
long long command_request_list(struct store *st, long long request_id);

/* command_click: the confirmation page of request TOK->a (valid, or
 * expired: TRC -2) into OUT (OUT->list set by the caller): its address, what
 * it asks (in OUT->subject) and its state; with ACT, do it (recorded as
 * confirmed on the web page). 0, or -1 on a store error. */
int command_click(struct store *st, const struct token *tok, int trc, int act, long long now,
		  const char *tag, struct click *out);

#endif
