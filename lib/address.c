/*
 * address.c - e-mail address parsing and normalisation (see address.h).
 *
 * libetpan's mailimf parser decides the structure; this file then checks the
 * raw addr-spec against RFC 5321's Mailbox grammar and sizes. It never
 * accepts CR, LF, NUL or other controls, which would let an address smuggle
 * commands into an SMTP session later.
 */
#include "autoconf.h"

#include "address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

#include "utf8.h"
#include "xalloc.h"

#define ADDRESS_INPUT_MAX 998	/* one RFC 5322 line */
#define ADDRESS_NAME_MAX 256

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

static int is_atext(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5321 Local-part: Dot-string / Quoted-string. */
static int local_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > ADDRESS_LOCAL_MAX)
		return 0;
	if (s[0] == '"') {
		if (n < 2 || s[n - 1] != '"')
			return 0;
		for (i = 1; i < n - 1; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\') {
				i++;
				if (i >= n - 1 || s[i] < 32 || s[i] > 126)
					return 0;
			} else if (c < 32 || c > 126 || c == '"') {
				return 0;
			}
		}
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (i == 0 || i == n - 1 || s[i - 1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/* RFC 5321 Domain with at least two labels, or an address literal. */
static int domain_ok(const char *s, size_t n, char *err, size_t errlen)
{
	size_t i, label = 0, labels = 1;

	if (n == 0)
		return fail(err, errlen, "missing domain");
	if (s[0] == '[') {
		char lit[64];
		unsigned char buf[16];
		if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(lit))
			return fail(err, errlen, "bad address literal");
		memcpy(lit, s + 1, n - 2);
		lit[n - 2] = '\0';
		if (strncasecmp(lit, "IPv6:", 5) == 0 && inet_pton(AF_INET6, lit + 5, buf) == 1)
			return 0;
		if (inet_pton(AF_INET, lit, buf) == 1)
			return 0;
		return fail(err, errlen, "bad address literal");
	}
	if (n > 253)
		return fail(err, errlen, "domain too long");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return fail(err, errlen, "empty or malformed domain label");
			label = 0;
			labels++;
		} else if (isalnum(c) || c == '-') {
			if (label == 0 && c == '-')
				return fail(err, errlen, "domain label starts with '-'");
			if (++label > 63)
				return fail(err, errlen, "domain label longer than 63");
		} else if (c >= 0x80) {
			return fail(err, errlen, "non-ASCII domain (use its xn-- form)");
		} else {
			return fail(err, errlen, "invalid character in domain");
		}
	}
	if (label == 0 || s[n - 1] == '-')
		return fail(err, errlen, "empty or malformed domain label");
	if (labels < 2)
		return fail(err, errlen, "domain has no dot");
	return 0;
}

/* Validate the raw addr-spec S[0..n) and write it normalised into OUT. */
static int spec_check(const char *s, size_t n, char out[ADDRESS_MAX + 1], char *err,
		      size_t errlen)
{
	const char *at = NULL;
	size_t i, local_len;

	if (n == 0)
		return fail(err, errlen, "empty address");
	if (n > ADDRESS_MAX)
		return fail(err, errlen, "address longer than 254 characters");
	/* The last '@' outside a quoted local part separates the domain. */
	for (i = n; i > 0; i--) {
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}
	}
	if (at == NULL)
		return fail(err, errlen, "no '@' in address");
	local_len = (size_t)(at - s);
	if (local_len == 0)
		return fail(err, errlen, "missing local part before '@'");
	for (i = 0; i < local_len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return fail(err, errlen, "non-ASCII local part (SMTPUTF8) is not supported");
	if (!local_ok(s, local_len))
		return fail(err, errlen, local_len > ADDRESS_LOCAL_MAX
						 ? "local part longer than 64 characters"
						 : "invalid local part");
	if (domain_ok(at + 1, n - local_len - 1, err, errlen) < 0)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	for (i = local_len + 1; i < n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

static int input_check(const char *in, char *err, size_t errlen)
{
	const unsigned char *p;

	if (strlen(in) > ADDRESS_INPUT_MAX)
		return fail(err, errlen, "too long");
	for (p = (const unsigned char *)in; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return fail(err, errlen, "control character in address");
	return 0;
}

/* Trimmed bounds of IN. */
static void trim(const char *in, const char **start, size_t *len)
{
	const char *s = in, *e = in + strlen(in);

	while (*s == ' ' || *s == '\t')
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*start = s;
	*len = (size_t)(e - s);
}

int address_parse_spec(const char *in, char out[ADDRESS_MAX + 1], char *err, size_t errlen)
{
	const char *s;
	size_t n;

	if (input_check(in, err, errlen) < 0)
		return -1;
	trim(in, &s, &n);
	if (n > 0 && (s[0] == '<' || s[n - 1] == '>'))
		return fail(err, errlen, "expected a bare address without <>");
	return spec_check(s, n, out, err, errlen);
}

/* has_c1: 1 if the valid UTF-8 string S holds a C1 control (U+0080-U+009F). */
static int has_c1(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)s[0] == 0xc2 && (unsigned char)s[1] >= 0x80 &&
		    (unsigned char)s[1] <= 0x9f)
			return 1;
	return 0;
}

/* Decode a display name (RFC 2047 words to UTF-8); NULL on failure. */
static char *name_decode(const char *raw, char *err, size_t errlen)
{
	size_t idx = 0;
	char *dec = NULL, *name;

	if (mailmime_encoded_phrase_parse("utf-8", raw, strlen(raw), &idx, "utf-8", &dec) !=
		    MAILIMF_NO_ERROR ||
	    dec == NULL) {
		fail(err, errlen, "undecodable display name");
		return NULL;
	}
	name = xstrdup(dec);
	free(dec);
	if (!utf8_valid(name, strlen(name)) || utf8_has_controls(name) || has_c1(name)) {
		free(name);
		fail(err, errlen, "display name is not valid UTF-8 text");
		return NULL;
	}
	if (strlen(name) > ADDRESS_NAME_MAX) {
		free(name);
		fail(err, errlen, "display name longer than 256 bytes");
		return NULL;
	}
	return name;
}

int address_parse(const char *in, struct address *out, char *err, size_t errlen)
{
	struct mailimf_mailbox *mb = NULL;
	const char *s, *lt;
	size_t n, idx = 0;
	char spec[ADDRESS_MAX + 1];
	char *name = NULL;
	int r;

	if (input_check(in, err, errlen) < 0)
		return -1;
	trim(in, &s, &n);
	if (n == 0)
		return fail(err, errlen, "empty address");
	r = mailimf_mailbox_parse(s, n, &idx, &mb);
	if (r != MAILIMF_NO_ERROR)
		return fail(err, errlen, "not an address");
	if (idx != n) {
		mailimf_mailbox_free(mb);
		return fail(err, errlen, "unexpected text after the address");
	}
	/* Check the raw addr-spec, not mailimf's rewrite of obsolete forms. */
	lt = memrchr(s, '<', n);
	if (lt != NULL && s[n - 1] == '>') {
		r = spec_check(lt + 1, (size_t)(s + n - 1 - (lt + 1)), spec, err, errlen);
		if (r == 0 && mb->mb_display_name != NULL && mb->mb_display_name[0] != '\0') {
			name = name_decode(mb->mb_display_name, err, errlen);
			if (name == NULL)
				r = -1;
		}
	} else {
		r = spec_check(s, n, spec, err, errlen);
		if (r < 0 && (memchr(s, ' ', n) != NULL || memchr(s, '\t', n) != NULL))
			fail(err, errlen, "spaces in address");
	}
	mailimf_mailbox_free(mb);
	if (r < 0)
		return -1;
	memcpy(out->addr, spec, sizeof(spec));
	out->name = name;
	return 0;
}

void address_free(struct address *a)
{
	free(a->name);
	a->name = NULL;
}

const char *address_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : addr + strlen(addr);
}

int address_host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}
