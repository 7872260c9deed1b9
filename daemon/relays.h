/*
 * relays.h - what the delivery workers know together about the relays of
 * daemon.relays (design §1: the MTA fleet is the distributed engine): which
 * is up and which is down for a backoff, how many sessions each has open
 * from all workers (max_connections), when the next copy may go to it
 * (rate), and which one a worker's next session goes to (by weight, smooth
 * weighted round robin among those up and under their connection limit).
 *
 * A relay is known by its "host:port", so that its state lives on across a
 * reload that keeps it. Each relay has a slot number (0..RELAYS_SLOTS-1),
 * stable while any session to it is open; a worker keeps its sessions by
 * slot.
 *
 * It owns only counters and times under its own mutex: it never opens a
 * connection, never sleeps, and never touches the store.
 */
#ifndef PARLEY_RELAYS_H
#define PARLEY_RELAYS_H

#include "config.h"

#define RELAYS_SLOTS	 64	/* relays known at once (config: at most 32) */
#define RELAYS_KEY_MAX	 300	/* "host:port" */
#define RELAYS_BACKOFF_MIN 30	/* seconds a relay is first marked down */
#define RELAYS_BACKOFF_MAX 600	/* the backoff doubles up to this */

struct relays;

/* relays_new, relays_free: the shared state, all relays up. */
struct relays *relays_new(void);
void relays_free(struct relays *rs);

/* relays_key: "host:port" of R into OUT. */
void relays_key(const struct cfg_relay *r, char *out, size_t len);

/*
 * relays_pick: the relay (index into cfg->daemon.relays) for a worker's
 * next copies, by weight among those not in TRIED (bit i: relays[i]), up,
 * and either under their max_connections or one the worker already has a
 * session with (HAVE[slot] non-zero; HAVE has RELAYS_SLOTS entries). Its
 * slot in *SLOT. When all the relays left are down (and none is only
 * busy), the one back up soonest: a backoff steers copies to the others,
 * it never holds them longer than their own retry schedule. -1 if none:
 * *BUSY is then 1 if one was up but at its connection limit (the copies
 * should wait), 0 if all were tried.
 */
int relays_pick(struct relays *rs, const struct config *cfg, unsigned long tried,
		const unsigned char *have, int *slot, int *busy);

/* relays_conn_take: a new session to R at SLOT may open (counted): 1, or 0
 * if R is at its max_connections. relays_conn_drop: one closed. */
int relays_conn_take(struct relays *rs, int slot, const struct cfg_relay *r);
void relays_conn_drop(struct relays *rs, int slot);

/* relays_down: the relay at SLOT refused a connection or timed out: down
 * for its backoff (30 s, doubling to 10 min); the seconds, or 0 if another
 * worker had marked it down already. relays_up: a session was set up: the
 * backoff starts again from the beginning; 1 if the relay had been marked
 * down since it was last up (it is back), 0 if not. */
int relays_down(struct relays *rs, int slot);
int relays_up(struct relays *rs, int slot);

/* relays_pace: with R's rate (copies per second, > 0), the milliseconds
 * to wait before one more copy may go to the relay at SLOT (that copy's
 * turn is taken now). */
long relays_pace(struct relays *rs, int slot, const struct cfg_relay *r);

#endif
