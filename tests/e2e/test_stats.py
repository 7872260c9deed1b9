#!/usr/bin/env python3
"""test_stats.py - seeing it work (issue 10): `parley stats [LIST] [--json]`,
GET /metrics on the HTTP listener (OpenMetrics text, loopback-only by
default) and `parley queue flush --wait`.

A post to five readers while the relay is down: five copies deferred (each
once: the retry is an hour), one reader removed (its copy cancelled by the
store's trigger). stats and /metrics say exactly that, and /metrics is
parsed by an independent parser (Debian's python3-prometheus-client,
openmetrics). /metrics refuses a request that came through a proxy
(X-Forwarded-For, Forwarded), and everything after daemon.http.metrics =
"off" (a reload). Then parleyd restarts with the maildir sink, `queue flush
--wait` makes the four due and waits: it ends when they are sent, saying
so, and stats counts four sent. Then the relays: two relays take posts'
copies, one stops listening and is marked down; stats (--json, with and
without LIST) and /metrics count per relay what deliveries.relay says, and
show the one down with its reason, and up again once it is back."""
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEY, Daemon, Tap, free_port, maildir_box, wait_for  # noqa: E402
from relay_server import Relay  # noqa: E402

t = Tap()
SECRET = "k3vq9t2mxw8rz5pa"
READERS = ["r%d@example.net" % i for i in range(1, 6)]
SYSTEM_PYTHON = "/usr/bin/python3"
PARSE = r"""
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out["%s|%s|%s" % (fam.type, s.name, ",".join("%s=%s" % kv for kv in sorted(s.labels.items())))] = s.value
import json
print(json.dumps(out))
"""


def http(port, path, headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def cli(d, *args):
    r = subprocess.run([PARLEY, "-c", d.conf] + list(args), capture_output=True, text=True, timeout=200)
    return r.returncode, r.stdout, r.stderr


def parse_openmetrics(text):
    """{"type|name|labels": value} by python3-prometheus-client, or None."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return None
    r = subprocess.run([SYSTEM_PYTHON, "-c", PARSE], input=text, capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        print("# parser: " + r.stderr.strip().replace("\n", "\n# "))
        return None
    return json.loads(r.stdout)


def set_relay(d, relay_lines):
    text = open(d.conf).read()
    text = re.sub(r"(?s)\n  relay = \{.*?\n  \};", "\n  relay = {\n%s\n  };" % relay_lines, text)
    open(d.conf, "w").write(text)


def post(d, n=1):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    s.sendmail("alice@example.org", ["dev+post-%s@lists.example.org" % SECRET],
               "From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\nSubject: counted\r\n"
               "Message-ID: <stats-%d@example.org>\r\n\r\nHello list\r\n" % n)
    s.quit()


def statuses(d):
    return dict(d.query("SELECT status, count(*) FROM deliveries GROUP BY status"))


def down_phase(d, port):
    post(d)
    t.ok(wait_for(lambda: statuses(d).get("deferred") == 5, 30),
         "the relay is down: the post's five copies are deferred", statuses(d))
    rc, out, err = cli(d, "sub", "rm", "dev", READERS[0])
    t.eq(rc, 0, "a reader is removed")
    t.eq(statuses(d), {"deferred": 4, "cancelled": 1}, "and the copy to that reader is cancelled")

    rc, out, err = cli(d, "--json", "stats", "dev")
    t.eq(rc, 0, "parley stats dev --json exits 0")
    try:
        s = json.loads(out)["lists"][0]
    except (ValueError, KeyError, IndexError):
        s = {}
        t.ok(False, "its output is JSON with one list", out + err)
    t.eq(s.get("list"), "dev", "stats names the list")
    t.eq(s.get("posts"), {"hour": 1, "day": 1, "all": 1}, "one post in the hour, the day and in all")
    t.eq(s.get("replies"), {"hour": 0, "day": 0, "all": 0}, "no reply")
    copies = s.get("copies", {})
    t.eq(copies.get("deferred"), {"hour": 5, "day": 5, "all": 5}, "five deferrals")
    t.eq(copies.get("cancelled"), {"hour": 1, "day": 1, "all": 1}, "one cancelled")
    t.eq(copies.get("sent"), {"hour": 0, "day": 0, "all": 0}, "none sent")
    q = s.get("queue", {})
    t.eq((q.get("queued"), q.get("deferred"), q.get("sending")), (0, 4, 0), "the queue: four deferred")
    t.ok(q.get("oldest") is not None and 0 <= q.get("oldest_age_seconds", -1) < 120,
         "the oldest copy's time and age", q)

    rc, out, err = cli(d, "stats")
    t.eq(rc, 0, "parley stats exits 0")
    t.ok(re.search(r"(?m)^dev\s+last hour\s+last day\s+all$", out) is not None, "a table per list", out)
    t.ok(re.search(r"(?m)^  copies deferred\s+5\s+5\s+5$", out) is not None, "with the deferrals", out)
    t.ok(re.search(r"(?m)^\(all lists\)", out) is not None, "and one for all lists", out)
    t.ok("4 deferred" in out, "and the queue", out)
    rc, out, err = cli(d, "stats", "nosuchlist")
    t.eq(rc, 1, "stats of an unknown list exits 1")
    t.ok("nosuchlist" in err, "naming it", err)

    status, headers, body = http(port, "/metrics")
    t.eq(status, 200, "GET /metrics from loopback: 200")
    t.ok(headers.get("Content-Type", "").startswith("application/openmetrics-text; version=1.0.0"),
         "in the OpenMetrics content type", headers.get("Content-Type"))
    t.ok(body.endswith("# EOF\n"), "ending with # EOF")
    t.ok("r2@example.net" not in body and "counted" not in body, "with no address or subject in it")
    m = parse_openmetrics(body)
    t.ok(m is not None, "python3-prometheus-client parses it as OpenMetrics", body[:400])
    m = m or {}
    t.eq(m.get("counter|parley_posts_total|list=dev"), 1.0, "parley_posts_total 1")
    t.eq(m.get("counter|parley_copies_total|list=dev,status=deferred"), 5.0, "copies deferred 5")
    t.eq(m.get("counter|parley_copies_total|list=dev,status=cancelled"), 1.0, "copies cancelled 1")
    t.eq(m.get("gauge|parley_queue_copies|list=dev,state=deferred"), 4.0, "4 waiting, deferred")
    t.eq(m.get("gauge|parley_subscribers|list=dev,status=active"), 4.0, "4 active subscribers")
    t.eq(m.get("gauge|parley_subscribers|list=dev,status=unsubscribed"), 1.0, "1 unsubscribed")

    for h in ({"X-Forwarded-For": "198.51.100.7"}, {"Forwarded": "for=198.51.100.7"}):
        status, _, body = http(port, "/metrics", h)
        t.eq(status, 404, "/metrics through a proxy (%s): 404" % list(h)[0])
        t.ok("parley_" not in body, "and no counter in the page")
    status, _, _ = http(port, "/metrics?t=abc")
    t.eq(status, 200, "a query string is allowed")

    text = open(d.conf).read().replace('http = { listen', 'http = { metrics = "off"; listen', 1)
    open(d.conf, "w").write(text)
    d.kill(signal.SIGHUP)
    t.ok(wait_for(lambda: http(port, "/metrics")[0] == 404, 10), "after metrics = \"off\" and a reload: 404")


def up_phase(d):
    set_relay(d, '    host = "127.0.0.1";\n    port = 25;\n    maildir = "%s/maildir";\n    retry = [ 3600 ];' % d.dir)
    d.start()
    rc, out, err = cli(d, "queue", "flush", "--wait")
    t.ok(rc == 0, "queue flush --wait exits 0", err)
    t.ok(re.search(r"(?m)^due now: 4 copies$", out) is not None, "flush made the four due", out)
    t.ok(re.search(r"(?m)^sent 4, failed 0, cancelled 0; 0 to go, 0 deferred for later", out) is not None,
         "and waited until they were sent, saying so", out)
    t.eq(statuses(d), {"sent": 4, "cancelled": 1}, "the store agrees")
    got = sum(len(list(maildir_box(os.path.join(d.dir, "maildir"), r))) for r in READERS)
    t.eq(got, 4, "four copies are in the sink")
    rc, out, err = cli(d, "--json", "stats")
    s = json.loads(out) if rc == 0 else {}
    dev = (s.get("lists") or [{}])[0]
    t.eq(dev.get("copies", {}).get("sent"), {"hour": 4, "day": 4, "all": 4}, "stats: four sent")
    t.eq(s.get("all", {}).get("copies", {}).get("sent", {}).get("all"), 4, "also for all lists")
    t.eq(dev.get("queue", {}).get("oldest"), None, "nothing waits")


def set_relays(d, ports):
    """D's relays: one entry per port of PORTS, a retry of 1 s."""
    entries = ",\n".join('    { url = "smtp:127.0.0.1:%d"; starttls = "no"; }' % p for p in ports)
    text = open(d.conf).read()
    text = re.sub(r"(?s)\n  relay = \{.*?\n  \};",
                  "\n  relay = { retry = [ 1 ]; };\n  relays = (\n%s\n  );" % entries, text)
    open(d.conf, "w").write(text)


def relay_rows(d):
    """{relay: {status: n}} of the copies in the store (deliveries.relay)."""
    out = {}
    for relay, status, n in d.query("SELECT relay, status, count(*) FROM deliveries"
                                     " WHERE relay IS NOT NULL GROUP BY relay, status"):
        out.setdefault(relay, {})[status] = n
    return out


def relays_phase():
    """Two relays A and B take the copies of posts in turn (weights 1:1,
    one stream per batch); then B stops listening, is marked down, and the
    copies go to A. stats --json (with and without LIST) and /metrics
    count per relay what deliveries.relay says, B is 'down' with a reason,
    A is up. Then B listens again: after its backoff it takes copies and
    is 'up' again."""
    a, b = Relay(), Relay()
    port = free_port()
    d = Daemon(extra_daemon='  http = { listen = [ "127.0.0.1:%d" ]; };' % port)
    ka, kb = "127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port
    n = 0

    def all_sent():
        st = statuses(d)
        return st.get("sent", 0) == n * len(READERS) and len(st) == 1

    def post_and_wait():
        nonlocal n
        n += 1
        post(d, 100 + n)
        return wait_for(all_sent, 30)

    try:
        set_relays(d, [a.port, b.port])
        for r in READERS:
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev", r, "--no-confirm"], check=True,
                           capture_output=True)
        d.start()
        t.ok(wait_for(lambda: "listening: HTTP 127.0.0.1:%d" % port in d.logtext(), 10),
             "relays: parleyd listens for HTTP")
        rc, out, err = cli(d, "--json", "stats")
        rs = {r["relay"]: r for r in json.loads(out).get("relays", [])} if rc == 0 else {}
        t.ok(set(rs) == {ka, kb} and all(r["state"] == "up" for r in rs.values()),
             "at the start both configured relays are up, with no copies", out + err)
        while n < 8 and (a.count() == 0 or b.count() == 0):
            if not post_and_wait():
                break
        t.ok(a.count() > 0 and b.count() > 0, "posts' copies went through both relays",
             "A %d, B %d, %s" % (a.count(), b.count(), statuses(d)))
        b.stop()
        down = "relay %s is down" % kb
        while n < 16 and down not in d.logtext():
            if not post_and_wait():
                break
        t.ok(down in d.logtext(), "relay B, no longer listening, is marked down", d.logtext()[-800:])
        t.ok(all_sent(), "every copy was sent (B's went to A)", statuses(d))
        db = relay_rows(d)
        t.ok(set(db) == {ka, kb}, "the store has copies of both relays", db)

        for args in (["--json", "stats"], ["--json", "stats", "dev"]):
            rc, out, err = cli(d, *args)
            t.eq(rc, 0, "parley %s exits 0" % " ".join(args))
            try:
                rs = {r["relay"]: r for r in json.loads(out)["relays"]}
            except (ValueError, KeyError, TypeError):
                rs = {}
                t.ok(False, "its output has an array \"relays\"", out + err)
            t.eq(sorted(rs), sorted([ka, kb]), "%s: both relays listed" % " ".join(args))
            for key in (ka, kb):
                c = rs.get(key, {}).get("copies", {})
                got = {st: c.get(st, {}).get("all") for st in ("sent", "deferred", "failed")}
                want = {st: db.get(key, {}).get(st, 0) for st in ("sent", "deferred", "failed")}
                t.eq(got, want, "%s: %s's copies in all match deliveries.relay" % (" ".join(args), key))
                t.eq(c.get("sent", {}).get("day"), want["sent"], "and in the day")
            ra, rb = rs.get(ka, {}), rs.get(kb, {})
            t.eq(ra.get("state"), "up", "A is up")
            t.eq((ra.get("down_until"), ra.get("reason")), (None, None), "with no time or reason")
            t.eq(rb.get("state"), "down", "B is down")
            t.ok(rb.get("down_until") is not None and rb.get("reason"), "until a time, for a reason", rb)
            rate = ra.get("rate", {})
            t.ok(rate.get("hour", 0) > 0 and rate.get("minute", -1) >= 0, "A has a rate", rate)

        rc, out, err = cli(d, "stats")
        t.ok(re.search(r"(?m)^relays\s+last min\s+last hour\s+last day\s+all$", out) is not None,
             "parley stats: a table of the relays", out)
        t.ok(re.search(r"(?m)^  %s: down until \S+ \(.+\)$" % re.escape(kb), out) is not None,
             "B down until a time (the reason)", out)
        t.ok(re.search(r"(?m)^  %s: up$" % re.escape(ka), out) is not None, "A up", out)
        t.ok(re.search(r"(?m)^    copies sent\s+\d+\s+\d+\s+%d\s+%d$" % (db[ka]["sent"], db[ka]["sent"]),
                       out) is not None, "A's copies sent in the day and in all", out)

        status, _, body = http(port, "/metrics")
        t.eq(status, 200, "GET /metrics: 200")
        t.ok(body.endswith("# EOF\n"), "still ending with # EOF")
        m = parse_openmetrics(body)
        t.ok(m is not None, "python3-prometheus-client parses the relays' families", body[-800:])
        m = m or {}
        t.eq(m.get("gauge|parley_relay_up|relay=%s" % ka), 1.0, "parley_relay_up of A: 1")
        t.eq(m.get("gauge|parley_relay_up|relay=%s" % kb), 0.0, "parley_relay_up of B: 0")
        for key in (ka, kb):
            for st in ("sent", "deferred", "failed"):
                t.eq(m.get("counter|parley_relay_copies_total|relay=%s,status=%s" % (key, st)),
                     float(db.get(key, {}).get(st, 0)),
                     "parley_relay_copies_total of %s, %s: as deliveries.relay" % (key, st))

        b = Relay(port=b.port)	# B listens again: once its backoff is over, a copy goes to it
        deadline = time.time() + 90
        while time.time() < deadline and b.count() == 0 and post_and_wait():
            time.sleep(1)	# a post a second until B takes one (not an assertion)
        t.ok(b.count() > 0, "B, listening again after its backoff, takes copies", statuses(d))
        rc, out, err = cli(d, "--json", "stats")
        rs = {r["relay"]: r for r in json.loads(out).get("relays", [])} if rc == 0 else {}
        t.eq((rs.get(kb, {}).get("state"), rs.get(kb, {}).get("reason")), ("up", None),
             "stats: B is up again, with no reason")
        m = parse_openmetrics(http(port, "/metrics")[2]) or {}
        t.eq(m.get("gauge|parley_relay_up|relay=%s" % kb), 1.0, "parley_relay_up of B: 1 again")
    finally:
        d.stop()
        a.close()
        b.close()
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-30:]))
        d.cleanup()


def main():
    port = free_port()
    dead = free_port()
    d = Daemon(extra_daemon='  http = { listen = [ "127.0.0.1:%d" ]; };' % port)
    set_relay(d, '    host = "127.0.0.1";\n    port = %d;\n    starttls = "no";\n    retry = [ 3600 ];' % dead)
    try:
        for a in READERS:
            subprocess.run([PARLEY, "-c", d.conf, "sub", "add", "dev", a, "--no-confirm"], check=True,
                           capture_output=True)
        d.start()
        t.ok(wait_for(lambda: "listening: HTTP 127.0.0.1:%d" % port in d.logtext(), 10), "parleyd listens for HTTP")
        down_phase(d, port)
        t.eq(d.stop(), 0, "parleyd stops")
        up_phase(d)
        t.ok(d.proc.poll() is None, "parleyd is still running")
    finally:
        d.stop()
        if t.failed:
            print("\n".join("#   " + l for l in d.logtext().splitlines()[-30:]))
        d.cleanup()
    relays_phase()
    t.done()


if __name__ == "__main__":
    main()
