/*
 * subaddr.c - builds the sub-addresses of a list and bounds their length
 * (see subaddr.h). The tables below name every suffix parley writes; a
 * new one is added here, or the config loader's bound would lie. Never
 * writes a local part over 64 octets.
 */
#include "autoconf.h"

#include "subaddr.h"

#include <stdio.h>
#include <string.h>

#include "token.h"

/* The suffixes that take a token, with the kind of their token. */
static const struct {
	const char *what;
	char kind;
} token_suffixes[] = {
	{"r", TOKEN_REPLY},	   {"bounce", TOKEN_BOUNCE},  {"unsubscribe", TOKEN_UNSUBSCRIBE},
	{"confirm", TOKEN_PUBLISH}, {"confirm", TOKEN_REQUEST}, {"follow", TOKEN_FOLLOW},
	{"mute", TOKEN_MUTE},	   {"p", TOKEN_PRIVATE},      {"approve", TOKEN_APPROVE},
	{"reject", TOKEN_REJECT},
};

/* The suffixes that are whole words. */
static const char *const word_suffixes[] = {
	"post",	    "subscribe",  "unsubscribe", "help",	  "owner",
	"set-all",  "set-posts",  "set-digest",  "set-nomail", "set-digest-plain",
};

/* put: N bytes of S at OUT[*K], if they fit in LEN (with a NUL after). */
static int put(char *out, size_t len, size_t *k, const char *s, size_t n)
{
	if (*k + n >= len)
		return -1;
	memcpy(out + *k, s, n);
	*k += n;
	return 0;
}

int subaddr_make(char *out, size_t outlen, const char *list_addr, char delim, const char *what,
		 const char *token)
{
	const char *at = strrchr(list_addr, '@');
	size_t local = at ? (size_t)(at - list_addr) : strlen(list_addr);
	size_t suffix = what ? 1 + strlen(what) + (token ? 1 + strlen(token) : 0) : 0;
	char d = delim ? delim : '+';
	size_t k = 0;

	/* by hand, not snprintf: six of these for every copy sent */
	if (local + suffix > ADDRESS_LOCAL_MAX || outlen == 0)
		return -1;
	if (what == NULL) {
		if (put(out, outlen, &k, list_addr, strlen(list_addr)) < 0)
			return -1;
	} else if (put(out, outlen, &k, list_addr, local) < 0 || put(out, outlen, &k, &d, 1) < 0 ||
		   put(out, outlen, &k, what, strlen(what)) < 0 ||
		   (token && (put(out, outlen, &k, "-", 1) < 0 ||
			      put(out, outlen, &k, token, strlen(token)) < 0)) ||
		   (at && put(out, outlen, &k, at, strlen(at)) < 0)) {
		return -1;
	}
	out[k] = '\0';
	return k > 0 && k <= ADDRESS_MAX ? 0 : -1;
}

int subaddr_list(char *out, size_t outlen, const struct config *cfg, const struct cfg_list *l,
		 const char *what, const char *token)
{
	return subaddr_make(out, outlen, l->address, cfg->daemon.delimiter, what, token);
}

size_t subaddr_longest(size_t local_len, const char **what)
{
	size_t best = 0, i, n;

	*what = "";
	for (i = 0; i < sizeof(word_suffixes) / sizeof(word_suffixes[0]); i++) {
		n = 1 + strlen(word_suffixes[i]);
		if (n > best) {
			best = n;
			*what = word_suffixes[i];
		}
	}
	for (i = 0; i < sizeof(token_suffixes) / sizeof(token_suffixes[0]); i++) {
		n = 1 + strlen(token_suffixes[i].what) + 1 + token_max_len(token_suffixes[i].kind);
		if (n > best) {
			best = n;
			*what = token_suffixes[i].what;
		}
	}
	return local_len + best;
}
