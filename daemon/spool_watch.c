/*
 * spool_watch.c - the spool's inotify watch (see spool_watch.h). One thread
 * that polls an inotify descriptor on incoming/new for files renamed or
 * written there, drains the events and rings the doorbell; it wakes twice a
 * second to see whether the daemon stops.
 *
 * It must never read, move or remove a spool file (ingest.c owns them),
 * and never be needed for correctness: missing a ring only delays a
 * message to the next scan.
 */
#include "autoconf.h"

#include "spool_watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define WATCH_POLL_MS 500	/* how often the thread looks at the stop flag */

struct spool_watch {
	struct runtime *rt;
	pthread_t thread;
	int fd;			/* the inotify descriptor */
};

/* drain: read the pending events of FD; 1 if there were any, 0 if none,
 * -1 if the descriptor failed. */
static int drain(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			any = 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return any;
		return -1;
	}
}

static void *watch_main(void *arg)
{
	struct spool_watch *w = arg;
	struct pollfd p = {.fd = w->fd, .events = POLLIN};

	while (!runtime_stopping(w->rt)) {
		int rc = poll(&p, 1, WATCH_POLL_MS), d;
		if (rc < 0 && errno != EINTR) {
			log_warn("spool watch: poll: %s; the spool is scanned every second",
				 strerror(errno));
			break;
		}
		if (rc <= 0)
			continue;
		if ((d = drain(w->fd)) < 0) {
			log_warn("spool watch: read: %s; the spool is scanned every second",
				 strerror(errno));
			break;
		}
		if (d > 0)
			runtime_ring(w->rt);
	}
	return NULL;
}

struct spool_watch *spool_watch_start(struct runtime *rt, const char *spool)
{
	struct spool_watch *w;
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/incoming/new", spool) >= (int)sizeof(path))
		return NULL;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    inotify_add_watch(fd, path, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		log_warn("spool watch: %s: %s; the spool is scanned every second", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->rt = rt;
	w->fd = fd;
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		log_warn("spool watch: cannot start its thread; the spool is scanned every second");
		close(fd);
		free(w);
		return NULL;
	}
	return w;
}

void spool_watch_stop(struct spool_watch *w)
{
	if (w == NULL)
		return;
	pthread_join(w->thread, NULL);
	close(w->fd);
	free(w);
}
