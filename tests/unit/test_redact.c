/*
 * test_redact.c - the redactor (lib/redact.c): sub-addresses of every list
 * in any case and position, author secrets as words, the list address and
 * look-alike addresses kept, and nothing else changed.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "tap.h"

static struct config cfg;
static struct cfg_list lists[2];
static struct cfg_author author;

/* red: S redacted, into a static buffer. */
static const char *red(const char *s, size_t *count)
{
	static char buf[4096];
	struct mbuf b = {0};
	size_t c = redact_text(&b, s, strlen(s), &cfg);

	if (count)
		*count = c;
	snprintf(buf, sizeof(buf), "%s", b.p ? b.p : "");
	mbuf_free(&b);
	return buf;
}

int main(void)
{
	size_t c;
	char *s;

	strcpy(lists[0].address, "dev@lists.example.org");
	strcpy(lists[1].address, "ann@example.net");
	static char secret[] = "Zk4Q9xSecret";
	author.secret = secret;
	lists[0].authors = &author;
	lists[0].nauthors = 1;
	cfg.lists = lists;
	cfg.nlists = 2;
	cfg.daemon.delimiter = '+';

	is_str(red("Received: by mx for <dev+post-Zk4Q9xSecret@lists.example.org>; Mon", &c),
	       "Received: by mx for <dev+redacted@lists.example.org>; Mon",
	       "a post secret in Received: for <...>");
	is_int((long)c, 1, "one replacement");
	is_str(red("Delivered-To: DEV+r-ABCDEF234@Lists.Example.ORG\r\n", NULL),
	       "Delivered-To: DEV+redacted@Lists.Example.ORG\r\n",
	       "any case; the case written is kept");
	is_str(red("to ann+bounce-XYZ@example.net, dev+unsubscribe-Q@lists.example.org.", NULL),
	       "to ann+redacted@example.net, dev+redacted@lists.example.org.",
	       "every list's, at the end of a sentence");
	is_str(red("dev@lists.example.org and ann@example.net", &c),
	       "dev@lists.example.org and ann@example.net", "the list addresses stay");
	is_int((long)c, 0, "no replacement");
	is_str(red("xdev+post-a@lists.example.org dev+post-a@lists.example.org.uk2", NULL),
	       "xdev+post-a@lists.example.org dev+post-a@lists.example.org.uk2",
	       "another local part, another domain: kept");
	is_str(red("the secret zk4q9xsecret, zk4q9xsecretly, xZk4Q9xSecret", NULL),
	       "the secret redacted, zk4q9xsecretly, xZk4Q9xSecret",
	       "an author secret alone, as a word only");
	is_str(red("dev+@lists.example.org", NULL), "dev+@lists.example.org",
	       "an empty suffix is not a sub-address");
	is_str(red("", NULL), "", "empty input");
	is_str(red("dev+post-", NULL), "dev+post-", "cut short at the end");
	s = redact_str("<dev+post-Zk4Q9xSecret@lists.example.org>", &cfg);
	ok(strstr(s, "Zk4Q9x") == NULL && strstr(s, "Secret") == NULL, "redact_str: %s", s);
	free(s);
	cfg.daemon.delimiter = '-';
	is_str(red("dev-confirm-ABC@lists.example.org", NULL), "dev-redacted@lists.example.org",
	       "another delimiter");
	return tap_done();
}
