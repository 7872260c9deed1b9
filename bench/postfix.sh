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
