/*
 * fuzz.h - what every fuzz target of tests/fuzz shares: the libFuzzer entry
 * points, and a scratch setup (a temporary directory with a spool, a store,
 * a token key and a configuration with two lists) made once per process.
 *
 * The same target sources are linked with libFuzzer by `make fuzz` (clang)
 * and with replay.c by `make check` (any compiler), which feeds them the
 * regression inputs of tests/fuzz/regress. A target must never keep state
 * from one input to the next beyond this setup, and must free all it
 * allocates (leaks are findings).
 */
#ifndef PARLEY_FUZZ_H
#define PARLEY_FUZZ_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* fuzz_setup: the scratch configuration (made on first call; RELAY_PORT is
 * written as daemon.relay.port, 0 for the default). Aborts on failure. */
struct config *fuzz_setup(int relay_port);

/* fuzz_setup_imap: the same, with three IMAP mailboxes on 127.0.0.1 port
 * IMAP_PORT without TLS: "seen", "delete" (both for dev@) and "move"
 * (folder Lists, move_to Done, for news@). Only one of fuzz_setup and
 * fuzz_setup_imap makes the setup: the first called. */
struct config *fuzz_setup_imap(int imap_port);

/* fuzz_runtime: the runtime of the scratch setup (after fuzz_setup). */
struct runtime;
struct runtime *fuzz_runtime(void);

/* fuzz_dir: the scratch directory (after fuzz_setup). */
const char *fuzz_dir(void);

/* fuzz_str: DATA as a NUL-terminated malloc'd string (NULs kept inside). */
char *fuzz_str(const uint8_t *data, size_t size);

/* fuzz_spool_clean: delete the messages a target left in the spool. */
void fuzz_spool_clean(void);

/* fuzz_feed: write all of DATA to FD, shut its writing side (EOF for the
 * peer), then read and drop until the peer closes. */
void fuzz_feed(int fd, const uint8_t *data, size_t size);

/* fuzz_listen: a listening socket on 127.0.0.1, its port in *PORT. Aborts
 * on failure. */
int fuzz_listen(int *port);

/* A peer for a client target: a thread on listener LFD whose first
 * connection gets DATA (fuzz_feed); a later one (the client setting a
 * dropped session up again) is closed at once. */
struct fuzz_server {
	int lfd;
	const uint8_t *data;
	size_t size;
	int done[2];	/* a pipe: readable once the client is done */
	pthread_t thread;
};

/* fuzz_server_start: start S on LFD for DATA; fuzz_server_stop: tell it the
 * client is done and join it. */
void fuzz_server_start(struct fuzz_server *s, int lfd, const uint8_t *data, size_t size);
void fuzz_server_stop(struct fuzz_server *s);

/* fuzz_session: run SESSION (smtp_session or http_session) on one end of a
 * socket pair while DATA is written to the other end, then EOF; the replies
 * are read and dropped. */
struct smtp_session_args;
void fuzz_session(void (*session)(const struct smtp_session_args *), int lmtp,
		  const uint8_t *data, size_t size);
#endif
