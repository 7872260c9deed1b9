/*
 * subject.h - base subjects for threading replies by subject: reply and
 * forward prefixes ("Re:", "AW:", "Fwd:", "回复：", "Re[2]:"...), the list's
 * subject prefix and other leading "[tags]" removed, whitespace collapsed,
 * ASCII lower-cased. Pure functions: no globals, no allocation, never
 * writes past the caller's buffer, never strips a real word ("Rework:",
 * "AWS:" stay).
 */
#ifndef PARLEY_SUBJECT_H
#define PARLEY_SUBJECT_H

#include <stddef.h>

/* subject_normalise: the base subject of S (UTF-8; NULL is taken as ""):
 * every leading reply/forward prefix (nested and mixed, any ASCII case, with
 * an optional count "[2]", "(2)" or "^2", optional spaces before the colon,
 * ASCII ":" or full-width "："), every occurrence of PREFIX (the list's
 * subject prefix such as "[dev]", compared without ASCII case; NULL or ""
 * for none) and every "[...]" tag in that leading chain removed; runs of
 * whitespace collapsed to one space, trimmed; ASCII letters lower-cased,
 * other bytes kept; a trailing " (fwd)" removed. Writes at most OUTLEN-1
 * bytes and a NUL into OUT (nothing if OUTLEN is 0), never splitting a
 * UTF-8 sequence. Returns OUT. */
char *subject_normalise(const char *s, const char *prefix, char *out, size_t outlen);

/* subject_is_reply: 1 if S, after leading whitespace, PREFIX and "[tags]",
 * starts with a reply prefix ("Re:", "AW:", "SV:", "回复："...), 0 if it
 * starts with anything else, a forward prefix ("Fwd: Re: x") included. */
int subject_is_reply(const char *s, const char *prefix);

#endif
