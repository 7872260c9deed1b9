#!/usr/bin/env python3
"""test_conversation.py - the conversation (issue 8), end to end through a
parleyd on loopback into a Maildir sink (test_conversation_mta.py runs the
same through a real Postfix into Dovecot, read back over IMAP): replies written the way mail
clients write them are threaded, trimmed and carried on by each reply policy
with In-Reply-To/References of list Message-IDs, never echoed to the
replier; automatic messages and our own copies go nowhere; forged tokens
count as mail to L@; outsiders are held; mute, follow and the private reply
work; subscribe, unsubscribe and help by email; owner mail is relayed;
held messages are approved and rejected by reply. Every wait polls for a
sentinel: a later message that must arrive."""
import email
import email.policy
import email.utils
import json
import os
import re
import smtplib
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, free_port, imap_inbox, maildir_box, parley, wait_for  # noqa: E402

t = Tap()
SECRET = "k3vq9t2mxw8rz5pa"
LISTS = """lists = (
  { name = "dev"; address = "dev@lists.example.org"; reply_policy = "list"; subject_prefix = "[dev]";
    authors = ( { address = "alice@example.org"; name = "Alice"; secret = "%(s)s"; } );
    owners = [ "carol@example.org" ]; },
  { name = "news"; address = "news@lists.example.org"; reply_policy = "author";
    authors = ( { address = "alice@example.org"; secret = "%(s)s"; } ); owners = [ "carol@example.org" ]; },
  { name = "talk"; address = "talk@lists.example.org"; reply_policy = "thread";
    authors = ( { address = "alice@example.org"; secret = "%(s)s"; } ); owners = [ "carol@example.org" ]; },
  { name = "mod"; address = "mod@lists.example.org"; reply_policy = "moderated";
    authors = ( { address = "alice@example.org"; secret = "%(s)s"; } ); owners = [ "carol@example.org" ]; },
  { name = "open"; address = "open@lists.example.org"; outsiders = "reject"; subscriber_posts = true;
    authors = ( { address = "alice@example.org"; secret = "%(s)s"; } ); owners = [ "carol@example.org" ]; },
  { name = "mixed"; address = "mixed@lists.example.org"; reply_policy = "list";
    authors = ( { address = "alice@example.org"; secret = "%(s)s"; reply_policy = "author"; } );
    owners = [ "carol@example.org" ]; }
);
""" % {"s": SECRET}
READERS = ("alice", "bob", "carol", "dave")
MAILBOXES = READERS + ("eve", "frank", "grace", "henry", "ivan")
COMMANDS_PER_HOUR = 6
SRV = os.path.join(os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "e2e", "servers.sh")
seq = [0]
IMAP = {"port": None}  # set: the boxes are read from Dovecot over IMAP


def send(d, rcpt, frm, subject, body, extra="", sender=None, mid=None):
    seq[0] += 1
    mid = mid or "<conv%d@example.org>" % seq[0]
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
           "%s\r\n%s\r\n" % (frm, rcpt, subject, mid, extra, body))
    addr = email.utils.parseaddr(frm)[1]
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail(addr if sender is None else sender, [rcpt], msg.encode())
    s.quit()
    return mid


def box(d, user):
    if IMAP["port"]:
        return imap_inbox(IMAP["port"], user)
    return [m for _, m in maildir_box(os.path.join(d.dir, "maildir"), user + "@example.org")]


def text(m):
    b = m.get_body(preferencelist=("plain", "html"))
    try:
        return b.get_content() if b is not None else ""
    except Exception:
        return ""


def having(d, user, needle, listid=True):
    return [m for m in box(d, user) if (m["List-Id"] or not listid) and needle in text(m)]


def post(d, lst, subject, body):
    send(d, "%s+post-%s@lists.example.org" % (lst, SECRET), "Alice <alice@example.org>", subject, body)
    for u in READERS:
        if not wait_for(lambda: having(d, u, body), 20):
            t.ok(False, "the post %r reached %s" % (subject, u))
            return None
    return having(d, "bob", body)[0]


def reply_to(copy):
    return email.utils.parseaddr(str(copy["Reply-To"]))[1]


def sentinel(d, lst, tag):
    """A post that must arrive after everything sent before it: once it is in
    every box, the earlier messages have been acted on."""
    post(d, lst, "sentinel " + tag, "sentinel body " + tag)


def client_styles(d):
    p = post(d, "dev", "Backyard fence", "What do you think about the fence?")
    pid = p["Message-ID"].strip()
    rt = reply_to(p)
    orig = "<conv%d@example.org>" % seq[0]
    styles = [
        ("thunderbird", rt, "Re: [dev] Backyard fence", "In-Reply-To: %s\r\nReferences: %s\r\n"
         "Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n"
         "Mail-Followup-To: bob@example.org\r\n" % (pid, pid),
         "Thunderbird says fences are good.\r\n\r\nOn 01/12/2026 10:00, Alice wrote:\r\n> What do you think?\r\n"),
        ("irt-only", "dev@lists.example.org", "Re: Backyard fence", "In-Reply-To: %s\r\n" % orig,
         "Only In-Reply-To, the author's own id.\r\n"),
        ("subject", "dev@lists.example.org", "AW: [dev] Backyard fence", "",
         "Outlook in German, no threading headers.\r\n\r\nVon: Alice\r\nGesendet: Dienstag\r\n"
         "An: dev\r\nBetreff: Backyard fence\r\n\r\nWhat do you think?\r\n"),
        ("html", rt, "RE: Backyard fence", "In-Reply-To: %s\r\nContent-Type: text/html; charset=utf-8\r\n" % pid,
         "<html><body><p>HTML only, top-posted.</p><div id=\"divRplyFwdMsg\"><b>From:</b> Alice<br>"
         "What do you think?</div></body></html>\r\n"),
        ("inline", "dev@lists.example.org", "Re: Backyard fence", "References: <nowhere@example.org> %s\r\n" % pid,
         "On Tue, Alice wrote:\r\n> What do you think\r\nInline answer here.\r\n> about the fence?\r\n"),
    ]
    for name, rcpt, subject, extra, body in styles:
        send(d, rcpt, "Bob <bob@example.org>", subject, body, extra)
    needles = ["Thunderbird says", "Only In-Reply-To", "Outlook in German", "HTML only", "Inline answer"]
    for n in needles:
        ok = wait_for(lambda: having(d, "carol", n), 20)
        t.ok(ok, "reply %r reaches carol" % n)
        if ok:
            c = having(d, "carol", n)[0]
            t.eq((c["In-Reply-To"] or "").strip(), pid, "%r: In-Reply-To is the post's list Message-ID" % n)
            t.ok(pid in str(c["References"]), "%r: References name it" % n)
            t.ok(c["Message-ID"].strip() != pid and "example.org>" not in c["Message-ID"].split("@")[0],
                 "%r: a list Message-ID of its own" % n, str(c["Message-ID"]))
            t.ok("via dev" in str(c["From"]) and "bob@example.org" in str(c["Author"] or ""),
                 "%r: From Bob via dev, Author: Bob" % n, str(c["From"]))
            t.ok(c["Authentication-Results"] is None and c["Mail-Followup-To"] is None,
                 "%r: no Authentication-Results or Mail-Followup-To in the copy" % n)
    sentinel(d, "dev", "1")
    t.eq([n for n in needles if having(d, "bob", n)], [], "the replier gets none of his replies back")
    rows = d.query("SELECT a.kind, a.parent_id, a.trimmed, a.elided FROM archive a JOIN threads th"
                   " ON th.id = a.thread_id WHERE th.subject = 'Backyard fence' ORDER BY a.id")
    t.eq(len(rows), 6, "the post and five replies in one thread")
    t.eq([r[0] for r in rows], ["post"] + ["reply"] * 5, "kinds")
    trimmed = {n: r[2] for n in needles for r in rows if r[2] and n in r[2]}
    t.ok("Alice wrote" not in trimmed.get("Thunderbird says", "x") and "> What" not in trimmed.get("Thunderbird says", "x"),
         "trimmed: the quote and its attribution are cut", trimmed.get("Thunderbird says"))
    t.ok("Gesendet" not in trimmed.get("Outlook in German", "x"), "trimmed: Outlook's header block is cut")
    t.ok("divRplyFwdMsg" not in trimmed.get("HTML only", "x") and "What do you think" not in trimmed.get("HTML only", "x"),
         "trimmed: an HTML-only reply as text, its quote cut", trimmed.get("HTML only"))
    t.ok("> What do you think" in trimmed.get("Inline answer", ""), "trimmed: an inline answer keeps its quote",
         trimmed.get("Inline answer"))
    t.ok(any(r[3] and "Alice wrote" in r[3] for r in rows), "what was cut is kept as elided")
    t.ok(d.query("SELECT count(*) FROM archive WHERE auth_results LIKE '%dkim=pass header.d=example.org%'")[0][0] == 1,
         "the author's Authentication-Results are recorded in the archive")
    raw = d.query("SELECT raw FROM archive WHERE orig_msgid = ?", ("<conv%d@example.org>" % (seq[0] - 5 - 5),))
    rc, out, _ = parley(d, "archive", "thread", pid)
    t.ok(rc == 0 and "Thunderbird says" in out, "parley archive thread shows the tree", out[:500])
    return p


def carried_on(d, p):
    # our own copy sent back to L@ (a Reply-All that keeps our List-Id): dropped
    raw = p.as_bytes().replace(b"\n", b"\r\n") if b"\r\n" not in p.as_bytes() else p.as_bytes()
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail("bob@example.org", ["dev@lists.example.org"], raw)
    s.quit()
    # an out-of-office answer to a copy
    send(d, reply_to(p), "dave@example.org", "Automatic reply: Backyard fence", "I am away until Monday.",
         "Auto-Submitted: auto-replied\r\n")
    send(d, reply_to(p), "dave@example.org", "Re: Backyard fence", "On holiday, back soon.",
         "Precedence: bulk\r\nX-Autoreply: yes\r\n")
    # a forged token: taken as mail to L@ from that sender (a subscriber: published)
    send(d, "dev+r-rabcdefghijklmnopq@lists.example.org", "Dave <dave@example.org>", "Re: [dev] Backyard fence",
         "Dave with a forged token.")
    # an outsider: held, with a note to the owner carrying the approve/reject pair
    send(d, "dev@lists.example.org", "Eve <eve@example.net>", "Re: [dev] Backyard fence", "Eve the outsider.")
    t.ok(wait_for(lambda: having(d, "alice", "Dave with a forged token"), 20), "a forged token counts as mail to L@")
    t.ok(wait_for(lambda: having(d, "carol", "Eve the outsider", listid=False), 20),
         "an outsider's reply is held and the owner gets it attached")
    sentinel(d, "dev", "2")
    t.eq(len(having(d, "carol", "What do you think about the fence?")), 1,
         "our own copy sent back to L@ is not redistributed")
    t.ok("our own List-Id" in d.logtext(), "it is dropped as a loop")
    for u in READERS:
        t.ok(not having(d, u, "away until Monday") and not having(d, u, "back soon"),
             "no automatic reply reaches %s" % u)
    t.ok("dropped (never redistributed nor answered)" in d.logtext(), "the drops are logged")
    t.ok(not having(d, "bob", "Eve the outsider"), "the outsider is not redistributed")
    t.eq(d.query("SELECT count(*) FROM deliveries WHERE address LIKE 'eve@%'")[0][0], 0,
         "and nothing goes back to the outsider")
    notes = [m for m in box(d, "carol") if "Eve the outsider" in m.as_string() and "Held for dev" in str(m["Subject"])]
    t.ok(notes, "the owner's note")
    if notes:
        body = text(notes[0])
        ap = re.search(r"(dev\+approve-[a-z2-7]+@lists\.example\.org)", body)
        t.ok(ap and re.search(r"dev\+reject-[a-z2-7]+@", body), "with a personal approve and reject address")
        t.ok(any(part.get_content_type() == "message/rfc822" for part in notes[0].walk()), "and the message attached")
        if ap:
            send(d, ap.group(1), "Carol <carol@example.org>", "Re: Held", "")
            t.ok(wait_for(lambda: having(d, "bob", "Eve the outsider"), 20), "approved by reply: published")
            t.ok(d.query("SELECT decided_by FROM held WHERE state = 'published' AND decided_by LIKE"
                         " '%carol@example.org%'"), "who decided is recorded")
            rc, out, _ = parley(d, "--json", "mod", "ls", "dev", "--all")
            by = [h.get("decided_by") for h in json.loads(out)["held"]] if rc == 0 else []
            t.ok("owner carol@example.org by email" in by, "and parley mod ls shows it", out[-500:])


def policies(d):
    # author: only the author (and the archive)
    p = post(d, "news", "News item", "A news item.")
    send(d, reply_to(p), "Bob <bob@example.org>", "Re: News item", "Bob comments on news.")
    t.ok(wait_for(lambda: having(d, "alice", "Bob comments on news"), 20), "author policy: the author gets it")
    sentinel(d, "news", "3")
    t.ok(not having(d, "carol", "Bob comments on news") and not having(d, "dave", "Bob comments on news"),
         "author policy: nobody else")
    # thread: the author and the participants; mute and follow
    p = post(d, "talk", "Talk thread", "A thread to talk.")
    send(d, reply_to(p), "Bob <bob@example.org>", "Re: Talk thread", "Bob joins the talk.")
    t.ok(wait_for(lambda: having(d, "alice", "Bob joins the talk"), 20), "thread policy: the author gets it")
    cp = having(d, "carol", "A thread to talk")[0]
    send(d, reply_to(cp), "Carol <carol@example.org>", "Re: Talk thread", "Carol joins too.")
    t.ok(wait_for(lambda: having(d, "bob", "Carol joins too"), 20), "thread policy: an earlier participant gets it")
    sentinel(d, "talk", "4")
    t.ok(not having(d, "dave", "Bob joins the talk") and not having(d, "dave", "Carol joins too"),
         "thread policy: a reader who did not take part does not")
    mute = re.search(r"mailto:(talk\+mute-[a-z2-7]+@lists\.example\.org)", text(having(d, "bob", "Carol joins too")[0]))
    t.ok(mute, "every copy offers the mute address")
    if mute:
        send(d, mute.group(1), "bob@example.org", "mute", "")
        t.ok(wait_for(lambda: "muted thread" in d.logtext(), 20), "the mute is recorded")
        send(d, reply_to(cp), "Carol <carol@example.org>", "Re: Talk thread", "Carol again after the mute.")
        t.ok(wait_for(lambda: having(d, "alice", "Carol again after"), 20), "the author still gets replies")
        sentinel(d, "talk", "5")
        t.ok(not having(d, "bob", "Carol again after"), "a muted thread reaches nobody who muted it")
    # moderated: held for the owner and the post's author
    p = post(d, "mod", "Moderated", "A moderated thread.")
    send(d, reply_to(p), "Bob <bob@example.org>", "Re: Moderated", "Bob in the moderated thread.")
    t.ok(wait_for(lambda: having(d, "alice", "Bob in the moderated", listid=False), 20),
         "moderated: the post's author gets the held reply to decide")
    sentinel(d, "mod", "6")
    t.ok(not having(d, "dave", "Bob in the moderated"), "moderated: nobody gets it before a decision")
    note = [m for m in box(d, "alice") if "Held for mod" in str(m["Subject"])]
    rj = re.search(r"(mod\+reject-[a-z2-7]+@lists\.example\.org)", text(note[0])) if note else None
    t.ok(rj, "with a reject address")
    if rj:
        send(d, rj.group(1), "Alice <alice@example.org>", "Re: Held", "Please stay on topic, Bob.")
        t.ok(wait_for(lambda: having(d, "bob", "Please stay on topic", listid=False), 20),
             "rejected by reply: the sender gets the decider's text")
        t.ok(d.query("SELECT count(*) FROM held WHERE state = 'rejected'")[0][0] >= 1, "recorded as rejected")
    send(d, reply_to(p), "Carol <carol@example.org>", "Re: Moderated", "Carol in the moderated thread.")
    t.ok(wait_for(lambda: [m for m in box(d, "alice") if "Held for mod" in str(m["Subject"])
                           and "Carol in the moderated" in m.as_string()], 20), "the author is asked again")
    note = [m for m in box(d, "alice") if "Held for mod" in str(m["Subject"]) and "Carol in the moderated" in m.as_string()]
    ap = re.search(r"(mod\+approve-[a-z2-7]+@lists\.example\.org)", text(note[0])) if note else None
    if t.ok(ap, "with an approve address"):
        send(d, ap.group(1), "Alice <alice@example.org>", "Re: Held", "")
        t.ok(wait_for(lambda: having(d, "dave", "Carol in the moderated"), 20),
             "approved by the post's author: it reaches the readers")
        t.ok(d.query("SELECT count(*) FROM held WHERE state = 'published' AND decided_by = 'the post''s author by email'")[0][0] == 1,
             "the author is recorded as the decider")


def follow_and_modes(d):
    """dave takes posts only (set-posts, confirmed), then follows one thread"""
    send(d, "dev+set-posts@lists.example.org", "dave@example.org", "posts only", "")
    t.ok(wait_for(lambda: [m for m in box(d, "dave") if "Confirm: set dev" in str(m["Subject"])], 20),
         "set-MODE: a confirmation first")
    c = [m for m in box(d, "dave") if "Confirm: set dev" in str(m["Subject"])][0]
    rc, out, _ = parley(d, "--json", "sub", "show", "dev", "dave@example.org")
    t.ok('"mode":"all"' in out.replace(" ", ""), "the mode is unchanged before it", out[:300])
    send(d, email.utils.parseaddr(str(c["Reply-To"]))[1], "dave@example.org", "Re: confirm", "yes")
    t.ok(wait_for(lambda: '"mode":"posts"' in parley(d, "--json", "sub", "show", "dev", "dave@example.org")[1]
                  .replace(" ", ""), 20), "posts only once confirmed")
    p = post(d, "dev", "Followed topic", "A topic to follow.")
    send(d, reply_to(p), "Bob <bob@example.org>", "Re: Followed topic", "Bob before the follow.")
    t.ok(wait_for(lambda: having(d, "carol", "Bob before the follow"), 20), "the reply reaches an all reader")
    sentinel(d, "dev", "9")
    t.ok(not having(d, "dave", "Bob before the follow"), "a posts reader gets no replies")
    fa = re.search(r"mailto:(dev\+follow-[a-z2-7]+@lists\.example\.org)", text(having(d, "dave", "A topic to follow")[0]))
    if t.ok(fa, "a post's copy offers to follow its replies"):
        send(d, fa.group(1), "dave@example.org", "follow", "")
        t.ok(wait_for(lambda: "follows thread" in d.logtext(), 20), "the follow is recorded")
        send(d, reply_to(p), "Bob <bob@example.org>", "Re: Followed topic", "Bob after the follow.")
        t.ok(wait_for(lambda: having(d, "dave", "Bob after the follow"), 20),
             "a followed thread reaches even a posts reader")


def post_address_and_author_policy(d):
    """a subscriber replying to the post address is a reply; an author's own
    reply_policy overrides the list's for the threads that author starts"""
    p = post(d, "dev", "Post address reply", "Reply to me at the post address.")
    send(d, "dev+post@lists.example.org", "Bob <bob@example.org>", "Re: Post address reply",
         "Bob answers at the post address.", "In-Reply-To: %s\r\n" % p["Message-ID"].strip())
    t.ok(wait_for(lambda: having(d, "carol", "Bob answers at the post address"), 20),
         "a reply sent to L+post@ by a subscriber is threaded and carried on")
    c = having(d, "carol", "Bob answers at the post address")
    t.ok(c and (c[0]["In-Reply-To"] or "").strip() == p["Message-ID"].strip(), "under the post")
    p = post(d, "mixed", "Author's own policy", "The list says list, the author says author.")
    send(d, reply_to(p), "Bob <bob@example.org>", "Re: Author's own policy", "Bob on mixed.")
    t.ok(wait_for(lambda: having(d, "alice", "Bob on mixed"), 20), "the author gets the reply")
    sentinel(d, "mixed", "11")
    t.ok(not having(d, "carol", "Bob on mixed") and not having(d, "dave", "Bob on mixed"),
         "the author's reply_policy (author) overrides the list's (list)")


def private_and_outsiders(d):
    p = having(d, "dave", "What do you think about the fence")[0]
    priv = re.search(r"mailto:(dev\+p-[a-z2-7]+@lists\.example\.org)", text(p))
    t.ok(priv, "the footer names the private reply address")
    if priv:
        send(d, priv.group(1), "Dave <dave@example.org>", "Re: Backyard fence", "Dave privately to Alice.")
        t.ok(wait_for(lambda: having(d, "alice", "Dave privately", listid=False), 20), "the private reply reaches the author")
        m = having(d, "alice", "Dave privately", listid=False)[0]
        t.ok("dave@example.org" in str(m["Reply-To"]) and "lists.example.org" in str(m["From"]),
             "From the list, the replier in Reply-To", str(m["From"]) + " / " + str(m["Reply-To"]))
        sentinel(d, "dev", "7")
        t.ok(not having(d, "bob", "Dave privately", listid=False), "and nobody else")
        t.eq(d.query("SELECT count(*) FROM archive WHERE trimmed LIKE '%Dave privately%'")[0][0], 0, "archived nowhere")
    # outsiders = reject: dropped, logged, nothing back; subscriber_posts: a new thread by a subscriber
    send(d, "open@lists.example.org", "Eve <eve@example.net>", "Re: anything", "Eve on open.")
    send(d, "open@lists.example.org", "Bob <bob@example.org>", "A new topic", "Bob starts a thread.")
    t.ok(wait_for(lambda: having(d, "carol", "Bob starts a thread"), 20), "subscriber_posts: a subscriber starts a thread")
    t.ok(wait_for(lambda: "dropped (outsiders = reject)" in d.logtext(), 10), "outsiders = reject: dropped")


def commands(d):
    send(d, "dev+subscribe@lists.example.org", "frank@example.org", "subscribe", "")
    t.ok(wait_for(lambda: box(d, "frank"), 20), "subscribe: a confirmation mail to the envelope sender")
    rc, out, _ = parley(d, "--json", "sub", "show", "dev", "frank@example.org")
    t.ok('"active"' not in out, "not active before the confirmation")
    c = box(d, "frank")[0]
    ca = email.utils.parseaddr(str(c["Reply-To"] or c["From"]))[1]
    t.ok("+confirm-" in ca and "Auto-Submitted" in c and c["Auto-Submitted"] != "no", "a confirm address, marked automatic")
    send(d, ca, "Frank <frank@example.org>", "Re: " + str(c["Subject"]), "Out of office", "Auto-Submitted: auto-replied\r\n")
    send(d, ca, "Frank <frank@example.org>", "Re: " + str(c["Subject"]), "I am away", "Precedence: bulk\r\n")
    sentinel(d, "dev", "8a")
    t.ok('"active"' not in parley(d, "--json", "sub", "show", "dev", "frank@example.org")[1],
         "a vacation reply (Auto-Submitted, or only Precedence: bulk) to the confirm address confirms nothing")
    send(d, ca, "Frank <frank@example.org>", "Re: " + str(c["Subject"]), "yes")
    t.ok(wait_for(lambda: '"active"' in parley(d, "--json", "sub", "show", "dev", "frank@example.org")[1], 20),
         "active once confirmed by a real reply")
    rc, out, _ = parley(d, "--json", "sub", "show", "dev", "frank@example.org")
    t.ok("email" in out and "confirmed by reply" in out, "with its consent record", out[:600])
    post(d, "dev", "For Frank", "Frank should get this.") if False else None
    send(d, "dev+post-%s@lists.example.org" % SECRET, "Alice <alice@example.org>", "For Frank", "Frank should get this.")
    t.ok(wait_for(lambda: having(d, "frank", "Frank should get this"), 20), "frank receives posts")
    send(d, "dev+set-nomail@lists.example.org", "frank@example.org", "nomail", "")
    t.ok(wait_for(lambda: [m for m in box(d, "frank") if "Confirm: set dev" in str(m["Subject"])], 20),
         "a mode change asked")
    send(d, "dev+unsubscribe@lists.example.org", "frank@example.org", "unsubscribe", "")
    unsub_mail = lambda: [m for m in box(d, "frank") if "Confirm: unsubscribe dev" in str(m["Subject"])]
    t.ok(wait_for(unsub_mail, 20), "unsubscribe: a confirmation first")
    t.eq(d.query("SELECT action, state FROM requests WHERE address = 'frank@example.org' AND action <> 'subscribe'"
                 " ORDER BY id"), [("set", "superseded"), ("unsubscribe", "pending")],
         "one pending request per address: the mode change gave way")
    u = unsub_mail()[-1]
    send(d, email.utils.parseaddr(str(u["Reply-To"]))[1], "frank@example.org", "Re: unsubscribe", "ok")
    t.ok(wait_for(lambda: '"unsubscribed"' in parley(d, "--json", "sub", "show", "dev", "frank@example.org")[1], 20),
         "unsubscribed once confirmed")
    send(d, "dev+post-%s@lists.example.org" % SECRET, "Alice <alice@example.org>", "After Frank", "Frank left before this.")
    sentinel(d, "dev", "8")
    t.ok(not having(d, "frank", "Frank left before this"), "no more mail after unsubscribing")
    # an active subscriber asking to subscribe gets nothing (no membership oracle)
    n = len(box(d, "dave"))
    send(d, "dev+subscribe@lists.example.org", "dave@example.org", "subscribe", "")
    send(d, "dev+help@lists.example.org", "dave@example.org", "help", "")
    t.ok(wait_for(lambda: [m for m in box(d, "dave") if "Help for the list dev" in str(m["Subject"])], 20),
         "help: one mail with the addresses")
    hm = [m for m in box(d, "dave") if "Help for the list dev" in str(m["Subject"])][0]
    t.ok("dev+subscribe@lists.example.org" in text(hm) and "dev+unsubscribe@" in text(hm), "help names the addresses")
    t.ok(not [m for m in box(d, "dave") if "Confirm: subscribe" in str(m["Subject"])], "already subscribed: no mail")
    send(d, "dev+owner@lists.example.org", "Grace <grace@example.org>", "Question for the owner", "Hello owner.")
    t.ok(wait_for(lambda: having(d, "carol", "Hello owner", listid=False), 20), "owner: relayed to the owners")
    om = having(d, "carol", "Hello owner", listid=False)[0]
    t.ok("grace@example.org" in str(om["Reply-To"]) and "lists.example.org" in str(om["From"]),
         "From the list (DMARC), the sender in Reply-To", str(om["From"]))
    t.eq(d.query("SELECT count(*) FROM archive WHERE trimmed LIKE '%Hello owner%'")[0][0], 0, "not archived")
    # three confirmation mails a day per address at most
    for i in range(5):
        send(d, "news+subscribe@lists.example.org" if i % 2 else "talk+subscribe@lists.example.org",
             "henry@example.org", "subscribe", "")
    t.ok(wait_for(lambda: "confirmation mails to it today already" in d.logtext(), 20), "the fourth is not mailed")
    t.ok(wait_for(lambda: len(box(d, "henry")) == 3, 20), "three confirmation mails, no more", len(box(d, "henry")))
    # limits.commands_per_hour answers per sender
    for i in range(COMMANDS_PER_HOUR + 2):
        send(d, "dev+help@lists.example.org", "ivan@example.org", "help %d" % i, "")
    t.ok(wait_for(lambda: "commands in the last hour (limits.commands_per_hour): no answer" in d.logtext(), 20),
         "commands over the hourly limit are not answered (logged)")
    sentinel(d, "dev", "10")
    t.eq(len([m for m in box(d, "ivan") if "Help for the list" in str(m["Subject"])]), COMMANDS_PER_HOUR,
         "%d help mails to a sender who asked %d times" % (COMMANDS_PER_HOUR, COMMANDS_PER_HOUR + 2))


def main(mta=False):
    """With MTA, copies go to a real Postfix (the relay), which delivers
    example.org into a real Dovecot; boxes are read over IMAP."""
    d = Daemon(lists=LISTS)
    pf, dv = os.path.join(d.dir, "pf"), os.path.join(d.dir, "dv")
    text_ = open(d.conf).read().replace("commands_per_hour = 20;", "commands_per_hour = %d;" % COMMANDS_PER_HOUR)
    if mta:
        imap_port, lmtp_port, relay_port = free_port(), free_port(), free_port()
        text_ = text_.replace("    port = 25;", "    port = %d;" % relay_port, 1)
        text_ = text_.replace('starttls = "auto";', 'starttls = "no";')
    else:
        text_ = text_.replace("    port = 25;", '    port = 25;\n    maildir = "%s/maildir";' % d.dir, 1)
    open(d.conf, "w").write(text_)
    try:
        if mta:
            r = sh("dovecot_start '%s' %d %d %s" % (dv, imap_port, lmtp_port, " ".join(MAILBOXES)))
            t.ok(r.returncode == 0, "dovecot started", r.stdout + r.stderr)
            r = sh("postfix_start '%s' %d 'example.org=lmtp:inet:127.0.0.1:%d'" % (pf, relay_port, lmtp_port))
            t.ok(r.returncode == 0, "postfix started as the relay", r.stdout + r.stderr)
            IMAP["port"] = imap_port
        for lst in ("dev", "news", "talk", "mod", "open", "mixed"):
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", lst] + ["%s@example.org" % u for u in READERS]
                           + ["--no-confirm"], check=True, capture_output=True)
        d.start()
        p = client_styles(d)
        carried_on(d, p)
        policies(d)
        post_address_and_author_policy(d)
        private_and_outsiders(d)
        commands(d)
        follow_and_modes(d)
    finally:
        d.stop()
        if mta:
            sh("postfix_stop '%s'; dovecot_stop '%s'" % (pf, dv))
        if t.failed:
            print("\n".join("#   " + line for line in d.logtext().splitlines()[-40:]))
        d.cleanup()
    t.done()


def sh(cmd):
    return subprocess.run(["sh", "-c", ". '%s'; %s" % (SRV, cmd)], capture_output=True, text=True, timeout=120)


if __name__ == "__main__":
    main()
