#!/usr/bin/env python3
"""test_delivery.py - the delivery workers (design §1 Delivery, §5 promises):
copies queued in the store leave one envelope per recipient with a VERP
return path L+bounce-TOKEN@ that names the copy; through a real Postfix
relay; a relay that is down, says 4xx or 5xx (deferred, retried, failed);
the maildir sink; STARTTLS with certificate verification and AUTH; and
kill -9 in the middle of a 2,000-recipient fan-out: every recipient gets
the copy, and duplicates stay within one group of results (64) per relay
connection.

Issue 10: the EHLO name is daemon.hostname; MAIL, RCPT and DATA go in one
write to a relay that offers PIPELINING, one at a time to one that does not;
AUTH PLAIN, LOGIN and CRAM-MD5; a 5xx at MAIL or after the data is the
relay's refusal, not the recipient's: deferred, no bounce, a warning; a
reply of 200 lines (14 KB) is read whole; "250-" and then a close after the
data defers the copy, and it is sent at the next attempt.

The relay is a small SMTP server on loopback (relay_server.py: it records
each transaction and answers as each case wants) or a real Postfix in front
of it. Work is queued by inserting archive and deliveries rows directly."""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import PARLEY, Daemon, Tap, free_port, wait_for  # noqa: E402
from relay_server import Relay  # noqa: E402

t = Tap()
SRV = os.path.join(os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "e2e", "servers.sh")
VERP = re.compile(r"^dev\+bounce-([a-z2-7]{16,33})@lists\.example\.org$")
POST = ("From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\nSubject: %s\r\n"
        "Message-ID: <%s@example.org>\r\nDate: Mon, 23 Nov 2026 20:00:00 +0000\r\n\r\n"
        "Hello list.\r\n.a line that starts with a dot\r\nLast line.\r\n")


def sh(cmd):
    return subprocess.run(["sh", "-c", ". '%s'; %s" % (SRV, cmd)], capture_output=True, text=True,
                          timeout=120)


def token_check(key, tok):
    """(kind, a, b) of a token made with KEY, or None if forged."""
    return harness.token_check(key, tok)


def configure(d, relay, workers=2, extra=""):
    """Rewrite D's config: the relay group RELAY (libconfig text inside the
    braces), WORKERS, a short retry, the secret file; EXTRA at daemon level."""
    text = open(d.conf).read()
    text = re.sub(r"(?s)\n  relay = \{.*?\n  \};", "\n  relay = {\n%s\n    retry = [ 1 ];\n  };" % relay, text)
    text = re.sub(r"(?m)^  workers = \d+;.*$", "  workers = %d;" % workers, text)
    text = re.sub(r'(?m)^  secret_file = .*\n', "", text)
    text = text.replace("daemon = {", 'daemon = {\n  secret_file = "%s/secret";%s' % (d.dir, extra), 1)
    open(d.conf, "w").write(text)


def smtp_relay(port, more=""):
    return '    host = "127.0.0.1";\n    port = %d;\n%s' % (port, more)


def reload(d):
    n = d.logtext().count("reloaded ")
    d.kill(signal.SIGHUP)
    return wait_for(lambda: d.logtext().count("reloaded ") > n, 10)


def subscribe(d, addrs):
    path = os.path.join(d.dir, "subs.txt")
    with open(path, "w") as f:
        f.write("".join(a + "\n" for a in addrs))
    subprocess.run([PARLEY, "-c", d.conf, "sub", "import", "dev", path], check=True, capture_output=True)


def queue(d, addrs, subject, body=None):
    """Archive a post of the list dev (POST, or BODY after POST's header) and
    queue one copy for each of ADDRS (subscribers); returns (archive id, list
    Message-ID, {addr: delivery id})."""
    db = sqlite3.connect(d.db, timeout=10)
    try:
        now = int(time.time())
        lid = db.execute("SELECT id FROM lists WHERE name = 'dev'").fetchone()[0]
        tid = db.execute("INSERT INTO threads(list_id, subject, created_at, last_at) VALUES (?, ?, ?, ?)",
                         (lid, subject, now, now)).lastrowid
        msgid = "<parley.%s.%d@lists.example.org>" % (re.sub(r"\W", "", subject), now)
        raw = (POST % (subject, re.sub(r"\W", "", subject))).encode()
        if body is not None:
            raw = raw[: raw.index(b"\r\n\r\n") + 4] + body
        aid = db.execute("INSERT INTO archive(list_id, thread_id, kind, list_msgid, orig_msgid, author_addr,"
                         " author_name, subject, text, raw, created_at) VALUES (?, ?, 'post', ?, ?,"
                         " 'alice@example.org', 'Alice', ?, 'Hello list.', ?, ?)",
                         (lid, tid, msgid, "<x@example.org>", subject, raw, now)).lastrowid
        ids = {}
        for a in addrs:
            ids[a] = db.execute("INSERT INTO deliveries(archive_id, subscriber_id, address, next_at, created_at,"
                                " updated_at) SELECT ?, id, address, ?, ?, ? FROM subscribers"
                                " WHERE list_id = ? AND address = ?", (aid, now, now, now, lid, a)).lastrowid
        db.commit()
        return aid, msgid, ids
    finally:
        db.close()


def states(d, aid):
    return {r[0]: r[1:] for r in d.query("SELECT address, status, attempts, last_error, next_at FROM deliveries"
                                         " WHERE archive_id = ?", (aid,))}


def all_status(d, aid, status, n):
    s = states(d, aid)
    return len(s) == n and all(v[0] == status for v in s.values())


def check_verp(d, key, m, want_id, who):
    g = VERP.match(m["mail"])
    tok = token_check(key, g.group(1)) if g else None
    t.ok(g is not None and tok is not None and tok[:2] == ("b", want_id),
         "%s: envelope sender dev+bounce-TOKEN@, a token of ours naming delivery %d" % (who, want_id),
         "%s -> %r" % (m["mail"], tok))


def through_postfix(d, key):
    """Three subscribers through a real Postfix relay in front of our relay:
    one transaction per recipient, each with its own VERP sender."""
    sink = Relay()
    pf = os.path.join(d.dir, "pf")
    pf_port = free_port()
    try:
        r = sh("postfix_start '%s' %d 'example.net=smtp:[127.0.0.1]:%d'" % (pf, pf_port, sink.port))
        if not t.ok(r.returncode == 0, "postfix started as the relay", r.stdout + r.stderr):
            return
        configure(d, smtp_relay(pf_port))
        t.ok(reload(d), "reloaded with the relay")
        rcpts = ["ann@example.net", "ben@example.net", "cat@example.net"]
        aid, msgid, ids = queue(d, rcpts, "three subscribers")
        t.ok(wait_for(lambda: all_status(d, aid, "sent", 3), 20), "3 copies sent to Postfix",
             "%r\n%s" % (states(d, aid), d.logtext()[-1500:]))
        t.ok(wait_for(lambda: sink.count() >= 3, 30), "and Postfix relayed the 3 of them", sh("cat '%s/maillog'" % pf).stdout[-2000:])
        time.sleep(0.5)
        msgs = sorted(sink.msgs, key=lambda m: m["rcpts"])
        t.eq([m["rcpts"] for m in msgs], [[a] for a in rcpts], "one envelope per recipient, each once")
        for m in msgs:
            a = m["rcpts"][0]
            check_verp(d, key, m, ids[a], a)
            body = m["data"].decode()
            t.ok("Message-ID: %s\r\n" % msgid in body and re.search(r"Reply-To: dev\+r-[a-z2-7]{16,33}@", body)
                 and "\r\n.a line that starts with a dot\r\nLast line.\r\n" in body,
                 "%s: the rendered copy, dot line intact" % a, body[:1500])
        senders = {m["mail"] for m in msgs}
        t.eq(len(senders), 3, "three different VERP senders")
        log = open(os.path.join(pf, "maillog")).read()
        qs = re.findall(r"from=<(dev\+bounce-[a-z2-7]{16,33}@lists\.example\.org)>, size=\d+, nrcpt=(\d+)", log)
        t.eq(sorted(set(qs)), sorted((s, "1") for s in senders),
             "Postfix received three messages of one recipient each, from those senders")
        for a in rcpts:
            t.ok(re.search(r"delivery %d to=<%s> relay=127\.0\.0\.1:%d status=sent \(250 " % (ids[a], re.escape(a), pf_port),
                           d.logtext()), "the log line of %s's copy" % a)
        t.ok(all(v[1] == 1 and v[2] is None for v in states(d, aid).values()), "one attempt each, no error")
    finally:
        sh("postfix_stop '%s'" % pf)
        sink.close()


def refusals(d):
    """550 for one recipient fails only that copy; 450 defers, and the retry
    (relay.retry = [1]) delivers."""
    tries = {}

    def rcpt(a):
        tries[a] = tries.get(a, 0) + 1
        if a == "dan@example.net":
            return 550, "5.1.1 <dan@example.net>: unknown user"
        if a == "gus@example.net" and tries[a] == 1:
            return 450, "4.2.1 mailbox busy, try later"
        return 250, "2.1.5 ok"
    relay = Relay(rcpt=rcpt)
    try:
        configure(d, smtp_relay(relay.port))
        t.ok(reload(d), "reloaded with a relay that refuses some recipients")
        aid, _, ids = queue(d, ["dan@example.net", "eve@example.net", "fay@example.net"], "one refused")
        t.ok(wait_for(lambda: all(v[0] in ("sent", "failed") for v in states(d, aid).values()), 10),
             "every copy has a final state", states(d, aid))
        s = states(d, aid)
        t.eq({a: v[0] for a, v in s.items()},
             {"dan@example.net": "failed", "eve@example.net": "sent", "fay@example.net": "sent"},
             "550 to one recipient: only that copy failed")
        t.ok("550 5.1.1" in (s["dan@example.net"][2] or ""), "with the relay's reply recorded", s)
        t.eq(d.query("SELECT address, bounce_score FROM subscribers WHERE address IN"
                     " ('dan@example.net', 'eve@example.net') ORDER BY address"),
             [("dan@example.net", 1.0), ("eve@example.net", 0.0)], "the 5xx counts as a bounce of that subscriber")
        ev = d.query("SELECT e.event, e.how, e.actor FROM subscriber_events e JOIN subscribers s"
                     " ON s.id = e.subscriber_id WHERE s.address = 'dan@example.net' AND e.event = 'bounce'")
        t.ok(len(ev) == 1 and ev[0][1] == "rcpt" and "hard 5.1.1" in ev[0][2] and "550 5.1.1" in ev[0][2],
             "and is in its history, a hard bounce at RCPT", ev)
        t.eq(d.query("SELECT b.source, b.class, b.status, b.score, b.delivery_id FROM bounces b JOIN subscribers s"
                     " ON s.id = b.subscriber_id WHERE s.address = 'dan@example.net'"),
             [("rcpt", "hard", "5.1.1", 1.0, ids["dan@example.net"])], "and in its bounce history, naming the copy")
        t.ok("delivery %d to=<dan@example.net> relay=127.0.0.1:%d status=failed (RCPT TO: 550 5.1.1"
             % (ids["dan@example.net"], relay.port) in d.logtext(), "and logged")
        t.eq(sorted(m["rcpts"][0] for m in relay.msgs), ["eve@example.net", "fay@example.net"],
             "the others were taken, each in its own transaction")
        t.ok(relay.msgs and all(m["pipelined"] for m in relay.msgs),
             "MAIL, RCPT and DATA in one write: the relay offers PIPELINING",
             [m["pipelined"] for m in relay.msgs])
        t.eq(set(relay.helos), {"lists.example.org"}, "EHLO names daemon.hostname")
        t.ok(any(m.get("then_mail") for m in relay.msgs),
             "the end of one copy and the next copy's MAIL went in one write",
             [m.get("then_mail") for m in relay.msgs])
        t.ok(relay.conns == 1 and len({m["conn"] for m in relay.msgs}) == 1,
             "on one session, which went on after the refusal (RSET)", relay.conns)

        aid, _, ids = queue(d, ["gus@example.net"], "busy mailbox")
        # the deferred state lasts until relay.retry (1 s, from a whole second:
        # it can be a few ms), so the log line is the witness that stays
        deferral = (r"delivery %d to=<gus@example\.net> relay=\S+ status=deferred \(RCPT TO: 450 4\.2\.1"
                    % ids["gus@example.net"])
        t.ok(wait_for(lambda: re.search(deferral, d.logtext()), 10),
             "450: the copy is deferred with the reply, and that is logged", states(d, aid))
        t.ok(wait_for(lambda: states(d, aid)["gus@example.net"][0] == "sent", 10),
             "and sent at the next attempt", states(d, aid))
        t.eq(states(d, aid)["gus@example.net"][1], 2, "after two attempts")

        subprocess.run([PARLEY, "-c", d.conf, "sub", "rm", "dev", "fay@example.net"], check=True,
                       capture_output=True)
        before = relay.count()
        aid, _, _ = queue(d, ["eve@example.net", "fay@example.net"], "after an unsubscribe")
        t.ok(wait_for(lambda: all(v[0] in ("sent", "cancelled") for v in states(d, aid).values()), 10),
             "a copy queued before its subscriber left ...", states(d, aid))
        s = states(d, aid)
        t.ok(s["fay@example.net"][0] == "cancelled" and "unsubscribed" in (s["fay@example.net"][2] or "")
             and s["eve@example.net"][0] == "sent", "... is not sent (design 5: honoured before the next delivery)", s)
        t.eq([m["rcpts"][0] for m in relay.msgs[before:]], ["eve@example.net"], "the relay saw only the other one")
    finally:
        relay.close()


def relay_down(d):
    """Nothing listens: deferred (and retried every second); once the relay
    is there, delivered."""
    port = free_port()
    configure(d, smtp_relay(port))
    t.ok(reload(d), "reloaded with a relay that is down")
    aid, _, ids = queue(d, ["hal@example.net", "ida@example.net"], "relay down")
    t.ok(wait_for(lambda: all(v[0] == "deferred" and "Connection refused" in (v[2] or "")
                              for v in states(d, aid).values()) and len(states(d, aid)) == 2, 10),
         "relay down: the copies are deferred with the reason", states(d, aid))
    t.ok(wait_for(lambda: min(v[1] for v in states(d, aid).values()) >= 2, 10),
         "and retried after relay.retry", states(d, aid))
    relay = Relay(port=port, ehlo=False)
    try:
        t.ok(wait_for(lambda: all_status(d, aid, "sent", 2), 10), "delivered once the relay is back",
             states(d, aid))
        t.eq(sorted(r for m in relay.msgs for r in m["rcpts"]), ["hal@example.net", "ida@example.net"],
             "each once")
        t.ok(relay.msgs and all(m["helo"] and m["mail_cmd"].endswith(">") for m in relay.msgs),
             "to a relay that refuses EHLO: HELO, and MAIL without extensions", [m["mail_cmd"] for m in relay.msgs])
        t.ok(not any(m["pipelined"] for m in relay.msgs), "and one command at a time (no PIPELINING)")
        t.ok(set(relay.helos) == {"lists.example.org"}, "HELO names daemon.hostname too", relay.helos)
    finally:
        relay.close()


def relay_refuses(d):
    """5xx at MAIL, then after the data: the relay's refusal, not the
    recipient's. Deferred (no bounce charged, a warning); once the relay
    takes mail again, sent."""
    for where, kw in (("MAIL FROM", {"mail_reply": (550, "5.7.1 sender not allowed by policy")}),
                      ("end of DATA", {"end_reply": (554, "5.7.1 message refused by policy")})):
        relay = Relay(**kw)
        try:
            configure(d, smtp_relay(relay.port))
            t.ok(reload(d), "reloaded with a relay that refuses at %s" % where)
            aid, _, ids = queue(d, ["ben@example.net", "cat@example.net"], "refused at %s" % where)
            warn = r"delivery %d: relay \S+ refused the message, not the recipient \(%s: 55" % (
                ids["ben@example.net"], re.escape(where))
            t.ok(wait_for(lambda: re.search(warn, d.logtext()), 10),
                 "5xx at %s: a warning that the relay refused, not the recipient" % where,
                 d.logtext()[-600:])
            s = states(d, aid)
            t.ok(all(v[0] in ("deferred", "queued", "sending") for v in s.values()),
                 "the copies are deferred, not failed", s)
            t.eq(d.query("SELECT count(*) FROM subscriber_events e JOIN subscribers s ON"
                         " s.id = e.subscriber_id WHERE e.event = 'bounce' AND s.address IN"
                         " ('ben@example.net', 'cat@example.net')"), [(0,)],
                 "and no bounce is charged to the subscribers")
            relay.mail_reply = relay.end_reply = None
            t.ok(wait_for(lambda: all_status(d, aid, "sent", 2), 15),
                 "once the relay takes mail: both are sent", states(d, aid))
        finally:
            relay.close()


def relay_replies(d):
    """A 200-line end-of-data reply (14 KB) is read whole; "250-" and a
    close after the data is no reply: deferred, sent at the next attempt."""
    relay = Relay(end_lines=200)
    try:
        configure(d, smtp_relay(relay.port))
        t.ok(reload(d), "reloaded with a relay whose replies run to 200 lines")
        aid, _, ids = queue(d, ["gus@example.net"], "long reply")
        t.ok(wait_for(lambda: all_status(d, aid, "sent", 1), 10), "a 14 KB reply: sent", states(d, aid))
        m = re.search(r"delivery %d to=<gus@example\.net> \S+ status=sent \((.*)\)$" % ids["gus@example.net"],
                      d.logtext(), re.M)
        t.ok(m and m.group(1).startswith("250 2.0.0 Ok: queued as Q1; ") and len(m.group(1)) < 600,
             "its text is kept in part, on one line", m and m.group(1))
        aid, _, _ = queue(d, ["hal@example.net"], "long reply, same session")
        t.ok(wait_for(lambda: all_status(d, aid, "sent", 1), 10), "and the next copy is sent too",
             states(d, aid))
    finally:
        relay.close()
    relay = Relay(end_close=True)
    try:
        configure(d, smtp_relay(relay.port))
        t.ok(reload(d), "reloaded with a relay that says 250- and closes after the data")
        aid, _, ids = queue(d, ["ida@example.net"], "cut reply")
        t.ok(wait_for(lambda: re.search(r"delivery %d to=<ida@example\.net> relay=\S+ status=deferred "
                                        r"\(end of DATA: \S+ closed the connection" % ids["ida@example.net"],
                                        d.logtext()), 10),
             "250- then close: no whole reply, deferred", d.logtext()[-500:])
        relay.end_close = False
        t.ok(wait_for(lambda: all_status(d, aid, "sent", 1), 15), "and sent at the next attempt",
             states(d, aid))
    finally:
        relay.close()


def maildir(d, key):
    box = os.path.join(d.dir, "sink")
    configure(d, '    maildir = "%s";' % box)
    t.ok(reload(d), "reloaded with the maildir sink")
    aid, msgid, ids = queue(d, ["ann@example.net", "o/dd@example.net"], "into the maildir")
    t.ok(wait_for(lambda: all_status(d, aid, "sent", 2), 10), "maildir: the copies are sent", states(d, aid))
    for a, name in (("ann@example.net", "ann@example.net"), ("o/dd@example.net", "o%2Fdd@example.net")):
        new = os.path.join(box, name, "new")
        files = sorted(os.listdir(new)) if os.path.isdir(new) else []
        if not t.eq(len(files), 1, "%s: one file in MAILDIR/%s/new" % (a, name)):
            continue
        data = open(os.path.join(new, files[0]), "rb").read().decode()
        m = re.match(r"Return-Path: <(dev\+bounce-([a-z2-7]{16,33})@lists\.example\.org)>\r\nDelivered-To: (\S+)\r\n", data)
        t.ok(m and m.group(3) == a and token_check(key, m.group(2))[:2] == ("b", ids[a]),
             "%s: Return-Path (VERP naming the copy) and Delivered-To first" % a, data[:300])
        t.ok("Message-ID: %s\r\n" % msgid in data, "%s: then the copy" % a)
        t.eq(os.listdir(os.path.join(box, name, "tmp")), [], "%s: nothing left in tmp/" % a)
    t.ok("status=sent (written to %s/ann@example.net/new/" % box in d.logtext(), "the log names the file")


def starttls(d, top):
    cert, key = os.path.join(top, "cert.pem"), os.path.join(top, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    pwfile = os.path.join(top, "relay.pw")
    with open(pwfile, "w") as f:
        f.write("s3cret pass\n")
    relay = Relay(tls=(cert, key), auth=("parley", "s3cret pass"))
    plain = Relay()
    try:
        configure(d, smtp_relay(relay.port, '    auth_user = "parley";\n'
                                '    auth_password_file = "%s";' % pwfile))
        t.ok(reload(d), "reloaded with a STARTTLS relay on loopback, self-signed, tls_verify unset")
        aid, _, _ = queue(d, ["hal@example.net"], "tls on loopback")
        t.ok(wait_for(lambda: states(d, aid)["hal@example.net"][0] == "sent", 10),
             "loopback relay: its certificate is not checked by default, the copy is sent",
             states(d, aid))
        m = relay.msgs[0] if relay.msgs else {}
        t.ok(m.get("tls") is True and m.get("user") == "parley", "and it went over TLS, after AUTH",
             m and {k: m.get(k) for k in ("tls", "user")})
        relay.msgs.clear()

        configure(d, smtp_relay(relay.port, '    tls_verify = true;'))
        t.ok(reload(d), "reloaded with tls_verify = true, no ca_file")
        aid, _, _ = queue(d, ["ivy@example.net"], "tls refused")
        t.ok(wait_for(lambda: "not trusted" in (states(d, aid)["ivy@example.net"][2] or ""), 10),
             "the certificate is refused: deferred", states(d, aid))
        t.ok(re.search(r"status=deferred \(certificate of 127\.0\.0\.1:%d not trusted: self[- ]signed" % relay.port,
                       d.logtext()), "and the log says why", d.logtext()[-800:])
        t.eq(relay.msgs, [], "nothing was sent to that relay")

        configure(d, smtp_relay(relay.port, '    ca_file = "%s";\n    auth_user = "parley";\n'
                                '    auth_password_file = "%s";' % (cert, pwfile)))
        t.ok(reload(d), "reloaded with ca_file = its certificate, and AUTH")
        t.ok(wait_for(lambda: states(d, aid)["ivy@example.net"][0] == "sent", 10),
             "verified: the copy is sent", states(d, aid))
        m = relay.msgs[0] if relay.msgs else {}
        t.ok(m.get("tls") is True and m.get("user") == "parley", "over TLS, after AUTH PLAIN", m and
             {k: m[k] for k in ("tls", "user")})

        configure(d, smtp_relay(relay.port, '    ca_file = "%s";\n    auth_user = "parley";\n'
                                '    auth_password_file = "%s";' % (cert, os.path.join(top, "wrong.pw"))))
        with open(os.path.join(top, "wrong.pw"), "w") as f:
            f.write("nope\n")
        t.ok(reload(d), "reloaded with a wrong password")
        aid, _, _ = queue(d, ["jon@example.net"], "auth refused")
        t.ok(wait_for(lambda: "AUTH PLAIN as parley: 535" in (states(d, aid)["jon@example.net"][2] or ""), 10),
             "AUTH refused: deferred with the relay's reply", states(d, aid))
        t.ok("nope" not in d.logtext() and "s3cret" not in d.logtext(), "no password in the log")

        for mech, who in (("LOGIN", "lea@example.net"), ("CRAM-MD5", "max@example.net")):
            only = Relay(tls=(cert, key), auth=("parley", "s3cret pass"), mechs=mech)
            try:
                configure(d, smtp_relay(only.port, '    ca_file = "%s";\n    auth_user = "parley";\n'
                                        '    auth_password_file = "%s";' % (cert, pwfile)))
                t.ok(reload(d), "reloaded with a relay that offers only AUTH %s" % mech)
                aid, _, _ = queue(d, [who], "auth " + mech)
                t.ok(wait_for(lambda: states(d, aid)[who][0] == "sent", 10),
                     "AUTH %s: sent" % mech, states(d, aid))
                m = only.msgs[0] if only.msgs else {}
                t.ok(m.get("tls") is True and m.get("user") == "parley" and only.auth_fail == 0,
                     "over TLS, as parley", m and {k: m.get(k) for k in ("tls", "user")})
            finally:
                only.close()

        configure(d, smtp_relay(plain.port, '    starttls = "require";'))
        t.ok(reload(d), "reloaded: starttls = require, to a relay without STARTTLS")
        aid, _, _ = queue(d, ["kim@example.net"], "tls required")
        t.ok(wait_for(lambda: "does not offer STARTTLS" in (states(d, aid)["kim@example.net"][2] or ""), 10),
             "no STARTTLS offered: deferred", states(d, aid))
        t.eq(plain.msgs, [], "and nothing sent in clear text")
    finally:
        relay.close()
        plain.close()


def fanout_start(d, sink, n, workers, prefix, subject, under_way):
    """D configured for SINK with WORKERS, N subscribers PREFIX0000@...,
    started, a post queued to all of them, and UNDER_WAY copies taken by the
    relay; returns (archive id, the addresses)."""
    configure(d, smtp_relay(sink.port), workers=workers)
    addrs = ["%s%04d@example.net" % (prefix, i) for i in range(n)]
    subscribe(d, addrs)
    d.start()
    aid, _, _ = queue(d, addrs, subject)
    t.ok(wait_for(lambda: sink.count() >= under_way, 60), "the fan-out is under way", sink.count())
    return aid, addrs


def fanout_kill():
    """kill -9 in the middle of a 2,000-recipient fan-out, then a restart:
    every recipient has the copy; a recipient has two only if its result was
    not committed at the kill, so at most one group (64, BATCH in
    daemon/delivery.c) per relay connection open then."""
    n, workers, group = 2000, 4, 64
    sink = Relay(delay=0.002)
    d = Daemon()
    try:
        aid, addrs = fanout_start(d, sink, n, workers, "r", "big fan out", 100)
        began = time.time()
        t.eq(d.stop(), 0, "SIGTERM in the middle of it: parleyd stops cleanly")
        t.ok(time.time() - began < 5, "and promptly (%.1f s)" % (time.time() - began))
        left = d.query("SELECT status, min(attempts), max(attempts), count(*) FROM deliveries"
                       " WHERE status != 'sent' GROUP BY status")
        t.ok(len(left) == 1 and left[0][:3] == ("queued", 0, 0),
             "the copies in flight were finished, the claimed ones put back unattempted", left)
        t.eq(sum(1 for c in sink.by_rcpt().values() if c > 1), 0, "no duplicate from a SIGTERM")
        d.start()
        t.ok(wait_for(lambda: sink.count() >= 400, 60), "the fan-out goes on after the restart", sink.count())
        with sink.lock:
            open_at_kill = sink.open
        d.stop(signal.SIGKILL)
        got = sink.count()
        t.ok(0 < got < n, "kill -9 in the middle (%d of %d taken by the relay)" % (got, n))
        t.ok(open_at_kill <= workers, "one relay connection per worker (%d open, %d workers)"
             % (open_at_kill, workers))
        sending = d.query("SELECT count(*) FROM deliveries WHERE status = 'sending'")[0][0]
        d.start()
        t.ok(wait_for(lambda: all_status(d, aid, "sent", n), 120), "after the restart every copy is sent",
             d.query("SELECT status, count(*) FROM deliveries GROUP BY status"))
        time.sleep(0.5)
        counts = sink.by_rcpt()
        t.eq(sorted(counts), sorted(addrs), "every recipient got the copy")
        dups = sum(c - 1 for c in counts.values())
        t.ok(max(counts.values()) <= 2 and dups <= workers * group,
             "duplicates: %d, at most one group of %d per worker connection (%d)" %
             (dups, group, workers),
             sorted((a, c) for a, c in counts.items() if c > 1))
        t.ok(sending == 0 or "queued again" in d.logtext(),
             "the copies left 'sending' (%d) were queued again at the start" % sending)
        t.eq(sum(1 for m in sink.msgs if len(m["rcpts"]) != 1), 0, "one recipient per transaction throughout")
    finally:
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-20:]))
        d.cleanup()
        sink.close()


def record_fails():
    """The store refuses the workers' writes in the middle of a fan-out (a
    writer of our own holds its write lock; busy, as on a full disk): a
    worker whose results cannot be recorded stops, ends its relay session
    and sends nothing more until it can write again, so the relay takes at
    most the batches already under way (64 copies, BATCH in
    daemon/delivery.c, per worker). Their copies stay 'sending'; the next
    start queues them again, which is the documented bound on duplicates."""
    n, workers, group = 1000, 2, 64
    sink = Relay(delay=0.002)
    d = Daemon()
    lock = None
    try:
        aid, addrs = fanout_start(d, sink, n, workers, "s", "store fails", 50)
        lock = sqlite3.connect(d.db, timeout=30, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        at_lock = sink.count()
        with sink.lock:
            open_at_lock = sink.open
        t.ok(wait_for(lambda: "delivery: cannot record the results of" in d.logtext(), 120),
             "the store refuses the results: the worker says so", d.logtext()[-2000:])
        t.ok(wait_for(lambda: sink.open < open_at_lock, 30),
             "and ends its session with the relay (%d open before)" % open_at_lock)
        during = sink.count() - at_lock
        t.ok(during <= workers * group,
             "while the store refused, the relay took %d copies: at most the batches under way "
             "(%d per worker)" % (during, group))
        sending = d.query("SELECT count(*) FROM deliveries WHERE archive_id = ? AND status = 'sending'",
                          (aid,))[0][0]
        t.ok(0 < sending <= workers * group, "the copies not recorded stay 'sending' (%d)" % sending)
        lock.execute("ROLLBACK")
        lock.close()
        lock = None
        t.ok(wait_for(lambda: d.query("SELECT count(*) FROM deliveries WHERE archive_id = ? AND status"
                                      " NOT IN ('sent', 'sending')", (aid,))[0][0] == 0, 120),
             "once the store takes writes again, the fan-out goes on to the end",
             d.query("SELECT status, count(*) FROM deliveries GROUP BY status"))
        t.eq(d.stop(), 0, "parleyd stops cleanly")
        d.start()
        t.ok(wait_for(lambda: all_status(d, aid, "sent", n), 60), "the next start sends the 'sending' ones",
             d.query("SELECT status, count(*) FROM deliveries GROUP BY status"))
        counts = sink.by_rcpt()
        t.eq(sorted(counts), sorted(addrs), "every recipient got the copy")
        dups = sum(c - 1 for c in counts.values())
        t.ok(max(counts.values()) <= 2 and dups <= sending,
             "duplicates: %d, no more than the copies left 'sending' (%d)" % (dups, sending))
    finally:
        if lock is not None:
            lock.close()
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-20:]))
        d.cleanup()
        sink.close()


def vmhwm_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def big_post():
    """A 3 MB post to 48 subscribers, one worker: the worker holds at most
    PREPARED_MAX (8 MB, daemon/delivery.c) of ready copies at a time, not the
    whole batch of 48 (144 MB), and every copy arrives whole. (The sanitizer
    build keeps freed memory in quarantine: it is turned off for this one.)"""
    n = 48
    sink = Relay()
    d = Daemon()
    saved = os.environ.get("ASAN_OPTIONS")
    try:
        configure(d, smtp_relay(sink.port), workers=1)
        addrs = ["b%02d@example.net" % i for i in range(n)]
        subscribe(d, addrs)
        os.environ["ASAN_OPTIONS"] = ":".join(o for o in (saved or "", "quarantine_size_mb=0",
                                                          "thread_local_quarantine_size_kb=0") if o)
        d.start()
        line = b"A line of a long post, to see how much of it a worker keeps in memory.\r\n"
        body = line * (3 * 1024 * 1024 // len(line))
        before = vmhwm_kb(d.proc.pid)
        aid, _, _ = queue(d, addrs, "a big post", body)
        t.ok(wait_for(lambda: all_status(d, aid, "sent", n), 120), "the %d copies of a 3 MB post are sent" % n,
             d.query("SELECT status, count(*) FROM deliveries GROUP BY status"))
        grew = vmhwm_kb(d.proc.pid) - before
        t.ok(grew < 64 * 1024, "the worker's peak memory grew by %d kB (< 64 MB; the 48 copies are 144 MB)"
             % grew)
        t.ok(sink.count() == n and all(len(m["data"]) > len(body) for m in sink.msgs),
             "each copy reached the relay whole", [len(m["data"]) for m in sink.msgs][:5])
    finally:
        if saved is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = saved
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-20:]))
        d.cleanup()
        sink.close()


def claimed_status():
    """A copy whose subscriber is no longer active when it is claimed (the
    claim's query reads the status and the mute) is cancelled with the
    reason, not sent; the others go. The copies are queued with the daemon
    stopped, after the changes, so that no trigger cancels them first."""
    sink = Relay()
    d = Daemon()
    try:
        configure(d, smtp_relay(sink.port))
        subscribe(d, ["ann@example.net", "zed@example.net", "mo@example.net"])
        db = sqlite3.connect(d.db, timeout=10)
        db.execute("UPDATE subscribers SET status = 'unsubscribed' WHERE address = 'zed@example.net'")
        tid = db.execute("SELECT COALESCE(max(id), 0) + 1 FROM threads").fetchone()[0]
        db.execute("INSERT INTO thread_prefs(thread_id, subscriber_id, pref, at) SELECT ?, id, 'mute', 0"
                   " FROM subscribers WHERE address = 'mo@example.net'", (tid,))
        db.commit()
        db.close()
        aid, _, _ = queue(d, ["ann@example.net", "zed@example.net", "mo@example.net"], "status at the claim")
        d.start()
        t.ok(wait_for(lambda: sum(1 for v in states(d, aid).values() if v[0] != "queued" and v[0] != "sending") == 3, 20),
             "the three copies are dealt with", states(d, aid))
        st = states(d, aid)
        t.eq(st["ann@example.net"][0], "sent", "the active reader's copy is sent")
        t.eq(st["zed@example.net"][:1] + (st["zed@example.net"][2],), ("cancelled", "not sent: the subscriber is unsubscribed now"),
             "the unsubscribed one's is cancelled, saying why")
        t.eq(st["mo@example.net"][:1] + (st["mo@example.net"][2],), ("cancelled", "not sent: the subscriber muted the thread now"),
             "the one who muted the thread: cancelled, saying why")
        t.eq(sorted(sink.by_rcpt()), ["ann@example.net"], "the relay saw only the active reader")
    finally:
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-20:]))
        sink.close()
        d.cleanup()


def log_writes():
    """The log lines of a batch's results leave in one write (issue 10: one
    line per copy is fine, one write per copy is not): 300 copies through
    the relay, parleyd under strace: every copy has its line, and the
    writes to its stderr that carry them are far fewer than the copies."""
    n = 300
    sink = Relay()
    d = Daemon()
    trace = os.path.join(d.dir, "strace.out")
    try:
        configure(d, smtp_relay(sink.port), workers=2)
        addrs = ["w%03d@example.net" % i for i in range(n)]
        subscribe(d, addrs)
        logf = open(d.log, "a")
        # LeakSanitizer cannot run under ptrace: in the sanitizer build it
        # would fail parleyd's exit, so the traced run checks no leaks
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(o for o in (env.get("ASAN_OPTIONS", ""), "detect_leaks=0") if o)
        d.proc = subprocess.Popen(["strace", "-f", "-qq", "-s", "80", "-e", "trace=write", "-e", "signal=none",
                                   "-o", trace, harness.PARLEYD, "-c", d.conf, "-f"],
                                  stdout=logf, stderr=subprocess.STDOUT, env=env)
        t.ok(wait_for(lambda: "delivery: 2 workers" in d.logtext(), 20), "parleyd runs under strace")
        aid, _, _ = queue(d, addrs, "logged in batches")
        t.ok(wait_for(lambda: d.logtext().count("status=sent") >= n, 60), "%d copies sent and logged" % n,
             d.logtext().count("status=sent"))
        pid = int(open(os.path.join(d.dir, "parleyd.pid")).read().split()[0])
        os.kill(pid, signal.SIGTERM)  # parleyd itself, not strace
        t.eq(d.proc.wait(30), 0, "parleyd stops (strace ends with it)")
        d.proc = None
        lines = [l for l in d.logtext().splitlines() if re.search(r" delivery \d+ to=<w\d{3}@example\.net> .*status=sent", l)]
        t.eq(len(lines), n, "one log line per copy")
        writes = [l for l in open(trace) if re.search(r'write\(2, "[^"]*parleyd: delivery \d+ to=<w\d{3}@', l)]
        t.ok(0 < len(writes) <= n // 8, "in %d writes, not one per copy" % len(writes), len(writes))
    finally:
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-20:]))
        sink.close()
        d.cleanup()


def threads_nice(pid):
    """{thread id: (name, nice)} of process PID, from /proc."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            name = open("/proc/%d/task/%s/comm" % (pid, tid)).read().strip()
            stat = open("/proc/%d/task/%s/stat" % (pid, tid)).read()
        except OSError:
            continue        # a thread that just ended
        # after "pid (comm) ": state is field 3, nice field 19
        out[int(tid)] = (name, int(stat[stat.rindex(")") + 2:].split()[16]))
    return out


def worker_threads(d):
    """daemon.worker_nice lowers the priority of the delivery threads, and of
    them only (the intake keeps the daemon's)."""
    th = threads_nice(d.proc.pid)
    base = th[d.proc.pid][1]
    workers = sorted(v for v in th.values() if v[0].startswith("delivery "))
    t.ok(workers == [("delivery 1", base + 7), ("delivery 2", base + 7)],
         "worker_nice = 7: the two delivery threads are named and run 7 nicer than the daemon", th)
    others = [v for v in th.values() if not v[0].startswith("delivery ")]
    t.ok(len(others) >= 3 and all(v[1] == base for v in others),
         "every other thread (main, ingest, listeners, spool watch) keeps the daemon's nice value", th)


def main():
    d = Daemon()
    try:
        configure(d, smtp_relay(free_port()))
        text = open(d.conf).read()
        t.ok("  worker_nice = 5;" in text, "the sample configuration sets worker_nice = 5")
        open(d.conf, "w").write(text.replace("  worker_nice = 5;", "  worker_nice = 7;"))
        subscribe(d, ["ann@example.net", "ben@example.net", "cat@example.net", "dan@example.net",
                      "eve@example.net", "fay@example.net", "gus@example.net", "hal@example.net",
                      "ida@example.net", "ivy@example.net", "jon@example.net", "kim@example.net",
                      "lea@example.net", "max@example.net", "o/dd@example.net"])
        d.start()
        t.ok(wait_for(lambda: "delivery: 2 workers" in d.logtext(), 5), "the pool started", d.logtext())
        worker_threads(d)
        key = open(os.path.join(d.dir, "secret"), "rb").read()
        through_postfix(d, key)
        refusals(d)
        relay_down(d)
        relay_refuses(d)
        relay_replies(d)
        maildir(d, key)
        starttls(d, d.dir)
        t.eq(d.stop(), 0, "SIGTERM: parleyd stops cleanly")
        t.eq(d.query("SELECT count(*) FROM deliveries WHERE status = 'sending'"), [(0,)],
             "and leaves no copy 'sending'")
    finally:
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-40:]))
        d.cleanup()
    fanout_kill()
    record_fails()
    big_post()
    log_writes()
    claimed_status()
    t.done()


main()
