#!/usr/bin/env bash
# Runs the unit tests, then the namespace tests, the attack suite and a short soak (root),
# under ASan + UBSan.
# Usage: tests/run.sh BUILD_DIR [criterion flags...]
set -u
dir=$1; shift
export VPCNET_BIN=$dir/vpcnet
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

cleanup() {
	# A crashed test cannot run its own teardown: remove what carries the tag of a test
	# process that is gone (a tag is "t" and the pid; another run's live tests are left).
	local ns d pid
	for ns in $(ls /run/netns 2>/dev/null | grep -E '(^|-)t[0-9]+-'); do
		pid=$(echo "$ns" | grep -oE '(^|-)t[0-9]+-' | head -1 | tr -dc 0-9)
		[ -d "/proc/$pid" ] || ip netns del "$ns" 2>/dev/null
	done
	for d in /tmp/vpcnet-test-t[0-9]*; do
		[ -e "$d" ] || continue
		pid=${d##*-t}
		[ -d "/proc/$pid" ] || rm -rf "$d"
	done
}
trap cleanup EXIT

rc=0
echo "== unit tests"
"$dir/unit" "$@" || rc=1
if [ "$(id -u)" = 0 ]; then
	echo "== namespace tests"
	LSAN_OPTIONS=suppressions=$(dirname "$0")/lsan-nstest.supp "$dir/nstest" --jobs 2 "$@" || rc=1
	echo "== attack suite"
	LSAN_OPTIONS=suppressions=$(dirname "$0")/lsan-nstest.supp "$dir/attack" --jobs 2 "$@" || rc=1
	if [ -x "$dir/soak" ]; then
		echo "== soak, ${SOAK_SECONDS:-30} s: 8 workers, SIGKILLs, gc, then the invariants"
		SOAK_SECONDS=${SOAK_SECONDS:-30} LSAN_OPTIONS=suppressions=$(dirname "$0")/lsan-nstest.supp \
			"$dir/soak" || rc=1
	fi
else
	echo "== namespace tests skipped: they need root"
fi
exit $rc
