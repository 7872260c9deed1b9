/*
 * fuzz_token.c - libFuzzer target: tokens in sub-addresses (lib/token.c).
 * token_check on any string must not crash and must never accept a token
 * under a key that did not make it; a token made from the input's numbers
 * must check back to the same numbers.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "token.h"

static const unsigned char key[TOKEN_KEY_LEN] = "parley fuzz key, 32 bytes long!";
static const char kinds[] = "rbupsfmvaj";

static void round_trip(const uint8_t *data, size_t size)
{
	struct token t, back;
	char out[TOKEN_MAX + 1];
	unsigned long long a = 0;
	unsigned long b = 0;
	size_t n;

	if (size < 14)
		return;
	memset(&t, 0, sizeof(t));
	t.kind = kinds[data[0] % (sizeof(kinds) - 1)];
	for (int i = 0; i < 8; i++)
		a = a << 8 | data[1 + i];
	for (int i = 0; i < 4; i++)
		b = b << 8 | data[9 + i];
	t.a = a & TOKEN_A_MAX;
	t.b = b & 0xffffffffUL;
	t.expires = data[13] & 1 ? 2000000000LL : 0;
	n = token_make(key, &t, out);
	if (n == 0 || n > token_max_len(t.kind) || strlen(out) != n)
		abort();
	if (token_check(key, out, &back, 1700000000LL) != 0 || back.kind != t.kind)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char other[TOKEN_KEY_LEN] = "another key, also 32 bytes long";
	char *s = fuzz_str(data, size);
	struct token t;
	char out[TOKEN_MAX + 1];
	int rc = token_check(key, s, &t, 1700000000LL);

	/* what checks under KEY was made under KEY: remade, it checks under
	 * KEY and never under another key */
	if (rc == 0 && token_make(key, &t, out) > 0 && token_check(other, out, &t, 0) == 0)
		abort();
	(void)token_check(other, s, &t, 0);
	free(s);
	round_trip(data, size);
	return 0;
}
