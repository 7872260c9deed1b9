/*
 * fuzz_relay.c - libFuzzer target: the relay's side of an SMTP session.
 * A loopback listener plays the relay and sends the input as its replies
 * (greeting, EHLO, MAIL, RCPT, DATA ...); daemon/smtp_client.c opens a
 * session to it, sends one copy, then a batch of three (pipelined across
 * copies when the input's EHLO offers PIPELINING; the second has an address
 * we refuse to send). smtp_reply.c reads every reply; smtp_client.c acts
 * on the EHLO extensions (PIPELINING, SIZE, STARTTLS, AUTH), judges the
 * codes and keeps the cleaned text. Every outcome must have a one-line
 * reply text, and a batch never counts more copies sent than it has.
 */
#include "autoconf.h"

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/smtp_client.h"

static int lfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int port;

	(void)argc;
	(void)argv;
	lfd = fuzz_listen(&port);
	fuzz_setup(port);
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
	struct fuzz_server sv;

	if (lfd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	cfg = fuzz_setup(0);
	fuzz_server_start(&sv, lfd, data, size);
	memset(&reply, 0, sizeof(reply));
	c = smtp_client_open(&cfg->daemon.relay, "lists.example.org", NULL, &reply);
	check_reply(&reply);
	if (c != NULL) {
		struct smtp_copy v[3];
		memset(&reply, 0, sizeof(reply));
		smtp_client_send(c, "dev+bounce-x@lists.example.org", "bob@example.org", msg,
				 sizeof(msg) - 1, &reply);
		check_reply(&reply);
		memset(v, 0, sizeof(v));
		for (int i = 0; i < 3; i++) {
			v[i].from = "dev+bounce-y@lists.example.org";
			v[i].to = i == 1 ? "bad\r\naddress@example.org" : "carol@example.org";
			v[i].msg = msg;
			v[i].len = sizeof(msg) - 1;
		}
		if (smtp_client_usable(c)) {
			if (smtp_client_send_batch(c, v, 3) > 2 || v[1].outcome != SMTP_FAIL)
				abort();	/* the refused address is never sent */
			for (int i = 0; i < 3; i++)
				check_reply(&v[i].reply);
		}
		smtp_client_close(c);
	}
	fuzz_server_stop(&sv);
	return 0;
}
