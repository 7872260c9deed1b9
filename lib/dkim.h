/*
 * dkim.h - DKIM (RFC 6376) for the copies parley sends: the relaxed body
 * and header canonicalisations and the body hash (bh=), SHA-256.
 *
 * The delivery path will hash the body once per post (dkim_body_hash: every
 * copy of a post has the same body). No function here keeps global state,
 * does I/O or logs: errors go to the caller's ERR buffer (ERRLEN bytes; ERR
 * may be NULL).
 *
 * The body and the header section are the bytes that go on the wire: CRLF
 * lines. A bare LF is taken as a line end as well (libetpan's SMTP client
 * sends it as CRLF, and verifiers split lines the same way); a CR that is
 * not followed by LF is an ordinary byte.
 */
#ifndef PARLEY_DKIM_H
#define PARLEY_DKIM_H

#include <stddef.h>

#include "mailfmt.h"

#define DKIM_BH_MAX	45	    /* base64 SHA-256 (44 characters) and NUL */
#define DKIM_HEADER_MAX (1UL << 20) /* octets of a header section we take */

/*
 * dkim_body_hash: the bh= value of BODY[0..LEN) (the part after the blank
 * line, as sent), canonicalised "relaxed" (RFC 6376 §3.4.4: WSP runs one SP,
 * WSP at line ends and empty lines at the end removed, CRLF after a last
 * line that has none; an empty body stays empty) and hashed with SHA-256,
 * into OUT as base64 with a NUL. BODY may be NULL when LEN is 0.
 * 0, or -1 if OpenSSL fails (OUT is then "").
 */
int dkim_body_hash(const char *body, size_t len, char out[DKIM_BH_MAX]);

/*
 * The canonicalisations on their own, for tests and diagnostics: the
 * relaxed form of BODY[0..LEN) (as dkim_body_hash hashes it), and of every
 * field of the header section HEADER[0..HLEN) (fields of CRLF lines, folded
 * or not, ending before the blank line; one empty line at its very end is
 * ignored) in order, each with CRLF, appended to OUT. dkim_canon_header
 * returns 0, or -1 with ERR set and OUT as it was for a section over
 * DKIM_HEADER_MAX octets or one that does not parse as fields.
 */
void dkim_canon_body(const char *body, size_t len, struct mbuf *out);
int dkim_canon_header(const char *header, size_t hlen, struct mbuf *out, char *err, size_t errlen);

#endif
