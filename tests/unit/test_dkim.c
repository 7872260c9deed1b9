/*
 * test_dkim.c - DKIM signing (lib/dkim.c): the relaxed canonicalisations
 * (RFC 6376 §3.4.6's example, empty and blank bodies, WSP at line ends,
 * folded fields, bare LF), body hashes against values computed elsewhere,
 * key loading (RSA 2048 PKCS#8 and traditional, RSA 1024 with a note, RSA 512,
 * EC, RSA-PSS, encrypted, public, garbage, missing and badly protected files),
 * the signature field (tags, h= with duplicates and oversigning, fold width,
 * refusals that leave the buffer as it was), and signing from several
 * threads with one key.
 *
 * Keys are made with `openssl genpkey` in a temporary directory; every copy
 * signed is written there as SELECTOR-CASE.eml and unit/dkim_check.py
 * (python3 from $PYTHON3, the script from $TESTS_SRCDIR) verifies each with
 * python3-dkim, and checks that a changed byte breaks it. The directory is
 * removed unless a check failed. Test code only.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dkim.h"
#include "mailfmt.h"
#include "tap.h"

#define T0	 1700000000LL /* t= of every signature: in the past, so verifiers accept it */
#define EMPTY_BH "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" /* SHA-256 of nothing */
#define HI_BH	 "j+uJ1+KwQjMpdNiCngwvlv2FTzZnzkokoCYASnN36NE=" /* of "Hi\r\n" */

static char tmpdir[256];

/* ---- helpers ---- */

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

static int write_file(const char *name, const void *p, size_t n, mode_t mode)
{
	char path[512];
	int fd, r;

	path_of(path, sizeof(path), name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) < 0)
		return -1;
	r = write(fd, p, n) == (ssize_t)n ? 0 : -1;
	if (fchmod(fd, mode) < 0)
		r = -1;
	return close(fd) == 0 ? r : -1;
}

/* run: ARGV with its output thrown away; 0 if it exits 0. */
static int run(char *const argv[])
{
	int status;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* genkey: `openssl genpkey` with OPTS (NULL-ended, at most 6) into NAME.pem,
 * mode 0600. */
static int genkey(const char *name, const char *alg, const char *opt1, const char *opt2)
{
	char path[512];
	char *argv[12];
	int i = 0;

	path_of(path, sizeof(path), name);
	argv[i++] = (char *)"openssl";
	argv[i++] = (char *)"genpkey";
	argv[i++] = (char *)"-algorithm";
	argv[i++] = (char *)alg;
	if (opt1) {
		argv[i++] = (char *)"-pkeyopt";
		argv[i++] = (char *)opt1;
	}
	if (opt2) {
		argv[i++] = (char *)opt2;
		argv[i++] = (char *)"-pass";
		argv[i++] = (char *)"pass:secret";
	}
	argv[i++] = (char *)"-out";
	argv[i++] = path;
	argv[i] = NULL;
	if (run(argv) < 0)
		return -1;
	return chmod(path, 0600);
}

static struct dkim_key *load(const char *name, char *err, size_t errlen)
{
	char path[512];

	path_of(path, sizeof(path), name);
	return dkim_key_load(path, "example.org", "sel", err, errlen);
}

static char *canon_body(const char *s, size_t n)
{
	struct mbuf b = {0};

	dkim_canon_body(s, n, &b);
	return b.p;
}

static char *canon_header(const char *s)
{
	struct mbuf b = {0};
	char err[200];

	if (dkim_canon_header(s, strlen(s), &b, err, sizeof(err)) < 0) {
		printf("# %s\n", err);
		mbuf_free(&b);
		return NULL;
	}
	return b.p;
}

/* tag: the value of TAG in the field F, folding white space removed, into
 * OUT; "" if absent. */
static const char *tag(const char *f, const char *t, char *out, size_t len)
{
	char flat[8192];
	size_t i, n = 0, tl = strlen(t);
	const char *p;

	for (i = 0; f[i] && n + 1 < sizeof(flat); i++)
		if (!strchr(" \t\r\n", f[i]))
			flat[n++] = f[i];
	flat[n] = '\0';
	out[0] = '\0';
	for (p = strchr(flat, ':'); p; p = strchr(p + 1, ';'))
		if (strncmp(p + 1, t, tl) == 0 && p[1 + tl] == '=') {
			snprintf(out, len, "%.*s", (int)strcspn(p + 2 + tl, ";"), p + 2 + tl);
			break;
		}
	return out;
}

/* tags_in_order: the tags of F are v a c d s t h bh b, in that order. */
static int tags_in_order(const char *f)
{
	static const char *want[] = {"v", "a", "c", "d", "s", "t", "h", "bh", "b"};
	const char *p = strchr(f, ':');
	size_t i = 0;

	for (; p && i < sizeof(want) / sizeof(want[0]); i++) {
		size_t n = strlen(want[i]);
		p += strspn(p + 1, " \t\r\n") + 1;
		if (strncmp(p, want[i], n) != 0 || p[n] != '=')
			return 0;
		p = strchr(p, ';');
	}
	return i == sizeof(want) / sizeof(want[0]) && p == NULL;
}

/* shape_ok: F is one header field of CRLF lines within 78 columns,
 * continuation lines starting with a space, none blank; why not in WHY. */
static int shape_ok(const char *f, char *why, size_t len)
{
	const char *p = f;
	int line = 0;

	if (strncmp(f, "DKIM-Signature: v=1; ", 21) != 0) {
		snprintf(why, len, "does not start with 'DKIM-Signature: v=1; '");
		return 0;
	}
	while (*p) {
		const char *e = strstr(p, "\r\n");
		size_t n;
		if (e == NULL || memchr(p, '\n', (size_t)(e - p)) ||
		    memchr(p, '\r', (size_t)(e - p))) {
			snprintf(why, len, "line %d has no CRLF or a bare CR/LF", line + 1);
			return 0;
		}
		n = (size_t)(e - p);
		if (n > 78) {
			snprintf(why, len, "line %d has %zu columns", line + 1, n);
			return 0;
		}
		if (line > 0 && (p[0] != ' ' || n < 2 || p[1] == ' ')) {
			snprintf(why, len, "line %d: not one space and content", line + 1);
			return 0;
		}
		line++;
		p = e + 2;
	}
	return 1;
}

/* ---- canonicalisation ---- */

static void test_rfc_example(void)
{
	static const char head[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n";
	static const char body[] = " C \r\nD \t E\r\n\r\n\r\n";
	char *h = canon_header(head), *b = canon_body(body, strlen(body));
	char bh[DKIM_BH_MAX];

	is_str(h, "a:X\r\nb:Y Z\r\n", "RFC 6376 §3.4.6: relaxed header");
	is_str(b, " C\r\nD E\r\n", "RFC 6376 §3.4.6: relaxed body");
	ok(dkim_body_hash(body, strlen(body), bh) == 0, "RFC 6376 §3.4.6: body hash made");
	is_str(bh, "unak6JHq0wL+Q1HP7dW1tjBx9FLA6DffoZ0qrLwbbpo=",
	       "RFC 6376 §3.4.6: body hash is sha256(\" C\\r\\nD E\\r\\n\")");
	free(h);
	free(b);
}

static void test_body(void)
{
	static const struct {
		const char *in, *want, *what;
	} cases[] = {
	    {"", "", "empty body stays empty (RFC 6376 errata 1376)"},
	    {"\r\n", "", "one empty line: removed"},
	    {"\r\n\r\n \t\r\n\t\r\n", "", "empty and white lines only: nothing"},
	    {"Hi", "Hi\r\n", "CRLF added after a last line without one"},
	    {"Hi  \t", "Hi\r\n", "WSP at the end of an unterminated last line removed"},
	    {"a  \t b \r\n", "a b\r\n", "WSP run one SP, trailing WSP removed"},
	    {"\t lead\r\n", " lead\r\n", "leading WSP run kept as one SP"},
	    {"a\r\n\r\n\r\nb\r\n\r\n\r\n", "a\r\n\r\n\r\nb\r\n",
	     "inner empty lines kept, trailing removed"},
	    {"a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n", "an inner line of WSP becomes empty"},
	    {"a\nb\n\n", "a\r\nb\r\n", "bare LF is a line end"},
	    {"a\rb\r\n", "a\rb\r\n", "a bare CR is an ordinary byte"},
	    {"x\r", "x\r\r\n", "a last bare CR is kept, CRLF added"},
	    {"caf\xc3\xa9 \xe2\x98\xba  \r\n", "caf\xc3\xa9 \xe2\x98\xba\r\n",
	     "8-bit bytes as they are"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = canon_body(cases[i].in, strlen(cases[i].in));
		is_str(got, cases[i].want, "body: %s", cases[i].what);
		free(got);
	}
	{
		char *got = canon_body("a\0b \0\r\n", 7);
		ok(got && memcmp(got, "a\0b \0\r\n", 7) == 0,
		   "body: NUL bytes kept, length honoured");
		free(got);
	}
}

static void test_body_hash(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"", EMPTY_BH},    {"\r\n", EMPTY_BH},    {"\r\n\r\n  \r\n\t\r\n", EMPTY_BH},
	    {"Hi\r\n", HI_BH}, {"Hi", HI_BH},	      {"Hi  \r\n\r\n", HI_BH},
	    {"Hi\n", HI_BH},   {"Hi\t\n\n\n", HI_BH},
	};
	char bh[DKIM_BH_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ok(dkim_body_hash(cases[i].in, strlen(cases[i].in), bh) == 0, "body hash %zu made",
		   i);
		is_str(bh, cases[i].want, "body hash %zu", i);
	}
	ok(dkim_body_hash(NULL, 0, bh) == 0 && strcmp(bh, EMPTY_BH) == 0,
	   "body hash of (NULL, 0): the well-known empty hash");
	ok(dkim_body_hash("Hi\r\nXYZ", 4, bh) == 0 && strcmp(bh, HI_BH) == 0,
	   "body hash reads LEN octets, no more");
}

/* test_bh_cache: dkim_body_hash_cached gives dkim_body_hash's value for
 * bodies that share a prefix with the last one hashed in full (copies of a
 * post with their personal footers), for bodies that do not, and for the
 * edge cases of the canonicaliser at a mark: empty lines held back, WSP at
 * line ends, bare CR and bare LF, the first difference right after a CR. */
static void bh_rand_body(char *b, size_t n, unsigned *seed)
{
	static const char alpha[] = "aaaaaaaaaabbbbc.  \t\t\r\n\n\n\n";

	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		b[i] = alpha[(*seed >> 16) % (sizeof(alpha) - 1)];
	}
}

static int bh_same(struct dkim_cache *c, const char *b, size_t n)
{
	char want[DKIM_BH_MAX], got[DKIM_BH_MAX];

	return dkim_body_hash(b, n, want) == 0 && dkim_body_hash_cached(c, b, n, got) == 0 &&
	       strcmp(want, got) == 0;
}

static void test_bh_cache(void)
{
	struct dkim_cache *c = dkim_cache_new();
	static char ref[20000], b[20000];
	unsigned seed = 7;
	int i, bad = 0, cases = 0;

	if (c == NULL) {
		ok(0, "a body hash cache is made");
		return;
	}
	/* copies of one post: the same 4,000 octets, then a personal tail */
	for (i = 0; i < 4000; i++)
		ref[i] = "This line of the post is long enough.\r\n"[i % 39];
	for (i = 0; i < 200; i++) {
		size_t n = 4000;
		n += (size_t)snprintf(ref + n, sizeof(ref) - n, "\r\n\r\n-- \r\nmailto:dev+u-%08d@x\r\n%s",
				      i * 7919, i % 3 ? "\r\n\r\n" : "");
		bad += !bh_same(c, ref, n);
		cases++;
	}
	ok(bad == 0, "200 copies of a post with personal footers: the cached hash is the full one");
	/* random bodies: a reference, then variants changed from a random
	 * point on (cut, extended, rewritten), and unrelated bodies */
	bad = 0;
	for (i = 0; i < 3000; i++) {
		size_t n, at, m;
		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 8) % 6000;
		if (i % 50 == 0) {
			bh_rand_body(ref, n, &seed);
			memcpy(b, ref, n);
			bad += !bh_same(c, ref, n);
			cases++;
			continue;
		}
		seed = seed * 1103515245u + 12345u;
		at = n / 2 + (seed >> 8) % (n / 2 + 1);
		memcpy(b, ref, n);
		seed = seed * 1103515245u + 12345u;
		m = at + (seed >> 8) % 800;
		if (m > sizeof(b))
			m = sizeof(b);
		if (m > at)
			bh_rand_body(b + at, m - at, &seed);
		bad += !bh_same(c, b, m);
		cases++;
	}
	ok(bad == 0, "%d random bodies, most sharing a prefix with the reference: the cached hash "
	   "is the full one every time", cases);
	/* the difference right after a CR: CR LF in one, CR x in the other */
	strcpy(ref, "");
	for (i = 0; i < 40; i++)
		strcat(ref, "line of text with trailing space  \r\n\r\n");
	ok(bh_same(c, ref, strlen(ref)), "a body of lines and empty lines");
	strcpy(b, ref);
	b[strlen(b) - 1] = 'x';
	ok(bh_same(c, b, strlen(b)), "the same with its last LF turned into x after a CR");
	b[strlen(b) - 2] = '\n';
	ok(bh_same(c, b, strlen(b) - 1), "the same cut after a bare LF");
	ok(bh_same(c, ref, strlen(ref) - 2) && bh_same(c, ref, 1) && bh_same(c, "", 0),
	   "a body cut short, one octet, an empty body");
	ok(bh_same(NULL, ref, strlen(ref)), "no cache: the full hash");
	dkim_cache_free(c);
}

static void test_header(void)
{
	static const struct {
		const char *in, *want, *what;
	} cases[] = {
	    {"Subject:   lead and trail  \r\n", "subject:lead and trail\r\n",
	     "WSP around the value"},
	    {"SUBJECT: x\r\n", "subject:x\r\n", "name lower-case"},
	    {"To: a,\r\n  b,\r\n\tc \r\n", "to:a, b, c\r\n", "unfolded, WSP runs one SP"},
	    {"Subject:\r\n folded at once\r\n", "subject:folded at once\r\n",
	     "fold right after the colon"},
	    {"X-Empty:\r\n", "x-empty:\r\n", "empty value"},
	    {"X-Empty: \t \r\n", "x-empty:\r\n", "value of WSP only"},
	    {"Subject: caf\xc3\xa9\r\n", "subject:caf\xc3\xa9\r\n", "8-bit value as it is"},
	    {"Subject: a\rb\r\n", "subject:a\rb\r\n", "a bare CR in a value is kept"},
	    {"From: x\nTo: y\n z\n", "from:x\r\nto:y z\r\n", "bare LF lines"},
	    {"From: x", "from:x\r\n", "a last field without line end"},
	    {"From: x\r\n\r\n", "from:x\r\n", "the empty line ending the section is ignored"},
	    {"From : x\r\n", "from:x\r\n", "WSP before the colon removed"},
	};
	static const char *bad[] = {
	    " continued\r\nFrom: x\r\n",
	    "From: x\r\nnot a field\r\n",
	    "From: x\r\n\r\nTo: y\r\n",
	    ":novalue\r\n",
	};
	struct mbuf b = {0};
	char err[200];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = canon_header(cases[i].in);
		is_str(got, cases[i].want, "header: %s", cases[i].what);
		free(got);
	}
	mbuf_str(&b, "keep");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(dkim_canon_header(bad[i], strlen(bad[i]), &b, err, sizeof(err)) < 0 &&
		       err[0] != '\0' && strcmp(b.p, "keep") == 0,
		   "header %zu refused, buffer unchanged (%s)", i, err);
	}
	mbuf_free(&b);
}

/* ---- keys ---- */

static int keys_made;

static void make_keys(void)
{
	char in[512], out[512];
	char *trad[] = {(char *)"openssl",	(char *)"rsa",	(char *)"-in", in,
			(char *)"-traditional", (char *)"-out", out,	       NULL};
	char *pub[] = {(char *)"openssl", (char *)"pkey", (char *)"-in", in,
		       (char *)"-pubout", (char *)"-out", out,		 NULL};

	keys_made = ok(genkey("rsa2048.pem", "RSA", "rsa_keygen_bits:2048", NULL) == 0 &&
			   genkey("rsa1024.pem", "RSA", "rsa_keygen_bits:1024", NULL) == 0 &&
			   genkey("ed25519.pem", "ED25519", NULL, NULL) == 0 &&
			   genkey("weak512.key", "RSA", "rsa_keygen_bits:512", NULL) == 0 &&
			   genkey("ec256.key", "EC", "ec_paramgen_curve:P-256", NULL) == 0 &&
			   genkey("pss.key", "RSA-PSS", "rsa_keygen_bits:2048", NULL) == 0 &&
			   genkey("encrypted.key", "ED25519", NULL, "-aes256") == 0,
		       "openssl genpkey made the keys in %s", tmpdir);
	path_of(in, sizeof(in), "rsa2048.pem");
	path_of(out, sizeof(out), "trad.key");
	ok(run(trad) == 0 && chmod(out, 0600) == 0, "openssl rsa -traditional");
	path_of(out, sizeof(out), "public.key");
	ok(run(pub) == 0 && chmod(out, 0600) == 0, "openssl pkey -pubout");
}

/* expect_refused: loading NAME fails with an error mentioning WANT. */
static void expect_refused(const char *name, const char *want, const char *what)
{
	char err[300] = "";
	struct dkim_key *k = load(name, err, sizeof(err));

	if (!ok(k == NULL && strstr(err, want) != NULL, "key refused: %s", what))
		printf("#   err: '%s' (wanted '%s')\n", err, want);
	else
		printf("#   %s\n", err);
	dkim_key_free(k);
}

static void test_keys(void)
{
	static const char garbage[] = "this is not a key\n";
	static const char fake_pem[] =
	    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
	char err[300] = "x", path[512], big[70000];
	struct dkim_key *k;

	k = load("rsa2048.pem", err, sizeof(err));
	ok(k && dkim_key_alg(k) == DKIM_RSA_SHA256 && dkim_key_bits(k) == 2048 && err[0] == '\0',
	   "RSA 2048 (PKCS#8) loads, rsa-sha256, no note (%s)", err);
	dkim_key_free(k);
	k = load("trad.key", err, sizeof(err));
	ok(k && dkim_key_alg(k) == DKIM_RSA_SHA256 && dkim_key_bits(k) == 2048,
	   "RSA 2048 (traditional RSA PRIVATE KEY) loads (%s)", err);
	dkim_key_free(k);
	k = load("rsa1024.pem", err, sizeof(err));
	ok(k && dkim_key_bits(k) == 1024 && strstr(err, "1024") && strstr(err, "RFC 8301"),
	   "RSA 1024 loads, with a note: %s", err);
	dkim_key_free(k);
	k = load("ed25519.pem", err, sizeof(err));
	ok(k && dkim_key_alg(k) == DKIM_ED25519_SHA256 && err[0] == '\0',
	   "Ed25519 loads, ed25519-sha256 (%s)", err);
	dkim_key_free(k);

	expect_refused("weak512.key", "512 bits", "RSA 512");
	expect_refused("ec256.key", "type is EC", "EC P-256 (unsupported type)");
	expect_refused("pss.key", "type is RSA-PSS", "RSA-PSS (unsupported type)");
	expect_refused("encrypted.key", "encrypted", "a key with a passphrase (no prompt)");
	expect_refused("public.key", "no private key", "a public key");
	expect_refused("missing.key", "No such file", "a missing file");
	write_file("garbage.key", garbage, strlen(garbage), 0600);
	expect_refused("garbage.key", "not a PEM", "a garbage file");
	write_file("fake.key", fake_pem, strlen(fake_pem), 0600);
	expect_refused("fake.key", "no private key", "a PEM block with garbage inside");
	write_file("empty.key", "", 0, 0600);
	expect_refused("empty.key", "empty", "an empty file");
	memset(big, 'A', sizeof(big));
	write_file("big.key", big, sizeof(big), 0600);
	expect_refused("big.key", "over", "a 70000-octet file");
	path_of(path, sizeof(path), "dir.key");
	mkdir(path, 0700);
	expect_refused("dir.key", "not a regular file", "a directory");

	path_of(path, sizeof(path), "ed25519.pem");
	chmod(path, 0644);
	expect_refused("ed25519.pem", "mode 0644", "a world-readable key");
	chmod(path, 0620);
	expect_refused("ed25519.pem", "mode 0620", "a group-writable key");
	chmod(path, 0640);
	k = load("ed25519.pem", err, sizeof(err));
	ok(k != NULL, "a group-readable key (0640) loads (%s)", err);
	dkim_key_free(k);
	chmod(path, 0600);

	k = dkim_key_load(path, "exa mple.org", "sel", err, sizeof(err));
	ok(k == NULL && strstr(err, "d="), "d= with a space refused (%s)", err);
	dkim_key_free(k);
	k = dkim_key_load(path, "-a.example.org", "sel", err, sizeof(err));
	ok(k == NULL, "d= with a label starting with '-' refused");
	dkim_key_free(k);
	k = dkim_key_load(path, "a..org", "sel", err, sizeof(err));
	ok(k == NULL, "d= with an empty label refused");
	dkim_key_free(k);
	k = dkim_key_load(path, "example.org", "s;h=from", err, sizeof(err));
	ok(k == NULL && strstr(err, "s="), "s= with ';' refused (%s)", err);
	dkim_key_free(k);
	k = dkim_key_load(path, "example.org", "", err, sizeof(err));
	ok(k == NULL, "empty s= refused");
	dkim_key_free(k);
	k = dkim_key_load(path, "Mail-1.Example.ORG", "k_2024.a", err, sizeof(err));
	ok(k != NULL, "d= with digits, hyphen, capitals and s= with '_' accepted (%s)", err);
	dkim_key_free(k);
	dkim_key_free(NULL);
}

/* ---- the signature field ---- */

#define STD_HEAD                                                                                   \
	"From: Alice <alice@example.org>\r\n"                                                      \
	"To: dev@lists.example.org\r\n"                                                            \
	"Subject: [dev] hello\r\n"                                                                 \
	"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"                                                \
	"Message-ID: <1@example.org>\r\n"                                                          \
	"List-Id: Development <dev.lists.example.org>\r\n"                                         \
	"List-Unsubscribe: <https://lists.example.org/u/tok>\r\n"                                  \
	"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"                                    \
	"Received: from x by y; Tue, 14 Nov 2023 22:13:20 +0000\r\n"                               \
	"MIME-Version: 1.0\r\n"                                                                    \
	"Content-Type: text/plain; charset=utf-8\r\n"

#define STD_H                                                                                      \
	"from:from:to:to:subject:subject:date:date:message-id:message-id:list-id:list-id:"         \
	"list-unsubscribe:list-unsubscribe:list-unsubscribe-post:list-unsubscribe-post:reply-to:"  \
	"mime-version:mime-version:content-type:content-type"

static int sign(const struct dkim_key *k, const char *head, size_t hlen, struct mbuf *out,
		char *err, size_t errlen)
{
	return dkim_sign(k, head, hlen, HI_BH, T0, out, err, errlen);
}

static void test_field(const struct dkim_key *rsa, const struct dkim_key *ed)
{
	struct mbuf a = {0}, b = {0};
	char err[200], v[2048], why[200];

	ok(sign(rsa, STD_HEAD, strlen(STD_HEAD), &a, err, sizeof(err)) == 0, "RSA signs (%s)", err);
	ok(shape_ok(a.p, why, sizeof(why)), "RSA field: CRLF lines within 78 columns (%s)",
	   shape_ok(a.p, why, sizeof(why)) ? "" : why);
	is_str(tag(a.p, "a", v, sizeof(v)), "rsa-sha256", "RSA field: a=");
	is_str(tag(a.p, "c", v, sizeof(v)), "relaxed/relaxed", "RSA field: c=");
	is_str(tag(a.p, "d", v, sizeof(v)), "example.org", "RSA field: d=");
	is_str(tag(a.p, "s", v, sizeof(v)), "sel", "RSA field: s=");
	is_str(tag(a.p, "t", v, sizeof(v)), "1700000000", "RSA field: t=");
	is_str(tag(a.p, "h", v, sizeof(v)), STD_H, "RSA field: h= (each present, oversigned)");
	is_str(tag(a.p, "bh", v, sizeof(v)), HI_BH, "RSA field: bh=");
	is_int(strlen(tag(a.p, "b", v, sizeof(v))), 344, "RSA field: b= of 256 bytes");
	ok(tags_in_order(a.p) && a.n > 2 && strcmp(a.p + a.n - 2, "\r\n") == 0,
	   "RSA field: tags v a c d s t h bh b in that order, CRLF at the end");
	printf("# %s", a.p);
	ok(sign(rsa, STD_HEAD, strlen(STD_HEAD), &b, err, sizeof(err)) == 0 &&
	       strcmp(a.p, b.p) == 0,
	   "RSA: the same input signs the same (PKCS#1 v1.5 is deterministic)");
	b.n = 0;
	ok(dkim_sign(rsa, STD_HEAD, strlen(STD_HEAD), HI_BH, T0 + 1, &b, err, sizeof(err)) == 0 &&
	       strcmp(a.p, b.p) != 0,
	   "RSA: another t= signs differently");

	mbuf_free(&a);
	mbuf_free(&b);
	ok(sign(ed, STD_HEAD, strlen(STD_HEAD), &a, err, sizeof(err)) == 0, "Ed25519 signs (%s)",
	   err);
	ok(shape_ok(a.p, why, sizeof(why)), "Ed25519 field: shape (%s)",
	   shape_ok(a.p, why, sizeof(why)) ? "" : why);
	is_str(tag(a.p, "a", v, sizeof(v)), "ed25519-sha256", "Ed25519 field: a=");
	is_str(tag(a.p, "h", v, sizeof(v)), STD_H, "Ed25519 field: h=");
	is_int(strlen(tag(a.p, "b", v, sizeof(v))), 88, "Ed25519 field: b= of 64 bytes");
	printf("# %s", a.p);
	mbuf_str(&b, "X-Before: kept\r\n");
	ok(sign(ed, STD_HEAD, strlen(STD_HEAD), &b, err, sizeof(err)) == 0 &&
	       strncmp(b.p, "X-Before: kept\r\n", 16) == 0 && strcmp(b.p + 16, a.p) == 0,
	   "Ed25519: appended after what OUT held, the same signature (deterministic)");
	mbuf_free(&b);
	{
		static const char lf[] =
		    "From: Alice <alice@example.org>\nTo: dev@lists.example.org\n"
		    "Subject: [dev]\n hello\n";
		static const char crlf[] =
		    "From:  Alice <alice@example.org>\r\n"
		    "To: dev@lists.example.org \r\nSubject: [dev] hello\r\n\r\n";
		struct mbuf c = {0}, d = {0};
		ok(sign(ed, lf, strlen(lf), &c, err, sizeof(err)) == 0 &&
		       sign(ed, crlf, strlen(crlf), &d, err, sizeof(err)) == 0 &&
		       strcmp(c.p, d.p) == 0,
		   "Ed25519: bare-LF and CRLF sections that canonicalise alike sign alike");
		mbuf_free(&c);
		mbuf_free(&d);
	}
	mbuf_free(&a);
}

static void test_h_list(const struct dkim_key *ed)
{
	static const char dup[] =
	    "From: first@example.org\r\nTo: a@example.org\r\n"
	    "From: second@example.org\r\nCc: c1@example.org\r\n"
	    "Cc: c2@example.org\r\nReply-To: r@example.org\r\n"
	    "Content-Transfer-Encoding: 8bit\r\nReferences: <a@b>\r\n"
	    "In-Reply-To: <a@b>\r\nList-Post: <mailto:dev@lists.example.org>\r\n"
	    "List-Help: <mailto:dev+help@lists.example.org>\r\n"
	    "X-Other: not signed\r\nDKIM-Signature: v=1; old\r\n";
	static const char min[] = "from: only@example.org\r\n";
	struct mbuf a = {0};
	char err[200], v[2048];

	ok(sign(ed, dup, strlen(dup), &a, err, sizeof(err)) == 0, "duplicates sign (%s)", err);
	is_str(tag(a.p, "h", v, sizeof(v)),
	       "from:from:from:to:to:cc:cc:subject:date:message-id:in-reply-to:references:list-id:"
	       "list-unsubscribe:list-unsubscribe-post:list-post:list-help:reply-to:reply-to:"
	       "mime-version:content-type:content-transfer-encoding",
	       "h=: both From and both Cc, each optional field, oversigning");
	a.n = 0;
	ok(sign(ed, min, strlen(min), &a, err, sizeof(err)) == 0, "a From alone signs");
	is_str(tag(a.p, "h", v, sizeof(v)),
	       "from:from:to:subject:date:message-id:list-id:list-unsubscribe:"
	       "list-unsubscribe-post:reply-to:mime-version:content-type",
	       "h=: absent oversigned fields listed once, others not at all");
	mbuf_free(&a);
}

/* Duplicate fields are all signed, in their order: swapping two From
 * fields changes the signature (python3-dkim checks the bottom-up order). */
static void test_bottom_up(const struct dkim_key *ed)
{
	static const char two[] = "From: first@example.org\r\nFrom: second@example.org\r\n";
	static const char swapped[] = "From: second@example.org\r\nFrom: first@example.org\r\n";
	struct mbuf a = {0}, b = {0};
	char err[200], va[200], vb[200];

	ok(sign(ed, two, strlen(two), &a, err, sizeof(err)) == 0 &&
	       sign(ed, swapped, strlen(swapped), &b, err, sizeof(err)) == 0,
	   "two orders of two From fields sign");
	ok(strcmp(tag(a.p, "b", va, sizeof(va)), tag(b.p, "b", vb, sizeof(vb))) != 0,
	   "the order of duplicate fields is signed");
	mbuf_free(&a);
	mbuf_free(&b);
}

static void test_refused(const struct dkim_key *ed)
{
	static const char nofrom[] = "To: a@example.org\r\nSubject: x\r\n";
	static const char notfield[] = "From: a@example.org\r\nno colon here\r\n";
	static const char cont[] = " From: a@example.org\r\n";
	static const char inner[] = "From: a@example.org\r\n\r\nTo: b@example.org\r\n";
	struct mbuf out = {0}, many = {0};
	char err[200];
	char *huge;
	int i;

	mbuf_str(&out, "PREFIX\r\n");
#define REFUSED(call, what)                                                                        \
	do {                                                                                       \
		err[0] = '\0';                                                                     \
		ok((call) < 0 && err[0] != '\0' && out.n == 8 && strcmp(out.p, "PREFIX\r\n") == 0, \
		   "refused, OUT as it was: %s (%s)", what, err);                                  \
	} while (0)
	REFUSED(sign(ed, nofrom, strlen(nofrom), &out, err, sizeof(err)), "no From");
	REFUSED(sign(ed, notfield, strlen(notfield), &out, err, sizeof(err)),
		"a line that is no field");
	REFUSED(sign(ed, cont, strlen(cont), &out, err, sizeof(err)),
		"a leading continuation line");
	REFUSED(sign(ed, inner, strlen(inner), &out, err, sizeof(err)), "an empty line inside");
	REFUSED(sign(ed, "", 0, &out, err, sizeof(err)), "an empty header section");
	REFUSED(dkim_sign(ed, STD_HEAD, strlen(STD_HEAD), "abc", T0, &out, err, sizeof(err)),
		"a short bh");
	REFUSED(dkim_sign(ed, STD_HEAD, strlen(STD_HEAD),
			  "j+uJ1+KwQjMpdNiCngwvlv2FTzZnzkokoCYASnN3;NE=", T0, &out, err,
			  sizeof(err)),
		"a bh with ';'");
	REFUSED(dkim_sign(ed, STD_HEAD, strlen(STD_HEAD), HI_BH, -1, &out, err, sizeof(err)),
		"a negative timestamp");
	mbuf_str(&many, "From: a@example.org\r\n");
	for (i = 0; i < DKIM_INSTANCES_MAX; i++)
		mbuf_str(&many, "To: b@example.org\r\n");
	REFUSED(sign(ed, many.p, many.n, &out, err, sizeof(err)), "65 instances of signed fields");
	many.n = 0;
	mbuf_str(&many, "From: a@example.org\r\n");
	for (i = 0; i < DKIM_INSTANCES_MAX - 1; i++)
		mbuf_str(&many, "To: b@example.org\r\n");
	ok(sign(ed, many.p, many.n, &out, err, sizeof(err)) == 0, "64 instances sign (%s)", err);
	out.n = 8;
	out.p[8] = '\0';
	huge = malloc(DKIM_HEADER_MAX + 1);
	if (huge) {
		memcpy(huge, "From: a@example.org\r\nX-Pad: ", 29);
		memset(huge + 29, 'a', DKIM_HEADER_MAX - 31);
		memcpy(huge + DKIM_HEADER_MAX - 2, "\r\n", 2);
		ok(sign(ed, huge, DKIM_HEADER_MAX, &out, err, sizeof(err)) == 0,
		   "a header section of DKIM_HEADER_MAX octets signs (%s)", err);
		out.n = 8;
		out.p[8] = '\0';
		huge[DKIM_HEADER_MAX] = '\n';
		REFUSED(sign(ed, huge, DKIM_HEADER_MAX + 1, &out, err, sizeof(err)),
			"a header section of DKIM_HEADER_MAX + 1 octets");
		free(huge);
	}
#undef REFUSED
	mbuf_free(&many);
	mbuf_free(&out);
}

/* ---- threads: one key, several signers at once ---- */

#define THREADS 4

struct job {
	const struct dkim_key *key;
	const char *want;
	int rounds, same;
};

static void *sign_loop(void *arg)
{
	struct job *j = arg;
	struct mbuf out = {0};
	char err[200];
	int i;

	j->same = 0;
	for (i = 0; i < j->rounds; i++) {
		out.n = 0;
		if (sign(j->key, STD_HEAD, strlen(STD_HEAD), &out, err, sizeof(err)) == 0 &&
		    strcmp(out.p, j->want) == 0)
			j->same++;
	}
	mbuf_free(&out);
	return NULL;
}

static void test_threads(const struct dkim_key *key, const char *what, int rounds)
{
	struct job jobs[THREADS];
	pthread_t t[THREADS];
	struct mbuf want = {0};
	char err[200];
	int i, started = 0, same = 0;

	if (sign(key, STD_HEAD, strlen(STD_HEAD), &want, err, sizeof(err)) < 0) {
		ok(0, "%s: reference signature (%s)", what, err);
		return;
	}
	for (i = 0; i < THREADS; i++) {
		jobs[i] = (struct job){key, want.p, rounds, 0};
		if (pthread_create(&t[i], NULL, sign_loop, &jobs[i]) == 0)
			started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		same += jobs[i].same;
	}
	is_int(same, THREADS * rounds, "%s: %d threads x %d signatures with one key, all identical",
	       what, THREADS, rounds);
	mbuf_free(&want);
}

/* ---- copies for the independent verifier ---- */

static const struct {
	const char *name, *head, *body;
} copies[] = {
    {"plain", STD_HEAD, "Hello,\r\n\r\nthis is a plain message.\r\n-- \r\nAlice\r\n"},
    {"multipart",
     "From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\n"
     "Subject: [dev] two parts\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
     "Message-ID: <2@example.org>\r\nMIME-Version: 1.0\r\n"
     "Content-Type: multipart/alternative; boundary=\"b1\"\r\n",
     "This is a multi-part message in MIME format.\r\n\r\n--b1\r\n"
     "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
     "\r\nCaf=C3=A9 au lait  \r\n\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n"
     "Content-Transfer-Encoding: base64\r\n\r\nPHA+Q2Fmw6kgYXUgbGFpdDwvcD4K\r\n\r\n--b1--\r\n"},
    {"folded",
     "From: Alice\r\n  <alice@example.org>\r\nTo: dev@lists.example.org,\r\n\tbob@example.org,\r\n"
     "   carol@example.org\r\nSubject: [dev] a subject that is long enough to be folded\r\n"
     "\tonce and\r\n  twice\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
     "Message-ID: <3@example.org>\r\nReferences: <a1@example.org> <a2@example.org>\r\n"
     " <a3@example.org>\r\n\t<a4@example.org>\r\nIn-Reply-To: <a4@example.org>\r\n"
     "List-Unsubscribe: <mailto:dev+unsubscribe@lists.example.org>,\r\n"
     " <https://lists.example.org/u/tok>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
     "Folded headers.\r\n"},
    {"duplicated",
     "From: first@example.org\r\nFrom: second@example.org\r\nSender: first@example.org\r\n"
     "To: dev@lists.example.org\r\nCc: c1@example.org\r\nCc: c2@example.org\r\n"
     "Received: from a by b; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
     "Received: from c by d; Tue, 14 Nov 2023 22:13:19 +0000\r\n"
     "Subject: [dev] duplicates\r\nMessage-ID: <4@example.org>\r\n",
     "Two From, two Cc.\r\n"},
    {"whitespace",
     "From:   Alice   <alice@example.org>   \r\nTo:\tdev@lists.example.org\t\r\n"
     "Subject:  [dev]   spaces \t and\ttabs  \r\nMessage-ID: <5@example.org>\r\n",
     "\r\n  leading spaces\r\ntrailing spaces   \r\ntrailing tab\t\r\n \t \r\n"
     "tab\tinside  and  runs\r\n\r\n\r\n   \r\n\r\n"},
    {"utf8-encoded",
     "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.org>\r\n"
     "To: dev@lists.example.org\r\nSubject: [dev] =?utf-8?b?R3LDvMOfZSBhdXMgTcO8bmNoZW4g4pi6?=\r\n"
     "Message-ID: <6@example.org>\r\nMIME-Version: 1.0\r\n"
     "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
     "Gr=C3=BC=C3=9Fe\r\n"},
    {"utf8-raw",
     "From: J\xc3\xbcrgen M\xc3\xbcller <juergen@example.org>\r\nTo: dev@lists.example.org\r\n"
     "Subject: [dev] Gr\xc3\xbc\xc3\x9f"
     "e aus M\xc3\xbcnchen \xe2\x98\xba\r\n"
     "Message-ID: <7@example.org>\r\nMIME-Version: 1.0\r\n"
     "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
     "Gr\xc3\xbc\xc3\x9f"
     "e \xe2\x80\x94 caf\xc3\xa9  \r\n"},
    {"list",
     "From: Alice <alice@example.org>\r\nReply-To: dev+r-tok@lists.example.org\r\n"
     "To: dev@lists.example.org\r\nCc: bob@example.org\r\nSubject: [dev] list fields\r\n"
     "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <8@example.org>\r\n"
     "In-Reply-To: <1@example.org>\r\nReferences: <1@example.org>\r\n"
     "List-Id: Development <dev.lists.example.org>\r\n"
     "List-Unsubscribe: <https://lists.example.org/u/tok>\r\n"
     "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
     "List-Post: <mailto:dev@lists.example.org>\r\nList-Help: "
     "<mailto:dev+help@lists.example.org>\r\n"
     "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
     "Content-Transfer-Encoding: 7bit\r\n",
     "With every list field.\r\n"},
    {"empty-body", "From: alice@example.org\r\nSubject: [dev] nothing\r\n", ""},
    {"lf-body", "From: alice@example.org\r\nSubject: [dev] bare LF body\r\n",
     "line one\nline two  \n\nlast\n\n\n"},
};

static void write_copies(const struct dkim_key *key, const char *sel)
{
	size_t i;

	for (i = 0; i < sizeof(copies) / sizeof(copies[0]); i++) {
		struct mbuf m = {0};
		char bh[DKIM_BH_MAX], err[200], name[128];
		const char *body = copies[i].body;
		snprintf(name, sizeof(name), "%s-%s.eml", sel, copies[i].name);
		if (dkim_body_hash(body, strlen(body), bh) < 0 ||
		    dkim_sign(key, copies[i].head, strlen(copies[i].head), bh, T0, &m, err,
			      sizeof(err)) < 0) {
			ok(0, "%s signs (%s)", name, err);
			mbuf_free(&m);
			continue;
		}
		mbuf_str(&m, copies[i].head);
		mbuf_add(&m, "\r\n", 2);
		mbuf_str(&m, body);
		if (write_file(name, m.p, m.n, 0600) < 0)
			ok(0, "%s written", name);
		mbuf_free(&m);
	}
}

/* python_check: run dkim_check.py on the directory, its lines as TAP. */
static void python_check(void)
{
	int checks = tap_python("dkim_check.py", tmpdir, "python3-dkim");

	ok(checks >= 100, "python3-dkim: %d checks passed", checks);
}

static void cleanup(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[600];

	if (tap_failures) {
		printf("# keys and copies kept in %s\n", tmpdir);
		if (d)
			closedir(d);
		return;
	}
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		if (unlink(path) < 0 && rmdir(path) < 0)
			printf("# unlink %s: %s\n", path, strerror(errno));
	}
	if (d)
		closedir(d);
	if (rmdir(tmpdir) < 0)
		printf("# rmdir %s: %s\n", tmpdir, strerror(errno));
}

/* test_sign_cached: dkim_sign_cached writes the same fields as dkim_sign
 * (both algorithms are deterministic), for more keys than the cache keeps
 * (the least recently used context goes), and for a key loaded again after
 * its predecessor was freed (a reload: the cache must not take the new key
 * for the old one). */
static void test_sign_cached(void)
{
	static const char *const files[] = {"rsa2048.pem", "ed25519.pem"};
	struct dkim_cache *c = dkim_cache_new();
	struct dkim_key *k[10] = {0};
	struct mbuf a = {0}, b = {0};
	char err[300] = "", h[600];
	int i, round, bad = 0, n = 0;

	if (c == NULL) {
		ok(0, "a DKIM cache is made");
		return;
	}
	for (i = 0; i < 10; i++)
		if ((k[i] = load(files[i % 2], err, sizeof(err))) == NULL)
			bad++;
	ok(bad == 0, "10 keys load (%s)", err);
	for (round = 0; round < 3 && bad == 0; round++) {
		for (i = 0; i < 10; i++) {
			snprintf(h, sizeof(h), "From: a@example.org\r\nTo: r%d@example.net\r\n"
				 "Subject: round %d\r\n", i, round);
			a.n = b.n = 0;
			if (dkim_sign(k[i], h, strlen(h), HI_BH, T0, &a, err, sizeof(err)) < 0 ||
			    dkim_sign_cached(c, k[i], h, strlen(h), HI_BH, T0, &b, err, sizeof(err)) < 0 ||
			    a.n != b.n || memcmp(a.p, b.p, a.n) != 0)
				bad++;
			n++;
		}
		/* a reload: the keys freed and loaded again, with the cache kept */
		for (i = 0; i < 10; i++) {
			dkim_key_free(k[i]);
			k[i] = load(files[(i + round + 1) % 2], err, sizeof(err));
			bad += k[i] == NULL;
		}
	}
	ok(bad == 0 && n == 30, "%d signatures with the cache, over 10 keys and two reloads: each "
	   "the same field as without it (%s)", n, err);
	for (i = 0; i < 10; i++)
		dkim_key_free(k[i]);
	mbuf_free(&a);
	mbuf_free(&b);
	dkim_cache_free(c);
}

static struct dkim_key *selector_key(const char *name, const char *sel)
{
	char path[512], err[300];
	struct dkim_key *k;

	path_of(path, sizeof(path), name);
	k = dkim_key_load(path, "example.org", sel, err, sizeof(err));
	if (k == NULL)
		ok(0, "%s loads: %s", name, err);
	return k;
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	struct dkim_key *rsa, *ed, *rsa1024, *rsa_sel;

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_dkim.XXXXXX", t && t[0] ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "mkdtemp %s: %s", tmpdir, strerror(errno));
		return tap_done();
	}
	test_rfc_example();
	test_body();
	test_body_hash();
	test_bh_cache();
	test_header();
	make_keys();
	if (!keys_made) {
		cleanup();
		return tap_done();
	}
	test_keys();
	rsa = load("rsa2048.pem", NULL, 0);
	ed = load("ed25519.pem", NULL, 0);
	if (rsa && ed) {
		test_field(rsa, ed);
		test_h_list(ed);
		test_bottom_up(ed);
		test_refused(ed);
		test_threads(ed, "Ed25519", 200);
		test_threads(rsa, "RSA 2048", 25);
		test_sign_cached();
	} else {
		ok(0, "the RSA 2048 and Ed25519 keys load");
	}
	dkim_key_free(rsa);
	dkim_key_free(ed);
	rsa_sel = selector_key("rsa2048.pem", "rsa2048");
	ed = selector_key("ed25519.pem", "ed25519");
	rsa1024 = selector_key("rsa1024.pem", "rsa1024");
	if (rsa_sel && ed && rsa1024) {
		write_copies(rsa_sel, "rsa2048");
		write_copies(ed, "ed25519");
		write_copies(rsa1024, "rsa1024");
		python_check();
	}
	dkim_key_free(rsa_sel);
	dkim_key_free(ed);
	dkim_key_free(rsa1024);
	cleanup();
	return tap_done();
}
