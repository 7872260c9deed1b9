/*
 * sign.h - the signatures a copy carries when it leaves: one DKIM-Signature
 * (RFC 6376) per key of its list (an RSA and an Ed25519 key: two), and an
 * ARC set (RFC 8617) where the list seals, put first in the header, signed
 * with dkim.c.
 *
 * Works on a rendered copy (render_copy or a notice as composed: CRLF lines,
 * header section, blank line, body). Never changes a byte of the copy other
 * than by putting the new fields in front; no I/O, no clock (the caller
 * passes the time), no global state: any number of threads at once.
 */
#ifndef PARLEY_SIGN_H
#define PARLEY_SIGN_H

#include <stddef.h>

#include "config.h"
#include "dkim.h"

/*
 * sign_copy: MSG[0..*LEN) with a DKIM-Signature of each of LIST's keys
 * (list->dkim_keys; none: MSG is returned as it is) prepended, signed at
 * NOW (seconds since the epoch); and when the list seals (list->arc_key)
 * and INBOUND is given, an ARC set on top (dkim_arc_seal), its
 * ARC-Authentication-Results the topmost believed Authentication-Results
 * of INBOUND[0..INLEN) (the message as it came in: daemon.authserv_ids,
 * authres.h), or "HOSTNAME; none" if it has none: i=1, cv=none, or, when
 * INBOUND has a whole ARC chain and that result says arc=pass, i=n+1,
 * cv=pass with the chain's sets put back into the copy. INBOUND is NULL for a
 * notice (parley's own mail has no inbound authentication to carry).
 * The body hash is computed once and used by every key; DC, if not NULL,
 * is the calling thread's DKIM cache (its signing contexts and the last
 * body's hash states, dkim.h). On success *MSG is
 * replaced by a new malloc'd copy (the old one freed) and *LEN updated; 0.
 * -1 with the reason in ERR and *MSG untouched: a copy without a header
 * section or a From field, or OpenSSL failing.
 */
int sign_copy(const struct config *cfg, const struct cfg_list *list, struct dkim_cache *dc,
	      const char *inbound, size_t inlen, char **msg, size_t *len, long long now, char *err,
	      size_t errlen);

/* sign_split: the length of MSG's header section (fields only, up to and
 * including the line end before the blank line) and where its body starts
 * in *BODY; -1 if MSG has no blank line after its header. */
long sign_split(const char *msg, size_t len, size_t *body);

#endif
