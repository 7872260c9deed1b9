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
#include <syslog.h>
#include <time.h>

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

static void log_emit(int prio, const char *label, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_dest_flags & LOG_DEST_SYSLOG)
		syslog(prio, "%s%s", label, msg);
	if (log_dest_flags & LOG_DEST_STDERR) {
		char stamp[32] = "";
		if (log_dest_flags & LOG_DEST_TIMESTAMP) {
			time_t now = time(NULL);
			struct tm tm;
			gmtime_r(&now, &tm);
			strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
		}
		fprintf(stderr, "%s%s: %s%s\n", stamp, log_ident, label, msg);
	}
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
