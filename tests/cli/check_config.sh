#!/bin/sh
# check_config.sh - `parley check-config`, help texts and exit codes, run
# against the real binary with the sample configuration and broken copies.
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"

run check-config
ok $RC "sample configuration passes check-config"
check "prints the file and ok" has "$T/out" "$CONF: ok"
check "prints the list addresses" has "$T/out" "dev+post@lists.example.org"
check "prints the second list" has "$T/out" "list news <news@lists.example.org>"

run --json check-config
ok $RC "check-config --json exits 0"
check "JSON names both lists" [ "$(json '[l["name"] for l in d["lists"]]')" = "['dev', 'news']" ]
check "JSON has derived addresses" [ "$(json 'd["lists"][0]["addresses"]["unsubscribe"]')" = "dev+unsubscribe@lists.example.org" ]

# an unknown key on a known line, reported as FILE:LINE
cp "$CONF" "$T/bad.conf"
line=$(($(wc -l < "$T/bad.conf") + 1))
echo 'no_such_setting_xyz = 1;' >> "$T/bad.conf"
"$PARLEY" -c "$T/bad.conf" check-config > "$T/out" 2> "$T/err"
ok $(($? == 1 ? 0 : 1)) "unknown key: exit 1"
check "unknown key reported as FILE:LINE" has "$T/err" "$T/bad.conf:$line: unknown setting 'no_such_setting_xyz'"

# several errors at once, each with its line
sed -e 's/workers = 4;/workerz = 4;/' -e 's/port = 25;/port = 0;/' "$CONF" > "$T/multi.conf"
wl=$(grep -n 'workerz' "$T/multi.conf" | cut -d: -f1)
pl=$(grep -n 'port = 0;' "$T/multi.conf" | cut -d: -f1)
"$PARLEY" -c "$T/multi.conf" check-config > "$T/out" 2> "$T/err"
ok $(($? == 1 ? 0 : 1)) "two errors: exit 1"
check "first error with its line" has "$T/err" "$T/multi.conf:$wl: unknown setting 'daemon.workerz' (did you mean 'workers'?)"
check "second error with its line" has "$T/err" "$T/multi.conf:$pl: daemon.relay.port: 0 is outside 1..65535"
check "error count summarised" has "$T/err" "$T/multi.conf: 2 errors"

# syntax error
printf 'daemon = {\n  spool = ;\n};\n' > "$T/syn.conf"
"$PARLEY" -c "$T/syn.conf" check-config > "$T/out" 2> "$T/err"
ok $(($? == 1 ? 0 : 1)) "syntax error: exit 1"
check "syntax error at FILE:2" has "$T/err" "$T/syn.conf:2: syntax error"

"$PARLEY" -c "$T/syn.conf" --json check-config > "$T/out" 2> "$T/err"
check "errors as JSON" [ "$(json 'd["ok"], len(d["errors"])')" = "(False, 1)" ]

# missing file
"$PARLEY" -c "$T/none.conf" check-config > "$T/out" 2> "$T/err"
ok $(($? == 1 ? 0 : 1)) "missing file: exit 1"
check "missing file named" has "$T/err" "$T/none.conf: cannot read: No such file or directory"

# other commands refuse to run on a broken config, with the same message
"$PARLEY" -c "$T/syn.conf" lists > "$T/out" 2> "$T/err"
ok $(($? == 1 ? 0 : 1)) "lists on a broken config: exit 1"
check "lists shows the config error" has "$T/err" "$T/syn.conf:2: syntax error"

# files the daemon opens must be readable for check-config, not for sub ls
sed 's#^  \# tls = {#  tls = { cert = "/nonexistent/c.pem"; key = "/nonexistent/k.pem"; };#' "$CONF" > "$T/tls.conf"
"$PARLEY" -c "$T/tls.conf" check-config > "$T/out" 2> "$T/err"
ok $(($? == 1 ? 0 : 1)) "check-config: an unreadable TLS key is an error"
check "naming the file" has "$T/err" "daemon.tls.key: cannot read /nonexistent/k.pem"
"$PARLEY" -c "$T/tls.conf" sub ls dev > "$T/out" 2> "$T/err"
ok $? "sub ls does not need to read the TLS key"

# PARLEY_CONF names the default file
PARLEY_CONF=$CONF "$PARLEY" check-config > "$T/out" 2> "$T/err"
ok $? "PARLEY_CONF is used when -c is absent"

# usage errors exit 2; help exits 0
for args in "no-such-command" "" "check-config extra" "sub" "sub frob" "list" "sub add" "sub ls" \
	    "sub add dev a@example.org --mode sometimes" "sub ls dev --status gone" "--bogus lists"; do
	# shellcheck disable=SC2086
	"$PARLEY" -c "$CONF" $args > "$T/out" 2> "$T/err" < /dev/null
	ok $(($? == 2 ? 0 : 1)) "usage error exits 2: parley $args"
done
for args in "--help" "check-config --help" "lists --help" "list --help" "list show --help" \
	    "sub --help" "sub add --help" "sub rm --help" "sub ls --help" "sub show --help" \
	    "sub import --help" "sub export --help"; do
	# shellcheck disable=SC2086
	"$PARLEY" $args > "$T/out" 2> "$T/err"
	rc=$?
	ok $((rc == 0 && $(grep -c 'usage:' "$T/out") >= 1 ? 0 : 1)) "help: parley $args"
done
"$PARLEY" --version > "$T/out"
check "--version" has "$T/out" "parley "

done_testing
