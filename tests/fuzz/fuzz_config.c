/*
 * fuzz_config.c - libFuzzer target: the configuration loader (lib/
 * config.c over libconfig) on any file: syntax, types, ranges, lists,
 * authors, includes. The input is written to a scratch file and loaded;
 * a loaded configuration is freed, a refused one must say why.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = {0};
	struct config *cfg;
	char path[4200];
	FILE *f;

	fuzz_setup(0);
	snprintf(path, sizeof(path), "%s/input.conf", fuzz_dir());
	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	cfg = config_load(path, 0, &errs);
	if (cfg == NULL && errs.n == 0)
		abort();
	config_free(cfg);
	config_errors_free(&errs);
	return 0;
}
