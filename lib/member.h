/* SPDX-License-Identifier: MIT */
/* A member's network (member.c): the phases of a create, rebuild, teardown, delete, reap,
 * and what the router's ports tell. */
#ifndef VPCNET_MEMBER_H
#define VPCNET_MEMBER_H

#include "lib/internal.h"

/* Runs inside a sandbox namespace: IPv6 off (for the namespace when it is ours, for our
 * interface when adopted) and a socket to configure it with. */
struct sbx_init {
	const char *ifname;   /* adopted: the interface to turn IPv6 off on; NULL: all */
	const char *tap;      /* the tap device to make */
	struct nsconn conn;
	struct vpcnet_error *err;
};

/* A sandbox's own namespace, made while its row is written (the two take about as long):
 * started before the store's transaction, and named (published) by sandbox_build once the
 * row is in; until then only this process holds it, so a create killed before its row
 * leaves no namespace behind. */
struct early_ns {
	struct netns_pending *p;
	struct sbx_init si;
	struct vpcnet_error err;  /* the helper's, while it runs */
};

/* A create under way: what its request asked and its plan decided, and what it holds. */
struct member_plan {
	struct member_row m;     /* the row to be, from the request */
	struct vpc_row v;        /* its VPC */
	int64_t groups[SG_PER_MEMBER];
	size_t ngroups;
	int adopted_fd;          /* the namespace it adopts (--netns), or -1 */
	bool poolable;           /* may take a ready network from the VPC's pool */
	struct early_ns early;   /* its own namespace, being made beside the row */
	bool new_profile;        /* its row made a new membership profile */
};

/* Starts making @p's own namespace while its row is written, when a CPU is idle (and the
 * pool has no network for it). */
int member_early_ns(struct vpcnet *vn, struct member_plan *p, struct vpcnet_error *err);
/* One write transaction: takes a ready network from the pool (*@pooled) or adds @p's row;
 * when the subnet is full, reaps deleted sandboxes once and tries again. */
int member_admit(struct vpcnet *vn, struct member_plan *p, bool *pooled,
		 struct vpcnet_error *err);
/* Builds the network of @p's new row and marks it ready; a failure undoes all of it. */
int member_build(struct vpcnet *vn, struct member_plan *p, struct vpcnet_error *err);
/* Makes the pooled network that member_admit took @p's (one batch of elements), marks it
 * ready and reads its row into @p->m; a failure undoes it. */
int member_pool_finish(struct vpcnet *vn, struct member_plan *p, struct vpcnet_error *err);
/* Releases what @p holds (an early namespace, the adopted one). */
void member_plan_release(struct member_plan *p);

/* Deletes revoked members come to this many per VPC are reaped together; one reap takes at
 * most REAP_MAX. */
#define REAP_BATCH 32
#define REAP_MAX 256
/* The elements and flows of VPC @v's revoked members (deleted sandboxes) removed, then
 * their rows (their addresses free again); *@reaped (may be NULL) counts them. */
int vpc_reap(struct vpcnet *vn, const struct vpc_row *v, unsigned *reaped,
	     struct vpcnet_error *err);

int sandbox_teardown(struct vpcnet *vn, const struct member_row *m, const struct vpc_row *v,
		     unsigned *ct_removed, struct vpcnet_error *err);

/* Is @fd the namespace member @m adopted (the device and inode recorded at create; true
 * when none was recorded)?  Its path may name another one by now. */
bool netns_is_adopted(const struct member_row *m, int fd);

/* Deletes member @id of @kind (sandbox, instance, pool); what is gone already is done. */
int member_delete(struct vpcnet *vn, enum member_kind kind, const char *id,
		  struct vpcnet_error *err);

/* Refuses (VPCNET_BAD_INPUT) to adopt @nsfd (@path) when it is the host's namespace or VPC
 * @v's router's. */
int netns_adoptable(struct vpcnet *vn, int nsfd, const struct vpc_row *v, const char *path,
		    struct vpcnet_error *err);

/* Gives member @m of VPC @v (router @rt) its network again, as create made it, with its
 * address, MAC and groups: in namespace @nsfd, its own, which outlived its port (a router
 * rebuilt, a port deleted: what is left of its interface and tap is replaced), or, with
 * @nsfd < 0, in a new empty namespace at its path (an owned one).  Its row is the caller's. */
int member_rebuild(struct vpcnet *vn, struct router *rt, const struct member_row *m,
		   const struct vpc_row *v, int nsfd, struct vpcnet_error *err);

/* Whether member @m's namespace is there: 0 when its path opens a network namespace (for an
 * adopted one, the one recorded at create), and *@fd (when not NULL) gets it open; -ENOENT
 * when it is gone; another negative errno when that cannot be told. */
int member_netns(const struct member_row *m, int *fd);

/* The router ports of a VPC, by member id (sorted): the links, and those in the router's
 * @ports set (enlisted); and whether its router is there. */
struct ports {
	int64_t *id;
	size_t n, cap;
	int64_t *in_set;
	size_t nset, setcap;
	bool router;
};
/* Reads them (a link dump in the router); a router that is gone is no error. */
int ports_load(struct vpcnet *vn, const struct vpc_row *v, struct ports *p,
	       struct vpcnet_error *err);
bool ports_has(const struct ports *p, int64_t id);
/* Whether member @m's router port is there (*@link) and in the router's @ports (*@enlisted):
 * one link and one element looked up. */
int port_state(struct router *rt, const struct member_row *m, bool *link, bool *enlisted,
	       struct vpcnet_error *err);
bool ports_enlisted(const struct ports *p, int64_t id);
void ports_free(struct ports *p);
/* @p as ports_load() fills it, for member @m alone: one link and one element looked up. */
int ports_load_one(struct vpcnet *vn, const struct vpc_row *v, const struct member_row *m,
		   struct ports *p, struct vpcnet_error *err);

/* What the kernel lacks of ready member @m ("its namespace ... is gone"), or "". */
void member_problem(const struct member_row *m, const struct ports *p, char *buf, size_t n);

#endif
