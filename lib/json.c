/*
 * json.c - streaming JSON writer (see json.h). Never emits invalid JSON for
 * any input string: control characters (C0, DEL, C1 and the bidi
 * overrides U+202A-U+202E, U+2066-U+2069) are escaped,
 * invalid UTF-8 bytes are replaced with U+FFFD.
 */
#include "autoconf.h"

#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "utf8.h"

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void json_string_raw(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			fputc(c, f);
			p++;
		} else {
			size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (strnlen((const char *)p, n) == n && utf8_valid((const char *)p, n)) {
				if (c == 0xc2 && p[1] <= 0x9f) /* C1 control: escaped */
					fprintf(f, "\\u%04x", p[1]);
				else if (c == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
							(p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
					fprintf(f, "\\u20%02x", ((p[1] & 0x3fu) << 6 | (p[2] & 0x3fu)) & 0xff);
				else
					fwrite(p, 1, n, f);
				p += n;
			} else {
				fputs("\\ufffd", f);
				p++;
			}
		}
	}
	fputc('"', f);
}

static void json_member(struct json *j, const char *key)
{
	if (j->depth > 0 && j->count[j->depth - 1]++ > 0)
		fputc(',', j->f);
	if (key != NULL) {
		json_string_raw(j->f, key);
		fputc(':', j->f);
	}
}

static void json_open(struct json *j, const char *key, int c)
{
	if (j->depth >= JSON_MAX_DEPTH)
		log_fatal("json: nesting too deep");
	json_member(j, key);
	fputc(c, j->f);
	j->count[j->depth++] = 0;
}

static void json_close(struct json *j, int c)
{
	if (j->depth <= 0)
		log_fatal("json: close without open");
	j->depth--;
	fputc(c, j->f);
}

void json_object_open(struct json *j, const char *key)
{
	json_open(j, key, '{');
}

void json_object_close(struct json *j)
{
	json_close(j, '}');
}

void json_array_open(struct json *j, const char *key)
{
	json_open(j, key, '[');
}

void json_array_close(struct json *j)
{
	json_close(j, ']');
}

void json_str(struct json *j, const char *key, const char *val)
{
	json_member(j, key);
	if (val == NULL)
		fputs("null", j->f);
	else
		json_string_raw(j->f, val);
}

void json_int(struct json *j, const char *key, long long val)
{
	json_member(j, key);
	fprintf(j->f, "%lld", val);
}

void json_double(struct json *j, const char *key, double val)
{
	json_member(j, key);
	if (isfinite(val))
		fprintf(j->f, "%.10g", val);
	else
		fputs("null", j->f);
}

void json_bool(struct json *j, const char *key, int val)
{
	json_member(j, key);
	fputs(val ? "true" : "false", j->f);
}

void json_end(struct json *j)
{
	if (j->depth != 0)
		log_fatal("json: document not closed");
	fputc('\n', j->f);
}
