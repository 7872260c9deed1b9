#!/usr/bin/env python3
"""test_outage.py - a store outage quarantines no good mail (issue 9, defect
6): with the database's filesystem full (a small tmpfs; needs root) the
store refuses the message at every scan, for many more scans than the
attempts that quarantine a message; once space is back the message is
archived, not quarantined. The same when another process holds the
database's write lock (BEGIN IMMEDIATE) past the busy timeout. Only an
attempt that never returns (the daemon died in it) counts, as
test_ingest.py checks."""
import os
import smtplib
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, Tap, wait_for  # noqa: E402

t = Tap()
SECRET = "k3vq9t2mxw8rz5pa"
POST = "dev+post-%s@lists.example.org" % SECRET


def send(d, mid, size=0):
    body = ("x" * 76 + "\r\n") * (size // 78)
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30)
    s.sendmail("alice@example.org", [POST],
               "From: Alice <alice@example.org>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\nHello\r\n%s"
               % (mid, mid, body))
    s.quit()


def archived(d, mid):
    return d.query("SELECT id FROM archive WHERE orig_msgid = ?", ("<%s>" % mid,))


def outage_lines(d, what):
    return [l for l in d.logtext().splitlines() if "the store cannot take the message now" in l and what in l]


def full_disk():
    d = Daemon()
    mnt = os.path.join(d.dir, "dbfs")
    os.mkdir(mnt)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt]).returncode:
        t.ok(True, "# SKIP full disk: needs root to mount a small tmpfs")
        d.cleanup()
        return
    filler = os.path.join(mnt, "filler")
    try:
        text = open(d.conf).read().replace(d.db, os.path.join(mnt, "parley.db"))
        open(d.conf, "w").write(text)
        d.db = os.path.join(mnt, "parley.db")
        d.start()
        send(d, "before@example.org")
        t.ok(wait_for(lambda: archived(d, "before@example.org"), 15), "a post is archived before the outage")
        with open(filler, "wb") as f:	# fill the filesystem, then leave 48 KB for small writes
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        with open(filler, "r+b") as f:
            f.truncate(max(0, os.path.getsize(filler) - 48 * 1024))
        send(d, "big@example.org", 1200 * 1024)
        # INGEST_MAX_ATTEMPTS is 3: wait for twice as many refused scans
        t.ok(wait_for(lambda: len(outage_lines(d, "")) >= 6, 60),
             "the store refuses the message at scan after scan (disk full)", outage_lines(d, ""))
        t.eq(os.listdir(os.path.join(d.spool, "quarantine")), [], "nothing quarantined meanwhile")
        os.unlink(filler)
        t.ok(wait_for(lambda: archived(d, "big@example.org"), 30), "once space is back, the message is archived")
        t.eq(os.listdir(os.path.join(d.spool, "quarantine")), [], "and was never quarantined")
        t.eq(d.query("SELECT count(*) FROM spool_attempts"), [(0,)], "no attempt left counted")
    finally:
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-30:]))
        d.stop()
        subprocess.run(["umount", mnt])
        d.cleanup()


def busy():
    d = Daemon()
    try:
        d.start()
        send(d, "first@example.org")
        t.ok(wait_for(lambda: archived(d, "first@example.org"), 15), "a post is archived")
        db = sqlite3.connect(d.db, timeout=10, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        try:
            send(d, "locked@example.org")
            # the store's busy timeout is 10 s: hold the lock past two of them
            t.ok(wait_for(lambda: d.logtext().count("database is locked") >= 2, 40),
                 "ingest finds the store locked, more than once")
        finally:
            db.execute("ROLLBACK")
            db.close()
        t.ok(wait_for(lambda: archived(d, "locked@example.org"), 30), "once the lock is released, it is archived")
        t.eq(os.listdir(os.path.join(d.spool, "quarantine")), [], "not quarantined")
    finally:
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-30:]))
        d.cleanup()


def main():
    full_disk()
    busy()
    t.done()


main()
