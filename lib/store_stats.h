/*
 * store_stats.h - the counters behind `parley stats` and parleyd's /metrics
 * (design §4): posts and replies archived, copies sent, deferred, failed and
 * cancelled, bounces (hard, soft, complaints), each in the last hour, the
 * last day and in all, and the copies
 * waiting in the queue with the oldest of them. The delivery workers count
 * the results they record with a tally (sent, deferred, failed); the store's
 * delivery_count trigger counts every cancellation (schema version 8).
 * Per relay (schema version 11): its state as the workers last saw it, the
 * copies sent, deferred and failed in the last minute, hour, day and in
 * all, and its rate.
 */
#ifndef PARLEY_STORE_STATS_H
#define PARLEY_STORE_STATS_H

#include "store.h"

enum stats_span { STATS_HOUR, STATS_DAY, STATS_ALL, STATS__SPANS };
enum stats_copy { STATS_SENT, STATS_DEFERRED, STATS_FAILED, STATS_CANCELLED, STATS__COPIES };
enum stats_bounce { STATS_HARD, STATS_SOFT, STATS_COMPLAINT, STATS__BOUNCES };

#define STATS_MINUTES_KEPT (25 * 60) /* minute counts older than this are pruned */

struct stats {
	long long posts[STATS__SPANS];
	long long replies[STATS__SPANS];
	long long copies[STATS__COPIES][STATS__SPANS];	/* status changes in the span */
	long long bounces[STATS__BOUNCES][STATS__SPANS];	/* bounces recorded (store_bounce) */
	long long queued, deferred, sending;		/* copies waiting now */
	long long oldest_at;				/* queued time of the oldest, 0: none */
};

/* stats_copy_name: "sent", "deferred", "failed", "cancelled". */
const char *stats_copy_name(enum stats_copy c);

/* stats_bounce_name: "hard", "soft", "complaint". */
const char *stats_bounce_name(enum stats_bounce b);

/* stats_span_name: "hour", "day", "all". */
const char *stats_span_name(enum stats_span s);

/*
 * store_stats_get: the counters of the list LIST_ID (0: of all lists and of
 * the notices to no list) as of NOW into OUT. 0, or -1 (logged). Runs in a
 * read transaction of its own, so that the numbers agree with each other.
 */
int store_stats_get(struct store *st, long long list_id, long long now, struct stats *out);

/* A tally of results recorded in one transaction, per list and status, and
 * per relay and status (schema version 11). The relay keys are borrowed:
 * the strings given to stats_tally_copy must outlive the tally. */
#define STATS_TALLY_MAX 64
struct stats_tally {
	size_t n, nr;
	struct {
		long long list_id;
		enum stats_copy copy;
		long long n;
	} v[STATS_TALLY_MAX];
	struct {
		const char *relay;
		enum stats_copy copy;
		long long n;
	} r[STATS_TALLY_MAX];
};

/* stats_tally_add: one copy of list LIST_ID recorded with STATUS ("sent",
 * "deferred" or "failed"; anything else, counted by the store itself or not
 * at all, is ignored). 0, or -1 if T is full (write it and start again). */
int stats_tally_add(struct stats_tally *t, long long list_id, const char *status);

/* stats_tally_copy: like stats_tally_add, and counted for RELAY too
 * ("host:port"; NULL or "": no relay). 0, or -1 if T has no room for both
 * (nothing was counted: write it and start again). */
int stats_tally_copy(struct stats_tally *t, long long list_id, const char *relay,
		     const char *status);

/* store_stats_tally: add T's counts to the minute of NOW and to all time,
 * in the caller's transaction (the one that recorded the results). 0 or -1. */
int store_stats_tally(struct store *st, const struct stats_tally *t, long long now);

/* store_stats_prune: delete the minute counts (of the lists and of the
 * relays) older than STATS_MINUTES_KEPT
 * as of NOW (the all-time counts stay), in the caller's transaction. The
 * number of rows deleted, or -1. */
int store_stats_prune(struct store *st, long long now);

/* The relays' numbers: daemon-wide, not per list. */
enum stats_rspan { STATS_R_MINUTE, STATS_R_HOUR, STATS_R_DAY, STATS_R_ALL, STATS__RSPANS };
#define STATS_RELAYS_MAX 64		/* relays shown (config: at most 32) */
#define STATS_RELAY_KEY_MAX 300	/* "host:port" (daemon/relays.h) */
#define STATS_REASON_MAX 256

struct stats_relay {
	char relay[STATS_RELAY_KEY_MAX];
	int state;			/* 1 up, 0 down, -1 unknown (no state row) */
	long long down_until;		/* down: until this time (unix) */
	char reason[STATS_REASON_MAX];	/* down: why */
	long long copies[3][STATS__RSPANS];	/* [STATS_SENT..STATS_FAILED][span] */
	double rate_minute, rate_hour;	/* copies sent per second (see store_stats_relays) */
};

/* stats_rspan_name: "minute", "hour", "day", "all". */
const char *stats_rspan_name(enum stats_rspan s);

/*
 * store_stats_relays: the relays known (a state row, or counts) as of NOW
 * into OUT (at most MAX, by key): each one's state and copies sent,
 * deferred and failed in the current minute, the hour (it and the 59
 * minutes before), the day (and the 1439 before) and all time; the rates
 * are those sent over the seconds the minute and the hour span so far.
 * The number of relays, or -1 (logged). In a read transaction of its own.
 */
int store_stats_relays(struct store *st, long long now, struct stats_relay *out, size_t max);

/* store_relay_state_set: record relay KEY up (DOWN_UNTIL 0) or down until
 * DOWN_UNTIL (unix time) for REASON (or NULL), as of NOW, in the caller's
 * transaction. 0 or -1 (logged). */
int store_relay_state_set(struct store *st, const char *key, long long down_until,
			  const char *reason, long long now);

/* store_relay_state_reset: the relays KEYS[0..N) (the configured ones)
 * 'up', every other row deleted, in the caller's transaction. 0 or -1. */
int store_relay_state_reset(struct store *st, const char *const *keys, size_t n, long long now);

#endif
