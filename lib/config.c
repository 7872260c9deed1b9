/*
 * config.c - loads and validates parley.conf (see config.h).
 *
 * The settings are described once, in the kspec tables below: name, type,
 * range and where the value lands in struct config. A generic walker reads
 * every setting of a group against its table, so an unknown key, a wrong type
 * or an out-of-range value is always reported with the FILE:LINE libconfig
 * recorded for it. Cross-setting rules (unique list names and addresses,
 * listen syntax, readable files) follow in config_check_*().
 *
 * Must never accept a file with an error in it, and never keep pointers into
 * the libconfig tree, which is destroyed before config_load returns.
 */
#include "autoconf.h"

#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_include.h"
#include "dkim.h"
#include "recipient.h"
#include "utf8.h"
#include "subaddr.h"
#include "xalloc.h"

enum ktype {
	KT_STRING,	/* char *: one line of text */
	KT_TEXT,	/* char *: text, newlines allowed */
	KT_PATH,	/* char *: absolute path */
	KT_INT,		/* int, range-checked */
	KT_REAL,	/* double: an integer or a float, range-checked */
	KT_SIZE,	/* long long: bytes, integer or "25M" */
	KT_CHOICE,	/* int: index into choices */
	KT_CHAR,	/* char: one character from choices[0] */
	KT_BOOL,	/* int: true or false */
	KT_INTV,	/* struct intv: integers in [min, max] */
	KT_STRV,	/* struct strv: strings (an array, a list or one string) */
	KT_ADDRESS,	/* char[ADDRESS_MAX + 1]: normalised addr-spec */
	KT_ADDRESSV,	/* struct strv: normalised addr-specs */
	KT_GROUP,	/* nested struct at off, described by sub */
	KT_RELAY,	/* a KT_GROUP, or "maildir:/DIR" or "smtp:HOST[:PORT]" */
	KT_URL,		/* struct cfg_relay's host and port from "smtp:HOST[:PORT]" */
	KT_RELAYS,	/* cfg_daemon relays: a list of relay groups */
	KT_AUTHORS	/* struct cfg_list authors */
};

#define KF_REQUIRED 1

struct kspec {
	const char *name;
	enum ktype type;
	size_t off;
	long long min, max;	/* KT_INT/KT_SIZE range; string length bounds */
	const char *const *choices;
	const struct kspec *sub;
	int flags;
	const char *unit;	/* for messages: "seconds", "bytes" */
};

struct loader {
	const char *path;
	int flags;
	struct config_errors *errs;
};

static const char *const reply_policies[] = {"list", "author", "thread", "moderated", NULL};
static const char *const outsider_modes[] = {"hold", "accept", "reject", NULL};
static const char *const relay_tls_modes[] = {"no", "auto", "require", NULL};
static const char *const list_deliveries[] = {"personal", "batch", NULL};
static const char *const delimiters[] = {"+-=_", NULL};
static const char *const from_rewrites[] = {"always", "dmarc", "never", NULL};
static const char *const dkim_algs[] = {"rsa-sha256", "ed25519-sha256", "both", NULL};

#define D(field) offsetof(struct cfg_daemon, field)
#define LIM(field) offsetof(struct cfg_limits, field)
#define REL(field) offsetof(struct cfg_relay, field)
#define LST(field) offsetof(struct cfg_list, field)

static const struct kspec limits_spec[] = {
	{"message_size", KT_SIZE, LIM(message_size), 1024, 2147483647LL, NULL, NULL, 0, "bytes"},
	{"header_count", KT_INT, LIM(header_count), 10, 100000, NULL, NULL, 0, NULL},
	{"line_length", KT_INT, LIM(line_length), 78, 1000000, NULL, NULL, 0, "bytes"},
	{"recipients", KT_INT, LIM(recipients), 1, 100000, NULL, NULL, 0, NULL},
	{"connections", KT_INT, LIM(connections), 1, 100000, NULL, NULL, 0, NULL},
	{"sessions_per_ip", KT_INT, LIM(sessions_per_ip), 1, 100000, NULL, NULL, 0, NULL},
	{"commands_per_hour", KT_INT, LIM(commands_per_hour), 1, 1000000, NULL, NULL, 0, NULL},
	{"command_timeout", KT_INT, LIM(command_timeout), 1, 3600, NULL, NULL, 0, "seconds"},
	{"data_timeout", KT_INT, LIM(data_timeout), 1, 3600, NULL, NULL, 0, "seconds"},
	{"errors", KT_INT, LIM(errors), 1, 1000, NULL, NULL, 0, NULL},
	{"header_size", KT_SIZE, LIM(header_size), 1024, 2147483647LL, NULL, NULL, 0, "bytes"},
	{"spool_min_free", KT_SIZE, LIM(spool_min_free), 0, 1LL << 50, NULL, NULL, 0, "bytes"},
	{"stop_grace", KT_INT, LIM(stop_grace), 1, 3600, NULL, NULL, 0, "seconds"},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

#define TMO(field) offsetof(struct cfg_relay_timeouts, field)

static const struct kspec timeouts_spec[] = {
	{"connect", KT_INT, TMO(connect), 1, 3600, NULL, NULL, 0, "seconds"},
	{"greeting", KT_INT, TMO(greeting), 1, 3600, NULL, NULL, 0, "seconds"},
	{"mail", KT_INT, TMO(mail), 1, 3600, NULL, NULL, 0, "seconds"},
	{"rcpt", KT_INT, TMO(rcpt), 1, 3600, NULL, NULL, 0, "seconds"},
	{"data", KT_INT, TMO(data), 1, 3600, NULL, NULL, 0, "seconds"},
	{"block", KT_INT, TMO(block), 1, 3600, NULL, NULL, 0, "seconds"},
	{"end", KT_INT, TMO(end), 1, 3600, NULL, NULL, 0, "seconds"},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

static const struct kspec relay_spec[] = {
	{"host", KT_STRING, REL(host), 1, 255, NULL, NULL, 0, NULL},
	{"port", KT_INT, REL(port), 1, 65535, NULL, NULL, 0, NULL},
	{"starttls", KT_CHOICE, REL(starttls), 0, 0, relay_tls_modes, NULL, 0, NULL},
	{"tls_verify", KT_BOOL, REL(tls_verify), 0, 0, NULL, NULL, 0, NULL},
	{"ca_file", KT_PATH, REL(ca_file), 1, 4096, NULL, NULL, 0, NULL},
	{"auth_user", KT_STRING, REL(auth_user), 1, 255, NULL, NULL, 0, NULL},
	{"auth_password_file", KT_PATH, REL(auth_password_file), 1, 4096, NULL, NULL, 0, NULL},
	{"maildir", KT_PATH, REL(maildir), 1, 4096, NULL, NULL, 0, NULL},
	{"retry", KT_INTV, REL(retry), 1, 86400, NULL, NULL, 0, "seconds"},
	{"max_connections", KT_INT, REL(max_connections), 0, 10000, NULL, NULL, 0, NULL},
	{"rate", KT_INT, REL(rate), 0, 1000000, NULL, NULL, 0, "copies per second"},
	{"max_per_connection", KT_INT, REL(max_per_connection), 0, 100000000, NULL, NULL, 0, NULL},
	{"timeouts", KT_GROUP, REL(timeouts), 0, 0, NULL, timeouts_spec, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

/* One entry of daemon.relays. */
static const struct kspec relays_spec[] = {
	{"url", KT_URL, 0, 0, 0, NULL, NULL, 0, NULL},
	{"host", KT_STRING, REL(host), 1, 255, NULL, NULL, 0, NULL},
	{"port", KT_INT, REL(port), 1, 65535, NULL, NULL, 0, NULL},
	{"weight", KT_INT, REL(weight), 1, 1000, NULL, NULL, 0, NULL},
	{"max_connections", KT_INT, REL(max_connections), 0, 10000, NULL, NULL, 0, NULL},
	{"rate", KT_INT, REL(rate), 0, 1000000, NULL, NULL, 0, "copies per second"},
	{"max_per_connection", KT_INT, REL(max_per_connection), 0, 100000000, NULL, NULL, 0, NULL},
	{"starttls", KT_CHOICE, REL(starttls), 0, 0, relay_tls_modes, NULL, 0, NULL},
	{"tls_verify", KT_BOOL, REL(tls_verify), 0, 0, NULL, NULL, 0, NULL},
	{"ca_file", KT_PATH, REL(ca_file), 1, 4096, NULL, NULL, 0, NULL},
	{"auth_user", KT_STRING, REL(auth_user), 1, 255, NULL, NULL, 0, NULL},
	{"auth_password_file", KT_PATH, REL(auth_password_file), 1, 4096, NULL, NULL, 0, NULL},
	{"timeouts", KT_GROUP, REL(timeouts), 0, 0, NULL, timeouts_spec, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

#define DK(field) offsetof(struct cfg_dkim, field)

static const struct kspec dkim_spec[] = {
	{"selector", KT_STRING, DK(selector), 1, 63, NULL, NULL, 0, NULL},
	{"key_file", KT_PATH, DK(key_file), 1, 4096, NULL, NULL, 0, NULL},
	{"algorithm", KT_CHOICE, DK(algorithm), 0, 0, dkim_algs, NULL, 0, NULL},
	{"ed25519_selector", KT_STRING, DK(ed25519_selector), 1, 63, NULL, NULL, 0, NULL},
	{"ed25519_key_file", KT_PATH, DK(ed25519_key_file), 1, 4096, NULL, NULL, 0, NULL},
	{"arc", KT_BOOL, DK(arc), 0, 0, NULL, NULL, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

static const struct kspec listen_spec[] = {
	{"listen", KT_STRV, 0, 1, 4096, NULL, NULL, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

static const char *const http_metrics_modes[] = {"local", "any", "off", NULL};

/* The http group is read into cfg_daemon's http_listen and http_metrics. */
#define HTTP_METRICS_OFFSET (offsetof(struct cfg_daemon, http_metrics) - D(http_listen))

static const struct kspec http_spec[] = {
	{"listen", KT_STRV, 0, 1, 4096, NULL, NULL, 0, NULL},
	{"metrics", KT_CHOICE, HTTP_METRICS_OFFSET, 0, 0, http_metrics_modes, NULL, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

struct tls_pair {
	char *cert;
	char *key;
};

/* The tls group is read into cfg_daemon's tls_cert and tls_key as a pair. */
_Static_assert(offsetof(struct cfg_daemon, tls_key) - offsetof(struct cfg_daemon, tls_cert) ==
		       offsetof(struct tls_pair, key),
	       "tls_cert and tls_key must be adjacent like struct tls_pair");

static const struct kspec tls_spec[] = {
	{"cert", KT_PATH, offsetof(struct tls_pair, cert), 1, 4096, NULL, NULL, 0, NULL},
	{"key", KT_PATH, offsetof(struct tls_pair, key), 1, 4096, NULL, NULL, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

static const struct kspec daemon_spec[] = {
	{"user", KT_STRING, D(user), 1, 32, NULL, NULL, 0, NULL},
	{"spool", KT_PATH, D(spool), 1, 4096, NULL, NULL, 0, NULL},
	{"database", KT_PATH, D(database), 1, 4096, NULL, NULL, 0, NULL},
	{"pid_file", KT_PATH, D(pid_file), 1, 4096, NULL, NULL, 0, NULL},
	{"hostname", KT_STRING, D(hostname), 1, 253, NULL, NULL, 0, NULL},
	{"delimiter", KT_CHAR, D(delimiter), 0, 0, delimiters, NULL, 0, NULL},
	{"lmtp", KT_GROUP, D(lmtp_listen), 0, 0, NULL, listen_spec, 0, NULL},
	{"smtp", KT_GROUP, D(smtp_listen), 0, 0, NULL, listen_spec, 0, NULL},
	{"http", KT_GROUP, D(http_listen), 0, 0, NULL, http_spec, 0, NULL},
	{"tls", KT_GROUP, D(tls_cert), 0, 0, NULL, tls_spec, 0, NULL},
	{"relay", KT_RELAY, D(relay), 0, 0, NULL, relay_spec, 0, NULL},
	{"relays", KT_RELAYS, 0, 0, 0, NULL, relays_spec, 0, NULL},
	{"relay_timeouts", KT_GROUP, D(relay_timeouts), 0, 0, NULL, timeouts_spec, 0, NULL},
	{"workers", KT_INT, D(workers), 1, 256, NULL, NULL, 0, NULL},
	{"worker_nice", KT_INT, D(worker_nice), 0, 19, NULL, NULL, 0, NULL},
	{"queue_lifetime", KT_INT, D(queue_lifetime), 60, 60 * 86400, NULL, NULL, 0, "seconds"},
	{"secret_file", KT_PATH, D(secret_file), 1, 4096, NULL, NULL, 0, NULL},
	{"authserv_ids", KT_STRV, D(authserv_ids), 1, 255, NULL, NULL, 0, NULL},
	{"confirm_lifetime", KT_INT, D(confirm_lifetime), 60, 60 * 86400, NULL, NULL, 0, "seconds"},
	{"limits", KT_GROUP, D(limits), 0, 0, NULL, limits_spec, 0, NULL},
	{"dkim", KT_GROUP, D(dkim), 0, 0, NULL, dkim_spec, 0, NULL},
	{"resolver", KT_STRING, D(resolver), 1, 64, NULL, NULL, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

static const struct kspec list_spec[] = {
	{"name", KT_STRING, LST(name), 1, CONFIG_LIST_NAME_MAX, NULL, NULL, KF_REQUIRED, NULL},
	{"address", KT_ADDRESS, LST(address), 0, 0, NULL, NULL, KF_REQUIRED, NULL},
	{"description", KT_STRING, LST(description), 0, 200, NULL, NULL, 0, NULL},
	{"reply_policy", KT_CHOICE, LST(reply_policy), 0, 0, reply_policies, NULL, 0, NULL},
	{"subject_prefix", KT_STRING, LST(subject_prefix), 0, 64, NULL, NULL, 0, NULL},
	{"subscriber_posts", KT_BOOL, LST(subscriber_posts), 0, 0, NULL, NULL, 0, NULL},
	{"outsiders", KT_CHOICE, LST(outsiders), 0, 0, outsider_modes, NULL, 0, NULL},
	{"subject_window", KT_INT, LST(subject_window), 0, 3650, NULL, NULL, 0, "days"},
	{"footer", KT_TEXT, LST(footer), 0, 4096, NULL, NULL, 0, NULL},
	{"archive_url", KT_STRING, LST(archive_url), 1, 1024, NULL, NULL, 0, NULL},
	{"unsubscribe_url", KT_STRING, LST(unsubscribe_url), 1, 1024, NULL, NULL, 0, NULL},
	{"confirm_url", KT_STRING, LST(confirm_url), 1, 1024, NULL, NULL, 0, NULL},
	{"authors", KT_AUTHORS, 0, 0, 0, NULL, NULL, 0, NULL},
	{"moderators", KT_ADDRESSV, LST(moderators), 0, 0, NULL, NULL, 0, NULL},
	{"owners", KT_ADDRESSV, LST(owners), 0, 0, NULL, NULL, 0, NULL},
	{"bounce_threshold", KT_REAL, LST(bounce_threshold), 1, 1000, NULL, NULL, 0, NULL},
	{"from_rewrite", KT_CHOICE, LST(from_rewrite), 0, 0, from_rewrites, NULL, 0, NULL},
	{"dkim", KT_GROUP, LST(dkim), 0, 0, NULL, dkim_spec, 0, NULL},
	{"delivery", KT_CHOICE, LST(delivery), 0, 0, list_deliveries, NULL, 0, NULL},
	{"batch_recipients", KT_INT, LST(batch_recipients), 1, 1000, NULL, NULL, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

static const struct kspec author_spec[] = {
	{"address", KT_ADDRESS, offsetof(struct cfg_author, address), 0, 0, NULL, NULL, KF_REQUIRED,
	 NULL},
	{"name", KT_STRING, offsetof(struct cfg_author, name), 1, 200, NULL, NULL, 0, NULL},
	{"secret", KT_STRING, offsetof(struct cfg_author, secret), 16, 64, NULL, NULL, 0, NULL},
	{"reply_policy", KT_CHOICE, offsetof(struct cfg_author, reply_policy), 0, 0, reply_policies,
	 NULL, 0, NULL},
	{"proof", KT_STRV, offsetof(struct cfg_author, proof_names), 0, 32, NULL, NULL, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

/* The methods of an author's "proof", as PROOF_* bits (config.h). */
static const struct {
	const char *name;
	int bit;
} proof_methods[] = {{"dkim", PROOF_DKIM}, {"dkim-aligned", PROOF_DKIM_ALIGNED},
		     {"spf", PROOF_SPF}};

static const char *const imap_tls_modes[] = {"imaps", "starttls", "none", NULL};
static const char *const imap_afters[] = {"seen", "delete", "move", NULL};

#define IMP(field) offsetof(struct cfg_imap, field)

static const struct kspec imap_spec[] = {
	{"name", KT_STRING, IMP(name), 1, 128, NULL, NULL, 0, NULL},
	{"host", KT_STRING, IMP(host), 1, 255, NULL, NULL, KF_REQUIRED, NULL},
	{"port", KT_INT, IMP(port), 1, 65535, NULL, NULL, 0, NULL},
	{"tls", KT_CHOICE, IMP(tls), 0, 0, imap_tls_modes, NULL, 0, NULL},
	{"tls_verify", KT_BOOL, IMP(tls_verify), 0, 0, NULL, NULL, 0, NULL},
	{"ca_file", KT_PATH, IMP(ca_file), 1, 4096, NULL, NULL, 0, NULL},
	{"user", KT_STRING, IMP(user), 1, 255, NULL, NULL, KF_REQUIRED, NULL},
	{"password", KT_STRING, IMP(password), 1, 255, NULL, NULL, 0, NULL},
	{"password_file", KT_PATH, IMP(password_file), 1, 4096, NULL, NULL, 0, NULL},
	{"folder", KT_STRING, IMP(folder), 1, 255, NULL, NULL, 0, NULL},
	{"after", KT_CHOICE, IMP(after), 0, 0, imap_afters, NULL, 0, NULL},
	{"move_to", KT_STRING, IMP(move_to), 1, 255, NULL, NULL, 0, NULL},
	{"recipient", KT_ADDRESS, IMP(recipient), 0, 0, NULL, NULL, KF_REQUIRED, NULL},
	{"poll_interval", KT_INT, IMP(poll_interval), 1, 86400, NULL, NULL, 0, "seconds"},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

/* ---- errors ---- */

static void errs_addv(struct config_errors *errs, const char *file, int line, const char *fmt,
		      va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	errs->v = xreallocarray(errs->v, errs->n + 1, sizeof(*errs->v));
	if (line > 0)
		errs->v[errs->n++] = xasprintf("%s:%d: %s", file, line, msg);
	else
		errs->v[errs->n++] = xasprintf("%s: %s", file, msg);
}

__attribute__((format(printf, 4, 5))) static void errs_add(struct config_errors *errs,
							    const char *file, int line,
							    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_addv(errs, file, line, fmt, ap);
	va_end(ap);
}

/* setting_file: the file S was read from, with an included file's name
 * completed by the directory it was found in. */
static const char *setting_file(const struct loader *ld, const config_setting_t *s, char *buf,
				size_t len)
{
	const char *f = s ? config_setting_source_file(s) : NULL;
	const char *slash = strrchr(ld->path, '/');

	if (f == NULL)
		return ld->path;
	if (f[0] == '/' || slash == NULL || strcmp(f, ld->path) == 0)
		return f;
	snprintf(buf, len, "%.*s/%s", (int)(slash - ld->path), ld->path, f);
	return buf;
}

__attribute__((format(printf, 3, 4))) static void err_at(struct loader *ld,
							  const config_setting_t *s,
							  const char *fmt, ...)
{
	char file[4096];
	va_list ap;

	va_start(ap, fmt);
	errs_addv(ld->errs, setting_file(ld, s, file, sizeof(file)),
		  s ? config_setting_source_line(s) : 0, fmt, ap);
	va_end(ap);
}

/* path_of: "daemon.relay.port" or "lists[2].address" for messages. */
static void path_of(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *parent = config_setting_parent(s);
	char up[256] = "";
	const char *name = config_setting_name(s);

	if (parent != NULL && config_setting_parent(parent) != NULL)
		path_of(parent, up, sizeof(up));
	if (name != NULL)
		snprintf(buf, len, "%s%s%s", up, up[0] ? "." : "", name);
	else
		snprintf(buf, len, "%s[%d]", up, config_setting_index(s));
}

void config_errors_free(struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

/* ---- values ---- */

static const char *type_name(int t)
{
	switch (t) {
	case CONFIG_TYPE_GROUP:
		return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ]";
	case CONFIG_TYPE_LIST:
		return "a list ( )";
	default:
		return "an unknown type";
	}
}

static int expect_type(struct loader *ld, const config_setting_t *s, int want, const char *what)
{
	char p[256];
	int t = config_setting_type(s);

	if (t == want || (want == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64))
		return 0;
	path_of(s, p, sizeof(p));
	err_at(ld, s, "%s: expected %s, got %s", p, what, type_name(t));
	return -1;
}

static int text_ok(struct loader *ld, const config_setting_t *s, const char *v, int newlines)
{
	char p[256];
	const char *c;

	path_of(s, p, sizeof(p));
	if (!utf8_valid(v, strlen(v))) {
		err_at(ld, s, "%s: not valid UTF-8", p);
		return -1;
	}
	for (c = v; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if ((u < 0x20 && !(newlines && u == '\n') && u != '\t') || u == 0x7f) {
			err_at(ld, s, "%s: control character in value", p);
			return -1;
		}
	}
	return 0;
}

static int load_string(struct loader *ld, const config_setting_t *s, const struct kspec *k,
		       char **dst)
{
	char p[256];
	const char *v;
	size_t len;

	if (expect_type(ld, s, CONFIG_TYPE_STRING, "a string in double quotes") < 0)
		return -1;
	v = config_setting_get_string(s);
	len = strlen(v);
	path_of(s, p, sizeof(p));
	if ((long long)len < k->min || (long long)len > k->max) {
		if (len == 0)
			err_at(ld, s, "%s: must not be empty", p);
		else
			err_at(ld, s, "%s: length %zu is outside %lld..%lld", p, len, k->min, k->max);
		return -1;
	}
	if (text_ok(ld, s, v, k->type == KT_TEXT) < 0)
		return -1;
	if (k->type == KT_PATH && v[0] != '/') {
		err_at(ld, s, "%s: \"%s\" is not an absolute path", p, v);
		return -1;
	}
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

/* parse_size: "25M", "512k", "1G", "1048576" -> bytes; -1 if malformed. */
static long long parse_size(const char *v)
{
	char *end;
	long long n, mult = 1;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || errno != 0 || n < 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		mult = 1024, end++;
		break;
	case 'M':
		mult = 1024 * 1024, end++;
		break;
	case 'G':
		mult = 1024LL * 1024 * 1024, end++;
		break;
	default:
		break;
	}
	if (n > LLONG_MAX / mult)
		return -1;
	n *= mult;
	if (toupper((unsigned char)*end) == 'B')
		end++;
	return *end == '\0' ? n : -1;
}

static int load_number(struct loader *ld, const config_setting_t *s, const struct kspec *k,
		       void *dst)
{
	char p[256];
	long long n;

	path_of(s, p, sizeof(p));
	if (k->type == KT_SIZE && config_setting_type(s) == CONFIG_TYPE_STRING) {
		n = parse_size(config_setting_get_string(s));
		if (n < 0) {
			err_at(ld, s, "%s: \"%s\" is not a size (examples: 1048576, \"512K\", \"25M\")",
			       p, config_setting_get_string(s));
			return -1;
		}
	} else {
		if (expect_type(ld, s, CONFIG_TYPE_INT, "an integer") < 0)
			return -1;
		n = config_setting_get_int64(s);
	}
	if (n < k->min || n > k->max) {
		err_at(ld, s, "%s: %lld is outside %lld..%lld%s%s", p, n, k->min, k->max,
		       k->unit ? " " : "", k->unit ? k->unit : "");
		return -1;
	}
	if (k->type == KT_SIZE)
		*(long long *)dst = n;
	else
		*(int *)dst = (int)n;
	return 0;
}

static int load_choice(struct loader *ld, const config_setting_t *s, const struct kspec *k,
		       int *dst)
{
	char p[256], opts[256] = "";
	const char *v;
	int i;

	if (expect_type(ld, s, CONFIG_TYPE_STRING, "a string in double quotes") < 0)
		return -1;
	v = config_setting_get_string(s);
	for (i = 0; k->choices[i] != NULL; i++) {
		if (strcmp(v, k->choices[i]) == 0) {
			*dst = i;
			return 0;
		}
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), "%s\"%s\"",
			 i ? ", " : "", k->choices[i]);
	}
	path_of(s, p, sizeof(p));
	err_at(ld, s, "%s: \"%s\" is not one of %s", p, v, opts);
	return -1;
}

static int load_char(struct loader *ld, const config_setting_t *s, const struct kspec *k,
		     char *dst)
{
	char p[256];
	const char *v;

	if (expect_type(ld, s, CONFIG_TYPE_STRING, "a string in double quotes") < 0)
		return -1;
	v = config_setting_get_string(s);
	if (strlen(v) != 1 || strchr(k->choices[0], v[0]) == NULL) {
		path_of(s, p, sizeof(p));
		err_at(ld, s, "%s: \"%s\" must be one character of \"%s\"", p, v, k->choices[0]);
		return -1;
	}
	*dst = v[0];
	return 0;
}

static int load_address(struct loader *ld, const config_setting_t *s, char *dst)
{
	char p[256], err[ADDRESS_ERR_MAX];
	const char *v;

	if (expect_type(ld, s, CONFIG_TYPE_STRING, "an address in double quotes") < 0)
		return -1;
	v = config_setting_get_string(s);
	if (address_parse_spec(v, dst, err, sizeof(err)) < 0) {
		path_of(s, p, sizeof(p));
		err_at(ld, s, "%s: \"%s\" is not a valid address: %s", p, v, err);
		return -1;
	}
	return 0;
}

/* Strings as [ "a", "b" ], ( "a", "b" ) or one "a". */
static int load_strv(struct loader *ld, const config_setting_t *s, const struct kspec *k,
		     struct strv *dst)
{
	int i, n, rc = 0, t = config_setting_type(s);
	char addr[ADDRESS_MAX + 1];

	strv_free(dst);
	if (t == CONFIG_TYPE_STRING) {
		n = 1;
	} else if (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST) {
		n = config_setting_length(s);
	} else {
		return expect_type(ld, s, CONFIG_TYPE_ARRAY, "an array of strings [ \"...\" ]");
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e = t == CONFIG_TYPE_STRING ? s : config_setting_get_elem(s, (unsigned)i);
		if (k->type == KT_ADDRESSV) {
			if (load_address(ld, e, addr) < 0) {
				rc = -1;
				continue;
			}
			strv_push(dst, addr);
		} else if (expect_type(ld, e, CONFIG_TYPE_STRING, "a string") < 0 ||
			   text_ok(ld, e, config_setting_get_string(e), 0) < 0) {
			rc = -1;
		} else {
			strv_push(dst, config_setting_get_string(e));
		}
	}
	return rc;
}

/* Integers as [ 60, 300 ], each in the key's range. */
static int load_intv(struct loader *ld, const config_setting_t *s, const struct kspec *k,
		     struct intv *dst)
{
	int i, n, rc = 0;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return expect_type(ld, s, CONFIG_TYPE_ARRAY, "an array of integers [ 60, 300 ]");
	n = config_setting_length(s);
	if (n == 0) {
		char p[256];
		path_of(s, p, sizeof(p));
		err_at(ld, s, "%s: must not be empty", p);
		return -1;
	}
	free(dst->v);
	dst->v = xcalloc((size_t)n, sizeof(*dst->v));
	dst->n = 0;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct kspec one = *k;
		one.type = KT_INT;
		if (load_number(ld, e, &one, &dst->v[dst->n]) < 0)
			rc = -1;
		else
			dst->n++;
	}
	return rc;
}

/* ---- groups ---- */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = diag + (a[i - 1] != b[j - 1]);
			size_t best = row[j - 1] + 1 < up + 1 ? row[j - 1] + 1 : up + 1;
			row[j] = cost < best ? cost : best;
			diag = up;
		}
	}
	return row[lb];
}

static void err_unknown(struct loader *ld, const config_setting_t *s, const struct kspec *spec)
{
	char p[256];
	const struct kspec *k, *best = NULL;
	size_t d, bestd = 3;

	for (k = spec; k->name != NULL; k++) {
		d = edit_distance(config_setting_name(s), k->name);
		if (d < bestd) {
			bestd = d;
			best = k;
		}
	}
	path_of(s, p, sizeof(p));
	if (best != NULL)
		err_at(ld, s, "unknown setting '%s' (did you mean '%s'?)", p, best->name);
	else
		err_at(ld, s, "unknown setting '%s'", p);
}

static int load_authors(struct loader *ld, const config_setting_t *s, struct cfg_list *l);

static int load_group(struct loader *ld, const config_setting_t *grp, const struct kspec *spec,
		      void *base);

/* load_relay_uri: daemon.relay written as "maildir:/DIR" (the Maildir
 * sink) or "smtp:HOST[:PORT]" (HOST may be an [IPv6] literal; port 25 by
 * default), the short forms of the relay group. */
static int load_relay_uri(struct loader *ld, const config_setting_t *s, struct cfg_relay *r,
			  int smtp_only)
{
	const char *v = config_setting_get_string(s), *host, *colon;
	char *end, p[256];
	long port = 25;
	size_t hlen;

	if (!smtp_only && strncmp(v, "maildir:", 8) == 0 && v[8] == '/' && strchr(v, '\n') == NULL) {
		free(r->maildir);
		r->maildir = xstrdup(v + 8);
		return 0;
	}
	if (strncmp(v, "smtp:", 5) == 0) {
		host = v + 5;
		if (host[0] == '[') {
			colon = strchr(host, ']');
			colon = colon != NULL && (colon[1] == ':' || colon[1] == '\0') ? colon + 1 : NULL;
			host++;
			hlen = colon != NULL ? (size_t)(colon - host - 1) : 0;
		} else {
			colon = strchr(host, ':');
			hlen = colon != NULL ? (size_t)(colon - host) : strlen(host);
		}
		if (colon != NULL && *colon == ':') {
			port = strtol(colon + 1, &end, 10);
			if (*end != '\0' || end == colon + 1)
				port = -1;
		}
		if (hlen > 0 && hlen <= 255 && port >= 1 && port <= 65535 &&
		    strcspn(host, " \t\r\n/") >= hlen) {
			free(r->host);
			r->host = xstrndup(host, hlen);
			r->port = (int)port;
			return 0;
		}
	}
	if (smtp_only) {
		path_of(s, p, sizeof(p));
		err_at(ld, s, "%s: \"%s\" is not \"smtp:HOST[:PORT]\" (port 1 to 65535)", p, v);
	} else {
		err_at(ld, s, "daemon.relay: \"%s\" is not \"maildir:/DIR\" (an absolute path) or "
			      "\"smtp:HOST[:PORT]\" (port 1 to 65535)", v);
	}
	return -1;
}

/* load_real: a number (integer or float) in [K->min, K->max]. */
static int load_real(struct loader *ld, const config_setting_t *s, const struct kspec *k,
		     double *dst)
{
	char p[256];
	double v;
	int t = config_setting_type(s);

	path_of(s, p, sizeof(p));
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64 && t != CONFIG_TYPE_FLOAT)
		return expect_type(ld, s, CONFIG_TYPE_FLOAT, "a number (5 or 2.5)");
	v = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
				   : (double)config_setting_get_int64(s);
	if (!(v >= (double)k->min && v <= (double)k->max)) {
		err_at(ld, s, "%s: %g is outside %lld..%lld", p, v, k->min, k->max);
		return -1;
	}
	*dst = v;
	return 0;
}

static void relay_entry_defaults(struct cfg_relay *r, int line)
{
	memset(r, 0, sizeof(*r));
	r->port = 25;
	r->starttls = RELAY_TLS_AUTO;
	r->tls_verify = -1;	/* unset: decided by check_relay */
	r->weight = 1;
	r->line = line;
}

/* load_relays: daemon.relays = ( { url = "smtp:HOST:PORT"; weight = 2; ... }, ... ). */
static int load_relays(struct loader *ld, const config_setting_t *s, const struct kspec *k,
		       struct cfg_daemon *d)
{
	int i, n, rc = 0;

	if (expect_type(ld, s, CONFIG_TYPE_LIST, "a list of groups ( { url = \"smtp:HOST:PORT\"; }, ... )") < 0)
		return -1;
	n = config_setting_length(s);
	if (n < 1 || n > CONFIG_RELAYS_MAX) {
		err_at(ld, s, "daemon.relays: give 1 to %d relays, not %d", CONFIG_RELAYS_MAX, n);
		return -1;
	}
	d->relays = xcalloc((size_t)n, sizeof(*d->relays));
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct cfg_relay *r = &d->relays[d->nrelays++];
		relay_entry_defaults(r, config_setting_source_line(e));
		if (expect_type(ld, e, CONFIG_TYPE_GROUP, "a group { url = \"smtp:HOST:PORT\"; }") < 0 ||
		    load_group(ld, e, k->sub, r) < 0) {
			rc = -1;
			continue;
		}
		if (r->host == NULL) {
			err_at(ld, e, "daemon.relays[%d]: required setting 'url' (or 'host') is missing", i);
			rc = -1;
		}
	}
	return rc;
}

static int load_value(struct loader *ld, const config_setting_t *s, const struct kspec *k,
		      void *base)
{
	void *dst = (char *)base + k->off;

	switch (k->type) {
	case KT_STRING:
	case KT_TEXT:
	case KT_PATH:
		return load_string(ld, s, k, dst);
	case KT_INT:
	case KT_SIZE:
		return load_number(ld, s, k, dst);
	case KT_REAL:
		return load_real(ld, s, k, dst);
	case KT_CHOICE:
		return load_choice(ld, s, k, dst);
	case KT_CHAR:
		return load_char(ld, s, k, dst);
	case KT_BOOL:
		if (expect_type(ld, s, CONFIG_TYPE_BOOL, "true or false") < 0)
			return -1;
		*(int *)dst = config_setting_get_bool(s);
		return 0;
	case KT_INTV:
		return load_intv(ld, s, k, dst);
	case KT_STRV:
	case KT_ADDRESSV:
		return load_strv(ld, s, k, dst);
	case KT_ADDRESS:
		return load_address(ld, s, dst);
	case KT_GROUP:
		if (expect_type(ld, s, CONFIG_TYPE_GROUP, "a group { ... }") < 0)
			return -1;
		return load_group(ld, s, k->sub, dst);
	case KT_AUTHORS:
		return load_authors(ld, s, base);
	case KT_URL:
		if (expect_type(ld, s, CONFIG_TYPE_STRING, "\"smtp:HOST[:PORT]\"") < 0)
			return -1;
		return load_relay_uri(ld, s, base, 1);
	case KT_RELAYS:
		return load_relays(ld, s, k, base);
	case KT_RELAY:
		if (config_setting_type(s) == CONFIG_TYPE_STRING)
			return load_relay_uri(ld, s, dst, 0);
		if (expect_type(ld, s, CONFIG_TYPE_GROUP, "a group { ... } or \"smtp:HOST[:PORT]\"") < 0)
			return -1;
		return load_group(ld, s, k->sub, dst);
	}
	return -1;
}

static int load_group(struct loader *ld, const config_setting_t *grp, const struct kspec *spec,
		      void *base)
{
	const struct kspec *k;
	int i, n = config_setting_length(grp), rc = 0;
	char p[256];

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		for (k = spec; k->name != NULL; k++)
			if (strcmp(k->name, config_setting_name(s)) == 0)
				break;
		if (k->name == NULL) {
			err_unknown(ld, s, spec);
			rc = -1;
		} else if (load_value(ld, s, k, base) < 0) {
			rc = -1;
		}
	}
	for (k = spec; k->name != NULL; k++) {
		if ((k->flags & KF_REQUIRED) && config_setting_get_member(grp, k->name) == NULL) {
			path_of(grp, p, sizeof(p));
			err_at(ld, grp, "%s: required setting '%s' is missing", p, k->name);
			rc = -1;
		}
	}
	return rc;
}

/* author_proof: A's proof bits from the "proof" setting of entry E (by
 * default "dkim"); an unknown method is an error at its line. 0 or -1. */
static int author_proof(struct loader *ld, const config_setting_t *e, struct cfg_author *a)
{
	const config_setting_t *p =
		config_setting_type(e) == CONFIG_TYPE_GROUP ? config_setting_get_member(e, "proof")
							    : NULL;
	size_t i, j;
	int rc = 0, bit;

	if (p == NULL) {
		a->proof = PROOF_DKIM;
		return 0;
	}
	a->proof = 0;
	for (i = 0; i < a->proof_names.n; i++) {
		for (bit = 0, j = 0; j < sizeof(proof_methods) / sizeof(proof_methods[0]); j++)
			if (strcmp(a->proof_names.v[i], proof_methods[j].name) == 0)
				bit = proof_methods[j].bit;
		if (bit == 0) {
			err_at(ld, p, "author %s: proof: unknown method '%s' (expected dkim, "
				      "dkim-aligned or spf)", a->address, a->proof_names.v[i]);
			rc = -1;
		}
		a->proof |= bit;
	}
	return rc;
}

static int load_authors(struct loader *ld, const config_setting_t *s, struct cfg_list *l)
{
	int i, n, t = config_setting_type(s), rc = 0;

	if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY)
		return expect_type(ld, s, CONFIG_TYPE_LIST,
				   "a list of authors ( \"addr\", { address = ...; secret = ...; } )");
	n = config_setting_length(s);
	l->authors = xcalloc((size_t)n, sizeof(*l->authors));
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct cfg_author *a = &l->authors[l->nauthors++];
		a->line = config_setting_source_line(e);
		a->reply_policy = -1;
		if (config_setting_type(e) == CONFIG_TYPE_STRING) {
			if (load_address(ld, e, a->address) < 0)
				rc = -1;
		} else if (expect_type(ld, e, CONFIG_TYPE_GROUP,
				       "an address or a group { address = ...; }") < 0 ||
			   load_group(ld, e, author_spec, a) < 0) {
			rc = -1;
		}
		if (author_proof(ld, e, a) < 0)
			rc = -1;
	}
	return rc;
}

/* ---- defaults and cross-checks ---- */

static void config_defaults(struct config *cfg)
{
	struct cfg_daemon *d = &cfg->daemon;

	d->spool = xstrdup("/var/spool/parley");
	d->database = xstrdup("/var/lib/parley/parley.db");
	d->pid_file = xstrdup("/run/parley/parleyd.pid");
	d->delimiter = '+';
	d->relay.host = xstrdup("127.0.0.1");
	d->relay.port = 25;
	d->relay.starttls = RELAY_TLS_AUTO;
	d->workers = 4;
	d->worker_nice = 5;
	d->queue_lifetime = 5 * 86400;
	d->secret_file = xstrdup("/var/lib/parley/secret");
	d->confirm_lifetime = 7 * 86400;
	d->relay.tls_verify = -1; /* unset: decided by check_daemon */
	d->relay.weight = 1;
	d->relay_timeouts = (struct cfg_relay_timeouts){30, 300, 300, 300, 120, 180, 600};
	{
		static const int retry[] = {60, 300, 900, 3600, 14400};
		d->relay.retry.v = xcalloc(5, sizeof(int));
		memcpy(d->relay.retry.v, retry, sizeof(retry));
		d->relay.retry.n = 5;
	}
	d->limits.message_size = 25LL * 1024 * 1024;
	d->limits.header_count = 1000;
	d->limits.line_length = 998;
	d->limits.recipients = 100;
	d->limits.connections = 100;
	d->limits.sessions_per_ip = 10;
	d->limits.commands_per_hour = 20;
	d->limits.command_timeout = 300;
	d->limits.data_timeout = 600;
	d->limits.errors = 10;
	d->limits.header_size = 102400;
	d->limits.spool_min_free = -1;
	d->limits.stop_grace = 10;
}

static const config_setting_t *lookup(const config_t *c, const char *path)
{
	return config_lookup(c, path);
}

static int list_name_ok(const char *n)
{
	if (!islower((unsigned char)n[0]) && !isdigit((unsigned char)n[0]))
		return 0;
	for (; *n; n++)
		if (!islower((unsigned char)*n) && !isdigit((unsigned char)*n) && !strchr("._-", *n))
			return 0;
	return 1;
}

static int secret_ok(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s))
			return 0;
	return 1;
}

static void check_authors(struct loader *ld, const config_t *c, int li, const struct cfg_list *l)
{
	size_t i, j;
	char path[64];
	const config_setting_t *s;

	snprintf(path, sizeof(path), "lists.[%d].authors", li);
	s = lookup(c, path);
	for (i = 0; i < l->nauthors; i++) {
		const struct cfg_author *a = &l->authors[i];
		const config_setting_t *e = s ? config_setting_get_elem(s, (unsigned)i) : NULL;
		if (a->secret && !secret_ok(a->secret))
			err_at(ld, e, "list '%s': author %s: secret must be letters and digits only",
			       l->name, a->address);
		for (j = 0; j < i; j++) {
			if (a->address[0] && strcasecmp(a->address, l->authors[j].address) == 0)
				err_at(ld, e, "list '%s': author %s is already listed at line %d",
				       l->name, a->address, l->authors[j].line);
			if (a->secret && l->authors[j].secret &&
			    strcmp(a->secret, l->authors[j].secret) == 0)
				err_at(ld, e, "list '%s': two authors share one secret", l->name);
		}
	}
}

static void check_lists(struct loader *ld, const config_t *c, struct config *cfg)
{
	size_t i, j;
	char path[32];

	for (i = 0; i < cfg->nlists; i++) {
		const struct cfg_list *l = &cfg->lists[i];
		const config_setting_t *s;
		snprintf(path, sizeof(path), "lists.[%zu]", i);
		s = lookup(c, path);
		if (l->name != NULL && !list_name_ok(l->name))
			err_at(ld, s,
			       "list name '%s': use lower-case letters, digits, '.', '_' or '-', "
			       "starting with a letter or digit",
			       l->name);
		if (l->address[0] != '\0') {
			const char *at = strrchr(l->address, '@');
			const char *what;
			size_t longest = subaddr_longest((size_t)(at - l->address), &what);
			if (memchr(l->address, cfg->daemon.delimiter, (size_t)(at - l->address)))
				err_at(ld, s,
				       "list '%s': address %s contains the delimiter '%c', "
				       "which would collide with sub-addresses",
				       l->name ? l->name : "?", l->address, cfg->daemon.delimiter);
			if (longest > ADDRESS_LOCAL_MAX)
				err_at(ld, s,
				       "list '%s': the local part of %s is too long: its %s address "
				       "could take %zu octets, over the limit of %d (RFC 5321): use at "
				       "most %zu characters before the '@'",
				       l->name ? l->name : "?", l->address, what, longest,
				       ADDRESS_LOCAL_MAX,
				       (size_t)(at - l->address) - (longest - ADDRESS_LOCAL_MAX));
		}
		for (j = 0; j < i; j++) {
			const struct cfg_list *o = &cfg->lists[j];
			if (l->name && o->name && strcmp(l->name, o->name) == 0)
				err_at(ld, s, "duplicate list name '%s' (first declared at line %d)",
				       l->name, o->line);
			if (l->address[0] && strcasecmp(l->address, o->address) == 0)
				err_at(ld, s, "duplicate list address %s (list '%s' at line %d)",
				       l->address, o->name ? o->name : "?", o->line);
		}
		check_authors(ld, c, (int)i, l);
	}
}

/* listen_ok: "unix:/abs/path", "host:port" or "[v6]:port". */
static int listen_ok(const char *v)
{
	const char *colon;
	char *end;
	long port;

	if (strncmp(v, "unix:", 5) == 0)
		return v[5] == '/' && strlen(v + 5) < 108;
	if (v[0] == '[') {
		const char *rb = strchr(v, ']');
		if (rb == NULL || rb[1] != ':')
			return 0;
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || colon == v || memchr(v, ':', (size_t)(colon - v)) != NULL)
			return 0;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return errno == 0 && *end == '\0' && end != colon + 1 && port >= 1 && port <= 65535;
}

static void check_listen(struct loader *ld, const config_t *c, const char *path,
			 const struct strv *sv)
{
	const config_setting_t *s = lookup(c, path);
	size_t i;

	for (i = 0; i < sv->n; i++) {
		const config_setting_t *e = s && config_setting_is_aggregate(s)
						    ? config_setting_get_elem(s, (unsigned)i)
						    : s;
		if (!listen_ok(sv->v[i]))
			err_at(ld, e,
			       "%s: \"%s\" is not HOST:PORT, [IPV6]:PORT or unix:/PATH", path,
			       sv->v[i]);
	}
}

static void check_readable(struct loader *ld, const config_t *c, const char *path,
			   const char *file)
{
	if ((ld->flags & CONFIG_CHECK_FILES) && file != NULL && access(file, R_OK) != 0)
		err_at(ld, lookup(c, path), "%s: cannot read %s: %s", path, file, strerror(errno));
}

/* timeouts_inherit: T's unset (0) entries from DEF. */
static void timeouts_inherit(struct cfg_relay_timeouts *t, const struct cfg_relay_timeouts *def)
{
	int *v = &t->connect;
	const int *w = &def->connect;

	_Static_assert(sizeof(*t) == 7 * sizeof(int), "cfg_relay_timeouts is seven ints");
	for (size_t i = 0; i < 7; i++)
		if (v[i] == 0)
			v[i] = w[i];
}

/* check_relay: relay R (at PATH): auth both or neither, readable password,
 * tls_verify's default, timeouts completed from DEF. */
static void check_relay(struct loader *ld, const config_t *c, const char *path,
			struct cfg_relay *r, const struct cfg_relay_timeouts *def)
{
	char key[96], name[96];
	const char *dot = strstr(path, ".[");

	/* "daemon.relays.[2]" for libconfig, "daemon.relays[2]" for people */
	snprintf(name, sizeof(name), "%.*s%s", dot ? (int)(dot - path) : (int)strlen(path), path,
		 dot ? dot + 1 : "");
	if ((r->auth_user == NULL) != (r->auth_password_file == NULL))
		err_at(ld, lookup(c, path), "%s: set both auth_user and auth_password_file, or neither",
		       name);
	snprintf(key, sizeof(key), "%s.auth_password_file", path);
	if ((ld->flags & CONFIG_CHECK_FILES) && r->auth_password_file != NULL &&
	    access(r->auth_password_file, R_OK) != 0)
		err_at(ld, lookup(c, key), "%s.auth_password_file: cannot read %s: %s", name,
		       r->auth_password_file, strerror(errno));
	if (r->tls_verify < 0)
		r->tls_verify = r->ca_file != NULL || r->host == NULL ||
				!address_host_is_loopback(r->host);
	timeouts_inherit(&r->timeouts, def);
}

static char *dup_opt(const char *s);

/* relay_copy: DST becomes an independent copy of the SMTP settings of SRC
 * (not its retry or maildir, which stay daemon.relay's). */
static void relay_copy(struct cfg_relay *dst, const struct cfg_relay *src)
{
	*dst = *src;
	dst->host = dup_opt(src->host);
	dst->ca_file = dup_opt(src->ca_file);
	dst->auth_user = dup_opt(src->auth_user);
	dst->auth_password_file = dup_opt(src->auth_password_file);
	dst->maildir = NULL;
	dst->retry.v = NULL;
	dst->retry.n = 0;
}

/* check_relays: each of daemon.relays checked, two the same refused;
 * without daemon.relays, daemon.relay is the one relay, of weight 1. */
static void check_relays(struct loader *ld, const config_t *c, struct cfg_daemon *d)
{
	const config_setting_t *rs = lookup(c, "daemon.relays");
	char path[48];
	size_t i, j;

	if (d->nrelays == 0) {
		if (rs != NULL)
			return;	/* refused already */
		d->relays = xcalloc(1, sizeof(*d->relays));
		relay_copy(&d->relays[0], &d->relay);
		d->relays[0].weight = 1;
		d->nrelays = 1;
		return;
	}
	if (lookup(c, "daemon.relay.host") != NULL || lookup(c, "daemon.relay.port") != NULL ||
	    (lookup(c, "daemon.relay") != NULL &&
	     config_setting_type(lookup(c, "daemon.relay")) == CONFIG_TYPE_STRING &&
	     d->relay.maildir == NULL))
		err_at(ld, lookup(c, "daemon.relay"),
		       "daemon.relay: name the relay here or in daemon.relays, not both (daemon.relay "
		       "keeps retry and maildir)");
	for (i = 0; i < d->nrelays; i++) {
		struct cfg_relay *r = &d->relays[i];
		const config_setting_t *e = config_setting_get_elem(rs, (unsigned)i);
		snprintf(path, sizeof(path), "daemon.relays.[%zu]", i);
		check_relay(ld, c, path, r, &d->relay_timeouts);
		for (j = 0; j < i; j++)
			if (r->host && d->relays[j].host && strcasecmp(r->host, d->relays[j].host) == 0 &&
			    r->port == d->relays[j].port)
				err_at(ld, e, "daemon.relays: %s:%d is already listed at line %d", r->host,
				       r->port, d->relays[j].line);
	}
}

static void check_daemon(struct loader *ld, const config_t *c, struct config *cfg)
{
	struct cfg_daemon *d = &cfg->daemon;

	check_listen(ld, c, "daemon.lmtp.listen", &d->lmtp_listen);
	check_listen(ld, c, "daemon.smtp.listen", &d->smtp_listen);
	check_listen(ld, c, "daemon.http.listen", &d->http_listen);
	if ((d->tls_cert == NULL) != (d->tls_key == NULL))
		err_at(ld, lookup(c, "daemon.tls"), "daemon.tls: set both cert and key, or neither");
	check_readable(ld, c, "daemon.tls.cert", d->tls_cert);
	check_readable(ld, c, "daemon.tls.key", d->tls_key);
	check_relay(ld, c, "daemon.relay", &d->relay, &d->relay_timeouts);
	check_relays(ld, c, d);
}

/* selector_ok: DNS labels of letters, digits and hyphens joined by dots
 * (RFC 6376 §3.1: they become SELECTOR._domainkey.DOMAIN). */
static int selector_ok(const char *s)
{
	size_t label = 0;

	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*s) || (*s == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
	return label > 0 && s[-1] != '-';
}

/* check_dkim: the dkim group at AT (D->set if present; PATH in messages): its selectors and
 * key files go together as its algorithm wants. */
static void check_dkim(struct loader *ld, const config_t *c, const char *at, const char *path,
		       struct cfg_dkim *d)
{
	const config_setting_t *s = lookup(c, at);
	char sub[96];
	int both;

	if (s == NULL)
		return;
	d->set = 1;
	both = d->algorithm == CFG_DKIM_BOTH;
	if (d->selector == NULL || d->key_file == NULL)
		err_at(ld, s, "%s: set selector and key_file%s", path,
		       both ? " (the RSA key of \"both\")" : "");
	if (both && (d->ed25519_selector == NULL || d->ed25519_key_file == NULL))
		err_at(ld, s, "%s: algorithm \"both\" needs ed25519_selector and ed25519_key_file "
			      "as well (the Ed25519 key)", path);
	if (!both && (d->ed25519_selector != NULL || d->ed25519_key_file != NULL))
		err_at(ld, s, "%s: ed25519_selector and ed25519_key_file go with algorithm "
			      "\"both\" only (for one Ed25519 key: algorithm = \"ed25519-sha256\", "
			      "selector and key_file)", path);
	snprintf(sub, sizeof(sub), "%s.key_file", at);
	check_readable(ld, c, sub, d->key_file);
	snprintf(sub, sizeof(sub), "%s.ed25519_key_file", at);
	check_readable(ld, c, sub, d->ed25519_key_file);
	if (d->arc && d->algorithm == CFG_DKIM_ED25519)
		err_at(ld, s, "%s: arc needs an RSA key (RFC 8617 seals with rsa-sha256 only): use "
			      "algorithm \"rsa-sha256\" or \"both\"", path);
	if (d->selector != NULL && !selector_ok(d->selector))
		err_at(ld, s, "%s.selector: \"%s\" is not a DNS label (letters, digits, '-', '.')",
		       path, d->selector);
	if (d->ed25519_selector != NULL && !selector_ok(d->ed25519_selector))
		err_at(ld, s, "%s.ed25519_selector: \"%s\" is not a DNS label (letters, digits, '-', "
			      "'.')", path, d->ed25519_selector);
}

/* dkim_load_one: the key FILE (setting PATH.WHAT) for list L with SELECTOR,
 * of algorithm WANT; into L's keys, or an error at the setting. */
static void dkim_load_one(struct loader *ld, const config_t *c, struct config *cfg,
			  struct cfg_list *l, const char *path, const char *what, const char *file,
			  const char *selector, enum dkim_alg want)
{
	char spath[96], err[512], file_buf[4096];
	const config_setting_t *s;
	const char *at = strrchr(l->address, '@');
	struct dkim_key *k;

	snprintf(spath, sizeof(spath), "%s.%s", path, what);
	s = lookup(c, spath);
	if (strncmp(spath, "lists.[", 7) == 0)	/* shown as lists[N].dkim... */
		memmove(spath + 5, spath + 6, strlen(spath + 6) + 1);
	k = dkim_key_load(file, at ? at + 1 : l->address, selector, err, sizeof(err));
	if (k == NULL) {
		err_at(ld, s, "list '%s': %s: %s", l->name ? l->name : "?", spath, err);
		return;
	}
	if (dkim_key_alg(k) != want) {
		err_at(ld, s, "list '%s': %s: %s holds %s key, but the algorithm is %s",
		       l->name ? l->name : "?", spath, file,
		       dkim_key_alg(k) == DKIM_RSA_SHA256 ? "an RSA" : "an Ed25519",
		       want == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256");
		dkim_key_free(k);
		return;
	}
	if (err[0] != '\0') {
		char note[1024];
		snprintf(note, sizeof(note), "%s:%d: list '%s': %s",
			 setting_file(ld, s, file_buf, sizeof(file_buf)),
			 s ? config_setting_source_line(s) : 0, l->name ? l->name : "?", err);
		strv_push(&cfg->warnings, note);
	}
	l->dkim_keys[l->ndkim_keys++] = k;
}

/* dkim_load: the keys of every list that signs (its own dkim group or
 * daemon.dkim), with CONFIG_LOAD_KEYS. */
static void dkim_load(struct loader *ld, const config_t *c, struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nlists; i++) {
		struct cfg_list *l = &cfg->lists[i];
		const struct cfg_dkim *d = l->dkim.set ? &l->dkim : &cfg->daemon.dkim;
		char path[48];
		if (!d->set || d->selector == NULL || d->key_file == NULL || l->address[0] == '\0')
			continue;
		if (l->dkim.set)
			snprintf(path, sizeof(path), "lists.[%zu].dkim", i);
		else
			snprintf(path, sizeof(path), "daemon.dkim");
		dkim_load_one(ld, c, cfg, l, path, "key_file", d->key_file, d->selector,
			      d->algorithm == CFG_DKIM_ED25519 ? DKIM_ED25519_SHA256 : DKIM_RSA_SHA256);
		if (d->arc && d->algorithm != CFG_DKIM_ED25519 && l->ndkim_keys == 1)
			l->arc_key = l->dkim_keys[0];	/* the RSA key */
		if (d->algorithm == CFG_DKIM_BOTH && d->ed25519_key_file && d->ed25519_selector)
			dkim_load_one(ld, c, cfg, l, path, "ed25519_key_file", d->ed25519_key_file,
				      d->ed25519_selector, DKIM_ED25519_SHA256);
	}
}

/* resolver_ok: "IPV4:PORT". */
static int resolver_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	char host[INET_ADDRSTRLEN];
	struct in_addr a;
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - v) >= sizeof(host))
		return 0;
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return inet_pton(AF_INET, host, &a) == 1 && errno == 0 && *end == '\0' &&
	       end != colon + 1 && port >= 1 && port <= 65535;
}

static void check_signing(struct loader *ld, const config_t *c, struct config *cfg)
{
	char path[48];
	size_t i;

	check_dkim(ld, c, "daemon.dkim", "daemon.dkim", &cfg->daemon.dkim);
	for (i = 0; i < cfg->nlists; i++) {
		char shown[48];
		snprintf(path, sizeof(path), "lists.[%zu].dkim", i);
		snprintf(shown, sizeof(shown), "lists[%zu].dkim", i);
		check_dkim(ld, c, path, shown, &cfg->lists[i].dkim);
	}
	if (cfg->daemon.resolver != NULL && !resolver_ok(cfg->daemon.resolver))
		err_at(ld, lookup(c, "daemon.resolver"),
		       "daemon.resolver: \"%s\" is not IPV4:PORT (for example \"127.0.0.1:53\")",
		       cfg->daemon.resolver);
}

static void check_imaps(struct loader *ld, const config_t *c, struct config *cfg)
{
	struct rcpt_target target;
	char path[40];
	size_t i, j;

	for (i = 0; i < cfg->nimaps; i++) {
		struct cfg_imap *m = &cfg->imaps[i];
		const config_setting_t *s;
		snprintf(path, sizeof(path), "imap.[%zu]", i);
		s = lookup(c, path);
		if ((m->password == NULL) == (m->password_file == NULL))
			err_at(ld, s, "imap[%zu]: set one of password and password_file", i);
		if (m->password_file != NULL && (ld->flags & CONFIG_CHECK_FILES) &&
		    access(m->password_file, R_OK) != 0)
			err_at(ld, s, "imap[%zu].password_file: cannot read %s: %s", i,
			       m->password_file, strerror(errno));
		if ((m->after == IMAP_AFTER_MOVE) != (m->move_to != NULL))
			err_at(ld, s, "imap[%zu]: move_to goes with after = \"move\", and only with it", i);
		if (m->ca_file != NULL && (ld->flags & CONFIG_CHECK_FILES) && access(m->ca_file, R_OK) != 0)
			err_at(ld, s, "imap[%zu].ca_file: cannot read %s: %s", i, m->ca_file,
			       strerror(errno));
		if (m->recipient[0] && recipient_resolve(cfg, m->recipient, &target) < 0)
			err_at(ld, s, "imap[%zu].recipient: %s is not an address of a configured list", i,
			       m->recipient);
		if (m->folder == NULL)
			m->folder = xstrdup("INBOX");
		if (m->port == 0)
			m->port = m->tls == IMAP_TLS_IMAPS ? 993 : 143;
		if (m->name == NULL && m->user && m->host)
			m->name = xasprintf("%s@%s/%s", m->user, m->host, m->folder);
		for (j = 0; j < i; j++)
			if (m->name && cfg->imaps[j].name && strcmp(m->name, cfg->imaps[j].name) == 0)
				err_at(ld, s, "imap[%zu]: mailbox '%s' is already configured at line %d", i,
				       m->name, cfg->imaps[j].line);
	}
}

/* ---- entry points ---- */

static int load_lists(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	int i, n, rc = 0;

	if (expect_type(ld, s, CONFIG_TYPE_LIST, "a list of groups ( { ... }, { ... } )") < 0)
		return -1;
	n = config_setting_length(s);
	cfg->lists = xcalloc((size_t)n, sizeof(*cfg->lists));
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct cfg_list *l = &cfg->lists[cfg->nlists++];
		l->line = config_setting_source_line(e);
		l->subject_window = 30;
		l->bounce_threshold = BOUNCE_THRESHOLD_DEFAULT;
		l->batch_recipients = 100;
		if (expect_type(ld, e, CONFIG_TYPE_GROUP, "a group { name = ...; address = ...; }") < 0 ||
		    load_group(ld, e, list_spec, l) < 0)
			rc = -1;
	}
	return rc;
}

static int load_imaps(struct loader *ld, const config_setting_t *s, struct config *cfg)
{
	int i, n, rc = 0;

	if (expect_type(ld, s, CONFIG_TYPE_LIST, "a list of groups ( { host = ...; }, ... )") < 0)
		return -1;
	n = config_setting_length(s);
	cfg->imaps = xcalloc((size_t)n, sizeof(*cfg->imaps));
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct cfg_imap *m = &cfg->imaps[cfg->nimaps++];
		m->line = config_setting_source_line(e);
		m->tls_verify = 1;
		m->poll_interval = 60;
		if (expect_type(ld, e, CONFIG_TYPE_GROUP, "a group { host = ...; user = ...; }") < 0 ||
		    load_group(ld, e, imap_spec, m) < 0)
			rc = -1;
	}
	return rc;
}

static const struct kspec top_spec[] = {
	{"daemon", KT_GROUP, 0, 0, 0, NULL, daemon_spec, 0, NULL},
	{"lists", KT_GROUP, 0, 0, 0, NULL, NULL, 0, NULL},
	{"imap", KT_GROUP, 0, 0, 0, NULL, NULL, 0, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL}};

static void load_top(struct loader *ld, const config_t *c, struct config *cfg)
{
	const config_setting_t *root = config_root_setting(c);
	int i, n = config_setting_length(root);

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		if (strcmp(name, "daemon") == 0) {
			if (expect_type(ld, s, CONFIG_TYPE_GROUP, "a group { ... }") == 0)
				load_group(ld, s, daemon_spec, &cfg->daemon);
		} else if (strcmp(name, "lists") == 0) {
			load_lists(ld, s, cfg);
		} else if (strcmp(name, "imap") == 0) {
			load_imaps(ld, s, cfg);
		} else {
			err_unknown(ld, s, top_spec);
		}
	}
}

static void set_include_dir(config_t *c, const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(buf, len, ".");
	else
		snprintf(buf, len, "%.*s", (int)(slash == path ? 1 : slash - path), path);
	config_set_include_dir(c, buf);
}

struct config *config_load(const char *path, int flags, struct config_errors *errs)
{
	struct loader ld = {path, flags, errs};
	struct config_include_error ie;
	struct config *cfg;
	config_t c;
	char dir[4096];
	FILE *f;
	size_t before = errs->n;

	f = fopen(path, "r");
	if (f == NULL) {
		errs_add(errs, path, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	config_init(&c);
	set_include_dir(&c, path, dir, sizeof(dir));
	/* libconfig's scanner exit()s on a file it cannot read to the end */
	if (config_include_check(f, path, dir, &ie) < 0) {
		errs_add(errs, ie.file, ie.line, "%s", ie.msg);
		config_destroy(&c);
		fclose(f);
		return NULL;
	}
	if (config_read(&c, f) != CONFIG_TRUE) {
		const char *ef = config_error_file(&c);
		errs_add(errs, ef ? ef : path, config_error_line(&c), "%s", config_error_text(&c));
		config_destroy(&c);
		fclose(f);
		return NULL;
	}
	fclose(f);
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->file = xstrdup(path);
	config_defaults(cfg);
	load_top(&ld, &c, cfg);
	check_daemon(&ld, &c, cfg);
	check_lists(&ld, &c, cfg);
	check_imaps(&ld, &c, cfg);
	check_signing(&ld, &c, cfg);
	if ((flags & CONFIG_LOAD_KEYS) && errs->n == before)
		dkim_load(&ld, &c, cfg);
	config_destroy(&c);
	if (errs->n != before) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void dkim_clear(struct cfg_dkim *d)
{
	free(d->selector);
	free(d->key_file);
	free(d->ed25519_selector);
	free(d->ed25519_key_file);
}

static void list_free(struct cfg_list *l)
{
	size_t i;

	free(l->name);
	free(l->description);
	free(l->subject_prefix);
	free(l->footer);
	free(l->archive_url);
	free(l->unsubscribe_url);
	free(l->confirm_url);
	for (i = 0; i < l->nauthors; i++) {
		free(l->authors[i].name);
		free(l->authors[i].secret);
		strv_free(&l->authors[i].proof_names);
	}
	free(l->authors);
	strv_free(&l->moderators);
	strv_free(&l->owners);
	dkim_clear(&l->dkim);
	for (i = 0; i < l->ndkim_keys; i++)
		dkim_key_free(l->dkim_keys[i]);
}

void config_free(struct config *cfg)
{
	struct cfg_daemon *d;
	size_t i;

	if (cfg == NULL)
		return;
	d = &cfg->daemon;
	free(d->user);
	free(d->spool);
	free(d->database);
	free(d->pid_file);
	free(d->hostname);
	strv_free(&d->lmtp_listen);
	strv_free(&d->smtp_listen);
	strv_free(&d->http_listen);
	free(d->tls_cert);
	free(d->tls_key);
	free(d->relay.host);
	free(d->relay.auth_user);
	free(d->relay.auth_password_file);
	free(d->relay.ca_file);
	free(d->relay.maildir);
	free(d->relay.retry.v);
	for (i = 0; i < d->nrelays; i++) {
		free(d->relays[i].host);
		free(d->relays[i].auth_user);
		free(d->relays[i].auth_password_file);
		free(d->relays[i].ca_file);
	}
	free(d->relays);
	free(d->secret_file);
	strv_free(&d->authserv_ids);
	dkim_clear(&d->dkim);
	free(d->resolver);
	strv_free(&cfg->warnings);
	for (i = 0; i < cfg->nlists; i++)
		list_free(&cfg->lists[i]);
	free(cfg->lists);
	for (i = 0; i < cfg->nimaps; i++)
		config_imap_clear(&cfg->imaps[i]);
	free(cfg->imaps);
	free(cfg->file);
	free(cfg);
}

void config_hostname(const struct config *cfg, char *out, size_t len)
{
	if (cfg != NULL && cfg->daemon.hostname != NULL)
		snprintf(out, len, "%s", cfg->daemon.hostname);
	else if (gethostname(out, len) < 0)
		snprintf(out, len, "localhost");
	out[len - 1] = '\0';
}

const struct cfg_list *config_list_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nlists; i++)
		if (cfg->lists[i].name && strcmp(cfg->lists[i].name, name) == 0)
			return &cfg->lists[i];
	return NULL;
}

const char *config_reply_policy_name(enum reply_policy p)
{
	return reply_policies[p];
}

const char *config_relay_tls_name(enum relay_tls t)
{
	return relay_tls_modes[t];
}

const char *config_imap_tls_name(enum imap_tls t)
{
	return imap_tls_modes[t];
}

const char *config_imap_after_name(enum imap_after a)
{
	return imap_afters[a];
}

static char *dup_opt(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void config_imap_copy(struct cfg_imap *dst, const struct cfg_imap *src)
{
	*dst = *src;
	dst->name = dup_opt(src->name);
	dst->host = dup_opt(src->host);
	dst->ca_file = dup_opt(src->ca_file);
	dst->user = dup_opt(src->user);
	dst->password = dup_opt(src->password);
	dst->password_file = dup_opt(src->password_file);
	dst->folder = dup_opt(src->folder);
	dst->move_to = dup_opt(src->move_to);
}

void config_imap_clear(struct cfg_imap *m)
{
	if (m->password != NULL)
		explicit_bzero(m->password, strlen(m->password));
	free(m->name);
	free(m->host);
	free(m->ca_file);
	free(m->user);
	free(m->password);
	free(m->password_file);
	free(m->folder);
	free(m->move_to);
	memset(m, 0, sizeof(*m));
}
