/*
 * fuzz_http.c - libFuzzer target: one request to the one-click pages
 * (daemon/http_server.c): request line, query token, header fields,
 * Content-Length and the body, then the token looked up in a scratch store.
 */
#include "autoconf.h"

#include "fuzz.h"

#include "../../daemon/http_server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup(0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_setup(0);
	fuzz_session(http_session, 0, data, size);
	return 0;
}
