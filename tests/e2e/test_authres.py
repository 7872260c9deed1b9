#!/usr/bin/env python3
"""test_authres.py - proof of authorship from Authentication-Results, through
the SMTP listener (issue 9, defect 3): only the result our border added on
top is believed (a forged one below the first foreign Received is not), a
DKIM pass proves the author only for the author's own domain (aligned
subdomains only for an author who chose "dkim-aligned"), header.i naming
another user of the domain and a header.b without its signature prove
nothing, and an SPF pass proves nothing unless the author chose "spf". A bad
proof method is reported by the config loader with file:line."""
import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, Tap, maildir_relay, parley, wait_for  # noqa: E402

t = Tap()
LISTS = """lists = (
  { name = "dev"; address = "dev@lists.example.org";
    authors = (
      { address = "alice@example.org"; name = "Alice"; },
      { address = "bob@example.org"; proof = [ "dkim", "spf" ]; },
      { address = "carol@example.org"; proof = "dkim-aligned"; }
    );
    owners = [ "owner@example.org" ];
  }
);
"""
BORDER = ("Received: from out.example.org (out.example.org [192.0.2.7])\r\n"
          "\tby mx.example.org (Postfix) with ESMTPS id 4XyZ; Tue, 1 Dec 2026 10:00:00 +0000\r\n")
FOREIGN = "Received: from [198.51.100.9] by relay.example.net with SMTP; Tue, 1 Dec 2026 09:59:00 +0000\r\n"


def ar(result):
    return "Authentication-Results: mx.example.org;\r\n\t%s\r\n" % result


def send(d, mid, extra, frm="alice@example.org"):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    s.sendmail("bounce@example.org", ["dev+post@lists.example.org"],
               "%sFrom: <%s>\r\nTo: dev@lists.example.org\r\nSubject: post %s\r\n"
               "Message-ID: <%s>\r\n\r\nHello list\r\n" % (extra, frm, mid, mid))
    s.quit()


def archived(d, mid):
    return d.query("SELECT author_addr FROM archive WHERE orig_msgid = ?", ("<%s>" % mid,))


def held(d, mid):
    return d.query("SELECT reason FROM held JOIN inbound ON inbound.id = inbound_id"
                   " WHERE message_id = ?", ("<%s>" % mid,))


def expect(d, mid, extra, publish, name, frm="alice@example.org"):
    send(d, mid, extra, frm)
    if publish:
        t.ok(wait_for(lambda: archived(d, mid), 15), name + ": published", held(d, mid))
    else:
        t.ok(wait_for(lambda: held(d, mid), 15) and not archived(d, mid), name + ": held, not published",
             archived(d, mid))


def bad_config():
    d = Daemon(lists=LISTS.replace('proof = "dkim-aligned"', 'proof = [ "dkim", "pgp" ]'))
    try:
        rc, out, err = parley(d, "check-config")
        line = [i + 1 for i, l in enumerate(open(d.conf).read().splitlines()) if '"pgp"' in l]
        t.ok(rc != 0 and "unknown method 'pgp'" in err, "an unknown proof method is an error", (rc, err))
        t.ok(line and ("parley.conf:%d" % line[0]) in err, "reported at its file:line", (line, err))
    finally:
        d.cleanup()


def main():
    d = Daemon(extra_daemon='  authserv_ids = [ "mx.example.org" ];', lists=LISTS)
    maildir_relay(d)
    try:
        d.start()
        pas = "dkim=pass header.d=example.org header.s=s1"
        expect(d, "good1@example.org", BORDER + ar(pas), True, "the border's dkim=pass for the author's domain")
        t.ok("proven by our border: dkim=pass header.d=example.org" in d.logtext(), "the log says what proved it")
        expect(d, "good2@example.org", ar(pas + " header.i=@example.org") + BORDER + FOREIGN, True,
               "the border's result above its Received, header.i of the domain")
        expect(d, "forged1@example.org", FOREIGN + ar(pas), False,
               "a trusted authserv-id below the first foreign Received (added by the sender)")
        expect(d, "forged2@example.org", BORDER + ar("dkim=none") + FOREIGN + ar(pas), False,
               "a sender's pass below the border's own result")
        expect(d, "otheruser1@example.org", BORDER + ar(pas + " header.i=eve@example.org"), False,
               "a dkim=pass signed for another user of the domain (header.i)")
        expect(d, "otheruser2@example.org", BORDER + ar(pas + " header.i=alice@example.org"), True,
               "header.i of the author")
        expect(d, "otherdomain1@example.org", BORDER + ar("dkim=pass header.d=other.example.net"), False,
               "header.d of another domain")
        expect(d, "subdomain1@example.org", BORDER + ar("dkim=pass header.d=mail.example.org"), False,
               "header.d of a subdomain for a strict author")
        expect(d, "subdomain2@example.org", BORDER + ar("dkim=pass header.d=mail.example.org"), True,
               "header.d of a subdomain for an author with dkim-aligned", frm="carol@example.org")
        spf = "spf=pass smtp.mailfrom=alice@example.org"
        expect(d, "spf1@example.org", BORDER + ar(spf), False, "spf=pass alone for an author without spf")
        expect(d, "spf2@example.org", BORDER + ar(spf.replace("alice", "bob")), True,
               "spf=pass for an author who chose spf", frm="bob@example.org")
        expect(d, "sig1@example.org", BORDER + ar(pas + " header.b=Qx7Zk3vP"), False,
               "header.b with no such DKIM-Signature in the message")
        sig = ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s1;\r\n"
               "\th=from:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
               "\tb=Qx7Zk3vPaaaa bbbbcccc\r\n\tdddd\r\n")
        expect(d, "sig2@example.org", BORDER + ar(pas + " header.b=Qx7Zk3vP") + sig, True,
               "header.b of a signature in the message by header.d")
        expect(d, "sig3@example.org", BORDER + ar(pas + " header.b=Qx7Zk3vP") +
               sig.replace("d=example.org", "d=evil.example"), False,
               "header.b of a signature by another domain")
    finally:
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-30:]))
        d.cleanup()
    bad_config()
    t.done()


main()
