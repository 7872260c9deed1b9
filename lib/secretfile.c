/*
 * secretfile.c - one-line password files (see secretfile.h). Never leaves a
 * partial password in the caller's buffer after a failure, and never logs one.
 */
#include "autoconf.h"

#include "secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int secretfile_read(const char *path, char *out, size_t len, char *why, size_t whylen)
{
	size_t n = 0;
	ssize_t got = 1;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	while (n + 1 < len && (got = read(fd, out + n, len - 1 - n)) != 0) {
		if (got < 0 && errno != EINTR)
			break;
		n += got > 0 ? (size_t)got : 0;
	}
	if (got < 0)
		snprintf(why, whylen, "%s", strerror(errno));
	close(fd);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	if (got < 0 || n == 0 || n + 1 >= len || strpbrk(out, "\r\n") != NULL) {
		explicit_bzero(out, len);
		if (got >= 0)
			snprintf(why, whylen, "%s", n == 0 ? "empty" : "not one line of a sane length");
		return -1;
	}
	return 0;
}
