#!/usr/bin/env python3
"""test_fanout.py - a post travels the whole way with real parts on loopback:
an author mails it to parleyd, parleyd archives it and hands one copy per
subscriber to a real Postfix (the relay), which delivers into a real
Dovecot; each subscriber's inbox is read over IMAP and every list header is
checked, with the VERP envelope sender, the footer, and the author's content
unchanged apart from the footer (plain, multipart/alternative with an
attachment, 8-bit UTF-8, RFC 2047 subject and author name)."""
import email
import email.policy
import os
import re
import smtplib
import subprocess
import sys
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, free_port, imap_inbox, wait_for  # noqa: E402

t = Tap()
SRV = os.path.join(os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "e2e", "servers.sh")
SECRET = "k3vq9t2mxw8rz5pa"
USERS = ["ann", "ben", "cat"]  # subscribers
OTHERS = ["bob", "own"]  # an author without a secret, and the list's owner
FOOTER = "You are receiving this because you subscribed to dev@lists.example.org."


def sh(cmd):
    return subprocess.run(["sh", "-c", ". '%s'; %s" % (SRV, cmd)], capture_output=True, text=True, timeout=120)


def inbox(port, user):
    return imap_inbox(port, user)


def posts():
    plain = EmailMessage()
    plain["From"] = "Alice <alice@example.org>"
    plain["To"] = "dev@lists.example.org"
    plain["Subject"] = "plain post"
    plain["Message-ID"] = "<plain1@example.org>"
    plain.set_content("Hello everyone.\nA plain post.\n")
    alt = EmailMessage()
    alt["From"] = "=?utf-8?q?Al=C3=AFce_=C3=96?= <alice@example.org>"
    alt["To"] = "dev@lists.example.org"
    alt["Subject"] = "Caf\u00e9 \u2615 menu"
    alt["Message-ID"] = "<alt1@example.org>"
    alt.set_content("Grüße — the plain part, 8-bit UTF-8.\n", cte="8bit")
    alt.add_alternative("<html><body><p>Grüße — the <b>html</b> part.</p></body></html>\n", subtype="html")
    alt.add_attachment(bytes(range(256)) * 40, maintype="application", subtype="octet-stream",
                       filename="data.bin")
    return [plain, alt]


def check_copy(copy, user, original, lmtp_env):
    who = "%s/%s" % (user, original["Message-ID"])
    t.ok(copy["From"].addresses[0].addr_spec == "dev@lists.example.org" and " via " in copy["From"].addresses[0].display_name,
         "%s: From is the list, 'Author via List'" % who, str(copy["From"]))
    t.ok("alice@example.org" in str(copy.get("Author", "")), "%s: Author: names the author" % who, copy.get("Author"))
    rt = str(copy.get("Reply-To", ""))
    t.ok(re.search(r"dev\+r-[a-z2-7]{16,33}@lists\.example\.org", rt), "%s: Reply-To is a personal reply address" % who, rt)
    t.eq(str(copy.get("List-Id", "")).split()[-1] if copy.get("List-Id") else "", "<dev.lists.example.org>",
         "%s: List-Id" % who)
    t.eq(str(copy.get("List-Post")), "<mailto:dev@lists.example.org>", "%s: List-Post" % who)
    t.eq(str(copy.get("List-Help")), "<mailto:dev+help@lists.example.org>", "%s: List-Help" % who)
    t.eq(str(copy.get("List-Archive")), "<https://lists.example.org/dev/>", "%s: List-Archive" % who)
    t.ok(re.match(r"<mailto:dev\+unsubscribe-[a-z2-7]{16,33}@lists\.example\.org>", str(copy.get("List-Unsubscribe", ""))),
         "%s: List-Unsubscribe with a personal mailto" % who, copy.get("List-Unsubscribe"))
    t.eq(str(copy.get("Precedence")), "list", "%s: Precedence: list" % who)
    t.ok(str(copy["Message-ID"]).startswith("<parley."), "%s: the list's Message-ID" % who, copy["Message-ID"])
    t.ok(str(copy["Subject"]).startswith("[dev] ") and str(original["Subject"]) in str(copy["Subject"]),
         "%s: subject prefixed, decoded right" % who, str(copy["Subject"]))
    rp = str(copy.get("Return-Path", ""))
    t.ok(re.search(r"dev\+bounce-[a-z2-7]{16,33}@lists\.example\.org", rp), "%s: VERP envelope sender" % who, rp)
    # content: each original text part, plus the footer
    for opart in original.walk():
        if opart.is_multipart():
            continue
        ctype = opart.get_content_type()
        cparts = [p for p in copy.walk() if not p.is_multipart() and p.get_content_type() == ctype
                  and p.get_filename() == opart.get_filename()]
        if not cparts:
            t.ok(False, "%s: part %s kept" % (who, ctype))
            continue
        if ctype.startswith("text/"):
            got = cparts[0].get_content().replace("\r\n", "\n")
            want = opart.get_content().replace("\r\n", "\n")
            body = want.split("</body>")[0] if ctype == "text/html" else want.rstrip("\n")
            t.ok(got.startswith(body.rstrip("\n")[:40]) and body.strip().split("\n")[0] in got,
                 "%s: %s text kept" % (who, ctype), got[:300])
            t.ok(FOOTER in got or ctype == "text/html" and "subscribed" in got,
                 "%s: %s has the footer" % (who, ctype), got[-300:])
        else:
            t.eq(cparts[0].get_content(), opart.get_content(), "%s: attachment byte for byte" % who)


def confirm_and_hold(d, imap_port):
    """parleyd's notices through the real relay: a confirmation request to
    an author, the author's reply through parleyd, and a note to the owner."""
    p = EmailMessage()
    p["From"] = "Bob <bob@example.net>"
    p["To"] = "dev@lists.example.org"
    p["Subject"] = "Bob confirms by email"
    p["Message-ID"] = "<bob-confirm@example.net>"
    p.set_content("Posted without a secret.\n")
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.send_message(p, from_addr="bob@example.net", to_addrs=["dev+post@lists.example.org"])
    s.quit()
    t.ok(wait_for(lambda: len(inbox(imap_port, "bob")) == 1, 60), "the author's request arrives through Postfix")
    got = inbox(imap_port, "bob")
    req = got[0] if got else EmailMessage()
    t.eq(str(req["Return-Path"]), "<>", "sent with the null envelope sender")
    m = re.search(r"(dev\+confirm-[a-z2-7]+@lists\.example\.org)", str(req["Reply-To"]))
    t.ok(m is not None, "Reply-To: the confirmation address", str(req["Reply-To"]))
    r = EmailMessage()
    r["From"] = "Bob <bob@example.net>"
    r["To"] = m.group(1) if m else "nobody@example.net"
    r["Subject"] = "Re: " + str(req["Subject"])
    r["In-Reply-To"] = str(req["Message-ID"])
    r.set_content("Yes.\n")
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.send_message(r, from_addr="bob@example.net")
    s.quit()
    for u in USERS:
        t.ok(wait_for(lambda: any("Bob confirms by email" in str(c["Subject"]) for c in inbox(imap_port, u)), 60),
             "%s gets the confirmed post" % u)
    p.replace_header("From", "Mallory <mallory@example.net>")
    p.replace_header("Message-ID", "<mallory@example.net>")
    p.replace_header("Subject", "Not an author")
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.send_message(p, from_addr="mallory@example.net", to_addrs=["dev+post@lists.example.org"])
    s.quit()
    t.ok(wait_for(lambda: any("Held for dev: Not an author" == str(c["Subject"]) for c in inbox(imap_port, "own")),
                  60), "the owner gets a note about a stranger's post")
    t.ok(all("Not an author" not in str(c["Subject"]) for u in USERS for c in inbox(imap_port, u)),
         "which no subscriber gets")


def main():
    d = Daemon()
    pf = os.path.join(d.dir, "pf")
    dv = os.path.join(d.dir, "dv")
    imap_port, lmtp_port, relay_port = free_port(), free_port(), free_port()
    text = open(d.conf).read().replace("    port = 25;", "    port = %d;" % relay_port)
    text = text.replace('starttls = "auto";', 'starttls = "no";')
    text = text.replace("  workers = 4;", "  workers = 2;")
    text = text.replace('      "bob@example.org"', '      "bob@example.net"')
    text = text.replace('owners = [ "carol@example.org" ];', 'owners = [ "own@example.net" ];')
    open(d.conf, "w").write(text)
    try:
        r = sh("dovecot_start '%s' %d %d %s" % (dv, imap_port, lmtp_port, " ".join(USERS + OTHERS)))
        t.ok(r.returncode == 0, "dovecot started", r.stdout + r.stderr)
        r = sh("postfix_start '%s' %d 'example.net=lmtp:inet:127.0.0.1:%d'" % (pf, relay_port, lmtp_port))
        t.ok(r.returncode == 0, "postfix started as the relay", r.stdout + r.stderr)
        for u in USERS:
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev", "%s@example.net" % u, "--no-confirm"],
                           check=True, capture_output=True)
        d.start()
        originals = posts()
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
        for p in originals:
            s.send_message(p, from_addr="alice@example.org",
                           to_addrs=["dev+post-%s@lists.example.org" % SECRET])
        s.quit()
        for u in USERS:
            t.ok(wait_for(lambda: len(inbox(imap_port, u)) >= 2, 60), "%s received both posts" % u,
                 d.logtext()[-2000:])
        for u in USERS:
            got = inbox(imap_port, u)
            for orig in originals:
                copy = [c for c in got if orig["Subject"] in str(c["Subject"])]
                if t.ok(len(copy) == 1, "%s: one copy of %s" % (u, orig["Message-ID"])):
                    check_copy(copy[0], u, orig, None)
        ids = [set(str(c["Message-ID"]) for c in inbox(imap_port, u)) for u in USERS]
        t.ok(ids[0] == ids[1] == ids[2], "every subscriber's copy has the same list Message-ID")
        rc = subprocess.run([PARLEY, "-c", d.conf, "--json", "queue", "ls", "--all"], capture_output=True, text=True)
        t.ok('"status":"sent"' in rc.stdout and '"status":"queued"' not in rc.stdout, "every copy is sent in the queue")
        confirm_and_hold(d, imap_port)
    finally:
        d.stop()
        sh("postfix_stop '%s'; dovecot_stop '%s'" % (pf, dv))
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-30:]))
        d.cleanup()
    t.done()


main()
