/*
 * copy_template.c - a post's copies from one rendering (see
 * copy_template.h). A template is the post rendered with marker tokens,
 * and the places (offset, which token) where each marker occurs; it is
 * kept for one post, variant and set of token lengths at a time.
 *
 * Must never hand out a copy from a template that failed its check, or
 * write a token of another length than its marker's.
 */
#include "autoconf.h"

#include "copy_template.h"

#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "xalloc.h"

#define SLOTS_MAX 64	/* places of tokens in one copy */

struct slot {
	size_t at;
	int which;	/* 0..COPY_TOKENS-1 */
};

struct copy_template {
	long long id;	/* 0: none */
	int variant;
	size_t tlen[COPY_TOKENS];
	int trusted;	/* 0: this post, variant and lengths go copy by copy */
	char *msg;
	size_t len;
	struct slot s[SLOTS_MAX];
	size_t n;
};

struct copy_template *copy_template_new(void)
{
	return xcalloc(1, sizeof(struct copy_template));
}

void copy_template_clear(struct copy_template *t)
{
	free(t->msg);
	memset(t, 0, sizeof(*t));
}

void copy_template_free(struct copy_template *t)
{
	if (t == NULL)
		return;
	copy_template_clear(t);
	free(t);
}

/* same_key: 1 if T was made for ID, VARIANT and the lengths of TK. */
static int same_key(const struct copy_template *t, long long id, int variant,
		    const struct copy_tokens *tk)
{
	if (t->id == 0 || t->id != id || t->variant != variant)
		return 0;
	for (int i = 0; i < COPY_TOKENS; i++)
		if (strlen(tk->t[i]) != t->tlen[i])
			return 0;
	return 1;
}

/* fill: T's template with the tokens TK written in, malloc'd. */
static char *fill(const struct copy_template *t, const struct copy_tokens *tk)
{
	char *out = xmalloc(t->len + 1);

	memcpy(out, t->msg, t->len);
	out[t->len] = '\0';
	for (size_t i = 0; i < t->n; i++)
		memcpy(out + t->s[i].at, tk->t[t->s[i].which], t->tlen[t->s[i].which]);
	return out;
}

char *copy_template_make(struct copy_template *t, long long id, int variant,
			 const struct copy_tokens *tk, size_t *len)
{
	if (!same_key(t, id, variant, tk) || !t->trusted)
		return NULL;
	*len = t->len;
	return fill(t, tk);
}

/* marker: a token of LEN characters for token WHICH, of the base32
 * alphabet like a real one, unlike any other marker and unlikely in text. */
static void marker(char *out, size_t len, int which)
{
	static const char pat[] = "zq7xj3wk";

	for (size_t i = 0; i < len; i++)
		out[i] = i == 1 ? (char)('2' + which) : pat[i % (sizeof(pat) - 1)];
	out[len] = '\0';
}

/* places: every place of the markers M in T->msg, into T's slots; 0, or -1
 * if there are more than SLOTS_MAX or they overlap. */
static int places(struct copy_template *t, char m[COPY_TOKENS][TOKEN_MAX + 1])
{
	size_t end = 0;

	t->n = 0;
	for (size_t at = 0; at < t->len; at++) {
		for (int w = 0; w < COPY_TOKENS; w++) {
			size_t l = t->tlen[w];
			if (l == 0 || at + l > t->len || t->msg[at] != m[w][0] ||
			    memcmp(t->msg + at, m[w], l) != 0)
				continue;
			if (at < end || t->n == SLOTS_MAX)
				return -1;
			t->s[t->n].at = at;
			t->s[t->n++].which = w;
			end = at + l;
		}
	}
	return 0;
}

int copy_template_learn(struct copy_template *t, long long id, int variant,
			const struct copy_tokens *tk, const char *copy, size_t len,
			copy_render_fn render, void *arg)
{
	char m[COPY_TOKENS][TOKEN_MAX + 1];
	struct copy_tokens mk;
	char *check;
	int i;

	if (same_key(t, id, variant, tk))
		return t->trusted;
	copy_template_clear(t);
	t->id = id;
	t->variant = variant;
	for (i = 0; i < COPY_TOKENS; i++) {
		t->tlen[i] = strlen(tk->t[i]);
		if (t->tlen[i] > TOKEN_MAX)
			return 0;
		marker(m[i], t->tlen[i], i);
		mk.t[i] = m[i];
	}
	if ((t->msg = render(arg, &mk, &t->len)) == NULL || t->len != len || places(t, m) < 0)
		return 0;
	check = fill(t, tk);
	t->trusted = memcmp(check, copy, len) == 0;
	free(check);
	return t->trusted;
}
