/*
 * trim.c - the quote trimmer (see trim.h). Plain text is cut at the end
 * only: the first "hard" cut (signature delimiter, Outlook header block,
 * original/forwarded-message separator, mailing-list footer) ends the new
 * text, then the trailing quote block and its attribution, then a mobile
 * signature left at the end. Quote blocks followed by new text (inline
 * replies) are kept. HTML is converted in one pass, cutting the known quote
 * containers by counting open/close tags of the same name.
 *
 * Must never: recurse in proportion to the input, scan quadratically (every
 * look-ahead and look-behind is bounded), write into a fixed buffer without
 * a bound, or lose a line (what is not in trimmed is in elided).
 */
#include "autoconf.h"

#include "trim.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* ---- growable text buffer ---- */

struct tbuf {
	char *p;
	size_t len, cap;
	size_t line_start; /* offset where the current output line began */
	int at_bol;	   /* nothing written on the current line yet */
	int space;	   /* a collapsed space is pending */
};

static void tb_init(struct tbuf *b)
{
	b->cap = 64;
	b->p = xmalloc(b->cap);
	b->p[0] = '\0';
	b->len = b->line_start = 0;
	b->at_bol = 1;
	b->space = 0;
}

static void tb_put(struct tbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void tb_putc(struct tbuf *b, char c)
{
	tb_put(b, &c, 1);
}

/* tb_take: the buffer's string, handed to the caller. */
static char *tb_take(struct tbuf *b)
{
	char *p = b->p;
	b->p = NULL;
	return p;
}

/* ---- UTF-8 clean-up: CRLF/CR to LF, no NUL, invalid bytes to U+FFFD ---- */

/* utf8_seq: length of the well-formed UTF-8 sequence at S (N bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t want, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		want = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		want = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		want = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < want)
		return 0;
	for (i = 1; i < want; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((want == 3 && cp < 0x800) || (want == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return want;
}

static char *clean_text(const char *text, size_t len, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)text;
	struct tbuf b;
	size_t i = 0, k;

	tb_init(&b);
	while (i < len) {
		if (s[i] == '\0') {
			i++;
		} else if (s[i] == '\r') {
			tb_putc(&b, '\n');
			i += (i + 1 < len && s[i + 1] == '\n') ? 2 : 1;
		} else if ((k = utf8_seq(s + i, len - i)) == 0) {
			tb_put(&b, "\xef\xbf\xbd", 3);
			i++;
		} else {
			tb_put(&b, text + i, k);
			i += k;
		}
	}
	*outlen = b.len;
	return tb_take(&b);
}

/* ---- small string views ---- */

struct sv {
	const char *s;
	size_t n;
};

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

/* sv_trim: S without leading and trailing blanks (ASCII and U+00A0). */
static struct sv sv_trim(struct sv v)
{
	for (;;) {
		if (v.n && is_ws(v.s[0]))
			v.s++, v.n--;
		else if (v.n >= 2 && (unsigned char)v.s[0] == 0xc2 && (unsigned char)v.s[1] == 0xa0)
			v.s += 2, v.n -= 2;
		else
			break;
	}
	for (;;) {
		if (v.n && is_ws(v.s[v.n - 1]))
			v.n--;
		else if (v.n >= 2 && (unsigned char)v.s[v.n - 2] == 0xc2 &&
			 (unsigned char)v.s[v.n - 1] == 0xa0)
			v.n -= 2;
		else
			break;
	}
	return v;
}

static char lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* prefix_ci: 1 if V starts with P, ASCII letters compared without case. */
static int prefix_ci(struct sv v, const char *p)
{
	size_t n = strlen(p), i;

	if (v.n < n)
		return 0;
	for (i = 0; i < n; i++)
		if (lc(v.s[i]) != lc(p[i]))
			return 0;
	return 1;
}

/* find_ci: offset of P in S[0..N) (ASCII case folded), or (size_t)-1. */
static size_t find_ci(const char *s, size_t n, const char *p)
{
	size_t m = strlen(p), i, j;

	if (m == 0 || n < m)
		return (size_t)-1;
	for (i = 0; i + m <= n; i++) {
		for (j = 0; j < m && lc(s[i + j]) == lc(p[j]); j++)
			;
		if (j == m)
			return i;
	}
	return (size_t)-1;
}

/* ---- lines ---- */

enum { L_BLANK, L_QUOTE, L_TEXT };

struct line {
	struct sv raw;
	int kind;
};

static int line_kind(struct sv raw)
{
	struct sv t = sv_trim(raw);

	if (t.n == 0)
		return L_BLANK;
	return t.s[0] == '>' ? L_QUOTE : L_TEXT;
}

/* split_lines: the lines of BUF (LEN bytes, LF ends); *N gets their count. */
static struct line *split_lines(const char *buf, size_t len, size_t *n)
{
	size_t count = 0, cap = 16, i, start = 0;
	struct line *l = xreallocarray(NULL, cap, sizeof(*l));

	for (i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		if (count == cap) {
			cap *= 2;
			l = xreallocarray(l, cap, sizeof(*l));
		}
		l[count].raw.s = buf + start;
		l[count].raw.n = i - start;
		l[count].kind = line_kind(l[count].raw);
		count++;
		start = i + 1;
	}
	*n = count;
	return l;
}

/* ---- hard cuts: signature, separators, Outlook headers, footers ---- */

static int is_sig_delim(struct sv raw)
{
	size_t i;

	if (raw.n < 2 || raw.s[0] != '-' || raw.s[1] != '-')
		return 0;
	for (i = 2; i < raw.n; i++)
		if (!is_ws(raw.s[i]))
			return 0;
	return 1;
}

/* only_char: 1 if V is at least MIN copies of C and nothing else. */
static int only_char(struct sv v, char c, size_t min)
{
	size_t i;

	if (v.n < min)
		return 0;
	for (i = 0; i < v.n; i++)
		if (v.s[i] != c)
			return 0;
	return 1;
}

static const char *const separator_words[] = {"original message",
					      "original-nachricht",
					      "ursprüngliche nachricht",
					      "originalnachricht",
					      "message d'origine",
					      "message original",
					      "mensaje original",
					      "mensagem original",
					      "messaggio originale",
					      "oorspronkelijk bericht",
					      "ursprungligt meddelande",
					      "wiadomość oryginalna",
					      "исходное сообщение",
					      "forwarded message",
					      "weitergeleitete nachricht",
					      "message transféré",
					      "mensaje reenviado",
					      "mensagem encaminhada",
					      "messaggio inoltrato",
					      "doorgestuurd bericht",
					      "vidarebefordrat meddelande",
					      "przekazana wiadomość",
					      "пересланное сообщение",
					      "reply message",
					      NULL};

/* is_separator_line: "-----Original Message-----" and its kin (dashes, words, dashes). */
static int is_separator_line(struct sv raw)
{
	struct sv t = sv_trim(raw), in;
	size_t i;

	if (t.n < 6 || t.n > 120 || t.s[0] != '-' || t.s[1] != '-' || t.s[t.n - 1] != '-')
		return 0;
	in = t;
	while (in.n && in.s[0] == '-')
		in.s++, in.n--;
	while (in.n && in.s[in.n - 1] == '-')
		in.n--;
	for (i = 0; separator_words[i] != NULL; i++)
		if (find_ci(in.s, in.n, separator_words[i]) != (size_t)-1)
			return 1;
	return 0;
}

/* is_separator_words: V is just "Original Message" or kin, without dashes (BlackBerry). */
static int is_separator_words(struct sv v)
{
	size_t i;

	for (i = 0; separator_words[i] != NULL; i++)
		if (v.n == strlen(separator_words[i]) && prefix_ci(v, separator_words[i]))
			return 1;
	return 0;
}

static int is_forward_intro(struct sv raw)
{
	static const char *const intro[] = {
	    "Begin forwarded message:",		 "Anfang der weitergeleiteten Nachricht:",
	    "Début du message réexpédié :",	 "Inicio del mensaje reenviado:",
	    "Início da mensagem reencaminhada:", NULL};
	struct sv t = sv_trim(raw);
	size_t i;

	for (i = 0; intro[i] != NULL; i++)
		if (t.n == strlen(intro[i]) && prefix_ci(t, intro[i]))
			return 1;
	return 0;
}

enum { H_FROM = 1, H_DATE = 2, H_TO = 4, H_CC = 8, H_SUBJECT = 16 };

struct hkey {
	const char *word;
	int group;
};

static const struct hkey header_keys[] = {{"From", H_FROM},
					  {"Von", H_FROM},
					  {"De", H_FROM},
					  {"Van", H_FROM},
					  {"Från", H_FROM},
					  {"Od", H_FROM},
					  {"Da", H_FROM},
					  {"От", H_FROM},
					  {"Sent", H_DATE},
					  {"Date", H_DATE},
					  {"Gesendet", H_DATE},
					  {"Datum", H_DATE},
					  {"Envoyé", H_DATE},
					  {"Enviado el", H_DATE},
					  {"Enviado", H_DATE},
					  {"Enviada em", H_DATE},
					  {"Enviada", H_DATE},
					  {"Fecha", H_DATE},
					  {"Data", H_DATE},
					  {"Verzonden", H_DATE},
					  {"Skickat", H_DATE},
					  {"Wysłano", H_DATE},
					  {"Inviato", H_DATE},
					  {"Отправлено", H_DATE},
					  {"Дата", H_DATE},
					  {"To", H_TO},
					  {"An", H_TO},
					  {"À", H_TO},
					  {"A", H_TO},
					  {"Para", H_TO},
					  {"Aan", H_TO},
					  {"Till", H_TO},
					  {"Do", H_TO},
					  {"Кому", H_TO},
					  {"Cc", H_CC},
					  {"Kopie", H_CC},
					  {"Копия", H_CC},
					  {"Subject", H_SUBJECT},
					  {"Betreff", H_SUBJECT},
					  {"Objet", H_SUBJECT},
					  {"Asunto", H_SUBJECT},
					  {"Assunto", H_SUBJECT},
					  {"Onderwerp", H_SUBJECT},
					  {"Ämne", H_SUBJECT},
					  {"Temat", H_SUBJECT},
					  {"Oggetto", H_SUBJECT},
					  {"Тема", H_SUBJECT},
					  {NULL, 0}};

/* header_group: the H_* group of a "Key: value" header line ("*From:*" too), or 0. */
static int header_group(struct sv raw)
{
	struct sv t = sv_trim(raw), r;
	size_t i;

	while (t.n && t.s[0] == '*')
		t.s++, t.n--;
	for (i = 0; header_keys[i].word != NULL; i++) {
		size_t k = strlen(header_keys[i].word);
		if (!prefix_ci(t, header_keys[i].word))
			continue;
		r.s = t.s + k;
		r.n = t.n - k;
		while (r.n && r.s[0] == '*')
			r.s++, r.n--;
		r = sv_trim(r);
		if (r.n && r.s[0] == ':')
			return header_keys[i].group;
	}
	return 0;
}

static int popcount(int m)
{
	int c = 0;

	for (; m; m &= m - 1)
		c++;
	return c;
}

/* is_header_block: line I starts a quoted message's header block (at least
 * three of From/Date/To/Cc/Subject, From among them, within 12 lines). */
static int is_header_block(const struct line *l, size_t n, size_t i)
{
	int mask = 0, cont = 0;
	size_t j;

	if (l[i].kind != L_TEXT || header_group(l[i].raw) == 0)
		return 0;
	for (j = i; j < n && j < i + 12; j++) {
		int g;
		if (l[j].kind == L_BLANK)
			break;
		if ((g = header_group(l[j].raw)) != 0) {
			mask |= g;
			cont = 0;
		} else if (++cont > 2) {
			break;
		}
	}
	return (mask & H_FROM) && popcount(mask) >= 3;
}

/* is_list_footer: a Mailman footer: underscores, then "... mailing list". */
static int is_list_footer(const struct line *l, size_t n, size_t i)
{
	struct sv next;

	if (!only_char(sv_trim(l[i].raw), '_', 10) || i + 1 >= n)
		return 0;
	next = sv_trim(l[i + 1].raw);
	return next.n >= 12 && find_ci(next.s, next.n, "mailing list") != (size_t)-1;
}

/* above_separator: I, or the separator line (underscores, dashes, "Original
 * Message") just above it, blank lines between allowed. */
static size_t above_separator(const struct line *l, size_t i)
{
	size_t j = i, blanks = 0;

	while (j > 0 && l[j - 1].kind == L_BLANK && blanks < 3)
		j--, blanks++;
	if (j > 0) {
		struct sv t = sv_trim(l[j - 1].raw);
		if (only_char(t, '_', 5) || only_char(t, '-', 5) ||
		    is_separator_line(l[j - 1].raw) || is_separator_words(t))
			return j - 1;
	}
	return i;
}

/* hard_cut: the first line where the new text certainly ends, or N. */
static size_t hard_cut(const struct line *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (l[i].kind != L_TEXT)
			continue;
		if (is_sig_delim(l[i].raw) || is_separator_line(l[i].raw) ||
		    is_forward_intro(l[i].raw) || is_list_footer(l, n, i))
			return i;
		if (is_header_block(l, n, i))
			return above_separator(l, i);
	}
	return n;
}

/* ---- attributions ("On ... wrote:") ---- */

static const char *const attr_words[] = {
    "wrote", "writes",	"schrieb", "a écrit", "escribió", "ha scritto", "escreveu", "schreef",
    "skrev", "napisał", "pisze",   "пишет",   "написал",  "пише",	"написав",  NULL};

static const char *const attr_starts[] = {"On ", "Am ", "Le ",	"El ",	   "Il ",
					  "Em ", "Op ", "Den ", "W dniu ", NULL};

static int has_attr_word(const char *s, size_t n)
{
	size_t i;

	for (i = 0; attr_words[i] != NULL; i++)
		if (find_ci(s, n, attr_words[i]) != (size_t)-1)
			return 1;
	return 0;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* date_start: "26.06.2014, ...", "2014-06-26 ...", "Thu, 26 Jun 2014 ...". */
static int date_start(struct sv v)
{
	static const char *const days[] = {"Mon, ", "Tue, ", "Wed, ", "Thu, ",
					   "Fri, ", "Sat, ", "Sun, ", NULL};
	size_t i = 0;

	while (i < v.n && i < 4 && is_digit(v.s[i]))
		i++;
	if (i > 0 && i + 1 < v.n && (v.s[i] == '.' || v.s[i] == '/' || v.s[i] == '-') &&
	    is_digit(v.s[i + 1]))
		return 1;
	for (i = 0; days[i] != NULL; i++)
		if (prefix_ci(v, days[i]) && v.n > 5 && is_digit(v.s[5]))
			return 1;
	return 0;
}

enum { A_NONE, A_WEAK, A_STRONG };

/* attr_kind: how surely V (one attribution, wrapped lines joined) is one. */
static int attr_kind(struct sv v)
{
	size_t i;

	v = sv_trim(v);
	while (v.n && (v.s[0] == '-' || v.s[0] == ' '))
		v.s++, v.n--;
	if (v.n < 6 || v.n > 400 || v.s[v.n - 1] != ':')
		return A_NONE;
	if (date_start(v)) /* "26.06.2014, 14:41, Jane <j@x>:": sure only with a verb */
		return has_attr_word(v.s, v.n) ? A_STRONG : A_WEAK;
	if (!has_attr_word(v.s, v.n))
		return A_NONE;
	for (i = 0; attr_starts[i] != NULL; i++)
		if (v.n > strlen(attr_starts[i]) &&
		    memcmp(v.s, attr_starts[i], strlen(attr_starts[i])) == 0)
			return A_STRONG;
	if (v.n <= 200 && has_attr_word(v.s + (v.n > 40 ? v.n - 40 : 0), v.n > 40 ? 40 : v.n))
		return A_WEAK;
	return A_NONE;
}

/* attr_lines: K lines ending at A joined, as an attribution of at least
 * kind WANT? Wrapped lines must not end a sentence. */
static int attr_lines(const struct line *l, size_t a, size_t k, int want)
{
	char buf[512];
	size_t len = 0, j;
	struct sv v;

	if (k > a + 1)
		return 0;
	for (j = a + 1 - k; j <= a; j++) {
		struct sv t;
		if (l[j].kind != L_TEXT)
			return 0;
		t = sv_trim(l[j].raw);
		if (len + t.n + 1 > sizeof(buf))
			return 0;
		if (j < a && strchr(".!?:", t.s[t.n - 1]) != NULL)
			return 0;
		if (len)
			buf[len++] = ' ';
		memcpy(buf + len, t.s, t.n);
		len += t.n;
	}
	v.s = buf;
	v.n = len;
	return attr_kind(v) >= want;
}

/* attribution_at: how many lines (1-3) ending at A form an attribution, or
 * 0; a weak one ("Bob wrote:") only when a quote follows (BEFORE_QUOTE). */
static size_t attribution_at(const struct line *l, size_t a, int before_quote)
{
	size_t k;

	for (k = 1; k <= 3; k++)
		if (attr_lines(l, a, k, A_STRONG))
			return k;
	return before_quote && attr_lines(l, a, 1, A_WEAK) ? 1 : 0;
}

/* ---- mobile and mail-app signatures ---- */

static const char *const mobile_sig_starts[] = {"Sent from my ",
						"Sent from ",
						"Sent with ",
						"Sent via ",
						"Get Outlook for ",
						"Von meinem ",
						"Gesendet von meinem ",
						"Gesendet von ",
						"Gesendet mit ",
						"Envoyé de mon ",
						"Envoyé depuis mon ",
						"Envoyé de ",
						"Enviado desde mi ",
						"Enviado desde ",
						"Enviado do meu ",
						"Enviado de meu ",
						"Enviado do ",
						"Inviato da ",
						"Verzonden vanaf mijn ",
						"Verstuurd vanaf mijn ",
						"Skickat från min ",
						"Wysłane z ",
						"Отправлено с ",
						"Надіслано з ",
						NULL};

/* is_mobile_sig: "Sent from my iPhone" and kin: a known start, then a few
 * words without sentence punctuation (a trailing "<url>" allowed). */
static int is_mobile_sig(struct sv raw)
{
	struct sv t = sv_trim(raw), rest;
	size_t i, words = 0;

	if (t.n > 100)
		return 0;
	if (t.n && t.s[t.n - 1] == '>') {
		const char *lt = memchr(t.s, '<', t.n);
		if (lt != NULL) {
			t.n = (size_t)(lt - t.s);
			t = sv_trim(t);
		}
	}
	if (t.n && t.s[t.n - 1] == '.')
		t.n--;
	for (i = 0; mobile_sig_starts[i] != NULL; i++)
		if (prefix_ci(t, mobile_sig_starts[i]))
			break;
	if (mobile_sig_starts[i] == NULL)
		return 0;
	rest.s = t.s + strlen(mobile_sig_starts[i]);
	rest.n = t.n - strlen(mobile_sig_starts[i]);
	if (rest.n == 0 || rest.n > 60)
		return 0;
	for (i = 0; i < rest.n; i++) {
		if (strchr(",;:!?.<>", rest.s[i]) != NULL)
			return 0;
		if (rest.s[i] == ' ' && i > 0 && rest.s[i - 1] != ' ')
			words++;
	}
	return words < 7;
}

/* ---- the tail cut ---- */

/* prev_nonblank: the last non-blank line before E, or (size_t)-1. */
static size_t prev_nonblank(const struct line *l, size_t e)
{
	while (e > 0) {
		e--;
		if (l[e].kind != L_BLANK)
			return e;
	}
	return (size_t)-1;
}

/* tail_cut: where the new text ends, given that it ends by P at the latest:
 * the trailing quote blocks and their attributions go, then mobile signatures. */
static size_t tail_cut(const struct line *l, size_t p)
{
	size_t e = p, j, k;
	int after_quote = 0;

	for (;;) {
		j = prev_nonblank(l, e);
		if (j == (size_t)-1)
			return 0;
		if (l[j].kind == L_QUOTE) {
			while (j > 0 && l[j - 1].kind != L_TEXT)
				j--;
			while (l[j].kind == L_BLANK)
				j++;
			e = j;
			after_quote = 1;
			continue;
		}
		if ((k = attribution_at(l, j, after_quote)) == 0)
			break;
		e = j + 1 - k;
		after_quote = 0;
	}
	while ((j = prev_nonblank(l, e)) != (size_t)-1 && l[j].kind == L_TEXT &&
	       is_mobile_sig(l[j].raw))
		e = j;
	return e;
}

/* ---- output ---- */

/* put_lines: lines [FROM, TO) of L into B, without leading or trailing blank
 * lines; runs of blank lines become one empty line when COLLAPSE. */
static void put_lines(struct tbuf *b, const struct line *l, size_t from, size_t to, int collapse)
{
	size_t i;

	while (from < to && l[from].kind == L_BLANK)
		from++;
	while (to > from && l[to - 1].kind == L_BLANK)
		to--;
	for (i = from; i < to; i++) {
		if (l[i].kind == L_BLANK && collapse) {
			if (l[i - 1].kind != L_BLANK)
				tb_putc(b, '\n');
			continue;
		}
		tb_put(b, l[i].raw.s, l[i].raw.n);
		tb_putc(b, '\n');
	}
}

void trim_result_free(struct trim_result *r)
{
	if (r == NULL)
		return;
	free(r->trimmed);
	free(r->elided);
	r->trimmed = r->elided = NULL;
}

/* ---- HTML to text ---- */

#define MAX_QUOTE_PREFIX 32
#define TAG_NAME_MAX	 16

enum { CUT_NONE, CUT_DEPTH, CUT_REST };

struct cut_block {
	size_t main_off; /* where in the main text the block was */
	char *text;
};

struct conv {
	struct tbuf main, cut;
	struct tbuf *out;
	int do_cut, cutting, cut_depth;
	char cut_tag[TAG_NAME_MAX];
	long bq, pre;
	int no_head_end, no_body; /* a search for "</head" or "<body" already failed */
	struct cut_block *blocks;
	size_t nblocks, capblocks;
};

struct tag {
	char name[TAG_NAME_MAX];
	int closing;
	const char *attrs; /* the raw attribute text */
	size_t attrs_n;
};

/* line_prefix: begin an output line: the quote prefix, once. */
static void line_prefix(struct conv *c)
{
	struct tbuf *b = c->out;
	long i;

	b->at_bol = 0;
	b->space = 0;
	for (i = 0; i < c->bq && i < MAX_QUOTE_PREFIX; i++)
		tb_putc(b, '>');
	if (c->bq > 0)
		tb_putc(b, ' ');
}

/* emit: visible text S[0..N) on the current line. */
static void emit(struct conv *c, const char *s, size_t n)
{
	struct tbuf *b = c->out;

	if (b->at_bol)
		line_prefix(c);
	else if (b->space)
		tb_putc(b, ' ');
	b->space = 0;
	tb_put(b, s, n);
}

/* newline: end the current line (an empty one if nothing is on it),
 * dropping its trailing blanks. */
static void newline(struct conv *c)
{
	struct tbuf *b = c->out;

	if (b->at_bol && c->bq > 0)
		line_prefix(c);
	while (b->len > b->line_start && (b->p[b->len - 1] == ' ' || b->p[b->len - 1] == '\t'))
		b->len--;
	b->p[b->len] = '\0';
	tb_putc(b, '\n');
	b->line_start = b->len;
	b->at_bol = 1;
	b->space = 0;
}

/* block_break: a block boundary: end the line if anything is on it. */
static void block_break(struct conv *c)
{
	if (!c->out->at_bol)
		newline(c);
}

static void put_utf8(struct conv *c, uint32_t cp)
{
	char u[4];

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x20 || cp == 0x7f)
		cp = ' ';
	if (cp < 0x80) {
		u[0] = (char)cp;
		emit(c, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		emit(c, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		emit(c, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		emit(c, u, 4);
	}
}

struct entity {
	const char *name;
	uint32_t cp;
};

static const struct entity entities[] = {
    {"amp", '&'},      {"lt", '<'},	   {"gt", '>'},	      {"quot", '"'},	 {"apos", '\''},
    {"nbsp", ' '},     {"copy", 0xa9},	   {"reg", 0xae},     {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013},  {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"sbquo", 0x201a},
    {"ldquo", 0x201c}, {"rdquo", 0x201d},  {"bdquo", 0x201e}, {"laquo", 0xab},	 {"raquo", 0xbb},
    {"bull", 0x2022},  {"middot", 0xb7},   {"euro", 0x20ac},  {"pound", 0xa3},	 {"yen", 0xa5},
    {"cent", 0xa2},    {"sect", 0xa7},	   {"deg", 0xb0},     {"plusmn", 0xb1},	 {"times", 0xd7},
    {"divide", 0xf7},  {"para", 0xb6},	   {"iexcl", 0xa1},   {"iquest", 0xbf},	 {"ensp", 0x2002},
    {"emsp", 0x2003},  {"thinsp", 0x2009}, {"auml", 0xe4},    {"ouml", 0xf6},	 {"uuml", 0xfc},
    {"Auml", 0xc4},    {"Ouml", 0xd6},	   {"Uuml", 0xdc},    {"szlig", 0xdf},	 {"eacute", 0xe9},
    {"egrave", 0xe8},  {"ecirc", 0xea},	   {"euml", 0xeb},    {"Eacute", 0xc9},	 {"Egrave", 0xc8},
    {"agrave", 0xe0},  {"aacute", 0xe1},   {"acirc", 0xe2},   {"atilde", 0xe3},	 {"aring", 0xe5},
    {"Agrave", 0xc0},  {"Aacute", 0xc1},   {"ccedil", 0xe7},  {"Ccedil", 0xc7},	 {"ntilde", 0xf1},
    {"Ntilde", 0xd1},  {"oacute", 0xf3},   {"ograve", 0xf2},  {"ocirc", 0xf4},	 {"otilde", 0xf5},
    {"oslash", 0xf8},  {"Oslash", 0xd8},   {"uacute", 0xfa},  {"ugrave", 0xf9},	 {"ucirc", 0xfb},
    {"iacute", 0xed},  {"igrave", 0xec},   {"icirc", 0xee},   {"iuml", 0xef},	 {"yacute", 0xfd},
    {"aelig", 0xe6},   {"AElig", 0xc6},	   {"Aring", 0xc5},   {"shy", 0},	 {"zwnj", 0},
    {"zwj", 0},	       {"lrm", 0},	   {"rlm", 0},	      {NULL, 0}};

/* entity: decode the reference at H[0..N) (H[0] is '&'); returns the bytes used. */
static size_t entity(struct conv *c, const char *h, size_t n)
{
	size_t i = 1, j;
	uint32_t cp = 0, base = 10;
	int digits = 0;

	if (i < n && h[i] == '#') {
		i++;
		if (i < n && (h[i] == 'x' || h[i] == 'X')) {
			base = 16;
			i++;
		}
		for (; i < n && digits < 8; i++, digits++) {
			char d = lc(h[i]);
			if (is_digit(d))
				cp = cp * base + (uint32_t)(d - '0');
			else if (base == 16 && d >= 'a' && d <= 'f')
				cp = cp * 16 + (uint32_t)(d - 'a' + 10);
			else
				break;
		}
		if (digits == 0) {
			emit(c, "&", 1);
			return 1;
		}
		if (i < n && h[i] == ';')
			i++;
		put_utf8(c, cp);
		return i;
	}
	for (j = 1;
	     j < n && j < 10 && ((h[j] >= 'a' && h[j] <= 'z') || (h[j] >= 'A' && h[j] <= 'Z')); j++)
		;
	if (j < n && h[j] == ';') {
		for (i = 0; entities[i].name != NULL; i++) {
			if (strlen(entities[i].name) != j - 1 ||
			    memcmp(entities[i].name, h + 1, j - 1))
				continue;
			if (entities[i].cp == ' ')
				emit(c, " ", 1); /* a non-breaking space is not collapsed */
			else if (entities[i].cp != 0)
				put_utf8(c, entities[i].cp);
			return j + 1;
		}
	}
	emit(c, "&", 1);
	return 1;
}

/* text: character data H[0..N) (no tags). */
static void text(struct conv *c, const char *h, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (h[i] == '&') {
			i += entity(c, h + i, n - i);
		} else if (c->pre > 0 && h[i] == '\n') {
			newline(c);
			i++;
		} else if (c->pre == 0 && (is_ws(h[i]) || h[i] == '\n' || h[i] == '\r')) {
			if (!c->out->at_bol)
				c->out->space = 1;
			i++;
		} else {
			for (k = i + 1;
			     k < n && h[k] != '&' && h[k] != '\n' && !is_ws(h[k]) && h[k] != '\r';
			     k++)
				;
			emit(c, h + i, k - i);
			i = k;
		}
	}
}

/* skip_past: the offset just past the first P in H[from..N) (case folded), or N. */
static size_t skip_past(const char *h, size_t n, size_t from, const char *p)
{
	size_t at = find_ci(h + from, n - from, p);

	return at == (size_t)-1 ? n : from + at + strlen(p);
}

/* parse_tag: the tag at H[0] == '<'; returns its length, 0 if it is no tag. */
static size_t parse_tag(const char *h, size_t n, struct tag *t)
{
	size_t i = 1, k = 0;
	char q = 0;

	t->closing = 0;
	if (i < n && h[i] == '/')
		t->closing = 1, i++;
	if (i >= n || !((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z')))
		return 0;
	for (; i < n && (((h[i] | 32) >= 'a' && (h[i] | 32) <= 'z') || is_digit(h[i]) ||
			 h[i] == ':' || h[i] == '-');
	     i++)
		if (k + 1 < sizeof(t->name))
			t->name[k++] = lc(h[i]);
	t->name[k] = '\0';
	t->attrs = h + i;
	for (; i < n; i++) {
		if (q) {
			if (h[i] == q)
				q = 0;
		} else if (h[i] == '"' || h[i] == '\'') {
			q = h[i];
		} else if (h[i] == '>') {
			break;
		}
	}
	t->attrs_n = (size_t)(h + i - t->attrs);
	return i < n ? i + 1 : n;
}

/* attr: the value of attribute NAME in T (unquoted), or a view with s NULL. */
static struct sv attr(const struct tag *t, const char *name)
{
	const char *s = t->attrs, *end = t->attrs + t->attrs_n;
	size_t nl = strlen(name);
	struct sv v = {NULL, 0};

	while (s < end) {
		const char *a;
		size_t an;
		while (s < end && (is_ws(*s) || *s == '\n' || *s == '\r' || *s == '/'))
			s++;
		for (a = s;
		     s < end && *s != '=' && !is_ws(*s) && *s != '\n' && *s != '\r' && *s != '>';)
			s++;
		an = (size_t)(s - a);
		while (s < end && (is_ws(*s) || *s == '\n' || *s == '\r'))
			s++;
		v.s = NULL;
		v.n = 0;
		if (s < end && *s == '=') {
			s++;
			while (s < end && (is_ws(*s) || *s == '\n' || *s == '\r'))
				s++;
			if (s < end && (*s == '"' || *s == '\'')) {
				char q = *s++;
				for (v.s = s; s < end && *s != q; s++)
					;
				v.n = (size_t)(s - v.s);
				if (s < end)
					s++;
			} else {
				for (v.s = s; s < end && !is_ws(*s) && *s != '\n' && *s != '>'; s++)
					;
				v.n = (size_t)(s - v.s);
			}
		}
		if (an == nl && prefix_ci((struct sv){a, an}, name))
			return v.s != NULL ? v : (struct sv){"", 0};
		if (an == 0 && s < end)
			s++;
	}
	v.s = NULL;
	return v;
}

static int attr_has(const struct tag *t, const char *name, const char *needle)
{
	struct sv v = attr(t, name);

	return v.s != NULL && find_ci(v.s, v.n, needle) != (size_t)-1;
}

static int attr_is(const struct tag *t, const char *name, const char *value)
{
	struct sv v = attr(t, name);

	return v.s != NULL && v.n == strlen(value) && prefix_ci(v, value);
}

/* style_has: the style attribute, blanks removed, contains NEEDLE (no blanks). */
static int style_has(const struct tag *t, const char *needle)
{
	struct sv v = attr(t, "style");
	char buf[512];
	size_t i, k = 0;

	if (v.s == NULL)
		return 0;
	for (i = 0; i < v.n && k + 1 < sizeof(buf); i++)
		if (!is_ws(v.s[i]) && v.s[i] != '\n' && v.s[i] != '\r')
			buf[k++] = v.s[i];
	return find_ci(buf, k, needle) != (size_t)-1;
}

/* cut_kind: whether the open tag T starts a quoted block: CUT_DEPTH (up to
 * its matching close), CUT_REST (everything after), or CUT_NONE. */
static int cut_kind(const struct tag *t)
{
	if (attr_has(t, "class", "gmail_quote") || attr_has(t, "class", "gmail_attr") ||
	    attr_has(t, "class", "moz-cite-prefix") || attr_has(t, "class", "yahoo_quoted") ||
	    (strcmp(t->name, "blockquote") == 0 && attr_is(t, "type", "cite")))
		return CUT_DEPTH;
	if (attr_is(t, "id", "divRplyFwdMsg") || attr_is(t, "id", "appendonsend") ||
	    attr_is(t, "id", "stopSpelling") || attr_is(t, "id", "OLK_SRC_BODY_SECTION") ||
	    style_has(t, "border-top:solid#E1E1E1") || style_has(t, "border-top:solid#B5C4DF"))
		return CUT_REST;
	return CUT_NONE;
}

static int name_in(const char *name, const char *const *list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

static const char *const block_tags[] = {
    "address", "article", "aside", "blockquote", "center",     "dd",	 "details", "dir",
    "div",     "dl",	  "dt",	   "fieldset",	 "figcaption", "figure", "footer",  "form",
    "h1",      "h2",	  "h3",	   "h4",	 "h5",	       "h6",	 "header",  "hr",
    "li",      "main",	  "nav",   "ol",	 "p",	       "pre",	 "section", "summary",
    "table",   "tbody",	  "thead", "tfoot",	 "tr",	       "ul",	 "caption", NULL};

static void cut_begin(struct conv *c, int kind, const char *name)
{
	block_break(c);
	c->out = &c->cut;
	c->cutting = kind;
	c->cut_depth = 0;
	snprintf(c->cut_tag, sizeof(c->cut_tag), "%s", name);
}

static void cut_end(struct conv *c)
{
	block_break(c);
	if (c->nblocks == c->capblocks) {
		c->capblocks = c->capblocks ? c->capblocks * 2 : 4;
		c->blocks = xreallocarray(c->blocks, c->capblocks, sizeof(*c->blocks));
	}
	c->blocks[c->nblocks].main_off = c->main.len;
	c->blocks[c->nblocks].text = tb_take(&c->cut);
	c->nblocks++;
	tb_init(&c->cut);
	c->out = &c->main;
	c->cutting = CUT_NONE;
}

/* tag: the effect of tag T on the output. */
static void tag(struct conv *c, const struct tag *t)
{
	int kind;

	if (!t->closing && c->do_cut && c->cutting == CUT_NONE && (kind = cut_kind(t)) != CUT_NONE)
		cut_begin(c, kind, t->name);
	if (c->cutting == CUT_DEPTH && strcmp(t->name, c->cut_tag) == 0)
		c->cut_depth += t->closing ? -1 : 1;
	if (strcmp(t->name, "br") == 0) {
		newline(c);
	} else if (name_in(t->name, block_tags)) {
		block_break(c);
		if (strcmp(t->name, "blockquote") == 0)
			c->bq += t->closing ? (c->bq > 0 ? -1 : 0) : 1;
		if (strcmp(t->name, "pre") == 0)
			c->pre += t->closing ? (c->pre > 0 ? -1 : 0) : 1;
	} else if (!t->closing && (strcmp(t->name, "td") == 0 || strcmp(t->name, "th") == 0)) {
		if (!c->out->at_bol)
			c->out->space = 1;
	}
	if (c->cutting == CUT_DEPTH && c->cut_depth <= 0)
		cut_end(c);
}

/* skip_raw: after an open tag T ending at I, the offset past a raw-text
 * element's content (script, style, head, title), or I. A failed search is
 * remembered in C, so that many unclosed <head>s stay linear. */
static size_t skip_raw(struct conv *c, const char *h, size_t n, size_t i, const struct tag *t)
{
	size_t end = (size_t)-1, body = (size_t)-1;

	if (t->closing)
		return i;
	if (strcmp(t->name, "script") == 0 || strcmp(t->name, "style") == 0 ||
	    strcmp(t->name, "title") == 0 || strcmp(t->name, "textarea") == 0) {
		char close[TAG_NAME_MAX + 3];
		snprintf(close, sizeof(close), "</%s", t->name);
		end = skip_past(h, n, i, close);
		return end < n ? skip_past(h, n, end, ">") : n;
	}
	if (strcmp(t->name, "head") == 0) {
		if (!c->no_head_end && (end = find_ci(h + i, n - i, "</head")) == (size_t)-1)
			c->no_head_end = 1;
		if (!c->no_body && (body = find_ci(h + i, n - i, "<body")) == (size_t)-1)
			c->no_body = 1;
		if (end == (size_t)-1 && body == (size_t)-1)
			return i;
		if (body != (size_t)-1 && (end == (size_t)-1 || body < end))
			return i + body;
		return skip_past(h, n, i + end, ">");
	}
	return i;
}

/* convert: HTML to text into C (main, and the cut blocks when C->do_cut). */
static void convert(struct conv *c, const char *h, size_t n)
{
	size_t i = 0, k;
	struct tag t;

	while (i < n) {
		if (h[i] != '<') {
			for (k = i; k < n && h[k] != '<'; k++)
				;
			text(c, h + i, k - i);
			i = k;
		} else if (n - i >= 4 && memcmp(h + i, "<!--", 4) == 0) {
			i = skip_past(h, n, i + 4, "-->");
		} else if (i + 1 < n && (h[i + 1] == '!' || h[i + 1] == '?')) {
			i = skip_past(h, n, i + 1, ">");
		} else if ((k = parse_tag(h + i, n - i, &t)) == 0) {
			text(c, "&lt;", 4);
			i++;
		} else {
			tag(c, &t);
			i = skip_raw(c, h, n, i + k, &t);
		}
	}
	block_break(c);
	if (c->cutting != CUT_NONE)
		cut_end(c);
}

static void conv_init(struct conv *c, int do_cut)
{
	memset(c, 0, sizeof(*c));
	tb_init(&c->main);
	tb_init(&c->cut);
	c->out = &c->main;
	c->do_cut = do_cut;
}

static void conv_free(struct conv *c)
{
	size_t i;

	for (i = 0; i < c->nblocks; i++)
		free(c->blocks[i].text);
	free(c->blocks);
	free(c->main.p);
	free(c->cut.p);
}

char *trim_html_to_text(const char *html, size_t len)
{
	struct conv c;
	size_t n;
	char *clean = clean_text(html != NULL ? html : "", html != NULL ? len : 0, &n), *r;

	conv_init(&c, 0);
	convert(&c, clean, n);
	r = tb_take(&c.main);
	conv_free(&c);
	free(clean);
	return r;
}

/* last_text_line: the offset of the last line of S that is new text (not
 * blank, not quoted), or (size_t)-1. */
static size_t last_text_line(const char *s, size_t len)
{
	size_t off = 0, last = (size_t)-1;
	const char *nl;
	struct sv line;

	while (off < len) {
		nl = memchr(s + off, '\n', len - off);
		line.s = s + off;
		line.n = nl != NULL ? (size_t)(nl - line.s) : len - off;
		if (line_kind(line) == L_TEXT)
			last = off;
		off += line.n + 1;
	}
	return last;
}

/* append_block: TEXT[0..N) into B as one elided block, without its leading
 * and trailing blank lines; an empty line between blocks. */
static void append_block(struct tbuf *b, const char *text, size_t n)
{
	const char *s = text, *end = text + n, *nl, *ls;

	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL || line_kind((struct sv){s, (size_t)(nl - s)}) != L_BLANK)
			break;
		s = nl + 1;
	}
	for (;;) {
		while (end > s && end[-1] == '\n')
			end--;
		for (ls = end; ls > s && ls[-1] != '\n'; ls--)
			;
		if (ls == end || line_kind((struct sv){ls, (size_t)(end - ls)}) != L_BLANK)
			break;
		end = ls;
	}
	if (end == s)
		return;
	if (b->len)
		tb_putc(b, '\n');
	tb_put(b, s, (size_t)(end - s));
	tb_putc(b, '\n');
}

/* append_lines: lines [FROM, TO) of L into B as one elided block. */
static void append_lines(struct tbuf *b, const struct line *l, size_t from, size_t to)
{
	struct tbuf t;

	tb_init(&t);
	put_lines(&t, l, from, to, 1);
	append_block(b, t.p, t.len);
	free(t.p);
}

/* trim_core: trim the clean text BUF (LEN bytes) into OUT; BL[0..NBL) are
 * blocks cut from HTML, each at the offset BL->main_off of BUF (a line
 * start, ascending), put into elided in their places. */
static void trim_core(const char *buf, size_t len, const struct cut_block *bl, size_t nbl,
		      struct trim_result *out)
{
	struct tbuf tb, eb;
	struct line *l;
	size_t n, e, i = 0, li = 0, from;

	l = split_lines(buf, len, &n);
	e = tail_cut(l, hard_cut(l, n));
	tb_init(&tb);
	tb_init(&eb);
	put_lines(&tb, l, 0, e, 0);
	from = e;
	for (i = 0; i < nbl; i++) {
		while (li < n && (size_t)(l[li].raw.s - buf) < bl[i].main_off)
			li++;
		if (li > from) {
			append_lines(&eb, l, from, li);
			from = li;
		}
		append_block(&eb, bl[i].text, strlen(bl[i].text));
	}
	append_lines(&eb, l, from, n);
	out->trimmed = tb_take(&tb);
	out->elided = tb_take(&eb);
	free(l);
}

int trim_text(const char *text, size_t len, struct trim_result *out)
{
	size_t n;
	char *buf;

	if (out == NULL || (text == NULL && len > 0))
		return -1;
	buf = clean_text(text != NULL ? text : "", len, &n);
	trim_core(buf, n, NULL, 0, out);
	free(buf);
	return 0;
}

int trim_html(const char *html, size_t len, struct trim_result *out)
{
	struct conv c;
	struct tbuf text;
	struct cut_block *gone;
	size_t i, ngone = 0, off = 0, last, n;
	char *clean;

	if (out == NULL || (html == NULL && len > 0))
		return -1;
	clean = clean_text(html != NULL ? html : "", len, &n);
	conv_init(&c, 1);
	convert(&c, clean, n);
	free(clean);
	tb_init(&text);
	gone = xreallocarray(NULL, c.nblocks + 1, sizeof(*gone));
	last = last_text_line(c.main.p, c.main.len);
	for (i = 0; i < c.nblocks; i++) {
		struct cut_block *bl = &c.blocks[i];
		tb_put(&text, c.main.p + off, bl->main_off - off);
		off = bl->main_off;
		if (last != (size_t)-1 && bl->main_off <= last) {
			tb_put(&text, bl->text, strlen(bl->text)); /* an inline reply: kept */
		} else {
			gone[ngone].main_off = text.len;
			gone[ngone++].text = bl->text;
		}
	}
	tb_put(&text, c.main.p + off, c.main.len - off);
	trim_core(text.p, text.len, gone, ngone, out);
	free(gone);
	free(text.p);
	conv_free(&c);
	return 0;
}
