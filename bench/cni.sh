#!/usr/bin/env bash
# The CNI reference plugins from Debian's containernetworking-plugins, driven as a runtime
# drives a chained network: bridge (host-local IPAM, ipMasq) then firewall on ADD, with the
# bridge's result as the firewall's prevResult; firewall then bridge on DEL.  The namespace is
# made and removed around it as a runtime would; the plugins' own state lives in $STATE.
# Runs in the namespace that plays the host.  Usage: cni.sh add|del ID
set -eu
CNI_PATH=${CNI_PATH:-/usr/lib/cni}
STATE=${STATE:?}
id=$2
NETNS=/run/netns/csbx-$id
bridge='{"cniVersion":"1.0.0","name":"bench","type":"bridge","bridge":"cni0","isGateway":true,
 "ipMasq":true,"ipam":{"type":"host-local","subnet":"10.210.0.0/16","dataDir":"'$STATE'/ipam"}}'
firewall='{"cniVersion":"1.0.0","name":"bench","type":"firewall","backend":"iptables"}'
plugin() {  # plugin TYPE COMMAND CONFIG
	CNI_COMMAND=$2 CNI_CONTAINERID=$id CNI_NETNS=$NETNS CNI_IFNAME=eth0 CNI_PATH=$CNI_PATH \
		"$CNI_PATH/$1" <<<"$3"
}
case $1 in
add)
	ip netns add "csbx-$id"
	result=$(plugin bridge ADD "$bridge")
	echo "$result" > "$STATE/result-$id"
	plugin firewall ADD "$(jq -c --argjson r "$result" '. + {prevResult: $r}' <<<"$firewall")" \
		>/dev/null
	;;
del)
	result=$(cat "$STATE/result-$id")
	plugin firewall DEL "$(jq -c --argjson r "$result" '. + {prevResult: $r}' <<<"$firewall")"
	plugin bridge DEL "$bridge"
	ip netns del "csbx-$id"
	rm -f "$STATE/result-$id"
	;;
esac
