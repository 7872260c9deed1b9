/*
 * fuzz_smtp.c - libFuzzer target: one SMTP or LMTP session (daemon/
 * smtp_server.c) fed the input as the client's bytes: command lines,
 * pipelining, MAIL/RCPT paths and parameters, and the DATA state machine
 * (dot-stuffing, bare CR and LF, line and size limits) down to the spool.
 * The first byte's low bit picks LMTP. Every message accepted must be
 * what smtp_server.h promises: CRLF lines only (no bare CR or LF, so no
 * second message smuggled inside), within the size limit, with at least
 * one recipient that is ours; then it is deleted.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/smtp_server.h"
#include "recipient.h"
#include "spool.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup(0);
	return 0;
}

static void check_message(const struct config *cfg, const char *msg, size_t len,
			  const struct envelope *env)
{
	struct rcpt_target t;

	if (len > (size_t)cfg->daemon.limits.message_size + 4096 || env->rcpts.n == 0)
		abort();
	for (size_t i = 0; i < len; i++) {
		int bare = (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r')) ||
			   (msg[i] == '\r' && (i + 1 == len || msg[i + 1] != '\n'));
		if (bare) {
			fprintf(stderr, "fuzz_smtp: accepted message with a bare CR or LF at %zu\n", i);
			abort();
		}
	}
	for (size_t i = 0; i < env->rcpts.n; i++)
		if (recipient_resolve(cfg, env->rcpts.v[i], &t) != 0)
			abort();
}

static void check_spool(const struct config *cfg)
{
	struct strv ids = {NULL, 0};

	if (spool_list(cfg->daemon.spool, &ids) < 0)
		abort();
	for (size_t i = 0; i < ids.n; i++) {
		struct envelope env;
		char *msg = NULL;
		size_t len = 0;
		envelope_init(&env);
		if (spool_load(cfg->daemon.spool, ids.v[i], &env, &msg, &len) != 0)
			abort();
		check_message(cfg, msg, len, &env);
		free(msg);
		envelope_free(&env);
	}
	strv_free(&ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = fuzz_setup(0);

	if (size < 1)
		return 0;
	fuzz_session(smtp_session, data[0] & 1, data + 1, size - 1);
	check_spool(cfg);
	fuzz_spool_clean();
	return 0;
}
