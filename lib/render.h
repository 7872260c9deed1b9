/*
 * render.h - builds the copy of an archived message that one subscriber
 * receives (design §3): the author's message with parley's list headers,
 * rewritten From/Reply-To/Message-ID/threading headers, the optional subject
 * prefix, and the list footer added without breaking the MIME structure.
 *
 * Pure function of its inputs: no store, no network, no clock (the caller
 * passes the date). Never changes the author's content except for adding the
 * footer: every part's decoded text and every attachment stay byte for byte.
 */
#ifndef PARLEY_RENDER_H
#define PARLEY_RENDER_H

#include <stddef.h>

#include "config.h"

struct render_in {
	const struct config *cfg;	/* hostname, delimiter */
	const struct cfg_list *list;	/* address, name, description, subject_prefix,
					 * footer, archive_url, unsubscribe_url */
	const char *raw;		/* the author's message as archived (CRLF) */
	size_t len;
	const char *list_msgid;		/* "<...>": Message-ID of every copy */
	const char *in_reply_to;	/* "<...>" list Message-ID of the parent, or NULL */
	const char *references;		/* list Message-IDs, space-separated, or NULL */
	const char *author_addr;	/* the author's address (Author:, "via" name) */
	const char *author_name;	/* UTF-8 display name, or NULL */
	const char *reply_to;		/* personal reply address L+r-TOKEN@ */
	const char *unsubscribe_addr;	/* personal L+unsubscribe-TOKEN@ (mailto) */
	const char *unsubscribe_token;	/* appended to list->unsubscribe_url, if set */
	const char *personal_footer;	/* lines after the list's footer (mute, private
					 * reply...), or NULL */
	long long date;			/* when it was archived: the Date of a copy of a
					 * message that has none (0: none added) */
	int keep_from;			/* 1: the author's From field as it was, and no
					 * Author: (from_rewrite "never", or "dmarc" for a
					 * domain without a strict policy); 0: From is
					 * "Name via list" <L@> */
};

/*
 * render_copy: the copy, CRLF line ends, headers folded to 78 columns and
 * non-ASCII header text RFC 2047-encoded. Returns a malloc'd buffer and its
 * length in *LEN, or NULL with a reason in ERR if RAW cannot be parsed.
 */
char *render_copy(const struct render_in *in, size_t *len, char *err, size_t errlen);

#endif
