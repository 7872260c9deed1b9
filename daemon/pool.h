/*
 * pool.h - what the daemon's pools of network threads share (delivery.c's
 * workers to the relay, imap_poller.c's one thread per mailbox): starting a
 * thread, knowing it finished, keeping a dup() of the socket it may be
 * blocked on, and a stop bounded in time that shuts those sockets down
 * under the libraries' feet when the threads do not finish by themselves.
 */
#ifndef PARLEY_POOL_H
#define PARLEY_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

/* One thread of a pool; embedded in the caller's per-thread struct. */
struct pool_slot {
	pthread_t thread;
	int running;		/* the thread was created */
	atomic_int done;	/* the thread has finished */
	pthread_mutex_t mu;	/* guards fd and stop_now */
	int fd;			/* our dup() of the thread's socket, or -1 */
	int stop_now;		/* pool_stop gave up waiting */
	char name[64];		/* for the log: "delivery: worker 3", "imap NAME" */
};

/* pool_slot_init: a slot with no thread yet, NAME (copied) for the log. */
void pool_slot_init(struct pool_slot *s, const char *name);

/* pool_slot_start: run FN(ARG) in a new thread; 0, or -1 (logged). */
int pool_slot_start(struct pool_slot *s, void *(*fn)(void *), void *arg);

/* pool_slot_done: the thread's last call: it has finished. */
void pool_slot_done(struct pool_slot *s);

/* pool_track: keep a dup() of FD (the previous one is closed), so that
 * pool_stop can shut the connection down; FD -1 just forgets. A stop that
 * already gave up shuts the new one down at once. */
void pool_track(struct pool_slot *s, int fd);

/* pool_stop_now: 1 once pool_stop gave up waiting for this thread. */
int pool_stop_now(struct pool_slot *s);

/*
 * pool_stop: call after runtime_stop(). Waits up to GRACE_MS for the
 * threads of the N SLOTS to finish, shuts down the sockets of the others
 * (logged), waits up to CUTOFF_MS more, joins every finished thread and
 * releases its slot. A thread still running then is logged and detached:
 * the return value is how many; while it is not 0 the caller must not free
 * what those threads use (the process is about to exit).
 */
size_t pool_stop(struct pool_slot *const *slots, size_t n, int grace_ms, int cutoff_ms);

#endif
