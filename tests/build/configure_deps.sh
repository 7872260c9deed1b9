#!/bin/sh
# configure_deps.sh - ./configure stops with the Debian package to install
# when a dependency is missing. pkg-config is pointed at a directory holding
# only some of the real .pc files, so each library in turn looks absent.
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"
: "${ABS_TOP_SRCDIR:?ABS_TOP_SRCDIR must name the source tree}"

# pcdir NAME...: a pkg-config directory with only these packages' .pc files.
pcdir() {
	d=$T/pc-$1
	mkdir -p "$d"
	for p in "$@"; do
		src=$(pkg-config --variable=pcfiledir "$p")/$p.pc
		[ -f "$src" ] && cp "$src" "$d/"
	done
	echo "$d"
}

# configure refuses a VPATH build from a source tree configured in place, so
# run a copy of what it reads: the script, its helpers and the .in files.
mkdir -p "$T/src"
(cd "$ABS_TOP_SRCDIR" && tar cf - configure build-aux lib/config.c lib/autoconf.h.in \
	$(find . -name Makefile.in -not -path './_build/*' -not -path './parley-*')) |
	(cd "$T/src" && tar xf -)

# try_configure PCDIR: run configure in a scratch build directory.
try_configure() {
	rm -rf "$T/b"
	mkdir -p "$T/b"
	(cd "$T/b" && PKG_CONFIG_LIBDIR=$1 PKG_CONFIG_PATH= "$T/src/configure" -q) > "$T/out" 2> "$T/err"
}

try_configure "$T/nothing"
ok $(($? != 0 ? 0 : 1)) "configure fails without sqlite3"
check "and names libsqlite3-dev" has "$T/err" "apt-get install libsqlite3-dev"

try_configure "$(pcdir sqlite3)"
ok $(($? != 0 ? 0 : 1)) "configure fails without libconfig"
check "and names libconfig-dev" has "$T/err" "apt-get install libconfig-dev"

try_configure "$(pcdir sqlite3 libconfig)"
ok $(($? != 0 ? 0 : 1)) "configure fails without openssl"
check "and names libssl-dev" has "$T/err" "apt-get install libssl-dev"

try_configure "$(pcdir sqlite3 libconfig openssl libssl libcrypto)"
ok $(($? != 0 ? 0 : 1)) "configure fails without libetpan"
check "and names libetpan-dev" has "$T/err" "apt-get install libetpan-dev"

try_configure "$(pcdir sqlite3 libconfig openssl libssl libcrypto libetpan)"
ok $? "configure passes with all four"
check "the build is PIE: Debian's -specs flag is stripped" sh -c "! grep -q -- '-specs=' '$T/b/Makefile'"

done_testing
