/*
 * test_authres.c - proof of authorship from Authentication-Results
 * (lib/authres.c) on whole message headers: only the fields our border
 * added are believed (not one below the first Received that is not ours),
 * a DKIM pass must be for the author's domain (aligned only when chosen),
 * header.i must not name another user, header.b must match a signature in
 * the message, and an SPF pass proves nothing unless the author chose it.
 */
#include "autoconf.h"

#include <string.h>

#include "authres.h"
#include "config.h"
#include "log.h"
#include "tap.h"

#define OURS                                                                                       \
	"Received: from out.example.org by parley.example.org (parley) with LMTP\r\n"              \
	"\tid 6B0001; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
#define BORDER                                                                                     \
	"Received: from out.example.org (out.example.org [192.0.2.7])\r\n"                         \
	"\tby mx.example.org (Postfix) with ESMTPS id 4Xy; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
#define FOREIGN "Received: from [198.51.100.9] by relay.example.net with SMTP; Tue, 1 Dec 2026\r\n"
#define BODY	"From: Alice <alice@example.org>\r\nSubject: hi\r\n\r\nbody\r\n"

static struct strv trusted;

static int proves(const char *raw, int proof)
{
	char how[256] = "";

	return authres_proves(raw, strlen(raw), &trusted, "alice@example.org", proof, how,
			      sizeof(how));
}

int main(void)
{
	static const struct {
		const char *header;
		int proof, proves;
		const char *what;
	} cases[] = {
	    {OURS BORDER "Authentication-Results: mx.example.org;\r\n\tdkim=pass "
			 "header.d=example.org header.s=s1\r\n" FOREIGN BODY,
	     PROOF_DKIM, 1,
	     "the border's dkim=pass for the author's domain, below its Received: proof"},
	    {OURS "Authentication-Results: mx.example.org; dkim=pass (good signature) "
		  "header.d=example.org\r\n" BORDER FOREIGN BODY,
	     PROOF_DKIM, 1, "above the border's Received, with a comment: proof"},
	    {OURS FOREIGN "Authentication-Results: mx.example.org; dkim=pass "
			  "header.d=example.org\r\n" BODY,
	     PROOF_DKIM, 0, "a trusted authserv-id below a foreign Received: forged, no proof"},
	    {OURS BORDER
	     "Authentication-Results: mx.example.org; dkim=none\r\n" FOREIGN
	     "Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n" BODY,
	     PROOF_DKIM, 0,
	     "a sender's pass below the border's own result and a foreign Received: no proof"},
	    {OURS BORDER
	     "Authentication-Results: mx.example.org; dkim=none\r\n" BORDER
	     "Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n" BODY,
	     PROOF_DKIM, 0,
	     "a Received claiming the border below the border's result: nothing further believed"},
	    {OURS
	     "Authentication-Results: evil.example.com; dkim=pass header.d=example.org\r\n" BODY,
	     PROOF_DKIM, 0, "an untrusted authserv-id: no proof"},
	    {OURS
	     "Authentication-Results: mx.example.org.evil; dkim=pass header.d=example.org\r\n" BODY,
	     PROOF_DKIM, 0, "an authserv-id that merely begins like ours: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass header.d=example.org "
			 "header.i=eve@example.org\r\n" BODY,
	     PROOF_DKIM, 0, "header.i of another user of the domain: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass header.d=example.org "
			 "header.i=Alice@Example.org\r\n" BODY,
	     PROOF_DKIM, 1, "header.i of the author (any case): proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass header.d=example.org "
			 "header.i=@example.org\r\n" BODY,
	     PROOF_DKIM, 1, "header.i of the domain: proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass header.d=example.org "
			 "header.i=@evil.example\r\n" BODY,
	     PROOF_DKIM, 0, "header.i of another domain: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass "
			 "header.d=other.example.net\r\n" BODY,
	     PROOF_DKIM, 0, "header.d of another domain: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass "
			 "header.d=mail.example.org\r\n" BODY,
	     PROOF_DKIM, 0, "header.d of a subdomain, strict: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass "
			 "header.d=mail.example.org\r\n" BODY,
	     PROOF_DKIM_ALIGNED, 1, "header.d of a subdomain, with dkim-aligned: proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass "
			 "header.d=badexample.org\r\n" BODY,
	     PROOF_DKIM_ALIGNED, 0,
	     "a domain that merely ends like the author's, aligned: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=fail "
			 "header.d=example.org\r\n" BODY,
	     PROOF_DKIM, 0, "dkim=fail: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=passed "
			 "header.d=example.org\r\n" BODY,
	     PROOF_DKIM, 0, "dkim=passed is not dkim=pass"},
	    {OURS BORDER "Authentication-Results: mx.example.org; spf=pass "
			 "smtp.mailfrom=alice@example.org\r\n" BODY,
	     PROOF_DKIM, 0, "spf=pass alone, without the author's choice: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; spf=pass "
			 "smtp.mailfrom=alice@example.org\r\n" BODY,
	     PROOF_DKIM | PROOF_SPF, 1,
	     "spf=pass for the author's domain, chosen by the author: proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; spf=pass "
			 "smtp.mailfrom=x@evil.example\r\n" BODY,
	     PROOF_SPF, 0, "spf=pass for another domain: no proof"},
	    {OURS BORDER
	     "Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n" BODY,
	     0, 0, "an author with no proof method: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass header.d=example.org "
			 "header.b=abcdefgh\r\n" BODY,
	     PROOF_DKIM, 0, "header.b with no such signature in the message: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass header.d=example.org "
			 "header.b=abcdefgh\r\n"
			 "DKIM-Signature: v=1; a=rsa-sha256; d=evil.example; s=s1;\r\n"
			 "\tb=abcdefghijkl mnop\r\n" BODY,
	     PROOF_DKIM, 0, "header.b of a signature by another domain: no proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass header.d=example.org "
			 "header.b=abcdefgh\r\n"
			 "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1;\r\n"
			 "\tb=abcd efghijkl\r\n\tmnop\r\n" BODY,
	     PROOF_DKIM, 1, "header.b of the author's domain's signature (folded b=): proof"},
	    {OURS BORDER "Authentication-Results: mx.example.org; dkim=pass header.d=example.org "
			 "header.b=abc\r\n"
			 "DKIM-Signature: v=1; d=example.org; b=abcdefghijkl\r\n" BODY,
	     PROOF_DKIM, 0, "a header.b shorter than 8 characters: no proof"},
	    {OURS BORDER
	     "Authentication-Results: mx.example.org; dkim=pass header.d=evil.example;"
	     "\r\n\tdkim=fail header.d=example.org;\r\n\tdkim=pass header.d=example.org\r\n" BODY,
	     PROOF_DKIM, 1, "one clause of several proves"},
	};
	size_t i;

	log_init("test_authres", LOG_DEST_STDERR);
	strv_push(&trusted, "mx.example.org");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(proves(cases[i].header, cases[i].proof) == cases[i].proves, "%s", cases[i].what);
	strv_free(&trusted);
	return tap_done();
}
