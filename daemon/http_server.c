/*
 * http_server.c - the one-click pages (see http_server.h).
 *
 * Reads one request: a request line of at most HTTP_LINE_MAX bytes, at most
 * HTTP_FIELDS_MAX header fields of at most HTTP_FIELD_MAX bytes each, a body
 * of at most HTTP_BODY_MAX bytes (Content-Length only: Transfer-Encoding is
 * refused, so no request can hide inside another), all within
 * limits.command_timeout but at most HTTP_DEADLINE_MS, however slowly the
 * bytes come (conn_set_deadline). The token is the "t" parameter of the query; the path is
 * not looked at, so the proxy may map any prefix here. A POST with an
 * unsubscribe token acts only if its body holds List-Unsubscribe=One-Click
 * (RFC 8058 §3.2; form-urlencoded or multipart/form-data), else 400.
 *
 * GET /metrics (no token) is the OpenMetrics page of metrics.c, for whom
 * daemon.http.metrics allows (default: a loopback peer not behind a proxy);
 * anyone else gets 404.
 *
 * Must never act on a GET, write a byte of its input into a page unescaped,
 * log a token or the request's path (log the kind of link instead), or keep
 * a connection for a second request.
 */
#include "autoconf.h"

#include "http_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "classify.h"
#include "conn.h"
#include "log.h"
#include "mailfmt.h"
#include "metrics.h"
#include "store.h"
#include "token.h"

#define HTTP_LINE_MAX	 2048
#define HTTP_FIELD_MAX	 8192
#define HTTP_FIELDS_MAX	 100
#define HTTP_BODY_MAX	 4096
#define HTTP_DEADLINE_MS 30000

struct request {
	char method[8];
	char target[HTTP_LINE_MAX];
	char token[TOKEN_MAX + 1];	/* "" when the query has none that could be ours */
	long long length;		/* Content-Length, or -1 */
	int chunked;			/* a Transfer-Encoding field was sent */
	int multipart;			/* Content-Type: multipart/form-data */
	int proxied;			/* a proxy's field: Forwarded, X-Forwarded-For... */
	char body[HTTP_BODY_MAX + 1];	/* NUL-terminated (a NUL inside ends it) */
};

/* ---- reading ---- */

/* query_token: the "t" parameter of TARGET's query, if it has the shape of
 * a token (up to TOKEN_MAX characters of base32). */
static void query_token(const char *target, char out[TOKEN_MAX + 1])
{
	const char *q = strchr(target, '?');

	out[0] = '\0';
	while (q != NULL) {
		const char *v = q + 1;
		size_t n = strcspn(v, "&#");
		if (n > 2 + 8 && n <= TOKEN_MAX + 2 && strncmp(v, "t=", 2) == 0 &&
		    strspn(v + 2, "abcdefghijklmnopqrstuvwxyz234567") >= n - 2) {
			memcpy(out, v + 2, n - 2);
			out[n - 2] = '\0';
			return;
		}
		q = v[n] == '&' ? v + n : NULL;
	}
}

/* request_line: "METHOD SP TARGET SP HTTP/1.x"; 0 or an HTTP status. */
static int request_line(struct request *r, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	size_t mlen;

	line[strcspn(line, "\r\n")] = '\0';
	if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL)
		return 400;
	mlen = (size_t)(sp1 - line);
	*sp2 = '\0';
	if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1, "HTTP/1.0") != 0)
		return 505;
	if (mlen == 0 || mlen >= sizeof(r->method) || sp1[1] != '/')
		return 400;
	memcpy(r->method, line, mlen);
	r->method[mlen] = '\0';
	snprintf(r->target, sizeof(r->target), "%s", sp1 + 1);
	query_token(r->target, r->token);
	return 0;
}

/* field: one header field; 0 or an HTTP status. */
static int field(struct request *r, const char *line)
{
	const char *colon = strchr(line, ':'), *v;
	char *end;
	long long n;

	if (colon == NULL || colon == line || strcspn(line, " \t") < (size_t)(colon - line))
		return 400;
	v = colon + 1 + strspn(colon + 1, " \t");
	if ((size_t)(colon - line) == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0)
		r->chunked = 1;
	if (((size_t)(colon - line) == 9 && strncasecmp(line, "Forwarded", 9) == 0) ||
	    strncasecmp(line, "X-Forwarded-", 12) == 0 ||
	    ((size_t)(colon - line) == 9 && strncasecmp(line, "X-Real-IP", 9) == 0) ||
	    ((size_t)(colon - line) == 3 && strncasecmp(line, "Via", 3) == 0))
		r->proxied = 1;
	if ((size_t)(colon - line) == 12 && strncasecmp(line, "Content-Type", 12) == 0)
		r->multipart = strncasecmp(v, "multipart/form-data", 19) == 0;
	if ((size_t)(colon - line) == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
		n = strtoll(v, &end, 10);
		if (end == v || n < 0 || (r->length >= 0 && r->length != n) ||
		    strspn(end, " \t\r\n") != strlen(end))
			return 400;
		r->length = n;
	}
	return 0;
}

/* read_request: the request into R, with its body; 0 or an HTTP status (0
 * with nothing read: the client went away). */
static int read_request(struct conn *c, struct request *r, int *gone)
{
	char line[HTTP_FIELD_MAX];
	size_t len;
	int rc, i;

	memset(r, 0, sizeof(*r));
	r->length = -1;
	rc = conn_line(c, line, HTTP_LINE_MAX, &len);
	if (rc == CONN_TOOLONG)
		return 414;
	if (rc != CONN_OK) {
		*gone = 1;
		return rc == CONN_TIMEOUT ? 408 : 400;
	}
	if ((rc = request_line(r, line)) != 0)
		return rc;
	for (i = 0;; i++) {
		if (i == HTTP_FIELDS_MAX)
			return 431;
		rc = conn_line(c, line, sizeof(line), &len);
		if (rc == CONN_TOOLONG)
			return 431;
		if (rc != CONN_OK)
			return rc == CONN_TIMEOUT ? 408 : 400;
		if (strcmp(line, "\r\n") == 0 || strcmp(line, "\n") == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t')
			return 400;	/* obsolete line folding (RFC 9112 §5.2) */
		if ((rc = field(r, line)) != 0)
			return rc;
	}
	if (r->chunked)
		return 501;
	if (r->length > HTTP_BODY_MAX)
		return 413;
	if (r->length > 0 && conn_read(c, r->body, (size_t)r->length) != CONN_OK)
		return 400;
	r->body[r->length > 0 ? r->length : 0] = '\0';
	return 0;
}

/* one_click: R's body asks to unsubscribe as RFC 8058 §3.2 says: the pair
 * List-Unsubscribe=One-Click, form-urlencoded (one of the &-separated
 * pairs), or a multipart/form-data field named List-Unsubscribe whose value
 * is One-Click. */
static int one_click(const struct request *r)
{
	static const char pair[] = "List-Unsubscribe=One-Click";
	const char *p = r->body;

	if (r->multipart) {
		while ((p = strstr(p, "name=\"List-Unsubscribe\"")) != NULL) {
			const char *v;
			p += 23;	/* past the name */
			v = strstr(p, "\r\n\r\n");
			if (v != NULL && strncmp(v + 4, "One-Click\r\n", 11) == 0)
				return 1;
		}
		return 0;
	}
	for (;;) {
		size_t n = strcspn(p, "&");
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
			n--;
		if (n == sizeof(pair) - 1 && memcmp(p, pair, n) == 0)
			return 1;
		p += strcspn(p, "&");
		if (*p++ == '\0')
			return 0;
	}
}

/* route: what kind of link a request followed, for the log (never the
 * token nor the path, which may carry one). */
static const char *route(const struct request *r)
{
	switch (r->token[0]) {
	case '\0': return "(no token)";
	case TOKEN_UNSUBSCRIBE: return "unsubscribe";
	case TOKEN_PUBLISH: return "publish";
	case TOKEN_REQUEST: return "request";
	default: return "(other token)";
	}
}

/* ---- pages ---- */

static void esc(struct mbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': mbuf_str(b, "&lt;"); break;
		case '>': mbuf_str(b, "&gt;"); break;
		case '&': mbuf_str(b, "&amp;"); break;
		case '"': mbuf_str(b, "&quot;"); break;
		case '\'': mbuf_str(b, "&#39;"); break;
		default: mbuf_add(b, s, 1);
		}
	}
}

/* page: TITLE and TEXT (both escaped), and a button labelled BUTTON that
 * POSTs to the same URL, if BUTTON is set. */
static void page(struct mbuf *b, const char *title, const char *text, const char *button)
{
	mbuf_str(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width\"><title>");
	esc(b, title);
	mbuf_str(b, "</title></head>\n<body style=\"font-family:sans-serif;max-width:36em;"
		    "margin:2em auto;padding:0 1em\"><h1>");
	esc(b, title);
	mbuf_str(b, "</h1>\n<p>");
	esc(b, text);
	mbuf_str(b, "</p>\n");
	if (button != NULL) {
		mbuf_str(b, "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" "
			    "value=\"One-Click\"><button type=\"submit\">");
		esc(b, button);
		mbuf_str(b, "</button></form>\n");
	}
	mbuf_str(b, "</body></html>\n");
}

/* describe_request: the page of a request (subscribe, unsubscribe, a mode
 * change) confirmed by a click; its HTTP status. */
static int describe_request(const struct click *k, struct mbuf *b)
{
	char what[ADDRESS_MAX + 600];
	const char *list = k->list ? k->list->name : "";

	switch (k->state) {
	case CLICK_READY:
		snprintf(what, sizeof(what), "Confirm: %s, %s the list %s?", k->address, k->subject,
			 list);
		page(b, "Confirm?", what, "Confirm");
		return 200;
	case CLICK_DONE:
	case CLICK_ALREADY:
		snprintf(what, sizeof(what), "Done: the request to %s the list %s for %s is "
			 "confirmed.", k->subject, list, k->address);
		page(b, "Confirmed", what, NULL);
		return 200;
	default:
		snprintf(what, sizeof(what), "This confirmation came too late: nothing was changed "
			 "for %s. To ask again, write to the list's address again.", k->address);
		page(b, "Expired", what, NULL);
		return 410;
	}
}

/* describe: the page for click K; its HTTP status. */
static int describe(const struct click *k, struct mbuf *b)
{
	char what[ADDRESS_MAX + 300];
	/* click() fills K whenever store_begin() returns 0, and that returns 0 or -1 (store.c,
	 * unseen from here). NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Branch) */
	const char *list = k->list ? k->list->name : "";

	if (k->state == CLICK_INVALID) {
		page(b, "This link is not valid", "It may have been cut or mistyped, or it was "
		     "not made here. Nothing was changed.", NULL);
		return 404;
	}
	if (k->kind == TOKEN_UNSUBSCRIBE) {
		if (k->state == CLICK_READY) {
			snprintf(what, sizeof(what), "Stop sending the list %s to %s?", list,
				 k->address);
			page(b, "Unsubscribe?", what, "Unsubscribe");
		} else {
			snprintf(what, sizeof(what), "%s %s the list %s. No more messages from it "
				 "are sent there.", k->address,
				 k->state == CLICK_DONE ? "is now unsubscribed from"
							: "is not subscribed to", list);
			page(b, k->state == CLICK_DONE ? "Unsubscribed" : "Not subscribed", what,
			     NULL);
		}
		return 200;
	}
	if (k->kind == TOKEN_REQUEST)
		return describe_request(k, b);
	switch (k->state) {
	case CLICK_READY:
		snprintf(what, sizeof(what), "Publish your post \"%s\" to the list %s?", k->subject,
			 list);
		page(b, "Publish your post?", what, "Publish");
		return 200;
	case CLICK_DONE:
	case CLICK_ALREADY:
		snprintf(what, sizeof(what), "Your post \"%s\" is published to the list %s.",
			 k->subject, list);
		page(b, "Published", what, NULL);
		return 200;
	default:
		snprintf(what, sizeof(what), "This confirmation came too late: your post \"%s\" "
			 "was not published to the list %s. To publish it, send it again.",
			 k->subject, list);
		page(b, "Expired", what, NULL);
		return 410;
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

static void respond(struct conn *c, int status, const char *type, const struct mbuf *body)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nCache-Control: no-store\r\n"
			 "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
			 "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
			 "form-action 'self'; frame-ancestors 'none'\r\n%sConnection: close\r\n\r\n",
			 status, reason(status), type ? type : "text/html; charset=utf-8", body->n,
			 status == 405 ? "Allow: GET, POST\r\n" : "");

	if (conn_write(c, head, (size_t)n) == 0 && body->n > 0)
		(void)conn_write(c, body->p, body->n);
}

/* ---- acting ---- */

/* click: look TOKEN up, and act if ACT, in one transaction; the status. */
static int click(const struct config *cfg, const char *token, int act, const char *tag,
		 struct mbuf *body)
{
	unsigned char key[TOKEN_KEY_LEN];
	struct store *st;
	struct click k;
	int rc;

	if (token_key_load(cfg->daemon.secret_file, key) < 0 ||
	    (st = store_open(cfg->daemon.database)) == NULL) {
		page(body, "Try again later", "The list server cannot look this link up right "
		     "now. Nothing was changed.", NULL);
		return 503;
	}
	rc = store_begin(st);
	if (rc == 0)
		rc = classify_click(st, cfg, key, token, act, store_now(), tag, &k);
	if (rc == 0 && act)
		rc = store_commit(st);
	store_rollback(st);
	store_close(st);
	if (rc < 0) {
		page(body, "Try again later", "The list server could not do this right now. "
		     "Nothing was changed.", NULL);
		return 503;
	}
	return describe(&k, body);
}

/* ---- /metrics ---- */

/* is_metrics: R asks for /metrics (a GET without a token). */
static int is_metrics(const struct request *r)
{
	size_t n = strcspn(r->target, "?#");

	return r->token[0] == '\0' && strcmp(r->method, "GET") == 0 && n == 8 &&
	       strncmp(r->target, "/metrics", 8) == 0;
}

/* metrics_allowed: daemon.http.metrics lets peer IP read R. "local": a
 * loopback peer (or the listener's Unix socket) whose request names no
 * proxy: a TLS proxy on this host that adds X-Forwarded-For or Forwarded
 * would otherwise hand the page to anyone. */
static int metrics_allowed(const struct config *cfg, const struct request *r, const char *ip)
{
	switch (cfg->daemon.http_metrics) {
	case HTTP_METRICS_ANY: return 1;
	case HTTP_METRICS_OFF: return 0;
	default:
		return !r->proxied && (strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
				       strncmp(ip, "::ffff:127.", 11) == 0 || strcmp(ip, "unix") == 0);
	}
}

/* metrics: the page into BODY; the status. */
static int metrics(const struct config *cfg, struct mbuf *body)
{
	struct store *st = store_open(cfg->daemon.database);
	int rc;

	if (st == NULL)
		return 503;
	body->n = 0;
	rc = metrics_write(st, cfg, store_now(), body);
	store_close(st);
	if (rc < 0) {
		body->n = 0;
		mbuf_str(body, "# the store cannot be read just now\n# EOF\n");
		return 503;
	}
	return 200;
}

void http_session(const struct smtp_session_args *a)
{
	struct cfg_gen *g = runtime_hold(a->rt);
	struct request r;
	struct mbuf body = {0};
	struct conn *c = malloc(sizeof(*c));
	char tag[120];
	const char *type = NULL, *what = NULL;
	int status, gone = 0, ms;

	if (c == NULL) {
		runtime_release(a->rt, g);
		close(a->fd);
		return;
	}
	ms = g->cfg->daemon.limits.command_timeout * 1000;
	if (ms > HTTP_DEADLINE_MS)
		ms = HTTP_DEADLINE_MS;
	conn_init(c, a->fd, a->stop_fd, ms);
	conn_set_deadline(c, ms);
	snprintf(tag, sizeof(tag), "http %s", a->peer);
	mbuf_add(&body, "", 0);
	status = read_request(c, &r, &gone);
	if (status == 0 && strcmp(r.method, "GET") != 0 && strcmp(r.method, "POST") != 0)
		status = 405;
	if (status == 0 && is_metrics(&r)) {
		what = "metrics";
		if (metrics_allowed(g->cfg, &r, a->peer_ip)) {
			status = metrics(g->cfg, &body);
			type = METRICS_CONTENT_TYPE;
		} else {
			status = 404;
			page(&body, reason(status), "There is no such page here.", NULL);
		}
	} else if (status == 0 && strcmp(r.method, "POST") == 0 && r.token[0] == TOKEN_UNSUBSCRIBE &&
	    !one_click(&r)) {
		status = 400;
		page(&body, "Nothing was changed", "An unsubscribe request must carry "
		     "List-Unsubscribe=One-Click (RFC 8058). Use the button on this link's page.",
		     NULL);
	} else if (status == 0) {
		status = click(g->cfg, r.token, strcmp(r.method, "POST") == 0, tag, &body);
	} else if (!gone) {
		page(&body, reason(status), "The list server could not read this request.", NULL);
	}
	if (!gone || status == 408)
		respond(c, status, type, &body);
	log_info("%s: %s %s -> %d", tag, r.method[0] ? r.method : "-", what ? what : route(&r),
		 status);
	runtime_release(a->rt, g);
	mbuf_free(&body);
	close(a->fd);
	free(c);
}
