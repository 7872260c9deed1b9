/*
 * redact.h - the one place that takes parley's secrets out of text meant
 * for others: archive pages, feeds, exports, `parley archive show --raw`.
 *
 * Every sub-address of every configured list (design §2: L<delim>WHAT@domain,
 * which carries post secrets and tokens) becomes L<delim>redacted@domain,
 * wherever it stands (Received: ... for <L+post-SECRET@...>, Delivered-To,
 * a quoted Reply-To in a reply's body); every author secret of at least
 * REDACT_SECRET_MIN octets is replaced wherever it stands alone too. The
 * list address itself is public and kept.
 *
 * Must never: leave a byte of a matched secret in the output, change bytes
 * it did not match, or allocate in proportion to anything but the input.
 * Works on bytes: encoded forms (base64 bodies, RFC 2047 words) are not
 * decoded, and pass as they are.
 */
#ifndef PARLEY_REDACT_H
#define PARLEY_REDACT_H

#include <stddef.h>

#include "config.h"
#include "mailfmt.h"

#define REDACT_SECRET_MIN 6
#define REDACT_WORD "redacted"

/* redact_text: IN[0..N) into OUT (appended) with the secrets of every list
 * of CFG replaced; the number of replacements. */
size_t redact_text(struct mbuf *out, const char *in, size_t n, const struct config *cfg);

/* redact_str: redact_text of the NUL-terminated S into a new string (the
 * caller frees); never NULL (allocation failure aborts). */
char *redact_str(const char *s, const struct config *cfg);

#endif
