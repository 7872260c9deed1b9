#!/usr/bin/env python3
"""hostile_imap.py - a small IMAP server on loopback that misbehaves on
purpose, for tests/e2e/test_imap_hostile.py and test_imap_uidvalidity.py.
Test code only: never used by the product.

    hostile_imap.py PORTFILE LOG SCENARIO [--bad N] [--cert C --key K] [--from A]

It listens on 127.0.0.1 (a free port, written to PORTFILE), serves its
mailbox to any user and password, and appends every command it receives to
LOG as "conn N plain|tls: LINE" (a LOGIN line is logged without its
password), so that a test can tell what was sent in cleartext. The first
N connections (--bad, default 1) get SCENARIO; later ones the good
behaviour, so that a test sees the client recover. The messages are from
A (--from, default a@example.net). Scenarios:

  good             a plain IMAP4rev1 server (no IDLE): two messages
  permflags        '* OK [PERMANENTFLAGS (\\)] x' after SELECT
  eof_literal      BODY[] announced as {100}, 20 bytes sent, then EOF
  huge_literal     BODY[] of UID 1 announced as {4294967295}, then up to
                   256 MB of data while the client reads, then EOF
  drop_mid_fetch   the connection drops in the middle of a FETCH line
  starttls_inject  '* OK injected' in the same write as STARTTLS's OK
  starttls_late    '* OK injected' right after STARTTLS's OK, separately
  preauth          '* PREAUTH' greeting (then BAD to everything)
  trickle          BODY[] announced as {1000}, then one byte every 0.2 s
                   (the client stays inside the literal until it gives up)
  revalidity       good, but the first connection ends with BYE once both
                   messages are \\Seen, and every later one shows a new
                   UIDVALIDITY with the same two messages at new UIDs,
                   not \\Seen (a mailbox rebuilt by its server)

It runs until killed (the test stops it by pid)."""
import re
import socket
import ssl
import sys
import threading
import time

PORTFILE, LOG, SCENARIO = sys.argv[1], sys.argv[2], sys.argv[3]
BAD = 1
CERT = KEY = None
FROM = "a@example.net"
args = sys.argv[4:]
while args:
    k, v = args[0], args[1]
    args = args[2:]
    if k == "--bad":
        BAD = int(v)
    elif k == "--cert":
        CERT = v
    elif k == "--key":
        KEY = v
    elif k == "--from":
        FROM = v

lock = threading.Lock()
conns = [0]
SEEN = set()  # (uidvalidity, uid)


def message(n):
    return ("Message-ID: <%s-%d@hostile.example>\r\nFrom: %s\r\n"
            "To: dev@lists.example.org\r\nSubject: %s %d\r\n\r\nhello %d\r\n"
            % (SCENARIO, n, FROM, SCENARIO, n, n)).encode()


def log(conn, tls, line):
    line = re.sub(r"(?i)^(\S+ LOGIN \S+) .*", r"\1 <password>", line)
    with lock, open(LOG, "a") as f:
        f.write("conn %d %s: %s\n" % (conn, "tls" if tls else "plain", line))


class Session:
    def __init__(self, sock, n):
        self.sock = sock
        self.n = n
        self.tls = False
        self.bad = n <= BAD and SCENARIO != "good"
        self.f = sock.makefile("rb")
        renew = SCENARIO == "revalidity" and n > 1
        self.validity = 200 if renew else 100
        self.uids = [11, 12] if renew else [1, 2]

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def mode(self, name):
        return self.bad and SCENARIO == name

    def run(self):
        if self.mode("preauth"):
            self.send("* PREAUTH [CAPABILITY IMAP4rev1] welcome, no login needed\r\n")
        else:
            self.send("* OK [CAPABILITY IMAP4rev1 STARTTLS UIDPLUS] hostile ready\r\n")
        while True:
            line = self.f.readline(65536)
            if not line:
                return
            text = line.decode("latin-1").rstrip("\r\n")
            log(self.n, self.tls, text)
            m = re.match(r"(\S+) (.*)", text)
            if not m:
                continue
            tag, cmd = m.group(1), m.group(2)
            if self.mode("preauth"):
                self.send("%s BAD no\r\n" % tag)
                continue
            if self.command(tag, cmd) == "close":
                return

    def command(self, tag, cmd):
        word = cmd.split(" ")[0].upper()
        if word == "CAPABILITY":
            caps = "IMAP4rev1 UIDPLUS" + ("" if self.tls else " STARTTLS")
            self.send("* CAPABILITY %s\r\n%s OK done\r\n" % (caps, tag))
        elif word == "STARTTLS":
            return self.starttls(tag)
        elif word == "LOGIN":
            self.send("%s OK [CAPABILITY IMAP4rev1 UIDPLUS] logged in\r\n" % tag)
        elif word in ("SELECT", "EXAMINE"):
            self.select(tag)
        elif word == "UID":
            return self.uid(tag, cmd[4:])
        elif word == "NOOP":
            self.send("%s OK done\r\n" % tag)
        elif word == "LOGOUT":
            self.send("* BYE bye\r\n%s OK done\r\n" % tag)
            return "close"
        else:
            self.send("%s BAD unknown command\r\n" % tag)
        return None

    def starttls(self, tag):
        if self.mode("starttls_inject"):
            self.send("%s OK begin TLS now\r\n* OK [CAPABILITY IMAP4rev1] injected\r\n" % tag)
        elif self.mode("starttls_late"):
            self.send("%s OK begin TLS now\r\n" % tag)
            time.sleep(0.2)
            self.send("* OK [CAPABILITY IMAP4rev1] injected\r\n")
        else:
            self.send("%s OK begin TLS now\r\n" % tag)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            log(self.n, self.tls, "(TLS handshake failed: %s)" % e)
            return "close"
        self.tls = True
        self.f = self.sock.makefile("rb")
        return None

    def select(self, tag):
        out = "* %d EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Deleted)\r\n" % len(self.uids)
        if self.mode("permflags"):
            out += "* OK [PERMANENTFLAGS (\\)] x\r\n"
        else:
            out += "* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] flags\r\n"
        out += "* OK [UIDVALIDITY %d] uids\r\n* OK [UIDNEXT %d] next\r\n" % (
            self.validity, self.uids[-1] + 1)
        self.send(out + "%s OK [READ-WRITE] selected\r\n" % tag)

    def uid(self, tag, rest):
        m = re.match(r"(?i)(SEARCH|FETCH|STORE) (.*)", rest)
        if not m:
            self.send("%s BAD uid what\r\n" % tag)
            return None
        verb, arg = m.group(1).upper(), m.group(2)
        if verb == "SEARCH":
            return self.search(tag, arg)
        if verb == "STORE":
            uid = int(arg.split(" ")[0])
            with lock:
                SEEN.add((self.validity, uid))
            self.send("%s OK stored\r\n" % tag)
            return None
        return self.fetch(tag, arg)

    def search(self, tag, arg):
        if (SCENARIO == "revalidity" and self.n == 1
                and all((self.validity, u) in SEEN for u in self.uids)):
            self.send("* BYE the mailbox is being rebuilt\r\n")
            return "close"
        m = re.search(r"UID (\d+):(\d+|\*)", arg)
        lo, hi = (int(m.group(1)), m.group(2)) if m else (1, "*")
        hi = 1 << 32 if hi == "*" else int(hi)
        found = [u for u in self.uids if lo <= u <= hi or (hi == 1 << 32 and u == self.uids[-1])]
        if "UNSEEN" in arg.upper():
            found = [u for u in found if (self.validity, u) not in SEEN]
        self.send("* SEARCH%s\r\n%s OK searched\r\n" % ("".join(" %d" % u for u in found), tag))
        return None

    def fetch(self, tag, arg):
        uid = int(arg.split(" ")[0])
        if uid not in self.uids:
            self.send("%s OK nothing\r\n" % tag)
            return None
        seq = self.uids.index(uid) + 1
        body = message(seq)
        if "BODY.PEEK[]" not in arg.upper():
            if self.mode("drop_mid_fetch"):
                self.send("* %d FETCH (UID %d RFC8" % (seq, uid))
                return "close"
            self.send("* %d FETCH (UID %d RFC822.SIZE %d)\r\n%s OK fetched\r\n"
                      % (seq, uid, len(body), tag))
            return None
        if self.mode("eof_literal"):
            self.send("* %d FETCH (UID %d BODY[] {100}\r\n" % (seq, uid) + "x" * 20)
            return "close"
        if self.mode("trickle"):
            self.send("* %d FETCH (UID %d BODY[] {1000}\r\n" % (seq, uid))
            for _ in range(1000):
                time.sleep(0.2)
                self.send("x")
            return "close"
        if self.mode("huge_literal") and seq == 1:
            self.send("* %d FETCH (UID %d BODY[] {4294967295}\r\n" % (seq, uid))
            chunk = b"x" * 65536
            try:
                for _ in range(4096):  # 256 MB at most
                    self.send(chunk)
            except OSError:
                pass
            return "close"
        self.send(("* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(body))).encode()
                  + body + (")\r\n%s OK fetched\r\n" % tag).encode())
        return None


def serve(sock, n):
    try:
        Session(sock, n).run()
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    import os
    os.rename(PORTFILE + ".tmp", PORTFILE)
    while True:
        c, _ = srv.accept()
        with lock:
            conns[0] += 1
            n = conns[0]
        log(n, False, "(connected)")
        threading.Thread(target=serve, args=(c, n), daemon=True).start()


main()
