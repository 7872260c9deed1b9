/*
 * privilege.c - the switch from root to the daemon user (see privilege.h).
 * Must never leave the process able to regain root: the group list, gid and
 * uid are all replaced, and the result is checked.
 */
#include "autoconf.h"

#include "privilege.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define DEFAULT_USER "parley"

static int own(const char *path, uid_t uid, gid_t gid)
{
	if (chown(path, uid, gid) < 0 && errno != ENOENT) {
		log_error("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* own_dir: DIR and the entries directly in it. */
static int own_dir(const char *dir, uid_t uid, gid_t gid)
{
	char path[4400 + 256];
	struct dirent *de;
	DIR *d;
	int rc = own(dir, uid, gid);

	if (rc < 0 || (d = opendir(dir)) == NULL)
		return rc;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (own(path, uid, gid) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static int give_files(const struct cfg_daemon *d, uid_t uid, gid_t gid)
{
	static const char *const sub[] = {"", "/incoming", "/incoming/tmp", "/incoming/new",
					  "/quarantine"};
	char path[4400 - 256];
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", d->spool, sub[i]);
		rc |= own_dir(path, uid, gid);
	}
	rc |= own(d->database, uid, gid);
	snprintf(path, sizeof(path), "%s-wal", d->database);
	rc |= own(path, uid, gid);
	snprintf(path, sizeof(path), "%s-shm", d->database);
	rc |= own(path, uid, gid);
	return rc;
}

static int dir_writable_by(const char *db, uid_t uid, gid_t gid)
{
	char dir[4096];
	const char *slash = strrchr(db, '/');
	struct stat st;

	snprintf(dir, sizeof(dir), "%.*s", slash == db ? 1 : (int)(slash - db), db);
	if (stat(dir, &st) < 0)
		return 1;	/* store_open reports it */
	if (st.st_uid == uid)
		return (st.st_mode & S_IWUSR) != 0;
	if (st.st_gid == gid)
		return (st.st_mode & S_IWGRP) != 0;
	return (st.st_mode & S_IWOTH) != 0;
}

int privilege_drop(const struct config *cfg)
{
	const char *user = cfg->daemon.user ? cfg->daemon.user : DEFAULT_USER;
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		if (cfg->daemon.user != NULL) {
			log_error("daemon.user '%s' does not exist: create it (useradd --system %s)",
				  user, user);
			return -1;
		}
		log_warn("running as root: there is no user '%s' to switch to; create it "
			 "(useradd --system %s) or set daemon.user", user, user);
		return 0;
	}
	if (pw->pw_uid == 0)
		return 0;
	if (!dir_writable_by(cfg->daemon.database, pw->pw_uid, pw->pw_gid)) {
		log_error("%s: its directory must be writable by user '%s' (SQLite creates its "
			  "WAL files there)", cfg->daemon.database, user);
		return -1;
	}
	if (give_files(&cfg->daemon, pw->pw_uid, pw->pw_gid) < 0)
		return -1;
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_error("cannot switch to user '%s': %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		log_error("still able to become root after switching to '%s'", user);
		return -1;
	}
	log_info("running as user %s (uid %ld)", user, (long)pw->pw_uid);
	return 0;
}
