/* SPDX-License-Identifier: MIT */
/* VPCs: a router namespace with the gateway on lo, a transit veth to the host, the router's
 * nftables table, and with a NAT gateway a default route and the host's masquerade. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/error.h"
#include "base/names.h"
#include "lib/internal.h"
#include "lib/member.h"
#include "lib/router.h"
#include "lib/vpc.h"
#include "nat/tables.h"
#include "netns/inspect.h"
#include "netns/link.h"
#include "netns/netns.h"

#define READY_WAIT_MS 20000

static int vpc_create_row(struct vpcnet *vn, struct vpc_row *v, struct vpcnet_error *err)
{
	int ret = store_begin(vn->st, err);
	if (ret)
		return ret;
	if ((ret = store_vpc_insert(vn->st, v, err)))
		goto fail;
	if (v->transit >= TRANSIT_MAX) {
		ret = vinput(err, VPCNET_FAILED, ENOSPC, "no transit address left (%u VPCs)",
			     TRANSIT_MAX);
		goto fail;
	}
	return store_commit(vn->st, err);
fail:
	store_rollback(vn->st);
	return ret;
}

VPCNET_API int vpcnet_vpc_create(struct vpcnet *vn, const struct vpcnet_vpc_spec *spec,
				 struct vpcnet_vpc *out, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct vpc_row v = { .nat = spec->nat, .owner = vn_owner(vn) };
	int ret;
	if ((ret = valid_vpc_name(spec->name, err)) ||
	    (ret = parse_cidr(spec->cidr, VPC_PREFIX_MIN, VPC_PREFIX_MAX, "--cidr", &v.net,
			      &v.prefix, err)))
		return ret;
	if (spec->uplink && (ret = valid_ifname(spec->uplink, "--uplink", err)))
		return ret;
	snprintf(v.name, sizeof(v.name), "%s", spec->name);
	snprintf(v.state, sizeof(v.state), ST_CREATING);

	struct nsconn host;
	if ((ret = nsconn_open(&host, vn->host_fd, true, err)))
		return ret;
	if (spec->uplink) {
		int idx;
		snprintf(v.uplink, sizeof(v.uplink), "%s", spec->uplink);
		if ((ret = link_index(host.rt, spec->uplink, &idx, err))) {
			if (ret == -ENODEV)
				ret = vinput(err, VPCNET_BAD_INPUT, ENODEV,
					     "--uplink '%s': no such interface on the host",
					     spec->uplink);
			goto out;
		}
	} else if (v.nat && (ret = route_default_dev(host.rt, v.uplink, err))) {
		goto out;
	}

	if ((ret = vpc_create_row(vn, &v, err)))
		goto out;
	bool made = false;
	if ((ret = failpoint("vpc-create:row", err)) ||
	    (ret = vpc_build(vn, &v, &host, &made, err)) ||
	    (ret = store_vpc_set_state(vn->st, v.id, ST_READY, NULL, err))) {  /* a full disk */
		struct vpcnet_error ignored;
		verr_wrap(err, "VPC %s", v.name);
		if (!vpc_teardown(vn, &v, made, &ignored))
			vpc_forget(vn, &v, &ignored);
		goto out;
	}
	snprintf(v.state, sizeof(v.state), ST_READY);
	v.members = 0;  /* it was just made */
	if (out)
		vpc_to_public(&v, out);
out:
	nsconn_close(&host);
	return ret;
}

/* Finds VPC @name and waits (bounded) while another process is still creating it. */
static int vpc_wait_ready(struct vpcnet *vn, const char *name, struct vpc_row *out,
			  struct vpcnet_error *err)
{
	for (int waited = 0;; waited += 5) {
		int ret = store_vpc_get(vn->st, name, out, err);
		if (ret)
			return ret;
		if (!strcmp(out->state, ST_READY))
			return vpc_current(out, err);
		if (!strcmp(out->state, ST_DELETING))
			return vinput(err, VPCNET_NOT_FOUND, ENOENT, "VPC '%s' is being deleted",
				      name);
		if (!owner_alive(&out->owner))
			return vinput(err, VPCNET_FAILED, EIO,
				      "VPC '%s' was left half-made by a crash: run `vpcnet gc`", name);
		if (waited >= READY_WAIT_MS)
			return vinput(err, VPCNET_FAILED, ETIMEDOUT,
				      "VPC '%s' is still being created", name);
		nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
	}
}

int vpc_resolve(struct vpcnet *vn, const char *name, struct vpc_row *out,
		struct vpcnet_error *err)
{
	bool dflt = !name;
	if (dflt)
		name = DEFAULT_VPC;
	else {
		int ret = valid_vpc_name(name, err);
		if (ret)
			return ret;
	}
	int ret = vpc_wait_ready(vn, name, out, err);
	if (ret != -ENOENT || !dflt || err->status != VPCNET_NOT_FOUND)
		return ret;
	/* The default VPC is made on first use; a concurrent first user may win the race. */
	struct vpcnet_vpc_spec spec = { .name = DEFAULT_VPC, .cidr = DEFAULT_VPC_CIDR, .nat = true };
	ret = vpcnet_vpc_create(vn, &spec, NULL, err);
	if (ret && ret != -EEXIST)
		return verr_wrap(err, "default VPC");
	struct vpcnet_error create_err = *err;
	int wret = vpc_wait_ready(vn, name, out, err);
	if (ret && wret == -ENOENT) {  /* no race lost: creating it failed */
		*err = create_err;
		return verr_wrap(err, "default VPC");
	}
	return wret;
}

/* Names of members, collected (by store_member_list) before they are deleted: no statement
 * stays open while writing. */
struct member_names {
	char (*v)[VPCNET_ID_MAX + 1];
	bool *instance;
	size_t n, cap;
};

static int member_names_add(const struct member_row *m, void *arg)
{
	struct member_names *ns = arg;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		void *nv = realloc(ns->v, cap * sizeof(*ns->v));
		if (nv)
			ns->v = nv;
		void *ni = nv ? realloc(ns->instance, cap * sizeof(*ns->instance)) : NULL;
		if (!ni)
			return -ENOMEM;
		ns->instance = ni;
		ns->cap = cap;
	}
	ns->instance[ns->n] = m->kind == MEMBER_INSTANCE;
	snprintf(ns->v[ns->n++], VPCNET_ID_MAX + 1, "%s", m->name);
	return 0;
}

static void member_names_free(struct member_names *ns)
{
	free(ns->v);
	free(ns->instance);
}

/* Deletes every sandbox of VPC @vpc_id (names first: no statement open while writing). */
static int delete_members(struct vpcnet *vn, int64_t vpc_id, struct vpcnet_error *err)
{
	struct member_names ns = { 0 };
	int ret = store_member_list(vn->st, MEMBER_ANY, vpc_id, member_names_add, &ns, err);
	if (ret == -ENOMEM)
		ret = verr(err, VPCNET_FAILED, ENOMEM, "list sandboxes");
	for (size_t i = 0; !ret && i < ns.n; i++)
		ret = member_delete(vn, ns.instance[i] ? MEMBER_INSTANCE : MEMBER_SANDBOX, ns.v[i], err);
	member_names_free(&ns);
	return ret;
}

VPCNET_API int vpcnet_vpc_delete(struct vpcnet *vn, const char *name, bool force,
				 struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct vpc_row v;
	int ret = valid_vpc_name(name, err);
	if (ret)
		return ret;
	if ((ret = store_vpc_get(vn->st, name, &v, err)))
		return ret == -ENOENT ? 0 : ret;  /* gone already: done */
	if ((ret = vpcnet_pool_drain(vn, name, NULL, err)))  /* its pool goes with it */
		return verr_wrap(err, "VPC %s", name);
	if ((ret = store_vpc_members(vn->st, &v, err)))
		return ret;
	if (v.members > 0) {
		if (!force)
			return vinput(err, VPCNET_EXISTS, ENOTEMPTY,
				      "VPC '%s' still has %lld sandbox(es): delete them or use --force",
				      name, (long long)v.members);
		if ((ret = delete_members(vn, v.id, err)))
			return verr_wrap(err, "VPC %s", name);
	}
	/* Under the write lock: nobody may have added a sandbox meanwhile, nor be creating it. */
	if ((ret = store_begin(vn->st, err)))
		return ret;
	struct owner me = vn_owner(vn);
	if ((ret = store_vpc_get(vn->st, name, &v, err)) ||
	    (ret = store_vpc_members(vn->st, &v, err))) {
		store_rollback(vn->st);
		return ret == -ENOENT ? 0 : ret;
	}
	if (v.members > 0)
		ret = vinput(err, VPCNET_EXISTS, ENOTEMPTY,
			     "VPC '%s' got a new sandbox while being deleted: try again", name);
	else if (!strcmp(v.state, ST_CREATING) && owner_alive(&v.owner) && !owned_by(&v.owner, vn))
		ret = vinput(err, VPCNET_FAILED, EBUSY, "VPC '%s' is still being created", name);
	if (ret || (ret = store_vpc_set_state(vn->st, v.id, ST_DELETING, &me, err)) ||
	    (ret = store_commit(vn->st, err))) {
		store_rollback(vn->st);
		return ret;
	}
	if ((ret = vpc_teardown(vn, &v, true, err)))
		return verr_wrap(err, "VPC %s", name);
	if ((ret = failpoint("vpc-delete:kernel", err)))
		return ret;
	return vpc_forget(vn, &v, err);
}

/* As stored, "broken" when the kernel lacks its router namespace or transit link; @host
 * reaches the host (opened here on first use: a list opens it once). */
static int vpc_to_public_checked(struct vpcnet *vn, const struct vpc_row *r, struct nsconn *host,
				 struct vpcnet_vpc *out, struct vpcnet_error *err)
{
	char path[VPCNET_PATH_MAX], tname[VPCNET_IFNAME_MAX + 1];
	vpc_to_public(r, out);
	if (strcmp(r->state, ST_READY))
		return 0;
	router_netns_path(path, r->name);
	transit_name(tname, r->id);
	int fd = -1, idx, ret;
	struct vpcnet_error e;
	if ((ret = netns_open(path, &fd, &e)) == -ENOENT || ret == -EINVAL) {
		snprintf(out->problem, sizeof(out->problem), "its router namespace %s is gone",
			 path);
	} else if (!ret) {  /* else it cannot be told (no descriptor left, say): not broken */
		close(fd);
		if (!host->rt && (ret = nsconn_open(host, vn->host_fd, false, err)))
			return ret;
		if (link_index(host->rt, tname, &idx, &e) == -ENODEV)
			snprintf(out->problem, sizeof(out->problem),
				 "its transit link %s is gone", tname);
	}
	if (out->problem[0])
		snprintf(out->state, sizeof(out->state), "broken");
	return 0;
}

VPCNET_API int vpcnet_vpc_get(struct vpcnet *vn, const char *name, struct vpcnet_vpc *out,
			      struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct vpc_row v;
	struct nsconn host = { 0 };
	int ret = valid_vpc_name(name, err);
	if (!ret && !(ret = store_vpc_get(vn->st, name, &v, err)) &&
	    !(ret = store_vpc_members(vn->st, &v, err)))
		ret = vpc_to_public_checked(vn, &v, &host, out, err);
	nsconn_close(&host);
	return ret;
}

struct list_arg {
	int (*fn)(const struct vpcnet_vpc *, void *);
	void *arg;
	struct vpcnet *vn;
	struct nsconn host;
	struct vpcnet_error *err;
};

static int list_one(const struct vpc_row *r, void *arg)
{
	struct list_arg *la = arg;
	struct vpcnet_vpc v;
	struct vpc_row row = *r;
	int ret = store_vpc_members(la->vn->st, &row, la->err);
	if (ret || (ret = vpc_to_public_checked(la->vn, &row, &la->host, &v, la->err)))
		return ret;
	return la->fn(&v, la->arg);
}

VPCNET_API int vpcnet_vpc_list(struct vpcnet *vn,
			       int (*fn)(const struct vpcnet_vpc *vpc, void *arg), void *arg,
			       struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct list_arg la = { .fn = fn, .arg = arg, .vn = vn, .err = err };
	int ret = store_vpc_list(vn->st, list_one, &la, err);
	nsconn_close(&la.host);
	return ret;
}
