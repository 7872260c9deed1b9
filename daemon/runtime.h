/*
 * runtime.h - what parleyd's threads share while it runs: the current
 * configuration (replaced whole on SIGHUP, freed when its last user lets go),
 * the stop flag, and a doorbell that wakes the ingest thread when a message
 * was spooled.
 *
 * This is the daemon's only shared mutable state, and every access is under
 * its mutex. A thread never keeps a configuration across a wait: it holds one
 * for a unit of work (a session, a scan) and releases it.
 */
#ifndef PARLEY_RUNTIME_H
#define PARLEY_RUNTIME_H

#include <pthread.h>

#include "config.h"

struct cfg_gen {
	struct config *cfg;
	int refs;
};

struct runtime {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cfg_gen *gen;	/* the current configuration */
	int stopping;
	unsigned long rings;	/* doorbell counter */
};

/* runtime_init: take ownership of CFG. */
void runtime_init(struct runtime *rt, struct config *cfg);
void runtime_destroy(struct runtime *rt);

/* runtime_hold: the current configuration, held until runtime_release. */
struct cfg_gen *runtime_hold(struct runtime *rt);
void runtime_release(struct runtime *rt, struct cfg_gen *g);

/* runtime_swap: make CFG (owned from now on) the current configuration. */
void runtime_swap(struct runtime *rt, struct config *cfg);

/* runtime_stop: set the stop flag and wake every waiter. */
void runtime_stop(struct runtime *rt);
int runtime_stopping(struct runtime *rt);

/* runtime_ring: a message was spooled; runtime_wait_ring: sleep until a ring
 * after *SEEN, a stop, or MS milliseconds. */
void runtime_ring(struct runtime *rt);
void runtime_wait_ring(struct runtime *rt, unsigned long *seen, int ms);

#endif
