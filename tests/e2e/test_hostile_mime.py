#!/usr/bin/env python3
"""test_hostile_mime.py - messages built to break the parser (issue 9): a
30,000-deep and a 10,000-deep multipart sent to the list address over SMTP
(the 30,000-deep one overflowed the stack in libetpan's recursive MIME parser
and killed parleyd at every restart) are quarantined at once with the reason
"MIME nesting deeper than 100" (or refused at DATA), parleyd stays up, and a
normal post sent after them is archived; a 100-deep one is ingested. Then
500,000 To: lines and one To: field of 100,000 continuation lines, injected
with `parley inject` (no SMTP header cap on that path): handled or refused
with a reason, parleyd alive, a later post archived. Last a post whose
Content-Type has a NUL byte that hides its boundary (fuzz_render: its copy
had another MIME structure and did not parse), injected (SMTP refuses NUL at
DATA): quarantined with the reason, and the next post archived."""
import os
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, wait_for  # noqa: E402

t = Tap()
LIST = "dev@lists.example.org"
SECRET = "k3vq9t2mxw8rz5pa"
POST = "dev+post-%s@lists.example.org" % SECRET


def nested(depth, mid):
    head = ("From: Mallory <mallory@example.net>\r\nTo: %s\r\nSubject: deep %d\r\n"
            "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n" % (LIST, depth, mid))
    opens = "".join('Content-Type: multipart/mixed; boundary="b%d-x"\r\n\r\n--b%d-x\r\n' % (i, i)
                    for i in range(depth))
    closes = "".join("--b%d-x--\r\n" % i for i in reversed(range(depth)))
    return head + opens + "Content-Type: text/plain\r\n\r\nbottom\r\n" + closes


def send(d, rcpt, msg):
    """(code, text) of the end of DATA; the message may be refused there."""
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=60)
    try:
        s.sendmail("mallory@example.net", [rcpt], msg.encode())
        return 250, ""
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode(errors="replace")
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def post(d, mid):
    send(d, POST, "From: Alice <alice@example.org>\r\nTo: %s\r\nSubject: after %s\r\n"
         "Message-ID: <%s>\r\n\r\nStill here\r\n" % (LIST, mid, mid))


def archived(d, mid):
    return d.query("SELECT count(*) FROM archive WHERE orig_msgid = ?", ("<%s>" % mid,))[0][0]


def quarantined(d):
    """{message-id line found in the file: reason} of the quarantine."""
    q = os.path.join(d.spool, "quarantine")
    out = {}
    for f in os.listdir(q) if os.path.isdir(q) else []:
        if f.endswith(".reason"):
            continue
        with open(os.path.join(q, f), "rb") as fh:
            raw = fh.read()
        reason = ""
        if os.path.exists(os.path.join(q, f + ".reason")):
            reason = open(os.path.join(q, f + ".reason")).read()
        for mid in (b"deep-30000", b"deep-10000", b"to-lines", b"to-folded", b"nul-header"):
            if mid in raw:
                out[mid.decode()] = reason
    return out


def deep(d):
    for depth in (30000, 10000):
        mid = "deep-%d@example.net" % depth
        code, text = send(d, LIST, nested(depth, mid))
        if code == 250:
            t.ok(wait_for(lambda: mid.split("@")[0] in quarantined(d), 60),
                 "%d-deep multipart: accepted, then quarantined" % depth, d.logtext()[-2000:])
            reason = quarantined(d).get(mid.split("@")[0], "")
            t.ok("MIME nesting deeper than 100" in reason, "with the reason beside it", reason)
        else:
            t.ok(code == 554 and "nesting" in text, "%d-deep multipart refused at DATA" % depth,
                 "%d %s" % (code, text))
            t.ok(True, "so it never reaches the spool")
        t.ok(d.proc.poll() is None, "parleyd is still running after the %d-deep one" % depth,
             d.logtext()[-2000:])
        post(d, "after-%d@example.org" % depth)
        t.ok(wait_for(lambda: archived(d, "after-%d@example.org" % depth) == 1, 60),
             "a normal post sent after it is archived", d.logtext()[-2000:])
    mid = "deep-100@example.net"
    send(d, POST, nested(100, mid).replace("Mallory <mallory@example.net>", "Alice <alice@example.org>"))
    t.ok(wait_for(lambda: archived(d, mid) == 1, 60), "a 100-deep multipart post is archived",
         d.logtext()[-2000:])


def inject(d, raw):
    return subprocess.run([PARLEY, "-c", d.conf, "inject", "dev", "-f", "mallory@example.net"],
                          input=raw, capture_output=True, timeout=120)


def headers(d):
    many = (b"From: mallory@example.net\r\nMessage-ID: <to-lines@example.net>\r\n" +
            b"".join(b"To: user%d@example.org\r\n" % i for i in range(500000)) + b"\r\nbody\r\n")
    folded = (b"From: mallory@example.net\r\nMessage-ID: <to-folded@example.net>\r\nTo: a@example.org" +
              b"".join(b",\r\n user%d@example.org" % i for i in range(100000)) + b"\r\n\r\nbody\r\n")
    for name, raw in (("to-lines", many), ("to-folded", folded)):
        r = inject(d, raw)
        t.eq(r.returncode, 0, "%s (%d bytes) injected" % (name, len(raw)))
        mid = "<%s@example.net>" % name
        handled = wait_for(lambda: d.query("SELECT count(*) FROM inbound WHERE message_id = ?",
                                           (mid,))[0][0] == 1 or name in quarantined(d), 90)
        why = quarantined(d).get(name)
        t.ok(handled, "%s: stored or quarantined (%s)" % (name, "quarantined: " + why.strip()
                                                            if why else "stored"))
        t.ok(why is None or "header fields (limit" in why, "with a clear reason", why)
        t.ok(d.proc.poll() is None, "parleyd alive after %s" % name)
        post(d, "after-%s@example.org" % name)
        t.ok(wait_for(lambda: archived(d, "after-%s@example.org" % name) == 1, 60),
             "a normal post after it is archived", d.logtext()[-2000:])


def nul(d):
    raw = (b"From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\nSubject: nul\r\n"
           b"Message-ID: <nul-header@example.org>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed;\0boundary=\"foo bar\"\r\n\r\n--foo bar\r\n"
           b"Content-Type: message/rfc822\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
           b"--x\r\n\r\ny\r\n--x--\r\n--foo bar--\r\n")
    r = subprocess.run([PARLEY, "-c", d.conf, "inject", "dev", "-f", "alice@example.org"],
                       input=raw, capture_output=True, timeout=60)
    t.ok(r.returncode == 0, "a post with a NUL in its Content-Type injected", r.stderr)
    t.ok(wait_for(lambda: "nul-header" in quarantined(d), 60), "and quarantined",
         d.logtext()[-2000:])
    why = quarantined(d).get("nul-header", "")
    t.ok("a NUL byte in a header field" in why, "with the reason beside it", why)
    t.eq(archived(d, "nul-header@example.org"), 0, "never archived")
    post(d, "after-nul@example.org")
    t.ok(wait_for(lambda: archived(d, "after-nul@example.org") == 1, 60),
         "a normal post after it is archived", d.logtext()[-2000:])


def main():
    d = Daemon()
    try:
        d.start()
        deep(d)
        headers(d)
        nul(d)
        d.stop()
        d.start()
        t.ok(wait_for(lambda: d.proc.poll() is None and d.listening(), 10),
             "parleyd restarts with the quarantine in place")
    finally:
        d.cleanup()
    t.done()


main()
