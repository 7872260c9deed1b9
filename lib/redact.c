/*
 * redact.c - secrets out of text meant for others (see redact.h).
 *
 * One pass over the input. At each byte that may begin a local part, every
 * list's local part followed by the delimiter is tried (case-insensitive),
 * then the suffix up to '@' and the list's domain; a match is written as
 * L<delim>redacted@domain. Author secrets are matched as whole words. The
 * work per input byte is bounded by the number of lists and secrets.
 *
 * Must never: keep a matched secret, scan backwards past one byte, or
 * write outside OUT's growable buffer.
 */
#include "autoconf.h"

#include "redact.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

/* is_local: a byte that may stand in a dot-atom local part (RFC 5322 atext
 * and '.'). */
static int is_local(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL) || c >= 0x80;
}

/* is_domain: a byte of a domain name. */
static int is_domain(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c >= 0x80;
}

/* sub_match: the length of a sub-address of list L at IN[0..N), or 0.
 * *LOCAL_LEN gets the length of the list's local part. */
static size_t sub_match(const char *in, size_t n, const struct cfg_list *l, char delim,
			size_t *local_len)
{
	const char *at = strchr(l->address, '@');
	size_t ll, dl, i, j;

	if (at == NULL)
		return 0;
	ll = (size_t)(at - l->address);
	dl = strlen(at + 1);
	if (ll == 0 || n < ll + 3 + dl || strncasecmp(in, l->address, ll) != 0 || in[ll] != delim)
		return 0;
	for (i = ll + 1; i < n && i < ll + 1 + 64 && in[i] != '@' && is_local((unsigned char)in[i]); i++)
		;
	if (i == ll + 1 || i >= n || in[i] != '@' || n - i - 1 < dl ||
	    strncasecmp(in + i + 1, at + 1, dl) != 0)
		return 0;
	/* a longer domain ("example.org.uk") is another's; a full stop after
	 * it ends a sentence */
	j = i + 1 + dl;
	if (j < n && is_domain((unsigned char)in[j]) &&
	    (in[j] != '.' || (j + 1 < n && isalnum((unsigned char)in[j + 1]))))
		return 0;
	*local_len = ll;
	return i + 1 + dl;
}

/* secret_match: the length of an author secret of CFG standing as a word
 * at IN[0..N), or 0. */
static size_t secret_match(const char *in, size_t n, const struct config *cfg)
{
	for (size_t i = 0; i < cfg->nlists; i++) {
		const struct cfg_list *l = &cfg->lists[i];

		for (size_t a = 0; a < l->nauthors; a++) {
			const char *s = l->authors[a].secret;
			size_t sl = s ? strlen(s) : 0;

			if (sl >= REDACT_SECRET_MIN && sl <= n && strncasecmp(in, s, sl) == 0 &&
			    (sl == n || !isalnum((unsigned char)in[sl])))
				return sl;
		}
	}
	return 0;
}

size_t redact_text(struct mbuf *out, const char *in, size_t n, const struct config *cfg)
{
	size_t i = 0, from = 0, count = 0;

	while (i < n) {
		size_t m = 0, ll = 0;
		const struct cfg_list *hit = NULL;

		if (i == 0 || !is_local((unsigned char)in[i - 1])) {
			for (size_t k = 0; k < cfg->nlists && m == 0; k++)
				if ((m = sub_match(in + i, n - i, &cfg->lists[k], cfg->daemon.delimiter,
						   &ll)) > 0)
					hit = &cfg->lists[k];
		}
		if (m > 0) {
			const char *at = strchr(hit->address, '@');

			mbuf_add(out, in + from, i - from);
			mbuf_add(out, in + i, ll + 1);		/* L<delim>, as written */
			mbuf_str(out, REDACT_WORD);
			mbuf_add(out, "@", 1);
			mbuf_add(out, in + i + m - strlen(at + 1), strlen(at + 1));
			i += m;
			from = i;
			count++;
			continue;
		}
		if ((i == 0 || !isalnum((unsigned char)in[i - 1])) &&
		    (m = secret_match(in + i, n - i, cfg)) > 0) {
			mbuf_add(out, in + from, i - from);
			mbuf_str(out, REDACT_WORD);
			i += m;
			from = i;
			count++;
			continue;
		}
		i++;
	}
	mbuf_add(out, in + from, n - from);
	return count;
}

char *redact_str(const char *s, const struct config *cfg)
{
	struct mbuf b = {0};

	redact_text(&b, s, strlen(s), cfg);
	mbuf_add(&b, "", 0);
	return b.p ? b.p : xstrdup("");
}
