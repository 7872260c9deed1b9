/*
 * http_server.h - the one-click pages: the https URL in every copy's
 * List-Unsubscribe (RFC 8058) and the link in a request to confirm a post
 * lead here, through a TLS reverse proxy, as PATH?t=TOKEN.
 *
 * GET shows what the link would do and a button; only POST acts (a mail
 * scanner that fetches every link must not unsubscribe anyone or publish
 * anything). RFC 8058's POST with "List-Unsubscribe=One-Click" acts at once.
 * One request per connection, HTTP/1.0 and 1.1, bounded in size and time.
 */
#ifndef PARLEY_HTTP_SERVER_H
#define PARLEY_HTTP_SERVER_H

#include "smtp_server.h"

/* http_session: serve one request on A->fd, then close it. */
void http_session(const struct smtp_session_args *a);

#endif
