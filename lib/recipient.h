/*
 * recipient.h - which of our addresses (design §2) an envelope recipient is:
 * the list itself, its post address (optionally an author's secret one), a
 * token address (r-, p-, bounce-, confirm-, follow-, mute-, approve-,
 * reject-, unsubscribe-) or a command address (subscribe, unsubscribe,
 * help, owner, set-MODE).
 *
 * Used at RCPT time, so that a recipient we do not serve is refused with 550
 * then and never bounced later, and again by ingest. Tokens are checked for
 * form only here; their HMAC is verified by the code that acts on them.
 */
#ifndef PARLEY_RECIPIENT_H
#define PARLEY_RECIPIENT_H

#include "config.h"

enum rcpt_kind {
	RCPT_LIST,
	RCPT_POST,
	RCPT_REPLY,
	RCPT_BOUNCE,
	RCPT_CONFIRM,
	RCPT_FOLLOW,
	RCPT_MUTE,
	RCPT_SUBSCRIBE,
	RCPT_UNSUBSCRIBE,
	RCPT_HELP,
	RCPT_OWNER,
	RCPT_PRIVATE,
	RCPT_APPROVE,
	RCPT_REJECT,
	RCPT_SET
};

#define RECIPIENT_TOKEN_MAX 96

struct rcpt_target {
	const struct cfg_list *list;
	enum rcpt_kind kind;
	const struct cfg_author *author;	/* RCPT_POST via an author's secret */
	char token[RECIPIENT_TOKEN_MAX + 1];	/* token kinds: the token as given;
						 * RCPT_SET: the mode */
};

/* recipient_resolve: 0 and OUT filled if ADDR (normalised or not) is one of
 * CFG's addresses, else -1. OUT points into CFG. */
int recipient_resolve(const struct config *cfg, const char *addr, struct rcpt_target *out);

const char *recipient_kind_name(enum rcpt_kind k);

/* recipient_log_form: ADDR as it may be written to the log, into OUT (LEN
 * bytes): one of our addresses that carries a token or an author's secret
 * (L+unsubscribe-TOKEN@, L+post-SECRET@, ...) loses it, and becomes
 * L+unsubscribe-*@domain (whoever reads the log must not be able to act on
 * it); any other address is copied as it is. Returns OUT. */
char *recipient_log_form(const struct config *cfg, const char *addr, char *out, size_t len);

#endif
