/*
 * store_sub.h - subscribers of a list and their consent history.
 *
 * A subscriber row is never deleted: unsubscribing sets its status, and a
 * later subscription reuses the row, so the consent history in
 * subscriber_events stays whole. Every function here runs inside the
 * caller's transaction (store_begin/store_commit) when it writes.
 */
#ifndef PARLEY_STORE_SUB_H
#define PARLEY_STORE_SUB_H

#include "address.h"
#include "store.h"

enum sub_status { SUB_PENDING, SUB_ACTIVE, SUB_DISABLED, SUB_UNSUBSCRIBED, SUB_STATUS__COUNT };
enum sub_mode { MODE_ALL, MODE_POSTS, MODE_DIGEST, MODE_NOMAIL, SUB_MODE__COUNT };
enum consent_how { CONSENT_NONE, CONSENT_CLI, CONSENT_EMAIL, CONSENT_IMPORT };

#define SUB_MASK(status) (1u << (status))
#define SUB_MASK_ALL ((1u << SUB_STATUS__COUNT) - 1)

struct sub {
	long long id;
	char address[ADDRESS_MAX + 1];
	char *name;			/* NULL if none */
	enum sub_status status;
	enum sub_mode mode;
	enum consent_how consent_how;	/* CONSENT_NONE while pending */
	long long consent_at;		/* 0 if none */
	char *consent_by;		/* who or what gave consent, or NULL */
	long long created_at;
	long long updated_at;
	long long unsubscribed_at;	/* 0 if never */
	double bounce_score;		/* as it counts now: 0 once stale (store_bounce.h) */
};

/* What store_sub_add is asked to do. */
struct sub_request {
	const char *address;		/* normalised (address_parse) */
	const char *name;		/* NULL keeps the stored name */
	enum sub_mode mode;
	int mode_set;			/* 0: keep the stored mode (default all) */
	enum sub_status status;		/* SUB_ACTIVE, or SUB_PENDING awaiting confirmation */
	enum consent_how how;		/* with SUB_ACTIVE: how consent was given */
	const char *actor;		/* who: a user, "FILE:LINE", a Message-ID */
	int resubscribe;		/* reuse an unsubscribed row (else SUB_ADD_SKIPPED) */
	int update_mode;		/* with mode_set: change an active row's mode */
	long long now;
};

enum sub_add_result {
	SUB_ADD_NEW,		/* a new row */
	SUB_ADD_REUSED,		/* an unsubscribed row subscribed again */
	SUB_ADD_ACTIVATED,	/* a pending or disabled row made active */
	SUB_ADD_MODE,		/* an active row's mode changed (update_mode) */
	SUB_ADD_ALREADY,	/* nothing to do */
	SUB_ADD_SKIPPED		/* unsubscribed and resubscribe not asked */
};

/* store_sub_add: subscribe; returns an enum sub_add_result or -1. */
int store_sub_add(struct store *st, long long list_id, const struct sub_request *req);

/* store_sub_remove: unsubscribe ADDRESS (row kept); HOW is the channel
 * ("cli", "email", "one-click"), ACTOR who. 1 done, 0 not subscribed, -1. */
int store_sub_remove(struct store *st, long long list_id, const char *address, const char *how,
		     const char *actor, long long now);

/* store_sub_address: 1 and the address of subscriber SUB_ID of LIST_ID in
 * OUT, 0 if there is no such subscriber, -1 on error. */
int store_sub_address(struct store *st, long long sub_id, long long list_id, char *out,
		      size_t len);

/* store_sub_active_id: the id of ADDRESS (may be NULL) as an active
 * subscriber of LIST_ID, 0 if it is none, -1 on error. */
long long store_sub_active_id(struct store *st, long long list_id, const char *address);

/* store_sub_list_of: the list id of subscriber SUB_ID, 0 if there is no
 * such subscriber, -1 on error. */
long long store_sub_list_of(struct store *st, long long sub_id);

/* store_sub_event: write one subscriber_events row (EVENT, HOW, ACTOR) of
 * subscriber SUB_ID at AT, inside the caller's transaction; 0 or -1. Every
 * change of a subscriber row writes one (store_bounce.c too). */
int store_sub_event(struct store *st, long long sub_id, long long at, const char *event,
		    const char *how, const char *actor);

/* store_sub_get: 1 and OUT filled (free with sub_clear), 0 not found, -1. */
int store_sub_get(struct store *st, long long list_id, const char *address, struct sub *out);

/* store_sub_each: call CB for each subscriber whose status is in MASK, by
 * address. CB returns 0 to go on; a non-zero return stops and is returned. */
typedef int (*sub_cb)(const struct sub *s, void *ctx);
int store_sub_each(struct store *st, long long list_id, unsigned mask, sub_cb cb, void *ctx);

/* store_sub_counts: COUNTS[status] = number of rows; 0 or -1. */
int store_sub_counts(struct store *st, long long list_id, long long counts[SUB_STATUS__COUNT]);

/* store_sub_events: call CB for each event of subscriber SUB_ID, oldest first. */
typedef int (*sub_event_cb)(long long at, const char *event, const char *how, const char *actor,
			    void *ctx);
int store_sub_events(struct store *st, long long sub_id, sub_event_cb cb, void *ctx);

void sub_clear(struct sub *s);

const char *sub_status_name(enum sub_status s);
const char *sub_mode_name(enum sub_mode m);
const char *sub_consent_name(enum consent_how h);	/* NULL for CONSENT_NONE */
/* Parsers: 0 and *out set, or -1 if NAME is not a known value. */
int sub_status_parse(const char *name, enum sub_status *out);
int sub_mode_parse(const char *name, enum sub_mode *out);

#endif
