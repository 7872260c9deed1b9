"""relay_server.py - a small SMTP relay on 127.0.0.1 for the delivery tests
(test_delivery.py, test_relay_client.py): it records every transaction
(its connection number, EHLO name, MAIL FROM, RCPT TOs, data, whether it ran
over TLS, as which AUTH user, whether MAIL, RCPT and DATA came in one write,
that is pipelined, and whether the next MAIL came with the end of its data)
and answers as each case wants.

  rcpt(addr) -> (code, text)   decides each RCPT (default 250)
  tls=(cert, key)              offers STARTTLS
  auth=(user, pw), mechs       offers AUTH (PLAIN, LOGIN, CRAM-MD5) and checks it
  pipelining                   offers PIPELINING (RFC 2920; default yes)
  ehlo=False                   refuses EHLO with 503 (the client must HELO)
  mail_reply, end_reply        (code, text) for MAIL, for the end of the data
  end_close                    after the data: "250-" and close (no whole reply)
  end_lines                    the end-of-data reply in that many lines
  delay                        seconds before the end-of-data reply
  greeting=(code, text)        the first reply instead of 220 (a 421: then closes)
  stall(stage, addr)           True: no reply at that stage ("greeting", "rcpt"
                               with the address, "end" with the first RCPT), the
                               session held open until the client gives up
  stop()                       closes the port and cuts every open session (a
                               relay that goes away in the middle)
It also notes when each copy was taken (msgs[i]["t"]) and the most sessions
open at once (max_open).

It is a test fixture: it never relays anything anywhere."""
import base64
import hashlib
import hmac
import socket
import ssl
import threading
import time

from harness import free_port


class Lines:
    """Lines from a socket, with what has arrived but not been read yet."""

    def __init__(self, sock):
        self.s, self.buf = sock, b""

    def readline(self):
        while b"\n" not in self.buf:
            try:
                chunk = self.s.recv(65536)
            except (OSError, ssl.SSLError):
                chunk = b""
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def pending(self):
        return self.buf


class Relay:
    def __init__(self, port=None, tls=None, auth=None, rcpt=None, delay=0.0, ehlo=True,
                 pipelining=True, mechs="PLAIN LOGIN", mail_reply=None, end_reply=None,
                 end_close=False, end_lines=1, greeting=None, stall=None):
        self.port = port or free_port()
        self.tls, self.auth, self.rcpt, self.delay, self.ehlo = tls, auth, rcpt, delay, ehlo
        self.pipelining, self.mechs = pipelining, mechs
        self.mail_reply, self.end_reply, self.end_close = mail_reply, end_reply, end_close
        self.end_lines = end_lines
        self.greeting, self.stall = greeting, stall
        self.stalled = 0
        self.lock = threading.Lock()
        self.msgs = []
        self.conns = 0
        self.open = 0
        self.max_open = 0
        self.clients = []
        self.auth_fail = 0
        self.helos = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.running = True
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
                self.open += 1
                self.max_open = max(self.max_open, self.open)
                self.clients.append(c)
                n = self.conns
            threading.Thread(target=self.session, args=(c, n), daemon=True).start()

    def close(self):
        self.running = False
        try:
            self.sock.close()
        except OSError:
            pass

    def stop(self):
        self.close()
        with self.lock:
            clients = list(self.clients)
        for c in clients:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def count(self):
        with self.lock:
            return len(self.msgs)

    def by_rcpt(self):
        out = {}
        with self.lock:
            for m in self.msgs:
                for r in m["rcpts"]:
                    out[r] = out.get(r, 0) + 1
        return out

    def session(self, c, n):
        try:
            self.talk(c, n)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            with self.lock:
                if n not in getattr(self, "quit", set()):
                    self.open -= 1
            try:
                c.close()
            except OSError:
                pass

    def ehlo_lines(self, tls_on):
        lines = ["relay.test", "8BITMIME", "SIZE 50000000", "ENHANCEDSTATUSCODES"]
        if self.pipelining:
            lines.append("PIPELINING")
        if self.tls and not tls_on:
            lines.append("STARTTLS")
        if self.auth:
            lines.append("AUTH " + self.mechs)
        return "".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", l)
                       for i, l in enumerate(lines))

    def check_user(self, user, pw):
        return user if (user, pw) == self.auth else None

    def check_plain(self, arg):
        try:
            parts = base64.b64decode(arg).split(b"\0")
        except ValueError:
            return None
        if len(parts) == 3:
            return self.check_user(parts[1].decode(), parts[2].decode())
        return None

    def b64line(self, f):
        try:
            return base64.b64decode(f.readline().strip()).decode()
        except ValueError:
            return ""

    def do_auth(self, c, f, words):
        mech = words[1].upper() if len(words) >= 2 else ""
        if mech not in self.mechs.split():
            return None
        if mech == "PLAIN":
            if len(words) == 2:
                c.sendall(b"334 \r\n")
                words.append(f.readline().decode().strip())
            return self.check_plain(words[2])
        if mech == "LOGIN":
            c.sendall(b"334 VXNlcm5hbWU6\r\n")
            user = self.b64line(f)
            c.sendall(b"334 UGFzc3dvcmQ6\r\n")
            return self.check_user(user, self.b64line(f))
        chal = b"<%d.%d@relay.test>" % (time.time_ns(), threading.get_ident())
        c.sendall(b"334 " + base64.b64encode(chal) + b"\r\n")
        user, _, digest = self.b64line(f).partition(" ")
        want = hmac.new(self.auth[1].encode(), chal, hashlib.md5).hexdigest()
        return user if user == self.auth[0] and hmac.compare_digest(digest, want) else None

    def end_of_data(self, c, k):
        if self.end_close:
            c.sendall(b"250-2.0.0 Ok: queued as Q%d\r\n" % k)
            return False
        code, text = self.end_reply or (250, "2.0.0 Ok: queued as Q%d" % k)
        lines = ["%s" % text] + ["%s part %d" % ("x" * 60, i) for i in range(1, self.end_lines)]
        c.sendall("".join("%d%s%s\r\n" % (code, "-" if i < len(lines) - 1 else " ", l)
                          for i, l in enumerate(lines)).encode())
        return True

    def hold(self, f):
        """Stall: read and drop what comes until the client closes."""
        with self.lock:
            self.stalled += 1
        for _ in range(100000):
            if not f.readline():
                return

    def stalls(self, stage, addr=""):
        return self.stall is not None and self.stall(stage, addr)

    def talk(self, c, n):
        f = Lines(c)
        if self.stalls("greeting"):
            return self.hold(f)
        if self.greeting:
            c.sendall(("%d %s\r\n" % self.greeting).encode())
            if self.greeting[0] != 220:
                return
        else:
            c.sendall(b"220 relay.test ESMTP test relay\r\n")
        tx = None
        state = {"tls": False, "user": None}
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO" and self.ehlo:
                with self.lock:
                    self.helos.append(cmd[5:])
                c.sendall(self.ehlo_lines(state["tls"]).encode())
            elif verb == "HELO":
                state["helo"] = True
                with self.lock:
                    self.helos.append(cmd[5:])
                c.sendall(b"250 relay.test\r\n")
            elif verb == "STARTTLS" and self.tls and not state["tls"]:
                c.sendall(b"220 2.0.0 go ahead\r\n")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*self.tls)
                c = ctx.wrap_socket(c, server_side=True)
                f = Lines(c)
                state["tls"] = True
            elif verb == "AUTH" and self.auth:
                user = self.do_auth(c, f, cmd.split())
                if user is None:
                    with self.lock:
                        self.auth_fail += 1
                    c.sendall(b"535 5.7.8 authentication failed\r\n")
                else:
                    state["user"] = user
                    c.sendall(b"235 2.7.0 ok\r\n")
            elif verb == "MAIL":
                if self.auth and state["user"] is None:
                    c.sendall(b"530 5.7.0 authentication required\r\n")
                    continue
                ahead = f.pending().upper()
                if self.mail_reply:
                    c.sendall(("%d %s\r\n" % self.mail_reply).encode())
                    continue
                tx = {"conn": n, "mail": cmd[cmd.find("<") + 1:cmd.find(">")] if "<" in cmd else "",
                      "mail_cmd": cmd, "rcpts": [], "tls": state["tls"], "user": state["user"],
                      "helo": state.get("helo", False),
                      "pipelined": b"RCPT TO:" in ahead and b"DATA\r\n" in ahead}
                c.sendall(b"250 2.1.0 ok\r\n")
            elif verb == "RCPT" and tx is not None:
                addr = cmd[cmd.find("<") + 1:cmd.find(">")] if "<" in cmd else ""
                if self.stalls("rcpt", addr):
                    return self.hold(f)
                code, text = self.rcpt(addr) if self.rcpt else (250, "2.1.5 ok")
                if code == 250:
                    tx["rcpts"].append(addr)
                c.sendall(("%d %s\r\n" % (code, text)).encode())
            elif verb == "DATA" and tx is not None and tx["rcpts"]:
                c.sendall(b"354 go ahead\r\n")
                data = []
                while True:
                    l = f.readline()
                    if not l:
                        return  # cut off mid-message: not taken
                    if l == b".\r\n":
                        break
                    data.append(l[1:] if l.startswith(b".") else l)
                tx["data"] = b"".join(data)
                # the next transaction came in the same write as this one's end
                tx["then_mail"] = b"MAIL FROM:" in f.pending()[:300].upper()
                if self.delay:
                    time.sleep(self.delay)
                if self.stalls("end", tx["rcpts"][0]):
                    with self.lock:
                        self.msgs.append(dict(tx, t=time.time(), unanswered=True))
                    return self.hold(f)
                code = (self.end_reply or (250,))[0]
                with self.lock:
                    if code == 250 and not self.end_close:
                        tx["t"] = time.time()
                        self.msgs.append(tx)
                    k = len(self.msgs)
                if not self.end_of_data(c, k):
                    return
                tx = None
            elif verb == "DATA":
                c.sendall(b"554 5.5.1 no valid recipients\r\n")
            elif verb == "RSET":
                tx = None
                c.sendall(b"250 2.0.0 ok\r\n")
            elif verb == "NOOP":
                c.sendall(b"250 2.0.0 ok\r\n")
            elif verb == "QUIT":
                with self.lock:
                    self.open -= 1  # over before the client can see the 221
                    self.quit = getattr(self, "quit", set()) | {n}
                c.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                c.sendall(b"503 5.5.1 bad sequence\r\n")

