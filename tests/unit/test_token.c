/*
 * test_token.c - sealed tokens (lib/token.c): round trip, length, case,
 * forgery and expiry, and the key file's creation and reuse.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"
#include "tap.h"
#include "token.h"

/* v1_make: a token of the first format, as parley 0.5 wrote it (to check
 * that old tokens in readers' inboxes still work). */
static void v1_make(const unsigned char key[TOKEN_KEY_LEN], char kind, unsigned long long a,
		    unsigned long b, long long expires, char out[TOKEN_MAX + 1])
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char raw[24], full[EVP_MAX_MD_SIZE];
	unsigned long long hours = expires > 0 ? (unsigned long long)(expires + 3599) / 3600 : 0;
	unsigned int len = 0, acc = 0;
	int bits = 0, o = 0, i;

	raw[0] = (unsigned char)kind;
	for (i = 0; i < 5; i++)
		raw[1 + i] = (unsigned char)(a >> (8 * (4 - i)));
	for (i = 0; i < 4; i++)
		raw[6 + i] = (unsigned char)(b >> (8 * (3 - i)));
	for (i = 0; i < 4; i++)
		raw[10 + i] = (unsigned char)(hours >> (8 * (3 - i)));
	HMAC(EVP_sha256(), key, TOKEN_KEY_LEN, raw, 14, full, &len);
	memcpy(raw + 14, full, 10);
	for (i = 0; i < 24; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alpha[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

/* test_mac: token_make_mac makes the very tokens token_make makes, for every
 * kind and many numbers, under one context reused (and another key's
 * context makes other tokens). */
static void test_mac(const unsigned char key[TOKEN_KEY_LEN], const unsigned char other[TOKEN_KEY_LEN],
		     const char *kinds, size_t nkinds)
{
	struct token_mac *m = token_mac_new(key), *o = token_mac_new(other);
	char a[TOKEN_MAX + 1], b[TOKEN_MAX + 1];
	int same = 1, differ = 1;
	size_t i, k;

	if (!ok(m != NULL && o != NULL, "a keyed HMAC context is made")) {
		token_mac_free(m);
		token_mac_free(o);
		return;
	}
	for (k = 0; k < nkinds; k++)
		for (i = 0; i < 2000; i++) {
			struct token t = {kinds[k], i * 2654435761ULL, (unsigned long)(i * 40503UL), 0};
			if (kinds[k] == TOKEN_PUBLISH || kinds[k] == TOKEN_REQUEST)
				t.expires = 1800000000LL + (long long)i * 3600;
			size_t n1 = token_make(key, &t, a), n2 = token_make_mac(m, &t, b);
			if (n1 != n2 || strcmp(a, b) != 0)
				same = 0;
			(void)token_make_mac(o, &t, b);
			if (strcmp(a, b) == 0)
				differ = 0;
		}
	ok(same, "token_make_mac: the same tokens as token_make, %zu kinds x 2000", nkinds);
	ok(differ, "another key's context: other tokens");
	token_mac_free(m);
	token_mac_free(o);
	token_mac_free(NULL);
}

int main(void)
{
	static const char kinds[] = {TOKEN_REPLY,   TOKEN_BOUNCE, TOKEN_UNSUBSCRIBE, TOKEN_PUBLISH,
				     TOKEN_REQUEST, TOKEN_FOLLOW, TOKEN_MUTE,	      TOKEN_PRIVATE,
				     TOKEN_APPROVE, TOKEN_REJECT};
	unsigned char key[TOKEN_KEY_LEN], key2[TOKEN_KEY_LEN], other[TOKEN_KEY_LEN];
	char tok[TOKEN_MAX + 1], bad[TOKEN_MAX + 1], dir[] = "/tmp/parley-test-token.XXXXXX",
							path[64], lnk[64];
	struct token t = {TOKEN_REPLY, 1099511627775ULL, 4294967295UL, 0}, got;
	struct stat st;
	size_t i, n, longest = 0;
	int all_ok = 1;

	log_init("test_token", LOG_DEST_STDERR);
	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(path, sizeof(path), "%s/secret", dir);
	ok(token_key_load(path, key) == 0, "a missing key file is created");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == TOKEN_KEY_LEN,
	   "0600, 32 bytes");
	ok(token_key_load(path, key2) == 0 && memcmp(key, key2, TOKEN_KEY_LEN) == 0,
	   "and read back the same");

	n = token_make(key, &t, tok);
	is_int(n, strlen(tok), "token_make returns the length");
	is_int(n, token_max_len(TOKEN_REPLY), "the widest reply token is as long as the bound");
	ok(n < TOKEN_LEN_V1, "shorter than the first format (%zu)", n);
	ok(strspn(tok, "abcdefghijklmnopqrstuvwxyz234567") == n, "lower-case base32");
	ok(tok[0] == TOKEN_REPLY, "the kind is the first character");
	ok(token_check(key, tok, &got, 1000) == 0, "checks");
	ok(got.kind == 'r' && got.a == t.a && got.b == t.b && got.expires == 0, "round trip");
	t.a = 7;
	t.b = 3;
	n = token_make(key, &t, tok);
	ok(n <= 17, "small ids make a short token (%zu: %s)", n, tok);
	ok(token_check(key, tok, &got, 1000) == 0 && got.a == 7 && got.b == 3, "and check");
	for (i = 0; i < n; i++)
		bad[i] = (char)(tok[i] >= 'a' && tok[i] <= 'z' ? tok[i] - 32 : tok[i]);
	bad[n] = '\0';
	ok(token_check(key, bad, &got, 1000) == 0, "upper case (an MTA changed it) still checks");
	for (i = 1; i < n; i++) {
		memcpy(bad, tok, sizeof(bad));
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		if (token_check(key, bad, &got, 1000) != -1)
			all_ok = 0;
	}
	ok(all_ok, "any one changed character: forged");
	memcpy(bad, tok, sizeof(bad));
	bad[0] = TOKEN_PRIVATE;
	is_int(token_check(key, bad, &got, 1000), -1, "another kind with the same fields: forged");
	memcpy(bad, tok, sizeof(bad));
	bad[n - 1] = '\0';
	is_int(token_check(key, bad, &got, 1000), -1, "cut short: forged");
	snprintf(bad, sizeof(bad), "%sa", tok);
	is_int(token_check(key, bad, &got, 1000), -1, "one more character: forged");
	memset(other, 7, sizeof(other));
	is_int(token_check(other, tok, &got, 1000), -1, "another key: forged");
	is_int(token_check(key, "short", &got, 1000), -1, "malformed");
	is_int(token_check(key, "", &got, 1000), -1, "empty");
	is_int(token_check(key, "r7!!!!!!!!!", &got, 1000), -1, "not base32");

	for (i = 0; i < sizeof(kinds); i++) {
		struct token w = {kinds[i], TOKEN_A_MAX, 0xffffffffUL, 1800000000};
		n = token_make(key, &w, tok);
		if (n != token_max_len(kinds[i]) || token_check(key, tok, &got, 1700000000) != 0 ||
		    got.kind != kinds[i] || got.a != TOKEN_A_MAX)
			all_ok = 0;
		if (n > longest)
			longest = n;
	}
	ok(all_ok, "every kind at its widest: round trip, as long as token_max_len");
	ok(longest <= 33, "no token longer than 33 characters (%zu)", longest);
	is_int(token_max_len('Z'), 0, "an unknown kind has no bound");

	t.kind = TOKEN_PUBLISH;
	t.a = 42;
	t.b = 0;
	t.expires = 1800000000;
	token_make(key, &t, tok);
	ok(token_check(key, tok, &got, 1700000000) == 0 && got.expires >= 1800000000 &&
		   got.expires < 1800003600,
	   "expiry kept to the hour");
	is_int(token_check(key, tok, &got, 1900000000), -2, "expired");
	t.kind = TOKEN_UNSUBSCRIBE;
	t.expires = 1800000000;
	token_make(key, &t, tok);
	ok(token_check(key, tok, &got, 1900000000) == 0 && got.expires == 0,
	   "an unsubscribe token never expires");

	/* the first format, still in readers' inboxes */
	v1_make(key, 'u', 12, 3, 0, tok);
	is_int(strlen(tok), TOKEN_LEN_V1, "a first-format token: 39 characters");
	ok(token_check(key, tok, &got, 1000) == 0 && got.kind == 'u' && got.a == 12 && got.b == 3,
	   "still checks, with its fields");
	v1_make(key, 'p', 5, 1, 1800000000, tok);
	is_int(token_check(key, tok, &got, 1900000000), -2, "its expiry still counts");
	memcpy(bad, tok, sizeof(bad));
	bad[7] = bad[7] == 'a' ? 'b' : 'a';
	is_int(token_check(key, bad, &got, 1000), -1, "a changed first-format token: forged");
	for (i = 1; i < 8; i++) {
		const char *alpha = "abcdefghijklmnopqrstuvwxyz234567";
		const char *p;
		v1_make(key, 'r', 1, 1, 0, tok);
		p = strchr(alpha, tok[TOKEN_LEN_V1 - 1]);
		tok[TOKEN_LEN_V1 - 1] = alpha[((p ? p - alpha : 0) ^ (long)i) & 31];
		if (token_check(key, tok, &got, 1000) != -1)
			break;
	}
	is_int(i, 8, "the last character's 3 spare bits set: refused (one token, one spelling)");
	/* the key's file is checked before it is believed */
	chmod(path, 0640);
	ok(token_key_load(path, key2) == -1, "a key the group can read: refused");
	chmod(path, 0602);
	ok(token_key_load(path, key2) == -1, "a key others can write: refused");
	chmod(path, 0600);
	ok(token_key_load(path, key2) == 0, "0600 again: read");
	snprintf(lnk, sizeof(lnk), "%s/link", dir);
	ok(symlink(path, lnk) == 0 && token_key_load(lnk, key2) == -1,
	   "a key that is a symbolic link: refused");
	unlink(lnk);
	ok(mkdir(lnk, 0700) == 0 && token_key_load(lnk, key2) == -1, "a directory: refused");
	rmdir(lnk);
	ok(mkfifo(lnk, 0600) == 0 && token_key_load(lnk, key2) == -1,
	   "a FIFO: refused, without blocking");
	unlink(lnk);
	if (geteuid() == 0) {
		pid_t pid;
		int wst = 0;
		chmod(dir, 0711);
		ok(chown(path, 12345, 12345) == 0, "(the key given to uid 12345)");
		if ((pid = fork()) == 0) {
			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(3);
			_exit(token_key_load(path, key2) == -1 ? 0 : 1);
		}
		waitpid(pid, &wst, 0);
		ok(WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
		   "a key owned by another user (not root): refused");
		chown(path, 0, 0);
	} else {
		ok(1, "# SKIP not root: cannot give the key to another user");
		ok(1, "# SKIP not root");
	}
	unlink(path);
	rmdir(dir);
	test_mac(key, other, kinds, sizeof(kinds));
	return tap_done();
}
