/*
 * tls_verify.h - checks the certificate a server presented on a libetpan
 * TLS stream: the chain against trusted CAs and the name against the host
 * we meant to reach, with OpenSSL. libetpan 1.9.4 (GnuTLS in Debian) checks
 * neither, so every client of ours that speaks TLS through it (the IMAP
 * poller, the SMTP client to the relay) calls tls_verify_stream() after the
 * handshake and before it sends anything that matters.
 *
 * It must never accept a chain that OpenSSL did not verify, nor a name that
 * does not match (no partial wildcards); it never reads or writes the
 * stream's data.
 */
#ifndef PARLEY_TLS_VERIFY_H
#define PARLEY_TLS_VERIFY_H

#include <stddef.h>

#include <libetpan/libetpan.h>

/* tls_verify_is_ip: 1 if HOST is an IPv4 or IPv6 address literal, else 0. */
int tls_verify_is_ip(const char *host);

/*
 * tls_verify_sni: a libetpan TLS callback (for *_ssl_open_with_callback*
 * and *_starttls_with_callback): sends DATA, the host name as a char *, as
 * the TLS server name (SNI), unless it is an IP address literal.
 */
void tls_verify_sni(struct mailstream_ssl_context *ctx, void *data);

/*
 * tls_verify_stream: 0 if the certificate chain the peer of STREAM sent is
 * trusted by the CA certificates in CA_FILE (NULL: the system's CA store)
 * and names HOST (a DNS name, or an IP address literal checked against the
 * IP addresses of the certificate). Otherwise -1 and a sentence in WHY (LEN
 * bytes) that names HOST:PORT, e.g. "certificate of mx.example.org:25 not
 * trusted: self-signed certificate".
 */
int tls_verify_stream(mailstream *stream, const char *host, int port, const char *ca_file,
		      char *why, size_t len);

#endif
