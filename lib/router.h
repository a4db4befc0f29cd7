/* SPDX-License-Identifier: MIT */
/* A VPC's router in the kernel (router.c): built, repaired, taken down. */
#ifndef VPCNET_ROUTER_H
#define VPCNET_ROUTER_H

#include "lib/internal.h"

/* The namespace, transit link, tables and host elements of new VPC @v, its default group
 * included; *@made tells whether the namespace was made here (a failure may not remove
 * another's). */
int vpc_build(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *host, bool *made,
	      struct vpcnet_error *err);
int vpc_teardown(struct vpcnet *vn, const struct vpc_row *v, bool remove_netns,
		 struct vpcnet_error *err);

/* Fails (clearly) for a VPC made with an older router layout: only delete can use it. */
int vpc_current(const struct vpc_row *v, struct vpcnet_error *err);

void vpc_to_public(const struct vpc_row *r, struct vpcnet_vpc *out);

/* Brings VPC @v's kernel objects back where they are missing (a host reboot, or damage done
 * behind vpcnet's back) and touches nothing that is there: the router namespace, the transit
 * link, the router's tables (empty of groups and members: the caller reconciles them), the
 * host table and @v's elements in it, forwarding on the transit link and the uplink.
 * *@rebuilt gets the VPC_REBUILT_* bits of what was made again (0: nothing). */
#define VPC_REBUILT_ROUTER 1u      /* the router namespace, and so all the rest */
#define VPC_REBUILT_TRANSIT 2u
#define VPC_REBUILT_TABLE 4u       /* the router's tables */
#define VPC_REBUILT_HOST_TABLE 8u
int vpc_ensure(struct vpcnet *vn, const struct vpc_row *v, unsigned *rebuilt,
	       struct vpcnet_error *err);

/* Its part in the host: the host table whole (built again when a rule of it is missing) and
 * @v's elements in it.  For every VPC, of any router layout. */
int vpc_host_ensure(struct vpcnet *vn, const struct vpc_row *v, unsigned *rebuilt,
		    struct vpcnet_error *err);

/* Removes @v's row after its kernel objects, then the host table with the last VPC. */
int vpc_forget(struct vpcnet *vn, const struct vpc_row *v, struct vpcnet_error *err);

#endif
