#!/usr/bin/env python3
"""test_relays.py - several relays (issue 10, "Relays that scale out"):
daemon.relays spreads the copies by weight over the relays that are up; a
relay that refuses connections is marked down for a backoff and its copies
go to the others; a relay that goes away in the middle of a fan-out loses
nothing (its copies go to the other, and duplicates stay within one batch
of 64 per connection it had); each copy records the relay it went to
(`parley queue ls` shows it); the per-relay limits hold: max_connections
(sessions open at once, seen at the relay), max_per_connection (copies per
connection), rate (no second at the relay with more than rate + 1 copies).

The relays are relay_server.py on loopback; copies are queued by inserting
archive and deliveries rows directly, as test_delivery.py does."""
import collections
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, free_port, parley, wait_for  # noqa: E402
from relay_server import Relay  # noqa: E402

t = Tap()
BATCH = 64	# delivery.c: copies per claim, the uncommitted bound per connection
POST = ("From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\nSubject: %s\r\n"
        "Message-ID: <%s@example.org>\r\nDate: Mon, 23 Nov 2026 20:00:00 +0000\r\n\r\n"
        "Hello list.\r\n")


def configure(d, relays, workers=2, extra=""):
    """D's daemon group with RELAYS (libconfig text of the list's entries)
    and a retry of 1 s."""
    text = open(d.conf).read()
    text = re.sub(r"(?s)\n  relay = \{.*?\n  \};",
                  "\n  relay = { retry = [ 1 ]; };\n  relays = (\n%s\n  );%s" % (relays, extra), text)
    text = re.sub(r"(?m)^  workers = \d+;.*$", "  workers = %d;" % workers, text)
    open(d.conf, "w").write(text)


def entry(port, more=""):
    return '    { url = "smtp:127.0.0.1:%d"; %s}' % (port, more)


def subscribe(d, addrs):
    path = os.path.join(d.dir, "subs.txt")
    with open(path, "w") as f:
        f.write("".join(a + "\n" for a in addrs))
    subprocess.run([PARLEY, "-c", d.conf, "sub", "import", "dev", path], check=True, capture_output=True)


def queue(d, addrs, subject):
    """A post of dev archived and one copy queued per address; its archive id."""
    db = sqlite3.connect(d.db, timeout=10)
    try:
        now = int(time.time())
        lid = db.execute("SELECT id FROM lists WHERE name = 'dev'").fetchone()[0]
        tid = db.execute("INSERT INTO threads(list_id, subject, created_at, last_at) VALUES (?, ?, ?, ?)",
                         (lid, subject, now, now)).lastrowid
        tag = re.sub(r"\W", "", subject)
        aid = db.execute("INSERT INTO archive(list_id, thread_id, kind, list_msgid, orig_msgid, author_addr,"
                         " author_name, subject, text, raw, created_at) VALUES (?, ?, 'post', ?, ?,"
                         " 'alice@example.org', 'Alice', ?, 'Hello list.', ?, ?)",
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


def sent(d, aid):
    return d.query("SELECT count(*) FROM deliveries WHERE archive_id = ? AND status = 'sent'", (aid,))[0][0]


def relay_of(d, aid):
    return dict(d.query("SELECT address, relay FROM deliveries WHERE archive_id = ?", (aid,)))


def weights_and_down(d):
    """Weights 1:3 over A and B, and C refusing connections: C is marked
    down, every copy reaches A or B exactly once, about a quarter A."""
    a, b = Relay(), Relay()
    dead = free_port()
    n = 400
    addrs = ["w%03d@example.net" % i for i in range(n)]
    try:
        subscribe(d, addrs)
        configure(d, ",\n".join([entry(a.port, "weight = 1; "), entry(b.port, "weight = 3; "),
                                 entry(dead, "weight = 2; ")]))
        d.start()
        aid = queue(d, addrs, "weights")
        t.ok(wait_for(lambda: sent(d, aid) == n, 60), "%d copies sent over three relays, one dead" % n,
             "%d sent\n%s" % (sent(d, aid), d.logtext()[-1500:]))
        ca, cb = a.by_rcpt(), b.by_rcpt()
        t.ok(set(ca) | set(cb) == set(addrs) and not set(ca) & set(cb)
             and all(v == 1 for v in list(ca.values()) + list(cb.values())),
             "each recipient got exactly one copy, from A or from B",
             "A %d, B %d" % (len(ca), len(cb)))
        share = len(ca) / float(n)
        t.ok(0.12 <= share <= 0.40, "weights 1:3: relay A took about a quarter (%.2f)" % share)
        t.ok(re.search(r"relay 127\.0\.0\.1:%d is down for 30 s, its copies go to the others" % dead,
                       d.logtext()), "the dead relay is marked down for 30 s, and logged")
        t.eq(d.logtext().count("relay 127.0.0.1:%d is down" % dead), 1,
             "and marked down once, not once per batch (backoff)")
        rel = relay_of(d, aid)
        t.ok(all(rel[x] == "127.0.0.1:%d" % a.port for x in ca)
             and all(rel[x] == "127.0.0.1:%d" % b.port for x in cb),
             "each copy records the relay that took it (deliveries.relay)")
        rc, out, _ = parley(d, "queue", "ls", "--all")
        t.ok(rc == 0 and ("via 127.0.0.1:%d" % a.port) in out and ("via 127.0.0.1:%d" % b.port) in out,
             "parley queue ls shows the relay of each copy", out[:300])
        rc, out, _ = parley(d, "--json", "queue", "ls", "--all")
        rows = json.loads(out)["copies"] if rc == 0 else []
        t.ok(rows and all(r["relay"] in ("127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port) for r in rows),
             "and --json has it as \"relay\"")
    finally:
        d.stop()
        a.close()
        b.close()


def stopped_in_the_middle(d):
    """A goes away in the middle of a fan-out: its copies go to B; every
    recipient gets the copy, and no more duplicates than one batch per
    connection A had."""
    a, b = Relay(delay=0.002), Relay(delay=0.002)
    n = 600
    addrs = ["m%03d@example.net" % i for i in range(n)]
    try:
        subscribe(d, addrs)
        configure(d, ",\n".join([entry(a.port), entry(b.port)]), workers=3)
        d.start()
        aid = queue(d, addrs, "stopped")
        t.ok(wait_for(lambda: a.count() >= 60, 30), "relay A took copies", a.count())
        a.stop()
        t.ok(wait_for(lambda: sent(d, aid) == n, 60), "all %d copies sent after A went away" % n,
             "%d sent\n%s" % (sent(d, aid), d.logtext()[-1500:]))
        ca, cb = a.by_rcpt(), b.by_rcpt()
        got = collections.Counter(ca) + collections.Counter(cb)
        t.ok(set(got) == set(addrs), "every recipient got the copy", len(set(addrs) - set(got)))
        dups = sum(v - 1 for v in got.values())
        t.ok(dups <= BATCH * a.conns, "duplicates within the bound: %d <= %d x %d connections"
             % (dups, BATCH, a.conns))
        t.ok(re.search(r"relay 127\.0\.0\.1:%d is down for \d+ s" % a.port, d.logtext()),
             "A is marked down")
        rel = relay_of(d, aid)
        t.ok(all(rel[x] == "127.0.0.1:%d" % b.port for x in cb if x not in ca),
             "the copies only B took record B")
        rc = d.stop()
        t.eq(rc, 0, "parleyd stops cleanly")
    finally:
        d.stop()
        a.close()
        b.close()


def limits(d):
    """max_connections 1 with 4 workers: one session at a time at the
    relay; max_per_connection 5: no connection carries more; rate 5 on the
    other: no second with more than 6 copies."""
    a, b = Relay(), Relay()
    n = 150  # more than two claims (BATCH): A's one session cannot take them all
    addrs = ["l%03d@example.net" % i for i in range(n)]
    try:
        subscribe(d, addrs)
        configure(d, ",\n".join([entry(a.port, "max_connections = 1; max_per_connection = 5; "),
                                 entry(b.port, "rate = 5; ")]), workers=4)
        d.start()
        aid = queue(d, addrs, "limits")
        t.ok(wait_for(lambda: sent(d, aid) == n, 120), "%d copies sent under the limits" % n,
             "%d sent\n%s" % (sent(d, aid), d.logtext()[-1500:]))
        got = collections.Counter(a.by_rcpt()) + collections.Counter(b.by_rcpt())
        t.ok(set(got) == set(addrs) and all(v == 1 for v in got.values()), "each exactly once")
        t.eq(a.max_open, 1, "max_connections = 1: never two sessions at once at A (4 workers)")
        per_conn = collections.Counter(m["conn"] for m in a.msgs)
        t.ok(a.msgs and max(per_conn.values()) <= 5 and a.conns >= len(a.msgs) // 5,
             "max_per_connection = 5: no connection carried more than 5 (%d copies, %d connections)"
             % (len(a.msgs), a.conns), per_conn)
        per_sec = collections.Counter(int(m["t"]) for m in b.msgs)
        t.ok(len(b.msgs) >= 10 and max(per_sec.values()) <= 6,
             "rate = 5: B saw %d copies, never more than 6 in one second" % len(b.msgs), per_sec)
    finally:
        d.stop()
        a.close()
        b.close()


def batch_mode(d):
    """A list with delivery = "batch": many RCPT per transaction (at most
    batch_recipients), one common return path (dev+owner@), no personal
    address in the copy; a 5xx at RCPT fails only that recipient, a 4xx
    defers only it; every other recipient gets the copy once."""
    seen = collections.Counter()

    def rcpt(a):
        seen[a] += 1
        if a == "b007@example.net":
            return 550, "5.1.1 <%s> no such user" % a
        if a == "b011@example.net" and seen[a] == 1:
            return 451, "4.2.1 <%s> later" % a
        return 250, "2.1.5 ok"
    a = Relay(rcpt=rcpt)
    n = 120
    addrs = ["b%03d@example.net" % i for i in range(n)]
    try:
        text = open(d.conf).read().replace('name = "dev";', 'name = "dev";\n    delivery = "batch";'
                                           '\n    batch_recipients = 50;', 1)
        open(d.conf, "w").write(text)
        subscribe(d, addrs)
        configure(d, entry(a.port), workers=2)
        d.start()
        aid = queue(d, addrs, "batch")
        done = lambda: d.query("SELECT count(*) FROM deliveries WHERE archive_id = ? AND status IN"  # noqa: E731
                               " ('sent', 'failed')", (aid,))[0][0] == n
        t.ok(wait_for(done, 30), "batch mode: every copy sent or failed", d.logtext()[-1500:])
        st = dict(d.query("SELECT address, status || ' ' || attempts FROM deliveries WHERE archive_id = ?", (aid,)))
        t.eq(st["b007@example.net"], "failed 1", "a 5xx at RCPT fails only that recipient")
        t.eq(st["b011@example.net"], "sent 2", "a 4xx at RCPT defers only that one: sent at the next attempt")
        t.ok(all(v == "sent 1" for k, v in st.items() if k not in ("b007@example.net", "b011@example.net")),
             "every other recipient sent at the first attempt")
        got = a.by_rcpt()
        t.ok(set(got) == set(addrs) - {"b007@example.net"} and all(v == 1 for v in got.values()),
             "each recipient got the copy once (but the refused one)")
        sizes = [len(m["rcpts"]) for m in a.msgs]
        t.ok(max(sizes) > 1 and max(sizes) <= 50 and len(a.msgs) <= 6,
             "many RCPT per transaction, at most batch_recipients (%r)" % sizes)
        t.ok(all(m["mail"] == "dev+owner@lists.example.org" for m in a.msgs),
             "one common return path, the list's owner address", set(m["mail"] for m in a.msgs))
        body = a.msgs[0]["data"].decode("utf-8", "replace")
        t.ok(re.search(r"(?mi)^Reply-To: .*dev@lists\.example\.org", body) and "+r-" not in body
             and "+bounce-" not in body, "no personal address in the copy", body[:600])
    finally:
        d.stop()
        a.close()


def main():
    for case in (weights_and_down, stopped_in_the_middle, limits, batch_mode):
        d = Daemon()
        try:
            case(d)
        finally:
            d.cleanup()
    t.done()


main()
