/*
 * imap_guard.h - a filtering libetpan stream layer between an IMAP server
 * and libetpan's parser (used by imap_poller.c only).
 *
 * libetpan 1.9.4's IMAP parser trusts the server: a literal "{4294967295}"
 * makes it reserve 4 GB, EOF inside a literal makes it loop for ever at
 * full CPU (mailstream_read returns 0 and the literal loop only stops on
 * -1), and "[PERMANENTFLAGS (" followed by anything but a flag or ")"
 * dereferences NULL (the cleanup of an empty flag list). The guard is a
 * mailstream_low driver layered over the socket or TLS one; it reads the
 * server's bytes before libetpan sees them and fails the read (-1, so
 * libetpan reports MAILIMAP_ERROR_STREAM or _PARSE) when:
 *   - the server closed the connection (EOF) or a read failed or timed out;
 *   - a literal {N} or {N+} announces more than LITERAL_MAX bytes;
 *   - more than LITERAL_MAX + a margin arrived since our last write (an
 *     endless line would otherwise grow libetpan's buffer without bound);
 *   - a PERMANENTFLAGS response code is not a well-formed flag list;
 *   - a CAPABILITY response or response code has no capability after it
 *     (libetpan makes that a NULL list and dereferences it);
 *   - the stream's first line is "* BYE" (libetpan leaks that greeting).
 * Once failed, every later read fails too. It never changes a byte it
 * passes on, never writes to the server on its own, and never logs.
 */
#ifndef PARLEY_IMAP_GUARD_H
#define PARLEY_IMAP_GUARD_H

#include <stddef.h>

#include <libetpan/libetpan.h>

/*
 * imap_guard_attach: layer a guard over STREAM's current low-level stream,
 * which it then owns (closing and freeing the guard closes and frees it).
 * Call again after STARTTLS (libetpan replaces the low-level stream then).
 * LITERAL_MAX is the largest literal accepted, TIMEOUT the seconds a read
 * may wait. 0, or -1 if out of memory (STREAM unchanged).
 */
int imap_guard_attach(mailstream *stream, size_t literal_max, int timeout);

/*
 * imap_guard_why: why the guard on STREAM failed a read ("" if it did not
 * or STREAM has no guard). The text names no server data but numbers.
 */
const char *imap_guard_why(mailstream *stream);

/*
 * imap_guard_literal: the size of a literal refused as too large, or 0.
 */
unsigned long long imap_guard_literal(mailstream *stream);

#endif
