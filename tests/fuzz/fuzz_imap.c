/*
 * fuzz_imap.c - libFuzzer target: the server's side of an IMAP session.
 * A loopback listener plays the IMAP server and sends the input (after a
 * two-byte header) as everything it says: greeting, LOGIN, CAPABILITY,
 * SELECT, UID SEARCH, UID FETCH, STORE, EXPUNGE, MOVE, LOGOUT replies; then
 * EOF. daemon/imap_poller.c runs one session against it
 * (imap_poller_run_once): every byte goes through daemon/imap_guard.c and
 * libetpan's parser, then through the poller's own handling of what was
 * parsed (UIDs, sizes, literals, the after-action), and what it takes is
 * spooled.
 *
 * Header: byte 0 picks the mailbox (low two bits: seen, delete, move) and
 * the stored UIDVALIDITY (next two bits: 1, 7 or 4294967295 with byte 1 as
 * the last UID taken, or 1 with last UID 0). So the position, catch-up and the
 * UIDVALIDITY-change pass are all reached. The store's position and the
 * spool are reset for every input: nothing carries over.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../daemon/imap_poller.h"
#include "store.h"
#include "store_inbound.h"

static int lfd = -1;
static struct store *st;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config *cfg;
	int port;

	(void)argc;
	(void)argv;
	lfd = fuzz_listen(&port);
	cfg = fuzz_setup_imap(port);
	if (cfg->nimaps != 3 || (st = store_open(cfg->daemon.database)) == NULL) {
		fprintf(stderr, "fuzz_imap: the scratch setup has no mailboxes or store\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"seen", "delete", "move", "seen"};
	static const long long validity[] = {1, 7, 4294967295LL, 1};
	struct fuzz_server sv;
	char why[512];
	const char *name;

	if (lfd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 2)
		return 0;
	name = names[data[0] & 3];
	if (store_imap_set(st, name, validity[(data[0] >> 2) & 3],
			   ((data[0] >> 2) & 3) == 3 ? 0 : data[1], (long long)time(NULL)) < 0)
		abort();
	fuzz_server_start(&sv, lfd, data + 2, size - 2);
	(void)imap_poller_run_once(fuzz_runtime(), name, why, sizeof(why));
	/* the reason is for a log line: one line, no control characters */
	for (const char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	fuzz_server_stop(&sv);
	fuzz_spool_clean();
	return 0;
}
