#!/usr/bin/env python3
"""test_smtp.py - parleyd's SMTP and LMTP listeners against real clients
(Python's smtplib, swaks, raw sockets) on loopback: pipelining, STARTTLS,
unknown recipients, size/line/header limits, bare-LF smuggling, a client that
leaves mid-DATA, timeouts, connection limits, reload and a graceful stop."""
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, Raw, Tap, wait_for  # noqa: E402

t = Tap()
LIST = "dev@lists.example.org"


def msg(mid, subject="test", body="hello\r\n"):
    return "Message-ID: <%s>\r\nFrom: a@example.net\r\nSubject: %s\r\n\r\n%s" % (mid, subject, body)


def make_cert(d):
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=lists.example.org", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    return crt, key


def basics(d):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    code, text = s.ehlo("client.example.net")
    t.eq(code, 250, "EHLO answers 250")
    for ext in (b"PIPELINING", b"8BITMIME", b"SIZE 65536", b"ENHANCEDSTATUSCODES", b"STARTTLS"):
        t.ok(ext in text, "EHLO offers %s" % ext.decode())
    t.eq(s.docmd("VRFY", "dev")[0], 502, "VRFY refused")
    t.eq(s.docmd("MAIL", "FROM:<a@example.net>")[0], 250, "MAIL accepted")
    t.eq(s.docmd("RCPT", "TO:<nobody@lists.example.org>")[0], 550, "unknown local part: 550 at RCPT")
    t.eq(s.docmd("RCPT", "TO:<dev@elsewhere.example>")[0], 550, "other domain: 550 at RCPT")
    t.eq(s.docmd("RCPT", "TO:<dev+post-wrongsecret0000@lists.example.org>")[0], 550,
         "a wrong author secret: 550 at RCPT")
    t.eq(s.docmd("RCPT", "TO:<dev+post-K3VQ9T2MXW8RZ5PA@lists.example.org>")[0], 550,
         "the secret in another letter case: 550 at RCPT (secrets compare exactly)")
    t.eq(s.docmd("RCPT", "TO:<dev+post-k3vq9t2mXw8rz5pa@lists.example.org>")[0], 550,
         "one letter of the secret in another case: 550 at RCPT")
    for a in ("dev@lists.example.org", "DEV@Lists.Example.Org", "dev+post@lists.example.org",
              "DEV+Post-k3vq9t2mxw8rz5pa@Lists.Example.Org", "dev+r-abcdefgh234567@lists.example.org",
              "dev+unsubscribe@lists.example.org", "news+owner@lists.example.org"):
        if len(a) and a.startswith("dev+r-"):
            s.docmd("RSET")	# limits.recipients is 5 here
            s.docmd("MAIL", "FROM:<a@example.net>")
        t.eq(s.docmd("RCPT", "TO:<%s>" % a)[0], 250, "RCPT %s accepted" % a)
    t.eq(s.docmd("MAIL", "FROM:<b@example.net>")[0], 503, "nested MAIL: 503")
    t.eq(s.docmd("RSET")[0], 250, "RSET")
    t.eq(s.docmd("MAIL", "FROM:<a@example.net> SIZE=999999999")[0], 552, "declared SIZE over the limit: 552")
    t.eq(s.docmd("MAIL", "FROM:<a@example.net> SMTPUTF8")[0], 555, "unknown MAIL parameter: 555")
    t.eq(s.docmd("MAIL", "FROM:<>")[0], 250, "null sender accepted")
    t.eq(s.docmd("RCPT", "TO:<%s>" % LIST)[0], 250, "RCPT after null sender")
    code, text = s.data(msg("basic1@example.net"))
    t.ok(code == 250 and b"queued as" in text, "DATA: message accepted with a queue id", (code, text))
    s.quit()
    t.ok(d.wait_ingested(1), "the message reaches the store")
    row = d.query("SELECT sender, proto, helo FROM inbound WHERE message_id = '<basic1@example.net>'")
    t.eq(row, [("", "ESMTP", "client.example.net")], "envelope stored: null sender, ESMTP, helo")


def swaks(d):
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % d.smtp_port, "--to", LIST,
                        "--from", "swaks@example.net", "--header", "Message-Id: <swaks1@example.net>",
                        "--pipeline"], capture_output=True, text=True, timeout=30)
    t.ok(r.returncode == 0 and "queued as" in r.stdout, "swaks --pipeline delivers", r.stdout + r.stderr)
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % d.lmtp_port, "--protocol", "LMTP",
                        "--to", LIST, "--from", "swaks@example.net",
                        "--header", "Message-Id: <swaks2@example.net>"],
                       capture_output=True, text=True, timeout=30)
    t.ok(r.returncode == 0, "swaks over LMTP delivers", r.stdout + r.stderr)
    t.ok(wait_for(lambda: {"<swaks1@example.net>", "<swaks2@example.net>"} <= set(d.stored())),
         "both swaks messages stored")


def pipelining(d):
    c = Raw(d.smtp_port)
    t.eq(c.reply()[0], 220, "greeting")
    c.send("EHLO pipe.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<%s>\r\n"
           "RCPT TO:<bad@lists.example.org>\r\nRCPT TO:<news@lists.example.org>\r\nDATA\r\n" % LIST)
    codes = [c.reply()[0] for _ in range(6)]
    t.eq(codes, [250, 250, 250, 550, 250, 354], "pipelined commands answered in order")
    c.send(msg("pipe1@example.net") + "\r\n.\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<%s>\r\nDATA\r\n" % LIST
           + msg("pipe2@example.net") + "\r\n.\r\nQUIT\r\n")
    codes = [c.reply()[0] for _ in range(5)]
    t.eq(codes, [250, 250, 250, 354, 250], "two pipelined transactions in one write")
    t.eq(c.reply()[0], 221, "QUIT")
    c.close()
    t.ok(wait_for(lambda: {"<pipe1@example.net>", "<pipe2@example.net>"} <= set(d.stored())),
         "pipelined messages stored")
    rcpts = d.query("SELECT address, list, kind FROM inbound_rcpts JOIN inbound ON id = inbound_id"
                    " WHERE message_id = '<pipe1@example.net>' ORDER BY address")
    t.eq(rcpts, [("dev@lists.example.org", "dev", "list"), ("news@lists.example.org", "news", "list")],
         "recipients stored with list and kind; the refused one is not among them")


def lmtp(d):
    c = Raw(d.lmtp_port)
    c.reply()
    t.eq(c.cmd("EHLO x")[0], 500, "LMTP refuses EHLO")
    t.eq(c.cmd("LHLO x")[0], 250, "LHLO")
    c.send("MAIL FROM:<a@example.net>\r\nRCPT TO:<dev@lists.example.org>\r\n"
           "RCPT TO:<news+post@lists.example.org>\r\nDATA\r\n")
    t.eq([c.reply()[0] for _ in range(4)], [250, 250, 250, 354], "LMTP transaction")
    c.send(msg("lmtp1@example.net") + "\r\n.\r\n")
    t.eq([c.reply()[0] for _ in range(2)], [250, 250], "LMTP answers once per recipient after DATA")
    c.cmd("QUIT")
    c.close()
    u = Raw(path=d.sock)
    t.eq(u.reply()[0], 220, "LMTP on the unix socket greets")
    u.cmd("LHLO x")
    u.send("MAIL FROM:<a@example.net>\r\nRCPT TO:<dev@lists.example.org>\r\nDATA\r\n")
    [u.reply() for _ in range(3)]
    u.send(msg("unix1@example.net") + "\r\n.\r\n")
    t.eq(u.reply()[0], 250, "LMTP over the unix socket delivers")
    u.close()
    try:
        s = socket.create_connection(("::1", d.smtp_port), timeout=5)
        t.ok(s.recv(100).startswith(b"220"), "SMTP over IPv6 loopback greets")
        s.close()
    except OSError as e:
        t.ok(False, "SMTP over IPv6 loopback greets", e)
    t.ok(wait_for(lambda: {"<lmtp1@example.net>", "<unix1@example.net>"} <= set(d.stored())),
         "LMTP messages stored")


def starttls(d, crt):
    ctx = ssl.create_default_context(cafile=crt)
    ctx.check_hostname = False
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    s.ehlo()
    code, _ = s.starttls(context=ctx)
    t.eq(code, 220, "STARTTLS")
    code, text = s.ehlo()
    t.ok(code == 250 and b"STARTTLS" not in text, "EHLO after TLS no longer offers STARTTLS")
    s.sendmail("a@example.net", [LIST], msg("tls1@example.net"))
    s.quit()
    t.ok(wait_for(lambda: "<tls1@example.net>" in d.stored()), "message over TLS stored")
    tls = d.query("SELECT tls, proto FROM inbound WHERE message_id = '<tls1@example.net>'")
    t.ok(tls and tls[0][0] and tls[0][0].startswith("TLSv1."), "TLS version and cipher recorded", tls)
    raw = d.query("SELECT CAST(raw AS TEXT) FROM inbound WHERE message_id = '<tls1@example.net>'")
    t.ok(raw and "with ESMTPS" in raw[0][0], "Received header says ESMTPS")
    # plaintext pipelined after STARTTLS must be thrown away
    c = Raw(d.smtp_port)
    c.reply()
    c.cmd("EHLO x")
    c.send("STARTTLS\r\nMAIL FROM:<injected@example.net>\r\n")
    t.eq(c.reply()[0], 220, "STARTTLS with a command pipelined behind it")
    tc = ctx.wrap_socket(c.s, server_hostname="lists.example.org")
    f = tc.makefile("rb")
    tc.sendall(b"RCPT TO:<dev@lists.example.org>\r\n")
    code = f.readline()[:3]
    t.eq(code, b"503", "the pipelined plaintext MAIL was discarded (RCPT gets 503)")
    tc.close()


def smuggling(d):
    variants = {
        "LF.LF": b"\n.\n",
        "LF.CRLF": b"\n.\r\n",
        "CRLF.LF": b"\r\n.\n",
        "CR.CR": b"\r.\r",
        "CR.CRLF": b"\r.\r\n",
    }
    for name, sep in variants.items():
        c = Raw(d.smtp_port)
        c.reply()
        for line in ("EHLO x", "MAIL FROM:<a@example.net>", "RCPT TO:<%s>" % LIST):
            c.cmd(line)
        t.eq(c.cmd("DATA")[0], 354, "smuggling %s: DATA" % name)
        c.send(b"Message-ID: <smug-" + name.encode() + b"@example.net>\r\nSubject: s\r\n\r\nbody" + sep
               + b"MAIL FROM:<b@example.net>\r\nRCPT TO:<" + LIST.encode() + b">\r\nDATA\r\n"
               b"Subject: SMUGGLED\r\n\r\nx\r\n.\r\n")
        code, _ = c.reply()
        t.eq(code, 550, "smuggling %s: the message is refused" % name)
        c.s.settimeout(1.0)
        try:
            extra = c.s.recv(4096)
        except socket.timeout:
            extra = b""
        t.eq(extra, b"", "smuggling %s: no second transaction is answered" % name)
        c.close()
    time.sleep(1.5)
    subjects = [r[0] for r in d.query("SELECT subject FROM inbound")]
    t.ok("SMUGGLED" not in subjects, "nothing smuggled reached the store", subjects)
    t.eq([m for m in d.stored() if m and m.startswith("<smug-")], [], "no smuggling message stored")


def limits(d):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30)
    big = msg("big@example.net", body=("x" * 70 + "\r\n") * 2000)
    try:
        s.sendmail("a@example.net", [LIST], big)
        t.ok(False, "a message declared over message_size is refused at MAIL")
    except smtplib.SMTPSenderRefused as e:
        t.eq(e.smtp_code, 552, "a message declared over message_size is refused at MAIL with 552")
    c = Raw(d.smtp_port, timeout=30)
    c.reply()
    for line in ("EHLO x", "MAIL FROM:<a@example.net>", "RCPT TO:<%s>" % LIST, "DATA"):
        c.cmd(line)
    c.send(big + "\r\n.\r\n")
    t.eq(c.reply()[0], 552, "an undeclared message over message_size is refused after DATA with 552")
    t.eq(c.cmd("NOOP")[0], 250, "and the session goes on")
    c.close()
    try:
        s.sendmail("a@example.net", [LIST], msg("long@example.net", body="y" * 1500 + "\r\n"))
        t.ok(False, "a line over line_length is refused")
    except smtplib.SMTPDataError as e:
        t.eq(e.smtp_code, 552, "a line over line_length is refused with 552")
    exact = "".join("X-H%d: v\r\n" % i for i in range(47))  # + Message-ID, From, Subject = 50
    s.sendmail("a@example.net", [LIST], exact + msg("exact@example.net"))
    t.ok(wait_for(lambda: "<exact@example.net>" in d.stored(), 10),
         "a message with exactly header_count fields is accepted and stored (not quarantined)")
    many = "".join("X-H%d: v\r\n" % i for i in range(60))
    try:
        s.sendmail("a@example.net", [LIST], many + msg("hdrs@example.net"))
        t.ok(False, "too many header fields are refused")
    except smtplib.SMTPDataError as e:
        t.eq(e.smtp_code, 552, "too many header fields are refused with 552")
    hops = "".join("Received: from h%d by h%d; Mon, 1 Jan 2024 00:00:00 +0000\r\n" % (i, i) for i in range(51))
    try:
        s.sendmail("a@example.net", [LIST], hops + msg("loop@example.net"))
        t.ok(False, "a message with 51 Received headers is refused")
    except smtplib.SMTPDataError as e:
        t.eq(e.smtp_code, 554, "a message with 51 Received headers is refused as a loop")
    s.docmd("RSET")
    s.docmd("MAIL", "FROM:<a@example.net>")
    codes = [s.docmd("RCPT", "TO:<%s>" % LIST)[0] for _ in range(6)]
    t.eq(codes, [250] * 5 + [452], "recipients beyond limits.recipients get 452")
    s.quit()
    time.sleep(0.5)
    c = Raw(d.smtp_port)
    c.reply()
    t.eq(c.cmd("NOOP " + "z" * 3000)[0], 500, "an overlong command line: 500")
    t.eq(c.cmd("EHLO x")[0], 250, "and the session goes on")
    c.send("NOOP\n")
    t.eq(c.reply()[0], 500, "a command ending in a bare LF: 500")
    c.close()
    time.sleep(0.5)
    t.eq(d.spool_files("incoming/tmp"), [], "refused messages leave nothing in incoming/tmp")
    t.ok(not ({"<big@example.net>", "<long@example.net>", "<hdrs@example.net>", "<loop@example.net>"}
              & set(d.stored())), "refused messages are not stored")


def errors_and_timeouts(d):
    c = Raw(d.smtp_port)
    c.reply()
    codes = [c.cmd("BOGUS")[0] for _ in range(20)]
    t.eq(codes[:19], [500] * 19, "unknown commands: 500")
    t.eq(c.reply()[0], 421, "after limits.errors errors: 421 and goodbye")
    t.eq(c.f.read(), b"", "the connection is closed")
    c.close()
    c = Raw(d.smtp_port)
    c.reply()
    start = time.time()
    code, _ = c.reply()
    t.ok(code == 421 and 1.5 < time.time() - start < 10, "an idle client gets 421 at command_timeout",
         (code, time.time() - start))
    c.close()
    c = Raw(d.smtp_port)
    c.reply()
    for line in ("EHLO x", "MAIL FROM:<a@example.net>", "RCPT TO:<%s>" % LIST, "DATA"):
        c.cmd(line)
    c.send("Message-ID: <slow@example.net>\r\nSubject: slow\r\n\r\npart")
    code, _ = c.reply()
    t.eq(code, 421, "a client silent in DATA gets 421 at data_timeout")
    c.close()
    # leaving in the middle of DATA keeps nothing
    c = Raw(d.smtp_port)
    c.reply()
    for line in ("EHLO x", "MAIL FROM:<a@example.net>", "RCPT TO:<%s>" % LIST, "DATA"):
        c.cmd(line)
    c.send("Message-ID: <gone@example.net>\r\nSubject: gone\r\n\r\nhalf a mess")
    c.close()
    time.sleep(1.5)
    t.eq(d.spool_files("incoming/tmp"), [], "a client gone mid-DATA leaves no spool file")
    t.ok("<gone@example.net>" not in d.stored() and "<slow@example.net>" not in d.stored(),
         "and nothing is stored")
    # sessions per IP (after the sessions above have ended)
    time.sleep(2.5)
    held = [Raw(d.smtp_port) for _ in range(4)]
    greet = [h.reply()[0] for h in held]
    t.eq(greet, [220, 220, 220, 421], "the session beyond sessions_per_ip gets 421")
    for h in held:
        h.close()


def reload_and_stop(d):
    with open(d.conf) as f:
        text = f.read()
    # an @include of the configuration's directory: libconfig's scanner
    # exit()ed on it ("input in flex scanner failed", fuzz_config); now it is
    # refused with FILE:LINE and the running configuration kept
    with open(d.conf, "w") as f:
        f.write(text + '\n@include ""\n')
    line = text.count("\n") + 2
    d.kill(signal.SIGHUP)
    t.ok(wait_for(lambda: "reload failed" in d.logtext(), 10), "SIGHUP with an @include of a directory: "
         "the reload fails", d.logtext()[-1500:])
    t.ok("%s:%d: @include \"\": " % (d.conf, line) in d.logtext(), "with FILE:LINE and the reason",
         d.logtext()[-1500:])
    t.ok(d.proc.poll() is None, "parleyd keeps running")
    text = text.replace("lists = (", 'lists = (\n  { name = "late"; address = "late@lists.example.org"; },', 1)
    with open(d.conf, "w") as f:
        f.write(text)
    d.kill(signal.SIGHUP)
    t.ok(wait_for(lambda: "reloaded" in d.logtext(), 5), "SIGHUP reloads")
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    s.ehlo()
    s.docmd("MAIL", "FROM:<a@example.net>")
    t.eq(s.docmd("RCPT", "TO:<late@lists.example.org>")[0], 250, "a list added by reload is served")
    s.quit()
    # SIGTERM in the middle of DATA: the transaction completes, then 421
    c = Raw(d.smtp_port)
    c.reply()
    for line in ("EHLO x", "MAIL FROM:<a@example.net>", "RCPT TO:<%s>" % LIST, "DATA"):
        c.cmd(line)
    c.send("Message-ID: <inflight@example.net>\r\nSubject: in flight\r\n\r\nfirst half\r\n")
    time.sleep(0.3)
    d.kill(signal.SIGTERM)
    time.sleep(0.5)
    c.send("second half\r\n.\r\n")
    t.eq(c.reply()[0], 250, "SIGTERM during DATA: the message is still accepted")
    t.eq(c.reply()[0], 421, "then the session is closed with 421")
    c.close()
    rc = d.stop()
    t.eq(rc, 0, "parleyd exits 0 after SIGTERM")
    spooled = any(b"<inflight@example.net>" in open(os.path.join(d.spool, "incoming/new", f), "rb").read()
                  for f in d.spool_files())
    t.ok(spooled or "<inflight@example.net>" in d.stored(), "the in-flight message is kept (store or spool)")
    d.start()
    t.ok(wait_for(lambda: d.stored().get("<inflight@example.net>") == 1 and not d.spool_files()),
         "after a restart it is stored exactly once")


def connection_limit():
    """limits.connections caps all sessions, whoever the clients are."""
    d = Daemon(extra_daemon='  limits = { connections = 2; sessions_per_ip = 50; };')
    text = open(d.conf).read()
    start = text.index("  limits = {\n    message_size")
    open(d.conf, "w").write(text[:start] + text[text.index("};", start) + 2:])
    try:
        d.start()
        time.sleep(0.5)  # the start-up probe's session ends first
        held = [Raw(d.smtp_port) for _ in range(3)]
        t.eq([h.reply()[0] for h in held], [220, 220, 421],
             "the session beyond limits.connections gets 421")
        for h in held:
            h.close()
        time.sleep(0.5)
        c = Raw(d.smtp_port)
        t.eq(c.reply()[0], 220, "once sessions end, new ones are admitted")
        c.close()
    finally:
        d.cleanup()


def main():
    d = Daemon(extra_daemon='  limits = { message_size = "64K"; line_length = 998; header_count = 50;'
               ' recipients = 5; sessions_per_ip = 3; command_timeout = 2; data_timeout = 2;'
               ' errors = 20; };')
    crt, key = make_cert(d.dir)
    text = open(d.conf).read().replace("daemon = {", 'daemon = {\n  tls = { cert = "%s"; key = "%s"; };' % (crt, key), 1)
    # the sample has a limits group already: drop it so ours is the only one
    start = text.index("  limits = {\n    message_size")
    end = text.index("};", start) + 2
    text = text[:start] + text[end:]
    open(d.conf, "w").write(text)
    try:
        d.start()
        for step in (basics, swaks, pipelining, lmtp, lambda d: starttls(d, crt), smuggling, limits,
                     errors_and_timeouts, reload_and_stop):
            try:
                step(d)
            except Exception as e:  # a crash of one step is a failure, not the end
                t.ok(False, "step %s ran" % getattr(step, "__name__", "?"), repr(e))
    finally:
        if t.failed:
            print("# parleyd log:\n" + "\n".join("#   " + l for l in d.logtext().splitlines()[-40:]))
        d.cleanup()
    try:
        connection_limit()
    except Exception as e:
        t.ok(False, "step connection_limit ran", repr(e))
    t.done()


main()
