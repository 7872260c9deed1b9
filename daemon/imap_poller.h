/*
 * imap_poller.h - empties hosted mailboxes into the spool over IMAP (design
 * §1): one thread per configured mailbox (config `imap`), each with its own
 * libetpan session and its own store connection. What the server sends goes
 * through imap_guard (imap_guard.h) before libetpan parses it.
 *
 * Per message, in this order, each step durable before the next: fetch it
 * by UID (BODY.PEEK[]: the server sets no flag), spool_commit() it, ring
 * ingest, record the UID as the mailbox's last_uid in the store (own
 * transaction), then apply the configured after-action (\Seen, delete and
 * expunge, or move). A crash between two steps loses nothing and stores
 * nothing twice: the spool file's source "imap:NAME;UIDVALIDITY;UID" is a
 * unique key of ingest. The poller waits with IDLE where offered (re-issued
 * every 25 minutes), else polls every poll_interval seconds, and reconnects
 * with exponential backoff; a refused login backs off slowly.
 */
#ifndef PARLEY_IMAP_POLLER_H
#define PARLEY_IMAP_POLLER_H

#include "runtime.h"

struct imap_poller;

/*
 * imap_poller_start: start one thread per mailbox configured in RT's current
 * configuration (none: an empty poller). Threads hold the configuration only
 * for a unit of work and look their mailbox up by name each time, so a
 * reload changes its settings (a mailbox removed by a reload stops; one
 * added needs a restart). Never NULL; a thread that cannot be started is
 * logged and left out. The caller must keep RT alive until imap_poller_stop.
 */
struct imap_poller *imap_poller_start(struct runtime *rt);

/*
 * imap_poller_stop: call after runtime_stop(). Gives the threads a moment to
 * leave their mailboxes politely (IDLE DONE, LOGOUT), then shuts down the
 * sockets of any still blocked on the network, joins every thread and frees
 * P. Returns within a few seconds whatever the servers do (a thread still
 * running 2 s after its socket was shut down is logged and left to the
 * exit, with P: see pool_stop). Nothing taken is
 * lost: a message whose after-action was cut short is found again (and
 * deduplicated) on the next run.
 */
void imap_poller_stop(struct imap_poller *p);

/*
 * imap_poller_run_once: one session with mailbox NAME of RT's configuration
 * in the calling thread, with no waiting: connect, log in, select, position,
 * take what is new, LOGOUT. For tests and tests/fuzz (fuzz_imap), which play
 * the server; the daemon never calls it. 0 if the session ended well, -1
 * with the reason in WHY (LEN bytes) otherwise.
 */
int imap_poller_run_once(struct runtime *rt, const char *name, char *why, size_t len);

#endif
