/*
 * fuzz_thread.c - libFuzzer target: the threader (lib/thread.c,
 * lib/subject.c) on a hostile message: In-Reply-To and References (long,
 * repeated, malformed ids) looked up in a scratch store, the References a
 * reply's copies would carry, and the subject rules.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "store.h"
#include "subject.h"
#include "thread.h"

static struct store *st;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup(0);
	return 0;
}

static void check_refs(const char *refs, const char *parent)
{
	char *r = thread_refs(refs, parent);
	size_t ids = 0;

	for (const char *p = r; *p; p++)
		ids += *p == ' ';
	if (ids + 1 > THREAD_REFS_MAX && refs != NULL)
		abort();
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = fuzz_setup(0);
	struct thread_in in;
	struct message m;
	char err[200], base[512];
	const char *how;
	char *hint, *s;

	if (st == NULL && (st = store_open(cfg->daemon.database)) == NULL)
		abort();
	s = fuzz_str(data, size);
	check_refs(s, "<parent@lists.example.org>");
	subject_normalise(s, "[dev]", base, sizeof(base));
	(void)subject_is_reply(s, "[dev]");
	free(s);
	if (message_parse((const char *)data, size, 100, &m, err, sizeof(err)) != 0)
		return 0;
	thread_in_set(&in, &cfg->lists[0], 1, &m, 1700000000LL);
	(void)thread_find(st, &in, &how);
	hint = thread_parent_hint(&m);
	free(hint);
	check_refs(m.references, m.message_id ? m.message_id : "<x@y>");
	subject_normalise(m.subject, cfg->lists[0].subject_prefix, base, sizeof(base));
	message_free(&m);
	return 0;
}
