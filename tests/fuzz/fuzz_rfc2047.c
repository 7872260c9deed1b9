/*
 * fuzz_rfc2047.c - libFuzzer target: RFC 2047 encoded words, as parley
 * decodes them: the input is the value of Subject (unstructured text) and
 * of From (a display name) of an otherwise plain message, parsed by
 * lib/message.c and lib/address.c. Every decoded string must be UTF-8.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "mailfmt.h"
#include "message.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbuf b = {0};
	struct message m;
	struct address a;
	char err[200];
	char *s;

	/* one header value: no line break of its own */
	if (memchr(data, '\n', size) != NULL || memchr(data, '\r', size) != NULL)
		return 0;
	mbuf_str(&b, "Subject: ");
	mbuf_add(&b, data, size);
	mbuf_str(&b, "\r\nFrom: ");
	mbuf_add(&b, data, size);
	mbuf_str(&b, " <a@example.org>\r\n\r\nbody\r\n");
	if (message_parse(b.p, b.n, 100, &m, err, sizeof(err)) == 0) {
		if ((m.subject && !utf8_valid(m.subject, strlen(m.subject))) ||
		    (m.from_name && !utf8_valid(m.from_name, strlen(m.from_name))))
			abort();
		message_free(&m);
	}
	mbuf_free(&b);

	s = fuzz_str(data, size);
	memset(&a, 0, sizeof(a));
	if (strlen(s) == size && address_parse(s, &a, err, sizeof(err)) == 0) {
		if (a.name && !utf8_valid(a.name, strlen(a.name)))
			abort();
		address_free(&a);
	}
	free(s);
	return 0;
}
