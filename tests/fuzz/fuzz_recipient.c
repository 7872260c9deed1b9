/*
 * fuzz_recipient.c - libFuzzer target: which of our addresses an envelope
 * recipient is (lib/recipient.c: list, post and secret post addresses,
 * token and command sub-addresses) and the sub-address builder (lib/
 * subaddr.c), which must never write a local part past 64 octets.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "recipient.h"
#include "subaddr.h"

static void check_made(const char *out)
{
	const char *at = strrchr(out, '@');

	if (at == NULL || (size_t)(at - out) > ADDRESS_LOCAL_MAX || strlen(out) > ADDRESS_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = fuzz_setup(0);
	struct rcpt_target t;
	char out[ADDRESS_MAX + 1], *s = fuzz_str(data, size), *dash;

	if (recipient_resolve(cfg, s, &t) == 0) {
		if (t.list == NULL || recipient_kind_name(t.kind) == NULL ||
		    strlen(t.token) > RECIPIENT_TOKEN_MAX)
			abort();
	}
	if (subaddr_list(out, sizeof(out), cfg, &cfg->lists[0], s, NULL) == 0)
		check_made(out);
	if ((dash = strchr(s, '-')) != NULL) {
		*dash = '\0';
		if (subaddr_make(out, sizeof(out), "news@lists.example.org", '+', s, dash + 1) == 0)
			check_made(out);
	}
	free(s);
	return 0;
}
