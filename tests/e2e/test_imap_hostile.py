#!/usr/bin/env python3
"""test_imap_hostile.py - parleyd's IMAP poller against hostile IMAP servers
(tests/e2e/hostile_imap.py, one per scenario, on loopback, stopped by pid):
a malformed PERMANENTFLAGS (libetpan 1.9.4 crashes on it), EOF inside a
literal and a literal of 4294967295 bytes (libetpan spins or reserves 4 GB),
a connection dropped mid-FETCH, data injected after STARTTLS's OK, and a
PREAUTH greeting when STARTTLS is required. Each must give a clear logged
error and a retry that succeeds once the server behaves; the daemon stays
up, keeps serving SMTP, stays small (VmHWM), never sends LOGIN in cleartext
where TLS is required, and stops promptly on SIGTERM. Test code only."""
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tlscert import self_signed  # noqa: E402
from harness import Daemon, Tap, wait_for  # noqa: E402

t = Tap()
HERE = os.path.dirname(os.path.abspath(__file__))
HOSTILE = os.path.join(HERE, "hostile_imap.py")
LIST = "dev@lists.example.org"
VMHWM_MAX_KB = 200 * 1024

# scenario -> (tls, a text the parleyd log must show for it)
SCENARIOS = {
    "permflags": ("none", "malformed PERMANENTFLAGS list"),
    "eof_literal": ("none", "the server closed the connection"),
    "huge_literal": ("none", "announced a literal of 4294967295 bytes"),
    "drop_mid_fetch": ("none", "the server closed the connection"),
    "starttls_inject": ("starttls", "sent data before the TLS handshake; not logging in"),
    "starttls_late": ("starttls", "the TLS handshake with localhost:"),
    "preauth": ("starttls", "greeted PREAUTH in cleartext, but tls = starttls"),
}


# HOSTILE_SCENARIOS="a b" runs only those (to see each fail on its own).
ONLY = os.environ.get("HOSTILE_SCENARIOS", "").split() or list(SCENARIOS) + ["trickle"]


class Hostile:
    """One hostile_imap.py process, stopped by pid."""

    def __init__(self, top, scenario, cert, key, bad=1):
        self.scenario = scenario
        self.portfile = os.path.join(top, scenario + ".port")
        self.log = os.path.join(top, scenario + ".log")
        self.proc = subprocess.Popen([sys.executable, HOSTILE, self.portfile, self.log, scenario,
                                      "--cert", cert, "--key", key, "--bad", str(bad)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log + ".err", "w"))
        if not wait_for(lambda: os.path.exists(self.portfile), 10):
            raise RuntimeError("hostile_imap.py %s did not start" % scenario)
        self.port = int(open(self.portfile).read())

    def lines(self):
        try:
            return open(self.log).read().splitlines()
        except OSError:
            return []

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def box(name, port, tls, cert):
    extra = ' host = "localhost"; ca_file = "%s";' % cert if tls != "none" else ' host = "127.0.0.1";'
    return ('{ name = "%s";%s port = %d; tls = "%s"; user = "u"; password = "pw";'
            ' recipient = "%s"; poll_interval = 1; }' % (name, extra, port, tls, LIST))


def vmhwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def stored(d, mid):
    return d.stored().get(mid, 0)


def main():
    top = tempfile.mkdtemp(prefix="phostile.")
    os.chmod(top, 0o755)
    cert, key = self_signed(top)
    servers = {}
    d = None
    try:
        for sc in list(SCENARIOS):
            if sc not in ONLY:
                del SCENARIOS[sc]
        for sc in SCENARIOS:
            servers[sc] = Hostile(top, sc, cert, key)
        boxes = [box(sc, servers[sc].port, SCENARIOS[sc][0], cert) for sc in SCENARIOS]
        if "trickle" in ONLY:  # a session that stays inside a literal: for SIGTERM
            servers["trickle"] = Hostile(top, "trickle", cert, key, bad=1000)
            boxes.append(box("trickle", servers["trickle"].port, "none", cert))
        d = Daemon(extra_top="imap = (\n  " + ",\n  ".join(boxes) + "\n);\n")
        d.start()
        pid = d.proc.pid

        for sc, (tls, text) in SCENARIOS.items():
            first, second = "<%s-1@hostile.example>" % sc, "<%s-2@hostile.example>" % sc
            if sc == "huge_literal":
                ok = wait_for(lambda: stored(d, second) == 1, 40, 0.1)
                t.ok(ok and stored(d, first) == 0,
                     "%s: UID 1 passed over, the message after it stored" % sc,
                     d.logtext()[-3000:])
                t.ok(re.search(r"imap huge_literal: UID 1 is 4294967295 bytes, over "
                               r"daemon.limits.message_size .* passed over", d.logtext()),
                     "%s: the passing over is logged" % sc)
            else:
                ok = wait_for(lambda: stored(d, first) == 1 and stored(d, second) == 1, 40, 0.1)
                t.ok(ok, "%s: after the hostile session the poller retried and stored both" % sc,
                     d.logtext()[-3000:])
            t.ok(re.search(r"imap %s: .*%s.*; next attempt in \d+ s" % (sc, re.escape(text)),
                           d.logtext()),
                 "%s: a clear error is logged (%s)" % (sc, text),
                 "\n".join(x for x in d.logtext().splitlines() if "imap %s:" % sc in x))

        t.ok(d.proc.poll() is None, "parleyd is still running", d.logtext()[-2000:])
        hwm = vmhwm_kb(pid)
        t.ok(hwm is not None and hwm < VMHWM_MAX_KB,
             "parleyd's peak memory stayed bounded (VmHWM %s kB < %d kB)" % (hwm, VMHWM_MAX_KB))

        for sc in [x for x in ("starttls_inject", "starttls_late", "preauth") if x in ONLY]:
            lines = servers[sc].lines()
            plain_login = [x for x in lines if re.match(r"conn \d+ plain: \S+ LOGIN", x, re.I)]
            t.eq(plain_login, [], "%s: no LOGIN was ever sent in cleartext" % sc)
            t.ok(any(re.match(r"conn \d+ tls: \S+ LOGIN", x, re.I) for x in lines),
                 "%s: the good session logged in over TLS" % sc, "\n".join(lines[-20:]))
        if "preauth" in ONLY:
            pre = [x for x in servers["preauth"].lines() if x.startswith("conn 1 ")][:2]
            t.eq(pre, ["conn 1 plain: (connected)"],
                 "preauth: not a single command was sent after a cleartext PREAUTH")
        if "starttls_inject" in ONLY:
            inj = [x for x in servers["starttls_inject"].lines() if x.startswith("conn 1 ")]
            t.ok(not any(" tls: " in x for x in inj),
                 "starttls_inject: nothing was sent over TLS after the injection",
                 "\n".join(inj))

        # The daemon still serves SMTP.
        before = d.count_inbound()
        try:
            s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
            s.sendmail("a@example.net", [LIST], b"Message-ID: <after-hostile@example.net>\r\n"
                       b"From: a@example.net\r\nSubject: still here\r\n\r\nhello\r\n")
            s.quit()
            sent = True
        except (OSError, smtplib.SMTPException) as e:
            sent = e
        t.ok(sent is True and wait_for(lambda: d.count_inbound() > before, 15),
             "a message over SMTP is still taken in after all that", sent)

        if "trickle" in ONLY:
            t.ok(wait_for(lambda: any("BODY.PEEK[]" in x for x in servers["trickle"].lines()), 20),
                 "trickle: the poller is inside a literal the server sends a byte at a time")
        t0 = time.time()
        rc = d.stop(signal.SIGTERM)
        took = time.time() - t0
        t.ok(rc == 0 and took < 6, "SIGTERM stops parleyd promptly%s (rc %s, %.2f s)"
             % (", a poller mid-read" if "trickle" in ONLY else "", rc, took))
    finally:
        if d is not None:
            d.cleanup()
        for srv in servers.values():
            srv.stop()
        shutil.rmtree(top, ignore_errors=True)
    t.done()


main()
