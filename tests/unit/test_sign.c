/*
 * test_sign.c - lib/sign.c: which ARC set a copy gets from the chain its
 * message came with. No chain: i=1, cv=none. A whole chain (i=1, i=2) with
 * arc=pass from a believed Authentication-Results: i=3, cv=pass, and the
 * chain's six fields back in the copy. A chain without that verdict
 * (arc=fail, none, an untrusted authserv-id), or not whole (a field
 * missing, one twice, an instance missing, i=0, i=51, no i=): a new chain,
 * i=1, none of the old fields. No keys: the copy as it was. The signatures
 * themselves are verified with python3-dkim in tests/e2e/test_signing.py.
 * The key is made with `openssl genpkey` in a temporary directory.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dkim.h"
#include "sign.h"
#include "tap.h"

static char dir[] = "/tmp/test_sign.XXXXXX";

static const char copy[] = "From: \"Alice via dev\" <dev@lists.example.org>\r\n"
			   "To: dev@lists.example.org\r\nSubject: hi\r\n"
			   "Message-ID: <m@lists.example.org>\r\n\r\nHello.\r\n";

#define AAR(i) "ARC-Authentication-Results: i=" #i "; fwd.example.net; dkim=pass\r\n"
#define AMS(i) "ARC-Message-Signature: i=" #i "; a=rsa-sha256; d=fwd.example.net; s=s;\r\n h=from; bh=x; b=y\r\n"
#define AS(i, cv) "ARC-Seal: i=" #i "; a=rsa-sha256; cv=" cv "; d=fwd.example.net; s=s; b=z\r\n"
#define CHAIN AS(2, "pass") AMS(2) AAR(2) AS(1, "none") AMS(1) AAR(1)
#define RECEIVED "Received: from mx.example.org by lists.example.org; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
#define BODY "From: alice@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"

/* count: occurrences of S in P[0..N). */
static int count(const char *p, size_t n, const char *s)
{
	int c = 0;
	size_t k = strlen(s);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(p + i, s, k) == 0)
			c++;
	return c;
}

/* seal_of: sign a copy of INBOUND; the new seal's "i=N; ... cv=X" as "N X"
 * in OUT, and the number of the old chain's fields found in the copy. */
static int seal_of(const struct config *cfg, const struct cfg_list *l, const char *inbound,
		   char *out, size_t len)
{
	char *msg = strdup(copy), err[256] = "";
	size_t n = strlen(copy);
	int i = 0, old;
	char cv[16] = "";

	snprintf(out, len, "error");
	if (sign_copy(cfg, l, NULL, inbound, strlen(inbound), &msg, &n, 1700000000, err, sizeof(err)) < 0) {
		printf("# %s\n", err);
		free(msg);
		return -1;
	}
	if (sscanf(msg, "ARC-Seal: i=%d; a=rsa-sha256; t=1700000000; cv=%15[a-z];", &i, cv) == 2)
		snprintf(out, len, "%d %s", i, cv);
	old = count(msg, n, "fwd.example.net");
	free(msg);
	return old;
}

int main(void)
{
	char key[64], out[64];
	struct config cfg;
	struct cfg_list l;
	struct dkim_key *k;
	char *trusted[] = {(char *)"mx.example.org"};
	int old;

	if (mkdtemp(dir) == NULL)
		return ok(0, "mkdtemp"), tap_done();
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	{
		char cmd[200];
		snprintf(cmd, sizeof(cmd),
			 "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null",
			 key);
		ok(system(cmd) == 0 && chmod(key, 0600) == 0, "openssl genpkey made a key");
	}
	k = dkim_key_load(key, "lists.example.org", "s1", out, sizeof(out));
	if (!ok(k != NULL, "the key loads"))
		return tap_done();
	memset(&cfg, 0, sizeof(cfg));
	memset(&l, 0, sizeof(l));
	cfg.daemon.authserv_ids.v = trusted;
	cfg.daemon.authserv_ids.n = 1;
	cfg.daemon.hostname = (char *)"lists.example.org";
	l.dkim_keys[0] = k;
	l.ndkim_keys = 1;
	l.arc_key = k;

	old = seal_of(&cfg, &l, RECEIVED BODY, out, sizeof(out));
	ok(strcmp(out, "1 none") == 0 && old == 0, "no chain: i=1, cv=none (%s)", out);
	old = seal_of(&cfg, &l, RECEIVED "Authentication-Results: mx.example.org; arc=pass; dkim=pass\r\n" CHAIN BODY,
		      out, sizeof(out));
	ok(strcmp(out, "3 pass") == 0 && old == 6,
	   "a whole chain of two and arc=pass: i=3, cv=pass, its 6 fields kept (%s, %d)", out, old);
	old = seal_of(&cfg, &l, RECEIVED "Authentication-Results: mx.example.org; arc = Pass\r\n" CHAIN BODY,
		      out, sizeof(out));
	ok(strcmp(out, "3 pass") == 0 && old == 6, "\"arc = Pass\" is a pass too (%s)", out);
	old = seal_of(&cfg, &l, RECEIVED "Authentication-Results: mx.example.org; arc=fail\r\n" CHAIN BODY,
		      out, sizeof(out));
	ok(strcmp(out, "1 none") == 0 && old == 0, "arc=fail: a new chain, the old one left out (%s)", out);
	old = seal_of(&cfg, &l, RECEIVED "Authentication-Results: mx.example.org; dkim=pass\r\n" CHAIN BODY,
		      out, sizeof(out));
	ok(strcmp(out, "1 none") == 0 && old == 0, "no arc= verdict: a new chain (%s)", out);
	old = seal_of(&cfg, &l, RECEIVED "Authentication-Results: evil.example.com; arc=pass\r\n" CHAIN BODY,
		      out, sizeof(out));
	ok(strcmp(out, "1 none") == 0 && old == 0, "arc=pass from an untrusted authserv-id: a new chain");
	{
		static const char *const broken[] = {
			AS(2, "pass") AAR(2) AS(1, "none") AMS(1) AAR(1),	/* AMS 2 missing */
			AS(2, "pass") AMS(2) AMS(2) AAR(2) AS(1, "none") AMS(1) AAR(1),
			AS(2, "pass") AMS(2) AAR(2),				/* no i=1 */
			AS(0, "none") AMS(0) AAR(0),
			AS(51, "pass") AMS(51) AAR(51),
			"ARC-Seal: a=rsa-sha256; i=1; b=z\r\n" AMS(1) AAR(1),	/* i= not first */
		};
		for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
			char in[2048];
			snprintf(in, sizeof(in), "%sAuthentication-Results: mx.example.org; arc=pass\r\n%s%s",
				 RECEIVED, broken[i], BODY);
			old = seal_of(&cfg, &l, in, out, sizeof(out));
			ok(strcmp(out, "1 none") == 0 && old == 0,
			   "a chain that is not whole (case %zu): a new chain, none of its fields (%s, %d)",
			   i + 1, out, old);
		}
	}
	(void)seal_of(&cfg, &l, "", out, sizeof(out));
	ok(strcmp(out, "1 none") == 0, "an empty inbound message: i=1 with \"HOSTNAME; none\"");
	{
		char *msg = strdup(copy), err[64];
		size_t n = strlen(copy);
		l.ndkim_keys = 0;
		ok(sign_copy(&cfg, &l, NULL, NULL, 0, &msg, &n, 1, err, sizeof(err)) == 0 && n == strlen(copy) &&
			   strcmp(msg, copy) == 0,
		   "a list without keys: the copy as it was");
		free(msg);
	}
	dkim_key_free(k);
	unlink(key);
	rmdir(dir);
	return tap_done();
}
