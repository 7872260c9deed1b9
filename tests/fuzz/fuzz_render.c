/*
 * fuzz_render.c - libFuzzer target: a subscriber's copy of any message
 * (lib/render.c): the author's headers rewritten, the MIME structure
 * walked, text parts decoded, re-encoded with the footer. A copy made must
 * parse again, if the message itself did.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = fuzz_setup(0);
	struct render_in in;
	struct message m;
	char err[200], *copy;
	size_t len;

	/* parleyd renders only what ingest parsed (message_parse refuses, for
	 * one, a MIME structure it cannot be sure of): so does this target */
	if (message_parse((const char *)data, size, 1000, &m, err, sizeof(err)) != 0)
		return 0;
	message_free(&m);
	memset(&in, 0, sizeof(in));
	in.cfg = cfg;
	in.list = &cfg->lists[0];
	in.raw = (const char *)data;
	in.len = size;
	in.list_msgid = "<20240101.abc@lists.example.org>";
	in.in_reply_to = "<20231231.xyz@lists.example.org>";
	in.references = "<20231230.root@lists.example.org> <20231231.xyz@lists.example.org>";
	in.author_addr = "alice@example.org";
	in.author_name = "Alice \xc3\x89";
	in.reply_to = "dev+r-abcdefgh@lists.example.org";
	in.unsubscribe_addr = "dev+unsubscribe-abcdefgh@lists.example.org";
	in.unsubscribe_token = "abcdefgh";
	in.personal_footer = "Mute this thread: dev+mute-abc@lists.example.org";
	in.date = 1700000000LL;
	copy = render_copy(&in, &len, err, sizeof(err));
	if (copy == NULL)
		return 0;
	if (message_parse(copy, len, 1000, &m, err, sizeof(err)) != 0)
		abort();
	message_free(&m);
	free(copy);
	return 0;
}
