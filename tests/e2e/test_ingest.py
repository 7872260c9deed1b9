#!/usr/bin/env python3
"""test_ingest.py - the durable path from acceptance to the store: kill -9 of
parleyd while a client sends 1,000 messages (every message that got a 250 is
stored exactly once after restart), `parley inject` and its exit codes, the
spool-to-store hand-over surviving a crash at each step, and quarantine of
messages that fail or crash ingest three times."""
import os
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, wait_for  # noqa: E402

t = Tap()
LIST = "dev@lists.example.org"


def crash_test():
    d = Daemon()
    acked = []
    stop = threading.Event()

    def client(k):
        # A message whose 250 was lost in the kill is sent again under a new
        # Message-ID (attempt a): SMTP cannot tell the client whether the
        # first one was kept, and only acknowledged ones are counted.
        i = a = 0
        while i < 250 and not stop.is_set():
            try:
                a += 1
                s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
                while i < 250:
                    mid = "<crash-%d-%d-%d@example.net>" % (k, i, a)
                    s.sendmail("a@example.net", [LIST],
                               "Message-ID: %s\r\nSubject: n%d\r\n\r\nbody %d\r\n" % (mid, i, i))
                    acked.append(mid)
                    i += 1
            except (OSError, smtplib.SMTPException):
                if stop.is_set():
                    return
                time.sleep(0.05)	# parleyd is down: try again once it is back

    try:
        d.start()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        t.ok(wait_for(lambda: len(acked) >= 300, 60), "300 messages accepted before the kill")
        rc = d.stop(signal.SIGKILL)
        t.eq(rc, -9, "parleyd killed with SIGKILL mid-stream (%d acked so far)" % len(acked))
        time.sleep(0.3)
        d.start()
        for th in threads:
            th.join(120)
        stop.set()
        t.eq(len(acked), 1000, "all 1,000 messages acked in the end (clients retried)")
        t.ok(wait_for(lambda: set(acked) <= set(d.stored()) and not d.spool_files(), 60),
             "ingest catches up")
        stored = d.stored()
        lost = [m for m in acked if m not in stored]
        dup = [m for m, n in stored.items() if n > 1]
        t.eq(lost, [], "no acked message lost")
        t.eq(dup, [], "no message stored twice")
        t.eq(d.spool_files("incoming/tmp"), [], "no leftovers in incoming/tmp")
    finally:
        d.cleanup()


def inject(d, args, data, env=None):
    return subprocess.run([PARLEY, "-c", d.conf, "inject"] + args, input=data, capture_output=True,
                          timeout=30, env=env)


def inject_test():
    d = Daemon(extra_daemon='  limits = { message_size = "4K"; header_count = 20; };')
    text = open(d.conf).read()
    start = text.index("  limits = {\n    message_size")
    text = text[:start] + text[text.index("};", start) + 2:]
    open(d.conf, "w").write(text)
    try:
        m = b"Message-ID: <inj1@example.net>\r\nSubject: injected\r\n\r\nhi\r\n"
        r = inject(d, ["dev", "-f", "a@example.net"], m)
        t.ok(r.returncode == 0 and r.stdout.strip(), "inject exits 0 and prints the queue id", r)
        qid = r.stdout.decode().strip()
        t.eq(d.spool_files(), [qid], "the message waits durably in incoming/new")
        t.eq(inject(d, ["-r", "nobody@lists.example.org"], m).returncode, 67,
             "an address that is not ours: EX_NOUSER (67)")
        t.eq(inject(d, [], m).returncode, 64, "no recipient: EX_USAGE (64)")
        t.eq(inject(d, ["dev"], b"Subject: big\r\n\r\n" + b"x" * 5000).returncode, 65,
             "over message_size: EX_DATAERR (65)")
        bad = Daemon()
        text = open(bad.conf).read().replace(bad.spool, "/dev/null/spool")
        open(bad.conf, "w").write(text)
        r = inject(bad, ["dev"], m)
        t.eq(r.returncode, 75, "spool cannot be written: EX_TEMPFAIL (75), so the MTA retries")
        bad.cleanup()
        r = inject(d, ["-r", "dev+post@lists.example.org", "-r", "news@lists.example.org"],
                   b"Message-ID: <inj2@example.net>\r\n\r\nx\r\n")
        t.eq(r.returncode, 0, "inject to two recipients")
        d.start()
        t.ok(d.wait_ingested(2), "parleyd ingests injected messages")
        row = d.query("SELECT proto, sender, subject FROM inbound WHERE message_id = '<inj1@example.net>'")
        t.eq(row, [("INJECT", "a@example.net", "injected")], "envelope and subject stored")
        kinds = d.query("SELECT address, kind FROM inbound_rcpts JOIN inbound ON id = inbound_id"
                        " WHERE message_id = '<inj2@example.net>' ORDER BY address")
        t.eq(kinds, [("dev+post@lists.example.org", "post"), ("news@lists.example.org", "list")],
             "recipient kinds resolved")
        # too many headers: fails parsing every time, then quarantine
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(30)) + b"Message-ID: <hdr@example.net>\r\n\r\nx\r\n"
        r = inject(d, ["dev"], many)
        t.eq(r.returncode, 0, "a message with 30 header fields is spooled")
        qid = r.stdout.decode().strip()
        q = os.path.join(d.spool, "quarantine")
        t.ok(wait_for(lambda: qid in os.listdir(q), 15), "after three failed attempts it is quarantined")
        reason = open(os.path.join(q, qid + ".reason")).read()
        t.ok("header fields (limit" in reason and "3 times" in reason, "with the reason beside it", reason)
        # the file is moved first, then the log line and the counter's removal follow
        t.ok(wait_for(lambda: "moved to quarantine" in d.logtext(), 10), "and a log line")
        t.ok(wait_for(lambda: d.query("SELECT count(*) FROM spool_attempts") == [(0,)], 10),
             "no attempt counters left", d.query("SELECT count(*) FROM spool_attempts"))
        # a malformed spool file (not our envelope) is quarantined too, and blocks nothing
        with open(os.path.join(d.spool, "incoming/tmp/ZZBROKEN"), "w") as f:
            f.write("garbage\n")
        os.rename(os.path.join(d.spool, "incoming/tmp/ZZBROKEN"), os.path.join(d.spool, "incoming/new/ZZBROKEN"))
        r = inject(d, ["dev"], b"Message-ID: <after@example.net>\r\n\r\nx\r\n")
        t.ok(wait_for(lambda: "<after@example.net>" in d.stored(), 10), "a good message behind a broken one is stored")
        t.ok(wait_for(lambda: "ZZBROKEN" in os.listdir(q), 15), "the broken spool file is quarantined")
        d.stop()
        # a crash while ingesting: three attempts are already counted
        r = inject(d, ["dev"], b"Message-ID: <crashy@example.net>\r\n\r\nx\r\n")
        qid = r.stdout.decode().strip()
        db = sqlite3.connect(d.db)
        db.execute("INSERT INTO spool_attempts(spool_id, attempts, updated_at) VALUES (?, 3, 0)", (qid,))
        db.commit()
        db.close()
        d.start()
        t.ok(wait_for(lambda: qid in os.listdir(q), 10),
             "a message that crashed ingest three times is quarantined at the next start")
        t.ok("stopped while ingesting" in open(os.path.join(q, qid + ".reason")).read(), "the reason says so")
        # a crash after the commit, before the spool file was removed
        row = d.query("SELECT spool_id, CAST(raw AS BLOB) FROM inbound WHERE message_id = '<inj1@example.net>'")
        spool_id = row[0][0]
        d.stop()
        env = ("PARLEY-SPOOL 1\nqueue-id: %s\nreceived: 1\nproto: INJECT\nclient: stdin\nsender: a@example.net\n"
               "rcpt: dev@lists.example.org\n\n" % spool_id).encode() + row[0][1]
        with open(os.path.join(d.spool, "incoming/new", spool_id), "wb") as f:
            f.write(env)
        with open(os.path.join(d.spool, "incoming/tmp", "6B0000000000.1.1"), "wb") as f:
            f.write(b"half written, never acknowledged")
        d.start()
        t.ok(wait_for(lambda: not d.spool_files(), 10), "a spool file whose row is committed is just removed")
        t.eq(d.stored().get("<inj1@example.net>"), 1, "and the message is still stored once")
        t.eq(d.spool_files("incoming/tmp"), [], "an unfinished tmp file of a previous run is removed at start")
    finally:
        d.cleanup()


def spool_owner_test():
    """Spool files are 0600; `parley inject` run as root gives its file to
    the spool's owner (the daemon user), who must read and remove it."""
    d = Daemon()
    try:
        r = inject(d, ["dev"], b"Message-ID: <own1@example.net>\r\n\r\nhi\r\n")
        qid = r.stdout.decode().strip()
        st = os.stat(os.path.join(d.spool, "incoming/new", qid))
        t.eq(oct(st.st_mode & 0o777), "0o600", "a spool file is 0600")
        t.eq(oct(os.stat(os.path.join(d.spool, "incoming/new")).st_mode & 0o777), "0o700",
             "a spool directory is 0700")
        if os.geteuid() != 0:
            t.n += 1
            print("ok %d # SKIP not root: cannot inject as root" % t.n, flush=True)
            return
        import pwd
        nobody = pwd.getpwnam("nobody")
        tmp = os.path.join(d.spool, "incoming/tmp")
        os.chown(tmp, nobody.pw_uid, nobody.pw_gid)
        r = inject(d, ["dev"], b"Message-ID: <own2@example.net>\r\n\r\nhi\r\n")
        qid = r.stdout.decode().strip()
        st = os.stat(os.path.join(d.spool, "incoming/new", qid))
        t.eq((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid),
             "inject run as root gives its spool file to the spool's owner")
    finally:
        d.cleanup()


def main():
    for step in (crash_test, inject_test, spool_owner_test):
        try:
            step()
        except Exception as e:
            t.ok(False, "step %s ran" % step.__name__, repr(e))
    t.done()


main()
