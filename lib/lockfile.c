/*
 * lockfile.c - non-blocking exclusive locks on files (see lockfile.h). Never
 * waits: a held lock is an answer, not something to queue for.
 */
#include "autoconf.h"

#include "lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"

int lockfile_take(const char *path, const char *busy)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_error("%s: %s (%s)", path, busy, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
