/*
 * fuzz_authres.c - libFuzzer target: author proof from Authentication-
 * Results (RFC 8601) as lib/authres.c judges it. The first input line is
 * the author's address, the rest a raw header section (our Received, the
 * border's, Authentication-Results, DKIM-Signature fields...); the methods
 * allowed are chosen by the input's length, so that every PROOF_* mix is
 * reached. It must never crash, read past the input, or leak.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "config.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strv trusted = {NULL, 0};
	char *s = fuzz_str(data, size), *nl, how[256];
	int proof = (int)(size % 8);

	if ((nl = strchr(s, '\n')) == NULL) {
		free(s);
		return 0;
	}
	*nl = '\0';
	strv_push(&trusted, "mx.example.org");
	strv_push(&trusted, "lists.example.org");
	(void)authres_proves(nl + 1, strlen(nl + 1), &trusted, s, proof, how, sizeof(how));
	strv_free(&trusted);
	free(s);
	return 0;
}
