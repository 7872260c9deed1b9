/*
 * token.h - the tokens in our sub-addresses (design §2: L+r-TOKEN@,
 * L+bounce-TOKEN@, L+confirm-TOKEN@, L+unsubscribe-TOKEN@ ...): a kind, one
 * or two numbers and, for the kinds that confirm something, an expiry,
 * sealed with HMAC-SHA256 under the daemon's secret and written in
 * lower-case base32 (RFC 4648).
 *
 * Two formats are accepted. Tokens made now are short (design §2: every
 * sub-address fits RFC 5321's 64-octet local part): the kind as the first
 * character, then base32 of the numbers as variable-length integers, the
 * expiry where the kind has one, and a 64-bit MAC; at most TOKEN_MAX
 * characters, and the exact bound per kind is token_max_len(). Tokens of
 * the first format (39 characters, made before version 0.6) are still
 * checked, because readers have them in their inboxes.
 *
 * A token proves that we made it; nothing in it is secret. Checks compare
 * the MAC in constant time. Never accepts a token whose MAC does not match.
 */
#ifndef PARLEY_TOKEN_H
#define PARLEY_TOKEN_H

#include <stddef.h>

#define TOKEN_KEY_LEN 32
#define TOKEN_LEN_V1 39			/* the first format: fixed length */
#define TOKEN_MAX 39			/* the longest token of either format */
#define TOKEN_A_MAX 0xffffffffffULL	/* 40 bits */

/* Kinds: one character of the base32 alphabet each. */
#define TOKEN_REPLY	  'r'	/* a: archived message, b: subscriber it was sent to */
#define TOKEN_BOUNCE	  'b'	/* a: delivery */
#define TOKEN_UNSUBSCRIBE 'u'	/* a: subscriber (one step) */
#define TOKEN_PUBLISH	  'p'	/* a: held post its author confirms; expires */
#define TOKEN_REQUEST	  's'	/* a: a subscriber's request (subscribe...) to confirm; expires */
#define TOKEN_FOLLOW	  'f'	/* a: thread, b: subscriber */
#define TOKEN_MUTE	  'm'	/* a: thread, b: subscriber */
#define TOKEN_PRIVATE	  'v'	/* a: archived message, b: subscriber (private reply) */
#define TOKEN_APPROVE	  'a'	/* a: held message, b: who decides (0 author, n owner n); expires */
#define TOKEN_REJECT	  'j'	/* as TOKEN_APPROVE */

struct token {
	char kind;			/* one of the TOKEN_ kinds */
	unsigned long long a;		/* up to TOKEN_A_MAX: a message, delivery or row id */
	unsigned long b;		/* 32 bits: a subscriber id (16 for approve/reject) */
	long long expires;		/* seconds since the epoch (hour precision), 0: never */
};

/* token_key_load: read the 32-byte key from PATH, creating it (0600, random,
 * file and directory synced) if missing. Refuses (-1, logged with the path)
 * a key that is a symbolic link or not a regular file, that group or others
 * may read or write, or that belongs to a user other than us or root (root
 * reads any owner's key). 0, or -1 logged. */
int token_key_load(const char *path, unsigned char key[TOKEN_KEY_LEN]);

/* token_make: write T sealed under KEY into OUT (TOKEN_MAX + 1 bytes), in
 * the short format. T->kind must be one of the kinds above; numbers wider
 * than the kind allows are cut to their width; an expiry is written only
 * for the kinds that have one. Returns the token's length. */
size_t token_make(const unsigned char key[TOKEN_KEY_LEN], const struct token *t,
		  char out[TOKEN_MAX + 1]);

/* A keyed HMAC-SHA256 context for making many tokens under one key: the
 * key is set once, so that each token costs one HMAC, not a fetch of the
 * algorithm and a key schedule (OpenSSL's one-shot HMAC() does both). For
 * one thread at a time; token_mac_new copies the key. NULL when OpenSSL
 * cannot make one (then token_make serves). */
struct token_mac;
struct token_mac *token_mac_new(const unsigned char key[TOKEN_KEY_LEN]);
void token_mac_free(struct token_mac *m);

/* token_make_mac: token_make under M's key: the same token, byte for byte. */
size_t token_make_mac(struct token_mac *m, const struct token *t, char out[TOKEN_MAX + 1]);

/* token_max_len: the longest token of KIND token_make can write (0 for an
 * unknown kind). */
size_t token_max_len(char kind);

/* token_check: 0 and OUT filled if S (any case) is a token we made, of
 * either format, that has not expired at NOW; -1 if it is malformed or
 * forged; -2 if it expired (OUT filled). */
int token_check(const unsigned char key[TOKEN_KEY_LEN], const char *s, struct token *out,
		long long now);

#endif
