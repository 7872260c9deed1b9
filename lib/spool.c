/*
 * spool.c - the only code that writes, reads or removes spool files (see
 * spool.h). It never reports a message as committed before the file's data
 * and the directory entry in incoming/new are both fsync'd, and never leaves
 * a partial file in incoming/new: files appear there only by rename().
 */
#include "autoconf.h"

#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fileio.h"
#include "lockfile.h"
#include "log.h"
#include "xalloc.h"

#define SPOOL_MAGIC "PARLEY-SPOOL 1\n"
#define SPOOL_PATH_MAX 4200
#define SPOOL_HEADER_MAX 65536	/* bytes of envelope a loader accepts */

struct spool_writer {
	int fd;
	char tmp[SPOOL_PATH_MAX];
	char dst[SPOOL_PATH_MAX];
	char newdir[SPOOL_PATH_MAX];
	char id[SPOOL_ID_MAX];
	long long size, max_size;
	int failed;		/* a write failed: commit must refuse */
	int saved_errno;
};

static atomic_uint spool_counter;

void envelope_init(struct envelope *env)
{
	memset(env, 0, sizeof(*env));
}

void envelope_free(struct envelope *env)
{
	free(env->proto);
	free(env->client);
	free(env->helo);
	free(env->tls);
	free(env->source);
	free(env->sender);
	strv_free(&env->rcpts);
	envelope_init(env);
}

static int mkdir_one(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	log_error("%s: mkdir: %s", path, strerror(errno));
	return -1;
}

int spool_init(const char *dir)
{
	static const char *const sub[] = {"", "/incoming", "/incoming/tmp", "/incoming/new",
					  "/quarantine"};
	char path[SPOOL_PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, sub[i]);
		if (mkdir_one(path) < 0)
			return -1;
	}
	return 0;
}

int spool_lock(const char *dir)
{
	char path[SPOOL_PATH_MAX];

	snprintf(path, sizeof(path), "%s/.lock", dir);
	return lockfile_take(path, "another parleyd uses this spool");
}

void spool_new_id(char out[SPOOL_ID_MAX])
{
	struct timeval tv;
	unsigned n = atomic_fetch_add(&spool_counter, 1);

	gettimeofday(&tv, NULL);
	/* time in microseconds, then pid and a per-process counter: sortable by
	 * arrival and unique across processes on one host. */
	snprintf(out, SPOOL_ID_MAX, "%08llX%05lX.%lX.%X", (unsigned long long)tv.tv_sec,
		 (unsigned long)tv.tv_usec, (unsigned long)getpid(), n);
}

/* One "key: value\n" line; CR and LF in VALUE become '?'. */
static void put_field(char *buf, size_t len, size_t *off, const char *key, const char *value)
{
	size_t o = *off;
	int n;

	if (value == NULL || o >= len)
		return;
	n = snprintf(buf + o, len - o, "%s: %s\n", key, value);
	if (n < 0 || (size_t)n >= len - o) {
		*off = len;	/* overflow: caller refuses */
		return;
	}
	for (char *c = buf + o + strlen(key) + 2; *c && c < buf + o + (size_t)n - 1; c++)
		if (*c == '\r' || *c == '\n')
			*c = '?';
	*off = o + (size_t)n;
}

static char *envelope_format(const struct envelope *env, size_t *len)
{
	size_t cap = 4096 + env->rcpts.n * (ADDRESS_MAX + 8), off = 0, i;
	char *buf = xmalloc(cap), num[32];

	memcpy(buf, SPOOL_MAGIC, sizeof(SPOOL_MAGIC) - 1);
	off = sizeof(SPOOL_MAGIC) - 1;
	snprintf(num, sizeof(num), "%lld", env->received);
	put_field(buf, cap, &off, "queue-id", env->queue_id);
	put_field(buf, cap, &off, "received", num);
	put_field(buf, cap, &off, "proto", env->proto);
	put_field(buf, cap, &off, "client", env->client);
	put_field(buf, cap, &off, "helo", env->helo);
	put_field(buf, cap, &off, "tls", env->tls);
	put_field(buf, cap, &off, "source", env->source);
	put_field(buf, cap, &off, "sender", env->sender ? env->sender : "");
	for (i = 0; i < env->rcpts.n; i++)
		put_field(buf, cap, &off, "rcpt", env->rcpts.v[i]);
	if (off + 2 > cap) {
		free(buf);
		return NULL;
	}
	buf[off++] = '\n';
	*len = off;
	return buf;
}

/* give_to_spool_owner: when root writes into the spool (`parley inject`
 * run as root beside a parleyd that runs as daemon.user), the new file FD
 * is given to the owner of DIR/incoming/tmp, so that the daemon can read
 * and remove it; 0, or -1 (errno). Anyone else's file is theirs already. */
static int give_to_spool_owner(int fd, const char *dir)
{
	char tmp[SPOOL_PATH_MAX];
	struct stat st;

	if (geteuid() != 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s/incoming/tmp", dir);
	if (lstat(tmp, &st) < 0)
		return -1;
	if (st.st_uid == 0 && st.st_gid == 0)
		return 0;
	return fchown(fd, st.st_uid, st.st_gid);
}

struct spool_writer *spool_begin(const char *dir, struct envelope *env, const char *trace,
				 long long max_size)
{
	struct spool_writer *w;
	char *head;
	size_t hlen;
	int saved;

	if (env->queue_id[0] == '\0')
		spool_new_id(env->queue_id);
	if (env->received == 0)
		env->received = (long long)time(NULL);
	head = envelope_format(env, &hlen);
	if (head == NULL) {
		log_error("%s: envelope too large", env->queue_id);
		errno = E2BIG;
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	snprintf(w->id, sizeof(w->id), "%s", env->queue_id);
	snprintf(w->tmp, sizeof(w->tmp), "%s/incoming/tmp/%s", dir, w->id);
	snprintf(w->dst, sizeof(w->dst), "%s/incoming/new/%s", dir, w->id);
	snprintf(w->newdir, sizeof(w->newdir), "%s/incoming/new", dir);
	w->max_size = max_size;
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0 || give_to_spool_owner(w->fd, dir) < 0 || fileio_write_all(w->fd, head, hlen) < 0 ||
	    (trace != NULL && fileio_write_all(w->fd, trace, strlen(trace)) < 0)) {
		saved = errno;
		log_error("%s: %s: %s", w->id, w->tmp, strerror(saved));
		free(head);
		spool_abort(w);
		errno = saved;
		return NULL;
	}
	free(head);
	return w;
}

int spool_write(struct spool_writer *w, const void *buf, size_t len)
{
	w->size += (long long)len;
	if (w->failed)
		return -1;
	if (w->size > w->max_size)
		return 1;
	if (fileio_write_all(w->fd, buf, len) < 0) {
		w->saved_errno = errno;
		w->failed = 1;
		log_error("%s: write: %s", w->id, strerror(errno));
		return -1;
	}
	return 0;
}

long long spool_size(const struct spool_writer *w)
{
	return w->size;
}

int spool_commit(struct spool_writer *w)
{
	int rc = -1;

	if (w->failed || w->size > w->max_size) {
		errno = w->failed ? w->saved_errno : EFBIG;
		spool_abort(w);
		return -1;
	}
	if (fsync(w->fd) < 0) {
		log_error("%s: fsync: %s", w->id, strerror(errno));
	} else if (close(w->fd) < 0) {
		w->fd = -1;
		log_error("%s: close: %s", w->id, strerror(errno));
	} else if ((w->fd = -1, rename(w->tmp, w->dst)) < 0) {
		log_error("%s: rename to %s: %s", w->id, w->dst, strerror(errno));
	} else if (fileio_fsync_dir(w->newdir) < 0) {
		/* The name may not be durable: take it back so nobody acks it. */
		if (unlink(w->dst) < 0)
			log_error("%s: unlink: %s", w->dst, strerror(errno));
	} else {
		rc = 0;
	}
	if (rc < 0) {
		int saved = errno;
		spool_abort(w);
		errno = saved;
		return -1;
	}
	free(w);
	return 0;
}

void spool_abort(struct spool_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (unlink(w->tmp) < 0 && errno != ENOENT)
		log_warn("%s: unlink: %s", w->tmp, strerror(errno));
	free(w);
}

/* ---- reading ---- */

static int id_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= SPOOL_ID_MAX || name[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= 'a' && name[i] <= 'z') || name[i] == '.' || name[i] == '-' ||
		      name[i] == '_'))
			return 0;
	return 1;
}

int spool_list(const char *dir, struct strv *ids)
{
	char path[SPOOL_PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/incoming/new", dir);
	if ((d = opendir(path)) == NULL) {
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (id_ok(de->d_name))
			strv_push(ids, de->d_name);
	closedir(d);
	strv_sort(ids);
	return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (off != (size_t)st.st_size) {
		free(buf);
		return -1;
	}
	buf[off] = '\0';
	*out = buf;
	*len = off;
	return 0;
}

/* Parse the envelope lines of BUF into ENV; returns the message offset or 0. */
static size_t envelope_parse(const char *buf, size_t len, struct envelope *env)
{
	size_t off = sizeof(SPOOL_MAGIC) - 1;

	if (len < off || memcmp(buf, SPOOL_MAGIC, off) != 0)
		return 0;
	while (off < len && off < SPOOL_HEADER_MAX) {
		const char *line = buf + off, *nl = memchr(line, '\n', len - off), *colon;
		char *value;
		if (nl == NULL)
			return 0;
		if (nl == line)
			return env->rcpts.n > 0 && env->sender != NULL ? off + 1 : 0;
		colon = memchr(line, ':', (size_t)(nl - line));
		if (colon == NULL || colon + 1 >= nl || colon[1] != ' ')
			return 0;
		value = xstrndup(colon + 2, (size_t)(nl - colon - 2));
#define FIELD(name) ((size_t)(colon - line) == strlen(name) && memcmp(line, name, strlen(name)) == 0)
		if (FIELD("queue-id"))
			snprintf(env->queue_id, sizeof(env->queue_id), "%s", value);
		else if (FIELD("received"))
			env->received = strtoll(value, NULL, 10);
		else if (FIELD("rcpt"))
			strv_push(&env->rcpts, value);
		else {
			char **dst = FIELD("proto")    ? &env->proto
				     : FIELD("client") ? &env->client
				     : FIELD("helo")   ? &env->helo
				     : FIELD("tls")    ? &env->tls
				     : FIELD("source") ? &env->source
				     : FIELD("sender") ? &env->sender
						       : NULL;
			if (dst != NULL) {
				free(*dst);
				*dst = value;
				value = NULL;
			}
		}
#undef FIELD
		free(value);
		off = (size_t)(nl - buf) + 1;
	}
	return 0;
}

int spool_load(const char *dir, const char *id, struct envelope *env, char **msg, size_t *len)
{
	char path[SPOOL_PATH_MAX], *buf;
	size_t blen, off;
	int rc;

	snprintf(path, sizeof(path), "%s/incoming/new/%s", dir, id);
	envelope_init(env);
	rc = read_file(path, &buf, &blen);
	if (rc != 0) {
		if (rc < 0)
			log_error("%s: read: %s", path, strerror(errno));
		return rc;
	}
	off = envelope_parse(buf, blen, env);
	if (off == 0) {
		log_error("%s: malformed spool envelope", path);
		envelope_free(env);
		free(buf);
		return -1;
	}
	*len = blen - off;
	memmove(buf, buf + off, *len + 1);
	*msg = buf;
	return 0;
}

int spool_remove(const char *dir, const char *id)
{
	char path[SPOOL_PATH_MAX], newdir[SPOOL_PATH_MAX];

	snprintf(path, sizeof(path), "%s/incoming/new/%s", dir, id);
	snprintf(newdir, sizeof(newdir), "%s/incoming/new", dir);
	if (unlink(path) < 0 && errno != ENOENT) {
		log_error("%s: unlink: %s", path, strerror(errno));
		return -1;
	}
	return fileio_fsync_dir(newdir);
}

int spool_quarantine(const char *dir, const char *id, const char *reason)
{
	char from[SPOOL_PATH_MAX], to[SPOOL_PATH_MAX + SPOOL_ID_MAX + 16], qdir[SPOOL_PATH_MAX];
	int fd;

	snprintf(from, sizeof(from), "%s/incoming/new/%s", dir, id);
	snprintf(qdir, sizeof(qdir), "%s/quarantine", dir);
	snprintf(to, sizeof(to), "%s/%s.reason", qdir, id);
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (fileio_write_all(fd, reason, strlen(reason)) < 0 || fileio_write_all(fd, "\n", 1) < 0 ||
		    fsync(fd) < 0)
			log_warn("%s: %s", to, strerror(errno));
		close(fd);
	}
	snprintf(to, sizeof(to), "%s/%s", qdir, id);
	if (rename(from, to) < 0) {
		log_error("%s: rename to %s: %s", from, to, strerror(errno));
		return -1;
	}
	/* both entries: else a crash could bring the message back to new/ */
	if (fileio_fsync_dir(qdir) < 0)
		return -1;
	snprintf(qdir, sizeof(qdir), "%s/incoming/new", dir);
	return fileio_fsync_dir(qdir);
}

int spool_clean_tmp(const char *dir, int age)
{
	char path[SPOOL_PATH_MAX], file[SPOOL_PATH_MAX * 2];
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/incoming/tmp", dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!id_ok(de->d_name))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (stat(file, &st) == 0 && now - st.st_mtime >= age && unlink(file) == 0)
			n++;
	}
	closedir(d);
	return n;
}
