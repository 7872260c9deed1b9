#!/usr/bin/env python3
"""test_http.py - the one-click pages (daemon.http): the https URL of every
copy's List-Unsubscribe (RFC 8058) and the link of a request to confirm a
post. GET only shows a page with a button; POST acts: RFC 8058's one-click
POST unsubscribes at once, the button publishes a held post or finds it
expired. Forged tokens get 404 and change nothing; every page escapes what
it shows; hostile requests get their 4xx/5xx and nothing else."""
import os
import re
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, free_port, maildir_box, wait_for  # noqa: E402

t = Tap()
SECRET = "k3vq9t2mxw8rz5pa"


def send(d, rcpt, mid, frm="Alice <alice@example.org>", sender="alice@example.org", subject="post"):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    s.sendmail(sender, [rcpt], "From: %s\r\nTo: dev@lists.example.org\r\nSubject: %s\r\n"
               "Message-ID: <%s>\r\n\r\nHello list\r\n" % (frm, subject, mid))
    s.quit()


def box(d, rcpt):
    return [m for _, m in maildir_box(os.path.join(d.dir, "maildir"), rcpt)]


def http(port, path, method="GET", body=None, headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def raw(port, data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace")
    finally:
        s.close()


def status_of(d, addr):
    return d.query("SELECT status FROM subscribers WHERE address = ?", (addr,))[0][0]


def held_state(d, mid):
    r = d.query("SELECT h.state FROM held h JOIN inbound i ON i.id = h.inbound_id WHERE i.message_id = ?",
                ("<%s>" % mid,))
    return r[0][0] if r else None


def unsubscribe(d, port):
    send(d, "dev+post-%s@lists.example.org" % SECRET, "p1@example.org")
    rcpt = "o'brien&co@example.net"
    t.ok(wait_for(lambda: len(box(d, rcpt)) == 1, 10), "a copy reaches a reader")
    lu = str(box(d, rcpt)[0]["List-Unsubscribe"])
    m = re.search(r"<https://lists\.example\.org/u\?t=([a-z2-7]{16,33})>", lu)
    t.ok(m is not None, "its List-Unsubscribe has the https URL with a personal token", lu)
    t.eq(str(box(d, rcpt)[0]["List-Unsubscribe-Post"]), "List-Unsubscribe=One-Click", "and List-Unsubscribe-Post")
    tok = m.group(1) if m else "x" * 39

    code, hdr, page = http(port, "/u?t=" + tok)
    t.eq(code, 200, "GET shows a page")
    t.ok("Stop sending the list dev to o&#39;brien&amp;co@example.net?" in page, "naming list and address, escaped",
         page)
    t.ok('<form method="post">' in page and "Unsubscribe</button>" in page, "with a button that POSTs")
    t.eq(status_of(d, rcpt), "active", "GET changes nothing (a link scanner unsubscribes nobody)")
    t.eq(hdr.get("Cache-Control"), "no-store", "Cache-Control: no-store")
    t.ok("default-src 'none'" in hdr.get("Content-Security-Policy", "") and
         hdr.get("X-Content-Type-Options") == "nosniff", "a strict CSP and nosniff", hdr)

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for bad in (b"", b"x=1", b"List-Unsubscribe=One-Clickx", b"List-Unsubscribe=one-click"):
        code, _, page = http(port, "/u?t=" + tok, "POST", bad, form)
        t.ok(code == 400 and "Nothing was changed" in page,
             "a POST whose body is %r: 400 (RFC 8058 asks for List-Unsubscribe=One-Click)" % bad, (code, page))
    t.eq(status_of(d, rcpt), "active", "and nothing changed")
    code, _, page = http(port, "/u?t=" + tok, "POST", b"List-Unsubscribe=One-Click",
                         form)
    t.eq(code, 200, "RFC 8058 one-click POST: 200")
    t.ok("<h1>Unsubscribed</h1>" in page, "the page says so", page)
    t.eq(status_of(d, rcpt), "unsubscribed", "the reader is unsubscribed at once")
    ev = d.query("SELECT e.how, e.actor FROM subscriber_events e JOIN subscribers s ON s.id = e.subscriber_id"
                 " WHERE s.address = ? AND e.event = 'unsubscribed'", (rcpt,))
    t.eq(ev, [("one-click", "web")], "recorded as one-click")
    code, _, page = http(port, "/u?t=" + tok, "POST", b"List-Unsubscribe=One-Click")
    t.ok(code == 200 and "Not subscribed" in page, "a second POST: already off", page)

    forged = tok[:-1] + ("a" if tok[-1] != "a" else "b")
    code, _, page = http(port, "/u?t=" + forged, "POST", b"List-Unsubscribe=One-Click")
    t.ok(code == 404 and "not valid" in page, "a forged token: 404", (code, page))
    code, _, _ = http(port, "/u?t=short")
    t.eq(code, 404, "no token: 404")
    code, _, _ = http(port, "/u")
    t.eq(code, 404, "no query: 404")
    t.eq(status_of(d, "r2@example.net"), "active", "others stay subscribed")
    t.ok(tok not in d.logtext(), "the log never holds a whole token")
    t.ok(re.search(r"http \[127\.0\.0\.1\]:\d+: POST unsubscribe -> 200", d.logtext()), "one log line a request")

    # RFC 8058 §3.2 prefers multipart/form-data
    lu = str(box(d, "r2@example.net")[0]["List-Unsubscribe"]) if box(d, "r2@example.net") else ""
    m = re.search(r"/u\?t=([a-z2-7]{16,33})>", lu)
    tok2 = m.group(1) if m else "x" * 39
    mp = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    code, _, _ = http(port, "/u?t=" + tok2, "POST",
                      b'--XyZ\r\nContent-Disposition: form-data; name="Other"\r\n\r\nOne-Click\r\n--XyZ--\r\n', mp)
    t.eq((code, status_of(d, "r2@example.net")), (400, "active"), "multipart without the List-Unsubscribe field: 400")
    code, _, _ = http(port, "/u?t=" + tok2, "POST",
                      b'--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
                      b'One-Click\r\n--XyZ--\r\n', mp)
    t.eq((code, status_of(d, "r2@example.net")), (200, "unsubscribed"), "multipart/form-data one-click: 200, unsubscribed")
    subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev", "r2@example.net", "--no-confirm"],
                   capture_output=True)

    # a proxy may map a path that carries a token: the log names the kind of link only
    code, _, _ = http(port, "/u/%s/secretpath?t=%s" % (tok2, tok2))
    t.eq(code, 200, "GET with the token in the path too: 200")
    t.ok(wait_for(lambda: re.search(r"http \[127\.0\.0\.1\]:\d+: GET unsubscribe -> 200", d.logtext()), 5) and
         "secretpath" not in d.logtext() and tok2 not in d.logtext(), "the path is not logged, only the kind",
         d.logtext()[-600:])


def confirm(d, port):
    send(d, "dev+post@lists.example.org", "bob1@example.org", frm="Bob <bob@example.org>",
         sender="bob@example.org", subject="Bob <b>bold</b> & co")
    t.ok(wait_for(lambda: len(box(d, "bob@example.org")) == 1, 10), "the author gets a request to confirm")
    body = box(d, "bob@example.org")[0].get_content()
    m = re.search(r"https://lists\.example\.org/c\?t=([a-z2-7]{16,33})", body)
    t.ok(m is not None, "with a link to the confirmation page", body)
    tok = m.group(1) if m else "x" * 39
    code, _, page = http(port, "/c?t=" + tok)
    t.eq(code, 200, "GET: 200")
    t.ok("Publish your post &quot;Bob &lt;b&gt;bold&lt;/b&gt; &amp; co&quot; to the list dev?" in page and
         "Publish</button>" in page, "names the post, escaped, with a button", page)
    t.eq(held_state(d, "bob1@example.org"), "confirm", "GET publishes nothing")
    code, _, page = http(port, "/c?t=" + tok, "POST", b"")
    t.ok(code == 200 and "<h1>Published</h1>" in page, "POST: published", (code, page))
    t.eq(held_state(d, "bob1@example.org"), "published", "the held row is published")
    t.eq(d.query("SELECT author_addr FROM archive WHERE orig_msgid = '<bob1@example.org>'"),
         [("bob@example.org",)], "archived as Bob's post")
    t.ok(wait_for(lambda: any("bold" in str(m["Subject"]) for m in box(d, "r2@example.net")), 10),
         "and delivered")
    code, _, page = http(port, "/c?t=" + tok, "POST", b"")
    t.ok(code == 200 and "Published" in page, "a second POST: already published")
    t.eq(d.query("SELECT count(*) FROM archive WHERE orig_msgid = '<bob1@example.org>'"), [(1,)], "archived once")

    send(d, "dev+post@lists.example.org", "bob2@example.org", frm="Bob <bob@example.org>",
         sender="bob@example.org", subject="late")
    t.ok(wait_for(lambda: len(box(d, "bob@example.org")) == 2, 10), "a second request")
    m = re.search(r"https://lists\.example\.org/c\?t=([a-z2-7]{16,33})", box(d, "bob@example.org")[1].get_content())
    tok = m.group(1) if m else "x" * 39
    db = sqlite3.connect(d.db, timeout=10)
    with db:
        db.execute("UPDATE held SET expires_at = 1 WHERE author_addr = 'bob@example.org' AND state = 'confirm'")
    db.close()
    code, _, page = http(port, "/c?t=" + tok)
    t.ok(code == 410 and "too late" in page, "GET after the expiry: 410", (code, page))
    t.eq(held_state(d, "bob2@example.org"), "confirm", "GET changes nothing")
    code, _, page = http(port, "/c?t=" + tok, "POST", b"")
    t.eq(code, 410, "POST after the expiry: 410")
    t.eq(held_state(d, "bob2@example.org"), "expired", "the post is expired, not published")
    t.ok(wait_for(lambda: len(box(d, "bob@example.org")) == 3, 10), "and the author is told by email")


def subscribe_by_web(d, port):
    """L+subscribe@ mails a confirmation whose confirm_url page subscribes"""
    send(d, "dev+subscribe@lists.example.org", "zoe1@example.org", frm="zoe@example.org",
         sender="zoe@example.org", subject="subscribe")
    t.ok(wait_for(lambda: box(d, "zoe@example.org"), 10), "a subscribe request is answered with a confirmation")
    body = box(d, "zoe@example.org")[0].get_content() if box(d, "zoe@example.org") else ""
    m = re.search(r"https://lists\.example\.org/c\?t=(s[a-z2-7]{15,32})", body)
    t.ok(m is not None, "with the confirm_url link", body[-400:])
    tok = m.group(1) if m else "s" + "a" * 20
    code, _, page = http(port, "/c?t=" + tok)
    t.ok(code == 200 and "Confirm?" in page and "zoe@example.org" in page and "subscribe this address" in page,
         "GET shows what is asked and changes nothing", page[-400:])
    t.eq(d.query("SELECT count(*) FROM subscribers WHERE address = 'zoe@example.org'"), [(0,)],
         "not subscribed by a GET (a link preview)")
    code, _, page = http(port, "/c?t=" + tok, "POST", b"")
    t.ok(code == 200 and "Confirmed" in page, "POST confirms", page[-300:])
    t.eq(status_of(d, "zoe@example.org"), "active", "subscribed")
    t.eq(d.query("SELECT consent_how FROM subscribers WHERE address = 'zoe@example.org'"), [("email-confirmed",)],
         "consent recorded as email-confirmed")
    code, _, page = http(port, "/c?t=" + tok, "POST", b"")
    t.ok(code == 200 and "Confirmed" in page, "a second POST: already done", page[-300:])
    t.eq(d.query("SELECT count(*) FROM subscriber_events e JOIN subscribers s ON s.id = e.subscriber_id"
                 " WHERE s.address = 'zoe@example.org'"), [(1,)], "and done once")


def hostile(port):
    r = raw(port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    t.ok(r.startswith("HTTP/1.1 414 "), "a 5000-byte request line: 414", r[:60])
    r = raw(port, b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(120)) + b"\r\n")
    t.ok(r.startswith("HTTP/1.1 431 "), "120 header fields: 431", r[:60])
    r = raw(port, b"GET / HTTP/1.1\r\nX: " + b"b" * 9000 + b"\r\n\r\n")
    t.ok(r.startswith("HTTP/1.1 431 "), "a 9000-byte field: 431", r[:60])
    r = raw(port, b"POST /u?t=x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    t.ok(r.startswith("HTTP/1.1 501 "), "Transfer-Encoding: 501 (no smuggling)", r[:60])
    r = raw(port, b"POST /u HTTP/1.1\r\nContent-Length: 5000\r\n\r\n")
    t.ok(r.startswith("HTTP/1.1 413 "), "a 5000-byte body announced: 413", r[:60])
    r = raw(port, b"POST /u HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
    t.ok(r.startswith("HTTP/1.1 400 "), "two different Content-Length: 400", r[:60])
    r = raw(port, b"PUT /u HTTP/1.1\r\n\r\n")
    t.ok(r.startswith("HTTP/1.1 405 ") and "Allow: GET, POST" in r, "PUT: 405 with Allow", r[:200])
    r = raw(port, b"GET /u HTTP/2.0\r\n\r\n")
    t.ok(r.startswith("HTTP/1.1 505 "), "HTTP/2.0 on this port: 505", r[:60])
    r = raw(port, b"HELLO\r\n\r\n")
    t.ok(r.startswith("HTTP/1.1 400 "), "not HTTP: 400", r[:60])
    r = raw(port, b"GET /u?t=x HTTP/1.1\r\n folded: yes\r\n\r\n")
    t.ok(r.startswith("HTTP/1.1 400 "), "obsolete line folding: 400", r[:60])
    r = raw(port, b"GET /<script>?t=x HTTP/1.1\r\n\r\n")
    t.ok(r.startswith("HTTP/1.1 404 ") and "<script>" not in r, "a path is never echoed", r[-300:])


def trickle(port):
    """a client that sends a byte a second gets 408 at the deadline
    (limits.command_timeout = 3 here), not a connection held for ever"""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s.sendall(b"GET /u?t=x HTTP/1.1\r\n")
        t0 = time.monotonic()
        got = b""
        for _ in range(15):
            try:
                s.sendall(b"X")
            except OSError:
                break
            s.settimeout(1.0)
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got:
                break
        took = time.monotonic() - t0
    finally:
        s.close()
    t.ok(got.startswith(b"HTTP/1.1 408 "), "a trickling client: 408", got[:60])
    t.ok(took < 10, "within the deadline, not per byte (%.1f s)" % took)


def main():
    port = free_port()
    d = Daemon(extra_daemon='  http = { listen = [ "127.0.0.1:%d" ]; };' % port)
    text = open(d.conf).read().replace("    port = 25;", '    port = 25;\n    maildir = "%s/maildir";' % d.dir, 1)
    text = text.replace("command_timeout = 300;", "command_timeout = 3;", 1)
    text = text.replace('    archive_url = "https://lists.example.org/dev/";',
                        '    archive_url = "https://lists.example.org/dev/";\n'
                        '    unsubscribe_url = "https://lists.example.org/u";\n'
                        '    confirm_url = "https://lists.example.org/c";', 1)
    open(d.conf, "w").write(text)
    try:
        for a in ("o'brien&co@example.net", "r2@example.net"):
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev", a, "--no-confirm"], check=True,
                           capture_output=True)
        d.start()
        t.ok(wait_for(lambda: "listening: HTTP 127.0.0.1:%d" % port in d.logtext(), 10), "parleyd listens for HTTP")
        unsubscribe(d, port)
        confirm(d, port)
        subscribe_by_web(d, port)
        hostile(port)
        trickle(port)
        t.ok(d.proc.poll() is None, "parleyd is still running")
    finally:
        d.stop()
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-30:]))
        d.cleanup()
    t.done()


if __name__ == "__main__":
    main()
