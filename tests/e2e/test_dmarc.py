#!/usr/bin/env python3
"""test_dmarc.py - From rewriting per list (issue 10): from_rewrite =
"always" (the default), "dmarc" and "never", with parleyd's DMARC lookups
sent to a DNS server this test runs on 127.0.0.1 (dns_server.py), named by
daemon.resolver. Copies go into the Maildir sink and are read back.

With "dmarc": an author whose domain publishes p=reject or p=quarantine
(also through a parent's sp=) gets From rewritten to the list and an
Author: field; p=none and a domain without a record (NXDOMAIN) keep the
author's From as the author wrote it; a resolver that does not answer
(timeout) or says SERVFAIL rewrites it, with a warning. Each domain is
asked once (the cache): a second post by the same author asks nothing.
"always" rewrites a p=none author, "never" keeps a p=reject one. Runs
itself again under /usr/bin/python3 when the interpreter running it cannot
import dnspython."""
import email
import email.policy
import os
import smtplib
import sys

try:
    import dns.message  # noqa: F401 - dns_server.py needs dnspython
except ImportError:
    SYSTEM_PYTHON = "/usr/bin/python3"
    if (not os.environ.get("DMARC_REEXEC") and os.access(SYSTEM_PYTHON, os.X_OK)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        os.environ["DMARC_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print("not ok 1 - python3-dnspython can be imported (scripts/deps --test)")
    print("1..1")
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dns_server import DnsServer  # noqa: E402
from harness import PARLEY, Daemon, Tap, maildir_box, maildir_relay, wait_for  # noqa: E402
import subprocess  # noqa: E402

t = Tap()
AUTHORS = {  # local part@domain -> secret
    "rita@reject.example.com": "rejectsecret0001",
    "quinn@quar.example.com": "quarsecret000001",
    "sam@sub.parent.example.com": "subsecret0000001",
    "nina@none.example.net": "nonesecret000001",
    "nora@nx.example.org": "nxsecret00000001",
    "tim@slow.example.com": "slowsecret000001",
    "sue@fail.example.com": "failsecret000001",
}


def lists_conf():
    authors = ", ".join('{ address = "%s"; name = "%s"; secret = "%s"; }' % (a, a.split("@")[0].title(), s)
                        for a, s in AUTHORS.items())
    out = "lists = (\n"
    for name, mode in (("dev", "dmarc"), ("std", None), ("keep", "never")):
        out += '  { name = "%s"; address = "%s@lists.example.org"; %s authors = ( %s ); },\n' % (
            name, name, 'from_rewrite = "%s";' % mode if mode else "", authors)
    return out.rstrip(",\n") + "\n);\n"


seq = [0]


def post(d, lst, author, subject):
    seq[0] += 1
    name = author.split("@")[0].title()
    msg = ("From: \"%s Example\" <%s>\r\nTo: %s@lists.example.org\r\nSubject: %s\r\n"
           "Message-ID: <dm%d@example.org>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nHi.\r\n"
           % (name, author, lst, subject, seq[0]))
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail(author, ["%s+post-%s@lists.example.org" % (lst, AUTHORS[author])], msg.encode())
    s.quit()


def copy_of(d, subject, seconds=30):
    def find():
        for raw, m in maildir_box(os.path.join(d.dir, "maildir"), "bob@example.org"):
            if subject in str(m.get("Subject", "")):
                m.raw = raw
                return m
        return None
    return wait_for(find, seconds, 0.1)


def check(d, lst, author, subject, kept, desc):
    post(d, lst, author, subject)
    m = copy_of(d, subject)
    if not t.ok(m is not None, "%s: a copy arrived" % desc):
        return None
    frm = str(m.get("From", ""))
    if kept:
        t.ok(author in frm and "via" not in frm and m.get("Author") is None,
             "%s: From is the author's own, no Author:" % desc, "From: %s / Author: %s" % (frm, m.get("Author")))
    else:
        t.ok("<%s@lists.example.org>" % lst in frm and "via %s" % lst in frm and author in str(m.get("Author", "")),
             "%s: From is rewritten to the list, the author in Author:" % desc,
             "From: %s / Author: %s" % (frm, m.get("Author")))
    return m


def main():
    dnsd = DnsServer()
    dnsd.add_txt("_dmarc.reject.example.com", "v=DMARC1; p=reject; rua=mailto:d@reject.example.com")
    dnsd.add_txt("_dmarc.quar.example.com", "v=DMARC1;p=quarantine")
    dnsd.add_txt("_dmarc.parent.example.com", "v=DMARC1; p=none; sp=reject")
    dnsd.add_txt("_dmarc.none.example.net", "v=DMARC1; p=none; rua=mailto:x@none.example.net")
    dnsd.add_txt("_dmarc.none.example.net", "some other text record")
    dnsd.silent.add("_dmarc.slow.example.com")
    dnsd.servfail.add("_dmarc.fail.example.com")
    d = Daemon(lists=lists_conf(), extra_daemon='  resolver = "127.0.0.1:%d";' % dnsd.port)
    maildir_relay(d)
    try:
        for lst in ("dev", "std", "keep"):
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", lst, "bob@example.org", "--no-confirm"],
                           check=True, capture_output=True)
        d.start()
        check(d, "dev", "rita@reject.example.com", "p=reject post", False, "dmarc list, p=reject")
        check(d, "dev", "quinn@quar.example.com", "p=quarantine post", False, "dmarc list, p=quarantine")
        check(d, "dev", "sam@sub.parent.example.com", "sp=reject post", False,
              "dmarc list, a subdomain under a parent's sp=reject")
        t.ok(dnsd.count("_dmarc.sub.parent.example.com") == 1 and dnsd.count("_dmarc.parent.example.com") == 1,
             "the subdomain was asked first, then its parent")
        m = check(d, "dev", "nina@none.example.net", "p=none post", True, "dmarc list, p=none")
        if m is not None:
            t.ok(b'\r\nFrom: "Nina Example" <nina@none.example.net>\r\n' in m.raw.split(b"\r\n\r\n")[0],
                 "the kept From is the author's field byte for byte", m.raw[:600])
            t.ok(str(m.get("Reply-To", "")).startswith("dev+r-"), "the kept-From copy still has the personal Reply-To")
        check(d, "dev", "nora@nx.example.org", "nxdomain post", True, "dmarc list, no record (NXDOMAIN)")
        t.ok(dnsd.count("_dmarc.example.org") == 1,
             "without a record at the domain, its parent was asked (and not the top-level domain)",
             dnsd.queries)
        t.ok(dnsd.count("_dmarc.org") == 0, "the top-level domain is never asked")
        check(d, "dev", "tim@slow.example.com", "timeout post", False, "dmarc list, the resolver times out")
        t.ok("dmarc: the policy of slow.example.com is unknown" in d.logtext(),
             "the timeout is logged as a warning")
        check(d, "dev", "sue@fail.example.com", "servfail post", False, "dmarc list, SERVFAIL")
        before = dnsd.count("_dmarc.none.example.net")
        check(d, "dev", "nina@none.example.net", "p=none again", True, "dmarc list, p=none, second post")
        t.eq(dnsd.count("_dmarc.none.example.net"), before, "the second post by the same domain asks nothing (cache)")
        check(d, "std", "nina@none.example.net", "always list", False, "default (always) list, p=none")
        check(d, "keep", "rita@reject.example.com", "never list", True, "never list, p=reject")
        t.eq(dnsd.count("_dmarc.reject.example.com"), 1, "lists that do not use dmarc ask nothing")
    finally:
        d.stop()
        dnsd.stop()
        if t.failed:
            print("\n".join("#   " + line for line in d.logtext().splitlines()[-30:]))
        d.cleanup()
    t.done()


if __name__ == "__main__":
    main()
