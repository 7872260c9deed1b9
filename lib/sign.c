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
#include <strings.h>

#include "authres.h"
#include "dkim.h"
#include "mailfmt.h"
#include "xalloc.h"

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

/* ---- the ARC chain the message came with ---- */

#define ARC_FIELDS_MAX (3 * DKIM_ARC_MAX)

struct arc_field {
	const char *p;
	size_t len;
	int instance;
	int kind;	/* 0 AAR, 1 AMS, 2 AS: their order in a set */
};

/* arc_kind: the kind of the field named P[0..N), or -1 if it is no ARC field. */
static int arc_kind(const char *p, size_t n)
{
	static const char *const names[] = {"ARC-Authentication-Results", "ARC-Message-Signature",
					    "ARC-Seal"};

	for (int k = 0; k < 3; k++)
		if (strlen(names[k]) == n && strncasecmp(p, names[k], n) == 0)
			return k;
	return -1;
}

/* arc_instance: the i= that begins the value at P[0..N) ("i=2;"), or -1. */
static int arc_instance(const char *p, size_t n)
{
	size_t i = 0;
	int v = 0;

	while (i < n && mailfmt_is_wsp(p[i]))
		i++;
	if (i >= n || (p[i] != 'i' && p[i] != 'I'))
		return -1;
	for (i++; i < n && mailfmt_is_wsp(p[i]); i++)
		;
	if (i >= n || p[i++] != '=')
		return -1;
	while (i < n && mailfmt_is_wsp(p[i]))
		i++;
	if (i >= n || p[i] < '0' || p[i] > '9')
		return -1;
	for (; i < n && p[i] >= '0' && p[i] <= '9' && v <= DKIM_ARC_MAX; i++)
		v = v * 10 + (p[i] - '0');
	while (i < n && mailfmt_is_wsp(p[i]))
		i++;
	return i < n && p[i] == ';' && v >= 1 && v <= DKIM_ARC_MAX ? v : -1;
}

/* arc_fields: the ARC fields of the header of IN[0..LEN) into F (at most
 * ARC_FIELDS_MAX); their count, or -1 if there are more. */
static int arc_fields(const char *in, size_t len, struct arc_field *f)
{
	size_t i = 0;
	int n = 0;

	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i), *colon;
		size_t start = i, end;
		int kind;
		if (in[i] == '\r' || in[i] == '\n')
			break;	/* the blank line */
		end = nl ? (size_t)(nl - in) + 1 : len;
		while (end < len && (in[end] == ' ' || in[end] == '\t')) {	/* continuation */
			nl = memchr(in + end, '\n', len - end);
			end = nl ? (size_t)(nl - in) + 1 : len;
		}
		i = end;
		colon = memchr(in + start, ':', end - start);
		if (colon == NULL || (kind = arc_kind(in + start, (size_t)(colon - in) - start)) < 0)
			continue;
		if (n == ARC_FIELDS_MAX)
			return -1;
		f[n].p = in + start;
		f[n].len = end - start;
		f[n].kind = kind;
		f[n].instance = arc_instance(colon + 1, end - (size_t)(colon + 1 - in));
		n++;
	}
	return n;
}

/*
 * arc_chain: the ARC sets of the message IN[0..LEN) as a whole chain into
 * PRIOR, in seal order (i=1 AAR, AMS, AS, i=2 ...; each field as it was,
 * with a CRLF after a last line that has none); the chain's length (its
 * highest instance), 0 if there is none, -1 if it is not a whole chain
 * (an instance missing, a field missing or twice, a bad i=).
 */
static int arc_chain(const char *in, size_t len, struct mbuf *prior)
{
	struct arc_field *f = xcalloc(ARC_FIELDS_MAX, sizeof(*f));
	int n = arc_fields(in, len, f), max = 0, i, k, j, rc = -1;

	for (j = 0; j < n; j++)
		if (f[j].instance > max)
			max = f[j].instance;
	if (n == 0 || (n > 0 && n == 3 * max)) {
		rc = max;
		for (i = 1; i <= max && rc > 0; i++)
			for (k = 0; k < 3 && rc > 0; k++) {
				int found = -1;
				for (j = 0; j < n; j++)
					if (f[j].instance == i && f[j].kind == k)
						found = found < 0 ? j : n;	/* twice: n */
				if (found < 0 || found == n) {
					rc = -1;
					break;
				}
				mbuf_add(prior, f[found].p, f[found].len);
				if (f[found].p[f[found].len - 1] != '\n')
					mbuf_add(prior, "\r\n", 2);
			}
	}
	free(f);
	if (rc < 0)
		prior->n = 0;
	return rc;
}

/* arc_verdict: the arc= result in the Authentication-Results value R
 * ("pass", "fail"...) into OUT, "" if it has none. */
static void arc_verdict(const char *r, char *out, size_t len)
{
	const char *p = strchr(r, ';');	/* past the authserv-id */

	out[0] = '\0';
	while (p != NULL) {
		p++;
		while (mailfmt_is_wsp(*p))
			p++;
		if (strncasecmp(p, "arc", 3) == 0) {
			const char *v = p + 3;
			while (mailfmt_is_wsp(*v))
				v++;
			if (*v == '=') {
				for (v++; mailfmt_is_wsp(*v); v++)
					;
				snprintf(out, len, "%.*s", (int)strcspn(v, " \t;("), v);
				return;
			}
		}
		p = strchr(p, ';');
	}
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

/*
 * arc_seal: the ARC set of a copy (its header HDR[0..HLEN), body hash BH)
 * of INBOUND into OUT: it continues the message's chain (instance n+1,
 * cv=pass, the chain's sets put back into the copy) when our border found
 * it valid (arc=pass in the believed Authentication-Results); otherwise,
 * with no chain, a broken one or no verdict, a new chain (i=1, cv=none):
 * the old sets stay out of the copy, as render leaves them. 0 or -1.
 */
static int arc_seal(const struct config *cfg, const struct cfg_list *list, const char *inbound,
		    size_t inlen, const char *hdr, size_t hlen, const char *bh, long long now,
		    struct mbuf *out, char *err, size_t errlen)
{
	char results[DKIM_AAR_MAX], verdict[32];
	struct mbuf prior = {0};
	struct dkim_arc arc = {1, "none", results, NULL, 0};
	int n, rc;

	arc_results(cfg, inbound, inlen, results, sizeof(results));
	arc_verdict(results, verdict, sizeof(verdict));
	n = arc_chain(inbound, inlen, &prior);
	if (n > 0 && n < DKIM_ARC_MAX && strcasecmp(verdict, "pass") == 0) {
		arc.instance = n + 1;
		arc.cv = "pass";
		arc.prior = prior.p;
		arc.prior_len = prior.n;
	}
	rc = dkim_arc_seal(list->arc_key, hdr, hlen, bh, now, &arc, out, err, errlen);
	if (rc == 0 && arc.prior != NULL)
		mbuf_add(out, prior.p, prior.n);	/* the chain goes on in the copy */
	mbuf_free(&prior);
	return rc;
}

int sign_copy(const struct config *cfg, const struct cfg_list *list, struct dkim_cache *dc,
	      const char *inbound, size_t inlen, char **msg, size_t *len, long long now, char *err,
	      size_t errlen)
{
	struct mbuf fields = {0};
	char bh[DKIM_BH_MAX];
	size_t body, i;
	long hlen;

	if (list == NULL || list->ndkim_keys == 0)
		return 0;
	if ((hlen = sign_split(*msg, *len, &body)) < 0) {
		snprintf(err, errlen, "DKIM: the copy has no header section");
		return -1;
	}
	if (dkim_body_hash_cached(dc, *msg + body, *len - body, bh) < 0) {
		snprintf(err, errlen, "DKIM: cannot hash the body");
		return -1;
	}
	if (list->arc_key != NULL && inbound != NULL &&
	    arc_seal(cfg, list, inbound, inlen, *msg, (size_t)hlen, bh, now, &fields, err,
		     errlen) < 0) {
		mbuf_free(&fields);
		return -1;
	}
	for (i = 0; i < list->ndkim_keys; i++) {
		if (dkim_sign_cached(dc, list->dkim_keys[i], *msg, (size_t)hlen, bh, now, &fields,
				     err, errlen) < 0) {
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
