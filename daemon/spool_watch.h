/*
 * spool_watch.h - rings the ingest doorbell (runtime_ring) the moment a
 * file appears in the spool's incoming/new, so that a message spooled by
 * another process (`parley inject` from the MTA's pipe, a restart's
 * leftovers) is ingested at once rather than at the next one-second scan.
 * The scan stays: the watch only shortens the wait, and a spool where
 * inotify cannot be had (no inotify, a full watch table) just works as
 * before, with a warning.
 */
#ifndef PARLEY_SPOOL_WATCH_H
#define PARLEY_SPOOL_WATCH_H

#include "runtime.h"

struct spool_watch;

/* spool_watch_start: watch SPOOL's incoming/new and ring RT on every new
 * file; NULL (logged) if it cannot. */
struct spool_watch *spool_watch_start(struct runtime *rt, const char *spool);

/* spool_watch_stop: after runtime_stop(): end the thread (within
 * half a second) and free W; NULL is fine. */
void spool_watch_stop(struct spool_watch *w);

#endif
