/*
 * test_spool.c - the durability of the spool (lib/spool.c): which
 * directories are fsync'd when a message is committed and when it is moved
 * to the quarantine (both the one it leaves and the one it enters), and
 * that a commit leaves nothing behind in incoming/new when it fails.
 *
 * The real fsync(2) runs; this file only observes it, by defining fsync()
 * in the test program (linked before libc) and recording which file each
 * call was for, read from /proc/self/fd.
 */
#include "autoconf.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spool.h"
#include "tap.h"

#define SYNCED_MAX 64

static char synced[SYNCED_MAX][PATH_MAX];
static int nsynced;

int fsync(int fd)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (nsynced < SYNCED_MAX && (n = readlink(link, synced[nsynced], PATH_MAX - 1)) > 0)
		synced[nsynced++][n] = '\0';
	return (int)syscall(SYS_fsync, fd);
}

static int was_synced(const char *path)
{
	for (int i = 0; i < nsynced; i++)
		if (strcmp(synced[i], path) == 0)
			return 1;
	return 0;
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int spool_one(const char *dir, struct envelope *env)
{
	struct spool_writer *w;

	envelope_init(env);
	env->proto = strdup("ESMTP");
	env->client = strdup("[192.0.2.1]:25");
	env->sender = strdup("a@example.net");
	strv_push(&env->rcpts, "dev@lists.example.org");
	w = spool_begin(dir, env, NULL, 1 << 20);
	if (w == NULL || spool_write(w, "Subject: x\r\n\r\nhi\r\n", 18) != 0)
		return -1;
	return spool_commit(w);
}

int main(void)
{
	char tmpl[] = "/tmp/parley-spool.XXXXXX", real[PATH_MAX], path[PATH_MAX + 64];
	struct envelope env;
	char *dir = mkdtemp(tmpl);

	if (dir == NULL || realpath(dir, real) == NULL || spool_init(real) < 0) {
		printf("Bail out! cannot make a spool\n");
		return 1;
	}
	ok(spool_one(real, &env) == 0, "a message is committed");
	snprintf(path, sizeof(path), "%s/incoming/new", real);
	ok(was_synced(path), "commit fsyncs incoming/new");

	nsynced = 0;
	ok(spool_quarantine(real, env.queue_id, "test") == 0, "the message is quarantined");
	snprintf(path, sizeof(path), "%s/quarantine", real);
	ok(was_synced(path), "quarantine fsyncs quarantine/, where the file went");
	snprintf(path, sizeof(path), "%s/incoming/new", real);
	ok(was_synced(path), "quarantine fsyncs incoming/new, where the file left");
	ok(count_files(path) == 0, "incoming/new is empty");
	snprintf(path, sizeof(path), "%s/quarantine/%s", real, env.queue_id);
	ok(access(path, R_OK) == 0, "quarantine/ID exists");
	envelope_free(&env);

	{	/* a message over its size never reaches incoming/new */
		struct spool_writer *w;
		envelope_init(&env);
		env.sender = strdup("");
		strv_push(&env.rcpts, "dev@lists.example.org");
		w = spool_begin(real, &env, NULL, 4);
		ok(w != NULL && spool_write(w, "0123456789", 10) == 1, "a write past max_size says so");
		ok(spool_commit(w) < 0, "and commit refuses it");
		snprintf(path, sizeof(path), "%s/incoming/new", real);
		ok(count_files(path) == 0, "nothing in incoming/new");
		snprintf(path, sizeof(path), "%s/incoming/tmp", real);
		ok(count_files(path) == 0, "nothing left in incoming/tmp");
		envelope_free(&env);
	}
	snprintf(path, sizeof(path), "rm -rf '%s'", real);
	if (system(path) != 0)
		printf("# could not remove %s\n", real);
	return tap_done();
}
