#!/bin/sh
# bench/parse.sh - CPU time and peak RSS of message parsing on hostile shapes
# (bench/parse_bench.c): nested multiparts, 500,000 To: lines, 100,000
# continuation lines, each at four sizes with the ratios to the smallest.
# Run from the source tree after a build: bench/parse.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
B=${1:-_build/std}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
${CC:-cc} -O2 -I "$B/lib" -I lib -I tests/unit -o "$T/parse_bench" bench/parse_bench.c "$B/lib/libparley.a" \
	$(pkg-config --libs libetpan libconfig sqlite3 libcrypto | sed 's/-specs=[^ ]*//g') -lpthread
"$T/parse_bench"
