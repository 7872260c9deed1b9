/*
 * token.h - the tokens in our sub-addresses (design §2: L+r-TOKEN@,
 * L+bounce-TOKEN@, L+confirm-TOKEN@, L+unsubscribe-TOKEN ...): a kind, two
 * numbers and an expiry, sealed with HMAC-SHA256 under the daemon's secret
 * and written in lower-case base32 (RFC 4648), 39 characters.
 *
 * A token proves that we made it; nothing in it is secret. Checks compare
 * the MAC in constant time.
 */
#ifndef PARLEY_TOKEN_H
#define PARLEY_TOKEN_H

#include <stddef.h>

#define TOKEN_KEY_LEN 32
#define TOKEN_LEN 39
#define TOKEN_A_MAX 0xffffffffffULL	/* 40 bits */

struct token {
	char kind;			/* 'r' reply, 'b' bounce, 'u' unsubscribe, 'c' confirm... */
	unsigned long long a;		/* up to TOKEN_A_MAX: a message or delivery id */
	unsigned long b;		/* 32 bits: a subscriber id */
	long long expires;		/* seconds since the epoch (hour precision), 0: never */
};

/* token_key_load: read the 32-byte key from PATH, creating it (0600, random)
 * if missing. 0, or -1 logged. */
int token_key_load(const char *path, unsigned char key[TOKEN_KEY_LEN]);

/* token_make: write T sealed under KEY into OUT (TOKEN_LEN + 1 bytes). */
void token_make(const unsigned char key[TOKEN_KEY_LEN], const struct token *t,
		char out[TOKEN_LEN + 1]);

/* token_check: 0 and OUT filled if S is a token we made that has not expired
 * at NOW; -1 if it is malformed or forged; -2 if it expired (OUT filled). */
int token_check(const unsigned char key[TOKEN_KEY_LEN], const char *s, struct token *out,
		long long now);

#endif
