#!/usr/bin/env python3
"""test_cli_escape.py - no control character reaches the terminal (issue 9,
defect 14): a post and a held message whose subject, display name and text
carry C1 controls (the 8-bit CSI U+009B of "=?utf-8?q?x_=C2=9B2J?="), ESC
and a bidi override are ingested through SMTP; every human-readable view of
`parley archive` and `parley mod` shows them escaped ("\\u009b"), never as
the bytes, and --json stays valid JSON with the same characters as \\u
escapes. A row holding bytes that are not UTF-8 (as an older database may)
prints them as "\\xHH". A subscriber's name with a C1 control is refused."""
import json
import os
import smtplib
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, wait_for  # noqa: E402

t = Tap()
LIST = "dev@lists.example.org"
POST = "dev+post-k3vq9t2mxw8rz5pa@lists.example.org"
SUBJECT = "=?utf-8?q?x_=C2=9B2J_=E2=80=AEevil?="
NAME = "=?utf-8?q?Ali=C2=9Dce?="


def send(d, rcpt, frm, mid):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail(frm, [rcpt],
               ("From: %s <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                "csi=C2=9B31m esc=1B[2J del=7F end\r\n" % (NAME, frm, LIST, SUBJECT, mid)).encode())
    s.quit()


def run(d, *args):
    r = subprocess.run([PARLEY, "-c", d.conf] + list(args), capture_output=True, timeout=30)
    return r.returncode, r.stdout


def unsafe(out):
    """The control characters in OUT (bytes): C0 but TAB and LF, DEL, C1 in
    UTF-8, bidi overrides, and bytes that are not UTF-8."""
    bad = [b for b in out if b < 0x20 and b not in (9, 10) or b == 0x7f]
    text = out.decode("utf-8", errors="replace")
    bad += [c for c in text if 0x80 <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069
            or ord(c) == 0xfffd]
    return bad


def views(d, name, cmds):
    for args in cmds:
        rc, out = run(d, *args)
        t.ok(rc == 0 and not unsafe(out), "%s: parley %s has no raw control character"
             % (name, " ".join(args)), "rc %d %r\n%r" % (rc, unsafe(out)[:10], out[:600]))
        t.ok(b"\\u009b" in out or b"\\u009d" in out, "and shows them escaped", out[:600])


def main():
    d = Daemon()
    try:
        d.start()
        send(d, POST, "alice@example.org", "c1post@example.org")
        send(d, LIST, "mallory@example.net", "c1held@example.net")
        t.ok(wait_for(lambda: d.query("SELECT count(*) FROM archive")[0][0] == 1 and
                      d.query("SELECT count(*) FROM held")[0][0] == 1, 30),
             "the post is archived and the stranger's message held", d.logtext()[-1500:])
        subj = d.query("SELECT subject FROM archive")[0][0]
        t.ok("\x9b" in subj, "the archive keeps the subject as sent (U+009B in it)", repr(subj))
        hid = str(d.query("SELECT id FROM held")[0][0])
        tid = str(d.query("SELECT thread_id FROM archive")[0][0])
        views(d, "archive", [("archive", "ls", "dev"), ("archive", "show", "c1post@example.org"),
                             ("archive", "show", "c1post@example.org", "--trimmed"),
                             ("archive", "thread", tid), ("archive", "thread", tid, "--full"),
                             ("archive", "search", "dev", "evil")])
        views(d, "mod", [("mod", "ls"), ("mod", "ls", "dev"), ("mod", "show", hid)])
        for args in (("archive", "ls", "dev"), ("archive", "show", "c1post@example.org"),
                     ("mod", "ls"), ("mod", "show", hid)):
            rc, out = run(d, "--json", *args)
            try:
                doc = json.loads(out)
            except ValueError:
                doc = None
            t.ok(rc == 0 and doc is not None and not unsafe(out),
                 "--json %s: valid JSON without raw control characters" % " ".join(args), out[:400])
            t.ok(b"\\u009b" in out or b"\\u009d" in out, "the C1 characters as \\u escapes", out[:400])
        # bytes that are not UTF-8, as a row written by an older parley may hold
        db = sqlite3.connect(d.db)
        db.execute("UPDATE archive SET subject = CAST(X'62616420ff1b5b326a' AS TEXT)")
        db.commit()
        db.close()
        rc, out = run(d, "archive", "ls", "dev")
        t.ok(rc == 0 and not unsafe(out) and b"bad \\xff\\x1b[2j" in out,
             "invalid UTF-8 and ESC in a stored subject print as \\xHH", out[:400])
        rc, out = run(d, "sub", "add", "dev", "=?utf-8?q?B=C2=9Bob?= <bob@example.org>")
        t.eq(rc, 1, "sub add refuses a display name with a C1 control")
    finally:
        d.cleanup()
    t.done()


main()
