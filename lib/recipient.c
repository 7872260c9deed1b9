/*
 * recipient.c - maps an address to a list and a purpose (see recipient.h).
 * Local parts compare case-insensitively, as every MTA in front of us does,
 * except an author's secret, which compares exactly and in constant time. Never accepts an address
 * that merely resembles one of ours.
 */
#include "autoconf.h"

#include "recipient.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

static const char *const kind_names[] = {"list",    "post",  "reply",     "bounce",
					 "confirm", "follow", "mute",     "subscribe",
					 "unsubscribe", "help", "owner",  "private",
					 "approve",	"reject", "set"};

/* Suffixes that take a token: "r-TOKEN" and so on. */
static const struct {
	const char *prefix;
	enum rcpt_kind kind;
} token_kinds[] = {{"r-", RCPT_REPLY},	     {"bounce-", RCPT_BOUNCE}, {"confirm-", RCPT_CONFIRM},
		   {"follow-", RCPT_FOLLOW}, {"mute-", RCPT_MUTE},	   {"p-", RCPT_PRIVATE},
		   {"approve-", RCPT_APPROVE}, {"reject-", RCPT_REJECT},
		   {"unsubscribe-", RCPT_UNSUBSCRIBE}};	/* List-Unsubscribe's personal mailto */

/* Suffixes that are whole words. */
static const struct {
	const char *word;
	enum rcpt_kind kind;
} word_kinds[] = {{"post", RCPT_POST},		   {"subscribe", RCPT_SUBSCRIBE},
		  {"unsubscribe", RCPT_UNSUBSCRIBE}, {"help", RCPT_HELP},
		  {"owner", RCPT_OWNER}};

/* The modes of L+set-MODE@ (design §2). */
static const char *const set_modes[] = {"all", "posts", "digest", "nomail"};

const char *recipient_kind_name(enum rcpt_kind k)
{
	return kind_names[k];
}

/* Tokens are base32 (RFC 4648 alphabet, any case) and may carry '.' or '-'
 * separators between parts. */
static int token_ok(const char *t, size_t n)
{
	size_t i;

	if (n < 8 || n > RECIPIENT_TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		int c = tolower((unsigned char)t[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7') || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* Secrets compare exactly, as parley.conf(5) says (a secret that matched in
 * any case would lose a bit of entropy per letter), and in constant time,
 * looking at every author whatever matches. The "post-" before it and the
 * list's local part and domain compare without regard to case. */
static const struct cfg_author *author_by_secret(const struct cfg_list *l, const char *s, size_t n)
{
	const struct cfg_author *found = NULL;
	size_t i;

	if (n > RECIPIENT_TOKEN_MAX)
		return NULL;
	for (i = 0; i < l->nauthors; i++) {
		const char *secret = l->authors[i].secret;
		if (secret == NULL || strlen(secret) != n)
			continue;
		if (CRYPTO_memcmp(secret, s, n) == 0)
			found = &l->authors[i];
	}
	return found;
}

static int suffix_resolve(const struct cfg_list *l, const char *s, size_t n,
			  struct rcpt_target *out)
{
	size_t i, p;

	for (i = 0; i < sizeof(word_kinds) / sizeof(word_kinds[0]); i++) {
		if (strlen(word_kinds[i].word) == n && strncasecmp(s, word_kinds[i].word, n) == 0) {
			out->kind = word_kinds[i].kind;
			return 0;
		}
	}
	if (n > 4 && strncasecmp(s, "set-", 4) == 0) {
		for (i = 0; i < sizeof(set_modes) / sizeof(set_modes[0]); i++) {
			if (strlen(set_modes[i]) == n - 4 && strncasecmp(s + 4, set_modes[i], n - 4) == 0) {
				out->kind = RCPT_SET;
				snprintf(out->token, sizeof(out->token), "%s", set_modes[i]);
				return 0;
			}
		}
		return -1;
	}
	if (n > 5 && strncasecmp(s, "post-", 5) == 0) {
		out->author = author_by_secret(l, s + 5, n - 5);
		out->kind = RCPT_POST;
		return out->author != NULL ? 0 : -1;
	}
	for (i = 0; i < sizeof(token_kinds) / sizeof(token_kinds[0]); i++) {
		p = strlen(token_kinds[i].prefix);
		if (n > p && strncasecmp(s, token_kinds[i].prefix, p) == 0 && token_ok(s + p, n - p)) {
			out->kind = token_kinds[i].kind;
			memcpy(out->token, s + p, n - p);
			out->token[n - p] = '\0';
			return 0;
		}
	}
	return -1;
}

int recipient_resolve(const struct config *cfg, const char *addr, struct rcpt_target *out)
{
	const char *at = strrchr(addr, '@');
	size_t local_len, i;

	if (at == NULL)
		return -1;
	local_len = (size_t)(at - addr);
	for (i = 0; i < cfg->nlists; i++) {
		const struct cfg_list *l = &cfg->lists[i];
		const char *lat = strrchr(l->address, '@');
		size_t llen = (size_t)(lat - l->address);
		if (strcasecmp(at, lat) != 0 || local_len < llen ||
		    strncasecmp(addr, l->address, llen) != 0)
			continue;
		memset(out, 0, sizeof(*out));
		out->list = l;
		if (local_len == llen) {
			out->kind = RCPT_LIST;
			return 0;
		}
		if (addr[llen] != cfg->daemon.delimiter)
			continue;
		return suffix_resolve(l, addr + llen + 1, local_len - llen - 1, out);
	}
	return -1;
}

char *recipient_log_form(const struct config *cfg, const char *addr, char *out, size_t len)
{
	struct rcpt_target t;
	const char *at, *lat;
	int secret;

	snprintf(out, len, "%s", addr);
	if (recipient_resolve(cfg, addr, &t) < 0)
		return out;
	secret = t.kind == RCPT_POST && t.author != NULL;
	if (!secret && (t.token[0] == '\0' || t.kind == RCPT_SET))
		return out;
	at = strrchr(addr, '@');
	lat = strrchr(t.list->address, '@');
	snprintf(out, len, "%.*s%c%s-*%s", (int)(lat - t.list->address), t.list->address,
		 cfg->daemon.delimiter, kind_names[t.kind], at);
	return out;
}
