/*
 * parley.c - main() of the `parley` administration tool: global options,
 * the command table and help. Each command family lives in its own cmd_*.c.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. Never talks to the daemon
 * for commands that need only the configuration and the store.
 */
#include "autoconf.h"

#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"

static const struct cli_cmd commands[] = {
	{"check-config", cmd_check_config, "", "validate the configuration; errors as FILE:LINE: message"},
	{"lists", cmd_lists, "", "the configured lists with subscriber and post counts"},
	{"list", cmd_list, "show LIST", "one list: its settings, addresses and counts"},
	{"sub", cmd_sub, "add|rm|ls|show|import|export ...", "manage subscribers ('parley sub --help')"},
	{"archive", cmd_archive,
	 "ls LIST | thread ID|MSGID [--full] | search LIST QUERY [--limit N] | show MSGID",
	 "the archive: messages, threads, full-text search ('parley archive --help')"},
	{"bounces", cmd_bounces, "LIST [ADDR]",
	 "bounce scores and states of subscribers; with ADDR its bounce history"},
	{"queue", cmd_queue, "ls [--all] | retry [ID...] | flush [--wait]",
	 "the delivery queue ('parley queue --help')"},
	{"stats", cmd_stats, "[LIST]",
	 "posts, replies and copies in the last hour, day and in all; the queue"},
	{"mod", cmd_mod, "ls [LIST] | show ID | approve ID... | reject ID...",
	 "held messages ('parley mod --help')"},
	{"inject", cmd_inject, "[LIST] [-f SENDER] [-r RECIPIENT]... < message",
	 "put one message from standard input into the spool (for an MTA's pipe transport);\n"
	 "                exit 0 once it is durable, 75 (try again later) when it cannot be"},
	{NULL, NULL, NULL, NULL}};

static void help(FILE *f)
{
	const struct cli_cmd *c;

	fprintf(f, "usage: parley [-c FILE] [--json] COMMAND [ARGS]\n\n"
		   "Manage parley mailing lists: configuration, subscribers.\n\n"
		   "options:\n"
		   "  -c, --config FILE  configuration file (default $PARLEY_CONF or %s/parley.conf)\n"
		   "      --json         machine-readable output (anywhere on the line)\n"
		   "  -v, --verbose      more diagnostics\n"
		   "  -h, --help         this help; 'parley COMMAND --help' for one command\n"
		   "  -V, --version      print the version\n\n"
		   "commands:\n",
		PARLEY_SYSCONFDIR);
	for (c = commands; c->name != NULL; c++)
		fprintf(f, "  %-13s %s\n", c->name, c->help);
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error. See parley(1).\n");
}

static void set_actor(struct cli *cli)
{
	const char *who = getenv("SUDO_USER");
	struct passwd *pw;

	if (who == NULL || who[0] == '\0') {
		pw = getpwuid(getuid());
		who = pw ? pw->pw_name : NULL;
	}
	if (who != NULL)
		snprintf(cli->actor, sizeof(cli->actor), "%s", who);
	else
		snprintf(cli->actor, sizeof(cli->actor), "uid %ld", (long)getuid());
}

/* strip_json: remove "--json" after the command name (until "--"). */
static int strip_json(struct cli *cli, int argc, char **argv)
{
	int i, j;

	for (i = j = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[j++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--json") == 0)
			cli->json = 1;
		else
			argv[j++] = argv[i];
	}
	argv[j] = NULL;
	return j;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"json", no_argument, NULL, 'j'},
					     {"verbose", no_argument, NULL, 'v'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	struct cli cli;
	const struct cli_cmd *c;
	int ch, rc;

	memset(&cli, 0, sizeof(cli));
	log_init("parley", LOG_DEST_STDERR);
	cli.conf_path = getenv("PARLEY_CONF");
	if (cli.conf_path == NULL || cli.conf_path[0] == '\0')
		cli.conf_path = PARLEY_SYSCONFDIR "/parley.conf";
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:vhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli.conf_path = optarg;
			break;
		case 'j':
			cli.json = 1;
			break;
		case 'v':
			log_set_verbose(1);
			break;
		case 'h':
			help(stdout);
			return EXIT_OK;
		case 'V':
			printf("parley %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		case ':':
			fprintf(stderr, "parley: option '%s' needs an argument\n", argv[optind - 1]);
			help(stderr);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "parley: unknown option '%s'\n", argv[optind - 1]);
			help(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	argc = strip_json(&cli, argc, argv);
	if (argc == 0) { /* nothing, or only --json (after "--" too) */
		help(stderr);
		return EXIT_USAGE;
	}
	set_actor(&cli);
	for (c = commands; c->name != NULL; c++)
		if (strcmp(c->name, argv[0]) == 0)
			break;
	if (c->name == NULL) {
		fprintf(stderr, "parley: unknown command '%s'\n", argv[0]);
		help(stderr);
		return EXIT_USAGE;
	}
	if (c->fn != cmd_sub && c->fn != cmd_list && c->fn != cmd_archive && c->fn != cmd_queue &&
	    c->fn != cmd_mod &&
	    cli_help_requested(argc, argv)) {
		printf("usage: parley %s %s\n\n%s\n", c->name, c->usage, c->help);
		return EXIT_OK;
	}
	optind = 0;	/* reset getopt for the command's own options */
	rc = c->fn(&cli, argc, argv);
	store_close(cli.store);
	config_free(cli.cfg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("writing output: %m");
		return EXIT_FAIL;
	}
	return rc;
}
