/*
 * runtime.c - shared state of parleyd's threads (see runtime.h). Must never
 * free a configuration that a thread still holds.
 */
#include "autoconf.h"

#include "runtime.h"

#include <stdlib.h>
#include <time.h>

#include "xalloc.h"

static struct cfg_gen *gen_new(struct config *cfg)
{
	struct cfg_gen *g = xcalloc(1, sizeof(*g));

	g->cfg = cfg;
	g->refs = 1;	/* the runtime's own reference */
	return g;
}

static void gen_unref(struct cfg_gen *g)
{
	if (--g->refs == 0) {
		config_free(g->cfg);
		free(g);
	}
}

void runtime_init(struct runtime *rt, struct config *cfg)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&rt->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rt->cv, &ca);
	pthread_condattr_destroy(&ca);
	rt->gen = gen_new(cfg);
	rt->stopping = 0;
	rt->rings = 0;
}

void runtime_destroy(struct runtime *rt)
{
	gen_unref(rt->gen);
	pthread_cond_destroy(&rt->cv);
	pthread_mutex_destroy(&rt->mu);
}

struct cfg_gen *runtime_hold(struct runtime *rt)
{
	struct cfg_gen *g;

	pthread_mutex_lock(&rt->mu);
	g = rt->gen;
	g->refs++;
	pthread_mutex_unlock(&rt->mu);
	return g;
}

void runtime_release(struct runtime *rt, struct cfg_gen *g)
{
	pthread_mutex_lock(&rt->mu);
	gen_unref(g);
	pthread_mutex_unlock(&rt->mu);
}

void runtime_swap(struct runtime *rt, struct config *cfg)
{
	pthread_mutex_lock(&rt->mu);
	gen_unref(rt->gen);
	rt->gen = gen_new(cfg);
	pthread_mutex_unlock(&rt->mu);
}

void runtime_stop(struct runtime *rt)
{
	pthread_mutex_lock(&rt->mu);
	rt->stopping = 1;
	pthread_cond_broadcast(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
}

int runtime_stopping(struct runtime *rt)
{
	int s;

	pthread_mutex_lock(&rt->mu);
	s = rt->stopping;
	pthread_mutex_unlock(&rt->mu);
	return s;
}

void runtime_ring(struct runtime *rt)
{
	pthread_mutex_lock(&rt->mu);
	rt->rings++;
	pthread_cond_broadcast(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
}

void runtime_wait_ring(struct runtime *rt, unsigned long *seen, int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rt->mu);
	while (!rt->stopping && rt->rings == *seen)
		if (pthread_cond_timedwait(&rt->cv, &rt->mu, &until) != 0)
			break;
	*seen = rt->rings;
	pthread_mutex_unlock(&rt->mu);
}
