/*
 * cmd_list.c - `parley lists` and `parley list show LIST`: the configured
 * lists with the counts the store holds for them. Read-only: never changes a
 * subscriber.
 */
#include "autoconf.h"

#include <string.h>

#include "cli.h"
#include "log.h"
#include "store_sub.h"

struct list_stats {
	long long counts[SUB_STATUS__COUNT];
	long long posts;
	long long last_post_at;
};

static int list_stats(struct cli *cli, const struct cfg_list *l, struct list_stats *out)
{
	sqlite3_stmt *s;
	long long id;

	memset(out, 0, sizeof(*out));
	if (cli_list(cli, l->name, &id) == NULL || store_sub_counts(cli->store, id, out->counts) < 0)
		return -1;
	s = store_prepare(cli->store, STMT_LIST_GET_STATE,
			  "SELECT post_count, last_post_at FROM lists WHERE id = ?1");
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		out->posts = sqlite3_column_int64(s, 0);
		out->last_post_at = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return 0;
}

static void json_counts(struct json *j, const struct list_stats *st)
{
	int i;

	json_int(j, "subscribers", st->counts[SUB_ACTIVE]);
	json_object_open(j, "by_status");
	for (i = 0; i < SUB_STATUS__COUNT; i++)
		json_int(j, sub_status_name((enum sub_status)i), st->counts[i]);
	json_object_close(j);
	json_int(j, "posts", st->posts);
}

int cmd_lists(struct cli *cli, int argc, char **argv)
{
	const struct config *cfg;
	struct list_stats st;
	struct json j;
	size_t i;

	(void)argv;
	if (argc > 1)
		return cli_usage("lists", "");
	if ((cfg = cli_config(cli)) == NULL || cli_store(cli) == NULL)
		return EXIT_FAIL;
	if (cli->json) {
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_array_open(&j, "lists");
	} else {
		cli_printf("%-20s %-36s %8s %8s %8s\n", "NAME", "ADDRESS", "ACTIVE", "PENDING", "POSTS");
	}
	for (i = 0; i < cfg->nlists; i++) {
		const struct cfg_list *l = &cfg->lists[i];
		if (list_stats(cli, l, &st) < 0)
			return EXIT_FAIL;
		if (cli->json) {
			json_object_open(&j, NULL);
			json_str(&j, "name", l->name);
			json_str(&j, "address", l->address);
			json_str(&j, "description", l->description);
			json_str(&j, "reply_policy", config_reply_policy_name(l->reply_policy));
			json_counts(&j, &st);
			json_object_close(&j);
		} else {
			cli_printf("%-20s %-36s %8lld %8lld %8lld\n", l->name, l->address,
			       st.counts[SUB_ACTIVE], st.counts[SUB_PENDING], st.posts);
		}
	}
	if (cli->json) {
		json_array_close(&j);
		json_object_close(&j);
		json_end(&j);
	}
	return EXIT_OK;
}

static void show_text(const struct config *cfg, const struct cfg_list *l,
		      const struct list_stats *st)
{
	char buf[ADDRESS_MAX + 32], t[32];
	size_t i;

	cli_printf("name:           %s\n", l->name);
	cli_printf("address:        %s\n", l->address);
	if (l->description)
		cli_printf("description:    %s\n", l->description);
	cli_printf("reply policy:   %s\n", config_reply_policy_name(l->reply_policy));
	cli_printf("subject prefix: %s\n", l->subject_prefix ? l->subject_prefix : "(none)");
	cli_printf("archive url:    %s\n", l->archive_url ? l->archive_url : "(none)");
	for (i = 0; cli_list_suffixes[i] != NULL; i++)
		cli_printf("%-15s %s\n", cli_list_suffixes[i], cli_subaddress(cfg, l, cli_list_suffixes[i], buf, sizeof(buf)));
	for (i = 0; i < l->nauthors; i++)
		cli_printf("author:         %s%s\n", l->authors[i].address,
		       l->authors[i].secret ? " (has a secret post address)" : "");
	for (i = 0; i < l->moderators.n; i++)
		cli_printf("moderator:      %s\n", l->moderators.v[i]);
	for (i = 0; i < l->owners.n; i++)
		cli_printf("owner:          %s\n", l->owners.v[i]);
	cli_printf("bounce threshold: %g\n", l->bounce_threshold);
	cli_printf("subscribers:    %lld active, %lld pending, %lld disabled, %lld unsubscribed\n",
	       st->counts[SUB_ACTIVE], st->counts[SUB_PENDING], st->counts[SUB_DISABLED],
	       st->counts[SUB_UNSUBSCRIBED]);
	cli_printf("posts:          %lld (last %s)\n", st->posts, cli_time(st->last_post_at, t, sizeof(t)));
}

static void show_json(const struct config *cfg, const struct cfg_list *l,
		      const struct list_stats *st)
{
	struct json j;

	json_init(&j, stdout);
	json_object_open(&j, NULL);
	cli_json_list(&j, cfg, l);
	json_counts(&j, st);
	json_object_close(&j);
	json_end(&j);
}

static int cmd_list_show(struct cli *cli, int argc, char **argv)
{
	const struct cfg_list *l;
	struct list_stats st;

	if (argc != 2)
		return cli_usage("list show", "LIST");
	if ((l = cli_list(cli, argv[1], NULL)) == NULL || list_stats(cli, l, &st) < 0)
		return EXIT_FAIL;
	if (cli->json)
		show_json(cli->cfg, l, &st);
	else
		show_text(cli->cfg, l, &st);
	return EXIT_OK;
}

static const struct cli_cmd list_cmds[] = {
	{"show", cmd_list_show, "LIST", "a list's settings, addresses and counts"},
	{NULL, NULL, NULL, NULL}};

int cmd_list(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "list", list_cmds, argc, argv);
}
