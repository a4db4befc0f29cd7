/* SPDX-License-Identifier: MIT */
/* What every lib/ file shares (context.c): the handle, sockets opened inside a namespace,
 * and the failpoints that tests use to kill a process half-way through an operation.
 *
 * lib/ from the bottom up, each file using only those below it:
 *   context.c  the handle, sockets in a namespace, failpoints
 *   groups.c   security groups in a router's kernel, in step with the store
 *   router.c   a VPC's router: namespace, transit link, tables, host elements
 *   member.c   a member's network: the phases of a create, rebuild, teardown, delete, reap
 *   vpc.c, sandbox.c, sg.c, check.c   the verbs of include/vpcnet.h (sandbox.c may make
 *              the default VPC through vpc.c)
 *   gc.c       gc and restore: repairs with all of the above */
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

/* Whether the caller's effective set holds CAP_NET_ADMIN and CAP_SYS_ADMIN, what vpcnet
 * needs; -errno when it cannot be read. */
int caps_held(bool *net_admin, bool *sys_admin);

/* Sockets in VPC @vpc's router namespace (-ENOENT when it is gone). */
struct router {
	struct nsconn conn;
	int fd;
};
int router_open(struct router *r, const char *vpc, struct vpcnet_error *err);
/* Closes @r; its nfnetlink socket is parked in @vn when closing it would wait for the
 * kernel (see vpcnet_config.defer_release), and released with the others later. */
void router_close(struct vpcnet *vn, struct router *r);

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
