/*
 * trim.h - the quote trimmer: from the decoded body of a reply, the text a
 * reader of the thread wants (the new words), and separately what was cut
 * (quotes, attributions, forwarded and Outlook header blocks, signatures),
 * so that nothing is lost. A pure module: no store, no network, no globals,
 * no libetpan. It must never drop a line silently: every input line ends up
 * in either trimmed or elided (see trim_text).
 */
#ifndef PARLEY_TRIM_H
#define PARLEY_TRIM_H

#include <stddef.h>

struct trim_result {
	char *trimmed; /* malloc'd UTF-8, LF line ends, no trailing blank lines; never NULL */
	char *elided;  /* malloc'd: the lines cut, in order, blocks separated by one empty line; ""
			  if nothing */
};

/*
 * trim_text: trim TEXT (LEN bytes, UTF-8, LF or CRLF line ends). Invalid
 * UTF-8 becomes U+FFFD and NUL bytes are dropped, so both outputs are
 * NUL-free valid UTF-8. Every non-blank line of the input appears verbatim
 * (less its CR) in out->trimmed or out->elided; each non-empty output ends
 * in one LF. Returns 0, or -1 if TEXT or OUT is NULL (allocation failure
 * exits through xalloc). The caller frees with trim_result_free.
 */
int trim_text(const char *text, size_t len, struct trim_result *out);

/*
 * trim_html: convert HTML (LEN bytes) to text as trim_html_to_text does,
 * cutting the quoted HTML blocks (Gmail, Outlook, Apple Mail, Thunderbird,
 * Yahoo) on the way, then trim_text the rest. A cut block followed by new
 * text (an inline reply) is kept as a quote instead. out->elided holds the
 * cut blocks' text first, then what trim_text cut. Returns as trim_text.
 */
int trim_html(const char *html, size_t len, struct trim_result *out);

/*
 * trim_html_to_text: HTML to plain text: tags dropped, <br>/<p>/<div>/<li>/
 * <tr>/headings as line breaks, entities decoded to UTF-8, <script>/<style>/
 * <head> contents dropped, whitespace collapsed as a browser would,
 * <blockquote> lines prefixed with "> ". Returns a malloc'd string the
 * caller frees; never NULL (allocation failure exits through xalloc).
 */
char *trim_html_to_text(const char *html, size_t len);

/* trim_result_free: free both strings of R (R itself is the caller's); R may be NULL. */
void trim_result_free(struct trim_result *r);

#endif
