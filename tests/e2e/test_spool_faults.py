#!/usr/bin/env python3
"""test_spool_faults.py - disk faults under parleyd (issue 9, Faults): the
spool, then the database's directory, on a small tmpfs mounted by the test;
a failing block device: an ext2 image on a loop device whose backing file
sits on a full tmpfs, so that the writeback at fsync fails (Linux reports
that as ENOSPC from the block layer); and EIO: ext4 on a loop device shut
down under load with EXT4_IOC_SHUTDOWN (NOLOGFLUSH), after which every
read, write, fsync, create and rename on it fails with EIO and whatever was
not yet durable is gone, as when a disk dies or the power fails (xfstests'
"godown"; device-mapper's "error" target is not in this container's
kernel). That is done with the spool on it, then with the database on it.
Asserts 452 4.3.1 at MAIL below limits.spool_min_free, 451 on a write error
during DATA, never 250 for a message that was not stored, the daemon up
through it all, and, once the disk is back (remounted, its journal
replayed), every message that got 250 before the shutdown began stored
exactly once and those accepted while it ran at most once. With the
database on the dead disk: every message whose commit had returned before
the shutdown began (its "stored:" line already in the log) exactly once,
and the others at most once. A commit whose fdatasync is still running
while the file system is shut down can come back 0 and yet be missing after
the remount: the fault races the fsync, which no program can guard against
(strace of such a run: fdatasync(wal) entered 0.7 ms before the ioctl,
returned 0 during it, the WAL on disk ends at the previous commit). Such a
loss is printed as a "#" line, not failed.

Needs root and mount(2) (tmpfs, loop devices): skipped with a TAP skip when
they are not permitted."""
import fcntl
import os
import re
import signal
import smtplib
import struct
import subprocess
import sys
import threading

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


EXT4_IOC_SHUTDOWN = 0x8004587D         # _IOR('X', 125, __u32)
EXT4_GOING_FLAGS_NOLOGFLUSH = 2         # like a power cut: the journal is not flushed


def ext4_loop(top, mnt):
    """An ext4 image in TOP on a loop device mounted at MNT: the loop device,
    or None (skipped) if this machine cannot."""
    img = os.path.join(top, "ext4.img")
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    r = subprocess.run(["losetup", "-f", "--show", img], capture_output=True, text=True)
    if r.returncode != 0:
        t.ok(True, "# SKIP no loop device: %s" % r.stderr.strip())
        return None
    loop = r.stdout.strip()
    os.makedirs(mnt, exist_ok=True)
    if subprocess.run(["mkfs.ext4", "-q", "-F", loop], capture_output=True).returncode != 0 or \
            subprocess.run(["mount", loop, mnt], capture_output=True).returncode != 0:
        subprocess.run(["losetup", "-d", loop], capture_output=True)
        t.ok(True, "# SKIP cannot make or mount an ext4 image")
        return None
    MOUNTS.append(mnt)
    return loop


EXT4_GOING_FLAGS_LOGFLUSH = 1           # the journal is flushed first


def shutdown_fs(mnt, flags=EXT4_GOING_FLAGS_NOLOGFLUSH):
    """Make every later I/O on MNT's file system fail with EIO; with
    NOLOGFLUSH what it had not made durable is lost."""
    fd = os.open(mnt, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", flags))
    finally:
        os.close(fd)


def remount(loop, mnt):
    """The disk is back: unmount the dead file system, mount it again (the
    journal is replayed)."""
    r = subprocess.run(["umount", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        return False
    return subprocess.run(["mount", loop, mnt], capture_output=True).returncode == 0


class Sender(threading.Thread):
    """Sends messages PREFIX-N one after another until told to stop (or
    LIMIT messages); records (n, reply to MAIL, reply to DATA, started after
    the shutdown) for each."""

    def __init__(self, d, prefix, limit=400):
        super().__init__(daemon=True)
        self.d, self.prefix, self.limit = d, prefix, limit
        self.after = threading.Event()   # set once the file system is dead
        self.stop = threading.Event()
        self.results = []

    def run(self):
        for n in range(self.limit):
            if self.stop.is_set():
                break
            late = self.after.is_set()
            try:
                code, data, _ = send(self.d, "%s-%d@example.net" % (self.prefix, n), 2000)
            except smtplib.SMTPResponseException as e:  # refused at DATA itself
                code, data = 250, e.smtp_code
            except (OSError, smtplib.SMTPException) as e:
                code, data = "error", repr(e)
            self.results.append((n, code, data, late))

    def accepted(self):
        return ["<%s-%d@example.net>" % (self.prefix, n) for n, c, dc, _ in self.results
                if c == 250 and dc == 250]

    def late_accepted(self):
        return [n for n, c, dc, late in self.results if late and dc == 250]

    def late_refused(self):
        return [n for n, c, dc, late in self.results if late and dc != 250]


def run_until_dead(d, mnt, prefix):
    """Send while the disk dies: 20 messages accepted, then the shutdown,
    then until 5 have been refused after it (bounded). The sender."""
    s = Sender(d, prefix)
    s.start()
    wait_for(lambda: len(s.accepted()) >= 20 or not s.is_alive(), 60)
    s.before = list(s.accepted())
    shutdown_fs(mnt)
    s.after.set()
    wait_for(lambda: len(s.late_refused()) >= 5 or not s.is_alive(), 60)
    s.stop.set()
    s.join(60)
    return s


def eio_spool():
    """EIO under the spool, mid-stream."""
    top = os.path.join("/tmp", "parley-eio4.%d" % os.getpid())
    d = daemon('message_size = "256K"; spool_min_free = 0; command_timeout = 20; '
               'data_timeout = 20;')
    loop = None
    try:
        os.makedirs(top, exist_ok=True)
        if (loop := ext4_loop(top, d.spool)) is None:
            return
        d.start()
        s = run_until_dead(d, d.spool, "dead")
        accepted = s.accepted()
        # 250 received before the shutdown began: their fsyncs had returned
        durable = set(s.before)
        t.ok(len(accepted) >= 20 and len(s.late_refused()) >= 5,
             "ext4 shut down under the spool after %d accepted: later mail is refused" %
             len(accepted), s.results[-8:])
        t.eq(s.late_accepted(), [], "no message begun after the disk died got 250")
        late = [(c, dc) for n, c, dc, lt in s.results if lt and dc != 250]
        t.ok(all(c in (250, 421, 451, 452) and dc in (None, 421, 451, 452) for c, dc in late),
             "the refusals are 4xx (temporary: the client keeps the mail)", late[:8])
        t.ok(d.proc.poll() is None, "parleyd is still running")
        t.ok("Input/output error" in d.logtext(), "the log names the error (EIO)")
        d.stop()
        t.ok(remount(loop, d.spool), "the disk comes back (journal replayed)")
        d.start()
        t.ok(wait_for(lambda: all(d.stored().get(m) == 1 for m in durable) and
                      all(d.stored().get(m, 0) <= 1 for m in accepted) and
                      not d.spool_files(), 60),
             "the %d messages that got 250 before the shutdown are stored exactly once, "
             "none of the %d accepted twice" % (len(durable), len(accepted)),
             why_missing(d, [m for m in durable if d.stored().get(m) != 1][:4]))
        raced = [m for m in accepted if m not in durable and d.stored().get(m) != 1]
        if raced:
            print("# accepted while the file system was being shut down, and lost by it: %s"
                  % (why_missing(d, raced[:4]),), flush=True)
        st = d.stored()
        t.ok(all(v == 1 for v in st.values()), "nothing is stored twice",
             [k for k, v in st.items() if v != 1])
        t.eq(send(d, "dead-after@example.net")[:2], (250, 250), "and new mail is accepted")
    finally:
        cleanup(d)
        if loop:
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        subprocess.run(["rm", "-rf", top], capture_output=True)


def why_missing(d, mids):
    """The log lines about the messages MIDS (by Message-ID, then by their
    queue ids), for the diagnosis of a failure."""
    lines = d.logtext().splitlines()
    qids = set()
    for m in mids:
        for l in lines:
            if m in l:
                qids.update(re.findall(r"\b([0-9A-F]{13}\.[0-9A-F]+\.[0-9A-F]+)\b", l))
    return [(m, d.stored().get(m)) for m in mids], [l for l in lines if any(
        m in l for m in mids) or any(q in l for q in qids)][:40]


def eio_database():
    """EIO under the database: mail is still spooled (250), ingest fails
    and says so, nothing is quarantined, and after the disk is back every
    message is stored exactly once."""
    top = os.path.join("/tmp", "parley-eio4db.%d" % os.getpid())
    mnt = os.path.join(top, "db")
    loop = None
    os.makedirs(top, exist_ok=True)
    d = daemon('message_size = "256K"; command_timeout = 20; data_timeout = 20;', mnt)
    try:
        if (loop := ext4_loop(top, mnt)) is None:
            return
        d.start()
        t.eq(send(d, "dbdead-before@example.net")[:2], (250, 250), "database on ext4: accepted")
        t.ok(wait_for(lambda: d.stored().get("<dbdead-before@example.net>") == 1, 15), "and stored")
        s = Sender(d, "dbdead", limit=60)
        s.start()
        wait_for(lambda: len(s.accepted()) >= 10 or not s.is_alive(), 60)
        before = list(s.accepted())
        # committed before the shutdown begins: their fdatasync had returned
        durable = set(re.findall(r"stored: message-id=(<[^>]*>)", d.logtext()))
        shutdown_fs(mnt)
        s.after.set()
        wait_for(lambda: len(s.results) >= 30 or not s.is_alive(), 60)
        s.stop.set()
        s.join(60)
        accepted = s.accepted()
        t.ok(len(s.results) >= 30 and len(accepted) == len(s.results),
             "the database's disk is dead: mail is still spooled durably (%d of %d got 250)" %
             (len(accepted), len(s.results)), s.results[-5:])
        # SQLite reports the dead disk as "disk I/O error", or, when a read of
        # the database fails under the WAL index, "database disk image is
        # malformed": both are outages (store_outage), the mail stays spooled
        t.ok(wait_for(lambda: "I/O" in d.logtext() or "disk I/O error" in d.logtext() or
                      "Input/output error" in d.logtext() or "malformed" in d.logtext(), 20),
             "ingest cannot use the store and says so", d.logtext()[-3000:])
        t.ok(d.proc.poll() is None, "parleyd is still running")
        d.stop()
        t.ok(remount(loop, mnt), "the disk comes back (journal replayed)")
        d.start()
        t.ok(wait_for(lambda: all(d.stored().get(m, 0) <= 1 for m in accepted) and
                      all(d.stored().get(m) == 1 for m in durable) and not d.spool_files(), 60),
             "after the remount the spool is drained, the %d messages committed before the "
             "shutdown are stored once, none of the %d accepted twice" %
             (len(durable & set(accepted)), len(accepted)),
             why_missing(d, [m for m in accepted if d.stored().get(m) != 1][:4]))
        raced = [m for m in accepted if m not in durable and d.stored().get(m) != 1]
        if raced:
            print("# committed while the file system was being shut down, and lost by it: %s"
                  % (why_missing(d, raced[:4]),), flush=True)
        t.eq(d.spool_files("quarantine"), [], "nothing was quarantined")
        t.eq(d.query("PRAGMA integrity_check")[0][0], "ok", "the database is intact")
    finally:
        cleanup(d)
        if loop:
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        subprocess.run(["rm", "-rf", top], capture_output=True)


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root to mount a small tmpfs")
        return
    if not spool_full():
        umount_all()
        print("1..0 # SKIP mount -t tmpfs is not permitted here")
        return
    for step in (database_full, eio, eio_spool, eio_database):
        try:
            step()
        except Exception as e:  # a crash of one step is a failure, not the end
            t.ok(False, "step %s ran" % step.__name__, repr(e))
            umount_all()
    t.done()


main()
