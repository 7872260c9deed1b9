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

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../daemon/imap_poller.h"
#include "store.h"
#include "store_inbound.h"

static int lfd = -1;
static struct store *st;

struct server {
	const uint8_t *data;
	size_t size;
	int done;	/* read end of a pipe: readable when the session is over */
};

/* The server: the first connection gets the input; any later one is closed
 * at once (run_once makes one, but a bug must not hang the target). */
static void *server_run(void *arg)
{
	struct server *sv = arg;
	int first = 1;

	for (;;) {
		struct pollfd p[2] = {{lfd, POLLIN, 0}, {sv->done, POLLIN, 0}};
		int fd;
		if (poll(p, 2, 30000) <= 0 || (p[1].revents & (POLLIN | POLLHUP)))
			return NULL;
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			continue;
		if (first)
			fuzz_feed(fd, sv->data, sv->size);
		first = 0;
		close(fd);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct config *cfg;

	(void)argc;
	(void)argv;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
		perror("fuzz_imap: listen");
		abort();
	}
	cfg = fuzz_setup_imap(ntohs(sin.sin_port));
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
	struct server sv;
	pthread_t t;
	char why[512];
	const char *name;
	int done[2];

	if (lfd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 2)
		return 0;
	name = names[data[0] & 3];
	if (store_imap_set(st, name, validity[(data[0] >> 2) & 3],
			   ((data[0] >> 2) & 3) == 3 ? 0 : data[1], (long long)time(NULL)) < 0)
		abort();
	sv.data = data + 2;
	sv.size = size - 2;
	if (pipe(done) < 0)
		abort();
	sv.done = done[0];
	if (pthread_create(&t, NULL, server_run, &sv) != 0)
		abort();
	(void)imap_poller_run_once(fuzz_runtime(), name, why, sizeof(why));
	/* the reason is for a log line: one line, no control characters */
	for (const char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	close(done[1]);
	pthread_join(t, NULL);
	close(done[0]);
	fuzz_spool_clean();
	return 0;
}
