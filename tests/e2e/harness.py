"""harness.py - shared by the end-to-end tests: TAP output, and a real parleyd
started on free loopback ports with a private config, spool and database, and
stopped by pid. Test code only: never used by the product."""
import base64
import email
import email.policy
import glob
import hashlib
import hmac
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

PARLEY = os.environ.get("PARLEY", "tools/parley")
PARLEYD = os.environ.get("PARLEYD", "daemon/parleyd")
SAMPLE = os.environ.get("SAMPLE_CONF", "etc/parley.conf")


class Tap:
    """Prints TAP lines; done() prints the plan and exits 0 or 1."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name), flush=True)
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines()[:30]:
                    print("#   " + line, flush=True)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:      %r\nexpected: %r" % (got, want))

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


# The token layouts of lib/token.c: kind -> (bits of b, or 0; has an expiry).
TOKEN_LAYOUTS = {"r": (32, False), "b": (0, False), "u": (0, False), "p": (0, True),
                 "s": (0, True), "f": (32, False), "m": (32, False), "v": (32, False),
                 "a": (16, True), "j": (16, True)}


def token_check(key, tok):
    """(kind, a, b) of a short-format token made with KEY (lib/token.c), or
    None if it is forged or malformed."""
    tok = tok.lower()
    kind = tok[:1]
    if kind not in TOKEN_LAYOUTS:
        return None
    body = tok[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except Exception:
        return None
    fields, mac = raw[:-8], raw[-8:]
    want = hmac.new(key, b"t2" + kind.encode() + fields, hashlib.sha256).digest()[:8]
    if len(raw) <= 8 or not hmac.compare_digest(want, mac):
        return None

    def varint(p):
        v, shift = 0, 0
        while p < len(fields):
            c = fields[p]
            v |= (c & 0x7f) << shift
            shift += 7
            p += 1
            if not c & 0x80:
                return v, p
        raise ValueError("varint")
    try:
        a, p = varint(0)
        b = 0
        if TOKEN_LAYOUTS[kind][0]:
            b, p = varint(p)
    except ValueError:
        return None
    return kind, a, b


def imap_inbox(port, user, password="pw"):
    """USER's INBOX on the IMAP server at 127.0.0.1:PORT, parsed, read-only;
    [] while it cannot be read."""
    import imaplib
    try:
        m = imaplib.IMAP4("127.0.0.1", port)
        m.login(user, password)
        m.select("INBOX", readonly=True)
        _, data = m.search(None, "ALL")
        out = []
        for n in data[0].split():
            _, msg = m.fetch(n, "(BODY.PEEK[])")
            out.append(email.message_from_bytes(msg[0][1], policy=email.policy.default))
        m.logout()
        return out
    except (OSError, imaplib.IMAP4.error):
        return []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(cond, seconds=10.0, step=0.05):
    """Poll COND until true or SECONDS pass; returns its last value."""
    end = time.time() + seconds
    v = cond()
    while not v and time.time() < end:
        time.sleep(step)
        v = cond()
    return v


def maildir_box(top, rcpt):
    """The messages of RCPT in a Maildir sink under TOP, parsed, oldest
    first."""
    files = sorted(glob.glob(os.path.join(top, rcpt, "new", "*")), key=os.path.getmtime)
    out = []
    for f in files:
        with open(f, "rb") as fh:
            raw = fh.read()
        out.append((raw, email.message_from_bytes(raw, policy=email.policy.default)))
    return out


def parley(d, *args):
    """Run the CLI on D's configuration: (exit status, stdout, stderr)."""
    r = subprocess.run([PARLEY, "-c", d.conf] + list(args), capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


class Daemon:
    """A parleyd on free ports in a fresh temp dir. Settings override the
    sample's daemon group by 'key = value;' text inserted into it."""

    def __init__(self, extra_daemon="", extra_top="", lists=None):
        self.dir = tempfile.mkdtemp(prefix="parley-e2e.")
        os.chmod(self.dir, 0o755)
        self.lmtp_port = free_port()
        self.smtp_port = free_port()
        self.sock = os.path.join(self.dir, "lmtp.sock")
        self.conf = os.path.join(self.dir, "parley.conf")
        self.db = os.path.join(self.dir, "parley.db")
        self.spool = os.path.join(self.dir, "spool")
        self.log = os.path.join(self.dir, "parleyd.log")
        self.proc = None
        self.write_conf(extra_daemon, extra_top, lists)

    def write_conf(self, extra_daemon="", extra_top="", lists=None):
        text = open(SAMPLE).read()
        d = self.dir
        text = re.sub(r'(?m)^(\s*spool\s*=\s*)"[^"]*"', r'\1"%s/spool"' % d, text)
        text = re.sub(r'(?m)^(\s*database\s*=\s*)"[^"]*"', r'\1"%s/parley.db"' % d, text)
        text = re.sub(r'(?m)^(\s*pid_file\s*=\s*)"[^"]*"', r'\1"%s/parleyd.pid"' % d, text)
        text = text.replace('"127.0.0.1:2424", "unix:/run/parley/lmtp.sock"',
                            '"127.0.0.1:%d", "unix:%s"' % (self.lmtp_port, self.sock))
        text = text.replace('"127.0.0.1:2525", "[::1]:2525"',
                            '"127.0.0.1:%d", "[::1]:%d"' % (self.smtp_port, self.smtp_port))
        # a token key of its own: the default path is outside the test's directory
        text = text.replace("daemon = {", 'daemon = {\n  secret_file = "%s/secret";' % d, 1)
        if os.geteuid() == 0 and not re.search(r"(?m)^\s*user\s*=", extra_daemon):
            # as root, stay root (the files are in a root temp dir), even where
            # the user parley exists
            extra_daemon += '\n  user = "root";'
        if extra_daemon:
            text = text.replace("daemon = {", "daemon = {\n" + extra_daemon + "\n", 1)
        if lists is not None:
            text = text[: text.index("lists = (")] + lists
        text += "\n" + extra_top
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, wait=True):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([PARLEYD, "-c", self.conf, "-f"], stdout=logf,
                                     stderr=subprocess.STDOUT)
        if wait and not wait_for(self.listening, 10):
            raise RuntimeError("parleyd did not start:\n" + self.logtext())
        return self

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1).close()
            return True
        except OSError:
            return self.proc.poll() is None and False

    def kill(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stop by pid; returns the exit status (-9 for SIGKILL)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(5)
        self.proc = None
        return rc

    def logtext(self):
        try:
            return open(self.log).read()
        except OSError:
            return ""

    def query(self, sql, args=()):
        db = sqlite3.connect(self.db, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def stored(self):
        """Message-IDs in the store, with their counts."""
        try:
            rows = self.query("SELECT message_id, count(*) FROM inbound GROUP BY message_id")
        except sqlite3.Error:
            return {}
        return dict(rows)

    def spool_files(self, sub="incoming/new"):
        p = os.path.join(self.spool, sub)
        return sorted(os.listdir(p)) if os.path.isdir(p) else []

    def wait_ingested(self, n, seconds=15):
        return wait_for(lambda: self.count_inbound() >= n and not self.spool_files(), seconds)

    def count_inbound(self):
        try:
            return self.query("SELECT count(*) FROM inbound")[0][0]
        except sqlite3.Error:
            return 0

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def smtp_read(f):
    """One reply (all lines of a multiline reply) from a socket file:
    (code, [texts])."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            return (None, lines)
        lines.append(line.decode("latin-1").rstrip("\r\n"))
        if line[3:4] != b"-":
            return (int(line[:3]), lines)


class Raw:
    """A raw SMTP/LMTP client over a socket, for what smtplib will not send."""

    def __init__(self, port=None, path=None, timeout=10):
        if path:
            self.s = socket.socket(socket.AF_UNIX)
            self.s.settimeout(timeout)
            self.s.connect(path)
        else:
            self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.s.makefile("rb")

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        return smtp_read(self.f)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def close(self):
        """Really close: the file from makefile() keeps the socket open too."""
        for x in (self.f, self.s):
            try:
                x.close()
            except OSError:
                pass


def maildir_relay(d):
    """D's copies go into a Maildir sink in its directory, never to port 25."""
    text = open(d.conf).read().replace("    port = 25;", '    port = 25;\n    maildir = "%s/maildir";' % d.dir, 1)
    with open(d.conf, "w") as f:
        f.write(text)


def subscribe(d, lst, *addrs):
    """Subscribe ADDRS to LST of D without confirmation (before it starts)."""
    for a in addrs:
        subprocess.run([PARLEY, "-c", d.conf, "sub", "add", lst, a, "--no-confirm"], check=True,
                       capture_output=True)


def limited_daemon(limits):
    """A Daemon whose only daemon.limits group is { LIMITS } (the sample's
    own group is dropped, so that the two do not clash)."""
    d = Daemon(extra_daemon="  limits = { %s };" % limits)
    text = open(d.conf).read()
    start = text.index("  limits = {\n    message_size")
    with open(d.conf, "w") as f:
        f.write(text[:start] + text[text.index("};", start) + 2:])
    return d


def deep_multipart(depth):
    """The body of a multipart nested DEPTH levels deep, closed properly."""
    body = "".join("Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n" % (i, i)
                   for i in range(depth))
    body += "Content-Type: text/plain\r\n\r\ndeep\r\n"
    return body + "".join("--b%d--\r\n" % i for i in reversed(range(depth)))


def rcpt_flood(port, n, rcpt, timeout=600):
    """One SMTP session that pipelines EHLO, MAIL, N times RCPT TO:<RCPT>
    and a NOOP, reading the replies as they come (in a thread); returns
    {reply code: count} of the replies after the greeting."""
    import threading
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    f = s.makefile("rb")
    smtp_read(f)
    got = {}

    def reader():
        for _ in range(n + 3):
            code, _ = smtp_read(f)
            if code is None:
                return
            got[code] = got.get(code, 0) + 1
    th = threading.Thread(target=reader)
    th.start()
    s.sendall(b"EHLO x\r\nMAIL FROM:<a@example.net>\r\n")
    line = b"RCPT TO:<%s>\r\n" % rcpt.encode()
    for _ in range(n // 1000):
        s.sendall(line * 1000)
    s.sendall(line * (n % 1000) + b"NOOP\r\n")
    th.join(timeout)
    s.close()
    return got
