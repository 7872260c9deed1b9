/*
 * dsn_check.h - the promises of dsn.h checked on one report, shared by
 * tests/unit/test_dsn.c and tests/fuzz/fuzz_dsn.c. Test code only: a
 * header of static functions, no state.
 *
 * dsn_check_report(R) returns NULL when R keeps every promise, else a
 * static string naming the first one broken:
 *   - n at most DSN_RCPT_MAX, truncated only when n is, kind and form in
 *     range, NONE together, a NONE report all empty;
 *   - every string NUL-terminated inside its array, printable UTF-8 (no
 *     C0, DEL, C1 or bidirectional controls);
 *   - every recipient: an address with one '@' (no blanks), no address
 *     twice, an action other than NONE, a class that agrees with it (HARD
 *     or SOFT iff FAILED, SOFT for DELAYED, NONE otherwise), a status that
 *     is "" or an RFC 3463 code of class 2, 4 or 5;
 *   - the kind agrees with the recipients: COMPLAINT with only complaint
 *     recipients (form ARF or SES), FAILED iff one failed, DELAYED iff none
 *     failed and one was delayed, DELIVERED iff all were delivered;
 *   - orig_message_id "" or "<...>".
 */
#ifndef PARLEY_DSN_CHECK_H
#define PARLEY_DSN_CHECK_H

#include <string.h>
#include <strings.h>

#include "dsn.h"
#include "utf8.h"

/* dsn_check_text: 1 if S (SIZE bytes) holds a NUL and before it printable UTF-8. */
static int dsn_check_text(const char *s, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *nul = memchr(s, '\0', size);
	size_t n, i;

	if (nul == NULL)
		return 0;
	n = (size_t)(nul - s);
	if (!utf8_valid(s, n))
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return 0; /* C1 */
		if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x80 && p[i + 2] >= 0xaa &&
		    p[i + 2] <= 0xae)
			return 0; /* U+202A-U+202E */
		if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x81 && p[i + 2] >= 0xa6 &&
		    p[i + 2] <= 0xa9)
			return 0; /* U+2066-U+2069 */
	}
	return 1;
}

/* dsn_check_status: 1 if S is "" or DIGIT "." 1*3DIGIT "." 1*3DIGIT, class 2, 4 or 5. */
static int dsn_check_status(const char *s)
{
	size_t i = 2, k, part;

	if (s[0] == '\0')
		return 1;
	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (k = 0; s[i] >= '0' && s[i] <= '9'; i++, k++)
			;
		if (k < 1 || k > 3 || s[i] != (part == 0 ? '.' : '\0'))
			return 0;
		i++;
	}
	return 1;
}

static const char *dsn_check_rcpt(const struct dsn_rcpt *p)
{
	const char *at;

	if (!dsn_check_text(p->addr, sizeof(p->addr)) ||
	    !dsn_check_text(p->status, sizeof(p->status)) ||
	    !dsn_check_text(p->diag, sizeof(p->diag)))
		return "a recipient string is not NUL-terminated printable UTF-8";
	/* a quoted local part may hold spaces ("a  b"@example.org, as
	 * address_parse_spec keeps it; found by fuzz_dsn); nothing else may */
	at = p->addr;
	if (at[0] == '"') {
		for (at++; *at && *at != '"'; at++)
			if (*at == '\\' && at[1] != '\0')
				at++;
		if (*at != '"')
			return "a recipient address has an unclosed quoted local part";
	}
	if (strchr(at, ' ') != NULL)
		return "a recipient address is not an address";
	at = strrchr(p->addr, '@');
	if (at == NULL || at == p->addr || at[1] == '\0')
		return "a recipient address is not an address";
	if (!dsn_check_status(p->status))
		return "a status is not an enhanced status code";
	switch (p->action) {
	case DSN_FAILED:
		if (p->cls != DSN_HARD && p->cls != DSN_SOFT)
			return "a failed recipient has no class";
		break;
	case DSN_DELAYED:
		if (p->cls != DSN_SOFT)
			return "a delayed recipient is not soft";
		break;
	case DSN_DELIVERED:
	case DSN_COMPLAINT:
		if (p->cls != DSN_CLASS_NONE)
			return "a delivered or complaining recipient has a class";
		break;
	default:
		return "a recipient's action is out of range";
	}
	return NULL;
}

static const char *dsn_check_report(const struct dsn_report *r)
{
	int failed = 0, delayed = 0, delivered = 0, complaint = 0;
	const char *why;
	size_t i, j;

	if (r->n > DSN_RCPT_MAX)
		return "n above DSN_RCPT_MAX";
	if (r->truncated && r->n != DSN_RCPT_MAX)
		return "truncated without a full report";
	if ((unsigned)r->kind > DSN_COMPLAINT || (unsigned)r->form > DSN_FORM_SES)
		return "kind or form out of range";
	if ((r->kind == DSN_NONE) != (r->form == DSN_FORM_NONE))
		return "kind and form disagree on NONE";
	if (!dsn_check_text(r->feedback_type, sizeof(r->feedback_type)) ||
	    !dsn_check_text(r->orig_message_id, sizeof(r->orig_message_id)) ||
	    !dsn_check_text(r->reporting_mta, sizeof(r->reporting_mta)))
		return "a report string is not NUL-terminated printable UTF-8";
	if (r->orig_message_id[0] != '\0' &&
	    (r->orig_message_id[0] != '<' ||
	     r->orig_message_id[strlen(r->orig_message_id) - 1] != '>'))
		return "orig_message_id is not <...>";
	if (r->kind == DSN_NONE && (r->n != 0 || r->truncated || r->feedback_type[0] != '\0' ||
				    r->orig_message_id[0] != '\0' || r->reporting_mta[0] != '\0'))
		return "a NONE report is not empty";
	for (i = 0; i < r->n; i++) {
		if ((why = dsn_check_rcpt(&r->rcpt[i])) != NULL)
			return why;
		for (j = 0; j < i; j++)
			if (strcasecmp(r->rcpt[i].addr, r->rcpt[j].addr) == 0)
				return "an address is listed twice";
		failed += r->rcpt[i].action == DSN_FAILED;
		delayed += r->rcpt[i].action == DSN_DELAYED;
		delivered += r->rcpt[i].action == DSN_DELIVERED;
		complaint += r->rcpt[i].action == DSN_COMPLAINT;
	}
	if (r->kind == DSN_COMPLAINT)
		return (size_t)complaint != r->n ? "a complaint lists other recipients"
		       : r->form != DSN_FORM_ARF && r->form != DSN_FORM_SES
			   ? "a complaint not read as ARF or SES"
			   : NULL;
	if (complaint > 0)
		return "a complaining recipient outside a complaint";
	if ((r->kind == DSN_FAILED) != (failed > 0))
		return "kind FAILED disagrees with the recipients";
	if ((r->kind == DSN_DELAYED) != (failed == 0 && delayed > 0))
		return "kind DELAYED disagrees with the recipients";
	if ((r->kind == DSN_DELIVERED) != (r->n > 0 && (size_t)delivered == r->n))
		return "kind DELIVERED disagrees with the recipients";
	return NULL;
}

#endif
