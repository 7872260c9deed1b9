/*
 * ingest.h - takes accepted mail out of the spool into the store.
 *
 * For each file in incoming/new, oldest first: count the attempt (committed
 * before anything else, so a message that crashes the daemon is recognised
 * after restart), parse it with libetpan, resolve its recipients, commit the
 * raw message and its envelope as one inbound row, then remove the spool
 * file. A message that crashes or fails three times is moved to quarantine/
 * with a log line and never blocks the ones behind it.
 */
#ifndef PARLEY_INGEST_H
#define PARLEY_INGEST_H

#include "config.h"
#include "store.h"

#define INGEST_MAX_ATTEMPTS 3

/* ingest_scan: ingest every message waiting in CFG's spool; KEY is the
 * token key (NULL: none, so no confirmation can be asked or checked).
 * Returns the number of spool files dealt with (stored, dropped as
 * duplicates or quarantined), or -1 if the spool cannot be read. */
int ingest_scan(struct store *st, const struct config *cfg, const unsigned char *key);

/* ingest_expire: posts whose confirmation time is up become expired (one
 * transaction; logged when there were any). */
void ingest_expire(struct store *st);

#endif
