/*
 * termsafe.h - text from outside (subjects, names, addresses, bodies, relay
 * replies) made safe to write to a terminal: every control character (C0,
 * DEL, C1 as U+0080-U+009F), every Unicode bidirectional override and every
 * byte that is not valid UTF-8 is written as a visible escape, so nothing
 * stored can move the cursor, retitle the window or answer back. The one
 * escaping function of every human-readable printer of `parley`.
 */
#ifndef PARLEY_TERMSAFE_H
#define PARLEY_TERMSAFE_H

#include <stdio.h>

/* Flags of termsafe_write. */
#define TERMSAFE_ONE_LINE 1	/* TAB, CR and LF become spaces (else TAB and LF stay) */

/*
 * termsafe_write: S[0..N) to F: valid UTF-8 as is, except controls: a C0
 * byte or DEL as "\xHH" (TAB and LF kept, or spaces with TERMSAFE_ONE_LINE),
 * U+0080-U+009F and the bidi controls U+202A-U+202E, U+2066-U+2069 as
 * "\uHHHH", a byte that is not valid UTF-8 as "\xHH". Never fails; stdio
 * errors show in ferror(F).
 */
void termsafe_write(FILE *f, const char *s, size_t n, int flags);

/* termsafe_puts: termsafe_write of the string S (nothing for NULL). */
void termsafe_puts(FILE *f, const char *s, int flags);

#endif
