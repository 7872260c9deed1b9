/*
 * fileio.c - durable-file helpers (see fileio.h). Never retries a failed
 * write past its error, and never reports a directory durable when its
 * fsync failed.
 */
#include "autoconf.h"

#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int fileio_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fileio_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc, saved;

	if (fd < 0) {
		saved = errno;
		log_error("%s: open: %s", dir, strerror(saved));
		errno = saved;
		return -1;
	}
	rc = fsync(fd);
	saved = errno;
	if (rc < 0)
		log_error("%s: fsync: %s", dir, strerror(saved));
	close(fd);
	errno = saved;
	return rc;
}
