/*
 * cmd_stats.c - `parley stats [LIST]` (design §4): per list (and for all
 * of them together) the posts and replies archived, the copies sent,
 * deferred, failed and cancelled, the bounces (hard, soft, complaints) in
 * the last hour, the last day and in all,
 * and the copies waiting in the queue with the oldest one's age; then the
 * relays (daemon-wide, with or without LIST): each one's state, its copies
 * sent, deferred and failed in the last minute, hour, day and in all, and
 * its rate. The numbers come from store_stats (the same as parleyd's
 * /metrics).
 * Read-only: never changes anything.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store_stats.h"
#include "xalloc.h"

static void json_spans(struct json *j, const char *key, const long long v[STATS__SPANS])
{
	int s;

	json_object_open(j, key);
	for (s = 0; s < STATS__SPANS; s++)
		json_int(j, stats_span_name((enum stats_span)s), v[s]);
	json_object_close(j);
}

/* stats_json: X as an object (member KEY, or NULL in an array) of list NAME
 * (NULL: all lists together). */
static void stats_json(struct json *j, const char *key, const char *name, const struct stats *x,
		       long long now)
{
	char t[32];
	int c;

	json_object_open(j, key);
	json_str(j, "list", name);
	json_spans(j, "posts", x->posts);
	json_spans(j, "replies", x->replies);
	json_object_open(j, "copies");
	for (c = 0; c < STATS__COPIES; c++)
		json_spans(j, stats_copy_name((enum stats_copy)c), x->copies[c]);
	json_object_close(j);
	json_object_open(j, "bounces");
	for (c = 0; c < STATS__BOUNCES; c++)
		json_spans(j, stats_bounce_name((enum stats_bounce)c), x->bounces[c]);
	json_object_close(j);
	json_object_open(j, "queue");
	json_int(j, "queued", x->queued);
	json_int(j, "deferred", x->deferred);
	json_int(j, "sending", x->sending);
	json_str(j, "oldest", x->oldest_at ? cli_time(x->oldest_at, t, sizeof(t)) : NULL);
	if (x->oldest_at)
		json_int(j, "oldest_age_seconds", now > x->oldest_at ? now - x->oldest_at : 0);
	json_object_close(j);
	json_object_close(j);
}

static void row(const char *what, const long long v[STATS__SPANS])
{
	cli_printf("  %-18s %10lld %10lld %12lld\n", what, v[STATS_HOUR], v[STATS_DAY], v[STATS_ALL]);
}

/* age: "3 h 5 min" and the like for SECONDS. */
static const char *age(long long seconds, char *buf, size_t len)
{
	if (seconds < 120)
		snprintf(buf, len, "%lld s", seconds);
	else if (seconds < 7200)
		snprintf(buf, len, "%lld min", seconds / 60);
	else if (seconds < 2 * 86400)
		snprintf(buf, len, "%lld h %lld min", seconds / 3600, seconds % 3600 / 60);
	else
		snprintf(buf, len, "%lld days %lld h", seconds / 86400, seconds % 86400 / 3600);
	return buf;
}

static void stats_text(const char *name, const struct stats *x, long long now)
{
	char what[32], t[32], a[48];
	int c;

	cli_printf("%-20s %10s %10s %12s\n", name, "last hour", "last day", "all");
	row("posts", x->posts);
	row("replies", x->replies);
	for (c = 0; c < STATS__COPIES; c++) {
		snprintf(what, sizeof(what), "copies %s", stats_copy_name((enum stats_copy)c));
		row(what, x->copies[c]);
	}
	for (c = 0; c < STATS__BOUNCES; c++) {
		if (c == STATS_COMPLAINT)
			snprintf(what, sizeof(what), "complaints");
		else
			snprintf(what, sizeof(what), "bounces %s", stats_bounce_name((enum stats_bounce)c));
		row(what, x->bounces[c]);
	}
	cli_printf("  queue: %lld queued, %lld deferred, %lld being sent", x->queued, x->deferred,
		   x->sending);
	if (x->oldest_at)
		cli_printf("; the oldest queued %s (%s ago)", cli_time(x->oldest_at, t, sizeof(t)),
			   age(now > x->oldest_at ? now - x->oldest_at : 0, a, sizeof(a)));
	cli_printf("\n");
}

static const char *relay_state(const struct stats_relay *r)
{
	return r->state > 0 ? "up" : r->state == 0 ? "down" : NULL;
}

/* relays_json: the relays R[0..N) as the array "relays". */
static void relays_json(struct json *j, const struct stats_relay *r, int n)
{
	char t[32];
	int i, c, sp;

	json_array_open(j, "relays");
	for (i = 0; i < n; i++) {
		json_object_open(j, NULL);
		json_str(j, "relay", r[i].relay);
		json_str(j, "state", relay_state(&r[i]));
		json_str(j, "down_until",
			 r[i].state == 0 && r[i].down_until ? cli_time(r[i].down_until, t, sizeof(t))
							     : NULL);
		json_str(j, "reason", r[i].state == 0 && r[i].reason[0] ? r[i].reason : NULL);
		json_object_open(j, "copies");
		for (c = STATS_SENT; c <= STATS_FAILED; c++) {
			json_object_open(j, stats_copy_name((enum stats_copy)c));
			for (sp = 0; sp < STATS__RSPANS; sp++)
				json_int(j, stats_rspan_name((enum stats_rspan)sp), r[i].copies[c][sp]);
			json_object_close(j);
		}
		json_object_close(j);
		json_object_open(j, "rate");
		json_double(j, "minute", r[i].rate_minute);
		json_double(j, "hour", r[i].rate_hour);
		json_object_close(j);
		json_object_close(j);
	}
	json_array_close(j);
}

/* relays_text: the relays R[0..N), aligned with the lists' numbers. */
static void relays_text(const struct stats_relay *r, int n)
{
	char what[32], t[32];
	int i, c;

	cli_printf("%-20s %10s %10s %10s %12s\n", "relays", "last min", "last hour", "last day",
		   "all");
	for (i = 0; i < n; i++) {
		if (r[i].state == 0)
			cli_printf("  %s: down until %s (%s)\n", r[i].relay,
				   cli_time(r[i].down_until, t, sizeof(t)),
				   r[i].reason[0] ? r[i].reason : "no reason given");
		else
			cli_printf("  %s: %s\n", r[i].relay, r[i].state > 0 ? "up" : "state unknown");
		for (c = STATS_SENT; c <= STATS_FAILED; c++) {
			snprintf(what, sizeof(what), "copies %s", stats_copy_name((enum stats_copy)c));
			cli_printf("    %-16s %10lld %10lld %10lld %12lld\n", what,
				   r[i].copies[c][STATS_R_MINUTE], r[i].copies[c][STATS_R_HOUR],
				   r[i].copies[c][STATS_R_DAY], r[i].copies[c][STATS_R_ALL]);
		}
		cli_printf("    %-16s %10.3f %10.3f\n", "sent per second", r[i].rate_minute,
			   r[i].rate_hour);
	}
}

/* relays: the relays' numbers (daemon-wide), written out. 0 or -1. */
static int relays(struct cli *cli, struct json *j, long long now)
{
	struct stats_relay *r = xcalloc(STATS_RELAYS_MAX, sizeof(*r));
	int n = store_stats_relays(cli->store, now, r, STATS_RELAYS_MAX);

	if (n >= 0 && cli->json)
		relays_json(j, r, n);
	else if (n >= 0)
		relays_text(r, n);
	free(r);
	return n < 0 ? -1 : 0;
}

/* one: the counters of list ID named NAME, written out. 0 or -1. */
static int one(struct cli *cli, struct json *j, const char *name, long long id, long long now)
{
	struct stats x;

	if (store_stats_get(cli->store, id, now, &x) < 0)
		return -1;
	if (cli->json)
		stats_json(j, NULL, name, &x, now);
	else
		stats_text(name, &x, now);
	return 0;
}

int cmd_stats(struct cli *cli, int argc, char **argv)
{
	const struct config *cfg;
	long long now = store_now(), id;
	struct json j;
	size_t i;
	int rc = 0;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return cli_usage("stats", "[LIST]");
	if ((cfg = cli_config(cli)) == NULL || cli_store(cli) == NULL)
		return EXIT_FAIL;
	if (cli->json) {
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_array_open(&j, "lists");
	}
	if (argc == 2) {
		const struct cfg_list *l = cli_list(cli, argv[1], &id);
		rc = l == NULL ? -1 : one(cli, &j, l->name, id, now);
	}
	for (i = 0; argc == 1 && rc == 0 && i < cfg->nlists; i++) {
		if (cli_list(cli, cfg->lists[i].name, &id) == NULL ||
		    one(cli, &j, cfg->lists[i].name, id, now) < 0)
			rc = -1;
		else if (!cli->json)
			cli_printf("\n");
	}
	if (cli->json)
		json_array_close(&j);
	if (argc == 1 && rc == 0) {
		struct stats x;
		if ((rc = store_stats_get(cli->store, 0, now, &x)) == 0 && cli->json)
			stats_json(&j, "all", NULL, &x, now);
		if (rc == 0 && !cli->json)
			stats_text("(all lists)", &x, now);
	}
	if (rc == 0 && !cli->json)
		cli_printf("\n");
	if (rc == 0)
		rc = relays(cli, &j, now);
	if (cli->json) {
		json_object_close(&j);
		json_end(&j);
	}
	return rc == 0 ? EXIT_OK : EXIT_FAIL;
}
