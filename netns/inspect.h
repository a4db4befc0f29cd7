/* SPDX-License-Identifier: MIT */
/* Reading back what a namespace holds, for a CNI CHECK: a link's state, its addresses and
 * the routes of every table.  Dumps: never on the create or delete path. */
#ifndef VPCNET_INSPECT_H
#define VPCNET_INSPECT_H

#include <stdbool.h>
#include <stdint.h>
#include "vpcnet.h"

struct nl_sock;

struct link_state {
	int ifindex;
	bool up;
	uint8_t mac[6];
	uint32_t group;  /* device group */
};

/* -ENODEV (status NOT_FOUND) when there is no link @name. */
int link_state_get(struct nl_sock *sk, const char *name, struct link_state *out,
		   struct vpcnet_error *err);
/* Whether @ifindex holds IPv4 address @ip/@prefix (host order). */
int addr_present(struct nl_sock *sk, int ifindex, uint32_t ip, unsigned prefix, bool *found,
		 struct vpcnet_error *err);
/* The first IPv4 address of @ifindex (host order) in @ip; 0 when it has none. */
int addr_first4(struct nl_sock *sk, int ifindex, uint32_t *ip, struct vpcnet_error *err);
/* Whether some table holds a unicast IPv4 route to @dst/@prefix out of @oif, via @gw
 * (0: directly). */
int route_present(struct nl_sock *sk, uint32_t dst, unsigned prefix, int oif, uint32_t gw,
		  bool *found, struct vpcnet_error *err);

#endif
