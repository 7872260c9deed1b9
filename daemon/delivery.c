/*
 * delivery.c - the delivery workers (see delivery.h).
 *
 * A worker loops: claim up to BATCH due copies (BEGIN IMMEDIATE, claim,
 * COMMIT; the claim's query also reads each subscriber's status and mute,
 * so that an unsubscribe is honoured before the next delivery, design §5),
 * then, with the configuration held, for each copy: read its archive row
 * (kept while the next copies are of the same message), cancel it if its
 * subscriber is no longer active, make its tokens (reply 'r', bounce
 * 'b', unsubscribe 'u') and render it, DKIM-sign it with its list's keys
 * (sign.c; notices too); then send the batch over the
 * worker's SMTP session in one pipelined stream (several when its copies
 * pass PREPARED_MAX bytes: a big post) and commit all their
 * results in one transaction (group commit); or write each into the
 * maildir sink and commit its result on its own. Then one log line per
 * copy, the batch's lines in one write (log_batch). The workers take turns
 * on a mutex
 * for their write transactions. A
 * copy of a notice (parley's own message: a confirmation request, a note to
 * the owners) is sent as it was composed, from the null sender. A copy
 * whose subscriber is no longer active is 'cancelled', not sent.
 * With nothing due, it waits for runtime_ring() or one second.
 *
 * Results: 2xx is sent; 4xx or any trouble reaching the relay (connection,
 * TLS, AUTH, timeout) is deferred to now + relay.retry[attempts - 1] (the
 * last delay repeats), or failed once daemon.queue_lifetime has passed
 * since the copy was queued; a 5xx to RCPT is failed and counts as a bounce
 * of the subscriber; a 5xx to MAIL, DATA or the end of the data is the
 * relay refusing the message, not the recipient: deferred like a 4xx, with
 * a warning, and no bounce. When the relay cannot be reached, the rest of
 * the batch is deferred without trying again.
 *
 * Relays (daemon.relays, or daemon.relay as the one relay): a worker keeps
 * at most one session per relay. Each stream of copies goes to the relay
 * relays.c picks by weight among those up and under max_connections; one
 * that cannot be set up, or goes silent or closes before answering for a
 * copy, is marked down (relays.c's backoff), and the copies it did not
 * answer go to the next relay in the same batch. A stream is cut to one
 * copy at a time under a rate, and to what the connection may still carry
 * under max_per_connection. Copies no relay could take because the ones up
 * were at their connection limit go back to the queue unsent. Each result
 * records the relay (deliveries.relay) and is counted per relay; a relay
 * marked down or back up is recorded in relay_state (parley stats), and at
 * the start the configured relays are recorded up. The bound on duplicates
 * after a crash stays one uncommitted batch (BATCH copies) per worker, so
 * per relay connection in use.
 *
 * A list with delivery = "batch": when a claim begins with a copy of its
 * message, the copies of that message (topped up to batch_recipients with
 * more due ones) are rendered once without personal addresses and go in one
 * transaction from L+owner@, each with its own RCPT result; the claim's
 * other copies go back to the queue. The bound on duplicates for such a
 * list is one transaction per relay connection.
 *
 * The workers are threads named "delivery N", niced by daemon.worker_nice
 * (their own nice value, not the daemon's): a fan-out of signed copies
 * yields the CPU to the intake and to an MTA on the same machine.
 *
 * The maildir sink (relay.maildir) is maildir_sink.c.
 *
 * It must never mark a copy sent that the relay did not accept, never send
 * one copy to two recipients or without its VERP sender, never send a copy
 * whose subscriber is no longer active, and never hold a copy claimed when
 * it stops (unless cut off in flight: then the restart requeues it).
 */
#include "autoconf.h"

#include "delivery.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "copy_template.h"
#include "dmarc.h"
#include "log.h"
#include "maildir_sink.h"
#include "mono.h"
#include "pool.h"
#include "relays.h"
#include "render.h"
#include "sign.h"
#include "smtp_client.h"
#include "store.h"
#include "store_archive.h"
#include "store_stats.h"
#include "store_sub.h"
#include "subaddr.h"
#include "token.h"
#include "xalloc.h"

#define BATCH		 64	/* copies claimed at once by a worker */
#define PREPARED_MAX	 (8UL << 20)	/* bytes of ready copies a worker holds at most */
#define WAKE_MS		 1000	/* a worker looks for due copies at least this often */
#define SESSION_IDLE_MAX 30	/* seconds an idle SMTP session is kept */
#define STOP_GRACE_MS	 10000	/* for the copies in flight when the daemon stops */
#define STOP_CUTOFF_MS	 2000	/* then, once their sockets are shut down */
#define STORE_RETRY_MS	 5000	/* between attempts to open the store */
#define RECORD_TRIES	 5	/* attempts to commit a group of results */
#define KEY_TRIES	 3
#define BUSY_NAP_MS	 100	/* after copies went back for want of a free relay */
#define ERR_MAX		 SMTP_TEXT_MAX

struct worker {
	struct delivery_pool *pool;
	int id;			/* 1..n, for the log */
	struct pool_slot slot;	/* its thread, and a dup() of the SMTP session's socket */
};

struct delivery_pool {
	struct runtime *rt;
	struct relays *relays;	/* up or down, sessions, rate: shared by the workers */
	pthread_mutex_t write;	/* one worker at a time writes (see write_begin) */
	unsigned char key[TOKEN_KEY_LEN];
	struct dmarc_cache *dmarc;	/* the authors' DMARC policies (from_rewrite) */
	struct worker *w;
	size_t n;
	int nice;		/* daemon.worker_nice, read at the start */
};

/* The archive row of the copies being sent (kept for the next ones). */
struct archived {
	long long id;		/* 0: none loaded */
	long long list_id;
	char *list_name;
	char *list_msgid;
	char *author_addr;
	char *author_name;	/* or NULL */
	char *refs;		/* list Message-IDs from the root to the parent, or NULL */
	long long thread_id;
	char *raw;
	size_t len;
	long long created_at;	/* when it was archived */
};

/* A worker's session with one relay. */
struct session {
	struct smtp_client *smtp;	/* NULL: none */
	long long last_used;		/* monotonic ms: when it last carried a copy */
	unsigned long carried;		/* copies sent on this connection */
};

/* What a worker keeps between copies. */
struct wstate {
	struct worker *w;
	struct store *st;
	struct session s[RELAYS_SLOTS];	/* by the relay's slot (relays.h) */
	unsigned char have[RELAYS_SLOTS];	/* s[i].smtp != NULL */
	struct token_mac *mac;	/* the pool's key, keyed once (NULL: token_make) */
	struct dkim_cache *dkim;	/* its signing contexts, the last body's hash (or NULL) */
	struct copy_template *tmpl;	/* the post's template, for the batch under way */
	struct log_batch lines;	/* the log lines of a batch's results */
	struct archived a;
};

/* One batch, with the configuration held. */
struct batch {
	const struct config *cfg;
	int busy;		/* a relay was at its connection limit */
	char down_why[ERR_MAX];	/* why the last relay tried could not take copies */
};

/* One copy ready to leave. */
struct copy {
	const struct cfg_list *list;
	char from[ADDRESS_MAX + 1];	/* L+bounce-TOKEN@domain */
	char *msg;
	size_t len;
};

/* The outcome of one attempt. */
struct result {
	const char *status;	/* "sent", "deferred", "failed" or "cancelled" */
	int bounce;		/* failed by the relay's 5xx: a bounce of the subscriber */
	long long next_at;
	char text[ERR_MAX];
	char relay[RELAYS_KEY_MAX];	/* the relay it was handed to; "" if none */
};

/* ---- small helpers ---- */

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* nap_unless_stopping: sleep MS, cut short when the daemon stops; 0, or
 * -1 if it stops. */
static int nap_unless_stopping(struct runtime *rt, long ms)
{
	while (ms > 0 && !runtime_stopping(rt)) {
		long step = ms < 100 ? ms : 100;
		nap_ms(step);
		ms -= step;
	}
	return runtime_stopping(rt) ? -1 : 0;
}

/* token_for: a token of KIND for A and B, with the worker's keyed HMAC
 * context WS->mac if it has one, else with the pool's key. */
static void token_for(const struct delivery_pool *p, const struct wstate *ws, char kind,
		      unsigned long long a, unsigned long b, char out[TOKEN_MAX + 1])
{
	struct token t = {kind, a, b, 0};

	if (ws->mac != NULL)
		token_make_mac(ws->mac, &t, out);
	else
		token_make(p->key, &t, out);
}

/* ---- the store ---- */

static void archived_clear(struct archived *a)
{
	char **owned[] = {&a->list_name, &a->list_msgid, &a->author_addr, &a->author_name,
			  &a->refs, &a->raw};

	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		free(*owned[i]);
		*owned[i] = NULL;	/* each one, so that the analyzer sees it */
	}
	memset(a, 0, sizeof(*a));
}

/* archived_load: ID's archive row into WS->a (kept if already there); 0 or
 * -1 (logged). */
static int archived_load(struct wstate *ws, long long id)
{
	struct archived *a = &ws->a;
	sqlite3_stmt *s;
	int rc;

	if (a->id == id)
		return 0;
	archived_clear(a);
	s = store_prepare(ws->st, STMT_DELIVERY_COPY,
			  "SELECT archive.list_id, lists.name, archive.list_msgid,"
			  " archive.author_addr, archive.author_name, archive.raw, archive.created_at,"
			  " archive.refs, archive.thread_id FROM archive"
			  " JOIN lists ON lists.id = archive.list_id WHERE archive.id = ?1");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			store_error(ws->st, "read an archived message");
		sqlite3_reset(s);
		return -1;
	}
	a->list_id = sqlite3_column_int64(s, 0);
	a->list_name = store_col_text(s, 1);
	a->list_msgid = store_col_text(s, 2);
	a->author_addr = store_col_text(s, 3);
	a->author_name = store_col_text(s, 4);
	a->raw = store_col_blob(s, 5, &a->len);
	a->created_at = sqlite3_column_int64(s, 6);
	a->refs = store_col_text(s, 7);
	a->thread_id = sqlite3_column_int64(s, 8);
	sqlite3_reset(s);
	if (a->list_name == NULL || a->list_msgid == NULL || a->author_addr == NULL) {
		archived_clear(a);
		return -1;
	}
	a->id = id;
	return 0;
}

/* write_begin, write_end: a write transaction of a worker. The workers take
 * turns on the pool's mutex before BEGIN IMMEDIATE: waiting there wakes a
 * worker the moment the other is done, where SQLite's busy handler sleeps
 * 1, 2, 5 ... ms between tries (the ingest thread and the CLI still meet
 * the workers in SQLite, rarely). */
static int write_begin(struct wstate *ws)
{
	pthread_mutex_lock(&ws->w->pool->write);
	if (store_begin(ws->st) == 0)
		return 0;
	pthread_mutex_unlock(&ws->w->pool->write);
	return -1;
}

/* write_end: COMMIT (OK) or ROLLBACK, then the next worker's turn; 0 or -1. */
static int write_end(struct wstate *ws, int ok)
{
	int rc = 0;

	if (!ok || (rc = store_commit(ws->st)) < 0)
		store_rollback(ws->st);
	pthread_mutex_unlock(&ws->w->pool->write);
	return ok ? rc : -1;
}

/* relay_note: relay KEY recorded up (SECS 0) or down for SECS s for WHY,
 * for parley stats and /metrics, in a write transaction of its own; a
 * store failure is logged, never more. */
static void relay_note(struct wstate *ws, const char *key, int secs, const char *why)
{
	long long now = store_now();

	if (write_begin(ws) < 0 ||
	    write_end(ws, store_relay_state_set(ws->st, key, secs > 0 ? now + secs : 0, why,
						now) == 0) < 0)
		log_warn("delivery: cannot record relay %s as %s in the store (parley stats shows "
			 "its last state)", key, secs > 0 ? "down" : "up");
}

/* claim: up to MAX due copies marked 'sending' in OUT, committed; the
 * count or -1 (logged). The claim's commit is not synced (store_synced):
 * lost to a power failure, the copies are 'queued' again, which is what a
 * restart makes of 'sending' copies anyway; and the commit of their results
 * syncs the WAL up to and past it. One fsync per batch, not two, with the
 * workers' mutex held. */
static int claim(struct wstate *ws, struct delivery *out, int max)
{
	int n;

	if (store_synced(ws->st, 0) < 0)
		return -1;
	if (write_begin(ws) < 0) {
		(void)store_synced(ws->st, 1);
		return -1;
	}
	n = store_delivery_claim(ws->st, store_now(), out, max);
	n = write_end(ws, n >= 0) < 0 ? -1 : n;
	(void)store_synced(ws->st, 1);	/* record() makes sure of it before it commits */
	return n;
}

/* release: put copies claimed but not begun back in the queue, their
 * attempt not counted. */
static void release(struct wstate *ws, const struct delivery *d, int n)
{
	struct store *st = ws->st;
	long long now = store_now();
	int i;

	if (n <= 0 || write_begin(ws) < 0)
		return;
	for (i = 0; i < n; i++) {
		sqlite3_stmt *s = store_prepare(
			st, STMT_DELIVERY_RELEASE,
			"UPDATE deliveries SET status = 'queued', attempts = attempts - 1,"
			" next_at = ?2, updated_at = ?2 WHERE id = ?1 AND status = 'sending'");
		if (s == NULL)
			break;
		sqlite3_bind_int64(s, 1, d[i].id);
		sqlite3_bind_int64(s, 2, now);
		if (store_step_done(st, s) < 0)
			break;
	}
	if (write_end(ws, i == n) < 0)
		log_warn("delivery: could not put %d claimed copies back in the queue: the next "
			 "start does", n);
}

/* count: copy D recorded with R (its status, its relay), in tally T
 * (written out first if it is full); 0 or -1. */
static int count(struct store *st, struct stats_tally *t, const struct delivery *d,
		 const struct result *r)
{
	if (stats_tally_copy(t, d->list_id, r->relay, r->status) == 0)
		return 0;
	if (store_stats_tally(st, t, store_now()) < 0)
		return -1;
	t->n = t->nr = 0;
	return stats_tally_copy(t, d->list_id, r->relay, r->status);
}

/* record_one: R for copy D (with the bounce of its subscriber on a 5xx to
 * RCPT), counted in T, inside the caller's transaction; 0 or -1. */
static int record_one(struct wstate *ws, const struct batch *b, const struct delivery *d,
		      const struct result *r, struct stats_tally *t)
{
	const char *error = strcmp(r->status, "sent") == 0 ? NULL : r->text;
	int changed;

	if ((changed = store_delivery_result(ws->st, d->id, r->status, r->next_at, error,
					     r->relay[0] ? r->relay : NULL, store_now())) < 0)
		return -1;
	if (changed && count(ws->st, t, d, r) < 0)
		return -1;
	if (r->bounce && d->subscriber_id != 0 &&
	    bounce_at_rcpt(ws->st, b->cfg, ws->w->pool->key, d->id, r->text, store_now()) < 0)
		return -1;
	return 0;
}

/* record: commit the results R of the N copies D in one transaction (group
 * commit); a few tries, as a copy left 'sending' after a 250 would be sent
 * again at the next start. 0 or -1 (logged). */
static int record(struct wstate *ws, const struct batch *b, const struct delivery *d,
		  const struct result *r, int n)
{
	int i, k;

	for (i = 0; i < RECORD_TRIES; i++) {
		if (i > 0)
			nap_ms(200L * i);
		if (store_synced(ws->st, 1) < 0 || write_begin(ws) < 0)
			continue;
		struct stats_tally t = {0};
		for (k = 0; k < n && record_one(ws, b, &d[k], &r[k], &t) == 0; k++)
			;
		if (k == n && store_stats_tally(ws->st, &t, store_now()) < 0)
			k = -1;
		if (write_end(ws, k == n) == 0)
			return 0;
	}
	log_error("delivery: cannot record the results of %d copies (%lld to %lld): they stay "
		  "'sending' and are sent again at the next start", n, d[0].id, d[n - 1].id);
	return -1;
}

/* ---- results ---- */

static void result_set(struct result *r, const char *status, long long next_at, const char *text)
{
	r->status = status;
	r->bounce = 0;
	r->next_at = next_at;
	snprintf(r->text, sizeof(r->text), "%s", text);
}

/* later: a deferral of D for TEXT: deferred to the next retry, or failed
 * once the queue lifetime has passed. */
static void later(const struct config *cfg, const struct delivery *d, const char *text,
		  struct result *r)
{
	const struct intv *retry = &cfg->daemon.relay.retry;
	long long now = store_now();
	size_t i = d->attempts > 0 ? (size_t)d->attempts - 1 : 0;
	int wait = retry->n > 0 ? retry->v[i < retry->n ? i : retry->n - 1] : 60;

	if (now >= d->created_at + cfg->daemon.queue_lifetime) {
		char why[ERR_MAX];
		snprintf(why, sizeof(why), "given up after %d attempts in %lld s: %.400s", d->attempts,
			 now - d->created_at, text);
		result_set(r, "failed", now, why);
	} else {
		result_set(r, "deferred", now + wait, text);
	}
}

/* ---- preparing a copy ---- */

/* The personal addresses of one copy. */
struct personal {
	char reply_to[ADDRESS_MAX + 1];	/* L+r-TOKEN@ */
	char unsub[ADDRESS_MAX + 1];	/* L+unsubscribe-TOKEN@, or L+unsubscribe@ */
	char utok[TOKEN_MAX + 1];	/* "" for a copy to no subscriber */
	char priv[ADDRESS_MAX + 1];	/* L+p-TOKEN@ */
	char mute[ADDRESS_MAX + 1];	/* L+mute-TOKEN@ */
	char follow[ADDRESS_MAX + 1];	/* L+follow-TOKEN@ (on a post's copies) */
	char footer[4 * ADDRESS_MAX + 400];
};

/* The tokens of one copy: the bounce token of its envelope (VERP), and
 * the personal ones of its text, in copy_template.h's order. */
enum { TK_REPLY, TK_PRIVATE, TK_MUTE, TK_FOLLOW, TK_UNSUB };

struct copy_toks {
	char bounce[TOKEN_MAX + 1];
	char t[COPY_TOKENS][TOKEN_MAX + 1];
};

/* tokens: the tokens of copy D of WS->a into K (no unsubscribe token for
 * a copy to no subscriber), and TK pointing at the personal ones. */
static void tokens(const struct delivery_pool *p, const struct wstate *ws,
		   const struct delivery *d, struct copy_toks *k, struct copy_tokens *tk)
{
	unsigned long sub = (unsigned long)d->subscriber_id;

	token_for(p, ws, TOKEN_BOUNCE, (unsigned long long)d->id, 0, k->bounce);
	token_for(p, ws, TOKEN_REPLY, (unsigned long long)d->archive_id, sub, k->t[TK_REPLY]);
	token_for(p, ws, TOKEN_PRIVATE, (unsigned long long)d->archive_id, sub, k->t[TK_PRIVATE]);
	token_for(p, ws, TOKEN_MUTE, (unsigned long long)ws->a.thread_id, sub, k->t[TK_MUTE]);
	token_for(p, ws, TOKEN_FOLLOW, (unsigned long long)ws->a.thread_id, sub, k->t[TK_FOLLOW]);
	k->t[TK_UNSUB][0] = '\0';
	if (d->subscriber_id != 0)
		token_for(p, ws, TOKEN_UNSUBSCRIBE, (unsigned long long)d->subscriber_id, 0,
			  k->t[TK_UNSUB]);
	for (int i = 0; i < COPY_TOKENS; i++)
		tk->t[i] = k->t[i];
}

/* addresses: the personal addresses of copy D to LIST made of the tokens
 * TK, and its footer, into PS. A copy to no subscriber (a thread's author
 * who does not read the list) gets the command address to unsubscribe. 0
 * or -1. */
static int addresses(const struct config *cfg, const struct wstate *ws, const struct delivery *d,
		     const struct cfg_list *list, const struct copy_tokens *tk,
		     struct personal *ps)
{
	const char *name = ws->a.author_name ? ws->a.author_name : ws->a.author_addr;

	snprintf(ps->utok, sizeof(ps->utok), "%s", tk->t[TK_UNSUB]);
	if (subaddr_list(ps->reply_to, sizeof(ps->reply_to), cfg, list, "r", tk->t[TK_REPLY]) < 0 ||
	    subaddr_list(ps->unsub, sizeof(ps->unsub), cfg, list, "unsubscribe",
			 ps->utok[0] ? ps->utok : NULL) < 0 ||
	    subaddr_list(ps->priv, sizeof(ps->priv), cfg, list, "p", tk->t[TK_PRIVATE]) < 0 ||
	    subaddr_list(ps->mute, sizeof(ps->mute), cfg, list, "mute", tk->t[TK_MUTE]) < 0 ||
	    subaddr_list(ps->follow, sizeof(ps->follow), cfg, list, "follow", tk->t[TK_FOLLOW]) < 0)
		return -1;
	/* every copy offers the private reply and the mute; a post's copies
	 * also offer to follow its replies (for readers who get posts only) */
	snprintf(ps->footer, sizeof(ps->footer), "Reply to %.100s only: mailto:%s", name, ps->priv);
	if (d->subscriber_id != 0) {
		size_t n = strlen(ps->footer);
		snprintf(ps->footer + n, sizeof(ps->footer) - n, "\nMute this thread: mailto:%s%s%s",
			 ps->mute, ws->a.refs ? "" : "\nFollow the replies to this post: mailto:",
			 ws->a.refs ? "" : ps->follow);
	}
	return 0;
}

/* last_id: the last id of the space-separated REFS into OUT ("" if none). */
static void last_id(const char *refs, char *out, size_t len)
{
	const char *p = refs ? strrchr(refs, ' ') : NULL;

	snprintf(out, len, "%s", p ? p + 1 : refs ? refs : "");
}

/* What render_tokens needs besides the tokens. */
struct render_arg {
	const struct config *cfg;
	const struct wstate *ws;
	const struct delivery *d;
	const struct cfg_list *list;
	int keep_from;
	char err[256];
};

/* render_tokens: the copy of WS->a for D with the personal tokens TK, in
 * full (render_copy); malloc'd with its length in *LEN, or NULL with
 * A->err set. */
static char *render_tokens(void *arg, const struct copy_tokens *tk, size_t *len)
{
	struct render_arg *a = arg;
	const struct archived *ar = &a->ws->a;
	struct personal ps;
	struct render_in in;
	char parent[300];

	if (addresses(a->cfg, a->ws, a->d, a->list, tk, &ps) < 0) {
		snprintf(a->err, sizeof(a->err), "the list's token addresses are too long");
		return NULL;
	}
	memset(&in, 0, sizeof(in));
	in.cfg = a->cfg;
	in.list = a->list;
	in.raw = ar->raw;
	in.len = ar->len;
	in.list_msgid = ar->list_msgid;
	last_id(ar->refs, parent, sizeof(parent));
	in.in_reply_to = parent[0] ? parent : NULL;
	in.references = ar->refs;
	in.author_addr = ar->author_addr;
	in.author_name = ar->author_name;
	in.reply_to = ps.reply_to;
	in.unsubscribe_addr = ps.unsub;
	in.unsubscribe_token = ps.utok[0] ? ps.utok : NULL;
	in.personal_footer = ps.footer;
	in.date = ar->created_at;
	in.keep_from = a->keep_from;
	return render_copy(&in, len, a->err, sizeof(a->err));
}

/* render: the copy of WS->a for D into C, from the worker's template of
 * the post when it has a trusted one (copy_template.c), else in full (and
 * the template learnt from it); 0, or -1 with R set (failed). */
static int render(const struct delivery_pool *p, const struct config *cfg, struct wstate *ws,
		  const struct delivery *d, struct copy *c, struct result *r)
{
	struct render_arg a = {cfg, ws, d, c->list, 0, ""};
	struct copy_toks k;
	struct copy_tokens tk;
	int variant;

	tokens(p, ws, d, &k, &tk);
	if (subaddr_list(c->from, sizeof(c->from), cfg, c->list, "bounce", k.bounce) < 0) {
		result_set(r, "failed", store_now(), "the list's token addresses are too long");
		return -1;
	}
	a.keep_from = dmarc_from_kept(p->dmarc, cfg, c->list, ws->a.author_addr, store_now());
	variant = (d->subscriber_id != 0) | (a.keep_from != 0) << 1;
	if ((c->msg = copy_template_make(ws->tmpl, d->archive_id, variant, &tk, &c->len)) != NULL)
		return 0;
	if ((c->msg = render_tokens(&a, &tk, &c->len)) == NULL) {
		char why[ERR_MAX];
		snprintf(why, sizeof(why), "cannot render the copy: %s", a.err);
		result_set(r, "failed", store_now(), why);
		return -1;
	}
	(void)copy_template_learn(ws->tmpl, d->archive_id, variant, &tk, c->msg, c->len,
				  render_tokens, &a);
	return 0;
}

/* notice_prepare: copy D of a notice into C, as it was composed, with its
 * envelope sender (the null sender for every notice so far); 0, or -1 with
 * R set. */
static int notice_prepare(struct wstate *ws, const struct batch *b, const struct delivery *d,
			  struct copy *c, struct result *r)
{
	sqlite3_stmt *s = store_prepare(ws->st, STMT_DELIVERY_NOTICE,
					"SELECT n.sender, n.raw, lists.name FROM notices n"
					" LEFT JOIN lists ON lists.id = n.list_id WHERE n.id = ?1");
	const unsigned char *sender, *list;

	if (s == NULL) {
		later(b->cfg, d, "cannot read the notice", r);
		return -1;
	}
	sqlite3_bind_int64(s, 1, d->notice_id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		store_error(ws->st, "read a notice");
		sqlite3_reset(s);
		later(b->cfg, d, "cannot read the notice", r);
		return -1;
	}
	sender = sqlite3_column_text(s, 0);
	snprintf(c->from, sizeof(c->from), "%s", sender ? (const char *)sender : "");
	c->msg = store_col_blob(s, 1, &c->len);
	list = sqlite3_column_text(s, 2);	/* its list's keys sign it */
	c->list = list != NULL ? config_list_find(b->cfg, (const char *)list) : NULL;
	sqlite3_reset(s);
	return 0;
}

/* compose: copy D as it leaves, unsigned, into C; 0, or -1 with R set. */
static int compose(struct wstate *ws, const struct batch *b, const struct delivery *d,
		   struct copy *c, struct result *r)
{
	char why[ERR_MAX];

	if (d->notice_id != 0)
		return notice_prepare(ws, b, d, c, r);
	if (archived_load(ws, d->archive_id) < 0) {
		later(b->cfg, d, "cannot read the archived message", r);
		return -1;
	}
	if (d->subscriber_id != 0 && strcmp(d->sub_status, "active") != 0) {
		/* read in the claim's query (store_delivery_claim) */
		snprintf(why, sizeof(why), "not sent: the subscriber %s%s now",
			 strcmp(d->sub_status, "muted") == 0 ? "muted the thread" : "is ",
			 strcmp(d->sub_status, "muted") == 0 ? "" : d->sub_status);
		result_set(r, "cancelled", store_now(), why);
		return -1;
	}
	if ((c->list = config_list_find(b->cfg, ws->a.list_name)) == NULL) {
		snprintf(why, sizeof(why), "list %s is not in the configuration", ws->a.list_name);
		later(b->cfg, d, why, r);
		return -1;
	}
	return render(ws->w->pool, b->cfg, ws, d, c, r);
}

/* prepare: everything copy D needs before it can leave, into C: composed,
 * then signed with its list's DKIM keys; 0, or -1 with R set (the copy does
 * not leave this time). */
static int prepare(struct wstate *ws, const struct batch *b, const struct delivery *d,
		   struct copy *c, struct result *r)
{
	char err[256], why[ERR_MAX];

	if (compose(ws, b, d, c, r) < 0)
		return -1;
	if (sign_copy(b->cfg, c->list, ws->dkim, d->notice_id == 0 ? ws->a.raw : NULL, ws->a.len, &c->msg,
		      &c->len, store_now(), err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "cannot sign the copy: %s", err);
		later(b->cfg, d, why, r);
		return -1;
	}
	return 0;
}

/* maildir_deliver: copy C of D into the maildir sink; SMTP_SENT or
 * SMTP_DEFER, with what happened in TEXT. */
static enum smtp_outcome maildir_deliver(const struct config *cfg, const struct delivery *d,
					 const struct copy *c, char *text, size_t len)
{
	char host[128];

	config_hostname(cfg, host, sizeof(host));
	return maildir_sink_write(cfg->daemon.relay.maildir, host, d->address, c->from, d->id,
				  d->attempts, c->msg, c->len, text, len) == 0
		       ? SMTP_SENT
		       : SMTP_DEFER;
}

/* ---- the SMTP relays ---- */

static int hook_cancel(void *arg)
{
	struct worker *w = arg;

	return pool_stop_now(&w->slot) || runtime_stopping(w->pool->rt);
}

/* hook_track: keep a dup() of the session's socket, so that delivery_stop
 * can shut it down under libetpan's feet; the dup is ours to close. */
static void hook_track(void *arg, int fd)
{
	pool_track(&((struct worker *)arg)->slot, fd);
}

/* session_close: the worker's session at SLOT (QUIT if it still works). */
static void session_close(struct wstate *ws, int slot)
{
	struct session *s = &ws->s[slot];

	if (s->smtp == NULL)
		return;
	smtp_client_close(s->smtp);
	s->smtp = NULL;
	s->carried = 0;
	ws->have[slot] = 0;
	relays_conn_drop(ws->w->pool->relays, slot);
}

static void session_end(struct wstate *ws)
{
	for (int i = 0; i < RELAYS_SLOTS; i++)
		session_close(ws, i);
}

/* session_open: the worker's session with RELAY at SLOT, opened if there is
 * none (or anew when the relay settings changed); 0, 1 if the relay is at
 * its max_connections, or -1 with the reason in B->down_why (the relay is
 * marked down). */
static int session_open(struct wstate *ws, struct batch *b, const struct cfg_relay *relay,
			int slot, const char *key)
{
	struct smtp_hooks hooks = {hook_cancel, hook_track, ws->w};
	struct relays *rs = ws->w->pool->relays;
	struct session *s = &ws->s[slot];
	struct smtp_reply reply;
	char helo[256];
	int secs;

	if (s->smtp != NULL && !smtp_client_matches(s->smtp, relay)) {
		log_info("delivery: worker %d: the settings of relay %s changed: new session",
			 ws->w->id, key);
		session_close(ws, slot);
	}
	if (s->smtp != NULL) {
		pool_track(&ws->w->slot, smtp_client_fd(s->smtp));
		return 0;
	}
	if (!relays_conn_take(rs, slot, relay))
		return 1;
	config_hostname(b->cfg, helo, sizeof(helo));
	if ((s->smtp = smtp_client_open(relay, helo, &hooks, &reply)) != NULL) {
		if (relays_up(rs, slot))
			relay_note(ws, key, 0, NULL);
		ws->have[slot] = 1;
		s->carried = 0;
		return 0;
	}
	relays_conn_drop(rs, slot);
	snprintf(b->down_why, sizeof(b->down_why), "%s", reply.text);
	if (!runtime_stopping(ws->w->pool->rt) && (secs = relays_down(rs, slot)) > 0) {
		log_warn("delivery: relay %s is down for %d s, its copies go to the others: %s", key,
			 secs, reply.text);
		relay_note(ws, key, secs, reply.text);
	}
	return -1;
}

/* ---- one copy ---- */

static void maildir_label(const struct config *cfg, char *out, size_t len)
{
	snprintf(out, len, "maildir:%s", cfg->daemon.relay.maildir);
}

/* log_result: the log line of copy D's result R, once it is committed. */
static void log_result(struct log_batch *lb, const struct delivery *d, const struct result *r)
{
	const char *label = r->relay[0] ? r->relay : "none";
	int failed = strcmp(r->status, "failed") == 0;

	log_batch_line(lb, failed, "delivery %lld to=<%s> relay=%s status=%s (%s)", d->id,
		       d->address, label, r->status, r->text);
}

/* judge: the result R of copy D from the relay's outcome O and TEXT. */
static void judge(const struct batch *b, const struct delivery *d, enum smtp_outcome o,
		  const char *text, const char *label, struct result *r)
{
	if (o == SMTP_SENT) {
		result_set(r, "sent", store_now(), text);
	} else if (o == SMTP_FAIL) {
		result_set(r, "failed", store_now(), text);
		r->bounce = 1;
	} else {
		if (o == SMTP_REFUSED)	/* not the recipient's doing: no bounce */
			log_warn("delivery %lld: relay %s refused the message, not the recipient (%s): "
				 "deferred, not counted against <%s>; check the relay's settings",
				 d->id, label, text, d->address);
		later(b->cfg, d, text, r);
	}
}

/* maildir_one: copy D into the maildir sink; its result in R. */
static void maildir_one(struct wstate *ws, struct batch *b, const struct delivery *d,
			struct result *r)
{
	char text[ERR_MAX];
	struct copy c;

	memset(&c, 0, sizeof(c));
	maildir_label(b->cfg, r->relay, sizeof(r->relay));
	if (prepare(ws, b, d, &c, r) == 0)
		judge(b, d, maildir_deliver(b->cfg, d, &c, text, sizeof(text)), text, r->relay, r);
	free(c.msg);
}

/* Where each prepared copy of a batch is. */
enum { C_UNTRIED, C_DONE, C_AGAIN };

/* unreached: V's relay never answered for it (no reply, a lost connection,
 * a timeout, 421): it may go to another relay in the same batch. */
static int unreached(const struct smtp_copy *v)
{
	return v->outcome == SMTP_DEFER && (v->reply.code == 0 || v->reply.code == 421);
}

/* chunk_size: how many of the M copies left go in the next stream to RELAY
 * over session S: one at a time under a rate, and no more than the
 * connection may still carry. */
static size_t chunk_size(const struct cfg_relay *relay, const struct session *s, size_t m)
{
	size_t n = relay->rate > 0 ? 1 : m;

	if (relay->max_per_connection > 0 &&
	    s->carried + n > (unsigned long)relay->max_per_connection)
		n = (size_t)relay->max_per_connection - s->carried;
	return n > 0 ? n : 1;
}

/* pace: wait for RELAY's next turn (its rate); 0, or -1 if the daemon
 * stops meanwhile. */
static int pace(struct wstate *ws, int slot, const struct cfg_relay *relay)
{
	return nap_unless_stopping(ws->w->pool->rt, relays_pace(ws->w->pool->relays, slot, relay));
}

/* A batch's copies on their way: V[0..k) prepared, STATE and RELAY_OF of
 * each. */
struct outgoing {
	struct smtp_copy v[BATCH];
	int state[BATCH];
	char relay_of[BATCH][RELAYS_KEY_MAX];
	size_t k;
};

/* send_to: the copies LEFT[0..M) of O (those not done yet) to relays[RI]
 * at SLOT, in pipelined streams (smtp_client_send_batch) split by its rate
 * and max_per_connection. A copy the relay never answered is C_AGAIN, and the
 * relay is marked down; a copy not begun stays C_UNTRIED. */
static void send_to(struct wstate *ws, struct batch *b, int ri, int slot, struct outgoing *o,
		    const int *left, size_t m)
{
	const struct cfg_relay *relay = &b->cfg->daemon.relays[ri];
	struct session *s = &ws->s[slot];
	struct smtp_copy one[BATCH];
	char key[RELAYS_KEY_MAX];
	size_t off = 0, n, i;
	int rc, down = 0, secs;

	relays_key(relay, key, sizeof(key));
	while (off < m && !down) {
		if ((rc = session_open(ws, b, relay, slot, key)) != 0) {
			b->busy |= rc > 0;
			return;
		}
		n = chunk_size(relay, s, m - off);
		if (n > m - off)
			n = m - off;
		if (relay->rate > 0 && pace(ws, slot, relay) < 0)
			return;
		for (i = 0; i < n; i++)
			one[i] = o->v[left[off + i]];
		smtp_client_send_batch(s->smtp, one, n);
		s->carried += n;
		s->last_used = mono_ms();
		for (i = 0; i < n; i++) {
			int j = left[off + i];
			o->v[j] = one[i];
			snprintf(o->relay_of[j], sizeof(o->relay_of[j]), "%s", key);
			o->state[j] = unreached(&one[i]) ? C_AGAIN : C_DONE;
			if (o->state[j] == C_AGAIN && !down) {
				down = 1;
				snprintf(b->down_why, sizeof(b->down_why), "%s", one[i].reply.text);
			}
		}
		off += n;
		if (!smtp_client_usable(s->smtp) ||
		    (relay->max_per_connection > 0 &&
		     s->carried >= (unsigned long)relay->max_per_connection))
			session_close(ws, slot);
	}
	if (down && !runtime_stopping(ws->w->pool->rt) &&
	    (secs = relays_down(ws->w->pool->relays, slot)) > 0) {
		log_warn("delivery: relay %s is down for %d s, its copies go to the others: %s", key,
			 secs, b->down_why);
		relay_note(ws, key, secs, b->down_why);
	}
}

/* relay_batch: the first of the N copies D to the relays, as many as fit
 * in PREPARED_MAX bytes once prepared (at least one): each stream to the
 * relay picked by weight among those up; copies a relay did not take
 * because it went down go to the next one. Results in R; a copy no relay
 * could begin while one was only busy (at max_connections) has R->status
 * NULL: it goes back to the queue unsent. Returns how many of D it took. */
static int relay_batch(struct wstate *ws, struct batch *b, const struct delivery *d, int n,
		       struct result *r)
{
	size_t bytes = 0;
	struct outgoing *o = xcalloc(1, sizeof(*o));
	struct copy c[BATCH];
	int idx[BATCH] = {0}, left[BATCH], i, ri, slot, busy;	/* idx: set for [0, o->k) */
	unsigned long tried = 0;
	size_t m, j;

	memset(c, 0, sizeof(c));
	for (i = 0; i < n && (i == 0 || bytes < PREPARED_MAX); i++) {
		if (prepare(ws, b, &d[i], &c[i], &r[i]) != 0)
			continue;
		bytes += c[i].len;
		o->v[o->k].from = c[i].from;
		o->v[o->k].to = d[i].address;
		o->v[o->k].msg = c[i].msg;
		o->v[o->k].len = c[i].len;
		idx[o->k++] = i;
	}
	n = i;	/* the rest goes in the next stream */
	for (;;) {
		for (m = 0, j = 0; j < o->k; j++)
			if (o->state[j] != C_DONE)
				left[m++] = (int)j;
		if (m == 0 || runtime_stopping(ws->w->pool->rt))
			break;
		ri = relays_pick(ws->w->pool->relays, b->cfg, tried, ws->have, &slot, &busy);
		b->busy |= busy;
		if (ri < 0)
			break;
		tried |= 1UL << ri;
		send_to(ws, b, ri, slot, o, left, m);
	}
	for (j = 0; j < o->k; j++) {
		struct result *rr = &r[idx[j]];
		if (o->state[j] == C_UNTRIED) {
			if (b->busy || runtime_stopping(ws->w->pool->rt)) {
				rr->status = NULL;	/* back to the queue */
				continue;
			}
			o->v[j].outcome = SMTP_DEFER;
			snprintf(o->v[j].reply.text, sizeof(o->v[j].reply.text), "%s",
				 b->down_why[0] ? b->down_why : "every relay is down");
		}
		snprintf(rr->relay, sizeof(rr->relay), "%s", o->relay_of[j]);
		judge(b, &d[idx[j]], o->v[j].outcome, o->v[j].reply.text, o->relay_of[j], rr);
	}
	for (i = 0; i < n; i++)
		free(c[i].msg);
	free(o);
	return n;
}

/* flush: commit the results of copies D[FROM..TO) together, then log
 * them (one write for their lines); 0, or -1 if they could not be recorded. */
static int flush(struct wstate *ws, const struct batch *b, const struct delivery *d,
		 const struct result *r, int from, int to)
{
	struct log_batch *lb = &ws->lines;

	if (to <= from)
		return 0;
	if (record(ws, b, d + from, r + from, to - from) < 0)
		return -1;
	lb->n = 0;
	for (int i = from; i < to; i++)
		log_result(lb, &d[i], &r[i]);
	log_batch_flush(lb);
	return 0;
}

/* ---- batch mode (a list with delivery = "batch") ---- */

/* batch_list: the list of copy D if it is an archived message of a list in
 * batch mode, else NULL. */
static const struct cfg_list *batch_list(struct wstate *ws, const struct config *cfg,
					 const struct delivery *d)
{
	const struct cfg_list *l;

	if (d->notice_id != 0 || d->archive_id == 0 || archived_load(ws, d->archive_id) < 0)
		return NULL;
	l = config_list_find(cfg, ws->a.list_name);
	return l != NULL && l->delivery == DELIVERY_BATCH ? l : NULL;
}

/* group_render: the one copy of WS->a for every recipient of list L (no
 * personal address or token: Reply-To the list, the list's unsubscribe
 * command address) into C; 0, or -1 with the reason in WHY. */
static int group_render(const struct config *cfg, struct wstate *ws, const struct cfg_list *l,
			struct copy *c, char *why, size_t len)
{
	char err[256], parent[300], unsub[ADDRESS_MAX + 1];
	struct render_in in;

	c->list = l;
	if (subaddr_list(c->from, sizeof(c->from), cfg, l, "owner", NULL) < 0 ||
	    subaddr_list(unsub, sizeof(unsub), cfg, l, "unsubscribe", NULL) < 0) {
		snprintf(why, len, "the list's addresses are too long");
		return -1;
	}
	memset(&in, 0, sizeof(in));
	in.cfg = cfg;
	in.list = l;
	in.raw = ws->a.raw;
	in.len = ws->a.len;
	in.list_msgid = ws->a.list_msgid;
	last_id(ws->a.refs, parent, sizeof(parent));
	in.in_reply_to = parent[0] ? parent : NULL;
	in.references = ws->a.refs;
	in.author_addr = ws->a.author_addr;
	in.author_name = ws->a.author_name;
	in.reply_to = l->address;
	in.unsubscribe_addr = unsub;
	in.date = ws->a.created_at;
	in.keep_from = dmarc_from_kept(ws->w->pool->dmarc, cfg, l, ws->a.author_addr, store_now());
	if ((c->msg = render_copy(&in, &c->len, err, sizeof(err))) == NULL) {
		snprintf(why, len, "cannot render the copy: %s", err);
		return -1;
	}
	if (sign_copy(cfg, l, ws->dkim, ws->a.raw, ws->a.len, &c->msg, &c->len, store_now(), err,
		      sizeof(err)) < 0) {
		snprintf(why, len, "cannot sign the copy: %s", err);
		free(c->msg);
		c->msg = NULL;
		return -1;
	}
	return 0;
}

/* group_send: the copies D[0..N) of one message of batch list L, results
 * in R: those still active in one transaction (smtp_client_send_rcpts) to
 * the first relay picked that can be set up. */
static void group_send(struct wstate *ws, struct batch *b, const struct cfg_list *l,
		       const struct delivery *d, int n, struct result *r)
{
	struct smtp_copy *v = xcalloc((size_t)n, sizeof(*v));
	int *idx = xcalloc((size_t)n, sizeof(*idx)), i, k = 0, ri, slot, busy, rc;
	char why[ERR_MAX], key[RELAYS_KEY_MAX] = "";
	unsigned long tried = 0;
	struct copy c;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < n; i++) {
		/* the status was read with the claim (a thread's author who does not
		 * read the list has no subscriber) */
		if (d[i].subscriber_id == 0 || strcmp(d[i].sub_status, "active") == 0) {
			v[k].to = d[i].address;
			idx[k++] = i;
		} else {
			snprintf(why, sizeof(why), "not sent: the subscriber %s%s now",
				 strcmp(d[i].sub_status, "muted") == 0 ? "muted the thread" : "is ",
				 strcmp(d[i].sub_status, "muted") == 0 ? "" : d[i].sub_status);
			result_set(&r[i], "cancelled", store_now(), why);
		}
	}
	if (k > 0 && group_render(b->cfg, ws, l, &c, why, sizeof(why)) < 0) {
		for (i = 0; i < k; i++)
			result_set(&r[idx[i]], "failed", store_now(), why);
		k = 0;
	}
	v[0].from = c.from;
	v[0].msg = c.msg;
	v[0].len = c.len;
	for (rc = -1; k > 0 && !runtime_stopping(ws->w->pool->rt);) {
		if ((ri = relays_pick(ws->w->pool->relays, b->cfg, tried, ws->have, &slot, &busy)) < 0)
			break;
		tried |= 1UL << ri;
		relays_key(&b->cfg->daemon.relays[ri], key, sizeof(key));
		if ((rc = session_open(ws, b, &b->cfg->daemon.relays[ri], slot, key)) != 0)
			continue;
		if (b->cfg->daemon.relays[ri].rate > 0 && pace(ws, slot, &b->cfg->daemon.relays[ri]) < 0) {
			rc = 1;	/* stopping: deferred, not sent */
			break;
		}
		smtp_client_send_rcpts(ws->s[slot].smtp, v, (size_t)k);
		ws->s[slot].carried++;	/* a transaction counts as one copy for the limits */
		ws->s[slot].last_used = mono_ms();
		if (!smtp_client_usable(ws->s[slot].smtp) ||
		    (b->cfg->daemon.relays[ri].max_per_connection > 0 &&
		     ws->s[slot].carried >= (unsigned long)b->cfg->daemon.relays[ri].max_per_connection))
			session_close(ws, slot);
		break;
	}
	for (i = 0; i < k; i++) {
		struct result *rr = &r[idx[i]];
		if (rc != 0) {
			v[i].outcome = SMTP_DEFER;
			snprintf(v[i].reply.text, sizeof(v[i].reply.text), "%s",
				 b->down_why[0] ? b->down_why : "no relay could take the copies now");
		}
		snprintf(rr->relay, sizeof(rr->relay), "%s", rc == 0 ? key : "");
		judge(b, &d[idx[i]], v[i].outcome, v[i].reply.text, key, rr);
	}
	free(c.msg);
	free(v);
	free(idx);
}

/* run_group: the claimed copies D[0..N) when D[0] is of batch list L: the
 * copies of its message, topped up with more due ones up to
 * L->batch_recipients, go in one transaction; the others back to the
 * queue. 0, or -1 if the results could not be recorded. */
static int run_group(struct wstate *ws, struct batch *b, const struct cfg_list *l,
		     const struct delivery *d, int n)
{
	int max = l->batch_recipients, ng = 0, nb = 0, i, more, rc = 0;
	struct delivery *g = xcalloc((size_t)max + BATCH, sizeof(*g)), back[BATCH];
	struct result *r;

	for (i = 0; i < n; i++) {
		if (d[i].archive_id == d[0].archive_id && d[i].notice_id == 0 && ng < max)
			g[ng++] = d[i];
		else
			back[nb++] = d[i];	/* another message's, or beyond batch_recipients */
	}
	release(ws, back, nb);
	if (ng < max && write_begin(ws) == 0) {
		more = store_delivery_claim_archive(ws->st, store_now(), d[0].archive_id, g + ng, max - ng);
		if (write_end(ws, more >= 0) == 0 && more > 0)
			ng += more;
	}
	r = xcalloc((size_t)ng, sizeof(*r));
	group_send(ws, b, l, g, ng, r);
	if (flush(ws, b, g, r, 0, ng) < 0) {
		session_end(ws);
		rc = -1;
	}
	free(r);
	free(g);
	return rc;
}

/* run_batch: the N claimed copies of D, with the configuration held, sent
 * in pipelined streams; their results are then committed together (group
 * commit) and logged. If they cannot be recorded (the store is busy beyond
 * the retries, the disk is full) every session ends too and nothing more is
 * sent until a claim succeeds again: the copies stay 'sending', and the next
 * start queues them again (at most this one uncommitted batch per worker
 * may then reach its recipients twice). When the daemon stops before the
 * batch begins, or no relay can take copies now, they go back to the
 * queue. 0, or -1 if the results could not be recorded (the worker then
 * pauses before it claims again). */
static int run_batch(struct wstate *ws, const struct delivery *d, int n)
{
	struct runtime *rt = ws->w->pool->rt;
	struct cfg_gen *g = runtime_hold(rt);
	struct result r[BATCH];
	struct delivery *keep, *back;
	const struct cfg_list *l;
	int i, nk = 0, nb = 0, rc = 0;
	struct batch b;

	memset(&b, 0, sizeof(b));
	memset(r, 0, sizeof(r));
	b.cfg = g->cfg;
	copy_template_clear(ws->tmpl);	/* made with another configuration, maybe */
	if (runtime_stopping(rt)) {
		runtime_release(rt, g);
		release(ws, d, n);
		return 0;
	}
	if (b.cfg->daemon.relay.maildir != NULL) {
		/* a local sink has no round trips to save: each result is
		 * committed on its own, so a crash repeats at most one copy */
		for (i = 0; i < n && !runtime_stopping(rt); i++) {
			maildir_one(ws, &b, &d[i], &r[i]);
			if (flush(ws, &b, d, r, i, i + 1) < 0) {
				i++;
				rc = -1;
				break;
			}
		}
		runtime_release(rt, g);
		release(ws, d + i, n - i);
		return rc;
	}
	if ((l = batch_list(ws, b.cfg, &d[0])) != NULL) {
		rc = run_group(ws, &b, l, d, n);
		runtime_release(rt, g);
		return rc;
	}
	for (i = 0; i < n; i += relay_batch(ws, &b, d + i, n - i, r + i))
		;	/* a big post goes in several streams (PREPARED_MAX) */
	keep = xcalloc((size_t)n, sizeof(*keep));
	back = xcalloc((size_t)n, sizeof(*back));
	for (i = 0; i < n; i++) {
		if (r[i].status == NULL) {
			back[nb++] = d[i];
			continue;
		}
		r[nk] = r[i];
		keep[nk++] = d[i];
	}
	if (flush(ws, &b, keep, r, 0, nk) < 0) {
		session_end(ws);
		rc = -1;
	}
	runtime_release(rt, g);
	release(ws, back, nb);
	if (nb > 0 && !runtime_stopping(rt))
		nap_ms(BUSY_NAP_MS);	/* the relays are at their connection limits */
	free(keep);
	free(back);
	return rc;
}

/* ---- the threads ---- */

static struct store *worker_store(struct worker *w)
{
	struct cfg_gen *g = runtime_hold(w->pool->rt);
	struct store *st = store_open(g->cfg->daemon.database);

	runtime_release(w->pool->rt, g);
	if (st == NULL)
		log_error("delivery: worker %d: cannot open the store; trying again", w->id);
	return st;
}

/* sessions_idle: close the sessions idle for SESSION_IDLE_MAX. */
static void sessions_idle(struct wstate *ws)
{
	long long now = mono_ms();

	for (int i = 0; i < RELAYS_SLOTS; i++)
		if (ws->s[i].smtp != NULL && now - ws->s[i].last_used > SESSION_IDLE_MAX * 1000LL)
			session_close(ws, i);
}

/* worker_name_nice: the thread's name ("delivery N", for ps and top) and
 * the pool's nice increment, for this thread alone (Linux threads have
 * their own nice value; setpriority takes the thread id). */
static void worker_name_nice(const struct worker *w)
{
	id_t tid = (id_t)gettid();
	char name[16];
	int now;

	snprintf(name, sizeof(name), "delivery %d", w->id);
	(void)pthread_setname_np(pthread_self(), name);
	if (w->pool->nice == 0)
		return;
	errno = 0;
	now = getpriority(PRIO_PROCESS, tid);	/* -1 is a value too */
	if (errno != 0 || setpriority(PRIO_PROCESS, tid, now + w->pool->nice) < 0)
		log_warn("delivery: worker %d: cannot lower its priority by %d: %s", w->id,
			 w->pool->nice, strerror(errno));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct runtime *rt = w->pool->rt;
	struct delivery *d = xcalloc(BATCH, sizeof(*d));
	struct wstate ws;
	unsigned long seen = 0;
	int n;

	memset(&ws, 0, sizeof(ws));
	ws.w = w;
	worker_name_nice(w);
	ws.mac = token_mac_new(w->pool->key);
	ws.dkim = dkim_cache_new();
	ws.tmpl = copy_template_new();
	while (!runtime_stopping(rt)) {
		if (ws.st == NULL && (ws.st = worker_store(w)) == NULL) {
			runtime_wait_ring(rt, &seen, STORE_RETRY_MS);
			continue;
		}
		if ((n = claim(&ws, d, BATCH)) > 0) {
			if (run_batch(&ws, d, n) < 0)	/* the store failed: a pause */
				(void)nap_unless_stopping(rt, STORE_RETRY_MS);
			continue;
		}
		sessions_idle(&ws);
		runtime_wait_ring(rt, &seen, WAKE_MS);
	}
	session_end(&ws);
	token_mac_free(ws.mac);
	dkim_cache_free(ws.dkim);
	copy_template_free(ws.tmpl);
	archived_clear(&ws.a);
	if (ws.st != NULL)
		store_close(ws.st);
	free(d);
	pool_slot_done(&w->slot);
	return NULL;
}

/* ---- the pool ---- */

/* requeue: copies left 'sending' by the previous run are queued again. */
static void requeue(const char *database)
{
	struct store *st = store_open(database);
	long long n = -1;

	if (st == NULL)
		return;
	if (store_begin(st) == 0) {
		if ((n = store_delivery_requeue_sending(st, store_now())) < 0 || store_commit(st) < 0) {
			store_rollback(st);
			n = -1;
		}
	}
	store_close(st);
	if (n < 0)
		log_error("delivery: cannot requeue the copies of the previous run; the next start does");
	else if (n > 0)
		log_warn("delivery: %lld copies in flight when the previous run ended are queued again "
			 "(those the relay had taken reach their recipient twice)", n);
}

/* relays_reset: the relays of CFG recorded 'up' (a start forgets every
 * backoff), the rows of others deleted; a store failure is logged, never
 * more. */
static void relays_reset(const char *database, const struct config *cfg)
{
	char keys[CONFIG_RELAYS_MAX][RELAYS_KEY_MAX];
	const char *k[CONFIG_RELAYS_MAX];
	size_t i, n = 0;
	struct store *st;

	for (i = 0; cfg->daemon.relay.maildir == NULL && i < cfg->daemon.nrelays &&
		    n < CONFIG_RELAYS_MAX; i++) {
		relays_key(&cfg->daemon.relays[i], keys[n], sizeof(keys[n]));
		k[n] = keys[n];
		n++;
	}
	if ((st = store_open(database)) == NULL)
		return;
	if (store_begin(st) < 0 || store_relay_state_reset(st, k, n, store_now()) < 0 ||
	    store_commit(st) < 0) {
		store_rollback(st);
		log_warn("delivery: cannot record the relays' state in the store (parley stats "
			 "shows the last one)");
	}
	store_close(st);
}

/* key_load: the token key, tried a few times (another thread may be
 * creating the file right now); 0 or -1 (logged). */
static int key_load(const char *path, unsigned char *key)
{
	int i;

	for (i = 0; i < KEY_TRIES; i++) {
		if (i > 0)
			nap_ms(100);
		if (token_key_load(path, key) == 0)
			return 0;
	}
	return -1;
}

static void workers_start(struct delivery_pool *p, size_t n)
{
	size_t i;

	p->n = n;
	p->w = xcalloc(n + 1, sizeof(*p->w));
	for (i = 0; i < n; i++) {
		struct worker *w = &p->w[i];
		char name[sizeof(w->slot.name)];
		w->pool = p;
		w->id = (int)i + 1;
		snprintf(name, sizeof(name), "delivery: worker %zu", i + 1);
		pool_slot_init(&w->slot, name);
	}
	for (i = 0; i < n; i++)
		(void)pool_slot_start(&p->w[i].slot, worker_main, &p->w[i]);
}

/* relays_label: the relays for the start's log line: "maildir:DIR",
 * "host:port", or "host:port (weight 2), ...". */
static void relays_label(const struct config *cfg, char *out, size_t len)
{
	size_t i, used = 0;

	out[0] = '\0';
	if (cfg->daemon.relay.maildir != NULL) {
		maildir_label(cfg, out, len);
		return;
	}
	for (i = 0; i < cfg->daemon.nrelays && used + RELAYS_KEY_MAX + 20 < len; i++) {
		char key[RELAYS_KEY_MAX];
		relays_key(&cfg->daemon.relays[i], key, sizeof(key));
		if (cfg->daemon.nrelays == 1)
			snprintf(out, len, "%s", key);
		else
			used += (size_t)snprintf(out + used, len - used, "%s%s (weight %d)", i ? ", " : "",
						 key, cfg->daemon.relays[i].weight);
	}
}

struct delivery_pool *delivery_start(struct runtime *rt)
{
	struct delivery_pool *p = xcalloc(1, sizeof(*p));
	struct cfg_gen *g = runtime_hold(rt);
	char *database = xstrdup(g->cfg->daemon.database);
	char *secret = xstrdup(g->cfg->daemon.secret_file);
	char label[RELAYS_KEY_MAX * 4];
	size_t n = (size_t)g->cfg->daemon.workers;

	p->nice = g->cfg->daemon.worker_nice;
	relays_label(g->cfg, label, sizeof(label));
	relays_reset(database, g->cfg);
	runtime_release(rt, g);
	p->rt = rt;
	p->dmarc = dmarc_cache_new();
	p->relays = relays_new();
	pthread_mutex_init(&p->write, NULL);
	requeue(database);
	if (key_load(secret, p->key) < 0) {
		log_error("delivery: no token key in %s: nothing is delivered (copies stay queued) "
			  "until parleyd restarts with a usable daemon.secret_file", secret);
	} else {
		workers_start(p, n);
		log_info("delivery: %zu workers, relay %s", n, label);
	}
	free(database);
	free(secret);
	return p;
}

void delivery_stop(struct delivery_pool *p)
{
	struct pool_slot **slots;
	size_t i, left;

	if (p == NULL)
		return;
	/* an array of pointers: sizeof(*slots) is meant. NOLINTNEXTLINE(bugprone-sizeof-expression) */
	slots = xcalloc(p->n + 1, sizeof(*slots));
	for (i = 0; i < p->n; i++)
		slots[i] = &p->w[i].slot;
	left = pool_stop(slots, p->n, STOP_GRACE_MS, STOP_CUTOFF_MS);
	free(slots);
	explicit_bzero(p->key, sizeof(p->key));
	if (left > 0)
		return;	/* a worker may still use P: left to the exit */
	pthread_mutex_destroy(&p->write);
	dmarc_cache_free(p->dmarc);
	relays_free(p->relays);
	free(p->w);
	free(p);
}
