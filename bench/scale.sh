#!/usr/bin/env bash
# Scale: N sandboxes on one host (default 10,000).  Create at N against create at 1, the
# kernel memory a sandbox costs (/proc/meminfo before and after, over N), the time gc and
# restore take with N members when nothing is broken, and after a simulated reboot (every
# namespace and the host table gone): restore of a VPC with INSTANCES instances (default
# 1,000: they are rebuilt) and of the N sandboxes (they died with the host: deleted).
# Everything happens in namespaces made here and is removed at the end.  Nothing asserts a
# time: the figures are read side by side, from one run.
#
# Usage: bench/scale.sh [path/to/vpcnet]        (run by `make bench-scale`; N=, INSTANCES=,
#                                                 REPS= in the environment change the sizes)
set -euo pipefail
VPCNET=$(realpath "${1:-build/vpcnet}")
. "$(dirname "$0")/common.sh"
N=${N:-10000} INSTANCES=${INSTANCES:-1000} REPS=${REPS:-30}
HOST=vs-host INET=vs-inet
STATE=$(mktemp -d /tmp/vpcnet-scale.XXXXXX)
OUT=$STATE/results
vpcnet() { "$VPCNET" --state-dir "$STATE/vpcnet" --host-netns "$HOST" "$@"; }
cleanup() {
	set +e
	for v in $(vpcnet vpc list 2>/dev/null | awk 'NR > 1 { print $1 }'); do
		vpcnet vpc delete --force "$v" >/dev/null 2>&1
	done
	for ns in $(ip netns list | awk '{ print $1 }' | grep -E '^vs-|^vpcnet-vpc-(scale|inst)$|^vpcnet-(sbx|ins)-(s[0-9]+|x[0-9]+|y[0-9]+|i[0-9]+)$'); do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$STATE"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "the benchmarks need root"; exit 1; }
(( N <= 60000 )) || { echo "N: at most 60000 (one /16)"; exit 2; }

fixtures $HOST $INET

seconds() { local a=$EPOCHREALTIME; "$@" >/dev/null; local b=$EPOCHREALTIME
	awk -v a="${a/./}" -v b="${b/./}" 'BEGIN { printf "%.2f", (b - a) / 1e6 }'; }
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] / 1000 }'; }
kb() { awk -v k="$1" '$1 == k":" { print $2 }' /proc/meminfo; }
# a host reboot for the VPCs here: their namespaces (routers, members) and the host table go
reboot() {
	for ns in $(ip netns list | awk '{ print $1 }' | grep -E '^vpcnet-(vpc|sbx|ins)-'); do
		case $ns in vpcnet-vpc-scale|vpcnet-vpc-inst|vpcnet-sbx-s*|vpcnet-ins-i*) ip netns del "$ns";; esac
	done
	ip netns exec $HOST nft flush ruleset
	sleep 2  # the kernel frees what was in them
}

vpcnet vpc create scale --cidr 10.128.0.0/16 --nat >/dev/null
cycle() {  # cycle LABEL: REPS creates and deletes with what exists now
	for i in $(seq 1 "$REPS"); do
		timed "$OUT.create.$1" vpcnet sandbox create "x$i" --vpc scale
		timed "$OUT.delete.$1" vpcnet sandbox delete "x$i"
	done
}
say "create at 1"; cycle 1
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
avail0=$(kb MemAvailable) slab0=$(kb Slab)
say "$N sandboxes"
a=$EPOCHREALTIME
for i in $(seq 1 "$N"); do vpcnet sandbox create "s$i" --vpc scale >/dev/null; done
row_s=$(awk -v a="${a/./}" -v b="${EPOCHREALTIME/./}" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
sleep 2
avail1=$(kb MemAvailable) slab1=$(kb Slab)
say "create at $N"; cycle n
say "gc and restore with $N members, nothing broken"
gc_n=$(seconds vpcnet gc)
restore_n=$(seconds vpcnet restore)

say "a VPC of $INSTANCES instances"
vpcnet vpc create inst --cidr 10.129.0.0/16 --nat >/dev/null
vpcnet sg create db --vpc inst >/dev/null
vpcnet sg rule add db ingress tcp:5432 sg:default >/dev/null
for i in $(seq 1 "$INSTANCES"); do vpcnet instance create "i$i" --vpc inst --sg db >/dev/null; done
say "reboot, then restore"
reboot
restore_all=$(seconds vpcnet restore)
say "reboot again: restore the instances' VPC alone"
vpcnet vpc delete --force scale >/dev/null
reboot
restore_i=$(seconds vpcnet restore)
restore_i_again=$(seconds vpcnet restore)

echo
echo "vpcnet at scale ($(nproc) cores, $(uname -r)): $N sandboxes, $INSTANCES instances"
printf "%-52s %8s ms (median of %d)\n" "sandbox create, 1 present" "$(med "$OUT.create.1")" "$REPS"
printf "%-52s %8s ms: %s of 1\n" "sandbox create, $N present" "$(med "$OUT.create.n")" \
	"$(awk -v a="$(med "$OUT.create.n")" -v b="$(med "$OUT.create.1")" 'BEGIN { printf "%.2fx", a / b }')"
printf "%-52s %8s ms, %s ms\n" "sandbox delete, 1 / $N present" "$(med "$OUT.delete.1")" "$(med "$OUT.delete.n")"
printf "%-52s %8s s\n" "$N creates in a row" "$row_s"
printf "%-52s %8d kB (MemAvailable), %d kB of it slab\n" "kernel memory per sandbox" \
	$(( (avail0 - avail1) / N )) $(( (slab1 - slab0) / N ))
printf "%-52s %8s s\n" "gc, $N members, nothing broken" "$gc_n"
printf "%-52s %8s s\n" "restore, $N members, nothing broken" "$restore_n"
printf "%-52s %8s s\n" "restore after a reboot: $N sandboxes + $INSTANCES inst." "$restore_all"
printf "%-52s %8s s\n" "restore after a reboot: a VPC of $INSTANCES instances" "$restore_i"
printf "%-52s %8s s\n" "  ... and restore again (nothing to do)" "$restore_i_again"
