/*
 * smtp_client.c - parleyd's SMTP session with the relay (see
 * smtp_client.h), on libetpan's mailsmtp.
 *
 * libetpan 1.9.4 facts this file works around: no PIPELINING (each command
 * waits for its reply, which suits one recipient per transaction); 450 and
 * 550 map to the same error, and some replies are not mapped at all, so the
 * decision is always taken on s->response_code, cleared before each command
 * so that a stale code is never read as an answer; mailsmtp_reset() reports
 * success for any reply; the data is sent with CRLF.CRLF appended, so one
 * final CRLF of the copy is left out; mailsmtp_set_timeout() covers only the
 * TLS handshake, so the stream gets its own timeout (and the connect here is
 * ours: non-blocking, cancellable); certificates are not verified, so
 * tls_verify checks them; plaintext buffered behind the STARTTLS reply would
 * be an injection and ends the session. The EHLO name is gethostname().
 *
 * It must never send a command with a control character from an address,
 * never AUTH in clear text except to a loopback relay, never go on without
 * TLS when relay.starttls is "require", nor over TLS that failed
 * verification; it never logs (libetpan's logger would see AUTH).
 */
#include "autoconf.h"

#include "smtp_client.h"
#include "secretfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "address.h"
#include "mailfmt.h"
#include "tcp.h"
#include "tls_verify.h"
#include "xalloc.h"

#define CONNECT_TIMEOUT 30	/* seconds for the TCP handshake */
#define IO_TIMEOUT	120	/* seconds a read or write may stall */
#define PASSWORD_MAX	1024

struct smtp_client {
	mailsmtp *s;
	int broken;			/* the session cannot carry a transaction */
	int tls;			/* the session is encrypted */
	unsigned long transactions;	/* attempted on this connection */
	/* the settings it was opened with (smtp_client_matches) */
	char *host;
	int port;
	enum relay_tls starttls;
	int tls_verify;
	char *ca_file;
	char *auth_user;
	char *auth_password_file;
	struct smtp_hooks hooks;
};

/* ---- small helpers ---- */

static char *dup_opt(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static int same_opt(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* clean_into: IN appended to OUT (LEN bytes, holding a string) on one line
 * of valid UTF-8, cut between characters: line ends become "; ", other
 * control characters (C0, DEL, C1) and bytes that are not UTF-8 '?'. A
 * relay's reply is stored and logged: it must never put invalid UTF-8 or a
 * terminal control into either. */
static void clean_into(char *out, size_t len, const char *in)
{
	size_t n = strlen(out);

	while (in != NULL && *in != '\0' && n + 1 < len) {
		unsigned char ch = (unsigned char)*in;
		size_t cl = mailfmt_utf8_len(in, strnlen(in, 4));
		if (ch == '\n' && in[1] != '\0' && n + 3 < len) {
			out[n++] = ';';
			out[n++] = ' ';
		} else if (ch == '\r' || ch == '\n') {
			/* dropped */
		} else if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && cl == 1) ||
			   (ch == 0xc2 && (unsigned char)in[1] <= 0x9f)) {
			out[n++] = '?';
		} else if (n + cl < len) {
			memcpy(out + n, in, cl);
			n += cl;
		} else {
			break;
		}
		in += cl;
	}
	out[n] = '\0';
}

static void say(struct smtp_reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* say: REPLY becomes CODE and a text of our own (cleaned). */
static void say(struct smtp_reply *r, int code, const char *fmt, ...)
{
	char buf[SMTP_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->code = code;
	r->text[0] = '\0';
	clean_into(r->text, sizeof(r->text), buf);
}

/* heard: REPLY becomes the relay's last reply, after WHAT (or nothing). */
static void heard(struct smtp_client *c, struct smtp_reply *r, const char *what)
{
	int code = c->s->response_code;

	r->code = code;
	snprintf(r->text, sizeof(r->text), "%s%s%d ", what ? what : "", what ? ": " : "", code);
	clean_into(r->text, sizeof(r->text), c->s->response ? c->s->response : "");
	while (r->text[0] != '\0' && r->text[strlen(r->text) - 1] == ' ')
		r->text[strlen(r->text) - 1] = '\0';
}

int smtp_client_address_ok(const char *addr)
{
	size_t n = addr != NULL ? strlen(addr) : 0;
	const unsigned char *p;

	if (n == 0 || n > ADDRESS_MAX)
		return 0;
	for (p = (const unsigned char *)addr; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return 0;
	return 1;
}

/* ---- the socket ---- */

static void track(struct smtp_client *c, int fd)
{
	if (c->hooks.track != NULL)
		c->hooks.track(c->hooks.arg, fd);
}

static int cancelled(const struct smtp_client *c)
{
	return c->hooks.cancel != NULL && c->hooks.cancel(c->hooks.arg);
}

static int hook_cancelled(void *arg)
{
	return cancelled(arg);
}

static void hook_track(void *arg, int fd)
{
	track(arg, fd);
}

/* relay_connect: a socket connected to the relay (tracked), or -1 (R set). */
static int relay_connect(struct smtp_client *c, struct smtp_reply *r)
{
	struct tcp_hooks h = {hook_cancelled, hook_track, c};
	char why[SMTP_TEXT_MAX];
	int fd = tcp_connect(c->host, c->port, CONNECT_TIMEOUT, &h, why, sizeof(why));

	if (fd < 0)
		say(r, 0, "%s", why);
	return fd;
}

/* ---- setting the session up ---- */

/* stream_close: drop the connection without a word (no QUIT). */
static void stream_close(struct smtp_client *c)
{
	if (c->s != NULL && c->s->stream != NULL) {
		mailstream_close(c->s->stream);
		c->s->stream = NULL;
	}
	if (c->s != NULL) {
		mailsmtp_free(c->s);
		c->s = NULL;
	}
	track(c, -1);
	c->broken = 1;
}

/*
 * Guard: libetpan 1.9.4's EHLO parser (mailesmtp_parse_ehlo) loops for ever
 * on a TAB in an AUTH line ("250 AUTH PLAIN\t"), so every byte from the
 * relay is read through tab_read, which makes each TAB a space.
 */
extern mailstream_low_driver *mailstream_ssl_driver;	/* declared only #ifdef USE_SSL */
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;
static mailstream_low_driver tab_socket, tab_ssl;

static ssize_t tab_read(mailstream_low *low, void *buf, size_t n)
{
	const mailstream_low_driver *orig =
		low->driver == &tab_ssl ? mailstream_ssl_driver : mailstream_socket_driver;
	ssize_t got = orig->mailstream_read(low, buf, n);
	char *p = buf;

	for (ssize_t i = 0; i < got; i++)
		if (p[i] == '\t')
			p[i] = ' ';
	return got;
}

static void tab_init(void)
{
	tab_socket = *mailstream_socket_driver;
	tab_socket.mailstream_read = tab_read;
	tab_ssl = *mailstream_ssl_driver;
	tab_ssl.mailstream_read = tab_read;
}

/* tab_guard: STREAM's reads through tab_read (a socket or a TLS stream). */
static void tab_guard(mailstream *stream)
{
	mailstream_low *low = mailstream_get_low(stream);

	pthread_once(&tab_once, tab_init);
	if (low != NULL && low->driver == mailstream_socket_driver)
		low->driver = &tab_socket;
	else if (low != NULL && low->driver == mailstream_ssl_driver)
		low->driver = &tab_ssl;
}

/* greet: the stream on FD and the relay's 220; 0 or -1 (R set; FD closed). */
static int greet(struct smtp_client *c, int fd, struct smtp_reply *r)
{
	mailstream *stream;

	if ((c->s = mailsmtp_new(0, NULL)) == NULL ||
	    (stream = mailstream_socket_open_timeout(fd, IO_TIMEOUT)) == NULL) {
		close(fd);
		say(r, 0, "out of memory");
		return -1;
	}
	tab_guard(stream);
	mailsmtp_set_timeout(c->s, IO_TIMEOUT);	/* the TLS handshake */
	c->s->response_code = 0;
	if (mailsmtp_connect(c->s, stream) != MAILSMTP_NO_ERROR) {	/* owns STREAM */
		if (c->s->response_code != 0)
			heard(c, r, "greeting");
		else
			say(r, 0, "%s:%d closed the connection before its greeting", c->host,
			    c->port);
		return -1;
	}
	return 0;
}

/* hello: EHLO, or HELO if the relay refuses EHLO with 5xx; 0 or -1. */
static int hello(struct smtp_client *c, struct smtp_reply *r)
{
	int e;

	c->s->response_code = 0;
	if ((e = mailesmtp_ehlo(c->s)) == MAILSMTP_NO_ERROR)
		return 0;
	if (e != MAILSMTP_ERROR_STREAM && c->s->response_code / 100 == 5) {
		c->s->response_code = 0;
		if ((e = mailsmtp_helo(c->s)) == MAILSMTP_NO_ERROR)
			return 0;
	}
	if (e == MAILSMTP_ERROR_STREAM || c->s->response_code == 0)
		say(r, 0, "EHLO to %s:%d: %s", c->host, c->port, mailsmtp_strerror(e));
	else
		heard(c, r, "EHLO");
	return -1;
}

/* tls_start: STARTTLS, verify, EHLO again; 0 or -1 (R set). */
static int tls_start(struct smtp_client *c, struct smtp_reply *r)
{
	char why[SMTP_TEXT_MAX - 64];
	int e;

	c->s->response_code = 0;
	e = mailsmtp_socket_starttls_with_callback(c->s, tls_verify_sni, c->host);
	if (e != MAILSMTP_NO_ERROR) {
		if (e == MAILSMTP_ERROR_SSL || c->s->response_code / 100 == 2)
			say(r, 0, "TLS handshake with %s:%d failed", c->host, c->port);
		else if (c->s->response_code != 0)
			heard(c, r, "STARTTLS");
		else
			say(r, 0, "STARTTLS: connection to %s:%d lost", c->host, c->port);
		return -1;
	}
	if (c->s->stream->read_buffer_len > 0) {
		say(r, 0, "%s:%d sent data before the TLS handshake: refused", c->host, c->port);
		return -1;
	}
	mailstream_low_set_timeout(mailstream_get_low(c->s->stream), IO_TIMEOUT);
	c->tls = 1;
	if (c->tls_verify &&
	    tls_verify_stream(c->s->stream, c->host, c->port, c->ca_file, why, sizeof(why)) < 0) {
		say(r, 0, "%s; not sending", why);
		return -1;
	}
	tab_guard(c->s->stream);
	return hello(c, r);
}

/* tls_policy: STARTTLS if relay.starttls asks for it and the relay offers
 * it; "require" without the offer is an error. 0 or -1 (R set). */
static int tls_policy(struct smtp_client *c, struct smtp_reply *r)
{
	int offered = (c->s->esmtp & MAILSMTP_ESMTP_STARTTLS) != 0;

	if (c->starttls == RELAY_TLS_NO || (c->starttls == RELAY_TLS_AUTO && !offered))
		return 0;
	if (!offered) {
		say(r, 0, "%s:%d does not offer STARTTLS, and relay.starttls is \"require\"",
		    c->host, c->port);
		return -1;
	}
	return tls_start(c, r);
}

/* password_read: the password from auth_password_file into OUT (LEN bytes),
 * trailing CR/LF removed; 0, or -1 (R set, OUT wiped). */
static int password_read(const struct smtp_client *c, char *out, size_t len,
			 struct smtp_reply *r)
{
	const char *path = c->auth_password_file;
	char why[128];

	if (path == NULL || secretfile_read(path, out, len, why, sizeof(why)) < 0) {
		say(r, 0, "relay.auth_password_file %s: %s", path ? path : "(unset)",
		    path ? why : "AUTH needs it");
		return -1;
	}
	return 0;
}

/* mechanism: the SASL mechanism to use among those offered, or NULL. */
static const char *mechanism(const struct smtp_client *c)
{
	if (c->s->auth & MAILSMTP_AUTH_PLAIN)
		return "PLAIN";
	if (c->s->auth & MAILSMTP_AUTH_LOGIN)
		return "LOGIN";
	if (c->s->auth & MAILSMTP_AUTH_CRAM_MD5)
		return "CRAM-MD5";
	return NULL;
}

/* auth: AUTH as relay.auth_user; 0 or -1 (R set). */
static int auth(struct smtp_client *c, struct smtp_reply *r)
{
	char pw[PASSWORD_MAX];
	const char *mech = mechanism(c);
	int e;

	if (!c->tls && !address_host_is_loopback(c->host)) {
		say(r, 0, "not sending the AUTH password in clear text to %s:%d (no TLS; set "
		    "relay.starttls to \"require\" or use a relay on loopback)", c->host, c->port);
		return -1;
	}
	if (mech == NULL) {
		say(r, 0, "%s:%d offers no AUTH mechanism we speak (PLAIN, LOGIN, CRAM-MD5)",
		    c->host, c->port);
		return -1;
	}
	if (password_read(c, pw, sizeof(pw), r) < 0)
		return -1;
	c->s->response_code = 0;
	e = mailesmtp_auth_sasl(c->s, mech, c->host, NULL, NULL, c->auth_user, c->auth_user, pw,
				NULL);
	explicit_bzero(pw, sizeof(pw));
	if (e == MAILSMTP_NO_ERROR && c->s->response_code / 100 == 2)
		return 0;
	if (c->s->response_code != 0 && e != MAILSMTP_ERROR_STREAM) {
		char what[300];
		snprintf(what, sizeof(what), "AUTH %s as %s", mech, c->auth_user);
		heard(c, r, what);
	} else {
		say(r, 0, "AUTH %s as %s: %s (libsasl2-modules installed?)", mech, c->auth_user,
		    mailsmtp_strerror(e));
	}
	return -1;
}

/* session_start: connect and set up C's session; 0, or -1 with R set and
 * nothing left open. */
static int session_start(struct smtp_client *c, struct smtp_reply *r)
{
	int fd;

	c->broken = 1;
	c->tls = 0;
	c->transactions = 0;
	if ((fd = relay_connect(c, r)) < 0)
		return -1;
	if (greet(c, fd, r) < 0 || hello(c, r) < 0 || tls_policy(c, r) < 0 ||
	    (c->auth_user != NULL && auth(c, r) < 0)) {
		stream_close(c);
		return -1;
	}
	c->broken = 0;
	return 0;
}

static void client_free(struct smtp_client *c)
{
	free(c->host);
	free(c->ca_file);
	free(c->auth_user);
	free(c->auth_password_file);
	free(c);
}

struct smtp_client *smtp_client_open(const struct cfg_relay *relay, const struct smtp_hooks *hooks,
				     struct smtp_reply *reply)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	c->host = xstrdup(relay->host);
	c->port = relay->port;
	c->starttls = relay->starttls;
	c->tls_verify = relay->tls_verify;
	c->ca_file = dup_opt(relay->ca_file);
	c->auth_user = dup_opt(relay->auth_user);
	c->auth_password_file = dup_opt(relay->auth_password_file);
	if (hooks != NULL)
		c->hooks = *hooks;
	if (session_start(c, reply) < 0) {
		client_free(c);
		return NULL;
	}
	return c;
}

/* ---- transactions ---- */

/* judge: what libetpan's result E of the command WHAT means; SMTP_SENT for a
 * reply of class WANT (2 or 3): go on. Sets R. */
static enum smtp_outcome judge(struct smtp_client *c, int e, const char *what, int want,
			       struct smtp_reply *r)
{
	int code = c->s->response_code;

	if (e == MAILSMTP_ERROR_STREAM || code < 200 || code > 599) {
		c->broken = 1;
		if (code == 0)
			say(r, 0, "%s: connection to %s:%d lost", what, c->host, c->port);
		else
			heard(c, r, what);
		return SMTP_DEFER;
	}
	heard(c, r, code / 100 == want ? NULL : what);
	if (code / 100 == want)
		return SMTP_SENT;
	if (code == 421)
		c->broken = 1;	/* the relay closes the session */
	return code / 100 == 5 ? SMTP_FAIL : SMTP_DEFER;
}

/* reset: RSET after a refusal, so that the session can go on; a reply
 * other than 250 (or none) makes it unusable. */
static void reset(struct smtp_client *c)
{
	if (c->broken)
		return;
	c->s->response_code = 0;
	if (mailsmtp_reset(c->s) != MAILSMTP_NO_ERROR || c->s->response_code != 250)
		c->broken = 1;
}

/* mail: MAIL FROM; once more on a fresh session if the one we kept turns
 * out dead (an idle session the relay dropped). */
static enum smtp_outcome mail(struct smtp_client *c, const char *from, size_t len,
			      struct smtp_reply *r)
{
	int reused = c->transactions > 0, e;
	enum smtp_outcome o;

	c->transactions++;
	c->s->response_code = 0;
	e = mailesmtp_mail_size(c->s, from, 0, NULL, len);
	o = judge(c, e, "MAIL FROM", 2, r);
	if (o == SMTP_SENT || !reused || !c->broken)
		return o;
	stream_close(c);
	if (session_start(c, r) < 0)
		return SMTP_DEFER;
	c->transactions++;
	c->s->response_code = 0;
	e = mailesmtp_mail_size(c->s, from, 0, NULL, len);
	return judge(c, e, "MAIL FROM", 2, r);
}

/* data: DATA, then the copy without its final CRLF (libetpan appends
 * CRLF.CRLF, which would add an empty line). */
static enum smtp_outcome data(struct smtp_client *c, const char *msg, size_t len,
			      struct smtp_reply *r)
{
	enum smtp_outcome o;
	int e;

	c->s->response_code = 0;
	e = mailsmtp_data(c->s);
	if ((o = judge(c, e, "DATA", 3, r)) != SMTP_SENT)
		return o;
	if (len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n')
		len -= 2;
	else if (len >= 1 && msg[len - 1] == '\n')
		len -= 1;
	c->s->response_code = 0;
	e = mailsmtp_data_message(c->s, msg, len);
	return judge(c, e, "end of DATA", 2, r);
}

enum smtp_outcome smtp_client_send(struct smtp_client *c, const char *from, const char *to,
				   const char *msg, size_t len, struct smtp_reply *reply)
{
	enum smtp_outcome o;

	if ((from == NULL || (from[0] != '\0' && !smtp_client_address_ok(from))) ||
	    !smtp_client_address_ok(to)) {
		say(reply, 0, "address refused before sending: <%s> or <%s> is empty, too long or "
		    "holds a control character or <>", from ? from : "", to ? to : "");
		return SMTP_FAIL;
	}
	if (c->broken || c->s == NULL) {
		say(reply, 0, "the session with %s:%d is closed", c->host, c->port);
		return SMTP_DEFER;
	}
	o = mail(c, from, len, reply);
	if (o == SMTP_SENT) {
		c->s->response_code = 0;
		o = judge(c, mailesmtp_rcpt(c->s, to, 0, NULL), "RCPT TO", 2, reply);
	}
	if (o == SMTP_SENT)
		o = data(c, msg, len, reply);
	if (o != SMTP_SENT && c->s != NULL)
		reset(c);
	return o;
}

int smtp_client_usable(const struct smtp_client *c)
{
	return c != NULL && !c->broken && c->s != NULL;
}

int smtp_client_matches(const struct smtp_client *c, const struct cfg_relay *relay)
{
	return strcmp(c->host, relay->host) == 0 && c->port == relay->port &&
	       c->starttls == relay->starttls && c->tls_verify == relay->tls_verify &&
	       same_opt(c->ca_file, relay->ca_file) && same_opt(c->auth_user, relay->auth_user) &&
	       same_opt(c->auth_password_file, relay->auth_password_file);
}

void smtp_client_close(struct smtp_client *c)
{
	if (c == NULL)
		return;
	if (!c->broken && c->s != NULL && c->s->stream != NULL) {
		c->s->response_code = 0;
		(void)mailsmtp_quit(c->s);	/* sends QUIT and closes; the reply does not matter */
	}
	stream_close(c);
	client_free(c);
}
