/*
 * fuzz_mime.c - libFuzzer target: MIME part decoding. The first byte picks
 * a transfer encoding; the body is decoded by lib/mime_decode.c straight
 * from the input buffer (so a read past its end is caught), then the same
 * bytes go through message_parse as a part with that encoding and with the
 * charset named on the input's first line, which runs the charset
 * conversion of lib/message.c.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <libetpan/libetpan.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailfmt.h"
#include "message.h"
#include "mime_decode.h"
#include "utf8.h"

static const char *const cte_name[] = {"7bit", "8bit", "binary", "quoted-printable", "base64",
				       "x-token"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbuf b = {0};
	struct message m;
	char err[200];
	const char *body, *nl;
	size_t outlen, blen, cslen;
	char *out;
	int pick;

	if (size < 1)
		return 0;
	pick = data[0] % 6;
	body = (const char *)data + 1;
	blen = size - 1;
	out = mime_decode_body(body, blen, MAILMIME_MECHANISM_7BIT + pick, &outlen);
	if (out != NULL && out[outlen] != '\0')
		abort();
	free(out);

	nl = memchr(body, '\n', blen);
	cslen = nl ? (size_t)(nl - body) : 0;
	if (cslen > 100)
		cslen = 100;
	mbuf_str(&b, "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: text/");
	mbuf_str(&b, data[0] & 0x80 ? "html" : "plain");
	mbuf_str(&b, "; charset=\"");
	mbuf_add(&b, body, cslen);
	mbuf_str(&b, "\"\r\nContent-Transfer-Encoding: ");
	mbuf_str(&b, cte_name[pick]);
	mbuf_str(&b, "\r\n\r\n");
	if (nl)
		mbuf_add(&b, nl + 1, blen - (size_t)(nl - body) - 1);
	if (message_parse(b.p, b.n, 100, &m, err, sizeof(err)) == 0) {
		if ((m.text && !utf8_valid(m.text, strlen(m.text))) ||
		    (m.html && !utf8_valid(m.html, strlen(m.html))))
			abort();
		message_free(&m);
	}
	mbuf_free(&b);
	return 0;
}
