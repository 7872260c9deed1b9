/*
 * cmd_config.c - `parley check-config`: load the configuration, print what
 * was loaded (daemon settings, lists and all their addresses) or every error
 * as FILE:LINE: message. Never opens the store: it must work before the
 * database exists.
 */
#include "autoconf.h"

#include <string.h>

#include "cli.h"

static void print_strv(const char *label, const struct strv *sv)
{
	size_t i;

	cli_printf("  %-10s", label);
	if (sv->n == 0)
		cli_printf(" (none)");
	for (i = 0; i < sv->n; i++)
		cli_printf(" %s", sv->v[i]);
	cli_printf("\n");
}

static const char *const from_rewrite_names[] = {"always", "dmarc", "never"};

/* signing: the dkim group that signs L's copies (its own or the daemon's),
 * or NULL. */
static const struct cfg_dkim *signing(const struct config *cfg, const struct cfg_list *l)
{
	const struct cfg_dkim *d = l->dkim.set ? &l->dkim : &cfg->daemon.dkim;

	return d->set ? d : NULL;
}

static void text_signing(const struct config *cfg, const struct cfg_list *l)
{
	const struct cfg_dkim *d = signing(cfg, l);

	cli_printf("  from_rewrite %s\n", from_rewrite_names[l->from_rewrite]);
	if (d == NULL) {
		cli_printf("  dkim         (copies are not signed)\n");
		return;
	}
	cli_printf("  dkim         s=%s (%s)%s%s%s%s\n", d->selector,
		   d->algorithm == CFG_DKIM_ED25519 ? "ed25519-sha256" : "rsa-sha256",
		   d->algorithm == CFG_DKIM_BOTH ? ", s=" : "",
		   d->algorithm == CFG_DKIM_BOTH ? d->ed25519_selector : "",
		   d->algorithm == CFG_DKIM_BOTH ? " (ed25519-sha256)" : "", d->arc ? ", ARC seal" : "");
}

static void json_signing(struct json *j, const struct config *cfg, const struct cfg_list *l)
{
	const struct cfg_dkim *d = signing(cfg, l);

	json_str(j, "from_rewrite", from_rewrite_names[l->from_rewrite]);
	json_array_open(j, "dkim_selectors");
	if (d != NULL) {
		json_str(j, NULL, d->selector);
		if (d->algorithm == CFG_DKIM_BOTH)
			json_str(j, NULL, d->ed25519_selector);
	}
	json_array_close(j);
	json_bool(j, "arc", d != NULL && d->arc);
}

static void text_list(const struct config *cfg, const struct cfg_list *l)
{
	char buf[ADDRESS_MAX + 32];
	size_t i;

	cli_printf("list %s <%s>\n", l->name, l->address);
	cli_printf("  reply_policy %s, %zu author%s, %zu moderator%s\n",
	       config_reply_policy_name(l->reply_policy), l->nauthors, l->nauthors == 1 ? "" : "s",
	       l->moderators.n, l->moderators.n == 1 ? "" : "s");
	for (i = 0; cli_list_suffixes[i] != NULL; i++)
		cli_printf("  %-12s %s\n", cli_list_suffixes[i],
		       cli_subaddress(cfg, l, cli_list_suffixes[i], buf, sizeof(buf)));
	for (i = 0; i < l->nauthors; i++)
		cli_printf("  author       %s%s\n", l->authors[i].address,
		       l->authors[i].secret ? " (secret post address)" : "");
	text_signing(cfg, l);
}

static void text_out(const struct config *cfg)
{
	const struct cfg_daemon *d = &cfg->daemon;
	size_t i;

	cli_printf("%s: ok\n", cfg->file);
	cli_printf("daemon\n");
	cli_printf("  user       %s\n", d->user ? d->user : "(default: parley, if that user exists)");
	cli_printf("  spool      %s\n", d->spool);
	cli_printf("  database   %s\n", d->database);
	cli_printf("  pid_file   %s\n", d->pid_file);
	print_strv("lmtp", &d->lmtp_listen);
	print_strv("smtp", &d->smtp_listen);
	print_strv("http", &d->http_listen);
	cli_printf("  metrics    %s\n", d->http_metrics == HTTP_METRICS_ANY ? "any"
				    : d->http_metrics == HTTP_METRICS_OFF ? "off"
									  : "local");
	cli_printf("  tls        %s\n", d->tls_cert ? d->tls_cert : "(no certificate: no STARTTLS)");
	for (i = 0; i < d->nrelays; i++) {
		const struct cfg_relay *r = &d->relays[i];
		cli_printf("  relay      %s:%d starttls=%s%s%s%s", r->host, r->port,
		       config_relay_tls_name(r->starttls),
		       r->starttls != RELAY_TLS_NO && !r->tls_verify ? " (unverified)" : "",
		       r->auth_user ? " auth=" : "", r->auth_user ? r->auth_user : "");
		if (d->nrelays > 1 || r->max_connections || r->rate || r->max_per_connection)
			cli_printf(" weight=%d max_connections=%d rate=%d max_per_connection=%d",
				   r->weight, r->max_connections, r->rate, r->max_per_connection);
		cli_printf("\n");
	}
	cli_printf("  workers    %d (nice +%d)\n", d->workers, d->worker_nice);
	cli_printf("  max size   %lld bytes\n", d->limits.message_size);
	cli_printf("%zu list%s\n", cfg->nlists, cfg->nlists == 1 ? "" : "s");
	for (i = 0; i < cfg->nlists; i++)
		text_list(cfg, &cfg->lists[i]);
	for (i = 0; i < cfg->nimaps; i++) {
		const struct cfg_imap *m = &cfg->imaps[i];
		cli_printf("imap %s\n  %s:%d tls=%s%s, then %s%s%s, for %s\n", m->name, m->host, m->port,
		       config_imap_tls_name(m->tls), m->tls_verify ? "" : " (unverified)",
		       config_imap_after_name(m->after), m->move_to ? " to " : "",
		       m->move_to ? m->move_to : "", m->recipient);
	}
}

static void json_out(const struct config *cfg)
{
	const struct cfg_daemon *d = &cfg->daemon;
	struct json j;
	size_t i;

	json_init(&j, stdout);
	json_object_open(&j, NULL);
	json_str(&j, "file", cfg->file);
	json_bool(&j, "ok", 1);
	json_object_open(&j, "daemon");
	json_str(&j, "user", d->user);
	json_str(&j, "spool", d->spool);
	json_str(&j, "database", d->database);
	json_str(&j, "pid_file", d->pid_file);
	json_array_open(&j, "lmtp");
	for (i = 0; i < d->lmtp_listen.n; i++)
		json_str(&j, NULL, d->lmtp_listen.v[i]);
	json_array_close(&j);
	json_array_open(&j, "smtp");
	for (i = 0; i < d->smtp_listen.n; i++)
		json_str(&j, NULL, d->smtp_listen.v[i]);
	json_array_close(&j);
	json_array_open(&j, "http");
	for (i = 0; i < d->http_listen.n; i++)
		json_str(&j, NULL, d->http_listen.v[i]);
	json_array_close(&j);
	json_str(&j, "relay", d->relay.host);
	json_int(&j, "relay_port", d->relay.port);
	json_bool(&j, "relay_tls_verify", d->relay.tls_verify);
	json_array_open(&j, "relays");
	for (i = 0; i < d->nrelays; i++) {
		json_object_open(&j, NULL);
		json_str(&j, "host", d->relays[i].host);
		json_int(&j, "port", d->relays[i].port);
		json_int(&j, "weight", d->relays[i].weight);
		json_int(&j, "max_connections", d->relays[i].max_connections);
		json_int(&j, "rate", d->relays[i].rate);
		json_int(&j, "max_per_connection", d->relays[i].max_per_connection);
		json_bool(&j, "tls_verify", d->relays[i].tls_verify);
		json_object_close(&j);
	}
	json_array_close(&j);
	json_int(&j, "message_size", d->limits.message_size);
	json_object_close(&j);
	json_array_open(&j, "lists");
	for (i = 0; i < cfg->nlists; i++) {
		json_object_open(&j, NULL);
		cli_json_list(&j, cfg, &cfg->lists[i]);
		json_signing(&j, cfg, &cfg->lists[i]);
		json_object_close(&j);
	}
	json_array_close(&j);
	json_array_open(&j, "imap");
	for (i = 0; i < cfg->nimaps; i++) {
		json_object_open(&j, NULL);
		json_str(&j, "name", cfg->imaps[i].name);
		json_str(&j, "host", cfg->imaps[i].host);
		json_int(&j, "port", cfg->imaps[i].port);
		json_str(&j, "folder", cfg->imaps[i].folder);
		json_str(&j, "recipient", cfg->imaps[i].recipient);
		json_object_close(&j);
	}
	json_array_close(&j);
	json_object_close(&j);
	json_end(&j);
}

static void json_errors(const char *file, const struct config_errors *errs)
{
	struct json j;
	size_t i;

	json_init(&j, stdout);
	json_object_open(&j, NULL);
	json_str(&j, "file", file);
	json_bool(&j, "ok", 0);
	json_array_open(&j, "errors");
	for (i = 0; i < errs->n; i++)
		json_str(&j, NULL, errs->v[i]);
	json_array_close(&j);
	json_object_close(&j);
	json_end(&j);
}

int cmd_check_config(struct cli *cli, int argc, char **argv)
{
	struct config_errors errs = {NULL, 0};
	size_t i;

	(void)argv;
	if (argc > 1)
		return cli_usage("check-config", "");
	cli->cfg = config_load(cli->conf_path, CONFIG_CHECK_FILES | CONFIG_LOAD_KEYS, &errs);
	if (cli->cfg == NULL) {
		if (cli->json)
			json_errors(cli->conf_path, &errs);
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		fprintf(stderr, "%s: %zu error%s\n", cli->conf_path, errs.n, errs.n == 1 ? "" : "s");
		config_errors_free(&errs);
		return EXIT_FAIL;
	}
	for (i = 0; i < cli->cfg->warnings.n; i++)
		fprintf(stderr, "warning: %s\n", cli->cfg->warnings.v[i]);
	if (cli->json)
		json_out(cli->cfg);
	else
		text_out(cli->cfg);
	return EXIT_OK;
}
