/*
 * support.c - the scratch setup and socket plumbing of the fuzz targets
 * (see fuzz.h). Everything lives in one temporary directory, removed at
 * exit; nothing outside it is ever written.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/runtime.h"
#include "../../daemon/smtp_server.h"
#include "log.h"
#include "spool.h"
#include "xalloc.h"

static char dir[4096];
static struct config *cfg;
static struct runtime rt;

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[8192];

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		rm_tree(sub);
	}
	closedir(d);
	rmdir(path);
}

static void cleanup(void)
{
	if (dir[0])
		rm_tree(dir);
}

static const char conf_fmt[] =
	"daemon = {\n"
	"  spool = \"%s/spool\";\n"
	"  database = \"%s/parley.db\";\n"
	"  secret_file = \"%s/secret\";\n"
	"  pid_file = \"%s/parleyd.pid\";\n"
	"  hostname = \"lists.example.org\";\n"
	"  delimiter = \"+\";\n"
	"  relay = { host = \"127.0.0.1\"; port = %d; starttls = \"no\"; };\n"
	"  limits = { message_size = \"64K\"; header_count = 100; line_length = 998;\n"
	"    recipients = 20; errors = 20; command_timeout = 5; data_timeout = 5; };\n"
	"};\n"
	"lists = (\n"
	"  { name = \"dev\"; address = \"dev@lists.example.org\"; reply_policy = \"list\";\n"
	"    subject_prefix = \"[dev]\"; footer = \"-- \\nThe dev list\";\n"
	"    unsubscribe_url = \"https://lists.example.org/u\";\n"
	"    authors = ( { address = \"alice@example.org\"; name = \"Alice\";\n"
	"                  secret = \"k3vq9t2mxw8rz5pa\"; }, \"bob@example.org\" );\n"
	"    owners = [ \"carol@example.org\" ]; },\n"
	"  { name = \"news\"; address = \"news@lists.example.org\"; reply_policy = \"author\";\n"
	"    authors = ( \"alice@example.org\" ); owners = [ \"alice@example.org\" ]; }\n"
	");\n";

/* The mailboxes of fuzz_setup_imap: one per after-action, all on the
 * loopback server of the target, without TLS. */
static const char imap_fmt[] =
	"imap = (\n"
	"  { name = \"seen\"; host = \"127.0.0.1\"; port = %d; tls = \"none\"; user = \"dev\";\n"
	"    password_file = \"%s/imap.pw\"; after = \"seen\"; recipient = \"dev@lists.example.org\"; },\n"
	"  { name = \"delete\"; host = \"127.0.0.1\"; port = %d; tls = \"none\"; user = \"dev\";\n"
	"    password = \"pw\"; after = \"delete\"; recipient = \"dev@lists.example.org\"; },\n"
	"  { name = \"move\"; host = \"127.0.0.1\"; port = %d; tls = \"none\"; user = \"dev\";\n"
	"    password = \"pw\"; folder = \"Lists\"; after = \"move\"; move_to = \"Done\";\n"
	"    recipient = \"news@lists.example.org\"; }\n"
	");\n";

static struct config *setup(int relay_port, int imap_port);

struct config *fuzz_setup(int relay_port)
{
	return setup(relay_port, 0);
}

struct config *fuzz_setup_imap(int imap_port)
{
	return setup(0, imap_port);
}

struct runtime *fuzz_runtime(void)
{
	return &rt;
}

/* write_pw: the password file of the "seen" mailbox, 0600. */
static void write_pw(void)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/imap.pw", dir);
	if ((f = fopen(path, "w")) == NULL || fputs("secret\n", f) < 0 || fclose(f) != 0 ||
	    chmod(path, 0600) < 0) {
		perror(path);
		abort();
	}
}

static struct config *setup(int relay_port, int imap_port)
{
	char path[4200];
	const char *tmp = getenv("TMPDIR");
	struct config_errors errs = {0};
	FILE *f;

	if (cfg != NULL)
		return cfg;
	log_init("fuzz", getenv("FUZZ_LOG") ? LOG_DEST_STDERR : 0);
	snprintf(dir, sizeof(dir), "%s/parley-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/parley.conf", dir);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		abort();
	}
	fprintf(f, conf_fmt, dir, dir, dir, dir, relay_port > 0 ? relay_port : 25);
	if (imap_port > 0) {
		fprintf(f, imap_fmt, imap_port, dir, imap_port, imap_port);
		write_pw();
	}
	fclose(f);
	cfg = config_load(path, 0, &errs);
	if (cfg == NULL) {
		fprintf(stderr, "fuzz: the scratch configuration does not load\n");
		abort();
	}
	config_errors_free(&errs);
	if (spool_init(cfg->daemon.spool) < 0)
		abort();
	runtime_init(&rt, cfg);
	return cfg;
}

const char *fuzz_dir(void)
{
	return dir;
}

char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);

	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

void fuzz_spool_clean(void)
{
	char path[8192];
	const char *sub[] = {"incoming/new", "incoming/tmp", "quarantine"};

	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		DIR *d;
		struct dirent *e;
		snprintf(path, sizeof(path), "%s/%s", cfg->daemon.spool, sub[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			char f[8500];
			if (e->d_name[0] == '.')
				continue;
			snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
			unlink(f);
		}
		closedir(d);
	}
}

void fuzz_feed(int fd, const uint8_t *data, size_t size)
{
	char buf[4096];
	size_t off = 0;

	while (off < size) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
}

int fuzz_listen(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		perror("fuzz: listen");
		abort();
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static void *server_run(void *arg)
{
	struct fuzz_server *sv = arg;
	int first = 1;

	for (;;) {
		struct pollfd p[2] = {{sv->lfd, POLLIN, 0}, {sv->done[0], POLLIN, 0}};
		int fd;
		if (poll(p, 2, 30000) <= 0 || (p[1].revents & (POLLIN | POLLHUP)))
			return NULL;
		if ((fd = accept(sv->lfd, NULL, NULL)) < 0)
			continue;
		if (first)
			fuzz_feed(fd, sv->data, sv->size);
		first = 0;
		close(fd);
	}
}

void fuzz_server_start(struct fuzz_server *s, int lfd, const uint8_t *data, size_t size)
{
	s->lfd = lfd;
	s->data = data;
	s->size = size;
	if (pipe(s->done) < 0 || pthread_create(&s->thread, NULL, server_run, s) != 0)
		abort();
}

void fuzz_server_stop(struct fuzz_server *s)
{
	close(s->done[1]);
	pthread_join(s->thread, NULL);
	close(s->done[0]);
}

/* The client side of a session. */
struct client {
	int fd;
	const uint8_t *data;
	size_t size;
};

static void *client_run(void *arg)
{
	struct client *c = arg;

	fuzz_feed(c->fd, c->data, c->size);
	return NULL;
}

void fuzz_session(void (*session)(const struct smtp_session_args *), int lmtp,
		  const uint8_t *data, size_t size)
{
	struct smtp_session_args a;
	struct client c;
	pthread_t t;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("fuzz: socketpair");
		abort();
	}
	memset(&a, 0, sizeof(a));
	a.fd = sv[1];
	a.lmtp = lmtp;
	a.stop_fd = -1;
	a.rt = &rt;
	snprintf(a.peer, sizeof(a.peer), "[192.0.2.1]:2525");
	snprintf(a.peer_ip, sizeof(a.peer_ip), "192.0.2.1");
	c.fd = sv[0];
	c.data = data;
	c.size = size;
	if (pthread_create(&t, NULL, client_run, &c) != 0)
		abort();
	session(&a);	/* closes sv[1] */
	pthread_join(t, NULL);
	close(sv[0]);
}
