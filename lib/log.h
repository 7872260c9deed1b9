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
#include <stddef.h>
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

/*
 * A batch of lines that one thread logs together (the delivery results of a
 * group commit): on stderr they leave in one write(2) once the batch is
 * flushed (or its buffer is full), not one write per line; to syslog each
 * line is still its own message, sent at once (a datagram per line is what
 * syslog takes). Lines are the same as log_info's and log_warn's. A batch
 * lives on its thread's stack: log_batch_flush before it goes.
 */
#define LOG_BATCH_BYTES 16384
struct log_batch {
	size_t n;
	char buf[LOG_BATCH_BYTES];
};

/* log_batch_line: one line at level WARN (1) or INFO (0) into B. */
void log_batch_line(struct log_batch *b, int warn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* log_batch_flush: write B's lines out; B is empty again. */
void log_batch_flush(struct log_batch *b);

/* log_fatal: log and exit(1). For impossible states and start-up failures only. */
noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
