/*
 * test_subaddr.c - the sub-address builder (lib/subaddr.c): addresses with
 * and without tokens, the 64-octet local part refused rather than cut, and
 * the bound the config loader uses, checked against tokens of every kind
 * made at their widest.
 */
#include "autoconf.h"

#include <string.h>

#include "log.h"
#include "subaddr.h"
#include "tap.h"
#include "token.h"

int main(void)
{
	static const struct {
		const char *what;
		char kind;
	} kinds[] = {{"r", TOKEN_REPLY},	  {"bounce", TOKEN_BOUNCE},
		     {"unsubscribe", TOKEN_UNSUBSCRIBE}, {"confirm", TOKEN_PUBLISH},
		     {"confirm", TOKEN_REQUEST},	  {"follow", TOKEN_FOLLOW},
		     {"mute", TOKEN_MUTE},		  {"p", TOKEN_PRIVATE},
		     {"approve", TOKEN_APPROVE},	  {"reject", TOKEN_REJECT}};
	unsigned char key[TOKEN_KEY_LEN];
	char out[ADDRESS_MAX + 1], tok[TOKEN_MAX + 1];
	const char *what, *list = "announcements-europe@lists.example.org";
	size_t i, bound, worst = 0;
	int all_fit = 1, longest_seen = 0;

	log_init("test_subaddr", LOG_DEST_STDERR);
	memset(key, 9, sizeof(key));
	ok(subaddr_make(out, sizeof(out), "dev@lists.example.org", '+', "help", NULL) == 0 &&
		   strcmp(out, "dev+help@lists.example.org") == 0,
	   "a command address: %s", out);
	ok(subaddr_make(out, sizeof(out), "dev@lists.example.org", '-', "r", "abc") == 0 &&
		   strcmp(out, "dev-r-abc@lists.example.org") == 0,
	   "a token address with another delimiter: %s", out);
	ok(subaddr_make(out, sizeof(out), "dev@lists.example.org", '+', NULL, NULL) == 0 &&
		   strcmp(out, "dev@lists.example.org") == 0,
	   "no suffix: the list address");
	is_int(subaddr_make(out, sizeof(out),
			    "a2345678901234567890123456789012345678901234567890123456@x.org", '+',
			    "subscribe", NULL),
	       -1, "a local part over 64 octets is refused, not cut");
	is_int(subaddr_make(out, 20, "dev@lists.example.org", '+', "help", NULL), -1,
	       "a short buffer is refused");

	bound = subaddr_longest(20, &what);
	ok(bound <= 64, "a 20-character list name: the longest sub-address takes %zu octets (%s)",
	   bound, what);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct token t = {kinds[i].kind, TOKEN_A_MAX, 0xffffffffUL, 1800000000};
		size_t local;
		token_make(key, &t, tok);
		if (subaddr_make(out, sizeof(out), list, '+', kinds[i].what, tok) < 0) {
			all_fit = 0;
			continue;
		}
		local = (size_t)(strchr(out, '@') - out);
		if (local > worst)
			worst = local;
		if (local > 64)
			all_fit = 0;
		longest_seen = 1;
	}
	ok(all_fit && longest_seen, "every kind at its widest fits for announcements-europe");
	ok(worst <= bound, "no token address is longer than the bound (%zu <= %zu)", worst, bound);
	ok(subaddr_longest(23, &what) > 64, "a 23-character list name could pass 64 octets (%s)", what);
	return tap_done();
}
