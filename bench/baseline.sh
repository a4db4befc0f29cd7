#!/usr/bin/env bash
# The baseline an operator would write: one sandbox network with `ip` and `nft`, built like
# vpcnet's (a namespace, a veth routed from the host side with a /32 route and proxy ARP,
# an address and a default route inside) plus per-sandbox nftables rules that close inbound
# and allow its egress.  Runs in the namespace that plays the host.
# Usage: baseline.sh setup | create ID ADDR | delete ID ADDR
set -eu
GW=10.200.0.1
case $1 in
setup)
	ip addr add $GW/32 dev lo
	nft -f - <<-EOF
	table inet baseline {
		chain forward { type filter hook forward priority 0; policy accept; }
	}
	EOF
	;;
create)
	id=$2 ip=$3 veth=bl${2}
	ip netns add "bsbx-$id"
	ip link add "$veth" type veth peer name eth0 netns "bsbx-$id"
	ip link set "$veth" up
	echo 1 > "/proc/sys/net/ipv4/conf/$veth/proxy_arp"
	ip route add "$ip/32" dev "$veth"
	ip -n "bsbx-$id" addr add "$ip/16" dev eth0
	ip -n "bsbx-$id" link set eth0 up
	ip -n "bsbx-$id" link set lo up
	ip -n "bsbx-$id" route add default via $GW dev eth0 onlink
	nft add rule inet baseline forward oifname "$veth" ct state established,related accept
	nft add rule inet baseline forward oifname "$veth" drop
	nft add rule inet baseline forward iifname "$veth" ip saddr "$ip" accept
	nft add rule inet baseline forward iifname "$veth" drop
	;;
delete)
	id=$2 veth=bl${2}
	# rules are found by the handles nft prints for the sandbox's interface
	nft -a list chain inet baseline forward | awk -v v="\"$veth\"" '$0 ~ v { print $NF }' |
		while read -r h; do nft delete rule inet baseline forward handle "$h"; done
	ip link del "$veth"
	ip netns del "bsbx-$id"
	;;
esac
