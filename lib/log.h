/*
 * log.h - the one logging module of parley: syslog for the daemon, stderr for
 * the CLI and for `parleyd -f`.
 *
 * Every diagnostic in the project goes through these functions; library code
 * never writes to stdout/stderr directly. The destination is chosen once at
 * start (log_init) and is the only process-wide state this module keeps.
 */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

enum log_dest {
	LOG_DEST_STDERR = 1,	/* "ident: message" on stderr */
	LOG_DEST_SYSLOG = 2,	/* syslog(3), facility mail */
	LOG_DEST_TIMESTAMP = 4	/* with STDERR: prefix an ISO 8601 time (daemon -f) */
};

/* log_init: set the program name and destination; call once, before threads. */
void log_init(const char *ident, int dest);

/* Debug lines are dropped unless log_set_verbose(1). */
void log_set_verbose(int on);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_fatal: log and exit(1). For impossible states and start-up failures only. */
noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
