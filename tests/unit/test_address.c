/*
 * test_address.c - address parsing and normalisation (lib/address.c):
 * what is accepted, how it is normalised, and why each bad form is refused.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "tap.h"

struct good {
	const char *in, *addr, *name;
};

static const struct good goods[] = {
	{"alice@example.org", "alice@example.org", NULL},
	{"  alice@example.org\t", "alice@example.org", NULL},
	{"Alice@EXAMPLE.Org", "Alice@example.org", NULL},		/* local part kept */
	{"first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk", NULL},
	{"o'brien@example.ie", "o'brien@example.ie", NULL},
	{"\"john doe\"@example.org", "\"john doe\"@example.org", NULL},
	{"user@[192.0.2.1]", "user@[192.0.2.1]", NULL},
	{"Alice Example <alice@Example.ORG>", "alice@example.org", "Alice Example"},
	{"\"Doe, John\" <john@example.org>", "john@example.org", "Doe, John"},
	{"=?utf-8?q?J=C3=B6rg?= <jorg@example.de>", "jorg@example.de", "J\xc3\xb6rg"},
	{"=?iso-8859-1?q?Ren=E9?= <rene@example.fr>", "rene@example.fr", "Ren\xc3\xa9"},
	{"<bare@example.org>", "bare@example.org", NULL},
	{"x@a-b.example", "x@a-b.example", NULL},
};

struct bad {
	const char *in, *why;
};

static const struct bad bads[] = {
	{"", "empty"},
	{"not an address", "spaces"},
	{"@nolocal.org", "local part"},
	{"user", "'@'"},
	{"user@", "domain"},
	{"user@localhost", "no dot"},
	{"a..b@example.org", "local part"},
	{".a@example.org", "local part"},
	{"a.@example.org", "local part"},
	{"a(comment)@example.org", "after the address"},
	{"a b@example.org", "spaces"},
	{"a@example..org", "label"},
	{"a@-example.org", "'-'"},
	{"a@example-.org", "label"},
	{"a@exa_mple.org", "invalid character"},
	{"a@example.org.", "label"},
	{"a@b.org, c@d.org", "after the address"},
	{"a@b.org>", "after the address"},
	{"a@b.org\r\nRCPT TO:<x@y.org>", "control"},
	{"j\xc3\xb6rg@example.de", "SMTPUTF8"},
	{"a@ex\xc3\xa4mple.de", "xn--"},
	{"a@[300.1.1.1]", "literal"},
	{"a@example.org\tb", "spaces"},
};

static void test_long(void)
{
	char buf[400], err[ADDRESS_ERR_MAX];
	struct address a;

	memset(buf, 'a', 64);
	strcpy(buf + 64, "@example.org");
	ok(address_parse(buf, &a, err, sizeof(err)) == 0, "64-character local part accepted");
	address_free(&a);
	memset(buf, 'a', 65);
	strcpy(buf + 65, "@example.org");
	ok(address_parse(buf, &a, err, sizeof(err)) < 0 && strstr(err, "64"),
	   "65-character local part refused (%s)", err);
	strcpy(buf, "a@");
	memset(buf + 2, 'b', 63);
	strcpy(buf + 65, ".");
	memset(buf + 66, 'c', 63);
	strcpy(buf + 129, ".");
	memset(buf + 130, 'd', 63);
	strcpy(buf + 193, ".");
	memset(buf + 194, 'e', 63);
	strcpy(buf + 257, ".org");
	ok(address_parse(buf, &a, err, sizeof(err)) < 0, "address over 254 characters refused (%s)",
	   err);
}

static void test_spec_only(void)
{
	char out[ADDRESS_MAX + 1], err[ADDRESS_ERR_MAX];

	ok(address_parse_spec("List@Lists.Example.ORG", out, err, sizeof(err)) == 0 &&
		   strcmp(out, "List@lists.example.org") == 0,
	   "address_parse_spec normalises the domain");
	ok(address_parse_spec("Name <a@example.org>", out, err, sizeof(err)) < 0,
	   "address_parse_spec refuses a display name");
	ok(address_parse_spec("<a@example.org>", out, err, sizeof(err)) < 0,
	   "address_parse_spec refuses angle brackets");
	is_str(address_domain("a@example.org"), "example.org", "address_domain");
}

/* printable: IN with control characters as \xNN, for test names. */
static const char *printable(const char *in, char *buf, size_t len)
{
	size_t o = 0;

	for (; *in && o + 5 < len; in++) {
		unsigned char c = (unsigned char)*in;
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

int main(void)
{
	char shown[128];
	char err[ADDRESS_ERR_MAX];
	struct address a;
	size_t i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		int r = address_parse(goods[i].in, &a, err, sizeof(err));
		if (!ok(r == 0, "accepts '%s'", printable(goods[i].in, shown, sizeof(shown)))) {
			printf("#   error: %s\n", err);
			continue;
		}
		is_str(a.addr, goods[i].addr, "normalises '%s'", goods[i].in);
		is_str(a.name, goods[i].name, "display name of '%s'", goods[i].in);
		address_free(&a);
	}
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		int r;
		err[0] = '\0';
		r = address_parse(bads[i].in, &a, err, sizeof(err));
		if (r == 0)
			address_free(&a);
		if (!ok(r < 0 && strstr(err, bads[i].why) != NULL, "refuses '%s' (%s)",
			printable(bads[i].in, shown, sizeof(shown)), err))
			printf("#   expected a reason containing '%s'\n", bads[i].why);
	}
	test_long();
	test_spec_only();
	return tap_done();
}
