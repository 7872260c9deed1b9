"""dns_server.py - a tiny authoritative DNS responder on 127.0.0.1 (UDP) for
the end-to-end tests: it answers TXT (and any other type, with no data)
from a table the test fills, so that DKIM verifiers find the public keys
and parleyd's DMARC lookups find the policies, without any real DNS.

Names are matched case-insensitively, without the final dot. A name in the
table answers its TXT strings (a value of several strings is one record
split into 255-octet character strings, as DKIM keys need); a name in
`silent` gets no answer at all (the client times out); one in `servfail`
gets SERVFAIL; any other name NXDOMAIN. Every query is counted in
`queries` (name -> count), so a test can see a cache at work.

Uses dnspython (Debian's python3-dnspython, a dependency of python3-dkim)
for the wire format. Test code only: binds loopback, a thread of the test
process, stopped by stop()."""
import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsServer:
    def __init__(self):
        self.records = {}   # name -> [bytes, ...] TXT values
        self.silent = set()
        self.servfail = set()
        self.queries = {}
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def add_txt(self, name, value):
        """NAME answers one TXT record of VALUE (bytes or str)."""
        v = value.encode() if isinstance(value, str) else value
        with self.lock:
            self.records.setdefault(name.lower().rstrip("."), []).append(v)

    def count(self, name):
        with self.lock:
            return self.queries.get(name.lower().rstrip("."), 0)

    def _answer(self, q):
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        if not q.question:
            r.set_rcode(dns.rcode.FORMERR)
            return r
        qq = q.question[0]
        name = qq.name.to_text(omit_final_dot=True).lower()
        with self.lock:
            self.queries[name] = self.queries.get(name, 0) + 1
            values = list(self.records.get(name, []))
        if name in self.silent:
            return None
        if name in self.servfail:
            r.set_rcode(dns.rcode.SERVFAIL)
            return r
        if not values:
            r.set_rcode(dns.rcode.NXDOMAIN)
            return r
        if qq.rdtype in (dns.rdatatype.TXT, dns.rdatatype.ANY):
            rrs = dns.rrset.RRset(qq.name, dns.rdataclass.IN, dns.rdatatype.TXT)
            rrs.ttl = 300
            for v in values:
                chunks = [v[i:i + 255] for i in range(0, len(v), 255)] or [b""]
                text = " ".join('"%s"' % c.decode("latin-1").replace("\\", "\\\\").replace('"', '\\"')
                                for c in chunks)
                rrs.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text))
            r.answer.append(rrs)
        return r

    def _run(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                q = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - a broken query gets no answer
                continue
            r = self._answer(q)
            if r is not None:
                self.sock.sendto(r.to_wire(max_size=65535), peer)

    def txt(self, name, timeout=5):
        """A dkimpy dnsfunc: the TXT record of NAME, asked of this server
        over UDP (a real query on loopback); None if there is none."""
        import dns.query
        n = name.decode() if isinstance(name, bytes) else name
        q = dns.message.make_query(dns.name.from_text(n), dns.rdatatype.TXT)
        try:
            r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)
        except Exception:  # noqa: BLE001 - a timeout is "no record" to the verifier
            return None
        for rrs in r.answer:
            for rd in rrs:
                return b"".join(rd.strings)
        return None

    def stop(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()
