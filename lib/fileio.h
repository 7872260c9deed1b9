/*
 * fileio.h - the small durable-file helpers every writer of files shares:
 * write a whole buffer, fsync a directory. One place, so that every file
 * parley makes durable is made durable the same way.
 *
 * It knows nothing of spools, keys or mailboxes, and never removes a file.
 */
#ifndef PARLEY_FILEIO_H
#define PARLEY_FILEIO_H

#include <stddef.h>

/* fileio_write_all: write all LEN bytes of BUF to FD, retrying short writes
 * and EINTR. 0, or -1 with errno set (ENOSPC, EIO...); not logged. */
int fileio_write_all(int fd, const void *buf, size_t len);

/* fileio_fsync_dir: make DIR's entries (a rename, a link, an unlink in it)
 * durable. 0, or -1 (logged, errno kept). */
int fileio_fsync_dir(const char *dir);

#endif
