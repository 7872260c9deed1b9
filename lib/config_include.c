/*
 * config_include.c - the check of @include directives before libconfig
 * reads a configuration (see config_include.h).
 *
 * The scan follows libconfig 1.5's lib/scanner.l: "/" "*" comments, "#"
 * and "//" comments to the end of the line and strings (with backslash
 * escapes) hide what is in them; a directive is `[ \t]*@include[ \t]+"` at
 * the start of a line, its name runs to the next unescaped '"' (line ends
 * included), "\\" and "\"" stand for '\' and '"', another backslash is
 * dropped. libconfig opens INCLUDE_DIR "/" NAME, whatever NAME starts
 * with.
 *
 * Must never: follow a directive libconfig would not, open a file that is
 * not regular (a FIFO's open blocks), or read more than
 * CONFIG_INCLUDE_FILE_MAX of one file.
 */
#include "autoconf.h"

#include "config_include.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

struct scan {
	const char *include_dir;
	int files;	/* inclusions followed so far */
	struct config_include_error *err;
};

__attribute__((format(printf, 4, 5))) static int refuse(struct scan *sc, const char *file, int line,
							 const char *fmt, ...)
{
	va_list ap;

	snprintf(sc->err->file, sizeof(sc->err->file), "%s", file);
	sc->err->line = line;
	va_start(ap, fmt);
	vsnprintf(sc->err->msg, sizeof(sc->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* slurp: all of the regular file open on FD into *BUF (NUL-terminated, *LEN
 * bytes). 0, -1 with errno (EFBIG: larger than the limit). */
static int slurp(int fd, char **buf, size_t *len)
{
	struct stat st;
	size_t n = 0, cap;
	char *b;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	if (st.st_size > CONFIG_INCLUDE_FILE_MAX) {
		errno = EFBIG;
		return -1;
	}
	cap = (size_t)st.st_size + 1;
	b = xmalloc(cap + 1);
	for (;;) {
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) { /* grew since fstat */
			if (cap > CONFIG_INCLUDE_FILE_MAX) {
				free(b);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			b = xrealloc(b, cap + 1);
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int line_of(const char *p, size_t at)
{
	int line = 1;

	for (size_t i = 0; i < at; i++)
		line += p[i] == '\n';
	return line;
}

/* directive: if P[I..N) starts a directive, the index of its name's first
 * byte, else 0. I is at the start of a line. */
static size_t directive(const char *p, size_t n, size_t i)
{
	size_t j = i;

	while (j < n && (p[j] == ' ' || p[j] == '\t'))
		j++;
	if (n - j < 8 || memcmp(p + j, "@include", 8) != 0)
		return 0;
	j += 8;
	if (j >= n || (p[j] != ' ' && p[j] != '\t'))
		return 0;
	while (j < n && (p[j] == ' ' || p[j] == '\t'))
		j++;
	return j < n && p[j] == '"' ? j + 1 : 0;
}

/* include_name: the name that starts at P[I], unescaped into a new string;
 * *END past its closing quote (N if none: libconfig then ends the file). */
static char *include_name(const char *p, size_t n, size_t i, size_t *end, int *nul)
{
	char *name = xmalloc(n - i + 1);
	size_t k = 0;

	*nul = 0;
	while (i < n && p[i] != '"') {
		if (p[i] == '\\') {
			if (i + 1 < n && (p[i + 1] == '\\' || p[i + 1] == '"'))
				name[k++] = p[++i];
			i++;
			continue;
		}
		if (p[i] == '\0')
			*nul = 1;
		name[k++] = p[i++];
	}
	name[k] = '\0';
	*end = i < n ? i + 1 : n;
	return name;
}

static int scan_file(struct scan *sc, const char *file, const char *p, size_t n, int depth);

/* follow: the directive naming NAME at FILE:LINE. */
static int follow(struct scan *sc, const char *file, int line, const char *name, int depth)
{
	char *full;
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd, r;

	if (depth >= CONFIG_INCLUDE_DEPTH_MAX)
		return 0;	/* libconfig: "include file nesting too deep" */
	if (++sc->files > CONFIG_INCLUDE_FILES_MAX)
		return refuse(sc, file, line, "more than %d inclusions in all (a file included again "
				   "counts again)", CONFIG_INCLUDE_FILES_MAX);
	len = strlen(sc->include_dir) + strlen(name) + 2;
	full = xmalloc(len);
	snprintf(full, len, "%s/%s", sc->include_dir, name);
	if (stat(full, &st) < 0) {
		free(full);
		return 0;	/* libconfig: "cannot open include file" */
	}
	if (!S_ISREG(st.st_mode)) {
		r = refuse(sc, file, line, "@include \"%s\": %s is %s", name, full,
			   S_ISDIR(st.st_mode) ? "a directory, not a file" : "not a regular file");
		free(full);
		return r;
	}
	fd = open(full, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		free(full);
		return 0;	/* libconfig's fopen fails the same way, and says so */
	}
	if (slurp(fd, &buf, &len) < 0) {
		r = refuse(sc, file, line, "@include \"%s\": %s", name,
			   errno == EFBIG ? "larger than 4 MiB"
			   : errno == EINVAL ? "not a regular file" : strerror(errno));
		close(fd);
		free(full);
		return r;
	}
	close(fd);
	r = scan_file(sc, full, buf, len, depth + 1);
	free(buf);
	free(full);
	return r;
}

/* scan_file: every directive of FILE's text P[0..N), followed. */
static int scan_file(struct scan *sc, const char *file, const char *p, size_t n, int depth)
{
	size_t i = 0;

	while (i < n) {
		size_t at;
		if ((i == 0 || p[i - 1] == '\n') && (at = directive(p, n, i)) != 0) {
			size_t end;
			int nul, r;
			char *name = include_name(p, n, at, &end, &nul);
			if (nul)
				r = refuse(sc, file, line_of(p, i), "a NUL byte in an @include name");
			else
				r = follow(sc, file, line_of(p, i), name, depth);
			free(name);
			if (r < 0)
				return -1;
			i = end;
		} else if (p[i] == '/' && i + 1 < n && p[i + 1] == '*') {
			const char *close = NULL;
			for (size_t j = i + 2; j + 1 < n; j++)
				if (p[j] == '*' && p[j + 1] == '/') {
					close = p + j;
					break;
				}
			i = close ? (size_t)(close - p) + 2 : n;
		} else if (p[i] == '#' || (p[i] == '/' && i + 1 < n && p[i + 1] == '/')) {
			const char *nl = memchr(p + i, '\n', n - i);
			i = nl ? (size_t)(nl - p) : n;
		} else if (p[i] == '"') {
			for (i++; i < n && p[i] != '"'; i++)
				if (p[i] == '\\')
					i++;
			i++;
		} else {
			i++;
		}
	}
	return 0;
}

int config_include_check(FILE *f, const char *path, const char *include_dir,
			 struct config_include_error *err)
{
	struct scan sc = {include_dir, 0, err};
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (slurp(fileno(f), &buf, &len) < 0) {
		r = refuse(&sc, path, 0, "%s", errno == EFBIG ? "larger than 4 MiB"
					       : errno == EINVAL ? "not a regular file" : strerror(errno));
		rewind(f);
		return r;
	}
	r = scan_file(&sc, path, buf, len, 0);
	free(buf);
	rewind(f);
	return r;
}
