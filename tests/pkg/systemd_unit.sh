#!/bin/sh
# systemd_unit.sh - etc/parleyd.service is a unit systemd accepts, whose
# command line, stop signal and writable paths fit the real parleyd: its
# ExecStart starts the built daemon on a test configuration, its KillSignal
# stops it with status 0 well within TimeoutStopSec, and ReadWritePaths and
# RuntimeDirectory cover the sample configuration's spool, database and pid
# file. Skipped (TAP SKIP) where systemd-analyze is not installed.
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"
: "${ABS_TOP_SRCDIR:?ABS_TOP_SRCDIR must name the source tree}"
: "${PARLEYD:?PARLEYD must name the parleyd binary}"
IN=$ABS_TOP_SRCDIR/etc/parleyd.service.in

if ! command -v systemd-analyze > /dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze is not installed (apt-get install systemd)"
	exit 0
fi

# The unit as etc/Makefile.am makes it, with the build's daemon and the
# source tree's etc/ as sysconfdir (the sample configuration is there).
sed -e "s|@sbindir[@]|$(dirname "$PARLEYD")|g" -e "s|@sysconfdir[@]|$ABS_TOP_SRCDIR/etc|g" \
	"$IN" > "$T/parleyd.service"
# The manual pages it names, where man(1) finds them.
for p in parley.1 parley.conf.5 parleyd.8; do
	mkdir -p "$T/man/man${p##*.}"
	cp "$ABS_TOP_SRCDIR/doc/$p" "$T/man/man${p##*.}/"
done

# key NAME: the value of the unit's NAME= line.
key() { sed -n "s/^$1=//p" "$T/parleyd.service"; }

(cd "$T" && MANPATH=$T/man systemd-analyze verify ./parleyd.service) > "$T/out" 2> "$T/err"
ok $? "systemd-analyze verify accepts the unit"
check "and says nothing about it (no unknown key, no bad value)" sh -c "! grep -q . '$T/err'"

systemd-analyze security --offline=yes "$T/parleyd.service" > "$T/out" 2> "$T/err"
level=$(sed -n 's/.*Overall exposure level for parleyd.service: \([0-9.]*\).*/\1/p' "$T/out")
check "systemd-analyze security rates its exposure below 4 (got ${level:-none})" \
	awk -v l="${level:-99}" 'BEGIN { exit !(l < 4) }'

for k in ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes \
	 PrivateDevices=yes MemoryDenyWriteExecute=yes SystemCallArchitectures=native; do
	check "$k" grep -qx "$k" "$T/parleyd.service"
done
caps=$(key CapabilityBoundingSet)
check "no capability beyond bind, the user switch and the hand-over ($caps)" sh -c \
	"for c in $caps; do case \$c in CAP_NET_BIND_SERVICE|CAP_SETUID|CAP_SETGID|CAP_CHOWN|CAP_DAC_OVERRIDE|CAP_FOWNER) ;; *) exit 1;; esac; done"

# The sample configuration's paths are writable in the sandbox.
conf_path() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$SAMPLE_CONF" | head -1; }
rw=" $(key ReadWritePaths) "
spool=$(conf_path spool)
dbdir=$(dirname "$(conf_path database)")
piddir=$(dirname "$(conf_path pid_file)")
check "ReadWritePaths has the spool ($spool)" sh -c "case '$rw' in *' $spool '*) ;; *) exit 1;; esac"
check "ReadWritePaths has the database directory ($dbdir)" \
	sh -c "case '$rw' in *' $dbdir '*) ;; *) exit 1;; esac"
check "RuntimeDirectory holds the pid file ($piddir)" test "/run/$(key RuntimeDirectory)" = "$piddir"

# ExecStart, run as systemd would (with the test's paths): parleyd accepts the
# flags, stays in the foreground (Type=simple) and logs to stderr.
exec_start=$(key ExecStart)
set -- $exec_start
check "ExecStart runs the daemon in the foreground with the configuration (-f -c)" \
	test "$1" = "$PARLEYD" -a "$2" = "-f" -a "$3" = "-c" -a "$4" = "$ABS_TOP_SRCDIR/etc/parley.conf" -a $# -eq 4
"$1" "$2" "$3" "$CONF" > "$T/log" 2>&1 &
pid=$!
i=0
while [ $i -lt 300 ] && ! grep -q "started:" "$T/log" && kill -0 $pid 2> /dev/null; do
	sleep 0.1
	i=$((i + 1))
done
check "the daemon started by ExecStart runs in the foreground" grep -q "started:" "$T/log"
sig=$(key KillSignal)
timeout=$(key TimeoutStopSec)
kill -s "${sig#SIG}" $pid
# Bounded by the unit's own stop timeout: systemd would SIGKILL after it.
limit=$((${timeout%s} * 10))
i=0
while [ $i -lt $limit ] && kill -0 $pid 2> /dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $pid 2> /dev/null; then
	kill -9 $pid
	ok 1 "KillSignal ($sig) stops it within TimeoutStopSec ($timeout)"
else
	ok 0 "KillSignal ($sig) stops it within TimeoutStopSec ($timeout)"
fi
wait $pid
ok $? "and it exits with status 0 (not a failure for Restart=on-failure)"
check "after logging that it stopped" grep -q "stopped" "$T/log"

done_testing
