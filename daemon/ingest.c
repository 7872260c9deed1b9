/*
 * ingest.c - spool to store (see ingest.h). Never removes a spool file whose
 * content is not committed in the store, and never stores one twice: the
 * spool id and the IMAP source are unique keys.
 */
#include "autoconf.h"

#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "log.h"
#include "message.h"
#include "recipient.h"
#include "spool.h"
#include "store_held.h"
#include "store_inbound.h"
#include "xalloc.h"

/* Record a failure; quarantine once the attempts are spent (ATTEMPTS 0: a
 * message refused for good, quarantined at once with WHY as the reason). */
static void ingest_failed(struct store *st, const struct config *cfg, const char *id,
			  int attempts, const char *why)
{
	char reason[512];

	if (attempts > 0 && attempts < INGEST_MAX_ATTEMPTS) {
		log_warn("%s: ingest attempt %d failed: %s", id, attempts, why);
		if (store_attempt_error(st, id, why) < 0)
			log_warn("%s: cannot record the failure", id);
		return;
	}
	if (attempts > 0)
		snprintf(reason, sizeof(reason), "ingest failed %d times: %s", attempts, why);
	else
		snprintf(reason, sizeof(reason), "%s", why);
	if (spool_quarantine(cfg->daemon.spool, id, reason) == 0) {
		log_error("%s: moved to quarantine: %s", id, reason);
		if (store_begin(st) == 0 && store_attempt_clear(st, id) == 0)
			store_commit(st);
		else
			store_rollback(st);
	}
}

/* Count this attempt durably before touching the message; -1 on error. */
static int ingest_attempt(struct store *st, const char *id)
{
	int n;

	if (store_begin(st) < 0)
		return -1;
	n = store_attempt_bump(st, id, store_now());
	if (n < 0 || store_commit(st) < 0) {
		store_rollback(st);
		return -1;
	}
	return n;
}

static int ingest_commit(struct store *st, const struct envelope *env, const struct message *m,
			 const char *raw, size_t len, const struct config *cfg,
			 const unsigned char *key)
{
	struct inbound_rcpt *rcpts = xcalloc(env->rcpts.n, sizeof(*rcpts));
	struct inbound_row row = {env, m, raw, len, rcpts, env->rcpts.n};
	struct rcpt_target t;
	long long id = -1;
	size_t i;

	for (i = 0; i < env->rcpts.n; i++) {
		rcpts[i].address = env->rcpts.v[i];
		if (recipient_resolve(cfg, env->rcpts.v[i], &t) == 0) {
			rcpts[i].list = t.list->name;
			rcpts[i].kind = recipient_kind_name(t.kind);
		}
	}
	if (store_begin(st) == 0) {
		struct classify_in ci = {cfg, 0, env, m, raw, len, store_now(), key, 0};
		id = store_inbound_add(st, &row, ci.now);
		ci.inbound_id = id;
		if (id < 0 || classify_message(st, &ci) < 0 ||
		    store_attempt_clear(st, env->queue_id) < 0 || store_commit(st) < 0) {
			store_rollback(st);
			id = -1;
		}
	}
	free(rcpts);
	return id < 0 ? -1 : 0;
}

static void ingest_done(struct store *st, const char *spool, const char *id, const char *what)
{
	if (store_begin(st) == 0 && store_attempt_clear(st, id) == 0)
		store_commit(st);
	else
		store_rollback(st);
	if (spool_remove(spool, id) == 0)
		log_info("%s: %s", id, what);
}

/* ingest_one: 1 if the spool file was dealt with, 0 if it stays for later. */
static int ingest_one(struct store *st, const struct config *cfg, const unsigned char *key,
		      const char *id)
{
	const char *spool = cfg->daemon.spool;
	struct envelope env;
	struct message m;
	char *raw = NULL, err[256];
	size_t len;
	int attempts, rc, dealt = 0;

	rc = store_inbound_exists(st, id);
	if (rc != 0) {
		if (rc > 0)
			ingest_done(st, spool, id, "already in the store; spool file removed");
		return rc > 0;
	}
	if ((attempts = ingest_attempt(st, id)) < 0)
		return 0;
	if (attempts > INGEST_MAX_ATTEMPTS) {
		ingest_failed(st, cfg, id, attempts - 1, "the daemon stopped while ingesting it");
		return 1;
	}
	rc = spool_load(spool, id, &env, &raw, &len);
	if (rc != 0) {
		if (rc < 0)
			ingest_failed(st, cfg, id, attempts, "unreadable spool file");
		return 1;
	}
	if (env.source != NULL && store_inbound_source_exists(st, env.source) > 0) {
		ingest_done(st, spool, id, "duplicate of an IMAP message already stored; dropped");
		dealt = 1;
	} else if ((rc = message_parse(raw, len, cfg->daemon.limits.header_count + 1 /* our Received */,
				       &m, err, sizeof(err))) < 0) {
		ingest_failed(st, cfg, id, rc == MESSAGE_REFUSED ? 0 : attempts, err);
		dealt = rc == MESSAGE_REFUSED || attempts >= INGEST_MAX_ATTEMPTS;
	} else {
		if (ingest_commit(st, &env, &m, raw, len, cfg, key) == 0 && spool_remove(spool, id) == 0) {
			log_info("%s: stored: message-id=%s from=<%s> to=<%s>%s size=%zu", id,
				 m.message_id ? m.message_id : "(none)", env.sender,
				 env.rcpts.v[0], env.rcpts.n > 1 ? ",..." : "", len);
			dealt = 1;
		}
		message_free(&m);
	}
	envelope_free(&env);
	free(raw);
	return dealt;
}

void ingest_expire(struct store *st)
{
	long long n = -1;

	if (store_begin(st) == 0 && (n = store_held_expire(st, store_now())) >= 0 &&
	    store_commit(st) == 0) {
		if (n > 0)
			log_info("%lld held posts were not confirmed in time: expired", n);
		return;
	}
	store_rollback(st);
}

int ingest_scan(struct store *st, const struct config *cfg, const unsigned char *key)
{
	struct strv ids = {NULL, 0};
	size_t i;
	int n = 0;

	if (spool_list(cfg->daemon.spool, &ids) < 0)
		return -1;
	for (i = 0; i < ids.n; i++)
		n += ingest_one(st, cfg, key, ids.v[i]);
	strv_free(&ids);
	return n;
}
