/*
 * pool.c - the scaffolding of the daemon's thread pools (see pool.h).
 *
 * It must never wait longer than the caller's bounds to stop, never shut
 * down a descriptor that is not its own dup() (a number reused elsewhere
 * would be hit), and never free a slot whose thread may still run.
 */
#include "autoconf.h"

#include "pool.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mono.h"

void pool_slot_init(struct pool_slot *s, const char *name)
{
	s->running = 0;
	s->fd = -1;
	s->stop_now = 0;
	atomic_init(&s->done, 0);
	pthread_mutex_init(&s->mu, NULL);
	snprintf(s->name, sizeof(s->name), "%s", name);
}

int pool_slot_start(struct pool_slot *s, void *(*fn)(void *), void *arg)
{
	if (pthread_create(&s->thread, NULL, fn, arg) != 0) {
		log_error("%s: cannot start its thread", s->name);
		return -1;
	}
	s->running = 1;
	return 0;
}

void pool_slot_done(struct pool_slot *s)
{
	atomic_store(&s->done, 1);
}

void pool_track(struct pool_slot *s, int fd)
{
	int d = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;

	pthread_mutex_lock(&s->mu);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = d;
	if (s->stop_now && d >= 0)
		shutdown(d, SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
}

int pool_stop_now(struct pool_slot *s)
{
	int stop;

	pthread_mutex_lock(&s->mu);
	stop = s->stop_now;
	pthread_mutex_unlock(&s->mu);
	return stop;
}

static int busy(struct pool_slot *s)
{
	return s->running && !atomic_load(&s->done);
}

/* wait_all: until no slot is busy or MS pass; the number still busy. */
static size_t wait_all(struct pool_slot *const *slots, size_t n, int ms)
{
	long long end = mono_ms() + ms;
	struct timespec ts = {0, 50 * 1000000L};
	size_t i, left;

	for (;;) {
		for (i = 0, left = 0; i < n; i++)
			left += busy(slots[i]) ? 1 : 0;
		if (left == 0 || mono_ms() >= end)
			return left;
		nanosleep(&ts, NULL);
	}
}

static void interrupt(struct pool_slot *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop_now = 1;
	if (s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
}

size_t pool_stop(struct pool_slot *const *slots, size_t n, int grace_ms, int cutoff_ms)
{
	size_t i, left = 0;

	if (wait_all(slots, n, grace_ms) > 0)
		for (i = 0; i < n; i++)
			if (busy(slots[i])) {
				log_warn("%s: still busy after %d ms: shutting its connection down",
					 slots[i]->name, grace_ms);
				interrupt(slots[i]);
			}
	wait_all(slots, n, cutoff_ms);
	for (i = 0; i < n; i++) {
		struct pool_slot *s = slots[i];
		if (busy(s)) {
			log_error("%s: did not stop within %d ms of its connection being shut down: "
				  "left to the exit", s->name, cutoff_ms);
			pthread_detach(s->thread);
			left++;
			continue;
		}
		if (s->running)
			pthread_join(s->thread, NULL);
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		pthread_mutex_destroy(&s->mu);
	}
	return left;
}
