/*
 * thread.h - the threader: which archived message an incoming reply
 * answers (design §3), and the References its copies carry.
 *
 * In order: the reply token (it names the message it was sent with);
 * In-Reply-To, then References from the newest, each matched against the
 * list Message-ID and the author's original Message-ID of every archived
 * message of the list (a reply whose parent is missing goes under the
 * nearest ancestor that is archived); then the normalised subject, for a
 * subject that says it is a reply, among the list's threads active within
 * the list's subject_window. Reads the store, never writes it; bounded work
 * whatever the message (at most THREAD_REFS_SCAN References looked up).
 */
#ifndef PARLEY_THREAD_H
#define PARLEY_THREAD_H

#include "config.h"
#include "message.h"
#include "store.h"

#define THREAD_REFS_SCAN 100	/* References looked up, newest first */
#define THREAD_REFS_MAX	 20	/* list Message-IDs in a copy's References */

struct thread_in {
	const struct cfg_list *list;
	long long list_id;
	long long token_archive_id;	/* from a valid reply token of this list, or 0 */
	const struct message *msg;
	long long now;
};

/* thread_in_set: IN for message M to list L (store id LIST_ID) at NOW,
 * with no reply token. */
void thread_in_set(struct thread_in *in, const struct cfg_list *l, long long list_id,
		   const struct message *m, long long now);

/* thread_find: the archive id of the message IN answers, 0 if none, -1 on
 * a store error. *HOW names the rule that found it ("token", "In-Reply-To",
 * "References", "subject") or is "" . */
long long thread_find(struct store *st, const struct thread_in *in, const char **how);

/* thread_parent_hint: the Message-ID M names as its parent (In-Reply-To,
 * else the last of References), malloc'd, or NULL. */
char *thread_parent_hint(const struct message *m);

/* thread_refs: the References of the copies of a reply to a message whose
 * own References were PARENT_REFS (NULL for a post) and whose list
 * Message-ID is PARENT_MSGID: the chain from the root, at most
 * THREAD_REFS_MAX ids (the root and the newest ones kept). malloc'd. */
char *thread_refs(const char *parent_refs, const char *parent_msgid);

#endif
