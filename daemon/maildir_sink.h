/*
 * maildir_sink.h - the maildir sink (relay.maildir): copies written into
 * MAILDIR/RCPT/new/ instead of being sent to a relay, for the demo and for
 * tests that read what parley would have sent.
 *
 * It never writes outside TOP, never leaves a half-written file in new/,
 * and reports success only once the file and its directory are fsync'd.
 */
#ifndef PARLEY_MAILDIR_SINK_H
#define PARLEY_MAILDIR_SINK_H

#include <stddef.h>

/* maildir_sink_write: MSG (LEN bytes), preceded by "Return-Path: <FROM>"
 * and "Delivered-To: RCPT", written as TOP/RCPT/new/NAME through tmp/ (the
 * file and both directories synced); NAME is unique by time, pid, the
 * delivery ID and ATTEMPT and HOST. In RCPT, '/', '%', control characters
 * and a leading '.' are written as %XX. 0 with where it went in TEXT, or -1
 * with why in TEXT (errno kept). */
int maildir_sink_write(const char *top, const char *host, const char *rcpt, const char *from,
		       long long id, int attempt, const char *msg, size_t len, char *text,
		       size_t textlen);

#endif
