#!/bin/sh
# sub.sh - `parley sub add|rm|ls|show|export`: the subscriber life cycle
# through the real binary, with consent records and history.
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"

run sub add dev alice@Example.ORG --no-confirm
ok $RC "sub add --no-confirm"
check "reports subscribed" has "$T/out" "alice@example.org: subscribed"
run sub ls dev
check "sub ls shows the normalised address" has "$T/out" "alice@example.org"
check "domain lower-cased" sh -c "! grep -q Example.ORG '$T/out'"

run sub add dev Alice@example.org --no-confirm
check "local part kept as written" has "$T/out" "Alice@example.org: subscribed"

run sub add dev 'Bob Builder <bob@example.org>' carol@example.org --mode digest --no-confirm
ok $RC "two addresses at once, with a name and a mode"
run --json sub show dev bob@example.org
check "name stored" [ "$(json 'd["name"]')" = "Bob Builder" ]
check "mode stored" [ "$(json 'd["mode"]')" = "digest" ]
check "consent recorded as cli by the invoking user" [ "$(json 'd["consent"]["how"], d["consent"]["by"]')" = "('cli', '$(id -un)')" ]
check "consent time recorded" [ "$(json 'd["consent"]["at"][:2]')" = "20" ]

run sub add dev dave@example.org
ok $RC "sub add without --no-confirm"
check "reports pending" has "$T/out" "dave@example.org: pending confirmation"
run --json sub show dev dave@example.org
check "pending row has no consent yet" [ "$(json 'd["status"], d["consent"]["how"]')" = "('pending', None)" ]
run sub add dev dave@example.org --no-confirm
check "--no-confirm activates a pending row" has "$T/out" "dave@example.org: activated"

# invalid input changes nothing
run sub add dev erin@example.org 'not an address' --no-confirm
ok $((RC == 1 ? 0 : 1)) "an invalid address: exit 1"
check "the invalid address is named" has "$T/err" "'not an address'"
run sub ls dev --status all
check "nothing added when one address is invalid" sh -c "! grep -q erin@ '$T/out'"
run sub add nosuch frank@example.org --no-confirm
ok $((RC == 1 ? 0 : 1)) "unknown list: exit 1"
run sub add dev 'x@example.org
RCPT TO:<y@example.org>' --no-confirm
ok $((RC == 1 ? 0 : 1)) "address with a line break refused"

run sub add dev alice@example.org --no-confirm
check "adding twice is harmless" has "$T/out" "alice@example.org: already subscribed, unchanged"

# unsubscribe keeps the row and its history
run sub rm dev alice@example.org
ok $RC "sub rm"
check "reports unsubscribed" has "$T/out" "alice@example.org: unsubscribed"
run sub ls dev --status active
check "not active after rm" sh -c "! grep -q '^alice@example.org ' '$T/out'"
run sub ls dev
check "default listing hides unsubscribed" sh -c "! grep -q '^alice@example.org ' '$T/out'"
run sub ls dev --status unsubscribed
check "--status unsubscribed shows the kept row" has "$T/out" "alice@example.org"
run sub rm dev alice@example.org
ok $((RC == 1 ? 0 : 1)) "rm twice: exit 1"
check "rm twice says not subscribed" has "$T/err" "alice@example.org: not subscribed"
run sub rm dev nobody@example.org
ok $((RC == 1 ? 0 : 1)) "rm of a stranger: exit 1"

run sub add dev alice@example.org --no-confirm
check "re-subscribe reported" has "$T/out" "alice@example.org: subscribed again"
run --json sub show dev alice@example.org
check "history: subscribed, unsubscribed, resubscribed" [ "$(json '[e["event"] for e in d["history"]]')" = "['subscribed', 'unsubscribed', 'resubscribed']" ]
check "status active again" [ "$(json 'd["status"]')" = "active" ]
check "unsubscribed_at cleared" [ "$(json 'd["unsubscribed_at"]')" = "None" ]
run sub show dev alice@example.org
check "text show has the consent line" has "$T/out" "consent:      cli,"
check "text show has the history" has "$T/out" "resubscribed"
check "text show has the bounce score" has "$T/out" "bounce score: 0"
run sub show dev zed@example.org
ok $((RC == 1 ? 0 : 1)) "show of a stranger: exit 1"

# --mode on a subscribed address changes the mode, and says so
run sub add dev alice@example.org --mode nomail --no-confirm
check "mode change reported" has "$T/out" "alice@example.org: already subscribed, mode changed to nomail"
run --json sub show dev alice@example.org
check "mode changed, consent untouched" [ "$(json 'd["mode"], d["consent"]["how"], d["history"][-1]["event"], d["history"][-1]["how"]')" = "('nomail', 'cli', 'mode', 'nomail')" ]
run sub add dev dave@example.org
check "a pending address says so" has "$T/out" "dave@example.org: already subscribed, unchanged"

# a re-request after unsubscribing waits for fresh consent
run sub add dev zoe@example.org --no-confirm
run sub rm dev zoe@example.org
run sub add dev zoe@example.org
check "re-request is pending" has "$T/out" "zoe@example.org: pending confirmation (was unsubscribed)"
run --json sub show dev zoe@example.org
check "old consent does not carry over to a pending row" [ "$(json 'd["status"], d["consent"]["how"], d["consent"]["at"]')" = "('pending', None, None)" ]
check "but the history keeps it" [ "$(json '[e["event"] for e in d["history"]]')" = "['subscribed', 'unsubscribed', 'requested']" ]
run sub add dev zoe@example.org
check "pending twice: still pending" has "$T/out" "zoe@example.org: already pending confirmation, unchanged"
run sub rm dev zoe@example.org

# sub rm with one bad address changes nothing
run sub rm dev bob@example.org 'bad address'
ok $((RC == 1 ? 0 : 1)) "rm with an invalid address: exit 1"
run sub ls dev --status active
check "nothing removed when one address is invalid" has "$T/out" "bob@example.org"

# listings
run --json sub ls dev --status active
check "JSON listing counts the active" [ "$(json 'len(d["subscribers"])')" = 5 ]
check "JSON listing is sorted by address" [ "$(json '[s["address"] for s in d["subscribers"]] == sorted(s["address"] for s in d["subscribers"])')" = True ]
run sub export dev --status nonsense
ok $((RC == 2 ? 0 : 1)) "export with an unknown status: exit 2"
check "and names it" has "$T/err" "unknown status 'nonsense'"
run sub ls dev --status all
check "--status all includes everything" [ "$(wc -l < "$T/out")" -eq 6 ]

# export, then import the export into the other list
run sub rm dev carol@example.org
run sub export dev
ok $RC "sub export"
check "CSV header" [ "$(head -1 "$T/out" | tr -d '\r')" = "address,name,mode,status,consent_how,consent_at,consent_by,created_at,bounce_score" ]
check "export names Bob" has "$T/out" "bob@example.org,Bob Builder,digest,active,cli,"
check "export leaves out the unsubscribed by default" sh -c "! grep -q carol@ '$T/out'"
cp "$T/out" "$T/export.csv"
run sub export dev --status all
check "export --status all includes carol" has "$T/out" "carol@example.org"
cp "$T/out" "$T/export-all.csv"
run sub import news "$T/export-all.csv"
ok $RC "the export imports back"
check "import of the export: 4 added, 2 skipped (unsubscribed)" has "$T/out" "added 4, already there 0, skipped 2"
run --json sub show news bob@example.org
check "name and mode carried over" [ "$(json 'd["name"], d["mode"], d["consent"]["how"]')" = "('Bob Builder', 'digest', 'import')" ]

done_testing
