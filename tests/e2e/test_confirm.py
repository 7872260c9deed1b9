#!/usr/bin/env python3
"""test_confirm.py - the posts that need a decision (design §5, issue 4):
a post from a configured author's address without proof is held and the
author (at the configured address, never the sender) is asked to confirm by
email; replying to L+confirm-TOKEN@ publishes it once, a late reply tells the
author it expired, a forged token or an automatic reply does nothing. Any
other post is held with a note to the list's owners (bounded per hour), a
loop silently. Notices leave with the null sender, through the same queue
as copies, into a Maildir sink."""
import json
import os
import re
import smtplib
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, maildir_box, parley, wait_for  # noqa: E402

t = Tap()
LIST = "dev@lists.example.org"


def send(d, rcpt, body, frm="Bob <bob@example.org>", sender="spoofer@evil.example", subject="post",
         mid=None, extra=""):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    msg = "%sFrom: %s\r\nTo: %s\r\nSubject: %s\r\n" % (extra, frm, rcpt, subject)
    if mid:
        msg += "Message-ID: <%s>\r\n" % mid
    s.sendmail(sender, [rcpt], msg + "\r\n" + body + "\r\n")
    s.quit()


def box(d, rcpt):
    return maildir_box(os.path.join(d.dir, "maildir"), rcpt)


def held(d, mid):
    return d.query("SELECT h.id, h.state, h.reason, h.author_addr FROM held h"
                   " JOIN inbound i ON i.id = h.inbound_id WHERE i.message_id = ?", ("<%s>" % mid,))


def archived(d, mid):
    return d.query("SELECT author_addr, subject FROM archive WHERE orig_msgid = ?", ("<%s>" % mid,))


def confirm_address(msg):
    m = re.search(r"<(dev\+confirm-[a-z2-7]+@lists\.example\.org)>", str(msg["From"]))
    return m.group(1) if m else None


def reply(d, to, subject="Re: confirm", extra="", sender="bob@example.org"):
    send(d, to, "yes, publish it", frm="Bob <bob@example.org>", sender=sender, subject=subject,
         extra=extra)


def confirm_flow(d):
    send(d, "dev+post@lists.example.org", "A post by Bob\nwith two lines", mid="bob1@example.org",
         subject="=?utf-8?q?Bob=27s_caf=C3=A9_=E2=98=BA?=")
    t.ok(wait_for(lambda: held(d, "bob1@example.org"), 10), "an unproven post from an author is held")
    h = held(d, "bob1@example.org")
    t.eq(h[0][1:] if h else None, ("confirm", "waiting for the author to confirm by email", "bob@example.org"),
         "waiting for that author's confirmation")
    t.ok(wait_for(lambda: len(box(d, "bob@example.org")) == 1, 10), "the author gets one confirmation request")
    raw, m = box(d, "bob@example.org")[0]
    addr = confirm_address(m)
    t.ok(addr is not None, "From: is the list's confirmation address with a token", str(m["From"]))
    t.eq(str(m["Reply-To"]), addr or "?", "Reply-To: the same address")
    t.eq(str(m["To"]), "bob@example.org", "To: the configured author address")
    t.eq(str(m["Subject"]), "Confirm your post to dev: Bob's caf\u00e9 \u263a", "Subject names the list and the post")
    t.eq(str(m["Auto-Submitted"]), "auto-replied", "Auto-Submitted: auto-replied (RFC 3834)")
    t.eq(str(m["X-Loop"]), LIST, "X-Loop: the list")
    t.eq(str(m["In-Reply-To"]), "<bob1@example.org>", "In-Reply-To: the post")
    t.ok(raw.startswith(b"Return-Path: <>\r\n"), "sent with the null envelope sender", raw[:80])
    body = m.get_content().replace("\r\n", "\n")
    t.ok("mailto:%s?subject=confirm" % addr in body, "the body has the link to click", body)
    t.ok("This request expires on " in body and "Subject:    Bob's caf\u00e9 \u263a" in body,
         "the body says what and until when", body)
    t.eq(os.path.exists(os.path.join(d.dir, "maildir", "spoofer@evil.example")), False,
         "nothing goes to the envelope sender")
    t.eq(box(d, "r1@example.net"), [], "no copy goes out before the confirmation")
    t.eq(archived(d, "bob1@example.org"), [], "and nothing is archived")

    reply(d, addr, subject="Re: Confirm your post to dev")
    t.ok(wait_for(lambda: archived(d, "bob1@example.org"), 10), "replying publishes the post")
    t.eq(archived(d, "bob1@example.org"), [("bob@example.org", "Bob's caf\u00e9 \u263a")], "as Bob's post, its own subject")
    t.eq(held(d, "bob1@example.org")[0][1], "published", "the held row is published")
    t.ok(wait_for(lambda: len(box(d, "r1@example.net")) == 1 and len(box(d, "r2@example.net")) == 1, 10),
         "each subscriber gets one copy")
    got = box(d, "r1@example.net")
    copy = got[0][1] if got else {}
    t.eq(str(copy.get("Subject", "")), "[dev] Bob's caf\u00e9 \u263a", "the copy is the post, not the reply")
    t.ok("A post by Bob" in (copy.get_body(("plain",)).get_content() if got else ""), "with the post's text")

    reply(d, addr, subject="Re: again")
    t.ok(wait_for(lambda: "which is published now: nothing to do" in d.logtext(), 10),
         "a second confirmation finds nothing to do")
    t.eq(d.query("SELECT count(*) FROM archive WHERE orig_msgid = '<bob1@example.org>'"), [(1,)],
         "the post is archived once")

    forged = "dev+confirm-" + "a" * 39 + "@lists.example.org"
    before = d.query("SELECT count(*) FROM deliveries")
    reply(d, forged)
    t.ok(wait_for(lambda: "a token we did not make for dev: ignored" in d.logtext(), 10),
         "a forged token is logged and ignored")
    t.eq(d.query("SELECT count(*) FROM deliveries"), before, "and answered by nobody")


def expiry_and_auto(d):
    send(d, "dev+post@lists.example.org", "late", mid="bob2@example.org", subject="Too late")
    t.ok(wait_for(lambda: len(box(d, "bob@example.org")) == 2, 10), "a second request for a second post")
    addr = confirm_address(box(d, "bob@example.org")[1][1])
    hid = held(d, "bob2@example.org")[0][0]

    reply(d, addr, extra="Auto-Submitted: auto-replied\r\n")
    t.ok(wait_for(lambda: "to a confirmation address, ignored: Auto-Submitted" in d.logtext(), 10),
         "an automatic reply (vacation) does not confirm")
    reply(d, addr, sender="")
    t.ok(wait_for(lambda: d.logtext().count("to a confirmation address, ignored: empty return path") == 1, 10),
         "nor does a bounce")
    t.eq(held(d, "bob2@example.org")[0][1], "confirm", "the post still waits")

    db = sqlite3.connect(d.db, timeout=10)
    with db:
        db.execute("UPDATE held SET expires_at = 1 WHERE id = ?", (hid,))
    db.close()
    reply(d, addr)
    t.ok(wait_for(lambda: held(d, "bob2@example.org")[0][1] == "expired", 10), "a late confirmation: expired")
    t.eq(archived(d, "bob2@example.org"), [], "not published")
    t.ok(wait_for(lambda: len(box(d, "bob@example.org")) == 3, 10), "the author is told")
    m = box(d, "bob@example.org")[2][1]
    t.eq(str(m["Subject"]), "Not published in dev (confirmation expired): Too late", "why, in the subject")
    t.ok("send it again" in m.get_content(), "and what to do")
    reply(d, addr)
    t.ok(wait_for(lambda: "which is expired now: nothing to do" in d.logtext(), 10), "a second late one: nothing")
    t.eq(len(box(d, "bob@example.org")), 3, "and no second note")


def pending_limit(d):
    for i in range(6):
        send(d, "dev+post@lists.example.org", "flood", mid="flood%d@example.org" % i, subject="flood %d" % i)
    t.ok(wait_for(lambda: all(held(d, "flood%d@example.org" % i) for i in range(6)), 10), "six more held")
    states = [held(d, "flood%d@example.org" % i)[0][1] for i in range(6)]
    t.eq(states, ["confirm"] * 5 + ["held"], "five requests wait at most; the sixth is held for the owners")
    t.ok(wait_for(lambda: len(box(d, "bob@example.org")) == 8, 10), "five more requests to the author, no more",
         len(box(d, "bob@example.org")))


def owner_notes(d):
    send(d, "dev+post@lists.example.org", "Buy now\n" + "\n".join("line %d" % i for i in range(30)),
         frm="Eve <eve@example.org>", sender="eve@example.org", mid="eve1@example.org", subject="Cheap pills")
    t.ok(wait_for(lambda: held(d, "eve1@example.org"), 10), "a stranger's post is held")
    t.ok("not an author" in held(d, "eve1@example.org")[0][2], "with the reason", held(d, "eve1@example.org"))
    t.ok(wait_for(lambda: any("eve1" in str(m["In-Reply-To"]) for _, m in box(d, "carol@example.org")), 10),
         "the owner gets a note")
    raw, m = [x for x in box(d, "carol@example.org") if "eve1" in str(x[1]["In-Reply-To"])][0]
    t.eq(str(m["Subject"]), "Held for dev: Cheap pills", "Subject: held, the list, the post's subject")
    t.ok(b'\r\nFrom: "dev list" <dev+owner@lists.example.org>\r\n' in raw, "From: the list's owner address",
         raw[:400])
    t.eq(str(m["Auto-Submitted"]), "auto-generated", "Auto-Submitted: auto-generated")
    t.ok(raw.startswith(b"Return-Path: <>\r\n"), "the null envelope sender")
    body = m.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    t.ok("Why:        post from <eve@example.org> without proof of authorship" in body and
         "Sender:     <eve@example.org>" in body, "the body says why and who", body)
    hid = held(d, "eve1@example.org")[0][0]
    t.ok("parley mod approve %d\n" % hid in body and "parley mod reject %d\n" % hid in body,
         "and how to decide", body)
    t.ok("> Buy now\n> line 0\n" in body and "> [...]" in body and "line 29" not in body,
         "the first lines, quoted and cut", body[-300:])
    t.eq(os.path.exists(os.path.join(d.dir, "maildir", "eve@example.org")), False, "nothing to the sender")

    n0 = len(box(d, "carol@example.org"))
    send(d, "dev+post@lists.example.org", "loop", frm="Eve <eve@example.org>", sender="eve@example.org",
         mid="loop1@example.org", extra="List-Id: dev <dev.lists.example.org>\r\n")
    t.ok(wait_for(lambda: held(d, "loop1@example.org"), 10), "a loop is held")
    for i in range(12):
        send(d, "dev+post@lists.example.org", "spam", frm="Eve <eve@example.org>", sender="eve@example.org",
             mid="spam%d@example.org" % i)
    t.ok(wait_for(lambda: all(held(d, "spam%d@example.org" % i) for i in range(12)), 15), "twelve more held")
    notes = d.query("SELECT count(*) FROM notices WHERE kind = 'held'")[0][0]
    t.eq(notes, 10, "ten notes to the owners in the hour, no more (the loop got none)")
    t.ok(wait_for(lambda: len(box(d, "carol@example.org")) == 10, 10), "all ten delivered",
         len(box(d, "carol@example.org")))
    last = [m for _, m in box(d, "carol@example.org") if "further held messages are not" in m.get_body(preferencelist=("plain",)).get_content()]
    t.eq(len(last), 1, "one note, the tenth, says that more are not announced")
    t.ok(n0 >= 1 and last and "This is note 10 of this hour" in last[0].get_body(preferencelist=("plain",)).get_content(), "in so many words")
    t.ok("in the last hour: no note for this one" in d.logtext(), "the log says so too")


def moderation(d):
    """parley mod: the owner sees the held messages and decides"""
    rc, out, _ = parley(d, "--json", "mod", "ls", "dev")
    held_rows = json.loads(out)["held"] if rc == 0 else []
    by_subject = {h["subject"]: h for h in held_rows}
    t.ok(rc == 0 and "Cheap pills" in by_subject and by_subject["Cheap pills"]["state"] == "held",
         "mod ls lists the stranger's post as held", out[:400])
    t.ok("flood 0" in by_subject and by_subject["flood 0"]["state"] == "confirm", "and the posts awaiting their author")
    eve = by_subject.get("Cheap pills", {}).get("id", 0)
    rc, out, _ = parley(d, "mod", "show", str(eve))
    t.ok(rc == 0 and "Why:        post from <eve@example.org>" in out and "Buy now" in out,
         "mod show: why, and the text", out[:400])
    rc, out, _ = parley(d, "mod", "show", str(eve), "--raw")
    t.ok(rc == 0 and "Message-ID: <eve1@example.org>" in out, "mod show --raw: the bytes")

    rc, out, err = parley(d, "mod", "approve", str(eve))
    t.ok(rc == 0 and "published" in out, "mod approve publishes it", out + err)
    t.eq(d.query("SELECT author_addr FROM archive WHERE orig_msgid = '<eve1@example.org>'"),
         [("eve@example.org",)], "archived under its From")
    t.eq(held(d, "eve1@example.org")[0][1], "published", "decided: published")
    t.ok(wait_for(lambda: any("Cheap pills" in str(m["Subject"]) for _, m in box(d, "r1@example.net")), 10),
         "the running parleyd sends the copies")
    t.eq(os.path.exists(os.path.join(d.dir, "maildir", "eve@example.org")), False, "the sender is not written to")
    rc, _, err = parley(d, "mod", "approve", str(eve))
    t.ok(rc == 1 and "already decided" in err, "approving twice: exit 1", err)

    spam = by_subject.get("post", {}).get("id", 0)
    rc, out, _ = parley(d, "mod", "reject", str(spam))
    t.ok(rc == 0 and "rejected" in out, "mod reject", out)
    t.eq(d.query("SELECT state FROM held WHERE id = ?", (spam,)), [("rejected",)], "decided: rejected")
    flood = by_subject.get("flood 0", {}).get("id", 0)
    rc, out, _ = parley(d, "mod", "approve", str(flood))
    t.ok(rc == 0, "approving a post that waits for its author")
    t.eq(d.query("SELECT author_addr FROM archive WHERE orig_msgid = '<flood0@example.org>'"),
         [("bob@example.org",)], "is published as the author's")
    rc, out, _ = parley(d, "--json", "mod", "ls", "dev")
    ids = [h["id"] for h in json.loads(out)["held"]] if rc == 0 else []
    t.ok(eve not in ids and spam not in ids and flood not in ids, "decided messages leave mod ls")
    rc, out, _ = parley(d, "--json", "mod", "ls", "--all")
    ids = [h["id"] for h in json.loads(out)["held"]] if rc == 0 else []
    t.ok(eve in ids and spam in ids, "mod ls --all shows them")
    rc, _, err = parley(d, "mod", "approve", "99999")
    t.ok(rc == 1 and "no held message 99999" in err, "an unknown id: exit 1", err)
    rc, _, _ = parley(d, "mod", "reject", "abc")
    t.eq(rc, 2, "not an id: exit 2")


def sweep(d):
    """a request nobody answers expires on its own, silently"""
    n = len(box(d, "bob@example.org"))
    db = sqlite3.connect(d.db, timeout=10)
    with db:
        db.execute("UPDATE held SET expires_at = 1 WHERE id = (SELECT h.id FROM held h JOIN inbound i"
                   " ON i.id = h.inbound_id WHERE i.message_id = '<flood1@example.org>')")
    db.close()
    d.stop()
    d.start()
    t.ok(wait_for(lambda: held(d, "flood1@example.org")[0][1] == "expired", 10),
         "an unanswered request expires (swept at start, then every minute)")
    t.ok("1 held posts were not confirmed in time: expired" in d.logtext(), "logged")
    t.eq(held(d, "flood2@example.org")[0][1], "confirm", "one still in time stays")
    t.eq(len(box(d, "bob@example.org")), n, "nobody is written to")


def main():
    d = Daemon()
    text = open(d.conf).read().replace("    port = 25;", '    port = 25;\n    maildir = "%s/maildir";' % d.dir, 1)
    open(d.conf, "w").write(text)
    try:
        for a in ("r1@example.net", "r2@example.net"):
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev", a, "--no-confirm"], check=True,
                           capture_output=True)
        d.start()
        confirm_flow(d)
        expiry_and_auto(d)
        pending_limit(d)
        owner_notes(d)
        moderation(d)
        sweep(d)
        rc = subprocess.run([PARLEY, "-c", d.conf, "queue", "ls", "--all"], capture_output=True, text=True)
        t.ok(rc.returncode == 0 and "(confirm notice)" in rc.stdout and "(held notice)" in rc.stdout,
             "queue ls shows the notices' copies", rc.stdout[-600:])
    finally:
        d.stop()
        d.cleanup()
    t.done()


if __name__ == "__main__":
    main()
