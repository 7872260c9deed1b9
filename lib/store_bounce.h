/*
 * store_bounce.h - the bounces of subscribers' copies and the score they
 * add up to (the rules of Mailman): a hard bounce adds 1.0, a soft one 0.5;
 * at most one bounce per subscriber is scored in any 24 hours; a score
 * whose last scored bounce is 7 days old or more is stale and starts again
 * from 0. At the list's threshold the daemon sends a probe (a copy of its
 * own, with its own bounce token) and disables the subscriber only if the
 * probe bounces too (daemon/bounce.c).
 *
 * Every bounce is kept (table bounces) with the copy it names, its class,
 * status code and diagnostic, whether it was scored and what it added.
 * Every function here that writes runs inside the caller's transaction,
 * guards the subscriber's state in its SQL (only an active subscriber is
 * scored, probed or disabled; only one disabled by bounces is enabled), and
 * writes the matching subscriber_events row. Never trusts the text of a
 * bounce to name the subscriber: callers name the copy (delivery id).
 */
#ifndef PARLEY_STORE_BOUNCE_H
#define PARLEY_STORE_BOUNCE_H

#include "dsn.h"
#include "store.h"

#define BOUNCE_HARD_WEIGHT 1.0
#define BOUNCE_SOFT_WEIGHT 0.5
#define BOUNCE_DAY	   86400LL	 /* one scored bounce per this */
#define BOUNCE_STALE	   (7 * 86400LL) /* a score this old starts again */

/* A subscriber's score as the rules see it. */
struct bounce_score {
	double score;
	long long last_at;	/* when the last scored bounce came; 0: never */
};

/*
 * bounce_rule: the score after a bounce of class CLS (DSN_HARD or DSN_SOFT)
 * at NOW, from OLD, into OUT. Returns 1 if this bounce is scored (OUT has
 * the new score and NOW as its last_at), 0 if it is not: another was scored
 * less than BOUNCE_DAY before, or CLS is neither hard nor soft (OUT is then
 * OLD, made 0 if stale). A stale OLD counts as 0. Pure.
 */
int bounce_rule(const struct bounce_score *old, enum dsn_class cls, long long now,
		struct bounce_score *out);

/* bounce_effective: OLD's score as it counts at NOW (0 if stale). Pure. */
double bounce_effective(const struct bounce_score *old, long long now);

/* The copy a bounce names. */
struct bounce_copy {
	long long delivery_id;
	long long list_id;
	long long subscriber_id;
	int probe;		/* the copy is a probe (notice kind 'probe') */
	char address[ADDRESS_MAX + 1];	/* where it was sent */
};

/* store_bounce_copy: 1 and OUT filled if copy DELIVERY_ID exists, was sent
 * to a subscriber, and was handed to the relay (attempted: not queued, not
 * cancelled); 0 if not (a bounce about it counts for nothing); -1. */
int store_bounce_copy(struct store *st, long long delivery_id, struct bounce_copy *out);

/* One bounce to record. */
struct bounce_new {
	const struct bounce_copy *copy;
	const char *source;	/* "dsn", "rcpt" (a 5xx at RCPT) or "arf" */
	enum dsn_class cls;	/* DSN_HARD or DSN_SOFT; DSN_CLASS_NONE: a complaint */
	const char *status;	/* "5.1.1" or "" */
	const char *diag;	/* or "" */
	double threshold;	/* the list's bounce_threshold */
	long long now;
};

/* What recording it led to. */
struct bounce_outcome {
	int active;		/* the subscriber was active (else nothing scored) */
	int scored;		/* bounce_rule scored it */
	double score;		/* the score now */
	int probe_due;		/* at the threshold, no probe out yet: send one */
	int disable;		/* a bounce of the probe: disable */
};

/* store_bounce_add: keep bounce B and score it on its subscriber; OUT says
 * what follows. A complaint is kept, never scored. 0 or -1. */
int store_bounce_add(struct store *st, const struct bounce_new *b, struct bounce_outcome *out);

/* store_bounce_probe_sent: probe copy DELIVERY_ID went to subscriber
 * SUB_ID. 1 recorded, 0 not (no longer active, a probe already out), -1. */
int store_bounce_probe_sent(struct store *st, long long sub_id, long long delivery_id,
			    long long now);

/* store_bounce_disable: disable active subscriber SUB_ID for its bounces
 * (its queued copies are cancelled by the store's trigger). 1 done, 0 not
 * active, -1. */
int store_bounce_disable(struct store *st, long long sub_id, const char *actor, long long now);

/* store_bounce_enable: make ADDRESS of LIST_ID active again if bounces
 * disabled it (a subscriber an owner disabled stays so), its score reset.
 * HOW and ACTOR for the event. 1 done, 0 nothing to do, -1. */
int store_bounce_enable(struct store *st, long long list_id, const char *address,
			const char *how, const char *actor, long long now);

/* store_bounce_notice_subscriber: give the copies of notice NOTICE_ID to
 * subscriber SUB_ID and set the notice's envelope sender to SENDER (a
 * probe's is its own bounce address, made from the copy's id, known only
 * once the copy is queued). The id of its copy to ADDRESS, or -1. */
long long store_bounce_notice_subscriber(struct store *st, long long notice_id, long long sub_id,
					 const char *address);
int store_bounce_notice_sender(struct store *st, long long notice_id, const char *sender);

/* A row of a subscriber's bounce history. */
struct bounce_row {
	long long at;
	long long delivery_id;	/* 0 if none */
	const char *source, *cls, *status, *diag;	/* "" when NULL */
	double score;		/* what it added (0: not scored) */
	int probe;
};

typedef int (*bounce_row_cb)(const struct bounce_row *r, void *ctx);

/* store_bounce_each: CB for each bounce of SUB_ID, oldest first. CB's
 * non-zero return stops and is returned; 0 or -1. */
int store_bounce_each(struct store *st, long long sub_id, bounce_row_cb cb, void *ctx);

/* A subscriber with bounces. */
struct bounce_sub {
	long long id;
	const char *address;
	const char *status;
	struct bounce_score score;	/* as stored */
	long long probe_id;		/* the probe out, or 0 */
	long long disabled_at;		/* disabled by bounces at, or 0 */
	long long bounces;		/* rows in the history */
};

typedef int (*bounce_sub_cb)(const struct bounce_sub *s, void *ctx);

/* store_bounce_subs: CB for each subscriber of LIST_ID (ADDRESS only, if
 * not NULL) that has a score or a bounce history, by address; 0 or -1. */
int store_bounce_subs(struct store *st, long long list_id, const char *address, bounce_sub_cb cb,
		      void *ctx);

#endif
