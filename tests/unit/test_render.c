/*
 * test_render.c - the per-subscriber copy (lib/render.c): header fields
 * replaced, kept and dropped; the subject prefix and RFC 2047 text; folding;
 * the footer in plain, quoted-printable, base64, 8-bit, alternative, mixed,
 * HTML-only, image-only and signed messages; no footer means the body byte for
 * byte; refusals; then every message of the MIME corpus.
 *
 * Each input and its copy are written to a temporary directory, and
 * unit/render_check.py (python3 from $PYTHON3, the script from $TESTS_SRCDIR)
 * reads them back with Python's email package as an independent parser. The
 * directory is removed unless a check failed. Test code only.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "copy_template.h"
#include "render.h"
#include "tap.h"
#include "xalloc.h"

#define FOOTER                                                                                     \
	"Sent to dev@lists.example.org\n"                                                          \
	"M\xc3\xbc"                                                                                \
	"nchen \xe2\x98\xba \xe2\x80\x94 unsubscribe: https://lists.example.org/u\n"
#define ASCII_FOOTER "Sent to dev@lists.example.org\nUnsubscribe: https://lists.example.org/u"

static char s_name[] = "dev", s_desc[] = "Development of parley", s_prefix[] = "[dev]",
	    s_footer[] = FOOTER, s_ascii_footer[] = ASCII_FOOTER,
	    s_archive[] = "https://lists.example.org/dev/",
	    s_unsub[] = "https://lists.example.org/u",
	    s_http[] = "http://lists.example.org/u?l=dev";

static char s_long[1100];
static struct config cfg;
static struct cfg_list list;
static struct render_in base;
static char tmpdir[256];

static void setup(void)
{
	cfg.daemon.delimiter = '+';
	list.name = s_name;
	strcpy(list.address, "dev@lists.example.org");
	list.description = s_desc;
	list.subject_prefix = s_prefix;
	list.footer = s_footer;
	list.archive_url = s_archive;
	list.unsubscribe_url = s_unsub;
	base.cfg = &cfg;
	base.list = &list;
	base.list_msgid = "<42.abc@lists.example.org>";
	base.author_addr = "alice@example.org";
	base.author_name = "Alice Example";
	base.reply_to = "dev+r-tok@lists.example.org";
	base.unsubscribe_addr = "dev+unsubscribe-tok@lists.example.org";
	base.unsubscribe_token = "tok123";
}

/* ---- helpers ---- */

static int write_file(const char *name, const char *suffix, const char *p, size_t n)
{
	char path[512];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/%s%s", tmpdir, name, suffix);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	r = fwrite(p, 1, n, f) == n ? 0 : -1;
	return fclose(f) == 0 ? r : -1;
}

/* render_with: render RAW with IN's settings; the copy is written beside its
 * input as NAME.{in,out}.eml for render_check.py when NAME is set. */
static char *render_with(const struct render_in *tmpl, const char *name, const char *raw,
			 size_t rlen, size_t *n)
{
	struct render_in in = *tmpl;
	char err[200] = "";
	char *out;

	in.raw = raw;
	in.len = rlen;
	out = render_copy(&in, n, err, sizeof(err));
	if (out == NULL && name)
		printf("# %s: %s\n", name, err);
	if (out != NULL && name != NULL &&
	    (write_file(name, ".in.eml", raw, rlen) < 0 ||
	     write_file(name, ".out.eml", out, *n) < 0))
		ok(0, "%s: written to %s", name, tmpdir);
	return out;
}

static char *render(const char *name, const char *raw, size_t *n)
{
	return render_with(&base, name, raw, strlen(raw), n);
}

static size_t head_len(const char *p, size_t n)
{
	const char *e = memmem(p, n, "\r\n\r\n", 4);
	return e ? (size_t)(e - p) + 2 : n;
}

/* hget: the unfolded value of the first field NAME, or NULL; caller frees. */
static char *hget(const char *p, size_t n, const char *name)
{
	size_t hl = head_len(p, n), i = 0, nl = strlen(name);

	while (i < hl) {
		const char *e = memmem(p + i, hl - i, "\r\n", 2);
		size_t le = e ? (size_t)(e - p) : hl;
		if (le - i > nl && strncasecmp(p + i, name, nl) == 0 && p[i + nl] == ':') {
			char *v = xmalloc(hl - i + 1), *o = v;
			size_t k = i + nl + 1;
			while (k < hl && p[k] == ' ')
				k++;
			for (; k < hl; k++) {
				if (p[k] == '\r' && k + 2 < hl &&
				    (p[k + 2] == ' ' || p[k + 2] == '\t')) {
					k++;
					continue;
				}
				if (p[k] == '\r')
					break;
				*o++ = p[k];
			}
			*o = '\0';
			return v;
		}
		i = le + 2;
	}
	return NULL;
}

static int hcount(const char *p, size_t n, const char *name)
{
	size_t hl = head_len(p, n), nl = strlen(name), i;
	int c = 0;

	for (i = 0; i + nl < hl; i++)
		if ((i == 0 || p[i - 1] == '\n') && strncasecmp(p + i, name, nl) == 0 &&
		    p[i + nl] == ':')
			c++;
	return c;
}

static void is_header(const char *p, size_t n, const char *name, const char *want, const char *what)
{
	char *v = p ? hget(p, n, name) : NULL;

	is_str(v, want, "%s: %s", what, name);
	free(v);
}

/* longest_head_line: the longest line of the header section, -1 if a line
 * there does not end in CR LF. */
static long longest_head_line(const char *p, size_t n)
{
	size_t hl = head_len(p, n), i = 0;
	long max = 0;

	while (i < hl) {
		const char *e = memmem(p + i, hl - i, "\r\n", 2);
		size_t le = e ? (size_t)(e - p) : hl;
		if (e == NULL || memchr(p + i, '\n', le - i) || memchr(p + i, '\r', le - i))
			return -1;
		if ((long)(le - i) > max)
			max = (long)(le - i);
		i = le + 2;
	}
	return max;
}

static int ends_with(const char *p, size_t n, const char *tail, size_t tn)
{
	return n >= tn && memcmp(p + n - tn, tail, tn) == 0;
}

static const char *body_of(const char *p, size_t n)
{
	const char *e = memmem(p, n, "\r\n\r\n", 4);
	return e ? e + 4 : p + n;
}

/* ---- inputs ---- */

static const char plain_msg[] =
    "Return-Path: <alice@example.org>\r\n"
    "Delivered-To: dev@lists.example.org\r\n"
    "X-Original-To: dev@lists.example.org\r\n"
    "Received: from mx.example.org by lists.example.org; Tue, 2 Jan 2024 10:00:01 +0100\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1;\r\n"
    "\th=from:to:subject; bh=abc=; b=def=\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "Sender: someone@example.org\r\n"
    "Errors-To: someone@example.org\r\n"
    "To: dev@lists.example.org\r\n"
    "Cc: bob@example.net\r\n"
    "Subject: Hello world\r\n"
    "Date: Tue, 2 Jan 2024 10:00:00 +0100\r\n"
    "Message-ID: <orig@example.org>\r\n"
    "In-Reply-To: <parent@example.org>\r\n"
    "References: <parent@example.org>\r\n"
    "List-Id: Other <other.example.com>\r\n"
    "List-Unsubscribe: <mailto:other@example.com>\r\n"
    "Precedence: bulk\r\n"
    "X-Custom: kept\r\n"
    "\r\n"
    "Hello list,\r\n\r\nthis is plain ASCII.\r\n";

static const char utf8_msg[] = "From: a@example.org\r\nSubject: Gr\xc3\xbc\xc3\x9f"
			       "e\r\n"
			       "MIME-Version: 1.0\r\n"
			       "Content-Type: text/plain; charset=utf-8\r\n"
			       "Content-Transfer-Encoding: 8bit\r\n\r\n"
			       "Gr\xc3\xbc\xc3\x9f"
			       "e aus M\xc3\xbcnchen \xe2\x9c\x93\r\n";

static const char qp_msg[] = "From: a@example.org\r\nSubject: qp\r\nMIME-Version: 1.0\r\n"
			     "Content-Type: text/plain; charset=iso-8859-1; format=flowed\r\n"
			     "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
			     "Gr=FC=DFe, caf=E9=\r\n au lait\r\n";

static const char b64_msg[] = "From: a@example.org\r\nSubject: b64\r\nMIME-Version: 1.0\r\n"
			      "Content-Type: text/plain; charset=utf-8\r\n"
			      "Content-Transfer-Encoding: base64\r\n\r\n"
			      "cGxhaW4gdGV4dCDinJMK\r\n";

static const char alt_msg[] =
    "From: a@example.org\r\nSubject: alt\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
    "preamble\r\n"
    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello in plain.\r\n"
    "--b1\r\nContent-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "<html><body><p>Hello in <b>html</b>.</p></body></html>\r\n"
    "--b1--\r\nepilogue\r\n";

static const char alt_related_msg[] =
    "From: a@example.org\r\nSubject: related\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
    "--o\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
    "--a\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
    "--a\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n"
    "--r\r\nContent-Type: text/html\r\n\r\n<p>html</p><img src=\"cid:i\">\r\n"
    "--r\r\nContent-Type: image/gif\r\nContent-ID: <i>\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n"
    "--r--\r\n"
    "--a--\r\n"
    "--o--\r\n";

/* quoted-printable that Debian's libetpan reads past: '=' at the very end,
 * bad escapes, a soft break inside a UTF-8 character */
static const char qp_edge_msg[] = "From: a@example.org\r\nSubject: qp edge\r\n"
				  "Content-Type: text/plain; charset=utf-8\r\n"
				  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
				  "a=\r\nb =3D c=3d =XY z=C3=\r\n=BC\r\nsoft =\r\nbreak\r\nend=";

static const char html_msg[] = "From: a@example.org\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
			       "Content-Type: text/html; charset=iso-8859-1\r\n"
			       "Content-Transfer-Encoding: 8bit\r\n\r\n"
			       "<html><BODY><p>caf\xe9</p></BODY></html>\r\n";

static const char signed_msg[] =
    "From: a@example.org\r\nSubject: signed\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/signed; boundary=\"s1\"; protocol=\"application/pgp-signature\";"
    " micalg=pgp-sha256\r\n\r\n"
    "--s1\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n"
    "--s1\r\nContent-Type: application/pgp-signature\r\n\r\n"
    "-----BEGIN PGP SIGNATURE-----\r\nabc\r\n-----END PGP SIGNATURE-----\r\n"
    "--s1--\r\n";

/* b64_lines: base64 of BYTES as 76-column CRLF lines, appended to OUT. */
static void b64_lines(char *out, const unsigned char *bytes, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, col = 0, o = strlen(out);

	for (i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)bytes[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)bytes[i + 1] << 8;
		if (i + 2 < n)
			v |= bytes[i + 2];
		out[o++] = al[(v >> 18) & 63];
		out[o++] = al[(v >> 12) & 63];
		out[o++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? al[v & 63] : '=';
		if ((col += 4) == 76) {
			out[o++] = '\r';
			out[o++] = '\n';
			col = 0;
		}
	}
	if (col) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
}

static char *mixed_msg(char **att_b64)
{
	unsigned char bytes[300];
	char *m = xmalloc(4096), *b = xmalloc(1024);
	size_t i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(i * 7);
	b[0] = '\0';
	b64_lines(b, bytes, sizeof(bytes));
	snprintf(m, 4096,
		 "From: a@example.org\r\nSubject: mixed\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: multipart/mixed; boundary=\"=_m\"\r\n\r\n"
		 "--=_m\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee attached.\r\n"
		 "--=_m\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\n"
		 "Content-Disposition: attachment; filename=\"x.bin\"\r\n"
		 "Content-Transfer-Encoding: base64\r\n\r\n%s"
		 "--=_m--\r\n",
		 b);
	*att_b64 = b;
	return m;
}

static char *image_msg(void)
{
	unsigned char png[200];
	char *m = xmalloc(2048);
	size_t i;

	for (i = 0; i < sizeof(png); i++)
		png[i] = (unsigned char)(255 - i);
	strcpy(m, "From: a@example.org\r\nSubject: image\r\nMIME-Version: 1.0\r\n"
		  "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	b64_lines(m, png, sizeof(png));
	return m;
}

/* ---- tests ---- */

static void test_plain(void)
{
	size_t n;
	char *out = render("plain", plain_msg, &n);

	if (!ok(out != NULL, "plain ASCII message renders"))
		return;
	is_header(out, n, "From", "\"Alice Example via dev\" <dev@lists.example.org>", "plain");
	is_header(out, n, "Author", "\"Alice Example\" <alice@example.org>", "plain");
	is_header(out, n, "To", "dev@lists.example.org", "plain");
	is_header(out, n, "Reply-To", "dev+r-tok@lists.example.org", "plain");
	is_header(out, n, "Subject", "[dev] Hello world", "plain");
	is_header(out, n, "Message-ID", "<42.abc@lists.example.org>", "plain");
	is_header(out, n, "Date", "Tue, 2 Jan 2024 10:00:00 +0100", "plain");
	is_header(out, n, "List-Id", "\"Development of parley\" <dev.lists.example.org>", "plain");
	is_header(out, n, "List-Post", "<mailto:dev@lists.example.org>", "plain");
	is_header(out, n, "List-Help", "<mailto:dev+help@lists.example.org>", "plain");
	is_header(out, n, "List-Archive", "<https://lists.example.org/dev/>", "plain");
	is_header(out, n, "List-Unsubscribe",
		  "<mailto:dev+unsubscribe-tok@lists.example.org>, "
		  "<https://lists.example.org/u?t=tok123>",
		  "plain");
	is_header(out, n, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click", "plain");
	is_header(out, n, "Precedence", "list", "plain");
	is_header(out, n, "X-Custom", "kept", "plain");
	is_int(hcount(out, n, "List-Id") + hcount(out, n, "Precedence") +
		   hcount(out, n, "List-Unsubscribe"),
	       3, "plain: the author's List-* and Precedence replaced, not duplicated");
	is_int(hcount(out, n, "DKIM-Signature") + hcount(out, n, "Cc") +
		   hcount(out, n, "Return-Path") + hcount(out, n, "Received") +
		   hcount(out, n, "Sender") + hcount(out, n, "Delivered-To") +
		   hcount(out, n, "X-Original-To") + hcount(out, n, "Errors-To") +
		   hcount(out, n, "In-Reply-To") + hcount(out, n, "References"),
	       0, "plain: DKIM-Signature, Cc, Return-Path, Received, Sender... dropped");
	is_int(hcount(out, n, "To") + hcount(out, n, "Message-ID") + hcount(out, n, "From"), 3,
	       "plain: one To, Message-ID and From");
	ok(strstr(body_of(out, n), "=E2=98=BA") != NULL,
	   "plain: non-ASCII footer quoted-printable in a 7bit message");
	free(out);
}

static void test_ascii_footer(void)
{
	struct render_in in = base;
	struct cfg_list l = list;
	const char *tail =
	    "Hello list,\r\n\r\nthis is plain ASCII.\r\n\r\n-- \r\n"
	    "Sent to dev@lists.example.org\r\nUnsubscribe: https://lists.example.org/u\r\n";
	size_t n;
	char *out;

	l.footer = s_ascii_footer;
	in.list = &l;
	out = render_with(&in, "ascii_footer", plain_msg, strlen(plain_msg), &n);
	if (!ok(out != NULL, "ASCII footer renders"))
		return;
	is_str(body_of(out, n), tail, "ASCII footer appended to the 7bit body as it is");
	is_int(hcount(out, n, "Content-Transfer-Encoding") + hcount(out, n, "Content-Type"), 0,
	       "ASCII footer: no MIME fields needed");
	free(out);
}

/* test_footer_separator: a footer that begins with its own "-- " line (as
 * parley.conf(5)'s example does) gets no second separator, in plain text,
 * in HTML and in a footer part of its own. */
static void test_footer_separator(void)
{
	static char sep_footer[] = "-- \nUnsubscribe: https://lists.example.org/u";
	struct render_in in = base;
	struct cfg_list l = list;
	const char *tail = "Hello list,\r\n\r\nthis is plain ASCII.\r\n\r\n-- \r\n"
			   "Unsubscribe: https://lists.example.org/u\r\n";
	size_t n;
	char *out, *img;

	l.footer = sep_footer;
	in.list = &l;
	out = render_with(&in, "sep_footer", plain_msg, strlen(plain_msg), &n);
	if (ok(out != NULL, "a footer beginning with \"-- \" renders"))
		is_str(body_of(out, n), tail, "plain: one separator, not two");
	free(out);
	out = render_with(&in, "sep_footer_html", html_msg, strlen(html_msg), &n);
	if (ok(out != NULL, "HTML with that footer renders"))
		ok(strstr(out, "<div class=\"parley-footer\">-- <br>\r\nUnsubscribe:") != NULL &&
			   strstr(out, "--<br>") == NULL,
		   "html: one separator, not two");
	free(out);
	img = image_msg();
	out = render_with(&in, "sep_footer_image", img, strlen(img), &n);
	if (ok(out != NULL, "image-only with that footer renders"))
		ok(strstr(out, "\r\n\r\n-- \r\nUnsubscribe: https://lists.example.org/u") != NULL &&
			   strstr(out, "--\r\nUnsubscribe") == NULL,
		   "footer part: the owner's separator once, whole");
	free(out);
	free(img);
}

static void test_encodings(void)
{
	size_t n;
	char *out;

	out = render("utf8_8bit", utf8_msg, &n);
	if (ok(out != NULL, "8-bit UTF-8 renders")) {
		const char *orig = body_of(utf8_msg, strlen(utf8_msg));
		char *subj = hget(out, n, "Subject");
		ok(strncmp(body_of(out, n), orig, strlen(orig)) == 0 &&
		       strstr(body_of(out, n), "M\xc3\xbcnchen \xe2\x98\xba"),
		   "8-bit: original bytes kept, footer appended in UTF-8");
		ok(subj && strncmp(subj, "[dev] =?utf-8?", 14) == 0 && strlen(subj) < 40,
		   "8-bit subject: prefix plain, text in an encoded word (%s)",
		   subj ? subj : "none");
		free(subj);
	}
	free(out);
	out = render("qp_latin1", qp_msg, &n);
	if (ok(out != NULL, "quoted-printable latin-1 renders"))
		is_header(out, n, "Content-Type", "text/plain; charset=utf-8; format=flowed",
			  "qp_latin1");
	free(out);
	out = render("base64", b64_msg, &n);
	if (ok(out != NULL, "base64 text renders")) {
		is_header(out, n, "Content-Transfer-Encoding", "base64", "base64");
		ok(strncmp(body_of(out, n), "cGxhaW4gdGV4dCDinJMK", 20) == 0, "base64: re-encoded");
	}
	free(out);
}

static void test_structures(void)
{
	char *att, *mixed = mixed_msg(&att), *img = image_msg(), *out;
	size_t n;

	out = render("alt", alt_msg, &n);
	if (ok(out != NULL, "multipart/alternative renders")) {
		ok(strstr(out, "\r\npreamble\r\n--b1\r\n") &&
		       ends_with(out, n, "--b1--\r\nepilogue\r\n", 18),
		   "alt: preamble, boundaries and epilogue kept");
		is_int(hcount(out, n, "Content-Type"), 1,
		       "alt: the message's Content-Type kept once");
	}
	free(out);
	out = render("mixed", mixed, &n);
	if (ok(out != NULL, "multipart/mixed with an attachment renders"))
		ok(strstr(out, att) != NULL, "mixed: the attachment's base64 unchanged");
	free(out);
	out = render("alt_related", alt_related_msg, &n);
	if (ok(out != NULL, "related inside alternative inside mixed renders"))
		ok(strstr(out, "<p>html</p><img src=\"cid:i\">\r\n<div class=\"parley-footer\">") &&
		       strstr(out, "R0lGODlhAQABAAAAACw=\r\n--r--") &&
		       !strstr(out, "\r\n--o\r\nContent-Type: text/plain; charset=utf-8"),
		   "alt_related: footer in the related html, the image untouched, no extra part");
	free(out);
	out = render("qp_edge", qp_edge_msg, &n);
	ok(out != NULL, "quoted-printable edge cases render");
	free(out);
	out = render("html_only", html_msg, &n);
	if (ok(out != NULL, "HTML-only renders"))
		ok(strstr(out, "<p>caf\xe9</p>\r\n<div class=\"parley-footer\">") &&
		       strstr(out, "M&#252;nchen &#9786; &#8212;") &&
		       strstr(out, "</div>\r\n</BODY>"),
		   "html: footer escaped, before </body>, latin-1 untouched");
	free(out);
	out = render("image", img, &n);
	if (ok(out != NULL, "image-only renders")) {
		char *ct = hget(out, n, "Content-Type");
		ok(ct && strncmp(ct, "multipart/mixed; boundary=\"=_parley_", 36) == 0 &&
		       strlen(ct) == 61,
		   "image: wrapped in multipart/mixed with a random boundary (%s)",
		   ct ? ct : "none");
		ok(strstr(out, body_of(img, strlen(img))) != NULL, "image: original body inside");
		free(ct);
	}
	free(out);
	out = render("signed", signed_msg, &n);
	if (ok(out != NULL, "multipart/signed renders"))
		ok(strstr(out, body_of(signed_msg, strlen(signed_msg))) != NULL,
		   "signed: signed content byte for byte");
	free(out);
	free(mixed);
	free(att);
	free(img);
}

static void test_no_footer(void)
{
	struct render_in in = base;
	struct cfg_list l = list;
	char *att, *mixed = mixed_msg(&att);
	const char *msgs[] = {plain_msg, qp_msg, alt_msg, mixed, signed_msg};
	size_t i, n;
	int same = 0;

	l.footer = NULL;
	in.list = &l;
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		const char *b = body_of(msgs[i], strlen(msgs[i]));
		char *out = render_with(&in, NULL, msgs[i], strlen(msgs[i]), &n);
		if (out && strlen(body_of(out, n)) == strlen(b) && ends_with(out, n, b, strlen(b)))
			same++;
		free(out);
	}
	is_int(same, (long long)(sizeof(msgs) / sizeof(msgs[0])),
	       "no footer: bodies byte for byte");
	free(mixed);
	free(att);
}

static void test_encoded_words(void)
{
	struct render_in in = base;
	const char *raw = "From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>\r\n"
			  "Subject: =?iso-8859-1?q?Caf=E9?= und =?utf-8?q?=C3=BCber?=\r\n"
			  "\r\nbody\r\n";
	size_t n, i;
	char *out;
	int raw8 = 0;

	in.author_addr = "joerg@example.de";
	in.author_name = "J\xc3\xb6rg M\xc3\xbcller";
	out = render_with(&in, "encoded", raw, strlen(raw), &n);
	if (!ok(out != NULL, "RFC 2047 subject and name render"))
		return;
	for (i = 0; i < head_len(out, n); i++)
		raw8 |= (unsigned char)out[i] >= 0x80;
	ok(!raw8, "encoded: no raw 8-bit byte in the header section");
	is_header(out, n, "Subject", "[dev] =?utf-8?b?Q2Fmw6k=?= und =?utf-8?b?w7xiZXI=?=",
		  "encoded: ASCII words stay plain");
	free(out);
}

static void test_folding(void)
{
	char raw[6000], words[1600], huge[1300];
	size_t n, i, o = 0;
	char *out;

	for (i = 0; i < 40; i++)
		o += (size_t)sprintf(words + o, "%sword%02zu", i ? " " : "", i);
	for (i = 0; o < 1500; i++)
		o += (size_t)sprintf(words + o, " w%zu", i);
	memset(huge, 'x', 1200);
	huge[1200] = '\0';
	snprintf(raw, sizeof(raw),
		 "From: a@example.org\r\nSubject: %.300s\r\nX-Long: %s\r\n"
		 "X-Huge: %s\r\n\r\nbody\r\n",
		 words, words, huge);
	out = render("long", raw, &n);
	if (ok(out != NULL, "long fields render")) {
		long max = longest_head_line(out, n);
		ok(max > 0 && max <= 78, "long: every header line CRLF and within 78 (longest %ld)",
		   max);
		is_int(hcount(out, n, "X-Huge"), 0,
		       "long: a 1200-octet word cannot be folded: dropped");
	}
	free(out);
	o = 0;
	for (i = 0; i < 60; i++)
		o += (size_t)sprintf(raw + o,
				     "%s\xc3\xbc"
				     "ber%zu \xe6\x97\xa5\xe6\x9c\xac",
				     i ? " " : "", i);
	memmove(raw + 9, raw, o + 1);
	memcpy(raw, "Subject: ", 9);
	strcat(raw, "\r\nFrom: a@example.org\r\n\r\nbody\r\n");
	out = render("long_utf8", raw, &n);
	if (ok(out != NULL, "long UTF-8 subject renders")) {
		long max = longest_head_line(out, n);
		ok(max > 0 && max <= 78, "long_utf8: encoded words folded within 78 (longest %ld)",
		   max);
	}
	free(out);
}

static void test_threading(void)
{
	struct render_in in = base;
	char refs[1000];
	size_t n, i, o = 0;
	char *out;

	for (i = 0; i < 20; i++)
		o += (size_t)sprintf(refs + o, "%s<r%zu@lists.example.org>", i ? " " : "", i);
	in.in_reply_to = "<p1@lists.example.org>";
	in.references = refs;
	out = render_with(&in, "thread", plain_msg, strlen(plain_msg), &n);
	if (ok(out != NULL, "a reply renders")) {
		is_header(out, n, "In-Reply-To", "<p1@lists.example.org>", "thread");
		is_int(hcount(out, n, "References"), 1, "thread: our References only");
		ok(longest_head_line(out, n) <= 78, "thread: References folded");
	}
	free(out);
}

/* test_conversation_headers: what would take replies away from the list
 * or leak the author's receipts is not in a copy; the personal footer is. */
static void test_conversation_headers(void)
{
	static const char *const gone[] = {"Mail-Followup-To", "Mail-Reply-To", "Resent-From",
					   "Resent-Message-ID", "Authentication-Results",
					   "Disposition-Notification-To", "Return-Receipt-To", NULL};
	static const char msg[] =
		"From: Bob <bob@example.org>\r\nTo: dev@lists.example.org\r\nSubject: Re: x\r\n"
		"Message-ID: <b1@example.org>\r\nMail-Followup-To: bob@example.org\r\n"
		"Mail-Reply-To: bob@example.org\r\nResent-From: eve@example.org\r\n"
		"Resent-Message-ID: <r@x>\r\nAuthentication-Results: mx.example.org; dkim=pass\r\n"
		"Disposition-Notification-To: bob@example.org\r\nReturn-Receipt-To: bob@example.org\r\n"
		"X-Kept: yes\r\n\r\nA reply.\r\n";
	struct render_in in = base;
	const char *const *g;
	size_t n;
	char *out;
	int none = 1;

	in.personal_footer = "Mute this thread: mailto:dev+mute-mtok@lists.example.org";
	out = render_with(&in, "conversation", msg, strlen(msg), &n);
	if (!ok(out != NULL, "a reply with conversation-breaking headers renders"))
		return;
	for (g = gone; *g; g++)
		if (hcount(out, n, *g) != 0) {
			none = 0;
			printf("#   still there: %s\n", *g);
		}
	ok(none, "Mail-Followup-To, Mail-Reply-To, Resent-*, Authentication-Results and receipt "
		 "requests are removed");
	is_header(out, n, "X-Kept", "yes", "conversation");
	ok(memmem(out, n, "Mute this thread: mailto:dev+mute-mtok@lists.example.org", 56) != NULL,
	   "the personal footer is added after the list's");
	free(out);
}

static void test_variants(void)
{
	struct render_in in = base;
	struct cfg_list l = list;
	const char *raw = "From: a@example.org\r\nSubject: Re: [DEV] hi\r\n\r\nx\r\n";
	size_t n;
	char *out;

	in.list = &l;
	in.author_name = NULL;
	l.unsubscribe_url = NULL;
	l.archive_url = NULL;
	l.description = NULL;
	out = render_with(&in, NULL, raw, strlen(raw), &n);
	if (ok(out != NULL, "minimal list renders")) {
		is_header(out, n, "From", "\"alice via dev\" <dev@lists.example.org>", "no name");
		is_header(out, n, "Author", "alice@example.org", "no name");
		is_header(out, n, "Subject", "Re: [DEV] hi", "prefix present: subject kept");
		is_header(out, n, "List-Id", "<dev.lists.example.org>", "no description");
		is_header(out, n, "List-Unsubscribe",
			  "<mailto:dev+unsubscribe-tok@lists.example.org>", "no unsubscribe_url");
		is_int(hcount(out, n, "List-Unsubscribe-Post") + hcount(out, n, "List-Archive"), 0,
		       "no URL: no List-Unsubscribe-Post, no List-Archive");
	}
	free(out);
	l.unsubscribe_url = s_http;
	out = render_with(&in, NULL, raw, strlen(raw), &n);
	if (ok(out != NULL, "http unsubscribe URL renders")) {
		is_header(out, n, "List-Unsubscribe",
			  "<mailto:dev+unsubscribe-tok@lists.example.org>, "
			  "<http://lists.example.org/u?l=dev&t=tok123>",
			  "URL with a query");
		is_int(hcount(out, n, "List-Unsubscribe-Post"), 0,
		       "not HTTPS: no List-Unsubscribe-Post (RFC 8058)");
	}
	free(out);
}

/* a URL too long for one header line must not cost the List-Unsubscribe */
static void test_long_url(void)
{
	struct render_in in = base;
	struct cfg_list l = list;
	const char *raw = "From: a@example.org\r\nSubject: x\r\n\r\nx\r\n";
	size_t n;
	char *out;

	in.list = &l;
	l.unsubscribe_url = s_long;
	memcpy(s_long, "https://lists.example.org/", 26);
	memset(s_long + 26, 'u', sizeof(s_long) - 27);
	out = render_with(&in, NULL, raw, strlen(raw), &n);
	if (ok(out != NULL, "a 1100-byte unsubscribe URL renders")) {
		is_header(out, n, "List-Unsubscribe",
			  "<mailto:dev+unsubscribe-tok@lists.example.org>",
			  "URL too long for a header line: mailto only");
		is_int(hcount(out, n, "List-Unsubscribe-Post"), 0, "too long: no one-click");
	}
	free(out);
}

static void test_refused(void)
{
	struct render_in in = base;
	const char *bad[] = {"", "no header here\r\n\r\nbody\r\n", "\r\nbody only\r\n",
			     " continuation first: x\r\n\r\n"};
	size_t i, n;
	int refused = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = render_with(&base, NULL, bad[i], strlen(bad[i]), &n);
		refused += out == NULL;
		free(out);
	}
	is_int(refused, (long long)(sizeof(bad) / sizeof(bad[0])),
	       "messages without a header section refused");
	in.reply_to = "x@example.org\r\nBcc: evil@example.com";
	ok(render_with(&in, NULL, plain_msg, strlen(plain_msg), &n) == NULL,
	   "an input with a line break is refused");
}

/* corpus_one: render FILE with and without the footer; 1 if rendered, 0 if
 * refused, -1 if a copy is malformed. */
static int corpus_one(const char *file, const char *name)
{
	struct render_in in = base;
	struct cfg_list l = list;
	size_t len, n, n2;
	char *raw = tap_slurp(file, &len), *out, *bare;
	int r = 0;

	if (raw == NULL)
		return 0;
	out = render_with(&base, name, raw, len, &n);
	l.footer = NULL;
	in.list = &l;
	bare = render_with(&in, NULL, raw, len, &n2);
	if (out != NULL) {
		long max = longest_head_line(out, n);
		const char *b = bare ? body_of(bare, n2) : NULL;
		size_t bl = b ? n2 - (size_t)(b - bare) : 0;
		r = 1;
		if (max < 0 || max > 998) {
			printf("# %s: header section malformed (longest %ld)\n", file, max);
			r = -1;
		}
		if (b == NULL || !ends_with(raw, len, b, bl)) {
			printf("# %s: without a footer the body is not the author's\n", file);
			r = -1;
		}
	}
	free(out);
	free(bare);
	free(raw);
	return r;
}

static void test_corpus(void)
{
	static const char *const dirs[] = {"rfc", "legacy", "thirdparty", "malformed"};
	const char *src = getenv("TESTS_SRCDIR");
	char path[1024];
	int files = 0, rendered = 0, bad = 0;
	size_t d;

	for (d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		struct dirent **names;
		int i, k;
		snprintf(path, sizeof(path), "%s/corpus/mime/%s", src ? src : ".", dirs[d]);
		k = scandir(path, &names, NULL, alphasort);
		for (i = 0; i < k; i++) {
			if (names[i]->d_name[0] != '.') {
				char file[1400], name[300];
				int r;
				snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
				snprintf(name, sizeof(name), "corpus-%s-%s", dirs[d],
					 names[i]->d_name);
				files++;
				r = corpus_one(file, name);
				rendered += r == 1;
				bad += r < 0;
			}
			free(names[i]);
		}
		if (k >= 0)
			free(names);
	}
	ok(files >= 100, "corpus read: %d messages", files);
	ok(rendered >= files * 9 / 10, "%d of %d corpus messages render", rendered, files);
	is_int(bad, 0,
	       "every corpus copy: well-formed header section; without footer, the body as it was");
}

/* ---- copies from a template (daemon/copy_template.c) ---- */

/* The raw message a template test renders, and the render_in of its list. */
struct tmpl_arg {
	const char *raw;
	size_t len;
	const char *name;	/* author's name in the footer: "" for none */
};

/* tmpl_render: RAW rendered with the personal tokens TK where delivery.c
 * puts them: Reply-To, List-Unsubscribe (address and URL token) and the
 * footer's private reply, mute and follow addresses. */
static char *tmpl_render(void *arg, const struct copy_tokens *tk, size_t *len)
{
	const struct tmpl_arg *a = arg;
	struct render_in in = base;
	char rt[200], un[200], foot[700], err[200];

	snprintf(rt, sizeof(rt), "dev+r-%s@lists.example.org", tk->t[0]);
	snprintf(un, sizeof(un), "dev+unsubscribe-%s@lists.example.org", tk->t[4]);
	snprintf(foot, sizeof(foot),
		 "Reply to %s only: mailto:dev+p-%s@lists.example.org\nMute this thread: "
		 "mailto:dev+mute-%s@lists.example.org\nFollow the replies to this post: "
		 "mailto:dev+follow-%s@lists.example.org", a->name, tk->t[1], tk->t[2], tk->t[3]);
	in.raw = a->raw;
	in.len = a->len;
	in.reply_to = rt;
	in.unsubscribe_addr = un;
	in.unsubscribe_token = tk->t[4];
	in.personal_footer = foot;
	return render_copy(&in, len, err, sizeof(err));
}

/* tmpl_tokens: random base32 tokens of the lengths LEN into BUF and TK. */
static void tmpl_tokens(char buf[COPY_TOKENS][40], const size_t *len, struct copy_tokens *tk,
			unsigned *seed)
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

	for (int i = 0; i < COPY_TOKENS; i++) {
		for (size_t j = 0; j < len[i]; j++) {
			*seed = *seed * 1103515245u + 12345u;
			buf[i][j] = b32[(*seed >> 16) % 32];
		}
		buf[i][len[i]] = '\0';
		tk->t[i] = buf[i];
	}
}

/* tmpl_one: RAW's first copy learnt, then 10 more with other tokens of the
 * same lengths: each from the template must be the full rendering; 1 if
 * the template was trusted, 0 if not, -1 on a copy that differs. */
static int tmpl_one(const char *file, const char *raw, size_t rlen, unsigned *seed)
{
	static const size_t lens[][COPY_TOKENS] = {{12, 12, 11, 11, 9}, {16, 16, 14, 14, 0}};
	struct tmpl_arg a = {raw, rlen, "Alice Example"};
	struct copy_template *t = copy_template_new();
	char buf[COPY_TOKENS][40];
	struct copy_tokens tk;
	size_t n, m;
	int trusted = 0, r = 0;

	for (size_t v = 0; v < 2 && r >= 0; v++) {
		char *first, *got, *want;
		tmpl_tokens(buf, lens[v], &tk, seed);
		if ((first = tmpl_render(&a, &tk, &n)) == NULL)
			break;
		trusted |= copy_template_learn(t, 1, (int)v, &tk, first, n, tmpl_render, &a);
		free(first);
		for (int k = 0; k < 10 && r >= 0; k++) {
			tmpl_tokens(buf, lens[v], &tk, seed);
			if ((got = copy_template_make(t, 1, (int)v, &tk, &m)) == NULL)
				continue;
			want = tmpl_render(&a, &tk, &n);
			if (want == NULL || n != m || memcmp(want, got, n) != 0) {
				printf("# %s: a copy from the template differs from its full rendering\n", file);
				r = -1;
			}
			free(want);
			free(got);
		}
	}
	tmpl_tokens(buf, lens[1], &tk, seed);
	if (r == 0 && copy_template_make(t, 1, 0, &tk, &m) != NULL) {
		printf("# %s: a template made for other token lengths or variant was used\n", file);
		r = -1;
	}
	copy_template_free(t);
	return r < 0 ? -1 : trusted;
}

static void test_templates(void)
{
	static const char *const dirs[] = {"rfc", "legacy", "thirdparty", "malformed"};
	const char *src = getenv("TESTS_SRCDIR");
	int files = 0, trusted = 0, bad = 0;
	unsigned seed = 11;
	char path[1024];
	size_t len;
	char *raw;

	raw = xasprintf("From: a@example.org\r\nSubject: plain\r\n\r\n%s", "Hello.\r\n");
	ok(tmpl_one("plain", raw, strlen(raw), &seed) == 1,
	   "a plain post: its copies come from the template, each the full rendering");
	free(raw);
	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		struct dirent **names;
		int k;
		snprintf(path, sizeof(path), "%s/corpus/mime/%s", src ? src : ".", dirs[d]);
		k = scandir(path, &names, NULL, alphasort);
		for (int i = 0; i < k; i++) {
			char file[1400];
			snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
			if (names[i]->d_name[0] != '.' && (raw = tap_slurp(file, &len)) != NULL) {
				int r = tmpl_one(file, raw, len, &seed);
				files++;
				trusted += r == 1;
				bad += r < 0;
				free(raw);
			}
			free(names[i]);
		}
		if (k >= 0)
			free(names);
	}
	is_int(bad, 0, "%d corpus messages, 10 copies each from a template: every one is the full "
	       "rendering, and no template serves other token lengths", files);
	ok(trusted >= files / 2, "the template is trusted for %d of the %d (the others are rendered "
	   "copy by copy)", trusted, files);
}

/* ---- the Python reader ---- */

static void python_check(void)
{
	(void)tap_python("render_check.py", tmpdir, "python");
}

static void cleanup(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[600];

	if (tap_failures) {
		printf("# copies kept in %s\n", tmpdir);
		if (d)
			closedir(d);
		return;
	}
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		if (unlink(path) < 0)
			printf("# unlink %s: %s\n", path, strerror(errno));
	}
	if (d)
		closedir(d);
	if (rmdir(tmpdir) < 0)
		printf("# rmdir %s: %s\n", tmpdir, strerror(errno));
}

/* A copy of a message without Date gets the time it was archived; one with
 * a Date keeps it, and only it. */
static void test_date(void)
{
	static const char nodate[] = "From: alice@example.org\r\nSubject: no date\r\n\r\nHi\r\n";
	struct render_in in = base;
	size_t n;
	char *out;

	in.date = 1795468857;
	out = render_with(&in, NULL, nodate, strlen(nodate), &n);
	if (ok(out != NULL, "a message without Date renders")) {
		is_header(out, n, "Date", "Mon, 23 Nov 2026 21:20:57 +0000", "no Date");
		is_int(hcount(out, n, "Date"), 1, "no Date: exactly one added");
	}
	free(out);
	out = render_with(&in, NULL, plain_msg, strlen(plain_msg), &n);
	if (ok(out != NULL, "a message with Date renders")) {
		is_header(out, n, "Date", "Tue, 2 Jan 2024 10:00:00 +0100", "with Date");
		is_int(hcount(out, n, "Date"), 1, "with Date: the author's, and only it");
	}
	free(out);
	in.date = 0;
	out = render_with(&in, NULL, nodate, strlen(nodate), &n);
	if (ok(out != NULL, "date 0 renders"))
		is_int(hcount(out, n, "Date"), 0, "date 0: none added");
	free(out);
}

/* from_rewrite "never" or "dmarc" without a strict policy: the author's
 * From as written, no Author:, the rest as always. */
static void test_keep_from(void)
{
	struct render_in in = base;
	size_t n = 0;
	char *out;

	in.keep_from = 1;
	/* not written for render_check.py, which wants the Author: of a list From */
	out = render_with(&in, NULL, plain_msg, strlen(plain_msg), &n);
	ok(out != NULL && strncmp(out, "From: Alice Example <alice@example.org>\r\n", 41) == 0,
	   "keep_from: the author's From field byte for byte, first");
	ok(out != NULL && hcount(out, n, "From") == 1 && hcount(out, n, "Author") == 0 &&
		   hcount(out, n, "Sender") == 0,
	   "keep_from: one From, no Author:, no Sender");
	is_header(out, n, "Reply-To", base.reply_to, "keep_from: the personal Reply-To stays");
	free(out);
	in.keep_from = 0;
	out = render_with(&in, NULL, plain_msg, strlen(plain_msg), &n);
	ok(out != NULL && hcount(out, n, "Author") == 1 &&
		   strstr(out, "via dev\" <dev@lists.example.org>") != NULL,
	   "without keep_from: From is the list's, the author in Author:");
	free(out);
}

int main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_render.XXXXXX", t && t[0] ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "mkdtemp %s: %s", tmpdir, strerror(errno));
		return tap_done();
	}
	setup();
	test_plain();
	test_ascii_footer();
	test_footer_separator();
	test_encodings();
	test_structures();
	test_no_footer();
	test_encoded_words();
	test_folding();
	test_threading();
	test_conversation_headers();
	test_date();
	test_variants();
	test_long_url();
	test_refused();
	test_keep_from();
	test_corpus();
	test_templates();
	python_check();
	cleanup();
	return tap_done();
}
