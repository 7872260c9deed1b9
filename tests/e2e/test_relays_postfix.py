#!/usr/bin/env python3
"""test_relays_postfix.py - issue 10's test of relays that scale out: three
real Postfix instances on loopback are parleyd's relays (daemon.relays),
all delivering over LMTP into one real Dovecot. A post of a list of 10,000
subscribers (added in bulk with `parley sub import`) fans out; one Postfix
is stopped in the middle. Its copies go to the two others; once the
fan-out is over the stopped one is started again, so that what it had
queued reaches Dovecot too. Every subscriber's maildir then holds the copy
exactly once, apart from the documented in-flight bound (one uncommitted
batch of 64 per relay connection cut off: per worker): the duplicates, if any, are
counted and asserted within it. Waits poll the maildirs, bounded."""
import collections
import os
import re
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, free_port, wait_for  # noqa: E402

t = Tap()
SRV = os.path.join(os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "e2e", "servers.sh")
SECRET = "k3vq9t2mxw8rz5pa"
N = 10000
BATCH = 64
WORKERS = 4
SUBJECT = "ten thousand readers"


# throughput settings for the fan-out's servers (not about correctness):
# Dovecot writes without fsync, Postfix takes mail without slowing senders down
# and delivers over more LMTP connections
ENV = dict(os.environ,
           SRV_DOVECOT_EXTRA="mail_fsync = never\nservice lmtp {\n  process_min_avail = 4\n}",
           SRV_POSTFIX_EXTRA="in_flow_delay = 0\nlmtp_destination_concurrency_limit = 40\n"
                             "default_process_limit = 200")


def sh(cmd, timeout=120):
    return subprocess.run(["sh", "-c", ". '%s'; %s" % (SRV, cmd)], capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def users():
    return ["s%05d" % i for i in range(N)]


def counts(mail):
    """Copies of the post in each maildir of MAIL (new and cur)."""
    out = collections.Counter()
    try:
        names = os.listdir(mail)
    except OSError:
        return out
    for u in names:
        for sub in ("new", "cur"):
            try:
                out[u] += len(os.listdir(os.path.join(mail, u, sub)))
            except OSError:
                pass
    return out


def configure(d, ports):
    text = open(d.conf).read()
    relays = ",\n".join('    { url = "smtp:127.0.0.1:%d"; }' % p for p in ports)
    text = re.sub(r"(?s)\n  relay = \{.*?\n  \};",
                  "\n  relay = { retry = [ 1 ]; };\n  relays = (\n%s\n  );" % relays, text)
    text = re.sub(r"(?m)^  workers = \d+;.*$", "  workers = %d;" % WORKERS, text)
    open(d.conf, "w").write(text)


def post(d):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    try:
        s.sendmail("alice@example.org", ["dev+post-%s@lists.example.org" % SECRET],
                   ("From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\n"
                    "Subject: %s\r\nMessage-ID: <tenk@example.org>\r\n\r\nHello, all of you.\r\n"
                    % SUBJECT).encode())
    finally:
        s.quit()


def sent_via(d):
    return dict(d.query("SELECT relay, count(*) FROM deliveries WHERE status = 'sent' GROUP BY relay"))


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root for Postfix and Dovecot")
        return
    d = Daemon()
    top = d.dir
    dov = os.path.join(top, "dv")
    pfs = [os.path.join(top, "p%d" % i) for i in range(3)]
    ports = [free_port() for _ in pfs]
    imap, lmtp = free_port(), free_port()
    started = []
    try:
        with open(os.path.join(top, "users.txt"), "w") as f:
            f.write("".join("%s@example.org\n" % u for u in users()))
        r = sh("dovecot_start '%s' %d %d %s" % (dov, imap, lmtp, " ".join(users())))
        if not t.ok(r.returncode == 0, "Dovecot started with %d users" % N, r.stderr[-500:]):
            return
        for pf, port in zip(pfs, ports):
            r = sh("postfix_start '%s' %d 'example.org=lmtp:inet:127.0.0.1:%d'" % (pf, port, lmtp))
            if not t.ok(r.returncode == 0, "Postfix %s started as a relay" % os.path.basename(pf),
                        r.stderr[-500:]):
                return
            started.append(pf)
        configure(d, ports)
        r = subprocess.run([PARLEY, "-c", d.conf, "sub", "import", "dev", os.path.join(top, "users.txt")],
                           capture_output=True, text=True, timeout=120)
        t.ok(r.returncode == 0, "parley sub import: %d subscribers in bulk" % N, r.stderr[-300:])
        active = d.query("SELECT count(*) FROM subscribers WHERE status = 'active'")[0][0]
        t.eq(active, N, "all active (imported without confirmation)")
        d.start()
        t0 = time.time()
        post(d)
        mail = os.path.join(dov, "mail")
        # the middle: a third of the copies handed over, then the first Postfix goes
        t.ok(wait_for(lambda: sum(sent_via(d).values()) >= N // 3, 90, 0.2),
             "a third of the copies handed to the relays", sent_via(d))
        r = sh("postfix_stop '%s'" % pfs[0])
        t.ok(r.returncode == 0, "Postfix p0 stopped in the middle of the fan-out", r.stderr[-300:])
        stopped_at = sent_via(d)
        t.ok(wait_for(lambda: d.query("SELECT count(*) FROM deliveries WHERE status = 'sent'")[0][0] == N,
                      120, 0.5),
             "parleyd handed all %d copies over, p0 stopped" % N,
             "%r\n%s" % (sent_via(d), d.logtext()[-1200:]))
        key0 = "127.0.0.1:%d" % ports[0]
        after = sent_via(d)
        t.ok(after.get(key0, 0) == stopped_at.get(key0, 0) or after.get(key0, 0) - stopped_at.get(key0, 0) <= BATCH * 4,
             "after the stop p0 took no more than what was in flight", (stopped_at, after))
        t.ok(re.search(r"relay 127\.0\.0\.1:%d is down for \d+ s" % ports[0], d.logtext()),
             "parleyd marked p0 down")
        print("# %.0f s: parleyd handed every copy over" % (time.time() - t0))
        for attempt in range(3):
            # postfix-script's postsuper has once failed to open the maillog
            # while the stopped master's postlogd was still going: again
            r = subprocess.run(["postfix", "-c", os.path.join(pfs[0], "etc"), "start"], capture_output=True,
                               text=True, timeout=60)
            if r.returncode == 0:
                break
            print("# postfix start, attempt %d: %s" % (attempt + 1, r.stderr.strip()[-300:]))
            time.sleep(1)
        t.ok(r.returncode == 0, "p0 started again to deliver what it had queued", r.stderr[-300:])
        sh("postfix_flush '%s'" % pfs[0])
        ok = wait_for(lambda: len(counts(mail)) >= N and sum(counts(mail).values()) >= N, 150, 1.0)
        c = counts(mail)
        t.ok(ok, "every subscriber's copy is in Dovecot (%d of %d maildirs, %.0f s)"
             % (len(c), N, time.time() - t0))
        missing = [u for u in users() if c.get(u, 0) == 0]
        t.eq(missing[:10], [], "no subscriber without the copy")
        dups = sum(v - 1 for v in c.values() if v > 1)
        # the copies cut off in flight when p0 stopped: at most one uncommitted
        # batch per worker, each worker having one session to p0 at most
        t.ok(dups <= BATCH * WORKERS, "duplicates within the in-flight bound: %d <= %d x %d workers"
             % (dups, BATCH, WORKERS))
        print("# duplicates: %d; copies handed over per relay: %r" % (dups, sent_via(d)))
        t.ok(all(v > 0 for v in sent_via(d).values()) and len(sent_via(d)) == 3,
             "each of the three relays took copies")
        t.eq(d.stop(), 0, "parleyd stops cleanly")
    finally:
        d.stop()
        for pf in pfs:
            sh("postfix_stop '%s'" % pf)
        sh("dovecot_stop '%s'" % dov)
        d.cleanup()
    t.done()


main()
