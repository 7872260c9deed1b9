#!/bin/sh
# bench/fanout_sink.sh - delivery at wire speed (issue 10), run by
# `bench/fanout.sh --sink [N] [W]`: one post of about 4 KB to N subscribers
# (default 20000), every copy personalised (VERP sender, reply and
# unsubscribe tokens) and its result committed, sent by W workers (default:
# the sample configuration's) into Postfix's smtp-sink on loopback; the
# reference, in the same run and into the same sink: smtp-source sending N
# one-recipient messages of the same size over W reused sessions. Two pairs
# (PAIRS=1: one, for N=1000000), the best ratio counts. Prints per pair
# parley's copies/s, smtp-source's msg/s, their ratio, parleyd's CPU
# seconds and peak RSS (VmHWM), and that the sink counted exactly one copy
# per recipient. Needs root and postfix.
# DKIM=rsa or DKIM=ed25519 signs every copy (a key made in the run) and
# prints `openssl speed`'s ceiling on all cores too; with rsa the best
# ratio is against that ceiling (the signature is the limit, issue 10).
# Run from the top of the source tree; BUILD names the build tree if it is
# not the source tree itself (BUILD=_build/std bench/fanout.sh --sink).
set -eu
N=${1:-20000}
B=${BUILD:-.}
W=${2:-}
. bench/postfix.sh
SINKPID=
cleanup_sink() {
	[ -n "$SINKPID" ] && kill "$SINKPID" 2> /dev/null
	cleanup
}
trap cleanup_sink EXIT
command -v smtp-sink > /dev/null || { echo "bench: needs smtp-sink (apt-get install postfix)"; exit 1; }
[ -n "$W" ] || W=$(sed -n 's/^ *workers = \([0-9]*\);.*/\1/p' etc/parley.conf | head -1)
KP=$(free_port)
PP=$(free_port)
bench_conf "$PP" -e "s#    port = 25;#    port = $KP;#" -e "s#starttls = \"auto\";#starttls = \"no\";#" \
    -e "s#  workers = [0-9]*;#  workers = $W;#" \
    -e "s#^daemon = {#daemon = { secret_file = \"$T/secret\"; user = \"root\";#"
# DKIM=rsa or DKIM=ed25519: every copy signed with a key made here, and the
# ceiling `openssl speed` gives for that signature on all cores, measured
# before each pair (like smtp-source: the machine's speed drifts)
CEIL=
ceiling() {
	if [ "$DKIM" = rsa ]; then
		openssl speed -seconds 3 -multi "$(nproc)" rsa2048 2> /dev/null |
			awk '$1 == "rsa" && $2 == "2048" { print $6; exit }'
	else
		openssl speed -seconds 3 -multi "$(nproc)" ed25519 2> /dev/null |
			awk '/bits EdDSA \(Ed25519\)/ { print $(NF - 1); exit }'
	fi
}
case ${DKIM:-} in
'') ;;
rsa | ed25519)
	if [ "$DKIM" = rsa ]; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/dkim.pem" 2> /dev/null
		alg=rsa-sha256
	else
		openssl genpkey -algorithm ED25519 -out "$T/dkim.pem" 2> /dev/null
		alg=ed25519-sha256
	fi
	chmod 600 "$T/dkim.pem"
	sed -i "s#^daemon = {#daemon = { dkim = { algorithm = \"$alg\"; selector = \"bench\"; key_file = \"$T/dkim.pem\"; };#" "$T/p.conf"
	echo "bench: every copy DKIM-signed ($alg); the openssl speed ceiling on $(nproc) cores is measured before each pair"
	;;
*) echo "bench: DKIM is rsa or ed25519"; exit 2 ;;
esac
i=0
while [ $i -lt "$N" ]; do echo "r$i@example.net"; i=$((i + 1)); done > "$T/subs.txt"
"$B"/tools/parley -c "$T/p.conf" sub import dev "$T/subs.txt" > /dev/null
SLOG=$T/sink.log
[ -d /dev/shm ] && SLOG=$(mktemp /dev/shm/parley-bench.XXXXXX)	# the sink's log off the disk
smtp-sink -u nobody -v "127.0.0.1:$KP" 1024 > "$SLOG" 2>&1 &
SINKPID=$!
"$B"/daemon/parleyd -c "$T/p.conf" -f > "$T/parleyd.log" 2>&1 &
DPID=$!
k=0
until grep -q "delivery: $W workers" "$T/parleyd.log"; do
	k=$((k + 1)); [ $k -lt 100 ] || { echo "bench: parleyd did not start"; exit 1; }; sleep 0.1
done

now() { date +%s.%N; }
cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$DPID/stat"; }
# 56 lines joined by CR LF, no line end after the last: $(...) would cut its
# LF and leave a bare CR, which makes the copies quoted-printable
BODY=$(awk 'BEGIN { for (i = 0; i < 56; i++) printf "%s%s", (i ? "\r\n" : ""), "This line of the post is seventy characters long, give or take a few.." }')
best=0
for try in $(seq "${PAIRS:-2}"); do
	[ -z "${DKIM:-}" ] || CEIL=$(ceiling)
	s=$(now)
	smtp-source -d -s "$W" -m "$N" -l 4096 -f ref@example.net -t ref@example.net "127.0.0.1:$KP" > /dev/null
	e=$(now)
	ref=$(awk -v n="$N" -v s="$s" -v e="$e" 'BEGIN { printf "%.0f", n / (e - s) }')
	off=$(stat -c %s "$SLOG"); c0=$(cpu); s=$(now)
	printf 'From: Alice <alice@example.org>\r\nTo: dev@lists.example.org\r\nSubject: speed %s\r\nMessage-ID: <bench-sink-%s@example.org>\r\n\r\n%s\r\n' \
		"$try" "$try" "$BODY" |
		"$B"/tools/parley -c "$T/p.conf" inject -f alice@example.org -r dev+post-k3vq9t2mxw8rz5pa@lists.example.org > /dev/null
	e=$(python3 bench/sink_wait.py "$SLOG" "$off" "$N" 600) ||
		{ echo "bench: copies not all at the sink after 10 minutes"; exit 1; }
	c1=$(cpu)
	rss=$(sed -n 's/^VmHWM: *//p' "/proc/$DPID/status")
	rss="$rss (now: anonymous $(sed -n 's/^RssAnon: *//p' "/proc/$DPID/status"), files $(sed -n 's/^RssFile: *//p' "/proc/$DPID/status"))"
	awk -v n="$N" -v w="$W" -v s="$s" -v e="$e" -v ref="$ref" -v c0="$c0" -v c1="$c1" -v rss="$rss" -v t="$try" 'BEGIN {
		p = n / (e - s)
		printf "pair %d: %d copies over %d sessions: parleyd %.0f copies/s, smtp-source %d msg/s, ratio %.2f; parleyd CPU %.2f s (%.0f us a copy), VmHWM %s\n", t, n, w, p, ref, p / ref, c1 - c0, (c1 - c0) * 1e6 / n, rss }'
	r=$(awk -v n="$N" -v s="$s" -v e="$e" -v ref="$ref" 'BEGIN { printf "%.3f", n / (e - s) / ref }')
	[ -n "$CEIL" ] && awk -v n="$N" -v s="$s" -v e="$e" -v c="$CEIL" 'BEGIN {
		printf "pair: parleyd %.0f signed copies/s = %.2f x the openssl speed ceiling (%.0f/s)\n", n / (e - s), n / (e - s) / c, c }'
	[ "${DKIM:-}" = rsa ] && [ -n "$CEIL" ] &&
		r=$(awk -v n="$N" -v s="$s" -v e="$e" -v c="$CEIL" 'BEGIN { printf "%.3f", n / (e - s) / c }')
	best=$(awk -v a="$best" -v b="$r" 'BEGIN { print (b > a ? b : a) }')
done
sleep 1
dups=$(LC_ALL=C grep -a '^smtp-sink: RCPT TO:<r[0-9]*@example.net>' "$SLOG" | sort | uniq -c | awk -v p="${PAIRS:-2}" '$1 != p' | wc -l)
echo "best ratio $best; recipients that did not get exactly one copy of each post: $dups"
rm -f "$SLOG"
[ "$dups" -eq 0 ]
