#!/usr/bin/env bash
# Benchmarks.  The side-by-side comparison with the ip/nft script and the CNI plugins is the
# performance issue's work; for now this measures vpcnet alone: the whole-process wall time
# of `sandbox create` and `sandbox delete`, median and p99 over N runs, in throw-away
# namespaces.  Nothing here is a test: nothing asserts a time.
# Usage: bench/run.sh path/to/vpcnet [N]
set -euo pipefail
VPCNET=$(realpath "$1"); N=${2:-20}
HOST=vpcnet-bench-host
STATE=$(mktemp -d /tmp/vpcnet-bench.XXXXXX)
vpcnet() { "$VPCNET" --state-dir "$STATE" --host-netns "$HOST" "$@"; }
cleanup() {
	set +e
	vpcnet vpc delete --force bench >/dev/null 2>&1
	ip netns del "$HOST" 2>/dev/null
	rm -rf "$STATE"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "the benchmarks need root"; exit 1; }
ip netns add "$HOST"
ip -n "$HOST" link set lo up

stats() {  # prints median and p99 (ms) of the numbers (ns) on stdin
	sort -n | awk '{ v[NR] = $1 } END {
		m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.99 + 0.999)]; if (p == "") p = v[NR];
		printf "median %6.2f ms   p99 %6.2f ms   (n=%d)\n", m / 1e6, p / 1e6, NR }'
}

vpcnet vpc create bench --cidr 10.0.0.0/16 >/dev/null
: > "$STATE/create"; : > "$STATE/delete"
for i in $(seq 1 "$N"); do
	t0=$(date +%s%N); vpcnet sandbox create "bench-$i" --vpc bench >/dev/null; t1=$(date +%s%N)
	echo $((t1 - t0)) >> "$STATE/create"
done
for i in $(seq 1 "$N"); do
	t0=$(date +%s%N); vpcnet sandbox delete "bench-$i" >/dev/null; t1=$(date +%s%N)
	echo $((t1 - t0)) >> "$STATE/delete"
done
printf 'vpcnet sandbox create  '; stats < "$STATE/create"
printf 'vpcnet sandbox delete  '; stats < "$STATE/delete"
echo "(no baselines yet: the ip/nft script and CNI plugin comparison is the performance issue)"
