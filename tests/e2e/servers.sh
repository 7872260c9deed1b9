# servers.sh - sourced by the end-to-end tests: start and stop REAL Postfix and
# Dovecot instances on loopback, each living entirely inside a throwaway directory
# the test owns (config, queue, state, sockets, logs, mailboxes).
#
# Typical use:
#   . tests/e2e/servers.sh
#   imap=$(free_port) lmtp=$(free_port) smtp=$(free_port)
#   dovecot_start "$T/dovecot" "$imap" "$lmtp" alice bob || fail
#   postfix_start "$T/postfix" "$smtp" "example.org=lmtp:inet:127.0.0.1:$lmtp" || fail
#   ... swaks --server 127.0.0.1:$smtp ...; python3 imaplib on $imap as alice/pw ...
#   postfix_stop "$T/postfix"; dovecot_stop "$T/dovecot"
#
# It must NEVER: touch the system's own Postfix or Dovecot (no /etc/postfix/main.cf,
# no /etc/dovecot, no default instance, no service/systemctl/invoke-rc.d, no pkill or
# killall by name: only pids read from the instance's own pid file, and only when
# that process is the expected program); listen on anything but 127.0.0.1; send mail
# anywhere but the loopback next hops it is given (default_transport is an error);
# wait without a bound (every wait has a deadline in seconds and a try count).
#
# Needs root (both servers bind, switch users and own their queues as root), Linux
# (/proc), procps (ps), python3, and the Debian packages postfix, dovecot-imapd,
# dovecot-lmtpd (scripts/deps --test). POSIX sh: runs under dash and `set -u`.
# Each DIR and all its parents must be traversable by the unprivileged users the
# servers switch to (postfix, dovecot, dovenull, mail): the functions chmod 755 DIR
# itself; a mktemp -d parent must be chmod 755 by the caller. Keep DIR short (it
# ends up in unix socket paths, which are limited to about 100 bytes).
# Function names starting with _srv_ are internal.

case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin ;; esac
case ":$PATH:" in *:/sbin:*) ;; *) PATH=$PATH:/sbin ;; esac
SRV_PYTHON3=${PYTHON3:-python3}
[ -n "$SRV_PYTHON3" ] || SRV_PYTHON3=python3
# SRV_DOVECOT_EXTRA and SRV_POSTFIX_EXTRA, if set, are appended to dovecot.conf
# and main.cf (a test that pushes thousands of messages through turns fsync off).
# Bounds for start-up waits (seconds); stop waits are bounded by SRV_STOP_WAIT.
SRV_START_WAIT=${SRV_START_WAIT:-10}
SRV_STOP_WAIT=${SRV_STOP_WAIT:-10}

# free_port: print a TCP port on 127.0.0.1 that was free a moment ago (bind to
# port 0 and let the kernel choose). Returns non-zero if python3 fails.
free_port() {
	"$SRV_PYTHON3" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# _srv_err MESSAGE...: a diagnostic on stderr.
_srv_err() { echo "servers.sh: $*" >&2; }

# _srv_log_tail FILE: the last lines of a log on stderr, for a failed start.
_srv_log_tail() {
	if [ -s "$1" ]; then
		echo "servers.sh: --- last lines of $1 ---" >&2
		tail -n 25 "$1" >&2
	else
		echo "servers.sh: (no log in $1)" >&2
	fi
}

# _srv_port PORT...: true if each PORT is a TCP port number (1-65535).
_srv_port() {
	for _srv_pt; do
		case $_srv_pt in
		'' | *[!0-9]* | 0*) _srv_err "not a port number: '$_srv_pt'"; return 1 ;;
		esac
		[ "$_srv_pt" -le 65535 ] || { _srv_err "not a port number: '$_srv_pt'"; return 1; }
	done
}

# _srv_alive PID: true if PID is a live process (a zombie counts as gone).
_srv_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) in
	'' | Z | X) return 1 ;;
	esac
	return 0
}

# _srv_is PID COMM: true if PID is alive and its command name is COMM.
_srv_is() {
	_srv_alive "$1" || return 1
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

# _srv_pidfile FILE: print the pid in FILE (Postfix pads it with spaces).
_srv_pidfile() {
	[ -r "$1" ] || return 1
	_srv_p=$(tr -cd '0-9' < "$1")
	[ -n "$_srv_p" ] || return 1
	echo "$_srv_p"
}

# _srv_children PID: print the pids of PID's direct children, one per line.
_srv_children() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '; }

# _srv_wait SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds; give up
# after SECONDS seconds or SECONDS*10 tries, whichever comes first. Returns
# COMMAND's success.
_srv_wait() {
	_srv_w_end=$(($(date +%s) + $1 + 1))
	_srv_w_tries=$(($1 * 10))
	shift
	while :; do
		"$@" && return 0
		_srv_w_tries=$((_srv_w_tries - 1))
		[ "$_srv_w_tries" -gt 0 ] && [ "$(date +%s)" -lt "$_srv_w_end" ] || return 1
		sleep 0.1
	done
}

# _srv_greets PORT PREFIX QUIT: true if 127.0.0.1:PORT accepts a connection and its
# first line starts with PREFIX; then says QUIT and hangs up. 2 s per attempt.
_srv_greets() {
	"$SRV_PYTHON3" - "$1" "$2" "$3" <<'EOF'
import socket, sys
port, prefix, quit = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
try:
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    line = s.makefile("rb").readline()
    try:
        s.sendall(quit + b"\r\n")
    except OSError:
        pass
    s.close()
except OSError:
    sys.exit(1)
sys.exit(0 if line.startswith(prefix) else 1)
EOF
}

# _srv_port_closed PORT: true if nothing accepts connections on 127.0.0.1:PORT.
_srv_port_closed() {
	"$SRV_PYTHON3" - "$1" <<'EOF'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(0)
sys.exit(1)
EOF
}

# _srv_all_gone PID...: true if none of the PIDs is alive.
_srv_all_gone() {
	for _srv_g; do _srv_alive "$_srv_g" && return 1; done
	return 0
}

# _srv_reap PIDS: wait (bounded by SRV_STOP_WAIT) for the space-separated PIDS to
# exit, then SIGKILL any left. Returns non-zero if one survives even that.
_srv_reap() {
	# shellcheck disable=SC2086
	_srv_wait "$SRV_STOP_WAIT" _srv_all_gone $1 && return 0
	_srv_err "still running after ${SRV_STOP_WAIT}s, sending SIGKILL: $1"
	# shellcheck disable=SC2086
	for _srv_k in $1; do
		if _srv_alive "$_srv_k"; then kill -9 "$_srv_k" 2>/dev/null || :; fi
	done
	# shellcheck disable=SC2086
	_srv_wait 3 _srv_all_gone $1
}

# dovecot_start DIR IMAP_PORT LMTP_PORT USER...
#   Writes DIR/dovecot.conf and DIR/users (each USER with password "pw") and starts
#   `dovecot -c DIR/dovecot.conf`: IMAP (plaintext login, ssl = no) on
#   127.0.0.1:IMAP_PORT and LMTP on 127.0.0.1:LMTP_PORT, nothing else on the network.
#   Users are looked up by local part (username_format=%n), so alice@example.org
#   receives over LMTP and logs in over IMAP as "alice"; mail is stored as uid/gid
#   mail in DIR/mail/USER (Maildir). Base dir DIR/run (pid in DIR/run/master.pid),
#   state DIR/state, log DIR/dovecot.log. DIR is created if missing and chmod 755.
#   Returns 0 once both ports greet (IMAP "* OK", LMTP "220"), waiting at most
#   SRV_START_WAIT (10) s; otherwise stops what it started, prints the log tail on
#   stderr and returns non-zero. Refuses (non-zero) if DIR's dovecot is running.
dovecot_start() {
	if [ $# -lt 4 ]; then
		_srv_err "usage: dovecot_start DIR IMAP_PORT LMTP_PORT USER..."
		return 2
	fi
	_srv_d=$1 _srv_imap=$2 _srv_lmtp=$3
	shift 3
	_srv_port "$_srv_imap" "$_srv_lmtp" || return 2
	case $_srv_d in /*) ;; *) _srv_d=$(pwd)/$_srv_d ;; esac
	if _srv_p=$(_srv_pidfile "$_srv_d/run/master.pid") && _srv_is "$_srv_p" dovecot; then
		_srv_err "dovecot already running in $_srv_d (pid $_srv_p)"
		return 1
	fi
	command -v dovecot > /dev/null || { _srv_err "dovecot not installed"; return 1; }
	mkdir -p "$_srv_d/mail" "$_srv_d/state" || return 1
	chmod 755 "$_srv_d" "$_srv_d/state" || return 1
	chown mail:mail "$_srv_d/mail" || return 1
	chmod 750 "$_srv_d/mail" || return 1
	: > "$_srv_d/users" || return 1
	for _srv_u; do
		echo "$_srv_u:{PLAIN}pw" >> "$_srv_d/users"
	done
	chmod 644 "$_srv_d/users"
	: > "$_srv_d/dovecot.log"
	cat > "$_srv_d/dovecot.conf" <<EOF || return 1
# Written by tests/e2e/servers.sh: a throwaway Dovecot on loopback for tests.
base_dir = $_srv_d/run
state_dir = $_srv_d/state
log_path = $_srv_d/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 8
mail_location = maildir:$_srv_d/mail/%n
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $_srv_d/users
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$_srv_d/mail/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $_srv_imap
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $_srv_lmtp
  }
}
${SRV_DOVECOT_EXTRA:-}
EOF
	if ! dovecot -c "$_srv_d/dovecot.conf" 2>> "$_srv_d/dovecot.log"; then
		_srv_err "dovecot -c $_srv_d/dovecot.conf failed"
		_srv_log_tail "$_srv_d/dovecot.log"
		return 1
	fi
	if _srv_wait "$SRV_START_WAIT" _srv_greets "$_srv_imap" '* OK' 'a LOGOUT' &&
	   _srv_wait "$SRV_START_WAIT" _srv_greets "$_srv_lmtp" '220' 'QUIT'; then
		return 0
	fi
	_srv_err "dovecot in $_srv_d: IMAP $_srv_imap / LMTP $_srv_lmtp not answering"
	_srv_log_tail "$_srv_d/dovecot.log"
	dovecot_stop "$_srv_d" > /dev/null 2>&1
	return 1
}

# dovecot_stop DIR
#   Stops the Dovecot started by dovecot_start DIR: SIGTERM to the pid in
#   DIR/run/master.pid (only if that process is a dovecot), then waits at most
#   SRV_STOP_WAIT (10) s for it and its child processes to exit, SIGKILL as the
#   last resort. Returns 0 when they are all gone or none was running, non-zero
#   if something survived. Leaves DIR in place (logs, mail) for the caller.
dovecot_stop() {
	if [ $# -ne 1 ]; then
		_srv_err "usage: dovecot_stop DIR"
		return 2
	fi
	_srv_p=$(_srv_pidfile "$1/run/master.pid") || return 0
	_srv_is "$_srv_p" dovecot || return 0
	_srv_pids="$_srv_p $(_srv_children "$_srv_p" | tr '\n' ' ')"
	kill "$_srv_p" 2>/dev/null || :
	_srv_reap "$_srv_pids"
}

# postfix_start DIR SMTP_PORT TRANSPORTS
#   Creates and starts a private Postfix instance: config DIR/etc (main.cf, master.cf
#   from /etc/postfix/master.cf.proto with chroot off), queue DIR/queue (pid in
#   DIR/queue/pid/master.pid), data DIR/data, log DIR/maillog. Its only listener is
#   smtpd on 127.0.0.1:SMTP_PORT (clients in 127.0.0.0/8 may relay). TRANSPORTS is a
#   space-separated list of DOMAIN=NEXTHOP, e.g.
#     "example.org=lmtp:inet:127.0.0.1:2424 lists.example.org=lmtp:inet:127.0.0.1:2425"
#   Those domains become relay_domains and are routed by transport_maps
#   (texthash:DIR/etc/transport); mail to any other domain fails (default_transport
#   and relay_transport are error:), nothing is local (mydestination is empty). No
#   DNS: smtpd does no peer name lookup, smtp/lmtp clients use native lookups with
#   DNS disabled (next hops are IP addresses). Short retry timers (queue_run_delay
#   1s, backoff 1s..2s) so a deferred message is retried promptly.
#   Returns 0 once 127.0.0.1:SMTP_PORT greets with 220, waiting at most
#   SRV_START_WAIT (10) s; otherwise stops what it started, prints the maillog tail
#   on stderr and returns non-zero. Refuses (non-zero) if DIR's Postfix is running.
postfix_start() {
	if [ $# -ne 3 ]; then
		_srv_err "usage: postfix_start DIR SMTP_PORT TRANSPORTS"
		return 2
	fi
	_srv_d=$1 _srv_smtp=$2
	_srv_port "$_srv_smtp" || return 2
	case $_srv_d in /*) ;; *) _srv_d=$(pwd)/$_srv_d ;; esac
	if _srv_p=$(_srv_pidfile "$_srv_d/queue/pid/master.pid") && _srv_is "$_srv_p" master; then
		_srv_err "postfix already running in $_srv_d (pid $_srv_p)"
		return 1
	fi
	command -v postfix > /dev/null || { _srv_err "postfix not installed"; return 1; }
	[ -r /etc/postfix/master.cf.proto ] || { _srv_err "no /etc/postfix/master.cf.proto"; return 1; }
	mkdir -p "$_srv_d/etc" "$_srv_d/queue" "$_srv_d/data" || return 1
	chmod 755 "$_srv_d" "$_srv_d/etc" "$_srv_d/queue" || return 1
	chown root:root "$_srv_d/queue" || return 1
	chown postfix "$_srv_d/data" || return 1

	# transport table and relay_domains from TRANSPORTS
	: > "$_srv_d/etc/transport" || return 1
	_srv_domains=""
	printf '%s\n' "$3" | tr -s '[:blank:]' '[\n*]' > "$_srv_d/etc/transport.in" || return 1
	while read -r _srv_t; do
		case $_srv_t in
		'') continue ;;
		[!=]*=?*) ;;
		*)
			_srv_err "postfix_start: bad transport '$_srv_t' (want DOMAIN=NEXTHOP)"
			return 2
			;;
		esac
		printf '%s\t%s\n' "${_srv_t%%=*}" "${_srv_t#*=}" >> "$_srv_d/etc/transport"
		_srv_domains="$_srv_domains ${_srv_t%%=*}"
	done < "$_srv_d/etc/transport.in"
	rm -f "$_srv_d/etc/transport.in"
	if [ -z "$_srv_domains" ]; then
		_srv_err "postfix_start: no DOMAIN=NEXTHOP in TRANSPORTS"
		return 2
	fi

	# master.cf: chroot off everywhere; the only inet service is smtpd on loopback
	awk -v listen="127.0.0.1:$_srv_smtp" '
		/^[ \t]*#/ || /^[ \t]*$/ { print; next }
		/^[ \t]/ { if (!skip) print; next }
		{ skip = 0 }
		$2 == "inet" && $1 == "smtp" { print listen " inet n - n - - smtpd"; next }
		$2 == "inet" { skip = 1; next }
		NF >= 8 { $5 = "n" }
		{ print }
	' /etc/postfix/master.cf.proto > "$_srv_d/etc/master.cf" || return 1

	cat > "$_srv_d/etc/main.cf" <<EOF || return 1
# Written by tests/e2e/servers.sh: a throwaway Postfix on loopback for tests.
compatibility_level = 3.6
config_directory = $_srv_d/etc
queue_directory = $_srv_d/queue
data_directory = $_srv_d/data
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
daemon_directory = /usr/lib/postfix/sbin
maillog_file = $_srv_d/maillog
maillog_file_prefixes = $_srv_d
myhostname = mta.parley.test
mydomain = parley.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
local_transport = error:no local delivery in tests
alias_maps =
alias_database =
relay_domains =$_srv_domains
relay_recipient_maps =
transport_maps = texthash:$_srv_d/etc/transport
default_transport = error:no route in tests (only transport_maps next hops)
relay_transport = error:no route in tests (only transport_maps next hops)
mynetworks_style = host
mynetworks = 127.0.0.0/8
smtputf8_enable = no
biff = no
append_dot_mydomain = no
smtpd_banner = \$myhostname ESMTP
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0h
${SRV_POSTFIX_EXTRA:-}
EOF
	: > "$_srv_d/maillog"
	if ! postfix -c "$_srv_d/etc" start >> "$_srv_d/maillog" 2>&1; then
		_srv_err "postfix -c $_srv_d/etc start failed"
		_srv_log_tail "$_srv_d/maillog"
		postfix_stop "$_srv_d" > /dev/null 2>&1
		return 1
	fi
	if _srv_wait "$SRV_START_WAIT" _srv_greets "$_srv_smtp" '220' 'QUIT'; then
		return 0
	fi
	_srv_err "postfix in $_srv_d: 127.0.0.1:$_srv_smtp not answering"
	_srv_log_tail "$_srv_d/maillog"
	postfix_stop "$_srv_d" > /dev/null 2>&1
	return 1
}

# postfix_stop DIR
#   Stops the instance started by postfix_start DIR (`postfix -c DIR/etc stop`),
#   then waits at most SRV_STOP_WAIT (10) s until its master (pid from
#   DIR/queue/pid/master.pid, only if that process is a Postfix master) and the
#   master's child processes are gone, SIGKILL as the last resort. Returns 0 when
#   they are all gone or none was running, non-zero if something survived.
postfix_stop() {
	if [ $# -ne 1 ]; then
		_srv_err "usage: postfix_stop DIR"
		return 2
	fi
	_srv_p=$(_srv_pidfile "$1/queue/pid/master.pid") || return 0
	_srv_is "$_srv_p" master || return 0
	_srv_pids="$_srv_p $(_srv_children "$_srv_p" | tr '\n' ' ')"
	postfix -c "$1/etc" stop >> "$1/maillog" 2>&1 || kill "$_srv_p" 2>/dev/null || :
	_srv_reap "$_srv_pids"
}

# dovecot_pid DIR / postfix_pid DIR
#   Print the pid of DIR's running Dovecot / Postfix master and return 0, or print
#   nothing and return 1 if it is not running. For tests that signal a server.
dovecot_pid() {
	_srv_p=$(_srv_pidfile "$1/run/master.pid") && _srv_is "$_srv_p" dovecot && echo "$_srv_p"
}
postfix_pid() {
	_srv_p=$(_srv_pidfile "$1/queue/pid/master.pid") && _srv_is "$_srv_p" master && echo "$_srv_p"
}

# pid_alive PID
#   True if process PID exists and is not a zombie (no init reaps orphaned daemons
#   in some containers, so a stopped server can linger as a zombie: that is gone).
pid_alive() { _srv_alive "$1"; }

# port_closed PORT
#   True if nothing accepts TCP connections on 127.0.0.1:PORT (1 s connect timeout).
port_closed() { _srv_port_closed "$1"; }

# postfix_flush DIR
#   Asks DIR's Postfix to retry every deferred message now (postqueue -f).
#   Returns postqueue's status.
postfix_flush() {
	postqueue -c "$1/etc" -f
}

# postfix_queue_empty DIR
#   Returns 0 if DIR's Postfix holds no message in any queue (maildrop, incoming,
#   active, deferred, hold), 1 if it holds some, 2 if the queue cannot be read.
postfix_queue_empty() {
	_srv_q=$(postqueue -c "$1/etc" -j 2>/dev/null) || return 2
	[ -z "$_srv_q" ]
}

# postfix_wait_queue_empty DIR [SECONDS]
#   Waits (at most SECONDS, default 10) until DIR's Postfix queue is empty, e.g.
#   after a delivery was seen: the queue file is removed just after the next hop
#   accepted the message. Returns 0 when empty, non-zero on timeout.
postfix_wait_queue_empty() {
	_srv_wait "${2:-10}" postfix_queue_empty "$1"
}
