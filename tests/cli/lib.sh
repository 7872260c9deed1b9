# lib.sh - sourced by the CLI tests: TAP output helpers and a private parley
# setup (config from the sample, database and spool in a temporary directory)
# that is removed at the end. Tests run the real `parley` binary.
set -u
: "${PARLEY:?PARLEY must name the parley binary}"
: "${SAMPLE_CONF:?SAMPLE_CONF must name etc/parley.conf}"
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3

tap_n=0
tap_failed=0
T=$(mktemp -d /tmp/parley-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT

# ok STATUS DESCRIPTION: one TAP line; STATUS 0 passes.
ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
		if [ -f "$T/out" ]; then sed 's/^/#   out: /' "$T/out" | head -20; fi
		if [ -f "$T/err" ]; then sed 's/^/#   err: /' "$T/err" | head -20; fi
	fi
}

# check DESCRIPTION COMMAND...: passes if COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}

# free_port and the real-server helpers (postfix_start, dovecot_start ...)
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/servers.sh"
LMTP_PORT=$(free_port)
SMTP_PORT=$(free_port)

# mkconf FILE: the sample configuration with its paths moved into $T and its
# listeners on free loopback ports (LMTP_PORT, SMTP_PORT, unix:$T/lmtp.sock).
mkconf() {
	mkdir -p "$T/spool"
	# as root, stay root (the files are in $T), even where the user parley exists
	stay='s/^  # user = "parley";/&/'
	[ "$(id -u)" = 0 ] && stay='s/^  # user = "parley";/  user = "root";/'
	# a token key of its own: the default path is outside $T
	sed -e "$stay" -e "s#^daemon = {#daemon = { secret_file = \"$T/secret\";#" -e "s#^\([[:space:]]*spool[[:space:]]*=[[:space:]]*\)\"[^\"]*\"#\1\"$T/spool\"#" \
	    -e "s#^\([[:space:]]*database[[:space:]]*=[[:space:]]*\)\"[^\"]*\"#\1\"$T/parley.db\"#" \
	    -e "s#^\([[:space:]]*pid_file[[:space:]]*=[[:space:]]*\)\"[^\"]*\"#\1\"$T/parleyd.pid\"#" \
	    -e "s#\"127.0.0.1:2424\", \"unix:/run/parley/lmtp.sock\"#\"127.0.0.1:$LMTP_PORT\", \"unix:$T/lmtp.sock\"#" \
	    -e "s#\"127.0.0.1:2525\", \"\[::1\]:2525\"#\"127.0.0.1:$SMTP_PORT\", \"[::1]:$SMTP_PORT\"#" \
	    "$SAMPLE_CONF" > "$1"
}
CONF=$T/parley.conf
mkconf "$CONF"

# run ARGS...: run parley with the test config; sets RC, output in $T/out, $T/err.
run() {
	"$PARLEY" -c "$CONF" "$@" > "$T/out" 2> "$T/err" < /dev/null
	RC=$?
}

# has FILE TEXT: FILE contains the fixed string TEXT.
has() { grep -qF -- "$2" "$1"; }

# json EXPR: evaluate a Python expression over the JSON document in $T/out (as d).
json() {
	"$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$T/out" "$1" 2>/dev/null
}

# done_testing: print the plan; exit status says whether all passed.
done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
