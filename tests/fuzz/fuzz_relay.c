/*
 * fuzz_relay.c - libFuzzer target: the relay's side of an SMTP session.
 * A loopback listener plays the relay and sends the input as its replies
 * (greeting, EHLO, MAIL, RCPT, DATA ...); daemon/smtp_client.c opens a
 * session to it and sends one message. libetpan reads the replies; what
 * we parse ourselves is the EHLO extension list we act on (SIZE, STARTTLS,
 * AUTH), the reply codes we judge and the reply text we clean and keep.
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
#include <unistd.h>

#include "../../daemon/smtp_client.h"

static int lfd = -1;

struct relay {
	const uint8_t *data;
	size_t size;
	int done;	/* read end of a pipe: readable when the client is done */
};

/* The relay: the first connection gets the input; a later one (the client
 * setting a dropped session up again) is closed at once. */
static void *relay_run(void *arg)
{
	struct relay *r = arg;
	int first = 1;

	for (;;) {
		struct pollfd p[2] = {{lfd, POLLIN, 0}, {r->done, POLLIN, 0}};
		int fd;
		if (poll(p, 2, 30000) <= 0 || (p[1].revents & (POLLIN | POLLHUP)))
			return NULL;
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			continue;
		if (first)
			fuzz_feed(fd, r->data, r->size);
		first = 0;
		close(fd);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	(void)argc;
	(void)argv;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
		perror("fuzz_relay: listen");
		abort();
	}
	fuzz_setup(ntohs(sin.sin_port));
	return 0;
}

static void check_reply(const struct smtp_reply *r)
{
	/* smtp_client.h: one line, control characters replaced */
	for (const char *p = r->text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "From: a@example.org\r\nSubject: x\r\n\r\nHello\r\n.\r\n..\r\n";
	struct config *cfg;
	struct smtp_client *c;
	struct smtp_reply reply;
	struct relay r = {data, size, -1};
	pthread_t t;
	int done[2];

	if (lfd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	cfg = fuzz_setup(0);
	if (pipe(done) < 0)
		abort();
	r.done = done[0];
	if (pthread_create(&t, NULL, relay_run, &r) != 0)
		abort();
	memset(&reply, 0, sizeof(reply));
	c = smtp_client_open(&cfg->daemon.relay, "lists.example.org", NULL, &reply);
	check_reply(&reply);
	if (c != NULL) {
		for (int i = 0; i < 2 && smtp_client_usable(c); i++) {
			memset(&reply, 0, sizeof(reply));
			smtp_client_send(c, "dev+bounce-x@lists.example.org", "bob@example.org", msg,
					 sizeof(msg) - 1, &reply);
			check_reply(&reply);
		}
		smtp_client_close(c);
	}
	close(done[1]);
	pthread_join(t, NULL);
	close(done[0]);
	return 0;
}
