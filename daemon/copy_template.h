/*
 * copy_template.h - a post's copies made from one rendering (issue 10:
 * "render once per post"). The copies of a post differ only in their
 * personal tokens (reply, private reply, mute, follow, unsubscribe: lower-
 * case base32, in Reply-To, List-Unsubscribe and the footer). A worker
 * renders the first copy in full, then the post once more with marker
 * tokens of the same lengths, and notes where the markers landed; the
 * template is trusted only if putting the first copy's tokens at those
 * places gives that copy byte for byte. The next copies with tokens of the
 * same lengths are the template with their tokens written in.
 *
 * Must never give a copy that a full rendering would not give: a post
 * whose rendering does not keep the markers as they are (base64, a fresh
 * MIME boundary, a marker found in the text) fails the check and is
 * rendered copy by copy. The template is one worker's, kept for one batch
 * (the configuration it was made with is held for the batch); it holds no
 * secret beyond what the copies carry.
 */
#ifndef PARLEY_COPY_TEMPLATE_H
#define PARLEY_COPY_TEMPLATE_H

#include <stddef.h>

#define COPY_TOKENS 5	/* the personal tokens of a copy */

/* A copy's personal tokens, "" where it has none (an unsubscribe token on
 * a copy to no subscriber). */
struct copy_tokens {
	const char *t[COPY_TOKENS];
};

/* How a caller renders the post with tokens TK: the copy (malloc'd, *LEN)
 * or NULL. */
typedef char *(*copy_render_fn)(void *arg, const struct copy_tokens *tk, size_t *len);

struct copy_template;

struct copy_template *copy_template_new(void);
void copy_template_free(struct copy_template *t);

/* copy_template_clear: forget the template (at the end of a batch). */
void copy_template_clear(struct copy_template *t);

/* copy_template_make: the copy of post ID (rendered as VARIANT: what else
 * than the tokens its rendering depends on) with tokens TK, malloc'd, its
 * length in *LEN; NULL if T has no trusted template for them. */
char *copy_template_make(struct copy_template *t, long long id, int variant,
			 const struct copy_tokens *tk, size_t *len);

/* copy_template_learn: COPY[0..LEN) was rendered in full for ID, VARIANT
 * and TK; make the template from it if T has none for them yet (RENDER is
 * called once, with marker tokens). Returns 1 if T now has a trusted
 * template, 0 if not. */
int copy_template_learn(struct copy_template *t, long long id, int variant,
			const struct copy_tokens *tk, const char *copy, size_t len,
			copy_render_fn render, void *arg);

#endif
