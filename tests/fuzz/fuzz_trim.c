/*
 * fuzz_trim.c - libFuzzer target: the quote trimmer (lib/trim.c) on any
 * text or HTML reply. The first byte picks plain text or HTML; the rest is
 * given exactly as long as it is (a read past it is caught). Results must
 * be UTF-8 and never NULL.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "trim.h"
#include "utf8.h"

static void check(const struct trim_result *r)
{
	if (r->trimmed == NULL || r->elided == NULL ||
	    !utf8_valid(r->trimmed, strlen(r->trimmed)) || !utf8_valid(r->elided, strlen(r->elided)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trim_result r;
	const char *in = (const char *)data + 1;
	char *t;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (trim_html(in, size - 1, &r) == 0) {
			check(&r);
			trim_result_free(&r);
		}
		t = trim_html_to_text(in, size - 1);
		free(t);
	} else if (trim_text(in, size - 1, &r) == 0) {
		check(&r);
		trim_result_free(&r);
	}
	return 0;
}
