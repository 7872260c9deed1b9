/*
 * cmd_inject.c - `parley inject [LIST] [-f SENDER] [-r RECIPIENT]...`: read
 * one message on standard input into the spool, for an MTA's pipe transport
 * (Postfix pipe(8): flags=Rq user=parley argv=parley inject -f ${sender}
 * -r ${recipient}).
 *
 * Exit 0 only once the message is durable in the spool; EX_TEMPFAIL (75)
 * when it cannot be made durable, so that the MTA keeps it and retries;
 * EX_NOUSER (67) for a recipient that is not one of ours, EX_DATAERR (65) for
 * a message over the size limit or with more than CONFIG_HOPS_MAX Received
 * fields (a loop), EX_USAGE (64) for bad arguments. Never
 * prints a "success" it cannot stand behind.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "recipient.h"
#include "spool.h"
#include "xalloc.h"

#define INJECT_USAGE "[LIST] [-f SENDER] [-r RECIPIENT]... < message"

/* inject_rcpt: validate RAW as one of our addresses and add it to ENV. */
static int inject_rcpt(const struct config *cfg, struct envelope *env, const char *raw)
{
	char addr[ADDRESS_MAX + 1], err[ADDRESS_ERR_MAX];
	struct rcpt_target t;

	if (address_parse_spec(raw, addr, err, sizeof(err)) < 0) {
		log_error("recipient '%s': %s", raw, err);
		return EX_NOUSER;
	}
	if (recipient_resolve(cfg, addr, &t) < 0) {
		log_error("recipient %s: no such list address here", addr);
		return EX_NOUSER;
	}
	strv_push(&env->rcpts, addr);
	return EX_OK;
}

/* to_crlf: copy IN to OUT with every bare LF made CRLF (a pipe delivers
 * LF line ends; the spool holds the message as SMTP would, in CRLF).
 * *PREV_CR carries the last byte's state across chunks. Returns OUT's length. */
static size_t to_crlf(const char *in, size_t n, char *out, int *prev_cr)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (in[i] == '\n' && !*prev_cr)
			out[o++] = '\r';
		out[o++] = in[i];
		*prev_cr = in[i] == '\r';
	}
	return o;
}

/* The Received fields of the header section read so far. */
struct hops {
	int done;	/* past the header section */
	int bol;	/* at the beginning of a line */
	size_t headn;
	char head[9];	/* the line's first bytes */
	int n;
};

static void hops_feed(struct hops *h, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && !h->done; i++) {
		if (h->bol) {
			h->bol = 0;
			h->headn = 0;
			if (p[i] == '\r' || p[i] == '\n') {
				h->done = 1;
				break;
			}
		}
		if (p[i] == '\n') {
			h->bol = 1;
		} else if (h->headn < sizeof(h->head)) {
			h->head[h->headn++] = p[i];
			if (h->headn == sizeof(h->head) && strncasecmp(h->head, "Received:", 9) == 0)
				h->n++;
		}
	}
}

static int inject_copy(struct spool_writer *w, const struct envelope *env)
{
	char buf[65536], crlf[2 * 65536];
	struct hops hops = {0, 1, 0, {0}, 0};
	size_t n;
	int over = 0, prev_cr = 0;

	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
		int r = spool_write(w, crlf, to_crlf(buf, n, crlf, &prev_cr));
		hops_feed(&hops, buf, n);
		if (r < 0) {
			spool_abort(w);
			log_error("%s: cannot write to the spool: %m", env->queue_id);
			return EX_TEMPFAIL;
		}
		over |= r > 0;
	}
	if (ferror(stdin)) {
		spool_abort(w);
		log_error("%s: reading standard input: %m", env->queue_id);
		return EX_TEMPFAIL;
	}
	if (over) {
		spool_abort(w);
		log_error("%s: message larger than daemon.limits.message_size", env->queue_id);
		return EX_DATAERR;
	}
	if (hops.n > CONFIG_HOPS_MAX) {
		spool_abort(w);
		log_error("%s: too many hops: %d Received fields (limit %d): a mail loop?",
			  env->queue_id, hops.n, CONFIG_HOPS_MAX);
		return EX_DATAERR;
	}
	if (spool_commit(w) < 0) {
		log_error("%s: cannot make the message durable: %m", env->queue_id);
		return EX_TEMPFAIL;
	}
	return EX_OK;
}

static int inject(const struct config *cfg, struct envelope *env)
{
	char trace[512], date[64], host[256] = "localhost";
	struct spool_writer *w;
	time_t now = time(NULL);
	struct tm tm;

	config_hostname(cfg, host, sizeof(host));
	env->proto = xstrdup("INJECT");
	spool_new_id(env->queue_id);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
	snprintf(trace, sizeof(trace), "Received: by %s (parley inject, uid %ld)\r\n\tid %s; %s\r\n",
		 cfg->daemon.hostname ? cfg->daemon.hostname : host, (long)getuid(),
		 env->queue_id, date);
	if (spool_init(cfg->daemon.spool) < 0)
		return EX_TEMPFAIL;
	w = spool_begin(cfg->daemon.spool, env, trace, cfg->daemon.limits.message_size);
	if (w == NULL) {
		log_error("%s: cannot create a spool file: %m", env->queue_id);
		return EX_TEMPFAIL;
	}
	return inject_copy(w, env);
}

int cmd_inject(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
					     {"rcpt", required_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	const struct config *cfg;
	const struct cfg_list *l;
	struct envelope env;
	char sender[ADDRESS_MAX + 1] = "", err[ADDRESS_ERR_MAX];
	int ch, rc = EX_OK;

	if ((cfg = cli_config(cli)) == NULL)
		return EX_TEMPFAIL;	/* a broken config is the admin's to fix: keep the mail */
	envelope_init(&env);
	while (rc == EX_OK && (ch = getopt_long(argc, argv, "f:r:", opts, NULL)) != -1) {
		if (ch == 'f') {
			if (optarg[0] != '\0' && strcmp(optarg, "<>") != 0 &&
			    address_parse_spec(optarg, sender, err, sizeof(err)) < 0) {
				log_error("sender '%s': %s", optarg, err);
				rc = EX_USAGE;
			}
		} else if (ch == 'r') {
			rc = inject_rcpt(cfg, &env, optarg);
		} else {
			cli_usage("inject", INJECT_USAGE);
			rc = EX_USAGE;
		}
	}
	if (rc == EX_OK && optind < argc) {
		if (optind + 1 < argc || (l = cli_list(cli, argv[optind], NULL)) == NULL)
			rc = optind + 1 < argc ? (cli_usage("inject", INJECT_USAGE), EX_USAGE) : EX_NOUSER;
		else
			strv_push(&env.rcpts, l->address);
	}
	if (rc == EX_OK && env.rcpts.n == 0) {
		log_error("inject: name a LIST or a recipient with -r");
		rc = EX_USAGE;
	}
	if (rc == EX_OK) {
		env.sender = xstrdup(sender);
		env.client = xstrdup("stdin");
		rc = inject(cfg, &env);
		if (rc == EX_OK && !cli->json)
			cli_printf("%s\n", env.queue_id);
	}
	envelope_free(&env);
	return rc;
}
