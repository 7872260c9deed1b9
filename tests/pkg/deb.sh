#!/bin/sh
# deb.sh - the Debian package (debian/): `dpkg-buildpackage -us -uc` builds
# it from a clean copy of the git tree, lintian finds no error or warning,
# it holds the binaries, manual pages, the conffile /etc/parley/parley.conf
# and the unit; and where no parley package is installed yet, it installs:
# postinst creates the parley system user and the 0700 spool and database
# directories, parleyd started as root drops to that user and runs in them,
# and a purge removes them. Leaves the machine as it found it (the user it
# created is removed again). Run by scripts/check (minutes: not in `make
# check`); TAP on stdout.
#   tests/pkg/deb.sh [SRCDIR]
SRC=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
PARLEY=/usr/bin/parley SAMPLE_CONF=$SRC/etc/parley.conf TESTS_SRCDIR=$SRC/tests
. "$SRC/tests/cli/lib.sh"

skip_all() { echo "1..0 # SKIP $1"; exit 0; }
for tool in dpkg-buildpackage dh lintian git; do
	command -v $tool > /dev/null 2>&1 || skip_all "$tool is not installed (scripts/deps --test)"
done
git -C "$SRC" rev-parse --git-dir > /dev/null 2>&1 || skip_all "$SRC is not a git checkout"

# A clean copy: the files git tracks or would track, none of a build's output.
B=$T/src/parley
mkdir -p "$B"
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\n" "$f"; done' sh |
	tar cf - -T -) | (cd "$B" && tar xf -)
check "the copy has debian/ and no configure" test -f "$B/debian/control" -a ! -e "$B/configure"

(cd "$B" && DEB_BUILD_OPTIONS="parallel=${JOBS:-2}" dpkg-buildpackage -us -uc) > "$T/build.log" 2>&1
rc=$?
[ $rc -eq 0 ] || tail -40 "$T/build.log" | sed 's/^/#   build: /'
ok $rc "dpkg-buildpackage -us -uc builds the package"
check "and ran the unit tests on the way (dh_auto_test)" sh -c \
	"grep -q '^# PASS: *[1-9]' '$T/build.log' && grep -q '^# FAIL: *0' '$T/build.log'"
DEB=$(ls "$T"/src/parley_*.deb 2> /dev/null | head -1)
CHANGES=$(ls "$T"/src/parley_*.changes 2> /dev/null | head -1)
if [ -z "$DEB" ] || [ -z "$CHANGES" ]; then
	ok 1 "it made a .deb and a .changes"
	done_testing
	exit 1
fi

lintian --fail-on error,warning --display-info "$CHANGES" > "$T/lintian" 2>&1
rc=$?
sed 's/^/#   lintian: /' "$T/lintian"
ok $rc "lintian: no error or warning (source and binary)"

dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's#^\./#/#' > "$T/files"
for f in /usr/sbin/parleyd /usr/bin/parley /usr/share/man/man8/parleyd.8.gz \
	 /usr/share/man/man1/parley.1.gz /usr/share/man/man5/parley.conf.5.gz \
	 /etc/parley/parley.conf /lib/systemd/system/parleyd.service; do
	check "the package has $f" grep -qx "$f" "$T/files"
done
check "no spool or database directory in the package (postinst makes them)" \
	sh -c "! grep -q '^/var' '$T/files'"
dpkg-deb -I "$DEB" conffiles > "$T/conffiles" 2>&1
check "/etc/parley/parley.conf is a conffile" grep -qx /etc/parley/parley.conf "$T/conffiles"
dpkg-deb --fsys-tarfile "$DEB" | tar xOf - ./lib/systemd/system/parleyd.service > "$T/unit"
check "the unit starts /usr/sbin/parleyd on /etc/parley/parley.conf" \
	grep -qx "ExecStart=/usr/sbin/parleyd -f -c /etc/parley/parley.conf" "$T/unit"
dpkg-deb -I "$DEB" postinst > "$T/postinst" 2>&1
check "postinst has dh_installsystemd's snippet" grep -q deb-systemd-helper "$T/postinst"
check "the package depends on the libraries it links (shlibs)" \
	sh -c "dpkg-deb -f '$DEB' Depends | grep -q libetpan"

# Installing it changes the machine: only where no parley package, data or
# configuration is there (scripts/deps may have made the user and its empty
# directories: they are put back as they were).
nonempty() { [ -d "$1" ] && [ -n "$(ls -A "$1" 2> /dev/null)" ]; }
pkg_state=$(dpkg-query -W -f='${Status}' parley 2> /dev/null)
case $pkg_state in "" | *not-installed) pkg_state="" ;; esac
why=""
[ "$(id -u)" -eq 0 ] || why="not root"
[ -z "$pkg_state" ] || why="the parley package is on this machine ($pkg_state)"
for d in /var/lib/parley /var/spool/parley; do
	! nonempty $d || why="$d is not empty ($(ls -A $d | head -5 | tr "\n" " "))"
done
for d in /etc/parley /run/parley; do
	[ ! -e $d ] || why="$d exists"
done
if [ -n "$why" ]; then
	echo "# install checks skipped: $why"
	done_testing
	exit
fi
had_user=0
getent passwd parley > /dev/null && had_user=1
before=""
for d in /var/lib/parley /var/spool/parley; do
	[ -d "$d" ] && before="$before $d:$(stat -c '%a:%U:%G' "$d")"
done
cleanup() {
	[ -d /proc/${DPID:-0} ] && kill -9 "$DPID" 2> /dev/null
	dpkg --purge parley > /dev/null 2>&1
	[ $had_user -eq 0 ] && getent passwd parley > /dev/null && deluser --system --quiet parley > /dev/null 2>&1
	for e in $before; do
		d=${e%%:*} m=${e#*:}
		mkdir -p "$d" && chown "${m#*:}" "$d" && chmod "${m%%:*}" "$d"
	done
	rm -rf /run/parley "$T"
}
trap cleanup EXIT

dpkg -i "$DEB" > "$T/out" 2> "$T/err"
ok $? "dpkg -i installs it"
check "the parley system user exists (postinst creates it)" sh -c \
	"u=\$(getent passwd parley | cut -d: -f3); [ -n \"\$u\" ] && [ \"\$u\" -lt 1000 ]"
check "who cannot log in" sh -c "getent passwd parley | grep -q ':/usr/sbin/nologin$'"
for d in /var/lib/parley /var/spool/parley; do
	check "$d is 0700 and the parley user's" test "$(stat -c '%a %U %G' $d)" = "700 parley parley"
done
check "/etc/parley/parley.conf is 0640 root:parley (it holds post secrets)" \
	test "$(stat -c '%a %U %G' /etc/parley/parley.conf)" = "640 root parley"
/usr/bin/parley check-config > "$T/out" 2> "$T/err"
ok $? "the installed parley checks /etc/parley/parley.conf by default"

# parleyd as systemd runs it: root, in the foreground, /run/parley made for
# it; only the listen ports moved off the sample's, to free ones.
mkdir -p /run/parley
C=$T/installed.conf
sed -e "s#\"127.0.0.1:2424\", \"unix:/run/parley/lmtp.sock\"#\"127.0.0.1:$LMTP_PORT\"#" \
    -e "s#\"127.0.0.1:2525\", \"\[::1\]:2525\"#\"127.0.0.1:$SMTP_PORT\"#" \
    /etc/parley/parley.conf > "$C"
/usr/sbin/parleyd -f -c "$C" > "$T/d.log" 2>&1 &
DPID=$!
i=0
while [ $i -lt 300 ] && ! grep -q "started:" "$T/d.log" && kill -0 $DPID 2> /dev/null; do
	sleep 0.1
	i=$((i + 1))
done
grep -q "started:" "$T/d.log"
rc=$?
[ $rc -eq 0 ] || sed 's/^/#   parleyd: /' "$T/d.log"
ok $rc "parleyd started as root runs in the postinst's directories"
check "as the parley user" test "$(ps -o user= -p $DPID 2> /dev/null)" = parley
check "its database is the parley user's" test "$(stat -c %U /var/lib/parley/parley.db 2> /dev/null)" = parley
kill -TERM $DPID 2> /dev/null
wait $DPID
ok $? "it stops on SIGTERM with status 0"
DPID=

dpkg --purge parley > "$T/out" 2> "$T/err"
ok $? "dpkg --purge removes it"
for d in /var/lib/parley /var/spool/parley /etc/parley; do
	check "$d is gone after the purge" test ! -e "$d"
done
check "and so is the configuration's permission override" \
	sh -c "! dpkg-statoverride --list /etc/parley/parley.conf > /dev/null"

done_testing
