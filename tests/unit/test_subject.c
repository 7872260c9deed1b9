/*
 * test_subject.c - base subjects (lib/subject.c): every reply and forward
 * prefix, nesting, counts, the full-width colon, the list prefix and tags
 * anywhere in the chain, words that must stay, bounded output that never
 * splits UTF-8, NULL and empty. Never touches files or the network.
 */
#include "autoconf.h"

#include <string.h>

#include "subject.h"
#include "tap.h"

static const struct {
	const char *in, *prefix, *want;
} cases[] = {
    /* every prefix word, as written in the contract */
    {"Re: Fence", NULL, "fence"},
    {"RE: Fence", NULL, "fence"},
    {"Aw: Fence", NULL, "fence"},
    {"AW: Fence", NULL, "fence"},
    {"SV: Fence", NULL, "fence"},
    {"Sv: Fence", NULL, "fence"},
    {"Antw: Fence", NULL, "fence"},
    {"Antwort: Fence", NULL, "fence"},
    {"R\xc3\xa9"
     "f.: Fence",
     NULL, "fence"},
    {"R\xc3\x89"
     "F. : Fence",
     NULL, "fence"},
    {"Ref: Fence", NULL, "fence"},
    {"RIF: Fence", NULL, "fence"},
    {"R: Fence", NULL, "fence"},
    {"Odp: Fence", NULL, "fence"},
    {"Vs: Fence", NULL, "fence"},
    {"VS: Fence", NULL, "fence"},
    {"Ynt: Fence", NULL, "fence"},
    {"\xe5\x9b\x9e\xe5\xa4\x8d: Fence", NULL, "fence"},
    {"\xe5\x9b\x9e\xe8\xa6\x86: Fence", NULL, "fence"},
    {"\xe7\xad\x94\xe5\xa4\x8d: Fence", NULL, "fence"},
    {"\xe8\xbd\xac\xe5\x8f\x91: Fence", NULL, "fence"},
    {"Fwd: Fence", NULL, "fence"},
    {"FWD: Fence", NULL, "fence"},
    {"Fw: Fence", NULL, "fence"},
    {"WG: Fence", NULL, "fence"},
    {"TR: Fence", NULL, "fence"},
    {"Enc: Fence", NULL, "fence"},
    {"RV: Fence", NULL, "fence"},
    /* any case, full-width colon, counts, French spacing */
    {"rE: fEnCe", NULL, "fence"},
    {"\xe5\x9b\x9e\xe5\xa4\x8d\xef\xbc\x9a\xe5\x9b\xb4\xe6\xa0\x8f", NULL,
     "\xe5\x9b\xb4\xe6\xa0\x8f"},
    {"Re\xef\xbc\x9a Fence", NULL, "fence"},
    {"Re[2]: Fence", NULL, "fence"},
    {"Re(3): Fence", NULL, "fence"},
    {"Re^4: Fence", NULL, "fence"},
    {"Re : Fence", NULL, "fence"},
    {"Re[12] : Fence", NULL, "fence"},
    {"Re:Fence", NULL, "fence"},
    /* nested and mixed, list prefix and tags anywhere in the chain */
    {"RE: AW: Re[2]: [dev] Fwd: x", "[dev]", "x"},
    {"Re: [dev] Re: AW: [dev] Fence", "[dev]", "fence"},
    {"[dev] Re: Fence", "[dev]", "fence"},
    {"[DEV] re: Fence", "[dev]", "fence"},
    {"Re: [other] [dev] Fence", "[dev]", "fence"},
    {"dev: Re: Fence", "dev:", "fence"},
    {"Re: dev: Re: Fence", " dev: ", "fence"},
    {"Re: [PATCH v2] Fence", NULL, "fence"},
    {"Fwd: Re: Fwd: Fence (fwd)", NULL, "fence"},
    {"Fence (FWD)", NULL, "fence"},
    {"Fence (fwd) (fwd)", NULL, "fence"},
    /* words that only begin like a prefix stay */
    {"Rework: the parser", NULL, "rework: the parser"},
    {"Free: stuff", NULL, "free: stuff"},
    {"AWS: outage", NULL, "aws: outage"},
    {"Review: Fence", NULL, "review: fence"},
    {"Trivia: Fence", NULL, "trivia: fence"},
    {"Encore: Fence", NULL, "encore: fence"},
    {"Re Fence", NULL, "re fence"},
    {"Re[x]: Fence", NULL, "re[x]: fence"},
    {"Fence: Re: x", NULL, "fence: re: x"},
    {"The [dev] list", "[dev]", "the [dev] list"},
    {"Fence(fwd)", NULL, "fence(fwd)"},
    /* whitespace and case */
    {"  Re:   Big \t  \r\n Fence  ", NULL, "big fence"},
    {"HeLLo W\xc3\x96rld", NULL, "hello w\xc3\x96rld"},
    {"[unclosed tag", NULL, "[unclosed tag"},
    {"Re:", NULL, ""},
    {"", NULL, ""},
    {"   ", "[dev]", ""},
    {NULL, NULL, ""},
    {NULL, "[dev]", ""},
    {"Re: x", "", "x"},
};

static const struct {
	const char *in, *prefix;
	int want;
} replies[] = {
    {"Re: x", NULL, 1},
    {"AW: x", NULL, 1},
    {"SV: x", NULL, 1},
    {"Antwort: x", NULL, 1},
    {"R\xc3\xa9"
     "f. : x",
     NULL, 1},
    {"RIF: x", NULL, 1},
    {"R: x", NULL, 1},
    {"Odp: x", NULL, 1},
    {"VS: x", NULL, 1},
    {"Ynt: x", NULL, 1},
    {"\xe5\x9b\x9e\xe5\xa4\x8d\xef\xbc\x9a x", NULL, 1},
    {"\xe7\xad\x94\xe5\xa4\x8d: x", NULL, 1},
    {"Re[2]: x", NULL, 1},
    {"[dev] Re: x", "[dev]", 1},
    {"[dev] [other] Re: x", NULL, 1},
    {"Re: Fwd: x", NULL, 1},
    {"Fwd: x", NULL, 0},
    {"Fwd: Re: x", NULL, 0},
    {"WG: x", NULL, 0},
    {"TR: x", NULL, 0},
    {"Enc: x", NULL, 0},
    {"RV: x", NULL, 0},
    {"\xe8\xbd\xac\xe5\x8f\x91: x", NULL, 0},
    {"Rework: x", NULL, 0},
    {"Hello", NULL, 0},
    {"", NULL, 0},
    {NULL, NULL, 0},
};

static void truncation(void)
{
	char out[16];
	/* "héllo 围栏": h, é (2 bytes), l, l, o, space, two 3-byte characters */
	const char *s = "Re: H\xc3\xa9llo \xe5\x9b\xb4\xe6\xa0\x8f";

	is_str(subject_normalise(s, NULL, out, 2), "h", "outlen 2: one byte");
	is_str(subject_normalise(s, NULL, out, 3), "h", "outlen 3: \xc3\xa9 does not fit whole");
	is_str(subject_normalise(s, NULL, out, 4), "h\xc3\xa9", "outlen 4: \xc3\xa9 fits");
	is_str(subject_normalise(s, NULL, out, 9), "h\xc3\xa9llo", "cut after a space: trimmed");
	is_str(subject_normalise(s, NULL, out, 10), "h\xc3\xa9llo",
	       "a 3-byte character that does not fit is left out");
	is_str(subject_normalise(s, NULL, out, 11), "h\xc3\xa9llo \xe5\x9b\xb4",
	       "and kept when it does");
	is_str(subject_normalise(s, NULL, out, 1), "", "outlen 1: empty");
	memcpy(out, "keep", 5);
	ok(subject_normalise(s, NULL, out, 0) == out && strcmp(out, "keep") == 0,
	   "outlen 0: nothing written, OUT returned");
	is_str(subject_normalise("Re: \xe5\x9b", NULL, out, sizeof(out)), "\xe5\x9b",
	       "a truncated sequence in the input is copied, not overrun");
}

/* shown: S (may be NULL) with controls as '.', for a one-line test name */
static const char *shown(const char *s)
{
	static char buf[128];
	size_t i;

	if (s == NULL)
		return "(null)";
	for (i = 0; i < sizeof(buf) - 1 && s[i] != '\0'; i++)
		buf[i] = (unsigned char)s[i] < 0x20 ? '.' : s[i];
	buf[i] = '\0';
	return buf;
}

int main(void)
{
	char out[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_str(subject_normalise(cases[i].in, cases[i].prefix, out, sizeof(out)),
		       cases[i].want, "normalise '%s' (prefix '%s')", shown(cases[i].in),
		       cases[i].prefix ? cases[i].prefix : "(null)");
	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++)
		is_int(subject_is_reply(replies[i].in, replies[i].prefix), replies[i].want,
		       "is_reply '%s'", shown(replies[i].in));
	truncation();
	return tap_done();
}
