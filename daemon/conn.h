/*
 * conn.h - one client connection of a listener: buffered reads and writes
 * over a socket or, after STARTTLS, an OpenSSL session, every wait bounded by
 * a timeout and cut short when the daemon stops.
 *
 * It knows nothing of SMTP or HTTP; smtp_server.c and http_server.c speak
 * the protocols over it.
 */
#ifndef PARLEY_CONN_H
#define PARLEY_CONN_H

#include <stddef.h>

#include <openssl/ssl.h>

#define CONN_IN_MAX 65536
#define CONN_OUT_MAX 16384

enum conn_status {
	CONN_OK = 1,
	CONN_EOF = 0,
	CONN_ERROR = -1,
	CONN_TIMEOUT = -2,
	CONN_STOP = -3,		/* the daemon is stopping (reported once) */
	CONN_TOOLONG = -4	/* a line longer than the caller's buffer */
};

struct conn {
	int fd;
	SSL *ssl;
	int stop_fd;		/* readable when the daemon stops; -1 once seen */
	int timeout_ms;
	long long deadline_ms;	/* monotonic ms after which every wait times out; 0: none */
	long long deadline_base;	/* when conn_set_deadline was called */
	char in[CONN_IN_MAX];
	size_t in_off, in_len;
	char out[CONN_OUT_MAX];
	size_t out_len;
	int write_failed;
};

void conn_init(struct conn *c, int fd, int stop_fd, int timeout_ms);

/* conn_set_deadline: from now on, no wait ends later than MS milliseconds
 * from now, however the client trickles its bytes. */
void conn_set_deadline(struct conn *c, int ms);

/* conn_extend_deadline: move the deadline to MS milliseconds after the last
 * conn_set_deadline call (a transfer that keeps its rate earns more time). */
void conn_extend_deadline(struct conn *c, long long ms);

/* conn_fill: wait for and read more input (flushing pending output first).
 * CONN_OK, CONN_EOF, CONN_ERROR, CONN_TIMEOUT or CONN_STOP. */
int conn_fill(struct conn *c);

/* conn_line: one line ending in LF into BUF (NUL-terminated, the line end
 * included), at most MAX-1 bytes; *LEN its length. CONN_OK, CONN_TOOLONG
 * (the rest of the line is discarded), or what conn_fill returned. */
int conn_line(struct conn *c, char *buf, size_t max, size_t *len);

/* conn_read: exactly N bytes into BUF. CONN_OK or what conn_fill returned. */
int conn_read(struct conn *c, char *buf, size_t n);

/* conn_write: flush what is queued, then write P[0..N) now; 0 or -1.
 * Writes wait for the client at most until the timeout or the deadline:
 * one that does not read fails the write (and every later one). */
int conn_write(struct conn *c, const char *p, size_t n);

/* conn_printf: queue a reply (flushed before the next wait, or by conn_flush). */
void conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int conn_flush(struct conn *c);

/* conn_discard_input: drop what the client sent but we have not read
 * (plaintext pipelined before STARTTLS). */
void conn_discard_input(struct conn *c);

/* conn_starttls: TLS handshake as server with CTX; 0 or -1 (logged). */
int conn_starttls(struct conn *c, SSL_CTX *ctx);

/* conn_tls_info: "TLSv1.3 TLS_AES_256_GCM_SHA384" into BUF, or "" if plain. */
const char *conn_tls_info(const struct conn *c, char *buf, size_t len);

void conn_close(struct conn *c);

#endif
