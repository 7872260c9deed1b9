/*
 * lockfile.h - exclusive flock(2) locks that say "a daemon owns this" (pid
 * file, spool). The lock, not the file's existence, is what counts, so a
 * file left by a crash never blocks a new start.
 */
#ifndef PARLEY_LOCKFILE_H
#define PARLEY_LOCKFILE_H

/* lockfile_take: open (creating) PATH and lock it without waiting. The
 * descriptor, held until closed; -1 logged as "PATH: BUSY (...)" when another
 * process holds the lock, or with the error when PATH cannot be opened. */
int lockfile_take(const char *path, const char *busy);

#endif
