/*
 * reply.h - replies (design §3): a message to L@ (Reply-All, "Reply
 * List"), to a personal reply address L+r-TOKEN@, or to L+post@ from
 * someone who is not posting as an author, that answers something in the
 * archive.
 *
 * Who may reply: the token's subscriber, any active subscriber of the list,
 * the list's authors; anyone else per the list's `outsiders` (hold, accept,
 * reject). A From that is not the token's subscriber and not a subscriber
 * either is held, never refused. A forged or expired token counts as a
 * message to L@. An automatic message (Auto-Submitted, Precedence,
 * auto-responder headers, an "Out of Office" subject, an empty return path,
 * our own List-Id or X-Loop) is dropped: never archived, redistributed or
 * answered. A message that threads to nothing is a new thread: published
 * when the list sets `subscriber_posts` and a member sent it, else held.
 * A `moderated` thread's replies are held for the owners and the post's
 * author. Nothing here ever writes to the sender (no backscatter).
 */
#ifndef PARLEY_REPLY_H
#define PARLEY_REPLY_H

#include "classify.h"
#include "recipient.h"

/* reply_classify: act on IN's message for recipient T (RCPT_LIST,
 * RCPT_REPLY, or RCPT_POST when VIA_POST). 1 if it was handled, 0 if it is
 * no reply and VIA_POST (the caller treats it as a post), -1 on a store
 * error. */
int reply_classify(struct store *st, const struct classify_in *in, const struct rcpt_target *t,
		   int via_post);

/* reply_automatic: why IN's message is automatic (see above), or NULL. */
const char *reply_automatic(const struct classify_in *in);

#endif
