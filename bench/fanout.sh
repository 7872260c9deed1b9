#!/bin/sh
# bench/fanout.sh - delivery: one post to a list of N subscribers, sent by
# parleyd's workers (W sessions, one transaction per copy, each result
# committed) to a throwaway Postfix relay that queues every copy durably and
# then discards it; timed from the post's 250 to the last copy marked sent.
# The reference, in the same run and to the same Postfix: Postfix's
# smtp-source sending N one-recipient messages of the same size over W
# sessions, which is what the relay can take at most. Prints both rates and
# their ratio. Run from a built tree as root: bench/fanout.sh [N] [W];
# bench/fanout.sh --sink [N] [W] measures at wire speed (bench/fanout_sink.sh).
set -eu
cd "$(dirname "$0")/.."
# bench/fanout.sh --sink [N] [W]: into smtp-sink instead (bench/fanout_sink.sh)
if [ "${1:-}" = "--sink" ]; then shift; exec bench/fanout_sink.sh "$@"; fi
N=${1:-2000}
W=${2:-4}
. bench/postfix.sh
command -v sqlite3 > /dev/null || { echo "bench: needs sqlite3 (apt-get install sqlite3)"; exit 1; }

FP=$(free_port)
postfix_start "$T/pf" "$FP" "example.net=discard:" > /dev/null
PP=$(free_port)
bench_conf "$PP" -e "s#    port = 25;#    port = $FP;#" -e "s#starttls = \"auto\";#starttls = \"no\";#" \
    -e "s#  workers = 4;#  workers = $W;#" -e "s#^daemon = {#daemon = { secret_file = \"$T/secret\";#"
i=0
while [ $i -lt "$N" ]; do echo "r$i@example.net"; i=$((i + 1)); done > "$T/subs.txt"
tools/parley -c "$T/p.conf" sub import dev "$T/subs.txt" > /dev/null
daemon/parleyd -c "$T/p.conf" -f > "$T/parleyd.log" 2>&1 &
DPID=$!
sleep 1

BODY="This is the post of the fan-out benchmark. It is about as long as a short
message to a list, with a second line and a third one, so that the copies
have a body of a realistic size."
now() { date +%s.%N; }
sent() { sqlite3 "$T/p.db" "SELECT count(*) FROM deliveries WHERE status = 'sent'" 2> /dev/null || echo 0; }
a=$(now)
printf 'From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\nSubject: bench\r\nMessage-ID: <bench@example.org>\r\n\r\n%s\r\n' "$BODY" |
	tools/parley -c "$T/p.conf" inject -f alice@example.org -r dev+post-k3vq9t2mxw8rz5pa@lists.example.org > /dev/null
k=0
while [ "$(sent)" -lt "$N" ]; do
	k=$((k + 1))
	[ $k -lt 6000 ] || { echo "bench: copies not all sent after 10 minutes"; tail -5 "$T/parleyd.log"; exit 1; }
	sleep 0.1
done
b=$(now)
SIZE=$(sqlite3 "$T/p.db" "SELECT length(raw) + 700 FROM archive LIMIT 1")
c=$(now)
smtp-source -c -s "$W" -m "$N" -l "$SIZE" -f bench@example.org -t r0@example.net "127.0.0.1:$FP" > /dev/null
d=$(now)
awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v n="$N" -v w="$W" -v s="$SIZE" 'BEGIN {
	p = b - a; r = d - c
	printf "%d copies (about %d bytes) over %d sessions: parleyd %.0f copies/s, smtp-source to the same Postfix (reference) %.0f msg/s, ratio %.2f\n", n, s, w, n / p, n / r, r / p }'
