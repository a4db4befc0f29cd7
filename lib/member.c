/* SPDX-License-Identifier: MIT */
/* A member's network (a sandbox, an instance, a pool entry): a namespace (made, or adopted
 * from an orchestrator), a veth whose peer is born inside it and whose other end is a
 * routed port of the VPC router (/32 route, pinned neighbour, proxy ARP), an address and a
 * default route inside, and its elements in the router's sets.  Here: the phases of a
 * create (its namespace made early, the row claimed, the network built), rebuilding,
 * teardown, delete and the reaping of deleted sandboxes, and what the router's ports tell.
 * The row is written first and removed last (see store.h).  The member verbs (sandbox.c)
 * and gc.c drive it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/error.h"
#include "base/names.h"
#include "lib/groups.h"
#include "lib/member.h"
#include "nat/conntrack.h"
#include "nat/tables.h"
#include "netns/link.h"
#include "netns/netns.h"
#include "netns/tap.h"
#include "secgroups/compile.h"

static int sbx_init(void *arg)
{
	struct sbx_init *si = arg;
	int ret;
	/* One write: "all" also sets "default" (and lo). */
	if (!si->ifname && (ret = sysctl_write("net/ipv6/conf/all/disable_ipv6", "1", si->err)))
		return ret;
	si->conn.err = si->err;
	return nsconn_open_here(&si->conn);
}

static int sbx_tap(void *arg)
{
	struct sbx_init *si = arg;
	return tap_create(si->tap, si->err);
}

static int sbx_ipv6_off(void *arg)
{
	struct sbx_init *si = arg;
	char key[64];
	snprintf(key, sizeof(key), "net/ipv6/conf/%s/disable_ipv6", si->ifname);
	return sysctl_write(key, "1", si->err);
}

/* Makes @m a member in the router: its addresses, limit and its profile's elements (added
 * by every member that has it: idempotent, and what a crash left out comes back), one
 * batch.  Its port is in the profile's device group already. */
static int member_enlist(struct vpcnet *vn, struct nf_sock *nf, const struct member_row *m,
			 const struct vpc_row *v, const int64_t *groups, size_t ngroups,
			 struct vpcnet_error *err)
{
	char port[VPCNET_IFNAME_MAX + 1];
	port_name(port, m->id);
	struct nft_batch *b = nftb_new();
	if (!b)
		return verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	/* cl<N> for the default limit comes with the VPC; another is made by its first user
	 * (idempotently: two first users may race) and stays */
	bool have = m->max_conns == VPCNET_MAX_CONNECTIONS_DEFAULT;
	int ret = 0;
	if (!have && (ret = store_limit_in_use(vn->st, v->id, m->max_conns, m->id, &have, err)))
		goto out;
	if (!have)
		router_climit_build(b, m->max_conns);
	router_member_elems(b, NFT_MSG_NEWSETELEM, port, m->ip, m->max_conns);
	if (m->profile)
		sg_profile_elems(b, NFT_MSG_NEWSETELEM, (uint32_t)m->profile, groups, ngroups,
				 m->kind == MEMBER_INSTANCE);
	if (m->control_port)
		router_control_elem(b, NFT_MSG_NEWSETELEM, v->net, m->ip, m->control_port);
	if ((ret = nft_commit(nf, b, false, err)))
		verr_wrap(err, "router table");
	else
		vn->last_msgs = nftb_count(b), vn->last_elems = nftb_count(b);
out:
	nftb_free(b);
	return ret;
}

/* Collects @e: the namespace's fd, or the error that made it fail (in @err). */
static int early_ns_wait(struct early_ns *e, int *fd, struct vpcnet_error *err)
{
	int ret = netns_create_wait(e->p, fd);
	e->p = NULL;
	e->si.err = err;
	if (ret)
		*err = e->err;
	return ret;
}

/* Gives @e up (the create failed before using it, or took a network from the pool): the
 * namespace goes with the last descriptor of it. */
static void early_ns_drop(struct early_ns *e)
{
	if (!e->p)
		return;
	int fd = -1;
	struct vpcnet_error ignored;
	if (!early_ns_wait(e, &fd, &ignored))
		close(fd);
	nsconn_close(&e->si.conn);
}

/* *@made tells whether the namespace was made here (a failure may not remove another's).
 * @early: its namespace, being made already. */
static int sandbox_build(struct vpcnet *vn, struct router *rt, const struct member_row *m,
			 const struct vpc_row *v, const int64_t *groups, size_t ngroups,
			 int adopted_fd, struct early_ns *early, bool *made, bool *tap_made,
			 struct vpcnet_error *err)
{
	char port[VPCNET_IFNAME_MAX + 1];
	port_name(port, m->id);
	uint8_t mac[6];
	member_mac(m->ip, mac);
	struct nsconn *router = &rt->conn;
	struct sbx_init own = { .err = err }, *si = early && early->p ? &early->si : &own;
	int sfd = -1, ret;

	if (early && early->p) {
		if ((ret = early_ns_wait(early, &sfd, err)) ||
		    (ret = netns_publish(sfd, m->netns, err)))
			goto out;
		*made = true;
	} else if (m->netns_owned) {
		if ((ret = netns_create(m->netns, sbx_init, si, &sfd, err)))
			goto out;
		*made = true;
	} else {
		sfd = adopted_fd;
		si->ifname = m->ifname;  /* the orchestrator's namespace: touch only our interface */
		if ((ret = netns_run(sfd, sbx_init, si, err)))
			goto out;
		int idx;
		const char *mine[] = { m->ifname, m->tap[0] ? m->tap : NULL };
		for (size_t i = 0; i < 2 && mine[i]; i++) {
			if (!link_index(si->conn.rt, mine[i], &idx, err)) {
				ret = vinput(err, VPCNET_EXISTS, EEXIST,
					     "interface %s already exists in %s", mine[i], m->netns);
				goto out;
			}
		}
	}
	if ((ret = failpoint("sandbox-create:netns", err)))
		goto out;
	if ((ret = link_veth_create(router->rt, port, (uint32_t)m->profile, m->ifname, sfd, mac,
				    err)))
		goto out;
	if ((ret = failpoint("sandbox-create:veth", err)))
		goto out;
	int pidx, eidx;
	if ((ret = link_index(router->rt, port, &pidx, err)) ||
	    (ret = route_add(router->rt, ROUTE_UNICAST, m->ip, 32, pidx, 0, true, err)) ||
	    (ret = neigh_pin(router->rt, pidx, m->ip, mac, err)) ||
	    (ret = neigh_proxy_now(router->rt, pidx, err)))
		goto out;
	if (!m->netns_owned && (ret = netns_run(sfd, sbx_ipv6_off, si, err)))
		goto out;
	if ((ret = link_index(si->conn.rt, m->ifname, &eidx, err)))
		goto out;
	if (m->tap[0]) {
		/* The guest on the tap owns the address: the interface gets none and its stack
		 * sees nothing (all that arrives is redirected to the tap), so ARP answers and
		 * replies come from the guest alone. */
		int tidx;
		si->tap = m->tap;
		if (!(ret = netns_run(sfd, sbx_tap, si, err)))
			*tap_made = true;
		if (ret || (ret = link_index(si->conn.rt, m->tap, &tidx, err)) ||
		    (ret = tc_redirect_both(si->conn.rt, eidx, tidx, err)) ||
		    (ret = link_up(si->conn.rt, tidx, err)) ||
		    (ret = link_up(si->conn.rt, eidx, err))) {
			verr_wrap(err, "tap %s", m->tap);
			goto out;
		}
	} else if ((ret = addr_add(si->conn.rt, eidx, m->ip, v->prefix, err)) ||
		   (ret = link_up(si->conn.rt, eidx, err)) ||
		   (!m->no_default_route &&
		    (ret = route_add(si->conn.rt, ROUTE_UNICAST, 0, 0, eidx,
				     subnet_gateway(v->net), false, err)))) {
		goto out;
	}
	if ((ret = link_up(si->conn.rt, 1, err)))
		goto out;
	if ((ret = failpoint("sandbox-create:addr", err)))
		goto out;
	/* A pool entry stays out of the router's sets: its port can send nothing (no
	 * @port_src) and nothing new reaches it, until a create takes it. */
	if (m->kind != MEMBER_POOL)
		ret = member_enlist(vn, &router->nf, m, v, groups, ngroups, err);
out:
	if (si == &own || !early->p)  /* else the helper may still be opening it: dropped later */
		nsconn_close(&si->conn);
	if (sfd >= 0 && sfd != adopted_fd)
		close(sfd);
	return ret;
}

/* What is left in namespace @nsfd of member @m's own devices goes: its interface (gone with
 * its port, unless the port is still there) and its tap (a VMM on it must open it again). */
static int leftovers_remove(const struct member_row *m, int nsfd, struct vpcnet_error *err)
{
	struct nsconn c = { 0 };
	int ret = nsconn_open(&c, nsfd, false, err);
	if (!ret && m->tap[0])
		ret = link_delete(c.rt, m->tap, err);
	if (!ret)
		ret = link_delete(c.rt, m->ifname, err);
	nsconn_close(&c);
	return ret;
}

int member_rebuild(struct vpcnet *vn, struct router *rt, const struct member_row *m,
		   const struct vpc_row *v, int nsfd, struct vpcnet_error *err)
{
	int64_t groups[SG_PER_MEMBER];
	size_t ng = 0;
	struct member_row b = *m;
	bool made = false, tap_made = false;
	char port[VPCNET_IFNAME_MAX + 1];
	port_name(port, m->id);
	int ret = store_member_sgs(vn->st, m->id, groups, SG_PER_MEMBER, &ng, err);
	if (ret || (ret = link_delete(rt->conn.rt, port, err)))  /* its peer goes with it */
		return ret;
	if (nsfd >= 0) {
		b.netns_owned = false;  /* built into as into an adopted one: its devices only */
		if ((ret = leftovers_remove(m, nsfd, err)))
			return ret;
	}
	if ((ret = failpoint("member-repair:start", err)) ||
	    (ret = sandbox_build(vn, rt, &b, v, groups, ng, nsfd, NULL, &made, &tap_made, err))) {
		struct vpcnet_error ignored;
		link_delete(rt->conn.rt, port, &ignored);
		if (made)
			netns_remove(m->netns, &ignored);
	}
	return ret;
}

int member_netns(const struct member_row *m, int *fd)
{
	int f = -1;
	struct vpcnet_error ignored;
	int ret = netns_open(m->netns, &f, &ignored);
	if (ret == -EINVAL || (!ret && !netns_is_adopted(m, f)))
		ret = -ENOENT;  /* a name left of one, or another namespace by now */
	if (!ret && fd)
		*fd = f;
	else if (f >= 0)
		close(f);
	return ret;
}

static int collect_port(const char *name, void *arg)
{
	struct ports *p = arg;
	int64_t id = port_id(name);
	return id < 0 ? 0 : array_push(&p->id, &p->n, &p->cap, &id, sizeof(id));
}

static int collect_enlisted(const void *key, uint32_t len, void *arg)
{
	struct ports *p = arg;
	char name[NFT_IFNAME_LEN + 1] = { 0 };
	memcpy(name, key, len < NFT_IFNAME_LEN ? len : NFT_IFNAME_LEN);
	int64_t id = port_id(name);
	return id < 0 ? 0 : array_push(&p->in_set, &p->nset, &p->setcap, &id, sizeof(id));
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int ports_load(struct vpcnet *vn, const struct vpc_row *v, struct ports *p,
	       struct vpcnet_error *err)
{
	struct router rt = { .fd = -1 };
	p->n = p->nset = 0;
	p->router = false;
	int ret = router_open(&rt, v->name, err);
	if (ret == -ENOENT)
		return 0;
	p->router = !ret;
	if (!ret && (ret = link_each(rt.conn.rt, PORT_PREFIX, collect_port, p, err)) == -ENOMEM)
		ret = verr(err, VPCNET_FAILED, ENOMEM, "ports");
	if (!ret && (ret = nft_set_keys(&rt.conn.nf, NFPROTO_INET, ROUTER_TABLE, "ports",
					collect_enlisted, p, err)) == -ENOENT)
		ret = 0;  /* no table: nothing is enlisted */
	else if (ret == -ENOMEM)
		ret = verr(err, VPCNET_FAILED, ENOMEM, "ports");
	router_close(vn, &rt);
	if (!ret && p->n)
		qsort(p->id, p->n, sizeof(*p->id), id_cmp);
	if (!ret && p->nset)
		qsort(p->in_set, p->nset, sizeof(*p->in_set), id_cmp);
	return ret;
}

bool ports_enlisted(const struct ports *p, int64_t id)
{
	return p->nset && bsearch(&id, p->in_set, p->nset, sizeof(*p->in_set), id_cmp);
}

void ports_free(struct ports *p)
{
	free(p->id);
	free(p->in_set);
}

int port_state(struct router *rt, const struct member_row *m, bool *link, bool *enlisted,
	       struct vpcnet_error *err)
{
	uint8_t key[NFT_IFNAME_LEN] = { 0 };
	int idx;
	port_name((char *)key, m->id);
	*link = *enlisted = false;
	int ret = link_index(rt->conn.rt, (char *)key, &idx, err);
	if (ret)
		return ret == -ENODEV ? 0 : ret;
	*link = true;
	return nft_elem_exists(&rt->conn.nf, NFPROTO_INET, ROUTER_TABLE, "ports", key, sizeof(key),
			       enlisted, err);
}

/* @p as ports_load() fills it, for member @m alone: one link and one element looked up, no
 * dump (a get is on the CNI DEL and OCI poststop path, whatever the router holds). */
int ports_load_one(struct vpcnet *vn, const struct vpc_row *v, const struct member_row *m,
		   struct ports *p, struct vpcnet_error *err)
{
	struct router rt = { .fd = -1 };
	bool link, enlisted;
	p->router = false;
	if (strcmp(m->state, ST_READY))
		return 0;  /* in flight: not looked at (member_problem) */
	int ret = router_open(&rt, v->name, err);
	if (ret == -ENOENT)
		return 0;
	p->router = !ret;
	if (!ret && !(ret = port_state(&rt, m, &link, &enlisted, err)) &&
	    ((link && array_push(&p->id, &p->n, &p->cap, &m->id, sizeof(m->id))) ||
	     (enlisted && array_push(&p->in_set, &p->nset, &p->setcap, &m->id, sizeof(m->id)))))
		ret = verr(err, VPCNET_FAILED, ENOMEM, "ports");
	router_close(vn, &rt);
	return ret;
}

bool ports_has(const struct ports *p, int64_t id)
{
	return p->n && bsearch(&id, p->id, p->n, sizeof(*p->id), id_cmp);
}

void member_problem(const struct member_row *m, const struct ports *p, char *buf, size_t n)
{
	char port[VPCNET_IFNAME_MAX + 1];
	buf[0] = '\0';
	if (strcmp(m->state, ST_READY))
		return;
	port_name(port, m->id);
	if (member_netns(m, NULL) == -ENOENT)
		snprintf(buf, n, "its namespace %s is gone", m->netns);
	else if (!p->router)
		snprintf(buf, n, "its VPC's router is gone");
	else if (!ports_has(p, m->id))
		snprintf(buf, n, "its router port %s is gone", port);
	else if (m->kind != MEMBER_POOL && !ports_enlisted(p, m->id))
		snprintf(buf, n, "its router port %s is in none of the router's sets", port);
}

static int tap_remove(const struct member_row *m, struct vpcnet_error *err)
{
	int fd = -1;
	struct nsconn c = { 0 };
	int ret = netns_open(m->netns, &fd, err);
	if (ret == -ENOENT)
		return 0;  /* the namespace is gone, and the tap with it */
	/* The path may name another namespace by now (/proc/PID/ns/net of a reused pid):
	 * then the one adopted is gone, and its tap with it. */
	if (!ret && netns_is_adopted(m, fd) && !(ret = nsconn_open(&c, fd, false, err)))
		ret = link_delete(c.rt, m->tap, err);
	nsconn_close(&c);
	if (fd >= 0)
		close(fd);
	return ret ? verr_wrap(err, "tap %s", m->tap) : 0;
}

bool netns_is_adopted(const struct member_row *m, int fd)
{
	struct stat ns;
	return !m->netns_ino ||
	       (!fstat(fd, &ns) && ns.st_dev == m->netns_dev && ns.st_ino == m->netns_ino);
}

/* Every router element of member @m (port @port) deleted, its refusal counters and its
 * @revoked entry too: for a batch committed with gone_ok.  Its profile's elements are
 * shared: they go with the profile, once no member names it (profiles_gc). */
static void member_elems_del(struct vpcnet *vn, struct nft_batch *b, const struct member_row *m,
			     const struct vpc_row *v, const char *port)
{
	int64_t groups[SG_PER_MEMBER];
	size_t ng = 0;
	struct vpcnet_error ignored;
	/* a router of layout 5 or older: its group elements are keyed by port and address */
	if (v->layout < VPC_LAYOUT &&
	    !store_member_sgs(vn->st, m->id, groups, SG_PER_MEMBER, &ng, &ignored))
		sg_member_del_v5(b, port, m->ip, groups, ng, m->kind == MEMBER_INSTANCE);
	router_member_elems(b, NFT_MSG_DELSETELEM, port, m->ip, m->max_conns);
	if (m->control_port)
		router_control_elem(b, NFT_MSG_DELSETELEM, v->net, m->ip, m->control_port);
	router_member_forget(b, port, m->max_conns);  /* a late refusal may count again: gc */
	router_revoke_elem(b, NFT_MSG_DELSETELEM, port);
}

/* @revoke: a delete's kernel part: the port into @revoked (it is refused everything from
 * now on, one element added: no RCU grace period to wait for); its elements and flows wait
 * for vpc_reap.  Otherwise all of it at once (a rollback, gc, a router of an older layout):
 * out of every set first (no new flow from then on), then its flows forgotten.  Either way
 * the namespace (ours) or the port (an adopted namespace stays) goes. */
static int teardown(struct vpcnet *vn, const struct member_row *m, const struct vpc_row *v,
		    bool revoke, unsigned *ct_removed, struct vpcnet_error *err)
{
	char port[VPCNET_IFNAME_MAX + 1];
	port_name(port, m->id);
	struct router rt = { .fd = -1 };
	struct nsconn *router = &rt.conn;
	struct nft_batch *b = NULL;
	int ret = router_open(&rt, v->name, err);
	if (ret == -ENOENT) {
		ret = 0;  /* no router: nothing of the sandbox is left in it */
		goto netns;
	}
	if (ret)
		goto out;
	if (!(b = nftb_new())) {
		ret = verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
		goto out;
	}
	if (revoke) {
		router_revoke_elem(b, NFT_MSG_NEWSETELEM, port);
		if ((ret = failpoint("sandbox-delete:revoke", err)))
			goto out;
	} else {
		member_elems_del(vn, b, m, v, port);
	}
	if ((ret = nft_commit(&router->nf, b, !revoke, err))) {
		verr_wrap(err, "router table");
		goto out;
	}
	if ((ret = failpoint("sandbox-delete:elements", err)))
		goto out;
	/* Its flows must not outlive it: a failure here fails the teardown, and the row (and
	 * so the address) stays taken until a delete or gc gets through. */
	if (!revoke &&
	    ((ret = failpoint("sandbox-delete:conntrack", err)) ||
	     (ret = conntrack_flush_addr(&router->nf, m->ip, ct_removed, err)))) {
		verr_wrap(err, "flush the connections of %s", port);
		goto out;
	}
	if (!m->netns_owned && (ret = link_delete(router->rt, port, err)))
		goto out;
netns:
	/* An adopted namespace stays: the tap made in it goes (its tc filters with it). */
	if (!m->netns_owned && m->tap[0] && (ret = tap_remove(m, err)))
		goto out;
	/* An owned namespace goes at once; the kernel frees it and the veth pair with it. */
	if (m->netns_owned)
		ret = netns_remove(m->netns, err);
out:
	nftb_free(b);
	router_close(vn, &rt);
	return ret;
}

int sandbox_teardown(struct vpcnet *vn, const struct member_row *m, const struct vpc_row *v,
		     unsigned *ct_removed, struct vpcnet_error *err)
{
	return teardown(vn, m, v, false, ct_removed, err);
}

struct revoked {
	struct member_row *m;
	size_t n, cap;
};

static int grab_revoked(const struct member_row *m, void *arg)
{
	struct revoked *r = arg;
	return r->n < REAP_MAX ? array_push(&r->m, &r->n, &r->cap, m, sizeof(*m)) : 0;
}

int vpc_reap(struct vpcnet *vn, const struct vpc_row *v, unsigned *reaped,
	     struct vpcnet_error *err)
{
	struct revoked rv = { 0 };
	struct router rt = { .fd = -1 };
	struct nft_batch *b = NULL;
	uint32_t *ips = NULL;
	int ret = store_revoked_list(vn->st, v->id, grab_revoked, &rv, err);
	if (ret == -ENOMEM)
		ret = verr(err, VPCNET_FAILED, ENOMEM, "reap");
	if (ret || rv.n == 0)
		goto out;
	if ((ret = router_open(&rt, v->name, err)) == -ENOENT) {
		ret = 0;  /* no router: nothing of theirs is left in the kernel */
		goto rows;
	}
	if (ret)
		goto out;
	b = nftb_new();
	ips = calloc(rv.n, sizeof(*ips));
	if (!b || !ips) {
		ret = verr(err, VPCNET_FAILED, ENOMEM, "reap");
		goto out;
	}
	for (size_t i = 0; i < rv.n; i++) {
		const struct member_row *m = &rv.m[i];
		char port[VPCNET_IFNAME_MAX + 1];
		port_name(port, m->id);
		member_elems_del(vn, b, m, v, port);
		ips[i] = m->ip;
	}
	/* Elements first (nothing of theirs matches any more), then their flows: the
	 * addresses stay leased until both are gone, so no later holder inherits a flow. */
	if ((ret = nft_commit(&rt.conn.nf, b, true, err))) {
		verr_wrap(err, "router table");
		goto out;
	}
	if ((ret = failpoint("sandbox-reap:elements", err)) ||
	    (ret = failpoint("sandbox-reap:conntrack", err)) ||
	    (ret = conntrack_flush_addrs(&rt.conn.nf, ips, (unsigned)rv.n, NULL, err))) {
		verr_wrap(err, "forget the flows of deleted sandboxes");
		goto out;
	}
rows:
	if ((ret = store_begin(vn->st, err)))
		goto out;
	for (size_t i = 0; i < rv.n && !ret; i++)
		ret = store_member_delete(vn->st, rv.m[i].id, err);
	if (ret || (ret = store_commit(vn->st, err))) {
		store_rollback(vn->st);
		goto out;
	}
	if (reaped)
		*reaped += (unsigned)rv.n;
	/* Their profiles, where no other member has them, go with the same wait at close (a
	 * failure leaves them to the next reap or gc: unused, they let nothing through). */
	struct vpcnet_error ignored;
	if (rt.conn.rt)
		profiles_gc(vn, v, &rt.conn.nf, &ignored);
out:
	nftb_free(b);
	router_close(vn, &rt);
	free(ips);
	free(rv.m);
	return ret;
}

static int sandbox_forget(struct vpcnet *vn, int64_t id, struct vpcnet_error *err)
{
	int ret = store_begin(vn->st, err);
	if (ret)
		return ret;
	if ((ret = store_member_delete(vn->st, id, err))) {
		store_rollback(vn->st);
		return ret;
	}
	return store_commit(vn->st, err);
}

/* A failed create undone: kernel objects, then the row; then its router elements once
 * more, now that no row names it: a gc that rebuilt the router from the store while the
 * row was still in flight may have put them back. */
static void rollback_member(struct vpcnet *vn, const struct member_row *m,
			    const struct vpc_row *v)
{
	struct vpcnet_error ignored;
	if (sandbox_teardown(vn, m, v, NULL, &ignored) || sandbox_forget(vn, m->id, &ignored))
		return;
	char port[VPCNET_IFNAME_MAX + 1];
	port_name(port, m->id);
	struct router rt = { .fd = -1 };
	struct nft_batch *b = nftb_new();
	if (b && !router_open(&rt, v->name, &ignored)) {
		member_elems_del(vn, b, m, v, port);
		nft_commit(&rt.conn.nf, b, true, &ignored);
	}
	nftb_free(b);
	router_close(vn, &rt);
}

/* Under the write lock: makes a ready network of the pool of VPC @v sandbox @id (its row
 * renamed, marked in flight, given @groups).  -EAGAIN when the pool is empty. */
static int pool_claim(struct vpcnet *vn, const struct vpc_row *v, const char *id,
		      const int64_t *groups, size_t ngroups, int64_t *mid,
		      struct vpcnet_error *err)
{
	struct member_row m;
	struct owner me = vn_owner(vn);
	int ret = store_member_get(vn->st, MEMBER_SANDBOX, id, &m, err);
	if (!ret)
		return vinput(err, VPCNET_EXISTS, EEXIST, "sandbox '%s' already exists", id);
	if (ret != -ENOENT || (ret = store_pool_take(vn->st, v->id, id, &me, mid, err)))
		return ret == -ENOENT ? -EAGAIN : ret;
	struct member_row taken = { .id = *mid, .vpc_id = v->id, .kind = MEMBER_SANDBOX };
	int64_t profile;
	bool made;
	return store_member_sgs_set(vn->st, &taken, groups, ngroups, &profile, &made, err);
}


/* The elements of profile @id (its row may stay: unused, gc deletes it). */
static void profile_elems_drop(struct vpcnet *vn, const struct vpc_row *v, int64_t id,
			       int64_t member)
{
	struct vpcnet_error ignored;
	struct profile_row p;
	struct router rt = { .fd = -1 };
	int64_t users = 1;
	struct nft_batch *b = nftb_new();
	/* under the write lock: no create can take the profile meanwhile, and one that has
	 * taken it (it is committed) is its user */
	if (!b || store_begin(vn->st, &ignored)) {
		nftb_free(b);
		return;
	}
	if (!store_profile_users(vn->st, id, member, &users, &ignored) && !users &&
	    !store_profile_get(vn->st, id, &p, &ignored) && !router_open(&rt, v->name, &ignored)) {
		sg_profile_elems(b, NFT_MSG_DELSETELEM, (uint32_t)p.id, p.sgs, p.n, p.ingress);
		nft_commit(&rt.conn.nf, b, true, &ignored);
	}
	store_rollback(vn->st);  /* it wrote nothing */
	nftb_free(b);
	router_close(vn, &rt);
}

int member_delete(struct vpcnet *vn, enum member_kind kind, const char *id,
		  struct vpcnet_error *err)
{
	struct member_row m;
	struct vpc_row v;
	int ret = valid_sandbox_id(id, err);
	if (ret)
		return ret;
	if ((ret = store_begin(vn->st, err)))
		return ret;
	if ((ret = store_member_get(vn->st, kind, id, &m, err))) {
		store_rollback(vn->st);
		return ret == -ENOENT ? 0 : ret;  /* gone already: done */
	}
	if (strcmp(m.state, ST_READY) && owner_alive(&m.owner) && !owned_by(&m.owner, vn)) {
		store_rollback(vn->st);
		return vinput(err, VPCNET_FAILED, EBUSY,
			      "%s '%s' is being %s by process %lld: try again", member_kind_name(kind), id,
			      !strcmp(m.state, ST_CREATING) ? "created (or rolled back)" :
			      !strcmp(m.state, ST_RESTORING) ? "restored" : "deleted",
			      (long long)m.owner.pid);
	}
	struct owner me = vn_owner(vn);
	if ((ret = store_vpc_get_id(vn->st, m.vpc_id, &v, err)) ||
	    (ret = store_member_set_state(vn->st, m.id, ST_DELETING, &me, err)) ||
	    (ret = store_commit(vn->st, err))) {
		store_rollback(vn->st);
		return ret;
	}
	if (v.layout < REVOKED_LAYOUT) {  /* no @revoked: all of it at once */
		if ((ret = sandbox_teardown(vn, &m, &v, NULL, err)))
			return verr_wrap(err, "%s %s", member_kind_name(kind), id);
		return sandbox_forget(vn, m.id, err);
	}
	if ((ret = teardown(vn, &m, &v, true, NULL, err)))
		return verr_wrap(err, "%s %s", member_kind_name(kind), id);
	if ((ret = failpoint("sandbox-delete:kernel", err)))
		return verr_wrap(err, "%s %s", member_kind_name(kind), id);
	if ((ret = store_begin(vn->st, err)))
		return ret;
	if ((ret = store_member_revoke(vn->st, m.id, err)) || (ret = store_commit(vn->st, err))) {
		store_rollback(vn->st);
		return ret;
	}
	/* Every REAP_BATCH deletes of a VPC, one of them reaps: the elements and flows of
	 * all of them in one batch and one walk of the conntrack table.  The delete itself is
	 * done: a reap that fails is retried by the next one, by a create that needs an
	 * address it holds (which reports the failure), and by gc. */
	struct vpcnet_error ignored;
	int64_t n;
	if (!store_revoked_count(vn->st, v.id, 0, &n, &ignored) && n >= REAP_BATCH)
		vpc_reap(vn, &v, NULL, &ignored);
	return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int netns_adoptable(struct vpcnet *vn, int nsfd, const struct vpc_row *v, const char *path,
		    struct vpcnet_error *err)
{
	struct stat ns, host, router;
	char rpath[VPCNET_PATH_MAX];
	router_netns_path(rpath, v->name);
	if (fstat(nsfd, &ns))
		return verr(err, VPCNET_FAILED, errno, "--netns %s", path);
	/* the host: --host-netns, and the caller's own namespace (the real host, when
	 * --host-netns names a stand-in) */
	struct stat self;
	if ((vn->host_fd >= 0 && !fstat(vn->host_fd, &host) && same_file(&ns, &host)) ||
	    (!stat("/proc/thread-self/ns/net", &self) && same_file(&ns, &self)))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "--netns %s is the host's namespace: a sandbox needs its own", path);
	if (!stat(rpath, &router) && same_file(&ns, &router))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "--netns %s is VPC %s's router namespace", path, v->name);
	return 0;
}

int member_early_ns(struct vpcnet *vn, struct member_plan *p, struct vpcnet_error *err)
{
	/* While a CPU is idle: when every CPU is busy (a burst of creates), a helper started
	 * now would only compete with the transaction, holding the store's lock longer: 500
	 * creates from 8 workers took 2-6% longer here. */
	bool pool_has = false, early_ok = p->m.netns_owned && netns_cpu_idle();
	int ret = 0;
#ifdef VPCNET_FAILPOINTS
	const char *fp = getenv("VPCNET_FAILPOINT");  /* tests: either way, whatever the load */
	if (fp && (!strcmp(fp, "create:early-ns") || failpoint_armed("sandbox-create:early-ns")))
		early_ok = p->m.netns_owned;
	else if (fp && !strcmp(fp, "create:late-ns"))
		early_ok = false;
#endif
	if (early_ok && (!p->poolable || !(ret = store_pool_ready(vn->st, p->v.id, &pool_has, err))) &&
	    !pool_has) {
		p->early.si.err = &p->early.err;
		ret = netns_create_start(&p->early.p, sbx_init, &p->early.si, err);
	}
#ifdef VPCNET_FAILPOINTS
	if (!ret && p->early.p) {  /* tests: killed, or failing, with its namespace made first */
		int early_fd = -1;
		if (failpoint_armed("sandbox-create:early-ns") &&
		    (ret = early_ns_wait(&p->early, &early_fd, err)))
			return ret;
		if ((ret = failpoint("sandbox-create:early-ns", err)) && early_fd >= 0) {
			close(early_fd);
			nsconn_close(&p->early.si.conn);
		}
	}
#endif
	return ret;
}

int member_admit(struct vpcnet *vn, struct member_plan *p, bool *pooled,
		 struct vpcnet_error *err)
{
	struct member_row *m = &p->m;
	struct vpc_row *v = &p->v;
	bool reaped = false;
	int64_t held, pooled_id;
	int ret;
again:
	if ((ret = store_begin(vn->st, err)))
		return ret;
	/* Under the write lock the VPC must still be ready (not being deleted). */
	if ((ret = store_vpc_get_id(vn->st, v->id, v, err)) || strcmp(v->state, ST_READY)) {
		if (!ret)
			ret = vinput(err, VPCNET_NOT_FOUND, ENOENT, "VPC '%s' is being deleted",
				     v->name);
		store_rollback(vn->st);
		return ret;
	}
	if (p->poolable && (ret = pool_claim(vn, v, m->name, p->groups, p->ngroups, &pooled_id,
					     err)) != -EAGAIN) {
		if (ret || (ret = store_commit(vn->st, err)))
			store_rollback(vn->st);
		else if (!(ret = store_member_get_id(vn->st, pooled_id, m, err)))
			*pooled = true;
		return ret;
	}
	if (!(ret = store_member_insert(vn->st, m, subnet_first(v->net),
					subnet_last(v->net, v->prefix), err)) &&
	    (m->kind == MEMBER_POOL ||
	     !(ret = store_member_sgs_set(vn->st, m, p->groups, p->ngroups, &m->profile,
					  &p->new_profile, err))) &&
	    !(ret = store_commit(vn->st, err)))
		return 0;
	store_rollback(vn->st);
	/* a full subnet: what deleted sandboxes hold comes back once reaped */
	if (ret == -ENOSPC && !reaped && !(ret = store_revoked_count(vn->st, v->id, 0, &held, err)) &&
	    held && !(ret = vpc_reap(vn, v, NULL, err))) {
		reaped = true;
		goto again;
	}
	return ret ? ret : -ENOSPC;  /* nothing to reap: the error stands */
}

int member_build(struct vpcnet *vn, struct member_plan *p, struct vpcnet_error *err)
{
	struct member_row *m = &p->m;
	bool made = false, tap_made = false;
	struct router rt = { .fd = -1 };
	int ret;
	if (!(ret = failpoint("sandbox-create:row", err)) &&
	    !(ret = router_open(&rt, p->v.name, err)))
		ret = sandbox_build(vn, &rt, m, &p->v, p->groups, p->ngroups, p->adopted_fd,
				    &p->early, &made, &tap_made, err);
	router_close(vn, &rt);
	if (ret) {
		verr_wrap(err, "%s %s", member_kind_name(m->kind), m->name);
		struct member_row undo = *m;
		undo.netns_owned = made;
		if (!tap_made)
			undo.tap[0] = '\0';  /* a tap of that name, if any, is not ours */
		rollback_member(vn, &undo, &p->v);
		return ret;
	}
	if ((ret = store_member_set_state(vn->st, m->id, ST_READY, NULL, err))) {
		rollback_member(vn, m, &p->v);  /* a full disk: undone as a failed build is */
		if (p->new_profile)
			profile_elems_drop(vn, &p->v, m->profile, m->id);
		return ret;
	}
	snprintf(m->state, sizeof(m->state), ST_READY);
	return 0;
}

int member_pool_finish(struct vpcnet *vn, struct member_plan *p, struct vpcnet_error *err)
{
	struct member_row *m = &p->m;
	struct router rt = { .fd = -1 };
	char port[VPCNET_IFNAME_MAX + 1];
	port_name(port, m->id);
	/* In its profile first: once the batch lets its port send, its groups are in place. */
	int ret;
	if (!(ret = failpoint("sandbox-create:pool", err)) &&
	    !(ret = router_open(&rt, p->v.name, err)) &&
	    !(ret = link_set_group(rt.conn.rt, port, (uint32_t)m->profile, err)))
		ret = member_enlist(vn, &rt.conn.nf, m, &p->v, p->groups, p->ngroups, err);
	router_close(vn, &rt);
	if (ret) {  /* gone as a failed create goes */
		verr_wrap(err, "sandbox %s", m->name);
		rollback_member(vn, m, &p->v);
		return ret;
	}
	if ((ret = store_member_set_state(vn->st, m->id, ST_READY, NULL, err))) {
		rollback_member(vn, m, &p->v);
		return ret;
	}
	snprintf(m->state, sizeof(m->state), ST_READY);
	return 0;
}

void member_plan_release(struct member_plan *p)
{
	early_ns_drop(&p->early);
	if (p->adopted_fd >= 0)
		close(p->adopted_fd);
	p->adopted_fd = -1;
}
