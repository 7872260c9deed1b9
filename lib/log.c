/*
 * log.c - writes parley's diagnostics to stderr or syslog (see log.h).
 *
 * Owns the log destination chosen at start. Must never allocate memory (it is
 * called when allocation failed) and never write to stdout, which carries
 * command output.
 */
#include "autoconf.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "parley";
static int log_dest_flags = LOG_DEST_STDERR;
static int log_verbose;

void log_init(const char *ident, int dest)
{
	log_ident = ident;
	log_dest_flags = dest;
	if (dest & LOG_DEST_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_verbose(int on)
{
	log_verbose = on;
}

static size_t line_format(char *out, size_t len, const char *label, const char *msg);

static void log_emit(int prio, const char *label, const char *fmt, va_list ap)
{
	char msg[2048], line[2200];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_dest_flags & LOG_DEST_SYSLOG)
		syslog(prio, "%s%s", label, msg);
	if ((log_dest_flags & LOG_DEST_STDERR) && line_format(line, sizeof(line), label, msg) > 0)
		fputs(line, stderr);
}

/* line_format: "[STAMP ]IDENT: LABELMSG\n" into OUT (LEN bytes, cut to
 * fit, the line end kept); the length. */
static size_t line_format(char *out, size_t len, const char *label, const char *msg)
{
	char stamp[32] = "";
	int n;

	if (log_dest_flags & LOG_DEST_TIMESTAMP) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	n = snprintf(out, len, "%s%s: %s%s\n", stamp, log_ident, label, msg);
	if (n < 0)
		return 0;
	if ((size_t)n >= len) {	/* cut: keep the line end */
		out[len - 2] = '\n';
		out[len - 1] = '\0';
		return len - 1;
	}
	return (size_t)n;
}

void log_batch_flush(struct log_batch *b)
{
	size_t off = 0;

	while (off < b->n) {
		ssize_t w = write(STDERR_FILENO, b->buf + off, b->n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;	/* nowhere to say so */
		off += (size_t)w;
	}
	b->n = 0;
}

void log_batch_line(struct log_batch *b, int warn, const char *fmt, ...)
{
	const char *label = warn ? "warning: " : "";
	char msg[2048], line[2200];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_dest_flags & LOG_DEST_SYSLOG)
		syslog(warn ? LOG_WARNING : LOG_INFO, "%s%s", label, msg);
	if (!(log_dest_flags & LOG_DEST_STDERR))
		return;
	n = line_format(line, sizeof(line), label, msg);
	if (b->n + n > sizeof(b->buf))
		log_batch_flush(b);
	memcpy(b->buf + b->n, line, n);
	b->n += n;
}

#define LOG_BODY(prio, label)                 \
	do {                                  \
		va_list ap;                   \
		va_start(ap, fmt);            \
		log_emit(prio, label, fmt, ap); \
		va_end(ap);                   \
	} while (0)

void log_debug(const char *fmt, ...)
{
	if (log_verbose)
		LOG_BODY(LOG_DEBUG, "debug: ");
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, "");
}

void log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, "warning: ");
}

void log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, "error: ");
}

void log_fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, "fatal: ");
	exit(1);
}
