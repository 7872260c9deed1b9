#!/bin/sh
# test_postfix.sh - a real Postfix, started on loopback with a throwaway
# config, delivers to parleyd over LMTP (TCP and the unix socket): messages
# arrive in the store once, a recipient parleyd does not serve is refused by
# parleyd over LMTP (Postfix's log says 550 5.1.1), and mail Postfix holds
# while parleyd is down arrives once parleyd is back.
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"
: "${PARLEYD:?PARLEYD must name the parleyd binary}"

chmod 755 "$T"
PF=$T/pf
PF_PORT=$(free_port)
cleanup() {
	postfix_stop "$PF" > /dev/null 2>&1
	[ -n "${DPID:-}" ] && kill "$DPID" 2> /dev/null && wait "$DPID" 2> /dev/null
	rm -rf "$T"
}
trap cleanup EXIT

start_parleyd() {
	"$PARLEYD" -c "$CONF" -f >> "$T/parleyd.log" 2>&1 &
	DPID=$!
	i=0
	while [ $i -lt 100 ] && ! grep -q "started:" "$T/parleyd.log"; do sleep 0.1; i=$((i + 1)); done
}

# stored MSGID: how many inbound rows carry MSGID
stored() {
	"$PYTHON3" -c 'import sqlite3,sys
try: print(sqlite3.connect(sys.argv[1]).execute("select count(*) from inbound where message_id=?", (sys.argv[2],)).fetchone()[0])
except Exception: print(0)' "$T/parley.db" "$1"
}

wait_stored() {
	i=0
	while [ $i -lt 200 ]; do
		[ "$(stored "$1")" = "${2:-1}" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

send() {
	swaks --server "127.0.0.1:$PF_PORT" --from author@example.net --to "$1" \
		--header "Message-Id: <$2>" --header "Subject: via postfix" --body "hello" > "$T/swaks.out" 2>&1
}

start_parleyd
check "parleyd started" grep -q "started:" "$T/parleyd.log"
postfix_start "$PF" "$PF_PORT" \
	"lists.example.org=lmtp:inet:127.0.0.1:$LMTP_PORT other.example.org=lmtp:unix:$T/lmtp.sock" > "$T/pf.out" 2>&1
ok $? "postfix started on 127.0.0.1:$PF_PORT"

send dev@lists.example.org pf1@example.net
ok $? "swaks hands a message to Postfix"
check "Postfix delivers it to parleyd over LMTP" wait_stored "<pf1@example.net>"
check "Postfix logged the LMTP delivery" sh -c "grep -q 'relay=127.0.0.1\[127.0.0.1\]:$LMTP_PORT.*status=sent' '$PF/maillog'"

swaks --server "127.0.0.1:$PF_PORT" --from author@example.net --to dev@lists.example.org,news+post@lists.example.org \
	--header "Message-Id: <pf2@example.net>" > "$T/swaks.out" 2>&1
check "a message for two lists arrives" wait_stored "<pf2@example.net>"
"$PYTHON3" -c 'import sqlite3,sys
r=sqlite3.connect(sys.argv[1]).execute("select group_concat(address, \" \") from (select address from inbound_rcpts join inbound on id=inbound_id where message_id=\"<pf2@example.net>\" order by address)").fetchone()[0]
sys.exit(0 if r=="dev@lists.example.org news+post@lists.example.org" else 1)' "$T/parley.db"
ok $? "as one stored message with both recipients"

send nobody@lists.example.org pf3@example.net
i=0
while [ $i -lt 100 ] && ! grep -q "nobody@lists.example.org.*status=bounced" "$PF/maillog"; do sleep 0.1; i=$((i + 1)); done
check "an address parleyd does not serve is refused over LMTP" sh -c "grep 'nobody@lists.example.org' '$PF/maillog' | grep -q '550 5.1.1'"
check "and nothing is stored for it" [ "$(stored "<pf3@example.net>")" = 0 ]

# over the unix socket: Postfix maps other.example.org there; parleyd serves only
# lists.example.org, so use a list address routed through it with a transport override
postfix_stop "$PF" > /dev/null 2>&1
postfix_start "$PF" "$PF_PORT" "lists.example.org=lmtp:unix:$T/lmtp.sock" > "$T/pf.out" 2>&1
ok $? "postfix restarted with the unix-socket LMTP route"
send news@lists.example.org pf4@example.net
check "delivery over the LMTP unix socket" wait_stored "<pf4@example.net>"

# parleyd down: Postfix keeps the message and retries
kill "$DPID"
wait "$DPID"
DPID=
send dev@lists.example.org pf5@example.net
ok $? "Postfix accepts while parleyd is down"
sleep 2
check "nothing stored while parleyd is down" [ "$(stored "<pf5@example.net>")" = 0 ]
check "Postfix defers it" grep -q "status=deferred" "$PF/maillog"
start_parleyd
postfix_flush "$PF"
check "once parleyd is back, the message arrives" wait_stored "<pf5@example.net>"
sleep 1
check "exactly once" [ "$(stored "<pf5@example.net>")" = 1 ]
check "Postfix's queue is empty" postfix_wait_queue_empty "$PF" 10

postfix_stop "$PF"
ok $? "postfix stopped"
done_testing
