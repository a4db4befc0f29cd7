/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter_arp.h>
#include <linux/netlink.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "base/addr.h"
#include "base/names.h"
#include "nat/tables.h"
#include "nft/nft.h"

#define CT_REPLIES (NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED))
#define PRIO_RAW (-300)
#define PRIO_DSTNAT (-100)
#define PRIO_FILTER 0
#define PRIO_SRCNAT 100
#define LINK_LOCAL 0xa9fe0000u /* 169.254.0.0/16 */
#define DYNAMIC_SET_SIZE 65536  /* per-port counters and connection counts */

/* Owns one object while a batch serialises it. */
#define ADD_RULE(b, r) do { nftb_rule(b, NFT_MSG_NEWRULE, 0, r); nftnl_rule_free(r); } while (0)

/* @id: unique within the batch (the kernel wants one on every new set). */
static void add_set(struct nft_batch *b, const char *table, const char *name, uint32_t type,
		    uint32_t len, uint32_t id)
{
	struct nftnl_set *s = nft_set_new(NFPROTO_INET, table, name, type, len, 0, id);
	if (s) {
		nftb_set(b, NFT_MSG_NEWSET, 0, s);
		nftnl_set_free(s);
	}
}

static void add_chain(struct nft_batch *b, const char *table, const char *name, const char *type,
		      int hook, int32_t prio, uint32_t policy, bool flush)
{
	struct nftnl_chain *c = hook < 0 ? nft_chain_new(NFPROTO_INET, table, name)
					 : nft_base_chain_new(NFPROTO_INET, table, name, type, hook,
							      prio, policy);
	if (!c)
		return;
	nftb_chain(b, NFT_MSG_NEWCHAIN, 0, c);
	nftnl_chain_free(c);
	struct nftnl_rule *r;
	if (flush && (r = nft_rule_new(NFPROTO_INET, table, name))) {
		/* a rule delete without a handle flushes the chain */
		nftb_rule(b, NFT_MSG_DELRULE, 0, r);
		nftnl_rule_free(r);
	}
}

static struct nftnl_rule *rule(const char *table, const char *chain)
{
	return nft_rule_new(NFPROTO_INET, table, chain);
}

/* meta l4proto tcp reject with tcp reset; reject with icmpx admin-prohibited */
static void add_deny_rules(struct nft_batch *b, const char *table)
{
	struct nftnl_rule *r = rule(table, "deny");
	if (r) {
		m_l4proto(r, IPPROTO_TCP);
		x_counter(r);
		x_reject(r, NFT_REJECT_TCP_RST, 0);
		ADD_RULE(b, r);
	}
	if ((r = rule(table, "deny"))) {
		x_counter(r);
		x_reject(r, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		ADD_RULE(b, r);
	}
}

static void add_ct_replies_accept(struct nft_batch *b, const char *table, const char *chain)
{
	struct nftnl_rule *r = rule(table, chain);
	if (r) {
		m_ct_state(r, CT_REPLIES);
		x_verdict(r, NF_ACCEPT, NULL);
		ADD_RULE(b, r);
	}
}

/* A chain that counts a refusal in dynamic set @set under the interface named by meta
 * @key, then gives @verdict (to @target).  The count is a rule of its own: were the set
 * ever full, the update would fail and only the count would be lost, never the verdict. */
static void add_counting_chain(struct nft_batch *b, uint32_t family, const char *table,
			       const char *name, const char *set, uint32_t key, int verdict,
			       const char *target)
{
	struct nftnl_chain *c = nft_chain_new(family, table, name);
	if (c) {
		nftb_chain(b, NFT_MSG_NEWCHAIN, 0, c);
		nftnl_chain_free(c);
	}
	struct nftnl_rule *r = nft_rule_new(family, table, name);
	if (r) {
		x_meta(r, key, NFT_REG_1);
		x_dynset(r, NFT_DYNSET_OP_UPDATE, set, NFT_REG_1, e_counter());
		ADD_RULE(b, r);
	}
	if ((r = nft_rule_new(family, table, name))) {
		x_verdict(r, verdict, target);
		ADD_RULE(b, r);
	}
}

static void add_dynamic_set(struct nft_batch *b, uint32_t family, const char *table,
			    const char *name, uint32_t id)
{
	struct nftnl_set *s = nft_set_new(family, table, name, NFT_TYPE_IFNAME, NFT_IFNAME_LEN, 0,
					  id);
	if (s) {
		nft_set_dynamic(s, DYNAMIC_SET_SIZE);
		nftb_set(b, NFT_MSG_NEWSET, 0, s);
		nftnl_set_free(s);
	}
}

/* (port . MAC . address): what a port may send as, in the inet and the arp table */
static void add_port_src(struct nft_batch *b, uint32_t family, const char *table, uint32_t id)
{
	struct nftnl_set *s = nft_set_new(family, table, "port_src",
					  NFT_CONCAT3(NFT_TYPE_IFNAME, NFT_TYPE_ETHERADDR,
						      NFT_TYPE_IPADDR),
					  NFT_IFNAME_LEN + NFT_ETHER_LEN + 4, 0, id);
	if (s) {
		nftb_set(b, NFT_MSG_NEWSET, 0, s);
		nftnl_set_free(s);
	}
}

/* @revoked: ports of deleted members, refused everything until their elements and flows
 * are reaped (a batch of deletes costs the kernel one RCU grace period, not one each) */
static void add_revoked(struct nft_batch *b, uint32_t family, const char *table, uint32_t id)
{
	struct nftnl_set *s = nft_set_new(family, table, REVOKED_SET, NFT_TYPE_IFNAME,
					  NFT_IFNAME_LEN, 0, id);
	if (s) {
		nftb_set(b, NFT_MSG_NEWSET, 0, s);
		nftnl_set_free(s);
	}
}

/* iifname "port*" (the prefix every member port has) */
static void m_iif_port(struct nftnl_rule *r)
{
	x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
	x_cmp(r, NFT_REG_1, NFT_CMP_EQ, PORT_PREFIX, strlen(PORT_PREFIX));
}

/* The router's ARP: a port may only ask (requests), as itself (its MAC and address); no
 * gratuitous claims, no replies.  Its neighbour entries are permanent and it answers for
 * the subnet by proxy, so a member never needs to say more. */
static void arp_table_build(struct nft_batch *b)
{
	struct nftnl_table *t = nft_table_new(NFPROTO_ARP, ARP_TABLE);
	if (t) {
		nftb_table(b, NFT_MSG_NEWTABLE, NLM_F_EXCL, t);
		nftnl_table_free(t);
	}
	add_port_src(b, NFPROTO_ARP, ARP_TABLE, 1);
	add_dynamic_set(b, NFPROTO_ARP, ARP_TABLE, "drops_spoof", 2);
	add_revoked(b, NFPROTO_ARP, ARP_TABLE, 3);
	add_counting_chain(b, NFPROTO_ARP, ARP_TABLE, "spoof", "drops_spoof", NFT_META_IIFNAME,
			   NF_DROP, NULL);
	struct nftnl_chain *c = nft_base_chain_new(NFPROTO_ARP, ARP_TABLE, "input", "filter",
						   NF_ARP_IN, PRIO_FILTER, NF_ACCEPT);
	if (c) {
		nftb_chain(b, NFT_MSG_NEWCHAIN, 0, c);
		nftnl_chain_free(c);
	}
	/* iifname "port*" arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp operation request
	 * iifname . arp saddr ether . arp saddr ip @port_src accept */
	static const uint8_t request[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	struct nftnl_rule *r;
	/* iifname @revoked drop */
	if ((r = nft_rule_new(NFPROTO_ARP, ARP_TABLE, "input"))) {
		m_iifname_in(r, REVOKED_SET);
		x_verdict(r, NF_DROP, NULL);
		ADD_RULE(b, r);
	}
	if ((r = nft_rule_new(NFPROTO_ARP, ARP_TABLE, "input"))) {
		m_iif_port(r);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 8, NFT_REG_1);
		x_cmp(r, NFT_REG_1, NFT_CMP_EQ, request, sizeof(request));
		x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 6, NFT_REG32_04);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4, NFT_REG32_06);
		x_lookup(r, NFT_REG_1, "port_src", 0, false);
		x_verdict(r, NF_ACCEPT, NULL);
		ADD_RULE(b, r);
	}
	/* iifname "port*" goto spoof */
	if ((r = nft_rule_new(NFPROTO_ARP, ARP_TABLE, "input"))) {
		m_iif_port(r);
		x_verdict(r, NFT_GOTO, "spoof");
		ADD_RULE(b, r);
	}
}

/* iifname TRANSIT ct status dnat accept: a new connection from the host that @ctl_dnat
 * (the only DNAT in the router) sent to a member's control port */
static void add_control_accept(struct nft_batch *b, const char *transit_if, const char *chain)
{
	struct nftnl_rule *r = rule(ROUTER_TABLE, chain);
	if (r) {
		x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
		x_cmp_ifname(r, NFT_REG_1, NFT_CMP_EQ, transit_if);
		m_ct_status(r, IPS_DST_NAT);
		x_verdict(r, NF_ACCEPT, NULL);
		ADD_RULE(b, r);
	}
}

void router_table_build(struct nft_batch *b, uint32_t gw, bool nat, const char *transit_if,
			uint32_t transit_ip)
{
	const char *T = ROUTER_TABLE;
	arp_table_build(b);
	struct nftnl_table *t = nft_table_new(NFPROTO_INET, T);
	if (t) {
		nftb_table(b, NFT_MSG_NEWTABLE, NLM_F_EXCL, t);
		nftnl_table_free(t);
	}
	add_set(b, T, "ports", NFT_TYPE_IFNAME, NFT_IFNAME_LEN, 1);
	add_port_src(b, NFPROTO_INET, T, 2);
	add_dynamic_set(b, NFPROTO_INET, T, "drops_spoof", 3);
	add_dynamic_set(b, NFPROTO_INET, T, "drops_in", 4);
	add_dynamic_set(b, NFPROTO_INET, T, "drops_out", 5);
	add_revoked(b, NFPROTO_INET, T, 8);
	struct nftnl_set *cl = nft_set_new(NFPROTO_INET, T, "climit", NFT_TYPE_IFNAME,
					   NFT_IFNAME_LEN, 0, 6);
	if (cl) {
		nft_set_verdict_map(cl);
		nftb_set(b, NFT_MSG_NEWSET, 0, cl);
		nftnl_set_free(cl);
	}
	add_chain(b, T, "deny", NULL, -1, 0, 0, false);
	add_chain(b, T, "pre", "filter", NF_INET_PRE_ROUTING, PRIO_RAW, NF_ACCEPT, false);
	add_chain(b, T, "input", "filter", NF_INET_LOCAL_IN, PRIO_FILTER, NF_DROP, false);
	add_chain(b, T, "forward", "filter", NF_INET_FORWARD, PRIO_FILTER, NF_DROP, false);
	add_chain(b, T, "forward_in", "filter", NF_INET_FORWARD, PRIO_FILTER + 10, NF_ACCEPT, false);
	for (int i = 1; i <= MEMBER_SLOTS; i++) {
		char map[16];
		for (int d = 0; d < 2; d++) {
			snprintf(map, sizeof(map), "%s%d", d ? "in" : "out", i);
			struct nftnl_set *s = nft_set_new(NFPROTO_INET, T, map, NFT_TYPE_DEVGROUP,
							  4, 0, 10 + 2 * i + d);
			if (s) {
				nft_set_verdict_map(s);
				nftb_set(b, NFT_MSG_NEWSET, 0, s);
				nftnl_set_free(s);
			}
		}
	}
	if (nat)
		add_chain(b, T, "post", "nat", NF_INET_POST_ROUTING, PRIO_SRCNAT, NF_ACCEPT, false);
	/* control ports: host port on the transit address -> member address . port */
	struct nftnl_set *ctl = nft_set_new(NFPROTO_INET, T, CONTROL_MAP, NFT_TYPE_INET_SERVICE, 2,
					    0, 7);
	if (ctl) {
		nft_set_data_map(ctl, NFT_CONCAT2(NFT_TYPE_IPADDR, NFT_TYPE_INET_SERVICE), 8);
		nftb_set(b, NFT_MSG_NEWSET, 0, ctl);
		nftnl_set_free(ctl);
	}
	add_chain(b, T, "ctl", "nat", NF_INET_PRE_ROUTING, PRIO_DSTNAT, NF_ACCEPT, false);
	add_deny_rules(b, T);
	add_counting_chain(b, NFPROTO_INET, T, "spoof", "drops_spoof", NFT_META_IIFNAME, NF_DROP,
			   NULL);
	add_counting_chain(b, NFPROTO_INET, T, "deny_out", "drops_out", NFT_META_IIFNAME, NFT_GOTO,
			   "deny");
	add_counting_chain(b, NFPROTO_INET, T, "deny_in", "drops_in", NFT_META_OIFNAME, NFT_GOTO,
			   "deny");

	struct nftnl_rule *r;
	/* pre: iifname @revoked drop; forward: oifname @revoked drop (before replies) */
	if ((r = rule(T, "pre"))) {
		m_iifname_in(r, REVOKED_SET);
		x_verdict(r, NF_DROP, NULL);
		ADD_RULE(b, r);
	}
	if ((r = rule(T, "forward"))) {
		x_meta(r, NFT_META_OIFNAME, NFT_REG_1);
		x_lookup(r, NFT_REG_1, REVOKED_SET, 0, false);
		x_verdict(r, NF_DROP, NULL);
		ADD_RULE(b, r);
	}
	/* pre: iifname "port*" meta nfproto != ipv4 update @drops_spoof { iifname counter } drop
	 * (every port, in @ports or not yet or no longer) */
	if ((r = rule(T, "pre"))) {
		m_iif_port(r);
		m_nfproto(r, NFT_CMP_NEQ, NFPROTO_IPV4);
		x_verdict(r, NFT_GOTO, "spoof");
		ADD_RULE(b, r);
	}
	/* pre: iifname "port*" iifname . ether saddr . ip saddr != @port_src ... drop
	 * (a port is a veth: Ethernet, which nft writes as meta iiftype ether) */
	if ((r = rule(T, "pre"))) {
		m_iif_port(r);
		m_nfproto(r, NFT_CMP_EQ, NFPROTO_IPV4);
		x_meta(r, NFT_META_IIFTYPE, NFT_REG_1);
		x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &(uint16_t){ ARPHRD_ETHER }, 2);
		x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
		x_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG32_04);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_06);
		x_lookup(r, NFT_REG_1, "port_src", 0, true);
		x_verdict(r, NFT_GOTO, "spoof");
		ADD_RULE(b, r);
	}

	/* ctl: iifname TRANSIT ip saddr TH ip daddr TR tcp dport map @ctl_dnat: dnat ip to
	 * addr . port -- from the host's end of the transit link only (were the host's table
	 * flushed, what the uplink side routes here still would not get in) */
	if ((r = rule(T, "ctl"))) {
		x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
		x_cmp_ifname(r, NFT_REG_1, NFT_CMP_EQ, transit_if);
		m_ip_saddr(r, transit_ip - 1, 32);  /* the /31's other end (base/addr.h) */
		m_ip_daddr(r, transit_ip, 32);
		m_l4proto(r, IPPROTO_TCP);
		x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
		x_map(r, NFT_REG_1, CONTROL_MAP, NFT_REG_1);
		x_dnat4(r, NFT_REG32_00, NFT_REG32_01);
		ADD_RULE(b, r);
	}

	add_ct_replies_accept(b, T, "input");
	/* input: iif "lo" accept (lo is ifindex 1 in every namespace) */
	if ((r = rule(T, "input"))) {
		x_meta(r, NFT_META_IIF, NFT_REG_1);
		x_cmp_u32(r, NFT_REG_1, NFT_CMP_EQ, 1);
		x_verdict(r, NF_ACCEPT, NULL);
		ADD_RULE(b, r);
	}
	/* input: iifname @ports ip daddr GW icmp type echo-request accept */
	if ((r = rule(T, "input"))) {
		m_iifname_in(r, "ports");
		m_ip_daddr(r, gw, 32);
		m_l4proto(r, IPPROTO_ICMP);
		x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
		x_cmp_u8(r, NFT_REG_1, NFT_CMP_EQ, 8);
		x_verdict(r, NF_ACCEPT, NULL);
		ADD_RULE(b, r);
	}
	/* input: iifname @ports update @drops_out { iifname counter } goto deny */
	if ((r = rule(T, "input"))) {
		m_iifname_in(r, "ports");
		x_verdict(r, NFT_GOTO, "deny_out");
		ADD_RULE(b, r);
	}

	add_ct_replies_accept(b, T, "forward");
	add_control_accept(b, transit_if, "forward");
	/* forward: iifname @ports ip daddr {169.254.0.0/16, transit range} goto deny */
	const struct { uint32_t net; unsigned len; } never[] = {
		{ LINK_LOCAL, 16 }, { TRANSIT_BASE, TRANSIT_PREFIX_LEN },
	};
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		if ((r = rule(T, "forward"))) {
			m_iifname_in(r, "ports");
			m_ip_daddr(r, never[i].net, never[i].len);
			x_verdict(r, NFT_GOTO, "deny_out");
			ADD_RULE(b, r);
		}
	}
	/* forward: ct state new iifname vmap @climit: the member's connection limit */
	if ((r = rule(T, "forward"))) {
		m_ct_state(r, NF_CT_STATE_BIT(IP_CT_NEW));
		x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
		x_vmap(r, NFT_REG_1, "climit");
		ADD_RULE(b, r);
	}
	/* forward: iifgroup vmap @outK, K = 1..5: the sender's groups (its port's device group
	 * is its membership profile); then refused */
	for (int i = 1; i <= MEMBER_SLOTS; i++) {
		char map[16];
		snprintf(map, sizeof(map), "out%d", i);
		if ((r = rule(T, "forward"))) {
			x_meta(r, NFT_META_IIFGROUP, NFT_REG_1);
			x_vmap(r, NFT_REG_1, map);
			ADD_RULE(b, r);
		}
	}
	if ((r = rule(T, "forward"))) {
		m_iifname_in(r, "ports");
		x_verdict(r, NFT_GOTO, "deny_out");
		ADD_RULE(b, r);
	}
	/* forward_in: replies; oifname @ports oifgroup vmap @inK (a port keeps its device
	 * group until it is gone: only one in @ports is a member's); then refused */
	add_ct_replies_accept(b, T, "forward_in");
	add_control_accept(b, transit_if, "forward_in");
	for (int i = 1; i <= MEMBER_SLOTS; i++) {
		char map[16];
		snprintf(map, sizeof(map), "in%d", i);
		if ((r = rule(T, "forward_in"))) {
			x_meta(r, NFT_META_OIFNAME, NFT_REG_1);
			x_lookup(r, NFT_REG_1, "ports", 0, false);
			x_meta(r, NFT_META_OIFGROUP, NFT_REG_1);
			x_vmap(r, NFT_REG_1, map);
			ADD_RULE(b, r);
		}
	}
	/* anything new not leaving by the transit link is refused, whether or not its port
	 * is (still, or already) in @ports: a port being built or torn down receives nothing */
	if ((r = rule(T, "forward_in"))) {
		x_meta(r, NFT_META_OIFNAME, NFT_REG_1);
		x_cmp_ifname(r, NFT_REG_1, NFT_CMP_NEQ, transit_if);
		x_verdict(r, NFT_GOTO, "deny_in");
		ADD_RULE(b, r);
	}
	/* post: oifname "transit" masquerade */
	if (nat && (r = rule(T, "post"))) {
		x_meta(r, NFT_META_OIFNAME, NFT_REG_1);
		x_cmp_ifname(r, NFT_REG_1, NFT_CMP_EQ, transit_if);
		x_masq(r);
		ADD_RULE(b, r);
	}
	router_climit_build(b, VPCNET_MAX_CONNECTIONS_DEFAULT);  /* what most members use */
}

static void ifname_key(uint8_t *key, const char *name)
{
	memset(key, 0, NFT_IFNAME_LEN);
	strncpy((char *)key, name, NFT_IFNAME_LEN - 1);
}

static void add_elem(struct nft_batch *b, uint16_t type, uint32_t family, const char *table,
		     const char *set, const void *key, uint32_t len)
{
	struct nftnl_set *s = nft_set_ref(family, table, set);
	if (!s)
		return;
	nft_set_add_key(s, key, len);
	nftb_elems(b, type, 0, s);
	nftnl_set_free(s);
}

static void climit_name(char *buf, size_t n, unsigned max_conns)
{
	snprintf(buf, n, "cl%u", max_conns);
}

void router_climit_build(struct nft_batch *b, unsigned max_conns)
{
	char name[32];
	climit_name(name, sizeof(name), max_conns);
	add_dynamic_set(b, NFPROTO_INET, ROUTER_TABLE, name, 1);
	add_chain(b, ROUTER_TABLE, name, NULL, -1, 0, 0, true);
	/* add @clN { iifname ct count over N } goto deny_out */
	struct nftnl_rule *r = rule(ROUTER_TABLE, name);
	if (r) {
		x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
		x_dynset(r, NFT_DYNSET_OP_ADD, name, NFT_REG_1, e_connlimit_over(max_conns));
		x_verdict(r, NFT_GOTO, "deny_out");
		ADD_RULE(b, r);
	}
}

void router_member_elems(struct nft_batch *b, uint16_t type, const char *port, uint32_t ip,
			 unsigned max_conns)
{
	uint8_t key[NFT_IFNAME_LEN + NFT_ETHER_LEN + 4] = { 0 };
	ifname_key(key, port);
	member_mac(ip, key + NFT_IFNAME_LEN);
	uint32_t be = htonl(ip);
	memcpy(key + NFT_IFNAME_LEN + NFT_ETHER_LEN, &be, 4);
	char climit[32];
	climit_name(climit, sizeof(climit), max_conns);
	struct nftnl_set *cl = nft_set_ref(NFPROTO_INET, ROUTER_TABLE, "climit");
	if (cl) {
		if (type == NFT_MSG_NEWSETELEM)
			nft_set_add_jump(cl, key, NFT_IFNAME_LEN, climit);
		else
			nft_set_add_key(cl, key, NFT_IFNAME_LEN);
	}
	/* Membership last on add, first on delete: @ports gates every rule. */
	if (type == NFT_MSG_NEWSETELEM) {
		add_elem(b, type, NFPROTO_ARP, ARP_TABLE, "port_src", key, sizeof(key));
		add_elem(b, type, NFPROTO_INET, ROUTER_TABLE, "port_src", key, sizeof(key));
		if (cl)
			nftb_elems(b, type, 0, cl);
		add_elem(b, type, NFPROTO_INET, ROUTER_TABLE, "ports", key, NFT_IFNAME_LEN);
	} else {
		add_elem(b, type, NFPROTO_INET, ROUTER_TABLE, "ports", key, NFT_IFNAME_LEN);
		if (cl)
			nftb_elems(b, type, 0, cl);
		add_elem(b, type, NFPROTO_INET, ROUTER_TABLE, "port_src", key, sizeof(key));
		add_elem(b, type, NFPROTO_ARP, ARP_TABLE, "port_src", key, sizeof(key));
	}
	nftnl_set_free(cl);
}

int router_member_missing(struct nf_sock *nf, const char *port, uint32_t ip,
			  const char **missing, struct vpcnet_error *err)
{
	uint8_t key[NFT_IFNAME_LEN + NFT_ETHER_LEN + 4] = { 0 };
	ifname_key(key, port);
	member_mac(ip, key + NFT_IFNAME_LEN);
	uint32_t be = htonl(ip);
	memcpy(key + NFT_IFNAME_LEN + NFT_ETHER_LEN, &be, 4);
	static const struct { uint32_t family; const char *set, *what; bool full; } want[] = {
		{ NFPROTO_INET, "ports", "inet vpcnet @ports", false },
		{ NFPROTO_INET, "port_src", "inet vpcnet @port_src", true },
		{ NFPROTO_ARP, "port_src", "arp vpcnet @port_src", true },
		{ NFPROTO_INET, "climit", "inet vpcnet @climit", false },
	};
	*missing = NULL;
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		bool found;
		int ret = nft_elem_exists(nf, want[i].family, ROUTER_TABLE, want[i].set, key,
					  want[i].full ? sizeof(key) : NFT_IFNAME_LEN, &found, err);
		if (ret)
			return ret;
		if (!found) {
			*missing = want[i].what;
			return 0;
		}
	}
	return 0;
}

void router_member_forget(struct nft_batch *b, const char *port, unsigned max_conns)
{
	uint8_t key[NFT_IFNAME_LEN];
	ifname_key(key, port);
	char climit[32];
	climit_name(climit, sizeof(climit), max_conns);
	static const char *const sets[] = { "drops_spoof", "drops_in", "drops_out" };
	for (size_t i = 0; i < sizeof(sets) / sizeof(*sets); i++)
		add_elem(b, NFT_MSG_DELSETELEM, NFPROTO_INET, ROUTER_TABLE, sets[i], key, sizeof(key));
	add_elem(b, NFT_MSG_DELSETELEM, NFPROTO_INET, ROUTER_TABLE, climit, key, sizeof(key));
	add_elem(b, NFT_MSG_DELSETELEM, NFPROTO_ARP, ARP_TABLE, "drops_spoof", key, sizeof(key));
}

uint16_t control_host_port(uint32_t net, uint32_t ip)
{
	return (uint16_t)(ip - net);
}

void router_control_elem(struct nft_batch *b, uint16_t type, uint32_t net, uint32_t ip,
			 uint16_t port)
{
	struct nftnl_set *s = nft_set_ref(NFPROTO_INET, ROUTER_TABLE, CONTROL_MAP);
	if (!s)
		return;
	uint16_t key = htons(control_host_port(net, ip));
	uint8_t data[8] = { 0 };
	uint32_t be = htonl(ip);
	uint16_t pbe = htons(port);
	memcpy(data, &be, 4);
	memcpy(data + 4, &pbe, 2);
	if (type == NFT_MSG_NEWSETELEM)
		nft_set_add_mapping(s, &key, sizeof(key), data, sizeof(data));
	else
		nft_set_add_key(s, &key, sizeof(key));
	nftb_elems(b, type, 0, s);
	nftnl_set_free(s);
}

void router_control_flush(struct nft_batch *b)
{
	nftb_flush_set(b, NFPROTO_INET, ROUTER_TABLE, CONTROL_MAP);
}

void router_revoke_elem(struct nft_batch *b, uint16_t type, const char *port)
{
	uint8_t key[NFT_IFNAME_LEN];
	ifname_key(key, port);
	add_elem(b, type, NFPROTO_INET, ROUTER_TABLE, REVOKED_SET, key, sizeof(key));
	add_elem(b, type, NFPROTO_ARP, ARP_TABLE, REVOKED_SET, key, sizeof(key));
}

void router_port_elem(struct nft_batch *b, uint16_t type, const char *port)
{
	uint8_t key[NFT_IFNAME_LEN];
	ifname_key(key, port);
	add_elem(b, type, NFPROTO_INET, ROUTER_TABLE, "ports", key, sizeof(key));
}

void host_table_build(struct nft_batch *b)
{
	const char *T = HOST_TABLE;
	struct nftnl_table *t = nft_table_new(NFPROTO_INET, T);
	if (t) {
		nftb_table(b, NFT_MSG_NEWTABLE, 0, t);
		nftnl_table_free(t);
	}
	add_set(b, T, "transits", NFT_TYPE_IFNAME, NFT_IFNAME_LEN, 1);
	add_set(b, T, "egress", NFT_CONCAT2(NFT_TYPE_IFNAME, NFT_TYPE_IFNAME), 2 * NFT_IFNAME_LEN,
		2);
	add_set(b, T, "masq", NFT_CONCAT2(NFT_TYPE_IPADDR, NFT_TYPE_IFNAME), 4 + NFT_IFNAME_LEN,
		3);
	add_chain(b, T, "deny", NULL, -1, 0, 0, true);
	add_chain(b, T, "input", "filter", NF_INET_LOCAL_IN, PRIO_FILTER, NF_ACCEPT, true);
	add_chain(b, T, "forward", "filter", NF_INET_FORWARD, PRIO_FILTER, NF_ACCEPT, true);
	add_chain(b, T, "post", "nat", NF_INET_POST_ROUTING, PRIO_SRCNAT, NF_ACCEPT, true);
	add_deny_rules(b, T);

	struct nftnl_rule *r;
	/* input: iifname @transits ct state established,related accept; else goto deny */
	if ((r = rule(T, "input"))) {
		m_iifname_in(r, "transits");
		m_ct_state(r, CT_REPLIES);
		x_verdict(r, NF_ACCEPT, NULL);
		ADD_RULE(b, r);
	}
	if ((r = rule(T, "input"))) {
		m_iifname_in(r, "transits");
		x_verdict(r, NFT_GOTO, "deny");
		ADD_RULE(b, r);
	}
	/* forward: iifname . oifname @egress accept; iifname @transits goto deny */
	if ((r = rule(T, "forward"))) {
		x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
		x_meta(r, NFT_META_OIFNAME, NFT_REG_2);
		x_lookup(r, NFT_REG_1, "egress", 0, false);
		x_verdict(r, NF_ACCEPT, NULL);
		ADD_RULE(b, r);
	}
	if ((r = rule(T, "forward"))) {
		m_iifname_in(r, "transits");
		x_verdict(r, NFT_GOTO, "deny");
		ADD_RULE(b, r);
	}
	/* forward: oifname @transits ct state established,related accept; else drop */
	if ((r = rule(T, "forward"))) {
		x_meta(r, NFT_META_OIFNAME, NFT_REG_1);
		x_lookup(r, NFT_REG_1, "transits", 0, false);
		m_ct_state(r, CT_REPLIES);
		x_verdict(r, NF_ACCEPT, NULL);
		ADD_RULE(b, r);
	}
	if ((r = rule(T, "forward"))) {
		x_meta(r, NFT_META_OIFNAME, NFT_REG_1);
		x_lookup(r, NFT_REG_1, "transits", 0, false);
		x_counter(r);
		x_verdict(r, NF_DROP, NULL);
		ADD_RULE(b, r);
	}
	/* post: ip saddr . oifname @masq masquerade */
	if ((r = rule(T, "post"))) {
		m_nfproto(r, NFT_CMP_EQ, NFPROTO_IPV4);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_00);
		x_meta(r, NFT_META_OIFNAME, NFT_REG32_01);
		x_lookup(r, NFT_REG32_00, "masq", 0, false);
		x_masq(r);
		ADD_RULE(b, r);
	}
}

void host_transit_elems(struct nft_batch *b, uint16_t type, const char *transit,
			uint32_t router_ip, bool nat, const char *uplink)
{
	uint8_t key[2 * NFT_IFNAME_LEN];
	ifname_key(key, transit);
	if (type != NFT_MSG_NEWSETELEM)
		add_elem(b, type, NFPROTO_INET, HOST_TABLE, "transits", key, NFT_IFNAME_LEN);
	if (nat) {
		ifname_key(key + NFT_IFNAME_LEN, uplink);
		add_elem(b, type, NFPROTO_INET, HOST_TABLE, "egress", key, 2 * NFT_IFNAME_LEN);
		uint8_t mkey[4 + NFT_IFNAME_LEN];
		uint32_t be = htonl(router_ip);
		memcpy(mkey, &be, 4);
		ifname_key(mkey + 4, uplink);
		add_elem(b, type, NFPROTO_INET, HOST_TABLE, "masq", mkey, sizeof(mkey));
	}
	if (type == NFT_MSG_NEWSETELEM)
		add_elem(b, type, NFPROTO_INET, HOST_TABLE, "transits", key, NFT_IFNAME_LEN);
}

void host_table_delete(struct nft_batch *b)
{
	struct nftnl_table *t = nft_table_new(NFPROTO_INET, HOST_TABLE);
	if (t) {
		nftb_table(b, NFT_MSG_DELTABLE, 0, t);
		nftnl_table_free(t);
	}
}
