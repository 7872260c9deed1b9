/*
 * cli.c - shared plumbing of the parley commands (see cli.h). Holds no state
 * of its own: everything lives in the struct cli that main() owns.
 */
#include "autoconf.h"

#include "cli.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "termsafe.h"
#include "xalloc.h"

const struct config *cli_config(struct cli *cli)
{
	struct config_errors errs = {NULL, 0};
	size_t i;

	if (cli->cfg != NULL)
		return cli->cfg;
	cli->cfg = config_load(cli->conf_path, 0, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.v[i]);
	config_errors_free(&errs);
	return cli->cfg;
}

struct store *cli_store(struct cli *cli)
{
	const struct config *cfg = cli_config(cli);

	if (cfg == NULL)
		return NULL;
	if (cli->store == NULL)
		cli->store = store_open(cfg->daemon.database);
	return cli->store;
}

const struct cfg_list *cli_list(struct cli *cli, const char *name, long long *id)
{
	const struct config *cfg = cli_config(cli);
	const struct cfg_list *l;

	if (cfg == NULL)
		return NULL;
	l = config_list_find(cfg, name);
	if (l == NULL) {
		log_error("no list '%s' in %s", name, cfg->file);
		return NULL;
	}
	if (id != NULL) {
		if (cli_store(cli) == NULL)
			return NULL;
		*id = store_list_id(cli->store, l->name);
		if (*id < 0)
			return NULL;
	}
	return l;
}

int cli_rows_end(struct cli *cli, struct json *j, sqlite3_stmt *s, int rc, const char *what)
{
	if (cli->json) {
		json_array_close(j);
		json_object_close(j);
		json_end(j);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		log_error("%s: %s", what, sqlite3_errstr(rc));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cli_usage(const char *cmd, const char *usage)
{
	fprintf(stderr, "usage: parley %s %s\n", cmd, usage);
	return EXIT_USAGE;
}

int cli_help_requested(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

static void cli_group_help(FILE *f, const char *group, const struct cli_cmd *table)
{
	const struct cli_cmd *c;

	fprintf(f, "usage: parley [-c FILE] [--json] %s COMMAND [ARGS]\n\ncommands:\n", group);
	for (c = table; c->name != NULL; c++)
		fprintf(f, "  %s %s %s\n      %s\n", group, c->name, c->usage, c->help);
	fprintf(f, "\n'parley %s COMMAND --help' shows one command.\n", group);
}

int cli_dispatch(struct cli *cli, const char *group, const struct cli_cmd *table, int argc,
		 char **argv)
{
	const struct cli_cmd *c;
	char full[64];

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		cli_group_help(argc < 2 ? stderr : stdout, group, table);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (c = table; c->name != NULL; c++) {
		if (strcmp(c->name, argv[1]) != 0)
			continue;
		snprintf(full, sizeof(full), "%s %s", group, c->name);
		if (cli_help_requested(argc - 1, argv + 1)) {
			printf("usage: parley %s %s\n\n%s\n", full, c->usage, c->help);
			return EXIT_OK;
		}
		return c->fn(cli, argc - 1, argv + 1);
	}
	fprintf(stderr, "parley: unknown command '%s %s'\n", group, argv[1]);
	cli_group_help(stderr, group, table);
	return EXIT_USAGE;
}

int cli_printf(const char *fmt, ...)
{
	char small[512], *buf = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(small)) {
		buf = xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(buf, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	termsafe_write(stdout, buf, (size_t)n, 0);
	if (buf != small)
		free(buf);	/* cppcheck-suppress autovarInvalidDeallocation ; buf is small's only when not malloc'd */
	return n;
}

const char *cli_time(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

const char *cli_subaddress(const struct config *cfg, const struct cfg_list *l,
			   const char *suffix, char *buf, size_t len)
{
	const char *at = strrchr(l->address, '@');

	snprintf(buf, len, "%.*s%c%s%s", (int)(at - l->address), l->address,
		 cfg->daemon.delimiter, suffix, at);
	return buf;
}

const char *const cli_list_suffixes[] = {"post", "subscribe", "unsubscribe", "help", "owner",
					 NULL};

static void json_strv(struct json *j, const char *key, const struct strv *sv)
{
	size_t i;

	json_array_open(j, key);
	for (i = 0; i < sv->n; i++)
		json_str(j, NULL, sv->v[i]);
	json_array_close(j);
}

void cli_json_list(struct json *j, const struct config *cfg, const struct cfg_list *l)
{
	char buf[ADDRESS_MAX + 32];
	size_t i;

	json_str(j, "name", l->name);
	json_str(j, "address", l->address);
	json_str(j, "description", l->description);
	json_str(j, "reply_policy", config_reply_policy_name(l->reply_policy));
	json_str(j, "subject_prefix", l->subject_prefix);
	json_str(j, "archive_url", l->archive_url);
	json_object_open(j, "addresses");
	for (i = 0; cli_list_suffixes[i] != NULL; i++)
		json_str(j, cli_list_suffixes[i],
			 cli_subaddress(cfg, l, cli_list_suffixes[i], buf, sizeof(buf)));
	json_object_close(j);
	json_array_open(j, "authors");
	for (i = 0; i < l->nauthors; i++)
		json_str(j, NULL, l->authors[i].address);
	json_array_close(j);
	json_strv(j, "moderators", &l->moderators);
	json_strv(j, "owners", &l->owners);
	json_double(j, "bounce_threshold", l->bounce_threshold);
}
