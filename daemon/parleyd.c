/*
 * parleyd.c - main() of the parley daemon: load and validate the
 * configuration, open (and migrate) the store, claim the pid file so that a
 * second daemon on the same spool refuses to start, then run until SIGTERM.
 * SIGHUP reloads the configuration; an invalid new file is logged and the old
 * one kept.
 *
 * The listeners, spool, ingest and delivery stages are added by their own
 * modules (design §1); this file only wires them together. It must never
 * exit with a message accepted but not durable.
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "delivery.h"
#include "imap_poller.h"
#include "ingest.h"
#include "listener.h"
#include "lockfile.h"
#include "log.h"
#include "privilege.h"
#include "runtime.h"
#include "spool.h"
#include "spool_watch.h"
#include "store.h"
#include "token.h"
#include "xalloc.h"

#define EXPIRE_EVERY 60 /* seconds between sweeps of expired confirmation requests */

static volatile sig_atomic_t got_term, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: parleyd [-c FILE] [-f] [-h] [-V]\n"
		   "  -c FILE  configuration (default %s/parley.conf)\n"
		   "  -f       stay in the foreground and log to stderr\n"
		   "  -h       this help\n"
		   "  -V       print the version\n",
		PARLEY_SYSCONFDIR);
}

static struct config *load(const char *path)
{
	struct config_errors errs = {NULL, 0};
	struct config *cfg = config_load(path, CONFIG_CHECK_FILES | CONFIG_LOAD_KEYS, &errs);
	size_t i;

	for (i = 0; i < errs.n; i++)
		log_error("%s", errs.v[i]);
	config_errors_free(&errs);
	for (i = 0; cfg != NULL && i < cfg->warnings.n; i++)
		log_warn("%s", cfg->warnings.v[i]);
	return cfg;
}

/* keep_bound: a setting bound at start changed in FRESH: warn and keep the
 * running value, so that nothing uses a path that was never prepared. */
static void keep_bound(const char *path, const char *what, char **fresh, const char *old)
{
	if ((*fresh == NULL) == (old == NULL) && (old == NULL || strcmp(*fresh, old) == 0))
		return;
	log_warn("%s: daemon.%s changed: restart parleyd to use it", path, what);
	free(*fresh);
	*fresh = old ? xstrdup(old) : NULL;
}

static int strv_equal(const struct strv *a, const struct strv *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

/* reload: the configuration read anew from PATH, or NULL if it has errors
 * (logged; the running one stays). What is bound at start (database, spool,
 * pid file, user, listeners, TLS certificate) keeps its running value until
 * a restart. Files are not re-checked for readability: we may no longer be
 * root, and the TLS key was loaded at start. The DKIM keys are loaded anew
 * (a rotated key takes effect): one that cannot be read by the user we run
 * as, or is broken, fails the reload. */
static struct config *reload(const char *path, const struct config *old)
{
	struct config_errors errs = {NULL, 0};
	struct config *fresh = config_load(path, CONFIG_LOAD_KEYS, &errs);
	struct cfg_daemon *d;
	size_t i;

	for (i = 0; i < errs.n; i++)
		log_error("%s", errs.v[i]);
	config_errors_free(&errs);
	if (fresh == NULL) {
		log_warn("%s: reload failed, keeping the running configuration", path);
		return NULL;
	}
	d = &fresh->daemon;
	keep_bound(path, "database", &d->database, old->daemon.database);
	keep_bound(path, "spool", &d->spool, old->daemon.spool);
	keep_bound(path, "pid_file", &d->pid_file, old->daemon.pid_file);
	keep_bound(path, "user", &d->user, old->daemon.user);
	keep_bound(path, "tls.cert", &d->tls_cert, old->daemon.tls_cert);
	keep_bound(path, "tls.key", &d->tls_key, old->daemon.tls_key);
	keep_bound(path, "secret_file", &d->secret_file, old->daemon.secret_file);
	if (d->workers != old->daemon.workers) {
		log_warn("%s: daemon.workers changed: restart parleyd to use it", path);
		d->workers = old->daemon.workers;
	}
	if (d->worker_nice != old->daemon.worker_nice) {
		log_warn("%s: daemon.worker_nice changed: restart parleyd to use it", path);
		d->worker_nice = old->daemon.worker_nice;
	}
	if (!strv_equal(&d->lmtp_listen, &old->daemon.lmtp_listen) ||
	    !strv_equal(&d->smtp_listen, &old->daemon.smtp_listen) ||
	    !strv_equal(&d->http_listen, &old->daemon.http_listen))
		log_warn("%s: listen addresses changed: restart parleyd to use them", path);
	for (i = 0; i < fresh->warnings.n; i++)
		log_warn("%s", fresh->warnings.v[i]);
	log_info("reloaded %s: %zu lists", path, fresh->nlists);
	return fresh;
}

/* key_readable: warn if the DKIM key FILE (of WHOSE dkim group) cannot be
 * read any more now that root was given up: copies are signed with the
 * key loaded at start, but every reload would be refused. */
static void key_readable(const char *file, const char *whose)
{
	if (file != NULL && access(file, R_OK) != 0)
		log_warn("%s: the DKIM key of %s is not readable after dropping root (%s): "
			 "copies are signed with the key loaded at start, but a reload will be "
			 "refused; make it 0640 root:<the daemon's group>",
			 file, whose, strerror(errno));
}

static void keys_readable(const struct config *cfg)
{
	char whose[CONFIG_LIST_NAME_MAX + 16];
	size_t i;

	key_readable(cfg->daemon.dkim.key_file, "daemon.dkim");
	key_readable(cfg->daemon.dkim.ed25519_key_file, "daemon.dkim");
	for (i = 0; i < cfg->nlists; i++) {
		snprintf(whose, sizeof(whose), "list %s", cfg->lists[i].name);
		key_readable(cfg->lists[i].dkim.key_file, whose);
		key_readable(cfg->lists[i].dkim.ed25519_key_file, whose);
	}
}

/* startup: what needs root: the spool tree, the listening sockets; then
 * give root up. 0 or -1 (logged). */
static int startup(const struct config *cfg, struct listener **lst)
{
	int n;

	if (spool_init(cfg->daemon.spool) < 0 || spool_lock(cfg->daemon.spool) < 0)
		return -1;	/* the lock's descriptor stays open until we exit */
	n = spool_clean_tmp(cfg->daemon.spool, 0);
	if (n > 0)
		log_info("%s: removed %d unfinished files of a previous run (never acknowledged)",
			 cfg->daemon.spool, n);
	if ((*lst = listener_open(cfg)) == NULL)
		return -1;
	if (privilege_drop(cfg) < 0) {
		listener_stop(*lst);
		*lst = NULL;
		return -1;
	}
	keys_readable(cfg);
	return 0;
}

/* ingest_main: the ingest thread: scan the spool whenever a message was
 * spooled (the listeners and the spool watch ring), and at least every
 * second; once messages were stored, ring for the delivery workers. */
static void *ingest_main(void *arg)
{
	struct runtime *rt = arg;
	struct cfg_gen *g = runtime_hold(rt);
	struct store *st = store_open(g->cfg->daemon.database);
	unsigned char key[TOKEN_KEY_LEN];
	int have_key = token_key_load(g->cfg->daemon.secret_file, key) == 0;
	unsigned long seen = 0;
	time_t next_expire = 0;
	int n;

	if (!have_key)
		log_error("ingest: no token key in %s: posts that need a confirmation are held for "
			  "the owners, and confirmations are ignored", g->cfg->daemon.secret_file);
	runtime_release(rt, g);
	if (st == NULL) {
		log_error("ingest: cannot open the store; stopping");
		runtime_stop(rt);
		kill(getpid(), SIGTERM);
		return NULL;
	}
	while (!runtime_stopping(rt)) {
		g = runtime_hold(rt);
		if ((n = ingest_scan(st, g->cfg, have_key ? key : NULL)) < 0)
			log_warn("ingest: cannot read the spool");
		else if (n > 0)
			runtime_ring(rt);	/* the workers: copies may be due */
		if (time(NULL) >= next_expire) {
			ingest_expire(st);
			next_expire = time(NULL) + EXPIRE_EVERY;
		}
		runtime_release(rt, g);
		runtime_wait_ring(rt, &seen, 1000);
	}
	store_close(st);
	return NULL;
}

/* pidfile_write: replace the pid file's content with our pid; 0 or -1. */
static int pidfile_write(int fd, const char *path)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) != (ssize_t)strlen(buf)) {
		log_error("%s: write: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* pidfile_claim: open and lock the pid file, write our pid; fd or -1. The
 * lock, not the file's existence, says a daemon runs: it dies with us. */
static int pidfile_claim(const char *path)
{
	int fd = lockfile_take(path, "another parleyd is running");

	if (fd >= 0 && pidfile_write(fd, path) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* signals: install handlers; TERM, INT and HUP stay blocked except while
 * main() waits in sigsuspend on the mask returned in OLD. */
static void signals(sigset_t *old)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* libetpan writes without MSG_NOSIGNAL */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, old);
}

int main(int argc, char **argv)
{
	const char *path = getenv("PARLEY_CONF");
	struct config *cfg;
	struct store *st;
	sigset_t waitmask;
	char abspath[PATH_MAX], pid_path[PATH_MAX];
	struct runtime rt;
	pthread_t ingest_thread;
	struct listener *lst = NULL;
	struct imap_poller *pollers;
	struct delivery_pool *delivery;
	struct spool_watch *watch;
	int ch, foreground = 0, pidfd, stuck;

	if (path == NULL || path[0] == '\0')
		path = PARLEY_SYSCONFDIR "/parley.conf";
	while ((ch = getopt(argc, argv, "c:fhV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("parleyd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Until we are a daemon, errors also go to the terminal that started us. */
	log_init("parleyd", foreground ? LOG_DEST_STDERR | LOG_DEST_TIMESTAMP
				       : LOG_DEST_STDERR | LOG_DEST_SYSLOG);
	if (realpath(path, abspath) != NULL)
		path = abspath;	/* daemon() moves to /: reloads need the full name */
	/* from here a SIGTERM waits, blocked, for the main loop: one that comes
	 * during the start-up is a clean stop, not a kill */
	signals(&waitmask);
	if ((cfg = load(path)) == NULL)
		return 1;
	if (privilege_check_files(cfg, path) < 0) {
		config_free(cfg);
		return 1;
	}
	snprintf(pid_path, sizeof(pid_path), "%s", cfg->daemon.pid_file);
	if ((pidfd = pidfile_claim(pid_path)) < 0) {
		config_free(cfg);
		return 1;
	}
	if (startup(cfg, &lst) < 0) {
		unlink(pid_path);
		config_free(cfg);
		return 1;
	}
	if (!foreground) {
		if (daemon(0, 0) < 0 || pidfile_write(pidfd, pid_path) < 0)
			log_fatal("cannot become a daemon: %s", strerror(errno));
		log_init("parleyd", LOG_DEST_SYSLOG);
	}
	/* Opened after the fork, as SQLite requires, and after the lock, so a
	 * second daemon never touches the database. Each thread opens its own
	 * connection; this one only migrates the schema. */
	if ((st = store_open(cfg->daemon.database)) == NULL) {
		listener_stop(lst);
		unlink(pid_path);
		config_free(cfg);
		return 1;
	}
	store_close(st);
	runtime_init(&rt, cfg);
	if (pthread_create(&ingest_thread, NULL, ingest_main, &rt) != 0 ||
	    listener_start(lst, &rt) < 0)
		log_fatal("cannot start the daemon's threads");
	watch = spool_watch_start(&rt, cfg->daemon.spool);	/* `parley inject` rings */
	pollers = imap_poller_start(&rt);	/* one thread per imap mailbox */
	delivery = delivery_start(&rt);		/* daemon.workers threads to the relay */
	log_info("started: %s, %zu lists, database %s", path, cfg->nlists, cfg->daemon.database);
	while (!got_term) {
		sigsuspend(&waitmask);
		if (got_hup) {
			struct cfg_gen *g = runtime_hold(&rt);
			struct config *fresh = reload(path, g->cfg);
			runtime_release(&rt, g);
			got_hup = 0;
			if (fresh != NULL)
				runtime_swap(&rt, fresh);
		}
		if (runtime_stopping(&rt))
			break;
	}
	log_info("stopping: finishing the transactions in progress");
	runtime_stop(&rt);
	imap_poller_stop(pollers);	/* bounded: a few seconds at most */
	stuck = listener_stop(lst) < 0;	/* bounded: limits.stop_grace, then cut */
	delivery_stop(delivery);	/* the copies in flight finish first */
	pthread_join(ingest_thread, NULL);
	spool_watch_stop(watch);
	log_info("stopped");
	if (!stuck)	/* else a session may still hold the configuration */
		runtime_destroy(&rt);
	unlink(pid_path);
	close(pidfd);
	return 0;
}
