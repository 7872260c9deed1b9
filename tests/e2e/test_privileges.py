#!/usr/bin/env python3
"""test_privileges.py - parleyd started as root (issue 9, "Privileges and
files"; defects 4, 13 and 16): it binds, then runs as daemon.user with no
supplementary groups; the spool, database and token key become that user's
(directories 0700, files 0600); a symbolic link or hard link planted in the
spool or as the database's -wal/-shm never hands a root file over (it is
logged and left); a configuration or secret file others can write, or that
another user owns, stops the start with the path named; and a new token key
is fsynced with its directory (strace); a DKIM key the user cannot read
is used from start but warned about, and refuses reloads, one 0640
root:group is read again at a reload (issue 10). Skipped unless run as
root."""
import glob
import os
import pwd
import re
import shutil
import smtplib
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PARLEYD, Daemon, Tap, wait_for  # noqa: E402

t = Tap()
USER = "nobody"


def mode(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def owner(p):
    return os.lstat(p).st_uid


def status_ids(pid):
    """(uids, gids, groups) from /proc/PID/status."""
    out = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out.get("Uid"), out.get("Gid"), out.get("Groups")


def targets(top, n):
    """N root-owned 0600 files under TOP (a root-only directory)."""
    paths = []
    for i in range(n):
        p = os.path.join(top, "root-secret-%d" % i)
        with open(p, "w") as f:
            f.write("root only\n")
        os.chmod(p, 0o600)
        paths.append(p)
    return paths


def send(d, mid):
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=10)
    s.sendmail("alice@example.org", ["dev+post-k3vq9t2mxw8rz5pa@lists.example.org"],
               "From: alice@example.org\r\nTo: dev@lists.example.org\r\nSubject: hi\r\n"
               "Message-ID: <%s>\r\n\r\nHello\r\n" % mid)
    s.quit()


def planted_spool(pw, top):
    """Symlinks and a hard link to root files in incoming/new and quarantine:
    none is handed over; the daemon runs as the user, with private files."""
    d = Daemon(extra_daemon='  user = "%s";' % USER)
    os.chown(d.dir, pw.pw_uid, pw.pw_gid)
    new = os.path.join(d.spool, "incoming", "new")
    quar = os.path.join(d.spool, "quarantine")
    os.makedirs(new)
    os.makedirs(os.path.join(d.spool, "incoming", "tmp"))
    os.makedirs(quar)
    tg = targets(top, 4)
    os.symlink(tg[0], os.path.join(new, "evil-link"))
    os.symlink(tg[1], os.path.join(quar, "evil-link"))
    os.link(tg[2], os.path.join(quar, "evil-hardlink"))
    rootdir = os.path.join(top, "rootdir")
    os.mkdir(rootdir, 0o700)
    os.symlink(rootdir, os.path.join(quar, "evil-dir"))
    try:
        d.start()
        t.ok(wait_for(lambda: "running as user %s" % USER in d.logtext(), 10), "parleyd switches to %s" % USER,
             d.logtext())
        uid, gid, groups = status_ids(d.proc.pid)
        t.eq(uid, [str(pw.pw_uid)] * 4, "after binding, every uid of the process is %s's" % USER)
        t.eq(gid, [str(pw.pw_gid)] * 4, "and every gid")
        t.eq(groups, [], "and no supplementary groups")
        for i, what in enumerate(("incoming/new", "quarantine", "quarantine (hard link)")):
            t.ok(owner(tg[i]) == 0 and mode(tg[i]) == 0o600,
                 "a root file linked from %s still belongs to root, 0600" % what,
                 (owner(tg[i]), oct(mode(tg[i]))))
        t.ok(owner(rootdir) == 0, "a root directory linked from quarantine still belongs to root")
        log = d.logtext()
        t.ok(re.search(r"incoming/new/evil-link: a symbolic link, not a regular file: left as it is", log),
             "the symlink in incoming/new is logged", log)
        t.ok(re.search(r"quarantine/evil-link: a symbolic link, not a regular file: left as it is", log),
             "the symlink in quarantine is logged", log)
        t.ok(re.search(r"quarantine/evil-hardlink: a regular file with other hard links, not a regular file", log),
             "the hard link is logged", log)
        t.ok(re.search(r"quarantine/evil-dir: a symbolic link, not a regular file: left as it is", log),
             "the linked directory is logged", log)
        send(d, "priv1@example.org")
        t.ok(d.wait_ingested(1), "a message is taken and ingested as %s" % USER)
        for p in (d.spool, os.path.join(d.spool, "incoming"), new, quar):
            t.ok(owner(p) == pw.pw_uid and mode(p) == 0o700, "%s: %s's, 0700" % (os.path.relpath(p, d.dir), USER),
                 (owner(p), oct(mode(p))))
        for p in (d.db, d.db + "-wal", d.db + "-shm", os.path.join(d.dir, "secret")):
            t.ok(os.path.exists(p) and owner(p) == pw.pw_uid and mode(p) == 0o600,
                 "%s: %s's, 0600" % (os.path.basename(p), USER),
                 (os.path.exists(p) and (owner(p), oct(mode(p)))))
        t.ok(mode(d.dir) == 0o700, "the database's directory (the user's) is 0700", oct(mode(d.dir)))
    finally:
        d.cleanup()


def planted_wal(pw, top):
    """The database's -wal and -shm as symlinks to root files: left as they
    are, logged."""
    d = Daemon(extra_daemon='  user = "%s";' % USER)
    os.chown(d.dir, pw.pw_uid, pw.pw_gid)
    tg = targets(top, 2)
    os.symlink(tg[0], d.db + "-wal")
    os.symlink(tg[1], d.db + "-shm")
    try:
        d.start(wait=False)
        t.ok(wait_for(lambda: "parley.db-shm: a symbolic link" in d.logtext(), 10), "the -shm link is logged",
             d.logtext())
        t.ok("parley.db-wal: a symbolic link, not a regular file: left as it is, not given to user %s" % USER
             in d.logtext(), "the -wal link is logged", d.logtext())
        for i, what in enumerate(("-wal", "-shm")):
            t.ok(owner(tg[i]) == 0 and mode(tg[i]) == 0o600,
                 "a root file linked as the database's %s still belongs to root, 0600" % what)
    finally:
        d.cleanup()


def refused(pw, top):
    """A configuration or secret file others can write, or another user owns:
    parleyd refuses to start and names it."""
    d = Daemon(extra_daemon='  user = "%s";' % USER)
    try:
        for m in (0o666, 0o620):
            os.chmod(d.conf, m)
            r = subprocess.run([PARLEYD, "-c", d.conf, "-f"], capture_output=True, text=True, timeout=30)
            t.ok(r.returncode == 1 and "%s: the configuration is writable by" % d.conf in r.stderr and
                 "refusing to start" in r.stderr, "a %o configuration: exit 1, the file named" % m, r.stderr)
        os.chmod(d.conf, 0o644)
        os.chown(d.conf, 12345, 12345)
        r = subprocess.run([PARLEYD, "-c", d.conf, "-f"], capture_output=True, text=True, timeout=30)
        t.ok(r.returncode == 1 and "%s: the configuration belongs to uid 12345" % d.conf in r.stderr,
             "a configuration owned by another user: exit 1, the file named", r.stderr)
        os.chown(d.conf, 0, 0)
        key = os.path.join(d.dir, "secret")
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        for m in (0o622, 0o640):
            os.chmod(key, m)
            r = subprocess.run([PARLEYD, "-c", d.conf, "-f"], capture_output=True, text=True, timeout=30)
            t.ok(r.returncode == 1 and "%s: the token key (daemon.secret_file) is" % key in r.stderr,
                 "a %o token key: exit 1, the file named" % m, r.stderr)
        t.ok(not os.path.exists(d.db), "nothing was started: no database made")
        os.chmod(key, 0o600)
        tg = targets(top, 1)[0]
        os.symlink(tg, os.path.join(d.dir, "parleyd.pid"))
        r = subprocess.run([PARLEYD, "-c", d.conf, "-f"], capture_output=True, text=True, timeout=30)
        t.ok(r.returncode == 1 and "parleyd.pid: a symbolic link: refusing it" in r.stderr,
             "a pid file that is a symbolic link: exit 1, refused", r.stderr)
        t.eq(open(tg).read(), "root only\n", "and the file it points to is untouched")
    finally:
        d.cleanup()


def key_fsync():
    """A new token key: the file is fsynced, linked, then its directory is
    opened and fsynced (strace)."""
    if shutil.which("strace") is None:
        t.ok(True, "# SKIP strace is not installed (scripts/deps --test)")
        return
    d = Daemon(extra_daemon='  user = "root";')
    trace = os.path.join(d.dir, "strace.out")
    logf = open(d.log, "a")
    p = subprocess.Popen(["strace", "-ff", "-qq", "-o", trace, "-e", "trace=link,openat,fsync",
                          PARLEYD, "-c", d.conf, "-f"], stdout=logf, stderr=subprocess.STDOUT)
    try:
        t.ok(wait_for(lambda: "created a new token key" in d.logtext(), 30), "parleyd makes a token key",
             d.logtext())
        pidfile = os.path.join(d.dir, "parleyd.pid")
        wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 10)
        os.kill(int(open(pidfile).read()), 15)
        p.wait(30)
        key = os.path.join(d.dir, "secret")
        linked = synced = False
        for f in glob.glob(trace + ".*"):   # one file a thread: its calls in order
            lines = open(f).read().splitlines()
            i = next((n for n, l in enumerate(lines)
                      if re.match(r'link\("%s\.\w+", "%s"\)\s+= 0' % (key, key), l)), None)
            if i is None:
                continue
            linked = True
            fd = None
            for l in lines[i + 1:]:
                m = re.match(r'openat\(AT_FDCWD, "%s", [A-Z_|]*O_DIRECTORY[A-Z_|]*\)\s+= (\d+)' % d.dir, l)
                if m and fd is None:
                    fd = m.group(1)
                elif fd is not None and re.match(r"fsync\(%s\)\s+= 0" % fd, l):
                    synced = True
                    break
        t.ok(linked, "the key is linked into place")
        t.ok(synced, "then, in the same thread, its directory is opened and fsynced")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
        d.cleanup()


def default_user():
    """No daemon.user set: the default, parley (scripts/deps creates it). Its
    database directory given to parley: parleyd switches to it. Left root's:
    a warning, parleyd stays root and serves (as when the user does not
    exist); the same directory with daemon.user = "parley" set explicitly
    is an error that names the directory."""
    try:
        pw = pwd.getpwnam("parley")
    except KeyError:
        t.ok(True, "# SKIP no user parley (scripts/deps --test creates it)")
        return
    for case in ("given", "root's", "explicit"):
        d = Daemon(extra_daemon='  user = "parley";' if case == "explicit" else "")
        text = open(d.conf).read()
        if case != "explicit":
            text = text.replace('\n  user = "root";', "")   # the harness's stay-root line
            open(d.conf, "w").write(text)
        t.ok(re.search(r'(?m)^\s*user\s*=', text) is None or case == "explicit",
             "%s: the configuration %s daemon.user" % (case, "sets" if case == "explicit" else "has no"))
        if case == "given":
            os.chown(d.dir, pw.pw_uid, pw.pw_gid)
        try:
            if case == "explicit":
                r = subprocess.run([PARLEYD, "-c", d.conf, "-f"], capture_output=True, text=True,
                                   timeout=30)
                t.ok(r.returncode == 1 and "its directory must be writable by user 'parley'" in r.stderr
                     and d.db in r.stderr,
                     "daemon.user = parley, database directory root's: exit 1, the directory named",
                     (r.returncode, r.stderr))
                continue
            d.start()
            want = pw.pw_uid if case == "given" else 0
            t.ok(wait_for(lambda: status_ids(d.proc.pid)[0] == [str(want)] * 4, 10),
                 "%s database directory: parleyd runs as %s" %
                 (case, "parley" if want else "root"), status_ids(d.proc.pid))
            if case == "root's":
                t.ok("running as root: %s's directory is not writable by user 'parley'" % d.db
                     in d.logtext(), "and warns, naming the database and the user", d.logtext())
            else:
                t.ok("running as user parley" in d.logtext(), "and says so", d.logtext())
            send(d, "default-%s@example.org" % case[:4])
            t.ok(d.wait_ingested(1), "and takes mail in")
        finally:
            d.stop()
            d.cleanup()


def dkim_keys(pw):
    """DKIM keys after root is given up: a 0600 root key is loaded at start
    and signs, but the daemon warns that reloads will be refused, and a
    reload is refused, naming the file; a key 0640 root:USER's group
    warns of nothing and reloads."""
    for case in ("root-only", "group-readable"):
        d = Daemon(extra_daemon='  user = "%s";' % USER)
        os.chown(d.dir, pw.pw_uid, pw.pw_gid)
        key = os.path.join(d.dir, "dkim.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", key], check=True,
                       capture_output=True)
        if case == "root-only":
            os.chmod(key, 0o600)
        else:
            os.chown(key, 0, pw.pw_gid)
            os.chmod(key, 0o640)
        text = open(d.conf).read().replace(
            "daemon = {", 'daemon = {\n  dkim = { algorithm = "ed25519-sha256"; selector = "s"; key_file = "%s"; };'
            % key, 1)
        open(d.conf, "w").write(text)
        try:
            d.start()
            warned = wait_for(lambda: "running as user %s" % USER in d.logtext(), 10) and \
                "is not readable after dropping root" in d.logtext()
            t.ok(warned == (case == "root-only"),
                 "%s DKIM key: %s at start" % (case, "a warning that reloads will be refused" if case == "root-only"
                                                else "no warning"), d.logtext()[-1500:])
            n = d.logtext().count("reloaded ") + d.logtext().count("reload failed")
            d.kill(1)  # SIGHUP
            wait_for(lambda: d.logtext().count("reloaded ") + d.logtext().count("reload failed") > n, 10)
            if case == "root-only":
                t.ok("reload failed" in d.logtext() and key in d.logtext(),
                     "root-only DKIM key: the reload is refused, the key named", d.logtext()[-1500:])
            else:
                t.ok("reloaded " in d.logtext() and "reload failed" not in d.logtext(),
                     "group-readable DKIM key: the reload is taken", d.logtext()[-1500:])
        finally:
            d.stop()
            d.cleanup()


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP not root: cannot test dropping privileges")
        return
    pw = pwd.getpwnam(USER)
    top = tempfile.mkdtemp(prefix="parley-root.")
    os.chmod(top, 0o700)
    try:
        planted_spool(pw, top)
        planted_wal(pw, top)
        refused(pw, top)
        key_fsync()
        default_user()
        dkim_keys(pw)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
