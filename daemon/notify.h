/*
 * notify.h - the messages parleyd writes to people about a message it
 * received: a note to a list's owners that it is held, a request to its
 * author to confirm it, a note to that author that a confirmation came too
 * late. Each is composed (lib/notice.c) and queued as a notice inside the
 * caller's transaction, to go out from the null sender. Only configured
 * owners and authors are written to, never the sender (no backscatter).
 */
#ifndef PARLEY_NOTIFY_H
#define PARLEY_NOTIFY_H

#include "classify.h"
#include "store_held.h"

/* notify_owners: tell L's owners that IN's message is held as HELD_ID for
 * REASON, with its first lines and how to decide; at most 10 notes per
 * list and hour (the tenth says so); none without owners. 0 or -1. */
int notify_owners(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		  long long list_id, long long held_id, const char *reason);

/* notify_confirm: ask AUTHOR to confirm IN's message, held as HELD_ID,
 * by replying to L+confirm-TOKEN@ (or clicking its mailto: link, or the
 * list's confirm_url page) before EXPIRES. 0 or -1. */
int notify_confirm(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		   long long list_id, long long held_id, const char *author, const char *token,
		   long long expires);

/* notify_expired: tell the author of held post H (parsed as HM) that its
 * confirmation came too late. 0 or -1. */
int notify_expired(struct store *st, const struct classify_in *in, const struct cfg_list *l,
		   const struct held *h, const struct message *hm);

#endif
