/*
 * replay.c - `make check`'s driver for a fuzz target, built with the normal
 * compiler (and with the sanitizers in the asan build), no libFuzzer: the
 * program replay_NAME feeds every file of tests/fuzz/regress/NAME (inputs
 * that once crashed a target) and tests/fuzz/seeds/NAME to fuzz_NAME's
 * LLVMFuzzerTestOneInput, one TAP line each. A crash, a sanitizer report
 * or a failed check inside the target ends the program, which fails the
 * test. Files named on the command line are replayed instead.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strv.h"
#include "xalloc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_SECONDS 60	/* one input taking longer is a hang: the test fails */

static void hung(int sig)
{
	static const char msg[] = "Bail out! an input ran for more than 60 s (a hang)\n";

	(void)sig;
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

/* slurp: PATH's bytes, malloc'd; NULL if it cannot be read. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (f == NULL)
		return NULL;
	do {
		if (n == cap)
			buf = xrealloc(buf, cap = cap ? cap * 2 : 4096);
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

/* add_dir: the regular files of DIR, sorted, appended to OUT. */
static void add_dir(const char *dir, struct strv *out)
{
	struct strv names = {NULL, 0};
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			strv_push(&names, e->d_name);
	closedir(d);
	strv_sort(&names);
	for (size_t i = 0; i < names.n; i++) {
		struct stat sb;
		snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			strv_push(out, path);
	}
	strv_free(&names);
}

int main(int argc, char **argv)
{
	const char *srcdir = getenv("TESTS_SRCDIR"), *base = strrchr(argv[0], '/');
	const char *name;
	struct strv files = {NULL, 0};
	char dir[4096];

	signal(SIGALRM, hung);
	base = base ? base + 1 : argv[0];
	name = strncmp(base, "replay_", 7) == 0 ? base + 7 : base;
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			strv_push(&files, argv[i]);
	} else {
		snprintf(dir, sizeof(dir), "%s/fuzz/regress/%s", srcdir ? srcdir : ".", name);
		add_dir(dir, &files);
		snprintf(dir, sizeof(dir), "%s/fuzz/seeds/%s", srcdir ? srcdir : ".", name);
		add_dir(dir, &files);
	}
	printf("1..%zu\n", files.n ? files.n : 1);
	if (files.n == 0)
		printf("ok 1 # SKIP no inputs for fuzz target %s\n", name);
	for (size_t i = 0; i < files.n; i++) {
		size_t len = 0;
		uint8_t *buf = slurp(files.v[i], &len);
		if (buf == NULL) {
			printf("not ok %zu - %s: cannot read\n", i + 1, files.v[i]);
			continue;
		}
		fflush(stdout);
		alarm(REPLAY_SECONDS);
		LLVMFuzzerTestOneInput(buf, len);
		alarm(0);
		free(buf);
		printf("ok %zu - %s %s\n", i + 1, name, files.v[i]);
	}
	strv_free(&files);
	return 0;
}
