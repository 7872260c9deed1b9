/*
 * fuzz_address.c - libFuzzer target: addresses from outside (lib/
 * address.c): a mailbox with a display name, a bare addr-spec, the domain
 * and loopback helpers. A normalised address must fit its bound and be
 * parsed back to itself.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	char spec[ADDRESS_MAX + 1], again[ADDRESS_MAX + 1], err[ADDRESS_ERR_MAX];
	struct address a;

	memset(&a, 0, sizeof(a));
	if (address_parse(s, &a, err, sizeof(err)) == 0) {
		if (strlen(a.addr) > ADDRESS_MAX)
			abort();
		(void)address_domain(a.addr);
		address_free(&a);
	}
	if (address_parse_spec(s, spec, err, sizeof(err)) == 0) {
		if (strlen(spec) > ADDRESS_MAX)
			abort();
		if (address_parse_spec(spec, again, err, sizeof(err)) != 0 || strcmp(spec, again) != 0)
			abort();
		(void)address_domain(spec);
	}
	(void)address_domain(s);
	(void)address_host_is_loopback(s);
	free(s);
	return 0;
}
