/*
 * privilege.h - parleyd gives up root after binding its ports.
 */
#ifndef PARLEY_PRIVILEGE_H
#define PARLEY_PRIVILEGE_H

#include "config.h"

/*
 * privilege_drop: set the umask to 077; then, when running as root, switch
 * to daemon.user (or, when that is unset, to "parley" if such a user exists,
 * else stay root with a warning), after giving that user the spool tree
 * (directories 0700, files 0600), the database and its -wal/-shm/-journal
 * (0600) and the token key (created first if missing; 0600). Nothing is
 * handed over through a symbolic link, and what is not a directory or a
 * regular file with one link is logged and left as it is. Returns 0, or -1
 * (logged) if the user is missing or the switch fails. Without root, only
 * sets the umask.
 */
int privilege_drop(const struct config *cfg);

/*
 * privilege_check_files: 0 if the configuration file CONF_PATH and every
 * secret file CFG names (TLS key, token key, relay and IMAP password files)
 * are writable by their owner only (the token key: readable too) and
 * belong to root, to us, or to the daemon's user; else -1, with an error naming each such path. Files that
 * do not exist are left to the configuration check.
 */
int privilege_check_files(const struct config *cfg, const char *conf_path);

#endif
