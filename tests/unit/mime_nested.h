/*
 * mime_nested.h - builds the hostile message of issue 9 for the unit test of
 * lib/message_check.c and for bench/parse_bench.c: DEPTH multiparts, one in
 * the first part of the other. Test and bench code only.
 */
#ifndef PARLEY_MIME_NESTED_H
#define PARLEY_MIME_NESTED_H

#include <stdio.h>

#include "mailfmt.h"

/* mime_nested: HEAD (header fields, CRLF-ended), then the DEPTH-deep body,
 * appended to B. No boundary is a prefix of another. */
static void mime_nested(struct mbuf *b, const char *head, int depth)
{
	char line[128];
	int i;

	mbuf_str(b, head);
	for (i = 0; i < depth; i++) {
		snprintf(line, sizeof(line),
			 "Content-Type: multipart/mixed; boundary=\"b%d-x\"\r\n\r\n--b%d-x\r\n", i, i);
		mbuf_str(b, line);
	}
	mbuf_str(b, "Content-Type: text/plain\r\n\r\nhello\r\n");
	for (i = depth - 1; i >= 0; i--) {
		snprintf(line, sizeof(line), "--b%d-x--\r\n", i);
		mbuf_str(b, line);
	}
}

#endif
