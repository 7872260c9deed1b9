/*
 * smtp_reply.h - an SMTP reply (RFC 5321 §4.2), read line by line, strictly,
 * by parleyd's client of the relay (smtp_client.c).
 *
 * A reply is one or more lines "CODE-text" ending with one "CODE text" (or
 * "CODE" alone); every line has the same three-digit code, first digit 2 to
 * 5, second 0 to 5. Anything else is a protocol error, not a reply: the
 * session cannot be trusted any more. A reply is bounded (a line to
 * SMTP_REPLY_LINE_MAX bytes, all of it to SMTP_REPLY_MAX) but a long one
 * within the bounds is read whole and its text kept in part. The text kept
 * is for the log and the store: one line of valid UTF-8, no control
 * characters. This module never reads or writes a socket.
 */
#ifndef PARLEY_SMTP_REPLY_H
#define PARLEY_SMTP_REPLY_H

#include <stddef.h>

#define SMTP_TEXT_MAX	    512
#define SMTP_REPLY_LINE_MAX 16384	/* bytes in a line, CRLF not counted */
#define SMTP_REPLY_MAX	    65536	/* bytes in a whole reply */

struct smtp_reply_reader {
	int code;			/* the reply's code, once its first line was read */
	int lines;			/* lines read */
	size_t bytes;			/* bytes read, CRLF not counted */
	char text[SMTP_TEXT_MAX];	/* the lines' texts, cleaned, "; " between them */
};

/* smtp_reply_begin: R ready for a new reply. */
void smtp_reply_begin(struct smtp_reply_reader *r);

/*
 * smtp_reply_line: the next line of the reply, LINE (LEN bytes, without its
 * CRLF; it may hold any byte). 1 if it was the last line (R->code is the
 * reply's code), 0 if more lines follow, -1 if it is not a reply line or
 * breaks the bounds, with the reason in *WHY (a constant string).
 */
int smtp_reply_line(struct smtp_reply_reader *r, const char *line, size_t len, const char **why);

/*
 * smtp_reply_clean: IN (LEN bytes) appended to OUT (OUTLEN bytes, holding a
 * string), cut between characters, on one line of valid UTF-8: line ends
 * become "; ", other control characters (C0, DEL, C1) and bytes that are
 * not UTF-8 '?'.
 */
void smtp_reply_clean(char *out, size_t outlen, const char *in, size_t len);

#endif
