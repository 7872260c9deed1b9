#!/usr/bin/env python3
"""test_bounces.py - bounces (issue 10, Bounces): a message to
L+bounce-TOKEN@ names the copy that bounced; it is scored on that copy's
subscriber like Mailman (hard 1.0, soft 0.5, one a day); a forged token, a
copy never sent, a copy of another list and a delay warning count for
nothing; at the list's bounce_threshold a probe goes out with a bounce
address of its own, and its bounce disables the subscriber and tells the
owners; mail from the subscriber enables it again; an ARF complaint
unsubscribes at once; `parley bounces` shows it, in text and JSON.

Part one: parleyd's copies go through a real Postfix relay to an address
that does not exist, Postfix itself returns the DSN to the VERP address, and
delivers it to parleyd's LMTP listener: scored, then the probe bounces the
same way, the subscriber is disabled and the owners' note leaves.

Part two: the maildir sink, and DSNs and feedback reports of the sisimai
corpus (tests/corpus/sisimai, its LICENSE there) injected over LMTP and
SMTP with the null return path."""
import base64
import email
import email.policy
import hashlib
import hmac
import json
import os
import re
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, Tap, free_port, maildir_box, parley, subscribe, wait_for  # noqa: E402
from relay_server import Relay  # noqa: E402

t = Tap()
TESTS = os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRV = os.path.join(TESTS, "e2e", "servers.sh")
CORPUS = os.path.join(TESTS, "corpus", "sisimai")
SECRET = "k3vq9t2mxw8rz5pa"
LISTS = """
lists = (
  { name = "dev"; address = "dev@lists.example.org"; bounce_threshold = 2.5;
    authors = ( { address = "alice@example.org"; secret = "%(s)s"; } );
    owners = [ "carol@example.org" ]; },
  { name = "ops"; address = "ops@lists.example.org"; bounce_threshold = 1;
    subscriber_posts = true; outsiders = "accept";
    authors = ( { address = "alice@example.org"; secret = "%(s)s"; } );
    owners = [ "carol@example.org" ]; }
);
""" % {"s": SECRET}
VERP = re.compile(r"<((dev|ops)\+bounce-([a-z2-7]+)@lists\.example\.org)>")


def sh(cmd):
    return subprocess.run(["sh", "-c", ". '%s'; %s" % (SRV, cmd)], capture_output=True, text=True, timeout=120)


def key(d):
    return open(os.path.join(d.dir, "secret"), "rb").read()


def token_make(k, kind, a):
    """A short-format token of KIND naming A (lib/token.c), for a kind
    without b or expiry."""
    fields = bytearray()
    while True:
        c = a & 0x7f
        a >>= 7
        fields.append(c | (0x80 if a else 0))
        if not a:
            break
    mac = hmac.new(k, b"t2" + kind.encode() + bytes(fields), hashlib.sha256).digest()[:8]
    return kind + base64.b32encode(bytes(fields) + mac).decode().rstrip("=").lower()


def post(d, lst, subject, sender="alice@example.org", rcpt=None):
    msg = ("From: %s\r\nTo: %s@lists.example.org\r\nSubject: %s\r\nMessage-ID: <%s@example.org>\r\n"
           "Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n\r\nHello %s.\r\n"
           % (sender, lst, subject, re.sub(r"\W", "", subject), lst))
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail(sender, [rcpt or "%s+post-%s@lists.example.org" % (lst, SECRET)], msg.encode())
    s.quit()


def inject(d, rcpt, raw, lmtp=True):
    """RAW (bytes) to RCPT from the null return path, over LMTP or SMTP."""
    if lmtp:
        s = smtplib.LMTP("127.0.0.1", d.lmtp_port, timeout=20)
    else:
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail("", [rcpt], raw)
    s.quit()


def corpus(name):
    """A file of the corpus with CRLF line ends (smtplib sends bytes as
    they are)."""
    return open(os.path.join(CORPUS, name), "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def copies(d, rcpt):
    return maildir_box(os.path.join(d.dir, "maildir"), rcpt)


def verp(raw):
    m = VERP.search(raw.split(b"\r\n", 1)[0].decode())
    return m.group(1) if m else None


def bounces(d, addr):
    return d.query("SELECT b.source, b.class, b.status, b.score, b.probe FROM bounces b JOIN subscribers s"
                   " ON s.id = b.subscriber_id WHERE s.address = ? ORDER BY b.id", (addr,))


def sub(d, lst, addr):
    r = d.query("SELECT s.status, s.bounce_score FROM subscribers s JOIN lists l ON l.id = s.list_id"
                " WHERE l.name = ? AND s.address = ?", (lst, addr))
    return r[0] if r else None


def logged(d, needle, n=1, seconds=15):
    return wait_for(lambda: d.logtext().count(needle) >= n, seconds)


def with_postfix():
    """A real Postfix relay: it takes the copy to nobody@nosuch.example,
    whose next hop (a small SMTP server on loopback) says it does not
    exist, so Postfix itself writes the DSN to the copy's VERP address;
    lists.example.org goes back to parleyd's LMTP listener."""
    d = Daemon(lists=LISTS)
    hop = Relay(rcpt=lambda a: (550, "5.1.1 <%s>: no such mailbox here" % a))
    pf = os.path.join(d.dir, "pf")
    relay_port = free_port()
    text = open(d.conf).read().replace("    port = 25;", "    port = %d;" % relay_port, 1)
    text = text.replace('starttls = "auto";', 'starttls = "no";')
    open(d.conf, "w").write(text)
    try:
        r = sh("postfix_start '%s' %d 'nosuch.example=smtp:[127.0.0.1]:%d "
               "lists.example.org=lmtp:inet:127.0.0.1:%d example.org=discard:'"
               % (pf, relay_port, hop.port, d.lmtp_port))
        if not t.ok(r.returncode == 0, "postfix started as the relay", r.stdout + r.stderr):
            return
        subscribe(d, "ops", "nobody@nosuch.example")
        d.start()
        post(d, "ops", "to nobody")
        t.ok(logged(d, "to=<nobody@nosuch.example> relay=127.0.0.1:%d status=sent" % relay_port),
             "Postfix took the copy to nobody@nosuch.example", d.logtext()[-3000:])
        t.ok(wait_for(lambda: len(bounces(d, "nobody@nosuch.example")) >= 1, 30),
             "Postfix's DSN came back to the VERP address over LMTP and was kept",
             open(os.path.join(pf, "maillog")).read()[-3000:] + d.logtext()[-2000:])
        b = bounces(d, "nobody@nosuch.example")
        t.eq(b[:1], [("dsn", "hard", "5.1.1", 1.0, 0)], "a hard 5.1.1 bounce of the copy (Postfix's DSN), scored 1.0")
        log = open(os.path.join(pf, "maillog")).read()
        t.ok(re.search(r"to=<ops\+bounce-[a-z2-7]+@lists\.example\.org>.*relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d"
                       r".*status=sent" % d.lmtp_port, log), "Postfix's log: the DSN was delivered to parleyd",
             log[-2000:])
        # threshold 1: the probe goes out through Postfix, bounces the same way
        t.ok(wait_for(lambda: sub(d, "ops", "nobody@nosuch.example")[0] == "disabled", 40),
             "the probe bounced too: the subscriber is disabled", bounces(d, "nobody@nosuch.example"))
        b = bounces(d, "nobody@nosuch.example")
        t.eq(b[1:], [("dsn", "hard", "5.1.1", 0.0, 1)], "the second is the probe's (not scored the same day)")
        probe = d.query("SELECT n.sender, d.status FROM notices n JOIN deliveries d ON d.notice_id = n.id"
                        " WHERE n.kind = 'probe'")
        t.ok(len(probe) == 1 and probe[0][0].startswith("ops+bounce-") and probe[0][1] == "sent",
             "the probe left from a bounce address of its own", probe)
        tok = probe[0][0].split("-", 1)[1].split("@")[0] if probe else ""
        pid = d.query("SELECT d.id FROM notices n JOIN deliveries d ON d.notice_id = n.id WHERE n.kind = 'probe'")
        t.eq(harness.token_check(key(d), tok), ("b", pid[0][0] if pid else -1, 0),
             "its token names the probe's own copy")
        t.ok(wait_for(lambda: d.query("SELECT count(*) FROM notices n JOIN deliveries d ON d.notice_id = n.id"
                                      " WHERE n.kind = 'disabled' AND d.address = 'carol@example.org'"
                                      " AND d.attempts > 0")[0][0] == 1, 20),
             "the owners' note was queued and handed to the relay")
    finally:
        d.stop()
        sh("postfix_stop '%s'" % pf)
        hop.close()
        if t.failed:
            print("\n".join("#   " + line for line in d.logtext().splitlines()[-40:]))
        d.cleanup()


def injected():
    d = Daemon(lists=LISTS)
    harness.maildir_relay(d)
    readers = ["a@example.org", "b@example.org", "c@example.org", "d@example.org"]
    try:
        subscribe(d, "dev", *readers)
        subscribe(d, "ops", "x@example.org", "y@example.org")
        d.start()
        post(d, "dev", "first post")
        t.ok(wait_for(lambda: all(copies(d, a) for a in readers), 20), "the post reached the four readers")
        v = {a: verp(copies(d, a)[0][0]) for a in readers}
        t.ok(all(v.values()) and len(set(v.values())) == 4, "each copy has its own VERP return path", v)

        # counts for nothing
        forged = re.sub(r"bounce-b(.)", lambda m: "bounce-b" + ("a" if m.group(1) != "a" else "b"), v["a@example.org"])
        inject(d, forged, corpus("rfc3464-01.eml"))
        t.ok(logged(d, "bounce with a token we did not make for dev: ignored"), "a forged token is ignored")
        inject(d, "dev+bounce-%s@lists.example.org" % token_make(key(d), "b", 999999), corpus("rfc3464-01.eml"))
        t.ok(logged(d, "bounce about copy 999999, which was never sent to a subscriber: ignored"),
             "a valid token of a copy never sent counts for nothing")
        inject(d, v["a@example.org"].replace("dev+", "ops+"), corpus("rfc3464-01.eml"))
        t.ok(logged(d, "which is not of this list: ignored"), "nor one of another list's copy")
        inject(d, v["c@example.org"], corpus("rfc3464-34.eml"), lmtp=False)
        t.ok(logged(d, "delayed report (rfc3464) about copy"), "a delay warning (over SMTP) counts for nothing")
        t.eq(d.query("SELECT count(*) FROM bounces")[0][0], 0, "none of those is in the history")
        t.eq(d.query("SELECT count(*) FROM deliveries")[0][0], 4, "and no bounce was answered: only the 4 copies")

        # hard, soft, and the same day again
        inject(d, v["a@example.org"], corpus("rfc3464-01.eml"))
        t.ok(wait_for(lambda: bounces(d, "a@example.org"), 15), "a's DSN was read")
        t.eq(bounces(d, "a@example.org"), [("dsn", "hard", "5.1.1", 1.0, 0)], "a hard bounce scores 1.0")
        t.eq(sub(d, "dev", "a@example.org"), ("active", 1.0), "a's score is 1.0, still active")
        inject(d, v["b@example.org"], corpus("lhost-gmail-16.eml"), lmtp=False)
        t.ok(wait_for(lambda: bounces(d, "b@example.org"), 15), "b's DSN was read (over SMTP)")
        t.eq(bounces(d, "b@example.org"), [("dsn", "soft", "5.2.2", 0.5, 0)], "a soft (mailbox full) bounce scores 0.5")
        inject(d, v["a@example.org"], corpus("lhost-postfix-32.eml"))
        t.ok(wait_for(lambda: len(bounces(d, "a@example.org")) == 2, 15), "a's second DSN was read")
        t.eq(bounces(d, "a@example.org")[1], ("dsn", "hard", "5.1.1", 0.0, 0),
             "a second bounce the same day is kept, not scored")
        t.eq(sub(d, "dev", "a@example.org"), ("active", 1.0), "a's score stays 1.0")
        t.eq(d.query("SELECT count(*) FROM deliveries")[0][0], 4, "below 2.5 no probe, and nothing answered")
        rc, out, err = parley(d, "sub", "show", "dev", "a@example.org")
        t.ok(rc == 0 and "bounce score: 1\n" in out, "parley sub show has the score", out + err)

        # a complaint unsubscribes at once
        inject(d, v["d@example.org"], corpus("arf-22.eml"))
        t.ok(wait_for(lambda: sub(d, "dev", "d@example.org")[0] == "unsubscribed", 15),
             "an ARF complaint unsubscribes d", d.logtext()[-1500:])
        ev = d.query("SELECT e.event, e.how FROM subscriber_events e JOIN subscribers s ON s.id = e.subscriber_id"
                     " WHERE s.address = 'd@example.org' ORDER BY e.id")
        t.eq(ev[-1], ("unsubscribed", "complaint"), "consent history: unsubscribed by complaint")
        t.eq(bounces(d, "d@example.org"), [("arf", "complaint", None, 0.0, 0)], "the complaint is in its history")

        # the probe at the threshold, its bounce, the owners' note
        post(d, "ops", "ops post")
        t.ok(wait_for(lambda: copies(d, "x@example.org"), 20), "x got the ops post")
        inject(d, verp(copies(d, "x@example.org")[0][0]), corpus("rfc3464-01.eml"))
        t.ok(wait_for(lambda: len(copies(d, "x@example.org")) == 2, 20), "at the threshold (1) a probe reached x")
        raw, probe = copies(d, "x@example.org")[1]
        pv = verp(raw)
        t.ok(probe["List-Id"] is None and "bounces" in str(probe["Subject"]) and probe["Auto-Submitted"],
             "it is parley's own notice, not a list copy", raw[:600])
        tok = harness.token_check(key(d), VERP.search("<%s>" % pv).group(3)) if pv else None
        pid = d.query("SELECT d.id FROM deliveries d JOIN notices n ON n.id = d.notice_id"
                      " WHERE n.kind = 'probe' AND d.address = 'x@example.org'")
        t.ok(pv and pv != verp(copies(d, "x@example.org")[0][0]) and tok == ("b", pid[0][0], 0),
             "with a bounce address of its own that names its copy", (pv, tok, pid))
        t.eq(sub(d, "ops", "x@example.org"), ("active", 1.0), "x stays active until the probe bounces")
        inject(d, pv, corpus("lhost-gmail-16.eml"))
        t.ok(wait_for(lambda: sub(d, "ops", "x@example.org")[0] == "disabled", 15), "the probe bounced: x disabled")
        t.ok(wait_for(lambda: any("disabled" in str(m["Subject"]) for _, m in copies(d, "carol@example.org")), 20),
             "the owner was told")
        note = [m for _, m in copies(d, "carol@example.org") if "disabled" in str(m["Subject"])][0]
        body = note.get_body(preferencelist=("plain",)).get_content()
        t.ok("<x@example.org>" in body and "probe" in body and "5.2.2" in body, "naming the address and the bounce", body)
        # mail from x to the list enables it again
        post(d, "ops", "I am back", sender="x@example.org", rcpt="ops@lists.example.org")
        t.ok(wait_for(lambda: sub(d, "ops", "x@example.org")[0] == "active", 15), "mail from x enables it again",
             d.logtext()[-1500:])
        t.eq(sub(d, "ops", "x@example.org"), ("active", 0.0), "with its score reset")

        # a feedback loop's report sent to the list address: the token in the
        # returned copy's Return-Path names the copy
        yv = verp(copies(d, "y@example.org")[0][0])
        arf = corpus("arf-22.eml").replace(b"X-HmXmrOriginalRecipient:", b"Return-Path: <%s>\r\n"
                                           b"X-HmXmrOriginalRecipient:" % yv.encode(), 1)
        n = d.query("SELECT count(*) FROM deliveries")[0][0]
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
        s.sendmail("staff@hotmail.com", ["ops@lists.example.org"], arf)
        s.quit()
        t.ok(wait_for(lambda: sub(d, "ops", "y@example.org")[0] == "unsubscribed", 15),
             "a complaint sent to the list address unsubscribes the reader its token names", d.logtext()[-1500:])
        t.eq(bounces(d, "y@example.org"), [("arf", "complaint", None, 0.0, 0)], "kept in y's history")
        t.ok(logged(d, "a feedback report to ops names copy"), "logged")
        t.eq(d.query("SELECT count(*) FROM deliveries")[0][0], n, "and it is neither relayed nor answered")

        # parley bounces
        rc, out, err = parley(d, "bounces", "dev")
        t.ok(rc == 0 and re.search(r"a@example\.org\s+active\s+score 1\.0 ", out)
             and re.search(r"b@example\.org\s+active\s+score 0\.5 ", out)
             and re.search(r"d@example\.org\s+unsubscribed", out) and "c@example.org" not in out,
             "parley bounces dev: scores and states", out + err)
        rc, out, err = parley(d, "bounces", "ops", "x@example.org")
        t.ok(rc == 0 and "probe" in out and out.count("\n  ") == 2, "parley bounces ops x@: the history", out + err)
        rc, out, err = parley(d, "--json", "bounces", "dev", "a@example.org")
        try:
            j = json.loads(out)
        except ValueError:
            j = {}
        s = j.get("subscribers", [{}])[0]
        t.ok(rc == 0 and j.get("threshold") == 2.5 and s.get("address") == "a@example.org" and s.get("score") == 1.0
             and [(h["class"], h["status"], h["scored"]) for h in s.get("history", [])]
             == [("hard", "5.1.1", 1.0), ("hard", "5.1.1", 0.0)], "parley --json bounces dev a@", out + err)
        rc, out, err = parley(d, "bounces", "dev", "nobody@example.org")
        t.ok(rc == 1 and "not a subscriber" in err, "an address that is no subscriber is an error", out + err)

        # parley stats counts them, by class, per list
        want = dict(d.query("SELECT b.class, count(*) FROM bounces b JOIN subscribers s ON s.id = b.subscriber_id"
                            " JOIN lists l ON l.id = s.list_id WHERE l.name = 'dev' GROUP BY b.class"))
        rc, out, err = parley(d, "--json", "stats", "dev")
        try:
            got = json.loads(out)["lists"][0]["bounces"]
        except (ValueError, KeyError, IndexError):
            got = {}
        t.ok(rc == 0 and want.get("hard", 0) > 0 and want.get("complaint", 0) > 0 and
             all(got.get(c, {}).get("all") == want.get(c, 0) == got.get(c, {}).get("day")
                 for c in ("hard", "soft", "complaint")),
             "parley stats dev: the bounces by class, today and in all", (want, got))
    finally:
        d.stop()
        if t.failed:
            print("\n".join("#   " + line for line in d.logtext().splitlines()[-40:]))
        d.cleanup()


def main():
    if os.geteuid() == 0 and subprocess.run(["sh", "-c", "command -v postfix || test -x /usr/sbin/postfix"],
                                            capture_output=True).returncode == 0:
        with_postfix()
    else:
        t.ok(True, "# SKIP no root or no Postfix: the real-relay part")
    injected()
    t.done()


if __name__ == "__main__":
    main()
