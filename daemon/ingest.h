/*
 * ingest.h - takes accepted mail out of the spool into the store.
 *
 * For each file in incoming/new, oldest first: mark the attempt as this
 * process's (committed before anything else, so a message that crashes the
 * daemon is recognised after restart), parse it with libetpan, refuse it
 * if it has more than INGEST_HOPS_MAX Received fields before ours (a loop,
 * whatever way it came in), resolve its recipients, commit the raw message
 * and its envelope as one inbound row, then remove the spool file.
 *
 * A redelivery (a relay's retry after a lost reply, an IMAP refetch after a
 * UIDVALIDITY change: the same Message-ID and the same bytes but for the
 * leading trace fields, for a recipient that had it already) is dropped
 * with a log line; a reused Message-ID with other content is a new message.
 *
 * A message that fails three times, or whose ingest never returned three
 * times (the daemon died in it), is moved to quarantine/ with a log line and
 * never blocks the ones behind it. A store that cannot be written for a
 * while (busy, disk full, I/O error) counts against no message: the mail
 * waits in the spool until the store is back.
 */
#ifndef PARLEY_INGEST_H
#define PARLEY_INGEST_H

#include "config.h"
#include "store.h"

#define INGEST_MAX_ATTEMPTS 3
#define INGEST_HOPS_MAX CONFIG_HOPS_MAX	/* as the listeners' and inject's */

/* ingest_scan: ingest every message waiting in CFG's spool; KEY is the
 * token key (NULL: none, so no confirmation can be asked or checked).
 * Returns the number of spool files dealt with (stored, dropped as
 * duplicates or quarantined), or -1 if the spool cannot be read. */
int ingest_scan(struct store *st, const struct config *cfg, const unsigned char *key);

/* ingest_expire: posts whose confirmation time is up become expired, and
 * the minute counts of the statistics older than a day are pruned (one
 * transaction; logged when posts expired). */
void ingest_expire(struct store *st);

#endif
