/*
 * cmd_sub.c - `parley sub add|rm|ls|show|export`: subscribers of one list.
 * (`sub import` is in cmd_sub_import.c.)
 *
 * Every change runs in one store transaction and records who made it. Never
 * deletes a subscriber row: `rm` unsubscribes and keeps the consent history.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "csv.h"
#include "log.h"
#include "store_sub.h"
#include "xalloc.h"

#define SUB_ADD_USAGE "LIST ADDR... [--mode all|posts|digest|nomail] [--no-confirm]"
#define SUB_LS_USAGE "LIST [--status active|pending|disabled|unsubscribed|all]"

/* parse_status_opt: "--status X" value into a mask; -1 if unknown. */
static int parse_status_opt(const char *v, unsigned *mask)
{
	enum sub_status s;

	if (strcmp(v, "all") == 0) {
		*mask = SUB_MASK_ALL;
		return 0;
	}
	if (sub_status_parse(v, &s) < 0)
		return -1;
	*mask = SUB_MASK(s);
	return 0;
}

/* add_report: one line saying what sub add did to ADDR. */
static void add_report(struct cli *cli, long long list_id, const char *addr, int rc,
		       enum sub_status want, enum sub_mode mode)
{
	struct sub now;

	switch (rc) {
	case SUB_ADD_NEW:
		cli_printf("%s: %s\n", addr, want == SUB_ACTIVE ? "subscribed" : "pending confirmation");
		return;
	case SUB_ADD_REUSED:
		cli_printf("%s: %s\n", addr,
		       want == SUB_ACTIVE ? "subscribed again" : "pending confirmation (was unsubscribed)");
		return;
	case SUB_ADD_ACTIVATED:
		cli_printf("%s: activated\n", addr);
		return;
	case SUB_ADD_MODE:
		cli_printf("%s: already subscribed, mode changed to %s\n", addr, sub_mode_name(mode));
		return;
	default:
		break;
	}
	if (store_sub_get(cli->store, list_id, addr, &now) == 1) {
		cli_printf("%s: already %s, unchanged\n", addr,
		       now.status == SUB_ACTIVE	   ? "subscribed"
		       : now.status == SUB_PENDING ? "pending confirmation"
						   : sub_status_name(now.status));
		sub_clear(&now);
	}
}

/* parse_all: parse every address of ARGV into a new array, or NULL after
 * naming each bad one (nothing is changed unless all are valid). */
static struct address *parse_all(int n, char **argv)
{
	struct address *addrs = xcalloc((size_t)n, sizeof(*addrs));
	char err[ADDRESS_ERR_MAX];
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		if (address_parse(argv[i], &addrs[i], err, sizeof(err)) < 0) {
			log_error("'%s': %s", argv[i], err);
			bad++;
		}
	}
	if (bad == 0)
		return addrs;
	for (i = 0; i < n; i++)
		address_free(&addrs[i]);
	free(addrs);
	return NULL;
}

static void free_all(struct address *addrs, int n)
{
	int i;

	for (i = 0; i < n; i++)
		address_free(&addrs[i]);
	free(addrs);
}

static int sub_add(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"mode", required_argument, NULL, 'm'},
					     {"no-confirm", no_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	struct sub_request req;
	struct address *addrs;
	long long list_id;
	int ch, i, n, r, rc = EXIT_OK;

	memset(&req, 0, sizeof(req));
	req.status = SUB_PENDING;
	req.resubscribe = 1;
	req.update_mode = 1;
	while ((ch = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
		if (ch == 'm' && sub_mode_parse(optarg, &req.mode) == 0) {
			req.mode_set = 1;
		} else if (ch == 'n') {
			req.status = SUB_ACTIVE;
			req.how = CONSENT_CLI;
		} else {
			if (ch == 'm')
				log_error("unknown mode '%s'", optarg);
			return cli_usage("sub add", SUB_ADD_USAGE);
		}
	}
	if (argc - optind < 2)
		return cli_usage("sub add", SUB_ADD_USAGE);
	n = argc - optind - 1;
	if ((addrs = parse_all(n, argv + optind + 1)) == NULL)
		return EXIT_FAIL;
	if (cli_list(cli, argv[optind], &list_id) == NULL || store_begin(cli->store) < 0) {
		free_all(addrs, n);
		return EXIT_FAIL;
	}
	req.actor = cli->actor;
	req.now = store_now();
	for (i = 0; i < n && rc == EXIT_OK; i++) {
		req.address = addrs[i].addr;
		req.name = addrs[i].name;
		r = store_sub_add(cli->store, list_id, &req);
		if (r < 0)
			rc = EXIT_FAIL;
		else
			add_report(cli, list_id, addrs[i].addr, r, req.status, req.mode);
	}
	if (rc != EXIT_OK)
		store_rollback(cli->store);
	else if (store_commit(cli->store) < 0)
		rc = EXIT_FAIL;
	free_all(addrs, n);
	return rc;
}

static int sub_rm(struct cli *cli, int argc, char **argv)
{
	struct address *addrs;
	long long list_id, now = store_now();
	int i, n = argc - 2, r, rc = EXIT_OK;

	if (argc < 3)
		return cli_usage("sub rm", "LIST ADDR...");
	if ((addrs = parse_all(n, argv + 2)) == NULL)
		return EXIT_FAIL;
	if (cli_list(cli, argv[1], &list_id) == NULL || store_begin(cli->store) < 0) {
		free_all(addrs, n);
		return EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		r = store_sub_remove(cli->store, list_id, addrs[i].addr, "cli", cli->actor, now);
		if (r < 0) {
			store_rollback(cli->store);
			free_all(addrs, n);
			return EXIT_FAIL;
		}
		if (r == 0) {
			log_error("%s: not subscribed to %s", addrs[i].addr, argv[1]);
			rc = EXIT_FAIL;
		} else {
			cli_printf("%s: unsubscribed\n", addrs[i].addr);
		}
	}
	free_all(addrs, n);
	return store_commit(cli->store) < 0 ? EXIT_FAIL : rc;
}

static void sub_json(struct json *j, const struct sub *s)
{
	char t[32];

	json_object_open(j, NULL);
	json_str(j, "address", s->address);
	json_str(j, "name", s->name);
	json_str(j, "status", sub_status_name(s->status));
	json_str(j, "mode", sub_mode_name(s->mode));
	json_object_open(j, "consent");
	json_str(j, "how", sub_consent_name(s->consent_how));
	json_str(j, "at", s->consent_at ? cli_time(s->consent_at, t, sizeof(t)) : NULL);
	json_str(j, "by", s->consent_by);
	json_object_close(j);
	json_str(j, "created_at", cli_time(s->created_at, t, sizeof(t)));
	json_str(j, "updated_at", cli_time(s->updated_at, t, sizeof(t)));
	json_str(j, "unsubscribed_at",
		 s->unsubscribed_at ? cli_time(s->unsubscribed_at, t, sizeof(t)) : NULL);
	json_double(j, "bounce_score", s->bounce_score);
}

static int ls_json_cb(const struct sub *s, void *ctx)
{
	sub_json(ctx, s);
	json_object_close(ctx);
	return 0;
}

static int ls_text_cb(const struct sub *s, void *ctx)
{
	(void)ctx;
	cli_printf("%-40s %-12s %-7s %s\n", s->address, sub_status_name(s->status),
	       sub_mode_name(s->mode), s->name ? s->name : "");
	return 0;
}

/* listing_args: parse "LIST [--status S]" of sub ls and sub export into
 * MASK and the list's row ID. EXIT_OK, or the exit code to return. */
static int listing_args(struct cli *cli, const char *cmd, int argc, char **argv, unsigned *mask,
			long long *list_id)
{
	static const struct option opts[] = {{"status", required_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	int ch;

	*mask = SUB_MASK_ALL & ~SUB_MASK(SUB_UNSUBSCRIBED);
	while ((ch = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
		if (ch != 's' || parse_status_opt(optarg, mask) < 0) {
			if (ch == 's')
				log_error("unknown status '%s'", optarg);
			return cli_usage(cmd, SUB_LS_USAGE);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, SUB_LS_USAGE);
	if (cli_list(cli, argv[optind], list_id) == NULL)
		return EXIT_FAIL;
	return EXIT_OK;
}

static int sub_ls(struct cli *cli, int argc, char **argv)
{
	unsigned mask;
	long long list_id;
	struct json j;
	int rc;

	if ((rc = listing_args(cli, "sub ls", argc, argv, &mask, &list_id)) != EXIT_OK)
		return rc;
	if (!cli->json)
		return store_sub_each(cli->store, list_id, mask, ls_text_cb, NULL) < 0 ? EXIT_FAIL
										       : EXIT_OK;
	json_init(&j, stdout);
	json_object_open(&j, NULL);
	json_str(&j, "list", argv[optind]);
	json_array_open(&j, "subscribers");
	rc = store_sub_each(cli->store, list_id, mask, ls_json_cb, &j);
	json_array_close(&j);
	json_object_close(&j);
	json_end(&j);
	return rc < 0 ? EXIT_FAIL : EXIT_OK;
}

static int event_text_cb(long long at, const char *event, const char *how, const char *actor,
			 void *ctx)
{
	char t[32];

	(void)ctx;
	cli_printf("  %s  %-13s %-16s %s\n", cli_time(at, t, sizeof(t)), event, how ? how : "-",
	       actor ? actor : "-");
	return 0;
}

static int event_json_cb(long long at, const char *event, const char *how, const char *actor,
			 void *ctx)
{
	char t[32];

	json_object_open(ctx, NULL);
	json_str(ctx, "at", cli_time(at, t, sizeof(t)));
	json_str(ctx, "event", event);
	json_str(ctx, "how", how);
	json_str(ctx, "by", actor);
	json_object_close(ctx);
	return 0;
}

static int show_text(struct cli *cli, const char *list, const struct sub *s)
{
	char t[32];

	cli_printf("address:      %s\n", s->address);
	cli_printf("name:         %s\n", s->name ? s->name : "");
	cli_printf("list:         %s\n", list);
	cli_printf("status:       %s\n", sub_status_name(s->status));
	cli_printf("mode:         %s\n", sub_mode_name(s->mode));
	if (s->consent_how != CONSENT_NONE)
		cli_printf("consent:      %s, %s, by %s\n", sub_consent_name(s->consent_how),
		       cli_time(s->consent_at, t, sizeof(t)), s->consent_by ? s->consent_by : "-");
	else
		cli_printf("consent:      none yet (awaiting confirmation)\n");
	cli_printf("created:      %s\n", cli_time(s->created_at, t, sizeof(t)));
	cli_printf("updated:      %s\n", cli_time(s->updated_at, t, sizeof(t)));
	if (s->unsubscribed_at)
		cli_printf("unsubscribed: %s\n", cli_time(s->unsubscribed_at, t, sizeof(t)));
	cli_printf("bounce score: %g\n", s->bounce_score);
	cli_printf("history:\n");
	return store_sub_events(cli->store, s->id, event_text_cb, NULL);
}

static int sub_show(struct cli *cli, int argc, char **argv)
{
	char err[ADDRESS_ERR_MAX];
	struct address a;
	struct sub s;
	struct json j;
	long long list_id;
	int r;

	if (argc != 3)
		return cli_usage("sub show", "LIST ADDR");
	if (address_parse(argv[2], &a, err, sizeof(err)) < 0) {
		log_error("'%s': %s", argv[2], err);
		return EXIT_FAIL;
	}
	address_free(&a);
	if (cli_list(cli, argv[1], &list_id) == NULL)
		return EXIT_FAIL;
	r = store_sub_get(cli->store, list_id, a.addr, &s);
	if (r <= 0) {
		if (r == 0)
			log_error("%s: not a subscriber of %s", a.addr, argv[1]);
		return EXIT_FAIL;
	}
	if (cli->json) {
		json_init(&j, stdout);
		sub_json(&j, &s);
		json_str(&j, "list", argv[1]);
		json_array_open(&j, "history");
		r = store_sub_events(cli->store, s.id, event_json_cb, &j);
		json_array_close(&j);
		json_object_close(&j);
		json_end(&j);
	} else {
		r = show_text(cli, argv[1], &s);
	}
	sub_clear(&s);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static int export_cb(const struct sub *s, void *ctx)
{
	char consent_at[32], created[32], score[32];
	const char *fields[CSV_EXPORT_COLUMNS];

	(void)ctx;
	snprintf(score, sizeof(score), "%g", s->bounce_score);
	fields[0] = s->address;
	fields[1] = s->name ? s->name : "";
	fields[2] = sub_mode_name(s->mode);
	fields[3] = sub_status_name(s->status);
	fields[4] = s->consent_how != CONSENT_NONE ? sub_consent_name(s->consent_how) : "";
	fields[5] = s->consent_at ? cli_time(s->consent_at, consent_at, sizeof(consent_at)) : "";
	fields[6] = s->consent_by ? s->consent_by : "";
	fields[7] = cli_time(s->created_at, created, sizeof(created));
	fields[8] = score;
	csv_write_row(stdout, fields, CSV_EXPORT_COLUMNS);
	return 0;
}

static int sub_export(struct cli *cli, int argc, char **argv)
{
	unsigned mask;
	long long list_id;
	int rc;

	if ((rc = listing_args(cli, "sub export", argc, argv, &mask, &list_id)) != EXIT_OK)
		return rc;
	csv_write_row(stdout, csv_export_header, CSV_EXPORT_COLUMNS);
	/* EXIT_OK means listing_args set LIST_ID: cli_usage() (cli.c) never returns EXIT_OK.
	 * NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
	return store_sub_each(cli->store, list_id, mask, export_cb, NULL) < 0 ? EXIT_FAIL : EXIT_OK;
}

static const struct cli_cmd sub_cmds[] = {
	{"add", sub_add, SUB_ADD_USAGE,
	 "subscribe addresses (\"Name <addr>\" works too). Without --no-confirm they wait,\n"
	 "      pending, for an e-mail confirmation; --no-confirm records consent given\n"
	 "      to you (how: cli). --mode on a subscribed address changes its mode."},
	{"rm", sub_rm, "LIST ADDR...", "unsubscribe addresses (their consent history is kept)"},
	{"ls", sub_ls, SUB_LS_USAGE,
	 "list subscribers (default: all but unsubscribed): address, status, mode, name"},
	{"show", sub_show, "LIST ADDR", "one subscriber: status, mode, consent record, bounce score, history"},
	{"import", cmd_sub_import, "LIST FILE|- [--mode M] [--resubscribe]",
	 "subscribe one address per line or CSV rows (address,name,mode); idempotent.\n"
	 "      Consent is recorded as 'import'. Addresses that unsubscribed before are\n"
	 "      skipped unless --resubscribe. Reports added, already there, skipped, invalid."},
	{"export", sub_export, SUB_LS_USAGE, "write subscribers as CSV (import reads it back)"},
	{NULL, NULL, NULL, NULL}};

int cmd_sub(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "sub", sub_cmds, argc, argv);
}
