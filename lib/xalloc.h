/*
 * xalloc.h - allocation that never returns NULL: on exhaustion the process
 * logs and exits (like Postfix's mymalloc). Callers never check for NULL.
 */
#ifndef PARLEY_XALLOC_H
#define PARLEY_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray: grow p to nmemb*size bytes, aborting on overflow. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf: a newly allocated formatted string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
