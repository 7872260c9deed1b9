#!/usr/bin/env python3
"""test_imap_uidvalidity.py - defect 11, its IMAP half: a mailbox whose
server changes UIDVALIDITY and presents the same two posts again, at new
UIDs and not \\Seen (a mailbox rebuilt by its server; tests/e2e/
hostile_imap.py's 'revalidity' scenario). The poller rightly takes them
again (its UIDs mean nothing any more); ingest must see that the same
bytes are already stored (Message-ID plus content hash) so that each post
is archived once and each subscriber gets one copy (daemon/ingest.c).
Test code only."""
import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, maildir_box, wait_for  # noqa: E402

t = Tap()
HOSTILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hostile_imap.py")
SECRET = "k3vq9t2mxw8rz5pa"  # alice's post secret in etc/parley.conf
READERS = ["ann@example.net", "ben@example.net"]
MIDS = ["<revalidity-1@hostile.example>", "<revalidity-2@hostile.example>"]


def main():
    top = tempfile.mkdtemp(prefix="puidv.")
    portfile, log = os.path.join(top, "port"), os.path.join(top, "imap.log")
    srv = subprocess.Popen([sys.executable, HOSTILE, portfile, log, "revalidity", "--from",
                            "Alice <alice@example.org>"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    d = None
    try:
        if not wait_for(lambda: os.path.exists(portfile), 10):
            raise RuntimeError("hostile_imap.py did not start")
        port = int(open(portfile).read())
        d = Daemon(extra_top='imap = ( { name = "rebuilt"; host = "127.0.0.1"; port = %d;'
                             ' tls = "none"; user = "u"; password = "pw"; poll_interval = 1;'
                             ' recipient = "dev+post-%s@lists.example.org"; } );\n'
                             % (port, SECRET))
        text = open(d.conf).read().replace("    port = 25;", '    port = 25;\n    maildir = "%s/maildir";'
                                           % d.dir, 1)
        open(d.conf, "w").write(text)
        subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev"] + READERS + ["--no-confirm"],
                       check=True, capture_output=True)
        d.start()
        t.ok(wait_for(lambda: "imap rebuilt: UIDVALIDITY changed from 100 to 200" in d.logtext(), 30),
             "the poller sees the new UIDVALIDITY", d.logtext()[-2000:])
        t.ok(wait_for(lambda: "imap rebuilt: now at UIDVALIDITY 200, UID 12" in d.logtext(), 30),
             "and takes the messages presented again", d.logtext()[-2000:])
        taken = len(re.findall(r"imap rebuilt UID \d+ .* accepted", d.logtext()))
        t.eq(taken, 4, "both posts were fetched twice (UIDs 1, 2, then 11, 12)")
        t.ok(SECRET not in d.logtext(), "the account's secret post address is not in the log",
             [l for l in d.logtext().splitlines() if SECRET in l][:3])
        t.ok(wait_for(lambda: not d.spool_files() and d.query(
            "SELECT count(*) FROM deliveries WHERE status IN ('queued', 'sending', 'deferred')")
            == [(0,)], 20), "the spool and the delivery queue are empty")
        for mid in MIDS:
            n = d.query("SELECT count(*) FROM archive WHERE orig_msgid = ?", (mid,))[0][0]
            t.ok(n == 1, "%s is archived once" % mid, "archived %d times" % n)
        for r in READERS:
            got = [m for _, m in maildir_box(os.path.join(d.dir, "maildir"), r)]
            subjects = sorted(str(m["Subject"]) for m in got)
            t.ok(len(subjects) == 2, "%s got one copy of each post" % r, subjects)
        rc = d.stop(signal.SIGTERM)
        t.eq(rc, 0, "parleyd stops cleanly")
    finally:
        if d is not None:
            d.cleanup()
        srv.send_signal(signal.SIGTERM)
        srv.wait(10)
        import shutil
        shutil.rmtree(top, ignore_errors=True)
    t.done()


main()
