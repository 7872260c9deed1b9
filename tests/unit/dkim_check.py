#!/usr/bin/env python3
"""dkim_check.py - an independent verifier for tests/unit/test_dkim.c.

test_dkim generates keys with `openssl genpkey` as DIR/SELECTOR.pem, signs
messages with lib/dkim.c and writes each signed copy as DIR/SELECTOR-CASE.eml,
then runs `dkim_check.py DIR`. Every copy is verified with python3-dkim
(dkimpy, Debian's package), whose "DNS" answers from the public halves of
the keys, taken out of the PEM files with the openssl command (not with the
code under test): "v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>" or
"v=DKIM1; k=ed25519; p=<raw 32-byte key>" (RFC 8463 §4).

For each copy: it verifies; the signature field is well-formed (lines of at
most 78 columns, a=, c=relaxed/relaxed, d=, s=, no l=, every signed name
listed as often as RFC 6376 §5.4.2 needs plus once more for the oversigned
ones); changes that must break it do (a body byte, a signed header byte, an
oversigned field added, List-Unsubscribe-Post changed) and changes relaxed
canonicalisation allows do not (WSP at line ends, a refolded header, an
unsigned field added). Prints "ok DESC" or "not ok DESC" per check, with
"# " diagnostics; test_dkim turns them into TAP. Reads only DIR.

python3-dkim lives in Debian's system Python: if the interpreter running
this script cannot import it (a pyenv or virtualenv python3), the script
runs itself again with /usr/bin/python3.
"""
import base64
import io
import logging
import os
import re
import subprocess
import sys

try:
    import dkim
except ImportError:
    SYSTEM_PYTHON = "/usr/bin/python3"
    if (not os.environ.get("DKIM_CHECK_REEXEC") and os.access(SYSTEM_PYTHON, os.X_OK)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        os.environ["DKIM_CHECK_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print("not ok python3-dkim can be imported (apt-get install python3-dkim, "
          "or scripts/deps --test)")
    sys.exit(0)

DOMAIN = b"example.org"
FOLD_AT = 78
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
SIGNED = ["from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references",
          "list-id", "list-unsubscribe", "list-unsubscribe-post", "list-post", "list-help",
          "reply-to", "mime-version", "content-type", "content-transfer-encoding"]
OVERSIGNED = {"from", "subject", "date", "to", "reply-to", "message-id", "list-id",
              "list-unsubscribe", "list-unsubscribe-post", "content-type", "mime-version"}

results = []


def check(ok, desc, diag=None):
    results.append((bool(ok), desc, diag))


def public_record(pem_path):
    """The TXT record of the key in PEM_PATH, from `openssl pkey -pubout`."""
    der = subprocess.run(["openssl", "pkey", "-in", pem_path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    if der.startswith(ED25519_SPKI_PREFIX) and len(der) == len(ED25519_SPKI_PREFIX) + 32:
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def split_message(data):
    """(header lines with their line ends, the empty line last; body)."""
    lines, i = [], 0
    while i < len(data):
        j = data.find(b"\n", i)
        j = len(data) if j < 0 else j + 1
        lines.append(data[i:j])
        i = j
        if lines[-1] in (b"\r\n", b"\n"):
            break
    return lines, data[i:]


def fields(lines):
    """Header fields as (lower-case name, raw bytes with folds)."""
    out = []
    for ln in lines:
        if ln[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + ln)
        else:
            out.append((ln.split(b":", 1)[0].strip().lower().decode("ascii", "replace"), ln))
    return out


def sig_tags(raw):
    value = raw.split(b":", 1)[1]
    tags = {}
    for part in value.split(b";"):
        if b"=" in part:
            k, v = part.split(b"=", 1)
            tags[k.strip().decode()] = re.sub(rb"\s+", b"", v).decode()
    return tags


class Verifier:
    def __init__(self, records):
        self.records = records
        self.log = io.StringIO()
        self.logger = logging.getLogger("dkim_check")
        self.logger.handlers[:] = [logging.StreamHandler(self.log)]
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False

    def dns(self, name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        sel, _, dom = n.rstrip(".").partition("._domainkey.")
        return self.records.get(sel) if dom == DOMAIN.decode() else None

    def verify(self, data):
        self.log.seek(0)
        self.log.truncate()
        return dkim.verify(data, logger=self.logger, dnsfunc=self.dns)

    def why(self):
        return "\n".join("dkimpy: " + ln for ln in self.log.getvalue().splitlines()
                         if "body hash" in ln or "error" in ln.lower() or "valid" in ln)[:2000]


def check_shape(name, lines, flds, sel):
    sig = flds[0]
    if sig[0] != "dkim-signature":
        check(False, f"{name}: the first field is DKIM-Signature", sig[1][:60])
        return
    sig_lines = sig[1].split(b"\r\n")[:-1]
    bad = [ln for ln in sig_lines if len(ln) > FOLD_AT]
    check(not bad and sig[1].endswith(b"\r\n") and b"\n" not in sig[1].replace(b"\r\n", b""),
          f"{name}: DKIM-Signature lines of at most {FOLD_AT} columns, CRLF",
          bad[0][:100] if bad else None)
    check(all(ln[:1] == b" " and ln.strip() for ln in sig_lines[1:]),
          f"{name}: every continuation line starts with a space and has content")
    t = sig_tags(sig[1])
    want_a = "ed25519-sha256" if sel.startswith("ed25519") else "rsa-sha256"
    check(t.get("v") == "1" and t.get("a") == want_a and t.get("c") == "relaxed/relaxed"
          and t.get("d") == DOMAIN.decode() and t.get("s") == sel and "l" not in t
          and t.get("t", "").isdigit(),
          f"{name}: v=1, a={want_a}, c=relaxed/relaxed, d=, s={sel}, t=, no l=", str(t)[:300])
    listed = t.get("h", "").split(":")
    present = [f[0] for f in flds[1:]]
    wrong = []
    for n in SIGNED:
        want = present.count(n) + (1 if n in OVERSIGNED else 0)
        if listed.count(n) != want:
            wrong.append(f"{n}: {listed.count(n)} listed, {want} wanted")
    extra = [n for n in listed if n not in SIGNED]
    check(not wrong and not extra,
          f"{name}: h= lists each field present (once more if oversigned)",
          "; ".join(wrong + extra))


def first_alnum(data, start=0):
    m = re.compile(rb"[A-Za-z0-9]").search(data, start)
    return m.start() if m else -1


def flip(data, i):
    c = data[i:i + 1]
    r = b"X" if c != b"X" else b"Y"
    return data[:i] + r + data[i + 1:]


def mutations(lines, flds, body):
    """(description, message bytes, whether it must still verify)."""
    head = b"".join(lines)
    out = []
    if first_alnum(body) >= 0:
        out.append(("a body byte changed", head + flip(body, first_alnum(body)), False))
    for i, (n, raw) in enumerate(flds):
        if n == "subject":
            colon = raw.index(b":") + 1
            j = first_alnum(raw, colon)
            if j >= 0:
                changed = b"".join(f[1] for f in flds[:i]) + flip(raw, j) + \
                    b"".join(f[1] for f in flds[i + 1:])
                out.append(("a Subject byte changed", changed + lines[-1] + body, False))
            break
    sig, rest = flds[0][1], b"".join(f[1] for f in flds[1:])
    out.append(("a second Subject added", sig + b"Subject: added later\r\n" + rest + lines[-1]
                + body, False))
    out.append(("a Reply-To added", sig + rest + b"Reply-To: <x@evil.example>\r\n" + lines[-1]
                + body, False))
    for i, (n, raw) in enumerate(flds):
        if n == "list-unsubscribe-post":
            changed = b"".join(f[1] for f in flds[:i]) + b"List-Unsubscribe-Post: none\r\n" + \
                b"".join(f[1] for f in flds[i + 1:])
            out.append(("List-Unsubscribe-Post changed", changed + lines[-1] + body, False))
    out.append(("an unsigned X-Added field added", sig + b"X-Added: yes\r\n" + rest + lines[-1]
                + body, True))
    wsp = re.sub(rb"\r\n", b" \t \r\n", body)
    refolded = []
    for n, raw in flds:
        if n == "subject" and b" " in raw.rstrip(b"\r\n").split(b":", 1)[1].strip():
            v = raw.rstrip(b"\r\n")
            k = v.rindex(b" ")
            raw = v[:k] + b"\r\n\t  " + v[k + 1:] + b"\r\n"
        refolded.append(raw)
    out.append(("WSP added at body line ends, Subject refolded (relaxed)",
                b"".join(refolded) + lines[-1] + wsp, True))
    return out


def main():
    d = sys.argv[1]
    names = sorted(os.listdir(d))
    records = {}
    for n in names:
        if n.endswith(".pem"):
            try:
                records[n[:-4]] = public_record(os.path.join(d, n))
            except (subprocess.CalledProcessError, OSError) as e:
                print(f"# {n}: no public key: {e}")
    v = Verifier(records)
    emls = [n for n in names if n.endswith(".eml")]
    check(len(emls) >= 10, f"signed copies to verify: {len(emls)}")
    for n in emls:
        name = n[:-4]
        sel = name.split("-", 1)[0]
        with open(os.path.join(d, n), "rb") as f:
            data = f.read()
        lines, body = split_message(data)
        flds = fields(lines[:-1])
        ok = v.verify(data)
        check(ok, f"{name}: verifies", None if ok else v.why())
        check_shape(name, lines, flds, sel)
        for desc, msg, want in mutations(lines, flds, body):
            got = v.verify(msg)
            check(got == want, f"{name}: {desc}: {'verifies' if want else 'fails'}",
                  None if got == want else v.why())
    for ok, desc, diag in results:
        print(("ok " if ok else "not ok ") + desc)
        if diag and not ok:
            for ln in str(diag).splitlines():
                print("# " + ln)
    return 0


if __name__ == "__main__":
    sys.exit(main())
