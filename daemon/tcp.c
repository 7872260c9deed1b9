/*
 * tcp.c - outgoing TCP connections (see tcp.h).
 *
 * It must never block longer than the timeout on one address, never wait
 * on after the caller's cancel says so, and never leave a socket open that
 * it does not return.
 */
#include "autoconf.h"

#include "tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mono.h"

#define WAIT_SLICE_MS 250	/* how often cancel is asked while connecting */

static int cancelled(const struct tcp_hooks *h)
{
	return h != NULL && h->cancelled != NULL && h->cancelled(h->arg);
}

static void track(const struct tcp_hooks *h, int fd)
{
	if (h != NULL && h->track != NULL)
		h->track(h->arg, fd);
}

/* connect_wait: wait for a non-blocking connect on FD; 0 or -1 (why set). */
static int connect_wait(const char *host, int port, int fd, int timeout, const struct tcp_hooks *h,
			char *why, size_t len)
{
	long long end = mono_ms() + timeout * 1000LL;
	struct pollfd pfd = {fd, POLLOUT, 0};
	socklen_t elen = sizeof(int);
	int n = 0, err = 0;

	while (n == 0 && mono_ms() < end && !cancelled(h))
		if ((n = poll(&pfd, 1, WAIT_SLICE_MS)) < 0 && errno == EINTR)
			n = 0;
	if (n <= 0) {
		snprintf(why, len, "connect to %s:%d: %s", host, port,
			 n < 0 ? strerror(errno) : cancelled(h) ? "cancelled" : "timed out");
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
	if (err != 0) {
		snprintf(why, len, "connect to %s:%d: %s", host, port, strerror(err));
		return -1;
	}
	return 0;
}

/* connect_one: a connected, blocking socket to AI (tracked), or -1. */
static int connect_one(const char *host, int port, const struct addrinfo *ai, int timeout,
		       const struct tcp_hooks *h, char *why, size_t len)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);

	if (fd < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return -1;
	}
	track(h, fd);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
	    (errno == EINPROGRESS && connect_wait(host, port, fd, timeout, h, why, len) == 0)) {
		int flags = fcntl(fd, F_GETFL);
		if (flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0)
			return fd;
		snprintf(why, len, "fcntl: %s", strerror(errno));
	} else if (errno != EINPROGRESS) {
		snprintf(why, len, "connect to %s:%d: %s", host, port, strerror(errno));
	}
	track(h, -1);
	close(fd);
	return -1;
}

int tcp_connect(const char *host, int port, int timeout, const struct tcp_hooks *h, char *why,
		size_t len)
{
	struct addrinfo hints, *res, *ai;
	char service[16];
	int fd = -1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof(service), "%d", port);
	if ((e = getaddrinfo(host, service, &hints, &res)) != 0) {
		snprintf(why, len, "cannot resolve %s: %s", host, gai_strerror(e));
		return -1;
	}
	snprintf(why, len, "connect to %s:%d: cancelled", host, port);
	for (ai = res; ai != NULL && fd < 0 && !cancelled(h); ai = ai->ai_next)
		fd = connect_one(host, port, ai, timeout, h, why, len);
	freeaddrinfo(res);
	return fd;
}
