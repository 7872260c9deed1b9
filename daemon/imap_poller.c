/*
 * imap_poller.c - one thread per configured mailbox takes its new messages
 * into the spool over IMAP (see imap_poller.h).
 *
 * It must never flag, delete or move a message before spool_commit() has
 * returned 0 for it, never hold the configuration across a wait, never log
 * a password (no libetpan logger is ever installed: loggers see LOGIN), and
 * never log in over TLS whose certificate failed verification.
 *
 * Position. The store keeps, per mailbox name, the UIDVALIDITY and the last
 * UID taken. Only UIDs above it are fetched ("UID SEARCH UID n:*" also
 * answers the highest message when n is past it: results are filtered).
 * When UIDVALIDITY changed, the UIDs mean nothing any more: a warning, then
 * one pass over the messages still waiting (not \Seen with after = seen,
 * not \Deleted otherwise), UID 0 upwards, and the new position is recorded
 * only once that pass is complete, so a pass cut short is redone and the
 * messages it took are deduplicated by ingest (same source). At each
 * connect, a catch-up applies the after-action to messages at or below the
 * last UID that still need it and whose source is already in the store:
 * those a crash or a refused command caught between the position and the
 * after-action.
 *
 * Too big. A message over daemon.limits.message_size is logged once, left
 * in the mailbox untouched (no flag: a human must deal with it) and passed
 * over: the position moves past it so that it blocks nothing. The catch-up
 * never touches it, because it never reaches the store.
 *
 * libetpan 1.9.4 quirks handled here: mailimap_connect returns 0, 1 or 2 on
 * success; CAPABILITY answered OK by a server that never listed any
 * dereferences NULL unless the session has a list (found by fuzz_imap); an
 * untagged response before "+ idling" makes mailimap_idle fail (reconnect;
 * after three failures in a row the mailbox is polled instead); data
 * already read into the stream's buffer does not wake poll(), so the
 * buffer is checked first; certificates are not verified by libetpan, so
 * the chain and host name are checked with tls_verify before LOGIN.
 *
 * Hostile servers. Every byte from the server goes through imap_guard
 * (layered under libetpan's parser, again after STARTTLS): EOF, literals
 * over message_size plus a margin and the PERMANENTFLAGS list libetpan
 * 1.9.4 crashes on become a failed read, so a session ends with a logged
 * reason and the usual backoff instead of a crash, a spin or a 4 GB
 * allocation. A literal refused as too large for UID FETCH BODY.PEEK[] is
 * that message passed over, as for RFC822.SIZE. A PREAUTH greeting when
 * tls = starttls ends the session before any command: STARTTLS is not
 * allowed once authenticated, and nothing goes in cleartext.
 */
#include "autoconf.h"

#include "imap_poller.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "address.h"
#include "imap_guard.h"
#include "log.h"
#include "mono.h"
#include "pool.h"
#include "tcp.h"
#include "secretfile.h"
#include "recipient.h"
#include "spool.h"
#include "store.h"
#include "store_inbound.h"
#include "tls_verify.h"
#include "xalloc.h"

#define IO_TIMEOUT	   60		/* seconds a read or write may stall */
#define CONNECT_TIMEOUT	   30		/* seconds for the TCP handshake */
#define IDLE_MAX	   (25 * 60)	/* RFC 2177: re-issue IDLE before 29 min */
#define NOOP_EVERY	   300		/* seconds between NOOPs while polling */
#define NET_BACKOFF_MIN	   1
#define NET_BACKOFF_MAX	   300
#define AUTH_BACKOFF_MIN   30
#define AUTH_BACKOFF_MAX   1800
#define BACKOFF_RESET	   60		/* a session this long resets the backoff */
#define FETCH_BATCH	   200		/* messages per unit of work */
#define CATCH_UP_MAX	   1000		/* after-actions retried per connect */
#define IDLE_FAILURES_MAX  3
#define WAIT_SLICE_MS	   500
#define STOP_GRACE_MS	   2000
#define PASSWORD_MAX	   1024
#define WHY_MAX		   512
#define HEADER_VALUE_MAX   1024
#define LITERAL_MARGIN	   (64 * 1024)	/* over message_size: FETCH framing */

/* How a unit of work or a session ended. */
enum outcome {
	OUT_OK,		/* go on */
	OUT_MORE,	/* a batch was full: go on without waiting */
	OUT_STOP,	/* the daemon stops */
	OUT_FAILED,	/* network, server or local failure: back off */
	OUT_AUTH,	/* login refused or no password: back off slowly */
	OUT_RECONNECT,	/* the settings changed: reconnect now */
	OUT_GONE	/* the mailbox is no longer configured */
};

/* A private copy of one mailbox's settings (struct cfg_imap), so that a
 * session needs no configuration held while it waits. */
struct worker {
	struct runtime *rt;
	char *name;		/* the mailbox's name: its identity across reloads */
	struct pool_slot slot;	/* its thread, and a dup() of the session's socket */
	int use_idle;		/* 0 once IDLE failed IDLE_FAILURES_MAX times in a row */
	int logged_in;		/* the last session got past LOGIN */
	int idle_failures;
};

struct imap_poller {
	struct worker *w;
	size_t n;
};

struct session {
	struct worker *w;
	struct cfg_imap m;	/* our own copy: a reload may free the config */
	mailimap *imap;
	int broken;		/* the connection is unusable: no LOGOUT */
	int positioned;		/* position() done for this session */
	int has_idle, has_uidplus, has_move;
	uint32_t uidvalidity;
	uint32_t last_uid;
	int resetting;		/* in the pass after a UIDVALIDITY change */
	uint32_t reset_from;	/* that pass's progress */
	uint32_t reset_top;	/* the highest UID when that pass began */
	size_t literal_max;	/* the largest literal the guard lets through */
	char why[WHY_MAX];	/* what went wrong, for the log line */
};

/* ---- small helpers ---- */

/* nap: sleep MS milliseconds; -1 at once if the daemon stops. */
static int nap(struct runtime *rt, long long ms)
{
	long long end = mono_ms() + ms, left;
	unsigned long seen = 0;

	while (!runtime_stopping(rt) && (left = end - mono_ms()) > 0)
		runtime_wait_ring(rt, &seen, (int)(left > 1000 ? 1000 : left));
	return runtime_stopping(rt) ? -1 : 0;
}

/* clean: copy server-supplied or configured text into OUT for a log line or
 * a header: control characters become '?', at most LEN - 1 bytes. */
static void clean(char *out, size_t len, const char *in)
{
	size_t i;

	for (i = 0; in != NULL && in[i] != '\0' && i + 1 < len; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ? '?' : in[i];
	out[i] = '\0';
}

/* server_text: the text of the server's last tagged response, cleaned. */
static const char *server_text(const struct session *s, char *buf, size_t len)
{
	const char *t = s->imap != NULL ? s->imap->imap_response : NULL;

	clean(buf, len, t != NULL && t[0] != '\0' ? t : "(no text)");
	return buf;
}

static enum outcome fail(struct session *s, enum outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* fail: record why the session ends, return O. */
static enum outcome fail(struct session *s, enum outcome o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	return o;
}

/* broken: R says the connection cannot be used any more (as opposed to a
 * command the server refused with NO). */
static int broken(int r)
{
	switch (r) {
	case MAILIMAP_ERROR_BAD_STATE:
	case MAILIMAP_ERROR_STREAM:
	case MAILIMAP_ERROR_PARSE:
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
	case MAILIMAP_ERROR_MEMORY:
	case MAILIMAP_ERROR_FATAL:
	case MAILIMAP_ERROR_PROTOCOL:
	case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
	case MAILIMAP_ERROR_SSL:
		return 1;
	default:
		return 0;
	}
}

/* chk: note a broken connection in S; returns R. */
static int chk(struct session *s, int r)
{
	if (r != MAILIMAP_NO_ERROR && broken(r))
		s->broken = 1;
	return r;
}

/* imap_fail: end the session after libetpan code R while doing WHAT. */
static enum outcome imap_fail(struct session *s, int r, const char *what)
{
	const char *guard = s->imap != NULL ? imap_guard_why(s->imap->imap_stream) : "";
	char text[200];

	if (guard[0] != '\0') {
		s->broken = 1;
		return fail(s, OUT_FAILED, "%s: %s:%d: %s", what, s->m.host, s->m.port, guard);
	}
	if (s->broken)
		return fail(s, OUT_FAILED, "%s: connection to %s:%d lost (libetpan error %d)", what,
			    s->m.host, s->m.port, r);
	return fail(s, OUT_FAILED, "%s: %s", what, server_text(s, text, sizeof(text)));
}

/* ---- settings ---- */

static int same_opt(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* mbox_same: 1 if C can be served by the connection made with M. */
static int mbox_same(const struct cfg_imap *m, const struct cfg_imap *c)
{
	return strcmp(m->host, c->host) == 0 && m->port == c->port && m->tls == c->tls &&
	       m->tls_verify == c->tls_verify && same_opt(m->ca_file, c->ca_file) &&
	       strcmp(m->user, c->user) == 0 && same_opt(m->password, c->password) &&
	       same_opt(m->password_file, c->password_file) && strcmp(m->folder, c->folder) == 0;
}

static const struct cfg_imap *mbox_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nimaps; i++)
		if (cfg->imaps[i].name != NULL && strcmp(cfg->imaps[i].name, name) == 0)
			return &cfg->imaps[i];
	return NULL;
}

/* password_get: the password into OUT (LEN bytes), read from password_file
 * at each connect, trailing CR/LF removed. 0, or -1 with S->why set. */
static int password_get(struct session *s, char *out, size_t len)
{
	const char *path = s->m.password_file;
	char why[128];

	if (s->m.password != NULL) {
		snprintf(out, len, "%s", s->m.password);
		return 0;
	}
	if (secretfile_read(path, out, len, why, sizeof(why)) < 0) {
		fail(s, OUT_AUTH, "password_file %s: %s", path, why);
		return -1;
	}
	return 0;
}

/* ---- connecting ---- */

/* keepalive: have the kernel probe an idle connection, so that a server
 * that vanished without a word ends an IDLE in minutes, not at IDLE_MAX. */
static void keepalive(int fd)
{
	int on = 1, idle = 120, intvl = 30, cnt = 4;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
#ifdef TCP_KEEPIDLE
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#else
	(void)idle, (void)intvl, (void)cnt;
#endif
}

static int hook_cancelled(void *arg)
{
	return runtime_stopping(((struct session *)arg)->w->rt);
}

static void hook_track(void *arg, int fd)
{
	struct session *s = arg;

	pool_track(&s->w->slot, fd);	/* imap_poller_stop may shut it down */
}

/* server_connect: a socket connected to the mailbox's server (tracked), or
 * -1 (why set). */
static int server_connect(struct session *s)
{
	struct tcp_hooks h = {hook_cancelled, hook_track, s};
	char why[WHY_MAX];
	int fd = tcp_connect(s->m.host, s->m.port, CONNECT_TIMEOUT, &h, why, sizeof(why));

	if (fd < 0) {
		fail(s, OUT_FAILED, "%s", why);
		return -1;
	}
	keepalive(fd);	/* best effort */
	return fd;
}

/* tls_check: verify the server's certificate chain and name (libetpan
 * does not); 0 or -1 (why set). */
static int tls_check(struct session *s)
{
	char why[WHY_MAX - 32];

	if (tls_verify_stream(s->imap->imap_stream, s->m.host, s->m.port, s->m.ca_file, why,
			      sizeof(why)) == 0)
		return 0;
	fail(s, OUT_FAILED, "%s; not logging in", why);
	return -1;
}

/* ---- the session ---- */

/* stream_open: the greeting on socket FD, over TLS with imaps; the IMAP
 * state (0, 1 pre-authenticated or 2) or -1 (why set; FD closed). */
static int stream_open(struct session *s, int fd)
{
	mailstream *stream;
	int r;

	if (s->m.tls == IMAP_TLS_IMAPS)
		stream = mailstream_ssl_open_with_callback_timeout(fd, IO_TIMEOUT, tls_verify_sni,
								   s->m.host);
	else
		stream = mailstream_socket_open_timeout(fd, IO_TIMEOUT);
	if (stream == NULL) {
		close(fd);
		fail(s, OUT_FAILED, "%s with %s:%d failed",
		     s->m.tls == IMAP_TLS_IMAPS ? "TLS handshake" : "stream setup", s->m.host,
		     s->m.port);
		return -1;
	}
	if (imap_guard_attach(stream, s->literal_max, IO_TIMEOUT) < 0) {
		mailstream_close(stream);
		fail(s, OUT_FAILED, "out of memory");
		return -1;
	}
	r = chk(s, mailimap_connect(s->imap, stream));	/* owns STREAM from here */
	if (r != MAILIMAP_NO_ERROR && r != MAILIMAP_NO_ERROR_AUTHENTICATED &&
	    r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		s->broken = 1;
		imap_fail(s, r, "greeting");
		return -1;
	}
	return r;
}

/* starttls: upgrade the connection; 0 or -1 (why set). Data the server sent
 * in plaintext after its OK would be an injection (CVE-2020-15953): Debian's
 * libetpan refuses it (MAILIMAP_ERROR_STARTTLS), and we check again. */
static int starttls(struct session *s)
{
	int r = chk(s, mailimap_socket_starttls_with_callback(s->imap, tls_verify_sni, s->m.host));

	if (s->imap->imap_stream->read_buffer_len > 0) {
		s->broken = 1;
		fail(s, OUT_FAILED, "%s:%d sent data before the TLS handshake; not logging in",
		     s->m.host, s->m.port);
		return -1;
	}
	if (r == MAILIMAP_ERROR_STREAM && imap_guard_why(s->imap->imap_stream)[0] == '\0') {
		s->broken = 1;	/* the server said OK: the handshake itself failed */
		fail(s, OUT_FAILED, "STARTTLS: the TLS handshake with %s:%d failed; not logging in",
		     s->m.host, s->m.port);
		return -1;
	}
	if (r != MAILIMAP_NO_ERROR) {
		imap_fail(s, r, "STARTTLS");
		s->broken = 1;	/* the state of the exchange is unknown: no LOGOUT */
		return -1;
	}
	if (imap_guard_attach(s->imap->imap_stream, s->literal_max, IO_TIMEOUT) < 0) {
		s->broken = 1;
		fail(s, OUT_FAILED, "out of memory");
		return -1;
	}
	return 0;
}

static enum outcome login(struct session *s)
{
	char pw[PASSWORD_MAX];
	int r;

	if (password_get(s, pw, sizeof(pw)) < 0)
		return OUT_AUTH;
	r = chk(s, mailimap_login(s->imap, s->m.user, pw));
	explicit_bzero(pw, sizeof(pw));
	if (r == MAILIMAP_ERROR_LOGIN) {
		char text[200];
		return fail(s, OUT_AUTH, "login failed for %s@%s: %s", s->m.user, s->m.host,
			    server_text(s, text, sizeof(text)));
	}
	return r == MAILIMAP_NO_ERROR ? OUT_OK : imap_fail(s, r, "LOGIN");
}

/* capabilities: ask again once logged in (they change after STARTTLS and
 * LOGIN) and note the extensions used. libetpan 1.9.4 copies the session's
 * capability list on OK without checking it: a server that never sent one
 * (no [CAPABILITY] in its greeting, no "* CAPABILITY" line) would make it
 * dereference NULL, so an empty list is put in place first. */
static enum outcome capabilities(struct session *s)
{
	struct mailimap_connection_info *ci = s->imap->imap_connection_info;
	struct mailimap_capability_data *cap = NULL;
	int r;

	if (ci != NULL && ci->imap_capability == NULL) {
		clist *none = clist_new();
		if (none == NULL || (ci->imap_capability = mailimap_capability_data_new(none)) == NULL) {
			if (none != NULL)
				clist_free(none);
			return fail(s, OUT_FAILED, "out of memory");
		}
	}
	r = chk(s, mailimap_capability(s->imap, &cap));

	if (r != MAILIMAP_NO_ERROR && s->broken)
		return imap_fail(s, r, "CAPABILITY");
	if (cap != NULL)
		mailimap_capability_data_free(cap);
	s->has_idle = mailimap_has_idle(s->imap);
	s->has_uidplus = mailimap_has_uidplus(s->imap);
	s->has_move = mailimap_has_extension(s->imap, "MOVE");
	return OUT_OK;
}

/* session_open: connect, TLS, verify, log in, select the folder. */
static enum outcome session_open(struct session *s)
{
	int fd, state;
	enum outcome o;

	if ((fd = server_connect(s)) < 0)
		return OUT_FAILED;
	if ((s->imap = mailimap_new(0, NULL)) == NULL) {
		close(fd);
		return fail(s, OUT_FAILED, "out of memory");
	}
	mailimap_set_timeout(s->imap, IO_TIMEOUT);
	if ((state = stream_open(s, fd)) < 0)
		return OUT_FAILED;
	if (state == MAILIMAP_NO_ERROR_AUTHENTICATED && s->m.tls == IMAP_TLS_STARTTLS) {
		s->broken = 1;	/* no LOGOUT either: not a word in cleartext */
		return fail(s, OUT_FAILED, "%s:%d greeted PREAUTH in cleartext, but tls = starttls "
			    "(STARTTLS is not allowed once authenticated): not going on without TLS",
			    s->m.host, s->m.port);
	}
	if (s->m.tls == IMAP_TLS_STARTTLS && starttls(s) < 0)
		return OUT_FAILED;
	if (s->m.tls != IMAP_TLS_NONE && s->m.tls_verify && tls_check(s) < 0)
		return OUT_FAILED;
	if (state != MAILIMAP_NO_ERROR_AUTHENTICATED && (o = login(s)) != OUT_OK)
		return o;
	s->w->logged_in = 1;
	if ((o = capabilities(s)) != OUT_OK)
		return o;
	if (chk(s, mailimap_select(s->imap, s->m.folder)) != MAILIMAP_NO_ERROR) {
		char what[300];
		snprintf(what, sizeof(what), "cannot select folder %s", s->m.folder);
		return imap_fail(s, MAILIMAP_ERROR_SELECT, what);
	}
	return OUT_OK;
}

/* session_close: LOGOUT if the connection still works, then free it all. */
static void session_close(struct session *s)
{
	if (s->imap != NULL) {
		if (!s->broken && s->imap->imap_stream != NULL)
			mailimap_logout(s->imap);
		if (s->imap->imap_stream != NULL) {
			mailstream_close(s->imap->imap_stream);	/* no LOGOUT on a dead line */
			s->imap->imap_stream = NULL;
		}
		mailimap_free(s->imap);
		s->imap = NULL;
	}
	pool_track(&s->w->slot, -1);
}

/* ---- IMAP commands on UIDs ---- */

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static struct mailimap_search_key *flag_key(int type)
{
	return mailimap_search_key_new(type, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
				       NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL,
				       NULL, 0, NULL, NULL, NULL);
}

/* search_key: "UID FIRST:LAST" (LAST 0: "*"), and the flag criterion CRIT
 * (a MAILIMAP_SEARCH_KEY_ type, or -1 for none). NULL if out of memory. */
static struct mailimap_search_key *search_key(uint32_t first, uint32_t last, int crit)
{
	struct mailimap_search_key *all = mailimap_search_key_new_multiple_empty(), *k;
	struct mailimap_set *set = mailimap_set_new_interval(first, last);

	if (all == NULL || set == NULL || (k = mailimap_search_key_new_uid(set)) == NULL) {
		if (set != NULL)
			mailimap_set_free(set);
		if (all != NULL)
			mailimap_search_key_free(all);
		return NULL;
	}
	if (mailimap_search_key_multiple_add(all, k) != MAILIMAP_NO_ERROR) {
		mailimap_search_key_free(k);
		mailimap_search_key_free(all);
		return NULL;
	}
	if (crit >= 0 && ((k = flag_key(crit)) == NULL ||
			  mailimap_search_key_multiple_add(all, k) != MAILIMAP_NO_ERROR)) {
		if (k != NULL)
			mailimap_search_key_free(k);
		mailimap_search_key_free(all);
		return NULL;
	}
	return all;
}

/* search_uids: the UIDs from FIRST to LAST (0: no end) matching CRIT,
 * ascending, in *OUT (malloc'd, *N of them). A libetpan code. */
static int search_uids(struct session *s, uint32_t first, uint32_t last, int crit, uint32_t **out,
		       size_t *n)
{
	struct mailimap_search_key *key = search_key(first, last, crit);
	clist *res = NULL;
	clistiter *it;
	int r;

	*out = NULL;
	*n = 0;
	if (key == NULL)
		return MAILIMAP_ERROR_MEMORY;
	r = chk(s, mailimap_uid_search(s->imap, NULL, key, &res));
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return r;
	*out = xcalloc((size_t)clist_count(res) + 1, sizeof(**out));
	for (it = clist_begin(res); it != NULL; it = clist_next(it)) {
		uint32_t uid = *(uint32_t *)clist_content(it);
		if (uid >= first && (last == 0 || uid <= last))	/* "n:*" answers * < n too */
			(*out)[(*n)++] = uid;
	}
	mailimap_search_result_free(res);
	qsort(*out, *n, sizeof(**out), uid_cmp);
	return MAILIMAP_NO_ERROR;
}

/* att_static: the static attribute of TYPE in MSG, or NULL. */
static struct mailimap_msg_att_static *att_static(struct mailimap_msg_att *msg, int type)
{
	clistiter *it;

	for (it = clist_begin(msg->att_list); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
		    item->att_data.att_static != NULL &&
		    item->att_data.att_static->att_type == type)
			return item->att_data.att_static;
	}
	return NULL;
}

/* uid_fetch: "UID FETCH UID (UID ATT)"; the message's attributes in *OUT
 * (free with mailimap_fetch_list_free), NULL if the UID is gone. */
static int uid_fetch(struct session *s, uint32_t uid, struct mailimap_fetch_att *att,
		     clist **list, struct mailimap_msg_att **out)
{
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	struct mailimap_set *set = mailimap_set_new_single(uid);
	struct mailimap_fetch_att *ua = mailimap_fetch_att_new_uid();
	clistiter *it;
	int r = MAILIMAP_ERROR_MEMORY;

	*list = NULL;
	*out = NULL;
	if (ft != NULL && att != NULL && mailimap_fetch_type_new_fetch_att_list_add(ft, att) == 0) {
		att = NULL;
		if (ua != NULL && mailimap_fetch_type_new_fetch_att_list_add(ft, ua) == 0)
			ua = NULL;
		if (ua == NULL && set != NULL)
			r = chk(s, mailimap_uid_fetch(s->imap, set, ft, list));
	}
	if (att != NULL)
		mailimap_fetch_att_free(att);
	if (ua != NULL)
		mailimap_fetch_att_free(ua);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
	for (it = r == 0 ? clist_begin(*list) : NULL; it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_static *u = att_static(clist_content(it), MAILIMAP_MSG_ATT_UID);
		if (u != NULL && u->att_data.att_uid == uid)
			*out = clist_content(it);
	}
	return r;
}

/* fetch_size: RFC822.SIZE of UID into *SIZE; -1 there if the UID is gone. */
static int fetch_size(struct session *s, uint32_t uid, long long *size)
{
	struct mailimap_msg_att *msg;
	struct mailimap_msg_att_static *a;
	clist *list;
	int r = uid_fetch(s, uid, mailimap_fetch_att_new_rfc822_size(), &list, &msg);

	*size = -1;
	if (msg != NULL && (a = att_static(msg, MAILIMAP_MSG_ATT_RFC822_SIZE)) != NULL)
		*size = a->att_data.att_rfc822_size;
	if (list != NULL)
		mailimap_fetch_list_free(list);
	return r;
}

/* fetch_body: BODY.PEEK[] of UID (no flag set) in *BODY, *LEN bytes, inside
 * *LIST (free with mailimap_fetch_list_free); *BODY NULL if gone. */
static int fetch_body(struct session *s, uint32_t uid, clist **list, const char **body,
		      size_t *len)
{
	struct mailimap_section *sec = mailimap_section_new(NULL);
	struct mailimap_fetch_att *att = sec ? mailimap_fetch_att_new_body_peek_section(sec) : NULL;
	struct mailimap_msg_att_static *a;
	struct mailimap_msg_att *msg;
	int r;

	if (sec != NULL && att == NULL)
		mailimap_section_free(sec);
	r = uid_fetch(s, uid, att, list, &msg);
	*body = NULL;
	*len = 0;
	if (msg != NULL && (a = att_static(msg, MAILIMAP_MSG_ATT_BODY_SECTION)) != NULL &&
	    a->att_data.att_body_section != NULL &&
	    a->att_data.att_body_section->sec_body_part != NULL) {
		*body = a->att_data.att_body_section->sec_body_part;
		*len = a->att_data.att_body_section->sec_length;
	}
	return r;
}

/* add_flag: UID STORE UID +FLAGS.SILENT (FLAG). */
static int add_flag(struct session *s, uint32_t uid, struct mailimap_flag *flag)
{
	struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
	struct mailimap_set *set = mailimap_set_new_single(uid);
	struct mailimap_store_att_flags *sa = NULL;
	int r = MAILIMAP_ERROR_MEMORY;

	if (fl != NULL && flag != NULL && mailimap_flag_list_add(fl, flag) == 0) {
		flag = NULL;
		if ((sa = mailimap_store_att_flags_new_add_flags_silent(fl)) != NULL)
			fl = NULL;
	}
	if (sa != NULL && set != NULL)
		r = chk(s, mailimap_uid_store(s->imap, set, sa));
	if (flag != NULL)
		mailimap_flag_free(flag);
	if (fl != NULL)
		mailimap_flag_list_free(fl);
	if (sa != NULL)
		mailimap_store_att_flags_free(sa);
	if (set != NULL)
		mailimap_set_free(set);
	return r;
}

/* expunge: remove UID (flagged \Deleted): UID EXPUNGE with UIDPLUS, else
 * EXPUNGE (which also removes what others flagged \Deleted). */
static int expunge(struct session *s, uint32_t uid)
{
	struct mailimap_set *set;
	int r;

	if (!s->has_uidplus)
		return chk(s, mailimap_expunge(s->imap));
	if ((set = mailimap_set_new_single(uid)) == NULL)
		return MAILIMAP_ERROR_MEMORY;
	r = chk(s, mailimap_uid_expunge(s->imap, set));
	mailimap_set_free(set);
	return r;
}

static int delete_uid(struct session *s, uint32_t uid)
{
	int r = add_flag(s, uid, mailimap_flag_new_deleted());

	return r != MAILIMAP_NO_ERROR ? r : expunge(s, uid);
}

/* move_once: UID MOVE where offered, else UID COPY, \Deleted, expunge. */
static int move_once(struct session *s, uint32_t uid, const char *to)
{
	struct mailimap_set *set = mailimap_set_new_single(uid);
	int r;

	if (set == NULL)
		return MAILIMAP_ERROR_MEMORY;
	if (s->has_move)
		r = chk(s, mailimap_uid_move(s->imap, set, to));
	else if ((r = chk(s, mailimap_uid_copy(s->imap, set, to))) == MAILIMAP_NO_ERROR)
		r = delete_uid(s, uid);
	mailimap_set_free(set);
	return r;
}

/* move_uid: move UID to TO, creating TO once if the server refused. */
static int move_uid(struct session *s, uint32_t uid, const char *to)
{
	int r = move_once(s, uid, to);

	if (r == MAILIMAP_ERROR_UID_MOVE || r == MAILIMAP_ERROR_UID_COPY) {
		if (chk(s, mailimap_create(s->imap, to)) == MAILIMAP_NO_ERROR) {
			log_info("imap %s: created folder %s", s->m.name, to);
			r = move_once(s, uid, to);
		} else if (s->broken) {
			r = MAILIMAP_ERROR_STREAM;
		}
	}
	return r;
}

/* after_action: what the configuration says to do with a message taken.
 * OUT_OK, also when the server refused (logged: the catch-up of the next
 * connection tries again), or OUT_FAILED if the connection broke. */
static enum outcome after_action(struct session *s, uint32_t uid)
{
	static const char *const what[] = {"flag \\Seen", "delete", "move"};
	char text[200];
	int r;

	switch (s->m.after) {
	case IMAP_AFTER_SEEN:
		r = add_flag(s, uid, mailimap_flag_new_seen());
		break;
	case IMAP_AFTER_DELETE:
		r = delete_uid(s, uid);
		break;
	case IMAP_AFTER_MOVE:
	default:
		r = move_uid(s, uid, s->m.move_to);
		break;
	}
	if (r == MAILIMAP_NO_ERROR)
		return OUT_OK;
	if (s->broken || broken(r))
		return imap_fail(s, r, "after-action");
	log_warn("imap %s: UID %u: cannot %s%s%s: %s", s->m.name, uid, what[s->m.after],
		 s->m.after == IMAP_AFTER_MOVE ? " to " : "",
		 s->m.after == IMAP_AFTER_MOVE ? s->m.move_to : "", server_text(s, text, sizeof(text)));
	return OUT_OK;
}

/* ---- the envelope from the message's own header ---- */

/* header_value: the INDEX-th field NAME in the header section of RAW,
 * unfolded and trimmed, in OUT; 1 if found, else 0. */
static int header_value(const char *raw, size_t len, const char *name, int index, char *out,
			size_t outlen)
{
	size_t i = 0, n = strlen(name), o = 0;
	int seen = 0, copying = 0;

	while (i < len && raw[i] != '\r' && raw[i] != '\n') {
		const char *p = memchr(raw + i, '\n', len - i);
		size_t eol = p != NULL ? (size_t)(p - raw) : len;
		if (raw[i] != ' ' && raw[i] != '\t') {
			if (copying)
				break;
			if (eol - i > n && strncasecmp(raw + i, name, n) == 0 && raw[i + n] == ':' &&
			    seen++ == index) {
				copying = 1;
				i += n + 1;
			}
		}
		for (; copying && i < eol; i++)
			if (raw[i] != '\r' && o + 1 < outlen)
				out[o++] = raw[i] == '\t' ? ' ' : raw[i];
		i = eol + 1;
	}
	if (!copying)
		return 0;
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	for (i = 0; out[i] == ' '; i++)
		;
	memmove(out, out + i, o - i + 1);
	return 1;
}

/* sender_of: the Return-Path address of RAW ("" for <>). A message put in
 * the mailbox by a client rather than an MTA has no Return-Path: its From
 * address stands in, so it is not taken for a bounce. "" if neither parses. */
static char *sender_of(const char *raw, size_t len)
{
	char v[HEADER_VALUE_MAX], err[ADDRESS_ERR_MAX];
	struct address a;
	char *s;

	if (!header_value(raw, len, "Return-Path", 0, v, sizeof(v)) &&
	    !header_value(raw, len, "From", 0, v, sizeof(v)))
		return xstrdup("");
	if (address_parse(v, &a, err, sizeof(err)) < 0)
		return xstrdup("");
	s = xstrdup(a.addr);
	address_free(&a);
	return s;
}

/* rcpt_of: the first Delivered-To or X-Original-To address of RAW that is
 * one of ours, else the mailbox's configured recipient, into ENV. */
static void rcpt_of(const struct config *cfg, const struct cfg_imap *m, const char *raw,
		    size_t len, struct envelope *env)
{
	static const char *const fields[] = {"Delivered-To", "X-Original-To"};
	char v[HEADER_VALUE_MAX], err[ADDRESS_ERR_MAX];
	struct rcpt_target t;
	struct address a;
	size_t f;
	int i;

	for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (i = 0; i < 20 && header_value(raw, len, fields[f], i, v, sizeof(v)); i++) {
			if (address_parse(v, &a, err, sizeof(err)) < 0)
				continue;
			if (recipient_resolve(cfg, a.addr, &t) == 0) {
				strv_push(&env->rcpts, a.addr);
				address_free(&a);
				return;
			}
			address_free(&a);
		}
	}
	strv_push(&env->rcpts, m->recipient);
}

/* trace_header: our Received: field for a message fetched from M. */
static void trace_header(const struct config *cfg, const struct cfg_imap *m, uint32_t uid,
			 const char *qid, char *buf, size_t len)
{
	char host[256] = "localhost", from[256], name[160], date[64];
	time_t now = time(NULL);
	struct tm tm;

	config_hostname(cfg, host, sizeof(host));
	clean(from, sizeof(from), m->host);
	clean(name, sizeof(name), m->name);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
	snprintf(buf, len,
		 "Received: from %s\r\n\tby %s (parley) with %s\r\n\tid %s (mailbox %s, uid %u);\r\n"
		 "\t%s\r\n",
		 from, host, m->tls == IMAP_TLS_NONE ? "IMAP" : "IMAPS", qid, name, uid, date);
}

/* spool_message: spool RAW taken from UID of M; 0 once durable, or -1. */
static int spool_message(const struct session *s, const struct config *cfg,
			 const struct cfg_imap *m, uint32_t uid, const char *raw, size_t len)
{
	struct spool_writer *w;
	struct envelope env;
	char trace[1024];
	int rc = -1;

	envelope_init(&env);
	spool_new_id(env.queue_id);
	env.proto = xstrdup("IMAP");
	env.client = xasprintf("imap:%s", m->host);
	env.source = xasprintf("imap:%s;%u;%u", m->name, s->uidvalidity, uid);
	env.sender = sender_of(raw, len);
	rcpt_of(cfg, m, raw, len, &env);
	trace_header(cfg, m, uid, env.queue_id, trace, sizeof(trace));
	w = spool_begin(cfg->daemon.spool, &env, trace, cfg->daemon.limits.message_size);
	if (w != NULL && spool_write(w, raw, len) != 0)
		spool_abort(w);
	else if (w != NULL && (rc = spool_commit(w)) == 0) {
		char to[ADDRESS_MAX + 1];	/* an author's secret address is not logged */
		log_info("%s: imap %s UID %u from=<%s> to=<%s> size=%zu accepted", env.queue_id,
			 m->name, uid, env.sender,
			 recipient_log_form(cfg, env.rcpts.v[0], to, sizeof(to)), len);
	}
	envelope_free(&env);
	return rc;
}

/* ---- position in the store ---- */

static int position_save(struct session *s, struct store *st, uint32_t uid)
{
	if (store_begin(st) < 0)
		return -1;
	if (store_imap_set(st, s->m.name, s->uidvalidity, uid, store_now()) < 0 ||
	    store_commit(st) < 0) {
		store_rollback(st);
		return -1;
	}
	s->last_uid = uid;
	return 0;
}

/* advance: UID was taken or passed over. */
static enum outcome advance(struct session *s, struct store *st, uint32_t uid)
{
	if (s->resetting) {
		s->reset_from = uid;
		return OUT_OK;
	}
	if (position_save(s, st, uid) < 0)
		return fail(s, OUT_FAILED, "cannot record UID %u in the store", uid);
	return OUT_OK;
}

/* ---- taking messages ---- */

static enum outcome too_big(struct session *s, struct store *st, uint32_t uid, long long size,
			    long long max)
{
	log_warn("imap %s: UID %u is %lld bytes, over daemon.limits.message_size (%lld): "
		 "left in the mailbox unflagged, passed over",
		 s->m.name, uid, size, max);
	return advance(s, st, uid);
}

/* take_one: fetch UID, spool it, ring ingest, record it, after-action. */
static enum outcome take_one(struct session *s, struct store *st, const struct config *cfg,
			     const struct cfg_imap *m, uint32_t uid)
{
	long long max = cfg->daemon.limits.message_size, size;
	const char *body;
	enum outcome o;
	clist *list;
	size_t len;
	int r, rc;

	if ((r = fetch_size(s, uid, &size)) != MAILIMAP_NO_ERROR)
		return imap_fail(s, r, "UID FETCH RFC822.SIZE");
	if (size < 0)
		return OUT_OK;	/* expunged meanwhile */
	if (size > max)
		return too_big(s, st, uid, size, max);
	if ((r = fetch_body(s, uid, &list, &body, &len)) != MAILIMAP_NO_ERROR) {
		if (list != NULL)
			mailimap_fetch_list_free(list);
		o = imap_fail(s, r, "UID FETCH BODY.PEEK[]");
		if (imap_guard_literal(s->imap->imap_stream) > 0 &&
		    too_big(s, st, uid, (long long)imap_guard_literal(s->imap->imap_stream), max) != OUT_OK)
			return OUT_FAILED;
		return o;
	}
	rc = body == NULL ? 1 : (long long)len > max ? 2 : spool_message(s, cfg, m, uid, body, len);
	if (list != NULL)
		mailimap_fetch_list_free(list);
	if (rc == 1)
		return OUT_OK;
	if (rc == 2)
		return too_big(s, st, uid, (long long)len, max);
	if (rc < 0)
		return fail(s, OUT_FAILED, "cannot spool UID %u", uid);
	runtime_ring(s->w->rt);
	if (advance(s, st, uid) != OUT_OK)
		return OUT_FAILED;
	return after_action(s, uid);
}

/* waiting_crit: after a UIDVALIDITY change, which messages still wait. */
static int waiting_crit(enum imap_after after)
{
	return after == IMAP_AFTER_SEEN ? MAILIMAP_SEARCH_KEY_UNSEEN : MAILIMAP_SEARCH_KEY_UNDELETED;
}

/* reset_done: the pass after a UIDVALIDITY change is complete: record the
 * new position past every message that was there when it began. */
static enum outcome reset_done(struct session *s, struct store *st)
{
	uint32_t top = s->reset_top > s->reset_from ? s->reset_top : s->reset_from;

	s->resetting = 0;
	if (position_save(s, st, top) < 0)
		return fail(s, OUT_FAILED, "cannot record UIDVALIDITY %u in the store", s->uidvalidity);
	log_info("imap %s: now at UIDVALIDITY %u, UID %u", s->m.name, s->uidvalidity, top);
	return OUT_OK;
}

/* scan: take up to FETCH_BATCH new messages. OUT_MORE if more may wait. */
static enum outcome scan(struct session *s, struct store *st, const struct config *cfg,
			 const struct cfg_imap *m)
{
	uint32_t from = s->resetting ? s->reset_from : s->last_uid, *uids;
	enum outcome o = OUT_OK;
	size_t n, i;
	int r;

	if (from == UINT32_MAX)
		return OUT_OK;
	r = search_uids(s, from + 1, 0, s->resetting ? waiting_crit(s->m.after) : -1, &uids, &n);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(s, r, "UID SEARCH");
	if (n == 0 && s->resetting)
		o = reset_done(s, st);
	for (i = 0; i < n && i < FETCH_BATCH && o == OUT_OK; i++) {
		if (runtime_stopping(s->w->rt))
			o = OUT_STOP;
		else
			o = take_one(s, st, cfg, m, uids[i]);
	}
	free(uids);
	/* Search again at once while it moves on: mail that came meanwhile was
	 * announced to commands, not to the IDLE that follows. */
	if (o == OUT_OK && n > 0 && (s->resetting ? s->reset_from : s->last_uid) != from)
		return OUT_MORE;
	return o;
}

/* catch_up: the after-action for messages at or below the last UID that
 * still need it and are already in the store (see the head comment). */
static enum outcome catch_up(struct session *s, struct store *st)
{
	static const int crit[] = {MAILIMAP_SEARCH_KEY_UNSEEN, -1, MAILIMAP_SEARCH_KEY_UNDELETED};
	char source[600];
	enum outcome o = OUT_OK;
	uint32_t *uids;
	size_t n, i;
	int r;

	if (s->last_uid == 0)
		return OUT_OK;
	r = search_uids(s, 1, s->last_uid, crit[s->m.after], &uids, &n);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(s, r, "UID SEARCH");
	for (i = 0; i < n && i < CATCH_UP_MAX && o == OUT_OK; i++) {
		snprintf(source, sizeof(source), "imap:%s;%u;%u", s->m.name, s->uidvalidity, uids[i]);
		if (store_inbound_source_exists(st, source) == 1) {
			log_info("imap %s: UID %u is in the store: completing its after-action",
				 s->m.name, uids[i]);
			o = after_action(s, uids[i]);
		}
	}
	free(uids);
	return o;
}

/* reset_begin: UIDVALIDITY changed from OLD: start the pass that takes the
 * messages still waiting, from UID 0. */
static enum outcome reset_begin(struct session *s, long long old)
{
	uint32_t *uids;
	size_t n;
	int r;

	log_warn("imap %s: UIDVALIDITY changed from %lld to %u: its UIDs start anew; taking the "
		 "messages not yet %s from UID 0",
		 s->m.name, old, s->uidvalidity, s->m.after == IMAP_AFTER_SEEN ? "\\Seen" : "removed");
	r = search_uids(s, 1, 0, -1, &uids, &n);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(s, r, "UID SEARCH");
	s->resetting = 1;
	s->reset_from = 0;
	s->reset_top = n > 0 ? uids[n - 1] : 0;
	free(uids);
	return OUT_OK;
}

/* position: where to start in the selected folder, from the store. */
static enum outcome position(struct session *s, struct store *st)
{
	long long validity, last;
	int rc = store_imap_get(st, s->m.name, &validity, &last);

	s->uidvalidity = s->imap->imap_selection_info->sel_uidvalidity;
	s->positioned = 1;
	if (rc < 0)
		return fail(s, OUT_FAILED, "cannot read the position from the store");
	if (s->uidvalidity == 0)
		return fail(s, OUT_FAILED, "folder %s: the server sent no UIDVALIDITY", s->m.folder);
	log_info("imap %s: logged in to %s:%d as %s (%s), folder %s, UIDVALIDITY %u, last UID %lld%s",
		 s->m.name, s->m.host, s->m.port, s->m.user, config_imap_tls_name(s->m.tls),
		 s->m.folder, s->uidvalidity, rc == 1 ? last : 0LL,
		 s->has_idle && s->w->use_idle ? ", IDLE" : "");
	if (rc == 0)
		return position_save(s, st, 0) == 0 ? OUT_OK
						    : fail(s, OUT_FAILED, "cannot record the position");
	if (validity != (long long)s->uidvalidity)
		return reset_begin(s, validity);
	s->last_uid = last > 0 && last <= UINT32_MAX ? (uint32_t)last : 0;
	return catch_up(s, st);
}

/* unit: one unit of work with the configuration held: check the mailbox's
 * settings, position on the first call, take a batch of new messages. */
static enum outcome unit(struct session *s, struct store *st)
{
	struct cfg_gen *g = runtime_hold(s->w->rt);
	const struct cfg_imap *m = mbox_find(g->cfg, s->w->name);
	enum outcome o = OUT_OK;

	if (m == NULL) {
		o = OUT_GONE;
	} else if (!mbox_same(&s->m, m)) {
		o = OUT_RECONNECT;
	} else {
		config_imap_clear(&s->m);
		config_imap_copy(&s->m, m);	/* after, move_to, poll_interval may change */
		if (!s->positioned)
			o = position(s, st);
		if (o == OUT_OK)
			o = scan(s, st, g->cfg, m);
	}
	runtime_release(s->w->rt, g);
	return o;
}

/* ---- waiting for new mail ---- */

/* idle_failed: count it; after IDLE_FAILURES_MAX in a row, poll instead. */
static enum outcome idle_failed(struct session *s, int r)
{
	if (++s->w->idle_failures >= IDLE_FAILURES_MAX && s->w->use_idle) {
		s->w->use_idle = 0;
		log_warn("imap %s: IDLE failed %d times in a row: polling every %d s instead",
			 s->m.name, s->w->idle_failures, s->m.poll_interval);
	}
	s->broken = 1;	/* the state of the exchange is unknown */
	return fail(s, OUT_FAILED, "IDLE failed (libetpan error %d; new mail announced before "
		    "\"+ idling\" does that): reconnecting", r);
}

/* idle_wait: IDLE until the server says something, IDLE_MAX passes or the
 * daemon stops. Data libetpan already buffered wakes us at once. */
static enum outcome idle_wait(struct session *s)
{
	long long end = mono_ms() + IDLE_MAX * 1000LL;
	struct pollfd pfd;
	int r = chk(s, mailimap_idle(s->imap)), stop = 0;

	if (r != MAILIMAP_NO_ERROR)
		return idle_failed(s, r);
	pfd.fd = mailimap_idle_get_fd(s->imap);
	pfd.events = POLLIN;
	for (;;) {
		if (s->imap->imap_stream->read_buffer_len > 0 || mono_ms() >= end)
			break;
		if ((stop = runtime_stopping(s->w->rt)))
			break;
		pfd.revents = 0;
		if ((r = poll(&pfd, 1, WAIT_SLICE_MS)) > 0)
			break;
		if (r < 0 && errno != EINTR) {
			s->broken = 1;
			return fail(s, OUT_FAILED, "poll: %s", strerror(errno));
		}
	}
	if ((r = chk(s, mailimap_idle_done(s->imap))) != MAILIMAP_NO_ERROR)
		return imap_fail(s, r, "IDLE DONE");
	s->w->idle_failures = 0;
	return stop ? OUT_STOP : OUT_OK;
}

/* poll_wait: sleep poll_interval seconds, with a NOOP now and then to keep
 * the connection. */
static enum outcome poll_wait(struct session *s)
{
	long long end = mono_ms() + s->m.poll_interval * 1000LL, left;

	while ((left = end - mono_ms()) > 0) {
		int r;
		if (nap(s->w->rt, left > NOOP_EVERY * 1000LL ? NOOP_EVERY * 1000LL : left) < 0)
			return OUT_STOP;
		if (end - mono_ms() > 0 &&
		    (r = chk(s, mailimap_noop(s->imap))) != MAILIMAP_NO_ERROR)
			return imap_fail(s, r, "NOOP");
	}
	return OUT_OK;
}

/* session_run: one connection, from connect to its end; with ONCE, it ends
 * after the first unit of work that leaves nothing to take at once. */
static enum outcome session_run(struct worker *w, struct store *st, int once, char *why,
				size_t len)
{
	struct cfg_gen *g = runtime_hold(w->rt);
	const struct cfg_imap *m = mbox_find(g->cfg, w->name);
	struct session s;
	enum outcome o;

	memset(&s, 0, sizeof(s));
	s.w = w;
	if (m != NULL)
		config_imap_copy(&s.m, m);
	s.literal_max = (size_t)g->cfg->daemon.limits.message_size + LITERAL_MARGIN;
	runtime_release(w->rt, g);
	if (m == NULL)
		return OUT_GONE;
	o = session_open(&s);
	while (o == OUT_OK || o == OUT_MORE) {
		if (runtime_stopping(w->rt))
			o = OUT_STOP;
		else if ((o = unit(&s, st)) == OUT_OK && once)
			break;
		else if (o == OUT_OK)
			o = s.has_idle && w->use_idle ? idle_wait(&s) : poll_wait(&s);
	}
	session_close(&s);
	snprintf(why, len, "%s", s.why);
	config_imap_clear(&s.m);
	return o;
}

/* ---- the thread ---- */

struct backoff {
	int net, auth;	/* the next delays, seconds */
};

/* next_delay: how long to wait after a session that ended with O and
 * lasted SECONDS; logs why. */
static int next_delay(struct worker *w, struct backoff *b, enum outcome o, long long seconds,
		      const char *why)
{
	int d;

	switch (o) {
	case OUT_AUTH:
		d = b->auth;
		b->auth = b->auth * 2 > AUTH_BACKOFF_MAX ? AUTH_BACKOFF_MAX : b->auth * 2;
		log_error("imap %s: %s; next attempt in %d s", w->name, why, d);
		return d;
	case OUT_RECONNECT:
		log_info("imap %s: settings changed: reconnecting", w->name);
		b->net = NET_BACKOFF_MIN;
		return 0;
	default:
		if (seconds >= BACKOFF_RESET)
			b->net = NET_BACKOFF_MIN;
		d = b->net;
		b->net = b->net * 2 > NET_BACKOFF_MAX ? NET_BACKOFF_MAX : b->net * 2;
		log_warn("imap %s: %s; next attempt in %d s", w->name, why[0] ? why : "session ended",
			 d);
		return d;
	}
}

/* worker_store: this thread's own store connection, or NULL (logged). */
static struct store *worker_store(struct worker *w)
{
	struct cfg_gen *g = runtime_hold(w->rt);
	struct store *st = store_open(g->cfg->daemon.database);

	runtime_release(w->rt, g);
	if (st == NULL)
		log_error("imap %s: cannot open the store", w->name);
	return st;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct backoff b = {NET_BACKOFF_MIN, AUTH_BACKOFF_MIN};
	struct store *st = NULL;
	char why[WHY_MAX];
	long long started;
	enum outcome o;
	int delay = 0;

	while (nap(w->rt, delay * 1000LL) == 0) {
		if (st == NULL && (st = worker_store(w)) == NULL) {
			delay = next_delay(w, &b, OUT_FAILED, 0, "no store");
			continue;
		}
		started = mono_ms();
		w->logged_in = 0;
		o = session_run(w, st, 0, why, sizeof(why));
		if (o == OUT_STOP || runtime_stopping(w->rt))
			break;
		if (o == OUT_GONE) {
			log_info("imap %s: no longer configured: stopped polling it", w->name);
			break;
		}
		if (w->logged_in)
			b.auth = AUTH_BACKOFF_MIN;
		delay = next_delay(w, &b, o, (mono_ms() - started) / 1000, why);
	}
	if (st != NULL)
		store_close(st);
	pool_slot_done(&w->slot);
	return NULL;
}

struct imap_poller *imap_poller_start(struct runtime *rt)
{
	struct imap_poller *p = xcalloc(1, sizeof(*p));
	struct cfg_gen *g = runtime_hold(rt);
	size_t i;

	p->n = g->cfg->nimaps;
	p->w = xcalloc(p->n + 1, sizeof(*p->w));
	for (i = 0; i < p->n; i++) {
		struct worker *w = &p->w[i];
		char label[sizeof(w->slot.name)];
		w->rt = rt;
		w->name = xstrdup(g->cfg->imaps[i].name);
		w->use_idle = 1;
		/* clean() terminates what follows. NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
		memcpy(label, "imap ", 5);
		clean(label + 5, sizeof(label) - 5, w->name);
		pool_slot_init(&w->slot, label);
	}
	runtime_release(rt, g);
	for (i = 0; i < p->n; i++)
		(void)pool_slot_start(&p->w[i].slot, worker_main, &p->w[i]);
	return p;
}

int imap_poller_run_once(struct runtime *rt, const char *name, char *why, size_t len)
{
	struct worker w;
	struct store *st;
	enum outcome o;

	memset(&w, 0, sizeof(w));
	w.rt = rt;
	w.name = xstrdup(name);
	pool_slot_init(&w.slot, "imap once");
	why[0] = '\0';
	if ((st = worker_store(&w)) == NULL) {
		snprintf(why, len, "cannot open the store");
		o = OUT_FAILED;
	} else {
		o = session_run(&w, st, 1, why, len);
		store_close(st);
	}
	pool_track(&w.slot, -1);
	pthread_mutex_destroy(&w.slot.mu);
	free(w.name);
	return o == OUT_OK ? 0 : -1;
}

void imap_poller_stop(struct imap_poller *p)
{
	struct pool_slot **slots;
	size_t i, left;

	if (p == NULL)
		return;
	/* an array of pointers: sizeof(*slots) is meant. NOLINTNEXTLINE(bugprone-sizeof-expression) */
	slots = xcalloc(p->n + 1, sizeof(*slots));
	for (i = 0; i < p->n; i++)
		slots[i] = &p->w[i].slot;
	left = pool_stop(slots, p->n, STOP_GRACE_MS, STOP_GRACE_MS);
	free(slots);
	if (left > 0)
		return;	/* a thread may still use P: left to the exit */
	for (i = 0; i < p->n; i++)
		free(p->w[i].name);
	free(p->w);
	free(p);
}
