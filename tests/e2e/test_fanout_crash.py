#!/usr/bin/env python3
"""test_fanout_crash.py - kill -9 at 20 random instants of a fan-out to
10,000 subscribers through a REAL Postfix (the relay, from servers.sh),
restarting parleyd each time: no copy is lost and duplicates stay within
design §5's bound, counted at the receiving side.

Postfix delivers over LMTP into Postfix's own smtp-sink (-L -d: one dump
file per transaction), which stands in for Dovecot: 10,000 mailboxes in
Dovecot would make the test minutes longer without testing parleyd more.
The kills: the first one 0-300 ms after the post is accepted (inside
ingest and the fan-out's queueing), the others when the count of copies
recorded 'sent' passes random thresholds, plus 0-30 ms. After the last
restart it waits (bounded) until parleyd's queue and Postfix's queue are
empty, then counts per recipient: every one at least once; the copies
beyond one at most KILLS x workers x 64 (design §5: the only duplicate is a
copy the relay accepted whose result was not yet committed: delivery.c
commits the results of a batch of 64 together, so at most one batch per
relay connection). FANOUT_N and
FANOUT_KILLS make it smaller for a quick look; FANOUT_SINK=dovecot puts a
real Dovecot (LMTP into N Maildirs, counted by file) in smtp-sink's place
to measure that path. Test code only."""
import glob
import os
import random
import re
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, free_port, wait_for  # noqa: E402

t = Tap()
SRV = os.path.join(os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "e2e", "servers.sh")
SECRET = "k3vq9t2mxw8rz5pa"  # alice's post secret in etc/parley.conf
N = int(os.environ.get("FANOUT_N", "10000"))
KILLS = int(os.environ.get("FANOUT_KILLS", "20"))
WORKERS = 4
GROUP = 64  # results committed together (daemon/delivery.c BATCH): the in-flight bound
SUB = re.compile(r"^s\d{5}@example\.org$")
DOVECOT = os.environ.get("FANOUT_SINK") == "dovecot"


def sh(cmd, timeout=120):
    return subprocess.run(["sh", "-c", ". '%s'; %s" % (SRV, cmd)], capture_output=True, text=True,
                          timeout=timeout)


def sent(d):
    try:
        return d.query("SELECT count(*) FROM deliveries WHERE status = 'sent'")[0][0]
    except Exception:  # the database may be mid-recovery right after a kill
        return 0


def pending(d):
    try:
        return d.query("SELECT count(*) FROM deliveries WHERE status IN"
                       " ('queued', 'sending', 'deferred')")[0][0]
    except Exception:
        return -1


def postfix_queue_empty(pf):
    for q in ("maildrop", "incoming", "active", "deferred", "hold"):
        for _, _, files in os.walk(os.path.join(pf, "queue", q)):
            if files:
                return False
    return True


def sink_counts(sinkdir):
    """{recipient: copies} over every transaction smtp-sink dumped."""
    counts = {}
    for f in glob.glob(os.path.join(sinkdir, "*")):
        with open(f, "rb") as fh:
            for line in fh:
                if not line.startswith(b"X-"):
                    break
                if line.startswith(b"X-Rcpt-Args:"):
                    m = re.search(rb"<([^>]*)>", line)
                    if m:
                        a = m.group(1).decode().lower()
                        counts[a] = counts.get(a, 0) + 1
    return counts


def maildir_counts(dv):
    """{recipient: copies} in Dovecot's Maildirs (new/ and cur/)."""
    counts = {}
    for box in glob.glob(os.path.join(dv, "mail", "s*")):
        n = sum(len(os.listdir(os.path.join(box, sub))) for sub in ("new", "cur")
                if os.path.isdir(os.path.join(box, sub)))
        if n:
            counts[os.path.basename(box) + "@example.org"] = n
    return counts


def restart(d):
    try:
        d.start()
        return True
    except RuntimeError:
        return False


def main():
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/smtp-sink"):
        print("1..0 # SKIP needs root, postfix and its smtp-sink")
        return
    rnd = random.Random(int(os.environ.get("FANOUT_SEED", str(int(time.time())))))
    d = Daemon()
    pf, sinkdir = os.path.join(d.dir, "pf"), os.path.join(d.dir, "sink")
    relay_port, sink_port = free_port(), free_port()
    text = open(d.conf).read().replace("    port = 25;", "    port = %d;" % relay_port)
    text = text.replace('starttls = "auto";', 'starttls = "no";')
    text = text.replace("  workers = 4;", "  workers = %d;" % WORKERS)
    open(d.conf, "w").write(text)
    os.makedirs(sinkdir)
    os.chown(sinkdir, 65534, 65534)  # nobody: smtp-sink drops to it
    sink = None
    try:
        subs = os.path.join(d.dir, "subs.txt")
        with open(subs, "w") as f:
            for i in range(N):
                f.write("s%05d@example.org\n" % i)
        r = subprocess.run([PARLEY, "-c", d.conf, "sub", "import", "dev", subs], capture_output=True,
                           text=True, timeout=120)
        t.ok(r.returncode == 0 and "added %d" % N in r.stdout, "%d subscribers imported" % N,
             r.stdout + r.stderr)
        dv = os.path.join(d.dir, "dv")
        if DOVECOT:
            r = sh("dovecot_start '%s' %d %d %s" % (dv, free_port(), sink_port,
                                                   " ".join("s%05d" % i for i in range(N))))
            t.ok(r.returncode == 0, "dovecot started (FANOUT_SINK=dovecot)", r.stdout + r.stderr)
        else:
            sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-L", "-u", "nobody", "-d",
                                     os.path.join(sinkdir, "%H%M%S."),
                                     "127.0.0.1:%d" % sink_port, "256"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = sh("postfix_start '%s' %d 'example.org=lmtp:inet:127.0.0.1:%d'"
               % (pf, relay_port, sink_port))
        t.ok(r.returncode == 0, "postfix started as the relay, delivering into %s"
             % ("Dovecot" if DOVECOT else "smtp-sink"), r.stdout + r.stderr)
        d.start()
        t0 = time.time()
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30)
        s.sendmail("alice@example.org", ["dev+post-%s@lists.example.org" % SECRET],
                   b"From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\n"
                   b"Subject: to ten thousand\r\nMessage-ID: <fanout-crash@example.org>\r\n\r\n"
                   b"One post, many copies, many crashes.\r\n")
        s.quit()

        kills, restarts_ok = 0, 0
        time.sleep(rnd.uniform(0.0, 0.3))
        marks = sorted(rnd.randint(N // 50, N * 9 // 10) for _ in range(KILLS - 1))
        for i in range(KILLS):
            if i > 0:
                mark = marks[i - 1]
                wait_for(lambda: sent(d) >= mark, 120, 0.01)
                time.sleep(rnd.uniform(0.0, 0.03))
            d.stop(signal.SIGKILL)
            kills += 1
            restarts_ok += restart(d)
        t.eq((kills, restarts_ok), (KILLS, KILLS),
             "parleyd killed with SIGKILL %d times during the fan-out, restarted each time" % KILLS)

        done = wait_for(lambda: pending(d) == 0 and sent(d) >= N, 150, 0.2)
        t.ok(done, "parleyd's queue drains: %d copies sent, %d pending" % (sent(d), pending(d)),
             d.logtext()[-2000:])
        t.ok(wait_for(lambda: postfix_queue_empty(pf), 120, 0.2), "Postfix's queue drains")
        took = time.time() - t0
        got = maildir_counts(dv) if DOVECOT else sink_counts(sinkdir)
        counts = dict((a, c) for a, c in got.items() if SUB.match(a))
        missing = N - len(counts)
        dups = sum(c - 1 for c in counts.values())
        t.eq(missing, 0, "no copy lost: each of the %d subscribers received one" % N)
        t.ok(dups <= KILLS * WORKERS * GROUP,
             "duplicates within design §5's bound: %d <= %d kills x %d workers x %d results "
             "committed together" % (dups, KILLS, WORKERS, GROUP))
        t.eq(d.query("SELECT count(*) FROM deliveries WHERE status = 'failed'")[0][0], 0,
             "no copy failed")
        t.ok(d.query("SELECT count(*) FROM archive")[0][0] == 1, "the post is archived once")
        print("# fan-out of %d with %d kills: %.1f s from the post to Postfix's empty queue, "
              "%d duplicates at the sink" % (N, KILLS, took, dups), flush=True)
    finally:
        d.stop()
        sh("postfix_stop '%s'" % pf)
        if DOVECOT:
            sh("dovecot_stop '%s'" % os.path.join(d.dir, "dv"))
        if sink is not None:
            sink.send_signal(signal.SIGTERM)
            try:
                sink.wait(10)
            except subprocess.TimeoutExpired:
                sink.kill()
        if t.failed:
            print("\n".join("#   " + line for line in d.logtext().splitlines()[-30:]))
        d.cleanup()
    t.done()


main()
