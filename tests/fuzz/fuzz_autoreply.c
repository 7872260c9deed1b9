/*
 * fuzz_autoreply.c - libFuzzer target: automatic-message detection (lib/
 * autoreply.c: Auto-Submitted, Precedence, X-Autoreply, bounce senders,
 * vacation subjects ...) on any header section, given exactly as long as
 * it is.
 */
#include "autoconf.h"

#include "fuzz.h"

#include "autoreply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)autoreply_why((const char *)data, size);
	return 0;
}
