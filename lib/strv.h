/*
 * strv.h - a growable vector of owned strings. Small and boring on purpose.
 */
#ifndef PARLEY_STRV_H
#define PARLEY_STRV_H

#include <stddef.h>

struct strv {
	char **v;
	size_t n;
};

/* strv_push: append a copy of S. */
void strv_push(struct strv *sv, const char *s);
/* strv_free: free every string and the vector; SV is empty after. */
void strv_free(struct strv *sv);
/* strv_sort: sort by strcmp. */
void strv_sort(struct strv *sv);

#endif
