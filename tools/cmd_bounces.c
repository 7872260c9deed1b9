/*
 * cmd_bounces.c - `parley bounces LIST [ADDR]`: the bounce scores of a
 * list's subscribers (those with a score or a bounce history), their state
 * (active, probed, disabled), and with ADDR that subscriber's whole bounce
 * history; --json for scripts.
 *
 * Reads only: never changes a subscriber or a bounce.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "address.h"
#include "cli.h"
#include "log.h"
#include "store_bounce.h"

#define BOUNCES_USAGE "LIST [ADDR]"

struct show {
	struct cli *cli;
	struct json *j;		/* --json, or NULL */
	int history;		/* with each subscriber's bounces */
	long long now;
	long long n;
};

/* state: what the bounces made of subscriber S. */
static const char *state(const struct bounce_sub *s)
{
	if (strcmp(s->status, "disabled") == 0 && s->disabled_at != 0)
		return "disabled";
	if (strcmp(s->status, "active") != 0)
		return s->status;
	return s->probe_id != 0 ? "probed" : "active";
}

static int row_text(const struct bounce_row *r, void *ctx)
{
	char t[32];

	(void)ctx;
	cli_printf("  %s  %-9s %-4s %-6s copy %-6lld %+.1f%s %s\n", cli_time(r->at, t, sizeof(t)),
		   r->cls, r->source, r->status[0] ? r->status : "-", r->delivery_id, r->score,
		   r->probe ? " probe" : "", r->diag);
	return 0;
}

static int row_json(const struct bounce_row *r, void *ctx)
{
	char t[32];

	json_object_open(ctx, NULL);
	json_str(ctx, "at", cli_time(r->at, t, sizeof(t)));
	json_int(ctx, "delivery", r->delivery_id);
	json_str(ctx, "class", r->cls);
	json_str(ctx, "source", r->source);
	json_str(ctx, "status", r->status[0] ? r->status : NULL);
	json_str(ctx, "diagnostic", r->diag[0] ? r->diag : NULL);
	json_double(ctx, "scored", r->score);
	json_bool(ctx, "probe", r->probe);
	json_object_close(ctx);
	return 0;
}

static int sub_text(const struct bounce_sub *s, struct show *sh)
{
	char t[32];

	cli_printf("%-40s %-12s score %-5.1f last %s  bounces %lld\n", s->address, state(s),
		   bounce_effective(&s->score, sh->now),
		   cli_time(s->score.last_at, t, sizeof(t)), s->bounces);
	if (sh->history)
		return store_bounce_each(sh->cli->store, s->id, row_text, sh);
	return 0;
}

static int sub_json(const struct bounce_sub *s, struct show *sh)
{
	char t[32];
	int rc = 0;

	json_object_open(sh->j, NULL);
	json_str(sh->j, "address", s->address);
	json_str(sh->j, "status", s->status);
	json_str(sh->j, "state", state(s));
	json_double(sh->j, "score", bounce_effective(&s->score, sh->now));
	json_str(sh->j, "last_scored_at",
		 s->score.last_at ? cli_time(s->score.last_at, t, sizeof(t)) : NULL);
	if (s->probe_id != 0)
		json_int(sh->j, "probe", s->probe_id);
	else
		json_str(sh->j, "probe", NULL);
	json_str(sh->j, "disabled_at", s->disabled_at ? cli_time(s->disabled_at, t, sizeof(t)) : NULL);
	json_int(sh->j, "bounces", s->bounces);
	if (sh->history) {
		json_array_open(sh->j, "history");
		rc = store_bounce_each(sh->cli->store, s->id, row_json, sh->j);
		json_array_close(sh->j);
	}
	json_object_close(sh->j);
	return rc;
}

static int sub_cb(const struct bounce_sub *s, void *ctx)
{
	struct show *sh = ctx;

	sh->n++;
	return sh->j != NULL ? sub_json(s, sh) : sub_text(s, sh);
}

int cmd_bounces(struct cli *cli, int argc, char **argv)
{
	const struct cfg_list *l;
	char err[ADDRESS_ERR_MAX];
	struct address a;
	struct show sh;
	struct json j;
	long long list_id;
	int rc;

	if (cli_help_requested(argc, argv) || argc < 2 || argc > 3)
		return cli_usage("bounces", BOUNCES_USAGE);
	memset(&a, 0, sizeof(a));
	if (argc == 3 && address_parse(argv[2], &a, err, sizeof(err)) < 0) {
		log_error("'%s': %s", argv[2], err);
		return EXIT_FAIL;
	}
	address_free(&a);
	if ((l = cli_list(cli, argv[1], &list_id)) == NULL)
		return EXIT_FAIL;
	memset(&sh, 0, sizeof(sh));
	sh.cli = cli;
	sh.history = argc == 3;
	sh.now = store_now();
	if (cli->json) {
		sh.j = &j;
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_str(&j, "list", l->name);
		json_double(&j, "threshold", l->bounce_threshold);
		json_array_open(&j, "subscribers");
	} else {
		cli_printf("%s: bounce threshold %.1f (hard 1.0, soft 0.5, one a day, stale after "
			   "7 days)\n", l->name, l->bounce_threshold);
	}
	rc = store_bounce_subs(cli->store, list_id, argc == 3 ? a.addr : NULL, sub_cb, &sh);
	if (cli->json) {
		json_array_close(&j);
		json_object_close(&j);
		json_end(&j);
	}
	if (rc < 0)
		return EXIT_FAIL;
	if (argc == 3 && sh.n == 0) {
		log_error("%s: not a subscriber of %s", a.addr, l->name);
		return EXIT_FAIL;
	}
	if (!cli->json && sh.n == 0)
		cli_printf("no bounces\n");
	return EXIT_OK;
}
