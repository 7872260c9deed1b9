/*
 * test_dmarc.c - daemon/dmarc.c's reading of DMARC records (RFC 7489
 * §6.3, §6.4): v=DMARC1 first and exactly, p= quarantine and reject are
 * strict (any case), none is not, sp= applies at a parent only, a record
 * without a valid p= counts as none, tags with white space, records that
 * are no DMARC record (other TXT, v=DMARC10, v= not first, NUL). The DNS
 * side (walk, timeouts, cache) is tests/e2e/test_dmarc.py.
 */
#include "autoconf.h"

#include <string.h>

#include "dmarc.h"
#include "tap.h"

static int parse(const char *txt, int sub)
{
	return dmarc_parse(txt, strlen(txt), sub);
}

int main(void)
{
	ok(parse("v=DMARC1; p=reject", 0) == DMARC_STRICT, "p=reject is strict");
	ok(parse("v=DMARC1;p=quarantine;rua=mailto:x@example.org", 0) == DMARC_STRICT,
	   "p=quarantine is strict");
	ok(parse("v=DMARC1; p=Reject", 0) == DMARC_STRICT, "the policy's case does not matter");
	ok(parse("v=DMARC1; p=none", 0) == DMARC_NONE, "p=none is not strict");
	ok(parse("  v = DMARC1 ;  p = reject ; pct=100", 0) == DMARC_STRICT,
	   "white space around tags and '='");
	ok(parse("v=DMARC1; p=none; sp=reject", 1) == DMARC_STRICT, "sp= applies at a parent");
	ok(parse("v=DMARC1; p=none; sp=reject", 0) == DMARC_NONE, "sp= does not apply at the domain");
	ok(parse("v=DMARC1; p=reject; sp=none", 1) == DMARC_NONE, "sp=none at a parent wins over p=");
	ok(parse("v=DMARC1; p=reject", 1) == DMARC_STRICT, "without sp=, a parent's p= applies");
	ok(parse("v=DMARC1; rua=mailto:x@example.org", 0) == DMARC_NONE, "no p=: as p=none");
	ok(parse("v=DMARC1; p=sometimes", 0) == DMARC_NONE, "an unknown p=: as p=none");
	ok(parse("v=DMARC1", 0) == DMARC_NONE, "v=DMARC1 alone");
	ok(parse("v=spf1 -all", 0) == -1, "an SPF record is no DMARC record");
	ok(parse("v=DMARC10; p=reject", 0) == -1, "v=DMARC10 is no DMARC record");
	ok(parse("p=reject; v=DMARC1", 0) == -1, "v= must be the first tag");
	ok(parse("v=dmarc1; p=reject", 0) == -1, "v=DMARC1 is case-sensitive");
	ok(parse("", 0) == -1, "an empty record");
	ok(dmarc_parse("v=DMARC1; p=reject\0x", 20, 0) == -1, "a record with a NUL");
	return tap_done();
}
