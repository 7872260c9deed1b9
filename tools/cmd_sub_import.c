/*
 * cmd_sub_import.c - `parley sub import LIST FILE|-`: bulk subscription from
 * a file of addresses, one per line ("addr" or "Name <addr>"), or CSV rows
 * (address,name,mode, or any columns named by a header line such as the one
 * `sub export` writes).
 *
 * The whole file is one transaction with prepared statements, so 100,000
 * lines take about a second and a failure imports nothing. Bad lines are
 * reported by number and never stop the good ones. Must never subscribe again
 * an address that unsubscribed, unless the admin asks with --resubscribe.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "csv.h"
#include "log.h"
#include "store_sub.h"
#include "utf8.h"
#include "xalloc.h"

#define IMPORT_USAGE "LIST FILE|- [--mode all|posts|digest|nomail] [--resubscribe]"
#define IMPORT_LINE_MAX 4096
#define IMPORT_SHOW_ERRORS 20	/* detailed on stderr; JSON keeps up to KEEP */
#define IMPORT_KEEP_ERRORS 1000

struct import_error {
	long long line;
	char *input;
	char reason[ADDRESS_ERR_MAX];
};

struct import {
	struct cli *cli;
	long long list_id;
	const char *label;		/* file name or "<stdin>" */
	struct sub_request req;		/* defaults for every row */
	int csv;			/* a header line was seen: every row is CSV */
	int col_addr, col_name, col_mode, col_status;
	long long line;
	long long added, already, skipped, invalid;
	struct import_error *errors;
	size_t nerrors;
	/* progress on a terminal */
	int progress;
	long long size;
	struct timespec last;
};

static void import_invalid(struct import *im, const char *input, const char *reason)
{
	struct import_error *e;

	im->invalid++;
	if (im->nerrors >= IMPORT_KEEP_ERRORS)
		return;
	im->errors = xreallocarray(im->errors, im->nerrors + 1, sizeof(*im->errors));
	e = &im->errors[im->nerrors++];
	e->line = im->line;
	e->input = xstrndup(input, 80);
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
}

/* A header names its columns: "address" (or "email") is required. Returns
 * 1 and sets the column map if F is a header, else 0 and changes nothing. */
static int import_header(struct import *im, char **f, int n)
{
	int i, addr = -1, name = -1, mode = -1, status = -1;

	for (i = 0; i < n; i++) {
		if (strcasecmp(f[i], "address") == 0 || strcasecmp(f[i], "email") == 0)
			addr = i;
		else if (strcasecmp(f[i], "name") == 0)
			name = i;
		else if (strcasecmp(f[i], "mode") == 0)
			mode = i;
		else if (strcasecmp(f[i], "status") == 0)
			status = i;
	}
	if (addr < 0)
		return 0;
	im->col_addr = addr;
	im->col_name = name;
	im->col_mode = mode;
	im->col_status = status;
	im->csv = 1;
	return 1;
}

static void import_count(struct import *im, int r)
{
	if (r == SUB_ADD_NEW || r == SUB_ADD_REUSED || r == SUB_ADD_ACTIVATED)
		im->added++;
	else if (r == SUB_ADD_SKIPPED)
		im->skipped++;
	else
		im->already++;
}

/* One subscription for the parsed address A (still the caller's to free);
 * NAME and MODE come from CSV columns or are NULL. -1 only on a store error. */
static int import_add(struct import *im, const char *raw, const struct address *a,
		      const char *name, const char *mode)
{
	struct sub_request req = im->req;
	char actor[256];
	int r;

	if (mode != NULL && mode[0] != '\0') {
		if (sub_mode_parse(mode, &req.mode) < 0) {
			import_invalid(im, raw, "mode is not all, posts, digest or nomail");
			return 0;
		}
		req.mode_set = 1;
	}
	if (name != NULL && name[0] != '\0') {
		if (!utf8_valid(name, strlen(name)) || utf8_has_controls(name) || strlen(name) > 256) {
			import_invalid(im, raw, "name is not valid UTF-8 text of at most 256 bytes");
			return 0;
		}
		req.name = name;
	} else {
		req.name = a->name;
	}
	snprintf(actor, sizeof(actor), "%s: %s:%lld", im->cli->actor, im->label, im->line);
	req.address = a->addr;
	req.actor = actor;
	r = store_sub_add(im->cli->store, im->list_id, &req);
	if (r < 0)
		return -1;
	import_count(im, r);
	return 0;
}

/* import_parsed: parse ADDR_FIELD and subscribe it; bad input is counted. */
static int import_parsed(struct import *im, const char *raw, const char *addr_field,
			 const char *name, const char *mode)
{
	char err[ADDRESS_ERR_MAX];
	struct address a;
	int rc;

	if (address_parse(addr_field, &a, err, sizeof(err)) < 0) {
		import_invalid(im, raw, err);
		return 0;
	}
	rc = import_add(im, raw, &a, name, mode);
	address_free(&a);
	return rc;
}

static const char *field(char **f, int n, int col)
{
	return col >= 0 && col < n ? f[col] : NULL;
}

static int import_csv_row(struct import *im, char *line, const char *raw)
{
	char *f[CSV_MAX_FIELDS];
	const char *status;
	int n = csv_split(line, f, CSV_MAX_FIELDS);

	if (n < 0) {
		import_invalid(im, raw, "malformed CSV quoting");
		return 0;
	}
	status = field(f, n, im->col_status);
	if (status != NULL && status[0] != '\0' && strcmp(status, "active") != 0) {
		im->skipped++;	/* exported as pending/disabled/unsubscribed: no consent to use */
		return 0;
	}
	if (field(f, n, im->col_addr) == NULL) {
		import_invalid(im, raw, "no address column");
		return 0;
	}
	return import_parsed(im, raw, f[im->col_addr], field(f, n, im->col_name),
			     field(f, n, im->col_mode));
}

static int import_line(struct import *im, char *line, size_t len)
{
	char raw[IMPORT_LINE_MAX + 1];
	char *f[CSV_MAX_FIELDS];
	struct address a;
	char err[ADDRESS_ERR_MAX];
	int n;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (im->line == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;	/* UTF-8 byte order mark */
		len -= 3;
	}
	if (strlen(line) != len) {
		import_invalid(im, "", "NUL byte in line");
		return 0;
	}
	line += strspn(line, " \t");
	if (line[0] == '\0' || line[0] == '#')
		return 0;
	if (len > IMPORT_LINE_MAX) {
		import_invalid(im, line, "line longer than 4096 bytes");
		return 0;
	}
	snprintf(raw, sizeof(raw), "%s", line);
	if (!im->csv) {
		if (address_parse(line, &a, err, sizeof(err)) == 0) {
			int rc = import_add(im, raw, &a, NULL, NULL);
			address_free(&a);
			return rc;
		}
		if (im->added + im->already + im->skipped + im->invalid == 0) {
			char copy[IMPORT_LINE_MAX + 1];
			snprintf(copy, sizeof(copy), "%s", line);
			n = csv_split(copy, f, CSV_MAX_FIELDS);
			if (n > 0 && import_header(im, f, n))
				return 0;
		}
		if (strchr(line, ',') == NULL) {
			import_invalid(im, raw, err);
			return 0;
		}
	}
	return import_csv_row(im, line, raw);
}

static void import_progress(struct import *im, FILE *in, int done)
{
	struct timespec now;
	long long pos;

	if (!im->progress)
		return;
	if (done) {
		fprintf(stderr, "\r\033[K");
		return;
	}
	if (im->line % 1000 != 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - im->last.tv_sec) * 1000 + (now.tv_nsec - im->last.tv_nsec) / 1000000 < 200)
		return;
	im->last = now;
	pos = ftell(in);
	if (im->size > 0 && pos >= 0)
		fprintf(stderr, "\rimporting: line %lld (%lld%%)", im->line, pos * 100 / im->size);
	else
		fprintf(stderr, "\rimporting: line %lld", im->line);
}

static int import_stream(struct import *im, FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	while (rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
		im->line++;
		rc = import_line(im, line, (size_t)len);
		import_progress(im, in, 0);
	}
	import_progress(im, in, 1);
	if (rc == 0 && ferror(in)) {
		log_error("%s: read error after line %lld", im->label, im->line);
		rc = -1;
	}
	free(line);
	return rc;
}

static void import_report(struct import *im, const char *list)
{
	struct json j;
	size_t i;

	if (im->cli->json) {
		json_init(&j, stdout);
		json_object_open(&j, NULL);
		json_str(&j, "list", list);
		json_int(&j, "added", im->added);
		json_int(&j, "already", im->already);
		json_int(&j, "skipped", im->skipped);
		json_int(&j, "invalid", im->invalid);
		json_array_open(&j, "errors");
		for (i = 0; i < im->nerrors; i++) {
			json_object_open(&j, NULL);
			json_int(&j, "line", im->errors[i].line);
			json_str(&j, "input", im->errors[i].input);
			json_str(&j, "error", im->errors[i].reason);
			json_object_close(&j);
		}
		json_array_close(&j);
		json_object_close(&j);
		json_end(&j);
		return;
	}
	for (i = 0; i < im->nerrors && i < IMPORT_SHOW_ERRORS; i++)
		fprintf(stderr, "%s:%lld: invalid: '%s': %s\n", im->label, im->errors[i].line,
			im->errors[i].input, im->errors[i].reason);
	if (im->invalid > IMPORT_SHOW_ERRORS)
		fprintf(stderr, "%s: ... and %lld more invalid lines\n", im->label,
			im->invalid - IMPORT_SHOW_ERRORS);
	cli_printf("%s: added %lld, already there %lld, skipped %lld (unsubscribed or not active), "
	       "invalid %lld",
	       list, im->added, im->already, im->skipped, im->invalid);
	if (im->invalid > 0) {
		cli_printf(" (line%s", im->invalid == 1 ? "" : "s");
		for (i = 0; i < im->nerrors && i < IMPORT_SHOW_ERRORS; i++)
			cli_printf("%s %lld", i ? "," : "", im->errors[i].line);
		cli_printf("%s)", im->invalid > IMPORT_SHOW_ERRORS ? ", ..." : "");
	}
	cli_printf("\n");
}

static void import_free(struct import *im)
{
	size_t i;

	for (i = 0; i < im->nerrors; i++)
		free(im->errors[i].input);
	free(im->errors);
}

static FILE *import_open(struct import *im, const char *path)
{
	struct stat sb;
	FILE *in;

	if (strcmp(path, "-") == 0) {
		im->label = "<stdin>";
		in = stdin;
	} else {
		im->label = path;
		in = fopen(path, "r");
		if (in == NULL) {
			log_error("%s: %m", path);
			return NULL;
		}
	}
	if (fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode))
		im->size = (long long)sb.st_size;
	im->progress = isatty(STDERR_FILENO) && !im->cli->json;
	return in;
}

int cmd_sub_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"mode", required_argument, NULL, 'm'},
					     {"resubscribe", no_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	struct import im;
	FILE *in;
	int ch, rc;

	memset(&im, 0, sizeof(im));
	im.cli = cli;
	im.col_name = 1;
	im.col_mode = 2;
	im.col_status = -1;
	im.req.status = SUB_ACTIVE;
	im.req.how = CONSENT_IMPORT;
	while ((ch = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
		if (ch == 'm' && sub_mode_parse(optarg, &im.req.mode) == 0)
			im.req.mode_set = 1;
		else if (ch == 'r')
			im.req.resubscribe = 1;
		else
			return cli_usage("sub import", IMPORT_USAGE);
	}
	if (argc - optind != 2)
		return cli_usage("sub import", IMPORT_USAGE);
	if (cli_list(cli, argv[optind], &im.list_id) == NULL)
		return EXIT_FAIL;
	if ((in = import_open(&im, argv[optind + 1])) == NULL)
		return EXIT_FAIL;
	im.req.now = store_now();
	rc = store_begin(cli->store);
	if (rc == 0)
		rc = import_stream(&im, in);
	if (rc == 0)
		rc = store_commit(cli->store);
	if (rc < 0) {
		store_rollback(cli->store);
		log_error("%s: nothing imported", im.label);
	} else {
		import_report(&im, argv[optind]);
	}
	if (in != stdin)
		fclose(in);
	import_free(&im);
	if (rc < 0)
		return EXIT_FAIL;
	return im.invalid > 0 ? EXIT_FAIL : EXIT_OK;
}
