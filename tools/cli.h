/*
 * cli.h - what every `parley` command shares: the invocation context, lazy
 * access to the configuration and the store, exit codes and formatting.
 *
 * Commands print results on stdout and diagnostics on stderr (through
 * log.h); they return an exit code instead of exiting, so that main() closes
 * the store on every path.
 */
#ifndef PARLEY_CLI_H
#define PARLEY_CLI_H

#include <stdio.h>

#include "config.h"
#include "json.h"
#include "store.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct cli {
	const char *conf_path;
	int json;		/* --json: machine-readable output */
	struct config *cfg;	/* loaded by cli_config() */
	struct store *store;	/* opened by cli_store() */
	char actor[128];	/* who runs us, for consent records */
};

/* A command: ARGV[0] is the command's own name. Returns an exit code. */
typedef int (*cli_cmd_fn)(struct cli *cli, int argc, char **argv);

struct cli_cmd {
	const char *name;
	cli_cmd_fn fn;
	const char *usage;	/* "LIST ADDR... [--mode M]" */
	const char *help;	/* one line */
};

/* cli_config: the loaded configuration, or NULL after printing its errors. */
const struct config *cli_config(struct cli *cli);

/* cli_store: the opened store, or NULL after logging why. */
struct store *cli_store(struct cli *cli);

/* cli_list: the configured list NAME and its row id in *ID, or NULL after
 * printing an error. */
const struct cfg_list *cli_list(struct cli *cli, const char *name, long long *id);

/* cli_usage: print "usage: parley CMD USAGE" to stderr; returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *usage);

/* cli_help_requested: 1 if ARGV has -h or --help. */
int cli_help_requested(int argc, char **argv);

/* cli_dispatch: run the sub-command of TABLE named ARGV[1] (for "sub", ...). */
int cli_dispatch(struct cli *cli, const char *group, const struct cli_cmd *table, int argc,
		 char **argv);

/* cli_rows_end: the end of a listing: with --json close J's array and
 * object; finalize S; RC is the last sqlite3_step result. EXIT_OK, or
 * EXIT_FAIL after saying WHAT failed. */
int cli_rows_end(struct cli *cli, struct json *j, sqlite3_stmt *s, int rc, const char *what);

/* cli_printf: printf to stdout for a human reader: everything written,
 * the arguments above all, goes through termsafe_write (TAB and LF kept,
 * every other control escaped). Every printer of untrusted text uses it
 * (or termsafe_* directly); --json output goes through json.h. */
int cli_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_time: "2026-11-23T18:20:56Z" for T (or "-" for 0) in BUF. */
const char *cli_time(long long t, char *buf, size_t len);

/* cli_subaddress: "L+SUFFIX@domain" of list L into BUF. */
const char *cli_subaddress(const struct config *cfg, const struct cfg_list *l,
			   const char *suffix, char *buf, size_t len);

/* The sub-address suffixes every list answers (design §2), NULL-ended. */
extern const char *const cli_list_suffixes[];

/* cli_json_list: a list's configuration as members of the open JSON object. */
void cli_json_list(struct json *j, const struct config *cfg, const struct cfg_list *l);

/* Commands (one file per family). */
int cmd_check_config(struct cli *cli, int argc, char **argv);
int cmd_lists(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_sub(struct cli *cli, int argc, char **argv);
int cmd_sub_import(struct cli *cli, int argc, char **argv);
int cmd_inject(struct cli *cli, int argc, char **argv);
int cmd_archive(struct cli *cli, int argc, char **argv);
int cmd_mod(struct cli *cli, int argc, char **argv);
int cmd_queue(struct cli *cli, int argc, char **argv);
int cmd_stats(struct cli *cli, int argc, char **argv);
int cmd_bounces(struct cli *cli, int argc, char **argv);

#endif
