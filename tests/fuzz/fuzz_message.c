/*
 * fuzz_message.c - libFuzzer target: a whole message from outside
 * (lib/message.c): header counting, the header and address path, RFC 2047
 * words, the MIME walk with transfer decoding and charset conversion.
 * Checks message.h's promise: every string handed out is valid UTF-8.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "utf8.h"

static void valid_field(const char *what, const char *s)
{
	if (s != NULL && !utf8_valid(s, strlen(s))) {
		fprintf(stderr, "fuzz_message: %s is not UTF-8\n", what);
		abort();
	}
}
#define valid(field) valid_field(#field, field)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message m;
	char err[200];
	int received;

	(void)message_header_count((const char *)data, size, &received);
	if (message_parse((const char *)data, size, 100, &m, err, sizeof(err)) != 0)
		return 0;
	valid(m.message_id);
	valid(m.in_reply_to);
	valid(m.references);
	valid(m.subject);
	valid(m.from_addr);
	valid(m.from_name);
	valid(m.auto_submitted);
	valid(m.list_id);
	valid(m.x_loop);
	valid(m.precedence);
	valid(m.text);
	valid(m.html);
	for (size_t i = 0; i < m.auth_results.n; i++)
		valid_field("auth_results", m.auth_results.v[i]);
	message_free(&m);
	return 0;
}
