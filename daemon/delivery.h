/*
 * delivery.h - the delivery workers (design §1, Delivery): a pool of
 * daemon.workers threads that take due copies from the queue (the
 * deliveries table), render each for its subscriber (render_copy) and hand
 * it to the relay with one envelope per recipient and a VERP return path
 * L+bounce-TOKEN@ naming the copy, or write it into daemon.relay.maildir.
 *
 * Each copy is claimed ('sending') in a committed transaction before it
 * leaves, and its result (sent, deferred with the next attempt, failed) is
 * committed in a transaction of its own right after the relay's answer:
 * after a crash, only the copies in flight at that instant (one per worker,
 * so one per relay connection) may reach their recipient twice.
 */
#ifndef PARLEY_DELIVERY_H
#define PARLEY_DELIVERY_H

#include "runtime.h"

struct delivery_pool;

/*
 * delivery_start: put the copies a previous run left 'sending' back in the
 * queue, load the token key (daemon.secret_file, created if missing), then
 * start daemon.workers threads, each with its own store connection and SMTP
 * session. Call once, after privileges are dropped. Never NULL: on a failure
 * (logged) the pool has no workers and the copies wait in the queue.
 */
struct delivery_pool *delivery_start(struct runtime *rt);

/*
 * delivery_stop: after runtime_stop(): each worker finishes the copy it has
 * in flight and puts back the ones it had claimed but not begun; a worker
 * still waiting on the relay after a grace of seconds has its connection cut
 * (its copy stays 'sending' and is sent again after the restart). Joins the
 * threads and frees P; a worker that still has not finished 2 s after its
 * connection was cut is logged and left to the process exit, with P (see
 * pool_stop). NULL is fine.
 */
void delivery_stop(struct delivery_pool *p);

#endif
