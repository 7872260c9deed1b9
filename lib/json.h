/*
 * json.h - a small streaming JSON writer for `--json` output.
 *
 * Writes straight to a FILE; escapes every string (RFC 8259). It never
 * buffers a whole document, so listing 100,000 subscribers costs no memory.
 * Misnesting is a programming error and aborts.
 */
#ifndef PARLEY_JSON_H
#define PARLEY_JSON_H

#include <stdio.h>

/* Deep enough for a thread's tree of replies nested by `parley archive thread`
 * (it flattens below a bound of its own); 256 bytes per writer. */
#define JSON_MAX_DEPTH 64

struct json {
	FILE *f;
	int depth;
	int count[JSON_MAX_DEPTH];	/* members written at each level */
};

void json_init(struct json *j, FILE *f);
/* KEY is the member name inside an object, NULL inside an array or at top. */
void json_object_open(struct json *j, const char *key);
void json_object_close(struct json *j);
void json_array_open(struct json *j, const char *key);
void json_array_close(struct json *j);
/* json_str: VAL NULL writes null. */
void json_str(struct json *j, const char *key, const char *val);
void json_int(struct json *j, const char *key, long long val);
void json_double(struct json *j, const char *key, double val);
void json_bool(struct json *j, const char *key, int val);
/* json_end: finish the document with a newline. */
void json_end(struct json *j);

#endif
