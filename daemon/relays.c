/*
 * relays.c - the shared state of the relays (see relays.h).
 *
 * Weights: smooth weighted round robin (each pick adds every eligible
 * relay's weight to its credit, takes the one with most credit and charges
 * it the sum), so weights 1:3 give the picks A B B B in some order, evenly
 * spread, and a relay that comes back up is not flooded to catch up.
 * Rate: each copy takes the next turn 1/rate s after the previous one (no
 * burst), so in any second a relay sees at most rate + 1 copies.
 *
 * It must never hand out a relay that is down, and never count a session
 * twice or not at all.
 */
#include "autoconf.h"

#include "relays.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mono.h"
#include "xalloc.h"

struct relay_state {
	char key[RELAYS_KEY_MAX];	/* "host:port"; "" unused */
	int conns;			/* sessions open (or opening) from all workers */
	long long down_until;		/* monotonic ms; up after it */
	int backoff;			/* seconds of the last down period; 0: none */
	long long turn_us;		/* rate: monotonic µs of the next copy's turn */
	long long credit;		/* weighted round robin */
};

struct relays {
	pthread_mutex_t mu;
	struct relay_state s[RELAYS_SLOTS];
};

struct relays *relays_new(void)
{
	struct relays *rs = xcalloc(1, sizeof(*rs));

	pthread_mutex_init(&rs->mu, NULL);
	return rs;
}

void relays_free(struct relays *rs)
{
	if (rs == NULL)
		return;
	pthread_mutex_destroy(&rs->mu);
	free(rs);
}

void relays_key(const struct cfg_relay *r, char *out, size_t len)
{
	snprintf(out, len, strchr(r->host, ':') ? "[%s]:%d" : "%s:%d", r->host, r->port);
}

/* slot_of: the slot of KEY, made if new (in an unused slot, else in one
 * with no session that is up, forgetting that relay); -1 if all are in
 * use. Under the mutex. */
static int slot_of(struct relays *rs, const char *key, long long now)
{
	int i, unused = -1, idle = -1, k;

	for (i = 0; i < RELAYS_SLOTS; i++) {
		if (strcmp(rs->s[i].key, key) == 0)
			return i;
		if (rs->s[i].key[0] == '\0') {
			if (unused < 0)
				unused = i;
		} else if (idle < 0 && rs->s[i].conns == 0 && rs->s[i].down_until <= now) {
			idle = i;
		}
	}
	if ((k = unused >= 0 ? unused : idle) >= 0) {
		memset(&rs->s[k], 0, sizeof(rs->s[k]));
		snprintf(rs->s[k].key, sizeof(rs->s[k].key), "%s", key);
	}
	return k;
}

int relays_pick(struct relays *rs, const struct config *cfg, unsigned long tried,
		const unsigned char *have, int *slot, int *busy)
{
	long long now = mono_ms(), total = 0, soonest = 0;
	int best = -1, best_slot = -1, down = -1, down_slot = -1;
	char key[RELAYS_KEY_MAX];
	size_t i;

	*busy = 0;
	pthread_mutex_lock(&rs->mu);
	for (i = 0; i < cfg->daemon.nrelays && i < sizeof(tried) * 8; i++) {
		const struct cfg_relay *r = &cfg->daemon.relays[i];
		struct relay_state *st;
		int k;
		if (tried & (1UL << i))
			continue;
		relays_key(r, key, sizeof(key));
		if ((k = slot_of(rs, key, now)) < 0)
			continue;
		st = &rs->s[k];
		if (st->down_until > now) {
			if (down < 0 || st->down_until < soonest) {
				down = (int)i;
				down_slot = k;
				soonest = st->down_until;
			}
			continue;
		}
		if (!have[k] && r->max_connections > 0 && st->conns >= r->max_connections) {
			*busy = 1;
			continue;
		}
		st->credit += r->weight;
		total += r->weight;
		if (best < 0 || st->credit > rs->s[best_slot].credit) {
			best = (int)i;
			best_slot = k;
		}
	}
	if (best >= 0) {
		rs->s[best_slot].credit -= total;
	} else if (!*busy && down >= 0) {
		/* every relay left is down: the one back soonest is tried (the
		 * copies' own retry schedule spaces the tries) */
		best = down;
		best_slot = down_slot;
	}
	pthread_mutex_unlock(&rs->mu);
	*slot = best_slot;
	return best;
}

int relays_conn_take(struct relays *rs, int slot, const struct cfg_relay *r)
{
	int ok;

	pthread_mutex_lock(&rs->mu);
	ok = r->max_connections == 0 || rs->s[slot].conns < r->max_connections;
	if (ok)
		rs->s[slot].conns++;
	pthread_mutex_unlock(&rs->mu);
	return ok;
}

void relays_conn_drop(struct relays *rs, int slot)
{
	pthread_mutex_lock(&rs->mu);
	if (rs->s[slot].conns > 0)
		rs->s[slot].conns--;
	pthread_mutex_unlock(&rs->mu);
}

int relays_down(struct relays *rs, int slot)
{
	struct relay_state *st = &rs->s[slot];
	long long now = mono_ms();
	int secs = 0;

	pthread_mutex_lock(&rs->mu);
	if (st->down_until <= now) {
		secs = st->backoff == 0 ? RELAYS_BACKOFF_MIN
		       : st->backoff >= RELAYS_BACKOFF_MAX / 2 ? RELAYS_BACKOFF_MAX
							 : st->backoff * 2;
		st->backoff = secs;
		st->down_until = now + secs * 1000LL;
	}
	pthread_mutex_unlock(&rs->mu);
	return secs;
}

int relays_up(struct relays *rs, int slot)
{
	int was_down;

	pthread_mutex_lock(&rs->mu);
	was_down = rs->s[slot].backoff != 0;
	rs->s[slot].backoff = 0;
	pthread_mutex_unlock(&rs->mu);
	return was_down;
}

long relays_pace(struct relays *rs, int slot, const struct cfg_relay *r)
{
	struct relay_state *st = &rs->s[slot];
	long long now = mono_ms() * 1000LL, wait;

	pthread_mutex_lock(&rs->mu);
	if (st->turn_us < now)
		st->turn_us = now;
	wait = st->turn_us - now;
	st->turn_us += 1000000LL / r->rate;
	pthread_mutex_unlock(&rs->mu);
	return (long)((wait + 999) / 1000);
}
