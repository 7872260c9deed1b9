/*
 * classify.h - what an inbound message is to a list, decided inside the
 * transaction that stores it.
 *
 * Posts (design §5): an author's secret post address, or an
 * Authentication-Results header our border added (from a configured
 * trusted authserv-id, above the first Received that is not ours) with a
 * dkim=pass for the author (or an spf=pass, if the author chose so; see
 * authres.h), publishes at once: the
 * root of a new archived thread with one queued copy per subscriber. A From
 * header naming a configured author, without proof, holds the post and asks
 * that author (at the configured address, never at the sender) to confirm
 * by replying to L+confirm-TOKEN@ before daemon.confirm_lifetime runs out.
 * Anything else sent to a post address is held with a note to the list's
 * owners; a loop is held silently. The sender never gets an answer (no
 * backscatter). A From header alone never publishes.
 *
 * Confirmations (L+confirm-TOKEN@): a valid token for a post still waiting
 * publishes it; a late one tells the author it expired; a forged one, a
 * spent one and an automatic message are logged and dropped.
 */
#ifndef PARLEY_CLASSIFY_H
#define PARLEY_CLASSIFY_H

#include "config.h"
#include "message.h"
#include "publish.h"
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
	const unsigned char *key;	/* the token key, or NULL if there is none */
	int approved;			/* a held message an owner approved: no hold again */
};

/* classify_not_for_lists: why a message must never be redistributed nor
 * answered (an empty return path, Auto-Submitted, our own List-Id or
 * X-Loop), or NULL. */
const char *classify_not_for_lists(const struct config *cfg, const struct envelope *env,
				   const struct message *m);

/* classify_publish_in: OUT describes IN's message, to be published in L by
 * AUTHOR_ADDR (AUTHOR_NAME, subscriber SUB_ID or 0). */
void classify_publish_in(const struct classify_in *in, const struct cfg_list *l,
			 const char *author_addr, const char *author_name, long long sub_id,
			 struct publish_in *out);

/* classify_message: act on every recipient of IN (inside the caller's
 * transaction). 0, or -1 on a store error (the caller rolls back). */
int classify_message(struct store *st, const struct classify_in *in);

/* What a link in a message leads to, for the web pages (http_server.c). */
enum click_state {
	CLICK_INVALID,		/* not a token we made, or for nothing we know */
	CLICK_READY,		/* valid: the POST would act */
	CLICK_DONE,		/* the POST acted */
	CLICK_ALREADY,		/* done before (unsubscribed, published) */
	CLICK_EXPIRED		/* a confirmation that came too late */
};

struct click {
	enum click_state state;
	char kind;				/* 'u' unsubscribe, 'p' publish, 's' a request */
	const struct cfg_list *list;		/* into the configuration */
	char address[ADDRESS_MAX + 1];		/* 'u': the subscriber; 's': who asked */
	char subject[256];			/* 'p': the held post's subject; 's': what
						 * is asked ("subscribe this address to") */
};

/* classify_click: what TOKEN (from a List-Unsubscribe https URL or a
 * confirmation link) stands for, into OUT; with ACT (a POST), do it inside
 * the caller's transaction: unsubscribe (recorded as "one-click", RFC 8058),
 * or publish the held post (or mark it expired and tell its author, as a
 * late email reply would). TAG names the request in the log. 0, or -1 on a
 * store error. */
int classify_click(struct store *st, const struct config *cfg, const unsigned char *key,
		   const char *token, int act, long long now, const char *tag, struct click *out);

#endif
