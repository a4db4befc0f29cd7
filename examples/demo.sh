#!/usr/bin/env bash
# vpcnet end to end, in throw-away namespaces: a fake "host" with an uplink to a fake
# "internet" that serves HTTP; a VPC with a NAT gateway; two sandboxes.  One fetches a page
# (and the server sees the host's address), an inbound attempt and a neighbour's attempt
# are refused; a database instance only the app group reaches; then a simulated host reboot
# and `vpcnet restore`.  Everything is removed at the end; the real root namespace is not
# touched.
# Usage: examples/demo.sh [path/to/vpcnet]
set -euo pipefail
VPCNET=$(realpath "${1:-build/vpcnet}")
HOST=vpcnet-demo-host
INET=vpcnet-demo-inet
STATE=$(mktemp -d /tmp/vpcnet-demo.XXXXXX)
WWW=$STATE/www
vpcnet() { "$VPCNET" --state-dir "$STATE" --host-netns "$HOST" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
	set +e
	[ -f "$STATE/httpd.pid" ] && kill "$(cat "$STATE/httpd.pid")" 2>/dev/null
	[ -f "$STATE/listener.pid" ] && kill "$(cat "$STATE/listener.pid")" 2>/dev/null
	[ -f "$STATE/db.pid" ] && kill "$(cat "$STATE/db.pid")" 2>/dev/null
	vpcnet vpc delete --force demo >/dev/null 2>&1
	ip netns del "$HOST" 2>/dev/null
	ip netns del "$INET" 2>/dev/null
	rm -rf "$STATE"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "the demo needs root (it makes network namespaces)"; exit 1; }
cleanup; set -e; STATE=$(mktemp -d /tmp/vpcnet-demo.XXXXXX); WWW=$STATE/www

say "fixtures: a fake host (uplink 203.0.113.1) and a fake internet (203.0.113.2, HTTP)"
ip netns add "$HOST"
ip netns add "$INET"
ip link add up0 netns "$HOST" type veth peer name wan0 netns "$INET"
ip -n "$HOST" addr add 203.0.113.1/24 dev up0
ip -n "$HOST" link set up0 up
ip -n "$HOST" link set lo up
ip -n "$HOST" route add default via 203.0.113.2
ip -n "$INET" addr add 203.0.113.2/24 dev wan0
ip -n "$INET" link set wan0 up
ip -n "$INET" link set lo up
mkdir -p "$WWW/cgi-bin"
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "hello from the internet; you came from $REMOTE_ADDR"\n' \
	> "$WWW/cgi-bin/whoami"
chmod +x "$WWW/cgi-bin/whoami"
ip netns exec "$INET" busybox httpd -f -p 80 -h "$WWW" & echo $! > "$STATE/httpd.pid"
echo "ok"

say "a VPC with a NAT gateway"
run vpcnet vpc create demo --cidr 10.0.0.0/16 --nat

say "two sandboxes"
run vpcnet sandbox create demo-fn-1 --vpc demo
run vpcnet sandbox create demo-fn-2 --vpc demo
run vpcnet sandbox list

say "egress: demo-fn-1 fetches a page through the NAT gateway"
for _ in 1 2 3 4 5; do
	vpcnet sandbox exec demo-fn-1 -- curl -s -m 2 -o /dev/null http://203.0.113.2/ 2>/dev/null && break
	sleep 0.2
done
run vpcnet sandbox exec demo-fn-1 -- curl -sS -m 5 http://203.0.113.2/cgi-bin/whoami

say "inbound: a listener in demo-fn-1 (port 8080) that nobody may reach"
mkdir -p "$STATE/sbx"; echo "you should not see this" > "$STATE/sbx/index.html"
"$VPCNET" --state-dir "$STATE" --host-netns "$HOST" \
	sandbox exec demo-fn-1 -- busybox httpd -f -p 8080 -h "$STATE/sbx" &
echo $! > "$STATE/listener.pid"
sleep 0.3
echo "from the internet, with a route to the VPC through the host:"
ip -n "$INET" route add 10.0.0.0/16 via 203.0.113.1
if ip netns exec "$INET" curl -sS -m 2 http://10.0.0.4:8080/; then
	echo "FAIL: inbound connection reached the sandbox"; exit 1
fi
echo "from the neighbour demo-fn-2 in the same subnet:"
if vpcnet sandbox exec demo-fn-2 -- curl -sS -m 2 http://10.0.0.4:8080/; then
	echo "FAIL: a neighbour reached the sandbox"; exit 1
fi
echo "both refused."

say "security groups: a database instance that only the app group may reach"
run vpcnet sg create app --vpc demo --description "the function's egress"
run vpcnet sg create db --vpc demo --description "the database"
run vpcnet sg rule add app egress tcp:5432 sg:db
run vpcnet sg rule add app egress tcp:80 0.0.0.0/0
run vpcnet sg rule add db ingress tcp:5432 sg:app
run vpcnet instance create demo-db1 --vpc demo --sg db
DBIP=$(vpcnet --json instance show demo-db1 | sed -n 's/.*"ip": "\(.*\)".*/\1/p')
"$VPCNET" --state-dir "$STATE" --host-netns "$HOST" \
	instance exec demo-db1 -- busybox nc -ll -p 5432 -e echo "postgres says hi" &
echo $! > "$STATE/db.pid"
sleep 0.3
run vpcnet sandbox set-sg demo-fn-1 app
echo "demo-fn-1 (group app) to the database:"
vpcnet sandbox exec demo-fn-1 -- curl -sS -m 2 "telnet://$DBIP:5432" </dev/null
echo "demo-fn-2 (group default) to the database:"
if vpcnet sandbox exec demo-fn-2 -- curl -sS -m 2 "telnet://$DBIP:5432" </dev/null; then
	echo "FAIL: a sandbox outside app reached the database"; exit 1
fi
echo "demo-fn-1 (group app) to port 8080 on the internet, which app does not allow:"
if vpcnet sandbox exec demo-fn-1 -- curl -sS -m 2 http://203.0.113.2:8080/; then
	echo "FAIL: egress beyond the group's rules"; exit 1
fi
run vpcnet sg show app

say "the router's ruleset (one table; sandboxes are set elements)"
ip netns exec vpcnet-vpc-demo nft list map inet vpcnet out1
ip netns exec vpcnet-vpc-demo nft list chain inet vpcnet sg2_e

say "a host reboot (simulated): every namespace and the host's table gone, the store kept"
kill "$(cat "$STATE/listener.pid")" 2>/dev/null || true
rm -f "$STATE/listener.pid"
kill "$(cat "$STATE/db.pid")" 2>/dev/null || true
rm -f "$STATE/db.pid"
for ns in vpcnet-vpc-demo vpcnet-sbx-demo-fn-1 vpcnet-sbx-demo-fn-2 vpcnet-ins-demo-db1; do
	ip netns del "$ns"
done
ip netns exec "$HOST" nft flush ruleset
run vpcnet vpc list
run vpcnet restore
echo "the VPC, its groups and the database instance are back; the sandboxes died with the host:"
run vpcnet sandbox list
"$VPCNET" --state-dir "$STATE" --host-netns "$HOST" \
	instance exec demo-db1 -- busybox nc -ll -p 5432 -e echo "postgres is back" &
echo $! > "$STATE/db.pid"
run vpcnet sandbox create demo-fn-3 --vpc demo --sg app
sleep 0.3
echo "demo-fn-3 (group app) to the database at its old address, $DBIP:"
vpcnet sandbox exec demo-fn-3 -- curl -sS -m 2 "telnet://$DBIP:5432" </dev/null
echo "demo-fn-3 fetches a page through the NAT gateway:"
vpcnet sandbox exec demo-fn-3 -- curl -sS -m 5 http://203.0.113.2/cgi-bin/whoami

say "clean up"
kill "$(cat "$STATE/db.pid")" 2>/dev/null || true
rm -f "$STATE/db.pid"
run vpcnet sandbox delete demo-fn-3
run vpcnet instance delete demo-db1
run vpcnet vpc delete demo
echo "namespaces left by vpcnet: $(ls /run/netns | grep -c '^vpcnet-\(vpc-demo\|sbx-demo-\|ins-demo-db1\)' || true)"
say "demo ok"
