/*
 * conn.c - buffered, time-bounded client I/O with optional TLS (see conn.h).
 * The socket is non-blocking: every read and every write waits in poll()
 * against the timeout and the deadline, so a client that never reads can
 * never hold a session. Never blocks longer than the timeout, never reads
 * more than its buffer, and never writes to a client after a write failed.
 */
#include "autoconf.h"

#include "conn.h"
#include "mono.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "log.h"

void conn_init(struct conn *c, int fd, int stop_fd, int timeout_ms)
{
	memset(c, 0, offsetof(struct conn, in));
	c->fd = fd;
	c->stop_fd = stop_fd;
	c->timeout_ms = timeout_ms;
	c->in_off = c->in_len = c->out_len = 0;
	c->write_failed = 0;
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
}

void conn_set_deadline(struct conn *c, int ms)
{
	c->deadline_base = mono_ms();
	c->deadline_ms = c->deadline_base + ms;
}

void conn_extend_deadline(struct conn *c, long long ms)
{
	c->deadline_ms = c->deadline_base + ms;
}

/* wait_ms: how long a wait may last now: the timeout, cut to the deadline;
 * 0 once the deadline has passed. */
static int wait_ms(const struct conn *c, long long start)
{
	long long end = start + c->timeout_ms, now = mono_ms();

	if (c->deadline_ms > 0 && c->deadline_ms < end)
		end = c->deadline_ms;
	return end > now ? (int)(end - now) : 0;
}

/* conn_poll: wait for EVENTS on the socket until START + timeout (or the
 * deadline). CONN_OK, CONN_TIMEOUT or CONN_ERROR. */
static int conn_poll(struct conn *c, short events, long long start)
{
	struct pollfd p;
	int r, ms;

	p.fd = c->fd;
	p.events = events;
	do {
		ms = wait_ms(c, start);
		if (ms == 0)
			return CONN_TIMEOUT;
		r = poll(&p, 1, ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return CONN_ERROR;
	return r == 0 ? CONN_TIMEOUT : CONN_OK;
}

/* ssl_want: the poll events an OpenSSL call that returned R waits for, or 0
 * if it failed for good. */
static short ssl_want(struct conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return POLLIN;
	case SSL_ERROR_WANT_WRITE:
		return POLLOUT;
	default:
		ERR_clear_error();
		return 0;
	}
}

/* raw_write: all of P[0..N), waiting for the client to take it at most
 * until the timeout or the deadline, whichever comes first. 0 or -1. */
static int raw_write(struct conn *c, const char *p, size_t n)
{
	long long start = mono_ms();

	while (n > 0) {
		ssize_t w;
		short want = POLLOUT;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n);
			w = r;
			if (r <= 0 && (want = ssl_want(c, r)) == 0)
				return -1;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
		}
		if (w <= 0) {
			if (conn_poll(c, want, start) != CONN_OK)
				return -1;	/* the client does not read: give up */
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int conn_flush(struct conn *c)
{
	if (c->write_failed)
		c->out_len = 0;	/* nobody will read it */
	if (c->out_len == 0 || c->write_failed)
		return c->write_failed ? -1 : 0;
	if (raw_write(c, c->out, c->out_len) < 0)
		c->write_failed = 1;
	c->out_len = 0;
	return c->write_failed ? -1 : 0;
}

void conn_printf(struct conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || c->write_failed)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (c->out_len + (size_t)n > sizeof(c->out) && conn_flush(c) < 0)
		return;	/* the client does not read: its replies are dropped */
	memcpy(c->out + c->out_len, line, (size_t)n);
	c->out_len += (size_t)n;
}

int conn_write(struct conn *c, const char *p, size_t n)
{
	if (conn_flush(c) < 0)
		return -1;
	if (n > 0 && raw_write(c, p, n) < 0)
		c->write_failed = 1;
	return c->write_failed ? -1 : 0;
}

/* Wait until the socket is readable, the stop fd fires, or the timeout. */
static int conn_wait(struct conn *c)
{
	struct pollfd p[2];
	int n = 1, r, wait = c->timeout_ms;

	if (c->ssl != NULL && SSL_pending(c->ssl) > 0)
		return CONN_OK;
	p[0].fd = c->fd;
	p[0].events = POLLIN;
	if (c->stop_fd >= 0) {
		p[1].fd = c->stop_fd;
		p[1].events = POLLIN;
		n = 2;
	}
	if (c->deadline_ms > 0) {
		long long left = c->deadline_ms - mono_ms();
		if (left <= 0)
			return CONN_TIMEOUT;
		if (left < wait)
			wait = (int)left;
	}
	do
		r = poll(p, (nfds_t)n, wait);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return CONN_ERROR;
	if (r == 0)
		return CONN_TIMEOUT;
	if (n == 2 && (p[1].revents & POLLIN) && !(p[0].revents & (POLLIN | POLLHUP))) {
		c->stop_fd = -1;	/* report the stop once */
		return CONN_STOP;
	}
	return CONN_OK;
}

/* read_some: one read into the input buffer after conn_wait said so;
 * CONN_OK, CONN_EOF, CONN_ERROR, or CONN_TIMEOUT (TLS waiting too long). */
static int read_some(struct conn *c)
{
	size_t room = sizeof(c->in) - c->in_len;
	long long start = mono_ms();
	ssize_t n;

	for (;;) {
		short want = POLLIN;
		if (c->ssl != NULL) {
			int k = SSL_read(c->ssl, c->in + c->in_len, (int)room);
			if (k > 0) {
				n = k;
				break;
			}
			if (SSL_get_error(c->ssl, k) == SSL_ERROR_ZERO_RETURN)
				return CONN_EOF;
			if ((want = ssl_want(c, k)) == 0)
				return CONN_ERROR;
		} else {
			n = recv(c->fd, c->in + c->in_len, room, 0);
			if (n > 0)
				break;
			if (n == 0)
				return CONN_EOF;
			if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
				return CONN_ERROR;
			if (errno == EINTR)
				continue;
		}
		if (conn_poll(c, want, start) != CONN_OK)
			return CONN_TIMEOUT;
	}
	c->in_len += (size_t)n;
	return CONN_OK;
}

int conn_fill(struct conn *c)
{
	int r;

	if (conn_flush(c) < 0)
		return CONN_ERROR;
	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_len == sizeof(c->in))
		return CONN_OK;	/* full: the caller consumes first */
	if ((r = conn_wait(c)) != CONN_OK)
		return r;
	return read_some(c);
}

int conn_line(struct conn *c, char *buf, size_t max, size_t *len)
{
	int toolong = 0, r;

	for (;;) {
		char *start = c->in + c->in_off;
		size_t avail = c->in_len - c->in_off;
		char *nl = memchr(start, '\n', avail);
		if (nl != NULL) {
			size_t n = (size_t)(nl - start) + 1;
			c->in_off += n;
			if (toolong || n >= max)
				return CONN_TOOLONG;
			memcpy(buf, start, n);
			buf[n] = '\0';
			*len = n;
			return CONN_OK;
		}
		if (avail >= max || toolong) {
			toolong = 1;	/* keep discarding until the line ends */
			c->in_off = c->in_len;
		}
		if ((r = conn_fill(c)) != CONN_OK)
			return r;
	}
}

int conn_read(struct conn *c, char *buf, size_t n)
{
	size_t got = 0;
	int r;

	while (got < n) {
		size_t avail = c->in_len - c->in_off, k = n - got < avail ? n - got : avail;
		if (k > 0) {
			memcpy(buf + got, c->in + c->in_off, k);
			c->in_off += k;
			got += k;
		} else if ((r = conn_fill(c)) != CONN_OK) {
			return r;
		}
	}
	return CONN_OK;
}

void conn_discard_input(struct conn *c)
{
	c->in_off = c->in_len = 0;
}

int conn_starttls(struct conn *c, SSL_CTX *ctx)
{
	long long start = mono_ms();
	int r;

	if (conn_flush(c) < 0)
		return -1;
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	/* the handshake is bounded like every other wait */
	while ((r = SSL_accept(c->ssl)) != 1) {
		int e = SSL_get_error(c->ssl, r);
		short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (want == 0 || conn_poll(c, want, start) != CONN_OK) {
			unsigned long err = ERR_get_error();
			log_warn("TLS handshake failed: %s",
				 err ? ERR_reason_error_string(err)
				     : want ? "timeout" : "connection closed");
			ERR_clear_error();
			SSL_free(c->ssl);
			c->ssl = NULL;
			return -1;
		}
	}
	return 0;
}

const char *conn_tls_info(const struct conn *c, char *buf, size_t len)
{
	if (c->ssl == NULL)
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, "%s %s", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
	return buf;
}

void conn_close(struct conn *c)
{
	conn_flush(c);
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
