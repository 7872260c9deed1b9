/*
 * metrics.c - /metrics in the OpenMetrics text format (see metrics.h).
 *
 * One metric family at a time, every list's sample in it (OpenMetrics wants
 * a family's samples together): posts and replies archived, copies by the
 * status they reached (counters, from the all-time counts of store_stats,
 * which never go down), the copies waiting and the age of the oldest, and
 * the subscribers by status (gauges); per relay, up or down (a gauge) and
 * the copies it took by status (counters). List names and relay keys are
 * written as label values, escaped as the format says. Must never write anything else from
 * the store (no address, no subject): the page may be scraped by a
 * monitoring system that keeps what it reads.
 */
#include "autoconf.h"

#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_stats.h"
#include "store_sub.h"

struct list_numbers {
	const char *name;
	struct stats x;
	long long subs[SUB_STATUS__COUNT];
};

/* label: NAME="VALUE" with VALUE escaped (\\, \", \n). */
static void label(struct mbuf *b, const char *name, const char *value)
{
	char c[2] = {0, 0};

	mbuf_str(b, name);
	mbuf_str(b, "=\"");
	for (; *value; value++) {
		if (*value == '\\' || *value == '"')
			mbuf_str(b, *value == '\\' ? "\\\\" : "\\\"");
		else if (*value == '\n')
			mbuf_str(b, "\\n");
		else {
			c[0] = *value;
			mbuf_str(b, c);
		}
	}
	mbuf_str(b, "\"");
}

static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	char line[256];

	snprintf(line, sizeof(line), "# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);
	mbuf_str(b, line);
}

/* sample_by: NAME{BY="WHO"[,KEY="VALUE"]} N */
static void sample_by(struct mbuf *b, const char *name, const char *by, const char *who,
		      const char *key, const char *value, long long n)
{
	char num[32];

	mbuf_str(b, name);
	mbuf_str(b, "{");
	label(b, by, who);
	if (key != NULL) {
		mbuf_str(b, ",");
		label(b, key, value);
	}
	snprintf(num, sizeof(num), "} %lld\n", n);
	mbuf_str(b, num);
}

/* sample: NAME{list="LIST"[,KEY="VALUE"]} N */
static void sample(struct mbuf *b, const char *name, const char *list, const char *key,
		   const char *value, long long n)
{
	sample_by(b, name, "list", list, key, value, n);
}

/* relay_sample: NAME{relay="RELAY"[,status="STATUS"]} N */
static void relay_sample(struct mbuf *b, const char *name, const char *relay, const char *status,
			 long long n)
{
	sample_by(b, name, "relay", relay, status != NULL ? "status" : NULL, status, n);
}

/* write_relays: the relays R[0..N): up or down (those with a state, the
 * configured ones), and their copies by status. */
static void write_relays(struct mbuf *b, const struct stats_relay *r, int n)
{
	int i, c;

	family(b, "parley_relay_up", "gauge", "1 if the relay is up, 0 if it is marked down.");
	for (i = 0; i < n; i++)
		if (r[i].state >= 0)
			relay_sample(b, "parley_relay_up", r[i].relay, NULL, r[i].state);
	family(b, "parley_relay_copies", "counter",
	       "Copies handed to the relay by the status they reached.");
	for (i = 0; i < n; i++)
		for (c = STATS_SENT; c <= STATS_FAILED; c++)
			relay_sample(b, "parley_relay_copies_total", r[i].relay,
				     stats_copy_name((enum stats_copy)c), r[i].copies[c][STATS_R_ALL]);
}

static void write_all(struct mbuf *b, const struct list_numbers *v, size_t n, long long now)
{
	size_t i;
	int c;

	family(b, "parley_posts", "counter", "Posts archived.");
	for (i = 0; i < n; i++)
		sample(b, "parley_posts_total", v[i].name, NULL, NULL, v[i].x.posts[STATS_ALL]);
	family(b, "parley_replies", "counter", "Replies archived.");
	for (i = 0; i < n; i++)
		sample(b, "parley_replies_total", v[i].name, NULL, NULL, v[i].x.replies[STATS_ALL]);
	family(b, "parley_copies", "counter",
	       "Copies that reached a status (deferred: each time a copy was deferred).");
	for (i = 0; i < n; i++)
		for (c = 0; c < STATS__COPIES; c++)
			sample(b, "parley_copies_total", v[i].name, "status",
			       stats_copy_name((enum stats_copy)c), v[i].x.copies[c][STATS_ALL]);
	family(b, "parley_bounces", "counter", "Bounces of subscribers' copies by class.");
	for (i = 0; i < n; i++)
		for (c = 0; c < STATS__BOUNCES; c++)
			sample(b, "parley_bounces_total", v[i].name, "class",
			       stats_bounce_name((enum stats_bounce)c), v[i].x.bounces[c][STATS_ALL]);
	family(b, "parley_queue_copies", "gauge", "Copies waiting to be sent.");
	for (i = 0; i < n; i++) {
		sample(b, "parley_queue_copies", v[i].name, "state", "queued", v[i].x.queued);
		sample(b, "parley_queue_copies", v[i].name, "state", "deferred", v[i].x.deferred);
		sample(b, "parley_queue_copies", v[i].name, "state", "sending", v[i].x.sending);
	}
	family(b, "parley_queue_oldest_age_seconds", "gauge",
	       "Age of the oldest copy waiting (0: none).");
	for (i = 0; i < n; i++)
		sample(b, "parley_queue_oldest_age_seconds", v[i].name, NULL, NULL,
		       v[i].x.oldest_at && now > v[i].x.oldest_at ? now - v[i].x.oldest_at : 0);
	family(b, "parley_subscribers", "gauge", "Subscribers by status.");
	for (i = 0; i < n; i++)
		for (c = 0; c < SUB_STATUS__COUNT; c++)
			sample(b, "parley_subscribers", v[i].name, "status",
			       sub_status_name((enum sub_status)c), v[i].subs[c]);
}

int metrics_write(struct store *st, const struct config *cfg, long long now, struct mbuf *out)
{
	struct list_numbers *v = calloc(cfg->nlists ? cfg->nlists : 1, sizeof(*v));
	struct stats_relay *r = calloc(STATS_RELAYS_MAX, sizeof(*r));
	size_t i;
	int rc = 0, nr = 0;

	if (v == NULL || r == NULL) {
		free(v);
		free(r);
		return -1;
	}
	for (i = 0; i < cfg->nlists && rc == 0; i++) {
		long long id = store_list_id(st, cfg->lists[i].name);
		v[i].name = cfg->lists[i].name;
		if (id < 0 || (id > 0 && (store_stats_get(st, id, now, &v[i].x) < 0 ||
					  store_sub_counts(st, id, v[i].subs) < 0)))
			rc = -1;
	}
	if (rc == 0 && (nr = store_stats_relays(st, now, r, STATS_RELAYS_MAX)) < 0)
		rc = -1;
	if (rc == 0) {
		write_all(out, v, cfg->nlists, now);
		write_relays(out, r, nr);
		mbuf_str(out, "# EOF\n");
	}
	free(r);
	free(v);
	return rc;
}
