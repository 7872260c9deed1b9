#!/bin/sh
# bench/import.sh - time `parley sub import` of N addresses against a reference:
# the sqlite3 shell inserting the same N rows (and N history rows) into the same
# kind of indexed tables in one transaction. Prints both times and the ratio.
# Run from a built tree: bench/import.sh [N]
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000}
P=$(pwd)/tools/parley
command -v sqlite3 > /dev/null || { echo "bench: needs the sqlite3 shell (apt-get install sqlite3)"; exit 1; }
[ -x "$P" ] || { echo "bench: build parley first"; exit 1; }
T=$(mktemp -d /tmp/parley-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

sed -e "s#\"/var/spool/parley\"#\"$T/spool\"#" -e "s#\"/var/lib/parley/parley.db\"#\"$T/p.db\"#" \
    -e "s#\"/run/parley/parleyd.pid\"#\"$T/p.pid\"#" etc/parley.conf > "$T/p.conf"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "user%d@example%d.org\n", i, i % 97 }' > "$T/subs.txt"
{
	echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	echo "CREATE TABLE s(id INTEGER PRIMARY KEY, list_id INT, address TEXT, status TEXT, created INT, UNIQUE(list_id, address));"
	echo "CREATE TABLE e(id INTEGER PRIMARY KEY, sid INT REFERENCES s(id), at INT, ev TEXT);"
	echo "BEGIN IMMEDIATE;"
	awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) {
		printf "INSERT INTO s(list_id, address, status, created) VALUES (1, %cuser%d@example%d.org%c, %cactive%c, 1);\n", 39, i, i % 97, 39, 39, 39
		printf "INSERT INTO e(sid, at, ev) VALUES (last_insert_rowid(), 1, %csubscribed%c);\n", 39, 39 } }'
	echo "COMMIT;"
} > "$T/ref.sql"

now() { date +%s.%N; }
"$P" -c "$T/p.conf" lists > /dev/null	# create the database outside the timing
a=$(now); "$P" -c "$T/p.conf" sub import dev "$T/subs.txt" > /dev/null; b=$(now)
c=$(now); sqlite3 "$T/ref.db" < "$T/ref.sql" > /dev/null; d=$(now)
awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v n="$N" 'BEGIN {
	p = b - a; r = d - c
	printf "import of %d addresses: parley %.2fs, sqlite3 reference %.2fs, ratio %.2f\n", n, p, r, p / r }'
