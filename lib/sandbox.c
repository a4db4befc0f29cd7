/* SPDX-License-Identifier: MIT */
/* The member verbs of include/vpcnet.h: sandboxes, instances and the warm pool — create
 * (member_create: the request, the plan, then member.c's phases), delete, get, list,
 * set-sg, and the drop counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/error.h"
#include "base/names.h"
#include "lib/groups.h"
#include "lib/internal.h"
#include "lib/member.h"
#include "lib/router.h"
#include "lib/vpc.h"
#include "nat/conntrack.h"
#include "nat/tables.h"
#include "netns/link.h"
#include "netns/netns.h"
#include "netns/tap.h"
#include "secgroups/compile.h"

static void sandbox_to_public(struct vpcnet *vn, const struct member_row *m,
			      const struct vpc_row *v, struct vpcnet_sandbox *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->kind, sizeof(out->kind), "%s", member_kind_name(m->kind));
	int64_t g[SG_PER_MEMBER];
	size_t ng = 0;
	struct vpcnet_error ignored;
	store_member_sgs(vn->st, m->id, g, SG_PER_MEMBER, &ng, &ignored);
	for (size_t i = 0; i < ng; i++) {
		struct sg_row row;
		if (!store_sg_get_id(vn->st, g[i], &row, &ignored))
			snprintf(out->groups[out->ngroups++], VPCNET_SG_NAME_MAX + 1, "%s", row.name);
	}
	snprintf(out->id, sizeof(out->id), "%s", m->name);
	snprintf(out->vpc, sizeof(out->vpc), "%s", v->name);
	snprintf(out->netns, sizeof(out->netns), "%s", m->netns);
	out->netns_owned = m->netns_owned;
	snprintf(out->ifname, sizeof(out->ifname), "%s", m->ifname);
	port_name(out->port, m->id);
	out->addr = to_in_addr(m->ip);
	out->prefix = v->prefix;
	out->gateway = to_in_addr(subnet_gateway(v->net));
	member_mac(m->ip, out->mac);
	out->max_connections = m->max_conns;
	snprintf(out->tap, sizeof(out->tap), "%s", m->tap);
	if (m->control_port) {
		out->control_port = m->control_port;
		out->control_addr = to_in_addr(transit_router(v->transit));
		out->control_host_port = control_host_port(v->net, m->ip);
	}
	snprintf(out->origin, sizeof(out->origin), "%s", m->origin);
	snprintf(out->state, sizeof(out->state), "%s", m->state);
}

/* The request read into the row to be: every field checked, nothing made or opened. */
static int request_read(enum member_kind kind, const struct vpcnet_sandbox_spec *spec,
			struct member_row *m, struct vpcnet_error *err)
{
	bool instance = kind == MEMBER_INSTANCE;
	const char *ifname = spec->ifname ? spec->ifname : DEFAULT_IFNAME;
	int ret;
	m->kind = kind;
	if ((ret = valid_sandbox_id(spec->id, err)) ||
	    (ret = valid_ifname(ifname, "--ifname", err)))
		return instance ? verr_wrap(err, "instance") : ret;
	if (instance && !spec->vpc)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "instance create: --vpc is required");
	if (spec->addr && parse_ipv4(spec->addr, &m->ip))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "--ip '%s': not an IPv4 address",
			      spec->addr);
	if (spec->netns && strlen(spec->netns) >= sizeof(m->netns))
		return vinput(err, VPCNET_BAD_INPUT, ENAMETOOLONG, "--netns: path too long");
	if (spec->netns && spec->netns[0] != '/')  /* recorded: gc and restore open it later */
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "--netns '%s': not an absolute path",
			      spec->netns);
	if ((spec->tap || spec->control_port) && kind != MEMBER_SANDBOX)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "%s: --tap and --control-port are for"
			      " sandboxes", member_kind_name(kind));
	if (spec->tap) {
		if ((ret = valid_ifname(spec->tap, "--tap", err)))
			return ret;
		if (strchr(spec->tap, '%') || !strcmp(spec->tap, ifname) || !strcmp(spec->tap, "lo"))
			return vinput(err, VPCNET_BAD_INPUT, EINVAL, "--tap '%s': not a name the tap"
				      " can have here (no '%%', not lo or the interface's name)",
				      spec->tap);
		snprintf(m->tap, sizeof(m->tap), "%s", spec->tap);
	}
	if (spec->control_port > 65535)
		return vinput(err, VPCNET_BAD_INPUT, ERANGE, "--control-port %u: a TCP port from 1"
			      " to 65535", spec->control_port);
	m->control_port = spec->control_port;
	if (spec->max_connections > VPCNET_MAX_CONNECTIONS_MAX)
		return vinput(err, VPCNET_BAD_INPUT, ERANGE, "--max-connections %u: at most %u",
			      spec->max_connections, VPCNET_MAX_CONNECTIONS_MAX);
	if (spec->origin) {
		size_t n = strlen(spec->origin);
		if (n >= sizeof(m->origin))
			return vinput(err, VPCNET_BAD_INPUT, ENAMETOOLONG, "origin: at most %d bytes",
				      VPCNET_ORIGIN_MAX);
		for (size_t i = 0; i < n; i++)
			if (spec->origin[i] < ' ' || spec->origin[i] > '~')
				return vinput(err, VPCNET_BAD_INPUT, EINVAL,
					      "origin: printable ASCII only");
		memcpy(m->origin, spec->origin, n + 1);
	}
	m->no_default_route = spec->no_default_route;
	m->max_conns = spec->max_connections ? spec->max_connections
					     : VPCNET_MAX_CONNECTIONS_DEFAULT;
	snprintf(m->name, sizeof(m->name), "%s", spec->id);
	snprintf(m->ifname, sizeof(m->ifname), "%s", ifname);
	snprintf(m->state, sizeof(m->state), ST_CREATING);
	m->netns_owned = !spec->netns;
	if (spec->netns)
		snprintf(m->netns, sizeof(m->netns), "%s", spec->netns);
	else if (instance)
		instance_netns_path(m->netns, spec->id);
	else if (kind == MEMBER_POOL)
		snprintf(m->netns, sizeof(m->netns), NETNS_RUN_DIR "/vpcnet-%s", spec->id);
	else
		sandbox_netns_path(m->netns, spec->id);
	return kind == MEMBER_POOL ? 0 : sg_names_check(spec->sgs, spec->nsgs, err);
}

/* The plan: the namespace to adopt opened, the VPC (the default one may be made here), the
 * address, the groups, whether the pool may serve it; an address that a deleted sandbox
 * still holds is freed by reaping it first. */
static int plan(struct vpcnet *vn, const struct vpcnet_sandbox_spec *spec,
		struct member_plan *p, struct vpcnet_error *err)
{
	struct member_row *m = &p->m;
	int ret;
	if (spec->netns && (ret = netns_open(spec->netns, &p->adopted_fd, err))) {
		verr_wrap(err, "--netns");
		if (ret == -ENOENT)
			err->status = VPCNET_BAD_INPUT;
		return ret;
	}
	struct stat ns;
	if (p->adopted_fd >= 0 && !fstat(p->adopted_fd, &ns)) {
		m->netns_dev = ns.st_dev;
		m->netns_ino = ns.st_ino;
	}
	if ((ret = vpc_resolve(vn, spec->vpc, &p->v, err)) ||
	    (p->adopted_fd >= 0 &&
	     (ret = netns_adoptable(vn, p->adopted_fd, &p->v, spec->netns, err))) ||
	    (m->ip && (ret = subnet_check_lease(p->v.net, p->v.prefix, m->ip, err))) ||
	    (m->kind != MEMBER_POOL &&
	     (ret = sg_resolve(vn, p->v.id, spec->sgs, spec->nsgs, p->groups, &p->ngroups, err))))
		return ret;
	m->vpc_id = p->v.id;
	/* A plain sandbox takes a ready network from the VPC's pool when there is one (a
	 * pool entry has no tap, and its row no control port). */
	p->poolable = m->kind == MEMBER_SANDBOX && !spec->netns && !spec->addr && !spec->tap &&
		      !m->origin[0] && !spec->control_port && !strcmp(m->ifname, DEFAULT_IFNAME) &&
		      m->max_conns == VPCNET_MAX_CONNECTIONS_DEFAULT;
	int64_t held = 0;
	if (m->ip && ((ret = store_revoked_count(vn->st, p->v.id, m->ip, &held, err)) ||
		      (held && (ret = vpc_reap(vn, &p->v, NULL, err)))))
		return ret;
	return 0;
}

/* A create: the request read, the plan made, then the row claimed (or a pooled network)
 * while its namespace is being made, then the network built. */
static int member_create(struct vpcnet *vn, enum member_kind kind,
			 const struct vpcnet_sandbox_spec *spec, struct vpcnet_sandbox *out,
			 struct vpcnet_error *err)
{
	struct member_plan p = { .m.owner = vn_owner(vn), .adopted_fd = -1 };
	bool pooled = false;
	int ret = request_read(kind, spec, &p.m, err);
	if (ret)
		return ret;
	if (!(ret = plan(vn, spec, &p, err)) && !(ret = member_early_ns(vn, &p, err)) &&
	    !(ret = member_admit(vn, &p, &pooled, err)))
		ret = pooled ? member_pool_finish(vn, &p, err) : member_build(vn, &p, err);
	if (!ret && out)
		sandbox_to_public(vn, &p.m, &p.v, out);
	member_plan_release(&p);
	return ret;
}

VPCNET_API int vpcnet_sandbox_create(struct vpcnet *vn, const struct vpcnet_sandbox_spec *spec,
				     struct vpcnet_sandbox *out, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_create(vn, MEMBER_SANDBOX, spec, out, err);
}

VPCNET_API int vpcnet_instance_create(struct vpcnet *vn, const struct vpcnet_sandbox_spec *spec,
				      struct vpcnet_sandbox *out, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_create(vn, MEMBER_INSTANCE, spec, out, err);
}

VPCNET_API int vpcnet_sandbox_delete(struct vpcnet *vn, const char *id, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_delete(vn, MEMBER_SANDBOX, id, err);
}

VPCNET_API int vpcnet_instance_delete(struct vpcnet *vn, const char *name,
				      struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_delete(vn, MEMBER_INSTANCE, name, err);
}

/* As stored, "broken" when the kernel lacks what it needs (@p: its VPC's ports). */
static void member_to_public(struct vpcnet *vn, const struct member_row *m,
			     const struct vpc_row *v, const struct ports *p,
			     struct vpcnet_sandbox *out)
{
	sandbox_to_public(vn, m, v, out);
	member_problem(m, p, out->problem, sizeof(out->problem));
	if (out->problem[0])
		snprintf(out->state, sizeof(out->state), "broken");
}

static int member_get(struct vpcnet *vn, enum member_kind kind, const char *id,
		      struct vpcnet_sandbox *out, struct vpcnet_error *err)
{
	struct member_row m;
	struct vpc_row v;
	struct ports p = { 0 };
	int ret = valid_sandbox_id(id, err);
	if (ret || (ret = store_member_get(vn->st, kind, id, &m, err)) ||
	    (ret = store_vpc_get_id(vn->st, m.vpc_id, &v, err)) ||
	    (ret = ports_load_one(vn, &v, &m, &p, err)))
		goto out;
	member_to_public(vn, &m, &v, &p, out);
out:
	ports_free(&p);
	return ret;
}

VPCNET_API int vpcnet_sandbox_get(struct vpcnet *vn, const char *id, struct vpcnet_sandbox *out,
				  struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_get(vn, MEMBER_SANDBOX, id, out, err);
}

VPCNET_API int vpcnet_instance_get(struct vpcnet *vn, const char *name,
				   struct vpcnet_sandbox *out, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_get(vn, MEMBER_INSTANCE, name, out, err);
}

struct regroup {
	struct nl_sock *rt;
	const char *port;
	uint32_t profile;
};

static int regroup(void *arg, struct vpcnet_error *err)
{
	struct regroup *r = arg;
	return link_set_group(r->rt, r->port, r->profile, err);
}

/* Tries of set-sg when the profile it adds is collected (unused) before it is used. */
#define SET_SG_TRIES 3

/* The member's port moves to the profile of its new groups: one device group change, after
 * that profile's elements are in (added only: nothing is deleted, so nothing waits for the
 * kernel to free it).  A new profile's row is committed first, in a transaction of its own. */
static int member_set_sg(struct vpcnet *vn, enum member_kind kind, const char *id,
			 const char *const *sgs, unsigned nsgs, struct vpcnet_error *err)
{
	bool instance = kind == MEMBER_INSTANCE;
	struct member_row m;
	struct vpc_row v;
	int64_t groups[SG_PER_MEMBER], profile;
	size_t ngroups = 0;
	char port[VPCNET_IFNAME_MAX + 1];
	struct router rt = { .fd = -1 };
	struct nft_batch *b = NULL;
	int ret = valid_sandbox_id(id, err);
	if (ret)
		return ret;
	if (nsgs == 0)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "set-sg: name at least one group");
	if ((ret = store_member_get(vn->st, kind, id, &m, err)) ||
	    (ret = store_vpc_get_id(vn->st, m.vpc_id, &v, err)) || (ret = vpc_current(&v, err)) ||
	    (ret = sg_resolve(vn, v.id, sgs, nsgs, groups, &ngroups, err)))
		return ret;
	port_name(port, m.id);
	if ((ret = router_open(&rt, v.name, err)))
		goto out;
	for (int tries = 1;; tries++) {
		bool made;
		/* Under the write lock: the new groups, and the profile they make. */
		if ((ret = store_begin(vn->st, err)))
			goto out;
		if ((ret = store_member_get(vn->st, kind, id, &m, err)) ||
		    (ret = store_member_sgs_set(vn->st, &m, groups, ngroups, &profile, &made, err)))
			goto fail;
		if (strcmp(m.state, ST_READY)) {
			ret = vinput(err, VPCNET_FAILED, EBUSY, "%s '%s' is %s", member_kind_name(kind), id, m.state);
			goto fail;
		}
		if (!made)
			break;
		store_rollback(vn->st);
		if (tries == SET_SG_TRIES) {
			ret = vinput(err, VPCNET_FAILED, EAGAIN, "set-sg: its membership profile was"
				     " collected twice before use: try again");
			goto out;
		}
		if ((ret = store_begin(vn->st, err)))
			goto out;
		if ((ret = store_profile_add(vn->st, v.id, instance, groups, ngroups, &profile,
					     &made, err)) ||
		    (ret = store_commit(vn->st, err)))
			goto fail;
	}
	if (profile == m.profile) {  /* the same groups (in another order, maybe) */
		vn->last_msgs = vn->last_elems = 0;
		if ((ret = store_commit(vn->st, err)))
			goto fail;
		goto out;
	}
	if (!(b = nftb_new())) {
		ret = verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
		goto fail;
	}
	sg_profile_elems(b, NFT_MSG_NEWSETELEM, (uint32_t)profile, groups, ngroups, instance);
	struct regroup r = { rt.conn.rt, port, (uint32_t)profile };
	ret = sg_apply(vn, v.id, &rt.conn, b, nftb_count(b), regroup, &r, err);
	goto out;
fail:
	store_rollback(vn->st);
out:
	nftb_free(b);
	router_close(vn, &rt);
	return ret;
}

VPCNET_API int vpcnet_member_drops(struct vpcnet *vn, const char *id, bool instance,
				   struct vpcnet_drops *out, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct member_row m;
	struct vpc_row v;
	memset(out, 0, sizeof(*out));
	int ret = valid_sandbox_id(id, err);
	if (ret || (ret = store_member_get(vn->st, instance ? MEMBER_INSTANCE : MEMBER_SANDBOX, id, &m,
					    err)) ||
	    (ret = store_vpc_get_id(vn->st, m.vpc_id, &v, err)) || (ret = vpc_current(&v, err)))
		return ret;
	uint8_t key[NFT_IFNAME_LEN] = { 0 };
	port_name((char *)key, m.id);
	struct router rt;
	if ((ret = router_open(&rt, v.name, err)))
		return ret;
	struct { uint32_t family; const char *set; uint64_t *into; } reads[] = {
		{ NFPROTO_INET, "drops_spoof", &out->spoofed },
		{ NFPROTO_ARP, "drops_spoof", &out->spoofed },
		{ NFPROTO_INET, "drops_in", &out->inbound },
		{ NFPROTO_INET, "drops_out", &out->denied },
	};
	for (size_t i = 0; !ret && i < sizeof(reads) / sizeof(*reads); i++) {
		uint64_t n;
		if (!(ret = nft_elem_packets(&rt.conn.nf, reads[i].family, ROUTER_TABLE, reads[i].set,
					     key, sizeof(key), &n, err)))
			*reads[i].into += n;
	}
	router_close(vn, &rt);
	return ret;
}

struct list_arg {
	struct vpcnet *vn;
	int (*fn)(const struct vpcnet_sandbox *, void *);
	void *arg;
	struct vpc_row v;  /* cache: sandboxes come grouped rarely, but usually few VPCs */
	struct ports ports; /* ... and its router's ports */
	struct vpcnet_error *err;
};

static int list_one(const struct member_row *m, void *arg)
{
	struct list_arg *la = arg;
	if (la->v.id != m->vpc_id) {
		int ret = store_vpc_get_id(la->vn->st, m->vpc_id, &la->v, la->err);
		if (ret || (ret = ports_load(la->vn, &la->v, &la->ports, la->err)))
			return ret;
	}
	struct vpcnet_sandbox sb;
	member_to_public(la->vn, m, &la->v, &la->ports, &sb);
	return la->fn(&sb, la->arg);
}

static int member_list(struct vpcnet *vn, enum member_kind kind, const char *vpc,
		       int (*fn)(const struct vpcnet_sandbox *sb, void *arg), void *arg,
		       struct vpcnet_error *err)
{
	struct list_arg la = { .vn = vn, .fn = fn, .arg = arg, .err = err };
	int64_t vpc_id = 0;
	int ret = 0;
	if (vpc) {
		if ((ret = valid_vpc_name(vpc, err)) || (ret = store_vpc_get(vn->st, vpc, &la.v, err)) ||
		    (ret = ports_load(vn, &la.v, &la.ports, err)))
			goto out;
		vpc_id = la.v.id;
	}
	ret = store_member_list(vn->st, kind, vpc_id, list_one, &la, err);
out:
	ports_free(&la.ports);
	return ret;
}

VPCNET_API int vpcnet_sandbox_list(struct vpcnet *vn, const char *vpc,
				   int (*fn)(const struct vpcnet_sandbox *sb, void *arg), void *arg,
				   struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_list(vn, MEMBER_SANDBOX, vpc, fn, arg, err);
}

VPCNET_API int vpcnet_instance_list(struct vpcnet *vn, const char *vpc,
				    int (*fn)(const struct vpcnet_sandbox *in, void *arg),
				    void *arg, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_list(vn, MEMBER_INSTANCE, vpc, fn, arg, err);
}

VPCNET_API int vpcnet_sandbox_set_sg(struct vpcnet *vn, const char *id, const char *const *sgs,
				     unsigned nsgs, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_set_sg(vn, MEMBER_SANDBOX, id, sgs, nsgs, err);
}

VPCNET_API int vpcnet_instance_set_sg(struct vpcnet *vn, const char *name,
				      const char *const *sgs, unsigned nsgs,
				      struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return member_set_sg(vn, MEMBER_INSTANCE, name, sgs, nsgs, err);
}

/* --- the warm pool --------------------------------------------------------------------- */

VPCNET_API int vpcnet_pool_fill(struct vpcnet *vn, const char *vpc, unsigned n, unsigned *made,
				struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	unsigned ok = 0;
	int ret = 0;
	if (!vpc)
		ret = vinput(err, VPCNET_BAD_INPUT, EINVAL, "pool fill: name the VPC");
	else if (n == 0 || n > VPCNET_POOL_MAX)
		ret = vinput(err, VPCNET_BAD_INPUT, ERANGE, "pool fill: a count from 1 to %u",
			     VPCNET_POOL_MAX);
	for (; !ret && ok < n; ok++) {
		uint8_t rnd[6];
		char id[VPCNET_ID_MAX + 1];
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			ret = verr(err, VPCNET_FAILED, errno, "pool name");
			break;
		}
		snprintf(id, sizeof(id), "pool-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
			 rnd[3], rnd[4], rnd[5]);
		struct vpcnet_sandbox_spec spec = { .id = id, .vpc = vpc };
		if ((ret = member_create(vn, MEMBER_POOL, &spec, NULL, err)))
			break;
	}
	if (made)
		*made = ok;
	return ret;
}

struct pool_arg {
	bool names;  /* collect them (else count only) */
	char (*v)[VPCNET_ID_MAX + 1];
	size_t n, cap;
	unsigned ready;
};

static int pool_one(const struct member_row *m, void *arg)
{
	struct pool_arg *pa = arg;
	pa->ready += !strcmp(m->state, ST_READY);
	return pa->names ? array_push(&pa->v, &pa->n, &pa->cap, m->name, sizeof(*pa->v)) : 0;
}

VPCNET_API int vpcnet_pool_count(struct vpcnet *vn, const char *vpc, unsigned *ready,
				 struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct vpc_row v;
	struct pool_arg pa = { 0 };
	int ret = valid_vpc_name(vpc, err);
	if (ret || (ret = store_vpc_get(vn->st, vpc, &v, err)) ||
	    (ret = store_member_list(vn->st, MEMBER_POOL, v.id, pool_one, &pa, err)))
		return ret;
	*ready = pa.ready;
	return 0;
}

VPCNET_API int vpcnet_pool_drain(struct vpcnet *vn, const char *vpc, unsigned *removed,
				 struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct vpc_row v;
	struct pool_arg pa = { .names = true };
	unsigned gone = 0;
	int ret = valid_vpc_name(vpc, err);
	if (!ret && !(ret = store_vpc_get(vn->st, vpc, &v, err)) &&
	    (ret = store_member_list(vn->st, MEMBER_POOL, v.id, pool_one, &pa, err)) == -ENOMEM)
		ret = verr(err, VPCNET_FAILED, ENOMEM, "pool");
	for (size_t i = 0; !ret && i < pa.n; i++)
		if (!(ret = member_delete(vn, MEMBER_POOL, pa.v[i], err)))
			gone++;
	free(pa.v);
	if (removed)
		*removed = gone;
	return ret;
}
