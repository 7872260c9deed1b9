#!/usr/bin/env python3
"""test_smtp_hostile.py - parleyd's SMTP/LMTP listeners against hostile
clients on loopback (issue 9): a client that pipelines megabytes and never
reads its replies, a stop while such clients hang on, a busy spell of
refusals from many distinct addresses (127.0.0.0/8), NUL bytes in commands
and in DATA, and a header section over limits.header_size.

Every wait is a bounded poll for a sentinel (a closed socket, a log line, an
exited pid); no test asserts a timing."""
import errno
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Raw, Tap, limited_daemon, wait_for  # noqa: E402

t = Tap()
LIST = "dev@lists.example.org"


def msg(mid, subject="test", body="hello\r\n"):
    return "Message-ID: <%s>\r\nFrom: a@example.net\r\nSubject: %s\r\n\r\n%s" % (mid, subject, body)


def daemon(limits):
    return limited_daemon(limits)


def flood(port, seconds, src=None):
    """Pipeline NOOPs without ever reading a reply, until the daemon drops
    the connection or SECONDS pass. Returns (dropped, bytes sent, socket)."""
    s = socket.socket()
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    chunk = b"NOOP\r\n" * 10000
    sent, end = 0, time.time() + seconds
    while time.time() < end:
        try:
            sent += s.send(chunk)
        except socket.timeout:
            continue  # the daemon reads no more: its replies fill our buffer
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                return True, sent, s
            raise
    return False, sent, s


def stuck(port, megabytes=6):
    """A client that has sent MEGABYTES of NOOPs (or until its sends block)
    and reads nothing; returns its socket."""
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    chunk = b"NOOP\r\n" * 10000
    sent, blocked = 0, 0
    while sent < megabytes << 20 and blocked < 6:
        try:
            sent += s.send(chunk)
        except socket.timeout:
            blocked += 1
        except OSError:
            break
    return s


def served(d, mid):
    """A normal client delivers a message: the DATA reply code."""
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.ehlo("normal.example.net")
    s.mail("a@example.net")
    s.rcpt(LIST)
    code, _ = s.data(msg(mid))
    s.quit()
    return code


def non_reader():
    """Defect 1: a client that never reads is dropped at its deadline, the
    others are served meanwhile, and SIGTERM ends parleyd within the grace."""
    d = daemon("command_timeout = 2; data_timeout = 2; stop_grace = 2; sessions_per_ip = 20;")
    try:
        d.start()
        hog = stuck(d.smtp_port)
        t.eq(served(d, "during-hog@example.net"), 250,
             "a normal client is served while another never reads")
        hog.close()
        dropped, sent, s = flood(d.smtp_port, 40)
        s.close()
        t.ok(dropped, "a client pipelining NOOPs without reading is dropped (command_timeout 2 s)",
             "sent %d bytes, still connected after 40 s" % sent)
        t.ok(wait_for(lambda: "the client does not take its replies" in d.logtext(), 10),
             "the daemon closed it and says why")
        t.ok(d.proc.poll() is None, "parleyd is still running")
        t.eq(served(d, "after-hog@example.net"), 250, "and serves the next client")
    finally:
        d.cleanup()
    # a long command_timeout: only the stop's grace can end these sessions
    d = daemon("command_timeout = 60; data_timeout = 60; stop_grace = 2; sessions_per_ip = 20;")
    try:
        d.start()
        hogs = [stuck(d.smtp_port) for _ in range(3)]
        slow = Raw(d.smtp_port)  # a reader inside a transaction: it may finish
        slow.reply()
        slow.cmd("EHLO slow.example.net")
        t.eq(slow.cmd("MAIL FROM:<a@example.net>")[0], 250, "a transaction is open")
        pid = d.proc.pid
        d.kill(signal.SIGTERM)
        gone = wait_for(lambda: d.proc.poll() is not None, 12, 0.1)
        for _ in range(20):  # keep the transaction busy until the daemon is gone
            if gone or d.proc.poll() is not None:
                break
            try:
                slow.cmd("NOOP")
            except OSError:
                break
        gone = gone or wait_for(lambda: d.proc.poll() is not None, 5, 0.1)
        t.ok(gone, "SIGTERM: parleyd %d exits within stop_grace (2 s) plus a margin, "
             "though clients never read and one keeps its transaction open" % pid, d.logtext()[-2000:])
        t.ok(not gone or "still running after" in d.logtext(),
             "the sessions past the grace are closed, and it says so")
        for h in hogs:
            h.close()
        slow.close()
        if not gone:
            d.proc.kill()
            d.proc.wait(5)
        d.proc = None
    finally:
        d.cleanup()


def tls_non_reader():
    """Defect 1 over TLS: after STARTTLS, a client that pipelines NOOPs and
    reads nothing is dropped at its deadline too."""
    d = daemon("command_timeout = 2; data_timeout = 2; stop_grace = 2; sessions_per_ip = 20;")
    key, crt = os.path.join(d.dir, "key.pem"), os.path.join(d.dir, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=lists.example.org", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    text = open(d.conf).read().replace("daemon = {", 'daemon = {\n  tls = { cert = "%s"; key = "%s"; };'
                                       % (crt, key), 1)
    open(d.conf, "w").write(text)
    try:
        d.start()
        c = Raw(d.smtp_port)
        c.reply()
        c.cmd("EHLO x")
        t.eq(c.cmd("STARTTLS")[0], 220, "STARTTLS")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(c.s, server_hostname="lists.example.org")
        s.settimeout(0.5)
        chunk, dropped, end = b"NOOP\r\n" * 10000, False, time.time() + 40
        while time.time() < end and not dropped:
            try:
                s.send(chunk)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                dropped = True
        t.ok(dropped, "TLS: a client that never reads is dropped at command_timeout")
        t.ok(wait_for(lambda: "the client does not take its replies" in d.logtext(), 10),
             "TLS: the daemon closed it and says why")
        t.eq(served(d, "after-tls-hog@example.net"), 250, "TLS: the next client is served")
        s.close()
    finally:
        d.cleanup()


def refused_addresses():
    """Defect 2: refusals at the global limit leave no per-address entry;
    after more than 1,024 distinct refused addresses a new one is admitted."""
    d = daemon("connections = 2; sessions_per_ip = 50; command_timeout = 30;")
    try:
        d.start()
        held = []

        def hold():  # retried while the start-up probe's session is still ending
            c = Raw(d.smtp_port)
            if c.reply()[0] == 220:
                held.append(c)
                return True
            c.close()
            return False
        t.ok(wait_for(hold, 5, 0.1) and wait_for(hold, 5, 0.1),
             "two sessions hold limits.connections = 2")
        codes, other = {}, []
        for i in range(1100):
            s = socket.socket()
            s.bind(("127.1.%d.%d" % (1 + (i >> 8), i & 255), 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", d.smtp_port))
            line = s.makefile("rb").readline().decode("latin-1")
            s.close()
            codes[line[:3]] = codes.get(line[:3], 0) + 1
            if "Too many connections;" not in line:
                other.append(line)
        t.eq(codes, {"421": 1100}, "1,100 distinct addresses are refused with 421")
        t.eq(other[:3], [], "each by the global limit")
        held.pop().close()

        def fresh():
            s = socket.socket()
            s.bind(("127.2.0.1", 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", d.smtp_port))
            line = s.makefile("rb").readline().decode("latin-1")
            fresh.sock = s
            if "Too many connections;" in line:  # the held one has not ended yet
                s.close()
                return None
            return line
        line = wait_for(fresh, 10, 0.1)
        t.ok(line is not None and line.startswith("220"),
             "then a new address gets 220, not 421 'from your address'", line)
        if line is not None:
            fresh.sock.close()
        for h in held:
            h.close()
    finally:
        d.cleanup()


def nul_bytes():
    """Defect 15: NUL in a command (500 5.5.2) and in DATA (550 5.6.0)."""
    d = daemon("command_timeout = 10; data_timeout = 10; errors = 20;")
    try:
        d.start()
        c = Raw(d.smtp_port)
        c.reply()
        c.cmd("EHLO x")
        c.cmd("MAIL FROM:<a@example.net>")
        code, text = c.cmd("RCPT TO:<%s>\0junk" % LIST)
        t.ok(code == 500 and "5.5.2" in text[0], "a NUL in RCPT gets 500 5.5.2, not 250", (code, text))
        t.eq(c.cmd("RCPT TO:<%s>" % LIST)[0], 250, "the session goes on")
        t.eq(c.cmd("DATA")[0], 354, "DATA")
        c.send(msg("nul@example.net", body="before\r\n\0.\r\nMAIL FROM:<x@evil.example>\r\n") + "\r\n.\r\n")
        code, text = c.reply()
        t.ok(code == 550 and "5.6.0" in text[0], "a NUL in DATA gets 550 5.6.0", (code, text))
        t.eq(c.cmd("NOOP")[0], 250, "nothing was smuggled: the next reply is the NOOP's")
        c.close()
        c = Raw(path=d.sock)
        c.reply()
        c.cmd("LHLO x")
        c.cmd("MAIL FROM:<a@example.net>")
        c.cmd("RCPT TO:<%s>" % LIST)
        t.eq(c.cmd("DATA")[0], 354, "LMTP DATA")
        c.send(msg("nul-lmtp@example.net", body="x\0y\r\n") + "\r\n.\r\n")
        code, text = c.reply()
        t.ok(code == 550 and "5.6.0" in text[0], "LMTP: a NUL in DATA gets 550 5.6.0", (code, text))
        t.eq(c.cmd("MAIL FROM:<a@example.net>\0")[0], 500, "LMTP: a NUL in a command gets 500")
        c.close()
        ok = served(d, "clean@example.net")
        t.eq(ok, 250, "a clean message is accepted")
        t.ok(wait_for(lambda: "<clean@example.net>" in d.stored(), 15), "and stored")
        st = d.stored()
        t.ok("<nul@example.net>" not in st and "<nul-lmtp@example.net>" not in st,
             "the messages with NUL are not stored")
    finally:
        d.cleanup()


def header_cap():
    """Defect 16: a header section over limits.header_size (default 102400)
    is refused with 552 5.3.4 after the data, which is read to its end."""
    d = daemon('message_size = "4M"; header_count = 100000; command_timeout = 20; data_timeout = 20;')
    try:
        d.start()
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30)
        s.ehlo("x")
        s.mail("a@example.net")
        s.rcpt(LIST)
        big = "".join("X-Filler-%d: %s\r\n" % (i, "y" * 900) for i in range(3500))  # 3.2 MB
        code, text = s.data("Message-ID: <bighead@example.net>\r\n" + big + "\r\nbody\r\n")
        t.ok(code == 552 and b"5.3.4" in text, "a 3.2 MB header section gets 552 5.3.4", (code, text))
        s.mail("a@example.net")
        s.rcpt(LIST)
        code, _ = s.data("Message-ID: <afterbig@example.net>\r\n" + big[:90000] + "\r\nbody\r\n")
        t.eq(code, 250, "the session goes on: a 90 kB header section is accepted")
        s.quit()
        t.ok(wait_for(lambda: "<afterbig@example.net>" in d.stored(), 15), "and stored")
        t.ok("<bighead@example.net>" not in d.stored(), "the refused one is not")
    finally:
        d.cleanup()


def main():
    for step in (nul_bytes, header_cap, refused_addresses, non_reader, tls_non_reader):
        try:
            step()
        except Exception as e:  # a crash of one step is a failure, not the end
            t.ok(False, "step %s ran" % step.__name__, repr(e))
    t.done()


main()
