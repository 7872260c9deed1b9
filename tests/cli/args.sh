#!/bin/sh
# args.sh - argument handling of `parley` (issue 9, defect 5): option
# stripping that leaves no command ("parley -- --json" crashed with a NULL
# argv[0], exit 139), a missing option argument, commands and sub-commands
# without their arguments: every one a usage error (exit 2) with a usage
# line on stderr, never a crash.
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/cli/lib.sh"

# usage_error DESCRIPTION ARGS...: parley ARGS exits 2 with "usage" on stderr.
usage_error() {
	desc=$1
	shift
	"$PARLEY" -c "$CONF" "$@" > "$T/out" 2> "$T/err" < /dev/null
	RC=$?
	if [ "$RC" -eq 2 ] && grep -q "usage" "$T/err"; then
		ok 0 "$desc: exit 2 with a usage message"
	else
		echo "#   exit status $RC"
		ok 1 "$desc: exit 2 with a usage message"
	fi
}

usage_error "parley -- --json" -- --json
usage_error "parley --json" --json
usage_error "parley --json --json" --json --json
usage_error "parley --" --
usage_error "parley (no arguments)"
usage_error "parley -c (no file)" -c
check "which says the option needs an argument" grep -q "needs an argument" "$T/err"
usage_error "parley ''" ''
usage_error "parley list" list
usage_error "parley list --json" list --json
usage_error "parley list show" list show
usage_error "parley list show -- --json" list show -- --json
usage_error "parley sub" sub
usage_error "parley sub -- --json" sub -- --json
usage_error "parley sub add" sub add
usage_error "parley sub add dev" sub add dev
usage_error "parley sub show dev" sub show dev
usage_error "parley archive" archive
usage_error "parley archive -- --json" archive -- --json
usage_error "parley archive show" archive show
usage_error "parley archive show --" archive show --
usage_error "parley archive search dev" archive search dev
usage_error "parley archive search dev x --limit" archive search dev x --limit
usage_error "parley archive search --limit 2^66" archive search dev x --limit 99999999999999999999
usage_error "parley mod" mod
usage_error "parley mod show" mod show
usage_error "parley mod approve" mod approve
usage_error "parley queue" queue
usage_error "parley queue ls x" queue ls x
usage_error "parley lists extra" lists extra

echo "1..$tap_n"
[ "$tap_failed" -eq 0 ]
