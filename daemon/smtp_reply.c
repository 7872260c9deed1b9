/*
 * smtp_reply.c - reading an SMTP reply line by line (see smtp_reply.h).
 *
 * It must never accept a line that is not "DDD", "DDD text" or "DDD-text"
 * with the reply's code, never let a reply grow past its bounds, and never
 * keep a byte of the relay's text that is not printable UTF-8.
 */
#include "autoconf.h"

#include "smtp_reply.h"

#include <string.h>

#include "mailfmt.h"

void smtp_reply_begin(struct smtp_reply_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void smtp_reply_clean(char *out, size_t outlen, const char *in, size_t len)
{
	size_t n = strnlen(out, outlen), i = 0;

	if (outlen == 0)
		return;
	if (n >= outlen)
		n = outlen - 1;
	while (i < len && n + 1 < outlen) {
		unsigned char ch = (unsigned char)in[i];
		size_t cl = mailfmt_utf8_len(in + i, len - i);
		if (ch == '\n' && i + 1 < len && n + 3 < outlen) {
			out[n++] = ';';
			out[n++] = ' ';
		} else if (ch == '\r' || ch == '\n') {
			/* dropped */
		} else if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && cl == 1) ||
			   (ch == 0xc2 && i + 1 < len && (unsigned char)in[i + 1] <= 0x9f)) {
			out[n++] = '?';
		} else if (n + cl < outlen) {
			memcpy(out + n, in + i, cl);
			n += cl;
		} else {
			break;
		}
		i += cl;
	}
	out[n] = '\0';
}

/* code_of: the reply code at the start of LINE (3 digits, 2xx to 5xx, second
 * digit 0 to 5), or 0. */
static int code_of(const char *line, size_t len)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
	    line[2] < '0' || line[2] > '9')
		return 0;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

int smtp_reply_line(struct smtp_reply_reader *r, const char *line, size_t len, const char **why)
{
	int code = code_of(line, len), last;

	if (code == 0) {
		*why = "a reply line that does not begin with a reply code";
		return -1;
	}
	if (len > 3 && line[3] != ' ' && line[3] != '-') {
		*why = "a reply code not followed by a space or '-'";
		return -1;
	}
	if (r->lines > 0 && code != r->code) {
		*why = "a multi-line reply whose lines have different codes";
		return -1;
	}
	if (len > SMTP_REPLY_LINE_MAX) {
		*why = "a reply line over 16 KB";
		return -1;
	}
	if (r->bytes + len > SMTP_REPLY_MAX) {
		*why = "a reply over 64 KB";
		return -1;
	}
	last = len == 3 || line[3] == ' ';
	r->code = code;
	r->bytes += len;
	if (len > 4) {
		size_t n = strlen(r->text);
		if (r->lines > 0 && n > 0 && n + 3 < sizeof(r->text))
			memcpy(r->text + n, "; ", 3);
		smtp_reply_clean(r->text, sizeof(r->text), line + 4, len - 4);
	}
	r->lines++;
	return last;
}
