#!/usr/bin/env python3
"""test_load.py - parleyd's SMTP listener under load (issue 9, Load): 1,000
concurrent sessions from 1,000 addresses (the ones above limits.connections
get 421 at once), slow-loris clients trickling commands and data (cut at
their deadline, their slots freed), 200,000 RCPT in one session (452 past
limits.recipients, the session bounded and still answering), a message with
500,000 To: lines and one with 100,000 header continuation lines (refused
after their data by the header cap), and a 10,000-deep multipart (streamed
and accepted). A normal client is served during each attack.

Behaviour only: the timings and the peak memory are measured by
bench/load.sh. Every loop is bounded in count and time."""
import os
import smtplib
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Tap, deep_multipart, limited_daemon, rcpt_flood, smtp_read, wait_for  # noqa: E402

t = Tap()
LIST = "dev@lists.example.org"


def daemon(limits):
    return limited_daemon(limits)


def served(d, mid):
    """A normal client sends one message: the DATA reply code, or the
    greeting's code if it was refused."""
    try:
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30)
    except smtplib.SMTPConnectError as e:
        return e.smtp_code
    s.ehlo("normal.example.net")
    s.mail("a@example.net")
    s.rcpt(LIST)
    code, _ = s.data("Message-ID: <%s>\r\nSubject: normal\r\n\r\nhi\r\n" % mid)
    s.quit()
    return code


def connect(port, src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(40)
    s.connect(("127.0.0.1", port))
    return s


def many_sessions(d):
    socks = [connect(d.smtp_port, "127.4.%d.%d" % (i >> 8, i & 255)) for i in range(1000)]
    codes = {}
    for s in socks:
        line = s.makefile("rb").readline()
        codes[line[:3]] = codes.get(line[:3], 0) + 1
    n = codes.get(b"220", 0)  # the start-up probe's session may not have ended yet
    t.ok(99 <= n <= 100 and codes.get(b"421", 0) == 1000 - n and len(codes) == 2,
         "1,000 concurrent sessions: limits.connections (100) get 220, the rest 421 at once", codes)
    t.eq(served(d, "while-full@example.net"), 421, "a normal client meanwhile gets 421 at once, not a hang")
    # the admitted ones are idle: each is cut at command_timeout, its slot freed
    t.ok(wait_for(lambda: served(d, "after-full@example.net") == 250, 60, 0.5),
         "once the idle sessions reach command_timeout, a normal client is served")
    cut = sum(1 for s in socks if b"Timeout" in s.makefile("rb").read())
    t.eq(cut, n, "each admitted idle session got 421 Timeout")
    for s in socks:
        s.close()


def slowloris(d):
    """Clients trickle a byte every 0.3 s: in a command, and in DATA."""
    cmd = [connect(d.smtp_port, "127.5.0.%d" % (i + 1)) for i in range(10)]
    data = [connect(d.smtp_port, "127.5.1.%d" % (i + 1)) for i in range(10)]
    for s in cmd + data:
        s.makefile("rb").readline()
    for s in data:
        s.sendall(b"EHLO x\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<%s>\r\nDATA\r\n" % LIST.encode())
        f = s.makefile("rb")
        for _ in range(4):
            smtp_read(f)
    stop = threading.Event()
    closed = set()

    def trickle():
        n = 0
        while not stop.is_set() and n < 300:
            for s in cmd + data:
                if s in closed:
                    continue
                try:
                    s.send(b"X" if s in data else b"N")
                except OSError:
                    closed.add(s)
            n += 1
            time.sleep(0.3)
    th = threading.Thread(target=trickle)
    th.start()
    try:
        t.eq(served(d, "during-loris@example.net"), 250, "a normal client is served during the slow-loris attack")
        t.ok(wait_for(lambda: len(closed) == 20, 60, 0.2),
             "every trickling client is cut at its deadline (command_timeout, data_timeout + rate)",
             "%d of 20 closed" % len(closed))
    finally:
        stop.set()
        th.join()
    for s in cmd + data:
        s.close()


def many_rcpt(d, n=200000):
    got = rcpt_flood(d.smtp_port, n, LIST)
    t.eq(got, {250: 103, 452: n - 100},
         "%d RCPT in one session: 100 accepted (limits.recipients), the rest 452, then NOOP answered" % n)
    t.eq(served(d, "after-rcpt@example.net"), 250, "others are served")


def big_header(d, what, header):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=120)
    s.ehlo("x")
    s.mail("a@example.net")
    s.rcpt(LIST)
    code, text = s.data(header + "Message-ID: <%s@example.net>\r\n\r\nbody\r\n" % what.replace(" ", "-"))
    t.ok(code == 552 and b"5.3.4" in text, "%s: refused with 552 5.3.4 after its data" % what, (code, text))
    t.eq(s.noop()[0], 250, "%s: the session goes on" % what)
    s.quit()
    t.eq(d.spool_files("incoming/tmp"), [], "%s: nothing is left in the spool" % what)


def multipart(d, depth=10000):
    body = deep_multipart(depth)
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=120)
    s.ehlo("x")
    s.mail("a@example.net")
    s.rcpt(LIST)
    code, _ = s.data("Message-ID: <deep@example.net>\r\nMIME-Version: 1.0\r\n" + body)
    s.quit()
    t.eq(code, 250, "a %d-deep multipart (%d kB) is streamed and accepted by SMTP" % (depth, len(body) >> 10))


def main():
    d = daemon('message_size = "25M"; connections = 100; sessions_per_ip = 10; command_timeout = 15;'
               ' data_timeout = 3; header_count = 1000;')
    try:
        d.start()
        for step in (many_sessions, slowloris, many_rcpt,
                     lambda d: big_header(d, "500000 To lines",
                                          "".join("To: r%d@example.net\r\n" % i for i in range(500000))),
                     lambda d: big_header(d, "100000 continuation lines",
                                          "X-Long: start\r\n" + " folded\r\n" * 100000),
                     multipart):
            try:
                step(d)
            except Exception as e:  # a crash of one step is a failure, not the end
                t.ok(False, "step %s ran" % getattr(step, "__name__", "?"), repr(e))
        t.ok(d.proc.poll() is None, "parleyd survived every attack")
    finally:
        if t.failed:
            print("# parleyd log:\n" + "\n".join("#   " + x for x in d.logtext().splitlines()[-30:]))
        d.cleanup()
    t.done()


main()
