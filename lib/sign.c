/*
 * sign.c - DKIM signatures on outgoing copies (see sign.h).
 *
 * The copy's bytes are what goes on the wire: the body hash is taken of the
 * bytes after the blank line, the header section up to it, and the fields
 * are put in front of a copy of the message. Must never sign a message it
 * changes afterwards, nor put out a copy whose signing failed half-way.
 */
#include "autoconf.h"

#include "sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "dkim.h"
#include "mailfmt.h"

long sign_split(const char *msg, size_t len, size_t *body)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t next = nl ? (size_t)(nl - msg) + 1 : len;
		size_t ce = next - (nl ? 1 : 0);
		if (ce > i && msg[ce - 1] == '\r')
			ce--;
		if (ce == i) {
			if (i == 0 || nl == NULL)
				return -1;
			*body = next;
			return (long)i;
		}
		i = next;
	}
	return -1;
}

/* arc_results: the ARC-Authentication-Results value of a copy of INBOUND. */
static void arc_results(const struct config *cfg, const char *inbound, size_t inlen, char *out,
			size_t len)
{
	char host[256];

	if (authres_first(inbound, inlen, &cfg->daemon.authserv_ids, out, len))
		return;
	config_hostname(cfg, host, sizeof(host));
	snprintf(out, len, "%s; none", host);
}

int sign_copy(const struct config *cfg, const struct cfg_list *list, const char *inbound,
	      size_t inlen, char **msg, size_t *len, long long now, char *err, size_t errlen)
{
	struct mbuf fields = {0};
	char bh[DKIM_BH_MAX], results[DKIM_AAR_MAX];
	size_t body, i;
	long hlen;

	if (list == NULL || list->ndkim_keys == 0)
		return 0;
	if ((hlen = sign_split(*msg, *len, &body)) < 0) {
		snprintf(err, errlen, "DKIM: the copy has no header section");
		return -1;
	}
	if (dkim_body_hash(*msg + body, *len - body, bh) < 0) {
		snprintf(err, errlen, "DKIM: cannot hash the body");
		return -1;
	}
	if (list->arc_key != NULL && inbound != NULL) {
		arc_results(cfg, inbound, inlen, results, sizeof(results));
		if (dkim_arc_seal(list->arc_key, *msg, (size_t)hlen, bh, now, results, &fields, err,
				  errlen) < 0) {
			mbuf_free(&fields);
			return -1;
		}
	}
	for (i = 0; i < list->ndkim_keys; i++) {
		if (dkim_sign(list->dkim_keys[i], *msg, (size_t)hlen, bh, now, &fields, err, errlen) <
		    0) {
			mbuf_free(&fields);
			return -1;
		}
	}
	mbuf_add(&fields, *msg, *len);
	free(*msg);
	*len = fields.n;
	*msg = fields.p;
	return 0;
}
