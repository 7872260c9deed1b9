#!/usr/bin/env python3
"""test_imap.py - parleyd's IMAP poller against a REAL Dovecot on loopback
(started with tests/e2e/servers.sh, then given TLS with a self-signed
certificate): messages APPENDed to a mailbox reach the store exactly once and
are then flagged \\Seen, deleted or moved; kill -9 and SIGTERM of parleyd in
the middle lose and double nothing; a wrong password is logged clearly and
retried slowly; IDLE wakes the poller at once; a server without IDLE, MOVE and
UIDPLUS is polled and moved with COPY; messages over the size limit are passed
over; a UIDVALIDITY change takes only what still waits; certificates are
verified (ca_file, host name) before LOGIN. Test code only."""
import imaplib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tlscert import self_signed  # noqa: E402
from harness import Daemon, Tap, free_port, wait_for  # noqa: E402

t = Tap()
LIST = "dev@lists.example.org"
TESTS = (os.environ.get("TESTS_SRCDIR")
         or os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SERVERS = os.path.join(TESTS, "e2e", "servers.sh")
USERS = ["alice", "bob", "carol", "dave", "erin", "grace", "heidi", "ivan", "judy", "trudy",
         "walter", "victor"]


# ---- Dovecot ----

class Dovecot:
    """A Dovecot from servers.sh's dovecot_start, restarted with EXTRA
    appended to its config (later settings win); stopped by pid."""

    def __init__(self, top, name, users, extra=""):
        self.dir = os.path.join(top, name)
        self.imap = free_port()
        self.imaps = free_port()
        lmtp = free_port()
        r = subprocess.run(["sh", "-c", '. "$0" && dovecot_start "$@" && dovecot_stop "$1"',
                            SERVERS, self.dir, str(self.imap), str(lmtp)] + users,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("dovecot_start failed:\n" + r.stdout + r.stderr)
        with open(os.path.join(self.dir, "dovecot.conf"), "a") as f:
            f.write(extra.replace("IMAPS_PORT", str(self.imaps)))
        # Output to the log, never to a pipe: the daemon keeps it open.
        with open(os.path.join(self.dir, "dovecot.log"), "a") as log:
            try:
                rc = subprocess.run(["sh", "-c", '. "$0" && dovecot -c "$1"', SERVERS,
                                     os.path.join(self.dir, "dovecot.conf")],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    timeout=30).returncode
            except subprocess.TimeoutExpired:
                rc = -1
        if rc != 0 or not wait_for(self.greets, 10, 0.1):
            self.stop()
            raise RuntimeError("dovecot did not restart:\n" + self.logtext()[-2000:])

    def greets(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.imap), timeout=2)
            line = s.makefile("rb").readline()
            s.close()
            return line.startswith(b"* OK")
        except OSError:
            return False

    def stop(self):
        subprocess.run(["sh", "-c", '. "$0" && dovecot_stop "$1"', SERVERS, self.dir],
                       capture_output=True, timeout=60)

    def logtext(self):
        try:
            return open(os.path.join(self.dir, "dovecot.log")).read()
        except OSError:
            return ""

    def login(self, user):
        c = imaplib.IMAP4("127.0.0.1", self.imap, timeout=10)
        c.login(user, "pw")
        return c

    def append(self, user, messages, folder="INBOX", flags=None):
        c = self.login(user)
        for m in messages:
            typ, data = c.append(folder, flags, None, m)
            if typ != "OK":
                raise RuntimeError("APPEND: %r" % data)
        c.logout()

    def folder(self, user, folder="INBOX"):
        """{Message-ID: flags} of FOLDER, or None if it does not exist."""
        c = self.login(user)
        try:
            if c.select(folder)[0] != "OK":
                return None
            typ, data = c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            out = {}
            for item in data:
                if isinstance(item, tuple):
                    flags = re.search(rb"FLAGS \(([^)]*)\)", item[0])
                    mid = re.search(rb"<[^>]*>", item[1])
                    if mid:
                        out[mid.group(0).decode()] = flags.group(1).decode() if flags else ""
            return out
        finally:
            c.logout()


def msg(mid, headers="", size=0):
    body = ("x" * 76 + "\r\n") * (size // 78 + 1) if size else "hello\r\n"
    return ("%sMessage-ID: <%s>\r\nFrom: a@example.net\r\nSubject: %s\r\n\r\n%s"
            % (headers, mid, mid, body)).encode()


def mids(prefix, n):
    return ["%s%d@example.net" % (prefix, i) for i in range(n)]


def ids(names):
    return ["<%s>" % n for n in names]


# ---- parleyd ----

def box(name, port, user, **kw):
    """One group of the imap list: a mailbox on 127.0.0.1 (a setting given
    as None is left out)."""
    s = {"host": "127.0.0.1", "port": port, "tls": "none", "user": user, "password": "pw",
         "recipient": LIST, "poll_interval": 600}
    s.update(kw)
    items = []
    for k, v in s.items():
        if v is None:
            continue
        if isinstance(v, bool):
            items.append("%s = %s;" % (k, "true" if v else "false"))
        elif isinstance(v, int):
            items.append("%s = %d;" % (k, v))
        else:
            items.append('%s = "%s";' % (k, v))
    return '{ name = "%s"; %s }' % (name, " ".join(items))


def daemon(*boxes, message_size=None):
    d = Daemon(extra_top="imap = (\n  " + ",\n  ".join(boxes) + "\n);\n")
    if message_size:
        text = open(d.conf).read()
        text = re.sub(r'message_size = "[^"]*"', 'message_size = "%s"' % message_size, text)
        with open(d.conf, "w") as f:
            f.write(text)
    return d


def once(d, want):
    """WANT are all stored, each exactly once."""
    s = d.stored()
    return all(s.get(m) == 1 for m in want)


def count_log(d, text):
    return d.logtext().count(text)


def dup_sources(d):
    return d.query("SELECT source FROM inbound WHERE source IS NOT NULL GROUP BY source"
                   " HAVING count(*) > 1")


# ---- tests ----

def seen_and_idle(dv):
    """after = seen: envelope from the headers; IDLE wakes on new mail; stop is prompt."""
    dv.append("alice", [
        msg("s0@example.net", "Return-Path: <author@example.net>\r\nDelivered-To: %s\r\n" % LIST),
        msg("s1@example.net", "Delivered-To: someone@example.org\r\n"
            "X-Original-To: news@lists.example.org\r\n"),
        msg("s2@example.net")])
    d = daemon(box("alice-in", dv.imap, "alice"))
    try:
        d.start()
        want = ids(mids("s", 3))
        t.ok(wait_for(lambda: once(d, want), 15), "3 messages waiting in INBOX are stored once",
             d.stored())
        rows = dict((r[0], r[1:]) for r in d.query(
            "SELECT message_id, proto, client, source, sender FROM inbound"))
        t.eq(rows["<s0@example.net>"][:2], ("IMAP", "imap:127.0.0.1"),
             "proto IMAP, client imap:HOST")
        t.ok(re.match(r"^imap:alice-in;\d+;1$", rows["<s0@example.net>"][2] or ""),
             "source is imap:NAME;UIDVALIDITY;UID", rows["<s0@example.net>"][2])
        t.eq(rows["<s0@example.net>"][3], "author@example.net", "sender from Return-Path")
        t.eq(rows["<s2@example.net>"][3], "a@example.net", "no Return-Path: the From address stands in")
        rc = dict(d.query("SELECT i.message_id, r.address FROM inbound i"
                          " JOIN inbound_rcpts r ON r.inbound_id = i.id"))
        t.eq(rc.get("<s1@example.net>"), "news@lists.example.org",
             "recipient from X-Original-To when Delivered-To is not ours")
        t.eq(rc.get("<s2@example.net>"), LIST, "no such header: the configured recipient")
        t.ok(wait_for(lambda: set((dv.folder("alice") or {}).values()) == {"\\Seen"}, 10),
             "all three flagged \\Seen", dv.folder("alice"))
        t.ok(wait_for(lambda: "IDLE" in d.logtext(), 5), "the session uses IDLE", d.logtext())
        time.sleep(1)
        t0 = time.time()
        dv.append("alice", [msg("s3@example.net")])
        got = wait_for(lambda: once(d, ["<s3@example.net>"]), 5, 0.02)
        t.ok(got, "IDLE: a new message arrives at once despite poll_interval = 600 (%.2f s)"
             % (time.time() - t0))
        t0 = time.time()
        rc = d.stop(signal.SIGTERM)
        took = time.time() - t0
        t.ok(rc == 0 and took < 3, "SIGTERM stops parleyd in IDLE promptly (rc %s, %.2f s)"
             % (rc, took))
        t.ok("Logged out" in dv.logtext() or "LOGOUT" in dv.logtext(),
             "the poller logged out politely", dv.logtext()[-800:])
        t.eq(dup_sources(d), [], "no source stored twice")
    finally:
        d.cleanup()


def delete_with_password_file(dv):
    dv.append("bob", [msg(m) for m in mids("d", 3)])
    d = daemon(box("bob-in", dv.imap, "bob", after="delete", password=None,
                   password_file="PWFILE"))
    pw = os.path.join(d.dir, "bob.password")
    with open(pw, "w") as f:
        f.write("pw\n")
    text = open(d.conf).read().replace("PWFILE", pw)
    with open(d.conf, "w") as f:
        f.write(text)
    try:
        d.start()
        t.ok(wait_for(lambda: once(d, ids(mids("d", 3))), 15),
             "after = delete, password_file with a newline: 3 stored once", d.logtext())
        t.ok(wait_for(lambda: dv.folder("bob") == {}, 10), "the messages are expunged from INBOX",
             dv.folder("bob"))
    finally:
        d.cleanup()


def move(dv):
    dv.append("carol", [msg(m) for m in mids("mv", 3)])
    d = daemon(box("carol-in", dv.imap, "carol", after="move", move_to="Done"))
    try:
        d.start()
        t.ok(wait_for(lambda: once(d, ids(mids("mv", 3))), 15), "after = move: 3 stored once",
             d.logtext())
        t.ok(wait_for(lambda: dv.folder("carol") == {}, 10), "INBOX is empty",
             dv.folder("carol"))
        t.eq(sorted(dv.folder("carol", "Done") or {}), sorted(ids(mids("mv", 3))),
             "the 3 are in Done")
        t.ok("created folder Done" in d.logtext(), "the missing move_to folder was created")
    finally:
        d.cleanup()


def restart(dv):
    """kill -9, then SIGTERM, while messages are being taken: each stored once."""
    big = 300 * 1024
    first, second, third, fourth = mids("k", 20), mids("l", 10), mids("t", 8), mids("u", 4)
    dv.append("dave", [msg(m, size=big) for m in first])
    d = daemon(box("dave-in", dv.imap, "dave"))
    try:
        d.start()
        t.ok(wait_for(lambda: d.count_inbound() >= 3, 20, 0.01), "some of 20 stored")
        rc = d.stop(signal.SIGKILL)
        n = d.count_inbound()
        t.eq(rc, -9, "parleyd killed with SIGKILL while taking them (%d of 20 stored)" % n)
        dv.append("dave", [msg(m) for m in second])
        d.start()
        allm = ids(first + second)
        t.ok(wait_for(lambda: once(d, allm), 30), "after restart all 30 are stored",
             sorted(set(allm) - set(d.stored())))
        t.eq([m for m, c in d.stored().items() if c > 1], [], "none stored twice")
        dv.append("dave", [msg(m, size=big) for m in third])
        wait_for(lambda: d.count_inbound() >= 31, 20, 0.01)
        rc = d.stop(signal.SIGTERM)
        t.eq(rc, 0, "SIGTERM in the middle of a batch (%d of 38 stored)" % d.count_inbound())
        dv.append("dave", [msg(m) for m in fourth])
        d.start()
        allm += ids(third + fourth)
        t.ok(wait_for(lambda: once(d, allm), 30), "after the second restart all 42 are stored",
             sorted(set(allm) - set(d.stored())))
        t.eq([m for m, c in d.stored().items() if c > 1], [], "still none stored twice")
        t.eq(dup_sources(d), [], "no source stored twice")
        t.ok(wait_for(lambda: d.spool_files() == [], 10), "the spool is empty")
        t.ok(wait_for(lambda: set((dv.folder("dave") or {}).values()) == {"\\Seen"}, 10),
             "every message in INBOX ended up \\Seen")
    finally:
        d.cleanup()


def wrong_password(dv):
    d = daemon(box("erin-in", dv.imap, "erin", password="s3cr3t-wrong"))
    try:
        d.start()
        line = "imap erin-in: login failed for erin@127.0.0.1:"
        t.ok(wait_for(lambda: line in d.logtext(), 10), "a wrong password is logged clearly",
             d.logtext())
        time.sleep(5)
        n = count_log(d, "login failed")
        fails = len(re.findall(r"auth failed.*user=<erin>", dv.logtext()))
        t.ok(1 <= n <= 2, "no tight loop: %d login attempt(s) logged in ~5 s" % n)
        t.ok(1 <= fails <= 2, "Dovecot saw %d failed login(s) for erin" % fails)
        t.ok("s3cr3t-wrong" not in d.logtext(), "the password is never logged")
        t.ok("next attempt in 30 s" in d.logtext(), "the next attempt is 30 s away")
    finally:
        d.cleanup()


def too_big(dv):
    dv.append("grace", [msg("b0@example.net"), msg("b1@example.net", size=10000),
                        msg("b2@example.net")])
    d = daemon(box("grace-in", dv.imap, "grace"), message_size="4K")
    try:
        d.start()
        t.ok(wait_for(lambda: once(d, ["<b0@example.net>", "<b2@example.net>"]), 15),
             "the small messages around a big one are stored", d.logtext())
        t.ok("<b1@example.net>" not in d.stored(), "the one over message_size is not")
        t.ok("UID 2 is" in d.logtext() and "passed over" in d.logtext(),
             "the big one is logged", d.logtext())
        t.eq((dv.folder("grace") or {}).get("<b1@example.net>"), "",
             "it stays in the mailbox, unflagged")
        d.stop()
        # As if parleyd had died between recording UID 1 and flagging it.
        c = dv.login("grace")
        c.select("INBOX")
        c.uid("STORE", "1", "-FLAGS.SILENT", "(\\Seen)")
        c.logout()
        t.eq((dv.folder("grace") or {}).get("<b0@example.net>"), "", "(UID 1 un-flagged)")
        d.start()
        t.ok(wait_for(lambda: (dv.folder("grace") or {}).get("<b0@example.net>") == "\\Seen", 10),
             "catch-up: a stored message found unflagged is flagged at the next connect",
             dv.folder("grace"))
        t.ok("UID 1 is in the store: completing its after-action" in d.logtext(),
             "and that is logged", d.logtext())
        t.eq(count_log(d, "UID 2 is"), 1, "the big one is logged once, not again after a restart")
        t.eq((dv.folder("grace") or {}).get("<b1@example.net>"), "",
             "the catch-up leaves it alone: it never reached the store")
        t.ok(once(d, ["<b0@example.net>", "<b2@example.net>"]), "nothing stored twice")
    finally:
        d.cleanup()


def uidvalidity(dv):
    dv.append("heidi", [msg(m) for m in mids("v", 2)])
    d = daemon(box("heidi-in", dv.imap, "heidi"))
    try:
        d.start()
        t.ok(wait_for(lambda: once(d, ids(mids("v", 2))), 15), "2 stored before the change")
        t.ok(wait_for(lambda: set((dv.folder("heidi") or {}).values()) == {"\\Seen"}, 10),
             "and flagged \\Seen")
        d.stop()
        (v, last), = d.query("SELECT uidvalidity, last_uid FROM imap_state WHERE mailbox = ?",
                             ("heidi-in",))
        db = sqlite3.connect(d.db)
        db.execute("UPDATE imap_state SET uidvalidity = ? WHERE mailbox = ?", (v - 7, "heidi-in"))
        db.commit()
        db.close()
        dv.append("heidi", [msg("v9@example.net")])
        d.start()
        t.ok(wait_for(lambda: once(d, ["<v9@example.net>"]), 15),
             "after a UIDVALIDITY change the waiting message is taken", d.logtext())
        t.ok("UIDVALIDITY changed from %d to %d" % (v - 7, v) in d.logtext(), "and it is logged")
        time.sleep(0.5)
        t.ok(once(d, ids(mids("v", 2))), "the \\Seen ones are not taken again", d.stored())
        t.ok(wait_for(lambda: d.query("SELECT uidvalidity, last_uid FROM imap_state"
                                      " WHERE mailbox = ?", ("heidi-in",)) == [(v, 3)], 5),
             "the new position is recorded",
             d.query("SELECT uidvalidity, last_uid FROM imap_state"))
    finally:
        d.cleanup()


def tls(dv, cert):
    for u in ("ivan", "judy", "trudy", "walter", "victor"):
        dv.append(u, [msg("%s@example.net" % u)])
    logins = len(re.findall(r"Login: user=<(trudy|walter)>", dv.logtext()))	# ours
    d = daemon(box("ivan-imaps", dv.imaps, "ivan", host="localhost", tls="imaps", ca_file=cert),
               box("judy-starttls", dv.imap, "judy", host="localhost", tls="starttls",
                   ca_file=cert),
               box("trudy-system", dv.imaps, "trudy", host="localhost", tls="imaps"),
               box("walter-name", dv.imaps, "walter", tls="imaps", ca_file=cert),
               box("victor-noverify", dv.imaps, "victor", tls="imaps", tls_verify=False))
    try:
        d.start()
        t.ok(wait_for(lambda: once(d, ["<ivan@example.net>"]), 15),
             "imaps with ca_file = the server's certificate: stored", d.logtext())
        t.ok(wait_for(lambda: once(d, ["<judy@example.net>"]), 15),
             "starttls with ca_file: stored", d.logtext())
        t.ok(wait_for(lambda: once(d, ["<victor@example.net>"]), 15),
             "tls_verify = false: stored")
        t.ok(wait_for(lambda: "imap trudy-system: certificate of localhost:%d not trusted"
                      % dv.imaps in d.logtext(), 10),
             "a self-signed certificate against the system CAs is refused and logged",
             d.logtext())
        t.ok(wait_for(lambda: "imap walter-name: certificate of 127.0.0.1:%d not trusted"
                      % dv.imaps in d.logtext(), 10),
             "a certificate for another name is refused and logged", d.logtext())
        t.ok("<trudy@example.net>" not in d.stored() and "<walter@example.net>" not in d.stored(),
             "nothing taken from those")
        t.eq(len(re.findall(r"Login: user=<(trudy|walter)>", dv.logtext())), logins,
             "no LOGIN was sent to them")
        t.ok("not logging in" in d.logtext(), "the log says why")
    finally:
        d.cleanup()


def bare_server(top):
    """A server without IDLE, MOVE and UIDPLUS: polled; moved by COPY."""
    caps = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+"
    bare = Dovecot(top, "bare", ["mallory"],
                   "imap_capability = %s\n" % caps)
    try:
        bare.append("mallory", [msg(m) for m in mids("p", 2)])
        d = daemon(box("mallory-in", bare.imap, "mallory", after="move", move_to="Old",
                       poll_interval=1))
        try:
            d.start()
            t.ok(wait_for(lambda: once(d, ids(mids("p", 2))), 15),
                 "no IDLE: the waiting messages are stored", d.logtext())
            t.ok(re.search(r"logged in to .*UIDVALIDITY \d+, last UID 0\n", d.logtext()),
                 "the session does not use IDLE", d.logtext())
            bare.append("mallory", [msg("p9@example.net")])
            t.ok(wait_for(lambda: once(d, ["<p9@example.net>"]), 5),
                 "a new message is found by polling every second")
            t.ok(wait_for(lambda: bare.folder("mallory") == {}, 10),
                 "without MOVE: COPY, \\Deleted and EXPUNGE empty INBOX", bare.folder("mallory"))
            t.eq(sorted(bare.folder("mallory", "Old") or {}),
                 sorted(ids(mids("p", 2) + ["p9@example.net"])), "the three are in Old")
        finally:
            d.cleanup()
    finally:
        bare.stop()


def silent_server():
    """A server that accepts and never says a word: SIGTERM is still prompt."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    accepted = []

    def accept():
        try:
            while True:
                accepted.append(srv.accept()[0])
        except OSError:
            pass

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    d = daemon(box("mute-in", srv.getsockname()[1], "nobody"))
    try:
        d.start()
        t.ok(wait_for(lambda: accepted, 10), "parleyd connects to a server that never greets")
        time.sleep(0.5)
        t0 = time.time()
        rc = d.stop(signal.SIGTERM)
        took = time.time() - t0
        t.ok(rc == 0 and took < 4, "SIGTERM while waiting for the greeting: stopped in %.2f s"
             % took)
    finally:
        d.cleanup()
        srv.close()
        for c in accepted:
            c.close()


def main():
    if os.geteuid() != 0 or not (shutil.which("dovecot") or os.path.exists("/usr/sbin/dovecot")):
        print("1..0 # SKIP needs root and dovecot")
        return
    top = tempfile.mkdtemp(prefix="pimap.")
    os.chmod(top, 0o755)
    cert, key = self_signed(top)
    dv = None
    try:
        dv = Dovecot(top, "dv", USERS,
                     "ssl = yes\nssl_cert = <%s\nssl_key = <%s\n"
                     "service imap-login {\n  inet_listener imaps {\n    address = 127.0.0.1\n"
                     "    port = IMAPS_PORT\n  }\n}\n" % (cert, key))
        t.ok(True, "Dovecot runs on 127.0.0.1:%d (imap) and :%d (imaps)" % (dv.imap, dv.imaps))
        for test in (seen_and_idle, delete_with_password_file, move, restart, wrong_password,
                     too_big, uidvalidity):
            test(dv)
        tls(dv, cert)
        bare_server(top)
        silent_server()
    finally:
        if dv is not None:
            dv.stop()
        shutil.rmtree(top, ignore_errors=True)
    t.done()


main()
