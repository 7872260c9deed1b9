/*
 * test_csv.c - the CSV dialect of import/export (tools/csv.c): splitting,
 * quoting, malformed records, and that every written record reads back.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "tap.h"

static int split(const char *in, char **f, char *buf, size_t len)
{
	snprintf(buf, len, "%s", in);
	return csv_split(buf, f, 8);
}

static void test_split(void)
{
	char buf[256], *f[8];

	is_int(split("a@example.org", f, buf, sizeof(buf)), 1, "one field");
	is_str(f[0], "a@example.org", "one field value");
	is_int(split("a@example.org,Ann,digest", f, buf, sizeof(buf)), 3, "three fields");
	is_str(f[1], "Ann", "second field");
	is_str(f[2], "digest", "third field");
	is_int(split(" a@example.org , Ann Lee ,", f, buf, sizeof(buf)), 3, "trailing empty field");
	is_str(f[0], "a@example.org", "spaces around a field trimmed");
	is_str(f[1], "Ann Lee", "inner space kept");
	is_str(f[2], "", "empty last field");
	is_int(split("a@example.org,\"Lee, Ann \"\"Al\"\"\",posts", f, buf, sizeof(buf)), 3,
	       "quoted field with comma and quotes");
	is_str(f[1], "Lee, Ann \"Al\"", "unquoted value");
	is_str(f[2], "posts", "field after a quoted one");
	is_int(split("a,,b", f, buf, sizeof(buf)), 3, "empty middle field");
	is_str(f[1], "", "empty middle value");
	is_int(split("\"unterminated,x", f, buf, sizeof(buf)), -1, "unterminated quote refused");
	is_int(split("\"a\"b,c", f, buf, sizeof(buf)), -1, "text after closing quote refused");
	is_int(split("a\"b,c", f, buf, sizeof(buf)), -1, "quote inside bare field refused");
	is_int(split("1,2,3,4,5,6,7,8,9", f, buf, sizeof(buf)), -1, "too many fields refused");
}

static void test_roundtrip(void)
{
	const char *rows[][3] = {{"a@example.org", "Ann", "all"},
				 {"b@example.org", "Lee, \"Bo\"", "digest"},
				 {"c@example.org", " padded ", ""},
				 {"d@example.org", "", "nomail"}};
	char *out = NULL, *line, *save = NULL, *f[8];
	size_t len = 0, i;
	FILE *m = open_memstream(&out, &len);

	for (i = 0; i < 4; i++)
		csv_write_row(m, rows[i], 3);
	fclose(m);
	ok(strstr(out, "\"Lee, \"\"Bo\"\"\"") != NULL, "quotes doubled inside a quoted field");
	ok(strstr(out, "\r\n") != NULL, "records end in CRLF");
	for (i = 0, line = strtok_r(out, "\n", &save); line && i < 4;
	     line = strtok_r(NULL, "\n", &save), i++) {
		line[strcspn(line, "\r")] = '\0';
		if (!ok(csv_split(line, f, 8) == 3, "record %zu splits", i))
			continue;
		is_str(f[0], rows[i][0], "record %zu address", i);
		is_str(f[1], rows[i][1], "record %zu name reads back", i);
		is_str(f[2], rows[i][2], "record %zu mode", i);
	}
	free(out);
}

int main(void)
{
	test_split();
	test_roundtrip();
	return tap_done();
}
