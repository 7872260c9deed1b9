#!/usr/bin/env python3
"""bench/load.py - parleyd's SMTP listener under the attacks of issue 9
(Load), one after the other against one daemon: 1,000 concurrent sessions,
slow-loris clients, 10^6 RCPT in one session, 500,000 To: lines, 100,000
header continuation lines, a 10,000-deep multipart. For each it prints the
peak RSS of parleyd so far (VmHWM from /proc/PID/status), its RSS after, the
attack's own time, and the latency of a normal client during the attack
against the same client's latency without attack, measured in this run
(ratio). For the big messages it also prints the time of half the size, so
that the ratio shows whether the work is linear (about 2).

Run by bench/load.sh from a built tree. Bench code only: nothing here is
part of `make check`."""
import os
import smtplib
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from harness import deep_multipart, limited_daemon, rcpt_flood, wait_for  # noqa: E402

LIST = "dev@lists.example.org"


def daemon():
    return limited_daemon('message_size = "25M"; connections = 100; sessions_per_ip = 10;'
                          ' command_timeout = 5; data_timeout = 5;').start()


def status(d, key):
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return 0


def normal_session(d, n):
    """Seconds for one full normal session (greeting to QUIT), or for the
    greeting alone when it is a refusal."""
    a = time.monotonic()
    try:
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=60)
    except smtplib.SMTPConnectError:
        return time.monotonic() - a, "421"
    s.ehlo("normal.example.net")
    s.mail("a@example.net")
    s.rcpt(LIST)
    s.data("Message-ID: <bench-%d-%f@example.net>\r\nSubject: normal\r\n\r\nhi\r\n" % (n, a))
    s.quit()
    return time.monotonic() - a, "250"


def greeting(d):
    """Seconds from connect to the first reply line (220 or 421)."""
    a = time.monotonic()
    s = socket.create_connection(("127.0.0.1", d.smtp_port), timeout=60)
    s.makefile("rb").readline()
    dt = time.monotonic() - a
    s.close()
    return dt


def latency(d, seconds, until=None):
    """Medians of normal sessions and of greetings, run for SECONDS, or
    until UNTIL is set if given (at least one of each)."""
    times, greets, kinds = [], [], set()
    end = time.monotonic() + seconds
    while not times or (until.is_set() is False if until is not None else time.monotonic() < end):
        dt, kind = normal_session(d, len(times))
        times.append(dt)
        kinds.add(kind)
        greets.append(greeting(d))
        if len(times) >= 2000:
            break
    return statistics.median(times), statistics.median(greets), "/".join(sorted(kinds)), len(times)


def connect(port, src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    return s


def attack_sessions(d, done):
    socks = [connect(d.smtp_port, "127.4.%d.%d" % (i >> 8, i & 255)) for i in range(1000)]
    for s in socks:
        s.makefile("rb").readline()
    attack_sessions.held.set()
    done.wait(20)
    for s in socks:
        s.close()


attack_sessions.held = threading.Event()


def attack_slowloris(d, done):
    socks = [connect(d.smtp_port, "127.5.%d.%d" % (i >> 8, 1 + (i & 127))) for i in range(90)]
    for s in socks:
        s.makefile("rb").readline()
    attack_slowloris.held.set()
    end = time.monotonic() + 20
    while time.monotonic() < end and not done.is_set():
        for s in socks:
            try:
                s.send(b"N")
            except OSError:
                pass
        time.sleep(1)
    for s in socks:
        s.close()


attack_slowloris.held = threading.Event()


def attack_rcpt(d, done, n=1000000):
    rcpt_flood(d.smtp_port, n, LIST)


def send_message(d, data):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=600)
    s.ehlo("x")
    s.mail("a@example.net")
    s.rcpt(LIST)
    a = time.monotonic()
    code, _ = s.data(data)
    dt = time.monotonic() - a
    s.quit()
    return code, dt


def to_lines(n):
    return "".join("To: r%d@example.net\r\n" % i for i in range(n)) + "Subject: to\r\n\r\nbody\r\n"


def continuations(n):
    return "X-Long: start\r\n" + " folded\r\n" * n + "Subject: long\r\n\r\nbody\r\n"


def multipart(depth):
    return "MIME-Version: 1.0\r\nSubject: deep\r\n" + deep_multipart(depth)


def message_attack(builder, n):
    """Sends the message of size N and of size N/2, three times each; keeps
    the best DATA time of each (the noise of a shared machine is additive)."""
    def run(d, done):
        full, half = builder(n), builder(n // 2)
        runs = [send_message(d, full) for _ in range(3)]
        run.result = (runs[0][0], min(r[1] for r in runs))
        runs = [send_message(d, half) for _ in range(3)]
        run.half = (runs[0][0], min(r[1] for r in runs))
    return run


def measure(d, name, attack, base):
    done = threading.Event()
    fin = threading.Event()

    def go():
        a = time.monotonic()
        attack(d, done)
        go.dt = time.monotonic() - a
        fin.set()
    th = threading.Thread(target=go)
    th.start()
    held = getattr(attack, "held", None)
    if held is not None:  # a standing attack: measure 4 s once it stands
        held.wait(60)
        med, gmed, kinds, k = latency(d, 4)
    else:  # a finite attack: measure while it runs
        time.sleep(0.2)
        med, gmed, kinds, k = latency(d, 0, fin)
    done.set()
    th.join()
    extra = ""
    if hasattr(attack, "result"):
        (c1, t1), (c2, t2) = attack.result, attack.half
        extra = "  reply %d; DATA %.2f s, half size %.2f s (x%.2f)" % (c1, t1, t2, t1 / t2 if t2 else 0)
    print("%-30s VmHWM %6d kB VmRSS %6d kB attack %5.1f s | normal session %6.1f ms (%s, n=%d)"
          " ratio %5.2f | greeting %5.2f ms ratio %5.2f%s"
          % (name, status(d, "VmHWM"), status(d, "VmRSS"), go.dt, med * 1000, kinds, k,
             med / base[0], gmed * 1000, gmed / base[1], extra), flush=True)


def main():
    d = daemon()
    try:
        wait_for(lambda: False, 0.5)
        print("parleyd %d at start: VmHWM %d kB, VmRSS %d kB" % (d.proc.pid, status(d, "VmHWM"),
                                                             status(d, "VmRSS")))
        med, gmed, _, k = latency(d, 4)
        base = (med, gmed)
        print("without attack: normal session %.1f ms, greeting %.2f ms (medians of %d)"
              % (med * 1000, gmed * 1000, k))
        attacks = [
            ("1000 concurrent sessions", attack_sessions),
            ("90 slow-loris clients (1 B/s)", attack_slowloris),
            ("10^6 RCPT in one session", attack_rcpt),
            ("500000 To: lines", message_attack(to_lines, 500000)),
            ("100000 continuation lines", message_attack(continuations, 100000)),
            ("10000-deep multipart", message_attack(multipart, 10000)),
        ]
        for name, attack in attacks:
            measure(d, name, attack, base)
            wait_for(lambda: False, 6)  # the attack's sessions reach their deadline
            if attack is attacks[-2][1]:
                linearity(d, (("To: lines", to_lines, 500000),
                              ("continuation lines", continuations, 400000)))
        # last: each deep multipart accepted keeps ingest (libetpan) busy for seconds
        linearity(d, (("multipart depth", multipart, 10000),))
        print("parleyd at the end: VmHWM %d kB, VmRSS %d kB" % (status(d, "VmHWM"), status(d, "VmRSS")))
    finally:
        d.cleanup()


def linearity(d, cases):
    print("linearity, without other clients (best of 3 DATA times; the client's own work"
          " included):")
    for name, builder, n in cases:
        row = []
        for k in (n // 4, n // 2, n):
            data = builder(k)
            row.append((k, min(send_message(d, data)[1] for _ in range(3))))
        print("  %-20s " % name + "  ".join("%d: %.3f s" % r for r in row) +
              "  (x%.2f, x%.2f for each doubling)" % (row[1][1] / row[0][1], row[2][1] / row[1][1]))


main()
