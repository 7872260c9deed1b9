# bench/postfix.sh - sourced by the benchmarks that run a throwaway Postfix
# beside parleyd: checks for smtp-source, loads tests/e2e/servers.sh, makes
# the scratch directory $T, and on exit stops that Postfix and the parleyd
# whose pid is in $DPID, then removes $T. Run from the top of a built tree.
SRC=$(pwd)
command -v smtp-source > /dev/null || PATH=$PATH:/usr/sbin
command -v smtp-source > /dev/null || { echo "bench: needs smtp-source (apt-get install postfix)"; exit 1; }
TESTS_SRCDIR=$SRC/tests
. tests/e2e/servers.sh
T=$(mktemp -d /tmp/parley-bench.XXXXXX)
chmod 755 "$T"
DPID=
cleanup() {
	postfix_stop "$T/pf" > /dev/null 2>&1 || true
	[ -n "$DPID" ] && kill "$DPID" 2> /dev/null && wait "$DPID" 2> /dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bench_conf SMTP_PORT [-e SED-EXPR ...]: the sample configuration with its
# spool, database and pid file in $T, the LMTP listener on a free port, the
# SMTP listener on SMTP_PORT, then the further sed expressions; written to
# $T/p.conf.
bench_conf() {
	bc_port=$1
	shift
	sed -e "s#\"/var/spool/parley\"#\"$T/spool\"#" -e "s#\"/var/lib/parley/parley.db\"#\"$T/p.db\"#" \
	    -e "s#\"/run/parley/parleyd.pid\"#\"$T/p.pid\"#" \
	    -e "s#\"127.0.0.1:2424\", \"unix:/run/parley/lmtp.sock\"#\"127.0.0.1:$(free_port)\"#" \
	    -e "s#\"127.0.0.1:2525\", \"\\[::1\\]:2525\"#\"127.0.0.1:$bc_port\"#" "$@" etc/parley.conf > "$T/p.conf"
}
