#!/bin/sh
# lists.sh - `parley lists` and `parley list show`, text and JSON, with counts
# that follow the subscribers added through the CLI.
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"

run lists
ok $RC "lists on a new database"
check "database created" [ -f "$T/parley.db" ]
check "lists shows dev" has "$T/out" "dev@lists.example.org"
check "lists shows news" has "$T/out" "news@lists.example.org"

run sub add dev a@example.org b@example.org --no-confirm
run sub add dev p@example.org
run sub add news a@example.org --no-confirm

run --json lists
ok $RC "lists --json"
check "dev counts 2 active" [ "$(json '[l["subscribers"] for l in d["lists"] if l["name"]=="dev"][0]')" = 2 ]
check "dev counts 1 pending" [ "$(json '[l["by_status"]["pending"] for l in d["lists"] if l["name"]=="dev"][0]')" = 1 ]
check "news counts 1 active" [ "$(json '[l["subscribers"] for l in d["lists"] if l["name"]=="news"][0]')" = 1 ]
check "posts counted (none yet)" [ "$(json 'd["lists"][0]["posts"]')" = 0 ]

run lists --json
check "--json after the command works too" [ "$(json 'len(d["lists"])')" = 2 ]

run list show dev
ok $RC "list show dev"
check "shows the reply policy" has "$T/out" "reply policy:   list"
check "shows the post address" has "$T/out" "dev+post@lists.example.org"
check "shows the counts" has "$T/out" "2 active, 1 pending, 0 disabled, 0 unsubscribed"
check "shows authors" has "$T/out" "alice@example.org (has a secret post address)"
check "never shows an author's secret" sh -c "! grep -q k3vq9t2mxw8rz5pa '$T/out'"

run --json list show news
check "list show --json" [ "$(json 'd["reply_policy"], d["subscribers"], d["addresses"]["owner"]')" = "('author', 1, 'news+owner@lists.example.org')" ]

run list show nosuch
ok $((RC == 1 ? 0 : 1)) "unknown list: exit 1"
check "unknown list named" has "$T/err" "no list 'nosuch'"

done_testing
