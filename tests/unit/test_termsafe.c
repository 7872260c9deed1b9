/*
 * test_termsafe.c - the terminal escaping of lib/termsafe.c and the JSON
 * escaping of lib/json.c for the same characters: C0, DEL, C1 (U+0080 to
 * U+009F), bidi overrides and bytes that are not UTF-8 never come out as
 * they are; other UTF-8 text does, whole.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"
#include "termsafe.h"

/* out: what termsafe_write makes of S[0..N) with FLAGS; caller frees. */
static char *out(const char *s, size_t n, int flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	termsafe_write(f, s, n, flags);
	fclose(f);
	return buf;
}

static void check(const char *s, size_t n, int flags, const char *want, const char *name)
{
	char *got = out(s, n, flags);
	is_str(got, want, "%s", name);
	free(got);
}

static char *json_of(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	json_init(&j, f);
	json_str(&j, NULL, s);
	fclose(f);
	return buf;
}

int main(void)
{
	char *j;

	check("plain caf\xc3\xa9 \xe2\x80\xa6", 15, 0, "plain caf\xc3\xa9 \xe2\x80\xa6", "UTF-8 text as is");
	check("a\x1b[2Jb", 6, 0, "a\\x1b[2Jb", "ESC as \\x1b");
	check("x\xc2\x9b" "2J", 5, 0, "x\\u009b2J", "the 8-bit CSI (U+009B) as \\u009b");
	check("\xc2\x80\xc2\x9f\xc2\xa0", 6, 0, "\\u0080\\u009f\xc2\xa0", "U+0080 and U+009F escaped, U+00A0 kept");
	check("r\xe2\x80\xaeL\xe2\x81\xa6", 8, 0, "r\\u202eL\\u2066", "bidi overrides escaped");
	check("bad\xff\xfe\xc3", 6, 0, "bad\\xff\\xfe\\xc3", "invalid bytes, and a cut sequence, as \\xHH");
	check("\xe0\x80\xaf", 3, 0, "\\xe0\\x80\\xaf", "an overlong form is invalid");
	check("del\x7f\0n", 6, 0, "del\\x7f\\x00n", "DEL and NUL escaped (N bytes, not the string)");
	check("l1\n\tl2\r\n", 8, 0, "l1\n\tl2\\x0d\n", "multi-line: LF and TAB kept, CR escaped");
	check("l1\n\tl2\r\n", 8, TERMSAFE_ONE_LINE, "l1  l2  ", "one line: TAB, CR, LF as spaces");
	j = json_of("x\xc2\x9b\xe2\x80\xae\x1b\xff\xc3\xa9");
	is_str(j, "\"x\\u009b\\u202e\\u001b\\ufffd\xc3\xa9\"", "JSON: C1, bidi, ESC escaped, invalid U+FFFD");
	free(j);
	return tap_done();
}
