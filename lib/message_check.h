/*
 * message_check.h - the structural limits a message must meet before any
 * recursive parser (libetpan's MIME parser, ours) sees it: MIME nesting
 * depth above all. One pass over the bytes, linear time, memory bounded by
 * the depth limit, no recursion; callable at the end of SMTP DATA as well as
 * at ingest.
 */
#ifndef PARLEY_MESSAGE_CHECK_H
#define PARLEY_MESSAGE_CHECK_H

#include <stddef.h>

/* Multipart and message/rfc822 nesting parley accepts (Postfix's
 * mime_nesting_limit). */
#define MESSAGE_MIME_DEPTH_MAX 100

/* A boundary longer than one RFC 5322 line cannot be matched as libetpan
 * does: such a message is refused. */
#define MESSAGE_BOUNDARY_MAX 998

/*
 * message_check_structure: 0 if RAW (LEN bytes) nests multiparts and
 * message/rfc822 parts at most MAX_DEPTH deep (the top-level message is depth
 * 0, the parts of a top-level multipart depth 1), or -1 with a reason in ERR
 * ("MIME nesting deeper than 100", ...): the message must then be refused,
 * not retried. The depth it counts is never less than the depth libetpan's
 * parser would recurse to (it matches delimiter lines as libetpan does, by
 * prefix, outermost multipart first). Stops at the first level too deep.
 */
int message_check_structure(const char *raw, size_t len, int max_depth, char *err, size_t errlen);

#endif
