/*
 * dkim.h - DKIM signatures (RFC 6376) on the copies parley sends: rsa-sha256
 * and ed25519-sha256 (RFC 8463), relaxed/relaxed canonicalisation, the whole
 * body (never an l= tag, RFC 6376 §8.2); and ARC sets (RFC 8617).
 *
 * The delivery path loads the key once (dkim_key_load), hashes each copy's
 * body (dkim_body_hash_cached: the copies of a post differ only in their
 * footer, so each worker's cache hashes little more than that), then signs
 * each copy's header section (dkim_sign). A loaded key is never
 * changed again: any number of threads may call dkim_sign with the same key
 * at once (each call has its own OpenSSL contexts; OpenSSL 3 shares an
 * EVP_PKEY for signing). No function here keeps global state, does I/O
 * other than dkim_key_load reading the key file, or logs: errors and notes
 * go to the caller's ERR buffer (ERRLEN bytes; ERR may be NULL).
 *
 * The body and the header section are the bytes that go on the wire: CRLF
 * lines. A bare LF is taken as a line end as well (libetpan's SMTP client
 * sends it as CRLF, and verifiers split lines the same way); a CR that is
 * not followed by LF is an ordinary byte.
 */
#ifndef PARLEY_DKIM_H
#define PARLEY_DKIM_H

#include <stddef.h>

#include "mailfmt.h"

#define DKIM_BH_MAX	   45	       /* base64 SHA-256 (44 characters) and NUL */
#define DKIM_HEADER_MAX	   (1UL << 20) /* octets of a header section dkim_sign takes */
#define DKIM_INSTANCES_MAX 64	       /* instances of signed fields in one header */
#define DKIM_RSA_BITS_MIN  1024	       /* RFC 8301 §3.2: smaller keys are refused */
#define DKIM_RSA_BITS_GOOD 2048	       /* RFC 8301 §3.2: smaller ones get a note */
#define DKIM_RSA_BITS_MAX  8192	       /* bounds the signature buffer */
#define DKIM_KEY_FILE_MAX  65536       /* octets of a key file */
#define DKIM_NAME_MAX	   253	       /* octets of d= (a domain) and of s= */

enum dkim_alg {
	DKIM_RSA_SHA256 = 1, /* a=rsa-sha256 */
	DKIM_ED25519_SHA256, /* a=ed25519-sha256 (RFC 8463) */
};

/* A private key with the domain (d=) and selector (s=) it signs for. */
struct dkim_key;

/*
 * dkim_key_load: the PEM private key in KEY_FILE (PKCS#8 "PRIVATE KEY" or
 * the traditional "RSA PRIVATE KEY"), unencrypted, to sign for DOMAIN with
 * SELECTOR (both ASCII letter-digit-hyphen labels joined by dots: they are
 * written into every signature as they are). An RSA key of 1024 to 8192
 * bits or an Ed25519 key; any other type (EC, RSA-PSS, DSA...) is refused.
 * The file must be a regular file of at most 64 KiB that neither others
 * (any bit of 007) nor the group (020) may write or read, except that the
 * group may read it (0640, root:parley, lets the daemon read a key it
 * cannot change); a symbolic link is followed and the file it names is
 * checked. The key is test-signed once before it is returned.
 *
 * Returns the key (free with dkim_key_free) with ERR set to "" or to a note
 * the caller should log as a warning (an RSA key under 2048 bits); NULL with
 * the reason in ERR (the path first). The file's bytes are wiped from memory.
 */
struct dkim_key *dkim_key_load(const char *key_file, const char *domain, const char *selector,
			       char *err, size_t errlen);

/* dkim_key_free: KEY and everything it holds; NULL is allowed. */
void dkim_key_free(struct dkim_key *key);

/* dkim_key_alg: the algorithm KEY signs with. */
enum dkim_alg dkim_key_alg(const struct dkim_key *key);

/* dkim_key_bits: KEY's size in bits (256 for Ed25519). */
int dkim_key_bits(const struct dkim_key *key);

/*
 * dkim_body_hash: the bh= value of BODY[0..LEN) (the part after the blank
 * line, as sent), canonicalised "relaxed" (RFC 6376 §3.4.4: WSP runs one SP,
 * WSP at line ends and empty lines at the end removed, CRLF after a last
 * line that has none; an empty body stays empty) and hashed with SHA-256,
 * into OUT as base64 with a NUL. BODY may be NULL when LEN is 0.
 * 0, or -1 if OpenSSL fails (OUT is then "").
 */
int dkim_body_hash(const char *body, size_t len, char out[DKIM_BH_MAX]);

/*
 * A thread's DKIM cache. dkim_sign_cached signs as dkim_sign does, copying
 * the thread's signing context of the key (made at its first use: setting
 * it up costs RSA some 40 us a signature) rather than setting one up; it
 * keeps a reference to the key's OpenSSL key, so a key freed meanwhile (a
 * reload) is never mistaken for another. And the body hash cache:
 * dkim_body_hash_cached gives what
 * dkim_body_hash gives, but goes on from the state it kept of the last body
 * it hashed in full, up to the first octet where the two differ (checked
 * with memcmp on every call; the cache holds a copy of that body). Bodies
 * that share less than half their length are hashed in full and become the
 * reference. NULL from _new if OpenSSL cannot give SHA-256; a NULL cache
 * hashes in full.
 */
struct dkim_cache;
struct dkim_cache *dkim_cache_new(void);
int dkim_sign_cached(struct dkim_cache *c, const struct dkim_key *key, const char *header,
		     size_t hlen, const char *bh, long long timestamp, struct mbuf *out_field,
		     char *err, size_t errlen);
void dkim_cache_free(struct dkim_cache *c);
int dkim_body_hash_cached(struct dkim_cache *c, const char *body, size_t len,
			  char out[DKIM_BH_MAX]);

/*
 * dkim_sign: a DKIM-Signature field for one copy, appended to OUT_FIELD
 * (which may be empty; set its n to 0 to reuse its memory for the next
 * copy). HEADER[0..HLEN) is the copy's header section: fields of CRLF lines,
 * folded or not, ending before the blank line (one empty line at its very
 * end is allowed and ignored). BH is dkim_body_hash of the copy's body;
 * TIMESTAMP (>= 0, seconds since the epoch) becomes t=.
 *
 * Signs, relaxed/relaxed, every instance present of From, To, Cc, Subject,
 * Date, Message-ID, In-Reply-To, References, List-Id, List-Unsubscribe,
 * List-Unsubscribe-Post, List-Post, List-Help, Reply-To, MIME-Version,
 * Content-Type and Content-Transfer-Encoding (bottom-up, RFC 6376 §5.4.2),
 * and lists From, To, Subject, Date, Message-ID, List-Id, List-Unsubscribe,
 * List-Unsubscribe-Post, Reply-To, MIME-Version and Content-Type once more
 * than present, so that none can be added without breaking the signature.
 *
 * The field is "DKIM-Signature: v=1; a=...; c=relaxed/relaxed; d=...; s=...;
 * t=...; h=...; bh=...; b=..." with CRLF line ends, folded to at most 78
 * columns (a d= or s= longer than a line stays whole), to be put first in
 * the copy's header. Allocates nothing but OUT_FIELD's growth and OpenSSL's
 * per-call context.
 *
 * 0, or -1 with the reason in ERR and OUT_FIELD as it was: a header section
 * over DKIM_HEADER_MAX octets, that does not parse as fields, has no From
 * field or more than DKIM_INSTANCES_MAX instances of signed fields; a BH that
 * is not a body hash; a negative TIMESTAMP; or OpenSSL failing.
 */
int dkim_sign(const struct dkim_key *key, const char *header, size_t hlen, const char *bh,
	      long long timestamp, struct mbuf *out_field, char *err, size_t errlen);

/* A new ARC set: where it goes in the chain, and what it carries. */
struct dkim_arc {
	int instance;		/* i=: 1 for a new chain, else one more than the chain's */
	const char *cv;		/* "none" with instance 1, else "pass" or "fail" */
	const char *results;	/* the AAR's value after "i=N; ": an
				 * Authentication-Results value, authserv-id first,
				 * one line of at most DKIM_AAR_MAX octets */
	const char *prior;	/* instance > 1: the chain's sets as in the message,
				 * fields in the order i=1 AAR, AMS, AS, i=2 AAR...
				 * (CRLF lines); NULL for instance 1 */
	size_t prior_len;
};

#define DKIM_AAR_MAX 4096
#define DKIM_ARC_MAX 50		/* RFC 8617 §4.2.1: instances of a chain */

/*
 * dkim_arc_seal: the ARC set ARC->instance (RFC 8617) for one copy,
 * appended to OUT_FIELDS top to bottom as it goes first in the header:
 * ARC-Seal (i=, cv=), ARC-Message-Signature (signed like dkim_sign: same
 * fields, relaxed/relaxed, BH) and ARC-Authentication-Results (folded
 * here). The seal signs, relaxed, every earlier set of the chain
 * (ARC->prior) and then this one's AAR, AMS and itself with an empty b=.
 * KEY should be RSA (RFC 8617 knows rsa-sha256 only; the caller enforces
 * it). 0, or -1 with ERR set and OUT_FIELDS as it was, for what dkim_sign
 * refuses, RESULTS empty, multi-line or too long, an instance and cv=
 * that do not go together, or a PRIOR that does not parse as fields.
 */
int dkim_arc_seal(const struct dkim_key *key, const char *header, size_t hlen, const char *bh,
		  long long timestamp, const struct dkim_arc *arc, struct mbuf *out_fields,
		  char *err, size_t errlen);

/*
 * The canonicalisations on their own, for tests and diagnostics: the
 * relaxed form of BODY[0..LEN) (as dkim_body_hash hashes it), and of every
 * field of the header section HEADER[0..HLEN) in order, each with CRLF (as
 * dkim_sign hashes the ones it signs), appended to OUT. dkim_canon_header
 * returns 0, or -1 with ERR set and OUT as it was for a section over
 * DKIM_HEADER_MAX octets or one that does not parse as fields.
 */
void dkim_canon_body(const char *body, size_t len, struct mbuf *out);
int dkim_canon_header(const char *header, size_t hlen, struct mbuf *out, char *err, size_t errlen);

#endif
