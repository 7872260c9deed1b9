/*
 * config.h - parley's configuration: the one loader that reads parley.conf
 * (libconfig syntax), validates every setting, and hands out a read-only
 * struct config.
 *
 * Nothing else in the project reads the configuration file. A loaded config
 * is immutable; reloading builds a new one. Validation never stops at the
 * first problem: every error is collected as "FILE:LINE: message".
 */
#ifndef PARLEY_CONFIG_H
#define PARLEY_CONFIG_H

#include <stddef.h>

#include "address.h"
#include "strv.h"

#define CONFIG_LIST_NAME_MAX 64
#define BOUNCE_THRESHOLD_DEFAULT 5.0	/* a list's bounce_threshold */
#define CONFIG_HOPS_MAX 50	/* Received fields before ours: more is a loop (RFC 5321 6.3) */

enum reply_policy { REPLY_LIST, REPLY_AUTHOR, REPLY_THREAD, REPLY_MODERATED };
enum outsiders { OUTSIDERS_HOLD, OUTSIDERS_ACCEPT, OUTSIDERS_REJECT };
enum relay_tls { RELAY_TLS_NO, RELAY_TLS_AUTO, RELAY_TLS_REQUIRE };
enum from_rewrite { FROM_REWRITE_ALWAYS, FROM_REWRITE_DMARC, FROM_REWRITE_NEVER };
enum cfg_dkim_alg { CFG_DKIM_RSA, CFG_DKIM_ED25519, CFG_DKIM_BOTH };

#define CONFIG_DKIM_KEYS_MAX 2	/* signatures on one copy: RSA and Ed25519 */

struct dkim_key;

/* A dkim group (daemon-level, or a list's own): the keys that sign the
 * copies, each with the selector of its public key in DNS. */
struct cfg_dkim {
	int set;			/* the group was given */
	int algorithm;			/* enum cfg_dkim_alg */
	char *selector;			/* the key of the algorithm (with "both": RSA) */
	char *key_file;
	char *ed25519_selector;		/* with "both": the Ed25519 key */
	char *ed25519_key_file;
	int arc;			/* also ARC-seal copies (RFC 8617) with the RSA key */
};

enum list_delivery { DELIVERY_PERSONAL, DELIVERY_BATCH };

/* How an author may prove a post without the secret address (authres.h). */
#define PROOF_DKIM 1		/* "dkim": header.d is the author's domain */
#define PROOF_DKIM_ALIGNED 2	/* "dkim-aligned": or a parent or child of it */
#define PROOF_SPF 4		/* "spf": an SPF pass for the author's domain */

struct cfg_author {
	char address[ADDRESS_MAX + 1];	/* normalised */
	char *name;			/* optional display name */
	char *secret;			/* optional: post address L+post-SECRET@ */
	int reply_policy;		/* enum reply_policy of the threads it starts; -1: the list's */
	struct strv proof_names;	/* "proof" as given; empty: the default */
	int proof;			/* PROOF_* bits; default PROOF_DKIM */
	int line;
};

struct cfg_list {
	char *name;			/* short name: [a-z0-9][a-z0-9._-]* */
	char address[ADDRESS_MAX + 1];	/* normalised list address L@domain */
	char *description;
	enum reply_policy reply_policy;
	int subscriber_posts;		/* subscribers may start threads (else held) */
	enum outsiders outsiders;	/* replies from non-subscribers */
	int subject_window;		/* days: replies threaded by subject within it */
	char *subject_prefix;		/* NULL: none */
	char *footer;			/* NULL: none */
	char *archive_url;		/* NULL: none */
	char *unsubscribe_url;		/* NULL: none; one-click https base (RFC 8058) */
	char *confirm_url;		/* NULL: none; https base of confirmation links */
	struct cfg_author *authors;
	size_t nauthors;
	struct strv moderators;		/* normalised addresses */
	struct strv owners;		/* normalised addresses */
	double bounce_threshold;	/* bounce score that sends a probe (store_bounce.h) */
	enum from_rewrite from_rewrite;	/* always (default), dmarc, never */
	struct cfg_dkim dkim;		/* its own dkim group (else daemon.dkim) */
	/* the keys that sign its copies (d= its domain), loaded with
	 * CONFIG_LOAD_KEYS from its own dkim group or daemon.dkim; owned */
	struct dkim_key *dkim_keys[CONFIG_DKIM_KEYS_MAX];
	size_t ndkim_keys;
	const struct dkim_key *arc_key;	/* the RSA one of them when arc is on; NULL: no ARC */
	enum list_delivery delivery;	/* "personal" (VERP, tokens) or "batch" */
	int batch_recipients;		/* RCPTs per transaction in batch mode */
	int line;			/* where it was declared */
};

struct cfg_limits {
	long long message_size;		/* bytes */
	int header_count;
	int line_length;
	int recipients;
	int connections;
	int sessions_per_ip;
	int commands_per_hour;
	int command_timeout;		/* seconds */
	int data_timeout;		/* seconds */
	int errors;			/* before disconnect */
	long long header_size;		/* bytes of the header section */
	long long spool_min_free;	/* bytes free in the spool; -1: 2 x message_size */
	int stop_grace;			/* seconds sessions get to finish on stop */
};

struct intv {
	int *v;
	size_t n;
};

/* Seconds the relay client waits (RFC 5321 §4.5.3.2 by default); 0 in a
 * relay's own group: daemon.relay_timeouts'. */
struct cfg_relay_timeouts {
	int connect;			/* the TCP handshake (30) */
	int greeting;			/* the 220 (300) */
	int mail;			/* MAIL, and EHLO, STARTTLS, AUTH, RSET (300) */
	int rcpt;			/* each RCPT (300) */
	int data;			/* DATA's 354 (120) */
	int block;			/* each block of the data written (180) */
	int end;			/* the reply to the end of the data (600) */
};

#define CONFIG_RELAYS_MAX 32

struct cfg_relay {
	char *host;
	int port;
	enum relay_tls starttls;
	int tls_verify;			/* verify the relay's certificate (default: unless on loopback) */
	char *ca_file;			/* NULL: the system's CA store */
	char *auth_user;		/* NULL: no AUTH */
	char *auth_password_file;
	char *maildir;			/* set: deliver into MAILDIR/<recipient>/new instead */
	struct intv retry;		/* seconds between attempts; the last one repeats */
	/* one relay of daemon.relays (daemon.relay is one of weight 1) */
	int weight;			/* its share of the copies, 1..1000 */
	int max_connections;		/* sessions open to it from all workers; 0: no limit */
	int rate;			/* copies per second to it; 0: no limit */
	int max_per_connection;		/* copies before a new session; 0: no limit */
	struct cfg_relay_timeouts timeouts;
	int line;			/* where it was declared (0: the default) */
};

/* daemon.http.metrics: who may read /metrics on the HTTP listener */
enum http_metrics {
	HTTP_METRICS_LOCAL,	/* a loopback peer, not through a proxy (default) */
	HTTP_METRICS_ANY,	/* anyone who can reach the listener */
	HTTP_METRICS_OFF,	/* no one: 404 */
};

struct cfg_daemon {
	char *user;
	char *spool;
	char *database;
	char *pid_file;
	char *hostname;			/* NULL: gethostname() */
	char delimiter;			/* '+' by default */
	struct strv lmtp_listen;	/* "host:port", "[v6]:port", "unix:/path" */
	struct strv smtp_listen;
	struct strv http_listen;	/* the one-click pages (behind a TLS proxy) */
	enum http_metrics http_metrics;	/* who may read /metrics there */
	char *tls_cert;
	char *tls_key;
	struct cfg_relay relay;		/* retry and maildir for all; the relay if no relays */
	struct cfg_relay *relays;	/* daemon.relays, or one copy of daemon.relay */
	size_t nrelays;			/* 1..CONFIG_RELAYS_MAX */
	struct cfg_relay_timeouts relay_timeouts;
	int workers;
	int worker_nice;		/* added to the delivery threads' nice value */
	int queue_lifetime;		/* seconds */
	char *secret_file;		/* HMAC key of the tokens; created if missing */
	struct strv authserv_ids;	/* Authentication-Results we trust (RFC 8601) */
	struct cfg_dkim dkim;		/* every list's unless it has its own */
	char *resolver;			/* "IPV4:PORT" for DNS lookups; NULL: the system's */
	int confirm_lifetime;		/* seconds a confirmation token is valid */
	struct cfg_limits limits;
};

enum imap_tls { IMAP_TLS_IMAPS, IMAP_TLS_STARTTLS, IMAP_TLS_NONE };
enum imap_after { IMAP_AFTER_SEEN, IMAP_AFTER_DELETE, IMAP_AFTER_MOVE };

/* A mailbox the IMAP poller empties into the spool. */
struct cfg_imap {
	char *name;			/* label and store key; default USER@HOST/FOLDER */
	char *host;
	int port;			/* default 993 with imaps, else 143 */
	enum imap_tls tls;
	int tls_verify;			/* 1: verify the server certificate and name */
	char *ca_file;			/* NULL: the system's CA store */
	char *user;
	char *password;			/* one of password and password_file */
	char *password_file;
	char *folder;			/* default "INBOX" */
	enum imap_after after;		/* what to do with a message once spooled */
	char *move_to;			/* with IMAP_AFTER_MOVE */
	char recipient[ADDRESS_MAX + 1];	/* envelope recipient unless Delivered-To is ours */
	int poll_interval;		/* seconds between polls without IDLE */
	int line;
};

struct config {
	char *file;
	struct cfg_daemon daemon;
	struct cfg_list *lists;
	size_t nlists;
	struct cfg_imap *imaps;
	size_t nimaps;
	struct strv warnings;		/* "FILE:LINE: note" for the caller to log */
};

struct config_errors {
	char **v;	/* "FILE:LINE: message" */
	size_t n;
};

/* config_load flags */
#define CONFIG_CHECK_FILES 1	/* check that the files named (TLS key...) are readable */
#define CONFIG_LOAD_KEYS 2	/* load the DKIM keys of the lists (dkim_key_load) */

/*
 * config_load: read and validate PATH. Returns a new config (free with
 * config_free) or NULL with at least one message in ERRS (free with
 * config_errors_free). With CONFIG_CHECK_FILES, files the daemon will open
 * (TLS certificate and key, relay password) must be readable by the caller:
 * parleyd and check-config ask for it; other commands need not read secrets.
 * With CONFIG_LOAD_KEYS, every list's DKIM keys are loaded into its
 * dkim_keys (a key that cannot be loaded, or is not of the configured
 * algorithm, is an error at its key_file's line; an RSA key under 2048
 * bits is only a warning in cfg->warnings): parleyd asks for it at start and at each reload,
 * check-config too.
 */
struct config *config_load(const char *path, int flags, struct config_errors *errs);
void config_free(struct config *cfg);
void config_errors_free(struct config_errors *errs);

/* config_hostname: daemon.hostname, or this host's name (gethostname), or
 * "localhost", into OUT. */
void config_hostname(const struct config *cfg, char *out, size_t len);

/* config_list_find: the list named NAME, or NULL. */
const struct cfg_list *config_list_find(const struct config *cfg, const char *name);

const char *config_reply_policy_name(enum reply_policy p);
const char *config_imap_tls_name(enum imap_tls t);

/* config_imap_copy: DST becomes a deep copy of SRC, independent of its config
 * (a poller keeps its mailbox across reloads); free with config_imap_clear,
 * which also wipes the password. */
void config_imap_copy(struct cfg_imap *dst, const struct cfg_imap *src);
void config_imap_clear(struct cfg_imap *m);
const char *config_imap_after_name(enum imap_after a);
const char *config_relay_tls_name(enum relay_tls t);

#endif
