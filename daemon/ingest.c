/*
 * ingest.c - spool to store (see ingest.h). Never removes a spool file whose
 * content is not committed in the store, and never stores one twice: the
 * spool id and the IMAP source are unique keys, and a redelivery (the same
 * Message-ID and content for the same recipient) is dropped. Never counts a
 * store outage against a message, and never writes a token to the log.
 */
#include "autoconf.h"

#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "classify.h"
#include "log.h"
#include "message.h"
#include "recipient.h"
#include "spool.h"
#include "store_held.h"
#include "store_inbound.h"
#include "store_stats.h"
#include "xalloc.h"

/* quarantine: move ID out of the way with REASON and forget its attempts;
 * 1 if it was moved, 0 if it stays. */
static int quarantine(struct store *st, const struct config *cfg, const char *id,
		      const char *reason)
{
	if (spool_quarantine(cfg->daemon.spool, id, reason) < 0)
		return 0;
	log_error("%s: moved to quarantine: %s", id, reason);
	if (store_begin(st) == 0 && store_attempt_clear(st, id) == 0)
		store_commit(st);
	else
		store_rollback(st);
	return 1;
}

/* ingest_failed: count a failure of ID that would happen again (a message
 * that cannot be parsed, an unreadable spool file, a store error that is
 * not an outage); quarantine once the attempts are spent. 1 if the spool
 * file was quarantined, 0 if it stays for another attempt. */
static int ingest_failed(struct store *st, const struct config *cfg, const char *id,
			 const char *why)
{
	int n = -1;

	if (store_begin(st) == 0 && (n = store_attempt_fail(st, id, why, store_now())) >= 0 &&
	    store_commit(st) == 0) {
		char reason[512];
		if (n < INGEST_MAX_ATTEMPTS) {
			log_warn("%s: ingest attempt %d failed: %s", id, n, why);
			return 0;
		}
		snprintf(reason, sizeof(reason), "ingest failed %d times: %s", n, why);
		return quarantine(st, cfg, id, reason);
	}
	store_rollback(st);
	log_warn("%s: ingest failed (%s), and the failure cannot be counted now", id, why);
	return 0;
}

/* ingest_passing: a store error that passes (an outage: busy, full, I/O):
 * the message is fine and waits for the next scan, and the attempt does not
 * count (only an attempt that never returns does). */
static void ingest_passing(struct store *st, const char *id, const char *why)
{
	log_warn("%s: the store cannot take the message now (%s): it waits in the spool", id,
		 why);
	if (store_begin(st) == 0 && store_attempt_release(st, id) == 0 && store_commit(st) == 0)
		return;
	store_rollback(st);	/* still marked as ours: this process does not count it */
}

/* Mark this attempt durably before touching the message: the failures
 * counted so far (a mark left by a run that died counts as one), with the
 * last one in WHY; -1 on error. */
static int ingest_attempt(struct store *st, const char *id, char *why, size_t whylen)
{
	int n;

	if (store_begin(st) < 0)
		return -1;
	n = store_attempt_begin(st, id, store_runner(st), store_now(), why, whylen);
	if (n < 0 || store_commit(st) < 0) {
		store_rollback(st);
		return -1;
	}
	return n;
}

/*
 * content_hash: hex SHA-256 of RAW without its leading trace fields
 * (Received, Return-Path, Delivered-To, X-Original-To, X-Delivered-To, each
 * with its continuation lines, up to the first other field): what differs
 * between two deliveries of the same message (our own Received first of all,
 * with its queue id, date, IMAP UID; a relay's retry or a refetch adds no
 * other change). Everything from the first other field on is hashed as
 * received. OUT holds 65 bytes.
 */
static void content_hash(const char *raw, size_t len, char *out)
{
	static const char *const trace[] = {"Received:", "Return-Path:", "Delivered-To:",
					    "X-Original-To:", "X-Delivered-To:"};
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t off = 0, i, n;
	int skip = 1;

	while (off < len && skip) {
		const char *eol = memchr(raw + off, '\n', len - off);
		size_t line = eol ? (size_t)(eol - (raw + off)) + 1 : len - off;
		if (raw[off] != ' ' && raw[off] != '\t') {
			skip = 0;
			for (i = 0; i < sizeof(trace) / sizeof(trace[0]); i++) {
				n = strlen(trace[i]);
				if (line >= n && strncasecmp(raw + off, trace[i], n) == 0)
					skip = 1;
			}
			if (!skip)
				break;
		}
		off += line;
	}
	SHA256((const unsigned char *)raw + off, len - off, md);
	for (i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* new_rcpts: the recipients of ENV that have not had M (with HASH) yet,
 * into FRESH (empty: a redelivery for all of them); 0, or -1 on a store
 * error. Inside the transaction that stores the message. */
static int new_rcpts(struct store *st, const struct envelope *env, const struct message *m,
		     const char *hash, struct strv *fresh)
{
	size_t i;

	for (i = 0; i < env->rcpts.n; i++) {
		int rc = m->message_id == NULL
			     ? 0
			     : store_inbound_duplicate(st, m->message_id, hash, env->rcpts.v[i]);
		if (rc < 0)
			return -1;
		if (rc == 0)
			strv_push(fresh, env->rcpts.v[i]);
	}
	return 0;
}

/* store_and_classify: insert the row for ENV (with the recipients FRESH)
 * and act on it, inside the caller's transaction; 0 or -1. */
static int store_and_classify(struct store *st, const struct envelope *env,
			      const struct message *m, const char *raw, size_t len,
			      const char *hash, const struct config *cfg, const unsigned char *key)
{
	struct inbound_rcpt *rcpts = xcalloc(env->rcpts.n, sizeof(*rcpts));
	struct inbound_row row = {env, m, raw, len, rcpts, env->rcpts.n, hash};
	struct classify_in ci = {cfg, 0, env, m, raw, len, store_now(), key, 0};
	struct rcpt_target t;
	size_t i;
	int rc = -1;

	for (i = 0; i < env->rcpts.n; i++) {
		rcpts[i].address = env->rcpts.v[i];
		if (recipient_resolve(cfg, env->rcpts.v[i], &t) == 0) {
			rcpts[i].list = t.list->name;
			rcpts[i].kind = recipient_kind_name(t.kind);
		}
	}
	ci.inbound_id = store_inbound_add(st, &row, ci.now);
	if (ci.inbound_id >= 0 && classify_message(st, &ci) == 0)
		rc = 0;
	free(rcpts);
	return rc;
}

enum commit_rc { COMMIT_STORED, COMMIT_DUPLICATE, COMMIT_OUTAGE, COMMIT_FAILED };

/* ingest_commit: store ENV's message M and act on it in one transaction,
 * unless every recipient had it already (a redelivery: nothing is stored).
 * An error is an outage (COMMIT_OUTAGE) or not (COMMIT_FAILED, with the
 * store's message in ERR). */
static enum commit_rc ingest_commit(struct store *st, const struct envelope *env,
				    const struct message *m, const char *raw, size_t len,
				    const struct config *cfg, const unsigned char *key, char *err,
				    size_t errlen)
{
	struct envelope fresh_env = *env;
	struct strv fresh = {NULL, 0};
	char hash[2 * SHA256_DIGEST_LENGTH + 1];
	enum commit_rc rc = COMMIT_STORED;

	content_hash(raw, len, hash);
	if (store_begin(st) < 0) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(store_db(st)));
		return store_outage(st) ? COMMIT_OUTAGE : COMMIT_FAILED;
	}
	if (new_rcpts(st, env, m, hash, &fresh) < 0)
		rc = COMMIT_FAILED;
	else if (fresh.n == 0)
		rc = COMMIT_DUPLICATE;
	fresh_env.rcpts = fresh;
	if (rc == COMMIT_STORED &&
	    store_and_classify(st, &fresh_env, m, raw, len, hash, cfg, key) < 0)
		rc = COMMIT_FAILED;
	if (rc != COMMIT_FAILED && (store_attempt_clear(st, env->queue_id) < 0 || store_commit(st) < 0))
		rc = COMMIT_FAILED;
	if (rc == COMMIT_FAILED) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(store_db(st)));
		if (store_outage(st))
			rc = COMMIT_OUTAGE;
		store_rollback(st);
	}
	strv_free(&fresh);
	return rc;
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

/* log_stored: the "stored:" line; recipients with a token are written
 * without it (recipient_log_form). */
static void log_stored(const struct config *cfg, const char *id, const struct envelope *env,
		       const struct message *m, size_t len)
{
	char to[ADDRESS_MAX + 1];

	recipient_log_form(cfg, env->rcpts.v[0], to, sizeof(to));
	log_info("%s: stored: message-id=%s from=<%s> to=<%s>%s size=%zu", id,
		 m->message_id ? m->message_id : "(none)", env->sender, to,
		 env->rcpts.n > 1 ? ",..." : "", len);
}

/* ingest_parsed: commit the parsed message M of ID; 1 if dealt with. */
static int ingest_parsed(struct store *st, const struct config *cfg, const unsigned char *key,
			 const struct envelope *env, const struct message *m, const char *raw,
			 size_t len)
{
	const char *id = env->queue_id;
	char why[512];

	if (m->received_count - 1 > INGEST_HOPS_MAX) {
		snprintf(why, sizeof(why),
			 "too many hops: %d Received fields before ours (limit %d): a mail loop?",
			 m->received_count - 1, INGEST_HOPS_MAX);
		return quarantine(st, cfg, id, why);
	}
	switch (ingest_commit(st, env, m, raw, len, cfg, key, why, sizeof(why))) {
	case COMMIT_STORED:
		if (spool_remove(cfg->daemon.spool, id) < 0)
			return 0;
		log_stored(cfg, id, env, m, len);
		return 1;
	case COMMIT_DUPLICATE:
		if (spool_remove(cfg->daemon.spool, id) < 0)
			return 0;
		log_info("%s: duplicate: message-id=%s with the same content was already stored "
			 "for every recipient (a redelivery); dropped", id, m->message_id);
		return 1;
	case COMMIT_OUTAGE:
		ingest_passing(st, id, why);
		return 0;
	default:
		return ingest_failed(st, cfg, id, why);
	}
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
	int failures, rc, dealt = 0;

	rc = store_inbound_exists(st, id);
	if (rc != 0) {
		if (rc > 0)
			ingest_done(st, spool, id, "already in the store; spool file removed");
		return rc > 0;
	}
	if ((failures = ingest_attempt(st, id, err, sizeof(err))) < 0)
		return 0;
	if (failures >= INGEST_MAX_ATTEMPTS) {
		char reason[512];
		snprintf(reason, sizeof(reason), "ingest failed %d times: %s", failures,
			 err[0] ? err : "the daemon stopped while ingesting it");
		return quarantine(st, cfg, id, reason);
	}
	rc = spool_load(spool, id, &env, &raw, &len);
	if (rc != 0) {
		if (rc < 0)
			(void)ingest_failed(st, cfg, id, "unreadable spool file");
		return 1;
	}
	if (env.source != NULL && store_inbound_source_exists(st, env.source) > 0) {
		ingest_done(st, spool, id, "duplicate of an IMAP message already stored; dropped");
		dealt = 1;
	} else if ((rc = message_parse(raw, len, cfg->daemon.limits.header_count + 1 /* our Received */,
				       &m, err, sizeof(err))) < 0) {
		/* a refused structure would be refused again: quarantined at once */
		dealt = rc == MESSAGE_REFUSED ? quarantine(st, cfg, id, err)
					      : ingest_failed(st, cfg, id, err);
	} else {
		dealt = ingest_parsed(st, cfg, key, &env, &m, raw, len);
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
	    store_stats_prune(st, store_now()) >= 0 && store_commit(st) == 0) {
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
