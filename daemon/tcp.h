/*
 * tcp.h - an outgoing TCP connection with a connect timeout, for the
 * daemon's clients (smtp_client.c to the relay, imap_poller.c to a
 * mailbox's server).
 */
#ifndef PARLEY_TCP_H
#define PARLEY_TCP_H

#include <stddef.h>

/* Called back while connecting; either may be NULL. */
struct tcp_hooks {
	int (*cancelled)(void *arg);	/* polled while waiting: non-zero gives up */
	void (*track)(void *arg, int fd); /* the socket once made (so that a stop can
					 * shut it down), -1 once it is dropped */
	void *arg;
};

/*
 * tcp_connect: a connected, blocking, close-on-exec socket to HOST:PORT,
 * trying each address in turn, each within TIMEOUT seconds; or -1 with the
 * reason in WHY (LEN bytes: "cannot resolve ...", "connect to H:P: ...").
 * The caller owns the socket. H's track sees it before connect() begins.
 */
int tcp_connect(const char *host, int port, int timeout, const struct tcp_hooks *h, char *why,
		size_t len);

#endif
