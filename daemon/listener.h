/*
 * listener.h - parleyd's LMTP and SMTP sockets: bound at start (before
 * privileges are dropped), then served by one accept thread that starts a
 * thread per session within daemon.limits.connections and
 * daemon.limits.sessions_per_ip, refusing the rest with 421.
 *
 * On stop it closes the sockets, tells every session (which finishes the
 * transaction it is in), and waits for them, at most daemon.limits.stop_grace
 * seconds: then it shuts the sockets of the rest down.
 */
#ifndef PARLEY_LISTENER_H
#define PARLEY_LISTENER_H

#include "runtime.h"

struct listener;

/* listener_open: bind every daemon.lmtp.listen and daemon.smtp.listen
 * address of CFG and load the TLS certificate if configured. NULL (logged)
 * if any cannot be bound. */
struct listener *listener_open(const struct config *cfg);

/* listener_start: accept in a new thread until listener_stop. 0 or -1. */
int listener_start(struct listener *l, struct runtime *rt);

/* listener_stop: stop accepting, let sessions finish within the grace, cut
 * the rest, free everything. 0; or -1 if a session still runs (logged; L is
 * then not freed and the caller must not free what sessions use). */
int listener_stop(struct listener *l);

#endif
