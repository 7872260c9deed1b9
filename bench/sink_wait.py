#!/usr/bin/env python3
"""bench/sink_wait.py LOG OFFSET N SECONDS: wait until smtp-sink's verbose
LOG holds N more "RCPT TO:" lines past byte OFFSET, reading only what was
appended (the bench's earlier `grep -c` of the whole log every 20 ms cost
the machine a good part of a core while parleyd ran, and nothing while the
reference ran). Prints the time (seconds since the epoch) at which the Nth
line was seen; exits 1 after SECONDS without them."""
import sys
import time

MARK = b"\nsmtp-sink: RCPT TO:"


def main():
    path, off, want, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    end = time.monotonic() + limit
    seen, tail = 0, b"\n"
    with open(path, "rb") as f:
        f.seek(off)
        while seen < want:
            chunk = f.read(1 << 20)
            if not chunk:
                if time.monotonic() > end:
                    print("bench: %d of %d copies at the sink" % (seen, want), file=sys.stderr)
                    return 1
                time.sleep(0.002)
                continue
            buf = tail + chunk
            seen += buf.count(MARK)
            tail = buf[-(len(MARK) - 1):]
    print("%.6f" % time.time())
    return 0


if __name__ == "__main__":
    sys.exit(main())
