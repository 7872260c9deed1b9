/*
 * tls_verify.c - certificate chain and host name verification for libetpan
 * TLS streams (see tls_verify.h). The chain libetpan hands out (DER, the
 * server's certificate first) is checked with X509_verify_cert() for the
 * TLS server purpose, with the host name or IP address set in the verify
 * parameters. Never trusts a certificate OpenSSL refused; keeps no state
 * between calls (the trust store is loaded per verification).
 */
#include "autoconf.h"

#include "tls_verify.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

int tls_verify_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

void tls_verify_sni(struct mailstream_ssl_context *ctx, void *data)
{
	char *host = data;

	/* best effort: a server that needs SNI fails the verification anyway */
	if (host != NULL && !tls_verify_is_ip(host))
		(void)mailstream_ssl_set_server_name(ctx, host);
}

/* chain_load: the DER certificates of CHAIN: the server's in *LEAF, the
 * others in *REST (both freed by the caller, also on failure). 0 or -1. */
static int chain_load(carray *chain, X509 **leaf, STACK_OF(X509) **rest)
{
	unsigned int i;

	*leaf = NULL;
	if ((*rest = sk_X509_new_null()) == NULL)
		return -1;
	for (i = 0; i < carray_count(chain); i++) {
		MMAPString *der = carray_get(chain, i);
		const unsigned char *p = (const unsigned char *)der->str;
		X509 *x = d2i_X509(NULL, &p, (long)der->len);
		if (x == NULL)
			return -1;
		if (i == 0) {
			*leaf = x;
		} else if (sk_X509_push(*rest, x) == 0) {
			X509_free(x);
			return -1;
		}
	}
	return *leaf != NULL ? 0 : -1;
}

/* trust_store: the CA file given, else the system's CAs; NULL on failure. */
static X509_STORE *trust_store(const char *ca_file)
{
	X509_STORE *store = X509_STORE_new();

	if (store == NULL)
		return NULL;
	if ((ca_file != NULL ? X509_STORE_load_file(store, ca_file)
			     : X509_STORE_set_default_paths(store)) != 1) {
		X509_STORE_free(store);
		return NULL;
	}
	return store;
}

/* name_set: make CTX check HOST (a name or an IP literal); 0 or -1. */
static int name_set(X509_STORE_CTX *ctx, const char *host)
{
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);

	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((tls_verify_is_ip(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
				    : X509_VERIFY_PARAM_set1_host(param, host, 0)) != 1)
		return -1;
	return X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) == 1 ? 0 : -1;
}

/* verify_chain: check LEAF (with the intermediates REST) against the trust
 * store and HOST; 0, or -1 with the reason in WHY. */
static int verify_chain(X509 *leaf, STACK_OF(X509) *rest, const char *host, int port,
			const char *ca_file, char *why, size_t len)
{
	X509_STORE *store = trust_store(ca_file);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = 0;

	if (store == NULL || ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, rest) != 1)
		snprintf(why, len, "cannot load the trusted certificates%s%s", ca_file ? " of " : "",
			 ca_file ? ca_file : "");
	else if (name_set(ctx, host) < 0)
		snprintf(why, len, "cannot set up certificate verification for %s", host);
	else if ((ok = (X509_verify_cert(ctx) == 1)) == 0)
		snprintf(why, len, "certificate of %s:%d not trusted: %s", host, port,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok ? 0 : -1;
}

int tls_verify_stream(mailstream *stream, const char *host, int port, const char *ca_file,
		      char *why, size_t len)
{
	carray *chain = stream != NULL ? mailstream_get_certificate_chain(stream) : NULL;
	STACK_OF(X509) *rest = NULL;
	X509 *leaf = NULL;
	int rc = -1;

	if (chain == NULL || carray_count(chain) == 0)
		snprintf(why, len, "%s:%d sent no certificate", host, port);
	else if (chain_load(chain, &leaf, &rest) < 0)
		snprintf(why, len, "%s:%d sent an unreadable certificate", host, port);
	else
		rc = verify_chain(leaf, rest, host, port, ca_file, why, len);
	X509_free(leaf);
	sk_X509_pop_free(rest, X509_free);
	if (chain != NULL)
		mailstream_certificate_chain_free(chain);
	return rc;
}
