/*
 * maildir_sink.c - the maildir sink (see maildir_sink.h): one directory
 * per recipient under relay.maildir, each a Maildir (tmp, new, cur). A copy
 * is written into tmp/, fsync'd, renamed into new/, and new/ is fsync'd, so
 * a crash leaves either nothing in new/ or the whole copy; a directory
 * made is made durable in its parent.
 *
 * It must never follow a recipient out of TOP (the name is escaped), never
 * overwrite a file (O_EXCL), and never report a copy written that is not
 * on disk.
 */
#include "autoconf.h"

#include "maildir_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "address.h"
#include "fileio.h"
#include "xalloc.h"

/* maildir_name: RCPT as one path component: '/', '%', control characters
 * and a leading '.' as %XX. */
static void maildir_name(char *out, size_t len, const char *rcpt)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)rcpt; *p != '\0' && n + 4 < len; p++) {
		if (*p == '/' || *p == '%' || *p < 0x20 || *p == 0x7f || (*p == '.' && n == 0)) {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n] = '\0';
}

/* mkdir_durable: PATH exists as a directory (made, and its parent synced,
 * if missing); 0 or -1 (errno). */
static int mkdir_durable(const char *path, const char *parent)
{
	if (mkdir(path, 0700) == 0)
		return fileio_fsync_dir(parent);
	return errno == EEXIST ? 0 : -1;
}

/* maildir_dirs: TOP/RCPT/{tmp,new,cur} exist; the malloc'd TOP/RCPT, or
 * NULL (errno). */
static char *maildir_dirs(const char *top, const char *rcpt)
{
	static const char *const sub[] = {"tmp", "new", "cur"};
	char name[ADDRESS_MAX * 3 + 1], *box;
	size_t i;

	maildir_name(name, sizeof(name), rcpt);
	box = xasprintf("%s/%s", top, name);
	if ((mkdir(top, 0700) < 0 && errno != EEXIST) || mkdir_durable(box, top) < 0) {
		free(box);
		return NULL;
	}
	for (i = 0; i < 3; i++) {
		char *path = xasprintf("%s/%s", box, sub[i]);
		int rc = mkdir_durable(path, box);
		free(path);
		if (rc < 0) {
			free(box);
			return NULL;
		}
	}
	return box;
}

/* maildir_file: write HEAD and MSG into the new file TMP, synced; 0
 * or -1 (errno; nothing left behind). */
static int maildir_file(const char *tmp, const char *head, const char *msg, size_t len)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (fileio_write_all(fd, head, strlen(head)) < 0 || fileio_write_all(fd, msg, len) < 0 ||
	    fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* host_part: HOST for maildir file names ('/' and ':' as '_'). */
static void host_part(const char *host, char *out, size_t len)
{
	char *p;

	snprintf(out, len, "%s", host);
	for (p = out; *p != '\0'; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
}

/* maildir_tmp: the copy written under BOX/tmp with a new unique name; the
 * malloc'd name, or NULL (errno). */
static char *maildir_tmp(const char *hostname, const char *box, const char *rcpt,
			 const char *from, long long id, int attempt, const char *msg, size_t len)
{
	char *head = xasprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", from, rcpt);
	char host[128], *name = NULL;
	struct timeval tv;
	int i, rc = -1;

	host_part(hostname, host, sizeof(host));
	for (i = 0; i < 5 && rc < 0; i++) {
		char *tmp;
		free(name);
		gettimeofday(&tv, NULL);
		name = xasprintf("%lld.M%06ldP%dD%lldA%dQ%d.%s", (long long)tv.tv_sec,
				 (long)tv.tv_usec, (int)getpid(), id, attempt, i, host);
		tmp = xasprintf("%s/tmp/%s", box, name);
		rc = maildir_file(tmp, head, msg, len);
		free(tmp);
		if (rc < 0 && errno != EEXIST)
			break;
	}
	free(head);
	if (rc < 0) {
		free(name);
		return NULL;
	}
	return name;
}

/* maildir_move: BOX/tmp/NAME to BOX/new/NAME, the directory synced; 0 or
 * -1 (errno). */
static int maildir_move(const char *box, const char *name)
{
	char *tmp = xasprintf("%s/tmp/%s", box, name), *fresh = xasprintf("%s/new/%s", box, name);
	char *dir = xasprintf("%s/new", box);
	int rc = rename(tmp, fresh);

	if (rc < 0) {
		int e = errno;
		(void)unlink(tmp);
		errno = e;
	} else {
		rc = fileio_fsync_dir(dir);
	}
	free(tmp);
	free(fresh);
	free(dir);
	return rc;
}

int maildir_sink_write(const char *top, const char *host, const char *rcpt, const char *from,
		       long long id, int attempt, const char *msg, size_t len, char *text,
		       size_t textlen)
{
	char *box = maildir_dirs(top, rcpt), *name = NULL;
	int ok = box != NULL && (name = maildir_tmp(host, box, rcpt, from, id, attempt, msg, len)) !=
					NULL &&
		 maildir_move(box, name) == 0;

	if (ok)
		snprintf(text, textlen, "written to %.200s/new/%.200s", box, name);
	else
		snprintf(text, textlen, "maildir %.300s: %s", top, strerror(errno));
	free(box);
	free(name);
	return ok ? 0 : -1;
}
