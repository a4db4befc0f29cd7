/* SPDX-License-Identifier: MIT */
/* What the lib/ files share: the handle, sockets opened inside a namespace, and the
 * failpoints that tests use to kill a process half-way through an operation. */
#ifndef VPCNET_INTERNAL_H
#define VPCNET_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "lib/store.h"
#include "nft/nft.h"
#include "vpcnet.h"

struct nl_sock;

#define PARKED_MAX 16

struct vpcnet {
	char state_dir[PATH_MAX];
	int host_fd;        /* the host namespace; -1: the caller's own */
	struct store *st;
	int64_t nonce;      /* tells this handle's rows in flight from other threads' */
	unsigned last_msgs, last_elems;  /* the last nftables change, for vpcnet_last_batch() */
	bool defer_release;              /* vpcnet_config.defer_release */
	int parked[PARKED_MAX];          /* nfnetlink sockets whose release waits: see router_close() */
	unsigned nparked;
};

/* This handle as the owner of rows in flight. */
static inline struct owner vn_owner(const struct vpcnet *vn)
{
	return owner_self(vn->nonce);
}

static inline bool owned_by(const struct owner *o, const struct vpcnet *vn)
{
	return o->nonce == vn->nonce && o->pid == owner_self(vn->nonce).pid;
}

/* Public entry points accept a NULL error object. */
#define ERR_OR_SCRATCH(err) \
	struct vpcnet_error scratch_err_; \
	if (!(err)) \
		(err) = &scratch_err_

/* Netlink sockets that live in one namespace. */
struct nsconn {
	struct nl_sock *rt;
	struct nf_sock nf;
	bool want_nf;
	struct vpcnet_error *err;
};

/* Opens sockets inside namespace @nsfd (-1: the caller's); with @want_nf an nfnetlink one. */
int nsconn_open(struct nsconn *c, int nsfd, bool want_nf, struct vpcnet_error *err);
/* The body of nsconn_open, for callers already running inside the namespace. */
int nsconn_open_here(void *c);
void nsconn_close(struct nsconn *c);

/* Sockets in VPC @vpc's router namespace (-ENOENT when it is gone). */
struct router {
	struct nsconn conn;
	int fd;
};
int router_open(struct router *r, const char *vpc, struct vpcnet_error *err);
/* Closes @r; its nfnetlink socket is parked in @vn when closing it would wait for the
 * kernel (see vpcnet_config.defer_release), and released with the others later. */
void router_close(struct vpcnet *vn, struct router *r);

/* VPC internals used by sandbox.c and gc.c. */
int vpc_teardown(struct vpcnet *vn, const struct vpc_row *v, bool remove_netns,
		 struct vpcnet_error *err);
int vpc_resolve(struct vpcnet *vn, const char *name, struct vpc_row *out,
		struct vpcnet_error *err);
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
/* Fails (clearly) for a VPC made with an older router layout: only delete can use it. */
int vpc_current(const struct vpc_row *v, struct vpcnet_error *err);
/* Names of members, collected (by store_member_list) before they are deleted: no statement
 * stays open while writing. */
struct member_names {
	char (*v)[VPCNET_ID_MAX + 1];
	bool *instance;
	size_t n, cap;
};
int member_names_add(const struct member_row *m, void *arg);  /* -ENOMEM */
void member_names_free(struct member_names *ns);
/* Deletes member @id of @kind (sandbox, instance, pool); what is gone already is done. */
int member_delete(struct vpcnet *vn, enum member_kind kind, const char *id,
		  struct vpcnet_error *err);
void vpc_to_public(const struct vpc_row *r, struct vpcnet_vpc *out);
/* The default group of a new VPC, in the router reached by @router. */
int sg_create_default(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *router,
		      struct vpcnet_error *err);
/* The syntax of group names, and how many: checked before anything is made. */
int sg_names_check(const char *const *names, unsigned n, struct vpcnet_error *err);
/* Names -> ids of groups of VPC @vpc_id (none: its default group). */
int sg_resolve(struct vpcnet *vn, int64_t vpc_id, const char *const *names, unsigned n,
	       int64_t *ids, size_t *nids, struct vpcnet_error *err);
/* Refuses (VPCNET_BAD_INPUT) to adopt @nsfd (@path) when it is the host's namespace or VPC
 * @v's router's. */
int netns_adoptable(struct vpcnet *vn, int nsfd, const struct vpc_row *v, const char *path,
		    struct vpcnet_error *err);
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
/* What the kernel lacks of ready member @m ("its namespace ... is gone"), or "". */
void member_problem(const struct member_row *m, const struct ports *p, char *buf, size_t n);
/* Removes @v's row after its kernel objects, then the host table with the last VPC. */
int vpc_forget(struct vpcnet *vn, const struct vpc_row *v, struct vpcnet_error *err);

/* Appends *@item (@size bytes) to the growable array *@pv holding *@n of *@cap. */
static inline int array_push(void *pv, size_t *n, size_t *cap, const void *item, size_t size)
{
	void **v = pv;
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		void *m = realloc(*v, c * size);
		if (!m)
			return -ENOMEM;
		*v = m;
		*cap = c;
	}
	memcpy((char *)*v + *n * size, item, size);
	(*n)++;
	return 0;
}

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

#ifdef VPCNET_FAILPOINTS
/* Test builds: a step of an operation that tests make fail.  VPCNET_FAILPOINT=NAME makes the
 * process exit there (_exit(99), as a kill -9 would), NAME=error makes failpoint() fail with
 * EIO (as the step itself could); VPCNET_FAILPOINT_TRACE=FILE appends each failpoint's name
 * to FILE as it is passed, so that a test can walk every failpoint an operation has
 * (tests/ns_walk.c).  Release builds have none. */
int failpoint(const char *name, struct vpcnet_error *err);
bool failpoint_armed(const char *name);
#else
#define failpoint(name, err) 0
#define failpoint_armed(name) false
#endif

#endif
