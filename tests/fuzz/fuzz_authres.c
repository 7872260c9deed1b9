/*
 * fuzz_authres.c - libFuzzer target: Authentication-Results values (RFC
 * 8601) as daemon/classify.c judges them for author proof. Each input line
 * is one header value; the first line is the From address.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "../../daemon/classify.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strv ar = {NULL, 0}, trusted = {NULL, 0};
	char *s = fuzz_str(data, size), *from = s, *p, *nl;

	if ((nl = strchr(s, '\n')) == NULL) {
		free(s);
		return 0;
	}
	*nl = '\0';
	for (p = nl + 1; *p;) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		strv_push(&ar, p);
		if (!nl)
			break;
		p = nl + 1;
	}
	strv_push(&trusted, "mx.example.org");
	strv_push(&trusted, "lists.example.org");
	(void)classify_auth_proves(&ar, &trusted, from);
	strv_free(&ar);
	strv_free(&trusted);
	free(s);
	return 0;
}
