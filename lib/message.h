/*
 * message.h - what parley needs to know of one RFC 5322 message, parsed with
 * libetpan: identity and threading headers, the loop and auto-reply signals,
 * the author, and the first text part decoded to UTF-8.
 *
 * Every string handed out is valid UTF-8 (undecodable bytes become U+FFFD),
 * so it can be stored and printed without further checks. The raw bytes are
 * never modified: the archive keeps them as received.
 */
#ifndef PARLEY_MESSAGE_H
#define PARLEY_MESSAGE_H

#include <stddef.h>

#include "strv.h"

struct message {
	char *message_id;	/* "<id@host>" or NULL */
	char *in_reply_to;	/* first msg-id of In-Reply-To, "<...>", or NULL */
	char *references;	/* the msg-ids of References, space-separated, or NULL */
	char *subject;		/* decoded (RFC 2047) or NULL */
	char *from_addr;	/* normalised addr-spec of the first From mailbox, or NULL */
	char *from_name;	/* decoded display name, or NULL */
	char *auto_submitted;	/* Auto-Submitted value (RFC 3834), or NULL */
	char *list_id;		/* List-Id value, or NULL */
	char *x_loop;		/* X-Loop value, or NULL */
	char *precedence;	/* Precedence value, or NULL */
	struct strv auth_results;	/* Authentication-Results values, top first */
	long long date;		/* Date as seconds since the epoch, 0 if absent */
	int header_count;
	int received_count;	/* Received: headers: hops so far */
	int parts;		/* leaf MIME parts */
	char *text;		/* the first text/plain part, decoded, LF line ends, or NULL */
	char *html;		/* the first text/html part, decoded, or NULL */
};

/* message_parse's answer for a message refused for good: retrying cannot
 * help, quarantine it (or refuse it at DATA). */
#define MESSAGE_REFUSED (-2)

/*
 * message_parse: parse RAW (LEN bytes). Returns 0 and fills OUT (free with
 * message_free), or -1 with a reason in ERR when the header section cannot
 * be parsed at all, or with more than MAX_HEADERS header fields. A message
 * nested deeper than MESSAGE_MIME_DEPTH_MAX (message_check.h) is refused
 * before libetpan sees it: MESSAGE_REFUSED, with the reason in ERR.
 */
int message_parse(const char *raw, size_t len, int max_headers, struct message *out, char *err,
		  size_t errlen);

void message_free(struct message *m);

/* message_header_count: header fields in RAW (up to the first empty line),
 * and in *RECEIVED the number of Received: fields. */
int message_header_count(const char *raw, size_t len, int *received);

#endif
