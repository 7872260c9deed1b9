/*
 * token.c - HMAC-sealed tokens (see token.h).
 *
 * Short format (made now): KIND, then base32 of
 *   varint(a) [varint(b)] [expiry: hours since the epoch, 3 bytes] MAC(8)
 * where the kind decides which fields are present (layouts[] below), a
 * varint is little-endian base 128 (LEB128, minimal: no trailing zero
 * group), and MAC is the first 8 bytes of HMAC-SHA256 over "t2", KIND and
 * the field bytes. The last character's spare bits are zero, so a token
 * has one spelling (in either case).
 *
 * First format (39 characters, still checked): base32 of kind (1 byte),
 * a (5), b (4), expiry hours (4), then 10 bytes of HMAC-SHA256 over those 14.
 *
 * Never accepts a token whose MAC does not match, and never compares MACs
 * with memcmp.
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

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "log.h"

#define V1_PAYLOAD 14
#define V1_MAC 10
#define V1_RAW (V1_PAYLOAD + V1_MAC)
#define MAC2 8
#define RAW2_MAX 32
#define EXPIRY_BYTES 3

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* What each kind carries: the width of b in bits (0: no b) and whether it
 * expires. */
static const struct {
	char kind;
	unsigned char b_bits;
	unsigned char expires;
} layouts[] = {
	{TOKEN_REPLY, 32, 0},	{TOKEN_BOUNCE, 0, 0},  {TOKEN_UNSUBSCRIBE, 0, 0},
	{TOKEN_PUBLISH, 0, 1},	{TOKEN_REQUEST, 0, 1}, {TOKEN_FOLLOW, 32, 0},
	{TOKEN_MUTE, 32, 0},	{TOKEN_PRIVATE, 32, 0}, {TOKEN_APPROVE, 16, 1},
	{TOKEN_REJECT, 16, 1},
};

static int layout_of(char kind)
{
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].kind == kind)
			return (int)i;
	return -1;
}

/* dir_sync: fsync the directory holding PATH, so that a name just linked
 * there survives a crash. 0 or -1 (errno set). */
static int dir_sync(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* key_create: a new random key at PATH, made whole and synced in a
 * temporary file, linked into place, and the directory synced, so that a
 * reader never sees half a key and a crash never loses one handed out.
 * 0 created (KEY holds it), 1 someone else created it first, -1 logged. */
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
	if (rc == 0 && dir_sync(path) < 0) {
		log_error("%s: cannot sync its directory: %s", path, strerror(errno));
		return -1;
	}
	if (rc == 0)
		log_info("%s: created a new token key", path);
	return rc;
}

/* key_trusted: 0 if the open key FD (at PATH) is a regular file that only
 * its owner can read or write, owned by us or by root (root itself trusts
 * the owner: parleyd checks it against daemon.user before it starts);
 * else -1, logged. */
static int key_trusted(int fd, const char *path)
{
	struct stat st;
	uid_t me = geteuid();

	if (fstat(fd, &st) < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("%s: the token key is not a regular file: refusing it", path);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		log_error("%s: the token key is readable or writable by group or others "
			  "(mode %04o): refusing it (chmod 600 %s)", path,
			  (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	if (st.st_uid != me && st.st_uid != 0 && me != 0) {
		log_error("%s: the token key belongs to uid %ld, not to us (uid %ld): refusing it",
			  path, (long)st.st_uid, (long)me);
		return -1;
	}
	return 0;
}

/* key_open: PATH opened for reading, never through a symbolic link (nor
 * blocking on a FIFO); -1 with errno set. */
static int key_open(const char *path)
{
	return open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

int token_key_load(const char *path, unsigned char key[TOKEN_KEY_LEN])
{
	ssize_t n;
	int fd = key_open(path);

	if (fd < 0 && errno == ENOENT) {
		int rc = key_create(path, key);
		if (rc <= 0)
			return rc;
		fd = key_open(path);
	}
	if (fd < 0) {
		if (errno == ELOOP)
			log_error("%s: the token key is a symbolic link: refusing it", path);
		else
			log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if (key_trusted(fd, path) < 0) {
		close(fd);
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

/* varint_put: V as LEB128 at P; the bytes written. */
static size_t varint_put(unsigned char *p, unsigned long long v)
{
	size_t n = 0;

	do {
		p[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			p[n] |= 0x80;
		n++;
	} while (v != 0);
	return n;
}

/* varint_get: a minimal LEB128 of at most MAXBITS bits from [*P, END) into
 * *V, advancing *P; 0 or -1. */
static int varint_get(const unsigned char **p, const unsigned char *end, unsigned maxbits,
		      unsigned long long *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*p < end && shift < maxbits) {
		unsigned char c = *(*p)++;
		*v |= (unsigned long long)(c & 0x7f) << shift;
		shift += 7;
		/* MAXBITS < 64 and *V is set: the analyzer takes b32_get's output for garbage. */
		if ((c & 0x80) == 0) /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
			return (c == 0 && shift > 7) || (maxbits < 64 && (*v >> maxbits) != 0) ? -1 : 0;
	}
	return -1;
}

static size_t varint_max(unsigned bits)
{
	return (bits + 6) / 7;
}

static size_t b32_len(size_t bytes)
{
	return (bytes * 8 + 4) / 5;
}

/* b32_put: N bytes of RAW in base32 at OUT (NUL-terminated); its length. */
static size_t b32_put(const unsigned char *raw, size_t n, char *out)
{
	unsigned acc = 0;
	int bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
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
	return o;
}

/* b32_get: decode N characters of S (any case) into RAW (room for MAX);
 * the bytes, or -1 if a character is not base32, there is no room, or the
 * spare bits of the last character are not zero. */
static int b32_get(const char *s, size_t n, unsigned char *raw, size_t max)
{
	unsigned acc = 0;
	int bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		const char *p = s[i] ? strchr(b32, tolower((unsigned char)s[i])) : NULL;
		if (p == NULL)
			return -1;
		acc = (acc << 5) | (unsigned)(p - b32);
		bits += 5;
		if (bits >= 8) {
			if (o >= max)
				return -1;
			raw[o++] = (unsigned char)((acc >> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (int)o;
}

static void hmac_cut(const unsigned char key[TOKEN_KEY_LEN], const unsigned char *data,
		     size_t n, unsigned char *out, size_t outlen)
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	HMAC(EVP_sha256(), key, TOKEN_KEY_LEN, data, n, full, &len);
	memcpy(out, full, outlen);
}

struct token_mac {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;	/* keyed; EVP_MAC_init with no key starts it again */
	unsigned char key[TOKEN_KEY_LEN];	/* for the one-shot HMAC if ctx fails */
};

struct token_mac *token_mac_new(const unsigned char key[TOKEN_KEY_LEN])
{
	struct token_mac *m = calloc(1, sizeof(*m));
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};

	if (m != NULL)
		memcpy(m->key, key, TOKEN_KEY_LEN);
	if (m == NULL || (m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (m->ctx = EVP_MAC_CTX_new(m->mac)) == NULL ||
	    !EVP_MAC_init(m->ctx, key, TOKEN_KEY_LEN, params)) {
		token_mac_free(m);
		return NULL;
	}
	return m;
}

void token_mac_free(struct token_mac *m)
{
	if (m == NULL)
		return;
	EVP_MAC_CTX_free(m->ctx);
	EVP_MAC_free(m->mac);
	OPENSSL_cleanse(m->key, sizeof(m->key));
	free(m);
}

/* mac_cut: HMAC-SHA256 of DATA under M's key, cut to OUTLEN; -1 if
 * OpenSSL failed. */
static int mac_cut(struct token_mac *m, const unsigned char *data, size_t n, unsigned char *out,
		   size_t outlen)
{
	unsigned char full[EVP_MAX_MD_SIZE];
	size_t len = 0;

	if (!EVP_MAC_init(m->ctx, NULL, 0, NULL) || !EVP_MAC_update(m->ctx, data, n) ||
	    !EVP_MAC_final(m->ctx, full, &len, sizeof(full)) || len < outlen)
		return -1;
	memcpy(out, full, outlen);
	return 0;
}

/* mac2: the short format's MAC of KIND and FIELDS (N bytes) into OUT, with
 * M if there is one (else, or if it fails, with the one-shot HMAC). */
static void mac2(const unsigned char key[TOKEN_KEY_LEN], struct token_mac *m, char kind,
		 const unsigned char *fields, size_t n, unsigned char out[MAC2])
{
	unsigned char data[3 + RAW2_MAX];

	data[0] = 't';
	data[1] = '2';
	data[2] = (unsigned char)kind;
	memcpy(data + 3, fields, n);
	if (m == NULL || mac_cut(m, data, n + 3, out, MAC2) < 0)
		hmac_cut(key, data, n + 3, out, MAC2);
}

size_t token_max_len(char kind)
{
	int l = layout_of(kind);

	if (l < 0)
		return 0;
	return 1 + b32_len(varint_max(40) + (layouts[l].b_bits ? varint_max(layouts[l].b_bits) : 0) +
			   (layouts[l].expires ? EXPIRY_BYTES : 0) + MAC2);
}

/* make: token_make, with M when not NULL (KEY is then unused unless M fails). */
static size_t make(const unsigned char *key, struct token_mac *m, const struct token *t,
		   char out[TOKEN_MAX + 1])
{
	unsigned char raw[RAW2_MAX];
	int l = layout_of(t->kind);
	size_t n = 0;

	if (l < 0) {	/* a programming error: make something that never checks */
		log_error("token_make: unknown kind '%c'", t->kind);
		snprintf(out, TOKEN_MAX + 1, "%s", "invalid");
		return strlen(out);
	}
	n += varint_put(raw + n, t->a & TOKEN_A_MAX);
	if (layouts[l].b_bits)
		n += varint_put(raw + n, (unsigned long long)t->b &
					 ((1ULL << layouts[l].b_bits) - 1));
	if (layouts[l].expires) {
		unsigned long long hours =
			t->expires > 0 ? (unsigned long long)(t->expires + 3599) / 3600 : 0;
		put_be(raw + n, hours & 0xffffff, EXPIRY_BYTES);
		n += EXPIRY_BYTES;
	}
	mac2(key, m, t->kind, raw, n, raw + n);
	n += MAC2;
	out[0] = t->kind;
	return 1 + b32_put(raw, n, out + 1);
}

size_t token_make(const unsigned char key[TOKEN_KEY_LEN], const struct token *t,
		  char out[TOKEN_MAX + 1])
{
	return make(key, NULL, t, out);
}

size_t token_make_mac(struct token_mac *m, const struct token *t, char out[TOKEN_MAX + 1])
{
	return make(m->key, m, t, out);
}

/* check_v1: a token of the first format. */
static int check_v1(const unsigned char key[TOKEN_KEY_LEN], const char *s, struct token *out)
{
	unsigned char raw[V1_RAW], want[V1_MAC];

	if (b32_get(s, TOKEN_LEN_V1, raw, sizeof(raw)) != V1_RAW)
		return -1;
	hmac_cut(key, raw, V1_PAYLOAD, want, V1_MAC);
	if (CRYPTO_memcmp(want, raw + V1_PAYLOAD, V1_MAC) != 0)
		return -1;
	out->kind = (char)raw[0];
	out->a = get_be(raw + 1, 5);
	out->b = (unsigned long)get_be(raw + 6, 4);
	out->expires = (long long)get_be(raw + 10, 4) * 3600;
	return 0;
}

/* check_v2: a token of the short format. */
static int check_v2(const unsigned char key[TOKEN_KEY_LEN], const char *s, size_t n,
		    struct token *out)
{
	unsigned char raw[RAW2_MAX], want[MAC2];
	const unsigned char *p = raw, *end;
	unsigned long long v;
	int got, l = layout_of((char)tolower((unsigned char)s[0]));

	if (l < 0 || n - 1 > b32_len(RAW2_MAX) ||
	    (got = b32_get(s + 1, n - 1, raw, sizeof(raw))) <= MAC2 || b32_len((size_t)got) != n - 1)
		return -1;	/* one token, one spelling: no spare character */
	end = raw + got - MAC2;
	memset(out, 0, sizeof(*out));
	out->kind = layouts[l].kind;
	if (varint_get(&p, end, 40, &out->a) < 0)
		return -1;
	if (layouts[l].b_bits) {
		if (varint_get(&p, end, layouts[l].b_bits, &v) < 0)
			return -1;
		out->b = (unsigned long)v;
	}
	if (layouts[l].expires) {
		if (end - p < EXPIRY_BYTES)
			return -1;
		out->expires = (long long)get_be(p, EXPIRY_BYTES) * 3600;
		p += EXPIRY_BYTES;
	}
	if (p != end)
		return -1;
	mac2(key, NULL, out->kind, raw, (size_t)(end - raw), want);
	return CRYPTO_memcmp(want, end, MAC2) == 0 ? 0 : -1;
}

int token_check(const unsigned char key[TOKEN_KEY_LEN], const char *s, struct token *out,
		long long now)
{
	size_t n = strlen(s);
	int rc;

	if (n < 2 || n > TOKEN_MAX)
		return -1;
	rc = n == TOKEN_LEN_V1 ? check_v1(key, s, out) : check_v2(key, s, n, out);
	if (rc < 0)
		return -1;
	if (out->expires != 0 && now > out->expires)
		return -2;
	return 0;
}
