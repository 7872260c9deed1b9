/*
 * smtp_server.h - the SMTP (RFC 5321) and LMTP (RFC 2033) server side of one
 * client connection: commands, pipelining, STARTTLS, DATA with
 * dot-unstuffing, limits, and the hand-over of each message to the spool.
 *
 * A 250 reply to DATA is sent only after spool_commit() returned 0. End of
 * data is <CRLF>.<CRLF> only; a bare CR or LF anywhere in DATA gets the
 * message refused, so no second message can be smuggled inside one.
 */
#ifndef PARLEY_SMTP_SERVER_H
#define PARLEY_SMTP_SERVER_H

#include <openssl/ssl.h>

#include "runtime.h"

struct smtp_session_args {
	int fd;
	int lmtp;		/* 1: LMTP dialect */
	char peer[80];		/* "[192.0.2.1]:port", "[::1]:port" or "unix" */
	char peer_ip[64];	/* "192.0.2.1", "::1" or "unix" */
	int stop_fd;		/* readable when the daemon stops */
	SSL_CTX *tls;		/* NULL: no STARTTLS */
	struct runtime *rt;
};

/* smtp_session: serve one connection until QUIT, EOF, a timeout, too many
 * errors or a stop; closes the socket. */
void smtp_session(const struct smtp_session_args *a);

#endif
