#!/bin/sh
# bench/inbound.sh - SMTP intake: time N messages of SIZE bytes sent by
# Postfix's smtp-source over C parallel sessions to parleyd (each message
# fsync'd into the spool before 250, then ingested) and, as the reference in
# the same run, to a throwaway Postfix that queues them durably too (its
# transport discards them after). Prints both rates and their ratio.
# Run from a built tree as root: bench/inbound.sh [N] [SIZE] [C]
set -eu
cd "$(dirname "$0")/.."
N=${1:-2000}
SIZE=${2:-4096}
C=${3:-4}
. bench/postfix.sh

PP=$(free_port)
bench_conf "$PP" -e "s#sessions_per_ip = 10;#sessions_per_ip = 100;#"
daemon/parleyd -c "$T/p.conf" -f > "$T/parleyd.log" 2>&1 &
DPID=$!
sleep 1
FP=$(free_port)
postfix_start "$T/pf" "$FP" "lists.example.org=discard:" > /dev/null

now() { date +%s.%N; }
send() { smtp-source -c -s "$C" -m "$N" -l "$SIZE" -f bench@example.net -t dev@lists.example.org "127.0.0.1:$1" > /dev/null; }
a=$(now); send "$PP"; b=$(now)
c=$(now); send "$FP"; d=$(now)
awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v n="$N" -v s="$SIZE" -v k="$C" 'BEGIN {
	p = b - a; r = d - c
	printf "%d messages of %d bytes over %d sessions: parleyd %.0f msg/s, Postfix (reference) %.0f msg/s, ratio %.2f\n", n, s, k, n / p, n / r, r / p }'
