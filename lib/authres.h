/*
 * authres.h - proof of authorship from the Authentication-Results header
 * fields our own border added (RFC 8601), checked against the author.
 *
 * Which fields are believed: walking the header from the top, our own
 * Received (the first field: parleyd, the IMAP poller and `parley inject`
 * always put one there) and the border's Received fields (whose "by" host is
 * a trusted authserv-id) are passed, then the Authentication-Results fields
 * with a trusted authserv-id are believed up to the next Received field, and
 * no further: RFC 8601 section 5 has the border add its result on top, so
 * anything below the first Received that is not ours came with the message,
 * from its sender. A field with another authserv-id is ignored.
 *
 * What proves the author AUTHOR (local@domain):
 *  - dkim=pass with header.d equal to the author's domain (AUTHRES's
 *    PROOF_DKIM) or organisationally aligned with it (PROOF_DKIM_ALIGNED:
 *    one a parent of the other); a header.i, if given, must be the author's
 *    address or "@" and a domain that matches as header.d must; a header.b,
 *    if given (RFC 6008), must begin the b= of a DKIM-Signature field in the
 *    message whose d= is header.d;
 *  - spf=pass only with PROOF_SPF (an author's explicit choice: SPF proves a
 *    domain, and anyone who may send through that domain's servers passes),
 *    with smtp.mailfrom's domain equal to the author's (or aligned, with
 *    PROOF_DKIM_ALIGNED too).
 * Never publishes on a pass for another user of the author's domain.
 */
#ifndef PARLEY_AUTHRES_H
#define PARLEY_AUTHRES_H

#include <stddef.h>

#include "strv.h"

/* authres_proves: 1 if the header of RAW (LEN bytes) proves AUTHOR with the
 * methods in PROOF (PROOF_* bits of config.h) from an authserv-id in
 * TRUSTED, with what proved it in HOW (HOWLEN bytes, for the log); 0 if
 * not. */
int authres_proves(const char *raw, size_t len, const struct strv *trusted, const char *author,
		   int proof, char *how, size_t howlen);

/* authres_first: the value of the topmost believed Authentication-Results
 * field of RAW (authserv-id first, comments removed, unfolded, one line)
 * into OUT; 1, or 0 (OUT "") if there is none that fits in OUTLEN. For the
 * ARC-Authentication-Results of a copy. */
int authres_first(const char *raw, size_t len, const struct strv *trusted, char *out,
		  size_t outlen);

#endif
