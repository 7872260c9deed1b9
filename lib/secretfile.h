/*
 * secretfile.h - reading a password kept in a file of its own (relay AUTH,
 * IMAP login): one line, read at each use so that a change needs no reload.
 */
#ifndef PARLEY_SECRETFILE_H
#define PARLEY_SECRETFILE_H

#include <stddef.h>

/* secretfile_read: the first line of PATH (trailing CR/LF removed) into OUT
 * (LEN bytes). 0, or -1 with OUT wiped and a reason in WHY ("empty", "not
 * one line of a sane length", or the system's error text). */
int secretfile_read(const char *path, char *out, size_t len, char *why, size_t whylen);

#endif
