/*
 * token.c - HMAC-sealed tokens (see token.h). Layout before base32: kind (1
 * byte), a (5 bytes), b (4), expiry in hours since the epoch (4), then the
 * first 10 bytes of HMAC-SHA256 over those 14. Never accepts a token whose
 * MAC does not match, and never compares MACs with memcmp.
 */
#include "autoconf.h"

#include "token.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "log.h"

#define PAYLOAD 14
#define MAC 10
#define RAW (PAYLOAD + MAC)

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* key_create: a new random key at PATH, made whole in a temporary file and
 * linked into place, so that a reader never sees half a key. 0 created
 * (KEY holds it), 1 someone else created it first, -1 logged. */
static int key_create(const char *path, unsigned char key[TOKEN_KEY_LEN])
{
	char tmp[4096];
	int fd, rc;

	if (RAND_bytes(key, TOKEN_KEY_LEN) != 1) {
		log_error("%s: no random bytes for a new key", path);
		return -1;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp) ||
	    (fd = mkstemp(tmp)) < 0) {
		log_error("%s: cannot create the token key: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || write(fd, key, TOKEN_KEY_LEN) != TOKEN_KEY_LEN ||
	    fsync(fd) < 0) {
		log_error("%s: cannot write the token key: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	rc = link(tmp, path) == 0 ? 0 : errno == EEXIST ? 1 : -1;
	if (rc < 0)
		log_error("%s: cannot create the token key: %s", path, strerror(errno));
	unlink(tmp);
	if (rc == 0)
		log_info("%s: created a new token key", path);
	return rc;
}

int token_key_load(const char *path, unsigned char key[TOKEN_KEY_LEN])
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0 && errno == ENOENT) {
		if ((rc = key_create(path, key)) <= 0)
			return rc;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, key, TOKEN_KEY_LEN);
	close(fd);
	if (n != TOKEN_KEY_LEN) {
		log_error("%s: the token key must be %d bytes", path, TOKEN_KEY_LEN);
		return -1;
	}
	return 0;
}

static void put_be(unsigned char *p, unsigned long long v, int n)
{
	while (n-- > 0) {
		p[n] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static unsigned long long get_be(const unsigned char *p, int n)
{
	unsigned long long v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static void mac(const unsigned char key[TOKEN_KEY_LEN], const unsigned char *payload,
		unsigned char out[MAC])
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	HMAC(EVP_sha256(), key, TOKEN_KEY_LEN, payload, PAYLOAD, full, &len);
	memcpy(out, full, MAC);
}

void token_make(const unsigned char key[TOKEN_KEY_LEN], const struct token *t,
		char out[TOKEN_LEN + 1])
{
	unsigned char raw[RAW];
	unsigned long long hours = t->expires > 0 ? (unsigned long long)(t->expires + 3599) / 3600 : 0;
	int bits = 0, o = 0, i;
	unsigned acc = 0;

	raw[0] = (unsigned char)t->kind;
	put_be(raw + 1, t->a & TOKEN_A_MAX, 5);
	put_be(raw + 6, t->b & 0xffffffffUL, 4);
	put_be(raw + 10, hours & 0xffffffffULL, 4);
	mac(key, raw, raw + PAYLOAD);
	for (i = 0; i < RAW; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

int token_check(const unsigned char key[TOKEN_KEY_LEN], const char *s, struct token *out,
		long long now)
{
	unsigned char raw[RAW], want[MAC];
	unsigned acc = 0;
	int bits = 0, o = 0;
	size_t i;

	if (strlen(s) != TOKEN_LEN)
		return -1;
	for (i = 0; i < TOKEN_LEN; i++) {
		const char *p = strchr(b32, tolower((unsigned char)s[i]));
		if (p == NULL || s[i] == '\0')
			return -1;
		acc = (acc << 5) | (unsigned)(p - b32);
		bits += 5;
		if (bits >= 8 && o < RAW) {
			raw[o++] = (unsigned char)((acc >> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	if (o != RAW || (acc & ((1u << bits) - 1)) != 0)
		return -1;	/* the last character's spare bits are zero in a token we made */
	mac(key, raw, want);
	if (CRYPTO_memcmp(want, raw + PAYLOAD, MAC) != 0)
		return -1;
	out->kind = (char)raw[0];
	out->a = get_be(raw + 1, 5);
	out->b = (unsigned long)get_be(raw + 6, 4);
	out->expires = (long long)get_be(raw + 10, 4) * 3600;
	if (out->expires != 0 && now > out->expires)
		return -2;
	return 0;
}
