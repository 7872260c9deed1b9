#!/usr/bin/env python3
"""test_redelivery.py - the same message delivered twice is archived and sent
once (issue 9, defect 11): the same bytes twice over LMTP (a retry after a
lost 250) and twice over SMTP give one archive row and one copy per
subscriber, the duplicate dropped with a log line; a reused Message-ID with
other content is a new message. The hop count is checked at ingest for every
way in (defect 12): `parley inject` with 60 Received fields exits 65 with a
clear message, a spool file with 60 is quarantined by ingest with the
reason, 50 pass, and LMTP keeps the same limit. The log never shows
a token or a secret of our addresses (defect 16)."""
import email
import email.policy
import os
import re
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Raw, Tap, maildir_relay, subscribe, wait_for  # noqa: E402

t = Tap()
SECRET = "k3vq9t2mxw8rz5pa"
POST = "dev+post-%s@lists.example.org" % SECRET


def message(mid, body="Hello list", extra=""):
    return ("%sFrom: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\nSubject: post %s\r\n"
            "Message-ID: <%s>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n%s\r\n" % (extra, mid, mid, body))


def lmtp(d, rcpt, data):
    r = Raw(port=d.lmtp_port)
    try:
        r.reply()
        r.cmd("LHLO client.example.net")
        r.cmd("MAIL FROM:<alice@example.org>")
        r.cmd("RCPT TO:<%s>" % rcpt)
        r.cmd("DATA")
        r.send(data + ".\r\n")
        code = r.reply()[0]
        r.cmd("QUIT")
        return code
    finally:
        r.close()


def smtp(d, rcpt, data):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    s.sendmail("alice@example.org", [rcpt], data)
    s.quit()


def archived(d, mid):
    return d.query("SELECT id FROM archive WHERE orig_msgid = ?", ("<%s>" % mid,))


def copies(d, mid):
    return sorted(r[0] for r in d.query(
        "SELECT address FROM deliveries JOIN archive ON archive.id = archive_id WHERE orig_msgid = ?",
        ("<%s>" % mid,)))


def inject(d, data, *args):
    return subprocess.run([PARLEY, "-c", d.conf, "inject", "-f", "alice@example.org"] + list(args),
                          input=data.encode(), capture_output=True, timeout=30)


def redelivery(d):
    data = message("lmtp-twice@example.org")
    t.eq([lmtp(d, POST, data), lmtp(d, POST, data)], [250, 250], "the same bytes twice over LMTP: 250 both times")
    smtp(d, POST, message("sentinel1@example.org"))
    t.ok(wait_for(lambda: archived(d, "sentinel1@example.org"), 15), "a later message is archived (sentinel)")
    t.eq(len(archived(d, "lmtp-twice@example.org")), 1, "LMTP redelivery: one archive row")
    t.eq(copies(d, "lmtp-twice@example.org"), ["r1@example.net", "r2@example.net"], "one copy per subscriber")
    t.eq(d.query("SELECT count(*) FROM inbound WHERE message_id = '<lmtp-twice@example.org>'"), [(1,)],
         "one inbound row")
    t.ok(re.search(r"duplicate: message-id=<lmtp-twice@example.org> .*dropped", d.logtext()),
         "the duplicate is dropped with a log line")
    t.ok("ingest attempt" not in d.logtext(), "and not counted as an error")

    data = message("smtp-twice@example.org")
    smtp(d, POST, data)
    smtp(d, POST, data)
    smtp(d, POST, message("sentinel2@example.org"))
    t.ok(wait_for(lambda: archived(d, "sentinel2@example.org"), 15), "sentinel 2 archived")
    t.eq(len(archived(d, "smtp-twice@example.org")), 1, "SMTP redelivery: one archive row")
    t.eq(copies(d, "smtp-twice@example.org"), ["r1@example.net", "r2@example.net"], "one copy per subscriber")

    smtp(d, POST, message("reused@example.org", "First text"))
    smtp(d, POST, message("reused@example.org", "Another text"))
    smtp(d, POST, message("sentinel3@example.org"))
    t.ok(wait_for(lambda: archived(d, "sentinel3@example.org"), 15), "sentinel 3 archived")
    t.eq(len(archived(d, "reused@example.org")), 2, "a reused Message-ID with another body: two archive rows")
    # the same message for another recipient (a relay splitting recipients) is no redelivery
    data = message("split@example.org")
    lmtp(d, POST, data)
    lmtp(d, "dev+help@lists.example.org", data)
    smtp(d, POST, message("sentinel4@example.org"))
    t.ok(wait_for(lambda: archived(d, "sentinel4@example.org"), 15), "sentinel 4 archived")
    t.eq(d.query("SELECT count(*) FROM inbound WHERE message_id = '<split@example.org>'"), [(2,)],
         "the same message for another recipient is stored for it")


def hops(d):
    def received(n):
        return "".join("Received: from h%d.example.net by h%d.example.net; Tue, 1 Dec 2026 09:00:00 +0000\r\n"
                       % (i, i + 1) for i in range(n))

    r = inject(d, message("hops60@example.org", extra=received(60)), "-r", POST)
    t.eq(r.returncode, 65, "inject with 60 Received fields: EX_DATAERR (65), so the MTA bounces the loop")
    t.ok(b"too many hops: 60 Received fields (limit 50)" in r.stderr, "with a clear message", r.stderr)
    r = inject(d, message("hops50@example.org", extra=received(50)), "-r", POST)
    t.eq(r.returncode, 0, "inject with 50 Received fields")
    t.ok(wait_for(lambda: archived(d, "hops50@example.org"), 15), "50 hops by inject: published")
    # a spool file with 60 hops (an older inject, an IMAP poll): ingest holds the same line
    qid = "6B0000000001.1.1"
    raw = message("hops60s@example.org", extra=received(60))
    with open(os.path.join(d.spool, "incoming/tmp", qid), "wb") as f:
        f.write(("PARLEY-SPOOL 1\nqueue-id: %s\nreceived: 1\nproto: INJECT\nclient: stdin\n"
                 "sender: alice@example.org\nrcpt: %s\n\n" % (qid, POST)).encode()
                + ("Received: by lists.example.org (parley inject); Tue, 1 Dec 2026 10:00:00 +0000\r\n"
                   + raw).encode())
    os.rename(os.path.join(d.spool, "incoming/tmp", qid), os.path.join(d.spool, "incoming/new", qid))
    q = os.path.join(d.spool, "quarantine")
    t.ok(wait_for(lambda: os.path.isdir(q) and qid in os.listdir(q), 15), "60 hops in the spool: quarantined")
    reason = open(os.path.join(q, qid + ".reason")).read() if qid in os.listdir(q) else ""
    t.ok("too many hops" in reason and "60" in reason and "limit 50" in reason, "with the reason", reason)
    t.eq(archived(d, "hops60s@example.org"), [], "60 hops: not published")
    t.eq(archived(d, "hops60@example.org"), [], "nor the one inject refused")
    t.eq(lmtp(d, POST, message("lhops51@example.org", extra=received(51))), 554,
         "51 hops over LMTP: refused by the listener with the same limit")
    t.eq(lmtp(d, POST, message("lhops50@example.org", extra=received(50))), 250, "50 hops over LMTP: accepted")
    t.ok(wait_for(lambda: archived(d, "lhops50@example.org"), 15), "and published (the limits agree)")


def tokens_in_log(d):
    """no log line shows the token or secret of one of our addresses"""
    new = os.path.join(d.dir, "maildir", "r1@example.net", "new")
    t.ok(wait_for(lambda: os.path.isdir(new) and os.listdir(new), 15), "r1 has copies")
    with open(os.path.join(new, sorted(os.listdir(new))[0]), "rb") as f:
        copy = email.message_from_bytes(f.read(), policy=email.policy.default)
    m = re.search(r"<mailto:(dev\+unsubscribe-([a-z2-7]+)@lists\.example\.org)>", str(copy["List-Unsubscribe"]))
    t.ok(m is not None, "a personal unsubscribe address", str(copy["List-Unsubscribe"]))
    if m is None:
        return
    smtp(d, m.group(1), "From: r1@example.net\r\nMessage-ID: <unsub-log@example.net>\r\n\r\nx\r\n")
    status = lambda: d.query("SELECT status FROM subscribers WHERE address = 'r1@example.net'")[0][0]
    t.ok(wait_for(lambda: status() == "unsubscribed", 15), "one email to it unsubscribes r1")
    t.ok(wait_for(lambda: "message-id=<unsub-log@example.net>" in d.logtext(), 10), "its stored: line is logged")
    log = d.logtext()
    t.ok(m.group(2) not in log, "the unsubscribe token is nowhere in the log",
         [l for l in log.splitlines() if m.group(2) in l])
    t.ok(SECRET not in log, "the author's secret is nowhere in the log",
         [l for l in log.splitlines() if SECRET in l])
    t.ok("to=<dev+unsubscribe-*@lists.example.org>" in log and "to=<dev+post-*@lists.example.org>" in log,
         "the stored: lines name the kind of address instead")
    leaks = re.findall(r"\+(?:r|bounce|unsubscribe|confirm|follow|mute|p|approve|reject|post)-[A-Za-z2-7]{8,}", log)
    t.eq(leaks, [], "no token of any kind in the log")


def main():
    d = Daemon()
    maildir_relay(d)
    try:
        subscribe(d, "dev", "r1@example.net", "r2@example.net")
        d.start()
        redelivery(d)
        hops(d)
        tokens_in_log(d)
    finally:
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-40:]))
        d.cleanup()
    t.done()


main()
