/*
 * smtp_client.h - one SMTP session from parleyd to the relay: connect,
 * greeting, EHLO with daemon.hostname (HELO when EHLO is refused), STARTTLS
 * as relay.starttls says with the certificate checked by tls_verify, EHLO
 * again, AUTH (PLAIN, LOGIN or CRAM-MD5) when relay.auth_user is set; then
 * any number of transactions on the same session, each with exactly one
 * recipient (or many, for a batch-mode list: smtp_client_send_rcpts),
 * pipelined (RFC 2920: MAIL, RCPT and DATA in one write) when
 * the relay offers PIPELINING. Each reply is read whole and strictly
 * (smtp_reply.h), each with the time relay.timeouts gives it (RFC 5321
 * §4.5.3.2's by default).
 *
 * It only classifies results (sent, defer, fail, refused); what they mean
 * for the queue is delivery.c's business. It must never put an address
 * containing a control character (CR, LF ...) into a command, never go on
 * after a certificate that failed verification or without TLS when it is
 * required, never send a password in clear text to a relay that is not on
 * loopback, and never log.
 */
#ifndef PARLEY_SMTP_CLIENT_H
#define PARLEY_SMTP_CLIENT_H

#include <stddef.h>

#include "config.h"
#include "smtp_reply.h"

enum smtp_outcome {
	SMTP_SENT,	/* the relay took the copy (2xx after the data) */
	SMTP_DEFER,	/* 4xx, or trouble: connection, greeting, TLS, AUTH, timeout */
	SMTP_FAIL,	/* 5xx to RCPT: the recipient is refused; or an address we
			 * refuse to send */
	SMTP_REFUSED	/* 5xx to MAIL, to DATA or after the data: the relay refuses
			 * the message or the sender, not this recipient */
};

/* Which step of a transaction decided. */
enum smtp_stage {
	SMTP_AT_SESSION,	/* setting the session up: nothing was sent */
	SMTP_AT_MAIL,
	SMTP_AT_RCPT,
	SMTP_AT_DATA,		/* the DATA command */
	SMTP_AT_END		/* the reply to the end of the data */
};

struct smtp_reply {
	enum smtp_stage stage;		/* the step that decided */
	int code;			/* reply code of the step that decided; 0: none */
	char text[SMTP_TEXT_MAX];	/* "550 5.1.1 <a@b>: unknown user", or what went
					 * wrong; one line, control characters as '?' */
};

/* Called back while a session is set up; any member may be NULL. */
struct smtp_hooks {
	int (*cancel)(void *arg);		/* polled while connecting: non-zero gives up */
	void (*track)(void *arg, int fd);	/* the session's socket once made, -1 once
						 * closed (to shut it down from elsewhere) */
	void *arg;
};

struct smtp_client;

/*
 * smtp_client_open: a session with RELAY (host, port, starttls, tls_verify,
 * ca_file, auth_user, auth_password_file, timeouts are used and copied; the password
 * file is read now), ready for transactions; HELO is the name given in EHLO
 * (daemon.hostname). NULL if it could not be set up, with the reason in
 * REPLY: that is always a reason to defer, nothing was sent. HOOKS is
 * copied; it may be NULL.
 */
struct smtp_client *smtp_client_open(const struct cfg_relay *relay, const char *helo,
				     const struct smtp_hooks *hooks, struct smtp_reply *reply);

/*
 * smtp_client_send: one transaction: MAIL FROM:<FROM> (with SIZE when the
 * relay announces it), RCPT TO:<TO>, DATA with MSG (LEN bytes, CRLF lines;
 * dot-stuffed and ended here). REPLY gets the relay's reply that decided,
 * or what went wrong, and the step. A session found dead at MAIL FROM after an earlier
 * transaction (the relay dropped an idle session) is set up again once.
 * After a refusal the transaction is reset (RSET). C stays owned by the
 * caller; ask smtp_client_usable() whether it can carry another one.
 */
enum smtp_outcome smtp_client_send(struct smtp_client *c, const char *from, const char *to,
				   const char *msg, size_t len, struct smtp_reply *reply);

/* One copy of a batch: its envelope and data, then what became of it. */
struct smtp_copy {
	const char *from, *to;		/* as for smtp_client_send */
	const char *msg;
	size_t len;
	enum smtp_outcome outcome;	/* set by smtp_client_send_batch */
	struct smtp_reply reply;
};

/*
 * smtp_client_send_batch: the N copies V, each its own transaction with one
 * recipient, in order. To a relay that offers PIPELINING, each write
 * carries the end of one copy and the commands of the next (one round trip
 * a copy); to another, smtp_client_send one by one. Every V[i].outcome and
 * reply is set (a copy not tried because the session broke is SMTP_DEFER).
 * Returns how many the relay took.
 */
size_t smtp_client_send_batch(struct smtp_client *c, struct smtp_copy *v, size_t n);

/*
 * smtp_client_send_rcpts: one transaction with the N recipients V[i].to,
 * all with V[0]'s from, msg and len (batch mode): MAIL, every RCPT and DATA
 * (in one write when the relay offers PIPELINING), then the data once. Each
 * V[i].outcome and reply: its own RCPT's refusal (5xx: SMTP_FAIL, 4xx:
 * SMTP_DEFER), else what became of the transaction. A recipient whose
 * address cannot go in a command is SMTP_FAIL and not sent. Returns how
 * many the relay took.
 */
size_t smtp_client_send_rcpts(struct smtp_client *c, struct smtp_copy *v, size_t n);

/* smtp_client_usable: 1 if C can carry another transaction, 0 if it must be
 * closed (connection lost, 421, a reset that failed). */
int smtp_client_usable(const struct smtp_client *c);

/* smtp_client_fd: the session's socket, or -1. */
int smtp_client_fd(const struct smtp_client *c);

/* smtp_client_matches: 1 if C was opened with the settings RELAY has now. */
int smtp_client_matches(const struct smtp_client *c, const struct cfg_relay *relay);

/* smtp_client_close: QUIT if the session still works, close, free. NULL is
 * fine. */
void smtp_client_close(struct smtp_client *c);

/* smtp_client_address_ok: 1 if ADDR may stand between <> in an SMTP command:
 * 1 to 254 bytes, no control character (CR, LF, TAB ...), no '<' or '>'. */
int smtp_client_address_ok(const char *addr);

#endif
