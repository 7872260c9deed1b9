#!/usr/bin/env python3
"""test_signing.py - deliverability (issue 10): every copy parleyd sends is
DKIM-signed with its list's keys, and the author's authentication and list
fields never reach a reader.

The real path: a post is submitted to parleyd over SMTP, parleyd relays the
copies to a real Postfix on loopback, which delivers them into a real
Dovecot over LMTP; each copy is read back over IMAP, byte for byte, and
verified by Debian's python3-dkim (dkimpy) with the public keys served by a
DNS server this test runs on 127.0.0.1 (dns_server.py). Checked:
- daemon.dkim with algorithm "both": two signatures (rsa-sha256 and
  ed25519-sha256, d= the list's domain), each verifies; a changed body byte
  or Subject breaks both (so the verification can fail);
- a list's own dkim group overrides daemon.dkim (its own domain and key);
- with arc = true each copy of a post carries an ARC set (RFC 8617, i=1,
  cv=none) whose ARC-Authentication-Results is the recorded
  Authentication-Results; dkimpy's arc_verify validates the chain, and a
  changed body or AAR breaks it; a post that arrives with a valid chain
  (sealed by dkimpy's arc_sign, arc=pass from our border) is continued
  with i=2, cv=pass, and that chain validates;
- a notice (the help reply) is signed too;
- the author's Authentication-Results, DKIM-Signature, ARC-*, List-*,
  Return-Path and Sender are not in the copy;
- a reload with a key that cannot be loaded is refused with FILE:LINE, the
  running keys go on signing; a reload with a new selector and key signs
  with them; check-config reports a broken key at its line.
A second verifier, Mail::DKIM (Debian's libmail-dkim-perl, run as
dkim_verify.pl against the same DNS server), passes each copy's rsa-sha256
signature and ARC chain and fails them on a changed body byte (it has no
ed25519-sha256).
Runs itself again under /usr/bin/python3 when the interpreter running it
cannot import dkimpy (a pyenv python3)."""
import imaplib
import os
import re
import signal
import smtplib
import subprocess
import sys

try:
    import authres  # noqa: F401 - dkimpy's arc_sign needs it
    import dkim
    import dns.message  # noqa: F401 - dns_server.py needs dnspython
except ImportError:
    SYSTEM_PYTHON = "/usr/bin/python3"
    if (not os.environ.get("SIGNING_REEXEC") and os.access(SYSTEM_PYTHON, os.X_OK)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        os.environ["SIGNING_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print("not ok 1 - python3-dkim, python3-dnspython and python3-authres can be imported "
          "(scripts/deps --test)")
    print("1..1")
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dns_server import DnsServer  # noqa: E402
from harness import PARLEY, Daemon, Tap, free_port, wait_for  # noqa: E402

t = Tap()
SRV = os.path.join(os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "e2e", "servers.sh")
SECRET = "k3vq9t2mxw8rz5pa"
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
MAILBOXES = ("alice", "bob", "carol")
LISTS = """lists = (
  { name = "dev"; address = "dev@lists.example.org"; subject_prefix = "[dev]";
    footer = "Über die Liste: https://lists.example.org/dev";
    authors = ( { address = "alice@example.org"; name = "Alice"; secret = "%(s)s"; } );
    owners = [ "carol@example.org" ]; },
  { name = "news"; address = "news@news.example.net";
    authors = ( { address = "alice@example.org"; secret = "%(s)s"; } ); owners = [ "carol@example.org" ];
    dkim = { selector = "news"; key_file = "%(dir)s/news.pem"; }; }
);
"""
# what a hostile or merely careless author's message carries
AUTHOR_FIELDS = (
    "Authentication-Results: mx.example.org; dkim=pass header.d=example.org; spf=pass\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=a;\r\n"
    " h=from:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n"
    "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=a; t=1; b=AAAA\r\n"
    "ARC-Message-Signature: i=1; a=rsa-sha256; d=example.org; s=a; h=from; bh=AAAA; b=AAAA\r\n"
    "ARC-Authentication-Results: i=1; mx.example.org; dkim=pass\r\n"
    "List-Id: <other.lists.example.com>\r\n"
    "List-Unsubscribe: <mailto:leave@lists.example.com>\r\n"
    "Return-Path: <alice-bounces@example.org>\r\n"
    "Sender: alice-sender@example.org\r\n")
seq = [0]


def sh(cmd):
    return subprocess.run(["sh", "-c", ". '%s'; %s" % (SRV, cmd)], capture_output=True, text=True,
                          timeout=120)


def genkey(path, kind):
    args = ["openssl", "genpkey", "-algorithm", kind, "-out", path]
    if kind == "RSA":
        args += ["-pkeyopt", "rsa_keygen_bits:2048"]
    subprocess.run(args, check=True, capture_output=True)
    os.chmod(path, 0o600)


def public_record(pem):
    """The DKIM TXT record of the key in PEM, made with the openssl command."""
    import base64
    der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    if der.startswith(ED25519_SPKI_PREFIX) and len(der) == len(ED25519_SPKI_PREFIX) + 32:
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def raw_inbox(port, user):
    """USER's INBOX as raw bytes, oldest first; [] while it cannot be read."""
    try:
        m = imaplib.IMAP4("127.0.0.1", port)
        m.login(user, "pw")
        m.select("INBOX", readonly=True)
        _, data = m.search(None, "ALL")
        out = []
        for n in data[0].split():
            _, msg = m.fetch(n, "(BODY.PEEK[])")
            out.append(msg[0][1])
        m.logout()
        return out
    except (OSError, imaplib.IMAP4.error):
        return []


def header_of(raw):
    return raw.split(b"\r\n\r\n", 1)[0]


def fields(raw, name):
    """The values of every NAME field of RAW's header (unfolded)."""
    h = re.sub(rb"\r\n[ \t]", b" ", header_of(raw))
    pat = re.compile(rb"^" + re.escape(name.encode()) + rb":\s*(.*)$", re.I | re.M)
    return [v.decode("latin-1").strip() for v in pat.findall(h)]


def tags(sig):
    return dict((k.strip(), re.sub(r"\s+", "", v)) for k, _, v in
                (p.partition("=") for p in sig.split(";")) if k.strip())


def copy_with(box_port, user, subject, n=1, seconds=30):
    """The copies in USER's inbox whose Subject contains SUBJECT, once there
    are N of them (the sentinel), else what there is."""
    def found():
        got = [r for r in raw_inbox(box_port, user) if any(subject in s for s in fields(r, "Subject"))]
        return got if len(got) >= n else None
    return wait_for(found, seconds, 0.2) or [r for r in raw_inbox(box_port, user)
                                             if any(subject in s for s in fields(r, "Subject"))]


def post(d, subject, lst="dev", extra=""):
    seq[0] += 1
    msg = ("From: Alice <alice@example.org>\r\nTo: %s@lists.example.org\r\nSubject: %s\r\n"
           "Message-ID: <sig%d@example.org>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n%s"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße an die Liste.\r\n.leading dot\r\n"
           % (lst, subject, seq[0], extra))
    dom = "news.example.net" if lst == "news" else "lists.example.org"
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail("alice@example.org", ["%s+post-%s@%s" % (lst, SECRET, dom)], msg.encode())
    s.quit()


def verify_all(raw, dnsd):
    """[(a=, d=, s=, verified)] for each DKIM-Signature of RAW."""
    out = []
    sigs = fields(raw, "DKIM-Signature")
    for i, sig in enumerate(sigs):
        tg = tags(sig)
        try:
            ok = dkim.DKIM(raw).verify(idx=i, dnsfunc=dnsd.txt)
        except dkim.DKIMException as e:
            ok = "error: %s" % e
        out.append((tg.get("a"), tg.get("d"), tg.get("s"), ok))
    return out


def perl_verify(raw, dnsd, arc=False):
    """Mail::DKIM's verdict on RAW (dkim_verify.pl, a second implementation):
    [(a=, d=, s=, result)] per DKIM-Signature, or the ARC chain's result."""
    cmd = ["perl", os.path.join(os.path.dirname(os.path.abspath(__file__)), "dkim_verify.pl"),
           str(dnsd.port)] + (["arc"] if arc else [])
    r = subprocess.run(cmd, input=raw, capture_output=True, timeout=60)
    if r.returncode != 0:
        return "error: %s" % r.stderr.decode(errors="replace")
    lines = r.stdout.decode(errors="replace").splitlines()
    if arc:
        return lines[0].split()[0] if lines else "error: no output"
    return [tuple(ln.split(None, 4)[:4]) for ln in lines]


def tamper_body(raw):
    h, _, b = raw.partition(b"\r\n\r\n")
    i = b.index(b"Liste")
    return h + b"\r\n\r\n" + b[:i] + b"l" + b[i + 1:]


def tamper_subject(raw):
    return raw.replace(b"Subject: [dev] ", b"Subject: [dev]  X", 1)


def reload(d):
    n = d.logtext().count("reloaded ") + d.logtext().count("reload failed")
    d.kill(signal.SIGHUP)
    return wait_for(lambda: d.logtext().count("reloaded ") + d.logtext().count("reload failed") > n, 10)


def main():
    dnsd = DnsServer()
    d = Daemon(lists=LISTS % {"s": SECRET, "dir": "@DIR@"})
    keys = {"rsa1": "rsa1.pem", "ed1": "ed1.pem", "news": "news.pem", "rsa2": "rsa2.pem", "fwd": "fwd.pem"}
    for sel, f in keys.items():
        genkey(os.path.join(d.dir, f), "ED25519" if sel.startswith("ed") else "RSA")
        dom = {"news": "news.example.net", "fwd": "forwarder.example.net"}.get(sel, "lists.example.org")
        dnsd.add_txt("%s._domainkey.%s" % (sel, dom), public_record(os.path.join(d.dir, f)))
    pf, dv = os.path.join(d.dir, "pf"), os.path.join(d.dir, "dv")
    imap_port, lmtp_port, relay_port = free_port(), free_port(), free_port()
    conf = open(d.conf).read().replace("@DIR@", d.dir)
    conf = conf.replace("    port = 25;", "    port = %d;" % relay_port, 1).replace('starttls = "auto";', 'starttls = "no";')
    dkim_group = ('  dkim = { algorithm = "both"; selector = "rsa1"; key_file = "%s/rsa1.pem";\n'
                  '    ed25519_selector = "ed1"; ed25519_key_file = "%s/ed1.pem"; arc = true; };\n'
                  '  authserv_ids = [ "mx.example.org" ];\n' % (d.dir, d.dir))
    conf = conf.replace("daemon = {", "daemon = {\n" + dkim_group, 1)
    open(d.conf, "w").write(conf)
    try:
        r = sh("dovecot_start '%s' %d %d %s" % (dv, imap_port, lmtp_port, " ".join(MAILBOXES)))
        t.ok(r.returncode == 0, "dovecot started", r.stdout + r.stderr)
        r = sh("postfix_start '%s' %d 'example.org=lmtp:inet:127.0.0.1:%d'" % (pf, relay_port, lmtp_port))
        t.ok(r.returncode == 0, "postfix started as the relay", r.stdout + r.stderr)
        rc = subprocess.run([PARLEY, "-c", d.conf, "check-config"], capture_output=True, text=True)
        t.ok(rc.returncode == 0, "check-config loads the DKIM keys", rc.stderr)
        for lst in ("dev", "news"):
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", lst, "bob@example.org", "carol@example.org",
                            "--no-confirm"], check=True, capture_output=True)
        d.start()
        signed_copies(d, dnsd, imap_port)
        arc_continued(d, dnsd, imap_port)
        list_override(d, dnsd, imap_port)
        notice_signed(d, dnsd, imap_port)
        reloads(d, dnsd, imap_port)
    finally:
        d.stop()
        sh("postfix_stop '%s'; dovecot_stop '%s'" % (pf, dv))
        dnsd.stop()
        if t.failed:
            print("\n".join("#   " + line for line in d.logtext().splitlines()[-40:]))
        d.cleanup()
    t.done()


def signed_copies(d, dnsd, port):
    post(d, "Signed both ways", extra=AUTHOR_FIELDS)
    for user in ("bob", "carol"):
        got = copy_with(port, user, "Signed both ways")
        if not t.eq(len(got), 1, "%s got one copy of the post through Postfix and Dovecot" % user):
            continue
        raw = got[0]
        v = verify_all(raw, dnsd)
        t.eq(sorted((a, dom, s) for a, dom, s, _ in v),
             [("ed25519-sha256", "lists.example.org", "ed1"), ("rsa-sha256", "lists.example.org", "rsa1")],
             "%s's copy carries two signatures of the list's domain: rsa-sha256 and ed25519-sha256" % user)
        t.ok(all(ok is True for _, _, _, ok in v), "dkimpy verifies both signatures of %s's copy" % user, v)
        pv = perl_verify(raw, dnsd)
        t.ok(("rsa-sha256", "lists.example.org", "rsa1", "pass") in pv,
             "Mail::DKIM (Perl, a second verifier) passes the rsa-sha256 signature of %s's copy "
             "(it knows no ed25519)" % user, pv)
        pv = perl_verify(tamper_body(raw), dnsd)
        t.ok(isinstance(pv, list) and ("rsa-sha256", "lists.example.org", "rsa1", "pass") not in pv
             and any(x[0] == "rsa-sha256" for x in pv),
             "and fails it once a body byte changed", pv)
        sig = fields(raw, "DKIM-Signature")[0]
        h = tags(sig).get("h", "").lower().split(":")
        want = ["from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe", "list-post",
                "reply-to", "mime-version", "content-type"]
        t.ok(all(w in h for w in want) and tags(sig).get("c") == "relaxed/relaxed",
             "%s's signature is relaxed/relaxed and covers %s" % (user, ", ".join(want)), sig)
        t.ok(all(ok is not True for _, _, _, ok in verify_all(tamper_body(raw), dnsd)),
             "a changed body byte breaks both signatures of %s's copy" % user)
        t.ok(all(ok is not True for _, _, _, ok in verify_all(tamper_subject(raw), dnsd)),
             "a changed Subject breaks both signatures of %s's copy" % user)
        arc_checks(user, raw, dnsd)
        if user != "bob":
            continue
        t.eq(fields(raw, "Authentication-Results"), [], "the author's Authentication-Results is not in the copy")
        t.eq([f for f in fields(raw, "DKIM-Signature") if "example.org; s=a" in f or "d=example.org;" in f], [],
             "the author's DKIM-Signature is not in the copy")
        arcs = [f for n in ("ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results")
                for f in fields(raw, n)]
        t.ok(len(arcs) == 3 and not any("s=a;" in f or "bh=AAAA" in f or "t=1;" in f for f in arcs),
             "no ARC-* field of the author is in the copy (only the list's own set)", arcs)
        t.eq(fields(raw, "List-Id"), ["<dev.lists.example.org>"], "the only List-Id is the list's own")
        t.ok(not any("lists.example.com" in u for u in fields(raw, "List-Unsubscribe")),
             "the author's List-Unsubscribe is not in the copy", fields(raw, "List-Unsubscribe"))
        t.eq(fields(raw, "Sender"), [], "the author's Sender is not in the copy")
        rp = fields(raw, "Return-Path")
        t.ok(len(rp) == 1 and "bounce-" in rp[0] and "alice" not in rp[0],
             "the one Return-Path is the one Dovecot wrote from the VERP sender", rp)


def arc_verify(raw, dnsd):
    """(cv, reason) of dkimpy's ARC chain validation of RAW."""
    try:
        cv, _, reason = dkim.arc_verify(raw, dnsfunc=dnsd.txt)
    except dkim.DKIMException as e:
        return (b"error", str(e))
    return (cv, reason)


def arc_checks(user, raw, dnsd):
    sets = [ln for ln in header_of(raw).split(b"\r\n") if ln.lower().startswith(b"arc-")]
    t.eq([ln.split(b":")[0].lower() for ln in sets],
         [b"arc-seal", b"arc-message-signature", b"arc-authentication-results"],
         "%s's copy carries one ARC set, ours (the author's is gone)" % user)
    seal = tags(" ".join(fields(raw, "ARC-Seal")))
    t.ok(seal.get("i") == "1" and seal.get("cv") == "none" and seal.get("d") == "lists.example.org"
         and seal.get("s") == "rsa1" and seal.get("a") == "rsa-sha256",
         "%s's ARC-Seal: i=1, cv=none, the list's domain and RSA key" % user, seal)
    t.eq(fields(raw, "ARC-Authentication-Results"),
         ["i=1; mx.example.org; dkim=pass header.d=example.org; spf=pass"],
         "%s's ARC-Authentication-Results carries the recorded Authentication-Results" % user)
    cv, why = arc_verify(raw, dnsd)
    t.eq((cv, why), (b"pass", "success"), "dkimpy validates %s's ARC chain" % user)
    t.eq(perl_verify(raw, dnsd, arc=True), "pass", "Mail::DKIM validates %s's ARC chain too" % user)
    t.ok(perl_verify(tamper_body(raw), dnsd, arc=True) != "pass",
         "and not once a body byte changed (%s's copy)" % user)
    t.ok(arc_verify(tamper_body(raw), dnsd)[0] != b"pass",
         "a changed body byte breaks %s's ARC chain" % user)
    t.ok(arc_verify(raw.replace(b"i=1; mx.example.org", b"i=1; mx.example.com", 1), dnsd)[0] != b"pass",
         "a changed ARC-Authentication-Results breaks %s's ARC seal" % user)


def arc_continued(d, dnsd, port):
    """A post that came through a forwarder which sealed it (i=1, made here
    with dkimpy's arc_sign), and whose chain our border found valid
    (arc=pass): the copy continues the chain with i=2, cv=pass."""
    msg = ("Authentication-Results: mx.forwarder.example.net; dkim=pass header.d=example.org\r\n"
           "From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\nSubject: Forwarded and sealed\r\n"
           "Message-ID: <arcfwd@example.org>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSealed on the way.\r\n").encode()
    key = open(os.path.join(d.dir, "fwd.pem"), "rb").read()
    arc_set = dkim.arc_sign(msg, b"fwd", b"forwarder.example.net", key, b"mx.forwarder.example.net",
                            timestamp=1700000000)
    msg = b"".join(arc_set) + msg
    t.eq(arc_verify(msg, dnsd), (b"pass", "success"), "the forwarder's chain (made by dkimpy) validates")
    msg = b"Authentication-Results: mx.example.org; arc=pass (i=1); dkim=pass header.d=example.org\r\n" + msg
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail("alice@example.org", ["dev+post-%s@lists.example.org" % SECRET], msg)
    s.quit()
    got = copy_with(port, "bob", "Forwarded and sealed")
    if not t.eq(len(got), 1, "bob got the copy of the sealed post"):
        return
    raw = got[0]
    seals = sorted(tags(f).get("i") + ":" + tags(f).get("cv", "") + ":" + tags(f).get("d", "")
                   for f in fields(raw, "ARC-Seal"))
    t.eq(seals, ["1:none:forwarder.example.net", "2:pass:lists.example.org"],
         "the copy continues the chain: the forwarder's i=1 and our i=2 with cv=pass")
    t.ok(any(f.startswith("i=2; mx.example.org; arc=pass") for f in fields(raw, "ARC-Authentication-Results")),
         "our AAR (i=2) carries the border's arc=pass", fields(raw, "ARC-Authentication-Results"))
    t.eq(arc_verify(raw, dnsd), (b"pass", "success"), "dkimpy validates the two-set chain of bob's copy")
    broken = raw.replace(b"i=1; mx.forwarder.example.net; dkim=pass", b"i=1; mx.forwarder.example.net; dkim=fail", 1)
    t.ok(broken != raw and arc_verify(broken, dnsd)[0] != b"pass",
         "a changed byte in the forwarder's set breaks the chain")
    v = verify_all(raw, dnsd)
    t.ok(len(v) == 2 and all(ok is True for _, _, _, ok in v), "and the copy's DKIM signatures still verify", v)


def list_override(d, dnsd, port):
    post(d, "News signed", lst="news")
    got = copy_with(port, "bob", "News signed")
    if t.eq(len(got), 1, "bob got the news copy"):
        v = verify_all(got[0], dnsd)
        t.eq([(a, dom, s, ok) for a, dom, s, ok in v], [("rsa-sha256", "news.example.net", "news", True)],
             "a list's own dkim group overrides daemon.dkim: one RSA signature of its domain, verified")


def notice_signed(d, dnsd, port):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail("bob@example.org", ["dev+help@lists.example.org"],
               b"From: bob@example.org\r\nTo: dev+help@lists.example.org\r\nSubject: help\r\n"
               b"Message-ID: <help1@example.org>\r\n\r\nhelp\r\n")
    s.quit()

    def notice():
        for r in raw_inbox(port, "bob"):
            if fields(r, "Auto-Submitted") and fields(r, "DKIM-Signature"):
                return r
        return None
    raw = wait_for(notice, 30, 0.2)
    if t.ok(raw is not None, "bob got the help reply (a notice), signed"):
        v = verify_all(raw, dnsd)
        t.ok(len(v) == 2 and all(ok is True and dom == "lists.example.org" for _, dom, _, ok in v),
             "the notice's two signatures verify", v)
        t.eq(fields(raw, "ARC-Seal"), [], "a notice (parley's own mail) gets no ARC set")


def reloads(d, dnsd, port):
    bad = os.path.join(d.dir, "bad.pem")
    with open(bad, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    os.chmod(bad, 0o600)
    good = open(d.conf).read()
    broken = good.replace('key_file = "%s/rsa1.pem"' % d.dir, 'key_file = "%s"' % bad)
    open(d.conf, "w").write(broken)
    line = [i + 1 for i, ln in enumerate(broken.splitlines()) if bad in ln][0]
    rc = subprocess.run([PARLEY, "-c", d.conf, "check-config"], capture_output=True, text=True)
    t.ok(rc.returncode == 1 and ("%s:%d:" % (d.conf, line)) in rc.stderr and "key_file" in rc.stderr,
         "check-config reports the broken key at its FILE:LINE", rc.stderr)
    t.ok(reload(d) and "reload failed" in d.logtext() and ("%s:%d:" % (d.conf, line)) in d.logtext(),
         "a reload with a key that cannot be loaded is refused, with FILE:LINE in the log")
    post(d, "After a refused reload")
    got = copy_with(port, "bob", "After a refused reload")
    if t.eq(len(got), 1, "bob got the copy after the refused reload"):
        v = verify_all(got[0], dnsd)
        t.ok(sorted(s for _, _, s, ok in v if ok is True) == ["ed1", "rsa1"],
             "the running keys go on signing after the refused reload", v)
    open(d.conf, "w").write(good.replace('selector = "rsa1"; key_file = "%s/rsa1.pem"' % d.dir,
                                         'selector = "rsa2"; key_file = "%s/rsa2.pem"' % d.dir))
    n = d.logtext().count("reloaded ")
    t.ok(reload(d) and d.logtext().count("reloaded ") > n, "a reload with a new selector and key is taken")
    post(d, "After the key rotation")
    got = copy_with(port, "bob", "After the key rotation")
    if t.eq(len(got), 1, "bob got the copy after the key rotation"):
        v = verify_all(got[0], dnsd)
        t.ok(sorted(s for _, _, s, ok in v if ok is True) == ["ed1", "rsa2"],
             "copies are signed with the new key after the reload", v)


if __name__ == "__main__":
    main()
