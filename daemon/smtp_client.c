/*
 * smtp_client.c - parleyd's SMTP session with the relay (see
 * smtp_client.h): our own protocol code over libetpan's mailstream, which
 * keeps the socket and the TLS layer.
 *
 * Why not libetpan's mailsmtp: it does not pipeline (four round trips per
 * copy), its EHLO name is gethostname(), its EHLO parser spins for ever on
 * a TAB in an AUTH line, it maps 450 and 550 to the same error, and it
 * waits the same time for every reply. Here every reply is read whole by
 * smtp_reply.c (strict: same code on every line, bounded), with the time
 * relay.timeouts gives its command (daemon.relay_timeouts; by default RFC
 * 5321 §4.5.3.2's: 5 minutes for the greeting, EHLO, MAIL and RCPT, 2 for
 * DATA's 354, 3 for each block of the data written, 10 for the reply to
 * the end of the data, so that a relay that took the copy but answers
 * slowly does not get it twice).
 *
 * Pipelining (RFC 2920), when offered: MAIL, RCPT and DATA go in one write
 * and their three replies are read in order; the body is sent only after a
 * 354. If DATA got 354 although MAIL or RCPT was refused, a lone "." ends
 * it (§3.1). Without PIPELINING each command waits for its reply.
 *
 * STARTTLS: plaintext the relay sent after its 220 (in our buffer or the
 * stream's) would be an injection (CVE-2011-0411 class) and ends the
 * session; the certificate is checked by tls_verify (libetpan checks
 * nothing), then EHLO again. AUTH PLAIN, LOGIN or CRAM-MD5 (OpenSSL for
 * base64 and HMAC-MD5), never in clear text except to loopback.
 *
 * It must never send a command with a control character from an address,
 * never go on without TLS when relay.starttls is "require", nor over TLS
 * that failed verification; it never logs (a log would see AUTH).
 */
#include "autoconf.h"

#include "smtp_client.h"
#include "secretfile.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libetpan/libetpan.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "address.h"
#include "tcp.h"
#include "tls_verify.h"
#include "xalloc.h"

#define PASSWORD_MAX	1024
#define IN_MAX		8192	/* bytes read at a time */

/* Seconds, from relay.timeouts (RFC 5321 §4.5.3.2 by default) */
#define T_GREETING c->t.greeting
#define T_COMMAND  c->t.mail	/* EHLO, STARTTLS, AUTH, MAIL, RSET */
#define T_RCPT	   c->t.rcpt
#define T_DATA	   c->t.data	/* DATA's 354 */
#define T_BLOCK	   c->t.block	/* each block of the data */
#define T_END	   c->t.end	/* the reply to the end of the data */
#define T_QUIT	   10		/* nothing depends on it */

/* extensions the relay announced in its EHLO reply */
#define EXT_PIPELINING 1u
#define EXT_SIZE       2u
#define EXT_STARTTLS   4u
#define AUTH_PLAIN     1u
#define AUTH_LOGIN     2u
#define AUTH_CRAM_MD5  4u

struct smtp_client {
	mailstream *stream;
	int broken;			/* the session cannot carry a transaction */
	int tls;			/* the session is encrypted */
	int esmtp;			/* EHLO was accepted */
	unsigned ext, auth;		/* EXT_*, AUTH_* from the last EHLO */
	unsigned long size_max;		/* SIZE's limit, 0 if none given */
	unsigned long transactions;	/* attempted on this connection */
	char in[IN_MAX];		/* read from the relay, not yet taken */
	size_t in_off, in_len;
	char *line;			/* one reply line, SMTP_REPLY_LINE_MAX + 2 bytes */
	/* the settings it was opened with (smtp_client_matches) */
	char *host;
	int port;
	enum relay_tls starttls;
	int tls_verify;
	char *ca_file;
	char *auth_user;
	char *auth_password_file;
	char *helo;
	struct cfg_relay_timeouts t;
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
	smtp_reply_clean(r->text, sizeof(r->text), buf, strlen(buf));
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

static int hook_cancelled(void *arg)
{
	const struct smtp_client *c = arg;

	return c->hooks.cancel != NULL && c->hooks.cancel(c->hooks.arg);
}

static void hook_track(void *arg, int fd)
{
	track(arg, fd);
}

/* stream_close: drop the connection without a word (no QUIT). */
static void stream_close(struct smtp_client *c)
{
	if (c->stream != NULL) {
		mailstream_close(c->stream);
		c->stream = NULL;
	}
	track(c, -1);
	c->broken = 1;
	c->in_off = c->in_len = 0;
}

/* timeout: reads and writes from now on wait at most SECONDS. */
static void timeout(struct smtp_client *c, int seconds)
{
	mailstream_low_set_timeout(mailstream_get_low(c->stream), seconds);
}

/* ---- writing ---- */

static int put(struct smtp_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* put: one command line (CRLF added by the caller's FMT), buffered; 0 or
 * -1 (broken). */
static int put(struct smtp_client *c, const char *fmt, ...)
{
	char buf[4400];	/* the longest: an AUTH PLAIN answer, 2,683 bytes */
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) || c->stream == NULL ||
	    mailstream_write(c->stream, buf, (size_t)n) != n) {
		c->broken = 1;
		return -1;
	}
	return 0;
}

/* flush: send what is buffered; 0 or -1 (broken, R says so). */
static int flush(struct smtp_client *c, const char *what, struct smtp_reply *r)
{
	if (c->stream != NULL && mailstream_flush(c->stream) == 0)
		return 0;
	c->broken = 1;
	say(r, 0, "%s: connection to %s:%d lost while sending", what, c->host, c->port);
	return -1;
}

/* put_body: MSG (LEN bytes) as the data: lines ending in CRLF (a bare LF
 * made CRLF), a leading '.' doubled, a final CRLF added if missing, then
 * ".". 0 or -1 (broken). */
static int put_body(struct smtp_client *c, const char *msg, size_t len)
{
	size_t i = 0;

	timeout(c, T_BLOCK);
	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - msg) : len, text = end;
		if (text > i && msg[text - 1] == '\r')
			text--;
		if (msg[i] == '.' && mailstream_write(c->stream, ".", 1) != 1)
			goto broken;
		if (text > i && mailstream_write(c->stream, msg + i, text - i) != (ssize_t)(text - i))
			goto broken;
		if (mailstream_write(c->stream, "\r\n", 2) != 2)
			goto broken;
		i = end + 1;
	}
	if (mailstream_write(c->stream, ".\r\n", 3) == 3)
		return 0;
broken:
	c->broken = 1;
	return -1;
}

/* ---- reading ---- */

/* get_line: the next line from the relay into c->line without its CRLF
 * (or bare LF); its length, or -1 with *WHY: closed, a read that failed or
 * timed out, a line too long. */
static long get_line(struct smtp_client *c, const char **why)
{
	size_t n = 0;

	for (;;) {
		const char *nl;
		size_t take;
		if (c->in_off == c->in_len) {
			ssize_t got = mailstream_read(c->stream, c->in, sizeof(c->in));
			if (got <= 0) {
				*why = got == 0 ? "closed the connection" : "no reply in time, or a read failed";
				return -1;
			}
			c->in_off = 0;
			c->in_len = (size_t)got;
		}
		nl = memchr(c->in + c->in_off, '\n', c->in_len - c->in_off);
		take = nl != NULL ? (size_t)(nl - (c->in + c->in_off)) : c->in_len - c->in_off;
		if (n + take > SMTP_REPLY_LINE_MAX + 1) {
			*why = "a reply line over 16 KB";
			return -1;
		}
		memcpy(c->line + n, c->in + c->in_off, take);
		n += take;
		c->in_off += take;
		if (nl != NULL) {
			c->in_off++;	/* the LF */
			if (n > 0 && c->line[n - 1] == '\r')
				n--;
			c->line[n] = '\0';
			return (long)n;
		}
	}
}

/* reply: read one whole reply to WHAT, waiting at most SECONDS for each
 * read; its code, with R set to it ("WHAT: CODE text" unless WANT is its
 * class, then "CODE text"), or 0 if none came whole (R says why; the
 * session is broken). EACH, if set, sees every line (EHLO's keywords). */
static int reply(struct smtp_client *c, int seconds, const char *what, int want,
		 struct smtp_reply *r, void (*each)(struct smtp_client *, const char *, size_t))
{
	struct smtp_reply_reader rr;
	const char *why = NULL;
	int last = 0;

	if (c->stream == NULL) {
		say(r, 0, "%s: the session with %s:%d is closed", what, c->host, c->port);
		return 0;
	}
	timeout(c, seconds);
	smtp_reply_begin(&rr);
	while (!last) {
		long n = get_line(c, &why);
		if (n < 0 || (last = smtp_reply_line(&rr, c->line, (size_t)n, &why)) < 0) {
			c->broken = 1;
			say(r, 0, "%s: %s:%d: %s", what, c->host, c->port, why);
			return 0;
		}
		if (each != NULL)
			each(c, c->line, (size_t)n);
	}
	r->code = rr.code;
	if (rr.code / 100 == want)
		snprintf(r->text, sizeof(r->text), "%d%s", rr.code, rr.text[0] ? " " : "");
	else
		snprintf(r->text, sizeof(r->text), "%s: %d%s", what, rr.code, rr.text[0] ? " " : "");
	smtp_reply_clean(r->text, sizeof(r->text), rr.text, strlen(rr.text));
	if (rr.code == 421)
		c->broken = 1;	/* the relay closes the session */
	return rr.code;
}

/* ---- setting the session up ---- */

/* ehlo_line: note an extension of one line of the EHLO reply. */
static void ehlo_line(struct smtp_client *c, const char *line, size_t len)
{
	char kw[64], rest[256];
	size_t i = 4, k = 0, n = 0;

	if (len <= 4)
		return;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '=' && k + 1 < sizeof(kw))
		kw[k++] = line[i++];
	kw[k] = '\0';
	if (i < len)
		i++;	/* the space, TAB or '=' after the keyword */
	for (; i < len && n + 1 < sizeof(rest); i++)
		rest[n++] = line[i] == '\t' ? ' ' : line[i];
	rest[n] = '\0';
	if (strcasecmp(kw, "PIPELINING") == 0) {
		c->ext |= EXT_PIPELINING;
	} else if (strcasecmp(kw, "STARTTLS") == 0) {
		c->ext |= EXT_STARTTLS;
	} else if (strcasecmp(kw, "SIZE") == 0) {
		c->ext |= EXT_SIZE;
		c->size_max = strtoul(rest, NULL, 10);
	} else if (strcasecmp(kw, "AUTH") == 0) {
		char *save = NULL, *m;
		for (m = strtok_r(rest, " ", &save); m != NULL; m = strtok_r(NULL, " ", &save)) {
			if (strcasecmp(m, "PLAIN") == 0)
				c->auth |= AUTH_PLAIN;
			else if (strcasecmp(m, "LOGIN") == 0)
				c->auth |= AUTH_LOGIN;
			else if (strcasecmp(m, "CRAM-MD5") == 0)
				c->auth |= AUTH_CRAM_MD5;
		}
	}
}

/* ehlo_each: the first line of an EHLO reply is the greeting, the others
 * its extensions. */
static void ehlo_each(struct smtp_client *c, const char *line, size_t len)
{
	if (c->esmtp++ > 0)
		ehlo_line(c, line, len);
}

/* hello: EHLO, or HELO if the relay refuses EHLO with 5xx; 0 or -1. */
static int hello(struct smtp_client *c, struct smtp_reply *r)
{
	int code;

	c->ext = c->auth = 0;
	c->size_max = 0;
	c->esmtp = 0;
	if (put(c, "EHLO %s\r\n", c->helo) < 0 || flush(c, "EHLO", r) < 0)
		return -1;
	code = reply(c, T_COMMAND, "EHLO", 2, r, ehlo_each);
	if (code / 100 == 2)
		return 0;
	c->esmtp = 0;
	if (code / 100 != 5 || c->broken)
		return -1;
	c->ext = c->auth = 0;
	if (put(c, "HELO %s\r\n", c->helo) < 0 || flush(c, "HELO", r) < 0)
		return -1;
	return reply(c, T_COMMAND, "HELO", 2, r, NULL) / 100 == 2 ? 0 : -1;
}

/* greet: the stream on FD and the relay's 220; 0 or -1 (R set). */
static int greet(struct smtp_client *c, int fd, struct smtp_reply *r)
{
	int code;

	if ((c->stream = mailstream_socket_open_timeout(fd, T_GREETING)) == NULL) {
		close(fd);
		track(c, -1);
		say(r, 0, "out of memory");
		return -1;
	}
	code = reply(c, T_GREETING, "greeting", 2, r, NULL);
	if (code == 0 && strstr(r->text, "closed the connection") != NULL)
		say(r, 0, "%s:%d closed the connection before its greeting", c->host, c->port);
	return code == 220 ? 0 : -1;
}

/* tls_upgrade: TLS over the session's socket, in place of the plain
 * stream; 0 or -1 (R set). */
static int tls_upgrade(struct smtp_client *c, struct smtp_reply *r)
{
	mailstream_low *plain = mailstream_get_low(c->stream), *tls;

	tls = mailstream_low_tls_open_with_callback_timeout(mailstream_low_get_fd(plain), T_COMMAND,
							    tls_verify_sni, c->host);
	if (tls == NULL) {
		c->broken = 1;
		say(r, 0, "TLS handshake with %s:%d failed", c->host, c->port);
		return -1;
	}
	mailstream_low_free(plain);	/* not closed: TLS goes on over its socket */
	mailstream_set_low(c->stream, tls);
	c->tls = 1;
	return 0;
}

/* tls_start: STARTTLS, the handshake, verify, EHLO again; 0 or -1. */
static int tls_start(struct smtp_client *c, struct smtp_reply *r)
{
	char why[SMTP_TEXT_MAX - 64];
	int code;

	if (put(c, "STARTTLS\r\n") < 0 || flush(c, "STARTTLS", r) < 0)
		return -1;
	if ((code = reply(c, T_COMMAND, "STARTTLS", 2, r, NULL)) != 220) {
		if (code / 100 == 2)
			say(r, code, "STARTTLS: %d instead of 220 from %s:%d", code, c->host, c->port);
		return -1;
	}
	if (c->in_off < c->in_len || c->stream->read_buffer_len > 0) {
		c->broken = 1;
		say(r, 0, "%s:%d sent data before the TLS handshake: refused", c->host, c->port);
		return -1;
	}
	if (tls_upgrade(c, r) < 0)
		return -1;
	if (c->tls_verify &&
	    tls_verify_stream(c->stream, c->host, c->port, c->ca_file, why, sizeof(why)) < 0) {
		say(r, 0, "%s; not sending", why);
		return -1;
	}
	return hello(c, r);
}

/* tls_policy: STARTTLS if relay.starttls asks for it and the relay offers
 * it; "require" without the offer is an error. 0 or -1 (R set). */
static int tls_policy(struct smtp_client *c, struct smtp_reply *r)
{
	int offered = (c->ext & EXT_STARTTLS) != 0;

	if (c->starttls == RELAY_TLS_NO || (c->starttls == RELAY_TLS_AUTO && !offered))
		return 0;
	if (!offered) {
		say(r, 0, "%s:%d does not offer STARTTLS, and relay.starttls is \"require\"",
		    c->host, c->port);
		return -1;
	}
	return tls_start(c, r);
}

/* ---- AUTH ---- */

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

/* b64: IN (LEN bytes) in base64 into OUT (OUTLEN bytes); 0 or -1. */
static int b64(char *out, size_t outlen, const void *in, size_t len)
{
	if (len > 3000 || (len + 2) / 3 * 4 + 1 > outlen)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return 0;
}

/* auth_step: send LINE (a base64 answer, or a command) and read the
 * reply; its code. */
static int auth_step(struct smtp_client *c, const char *line, const char *what,
		     struct smtp_reply *r)
{
	if (put(c, "%s\r\n", line) < 0 || flush(c, what, r) < 0)
		return 0;
	return reply(c, T_COMMAND, what, 2, r, NULL);
}

/* cram_answer: "USER HEX" for the CRAM-MD5 challenge (base64, the last
 * word of R's text), in base64, into OUT. 0 or -1. */
static int cram_answer(const struct smtp_client *c, const char *pw, const struct smtp_reply *r,
		       char *out, size_t len)
{
	const char *b = strrchr(r->text, ' ');	/* "...: 334 CHALLENGE" */
	unsigned char chal[1024], mac[EVP_MAX_MD_SIZE];
	char plain[1400];
	unsigned int maclen = 0;
	int n, k;

	size_t bl;

	b = b != NULL ? b + 1 : "";
	bl = strlen(b);
	if (bl > 4 * (sizeof(chal) / 3) - 8 ||
	    (n = EVP_DecodeBlock(chal, (const unsigned char *)b, (int)bl)) < 0)
		return -1;
	for (size_t i = bl; i > 0 && b[i - 1] == '=' && n > 0; i--)
		n--;	/* EVP_DecodeBlock counts the padding as bytes */
	if (HMAC(EVP_md5(), pw, (int)strlen(pw), chal, (size_t)n, mac, &maclen) == NULL)
		return -1;
	k = snprintf(plain, sizeof(plain), "%s ", c->auth_user);
	for (unsigned int i = 0; i < maclen && k > 0 && (size_t)k + 3 < sizeof(plain); i++)
		k += snprintf(plain + k, sizeof(plain) - (size_t)k, "%02x", mac[i]);
	return k > 0 ? b64(out, len, plain, (size_t)k) : -1;
}

/* auth_run: the exchange for MECH with password PW; the final code. */
static int auth_run(struct smtp_client *c, const char *mech, const char *pw, char *what,
		    struct smtp_reply *r)
{
	char buf[4200], enc[4200];
	size_t ul = strlen(c->auth_user), pl = strlen(pw);
	int code;

	if (strcmp(mech, "PLAIN") == 0) {
		if (ul + pl + 2 > 2000)
			return 0;
		buf[0] = '\0';
		memcpy(buf + 1, c->auth_user, ul);
		buf[ul + 1] = '\0';
		memcpy(buf + ul + 2, pw, pl);
		code = b64(enc, sizeof(enc), buf, ul + pl + 2) < 0 ? 0 : 1;
		explicit_bzero(buf, sizeof(buf));
		if (code == 0)
			return 0;
		memcpy(buf, "AUTH PLAIN ", 11);
		memcpy(buf + 11, enc, strlen(enc) + 1);	/* enc holds at most 2672 bytes */
		explicit_bzero(enc, sizeof(enc));
		code = auth_step(c, buf, what, r);
	} else if (strcmp(mech, "LOGIN") == 0) {
		if ((code = auth_step(c, "AUTH LOGIN", what, r)) != 334 ||
		    b64(enc, sizeof(enc), c->auth_user, ul) < 0 ||
		    (code = auth_step(c, enc, what, r)) != 334 || b64(enc, sizeof(enc), pw, pl) < 0)
			return code == 334 ? 0 : code;
		code = auth_step(c, enc, what, r);
	} else {
		if ((code = auth_step(c, "AUTH CRAM-MD5", what, r)) != 334 ||
		    cram_answer(c, pw, r, enc, sizeof(enc)) < 0)
			return code == 334 ? 0 : code;
		code = auth_step(c, enc, what, r);
	}
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(enc, sizeof(enc));
	return code;
}

/* auth: AUTH as relay.auth_user; 0 or -1 (R set). */
static int auth(struct smtp_client *c, struct smtp_reply *r)
{
	char pw[PASSWORD_MAX], what[300];
	const char *mech = c->auth & AUTH_PLAIN	   ? "PLAIN"
			   : c->auth & AUTH_LOGIN   ? "LOGIN"
			   : c->auth & AUTH_CRAM_MD5 ? "CRAM-MD5"
						     : NULL;
	int code;

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
	snprintf(what, sizeof(what), "AUTH %s as %s", mech, c->auth_user);
	code = auth_run(c, mech, pw, what, r);
	explicit_bzero(pw, sizeof(pw));
	if (code == 235)
		return 0;
	if (code == 0 && !c->broken)
		say(r, 0, "%s: cannot encode the exchange", what);
	else if (code / 100 == 2 || code / 100 == 3)
		say(r, code, "%s: %d where 235 was due", what, code);
	return -1;
}

/* session_start: connect and set up C's session; 0, or -1 with R set and
 * nothing left open. */
static int session_start(struct smtp_client *c, struct smtp_reply *r)
{
	struct tcp_hooks h = {hook_cancelled, hook_track, c};
	char why[SMTP_TEXT_MAX];
	int fd;

	c->broken = 0;	/* set by any step that breaks the session */
	c->tls = 0;
	c->transactions = 0;
	c->in_off = c->in_len = 0;
	r->stage = SMTP_AT_SESSION;
	if ((fd = tcp_connect(c->host, c->port, c->t.connect, &h, why, sizeof(why))) < 0) {
		say(r, 0, "%s", why);
		return -1;
	}
	/* each write is a whole pipelined group or the end of a copy: nothing is
	 * gained by Nagle holding its last segment back for an ACK */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (greet(c, fd, r) < 0 || hello(c, r) < 0 || tls_policy(c, r) < 0 ||
	    (c->auth_user != NULL && auth(c, r) < 0) || c->broken) {
		stream_close(c);
		return -1;
	}
	return 0;
}

static void client_free(struct smtp_client *c)
{
	free(c->host);
	free(c->ca_file);
	free(c->auth_user);
	free(c->auth_password_file);
	free(c->helo);
	free(c->line);
	free(c);
}

struct smtp_client *smtp_client_open(const struct cfg_relay *relay, const char *helo,
				     const struct smtp_hooks *hooks, struct smtp_reply *reply)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	c->line = xmalloc(SMTP_REPLY_LINE_MAX + 2);
	c->host = xstrdup(relay->host);
	c->port = relay->port;
	c->starttls = relay->starttls;
	c->tls_verify = relay->tls_verify;
	c->ca_file = dup_opt(relay->ca_file);
	c->auth_user = dup_opt(relay->auth_user);
	c->auth_password_file = dup_opt(relay->auth_password_file);
	c->helo = xstrdup(helo != NULL && *helo != '\0' ? helo : "localhost");
	c->t = relay->timeouts;
	if (c->t.connect <= 0)	/* a relay not completed by config_load */
		c->t = (struct cfg_relay_timeouts){30, 300, 300, 300, 120, 180, 600};
	if (hooks != NULL)
		c->hooks = *hooks;
	if (session_start(c, reply) < 0) {
		client_free(c);
		return NULL;
	}
	return c;
}

/* ---- transactions ---- */

/* judged: the outcome of a reply CODE that is not the one wanted, at
 * STAGE. */
static enum smtp_outcome judged(int code, enum smtp_stage stage)
{
	if (code / 100 != 5)
		return SMTP_DEFER;	/* 4xx, or no reply at all */
	return stage == SMTP_AT_RCPT ? SMTP_FAIL : SMTP_REFUSED;
}

/* decide: R becomes the reply STEP (at STAGE) and the outcome is judged. */
static enum smtp_outcome decide(struct smtp_reply *r, const struct smtp_reply *step,
				enum smtp_stage stage)
{
	*r = *step;
	r->stage = stage;
	return judged(step->code, stage);
}

/* reset: RSET after a refusal, so that the session can go on; a reply
 * other than 250 (or none) makes it unusable. */
static void reset(struct smtp_client *c)
{
	struct smtp_reply r;

	if (c->broken || c->stream == NULL)
		return;
	if (put(c, "RSET\r\n") < 0 || flush(c, "RSET", &r) < 0 ||
	    reply(c, T_COMMAND, "RSET", 2, &r, NULL) != 250)
		c->broken = 1;
}

/* end_empty: DATA was accepted although no recipient was: a lone "."
 * (RFC 2920 §3.1), its reply read and dropped. */
static void end_empty(struct smtp_client *c)
{
	struct smtp_reply r;

	if (put(c, ".\r\n") < 0 || flush(c, "end of DATA", &r) < 0 ||
	    reply(c, T_END, "end of DATA", 2, &r, NULL) == 0)
		c->broken = 1;
}

/* start_put: MAIL, RCPT and DATA of copy V, buffered (pipelined); 0 or -1. */
static int start_put(struct smtp_client *c, const struct smtp_copy *v)
{
	char size[32] = "";

	c->transactions++;
	if (c->ext & EXT_SIZE)
		snprintf(size, sizeof(size), " SIZE=%zu", v->len);
	if (put(c, "MAIL FROM:<%s>%s\r\n", v->from, size) < 0 ||
	    put(c, "RCPT TO:<%s>\r\n", v->to) < 0 || put(c, "DATA\r\n") < 0)
		return -1;
	return 0;
}

/* start_read: the three replies to start_put; 1 if DATA got its 354 (the
 * body may follow), else 0 with V's outcome and reply set. */
static int start_read(struct smtp_client *c, struct smtp_copy *v)
{
	struct smtp_reply m, t, d;

	memset(&m, 0, sizeof(m));
	memset(&t, 0, sizeof(t));
	memset(&d, 0, sizeof(d));
	reply(c, T_COMMAND, "MAIL FROM", 2, &m, NULL);
	if (!c->broken)
		reply(c, T_RCPT, "RCPT TO", 2, &t, NULL);
	if (!c->broken)
		reply(c, T_DATA, "DATA", 3, &d, NULL);
	if (m.code / 100 != 2 || t.code / 100 != 2) {
		if (d.code == 354)
			end_empty(c);
		if (m.code / 100 != 2)
			v->outcome = decide(&v->reply, &m, SMTP_AT_MAIL);
		else
			v->outcome = decide(&v->reply, &t, SMTP_AT_RCPT);
		return 0;
	}
	if (d.code != 354) {
		v->outcome = decide(&v->reply, &d, SMTP_AT_DATA);
		return 0;
	}
	return 1;
}

/* end_read: the reply to the end of copy V's data: its outcome. */
static void end_read(struct smtp_client *c, struct smtp_copy *v)
{
	struct smtp_reply d;

	memset(&d, 0, sizeof(d));
	if (reply(c, T_END, "end of DATA", 2, &d, NULL) / 100 == 2) {
		v->reply = d;
		v->reply.stage = SMTP_AT_END;
		v->outcome = SMTP_SENT;
		return;
	}
	v->outcome = decide(&v->reply, &d, SMTP_AT_END);
}

/* transaction: one copy on the session as it is, a command at a time. */
static enum smtp_outcome transaction(struct smtp_client *c, const char *from, const char *to,
				     const char *msg, size_t len, struct smtp_reply *r)
{
	struct smtp_reply m, t, d;
	char size[32] = "";

	c->transactions++;
	memset(&m, 0, sizeof(m));
	memset(&t, 0, sizeof(t));
	memset(&d, 0, sizeof(d));
	if (c->ext & EXT_SIZE)
		snprintf(size, sizeof(size), " SIZE=%zu", len);
	r->stage = SMTP_AT_MAIL;
	if (put(c, "MAIL FROM:<%s>%s\r\n", from, size) < 0 || flush(c, "MAIL FROM", r) < 0)
		return SMTP_DEFER;
	if (reply(c, T_COMMAND, "MAIL FROM", 2, &m, NULL) / 100 != 2)
		return decide(r, &m, SMTP_AT_MAIL);
	if (put(c, "RCPT TO:<%s>\r\n", to) < 0 || flush(c, "RCPT TO", r) < 0)
		return SMTP_DEFER;
	if (reply(c, T_RCPT, "RCPT TO", 2, &t, NULL) / 100 != 2)
		return decide(r, &t, SMTP_AT_RCPT);
	if (put(c, "DATA\r\n") < 0 || flush(c, "DATA", r) < 0)
		return SMTP_DEFER;
	if (reply(c, T_DATA, "DATA", 3, &d, NULL) != 354)
		return decide(r, &d, SMTP_AT_DATA);
	r->stage = SMTP_AT_END;
	if (put_body(c, msg, len) < 0 || flush(c, "the data", r) < 0)
		return SMTP_DEFER;
	if (reply(c, T_END, "end of DATA", 2, &d, NULL) / 100 == 2) {
		*r = d;
		r->stage = SMTP_AT_END;
		return SMTP_SENT;
	}
	return decide(r, &d, SMTP_AT_END);
}

/* lost: V was not sent, the session broke first (WHAT was under way). */
static void lost(struct smtp_client *c, struct smtp_copy *v, enum smtp_stage stage)
{
	v->outcome = SMTP_DEFER;
	say(&v->reply, 0, "connection to %s:%d lost", c->host, c->port);
	v->reply.stage = stage;
}

/* address_refused: V cannot be sent (an address that cannot go in a
 * command); 1 and V's outcome set, or 0. */
static int address_refused(struct smtp_copy *v)
{
	if ((v->from != NULL && (v->from[0] == '\0' || smtp_client_address_ok(v->from))) &&
	    smtp_client_address_ok(v->to))
		return 0;
	say(&v->reply, 0, "address refused before sending: <%s> or <%s> is empty, too long or "
	    "holds a control character or <>", v->from ? v->from : "", v->to ? v->to : "");
	v->reply.stage = SMTP_AT_MAIL;
	v->outcome = SMTP_FAIL;
	return 1;
}

/* pipelined: the copies V[0..N) over a session that offers PIPELINING:
 * each write carries the end of one copy's data and the commands of the
 * next (RFC 2920: message content first, DATA last), so a copy costs one
 * round trip. After a transaction that did not reach its data, RSET goes
 * before the next MAIL. */
static void pipelined(struct smtp_client *c, struct smtp_copy *v, size_t n)
{
	size_t i = 0, j;
	int go, retried = 0, reused = c->transactions > 0;

	while (i < n && address_refused(&v[i]))
		i++;
	if (i == n)
		return;
	for (;;) {
		struct smtp_reply r;
		if (start_put(c, &v[i]) < 0 || flush(c, "MAIL FROM", &r) < 0) {
			lost(c, &v[i], SMTP_AT_MAIL);
			go = 0;
		} else {
			go = start_read(c, &v[i]);
		}
		if (!(reused && !retried && c->broken && v[i].reply.code == 0 && !go))
			break;
		/* an idle session the relay dropped: once more on a new one */
		retried = 1;
		stream_close(c);
		if (session_start(c, &v[i].reply) < 0) {
			v[i].outcome = SMTP_DEFER;
			for (j = i + 1; j < n; j++)
				if (!address_refused(&v[j])) {
					v[j].outcome = SMTP_DEFER;
					v[j].reply = v[i].reply;
				}
			return;
		}
	}
	while (i < n) {
		struct smtp_reply r;
		int rset = !go && !c->broken;
		for (j = i + 1; j < n && address_refused(&v[j]); j++)
			;
		if (c->broken)
			break;
		if ((go && put_body(c, v[i].msg, v[i].len) < 0) || (rset && j < n && put(c, "RSET\r\n") < 0) ||
		    (j < n && start_put(c, &v[j]) < 0) || flush(c, "the data", &r) < 0) {
			if (go)
				lost(c, &v[i], SMTP_AT_END);
			break;
		}
		if (go)
			end_read(c, &v[i]);
		if (rset && j < n && !c->broken && reply(c, T_COMMAND, "RSET", 2, &r, NULL) != 250)
			c->broken = 1;
		i = j;
		if (i < n)
			go = c->broken ? 0 : start_read(c, &v[i]);
		if (c->broken && i < n && v[i].reply.code == 0)
			lost(c, &v[i], SMTP_AT_MAIL);
	}
	for (i = i < n ? i + 1 : n; i < n; i++)
		if (!address_refused(&v[i]))
			lost(c, &v[i], SMTP_AT_MAIL);
	if (!go || c->broken)
		reset(c);
}

size_t smtp_client_send_batch(struct smtp_client *c, struct smtp_copy *v, size_t n)
{
	size_t i, sent = 0;

	for (i = 0; i < n; i++) {
		memset(&v[i].reply, 0, sizeof(v[i].reply));
		v[i].outcome = SMTP_DEFER;
	}
	if (c->broken || c->stream == NULL) {
		for (i = 0; i < n; i++)
			if (!address_refused(&v[i]))
				say(&v[i].reply, 0, "the session with %s:%d is closed", c->host, c->port);
		return 0;
	}
	if (c->ext & EXT_PIPELINING)
		pipelined(c, v, n);
	else
		for (i = 0; i < n; i++)
			if (!address_refused(&v[i]))
				v[i].outcome = smtp_client_send(c, v[i].from, v[i].to, v[i].msg, v[i].len,
								&v[i].reply);
	for (i = 0; i < n; i++)
		sent += v[i].outcome == SMTP_SENT;
	return sent;
}

/* rcpts_put: MAIL, the RCPT of each recipient of V not in SKIP, and (if
 * DATA) DATA, buffered; after each, with WAIT (no PIPELINING), flushed and
 * its reply read into M, T[i] or D (reading stops at a refused MAIL). 0, or
 * -1 if the session broke while writing. */
static int rcpts_put(struct smtp_client *c, const struct smtp_copy *v, size_t n,
		     const unsigned char *skip, int wait, struct smtp_reply *m, struct smtp_reply *t)
{
	char size[32] = "";
	struct smtp_reply r;
	size_t i;

	if (c->ext & EXT_SIZE)
		snprintf(size, sizeof(size), " SIZE=%zu", v[0].len);
	if (put(c, "MAIL FROM:<%s>%s\r\n", v[0].from, size) < 0)
		return -1;
	if (wait && (flush(c, "MAIL FROM", &r) < 0 ||
		     reply(c, T_COMMAND, "MAIL FROM", 2, m, NULL) / 100 != 2))
		return c->broken ? -1 : 0;
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		if (put(c, "RCPT TO:<%s>\r\n", v[i].to) < 0)
			return -1;
		if (wait && (flush(c, "RCPT TO", &r) < 0 ||
			     reply(c, T_RCPT, "RCPT TO", 2, &t[i], NULL) == 0))
			return -1;
	}
	return 0;
}

/* rcpts_end: after the 354, the data and the reply to its end, for the
 * recipients of V that RCPT accepted (OK[i]). */
static void rcpts_end(struct smtp_client *c, struct smtp_copy *v, size_t n,
		      const unsigned char *ok)
{
	struct smtp_reply e, r;
	enum smtp_outcome o;
	size_t i;

	memset(&e, 0, sizeof(e));
	if (put_body(c, v[0].msg, v[0].len) < 0 || flush(c, "the data", &r) < 0) {
		for (i = 0; i < n; i++)
			if (ok[i])
				lost(c, &v[i], SMTP_AT_END);
		return;
	}
	o = reply(c, T_END, "end of DATA", 2, &e, NULL) / 100 == 2 ? SMTP_SENT : judged(e.code, SMTP_AT_END);
	for (i = 0; i < n; i++) {
		if (!ok[i])
			continue;
		v[i].reply = e;
		v[i].reply.stage = SMTP_AT_END;
		v[i].outcome = o;
	}
}

size_t smtp_client_send_rcpts(struct smtp_client *c, struct smtp_copy *v, size_t n)
{
	struct smtp_reply m, d, *t = xcalloc(n + 1, sizeof(*t));
	unsigned char *skip = xcalloc(n + 1, 1), *ok = xcalloc(n + 1, 1);
	int pipe = (c->ext & EXT_PIPELINING) != 0;
	size_t i, accepted = 0, sent = 0;

	memset(&m, 0, sizeof(m));
	memset(&d, 0, sizeof(d));
	for (i = 0; i < n; i++) {
		memset(&v[i].reply, 0, sizeof(v[i].reply));
		v[i].outcome = SMTP_DEFER;
		v[i].from = v[0].from;
		skip[i] = (unsigned char)address_refused(&v[i]);
	}
	if (c->broken || c->stream == NULL) {
		for (i = 0; i < n; i++)
			if (!skip[i])
				say(&v[i].reply, 0, "the session with %s:%d is closed", c->host, c->port);
		goto out;
	}
	c->transactions++;
	if (rcpts_put(c, v, n, skip, !pipe, &m, t) < 0 || (pipe && put(c, "DATA\r\n") < 0) ||
	    (pipe && flush(c, "MAIL FROM", &m) < 0))
		goto broken;
	if (pipe) {
		reply(c, T_COMMAND, "MAIL FROM", 2, &m, NULL);
		for (i = 0; i < n && !c->broken; i++)
			if (!skip[i])
				reply(c, T_RCPT, "RCPT TO", 2, &t[i], NULL);
		if (!c->broken)
			reply(c, T_DATA, "DATA", 3, &d, NULL);
	}
	if (m.code / 100 != 2) {
		if (d.code == 354)
			end_empty(c);
		for (i = 0; i < n; i++)
			if (!skip[i])
				v[i].outcome = decide(&v[i].reply, &m, SMTP_AT_MAIL);
		goto reset;
	}
	for (i = 0; i < n; i++) {
		if (skip[i])
			continue;
		if (t[i].code / 100 == 2)
			ok[i] = 1, accepted++;
		else
			v[i].outcome = decide(&v[i].reply, &t[i], SMTP_AT_RCPT);
	}
	if (!pipe && accepted > 0 && !c->broken &&
	    (put(c, "DATA\r\n") < 0 || flush(c, "DATA", &d) < 0 ||
	     reply(c, T_DATA, "DATA", 3, &d, NULL) == 0))
		goto broken;
	if (accepted == 0) {
		if (d.code == 354)
			end_empty(c);
		goto reset;
	}
	if (d.code != 354) {
		for (i = 0; i < n; i++)
			if (ok[i])
				v[i].outcome = decide(&v[i].reply, &d, SMTP_AT_DATA);
		goto reset;
	}
	rcpts_end(c, v, n, ok);
	goto out;
broken:
	for (i = 0; i < n; i++)
		if (!skip[i] && (ok[i] || t[i].code == 0 || t[i].code / 100 == 2))
			lost(c, &v[i], SMTP_AT_MAIL);
		else if (!skip[i])
			v[i].outcome = decide(&v[i].reply, &t[i], SMTP_AT_RCPT);
	goto out;
reset:
	reset(c);
out:
	for (i = 0; i < n; i++)
		sent += v[i].outcome == SMTP_SENT;
	free(t);
	free(skip);
	free(ok);
	return sent;
}

enum smtp_outcome smtp_client_send(struct smtp_client *c, const char *from, const char *to,
				   const char *msg, size_t len, struct smtp_reply *reply)
{
	enum smtp_outcome o;
	int reused;

	reply->stage = SMTP_AT_MAIL;
	if ((from == NULL || (from[0] != '\0' && !smtp_client_address_ok(from))) ||
	    !smtp_client_address_ok(to)) {
		say(reply, 0, "address refused before sending: <%s> or <%s> is empty, too long or "
		    "holds a control character or <>", from ? from : "", to ? to : "");
		return SMTP_FAIL;
	}
	if (c->broken || c->stream == NULL) {
		say(reply, 0, "the session with %s:%d is closed", c->host, c->port);
		return SMTP_DEFER;
	}
	if (c->ext & EXT_PIPELINING) {
		struct smtp_copy one = {from, to, msg, len, SMTP_DEFER, {0}};
		smtp_client_send_batch(c, &one, 1);
		*reply = one.reply;
		return one.outcome;
	}
	reused = c->transactions > 0;
	o = transaction(c, from, to, msg, len, reply);
	if (o == SMTP_DEFER && reused && c->broken && reply->stage == SMTP_AT_MAIL &&
	    reply->code == 0) {
		/* an idle session the relay dropped: once more on a new one */
		stream_close(c);
		if (session_start(c, reply) < 0)
			return SMTP_DEFER;
		o = transaction(c, from, to, msg, len, reply);
	}
	if (o != SMTP_SENT)
		reset(c);
	return o;
}

int smtp_client_usable(const struct smtp_client *c)
{
	return c != NULL && !c->broken && c->stream != NULL;
}

int smtp_client_fd(const struct smtp_client *c)
{
	return c != NULL && c->stream != NULL ? mailstream_low_get_fd(mailstream_get_low(c->stream))
					      : -1;
}

int smtp_client_matches(const struct smtp_client *c, const struct cfg_relay *relay)
{
	return strcmp(c->host, relay->host) == 0 && c->port == relay->port &&
	       c->starttls == relay->starttls && c->tls_verify == relay->tls_verify &&
	       same_opt(c->ca_file, relay->ca_file) && same_opt(c->auth_user, relay->auth_user) &&
	       same_opt(c->auth_password_file, relay->auth_password_file) &&
	       (relay->timeouts.connect <= 0 || memcmp(&c->t, &relay->timeouts, sizeof(c->t)) == 0);
}

void smtp_client_close(struct smtp_client *c)
{
	struct smtp_reply r;

	if (c == NULL)
		return;
	if (!c->broken && c->stream != NULL && put(c, "QUIT\r\n") == 0 &&
	    flush(c, "QUIT", &r) == 0)
		(void)reply(c, T_QUIT, "QUIT", 2, &r, NULL);	/* the reply does not matter */
	stream_close(c);
	client_free(c);
}
