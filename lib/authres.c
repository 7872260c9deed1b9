/*
 * authres.c - which Authentication-Results fields are ours, and whether one
 * proves an author (see authres.h). Reads the raw header only: never trusts
 * a field below the first Received that is not ours, never takes a pass for
 * a domain as a pass for every address in it unless the author chose so.
 */
#include "autoconf.h"

#include "authres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define FIELD_MAX    8192 /* longer fields are not ours: ignored */
#define PROP_MAX     512
#define HEADER_B_MIN 8 /* RFC 6008: at least 8 characters of b= */

/* A header field, unfolded: NAME (with no colon) and its value. */
struct field {
	char name[64];
	char value[FIELD_MAX];
	int whole; /* 0 if cut at FIELD_MAX */
};

/* next_field: read the field at *OFF of RAW into F, move *OFF past it;
 * 0, or -1 at the end of the header section. */
static int next_field(const char *raw, size_t len, size_t *off, struct field *f)
{
	size_t p = *off, n = 0, v = 0;
	const char *colon;

	if (p >= len || raw[p] == '\r' || raw[p] == '\n')
		return -1;
	colon = memchr(raw + p, ':', len - p);
	if (colon == NULL)
		return -1;
	n = (size_t)(colon - (raw + p));
	snprintf(f->name, sizeof(f->name), "%.*s", (int)(n < sizeof(f->name) ? n : 0), raw + p);
	p = (size_t)(colon - raw) + 1;
	f->whole = 1;
	for (;;) {
		while (p < len && raw[p] != '\n') {
			if (raw[p] != '\r') {
				if (v + 1 < sizeof(f->value))
					f->value[v++] = raw[p] == '\t' ? ' ' : raw[p];
				else
					f->whole = 0;
			}
			p++;
		}
		if (p < len)
			p++; /* the LF */
		if (p >= len || (raw[p] != ' ' && raw[p] != '\t'))
			break;
	}
	f->value[v] = '\0';
	*off = p;
	return 0;
}

/* uncomment: remove RFC 5322 comments (nested parentheses, outside quoted
 * strings) from S, in place. */
static void uncomment(char *s)
{
	char *w = s;
	int depth = 0, quoted = 0;

	for (; *s; s++) {
		if (*s == '\\' && s[1] != '\0' && (quoted || depth)) {
			if (!depth)
				*w++ = *s, *w++ = s[1];
			s++;
		} else if (!quoted && *s == '(') {
			depth++;
		} else if (!quoted && depth && *s == ')') {
			depth--;
			if (!depth)
				*w++ = ' ';
		} else if (!depth) {
			if (*s == '"')
				quoted = !quoted;
			*w++ = *s;
		}
	}
	*w = '\0';
}

static int trusted_id(const struct strv *trusted, const char *id, size_t n)
{
	size_t i;

	for (i = 0; i < trusted->n; i++)
		if (strlen(trusted->v[i]) == n && strncasecmp(trusted->v[i], id, n) == 0)
			return 1;
	return 0;
}

/* by_host: the host after "by" in the Received value V (uncommented), in
 * *N bytes, or NULL. */
static const char *by_host(const char *v, size_t *n)
{
	const char *p;

	for (p = v; (p = strcasestr(p, "by")) != NULL; p += 2) {
		if ((p == v || p[-1] == ' ') && p[2] == ' ') {
			p += 3;
			while (*p == ' ')
				p++;
			*n = strcspn(p, " ;");
			return *n ? p : NULL;
		}
	}
	return NULL;
}

/* same_or_aligned: domain D (DN bytes) is DOMAIN, or with ALIGNED one is a
 * parent of the other (relaxed alignment, without a public-suffix list). */
static int same_or_aligned(const char *d, size_t dn, const char *domain, int aligned)
{
	size_t n = strlen(domain);

	if (dn == 0 || n == 0)
		return 0;
	if (dn == n)
		return strncasecmp(d, domain, n) == 0;
	if (!aligned)
		return 0;
	if (dn < n)
		return domain[n - dn - 1] == '.' && strncasecmp(d, domain + n - dn, dn) == 0;
	return d[dn - n - 1] == '.' && strncasecmp(d + dn - n, domain, n) == 0;
}

/* prop: the value of property NAME ("header.d") in the result clause C,
 * unquoted, into OUT; 1 if present, 0 if not. */
static int prop(const char *c, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name), len;
	const char *p, *v;

	for (p = c; (p = strcasestr(p, name)) != NULL; p += n) {
		if ((p != c && p[-1] != ' ') || p[n] != '=')
			continue;
		v = p + n + 1;
		if (*v == '"') {
			const char *e = strchr(v + 1, '"');
			len = e ? (size_t)(e - v - 1) : strlen(v + 1);
			v++;
		} else {
			len = strcspn(v, " ");
		}
		snprintf(out, outlen, "%.*s", (int)(len < outlen ? len : outlen - 1), v);
		return 1;
	}
	return 0;
}

/* tag: the value of tag NAME in the DKIM-Signature value SIG (RFC 6376
 * 3.2), with white space removed, into OUT; 1 if present, 0 if not. */
static int tag(const char *sig, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name), o = 0;
	const char *p = sig;

	while (*p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncasecmp(p, name, n) == 0) {
			const char *q = p + n;
			while (*q == ' ')
				q++;
			if (*q == '=') {
				for (q++; *q && *q != ';'; q++)
					if (*q != ' ' && o + 1 < outlen)
						out[o++] = *q;
				out[o] = '\0';
				return 1;
			}
		}
		p += strcspn(p, ";");
	}
	return 0;
}

/* signature_present: a DKIM-Signature field of RAW has d= D and a b= that
 * begins with B. */
static int signature_present(const char *raw, size_t len, const char *d, const char *b)
{
	char sd[PROP_MAX], sb[FIELD_MAX];
	size_t off = 0, bn = strlen(b);
	struct field g;

	while (next_field(raw, len, &off, &g) == 0) {
		if (strcasecmp(g.name, "DKIM-Signature") != 0 || !g.whole)
			continue;
		if (tag(g.value, "d", sd, sizeof(sd)) && strcasecmp(sd, d) == 0 &&
		    tag(g.value, "b", sb, sizeof(sb)) && strncmp(sb, b, bn) == 0)
			return 1;
	}
	return 0;
}

/* dkim_proves: the dkim=pass clause C proves AUTHOR (whose domain is
 * DOMAIN) under PROOF. */
static int dkim_proves(const char *raw, size_t len, const char *c, const char *author,
		       const char *domain, int proof)
{
	int aligned = (proof & PROOF_DKIM_ALIGNED) != 0;
	char d[PROP_MAX], i[PROP_MAX], b[PROP_MAX];

	if (!prop(c, "header.d", d, sizeof(d)) || !same_or_aligned(d, strlen(d), domain, aligned))
		return 0;
	if (prop(c, "header.i", i, sizeof(i))) {
		const char *at = strrchr(i, '@');
		if (at == NULL)
			return 0;
		if (at != i && strcasecmp(i, author) != 0)
			return 0; /* signed for another user of the domain */
		if (!same_or_aligned(at + 1, strlen(at + 1), domain, aligned) ||
		    !same_or_aligned(at + 1, strlen(at + 1), d, 1))
			return 0;
	}
	if (prop(c, "header.b", b, sizeof(b)) &&
	    (strlen(b) < HEADER_B_MIN || !signature_present(raw, len, d, b)))
		return 0;
	return 1;
}

static int spf_proves(const char *c, const char *domain, int proof)
{
	char mf[PROP_MAX];
	const char *at, *dom;

	if (!prop(c, "smtp.mailfrom", mf, sizeof(mf)))
		return 0;
	at = strrchr(mf, '@');
	dom = at ? at + 1 : mf;
	return same_or_aligned(dom, strlen(dom), domain, (proof & PROOF_DKIM_ALIGNED) != 0);
}

/* result_proves: the Authentication-Results value V (uncommented, from a
 * trusted authserv-id) proves AUTHOR; what did, into HOW. */
static int result_proves(const char *raw, size_t len, char *v, const char *author, int proof,
			 char *how, size_t howlen)
{
	const char *domain = strrchr(author, '@') + 1;
	char *c, *next;

	c = strchr(v, ';');
	for (; c != NULL; c = next) {
		c++;
		next = strchr(c, ';');
		if (next)
			*next = '\0';
		while (*c == ' ')
			c++;
		if ((proof & (PROOF_DKIM | PROOF_DKIM_ALIGNED)) &&
		    strncasecmp(c, "dkim=pass", 9) == 0 && (c[9] == ' ' || c[9] == '\0') &&
		    dkim_proves(raw, len, c, author, domain, proof)) {
			snprintf(how, howlen, "%.200s", c);
			return 1;
		}
		if ((proof & PROOF_SPF) && strncasecmp(c, "spf=pass", 8) == 0 &&
		    (c[8] == ' ' || c[8] == '\0') && spf_proves(c, domain, proof)) {
			snprintf(how, howlen, "%.200s", c);
			return 1;
		}
	}
	return 0;
}

/* walk: EACH(ARG, value) on each Authentication-Results field believed
 * (see authres.h), top down, until it returns non-zero; that value, or 0. */
static int walk(const char *raw, size_t len, const struct strv *trusted,
		int (*each)(void *arg, char *value), void *arg)
{
	struct field *f;
	size_t off = 0, n;
	int first = 1, seen_ar = 0, rc = 0;
	const char *id;

	if (trusted->n == 0 || (f = malloc(sizeof(*f))) == NULL)
		return 0;
	while (rc == 0 && next_field(raw, len, &off, f) == 0) {
		int is_first = first;
		first = 0;
		if (strcasecmp(f->name, "Received") == 0) {
			if (is_first)
				continue; /* ours: parleyd, the poller or inject */
			uncomment(f->value);
			if (seen_ar || (id = by_host(f->value, &n)) == NULL ||
			    !trusted_id(trusted, id, n))
				break; /* not our border's: what follows came with the mail */
			continue;
		}
		if (strcasecmp(f->name, "Authentication-Results") != 0 || !f->whole)
			continue;
		uncomment(f->value);
		id = f->value + strspn(f->value, " ");
		n = strcspn(id, " ;");
		if (!trusted_id(trusted, id, n))
			continue;
		seen_ar = 1;
		rc = each(arg, f->value);
	}
	free(f);
	return rc;
}

struct proves_arg {
	const char *raw, *author;
	size_t len;
	int proof;
	char *how;
	size_t howlen;
};

static int each_proves(void *arg, char *value)
{
	struct proves_arg *a = arg;

	return result_proves(a->raw, a->len, value, a->author, a->proof, a->how, a->howlen);
}

int authres_proves(const char *raw, size_t len, const struct strv *trusted, const char *author,
		   int proof, char *how, size_t howlen)
{
	struct proves_arg a = {raw, author, len, proof, how, howlen};

	if (author == NULL || strrchr(author, '@') == NULL || proof == 0)
		return 0;
	return walk(raw, len, trusted, each_proves, &a);
}

struct first_arg {
	char *out;
	size_t outlen;
};

static int each_first(void *arg, char *value)
{
	struct first_arg *a = arg;
	const char *v = value + strspn(value, " ");
	size_t n = strlen(v);

	while (n > 0 && v[n - 1] == ' ')
		n--;
	if (n == 0 || n >= a->outlen)
		return 0;	/* too long for the caller: the next one, if any */
	snprintf(a->out, a->outlen, "%.*s", (int)n, v);
	return 1;
}

int authres_first(const char *raw, size_t len, const struct strv *trusted, char *out,
		  size_t outlen)
{
	struct first_arg a = {out, outlen};

	if (outlen > 0)
		out[0] = '\0';
	return walk(raw, len, trusted, each_first, &a);
}
