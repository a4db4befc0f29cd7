/* SPDX-License-Identifier: MIT */
/* Links, addresses, routes and neighbours over rtnetlink (libnl-route-3).  Every call is
 * one request answered by one ack, on a socket opened inside the namespace it acts on. */
#ifndef VPCNET_LINK_H
#define VPCNET_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include "vpcnet.h"

struct nl_sock;

int rtnl_open(struct nl_sock **out, struct vpcnet_error *err);
void rtnl_close(struct nl_sock *sk);

/* A veth pair: @name in the socket's namespace, up, in device group @group; its peer @peer
 * born in namespace @peer_nsfd (down: it is brought up from inside), with MAC @peer_mac
 * when non-NULL. */
int link_veth_create(struct nl_sock *sk, const char *name, uint32_t group, const char *peer,
		     int peer_nsfd, const uint8_t *peer_mac, struct vpcnet_error *err);
/* -ENODEV (status NOT_FOUND) when there is no such link. */
int link_index(struct nl_sock *sk, const char *name, int *ifindex, struct vpcnet_error *err);
int link_up(struct nl_sock *sk, int ifindex, struct vpcnet_error *err);
/* Puts link @name in device group @group: -ENODEV (status NOT_FOUND) when it is gone. */
int link_set_group(struct nl_sock *sk, const char *name, uint32_t group,
		   struct vpcnet_error *err);
/* Deleting a link that is gone succeeds. */
int link_delete(struct nl_sock *sk, const char *name, struct vpcnet_error *err);
/* IPv4 forwarding on one device (its devconf, not the namespace-wide sysctl). */
int link_set_forwarding(struct nl_sock *sk, int ifindex, struct vpcnet_error *err);
/* Calls @fn for each link whose name starts with @prefix (a dump: for gc only). */
int link_each(struct nl_sock *sk, const char *prefix, int (*fn)(const char *name, void *arg),
	      void *arg, struct vpcnet_error *err);

int addr_add(struct nl_sock *sk, int ifindex, uint32_t ip, unsigned prefix,
	     struct vpcnet_error *err);

enum route_kind { ROUTE_UNICAST, ROUTE_UNREACHABLE };
/* A route in the main table: to @dst/@prefix via @gw (0: directly) on @oif.  With @replace
 * an existing route to the same prefix is taken over. */
int route_add(struct nl_sock *sk, enum route_kind kind, uint32_t dst, unsigned prefix, int oif,
	      uint32_t gw, bool replace, struct vpcnet_error *err);
/* The device of the main table's default route (a dump: VPC creation only). */
int route_default_dev(struct nl_sock *sk, char name[VPCNET_IFNAME_MAX + 1],
		      struct vpcnet_error *err);

/* A permanent neighbour entry: @ip is at @mac on @ifindex, whatever ARP says. */
int neigh_pin(struct nl_sock *sk, int ifindex, uint32_t ip, const uint8_t mac[6],
	      struct vpcnet_error *err);

/* Proxy ARP on @ifindex answers at once (the default delays up to 0.8 s). */
int neigh_proxy_now(struct nl_sock *sk, int ifindex, struct vpcnet_error *err);

/* The tc-redirect-tap pattern: an ingress qdisc on @a and on @b, each with a u32 filter
 * matching every frame whose action (mirred egress redirect) sends it out of the other,
 * so the two devices behave as one wire. */
int tc_redirect_both(struct nl_sock *sk, int a, int b, struct vpcnet_error *err);

#endif
