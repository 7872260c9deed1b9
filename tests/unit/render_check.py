#!/usr/bin/env python3
"""render_check.py - an independent reader for tests/unit/test_render.c.

test_render writes each input as NAME.in.eml and its rendered copy as
NAME.out.eml into one directory and runs `render_check.py DIR`. Every copy is
parsed with Python's email package (policy.default) and held to what any copy
must be (CRLF header lines within 998 octets, our list fields, no MIME defect
the input did not have, every non-text part byte for byte); copies with a
known NAME are also checked for their decoded content. Prints one line per
check, "ok DESC" or "not ok DESC", with "# " diagnostics; test_render turns
them into TAP. Reads only DIR; never writes.
"""
import email
import email.policy
import html
import os
import sys

FOOTER = "Sent to dev@lists.example.org\nM\u00fcnchen \u263a \u2014 unsubscribe: https://lists.example.org/u"
ASCII_FOOTER = "Sent to dev@lists.example.org\nUnsubscribe: https://lists.example.org/u"
FOOTER_LINES = FOOTER.split("\n")

results = []


def check(ok, desc, diag=None):
    results.append((bool(ok), desc, diag))


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def read(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return f.read()


def nl(s):
    return s.replace("\r\n", "\n")


def defects(msg):
    out = set()
    for part in msg.walk():
        for d in part.defects:
            out.add(type(d).__name__)
        if part.is_multipart() is False:
            try:
                part.get_payload(decode=True)
            except Exception as e:  # noqa: BLE001 - any failure is a defect here
                out.add("payload:" + type(e).__name__)
    return out


def leaves(msg):
    return [p for p in msg.walk() if not p.is_multipart()]


def binary_payloads(msg):
    out = []
    for p in leaves(msg):
        if p.get_content_maintype() in ("text",) and p.get_content_subtype() in ("plain", "html"):
            continue
        try:
            out.append(p.get_payload(decode=True) or b"")
        except Exception:  # noqa: BLE001
            out.append(None)
    return out


def header_lines(raw):
    end = raw.find(b"\r\n\r\n")
    head = raw[: end + 2] if end >= 0 else raw
    return head.split(b"\r\n")[:-1], head


def generic(name, raw_in, raw_out):
    lines, head = header_lines(raw_out)
    check(b"\n" not in head.replace(b"\r\n", b"") and b"\r" not in head.replace(b"\r\n", b""),
          f"{name}: header lines end in CRLF")
    longest = max((len(l) for l in lines), default=0)
    check(longest <= 998, f"{name}: header lines within 998 octets", f"longest {longest}")
    out = parse(raw_out)
    for h in ("From", "Author", "To", "Reply-To", "Message-ID", "List-Id", "List-Post",
              "List-Help", "List-Unsubscribe", "Precedence", "MIME-Version"):
        check(len(out.get_all(h) or []) == 1, f"{name}: exactly one {h}")
    try:
        din = defects(parse(raw_in))
    except Exception:  # noqa: BLE001 - hostile input
        din = None
    dout = defects(out)
    if din is not None:
        new = dout - din
        check(not new, f"{name}: no new MIME defects", f"new: {sorted(new)}")
        bin_in = binary_payloads(parse(raw_in))
        bin_out = binary_payloads(out)
        # a broken multipart Python reads as one opaque part may gain the
        # CR LF that belongs to our delimiter: compare without final line ends
        bin_out = [b.rstrip(b"\r\n") if b else b for b in bin_out]
        missing = [i for i, b in enumerate(bin_in) if (b.rstrip(b"\r\n") if b else b) not in bin_out]
        check(not missing, f"{name}: every non-text part byte for byte",
              f"{len(missing)} of {len(bin_in)} missing")
        src = parse(raw_in)
        if (name.startswith("corpus-") and src.get_content_type() == "text/plain" and
                out.get_content_type() == "text/plain" and not src.defects):
            try:
                orig = text_of(src)
            except Exception:  # noqa: BLE001 - unknown charset and the like
                orig = None
            if orig is not None and "\ufffd" not in orig:
                footer_follows(name, orig, text_of(out))


def text_of(part):
    return nl(part.get_content())


def footer_follows(name, orig, new, footer=FOOTER):
    """NEW must be ORIG, then only line ends, then '-- ' and the footer
    (trailing blank lines of ORIG, and the line end Python drops before a
    boundary, make the exact count of line ends vary)."""
    orig, new = nl(orig).rstrip("\r\n"), nl(new)
    rest = new[len(orig):] if new.startswith(orig) else None
    ok = rest is not None and (not orig or rest[:1] in ("\r", "\n")) and \
        rest.strip("\r\n") == "-- \n" + footer
    check(ok, f"{name}: decoded text is the original plus the footer",
          f"got {new!r}\n# want {orig!r} + line ends + {'-- ' + chr(10) + footer!r}")


def html_has_footer(name, h):
    low = h.lower()
    i = low.find("parley-footer")
    check(i >= 0, f"{name}: html has the footer")
    end = low.rfind("</body>")
    if end >= 0:
        check(i < end, f"{name}: html footer before </body>")
    text = html.unescape(h[i:])
    check(all(l in text for l in FOOTER_LINES), f"{name}: html footer text (escaped) intact")


def case_plain(d, out, src):
    footer_follows("plain", text_of(src), text_of(out))
    check(str(out["Subject"]) == "[dev] Hello world", "plain: Subject prefixed", str(out["Subject"]))
    f = out["From"].addresses[0]
    check(f.display_name == "Alice Example via dev" and f.addr_spec == "dev@lists.example.org",
          "plain: From is the author via the list", str(out["From"]))
    check(out.get_content_charset() == "utf-8", "plain: charset utf-8 for a non-ASCII footer")
    for h in ("Cc", "DKIM-Signature", "Return-Path", "Received", "Sender", "Delivered-To",
              "X-Original-To", "Errors-To", "In-Reply-To", "References"):
        check(out[h] is None, f"plain: no {h}")
    check(out["X-Custom"] == "kept", "plain: other fields kept")


def case_utf8(d, out, src):
    footer_follows("utf8_8bit", text_of(src), text_of(out))
    check(out["Content-Transfer-Encoding"] == "8bit", "utf8_8bit: stays 8bit")


def case_qp(d, out, src):
    footer_follows("qp_latin1", text_of(src), text_of(out))
    check("Gr\u00fc\u00dfe, caf\u00e9 au lait" in text_of(out), "qp_latin1: latin-1 text converted")
    check(out.get_content_charset() == "utf-8", "qp_latin1: charset now utf-8")
    check(out.get_param("format") == "flowed", "qp_latin1: other parameters kept")
    check(out["Content-Transfer-Encoding"] == "quoted-printable", "qp_latin1: still quoted-printable")


def case_b64(d, out, src):
    footer_follows("base64", text_of(src), text_of(out))
    check(out["Content-Transfer-Encoding"] == "base64", "base64: still base64")


def case_alt(d, out, src):
    check(out.get_content_type() == "multipart/alternative", "alt: still multipart/alternative")
    parts = list(out.iter_parts())
    sparts = list(src.iter_parts())
    check(len(parts) == 2, "alt: two parts")
    footer_follows("alt/plain", text_of(sparts[0]), text_of(parts[0]))
    html_has_footer("alt/html", parts[1].get_content())
    check(nl(parts[1].get_content()).startswith(nl(sparts[1].get_content()).split("</body>")[0]),
          "alt/html: original html kept before the footer")


def case_mixed(d, out, src):
    parts = list(out.iter_parts())
    check(out.get_content_type() == "multipart/mixed" and len(parts) == 3,
          "mixed: a third part added", f"{len(parts)} parts")
    check(text_of(parts[0]) == text_of(list(src.iter_parts())[0]), "mixed: first text untouched")
    att = list(src.iter_parts())[1].get_payload(decode=True)
    check(parts[1].get_payload(decode=True) == att and len(att) == 300,
          "mixed: attachment byte for byte")
    check(parts[2].get_content_type() == "text/plain" and text_of(parts[2]).rstrip("\n") == FOOTER,
          "mixed: footer part", repr(text_of(parts[2])))


def case_html(d, out, src):
    check(out.get_content_type() == "text/html", "html_only: still text/html")
    html_has_footer("html_only", out.get_content())


def case_encoded(d, out, src):
    check(str(out["Subject"]) == "[dev] Caf\u00e9 und \u00fcber", "encoded: Subject decodes",
          repr(str(out["Subject"])))
    f = out["From"].addresses[0]
    check(f.display_name == "J\u00f6rg M\u00fcller via dev", "encoded: From name decodes",
          repr(f.display_name))
    check(str(out["Author"]) == '"J\u00f6rg M\u00fcller" <joerg@example.de>' or
          str(out["Author"]) == "J\u00f6rg M\u00fcller <joerg@example.de>",
          "encoded: Author decodes", str(out["Author"]))


def case_long(d, out, src):
    check(str(out["Subject"]) == "[dev] " + str(src["Subject"]), "long: Subject unfolds intact")
    check(str(out["X-Long"]) == str(src["X-Long"]), "long: refolded field unfolds intact")
    check(out["X-Huge"] is None, "long: unfoldable field dropped")


def case_long_utf8(d, out, src):
    check(str(out["Subject"]) == "[dev] " + str(src["Subject"]), "long_utf8: Subject round-trips",
          repr(str(out["Subject"])))


def case_thread(d, out, src):
    check(out["In-Reply-To"] == "<p1@lists.example.org>", "thread: In-Reply-To")
    refs = " ".join(f"<r{i}@lists.example.org>" for i in range(20))
    check(" ".join(str(out["References"]).split()) == refs, "thread: References unfold intact")


def case_image(d, out, src):
    parts = list(out.iter_parts())
    check(out.get_content_type() == "multipart/mixed" and len(parts) == 2, "image: wrapped")
    check(parts[0].get_content_type() == "image/png" and
          parts[0].get_payload(decode=True) == src.get_payload(decode=True),
          "image: image byte for byte")
    check(text_of(parts[1]).rstrip("\n") == FOOTER, "image: footer part")


def case_signed(d, out, src):
    parts = list(out.iter_parts())
    check(out.get_content_type() == "multipart/mixed" and len(parts) == 2 and
          parts[0].get_content_type() == "multipart/signed", "signed: wrapped, not touched")


def case_ascii_footer(d, out, src):
    footer_follows("ascii_footer", text_of(src), text_of(out), ASCII_FOOTER)


def case_alt_related(d, out, src):
    parts = list(out.iter_parts())
    check(len(parts) == 1 and parts[0].get_content_type() == "multipart/alternative",
          "alt_related: footer inside the alternative, no part added to the mixed")
    alt = list(parts[0].iter_parts())
    salt = list(list(src.iter_parts())[0].iter_parts())
    footer_follows("alt_related/plain", text_of(salt[0]), text_of(alt[0]))
    rel = list(alt[1].iter_parts())
    html_has_footer("alt_related/html", rel[0].get_content())
    check(rel[1].get_payload(decode=True) == list(salt[1].iter_parts())[1].get_payload(decode=True),
          "alt_related: image byte for byte")


def case_qp_edge(d, out, src):
    footer_follows("qp_edge", text_of(src), text_of(out))


CASES = {
    "plain": case_plain, "utf8_8bit": case_utf8, "qp_latin1": case_qp, "base64": case_b64,
    "alt": case_alt, "mixed": case_mixed, "html_only": case_html, "encoded": case_encoded,
    "long": case_long, "long_utf8": case_long_utf8, "thread": case_thread, "image": case_image,
    "signed": case_signed, "ascii_footer": case_ascii_footer, "alt_related": case_alt_related,
    "qp_edge": case_qp_edge,
}


def main():
    d = sys.argv[1]
    names = sorted(n[: -len(".out.eml")] for n in os.listdir(d) if n.endswith(".out.eml"))
    corpus = 0
    for name in names:
        raw_in, raw_out = read(d, name + ".in.eml"), read(d, name + ".out.eml")
        before = len(results)
        try:
            generic(name, raw_in, raw_out)
            if name in CASES:
                CASES[name](d, parse(raw_out), parse(raw_in))
        except Exception as e:  # noqa: BLE001 - report, do not stop
            check(False, f"{name}: checks ran", f"{type(e).__name__}: {e}")
        if name.startswith("corpus-"):
            corpus += 1
            bad = [r for r in results[before:] if not r[0]]
            del results[before:]
            results.extend(bad)
    if corpus:
        check(True, f"corpus: {corpus} rendered copies read back")
    for name in CASES:
        check(name in names, f"{name}: case present")
    for ok, desc, diag in results:
        print(("ok " if ok else "not ok ") + desc)
        if not ok and diag:
            print("# " + diag)
    return 0 if all(r[0] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
