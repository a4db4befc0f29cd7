#!/usr/bin/env bash
# vpcnet's benchmarks, side by side with the baselines an operator would otherwise use, in
# one run: an `ip` + `nft` script (bench/baseline.sh) and the CNI reference plugins, bridge +
# firewall (bench/cni.sh).  Whole-process wall time, median and p99; ratios from the same run.
# Everything happens in namespaces made here (a fake host and internet) and is removed at the
# end.  Nothing here is a test: nothing asserts a time.
#
# Usage: bench/run.sh [--quick] [path/to/vpcnet]      (run by `make bench` / `make bench-quick`)
set -euo pipefail
QUICK=0
[ "${1:-}" = --quick ] && { QUICK=1; shift; }
VPCNET=$(realpath "${1:-build/vpcnet}")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
CONNECT=$HERE/../build/bench/connect
LIBCREATE=$HERE/../build/bench/libcreate
if [ $QUICK = 1 ]; then K=100 KCNI=50 REPS=10 RULES=1000 BURST=100 CONNS=500 IPERF_S=2 DP_RUNS=3
else K=1000 KCNI=500 REPS=30 RULES=10000 BURST=1000 CONNS=2000 IPERF_S=5 DP_RUNS=5; fi

HOST=vb-host INET=vb-inet
STATE=$(mktemp -d /tmp/vpcnet-bench.XXXXXX)
OUT=$STATE/results
vpcnet() { "$VPCNET" --state-dir "$STATE/vpcnet" --host-netns "$HOST" "$@"; }
inhost() { nsenter --net=/run/netns/$HOST "$@"; }   # net namespace only: /run/netns stays shared
cleanup() {
	set +e
	for v in $(vpcnet vpc list 2>/dev/null | awk 'NR > 1 { print $1 }'); do
		vpcnet vpc delete --force "$v" >/dev/null 2>&1
	done
	# what the VPCs' deletes did not take (a store that is gone, a binary that failed)
	for ns in $(ip netns list | awk '{ print $1 }' | grep -E '^(bsbx|csbx|asbx)-|^vb-|^vpcnet-vpc-(bench|burst)$|^vpcnet-sbx-([xpkbd][0-9]+|r[0-9]+|rss)$'); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$STATE"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "the benchmarks need root"; exit 1; }

# --- fixtures: host <-> internet ---------------------------------------------------------
fixtures $HOST $INET
ip netns exec $INET iperf3 -s -D -p 5201 >/dev/null
ip netns exec $INET "$CONNECT" serve 7000 & disown
mkdir -p "$STATE/cni"
inhost bash "$HERE/baseline.sh" setup

# stats FILE: "median p99" in ms
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { p = int(NR * 0.99 + 0.999); if (p > NR) p = NR
	printf "%.2f %.2f", v[int((NR + 1) / 2)] / 1000, v[p] / 1000 }'; }
row() { printf "%-44s %9s %9s   %s\n" "$@"; }

# --- 1. create / delete at k = 1 and with many present ----------------------------------
vpcnet vpc create bench --cidr 10.100.0.0/16 --nat >/dev/null
cycle_vpcnet() {  # cycle_vpcnet LABEL: REPS creates and deletes with what exists now
	for i in $(seq 1 $REPS); do
		timed "$OUT.vpcnet.create.$1" vpcnet sandbox create "x$i" --vpc bench
		timed "$OUT.vpcnet.delete.$1" vpcnet sandbox delete "x$i"
	done
}
cycle_script() {
	for i in $(seq 1 $REPS); do
		timed "$OUT.script.create.$1" inhost bash "$HERE/baseline.sh" create "x$i" "10.200.250.$i"
		timed "$OUT.script.delete.$1" inhost bash "$HERE/baseline.sh" delete "x$i"
	done
}
cycle_cni() {
	for i in $(seq 1 $REPS); do
		timed "$OUT.cni.create.$1" env STATE="$STATE/cni" nsenter --net=/run/netns/$HOST \
			bash "$HERE/cni.sh" add "x$i"
		timed "$OUT.cni.delete.$1" env STATE="$STATE/cni" nsenter --net=/run/netns/$HOST \
			bash "$HERE/cni.sh" del "x$i"
	done
}
say "vpcnet at k=1"; cycle_vpcnet 1
say "vpcnet from a warm pool"
vpcnet pool fill bench $REPS >/dev/null
for i in $(seq 1 $REPS); do timed "$OUT.pool.create" vpcnet sandbox create "p$i" --vpc bench; done
for i in $(seq 1 $REPS); do vpcnet sandbox delete "p$i" >/dev/null; done
say "vpcnet through the C library, in one process"
"$LIBCREATE" "$STATE/vpcnet" "$HOST" bench $REPS "$OUT.lib"
say "vpcnet as a CNI plugin, in namespaces a runtime made"
cniconf='{"cniVersion":"1.0.0","name":"vb","type":"vpcnet","vpc":"bench","stateDir":"'$STATE/vpcnet'","hostNetns":"'$HOST'"}'
vcni() {  # vcni COMMAND ID: the plugin as a runtime runs it
	env -i CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/asbx-$2 CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni "$VPCNET" <<<"$cniconf" 2>/dev/null
}
# Each DEL next to the floor of a delete in an adopted namespace, one RTM_DELLINK of a veth
# (ip link del), in turn: that floor is itself a wait for the kernel (20-45 ms here) that
# drifts over a run, so both are measured in the same moments.
for i in $(seq 1 $REPS); do
	ip netns add "asbx-a$i"
	timed "$OUT.vcni.add" vcni ADD "a$i"
	timed "$OUT.vcni.del" vcni DEL "a$i"
	ip netns del "asbx-a$i"
	ip netns add "asbx-l$i"
	ip -n $HOST link add "vl$i" type veth peer name eth0 netns "asbx-l$i"
	ip -n $HOST link set "vl$i" up; ip -n "asbx-l$i" link set eth0 up
	timed "$OUT.dellink" ip -n $HOST link del "vl$i"
	ip netns del "asbx-l$i"
done
say "vpcnet: $K in a row"
a=$(now_us); for i in $(seq 1 $K); do vpcnet sandbox create "k$i" --vpc bench >/dev/null; done
echo $(( $(now_us) - a )) > "$OUT.vpcnet.row"
say "vpcnet at k=$K"; cycle_vpcnet k
for i in $(seq 1 $K); do vpcnet sandbox delete "k$i" >/dev/null; done

say "script at k=1"; cycle_script 1
say "script: $K in a row"
a=$(now_us)
for i in $(seq 1 $K); do inhost bash "$HERE/baseline.sh" create "k$i" \
	"10.200.$(( i / 250 )).$(( i % 250 + 2 ))" >/dev/null; done
echo $(( $(now_us) - a )) > "$OUT.script.row"
say "script at k=$K"; cycle_script k
for i in $(seq 1 $K); do inhost bash "$HERE/baseline.sh" delete "k$i" >/dev/null; done

say "CNI at k=1"; cycle_cni 1
say "CNI: $KCNI in a row"
a=$(now_us)
for i in $(seq 1 $KCNI); do STATE="$STATE/cni" inhost bash "$HERE/cni.sh" add "k$i" >/dev/null; done
echo $(( $(now_us) - a )) > "$OUT.cni.row"
say "CNI at k=$KCNI"; cycle_cni k
for i in $(seq 1 $KCNI); do STATE="$STATE/cni" inhost bash "$HERE/cni.sh" del "k$i" >/dev/null; done

# --- 2. burst: BURST creates from 8 workers ---------------------------------------------
say "burst of $BURST from 8 workers"
vpcnet vpc create burst --cidr 10.101.0.0/16 --nat >/dev/null
# A worker is one loop (an orchestrator's worker is a process that lives on), not a shell
# started per create: that shell's start-up cost as much CPU as the create's own.
burst_worker() {  # burst_worker W: creates bW, b(W+8), ... up to BURST
	for (( i = $1; i <= BURST; i += 8 )); do timed "$OUT.burst.$1" vpcnet sandbox create "b$i" --vpc burst; done
}
a=$(now_us)
for w in $(seq 1 8); do burst_worker "$w" & done
wait
echo $(( $(now_us) - a )) > "$OUT.burst.total"
cat "$OUT".burst.[1-8] > "$OUT.burst"
distinct=$(vpcnet --json sandbox list --vpc burst | jq '[.[].ip] | unique | length')
vpcnet vpc delete --force burst >/dev/null

# --- 3. rule changes and set-sg with few and many rules ---------------------------------
vpcnet sg create few --vpc bench >/dev/null; vpcnet sg create many --vpc bench >/dev/null
vpcnet sg create web --vpc bench >/dev/null
vpcnet sg rule add web egress tcp 0.0.0.0/0 >/dev/null
for r in $(seq 1 10); do vpcnet sg rule add few egress "tcp:$(( 1000 + r ))" 198.51.100.0/24 >/dev/null; done
rules_cycle() {  # rules_cycle GROUP LABEL
	vpcnet sandbox create "r$2" --vpc bench --sg "$1" >/dev/null
	for i in $(seq 1 $REPS); do
		timed "$OUT.ruleadd.$2" vpcnet sg rule add "$1" egress udp:9999 "192.0.2.$i"
		timed "$OUT.setsg.$2" vpcnet sandbox set-sg "r$2" "$1,web"
		vpcnet sg rule del "$1" egress udp:9999 "192.0.2.$i" >/dev/null
		timed "$OUT.setsgdel.$2" vpcnet sandbox set-sg "r$2" "$1"
	done
}
rules_cycle few 10
say "loading $RULES rules and $K sandboxes"
for r in $(seq 1 $RULES); do
	vpcnet sg rule add many egress "tcp:$(( 1000 + r % 5000 ))" "198.51.$(( r / 5000 )).$(( r % 250 ))" >/dev/null
done
rules_cycle many $RULES

# --- 4. data path: no groups' worth of rules vs K sandboxes and RULES rules ---------------
# One run of either is noisy here (+-20%): the median of DP_RUNS, after the kernel has
# finished the work the setup left (namespaces and flows being freed).
datapath() {  # datapath LABEL SG
	vpcnet sandbox create "d$1" --vpc bench --sg "$2" >/dev/null
	sleep 2
	: > "$OUT.iperf.$1"; : > "$OUT.conn.$1"
	for r in $(seq 1 $DP_RUNS); do
		ip netns exec "vpcnet-sbx-d$1" iperf3 -c 203.0.113.2 -t $IPERF_S -J |
			jq '.end.sum_received.bits_per_second / 1e9' >> "$OUT.iperf.$1"
		ip netns exec "vpcnet-sbx-d$1" "$CONNECT" run 203.0.113.2 7000 $CONNS \
			>> "$OUT.conn.$1" 2>/dev/null || true
	done
}
say "data path, bare"; datapath bare web
for i in $(seq 1 $K); do vpcnet sandbox create "k$i" --vpc bench --sg "many,web" >/dev/null; done
say "data path, loaded"; datapath loaded "many,web"

# --- 5. peak RSS of one create ---------------------------------------------------------
/usr/bin/time -f %M -o "$OUT.rss" "$VPCNET" --state-dir "$STATE/vpcnet" --host-netns "$HOST" \
	sandbox create rss --vpc bench >/dev/null

# --- the table ---------------------------------------------------------------------------
med() { stats "$1" | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
echo
echo "vpcnet benchmarks ($( [ $QUICK = 1 ] && echo quick || echo full ), $(nproc) cores, $(uname -r))"
row "" "median ms" "p99 ms" "vs vpcnet (median)"
for k in 1 k; do
	kk=$([ $k = 1 ] && echo 1 || echo $K); kc=$([ $k = 1 ] && echo 1 || echo $KCNI)
	for op in create delete; do
		v=$(med "$OUT.vpcnet.$op.$k")
		row "vpcnet sandbox $op, k=$kk" $(stats "$OUT.vpcnet.$op.$k") ""
		row "  ip+nft script $op, k=$kk" $(stats "$OUT.script.$op.$k") "$(ratio "$(med "$OUT.script.$op.$k")" "$v")"
		row "  CNI bridge+firewall $op, k=$kc" $(stats "$OUT.cni.$op.$k") "$(ratio "$(med "$OUT.cni.$op.$k")" "$v")"
	done
done
row "vpcnet sandbox create from a warm pool" $(stats "$OUT.pool.create") ""
row "C library: vpcnet_sandbox_create" $(stats "$OUT.lib.create") ""
row "C library: vpcnet_sandbox_delete" $(stats "$OUT.lib.delete") ""
row "C library: create from a warm pool" $(stats "$OUT.lib.pool") ""
row "vpcnet CNI ADD, adopted namespace" $(stats "$OUT.vcni.add") ""
row "vpcnet CNI DEL, adopted namespace" $(stats "$OUT.vcni.del") ""
row "  bare RTM_DELLINK of a veth (ip link del)" $(stats "$OUT.dellink") \
	"DEL is $(ratio "$(med "$OUT.vcni.del")" "$(med "$OUT.dellink")") of it"
vk1=$(med "$OUT.vpcnet.create.1"); vkk=$(med "$OUT.vpcnet.create.k")
row "vpcnet create: k=$K vs k=1" "" "" "$(ratio "$vkk" "$vk1") (flat is 1.0x)"
printf "%-44s %9.2f s (script %.2f s, CNI %d in %.2f s)\n" "create $K in a row" \
	"$(awk '{ print $1 / 1e6 }' "$OUT.vpcnet.row")" "$(awk '{ print $1 / 1e6 }' "$OUT.script.row")" \
	$KCNI "$(awk '{ print $1 / 1e6 }' "$OUT.cni.row")"
printf "%-44s %9.2f s, p99 %s ms, %s distinct addresses\n" "burst: $BURST creates, 8 workers" \
	"$(awk '{ print $1 / 1e6 }' "$OUT.burst.total")" "$(stats "$OUT.burst" | cut -d' ' -f2)" "$distinct"
row "sg rule add, 10 rules" $(stats "$OUT.ruleadd.10") ""
row "sg rule add, $RULES rules" $(stats "$OUT.ruleadd.$RULES") "$(ratio "$(med "$OUT.ruleadd.$RULES")" "$(med "$OUT.ruleadd.10")") of 10"
row "sandbox set-sg adding a group, 10 rules" $(stats "$OUT.setsg.10") ""
row "sandbox set-sg adding a group, $RULES rules" $(stats "$OUT.setsg.$RULES") "$(ratio "$(med "$OUT.setsg.$RULES")" "$(med "$OUT.setsg.10")") of 10"
row "sandbox set-sg removing it, 10 rules" $(stats "$OUT.setsgdel.10") ""
row "sandbox set-sg removing it, $RULES rules" $(stats "$OUT.setsgdel.$RULES") "$(ratio "$(med "$OUT.setsgdel.$RULES")" "$(med "$OUT.setsgdel.10")") of 10"
mid() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }  # median
printf "%-44s %9.2f Gbit/s bare, %.2f loaded: %s\n" "iperf3, 1 TCP stream, $IPERF_S s, median of $DP_RUNS" \
	"$(mid "$OUT.iperf.bare")" "$(mid "$OUT.iperf.loaded")" \
	"$(ratio "$(mid "$OUT.iperf.loaded")" "$(mid "$OUT.iperf.bare")")"
printf "%-44s %9d /s bare, %d loaded: %s\n" "TCP connects, $CONNS in a row, median of $DP_RUNS" \
	"$(mid "$OUT.conn.bare")" "$(mid "$OUT.conn.loaded")" \
	"$(ratio "$(mid "$OUT.conn.loaded")" "$(mid "$OUT.conn.bare")")"
printf "%-44s %9.1f MB\n" "peak RSS of one sandbox create" "$(awk '{ print $1 / 1024 }' "$OUT.rss")"
echo "(loaded = $K sandboxes and $RULES rules in the VPC; the measured sandbox's groups hold them)"
