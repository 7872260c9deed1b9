/*
 * privilege.h - parleyd gives up root after binding its ports.
 */
#ifndef PARLEY_PRIVILEGE_H
#define PARLEY_PRIVILEGE_H

#include "config.h"

/*
 * privilege_drop: when running as root, switch to daemon.user (or, when that
 * is unset, to "parley" if such a user exists, else stay root with a
 * warning), after giving that user the spool tree and the database files.
 * Returns 0, or -1 (logged) if the user is missing or the switch fails.
 * Without root, does nothing.
 */
int privilege_drop(const struct config *cfg);

#endif
