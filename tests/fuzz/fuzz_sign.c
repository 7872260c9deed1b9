/*
 * fuzz_sign.c - libFuzzer target: what the signing path reads from outside.
 * Byte 0 chooses: even, a DMARC TXT record as a DNS server returns it
 * (daemon/dmarc.c's dmarc_parse, at the domain or at a parent by bit 1);
 * odd, the header section of a message as it came in (its ARC chain and
 * Authentication-Results, lib/sign.c, lib/authres.c) for sign_copy to seal
 * a copy with, under an RSA-1024 key made once at start. It must never
 * crash, read past the input or leak; a copy it seals must still start
 * with the fields it had, under the new ones.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../daemon/dmarc.h"
#include "config.h"
#include "dkim.h"
#include "sign.h"
#include "strv.h"

static struct config cfg;
static struct cfg_list list;
static struct dkim_key *key;

static const char copy[] = "From: \"Alice via dev\" <dev@lists.example.org>\r\n"
			   "To: dev@lists.example.org\r\nSubject: hi\r\n"
			   "Message-ID: <m@lists.example.org>\r\n\r\nHello.\r\n";

/* make_key: an RSA-1024 key in PATH (0600), loaded; NULL on failure. */
static struct dkim_key *make_key(const char *path)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	FILE *f = fopen(path, "w");
	char err[256];
	int ok;

	ok = pk != NULL && f != NULL && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	if (f != NULL)
		fclose(f);
	EVP_PKEY_free(pk);
	if (!ok || chmod(path, 0600) < 0)
		return NULL;
	return dkim_key_load(path, "lists.example.org", "fuzz", err, sizeof(err));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[512];

	(void)argc;
	(void)argv;
	(void)fuzz_setup(0);	/* for its scratch directory */
	snprintf(path, sizeof(path), "%s/sign-key.pem", fuzz_dir());
	if ((key = make_key(path)) == NULL) {
		fprintf(stderr, "fuzz_sign: no key\n");
		abort();
	}
	cfg.daemon.hostname = (char *)"lists.example.org";
	strv_push(&cfg.daemon.authserv_ids, "mx.example.org");
	list.name = (char *)"dev";
	snprintf(list.address, sizeof(list.address), "%s", "dev@lists.example.org");
	list.dkim_keys[0] = key;
	list.ndkim_keys = 1;
	list.arc_key = key;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *msg;
	size_t n = sizeof(copy) - 1;

	if (key == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		int p = dmarc_parse((const char *)data + 1, size - 1, (data[0] >> 1) & 1);
		if (p < -1 || p > DMARC_FAILED)
			abort();
		return 0;
	}
	if ((msg = malloc(n)) == NULL)
		return 0;
	memcpy(msg, copy, n);
	if (sign_copy(&cfg, &list, NULL, (const char *)data + 1, size - 1, &msg, &n, 1800000000LL, err,
		      sizeof(err)) == 0 &&
	    (n < sizeof(copy) - 1 || memcmp(msg + n - (sizeof(copy) - 1), copy, sizeof(copy) - 1) != 0))
		abort();	/* the copy itself must end the signed message, unchanged */
	free(msg);
	return 0;
}
