#!/bin/sh
# bench/load.sh - parleyd's SMTP listener under the load attacks of issue 9
# (1,000 sessions, slow-loris, 10^6 RCPT, 500,000 To: lines, 100,000
# continuation lines, a 10,000-deep multipart): peak RSS of parleyd and a
# normal client's latency during each attack against the same client without
# attack in the same run (ratio). Needs root (or any user that may bind
# 127.0.0.0/8 addresses, which Linux allows everyone) and python3.
# Run from a built tree: bench/load.sh [BUILD-DIR]   (default: . or _build/std)
set -eu
cd "$(dirname "$0")/.."
B=${1:-}
if [ -z "$B" ]; then
	if [ -x daemon/parleyd ]; then B=.; else B=_build/std; fi
fi
PARLEYD=$B/daemon/parleyd PARLEY=$B/tools/parley SAMPLE_CONF=etc/parley.conf \
	exec python3 bench/load.py
