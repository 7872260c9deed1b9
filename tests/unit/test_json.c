/*
 * test_json.c - the streaming JSON writer (lib/json.c): structure, commas,
 * escaping of quotes and controls, UTF-8 kept, invalid bytes replaced.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "tap.h"

int main(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	struct json j;

	json_init(&j, m);
	json_object_open(&j, NULL);
	json_str(&j, "s", "a\"b\\c\n\x01");
	json_str(&j, "utf8", "J\xc3\xb6rg");
	json_str(&j, "bad", "x\xff" "y");
	json_str(&j, "null", NULL);
	json_int(&j, "n", -42);
	json_double(&j, "d", 0.5);
	json_bool(&j, "t", 1);
	json_array_open(&j, "a");
	json_int(&j, NULL, 1);
	json_object_open(&j, NULL);
	json_object_close(&j);
	json_array_open(&j, NULL);
	json_array_close(&j);
	json_array_close(&j);
	json_object_close(&j);
	json_end(&j);
	fclose(m);
	is_str(out,
	       "{\"s\":\"a\\\"b\\\\c\\u000a\\u0001\",\"utf8\":\"J\xc3\xb6rg\",\"bad\":\"x\\ufffdy\","
	       "\"null\":null,\"n\":-42,\"d\":0.5,\"t\":true,\"a\":[1,{},[]]}\n",
	       "document");
	free(out);
	return tap_done();
}
