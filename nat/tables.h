/* SPDX-License-Identifier: MIT */
/* The two nftables tables vpcnet owns, built as batches (pure: no socket here).
 *
 * Theory of operation.  Each VPC router namespace holds `table inet vpcnet`: its base
 * chains are written once when the VPC is made, and a sandbox is nothing but elements —
 * its port in @ports and (port . address) in @port_src — added or removed in one batch.
 * Every chain a packet walks has a fixed number of rules, whatever the number of sandboxes.
 *
 *   pre      (prerouting, raw)  from a port: drop all but IPv4; drop a source MAC or
 *                               address that is not the port's own (anti-spoofing, before
 *                               conntrack)
 *   input    (input, drop)      replies; lo; ping to the gateway from a port; else refused
 *   forward  (forward, drop)    replies; from a port to link-local or the transit range:
 *                               refused; a new flow over the member's connection limit
 *                               (@climit maps its port to chain cl<N>: `add @cl<N> { iifname
 *                               ct count over N }`): refused; then its security groups (maps
 *                               out1..out5 keyed by its port jump to its groups' egress
 *                               chains, which accept); else refused.  Nothing new from
 *                               outside the VPC passes (the policy)
 *   forward_in (forward, +10)   the receiver's side: replies; towards an instance, its
 *                               groups' ingress chains (in1..in5); towards any other port
 *                               (a sandbox, or an instance its groups do not open): refused
 *   deny                        TCP reset, else ICMP admin-prohibited, so programs fail fast
 *   post     (nat postrouting)  with a NAT gateway: masquerade out of the transit link
 *   ctl      (nat prerouting)   control ports: a new TCP connection that comes in by the
 *                               transit link (from the host) to the router's transit address
 *                               on a port of @ctl_dnat is sent to the member address . port
 *                               it maps to; `forward` and `forward_in` accept what comes in
 *                               by the transit link DNATed (ct status dnat), and nothing else
 *                               from outside.  The host port is the member's offset in the
 *                               VPC's CIDR (unique, at most 65534 in a /16), so an element
 *                               per member is all a control port costs
 *
 * Refusals are counted per port in dynamic sets (@drops_spoof, @drops_in, @drops_out: an
 * element with a counter appears at a port's first drop).  `table arp vpcnet` lets a port
 * send ARP requests as itself only (its MAC and address, in its own @port_src).
 *
 * The host namespace holds `table inet vpcnet_host`, shared by all VPCs: transit links
 * reach the host itself never (refused) and the outside only through their VPC's uplink,
 * masqueraded; nothing new goes towards a transit link. */
#ifndef VPCNET_TABLES_H
#define VPCNET_TABLES_H

#include <stdbool.h>
#include <stdint.h>

struct nft_batch;

#define ROUTER_TABLE "vpcnet"
#define MEMBER_SLOTS 5  /* verdict maps out1..out5 / in1..in5: groups per member */
#define ARP_TABLE "vpcnet"    /* family arp */
#define HOST_TABLE "vpcnet_host"
#define CONTROL_MAP "ctl_dnat"
#define REVOKED_SET "revoked"  /* in the inet and the arp table */

/* A new router's whole table: gateway @gw (host order), masquerade when @nat, the router's
 * end of the transit link @transit_if holding @transit_ip (host order).  restore and gc
 * count the rules it writes per chain to tell a damaged table: a change to them is a new
 * VPC_LAYOUT (else every router made before looks damaged, and is made again). */
void router_table_build(struct nft_batch *b, uint32_t gw, bool nat, const char *transit_if,
			uint32_t transit_ip);
/* Chain and set cl<@max_conns> (idempotent: made over whatever exists), for members whose
 * connection limit is @max_conns. */
void router_climit_build(struct nft_batch *b, unsigned max_conns);
/* Elements that make @port (holding @ip, its MAC derived from it, limited to @max_conns
 * connections) a member: @type NFT_MSG_NEWSETELEM / DELSETELEM. */
/* Whether the router reached by @nf holds @port's member elements: *@missing names the
 * first set that lacks its element, or is NULL when all are there. */
struct nf_sock;
struct vpcnet_error;
int router_member_missing(struct nf_sock *nf, const char *port, uint32_t ip,
			  const char **missing, struct vpcnet_error *err);
void router_member_elems(struct nft_batch *b, uint16_t type, const char *port, uint32_t ip,
			 unsigned max_conns);
/* Deletes what the packet path made for @port: its drop counters and connection count. */
void router_member_forget(struct nft_batch *b, const char *port, unsigned max_conns);

/* The port on the router's transit address that reaches the control port of the member
 * holding @ip in the VPC whose CIDR starts at @net: @ip's offset in it. */
uint16_t control_host_port(uint32_t net, uint32_t ip);
/* The @ctl_dnat element for that member: control_host_port() -> @ip . @port. */
void router_control_elem(struct nft_batch *b, uint16_t type, uint32_t net, uint32_t ip,
			 uint16_t port);
/* Empties @ctl_dnat (gc refills it from the store in the same batch). */
void router_control_flush(struct nft_batch *b);

/* Only @port's membership (when its address is unknown). */
void router_port_elem(struct nft_batch *b, uint16_t type, const char *port);
/* A deleted member's port into (or out of) @revoked, in the inet and the arp table. */
void router_revoke_elem(struct nft_batch *b, uint16_t type, const char *port);

/* The host table's sets, chains and rules, idempotently (an existing table keeps its
 * elements; its chains are flushed and rewritten). */
void host_table_build(struct nft_batch *b);
/* Elements for one VPC's transit link: @transit (host end), its router-end address
 * @router_ip, and with @nat its way out by @uplink. */
void host_transit_elems(struct nft_batch *b, uint16_t type, const char *transit,
			uint32_t router_ip, bool nat, const char *uplink);
void host_table_delete(struct nft_batch *b);

#endif
