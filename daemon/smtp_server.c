/*
 * smtp_server.c - one SMTP or LMTP session (see smtp_server.h).
 *
 * Replies are queued and flushed whenever we would wait for input, which is
 * what RFC 2920 pipelining needs. Every limit of daemon.limits is enforced
 * here with the reply code RFC 5321 and RFC 3463 give for it. Every command
 * line must arrive within limits.command_timeout and the data of a message
 * within limits.data_timeout plus a minimum rate, however the client trickles
 * it. Must never say 250 to DATA before the message is durable, never leave
 * a partial spool file behind, never accept a NUL, bare CR or bare LF, and
 * never accept a recipient that is not one of our addresses.
 */
#include "autoconf.h"

#include "smtp_server.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "recipient.h"
#include "spool.h"
#include "xalloc.h"

#define SMTP_LINE_MAX 2048	/* command lines; RFC 5321 asks for 512 at least */
#define SMTP_HOPS_MAX CONFIG_HOPS_MAX	/* Received: headers before we call it a loop */
#define SMTP_MIN_DATA_RATE 500	/* bytes/s a DATA may not fall below (Postfix's) */

struct session {
	struct conn c;
	const struct smtp_session_args *a;
	const struct config *cfg;
	const char *proto;	/* "SMTP", "ESMTP", "LMTP" */
	char hostname[256];
	char helo[256];
	int greeted;
	int errors;
	int closing;		/* too many errors: end the session after this reply */
	int in_mail;
	char sender[ADDRESS_MAX + 1];
	struct strv rcpts;
	long long declared_size;
};

/* DATA parser state: where we are within a line. */
enum data_state { DS_START, DS_DOT, DS_DOT_CR, DS_MID, DS_CR, DS_END };

struct data_reader {
	enum data_state st;
	int in_headers;
	int header_lines;
	int hops;
	long line_len;
	int bare;		/* a bare CR or LF was seen */
	int nul;		/* a NUL byte was seen */
	long long header_bytes;	/* of the header section so far */
	long long header_max;
	int header_big;		/* the header section passed header_max */
	int long_line;
	char buf[8192];		/* unstuffed bytes waiting for the spool */
	size_t n;
	char line_head[16];	/* start of the current line, for "Received:" */
	size_t head_n;
	struct spool_writer *w;
	int write_error;
	int oversize;
};

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct session *s, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	conn_printf(&s->c, "%s\r\n", line);
}

/* error_reply: a 5xx for a client error, counted toward daemon.limits.errors. */
static int error_reply(struct session *s, const char *text)
{
	reply(s, "%s", text);
	if (++s->errors >= s->cfg->daemon.limits.errors) {
		reply(s, "421 4.7.0 %s Too many errors; closing", s->hostname);
		log_info("%s: disconnected after %d errors", s->a->peer, s->errors);
		s->closing = 1;
		return -1;
	}
	return 0;
}

static void transaction_reset(struct session *s)
{
	s->in_mail = 0;
	s->sender[0] = '\0';
	s->declared_size = 0;
	strv_free(&s->rcpts);
}

/* ---- command parsing ---- */

/* verb_is: LINE starts with VERB followed by end or space. */
static int verb_is(const char *line, const char *verb)
{
	size_t n = strlen(verb);
	return strncasecmp(line, verb, n) == 0 && (line[n] == '\0' || line[n] == ' ');
}

/*
 * parse_path: "<addr>" (with an optional obsolete source route) after
 * "FROM:"/"TO:" into OUT (normalised; "" for <> when NULL_OK); *REST points
 * at the parameters. 0, or -1 with a reply text in ERR.
 */
static int parse_path(const char *p, int null_ok, char out[ADDRESS_MAX + 1], const char **rest,
		      char *err, size_t errlen)
{
	char inner[SMTP_LINE_MAX], aerr[ADDRESS_ERR_MAX];
	const char *end, *colon;

	while (*p == ' ')
		p++;
	if (*p != '<' || (end = strchr(p, '>')) == NULL) {
		snprintf(err, errlen, "501 5.5.4 Syntax: address must be in <>");
		return -1;
	}
	snprintf(inner, sizeof(inner), "%.*s", (int)(end - p - 1), p + 1);
	*rest = end + 1;
	if (inner[0] == '@' && (colon = strchr(inner, ':')) != NULL)
		memmove(inner, colon + 1, strlen(colon + 1) + 1);	/* drop the source route */
	if (inner[0] == '\0') {
		if (null_ok) {
			out[0] = '\0';
			return 0;
		}
		snprintf(err, errlen, "501 5.1.3 Empty recipient address");
		return -1;
	}
	if (address_parse_spec(inner, out, aerr, sizeof(aerr)) < 0) {
		snprintf(err, errlen, "501 5.1.%d Bad address <%.200s>: %s", null_ok ? 7 : 3, inner,
			 aerr);
		return -1;
	}
	return 0;
}

/* MAIL FROM parameters: SIZE=n and BODY=7BIT|8BITMIME; others refused. */
static int mail_params(struct session *s, const char *p, char *err, size_t errlen)
{
	char param[256];

	while (*p) {
		size_t n;
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == 0)
			break;
		snprintf(param, sizeof(param), "%.*s", (int)n, p);
		p += n;
		if (strncasecmp(param, "SIZE=", 5) == 0) {
			char *end;
			long long v = strtoll(param + 5, &end, 10);
			if (*end != '\0' || v < 0) {
				snprintf(err, errlen, "501 5.5.4 Bad SIZE parameter");
				return -1;
			}
			if (v > s->cfg->daemon.limits.message_size) {
				snprintf(err, errlen, "552 5.3.4 Message size exceeds fixed limit of %lld",
					 s->cfg->daemon.limits.message_size);
				return -1;
			}
			s->declared_size = v;
		} else if (strcasecmp(param, "BODY=7BIT") != 0 &&
			   strcasecmp(param, "BODY=8BITMIME") != 0) {
			snprintf(err, errlen, "555 5.5.4 Unsupported parameter %.100s", param);
			return -1;
		}
	}
	return 0;
}

/* spool_short: 1 if the spool's file system has less room than
 * limits.spool_min_free (default twice message_size): mail is then refused
 * with 452 4.3.1 before any of it is read. */
static int spool_short(struct session *s)
{
	const struct cfg_limits *lim = &s->cfg->daemon.limits;
	long long floor = lim->spool_min_free >= 0 ? lim->spool_min_free : 2 * lim->message_size;
	struct statvfs vfs;

	if (floor == 0 || statvfs(s->cfg->daemon.spool, &vfs) < 0)
		return 0;	/* unknown: the writes will tell */
	if ((long long)vfs.f_bavail * (long long)vfs.f_frsize >= floor)
		return 0;
	log_warn("%s: %s has less than %lld bytes free: mail is refused for now", s->a->peer,
		 s->cfg->daemon.spool, floor);
	return 1;
}

/* ---- commands ---- */

static void cmd_hello(struct session *s, const char *arg, int extended)
{
	const struct cfg_daemon *d = &s->cfg->daemon;

	while (*arg == ' ')
		arg++;
	if (*arg == '\0') {
		error_reply(s, "501 5.5.4 Syntax: hostname required");
		return;
	}
	snprintf(s->helo, sizeof(s->helo), "%.*s", (int)strcspn(arg, " "), arg);
	for (char *c = s->helo; *c; c++)	/* it goes into a header and the log */
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			*c = '?';
	transaction_reset(s);
	s->greeted = 1;
	s->proto = s->a->lmtp ? "LMTP" : extended ? "ESMTP" : "SMTP";
	if (!extended) {
		reply(s, "250 %s", s->hostname);
		return;
	}
	reply(s, "250-%s Hello %s [%s]", s->hostname, s->helo, s->a->peer_ip);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %lld", d->limits.message_size);
	reply(s, "250-8BITMIME");
	if (s->a->tls != NULL && s->c.ssl == NULL)
		reply(s, "250-STARTTLS");
	reply(s, "250 ENHANCEDSTATUSCODES");
}

static void cmd_mail(struct session *s, const char *arg)
{
	const char *rest;
	char err[400];

	if (!s->greeted) {
		error_reply(s, s->a->lmtp ? "503 5.5.1 Send LHLO first" : "503 5.5.1 Send EHLO/HELO first");
		return;
	}
	if (s->in_mail) {
		error_reply(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	if (strncasecmp(arg, "FROM:", 5) != 0) {
		error_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (parse_path(arg + 5, 1, s->sender, &rest, err, sizeof(err)) < 0 ||
	    mail_params(s, rest, err, sizeof(err)) < 0) {
		error_reply(s, err);
		return;
	}
	if (spool_short(s)) {
		s->sender[0] = '\0';
		s->declared_size = 0;
		reply(s, "452 4.3.1 Insufficient system storage; try again later");
		return;
	}
	s->in_mail = 1;
	reply(s, "250 2.1.0 Ok");
}

static void cmd_rcpt(struct session *s, const char *arg)
{
	char addr[ADDRESS_MAX + 1], err[400];
	struct rcpt_target t;
	const char *rest;

	if (!s->in_mail) {
		error_reply(s, "503 5.5.1 Need MAIL before RCPT");
		return;
	}
	if (strncasecmp(arg, "TO:", 3) != 0) {
		error_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (parse_path(arg + 3, 0, addr, &rest, err, sizeof(err)) < 0) {
		error_reply(s, err);
		return;
	}
	while (*rest == ' ')
		rest++;
	if (*rest != '\0') {
		error_reply(s, "555 5.5.4 RCPT parameters are not supported");
		return;
	}
	if (recipient_resolve(s->cfg, addr, &t) < 0) {
		snprintf(err, sizeof(err), "550 5.1.1 <%s>: no such list address here", addr);
		log_info("%s: refused recipient <%s> from <%s>", s->a->peer, addr, s->sender);
		error_reply(s, err);
		return;
	}
	if ((long)s->rcpts.n >= s->cfg->daemon.limits.recipients) {
		reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	strv_push(&s->rcpts, addr);
	reply(s, "250 2.1.5 Ok");
}

/* ---- DATA ---- */

static void data_flush(struct data_reader *r)
{
	if (r->n == 0)
		return;
	if (!r->write_error && !r->oversize && !r->header_big) {
		int rc = spool_write(r->w, r->buf, r->n);
		if (rc < 0)
			r->write_error = errno ? errno : EIO;
		else if (rc > 0)
			r->oversize = 1;
	} else {
		spool_write(r->w, r->buf, r->n);	/* only counts the size */
	}
	r->n = 0;
}

static void data_put(struct data_reader *r, char c)
{
	if (r->in_headers && ++r->header_bytes > r->header_max)
		r->header_big = 1;	/* refused at the end; nothing more is stored */
	if (r->n == sizeof(r->buf))
		data_flush(r);
	r->buf[r->n++] = c;
	if (r->head_n < sizeof(r->line_head))
		r->line_head[r->head_n++] = c;
}

/* A line ended (after its CRLF was emitted): headers and hop counting. */
static void data_line_end(struct data_reader *r, long max_line)
{
	if (r->line_len > max_line)
		r->long_line = 1;
	if (r->in_headers) {
		if (r->line_len == 0)
			r->in_headers = 0;
		else if (r->line_head[0] != ' ' && r->line_head[0] != '\t') {
			r->header_lines++;
			if (r->head_n >= 9 && strncasecmp(r->line_head, "Received:", 9) == 0)
				r->hops++;
		}
	}
	r->line_len = 0;
	r->head_n = 0;
}

/* data_byte: feed one byte; the state machine of end-of-data detection. */
static void data_byte(struct data_reader *r, char c, long max_line)
{
	switch (r->st) {
	case DS_START:
		if (c == '.') {
			r->st = DS_DOT;
			return;
		}
		r->st = DS_MID;
		data_byte(r, c, max_line);
		return;
	case DS_DOT:
		if (c == '\r') {
			r->st = DS_DOT_CR;
			return;
		}
		r->st = DS_MID;	/* a dot-stuffed line: the first dot is dropped */
		data_byte(r, c, max_line);
		return;
	case DS_DOT_CR:
		if (c == '\n') {
			r->st = DS_END;
			return;
		}
		r->bare = 1;	/* ".<CR>x": a bare CR */
		r->st = DS_MID;
		data_put(r, '\r');
		data_byte(r, c, max_line);
		return;
	case DS_MID:
		if (c == '\r') {
			r->st = DS_CR;
		} else {
			if (c == '\n')
				r->bare = 1;	/* bare LF: never a line end for us */
			else if (c == '\0')
				r->nul = 1;	/* RFC 5321 4.5.2: never in mail */
			data_put(r, c);
			r->line_len++;
		}
		return;
	case DS_CR:
		if (c == '\n') {
			data_put(r, '\r');
			data_put(r, '\n');
			data_line_end(r, max_line);
			r->st = DS_START;
			return;
		}
		r->bare = 1;
		data_put(r, '\r');
		r->line_len++;
		r->st = DS_MID;
		data_byte(r, c, max_line);
		return;
	case DS_END:
		return;
	}
}

/* Read DATA until <CRLF>.<CRLF>; CONN_OK or the connection's failure. The
 * whole data must come within data_timeout plus one second per
 * SMTP_MIN_DATA_RATE bytes received: a trickle is cut, a big message is not. */
static int data_read(struct session *s, struct data_reader *r)
{
	long max_line = s->cfg->daemon.limits.line_length;
	long long budget = (long long)s->cfg->daemon.limits.data_timeout * 1000, got = 0;
	int rc;

	s->c.timeout_ms = s->cfg->daemon.limits.data_timeout * 1000;
	conn_set_deadline(&s->c, (int)budget);
	for (;;) {
		size_t before = s->c.in_off;
		while (s->c.in_off < s->c.in_len && r->st != DS_END)
			data_byte(r, s->c.in[s->c.in_off++], max_line);
		got += (long long)(s->c.in_off - before);
		if (r->st == DS_END)
			break;
		conn_extend_deadline(&s->c, budget + got * 1000 / SMTP_MIN_DATA_RATE);
		rc = conn_fill(&s->c);
		if (rc == CONN_STOP)
			continue;	/* finish this transaction first */
		if (rc != CONN_OK)
			return rc;
	}
	data_flush(r);
	s->c.timeout_ms = s->cfg->daemon.limits.command_timeout * 1000;
	return CONN_OK;
}

static void trace_header(struct session *s, const char *qid, char *buf, size_t len)
{
	char date[64], tls[128];
	time_t now = time(NULL);
	struct tm tm;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
	conn_tls_info(&s->c, tls, sizeof(tls));
	snprintf(buf, len,
		 "Received: from %s (%s)\r\n\tby %s (parley) with %s%s\r\n\tid %s%s%s%s;\r\n\t%s\r\n",
		 s->helo, s->a->peer, s->hostname, s->proto, s->c.ssl && !s->a->lmtp ? "S" : "",
		 qid, tls[0] ? " (" : "", tls, tls[0] ? ")" : "", date);
}

/* The reply for a finished DATA, given what the reader saw. */
static const char *data_verdict(struct session *s, const struct data_reader *r, char *buf,
				size_t len)
{
	const struct cfg_limits *lim = &s->cfg->daemon.limits;

	if (r->write_error)
		return "451 4.3.0 Cannot store the message; try again later";
	if (r->bare)
		return "550 5.6.0 Message refused: bare CR or LF in data (RFC 5321 section 2.3.8)";
	if (r->nul)
		return "550 5.6.0 Message refused: NUL byte in data (RFC 5321 section 4.5.2)";
	if (r->header_big) {
		snprintf(buf, len, "552 5.3.4 Message header section exceeds fixed limit of %lld bytes",
			 lim->header_size);
		return buf;
	}
	if (r->oversize) {
		snprintf(buf, len, "552 5.3.4 Message size exceeds fixed limit of %lld",
			 lim->message_size);
		return buf;
	}
	if (r->long_line) {
		snprintf(buf, len, "552 5.6.0 Line longer than %d characters", lim->line_length);
		return buf;
	}
	if (r->hops > SMTP_HOPS_MAX)
		return "554 5.4.6 Too many hops: mail loop?";
	if (r->header_lines > lim->header_count) {
		snprintf(buf, len, "552 5.6.0 More than %d header fields", lim->header_count);
		return buf;
	}
	return NULL;
}

static void data_replies(struct session *s, const char *text)
{
	size_t i, n = s->a->lmtp ? s->rcpts.n : 1;

	for (i = 0; i < n; i++)
		reply(s, "%s", text);
}

static int cmd_data(struct session *s)
{
	struct envelope env;
	struct data_reader r;
	char trace[1024], buf[300], ok[200], tls[128];
	const char *verdict;
	long long size;
	int rc;

	if (!s->in_mail || s->rcpts.n == 0) {
		error_reply(s, s->in_mail ? "554 5.5.1 No valid recipients" : "503 5.5.1 Need MAIL and RCPT first");
		return CONN_OK;
	}
	if (spool_short(s)) {	/* the disk filled since MAIL */
		data_replies(s, "452 4.3.1 Insufficient system storage; try again later");
		transaction_reset(s);
		return CONN_OK;
	}
	envelope_init(&env);
	spool_new_id(env.queue_id);
	env.proto = xstrdup(s->proto);
	env.client = xstrdup(s->a->peer);
	env.helo = xstrdup(s->helo);
	if (conn_tls_info(&s->c, tls, sizeof(tls))[0])
		env.tls = xstrdup(tls);
	env.sender = xstrdup(s->sender);
	for (size_t i = 0; i < s->rcpts.n; i++)
		strv_push(&env.rcpts, s->rcpts.v[i]);
	trace_header(s, env.queue_id, trace, sizeof(trace));
	memset(&r, 0, sizeof(r));
	r.in_headers = 1;
	r.header_max = s->cfg->daemon.limits.header_size;
	r.w = spool_begin(s->cfg->daemon.spool, &env, trace, s->cfg->daemon.limits.message_size);
	if (r.w == NULL) {
		reply(s, errno == ENOSPC ? "452 4.3.1 Insufficient system storage"
					 : "451 4.3.0 Cannot store the message; try again later");
		envelope_free(&env);
		transaction_reset(s);
		return CONN_OK;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	rc = data_read(s, &r);
	if (rc != CONN_OK) {
		spool_abort(r.w);	/* the client left mid-DATA: nothing is kept */
		if (rc == CONN_TIMEOUT)
			reply(s, "421 4.4.2 %s Timeout during DATA; closing", s->hostname);
		log_info("%s: %s: %s during DATA; nothing kept", env.queue_id, s->a->peer,
			 rc == CONN_TIMEOUT ? "timeout" : "connection lost");
		envelope_free(&env);
		return rc;
	}
	verdict = data_verdict(s, &r, buf, sizeof(buf));
	size = spool_size(r.w);
	if (verdict != NULL) {
		spool_abort(r.w);
	} else if (spool_commit(r.w) < 0) {
		verdict = "451 4.3.0 Cannot store the message; try again later";
	}
	if (verdict != NULL) {
		log_info("%s: from=<%s> client=%s size=%lld refused: %s", env.queue_id, s->sender,
			 s->a->peer, size, verdict);
		data_replies(s, verdict);
	} else {
		snprintf(ok, sizeof(ok), "250 2.0.0 Ok: queued as %s", env.queue_id);
		log_info("%s: from=<%s> client=%s size=%lld nrcpt=%zu accepted", env.queue_id,
			 s->sender, s->a->peer, size, s->rcpts.n);
		data_replies(s, ok);
		runtime_ring(s->a->rt);
		s->errors = 0;	/* a client that delivers is not probing us */
	}
	envelope_free(&env);
	transaction_reset(s);
	return CONN_OK;
}

static int cmd_starttls(struct session *s)
{
	if (s->a->tls == NULL || s->c.ssl != NULL) {
		return error_reply(s, s->c.ssl ? "503 5.5.1 TLS already active" : "502 5.5.1 STARTTLS not available");
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	conn_discard_input(&s->c);	/* plaintext pipelined after STARTTLS is not trusted */
	if (conn_starttls(&s->c, s->a->tls) < 0)
		return -1;
	conn_discard_input(&s->c);
	s->greeted = 0;		/* RFC 3207: forget everything learnt before */
	s->helo[0] = '\0';
	transaction_reset(s);
	return 0;
}

/* dispatch: one command line (CRLF stripped). -1 to end the session. */
static int dispatch(struct session *s, char *line)
{
	int lmtp = s->a->lmtp;

	if (verb_is(line, "EHLO") || verb_is(line, "HELO")) {
		if (lmtp)
			return error_reply(s, "500 5.5.1 This is LMTP: use LHLO");
		cmd_hello(s, line + 4, toupper((unsigned char)line[0]) == 'E');
	} else if (verb_is(line, "LHLO")) {
		if (!lmtp)
			return error_reply(s, "500 5.5.1 LHLO is for LMTP");
		cmd_hello(s, line + 4, 1);
	} else if (verb_is(line, "MAIL")) {
		cmd_mail(s, line + 5);
	} else if (verb_is(line, "RCPT")) {
		cmd_rcpt(s, line + 5);
	} else if (verb_is(line, "DATA")) {
		return cmd_data(s) == CONN_OK ? 0 : -1;
	} else if (verb_is(line, "RSET")) {
		transaction_reset(s);
		reply(s, "250 2.0.0 Ok");
	} else if (verb_is(line, "NOOP")) {
		reply(s, "250 2.0.0 Ok");
	} else if (verb_is(line, "QUIT")) {
		reply(s, "221 2.0.0 Bye");
		return -1;
	} else if (verb_is(line, "STARTTLS")) {
		return cmd_starttls(s);
	} else if (verb_is(line, "VRFY") || verb_is(line, "EXPN")) {
		reply(s, "502 5.5.1 VRFY and EXPN are refused");
	} else if (verb_is(line, "HELP")) {
		reply(s, "214 2.0.0 parley: see RFC 5321 and RFC 2033");
	} else {
		return error_reply(s, "500 5.5.2 Command not recognized");
	}
	return 0;
}

/* next_command: read one command line into LINE; 1, or 0 to end the session. */
static int next_command(struct session *s, char *line, size_t max)
{
	size_t len;
	int rc;

	for (;;) {
		conn_set_deadline(&s->c, s->cfg->daemon.limits.command_timeout * 1000);
		if (runtime_stopping(s->a->rt) && !s->in_mail) {
			reply(s, "421 4.3.2 %s Service shutting down", s->hostname);
			return 0;
		}
		rc = conn_line(&s->c, line, max, &len);
		if (rc == CONN_OK)
			break;
		if (rc == CONN_STOP)
			continue;
		if (rc == CONN_TOOLONG) {
			if (error_reply(s, "500 5.5.2 Line too long") < 0)
				return 0;
			continue;
		}
		if (rc == CONN_TIMEOUT) {
			reply(s, "421 4.4.2 %s Timeout; closing", s->hostname);
			log_info("%s: timeout after %s", s->a->peer, s->in_mail ? "MAIL" : "command");
		}
		return 0;
	}
	if (memchr(line, '\0', len) != NULL) {
		line[0] = '\0';	/* it would cut the command short */
		if (error_reply(s, "500 5.5.2 NUL byte in command") < 0)
			return 0;
		return 2;
	}
	if (len < 2 || line[len - 2] != '\r' || memchr(line, '\r', len - 2) != NULL) {
		line[0] = '\0';
		if (error_reply(s, "500 5.5.2 Commands must end with <CR><LF>, without bare CR") < 0)
			return 0;
		return 2;
	}
	line[len - 2] = '\0';
	return 1;
}

void smtp_session(const struct smtp_session_args *a)
{
	struct cfg_gen *g = runtime_hold(a->rt);
	struct session s;
	char line[SMTP_LINE_MAX + 1];
	int rc;

	memset(&s, 0, sizeof(s));
	s.a = a;
	s.cfg = g->cfg;
	s.proto = a->lmtp ? "LMTP" : "SMTP";
	config_hostname(s.cfg, s.hostname, sizeof(s.hostname));
	conn_init(&s.c, a->fd, a->stop_fd, s.cfg->daemon.limits.command_timeout * 1000);
	reply(&s, "220 %s %s parley", s.hostname, a->lmtp ? "LMTP" : "ESMTP");
	while ((rc = next_command(&s, line, sizeof(line))) != 0) {
		if (rc == 2)
			continue;
		if (dispatch(&s, line) < 0 || s.closing)
			break;
	}
	if (s.c.write_failed)
		log_info("%s: closed: the client does not take its replies", a->peer);
	conn_close(&s.c);
	transaction_reset(&s);
	runtime_release(a->rt, g);
}
