#!/bin/sh
# import.sh - `parley sub import`: plain and CSV files, idempotence, bad lines
# named by number, unsubscribed addresses respected, stdin, and a 100,000-line
# import in one transaction (its speed is measured in bench/, not here).
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"

"$PYTHON3" - "$T/subs.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(100000):
        f.write(f"user{i}@example{i % 97}.org\n")
        if i == 500: f.write("bad line here\n")
        if i == 90000: f.write("@nolocal.org\n")
PY
run sub import dev "$T/subs.txt"
ok $((RC == 1 ? 0 : 1)) "import with invalid lines exits 1"
check "summary counts" has "$T/out" "dev: added 100000, already there 0, skipped 0 (unsubscribed or not active), invalid 2 (lines 502, 90003)"
check "bad line 502 named with its text" has "$T/err" "$T/subs.txt:502: invalid: 'bad line here'"
check "bad line 90003 named with its reason" has "$T/err" "$T/subs.txt:90003: invalid: '@nolocal.org': missing local part"
run --json sub ls dev --status active
check "100000 active after import" [ "$(json 'len(d["subscribers"])')" = 100000 ]
run --json sub show dev user7@example7.org
check "consent recorded as import with file and line" [ "$(json 'd["consent"]["how"], d["consent"]["by"]')" = "('import', '$(id -un): $T/subs.txt:8')" ]

run sub import dev "$T/subs.txt"
check "importing again adds nothing" has "$T/out" "dev: added 0, already there 100000"

# a writer waits for another instead of failing (BEGIN IMMEDIATE + busy timeout)
sed 's/@example/@busy.example/' "$T/subs.txt" > "$T/busy.txt"
"$PARLEY" -c "$CONF" sub import news "$T/busy.txt" > "$T/bg.out" 2> "$T/bg.err" &
BG=$!
sleep 0.2
run sub add news busy@example.org --no-confirm
ok $RC "sub add during a long import succeeds"
wait $BG
check "and the import completes" has "$T/bg.out" "news: added 100000"
run sub rm news busy@example.org

# CSV with a header, quoted names, modes; CRLF line ends and a BOM
printf '\357\273\277email,name,mode\r\nann@example.org,"Lee, Ann",digest\r\nbo@example.org,,nomail\r\n"cy@example.org",Cy,\r\ndi@example.org,Di,weekly\r\n# a comment\r\n\r\n' > "$T/subs.csv"
run sub import news "$T/subs.csv"
ok $((RC == 1 ? 0 : 1)) "CSV import with one bad mode exits 1"
check "CSV summary" has "$T/out" "news: added 3, already there 0, skipped 0 (unsubscribed or not active), invalid 1 (line 5)"
check "bad mode explained" has "$T/err" "mode is not all, posts, digest or nomail"
run --json sub show news ann@example.org
check "quoted name with comma" [ "$(json 'd["name"], d["mode"]')" = "('Lee, Ann', 'digest')" ]
run --json sub show news cy@example.org
check "empty mode means all" [ "$(json 'd["mode"]')" = "all" ]

# CSV without a header: address,name,mode
printf 'eve@example.org,Eve,posts\n"Fay Lin" <fay@example.org>\n' > "$T/plain.csv"
run sub import news "$T/plain.csv"
ok $RC "headerless CSV and name-addr lines"
run --json sub show news eve@example.org
check "headerless columns are address,name,mode" [ "$(json 'd["name"], d["mode"]')" = "('Eve', 'posts')" ]
run --json sub show news fay@example.org
check "display name from a plain line" [ "$(json 'd["name"]')" = "Fay Lin" ]

# an unsubscribed address is not subscribed again by an import
run sub rm news ann@example.org
run sub import news "$T/subs.csv"
check "unsubscribed address skipped" has "$T/out" "added 0, already there 2, skipped 1"
run sub ls news --status unsubscribed
check "still unsubscribed" has "$T/out" "ann@example.org"
run sub import news "$T/subs.csv" --resubscribe
check "--resubscribe brings it back" has "$T/out" "added 1, already there 2, skipped 0"

# stdin
printf 'gil@example.org\nhal@example.org\n' | "$PARLEY" -c "$CONF" sub import news - > "$T/out" 2> "$T/err"
ok $? "import from stdin"
check "stdin summary" has "$T/out" "added 2"
printf 'oops\n' | "$PARLEY" -c "$CONF" sub import news - > "$T/out" 2> "$T/err"
check "stdin errors are labelled <stdin>" has "$T/err" "<stdin>:1: invalid: 'oops'"

# JSON summary
printf 'ivy@example.org\nnot valid\n' > "$T/j.txt"
run --json sub import news "$T/j.txt"
check "JSON summary" [ "$(json 'd["added"], d["invalid"], d["errors"][0]["line"]')" = "(1, 1, 2)" ]

# a missing file imports nothing and says why
run sub import news "$T/none.txt"
ok $((RC == 1 ? 0 : 1)) "missing file: exit 1"
check "missing file named" has "$T/err" "$T/none.txt"

# progress is shown on a terminal only (script(1) gives the command a pty)
if script -qec true /dev/null > /dev/null 2>&1; then
	script -qec "'$PARLEY' -c '$CONF' sub import dev '$T/subs.txt'" /dev/null > "$T/tty" 2>&1
	check "progress shown on a terminal" has "$T/tty" "importing: line"
	run sub import dev "$T/subs.txt"
	check "no progress when not a terminal" sh -c "! grep -q 'importing:' '$T/err'"
else
	tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP no pseudo-terminal here (script(1) failed)"
	tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP no pseudo-terminal here (script(1) failed)"
fi

done_testing
