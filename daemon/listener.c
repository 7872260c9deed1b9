/*
 * listener.c - binds the LMTP/SMTP sockets and runs their sessions (see
 * listener.h). Holds the per-client session counts (an entry only while
 * that client has a session, so refused connections leave nothing behind);
 * never lets a session start beyond the configured limits, and never lets
 * listener_stop() wait for sessions longer than daemon.limits.stop_grace:
 * past it, their sockets are shut down under them.
 */
#include "autoconf.h"

#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "http_server.h"
#include "smtp_server.h"
#include "xalloc.h"

#define LISTENER_MAX_SOCKETS 32
#define LISTENER_LAST_WAIT_MS 2000	/* for the sessions cut at the end of the grace */

enum lproto { L_LMTP, L_SMTP, L_HTTP };

struct lsock {
	int fd;
	enum lproto proto;
	char name[160];
};

struct ip_count {
	char ip[64];
	int n;
};

/* A running session: the listener keeps its own descriptor of the socket
 * (closed only in leave(), under the mutex) to shut it down at the end of
 * the grace without racing the session's close(). */
struct live {
	int ctl_fd;
	struct live *prev, *next;
};

struct listener {
	struct lsock socks[LISTENER_MAX_SOCKETS];
	int nsocks;
	SSL_CTX *tls;
	int stop_pipe[2];	/* written on stop: wakes accept() and idle sessions */
	pthread_t thread;
	int started;
	struct runtime *rt;
	pthread_mutex_t mu;
	pthread_cond_t idle;
	int active;
	struct ip_count *ips;	/* clients with a running session; at most `active` */
	int nips, ipcap;
	struct live *lives;
};

struct session_start {
	struct listener *l;
	struct live live;
	enum lproto proto;
	struct smtp_session_args args;
};

static SSL_CTX *tls_context(const struct cfg_daemon *d)
{
	SSL_CTX *ctx;

	if (d->tls_cert == NULL)
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, d->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, d->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		unsigned long e = ERR_get_error();
		log_error("TLS: cannot use %s / %s: %s", d->tls_cert, d->tls_key,
			  e ? ERR_reason_error_string(e) : "unknown error");
		SSL_CTX_free(ctx);
		return (SSL_CTX *)-1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	return ctx;
}

static int bind_unix(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	{
		char dir[sizeof(sun.sun_path)];
		const char *slash = strrchr(path, '/');
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if (dir[0] != '\0' && mkdir(dir, 0755) == 0)
			log_info("created %s for a unix socket", dir);
	}
	/* a stale socket of a previous run (the pid lock says none runs); never
	 * remove anything that is not a socket */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			errno = EEXIST;
			return -1;
		}
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 128) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int bind_inet(const char *spec)
{
	char host[256];
	const char *port;
	struct addrinfo hints, *res = NULL;
	int fd = -1, one = 1, rc;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		snprintf(host, sizeof(host), "%.*s", (int)(rb - spec - 1), spec + 1);
		port = rb + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
		port = colon + 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port, &hints, &res);
	if (rc != 0) {
		log_error("listen %s: %s", spec, gai_strerror(rc));
		errno = EINVAL;
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
			int e = errno;
			close(fd);
			fd = -1;
			errno = e;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static int add_socks(struct listener *l, const struct strv *specs, enum lproto proto)
{
	static const char *const names[] = {"lmtp", "smtp", "http"};
	static const char *const labels[] = {"LMTP", "SMTP", "HTTP"};
	size_t i;

	for (i = 0; i < specs->n; i++) {
		const char *spec = specs->v[i];
		struct lsock *s;
		int fd;
		if (l->nsocks >= LISTENER_MAX_SOCKETS) {
			log_error("listen %s: too many listen addresses", spec);
			return -1;
		}
		fd = strncmp(spec, "unix:", 5) == 0 ? bind_unix(spec + 5) : bind_inet(spec);
		if (fd < 0 && spec[0] == '[' && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
			log_warn("%s listen %s: no IPv6 on this host; skipped", names[proto], spec);
			continue;
		}
		if (fd < 0) {
			log_error("%s listen %s: %s", names[proto], spec, strerror(errno));
			return -1;
		}
		s = &l->socks[l->nsocks++];
		s->fd = fd;
		s->proto = proto;
		snprintf(s->name, sizeof(s->name), "%s %s", labels[proto], spec);
		log_info("listening: %s", s->name);
	}
	return 0;
}

struct listener *listener_open(const struct config *cfg)
{
	struct listener *l = xcalloc(1, sizeof(*l));

	l->stop_pipe[0] = l->stop_pipe[1] = -1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->idle, NULL);
	l->tls = tls_context(&cfg->daemon);
	if (l->tls == (SSL_CTX *)-1 || pipe2(l->stop_pipe, O_CLOEXEC) < 0 ||
	    add_socks(l, &cfg->daemon.lmtp_listen, L_LMTP) < 0 ||
	    add_socks(l, &cfg->daemon.smtp_listen, L_SMTP) < 0 ||
	    add_socks(l, &cfg->daemon.http_listen, L_HTTP) < 0) {
		if (l->tls == (SSL_CTX *)-1)
			l->tls = NULL;
		listener_stop(l);
		return NULL;
	}
	return l;
}

/* ip_find: the entry of IP, or NULL if it has no session. */
static struct ip_count *ip_find(struct listener *l, const char *ip)
{
	int i;

	for (i = 0; i < l->nips; i++)
		if (strcmp(l->ips[i].ip, ip) == 0)
			return &l->ips[i];
	return NULL;
}

/* ip_add: a new entry for IP (which has none), count 0. The table holds at
 * most one entry per running session, so it grows only with them. */
static struct ip_count *ip_add(struct listener *l, const char *ip)
{
	if (l->nips == l->ipcap) {
		l->ipcap = l->ipcap ? l->ipcap * 2 : 64;
		l->ips = xrealloc(l->ips, (size_t)l->ipcap * sizeof(*l->ips));
	}
	snprintf(l->ips[l->nips].ip, sizeof(l->ips[l->nips].ip), "%s", ip);
	l->ips[l->nips].n = 0;
	return &l->ips[l->nips++];
}

/* admit: count a new session from IP, or say why not (a 421 text). Checks
 * every limit before touching the table: a refusal changes nothing. */
static const char *admit(struct listener *l, const char *ip, const struct cfg_limits *lim)
{
	struct ip_count *c;
	const char *why = NULL;

	pthread_mutex_lock(&l->mu);
	c = ip_find(l, ip);
	if (l->active >= lim->connections)
		why = "421 4.7.0 Too many connections; try again later\r\n";
	else if (c != NULL && c->n >= lim->sessions_per_ip && strcmp(ip, "unix") != 0)
		why = "421 4.7.0 Too many connections from your address; try again later\r\n";
	else {
		if (c == NULL)
			c = ip_add(l, ip);
		c->n++;
		l->active++;
	}
	pthread_mutex_unlock(&l->mu);
	return why;
}

/* live_add: register a running session's control descriptor. */
static void live_add(struct listener *l, struct live *v)
{
	pthread_mutex_lock(&l->mu);
	v->prev = NULL;
	v->next = l->lives;
	if (l->lives != NULL)
		l->lives->prev = v;
	l->lives = v;
	pthread_mutex_unlock(&l->mu);
}

/* leave: a session ended: uncount it, forget its control descriptor. */
static void leave(struct listener *l, const char *ip, struct live *v)
{
	struct ip_count *c;

	pthread_mutex_lock(&l->mu);
	c = ip_find(l, ip);
	if (c != NULL && --c->n == 0)
		*c = l->ips[--l->nips];	/* keep the table small */
	if (v != NULL && v->ctl_fd >= 0) {
		if (v->prev != NULL)
			v->prev->next = v->next;
		else
			l->lives = v->next;
		if (v->next != NULL)
			v->next->prev = v->prev;
		close(v->ctl_fd);
		v->ctl_fd = -1;
	}
	l->active--;
	pthread_cond_broadcast(&l->idle);
	pthread_mutex_unlock(&l->mu);
}

static void *session_main(void *arg)
{
	struct session_start *ss = arg;

	if (ss->proto == L_HTTP)
		http_session(&ss->args);
	else
		smtp_session(&ss->args);
	leave(ss->l, ss->args.peer_ip, &ss->live);
	free(ss);
	return NULL;
}

static void peer_names(const struct sockaddr_storage *sa, struct smtp_session_args *a)
{
	char ip[64] = "unix";
	int port = 0;

	/* accept() filled SA; the analyzer does not model it.
	 * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	snprintf(a->peer_ip, sizeof(a->peer_ip), "%s", ip);
	if (port)
		snprintf(a->peer, sizeof(a->peer), "[%s]:%d", ip, port);
	else
		snprintf(a->peer, sizeof(a->peer), "unix");
}

static void accept_one(struct listener *l, const struct lsock *s)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	struct session_start *ss;
	struct cfg_gen *g;
	const char *why;
	pthread_attr_t attr;
	pthread_t t;
	int fd = accept4(s->fd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("%s: accept: %s", s->name, strerror(errno));
		return;
	}
	ss = xcalloc(1, sizeof(*ss));
	ss->l = l;
	ss->live.ctl_fd = -1;
	ss->args.fd = fd;
	ss->proto = s->proto;
	ss->args.lmtp = s->proto == L_LMTP;
	ss->args.stop_fd = l->stop_pipe[0];
	ss->args.tls = l->tls;
	ss->args.rt = l->rt;
	peer_names(&sa, &ss->args);
	g = runtime_hold(l->rt);
	why = admit(l, ss->args.peer_ip, &g->cfg->daemon.limits);
	runtime_release(l->rt, g);
	if (why != NULL) {
		const char *busy = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 60\r\n"
				   "Content-Length: 0\r\nConnection: close\r\n\r\n";
		const char *say = s->proto == L_HTTP ? busy : why;
		if (send(fd, say, strlen(say), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("%s: %s", ss->args.peer, strerror(errno));
		log_info("%s: refused: %.*s", ss->args.peer, (int)strlen(why) - 2, why);
		close(fd);
		free(ss);
		return;
	}
	ss->live.ctl_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (ss->live.ctl_fd < 0) {
		log_error("%s: cannot start a session: %s", ss->args.peer, strerror(errno));
		leave(l, ss->args.peer_ip, NULL);
		close(fd);
		free(ss);
		return;
	}
	live_add(l, &ss->live);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, session_main, ss) != 0) {
		log_error("%s: cannot start a session thread", ss->args.peer);
		leave(l, ss->args.peer_ip, &ss->live);
		close(fd);
		free(ss);
	}
	pthread_attr_destroy(&attr);
}

static void *accept_main(void *arg)
{
	struct listener *l = arg;
	struct pollfd p[LISTENER_MAX_SOCKETS + 1];
	int i, n;

	for (i = 0; i < l->nsocks; i++) {
		p[i].fd = l->socks[i].fd;
		p[i].events = POLLIN;
	}
	p[l->nsocks].fd = l->stop_pipe[0];
	p[l->nsocks].events = POLLIN;
	for (;;) {
		n = poll(p, (nfds_t)l->nsocks + 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (p[l->nsocks].revents & POLLIN))
			break;
		for (i = 0; i < l->nsocks; i++)
			if (p[i].revents & POLLIN)
				accept_one(l, &l->socks[i]);
	}
	return NULL;
}

int listener_start(struct listener *l, struct runtime *rt)
{
	l->rt = rt;
	if (pthread_create(&l->thread, NULL, accept_main, l) != 0) {
		log_error("cannot start the listener thread");
		return -1;
	}
	l->started = 1;
	return 0;
}

/* wait_idle: wait until no session runs or MS milliseconds passed; 1 if
 * none runs. Called with the mutex held. */
static int wait_idle(struct listener *l, int ms)
{
	struct timespec end;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	while (l->active > 0)
		if (pthread_cond_timedwait(&l->idle, &l->mu, &end) == ETIMEDOUT)
			break;
	return l->active == 0;
}

/* stop_sessions: give the sessions the grace to finish, then shut their
 * sockets down (each then fails its next read or write and ends). 1 if
 * every session ended. */
static int stop_sessions(struct listener *l)
{
	int grace = 10000, done;
	struct live *v;

	if (l->rt != NULL) {
		struct cfg_gen *g = runtime_hold(l->rt);
		grace = g->cfg->daemon.limits.stop_grace * 1000;
		runtime_release(l->rt, g);
	}
	pthread_mutex_lock(&l->mu);
	if (!wait_idle(l, grace)) {
		log_warn("listener: %d sessions still running after %d s: closing them", l->active,
			 grace / 1000);
		for (v = l->lives; v != NULL; v = v->next)
			shutdown(v->ctl_fd, SHUT_RDWR);
		if (!wait_idle(l, LISTENER_LAST_WAIT_MS))
			log_error("listener: %d sessions did not end", l->active);
	}
	done = l->active == 0;
	pthread_mutex_unlock(&l->mu);
	return done;
}

int listener_stop(struct listener *l)
{
	int i;

	if (l == NULL)
		return 0;
	if (l->stop_pipe[1] >= 0 && write(l->stop_pipe[1], "x", 1) < 0)
		log_warn("listener: stop: %s", strerror(errno));
	if (l->started)
		pthread_join(l->thread, NULL);
	for (i = 0; i < l->nsocks; i++)
		close(l->socks[i].fd);
	if (!stop_sessions(l))
		return -1;	/* a session still uses L: leave it to the exit */
	if (l->stop_pipe[0] >= 0)
		close(l->stop_pipe[0]);
	if (l->stop_pipe[1] >= 0)
		close(l->stop_pipe[1]);
	SSL_CTX_free(l->tls);
	pthread_cond_destroy(&l->idle);
	pthread_mutex_destroy(&l->mu);
	free(l->ips);
	free(l);
	return 0;
}
