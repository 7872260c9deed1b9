/*
 * spool.h - the durable spool of accepted mail (spool/README).
 *
 * Every way mail comes in (LMTP, SMTP, IMAP, `parley inject`) writes it here
 * the same way: spool_begin() creates incoming/tmp/ID holding the envelope
 * and the trace header, spool_write() appends the message bytes, and
 * spool_commit() fsyncs the file, renames it into incoming/new and fsyncs
 * that directory. Only after spool_commit() returns 0 may a message be
 * acknowledged. Ingest reads incoming/new with spool_list/spool_load and
 * removes a file only after the store has committed its content.
 *
 * File format: "PARLEY-SPOOL 1", then "key: value" lines (queue-id,
 * received, proto, client, helo, tls, source, sender, rcpt...), an empty
 * line, then the message exactly as received (CRLF line ends).
 */
#ifndef PARLEY_SPOOL_H
#define PARLEY_SPOOL_H

#include <stddef.h>
#include <time.h>

#include "config.h"

#define SPOOL_ID_MAX 48

struct envelope {
	char queue_id[SPOOL_ID_MAX];	/* the spool file's name; follows the message */
	long long received;		/* seconds since the epoch */
	char *proto;			/* "ESMTP", "ESMTPS", "LMTP", "IMAP", "INJECT" */
	char *client;			/* "[192.0.2.1]:port", "unix", "imap:host", "stdin" */
	char *helo;			/* may be NULL */
	char *tls;			/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or NULL */
	char *source;			/* IMAP: "imap:user@host/FOLDER;UIDVALIDITY;UID" or NULL */
	char *sender;			/* "" for the null return path <> */
	struct strv rcpts;		/* normalised recipients, at least one */
};

struct spool_writer;

/* spool_init: create DIR's incoming/tmp, incoming/new and quarantine (0700)
 * if missing; 0, or -1 logged. */
int spool_init(const char *dir);

/* spool_lock: take the exclusive lock of DIR (file .lock inside it), held
 * until the returned descriptor is closed; -1 (logged) if another daemon
 * holds it. Two daemons never share a spool. */
int spool_lock(const char *dir);

/* spool_new_id: a fresh queue id, unique across processes, into OUT. */
void spool_new_id(char out[SPOOL_ID_MAX]);

/*
 * spool_begin: create the temporary file for a message with envelope ENV
 * (its queue_id is set here if empty) and write the envelope and TRACE (a
 * Received: header, or NULL). MAX_SIZE bounds the message bytes. NULL on
 * error (logged; errno kept: ENOSPC, EDQUOT...).
 */
struct spool_writer *spool_begin(const char *dir, struct envelope *env, const char *trace,
				 long long max_size);

/* spool_write: append message bytes. 0; 1 if the message passed MAX_SIZE
 * (later bytes are dropped, commit will refuse); -1 on a write error. */
int spool_write(struct spool_writer *w, const void *buf, size_t len);

/* spool_size: message bytes written so far (counted past MAX_SIZE too). */
long long spool_size(const struct spool_writer *w);

/* spool_commit: make the message durable in incoming/new and free W.
 * 0 on success; -1 (logged, nothing left behind) if writing, fsync or
 * rename failed or the message was over MAX_SIZE. */
int spool_commit(struct spool_writer *w);

/* spool_abort: discard the temporary file and free W. */
void spool_abort(struct spool_writer *w);

/* spool_list: the ids waiting in incoming/new, oldest first. 0 or -1. */
int spool_list(const char *dir, struct strv *ids);

/*
 * spool_load: read incoming/new/ID. Fills ENV and *MSG (malloc'd, *LEN
 * bytes, NUL-terminated past the end). Returns 0, 1 if the file is gone, or
 * -1 if it cannot be read or its envelope is malformed (logged).
 */
int spool_load(const char *dir, const char *id, struct envelope *env, char **msg, size_t *len);

/* spool_remove: delete incoming/new/ID durably. 0 or -1 (logged). */
int spool_remove(const char *dir, const char *id);

/* spool_quarantine: move incoming/new/ID to quarantine/ID, with REASON in
 * quarantine/ID.reason. 0 or -1 (logged). */
int spool_quarantine(const char *dir, const char *id, const char *reason);

/* spool_clean_tmp: remove files in incoming/tmp older than AGE seconds
 * (left by a crash before commit: never acknowledged). Returns the count. */
int spool_clean_tmp(const char *dir, int age);

void envelope_init(struct envelope *env);
void envelope_free(struct envelope *env);

#endif
