/*
 * address.h - parse, validate and normalise e-mail addresses.
 *
 * The structure of the input ("Name <addr-spec>" or a bare addr-spec) is
 * parsed with libetpan's RFC 5322 mailimf parser; the addr-spec it yields is
 * then held to what SMTP can carry (RFC 5321 §4.1.2 Mailbox, §4.5.3.1 sizes),
 * because mailimf accepts obsolete forms (comments, spaces between words)
 * that no list should store. Normalisation lower-cases the domain and keeps
 * the local part as written.
 */
#ifndef PARLEY_ADDRESS_H
#define PARLEY_ADDRESS_H

#include <stddef.h>

#define ADDRESS_MAX 254		/* RFC 5321 path limit minus the brackets */
#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_ERR_MAX 160

struct address {
	char addr[ADDRESS_MAX + 1];	/* normalised addr-spec */
	char *name;			/* display name in UTF-8, or NULL; owned */
};

/*
 * address_parse: parse IN, a bare addr-spec or a mailbox with a display name
 * ("Jörg <j@example.org>", RFC 2047 words decoded to UTF-8).
 * Returns 0 and fills OUT (free with address_free), or -1 with a short reason
 * in ERR (ADDRESS_ERR_MAX bytes suffice) and OUT untouched.
 */
int address_parse(const char *in, struct address *out, char *err, size_t errlen);

/* address_parse_spec: like address_parse but IN must be a bare addr-spec;
 * writes the normalised form into OUT. */
int address_parse_spec(const char *in, char out[ADDRESS_MAX + 1], char *err,
		       size_t errlen);

void address_free(struct address *a);

/* address_host_is_loopback: 1 if HOST is "localhost", an IPv4 address in
 * 127.0.0.0/8 or ::1. */
int address_host_is_loopback(const char *host);

/* address_domain: pointer to the domain inside a normalised address. */
const char *address_domain(const char *addr);

#endif
