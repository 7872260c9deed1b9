/*
 * test_token.c - sealed tokens (lib/token.c): round trip, length, case,
 * forgery and expiry, and the key file's creation and reuse.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"
#include "token.h"

int main(void)
{
	unsigned char key[TOKEN_KEY_LEN], key2[TOKEN_KEY_LEN], other[TOKEN_KEY_LEN];
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1], dir[] = "/tmp/parley-test-token.XXXXXX",
							path[64];
	struct token t = {'r', 1099511627775ULL, 4294967295UL, 0}, got;
	struct stat st;
	size_t i;

	log_init("test_token", LOG_DEST_STDERR);
	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(path, sizeof(path), "%s/secret", dir);
	ok(token_key_load(path, key) == 0, "a missing key file is created");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == TOKEN_KEY_LEN,
	   "0600, 32 bytes");
	ok(token_key_load(path, key2) == 0 && memcmp(key, key2, TOKEN_KEY_LEN) == 0,
	   "and read back the same");
	token_make(key, &t, tok);
	is_int(strlen(tok), TOKEN_LEN, "39 characters");
	ok(strspn(tok, "abcdefghijklmnopqrstuvwxyz234567") == TOKEN_LEN, "lower-case base32");
	ok(token_check(key, tok, &got, 1000) == 0, "checks");
	ok(got.kind == 'r' && got.a == t.a && got.b == t.b && got.expires == 0, "round trip");
	for (i = 0; i < TOKEN_LEN; i++)
		bad[i] = (char)(tok[i] >= 'a' && tok[i] <= 'z' ? tok[i] - 32 : tok[i]);
	bad[TOKEN_LEN] = '\0';
	ok(token_check(key, bad, &got, 1000) == 0, "upper case (an MTA changed it) still checks");
	memcpy(bad, tok, sizeof(bad));
	bad[5] = bad[5] == 'a' ? 'b' : 'a';
	is_int(token_check(key, bad, &got, 1000), -1, "one changed character: forged");
	for (i = 1; i < 8; i++) {
		const char *alpha = "abcdefghijklmnopqrstuvwxyz234567";
		const char *p = strchr(alpha, tok[TOKEN_LEN - 1]);
		long v = p != NULL ? (long)(p - alpha) : 0;
		memcpy(bad, tok, sizeof(bad));
		bad[TOKEN_LEN - 1] = alpha[(v ^ (long)i) & 31];
		if (token_check(key, bad, &got, 1000) != -1)
			break;
	}
	is_int(i, 8, "the last character's 3 spare bits set: refused (one token, one spelling)");
	memset(other, 7, sizeof(other));
	is_int(token_check(other, tok, &got, 1000), -1, "another key: forged");
	is_int(token_check(key, "short", &got, 1000), -1, "wrong length: malformed");
	t.kind = 'c';
	t.a = 42;
	t.b = 7;
	t.expires = 1800000000;
	token_make(key, &t, tok);
	ok(token_check(key, tok, &got, 1700000000) == 0 && got.expires >= 1800000000 &&
		   got.expires < 1800003600,
	   "expiry kept to the hour");
	is_int(token_check(key, tok, &got, 1900000000), -2, "expired");
	unlink(path);
	rmdir(dir);
	return tap_done();
}
