/*
 * lockfile.c - non-blocking exclusive locks on files (see lockfile.h). Never
 * waits: a held lock is an answer, not something to queue for. Never opens
 * a lock file through a symbolic link, nor uses anything but a regular file
 * (root writes its pid into it).
 */
#include "autoconf.h"

#include "lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int lockfile_take(const char *path, const char *busy)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	struct stat st;

	if (fd < 0) {
		log_error("%s: %s", path,
			  errno == ELOOP ? "a symbolic link: refusing it" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("%s: not a regular file: refusing it", path);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_error("%s: %s (%s)", path, busy, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
