/*
 * test_config.c - the configuration loader (lib/config.c).
 *
 * Every tests/config/bad-*.conf names the errors it must produce in its
 * leading "# expect: [FILE:]LINE: text" comments: each expectation must be
 * met by an error "PATH:LINE: ...text...", and no other error may appear.
 * Every good-*.conf and the sample etc/parley.conf must load. Then the
 * values of a few files are checked field by field.
 */
#include "autoconf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"
#include "xalloc.h"

static const char *srcdir(void)
{
	const char *d = getenv("TESTS_SRCDIR");
	return d ? d : ".";
}

/* Does error E match expectation X ("[FILE:]LINE: text") for PATH? */
static int matches(const char *e, const char *x, const char *path)
{
	char prefix[1400];
	const char *colon = strchr(x, ':');
	const char *text;
	char file[256] = "";
	long line;

	if (colon == NULL)
		return 0;
	if (x[0] < '0' || x[0] > '9') {	/* FILE:LINE: text */
		snprintf(file, sizeof(file), "%.*s", (int)(colon - x), x);
		x = colon + 1;
	}
	line = strtol(x, (char **)&text, 10);
	if (strncmp(text, ": ", 2) != 0)
		return 0;
	text += 2;
	if (file[0] != '\0') {
		snprintf(prefix, sizeof(prefix), "/%s:%ld: ", file, line);
		if (strstr(e, prefix) == NULL)
			return 0;
	} else {
		snprintf(prefix, sizeof(prefix), "%s:%ld: ", path, line);
		if (strncmp(e, prefix, strlen(prefix)) != 0)
			return 0;
	}
	return strstr(e, text) != NULL;
}

static void check_bad(const char *path)
{
	char *expect[32], buf[1024];
	size_t nexpect = 0, i, j;
	struct config_errors errs = {NULL, 0};
	struct config *cfg;
	FILE *f = fopen(path, "r");

	if (!ok(f != NULL, "open %s", path))
		return;
	while (fgets(buf, sizeof(buf), f) && strncmp(buf, "# expect: ", 10) == 0 && nexpect < 32) {
		buf[strcspn(buf, "\n")] = '\0';
		expect[nexpect++] = xstrdup(buf + 10);
	}
	fclose(f);
	cfg = config_load(path, CONFIG_CHECK_FILES, &errs);
	ok(cfg == NULL && nexpect > 0, "%s is refused", strrchr(path, '/') + 1);
	config_free(cfg);
	for (i = 0; i < nexpect; i++) {
		int found = 0;
		for (j = 0; j < errs.n && !found; j++)
			found = matches(errs.v[j], expect[i], path);
		if (!ok(found, "%s: reports %s", strrchr(path, '/') + 1, expect[i]))
			for (j = 0; j < errs.n; j++)
				printf("#   error: %s\n", errs.v[j]);
	}
	if (!ok(errs.n == nexpect, "%s: exactly %zu errors (got %zu)", strrchr(path, '/') + 1,
		nexpect, errs.n))
		for (j = 0; j < errs.n; j++)
			printf("#   error: %s\n", errs.v[j]);
	for (i = 0; i < nexpect; i++)
		free(expect[i]);
	config_errors_free(&errs);
}

static struct config *load_ok(const char *path)
{
	struct config_errors errs = {NULL, 0};
	struct config *cfg = config_load(path, CONFIG_CHECK_FILES, &errs);
	size_t j;

	if (!ok(cfg != NULL, "%s loads", path))
		for (j = 0; j < errs.n; j++)
			printf("#   error: %s\n", errs.v[j]);
	config_errors_free(&errs);
	return cfg;
}

static void check_fixtures(void)
{
	char path[1024];
	struct dirent **names;
	int i, n;

	snprintf(path, sizeof(path), "%s/config", srcdir());
	n = scandir(path, &names, NULL, alphasort);
	if (!ok(n > 10, "fixtures found in %s", path))
		return;
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		snprintf(path, sizeof(path), "%s/config/%s", srcdir(), name);
		if (len > 5 && strcmp(name + len - 5, ".conf") == 0) {
			if (strncmp(name, "bad-", 4) == 0)
				check_bad(path);
			else if (strncmp(name, "good-", 5) == 0)
				config_free(load_ok(path));
		}
		free(names[i]);
	}
	free(names);
}

static void check_sample(void)
{
	const char *sample = getenv("SAMPLE_CONF");
	const struct cfg_list *l;
	struct config *cfg;

	if (!ok(sample != NULL, "SAMPLE_CONF is set"))
		return;
	if ((cfg = load_ok(sample)) == NULL)
		return;
	is_int(cfg->nlists, 2, "sample declares two lists");
	is_int(cfg->daemon.relay.port, 25, "relay port");
	is_int(cfg->daemon.limits.message_size, 25 * 1024 * 1024, "message_size \"25M\"");
	is_int(cfg->daemon.delimiter, '+', "delimiter");
	is_int(cfg->daemon.lmtp_listen.n, 2, "two lmtp listen addresses");
	is_str(cfg->daemon.smtp_listen.v[1], "[::1]:2525", "smtp listen v6");
	is_str(config_relay_tls_name(cfg->daemon.relay.starttls), "auto", "starttls auto");
	l = config_list_find(cfg, "dev");
	if (ok(l != NULL, "list dev found")) {
		is_str(l->address, "dev@lists.example.org", "dev address");
		is_int(l->nauthors, 2, "dev has two authors");
		is_str(l->authors[0].secret, "k3vq9t2mxw8rz5pa", "alice's secret");
		is_str(l->authors[1].address, "bob@example.org", "bob as a plain string");
		is_str(l->moderators.v[0], "carol@example.org", "moderator");
		is_str(config_reply_policy_name(l->reply_policy), "list", "reply policy");
	}
	ok(config_list_find(cfg, "nope") == NULL, "unknown list not found");
	config_free(cfg);
}

static void check_defaults_and_include(void)
{
	char path[1024];
	struct config *cfg;

	snprintf(path, sizeof(path), "%s/config/good-minimal.conf", srcdir());
	if ((cfg = load_ok(path)) != NULL) {
		is_str(cfg->daemon.database, "/var/lib/parley/parley.db", "default database");
		is_str(cfg->daemon.spool, "/var/spool/parley", "default spool");
		is_int(cfg->daemon.workers, 4, "default workers");
		is_int(cfg->daemon.worker_nice, 5, "default worker_nice");
		is_int(cfg->daemon.queue_lifetime, 5 * 86400, "default queue lifetime 5 days");
		is_int(cfg->daemon.limits.message_size, 25 * 1024 * 1024, "default message size");
		is_str(config_reply_policy_name(cfg->lists[0].reply_policy), "list",
		       "default reply policy");
		config_free(cfg);
	}
	snprintf(path, sizeof(path), "%s/config/good-include.conf", srcdir());
	if ((cfg = load_ok(path)) != NULL) {
		is_int(cfg->nlists, 1, "included lists loaded");
		is_str(cfg->lists[0].name, "inc", "included list name");
		is_int(cfg->daemon.delimiter, '-', "delimiter '-'");
		is_int(cfg->daemon.limits.message_size, 512 * 1024, "message_size \"512K\"");
		config_free(cfg);
	}
}

static void check_unreadable(void)
{
	struct config_errors errs = {NULL, 0};
	struct config *cfg = config_load("/nonexistent/parley.conf", 0, &errs);

	ok(cfg == NULL && errs.n == 1, "missing file refused");
	if (errs.n == 1)
		is_str(errs.v[0], "/nonexistent/parley.conf: cannot read: No such file or directory",
		       "missing file message");
	config_errors_free(&errs);
}

/* relay_verify: relay.tls_verify after loading a config with RELAY in
 * daemon.relay; -1 if it does not load. */
static int relay_verify(const char *relay)
{
	char path[] = "/tmp/parley-test-config-XXXXXX";
	struct config_errors errs = {NULL, 0};
	struct config *cfg;
	int fd = mkstemp(path), v = -1;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (f == NULL)
		return -1;
	fprintf(f, "daemon = { relay = { %s }; };\n"
		   "lists = ( { name = \"dev\"; address = \"dev@lists.example.org\"; } );\n",
		relay);
	fclose(f);
	if ((cfg = config_load(path, 0, &errs)) != NULL)
		v = cfg->daemon.relay.tls_verify;
	config_free(cfg);
	config_errors_free(&errs);
	unlink(path);
	return v;
}

/* relay_uri: load daemon.relay = VALUE; the relay as "host port maildir"
 * into OUT, or the first error. */
static void relay_uri(const char *value, char *out, size_t len)
{
	char path[] = "/tmp/parley-test-config-XXXXXX";
	struct config_errors errs = {NULL, 0};
	struct config *cfg;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	snprintf(out, len, "(no file)");
	if (f == NULL)
		return;
	fprintf(f, "daemon = {\n  relay = \"%s\";\n};\n"
		   "lists = ( { name = \"dev\"; address = \"dev@lists.example.org\"; } );\n",
		value);
	fclose(f);
	if ((cfg = config_load(path, 0, &errs)) != NULL)
		snprintf(out, len, "%s %d %s", cfg->daemon.relay.host, cfg->daemon.relay.port,
			 cfg->daemon.relay.maildir ? cfg->daemon.relay.maildir : "-");
	else if (errs.n > 0)
		snprintf(out, len, "%s", strstr(errs.v[0], ":2: ") ? strstr(errs.v[0], ":2: ") : errs.v[0]);
	config_free(cfg);
	config_errors_free(&errs);
	unlink(path);
}

static void check_relay_uri(void)
{
	char got[512];

	relay_uri("maildir:/var/tmp/sink", got, sizeof(got));
	is_str(got, "127.0.0.1 25 /var/tmp/sink", "relay = \"maildir:/DIR\"");
	relay_uri("smtp:mx.example.net:2525", got, sizeof(got));
	is_str(got, "mx.example.net 2525 -", "relay = \"smtp:HOST:PORT\"");
	relay_uri("smtp:relay.example.net", got, sizeof(got));
	is_str(got, "relay.example.net 25 -", "relay = \"smtp:HOST\": port 25");
	relay_uri("smtp:[::1]:26", got, sizeof(got));
	is_str(got, "::1 26 -", "relay = \"smtp:[::1]:26\"");
	relay_uri("maildir:sink", got, sizeof(got));
	ok(strncmp(got, ":2: daemon.relay: \"maildir:sink\" is not", 36) == 0,
	   "a relative maildir: refused at FILE:2 (%s)", got);
	relay_uri("smtp:mx.example.net:99999", got, sizeof(got));
	ok(strncmp(got, ":2: daemon.relay:", 17) == 0, "port 99999: refused (%s)", got);
	relay_uri("smtp:", got, sizeof(got));
	ok(strncmp(got, ":2: daemon.relay:", 17) == 0, "no host: refused (%s)", got);
	relay_uri("ftp://x", got, sizeof(got));
	ok(strncmp(got, ":2: daemon.relay:", 17) == 0, "another scheme: refused (%s)", got);
}

static void check_relay_verify_default(void)
{
	is_int(relay_verify(""), 0, "tls_verify: off by default for the default relay 127.0.0.1");
	is_int(relay_verify("host = \"localhost\";"), 0, "off by default for localhost");
	is_int(relay_verify("host = \"::1\";"), 0, "off by default for ::1");
	is_int(relay_verify("host = \"127.0.0.53\";"), 0, "off by default for 127.0.0.53");
	is_int(relay_verify("host = \"smtp.example.net\";"), 1, "on by default for a remote relay");
	is_int(relay_verify("host = \"128.0.0.1\";"), 1, "on by default for 128.0.0.1");
	is_int(relay_verify("host = \"::2\";"), 1, "on by default for ::2");
	is_int(relay_verify("tls_verify = true;"), 1, "true on loopback when set");
	is_int(relay_verify("ca_file = \"/etc/ssl/certs/ca-certificates.crt\";"), 1,
	       "on by default for loopback with a ca_file");
	is_int(relay_verify("host = \"smtp.example.net\"; tls_verify = false;"), 0,
	       "false on a remote relay when set");
}

/* ---- @include: what libconfig's scanner would exit() on is refused ---- */

static void put(const char *dir, const char *name, const char *text)
{
	char path[1200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* include_load: DIR/main.conf loaded: "ok" or its first error, without the
 * directory, into OUT. */
static void include_load(const char *dir, char *out, size_t len)
{
	struct config_errors errs = {NULL, 0};
	struct config *cfg;
	char path[1200];

	snprintf(path, sizeof(path), "%s/main.conf", dir);
	cfg = config_load(path, 0, &errs);
	if (cfg != NULL)
		snprintf(out, len, "ok %zu", cfg->nlists);
	else if (errs.n > 0)
		snprintf(out, len, "%s", strncmp(errs.v[0], dir, strlen(dir)) == 0
						 ? errs.v[0] + strlen(dir) + 1 : errs.v[0]);
	else
		snprintf(out, len, "(refused without a reason)");
	config_free(cfg);
	config_errors_free(&errs);
}

#define LIST "lists = ( { name = \"dev\"; address = \"dev@lists.example.org\"; } );\n"

static void check_includes(void)
{
	char dir[] = "/tmp/parley-test-include-XXXXXX", got[9000], path[1200];
	struct config_errors errs = {NULL, 0};

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	put(dir, "list.conf", LIST);
	put(dir, "main.conf", "daemon = { workers = 2; };\n@include \"\"\n");
	include_load(dir, got, sizeof(got));
	ok(strstr(got, "main.conf:2: @include \"\": ") == got && strstr(got, "is a directory") != NULL,
	   "@include \"\" (the directory itself; libconfig's scanner exit()ed): refused, %s", got);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ok(mkfifo(path, 0600) == 0, "a FIFO made");
	put(dir, "main.conf", "# a FIFO, whose open would block\n  @include \"fifo\"\n");
	include_load(dir, got, sizeof(got));
	ok(strstr(got, "main.conf:2: @include \"fifo\": ") == got && strstr(got, "not a regular file"),
	   "a FIFO: refused without opening it, %s", got);
	put(dir, "daemon.conf", "daemon = { workers = 2; };\n");
	put(dir, "main.conf", "/* @include \"\"\n */ # @include \"\"\n// @include \"fifo\"\n"
			      "lists = ( { name = \"dev\"; address = \"dev@lists.example.org\";\n"
			      "  footer = \"x\n@include \\\"\\\"\"; } );\n@include \"daemon.conf\"\n");
	include_load(dir, got, sizeof(got));
	is_str(got, "ok 1", "directives in comments and strings are not followed, the real one is");
	put(dir, "a.conf", "@include \"a.conf\"\n@include \"a.conf\"\n");
	put(dir, "main.conf", "@include \"a.conf\"\n");
	include_load(dir, got, sizeof(got));
	ok(strstr(got, "more than 64 inclusions") != NULL,
	   "a file including itself twice (2^10 files for libconfig): refused, %s", got);
	put(dir, "b.conf", "@include \"c.conf\"\n");
	put(dir, "c.conf", "@include \"list.conf\"\n");
	put(dir, "main.conf", "daemon = { workers = 2; };\n@include \"b.conf\"\n");
	include_load(dir, got, sizeof(got));
	is_str(got, "ok 1", "a chain of three includes loads");
	put(dir, "main.conf", "@include \"nothing-here.conf\"\n");
	include_load(dir, got, sizeof(got));
	ok(strstr(got, "main.conf:1: ") == got && strstr(got, "include") != NULL,
	   "a missing include: libconfig's own error, %s", got);
	{
		char *big = xmalloc(5 * 1024 * 1024 + 1);
		memset(big, '#', 5 * 1024 * 1024);
		big[5 * 1024 * 1024] = '\0';
		put(dir, "big.conf", big);
		free(big);
	}
	put(dir, "main.conf", LIST "@include \"big.conf\"\n");
	include_load(dir, got, sizeof(got));
	ok(strstr(got, "main.conf:2: @include \"big.conf\": larger than 4 MiB") == got,
	   "an include over 4 MiB: refused, %s", got);
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	{
		FILE *f = fopen(path, "w");
		if (f != NULL) {
			fputs("@include \"list", f);
			fputc('\0', f);
			fputs(".conf\"\n", f);
			fclose(f);
		}
	}
	include_load(dir, got, sizeof(got));
	ok(strstr(got, "main.conf:1: a NUL byte in an @include name") == got, "a NUL in a name: %s", got);
	ok(config_load(dir, 0, &errs) == NULL && errs.n == 1, "a directory given as the file: refused");
	if (errs.n == 1)
		ok(strstr(errs.v[0], ": not a regular file") != NULL, "as not a regular file: %s", errs.v[0]);
	config_errors_free(&errs);
	for (const char *const *n = (const char *const[]){"list.conf", "main.conf", "fifo", "a.conf", "b.conf",
							  "c.conf", "big.conf", "daemon.conf", NULL};
	     *n != NULL; n++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *n);
		unlink(path);
	}
	rmdir(dir);
}

/* load_daemon: a config whose daemon group is DAEMON (from line 2 on);
 * the config, or NULL with the first error (from ":LINE:" on) in ERR. */
static struct config *load_daemon(const char *daemon, char *err, size_t len)
{
	char path[] = "/tmp/parley-test-config-XXXXXX";
	struct config_errors errs = {NULL, 0};
	struct config *cfg;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	snprintf(err, len, "(no file)");
	if (f == NULL)
		return NULL;
	fprintf(f, "daemon = {\n%s\n};\n"
		   "lists = ( { name = \"dev\"; address = \"dev@lists.example.org\"; } );\n",
		daemon);
	fclose(f);
	cfg = config_load(path, 0, &errs);
	if (cfg == NULL && errs.n > 0)
		snprintf(err, len, "%s", strchr(errs.v[0], ':') ? strchr(errs.v[0], ':') : errs.v[0]);
	config_errors_free(&errs);
	unlink(path);
	return cfg;
}

/* load_lists: a config with only LISTS (the text inside "lists = ( )");
 * as load_daemon. */
static struct config *load_lists(const char *lists, char *err, size_t len)
{
	char path[] = "/tmp/parley-test-config-XXXXXX";
	struct config_errors errs = {NULL, 0};
	struct config *cfg;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	snprintf(err, len, "(no file)");
	if (f == NULL)
		return NULL;
	fprintf(f, "lists = ( %s );\n", lists);
	fclose(f);
	cfg = config_load(path, 0, &errs);
	if (cfg == NULL && errs.n > 0)
		snprintf(err, len, "%s", errs.v[0]);
	config_errors_free(&errs);
	unlink(path);
	return cfg;
}

static void check_list_delivery(void)
{
	struct config *cfg;
	char err[512];

	cfg = load_lists("{ name = \"a\"; address = \"a@example.org\"; delivery = \"batch\";"
			 " batch_recipients = 40; }, { name = \"b\"; address = \"b@example.org\"; }",
			 err, sizeof(err));
	ok(cfg != NULL && cfg->lists[0].delivery == DELIVERY_BATCH &&
	   cfg->lists[0].batch_recipients == 40 && cfg->lists[1].delivery == DELIVERY_PERSONAL &&
	   cfg->lists[1].batch_recipients == 100,
	   "delivery = \"batch\" with batch_recipients; \"personal\" and 100 by default (%s)", err);
	config_free(cfg);
	ok(load_lists("{ name = \"a\"; address = \"a@example.org\"; delivery = \"bulk\"; }", err,
		      sizeof(err)) == NULL &&
	   strstr(err, "delivery: \"bulk\" is not one of \"personal\", \"batch\"") != NULL,
	   "another delivery is refused (%s)", err);
	ok(load_lists("{ name = \"a\"; address = \"a@example.org\"; batch_recipients = 0; }", err,
		      sizeof(err)) == NULL && strstr(err, "batch_recipients: 0 is outside 1..1000") != NULL,
	   "batch_recipients 0 is refused (%s)", err);
}

/* daemon.relays, daemon.relay as one relay of weight 1, the timeouts. */
static void check_relays(void)
{
	struct config *cfg;
	char err[512];

	cfg = load_daemon("  relay = \"smtp:mx.example.net:2525\";", err, sizeof(err));
	if (ok(cfg != NULL, "one relay (%s)", err)) {
		is_int(cfg->daemon.nrelays, 1, "daemon.relay is one relay");
		is_str(cfg->daemon.relays[0].host, "mx.example.net", "its host");
		is_int(cfg->daemon.relays[0].port, 2525, "its port");
		is_int(cfg->daemon.relays[0].weight, 1, "of weight 1");
		is_int(cfg->daemon.relays[0].timeouts.end, 600, "end of data: 600 s (RFC 5321)");
		is_int(cfg->daemon.relays[0].timeouts.data, 120, "DATA: 120 s");
		is_int(cfg->daemon.relays[0].timeouts.connect, 30, "connect: 30 s");
	}
	config_free(cfg);
	cfg = load_daemon("  relay_timeouts = { end = 5; rcpt = 7; };\n"
			  "  relays = (\n"
			  "    { url = \"smtp:127.0.0.1:2601\"; weight = 2; max_connections = 3; },\n"
			  "    { url = \"smtp:[::1]:2602\"; rate = 10; max_per_connection = 50;\n"
			  "      timeouts = { end = 9; }; starttls = \"no\"; }\n"
			  "  );",
			  err, sizeof(err));
	if (ok(cfg != NULL, "two relays (%s)", err)) {
		is_int(cfg->daemon.nrelays, 2, "daemon.relays: two");
		is_int(cfg->daemon.relays[0].weight, 2, "weight 2");
		is_int(cfg->daemon.relays[0].max_connections, 3, "max_connections 3");
		is_int(cfg->daemon.relays[0].timeouts.end, 5, "relay_timeouts.end for all");
		is_int(cfg->daemon.relays[0].timeouts.rcpt, 7, "relay_timeouts.rcpt for all");
		is_int(cfg->daemon.relays[0].timeouts.mail, 300, "unset: the RFC's");
		is_str(cfg->daemon.relays[1].host, "::1", "an IPv6 literal");
		is_int(cfg->daemon.relays[1].weight, 1, "weight 1 by default");
		is_int(cfg->daemon.relays[1].rate, 10, "rate 10");
		is_int(cfg->daemon.relays[1].max_per_connection, 50, "max_per_connection 50");
		is_int(cfg->daemon.relays[1].timeouts.end, 9, "a relay's own timeout wins");
		is_int(cfg->daemon.relays[1].timeouts.rcpt, 7, "and the others are inherited");
		is_int(cfg->daemon.relays[1].tls_verify, 0, "loopback: not verified by default");
	}
	config_free(cfg);
	ok(load_daemon("  relays = (\n    { url = \"ftp:x\"; }\n  );", err, sizeof(err)) == NULL &&
	   strncmp(err, ":3: daemon.relays[0].url: \"ftp:x\"", 33) == 0,
	   "a bad url: FILE:LINE (%s)", err);
	ok(load_daemon("  relays = (\n    { weight = 2; }\n  );", err, sizeof(err)) == NULL &&
	   strstr(err, ":3: daemon.relays[0]: required setting 'url'") == err,
	   "no url: FILE:LINE (%s)", err);
	ok(load_daemon("  relays = (\n    { url = \"smtp:a:25\"; weight = 0; }\n  );", err,
		       sizeof(err)) == NULL &&
	   strstr(err, ":3: daemon.relays[0].weight: 0 is outside 1..1000") == err,
	   "weight 0: FILE:LINE (%s)", err);
	ok(load_daemon("  relays = (\n    { url = \"smtp:a:25\"; },\n    { url = \"smtp:a:25\"; }\n  );",
		       err, sizeof(err)) == NULL &&
	   strstr(err, ":4: daemon.relays: a:25 is already listed at line 3") == err,
	   "the same relay twice: FILE:LINE (%s)", err);
	ok(load_daemon("  relay = \"smtp:b:25\";\n  relays = ( { url = \"smtp:a:25\"; } );", err,
		       sizeof(err)) == NULL &&
	   strstr(err, ":2: daemon.relay: name the relay here or in daemon.relays") == err,
	   "daemon.relay and daemon.relays both naming relays: refused (%s)", err);
	ok(load_daemon("  relays = (\n    { url = \"smtp:a:25\"; tmeouts = { end = 1; }; }\n  );", err,
		       sizeof(err)) == NULL && strstr(err, "did you mean 'timeouts'") != NULL,
	   "a misspelt key in a relay: named (%s)", err);
	cfg = load_daemon("  relay = { retry = [ 5 ]; };\n  relays = ( { url = \"smtp:a:25\"; } );", err,
			  sizeof(err));
	ok(cfg != NULL && cfg->daemon.relay.retry.v[0] == 5 && cfg->daemon.nrelays == 1,
	   "daemon.relay keeps retry beside daemon.relays (%s)", err);
	config_free(cfg);
}

int main(void)
{
	check_fixtures();
	check_sample();
	check_defaults_and_include();
	check_unreadable();
	check_relay_verify_default();
	check_relay_uri();
	check_relays();
	check_list_delivery();
	check_includes();
	return tap_done();
}
