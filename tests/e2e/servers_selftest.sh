#!/bin/sh
# servers_selftest.sh - TAP self-test of tests/e2e/servers.sh: starts a real Dovecot
# (IMAP + LMTP) and a real Postfix on loopback, sends one message each to
# alice@example.org and bob@example.org through Postfix with swaks, reads them back
# over IMAP, then stops both servers and checks that they are gone.
# Needs root and the packages of `scripts/deps --test`; fails (does not skip) when
# they are missing. Set PARLEY_KEEP_TMP=1 to keep the temporary directory.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/servers.sh
. "$here/servers.sh"
PY=${PYTHON3:-python3}
[ -n "$PY" ] || PY=python3

n=0
failed=0
# ok STATUS DESCRIPTION: one TAP line; STATUS 0 passes.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
# diag FILE...: the files as TAP comments (the last 30 lines of each).
diag() {
	for f; do
		[ -f "$f" ] || continue
		echo "# --- $f"
		tail -n 30 "$f" | sed 's/^/#   /'
	done
}
# finish: print the plan; the exit status says whether everything passed.
finish() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit
}

# prerequisites: fail loudly, never skip
missing=""
for p in postfix postqueue dovecot swaks "$PY" ps awk; do
	command -v "$p" > /dev/null 2>&1 || missing="$missing $p"
done
[ -r /etc/postfix/master.cf.proto ] || missing="$missing /etc/postfix/master.cf.proto"
if [ "$(id -u)" -ne 0 ]; then
	ok 1 "running as root (Postfix and Dovecot need it)"
	finish
fi
if [ -n "$missing" ]; then
	ok 1 "required programs present (missing:$missing; run scripts/deps --test)"
	finish
fi
ok 0 "root, postfix, dovecot, swaks and python3 present"

T=$(mktemp -d /tmp/parley-e2e.XXXXXX) || { ok 1 "mktemp"; finish; }
chmod 755 "$T"
# shellcheck disable=SC2317 # cleanup runs from the EXIT trap
cleanup() {
	rc=$?
	trap - EXIT
	postfix_stop "$T/postfix" > /dev/null 2>&1
	dovecot_stop "$T/dovecot" > /dev/null 2>&1
	if [ "${PARLEY_KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# three distinct free ports
imap=$(free_port) && lmtp=$(free_port) && smtp=$(free_port)
tries=0
while [ "$imap" = "$lmtp" ] || [ "$lmtp" = "$smtp" ] || [ "$imap" = "$smtp" ]; do
	tries=$((tries + 1))
	[ "$tries" -lt 10 ] || break
	lmtp=$(free_port) && smtp=$(free_port)
done
case "$imap$lmtp$smtp" in
*[!0-9]* | '') ok 1 "free ports: '$imap' '$lmtp' '$smtp'"; finish ;;
esac
echo "# ports: imap $imap, lmtp $lmtp, smtp $smtp; dir $T"

t0=$(date +%s)
if dovecot_start "$T/dovecot" "$imap" "$lmtp" alice bob 2> "$T/err"; then
	ok 0 "dovecot_start: IMAP on $imap and LMTP on $lmtp answer"
else
	ok 1 "dovecot_start"
	diag "$T/err"
	finish
fi
dc_pid=$(dovecot_pid "$T/dovecot")
ok $? "dovecot_pid names a running dovecot master ($dc_pid)"

if postfix_start "$T/postfix" "$smtp" "example.org=lmtp:inet:127.0.0.1:$lmtp" 2> "$T/err"; then
	ok 0 "postfix_start: SMTP on $smtp answers"
else
	ok 1 "postfix_start"
	diag "$T/err"
	finish
fi
pf_pid=$(postfix_pid "$T/postfix")
ok $? "postfix_pid names a running Postfix master ($pf_pid)"

tag="$$-$(date +%s)"
for u in alice bob; do
	if swaks --server "127.0.0.1:$smtp" --timeout 10 --helo selftest.parley.test \
		--from "sender@parley.test" --to "$u@example.org" \
		--header "Subject: selftest for $u $tag" --body "hello $u" \
		> "$T/swaks.$u" 2>&1; then
		ok 0 "swaks sends a message to $u@example.org through Postfix"
	else
		ok 1 "swaks sends a message to $u@example.org through Postfix"
		diag "$T/swaks.$u"
	fi
done

# imap_has USER SUBJECT: poll (up to 20 s) until USER's INBOX (password pw) holds a
# message with exactly SUBJECT; prints what it saw as TAP comments on failure.
imap_has() {
	"$PY" - "$imap" "$1" "$2" <<'EOF'
import imaplib, sys, time, email
port, user, want = int(sys.argv[1]), sys.argv[2], sys.argv[3]
deadline = time.monotonic() + 20
last = "nothing tried"
while True:
    try:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=5)
        try:
            m.login(user, "pw")
            typ, data = m.select("INBOX", readonly=True)
            if typ != "OK":
                raise imaplib.IMAP4.error("select: %r" % data)
            typ, data = m.search(None, "ALL")
            subjects = []
            for num in data[0].split():
                typ, msg = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                hdr = email.message_from_bytes(msg[0][1])
                subjects.append(str(hdr.get("Subject", "")))
            if want in subjects:
                sys.exit(0)
            last = "INBOX subjects: %r" % subjects
        finally:
            try:
                m.logout()
            except Exception:
                pass
    except (OSError, imaplib.IMAP4.error) as e:
        last = "%s: %s" % (type(e).__name__, e)
    if time.monotonic() > deadline:
        print("# %s: no message %r after 20 s; last: %s" % (user, want, last))
        sys.exit(1)
    time.sleep(0.2)
EOF
}
for u in alice bob; do
	imap_has "$u" "selftest for $u $tag"
	ok $? "$u reads the message over IMAP (Postfix -> LMTP -> Dovecot)"
done
[ "$failed" -eq 0 ] || diag "$T/postfix/maillog" "$T/dovecot/dovecot.log"

postfix_wait_queue_empty "$T/postfix" 10
ok $? "postfix_wait_queue_empty: nothing left in the queue"
postfix_queue_empty "$T/postfix"
ok $? "postfix_queue_empty agrees"
postfix_flush "$T/postfix" > "$T/err" 2>&1
ok $? "postfix_flush runs" || diag "$T/err"
t1=$(date +%s)
echo "# started, delivered and read back in $((t1 - t0)) s"

postfix_stop "$T/postfix" 2> "$T/err"
ok $? "postfix_stop returns success" || diag "$T/err"
! pid_alive "$pf_pid" && port_closed "$smtp"
ok $? "Postfix master $pf_pid is gone and port $smtp is closed"

dovecot_stop "$T/dovecot" 2> "$T/err"
ok $? "dovecot_stop returns success" || diag "$T/err"
! pid_alive "$dc_pid" && port_closed "$imap" && port_closed "$lmtp"
ok $? "Dovecot master $dc_pid is gone and ports $imap, $lmtp are closed"

postfix_stop "$T/postfix" && dovecot_stop "$T/dovecot"
ok $? "stopping again is a no-op"
echo "# stopped in $(($(date +%s) - t1)) s"

if [ "${PARLEY_KEEP_TMP:-0}" != 1 ]; then
	rm -rf "$T"
	[ ! -e "$T" ]
	ok $? "temporary directory removed"
fi
finish
