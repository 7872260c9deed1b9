"""tlscert.py - a throwaway self-signed certificate for the e2e tests' TLS
servers (Dovecot in test_imap.py, hostile_imap.py in test_imap_hostile.py).
Test code only."""
import os
import subprocess


def self_signed(top, name="localhost"):
    """(cert, key) paths in TOP: a 2-day RSA certificate for NAME (also its
    subjectAltName), the key readable by the servers' unprivileged users."""
    cert, key = os.path.join(top, "cert.pem"), os.path.join(top, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=%s" % name, "-addext", "subjectAltName=DNS:%s" % name,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    os.chmod(key, 0o644)
    return cert, key
