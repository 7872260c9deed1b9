#!/usr/bin/env python3
"""test_relay_reply.py - a relay's reply is untrusted text (issue 9, defect
16): a relay on loopback that answers RCPT with raw 0xff bytes, a C1 CSI
and ESC in a 550 and a 450 reply. The stored last_error of each copy, the
bounce event and the log are valid UTF-8 without control characters, and
`parley queue ls` prints them so; the reply code and the readable words are
kept."""
import os
import re
import smtplib
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, free_port, wait_for  # noqa: E402

t = Tap()
POST = "dev+post-k3vq9t2mxw8rz5pa@lists.example.org"
HOSTILE = b"\xff\xfe bad \xc2\x9b31m \x1b[2J user \xe2\x82"
REPLIES = {"dan@example.net": b"550 5.1.1 " + HOSTILE, "gus@example.net": b"450 4.2.1 " + HOSTILE}


class Relay:
    """A minimal SMTP server on 127.0.0.1 answering RCPT from REPLIES."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.rcpts = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        for _ in range(50):
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.talk, args=(c,), daemon=True).start()

    def talk(self, c):
        c.settimeout(30)
        try:
            f = c.makefile("rb")
            c.sendall(b"220 relay.test ESMTP\r\n")
            for _ in range(1000):
                line = f.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb == b"EHLO":
                    c.sendall(b"250-relay.test\r\n250 8BITMIME\r\n")
                elif verb == b"RCPT":
                    addr = re.sub(rb"(?i)^RCPT TO:<([^>]*)>.*$", rb"\1", line.rstrip(b"\r\n")).decode()
                    self.rcpts.append(addr)
                    c.sendall(REPLIES.get(addr, b"250 2.1.5 ok") + b"\r\n")
                elif verb == b"DATA":
                    c.sendall(b"354 go\r\n")
                    while f.readline() not in (b".\r\n", b""):
                        pass
                    c.sendall(b"250 2.0.0 queued\r\n")
                elif verb == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"250 2.0.0 ok\r\n")
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()


def clean(b):
    """B decodes as UTF-8 and has no control character but TAB and LF."""
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(ch) < 0x20 and ch not in "\t\n" or 0x7f <= ord(ch) <= 0x9f for ch in s)


def main():
    relay = Relay()
    d = Daemon()
    try:
        text = open(d.conf).read().replace("    port = 25;", "    port = %d;" % relay.port, 1)
        open(d.conf, "w").write(text)
        d.start()
        for a in ("dan@example.net", "gus@example.net", "eve@example.net"):
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev", a, "--no-confirm"],
                           check=True, capture_output=True, timeout=30)
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
        s.sendmail("alice@example.org", [POST], b"From: Alice <alice@example.org>\r\n"
                   b"Subject: hello\r\nMessage-ID: <relayreply@example.org>\r\n\r\nHello\r\n")
        s.quit()

        def errors():
            return dict(d.query("SELECT address, CAST(last_error AS BLOB) FROM deliveries"
                                " WHERE last_error IS NOT NULL"))
        t.ok(wait_for(lambda: len(errors()) == 2, 60), "both refusals are recorded",
             d.query("SELECT address, status, CAST(last_error AS BLOB) FROM deliveries"))
        errs = errors()
        for a, code in (("dan@example.net", b"550 5.1.1"), ("gus@example.net", b"450 4.2.1")):
            e = bytes(errs.get(a) or b"")
            t.ok(clean(e), "%s: the stored reply is valid UTF-8 without controls" % a, repr(e))
            t.ok(code in e and b"bad" in e and b"user" in e, "and keeps the code and the words", repr(e))
        ev = [bytes(r[0]) for r in d.query("SELECT CAST(actor AS BLOB) FROM subscriber_events"
                                            " WHERE event = 'bounce'")]
        t.ok(ev and all(clean(x) for x in ev), "the bounce event's text too", ev)
        t.ok(wait_for(lambda: b"5.1.1" in open(d.log, "rb").read(), 10), "the refusal is logged")
        log = open(d.log, "rb").read()
        lines = [l for l in log.split(b"\n") if b"5.1.1" in l or b"4.2.1" in l]
        t.ok(lines and all(clean(l) for l in lines), "the log lines of the replies are clean", lines)
        r = subprocess.run([PARLEY, "-c", d.conf, "queue", "ls", "--all"], capture_output=True, timeout=30)
        t.ok(r.returncode == 0 and clean(r.stdout) and b"550 5.1.1" in r.stdout,
             "parley queue ls shows the reply cleanly", r.stdout[-600:])
    finally:
        relay.close()
        d.cleanup()
    t.done()


main()
