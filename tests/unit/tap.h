/*
 * tap.h - a minimal Test Anything Protocol producer for the unit tests.
 * Each check prints "ok N - name" or "not ok N - name" with a diagnostic;
 * tap_done() prints the plan and returns the exit status. Test code only.
 */
#ifndef PARLEY_TAP_H
#define PARLEY_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

static int tap_count, tap_failures;

__attribute__((format(printf, 2, 3))) static int tap_ok(int pass, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!pass)
		tap_failures++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

/* is_str: GOT equals WANT (both may be NULL). */
#define is_str(got, want, ...)                                                              \
	do {                                                                                \
		const char *g_ = (got), *w_ = (want);                                       \
		int p_ = (g_ == NULL || w_ == NULL) ? g_ == w_ : strcmp(g_, w_) == 0;       \
		if (!tap_ok(p_, __VA_ARGS__))                                               \
			printf("#   got:      '%s'\n#   expected: '%s'\n", g_ ? g_ : "(null)", \
			       w_ ? w_ : "(null)");                                          \
	} while (0)

#define is_int(got, want, ...)                                                            \
	do {                                                                              \
		long long g_ = (got), w_ = (want);                                        \
		if (!tap_ok(g_ == w_, __VA_ARGS__))                                       \
			printf("#   got:      %lld\n#   expected: %lld\n", g_, w_);       \
	} while (0)

/* tap_slurp: the whole file PATH, NUL-terminated past *LEN; NULL if unreadable. */
__attribute__((unused)) static char *tap_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0) {
		if (f)
			fclose(f);
		return NULL;
	}
	rewind(f);
	if ((buf = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}

/*
 * tap_python: run $PYTHON3 (or python3) on $TESTS_SRCDIR/unit/SCRIPT with
 * ARG; each "ok ..." / "not ok ..." line it prints becomes a check of ours
 * named "LABEL: ...", other lines diagnostics; a non-zero exit is a failed
 * check. Returns the number of its checks that passed.
 */
__attribute__((unused)) static int tap_python(const char *script_name, const char *arg,
					      const char *label)
{
	const char *py = getenv("PYTHON3"), *src = getenv("TESTS_SRCDIR");
	char script[1024], line[4096];
	int fd[2], status, checks = 0;
	pid_t pid;
	FILE *f;

	if (py == NULL || py[0] == '\0')
		py = "python3";
	snprintf(script, sizeof(script), "%s/unit/%s", src ? src : ".", script_name);
	if (access(script, R_OK) != 0 || pipe(fd) < 0) {
		ok(0, "%s runs (%s: %s)", script_name, script, strerror(errno));
		return 0;
	}
	fflush(stdout);
	if ((pid = fork()) < 0) {
		ok(0, "fork: %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		close(fd[0]);
		if (dup2(fd[1], 1) < 0)
			_exit(127);
		execlp(py, py, script, arg, (char *)NULL);
		printf("not ok cannot run %s: %s\n", py, strerror(errno));
		_exit(127);
	}
	close(fd[1]);
	if ((f = fdopen(fd[0], "r")) == NULL) {
		ok(0, "fdopen: %s", strerror(errno));
		close(fd[0]);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "ok ", 3) == 0)
			checks += ok(1, "%s: %s", label, line + 3);
		else if (strncmp(line, "not ok ", 7) == 0)
			ok(0, "%s: %s", label, line + 7);
		else
			printf("%s%s\n", line[0] == '#' ? "" : "# ", line);
	}
	fclose(f);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		ok(0, "%s exits 0 (status %d)", script_name, status);
	return checks;
}

#endif
