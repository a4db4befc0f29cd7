/* SPDX-License-Identifier: MIT */
/* Security groups in a router's kernel (groups.c): built from the store, changed in step
 * with it, rebuilt whole. */
#ifndef VPCNET_GROUPS_H
#define VPCNET_GROUPS_H

#include "lib/internal.h"

/* The default group of a new VPC, in the router reached by @router. */
int sg_create_default(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *router,
		      struct vpcnet_error *err);

/* The syntax of group names, and how many: checked before anything is made. */
int sg_names_check(const char *const *names, unsigned n, struct vpcnet_error *err);

/* Names -> ids of groups of VPC @vpc_id (none: its default group). */
int sg_resolve(struct vpcnet *vn, int64_t vpc_id, const char *const *names, unsigned n,
	       int64_t *ids, size_t *nids, struct vpcnet_error *err);

/* Security groups: rebuilds VPC @v's groups and membership profiles in the router reached
 * by @router from the store, whatever the kernel holds (one atomic batch), puts each
 * member's port in its profile and forgets profiles no member names.  Inside the caller's
 * store transaction. */
int sg_reconcile(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *router,
		 struct vpcnet_error *err);

/* Ends a change made under the store's write lock: sends @b (@elems elements, for
 * vpcnet_last_batch()) to the router reached by @router, runs @then (when not NULL), then
 * commits the store — or, when the kernel or @then fails, rolls the store back; when the
 * store's commit fails after the kernel took the batch, rolls back and puts the router
 * back to the store's state. */
int sg_apply(struct vpcnet *vn, int64_t vpc_id, struct nsconn *router, struct nft_batch *b,
	     unsigned elems, int (*then)(void *arg, struct vpcnet_error *err), void *arg,
	     struct vpcnet_error *err);

/* Deletes VPC @v's membership profiles that no member names: their elements (idempotently),
 * then their rows, in a transaction of its own. */
int profiles_gc(struct vpcnet *vn, const struct vpc_row *v, struct nf_sock *nf,
		struct vpcnet_error *err);

/* Inside a transaction: group @name (of VPC @v; @dflt: its default group) and its rules in
 * the store, then in the router reached by @router. */
int sg_create_tx(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *router,
		 const char *name, const char *desc, bool dflt, struct vpcnet_error *err);
/* Commits the caller's transaction; when that fails after the kernel took its batch, rolls
 * back and rebuilds VPC @vpc_id's groups from the store (sg_reconcile). */
int sg_commit_or_repair(struct vpcnet *vn, int64_t vpc_id, struct nsconn *router,
			struct vpcnet_error *err);
/* Inside the caller's transaction: VPC @v's profiles that no member names, their elements
 * deleted (idempotently, a batch of its own, committed at once) and then their rows. */
int profiles_unused_del(struct vpcnet *vn, const struct vpc_row *v, struct nf_sock *nf,
			struct vpcnet_error *err);

#endif
