#!/bin/sh
# configure_deps.sh - ./configure stops with the Debian package to install
# when a dependency is missing. pkg-config is pointed at a directory holding
# only some of the real .pc files, so each library in turn looks absent.
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"
: "${ABS_TOP_SRCDIR:?ABS_TOP_SRCDIR must name the source tree}"

# pcdir TAG NAME...: a pkg-config directory with only these packages' .pc files.
pcdir() {
	d=$T/pc-$#-$1
	shift
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

# Each case: the Debian package configure must name, and the .pc files present.
for case in "libsqlite3-dev:" "libconfig-dev:sqlite3" "libssl-dev:sqlite3 libconfig" \
	    "libetpan-dev:sqlite3 libconfig openssl libssl libcrypto"; do
	pkg=${case%%:*}
	# shellcheck disable=SC2086
	try_configure "$(pcdir x ${case#*:})"
	ok $(($? != 0 ? 0 : 1)) "configure fails without $pkg"
	check "and names $pkg" has "$T/err" "apt-get install $pkg"
done

try_configure "$(pcdir all sqlite3 libconfig openssl libssl libcrypto libetpan)"
ok $? "configure passes with all four"
check "Debian's -specs= link flag is stripped" sh -c "! grep -q -- '-specs=' '$T/b/Makefile'"
check "parley is a position-independent executable" sh -c "readelf -h '$PARLEY' | grep -q 'DYN'"

done_testing
