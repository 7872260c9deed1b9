/*
 * test_trim.c - the quote trimmer (lib/trim.c): every golden case in
 * $TESTS_SRCDIR/trim (NAME.in -> NAME.expected; NAME.html.in through
 * trim_html), losslessness of the plain-text cases, the HTML-to-text
 * conversion, and bounds (1 MB, 100,000 quote lines, deep nesting, invalid
 * UTF-8, NUL bytes). Test code only: never writes outside /tmp.
 */
#include "autoconf.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tap.h"
#include "trim.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* show_diff: the first differing line of GOT and WANT, then GOT whole, as TAP comments. */
static void show_diff(const char *got, const char *want)
{
	size_t line = 1;
	const char *g = got, *w = want, *ge, *we;

	for (;;) {
		ge = strchr(g, '\n');
		we = strchr(w, '\n');
		if (ge == NULL || we == NULL || ge - g != we - w ||
		    memcmp(g, w, (size_t)(ge - g)) != 0)
			break;
		g = ge + 1;
		w = we + 1;
		line++;
	}
	printf("#   first difference at line %zu\n", line);
	printf("#   got:      '%.*s'\n", ge ? (int)(ge - g) : (int)strlen(g), g);
	printf("#   expected: '%.*s'\n", we ? (int)(we - w) : (int)strlen(w), w);
	printf("#   --- got, whole ---\n");
	for (g = got; *g; g = ge + 1) {
		ge = strchr(g, '\n');
		if (ge == NULL)
			ge = g + strlen(g);
		printf("#   |%.*s\n", (int)(ge - g), g);
		if (*ge == '\0')
			break;
	}
}

/* lossless: every non-blank line of IN (CR dropped) is a line of R's trimmed or elided. */
static int lossless(const char *in, const struct trim_result *r, char *missing, size_t msize)
{
	size_t tl = strlen(r->trimmed), el = strlen(r->elided);
	char *hay = malloc(tl + el + 4), *needle = malloc(strlen(in) + 3);
	const char *p, *e;
	int ok_all = 1;

	if (hay == NULL || needle == NULL)
		return 0;
	snprintf(hay, tl + el + 4, "\n%s\n%s\n", r->trimmed, r->elided);
	for (p = in; *p && ok_all; p = *e ? e + 1 : e) {
		size_t n, k;
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		if (n && p[n - 1] == '\r')
			n--;
		for (k = 0; k < n && (p[k] == ' ' || p[k] == '\t'); k++)
			;
		if (k == n)
			continue;
		needle[0] = '\n';
		memcpy(needle + 1, p, n);
		needle[n + 1] = '\n';
		needle[n + 2] = '\0';
		if (strstr(hay, needle) == NULL) {
			snprintf(missing, msize, "%.*s", (int)n, p);
			ok_all = 0;
		}
	}
	free(hay);
	free(needle);
	return ok_all;
}

static void golden_case(const char *dir, const char *name)
{
	char path[4096], missing[256] = "";
	char *in, *want;
	size_t inlen, wantlen;
	struct trim_result r;
	int html = ends_with(name, ".html.in"), rc;

	in = snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path)
		 ? tap_slurp(path, &inlen)
		 : NULL;
	want = snprintf(path, sizeof(path), "%s/%.*s.expected", dir, (int)(strlen(name) - 3),
			name) < (int)sizeof(path)
		   ? tap_slurp(path, &wantlen)
		   : NULL;
	if (in == NULL || want == NULL) {
		ok(0, "%s: readable, with its .expected", name);
		free(in);
		free(want);
		return;
	}
	rc = html ? trim_html(in, inlen, &r) : trim_text(in, inlen, &r);
	if (rc != 0) {
		ok(0, "%s: trims", name);
	} else {
		if (!ok(strcmp(r.trimmed, want) == 0, "%s", name))
			show_diff(r.trimmed, want);
		if (!html && !ok(lossless(in, &r, missing, sizeof(missing)), "%s: lossless", name))
			printf("#   not in trimmed or elided: '%s'\n", missing);
		trim_result_free(&r);
	}
	free(in);
	free(want);
}

static void golden(void)
{
	const char *src = getenv("TESTS_SRCDIR");
	char dir[4096], **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/trim", src != NULL && *src ? src : "tests");
	if ((d = opendir(dir)) == NULL) {
		ok(0, "golden directory %s opens", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!ends_with(de->d_name, ".in"))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				exit(99);
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			exit(99);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	ok(n >= 60, "at least 60 golden cases (%zu)", n);
	for (i = 0; i < n; i++) {
		golden_case(dir, names[i]);
		free(names[i]);
	}
	free(names);
}

static void html_to_text(void)
{
	static const struct {
		const char *html, *text, *name;
	} cases[] = {
	    {"a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39;", "a & b <c> \"d\" 'e'\n",
	     "the five basic entities"},
	    {"caf&eacute; caf&#233; caf&#xE9; &euro;&nbsp;5 &hellip;",
	     "caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 \xe2\x82\xac 5 \xe2\x80\xa6\n",
	     "named and numeric entities to UTF-8"},
	    {"&#0; &#xD800; &#x110000; &bogus; & x",
	     "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd &bogus; & x\n", "bad references"},
	    {"<p>one</p><script>var x = '<p>no</p>';</script><style>p{}</style>two", "one\ntwo\n",
	     "script and style dropped"},
	    {"<html><head><title>T</title><meta x></head><body>hi</body></html>", "hi\n",
	     "head dropped"},
	    {"<div><div><div>a</div>b</div><div>c<br>d</div></div>e", "a\nb\nc\nd\ne\n",
	     "nested divs as line breaks"},
	    {"  lots   of\n\n   space\t here  <br>  next", "lots of space here\nnext\n",
	     "whitespace collapsed"},
	    {"x<br><br>y", "x\n\ny\n", "two <br> make an empty line"},
	    {"<pre>a  b\n  c</pre>", "a  b\n  c\n", "pre kept"},
	    {"<blockquote>q1<br>q2</blockquote>after", "> q1\n> q2\nafter\n", "blockquote quoted"},
	    {"<!-- <p>c</p> --><ul><li>one</li><li>two</li></ul>", "one\ntwo\n",
	     "comments dropped, list items on lines"},
	    {"<a href=\"x>y\" title='>'>link</a> 1 < 2", "link 1 < 2\n",
	     "'>' inside quoted attributes; a lone '<'"},
	    {"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc\n",
	     "table rows as lines"},
	    {"<h1>Title</h1>text", "Title\ntext\n", "headings as lines"},
	    {"", "", "empty"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = trim_html_to_text(cases[i].html, strlen(cases[i].html));
		is_str(t, cases[i].text, "html_to_text: %s", cases[i].name);
		free(t);
	}
}

static void html_cuts(void)
{
	const char *gm = "<div>Yes.</div><div class=\"gmail_quote\"><div class=\"gmail_attr\">On "
			 "Mon, A wrote:</div><blockquote class=\"gmail_quote\"><div><div>deep"
			 "</div></div>Q</blockquote><div>still quoted</div></div>";
	const char *inl = "<div class=\"moz-cite-prefix\">On Mon, A wrote:</div><blockquote "
			  "type=\"cite\">question</blockquote>answer<blockquote type=\"cite\">"
			  "rest</blockquote>";
	struct trim_result r;

	ok(trim_html(gm, strlen(gm), &r) == 0, "gmail quote: trims");
	is_str(r.trimmed, "Yes.\n", "gmail quote cut by depth, nested divs inside");
	is_str(r.elided, "On Mon, A wrote:\n> deep\n> Q\nstill quoted\n", "gmail quote elided");
	trim_result_free(&r);
	ok(trim_html(inl, strlen(inl), &r) == 0, "inline html reply: trims");
	is_str(r.trimmed, "On Mon, A wrote:\n> question\nanswer\n",
	       "a cut block followed by new text is kept; the last one goes");
	is_str(r.elided, "> rest\n", "the trailing quote elided");
	trim_result_free(&r);
}

static double since(clock_t t0)
{
	return (double)(clock() - t0) / CLOCKS_PER_SEC;
}

static void bounds(void)
{
	size_t n = 1 << 20, i;
	char *big = malloc(n + 1), *t;
	struct trim_result r;
	clock_t t0;
	double dt;
	int rc;

	if (big == NULL)
		exit(99);
	for (i = 0; i < n; i++)
		big[i] = (char)("abcdefgh ijk.\n"[i % 14]);
	big[n] = '\0';
	t0 = clock();
	rc = trim_text(big, n, &r);
	dt = since(t0);
	ok(rc == 0 && strlen(r.trimmed) > n / 2 && dt < 2.0, "1 MB of text: fast (%.3fs)", dt);
	trim_result_free(&r);
	memset(big, 'x', n);
	t0 = clock();
	rc = trim_text(big, n, &r);
	dt = since(t0);
	ok(rc == 0 && strlen(r.trimmed) == n + 1 && dt < 2.0, "one 1 MB line: fast (%.3fs)", dt);
	trim_result_free(&r);
	for (i = 0; i + 4 <= n; i += 4)
		memcpy(big + i, "<b>", 3), big[i + 3] = i % 8 ? 'x' : '\n';
	t0 = clock();
	rc = trim_html(big, n, &r);
	dt = since(t0);
	ok(rc == 0 && dt < 2.0, "1 MB of HTML: fast (%.3fs)", dt);
	trim_result_free(&r);
	free(big);

	n = 100000 * 4;
	big = malloc(n + 1);
	if (big == NULL)
		exit(99);
	for (i = 0; i < n; i += 4)
		memcpy(big + i, "> x\n", 4);
	big[n] = '\0';
	t0 = clock();
	rc = trim_text(big, n, &r);
	dt = since(t0);
	ok(rc == 0 && dt < 2.0, "100,000 lines of '> x': fast (%.3fs)", dt);
	is_str(r.trimmed, "", "only a quote: nothing left");
	ok(strlen(r.elided) == n, "and all of it elided");
	trim_result_free(&r);
	for (i = 0; i < n; i += 4)
		memcpy(big + i, i % 8 ? "> x\n" : "On\n\n", 4);
	t0 = clock();
	rc = trim_text(big, n, &r);
	dt = since(t0);
	ok(rc == 0 && dt < 2.0, "100,000 lines alternating quote and text: fast (%.3fs)", dt);
	trim_result_free(&r);
	free(big);

	n = 100000 * 5;
	big = malloc(n + 1);
	if (big == NULL)
		exit(99);
	for (i = 0; i < n; i += 5)
		memcpy(big + i, "<div>", 5);
	big[n] = '\0';
	t0 = clock();
	t = trim_html_to_text(big, n);
	dt = since(t0);
	ok(t != NULL && *t == '\0' && dt < 2.0, "100,000 nested divs: no recursion, fast (%.3fs)",
	   dt);
	free(t);
	for (i = 0; i + 6 <= n; i += 6)
		memcpy(big + i, "<head>", 6);
	t0 = clock();
	t = trim_html_to_text(big, i);
	dt = since(t0);
	ok(t != NULL && dt < 2.0, "100,000 unclosed <head>s: fast (%.3fs)", dt);
	free(t);
	free(big);
	n = 100000 * 12;
	big = malloc(n + 2);
	if (big == NULL)
		exit(99);
	for (i = 0; i < n; i += 12)
		memcpy(big + i, "<blockquote>", 12);
	big[n] = 'x';
	big[n + 1] = '\0';
	n++;
	t = trim_html_to_text(big, n);
	ok(t != NULL && strlen(t) < 200, "deeply nested blockquotes: prefix bounded");
	free(t);
	free(big);
}

static void hostile(void)
{
	static const char bad[] = "Hi \xff\xfe there \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 end\n"
				  "\n> quoted \xc0\xaf\n";
	static const char nul[] = "before\0after\r\nnext\rline\n";
	struct trim_result r;

	ok(trim_text(bad, sizeof(bad) - 1, &r) == 0, "invalid UTF-8: trims");
	is_str(
	    r.trimmed,
	    "Hi \xef\xbf\xbd\xef\xbf\xbd there \xef\xbf\xbd( \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end\n",
	    "invalid bytes become U+FFFD");
	trim_result_free(&r);
	ok(trim_text(nul, sizeof(nul) - 1, &r) == 0, "NUL and CR: trims");
	is_str(r.trimmed, "beforeafter\nnext\nline\n", "NUL dropped, CRLF and CR to LF");
	trim_result_free(&r);
	ok(trim_html(nul, sizeof(nul) - 1, &r) == 0 && strchr(r.trimmed, '\r') == NULL,
	   "the same through trim_html");
	trim_result_free(&r);
	ok(trim_text("", 0, &r) == 0 && *r.trimmed == '\0' && *r.elided == '\0', "empty input");
	trim_result_free(&r);
	ok(trim_text(NULL, 0, &r) == 0 && *r.trimmed == '\0', "NULL, 0: empty");
	trim_result_free(&r);
	ok(trim_text(NULL, 5, &r) == -1 && trim_text("x", 1, NULL) == -1, "bad arguments: -1");
	trim_result_free(NULL);
}

int main(void)
{
	log_init("test_trim", LOG_DEST_STDERR);
	golden();
	html_to_text();
	html_cuts();
	bounds();
	hostile();
	return tap_done();
}
