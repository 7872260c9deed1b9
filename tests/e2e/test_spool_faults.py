#!/usr/bin/env python3
"""test_spool_faults.py - disk faults under parleyd (issue 9, Faults): the
spool, then the database's directory, on a small tmpfs mounted by the test;
a failing block device: an ext2 image on a loop device whose backing file
sits on a full tmpfs, so that the writeback at fsync fails (Linux reports
that as ENOSPC from the block layer, not EIO; device-mapper's "error"
target, which gives EIO, is not available in this container). Asserts 452 4.3.1 at MAIL below limits.spool_min_free,
451 4.3.0 on a write error during DATA, never 250 for a message that was not
stored, nothing left in incoming/new, and, once space returns, new mail
accepted and every message accepted before stored exactly once.

Needs root and mount(2) (tmpfs, loop devices): skipped with a TAP skip when
they are not permitted."""
import os
import signal
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Tap, limited_daemon, wait_for  # noqa: E402

t = Tap()
LIST = "dev@lists.example.org"
MOUNTS = []


def msg(mid, size=200):
    body = ("x" * 76 + "\r\n") * (size // 78 + 1)
    return "Message-ID: <%s>\r\nFrom: a@example.net\r\nSubject: fault\r\n\r\n%s" % (mid, body)


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode == 0:
        MOUNTS.append(path)
    return r.returncode == 0


def umount_all():
    for p in reversed(MOUNTS):
        subprocess.run(["umount", "-l", p], capture_output=True)
    MOUNTS.clear()


def free(path):
    v = os.statvfs(path)
    return v.f_bavail * v.f_frsize


def fill(path, leave):
    """Fill PATH's file system with PATH/filler until LEAVE bytes are free."""
    f = os.path.join(path, "filler")
    with open(f, "ab") as fh:
        while free(path) > leave:
            try:
                fh.write(b"\0" * min(65536, max(4096, free(path) - leave)))
                fh.flush()
            except OSError:
                break
    return f


def cleanup(d):
    """Stop D, unmount what the test mounted, then remove D's directory."""
    d.stop()
    umount_all()
    d.cleanup()


def daemon(limits, db_dir=None):
    d = limited_daemon(limits)
    text = open(d.conf).read()
    if db_dir:
        text = text.replace('"%s/parley.db"' % d.dir, '"%s/parley.db"' % db_dir)
        d.db = os.path.join(db_dir, "parley.db")
    open(d.conf, "w").write(text)
    return d


def send(d, mid, size=200):
    """(reply code to MAIL, to DATA or None) for one message."""
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=30)
    s.ehlo("fault.example.net")
    code, _ = s.mail("a@example.net")
    if code != 250:
        s.quit()
        return code, None, None
    s.rcpt(LIST)
    code2, text = s.data(msg(mid, size))
    s.quit()
    return code, code2, text


def reload(d, old, new):
    text = open(d.conf).read().replace(old, new)
    open(d.conf, "w").write(text)
    n = d.logtext().count("reloaded")
    d.kill(signal.SIGHUP)
    return wait_for(lambda: d.logtext().count("reloaded") > n, 10)


def spool_full():
    d = daemon('message_size = "256K"; command_timeout = 20; data_timeout = 20;')
    try:
        if not mount_tmpfs(d.spool, "2m"):
            return False
        d.start()
        t.eq(send(d, "before@example.net")[:2], (250, 250), "with room: a message is accepted")
        t.ok(wait_for(lambda: d.stored().get("<before@example.net>") == 1, 15), "and stored")
        filler = fill(d.spool, 300 * 1024)
        code, data, _ = send(d, "below-floor@example.net")
        t.eq((code, data), (452, None),
             "below spool_min_free (2 x message_size = 512 kB): MAIL gets 452 4.3.1")
        t.ok(reload(d, "command_timeout = 20;", "command_timeout = 20; spool_min_free = 1;"),
             "spool_min_free lowered by a reload")
        os.truncate(filler, 0)
        fill(d.spool, 100 * 1024)
        code, data, text = send(d, "enospc@example.net", 200 * 1024)
        t.ok(code == 250 and data == 451 and b"4.3.0" in text,
             "ENOSPC during DATA: 451 4.3.0, never 250", (code, data, text))
        t.eq(d.spool_files("incoming/new"), [], "nothing is left in incoming/new")
        t.eq(d.spool_files("incoming/tmp"), [], "nor in incoming/tmp")
        os.unlink(filler)
        t.eq(send(d, "after@example.net")[:2], (250, 250), "space is back: mail is accepted again")
        t.ok(wait_for(lambda: d.stored().get("<after@example.net>") == 1, 15), "and stored")
        st = d.stored()
        t.eq((st.get("<before@example.net>"), "<enospc@example.net>" in st,
              "<below-floor@example.net>" in st), (1, False, False),
             "every accepted message is stored once, the refused ones not at all")
        t.ok("451 4.3.0" in d.logtext() and "No space left on device" in d.logtext(),
             "the log says what happened")
    finally:
        cleanup(d)
    return True


def database_full():
    """The database's directory fills: mail is still accepted into the
    spool (durable), ingest cannot commit, and once space returns every
    message is stored exactly once; nothing is quarantined."""
    top = os.path.join("/tmp", "parley-dbfs.%d" % os.getpid())
    if not mount_tmpfs(top, "4m"):
        return
    d = daemon('message_size = "256K"; command_timeout = 20; data_timeout = 20;', top)
    try:
        d.start()
        t.eq(send(d, "db-before@example.net")[:2], (250, 250), "database on a 4 MB tmpfs: accepted")
        t.ok(wait_for(lambda: d.stored().get("<db-before@example.net>") == 1, 15), "and stored")
        filler = fill(top, 0)
        sent = [send(d, "db-full-%d@example.net" % i, 100 * 1024)[1] for i in range(3)]
        t.eq(sent, [250] * 3, "the database's disk is full: mail is still spooled durably (250)")
        t.ok(wait_for(lambda: "disk is full" in d.logtext().lower() or
                      "database or disk is full" in d.logtext(), 15),
             "ingest cannot commit and says so")
        os.unlink(filler)
        t.ok(wait_for(lambda: all(d.stored().get("<db-full-%d@example.net>" % i) == 1 for i in range(3))
                      and not d.spool_files(), 30),
             "space is back: each is stored exactly once, the spool is empty",
             (d.stored(), d.spool_files()))
        t.eq(d.spool_files("quarantine"), [], "nothing was quarantined")
    finally:
        cleanup(d)
        os.rmdir(top)


def eio():
    """A failing block device: the spool on an ext2 image on a loop device
    whose backing file is on a full tmpfs: write() succeeds into the page
    cache, the fsync of the message fails (the kernel says ENOSPC)."""
    top = os.path.join("/tmp", "parley-eio.%d" % os.getpid())
    d = daemon('message_size = "256K"; spool_min_free = 0; command_timeout = 20; data_timeout = 20;')
    loop = None
    try:
        if not mount_tmpfs(top, "6m"):
            t.ok(True, "# SKIP no tmpfs for the EIO test")
            return
        img = os.path.join(top, "spool.img")
        with open(img, "wb") as f:
            f.truncate(32 << 20)  # sparse: the file system thinks it has 32 MB
        r = subprocess.run(["losetup", "-f", "--show", img], capture_output=True, text=True)
        if r.returncode != 0:
            t.ok(True, "# SKIP no loop device: %s" % r.stderr.strip())
            return
        loop = r.stdout.strip()
        os.makedirs(d.spool, exist_ok=True)
        if subprocess.run(["mkfs.ext2", "-q", "-F", "-N", "256", "-m", "0", loop], capture_output=True).returncode != 0 or \
                subprocess.run(["mount", loop, d.spool], capture_output=True).returncode != 0:
            t.ok(True, "# SKIP cannot make or mount an ext2 image")
            return
        MOUNTS.append(d.spool)
        d.start()
        t.eq(send(d, "eio-before@example.net")[:2], (250, 250), "ext2 on a loop device: accepted")
        t.ok(wait_for(lambda: d.stored().get("<eio-before@example.net>") == 1, 15), "and stored")
        filler = fill(top, 0)
        codes = [send(d, "eio-%d@example.net" % i, 150 * 1024)[1] for i in range(2)]
        t.ok(250 not in codes and 451 in codes, "the block device fails the writeback under DATA: 451, never 250", codes)
        t.ok("Input/output error" in d.logtext() or "No space left" in d.logtext(),
             "the log names the error")
        t.eq(d.spool_files("incoming/new"), [], "nothing is left in incoming/new")
        os.unlink(filler)
        st = d.stored()
        t.ok(not any(k.startswith("<eio-") and k != "<eio-before@example.net>" for k in st),
             "the refused messages are not stored")
    finally:
        cleanup(d)
        if loop:
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        if os.path.isdir(top):
            os.rmdir(top)


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root to mount a small tmpfs")
        return
    if not spool_full():
        umount_all()
        print("1..0 # SKIP mount -t tmpfs is not permitted here")
        return
    for step in (database_full, eio):
        try:
            step()
        except Exception as e:  # a crash of one step is a failure, not the end
            t.ok(False, "step %s ran" % step.__name__, repr(e))
            umount_all()
    t.done()


main()
