#!/usr/bin/env python3
"""test_relay_faults.py - hostile relays (issue 10, Faults), with short
configured timeouts (daemon.relay_timeouts): 421 at connect, 4xx per RCPT,
no reply after the end of the data, a stall at RCPT past the timeout, "250-"
then a close, a 10 KB reply line; beside a good relay or alone. In every
case the copies are deferred and retried (or go to the good relay), none is
lost, none reaches a recipient twice beyond the documented bound (one
uncommitted batch per connection: only copies whose data the relay took
without answering can arrive twice), and SIGTERM stops parleyd within its
grace period even while a relay stalls with the default 10-minute wait.

test_delivery.py has the single-relay cases of "250-" then a close and of a
14 KB multi-line reply; test_relay_reply.py the hostile bytes in a reply.
The relays are relay_server.py on loopback."""
import collections
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, wait_for  # noqa: E402
from relay_server import Relay  # noqa: E402

t = Tap()
BATCH = 64
SHORT = "  relay_timeouts = { connect = 2; greeting = 2; mail = 2; rcpt = 2; data = 2; block = 2; end = 2; };"
POST = ("From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\nSubject: %s\r\n"
        "Message-ID: <%s@example.org>\r\nDate: Mon, 23 Nov 2026 20:00:00 +0000\r\n\r\nHello.\r\n")


def configure(d, relays, extra=SHORT, workers=2):
    text = open(d.conf).read()
    entries = ",\n".join('    { url = "smtp:127.0.0.1:%d"; }' % r.port for r in relays)
    text = re.sub(r"(?s)\n  relay = \{.*?\n  \};",
                  "\n  relay = { retry = [ 1 ]; };\n  relays = (\n%s\n  );\n%s" % (entries, extra), text)
    text = re.sub(r"(?m)^  workers = \d+;.*$", "  workers = %d;" % workers, text)
    open(d.conf, "w").write(text)


def setup(d, addrs):
    path = os.path.join(d.dir, "subs.txt")
    with open(path, "w") as f:
        f.write("".join(a + "\n" for a in addrs))
    subprocess.run([PARLEY, "-c", d.conf, "sub", "import", "dev", path], check=True, capture_output=True)


def queue(d, addrs, subject):
    db = sqlite3.connect(d.db, timeout=10)
    try:
        now = int(time.time())
        lid = db.execute("SELECT id FROM lists WHERE name = 'dev'").fetchone()[0]
        tid = db.execute("INSERT INTO threads(list_id, subject, created_at, last_at) VALUES (?, ?, ?, ?)",
                         (lid, subject, now, now)).lastrowid
        tag = re.sub(r"\W", "", subject)
        aid = db.execute("INSERT INTO archive(list_id, thread_id, kind, list_msgid, orig_msgid, author_addr,"
                         " author_name, subject, text, raw, created_at) VALUES (?, ?, 'post', ?, ?,"
                         " 'alice@example.org', 'Alice', ?, 'Hello.', ?, ?)",
                         (lid, tid, "<parley.%s@lists.example.org>" % tag, "<%s@example.org>" % tag,
                          subject, (POST % (subject, tag)).encode(), now)).lastrowid
        db.executemany("INSERT INTO deliveries(archive_id, subscriber_id, address, next_at, created_at,"
                       " updated_at) SELECT ?, id, address, ?, ?, ? FROM subscribers"
                       " WHERE list_id = ? AND address = ?",
                       [(aid, now, now, now, lid, a) for a in addrs])
        db.commit()
        return aid
    finally:
        db.close()


def rows(d, aid):
    return {r[0]: r[1:] for r in d.query("SELECT address, status, attempts, last_error, relay FROM deliveries"
                                         " WHERE archive_id = ?", (aid,))}


def all_sent(d, aid, n):
    r = rows(d, aid)
    return len(r) == n and all(v[0] == "sent" for v in r.values())


def taken(*relays):
    """Copies each recipient got from RELAYS: answered ones, and the ones
    whose data was taken without an answer (the in-flight bound)."""
    got = collections.Counter()
    unanswered = 0
    for r in relays:
        with r.lock:
            for m in r.msgs:
                got[m["rcpts"][0]] += 1
                unanswered += bool(m.get("unanswered"))
    return got, unanswered


def once_each(addrs, got, bound, what):
    t.ok(set(got) == set(addrs), "%s: every recipient got the copy" % what, sorted(set(addrs) - set(got))[:5])
    dups = sum(v - 1 for v in got.values())
    t.ok(dups <= bound, "%s: duplicates %d, within the bound %d" % (what, dups, bound))


def first_time(counter_lock, seen, addr):
    with counter_lock:
        seen[addr] += 1
        return seen[addr] == 1


def case_421_at_connect(d):
    bad = Relay(greeting=(421, "4.3.2 too busy, go away"))
    good = Relay()
    addrs = ["c%02d@example.net" % i for i in range(30)]
    try:
        setup(d, addrs)
        configure(d, [bad, good])
        d.start()
        aid = queue(d, addrs, "421 at connect")
        t.ok(wait_for(lambda: all_sent(d, aid, len(addrs)), 30), "421 at connect: all sent", rows(d, aid))
        got, _ = taken(bad, good)
        once_each(addrs, got, 0, "421 at connect")
        t.ok(all(v[3] == "127.0.0.1:%d" % good.port for v in rows(d, aid).values()),
             "421 at connect: every copy went by the good relay")
        t.ok(re.search(r"relay 127\.0\.0\.1:%d is down for 30 s.*421" % bad.port, d.logtext()),
             "421 at connect: that relay is marked down, with its reply")
    finally:
        d.stop()
        bad.close()
        good.close()


def case_4xx_per_rcpt(d):
    lock, seen = threading.Lock(), collections.Counter()
    odd = lambda a: int(a[1:3]) % 2 == 1  # noqa: E731

    def rcpt(a):
        if odd(a) and first_time(lock, seen, a):
            return 451, "4.2.1 <%s> try again later" % a
        return 250, "2.1.5 ok"
    relay = Relay(rcpt=rcpt)
    addrs = ["r%02d@example.net" % i for i in range(20)]
    try:
        setup(d, addrs)
        configure(d, [relay])
        d.start()
        aid = queue(d, addrs, "4xx per rcpt")
        t.ok(wait_for(lambda: all_sent(d, aid, len(addrs)), 30), "4xx per RCPT: all sent in the end",
             rows(d, aid))
        got, _ = taken(relay)
        once_each(addrs, got, 0, "4xx per RCPT")
        r = rows(d, aid)
        t.ok(all(r[a][1] == (2 if odd(a) else 1) for a in addrs),
             "4xx per RCPT: only the refused ones took a second attempt", {a: r[a][1] for a in addrs})
        t.ok(re.search(r"status=deferred \(RCPT TO: 451 4\.2\.1 <r01@example\.net> try again later\)",
                       d.logtext()), "4xx per RCPT: deferred with the relay's reply")
    finally:
        d.stop()
        relay.close()


def case_no_reply_after_data(d):
    lock, seen = threading.Lock(), collections.Counter()
    relay = Relay(stall=lambda stage, a: stage == "end" and a.endswith("0@example.net")
                  and first_time(lock, seen, a))
    addrs = ["e%02d@example.net" % i for i in range(30)]
    try:
        setup(d, addrs)
        configure(d, [relay])
        d.start()
        aid = queue(d, addrs, "no reply after data")
        t.ok(wait_for(lambda: all_sent(d, aid, len(addrs)), 40), "no reply after the data (end = 2 s): all sent",
             rows(d, aid))
        got, unanswered = taken(relay)
        t.ok(unanswered >= 1, "the relay took data it never answered (%d times)" % unanswered)
        once_each(addrs, got, min(unanswered, BATCH * relay.conns), "no reply after the data")
        t.ok("end of DATA: 127.0.0.1:%d: no reply in time" % relay.port in d.logtext(),
             "no reply after the data: deferred as a timeout")
    finally:
        d.stop()
        relay.close()


def case_stall_at_rcpt(d):
    stall = Relay(stall=lambda stage, a: stage == "rcpt")
    good = Relay()
    addrs = ["s%02d@example.net" % i for i in range(30)]
    try:
        setup(d, addrs)
        configure(d, [stall, good])
        d.start()
        aid = queue(d, addrs, "stall at rcpt")
        t.ok(wait_for(lambda: all_sent(d, aid, len(addrs)), 40), "a stall at RCPT past rcpt = 2 s: all sent",
             rows(d, aid))
        got, _ = taken(stall, good)
        once_each(addrs, got, 0, "stall at RCPT")
        t.ok(stall.stalled >= 1 and re.search(r"relay 127\.0\.0\.1:%d is down" % stall.port, d.logtext()),
             "stall at RCPT: the stalling relay is marked down and the good one takes its copies")
    finally:
        d.stop()
        stall.close()
        good.close()


def case_250_dash_close(d):
    bad = Relay(end_close=True)
    good = Relay()
    addrs = ["d%02d@example.net" % i for i in range(30)]
    try:
        setup(d, addrs)
        configure(d, [bad, good])
        d.start()
        aid = queue(d, addrs, "dash close")
        t.ok(wait_for(lambda: all_sent(d, aid, len(addrs)), 30), "\"250-\" then a close: all sent", rows(d, aid))
        got, _ = taken(good)
        once_each(addrs, got, 0, "\"250-\" then a close (copies the good relay took)")
        t.ok(all(v[3] == "127.0.0.1:%d" % good.port for v in rows(d, aid).values()),
             "\"250-\" then a close: none is recorded as sent by the relay that did not answer whole")
    finally:
        d.stop()
        bad.close()
        good.close()


def case_10k_line(d):
    lock, seen = threading.Lock(), collections.Counter()
    long_text = "4.7.0 " + "x" * 10240

    def rcpt(a):
        if first_time(lock, seen, a):
            return 452, long_text
        return 250, "2.1.5 ok"
    relay = Relay(rcpt=rcpt)
    addrs = ["k%02d@example.net" % i for i in range(10)]
    try:
        setup(d, addrs)
        configure(d, [relay])
        d.start()
        aid = queue(d, addrs, "long line")
        t.ok(wait_for(lambda: all_sent(d, aid, len(addrs)), 30), "a 10 KB reply line: deferred, then sent",
             rows(d, aid))
        got, _ = taken(relay)
        once_each(addrs, got, 0, "10 KB reply line")
        t.ok(re.search(r"status=deferred \(RCPT TO: 452 4\.7\.0 x{100}", d.logtext()),
             "a 10 KB reply line is read whole, its start kept")
    finally:
        d.stop()
        relay.close()


def case_sigterm_while_stalled(d):
    relay = Relay(stall=lambda stage, a: stage == "end")
    addrs = ["t%02d@example.net" % i for i in range(4)]
    try:
        setup(d, addrs)
        configure(d, [relay], extra="")  # the default 600 s wait for the end of the data
        d.start()
        aid = queue(d, addrs, "sigterm")
        t.ok(wait_for(lambda: relay.stalled >= 1, 20), "a relay holds the copies' end of data unanswered")
        start = time.time()
        rc = d.stop(timeout=30)
        took = time.time() - start
        t.ok(rc is not None and took < 16, "SIGTERM: parleyd exits within its grace period (%.1f s, status %s)"
             % (took, rc))
        good = Relay()
        try:
            d.write_conf()  # the sample again, then only the good relay
            configure(d, [good])
            d.start()
            t.ok(wait_for(lambda: all_sent(d, aid, len(addrs)), 30),
                 "after a restart with a good relay, none of the stalled copies is lost", rows(d, aid))
            t.eq(sorted(good.by_rcpt().items()), [(a, 1) for a in addrs], "each once at the good relay")
        finally:
            good.close()
    finally:
        d.stop()
        relay.close()


def main():
    for case in (case_421_at_connect, case_4xx_per_rcpt, case_no_reply_after_data, case_stall_at_rcpt,
                 case_250_dash_close, case_10k_line, case_sigterm_while_stalled):
        d = Daemon()
        try:
            case(d)
        finally:
            d.cleanup()
    t.done()


main()
