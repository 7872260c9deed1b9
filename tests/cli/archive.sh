#!/bin/sh
# archive.sh - `parley archive thread|search|show`: a thread's tree (order,
# indentation, --full, --json nesting), lookup by thread id and by either
# Message-ID, full-text search (words, authors, diacritics, ranking, --limit,
# bad queries) and show --trimmed/--elided, over an archive written straight
# into the database with sqlite3. Also a 2,000-deep chain of replies, which
# must print without recursion. Never touches anything outside $T.
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"

DB=$T/parley.db
T0=1796122800	# 2026-12-01T11:00:00Z
at() { date -u -d "@$((T0 + $1))" +%Y-%m-%dT%H:%M:%SZ; }

run archive ls dev
ok $RC "archive ls on a new database creates the schema"
run archive ls news
check "sqlite3 is there" sh -c "command -v sqlite3 > /dev/null"
DEV=$(sqlite3 "$DB" "SELECT id FROM lists WHERE name = 'dev'")
NEWS=$(sqlite3 "$DB" "SELECT id FROM lists WHERE name = 'news'")

# thread 1: a post, two replies to it (Erin's is newer by id but older by
# date), a reply to a reply, and a chain three deep under Bob's.
sqlite3 "$DB" <<SQL || echo "Bail out! cannot fill the archive"
PRAGMA foreign_keys = ON;
INSERT INTO threads(id, list_id, subject, base_subject, created_at, last_at)
  VALUES (1, $DEV, 'Good fences', 'good fences', $T0, $T0),
         (2, $DEV, 'The long chain', 'the long chain', $T0, $T0),
         (3, $NEWS, 'Fences elsewhere', 'fences elsewhere', $T0, $T0),
         (4, $DEV, 'Lanterns', 'lanterns', $T0, $T0);
INSERT INTO archive(id, list_id, thread_id, parent_id, kind, list_msgid, orig_msgid,
    author_addr, author_name, subject, text, raw, created_at, trimmed, elided) VALUES
  (1, $DEV, 1, NULL, 'post', '<m1@lists.example.org>', '<alice-1@example.org>',
   'alice@example.org', 'Alice', 'Good fences',
   'Good fences make good neighbours.' || char(10) || 'Second line.' || char(10), 'raw1', $T0,
   'Good fences make good neighbours.' || char(10) || 'Second line.' || char(10), NULL),
  (2, $DEV, 1, 1, 'reply', '<m2@lists.example.org>', '<bob-1@example.org>',
   'bob@example.org', 'Bob', 'Re: Good fences',
   'Fences make the best neighbours talk.' || char(10) || char(10) || '> Good fences make good neighbours.' || char(10),
   'raw2', $T0 + 3600,
   'Fences make the best neighbours talk.' || char(10),
   '> Good fences make good neighbours.' || char(10)),
  (3, $DEV, 1, 1, 'reply', '<m3@lists.example.org>', '<erin-1@example.org>',
   'erin@example.org', 'Erin', 'Re: Good fences',
   char(10) || '   ' || char(10) || 'Erin here, first real line.' || char(10) || 'More.' || char(10),
   'raw3', $T0 + 1800,
   char(10) || '   ' || char(10) || 'Erin here, first real line.' || char(10) || 'More.' || char(10), NULL),
  (4, $DEV, 1, 2, 'reply', '<m4@lists.example.org>', NULL,
   'carol@example.org', 'Carol Ünal', 'Re: Good fences',
   'Café au lait for everyone, über alles — naïve.' || char(10), 'raw4', $T0 + 7200,
   'Café au lait for everyone, über alles — naïve.' || char(10), NULL),
  (5, $DEV, 1, 4, 'reply', '<m5@lists.example.org>', NULL,
   'dave@example.org', NULL, 'Re: Good fences',
   'A very long line that goes on and on about fences, gates, hedges, walls and the people who build them.' || char(10),
   'raw5', $T0 + 9000,
   'A very long line that goes on and on about fences, gates, hedges, walls and the people who build them.' || char(10), NULL),
  (6, $DEV, 1, 3, 'reply', '<m6@lists.example.org>', '<bob-2@example.org>',
   'bob@example.org', 'Bob', 'Re: Good fences',
   'Fallback text line.' || char(10), 'raw6', $T0 + 5000, '', '> all quoted' || char(10)),
  (7, $NEWS, 3, NULL, 'post', '<n1@lists.example.org>', NULL,
   'zed@example.org', 'Zed', 'Fences elsewhere', 'Fences on the news list.', 'raw7', $T0,
   'Fences on the news list.', NULL),
  (8, $DEV, 4, NULL, 'post', '<l1@lists.example.org>', NULL,
   'frank@example.org', 'Frank', 'Lanterns',
   'Once I saw a lantern. Then there were many other things to tell about the evening, the road, the rain and the people we met along the way to town.',
   'raw8', $T0, 'Once I saw a lantern. Then there were many other things to tell about the evening, the road, the rain and the people we met along the way to town.', NULL),
  (9, $DEV, 4, 8, 'reply', '<l2@lists.example.org>', NULL,
   'gina@example.org', 'Gina', 'Re: Lanterns',
   'Lantern, lantern, lantern!', 'raw9', $T0 + 60, 'Lantern, lantern, lantern!', NULL);
WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 2000)
INSERT INTO archive(id, list_id, thread_id, parent_id, kind, list_msgid, author_addr,
    author_name, subject, text, raw, created_at, trimmed)
  SELECT 1000 + n, $DEV, 2, CASE WHEN n = 1 THEN NULL ELSE 999 + n END,
    CASE WHEN n = 1 THEN 'post' ELSE 'reply' END, '<c' || n || '@lists.example.org>',
    'chain@example.org', 'Chain', 'The long chain', 'link ' || n, 'raw', $T0 + n, 'link ' || n
  FROM c;
UPDATE threads SET root_id = (SELECT min(id) FROM archive WHERE thread_id = threads.id);
SQL

# --- the tree -------------------------------------------------------------
run archive thread 1
ok $RC "thread by id"
cat > "$T/want" <<EOF
thread 1: Good fences (6 messages)
- Alice <alice@example.org>  $(at 0)  Good fences make good neighbours.
  - Erin <erin@example.org>  $(at 1800)  Erin here, first real line.
    - Bob <bob@example.org>  $(at 5000)  Fallback text line.
  - Bob <bob@example.org>  $(at 3600)  Fences make the best neighbours talk.
    - Carol Ünal <carol@example.org>  $(at 7200)  Café au lait for everyone, über alles — naïve.
      - dave@example.org  $(at 9000)  A very long line that goes on and on about fences, gates, hedges, walls…
EOF
check "tree: order by date within a parent, two spaces a level, first lines, cut with …" \
	cmp -s "$T/want" "$T/out"
[ -s "$T/out" ] && ! cmp -s "$T/want" "$T/out" && diff "$T/want" "$T/out" | sed 's/^/# /'
check "summary cut to 72 characters, not bytes" [ "$(sed -n 7p "$T/out" | sed 's/.*:00Z  //' | "$PYTHON3" -c 'import sys; print(len(sys.stdin.read().rstrip("\n")))')" = 72 ]

for arg in '<m4@lists.example.org>' 'm4@lists.example.org' '<bob-1@example.org>' 'bob-1@example.org'; do
	run archive thread "$arg"
	check "thread by $arg" sh -c "[ $RC -eq 0 ] && cmp -s '$T/want' '$T/out'"
done

run archive thread 99
ok $((RC == 1 ? 0 : 1)) "unknown thread id: exit 1"
check "unknown thread id named on stderr" has "$T/err" "99: no such thread"
check "nothing on stdout for an unknown thread" [ ! -s "$T/out" ]
run archive thread '<nobody@example.org>'
ok $((RC == 1 ? 0 : 1)) "unknown Message-ID: exit 1"
check "unknown Message-ID named on stderr" has "$T/err" "<nobody@example.org>: no such thread"
run archive thread
ok $((RC == 2 ? 0 : 1)) "thread without an argument: usage, exit 2"

run archive thread 1 --full
ok $RC "thread --full"
check "--full: the whole trimmed text under the entry, indented" \
	sh -c "grep -qx '      Erin here, first real line.' '$T/out' && grep -qx '      More.' '$T/out'"
check "--full: indentation follows the depth" grep -qx "        Café au lait for everyone, über alles — naïve." "$T/out"
check "--full: the long line is not cut" has "$T/out" "the people who build them."
check "--full: quoted text (elided) is not shown" sh -c "! grep -q '> Good fences' '$T/out'"

run --json archive thread '<m2@lists.example.org>'
ok $RC "thread --json"
check "thread --json parses" "$PYTHON3" -c 'import json,sys; json.load(sys.stdin)' < "$T/out"
check "json: thread and subject" [ "$(json 'd["thread"], d["subject"], d["list"]')" = "(1, 'Good fences', 'dev')" ]
check "json: one root, two replies in date order" [ "$(json '[m["name"] for m in d["messages"][0]["replies"]], len(d["messages"])')" = "(['Erin', 'Bob'], 1)" ]
check "json: nested 3 deep under the post" [ "$(json 'd["messages"][0]["replies"][1]["replies"][0]["replies"][0]["message_id"]')" = "<m5@lists.example.org>" ]
check "json: reply to a reply" [ "$(json 'd["messages"][0]["replies"][0]["replies"][0]["id"], d["messages"][0]["replies"][0]["replies"][0]["parent"]')" = "(6, '<m3@lists.example.org>')" ]
check "json: fields" [ "$(json 'sorted(d["messages"][0].keys())')" = "['author', 'date', 'depth', 'id', 'kind', 'message_id', 'name', 'parent', 'replies', 'trimmed']" ]
check "json: values of a message" [ "$(json '[d["messages"][0]["replies"][1][k] for k in ("author", "name", "date", "kind", "trimmed")]')" = "['bob@example.org', 'Bob', '$(at 3600)', 'reply', 'Fences make the best neighbours talk.\\n']" ]
check "json: Unicode kept" [ "$(json 'd["messages"][0]["replies"][1]["replies"][0]["name"]')" = "Carol Ünal" ]

# --- a 2,000-deep chain ---------------------------------------------------
run archive thread 2
ok $RC "2,000-deep thread prints"
check "2,000-deep: a line per message" [ "$(wc -l < "$T/out")" = 2001 ]
check "2,000-deep: the last one indented 3,998 spaces" \
	[ "$(tail -n 1 "$T/out" | sed 's/- .*//' | tr -d '\n' | wc -c)" = 3998 ]
check "2,000-deep: the last one is link 2000" sh -c "tail -n 1 '$T/out' | grep -q 'link 2000\$'"
run archive thread '<c2000@lists.example.org>' --full
ok $RC "2,000-deep --full"
run --json archive thread 2
ok $RC "2,000-deep --json"
check "2,000-deep --json: parses, every message once, depth bounded, depths kept" "$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
seen, stack, maxlevel = [], [(m, 1) for m in d["messages"]], 0
while stack:
    m, level = stack.pop()
    seen.append(m["depth"])
    maxlevel = max(maxlevel, level)
    stack.extend((r, level + 1) for r in m["replies"])
assert sorted(seen) == list(range(2000)), "messages"
assert maxlevel <= 24, maxlevel
' "$T/out"

# --- search ---------------------------------------------------------------
run archive search dev neighbours
ok $RC "search by a word of the trimmed text"
check "search finds the post and the reply" sh -c "has() { grep -qF -- \"\$2\" \"\$1\"; }; has '$T/out' '<m1@lists.example.org>' && has '$T/out' '<m2@lists.example.org>'"
check "search does not find the quoted (elided) text" sh -c "[ \$(grep -c '^<' '$T/out') -eq 2 ]"
check "search result block: id, date, author, subject, snippet" \
	sh -c "grep -A2 -F '<m2@lists.example.org>  $(at 3600)  Bob <bob@example.org>' '$T/out' | grep -qF '    Re: Good fences' && grep -qF '[neighbours]' '$T/out'"
run archive search dev fences
check "search is limited to the list" sh -c "[ $RC -eq 0 ] && ! grep -q n1@ '$T/out' && grep -q '<m1@' '$T/out'"
run archive search dev carol
check "search by author name" sh -c "[ $RC -eq 0 ] && grep -q '^<m4@lists.example.org>' '$T/out'"
run archive search dev cafe
check "diacritics fold: cafe finds Café" sh -c "[ $RC -eq 0 ] && grep -q '^<m4@lists.example.org>' '$T/out'"
check "snippet marks the match" has "$T/out" "[Café]"
run archive search dev unal
check "diacritics fold in names: unal finds Ünal" grep -q '^<m4@lists.example.org>' "$T/out"
run archive search dev lantern
check "ranking: the better match first" [ "$(grep '^<' "$T/out" | head -n 1 | cut -d' ' -f1)" = "<l2@lists.example.org>" ]
run --json archive search dev lantern
ok $RC "search --json"
check "search --json parses" "$PYTHON3" -c 'import json,sys; json.load(sys.stdin)' < "$T/out"
check "json: list, query, results in rank order" [ "$(json 'd["list"], d["query"], [r["message_id"] for r in d["results"]]')" = "('dev', 'lantern', ['<l2@lists.example.org>', '<l1@lists.example.org>'])" ]
check "json: result fields" [ "$(json '[d["results"][0][k] for k in ("id", "thread", "author", "name", "subject", "date")]')" = "[9, 4, 'gina@example.org', 'Gina', 'Re: Lanterns', '$(at 60)']" ]
check "json: snippet" [ "$(json '"[Lantern]" in d["results"][0]["snippet"]')" = True ]
run --json archive search dev lantern --limit 1
check "--limit 1: one result, the best" [ "$(json '[r["id"] for r in d["results"]]')" = "[9]" ]
run archive search dev link
check "default limit 20" [ "$(grep -c '^<c' "$T/out")" = 20 ]
run archive search dev 'author_name:bob'
check "FTS5 column filter" [ "$(grep -c '^<' "$T/out")" = 2 ]
run archive search dev 'nothingmatchesthis'
check "no match: exit 0, nothing printed" sh -c "[ $RC -eq 0 ] && [ ! -s '$T/out' ]"
run archive search dev '"unbalanced'
ok $((RC == 1 ? 0 : 1)) "malformed query: exit 1"
check "malformed query: sqlite's message" has "$T/err" "archive search: \"unbalanced: unterminated string"
check "malformed query: nothing on stdout" [ ! -s "$T/out" ]
run --json archive search dev 'AND OR'
check "malformed query with --json: exit 1, no half document" sh -c "[ $RC -eq 1 ] && [ ! -s '$T/out' ]"
check "malformed query: FTS5's syntax error named" has "$T/err" "fts5: syntax error"
run archive search dev fences --limit 0
ok $((RC == 2 ? 0 : 1)) "--limit 0: usage, exit 2"
run archive search nosuch fences
ok $((RC == 1 ? 0 : 1)) "search of an unknown list: exit 1"

# --- show --trimmed / --elided ----------------------------------------------
run archive show m2@lists.example.org --trimmed
check "show --trimmed prints only the trimmed text" sh -c "[ $RC -eq 0 ] && [ \"\$(cat '$T/out')\" = 'Fences make the best neighbours talk.' ]"
run archive show '<bob-1@example.org>' --elided
check "show --elided prints only what was cut" sh -c "[ $RC -eq 0 ] && [ \"\$(cat '$T/out')\" = '> Good fences make good neighbours.' ]"
run archive show m1@lists.example.org --elided
check "show --elided of an uncut message prints nothing" sh -c "[ $RC -eq 0 ] && [ ! -s '$T/out' ]"
run archive show m2@lists.example.org --raw
check "show --raw still the raw bytes (nothing to redact)" sh -c "[ $RC -eq 0 ] && [ \"\$(cat '$T/out')\" = raw2 ]"
run archive show m2@lists.example.org
check "show default keeps the whole text" sh -c "[ $RC -eq 0 ] && grep -q '^> Good fences' '$T/out' && grep -q '^author:      Bob <bob@example.org>' '$T/out'"
run --json archive show m2@lists.example.org
check "show --json has trimmed and elided" [ "$(json 'd["trimmed"], d["elided"]')" = "('Fences make the best neighbours talk.\\n', '> Good fences make good neighbours.\\n')" ]
run archive show m2@lists.example.org --trimmed --raw
ok $((RC == 2 ? 0 : 1)) "show: --trimmed with --raw is a usage error"

# --- help ---------------------------------------------------------------------
run archive --help
check "archive --help lists thread and search" sh -c "grep -q 'archive thread ID|MSGID \[--full\]' '$T/out' && grep -q 'archive search LIST QUERY \[--limit N\]' '$T/out' && grep -q -- '--elided' '$T/out'"
run --help
check "parley --help mentions the archive commands" has "$T/out" "thread"

done_testing
