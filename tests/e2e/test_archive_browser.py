#!/usr/bin/env python3
"""test_archive_browser.py - the web archive in a real browser: Debian's
headless chromium, driven by playwright-core (tests/browser/archive_check.mjs),
over the pages parleyd serves on its HTTP listener.

A thread of one post and 50 replies (nested up to eight deep, quoted text
that trimming elides, Hebrew and Arabic, an attachment) and a post whose
subject, author name and HTML part are hostile (<script>, an <img onerror>,
quotes and ampersands) are sent through SMTP as mail. Then, in the browser:
the replies nest as their threading says, in order; the elided quote is a
closed <details> that opens on a click; right-to-left text is laid out
right to left; a search from the page's own form lists ranked results;
nothing from the content runs (no dialog, no flag set, no script element, no
CSP violation); no request leaves the archive's origin; the pages have their
landmarks and ordered headings, readable contrast in light and dark mode,
and no horizontal scrolling at 360 px.

Screenshots (index, the 50-reply thread, the hostile post, 360 px, dark) are
written to $ARCHIVE_SHOTS (default: screenshots/ beside the test's log) as
artefacts of the run, never compared with golden files.

Skipped (TAP skip) when chromium or playwright-core (scripts/deps --test) are
missing."""
import base64
import json
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, Tap, free_port, maildir_relay, subscribe, wait_for  # noqa: E402

t = Tap()
SECRET = "k3vq9t2mxw8rz5pa"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE_MODULES = os.environ.get("PARLEY_NODE_MODULES", "/usr/local/lib/parley-tests/node_modules")
SRC = os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(SRC, "browser", "archive_check.mjs")
SHOTS = os.environ.get("ARCHIVE_SHOTS", os.path.abspath("screenshots"))
LISTS = """lists = (
  { name = "dev"; address = "dev@lists.example.org"; reply_policy = "list";
    authors = ( { address = "alice@example.org"; name = "Alice"; secret = "%s"; } );
    owners = [ "carol@example.org" ]; }
);
""" % SECRET
READERS = ["alice", "bob", "carol", "dave", "noa", "layla"]
NAMES = {"alice": "Alice", "bob": "Bob", "carol": "Carol", "dave": "Dave",
         "noa": "נועה כהן", "layla": "ليلى"}
HOSTILE = '<script>window.__pwned="subject"</script> & "quotes" <img src=x onerror="window.__pwned=1">'
seq = [0]


def send(d, rcpt, user, subject, body, extra="", mid=None):
    """One message from USER to RCPT over SMTP; its Message-ID."""
    seq[0] += 1
    mid = mid or "<web%d@example.org>" % seq[0]
    name = NAMES.get(user, user)
    frm = "=?utf-8?b?%s?= <%s@example.org>" % (base64.b64encode(name.encode()).decode(), user)
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
           "Date: Tue, 01 Dec 2026 10:%02d:00 +0000\r\nMIME-Version: 1.0\r\n%s\r\n%s\r\n"
           % (frm, rcpt, subject, mid, seq[0] % 60, extra, body))
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.sendmail("%s@example.org" % user, [rcpt], msg.encode())
    s.quit()
    return mid


def archived(d, orig):
    """(archive id, list Message-ID) of the message whose own Message-ID is
    ORIG, once archived."""
    r = d.query("SELECT id, list_msgid FROM archive WHERE orig_msgid = ?", (orig,))
    return r[0] if r else None


PLAIN = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"


def seed(d):
    """The 50-reply thread and the hostile post; (thread id, post id, hostile
    thread id, the ids of the replies with their parents' ids)."""
    post = send(d, "dev+post-%s@lists.example.org" % SECRET, "alice", "Fences and neighbours",
                "Do good fences make good neighbours? Tell me what you think.\r\n", extra=PLAIN)
    wait_for(lambda: archived(d, post), 20)
    ids = {post: archived(d, post)}
    tree = []  # (reply orig msgid, parent orig msgid)
    parents = [post]
    for i in range(50):
        user = READERS[1 + i % (len(READERS) - 1)]
        # a chain that goes eight deep, then back to the post, with side branches
        parent = parents[-1] if i % 9 else post
        if i % 4 == 3:
            parent = parents[max(0, len(parents) - 3)]
        body = {"noa": "אני מסכימה לגמרי: גדרות טובות עושות שכנים טובים. תגובה %d" % i,
                "layla": "أنا أتفق تماما، الأسوار الجيدة تصنع جيرانا جيدين. رد %d" % i}.get(
            user, "Reply %d from %s: fences are only as good as the gate in them." % (i, user))
        quoted = "\r\n".join("> " + line for line in
                             ("On Tue, someone wrote:", "Do good fences make good neighbours?",
                              "Tell me what you think.")) + "\r\n"
        extra = PLAIN + "In-Reply-To: %s\r\nReferences: %s\r\n" % (ids[parent][1], ids[parent][1])
        if i == 7:
            extra = ("In-Reply-To: %s\r\nReferences: %s\r\n"
                     'Content-Type: multipart/mixed; boundary="b"\r\n' % (ids[parent][1], ids[parent][1]))
            body = ("--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n\r\n%s"
                    "--b\r\nContent-Type: application/pdf; name=\"gate plan.pdf\"\r\n"
                    "Content-Disposition: attachment; filename=\"gate plan.pdf\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--b--\r\n"
                    % (body, quoted))
        else:
            body = body + "\r\n\r\n" + quoted
        mid = send(d, "dev@lists.example.org", user, "Re: Fences and neighbours", body, extra=extra)
        if not wait_for(lambda: archived(d, mid), 20):
            t.ok(False, "reply %d was archived" % i)
            return None
        ids[mid] = archived(d, mid)
        tree.append((ids[mid][0], ids[parent][0]))
        parents.append(mid)
        if len(parents) > 8:
            parents = [post]
    hostile = send(d, "dev+post-%s@lists.example.org" % SECRET, "alice", HOSTILE,
                   "<p>Hello <script>window.__pwned='html'</script><b onclick=x()>bold</b></p>\r\n",
                   extra="Content-Type: text/html; charset=utf-8\r\n")
    wait_for(lambda: archived(d, hostile), 20)
    th = d.query("SELECT thread_id FROM archive WHERE orig_msgid IN (?, ?) ORDER BY id", (post, hostile))
    return th[0][0], ids[post][0], th[1][0] if len(th) > 1 else None, tree


def run_browser(pages):
    spec = {"chromium": CHROMIUM, "shots": SHOTS, "pages": pages}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    env = dict(os.environ, PARLEY_NODE_MODULES=NODE_MODULES)
    r = subprocess.run(["node", DRIVER, f.name], capture_output=True, text=True, timeout=600, env=env)
    os.unlink(f.name)
    if r.returncode != 0:
        t.ok(False, "the browser ran", r.stderr[-3000:])
        return {}
    return {p["name"]: p for p in json.loads(r.stdout)}


def common(name, p, origin):
    """What every page must hold, in the browser."""
    b = p.get("before") or {}
    t.ok(p.get("status") == 200 and not p.get("error"), "%s: loads (200)" % name,
         (p.get("status"), p.get("error")))
    t.ok(not p.get("dialogs") and b.get("pwned") is None and b.get("scripts") == 0,
         "%s: nothing from the content runs (no dialog, no flag, no script element)" % name,
         (p.get("dialogs"), b.get("pwned"), b.get("scripts")))
    t.eq(b.get("csp"), [], "%s: no CSP violation" % name)
    csp = (p.get("headers") or {}).get("content-security-policy", "")
    t.ok("default-src 'none'" in csp and "script-src" not in csp.replace("script-src 'none'", ""),
         "%s: a strict Content-Security-Policy" % name, csp)
    away = [u for u in p.get("requests", []) if not u.startswith(origin)]
    t.eq(away, [], "%s: no request leaves the archive's origin" % name)
    lm = b.get("landmarks", {})
    t.ok(lm.get("header", 0) >= 1 and lm.get("nav", 0) >= 1 and lm.get("main") == 1 and
         b.get("lang"), "%s: landmarks (header, nav, one main) and a language" % name, (lm, b.get("lang")))
    hs = b.get("headings", [])
    t.ok(hs[:1] == [1] and hs.count(1) == 1 and all(b2 - a <= 1 for a, b2 in zip(hs, hs[1:])),
         "%s: one h1, heading levels in order" % name, hs)
    t.ok(b.get("minContrast") is not None and b["minContrast"] >= 4.5,
         "%s: text contrast at least 4.5:1 (WCAG AA)" % name, b.get("minContrast"))
    t.eq(b.get("unlabelled"), 0, "%s: every input has a label" % name)


def main():
    if not (os.access(CHROMIUM, os.X_OK) and shutil.which("node") and
            os.path.isfile(os.path.join(NODE_MODULES, "playwright-core", "package.json"))):
        print("1..0 # SKIP chromium or playwright-core missing (scripts/deps --test)")
        return
    port = free_port()
    d = Daemon(extra_daemon='  http = { listen = [ "127.0.0.1:%d" ]; };' % port, lists=LISTS)
    maildir_relay(d)
    subscribe(d, "dev", *["%s@example.org" % u for u in READERS])
    try:
        d.start()
        s = seed(d)
        if not t.ok(s is not None, "the thread of 50 replies and the hostile post are archived"):
            return
        thread, post_id, hostile_thread, tree = s
        origin = "http://127.0.0.1:%d/" % port
        base = origin + "archive/dev/"
        pages = run_browser([
            {"name": "index", "url": base, "shot": True},
            {"name": "thread-50", "url": base + "t/%d" % thread, "shot": True, "toggle": True},
            {"name": "thread-50-360px-dark", "url": base + "t/%d" % thread, "width": 360,
             "height": 780, "scheme": "dark", "shot": True},
            {"name": "index-360px", "url": base, "width": 360, "height": 780, "shot": True},
            {"name": "hostile", "url": base + "t/%d" % hostile_thread, "shot": True},
            {"name": "search", "url": base, "search": "gate", "shot": True},
        ])
        for name in ("index", "thread-50", "hostile", "search"):
            if name in pages:
                common(name, pages[name], origin)
        th = (pages.get("thread-50") or {}).get("before") or {}
        msgs = th.get("messages", [])
        t.eq(len(msgs), 51, "the thread page shows the post and its 50 replies")
        t.ok(msgs[:1] and msgs[0]["id"] == "m-%d" % post_id and msgs[0]["ancestor"] is None,
             "the post comes first, at the top", msgs[:1])
        by_id = {m["id"]: m for m in msgs}
        bad = [(r, p) for r, p in tree if by_id.get("m-%d" % r, {}).get("ancestor") != "m-%d" % p or
               by_id.get("m-%d" % r, {}).get("parent") != "m-%d" % p]
        t.eq(bad, [], "every reply is nested in the message it answers (DOM and data-parent)")
        order = [m["id"] for m in msgs]
        late = [(r, p) for r, p in tree if "m-%d" % r in order and "m-%d" % p in order and
                order.index("m-%d" % r) < order.index("m-%d" % p)]
        t.eq(late, [], "no reply comes before its parent")
        sib = {}
        for r, p in tree:
            sib.setdefault(p, []).append(r)
        unordered = [p for p, rs in sib.items() if [x for x in order if x in ["m-%d" % r for r in rs]]
                     != ["m-%d" % r for r in rs]]
        t.eq(unordered, [], "replies to one message in the order they came")
        deep = [m for m in msgs if m["ancestor"]]
        t.ok(deep and max(m["left"] for m in deep) > msgs[0]["left"],
             "replies are indented under their parents")
        dt = th.get("details", [])
        t.ok(len(dt) >= 50 and not any(x["open"] or x["visible"] for x in dt),
             "each reply's elided quote is a closed <details> toggle (%d)" % len(dt), dt[:2])
        t.ok(any("Do good fences" in x.get("text", "") for x in dt), "holding the quoted text")
        af = ((pages.get("thread-50") or {}).get("after") or {}).get("details", [])
        t.ok(af and af[0]["open"] and af[0]["visible"], "a click opens the first one", af[:1])
        t.ok(any("גדרות" in x for x in th.get("rtl", [])) and any("الأسوار" in x for x in th.get("rtl", [])),
             "Hebrew and Arabic text is laid out right to left", th.get("rtl", [])[:4])
        t.ok(any("gate%20plan.pdf" in a or "gate_plan.pdf" in a or "/att/" in a
                 for a in th.get("attachments", [])), "the attachment is listed with a link",
             th.get("attachments"))
        t.ok(th.get("mailto") and "In-Reply-To" in th["mailto"][0] and
             th["mailto"][0].startswith("mailto:dev@lists.example.org"),
             "a reply-by-email mailto link to the list with In-Reply-To", th.get("mailto"))
        for name in ("thread-50-360px-dark", "index-360px"):
            b = (pages.get(name) or {}).get("before") or {}
            t.ok(b.get("viewport") == 360 and b.get("scrollWidth", 9999) <= 360,
                 "%s: no horizontal scrolling at 360 px" % name,
                 (b.get("scrollWidth"), b.get("overflow")))
        dark = ((pages.get("thread-50-360px-dark") or {}).get("before") or {})
        light = th
        lum = lambda c: sum(int(x) for x in c[c.index("(") + 1:].split(",")[:3]) if c else -1  # noqa: E731
        t.ok(dark.get("bodyBackground") and lum(dark["bodyBackground"]) < lum(light.get("bodyBackground")),
             "prefers-color-scheme: dark gives a dark page", (dark.get("bodyBackground"),
                                                              light.get("bodyBackground")))
        t.ok(dark.get("minContrast") is not None and dark["minContrast"] >= 4.5,
             "dark mode: contrast at least 4.5:1", dark.get("minContrast"))
        ho = (pages.get("hostile") or {}).get("before") or {}
        t.ok(ho.get("messages") and "<script>" in ho.get("title", "") + ho["messages"][0]["text"],
             "the hostile subject is shown as text", (ho.get("title"), ho.get("messages", [{}])[:1]))
        t.ok(ho.get("messages") and "bold" in ho["messages"][0]["text"],
             "the HTML part is shown as its text")
        se = (pages.get("search") or {}).get("before") or {}
        t.ok(se.get("results") and any("gate" in r.lower() for r in se["results"]),
             "the page's own search form finds 'gate', with a snippet", se.get("results", [])[:3])
        t.ok(all(os.path.getsize(p["shot"]) > 2000 for p in pages.values() if p.get("shot")),
             "screenshots written to %s" % SHOTS)
    finally:
        d.stop()
        if t.failed:
            print("\n".join("#   " + line for line in d.logtext().splitlines()[-30:]))
        d.cleanup()
    t.done()


main()
