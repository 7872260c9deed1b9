#!/usr/bin/env python3
"""test_posts.py - who may post (design §5): an author's secret post
address or a trusted Authentication-Results header publishes a post into the
archive with one queued copy per subscriber who wants posts; a From header
alone, an untrusted authserv-id, an unaligned domain, a loop or an automatic
message is held for the owner and answered by nobody. The personal
List-Unsubscribe mailto of a delivered copy unsubscribes by one email."""
import email
import email.policy
import os
import re
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, parley, wait_for  # noqa: E402

t = Tap()
SECRET = "k3vq9t2mxw8rz5pa"


def send(d, rcpt, mid, frm="alice@example.org", extra="", sender=None):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    s.sendmail(frm if sender is None else sender, [rcpt],
               "%sFrom: Alice <%s>\r\nTo: dev@lists.example.org\r\nSubject: post %s\r\n"
               "Message-ID: <%s>\r\n\r\nHello list\r\n" % (extra, frm, mid, mid))
    s.quit()


def archived(d, mid):
    return d.query("SELECT kind, author_addr, list_msgid FROM archive WHERE orig_msgid = ?",
                   ("<%s>" % mid,))


def held(d, mid):
    return d.query("SELECT reason FROM held JOIN inbound ON inbound.id = inbound_id"
                   " WHERE message_id = ?", ("<%s>" % mid,))


def cli(d):
    import json
    rc, out, _ = parley(d, "--json", "archive", "ls", "dev")
    msgs = json.loads(out)["messages"] if rc == 0 else []
    t.eq([m["kind"] for m in msgs], ["post"] * 3, "archive ls --json lists the three posts")
    t.ok(all(m["copies"] == 2 and m["message_id"].startswith("<parley.") for m in msgs),
         "with their list Message-IDs and copies", msgs)
    rc, out, _ = parley(d, "archive", "show", "secret1@example.org")
    t.ok(rc == 0 and "author:      Alice <alice@example.org>" in out and "Hello list" in out,
         "archive show by the author's Message-ID", out)
    lid = msgs[0]["message_id"] if msgs else "<none>"
    rc, out, _ = parley(d, "archive", "show", lid, "--raw")
    t.ok(rc == 0 and "Message-ID: <secret1@example.org>" in out and SECRET not in out and
         "for <dev+redacted@lists.example.org>" in out,
         "archive show --raw gives the message as received, the post secret redacted", out[:400])
    rc, out, _ = parley(d, "archive", "show", lid, "--raw", "--unredacted")
    t.ok(rc == 0 and "for <dev+post-%s@lists.example.org>" % SECRET in out,
         "--raw --unredacted: byte for byte, secret and all")
    rc, _, err = parley(d, "archive", "show", "<nosuch@example.org>")
    t.ok(rc == 1 and "not in the archive" in err, "an unknown Message-ID: exit 1")
    rc, out, _ = parley(d, "--json", "queue", "ls", "--all")
    copies = json.loads(out)["copies"] if rc == 0 else []
    t.eq(len([c for c in copies if not c["message_id"].startswith("(")]), 6,
         "queue ls --all shows every copy of a post")
    ids = [str(c["id"]) for c in copies]
    d.query("SELECT 1")
    import sqlite3
    db = sqlite3.connect(d.db)
    db.execute("UPDATE deliveries SET status = 'failed', next_at = 9999999999 WHERE id = ?", (ids[0],))
    db.execute("UPDATE deliveries SET status = 'deferred', next_at = 9999999999 WHERE id = ?", (ids[1],))
    db.commit()
    db.close()
    rc, out, _ = parley(d, "queue", "flush")
    t.ok(rc == 0 and "due now: 1 copy" in out, "queue flush makes the deferred copy due", out)
    rc, out, _ = parley(d, "queue", "retry", ids[0])
    t.ok(rc == 0 and "queued again: 1 copy" in out, "queue retry ID re-queues a failed copy", out)
    rc, _, err = parley(d, "queue", "retry", "x1")
    t.eq(rc, 2, "queue retry with a bad id: exit 2")


def unsubscribe(d):
    """the mailto of List-Unsubscribe in a delivered copy unsubscribes its
    reader with one email, whoever sends it and however it looks"""
    new = os.path.join(d.dir, "maildir", "r1@example.net", "new")
    t.ok(wait_for(lambda: os.path.isdir(new) and os.listdir(new), 10), "r1 has a copy")
    with open(os.path.join(new, sorted(os.listdir(new))[0]), "rb") as f:
        copy = email.message_from_bytes(f.read(), policy=email.policy.default)
    m = re.search(r"<mailto:(dev\+unsubscribe-[a-z2-7]+@lists\.example\.org)>", str(copy["List-Unsubscribe"]))
    t.ok(m is not None, "List-Unsubscribe has a personal mailto", str(copy["List-Unsubscribe"]))
    if m is None:
        return
    send(d, "dev+unsubscribe-" + "a" * 39 + "@lists.example.org", "unsub0@example.org", frm="r1@example.net")
    t.ok(wait_for(lambda: "unsubscribe with a token we did not make for dev: ignored" in d.logtext(), 10),
         "a forged token is ignored")
    status = lambda: d.query("SELECT status FROM subscribers WHERE address = 'r1@example.net'")[0][0]
    t.eq(status(), "active", "r1 is still subscribed")
    send(d, m.group(1), "unsub1@example.org", frm="r1@example.net", sender="unsub@provider.example",
         extra="Auto-Submitted: auto-generated\r\n")
    t.ok(wait_for(lambda: status() == "unsubscribed", 10), "one email to it unsubscribes r1")
    ev = d.query("SELECT e.how, e.actor FROM subscriber_events e JOIN subscribers s ON s.id = e.subscriber_id"
                 " WHERE s.address = 'r1@example.net' AND e.event = 'unsubscribed'")
    t.eq(ev, [("email", "dev+unsubscribe from <unsub@provider.example>")], "the history says how and by whom")
    send(d, m.group(1), "unsub2@example.org", frm="r1@example.net")
    t.ok(wait_for(lambda: "<r1@example.net> was already off dev by email" in d.logtext(), 10),
         "a second one changes nothing")
    send(d, "dev+post-%s@lists.example.org" % SECRET, "after-unsub@example.org")
    t.ok(wait_for(lambda: archived(d, "after-unsub@example.org"), 10), "the next post is archived")
    copies = d.query("SELECT address FROM deliveries JOIN archive ON archive.id = archive_id"
                     " WHERE orig_msgid = '<after-unsub@example.org>'")
    t.eq(copies, [("r2@example.net",)], "and r1 gets no copy of it")


def main():
    d = Daemon(extra_daemon='  authserv_ids = [ "mx.example.org" ];')
    # copies go into a Maildir sink in the test's directory, never to port 25
    text = open(d.conf).read().replace("    port = 25;", '    port = 25;\n    maildir = "%s/maildir";' % d.dir, 1)
    text = text.replace('secret = "k3vq9t2mxw8rz5pa"; }', 'secret = "k3vq9t2mxw8rz5pa"; proof = [ "dkim", "spf" ]; }', 1)
    open(d.conf, "w").write(text)
    try:
        for a, mode in (("r1@example.net", "all"), ("r2@example.net", "posts"),
                        ("r3@example.net", "digest"), ("r4@example.net", "nomail")):
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev", a, "--no-confirm", "--mode", mode],
                           check=True, capture_output=True)
        subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev", "p@example.net"], check=True,
                       capture_output=True)
        d.start()
        send(d, "dev+post-%s@lists.example.org" % SECRET, "secret1@example.org",
             extra="Received: from mx by front for <dev+post-%s@lists.example.org>; now\r\n" % SECRET)
        t.ok(wait_for(lambda: archived(d, "secret1@example.org"), 10), "a post to the secret address is archived")
        row = archived(d, "secret1@example.org")
        t.eq(row[0][:2], ("post", "alice@example.org"), "as a post by the author")
        t.ok(row[0][2].startswith("<parley.") and row[0][2].endswith("@lists.example.org>"),
             "with a list Message-ID of its own", row)
        copies = sorted(r[0] for r in d.query(
            "SELECT address FROM deliveries JOIN archive ON archive.id = archive_id"
            " WHERE orig_msgid = '<secret1@example.org>'"))
        t.eq(copies, ["r1@example.net", "r2@example.net"],
             "one copy per active subscriber in mode all or posts (not digest, nomail, pending)")
        t.eq(d.query("SELECT post_count FROM lists WHERE name = 'dev'"), [(1,)], "the list counts the post")
        threads = d.query("SELECT count(*) FROM threads")
        t.eq(threads, [(1,)], "the post starts a thread")

        send(d, "dev+post@lists.example.org", "spoof1@example.org")
        t.ok(wait_for(lambda: held(d, "spoof1@example.org"), 10), "From an author alone: held")
        t.ok("confirm" in held(d, "spoof1@example.org")[0][0], "waiting for the author to confirm",
             held(d, "spoof1@example.org"))
        t.eq(archived(d, "spoof1@example.org"), [], "and not archived")

        ar = "Authentication-Results: mx.example.org; dkim=pass header.d=example.org header.s=s1; spf=none\r\n"
        send(d, "dev+post@lists.example.org", "dkim1@example.org", extra=ar)
        t.ok(wait_for(lambda: archived(d, "dkim1@example.org"), 10), "DKIM pass from a trusted authserv-id publishes")
        ar = "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=alice@example.org\r\n"
        send(d, "dev+post@lists.example.org", "spf1@example.org", extra=ar)
        t.ok(wait_for(lambda: archived(d, "spf1@example.org"), 10),
             "SPF pass for the author's domain publishes when the author chose proof = spf")
        ar = "Authentication-Results: evil.example.com; dkim=pass header.d=example.org\r\n"
        send(d, "dev+post@lists.example.org", "untrusted1@example.org", extra=ar)
        t.ok(wait_for(lambda: held(d, "untrusted1@example.org"), 10), "an untrusted authserv-id: held")
        ar = "Authentication-Results: mx.example.org; dkim=pass header.d=other.example.net\r\n"
        send(d, "dev+post@lists.example.org", "unaligned1@example.org", extra=ar)
        t.ok(wait_for(lambda: held(d, "unaligned1@example.org"), 10), "DKIM for another domain: held")
        ar = "Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n"
        send(d, "dev+post@lists.example.org", "stranger1@example.org", frm="eve@example.org", extra=ar)
        t.ok(wait_for(lambda: held(d, "stranger1@example.org"), 10), "a proven sender who is not an author: held")
        send(d, "dev+post-%s@lists.example.org" % SECRET, "loop1@example.org",
             extra="List-Id: dev <dev.lists.example.org>\r\n")
        t.ok(wait_for(lambda: held(d, "loop1@example.org"), 10), "our own List-Id: held as a loop")
        send(d, "dev+post-%s@lists.example.org" % SECRET, "auto1@example.org", extra="Auto-Submitted: auto-replied\r\n")
        t.ok(wait_for(lambda: held(d, "auto1@example.org"), 10), "Auto-Submitted: held")
        send(d, "dev+post-%s@lists.example.org" % SECRET, "null1@example.org", sender="")
        t.ok(wait_for(lambda: held(d, "null1@example.org"), 10), "an empty return path: held")
        t.eq(d.query("SELECT count(*) FROM archive"), [(3,)], "three posts archived in all")
        t.eq(d.query("SELECT count(*) FROM deliveries WHERE archive_id IS NOT NULL"), [(6,)],
             "two copies each")
        cli(d)
        unsubscribe(d)
    finally:
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-30:]))
        d.cleanup()
    t.done()


main()
