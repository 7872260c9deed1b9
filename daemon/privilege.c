/*
 * privilege.c - the switch from root to the daemon user, and the checks of
 * the files parleyd trusts (see privilege.h).
 *
 * Must never leave the process able to regain root: the group list, gid and
 * uid are all replaced, and the result is checked. Must never give the
 * daemon user a file it did not already have a right to: everything handed
 * over is opened without following symbolic links and changed through its
 * descriptor (fchown/fchmod), and anything that is not a directory or a
 * regular file with a single link (a symbolic link, a device, a FIFO, a hard
 * link to some other file) is logged and left as it is. Never runs a shell
 * or another program.
 */
#include "autoconf.h"

#include "privilege.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "token.h"

#define DEFAULT_USER "parley"
#define TREE_DEPTH   3 /* spool / incoming / new / file */

struct owner {
	const char *name;
	uid_t uid;
	gid_t gid;
};

static const char *kind_of(mode_t m)
{
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISFIFO(m))
		return "a FIFO";
	return S_ISSOCK(m) ? "a socket" : "a device";
}

/* entry_open: the entry NAME of the directory DFD (SHOWN in messages)
 * opened without following a symbolic link: a directory if WANT_DIR, else a
 * regular file with one link. The descriptor; -1 if it does not exist; -2
 * if it is something else (logged, left as it is) or cannot be opened. */
static int entry_open(int dfd, const char *name, const char *shown, int want_dir,
		      const struct owner *o)
{
	struct stat st, fst;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return -1;
		log_error("%s: %s", shown, strerror(errno));
		return -2;
	}
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		log_warn("%s: %s%s, not %s: left as it is, not given to user %s", shown,
			 kind_of(st.st_mode), S_ISREG(st.st_mode) ? " with other hard links" : "",
			 want_dir ? "a directory" : "a regular file", o->name);
		return -2;
	}
	fd = openat(dfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (want_dir ? O_DIRECTORY : 0));
	if (fd < 0 || fstat(fd, &fst) < 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
		log_warn("%s: changed while being handed over: left as it is, not given to user %s",
			 shown, o->name);
		if (fd >= 0)
			close(fd);
		return -2;
	}
	return fd;
}

/* give: the open file FD (SHOWN) to O, with MODE; 0 or -1 (logged). */
static int give(int fd, const char *shown, const struct owner *o, mode_t mode)
{
	if (fchown(fd, o->uid, o->gid) < 0 || fchmod(fd, mode) < 0) {
		log_error("%s: cannot give it to user %s: %s", shown, o->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* give_tree: the directory DFD (SHOWN), its files and, DEPTH levels down,
 * its directories, to O: directories 0700, files 0600. Entries whose name
 * begins with a dot (the spool's lock) stay as they are. 0 or -1. */
static int give_tree(int dfd, const char *shown, const struct owner *o, int depth)
{
	char path[4400];
	struct dirent *de;
	DIR *d;
	int rc = give(dfd, shown, o, 0700), fd, sub;

	if ((sub = dup(dfd)) < 0 || (d = fdopendir(sub)) == NULL) {
		log_error("%s: %s", shown, strerror(errno));
		if (sub >= 0)
			close(sub);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", shown, de->d_name);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (S_ISDIR(st.st_mode) && depth > 0) {
			if ((fd = entry_open(dfd, de->d_name, path, 1, o)) >= 0) {
				rc |= give_tree(fd, path, o, depth - 1);
				close(fd);
			}
		} else if ((fd = entry_open(dfd, de->d_name, path, 0, o)) >= 0) {
			rc |= give(fd, path, o, 0600);
			close(fd);
		}
	}
	closedir(d);
	return rc;
}

/* give_spool: the spool tree to O. Its top is the configured path (set by
 * the administrator, so followed if it is a link); nothing below is. */
static int give_spool(const char *spool, const struct owner *o)
{
	int fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0) {
		log_error("%s: %s", spool, strerror(errno));
		return -1;
	}
	rc = give_tree(fd, spool, o, TREE_DEPTH - 1);
	close(fd);
	return rc;
}

/* split: the directory of PATH into DIR, its last component into BASE. */
static void split(const char *path, char *dir, size_t dlen, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(dir, dlen, ".");
		*base = path;
	} else {
		snprintf(dir, dlen, "%.*s", slash == path ? 1 : (int)(slash - path), path);
		*base = slash + 1;
	}
}

/* give_file: the regular file PATH (if it exists) to O with MODE; the
 * directory that holds it too (0700) when OWN_DIR and it already belongs to
 * O. A symbolic link or anything else is logged and left. 0 or -1. */
static int give_file(const char *path, const struct owner *o, mode_t mode, int own_dir)
{
	char dir[4096];
	const char *base;
	struct stat st;
	int dfd, fd, rc = 0;

	split(path, dir, sizeof(dir), &base);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_error("%s: %s", dir, strerror(errno));
		return -1;
	}
	if (own_dir && fstat(dfd, &st) == 0 && st.st_uid == o->uid && (st.st_mode & 077) != 0 &&
	    fchmod(dfd, 0700) < 0)
		log_warn("%s: chmod 700: %s", dir, strerror(errno));
	fd = entry_open(dfd, base, path, 0, o);
	if (fd >= 0) {
		rc = give(fd, path, o, mode);
		close(fd);
	}
	close(dfd);
	return rc;
}

/* give_key: make sure the token key exists (created now, as root, if it is
 * missing), then hand it over. 0 or -1. A key that cannot be made or is
 * refused is only logged here: the daemon runs without one (ingest says so)
 * as it does when not started as root. */
static int give_key(const char *path, const struct owner *o)
{
	unsigned char key[TOKEN_KEY_LEN];
	int rc = token_key_load(path, key);

	explicit_bzero(key, sizeof(key));
	return rc < 0 ? 0 : give_file(path, o, 0600, 1);
}

static int give_files(const struct cfg_daemon *d, const struct owner *o)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char path[4096 + 16];
	size_t i;
	int rc = give_spool(d->spool, o);

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", d->database, suffix[i]);
		rc |= give_file(path, o, 0600, i == 0);
	}
	rc |= give_key(d->secret_file, o);
	return rc;
}

static int dir_writable_by(const char *db, uid_t uid, gid_t gid)
{
	char dir[4096];
	const char *base;
	struct stat st;

	split(db, dir, sizeof(dir), &base);
	if (stat(dir, &st) < 0)
		return 1; /* store_open reports it */
	if (st.st_uid == uid)
		return (st.st_mode & S_IWUSR) != 0;
	if (st.st_gid == gid)
		return (st.st_mode & S_IWGRP) != 0;
	return (st.st_mode & S_IWOTH) != 0;
}

/* ---- files parleyd trusts ---- */

/* file_trusted: PATH (WHAT, e.g. "the configuration") may be trusted: no
 * group or other may write it (nor, if PRIVATE, read it), and it belongs to
 * root, to us, or to UID. 0, or -1 with an error naming the path. */
static int file_trusted(const char *path, const char *what, uid_t uid, int private)
{
	mode_t bad = private ? 077 : 022;
	struct stat st;

	if (path == NULL)
		return 0;
	if (stat(path, &st) < 0)
		return 0; /* the configuration check reports what cannot be read */
	if ((st.st_mode & bad) != 0) {
		log_error("%s: %s is %s by %s (mode %04o): refusing to start; chmod %s %s", path,
			  what, (st.st_mode & bad & 022) ? "writable" : "readable",
			  (st.st_mode & bad & 007) ? "others" : "its group",
			  (unsigned)(st.st_mode & 07777), private ? "600" : "go-w", path);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != uid) {
		log_error("%s: %s belongs to uid %ld, neither root nor the daemon's user: "
			  "refusing to start",
			  path, what, (long)st.st_uid);
		return -1;
	}
	return 0;
}

int privilege_check_files(const struct config *cfg, const char *conf_path)
{
	const char *user = cfg->daemon.user ? cfg->daemon.user : DEFAULT_USER;
	struct passwd *pw = geteuid() == 0 ? getpwnam(user) : NULL;
	uid_t uid = pw ? pw->pw_uid : geteuid();
	const struct cfg_daemon *d = &cfg->daemon;
	int rc = 0;
	size_t i;

	rc |= file_trusted(conf_path, "the configuration", uid, 0);
	rc |= file_trusted(d->tls_key, "the TLS key (daemon.tls.key)", uid, 0);
	rc |= file_trusted(d->secret_file, "the token key (daemon.secret_file)", uid, 1);
	rc |= file_trusted(d->relay.auth_password_file, "the relay password file", uid, 0);
	for (i = 0; i < cfg->nimaps; i++)
		rc |= file_trusted(cfg->imaps[i].password_file, "an IMAP password file", uid, 0);
	return rc < 0 ? -1 : 0;
}

/* ---- the switch ---- */

int privilege_drop(const struct config *cfg)
{
	const char *user = cfg->daemon.user ? cfg->daemon.user : DEFAULT_USER;
	struct passwd *pw;
	struct owner o;

	umask(077); /* everything made from now on is ours alone */
	if (geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		if (cfg->daemon.user != NULL) {
			log_error(
			    "daemon.user '%s' does not exist: create it (useradd --system %s)",
			    user, user);
			return -1;
		}
		log_warn("running as root: there is no user '%s' to switch to; create it "
			 "(useradd --system %s) or set daemon.user",
			 user, user);
		return 0;
	}
	if (pw->pw_uid == 0)
		return 0;
	if (!dir_writable_by(cfg->daemon.database, pw->pw_uid, pw->pw_gid) &&
	    cfg->daemon.user == NULL) {
		/* the default user cannot be used here: as when it does not exist */
		log_warn("running as root: %s's directory is not writable by user '%s'; give it "
			 "to that user or set daemon.user",
			 cfg->daemon.database, user);
		return 0;
	}
	if (!dir_writable_by(cfg->daemon.database, pw->pw_uid, pw->pw_gid)) {
		log_error("%s: its directory must be writable by user '%s' (SQLite creates its "
			  "WAL files there)",
			  cfg->daemon.database, user);
		return -1;
	}
	o.name = user;
	o.uid = pw->pw_uid;
	o.gid = pw->pw_gid;
	if (give_files(&cfg->daemon, &o) < 0)
		return -1;
	if (setgroups(0, NULL) < 0 || setgid(o.gid) < 0 || setuid(o.uid) < 0) {
		log_error("cannot switch to user '%s': %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		log_error("still able to become root after switching to '%s'", user);
		return -1;
	}
	log_info("running as user %s (uid %ld, gid %ld)", user, (long)o.uid, (long)o.gid);
	return 0;
}
