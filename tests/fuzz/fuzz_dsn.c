/*
 * fuzz_dsn.c - libFuzzer target: a whole message that came back to a
 * bounce address (lib/dsn.c: MIME walk, delivery-status and feedback-report
 * fields, SES JSON, the text bounces), given exactly as long as it is.
 * Checks dsn.h's promises on every report (tests/unit/dsn_check.h: bounds,
 * printable UTF-8, kind and class consistent with the recipients), and
 * that a second parse of the same bytes gives the same report (no state
 * kept between calls). Must never keep anything between inputs.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/dsn_check.h"
#include "dsn.h"

static struct dsn_report first, second;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	int rc = dsn_parse((const char *)data, size, &first);

	if (rc != 0 && rc != -1) {
		fprintf(stderr, "fuzz_dsn: dsn_parse returned %d\n", rc);
		abort();
	}
	if ((why = dsn_check_report(&first)) != NULL) {
		fprintf(stderr, "fuzz_dsn: %s\n", why);
		abort();
	}
	if (rc == -1 && first.kind != DSN_NONE) {
		fprintf(stderr, "fuzz_dsn: a refused message has a report\n");
		abort();
	}
	if (dsn_parse((const char *)data, size, &second) != rc ||
	    memcmp(&first, &second, sizeof(first)) != 0) {
		fprintf(stderr, "fuzz_dsn: a second parse differs\n");
		abort();
	}
	return 0;
}
