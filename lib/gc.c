/* SPDX-License-Identifier: MIT */
/* gc and restore: the store and the kernel compared, repaired both ways.  Rows left in
 * flight by a process that no longer runs are rolled back (kernel objects first, then the
 * row).  What the kernel lost (a host reboot, or damage done behind vpcnet's back) is built
 * again from the store: a VPC's router namespace, transit link, tables and host elements;
 * an instance's or pool entry's network, in its namespace or a new one; a sandbox whose
 * namespace is gone died with it and is deleted.  Router ports that no row owns are
 * removed with their set elements, and so are refusal counters of ports that are gone;
 * deleted sandboxes are reaped; every VPC's security groups and attachments, and its
 * control ports, are rebuilt from the store.  Both carry on past errors; restore also
 * tells each repair. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/names.h"
#include "lib/groups.h"
#include "lib/internal.h"
#include "lib/member.h"
#include "lib/router.h"
#include "nat/tables.h"
#include "netns/link.h"
#include "netns/netns.h"

struct gc {
	struct vpcnet *vn;
	struct vpcnet_gc_report *rep;
	struct vpcnet_error *err;   /* the first error */
	struct vpc_row *vpcs;
	size_t nvpcs, cap;
	struct member_row *members;
	size_t nmembers, mcap;
	void (*fn)(const struct vpcnet_repair *r, void *arg);  /* told each repair */
	void *arg;
};

static void said(struct gc *g, const char *kind, const char *name, const char *vpc,
		 const char *action, const char *why)
{
	struct vpcnet_repair r = { kind, name, vpc, action, why };
	if (g->fn)
		g->fn(&r, g->arg);
}

static void gc_fail(struct gc *g, const struct vpcnet_error *e)
{
	if (g->rep->errors++ == 0)
		*g->err = *e;
}

static int grab_vpc(const struct vpc_row *r, void *arg)
{
	struct gc *g = arg;
	return array_push(&g->vpcs, &g->nvpcs, &g->cap, r, sizeof(*r));
}

static int grab_member(const struct member_row *r, void *arg)
{
	struct gc *g = arg;
	/* one left restoring is built again (members_repair), not rolled back */
	if (!strcmp(r->state, ST_READY) || !strcmp(r->state, ST_RESTORING) || owner_alive(&r->owner))
		return 0;
	return array_push(&g->members, &g->nmembers, &g->mcap, r, sizeof(*r));
}

/* Takes over the orphans (rows in flight whose owner is dead) under the write lock, so
 * that two gc runs never repair the same thing. */
static int claim_orphans(struct gc *g, struct vpcnet_error *err)
{
	struct store *st = g->vn->st;
	struct owner me = vn_owner(g->vn);
	int ret = store_begin(st, err);
	if (ret)
		return ret;
	if ((ret = store_vpc_list(st, grab_vpc, g, err)) ||
	    (ret = store_member_list(st, MEMBER_ANY, 0, grab_member, g, err)))
		goto fail;
	for (size_t i = 0; i < g->nmembers; i++) {
		if ((ret = store_member_set_state(st, g->members[i].id, g->members[i].state, &me, err)))
			goto fail;
		g->members[i].owner = me;
	}
	for (size_t i = 0; i < g->nvpcs; i++) {
		struct vpc_row *v = &g->vpcs[i];
		if (strcmp(v->state, ST_READY) && !owner_alive(&v->owner)) {
			if ((ret = store_vpc_set_state(st, v->id, v->state, &me, err)))
				goto fail;
			v->owner = me;
		}
	}
	return store_commit(st, err);
fail:
	store_rollback(st);
	if (ret == -ENOMEM)
		ret = verr(err, VPCNET_FAILED, ENOMEM, "gc");
	return ret;
}

static const struct vpc_row *vpc_of(struct gc *g, int64_t id)
{
	for (size_t i = 0; i < g->nvpcs; i++)
		if (g->vpcs[i].id == id)
			return &g->vpcs[i];
	return NULL;
}

static int forget_member(struct store *st, int64_t id, struct vpcnet_error *err)
{
	int ret = store_begin(st, err);
	if (ret)
		return ret;
	ret = store_member_delete(st, id, err);
	if (ret) {
		store_rollback(st);
		return ret;
	}
	return store_commit(st, err);
}

struct port_scan {
	struct gc *g;
	const struct vpc_row *v;
	struct nsconn *router;
};

static int check_port(const char *name, void *arg)
{
	struct port_scan *ps = arg;
	struct vpcnet_error e;
	int64_t id = port_id(name);
	if (id < 0)
		return 0;
	struct member_row m;
	int ret = store_member_get_id(ps->g->vn->st, id, &m, &e);
	if (!ret && m.vpc_id == ps->v->id)
		return 0;  /* owned */
	if (ret && ret != -ENOENT) {
		gc_fail(ps->g, &e);
		return 0;
	}
	/* Nobody owns it: out of @ports (if a crash left it there), then gone. */
	struct nft_batch *b = nftb_new();
	if (!b) {
		verr(&e, VPCNET_FAILED, ENOMEM, "gc");
		gc_fail(ps->g, &e);
		return 0;
	}
	router_port_elem(b, NFT_MSG_DELSETELEM, name);
	ret = nft_commit(&ps->router->nf, b, true, &e);
	nftb_free(b);
	if (ret || (ret = link_delete(ps->router->rt, name, &e))) {
		verr_wrap(&e, "VPC %s: port %s", ps->v->name, name);
		gc_fail(ps->g, &e);
		return 0;
	}
	ps->g->rep->ports_removed++;
	return 0;
}

struct stale {
	struct gc *g;
	const struct vpc_row *v;
	struct nftnl_set *del;  /* the elements to delete */
	unsigned n;
};

/* A counter element is stale when no member of this VPC owns its port. */
static int check_counter(const void *key, uint32_t len, void *arg)
{
	struct stale *st = arg;
	char name[NFT_IFNAME_LEN + 1] = { 0 };
	memcpy(name, key, len < NFT_IFNAME_LEN ? len : NFT_IFNAME_LEN);
	struct member_row m;
	struct vpcnet_error e;
	int64_t id = port_id(name);
	if (id >= 0 && !store_member_get_id(st->g->vn->st, id, &m, &e) && m.vpc_id == st->v->id)
		return 0;
	nft_set_add_key(st->del, key, len);
	st->n++;
	return 0;
}

/* Refusal counters of ports that are gone (a refusal counted after its member's delete
 * removed them) would fill their sets over time: removed here. */
static void sweep_counters(struct gc *g, const struct vpc_row *v, struct nsconn *router)
{
	static const struct { uint32_t family; const char *set; } sets[] = {
		{ NFPROTO_INET, "drops_spoof" }, { NFPROTO_INET, "drops_in" },
		{ NFPROTO_INET, "drops_out" }, { NFPROTO_ARP, "drops_spoof" },
	};
	struct vpcnet_error e;
	for (size_t i = 0; i < sizeof(sets) / sizeof(*sets); i++) {
		struct stale st = { g, v, nft_set_ref(sets[i].family, ROUTER_TABLE, sets[i].set), 0 };
		struct nft_batch *b = nftb_new();
		int ret = st.del && b ? 0 : verr(&e, VPCNET_FAILED, ENOMEM, "gc");
		if (!ret)
			ret = nft_set_keys(&router->nf, sets[i].family, ROUTER_TABLE, sets[i].set,
					   check_counter, &st, &e);
		if (!ret && st.n) {
			nftb_elems(b, NFT_MSG_DELSETELEM, 0, st.del);
			if (!(ret = nft_commit(&router->nf, b, true, &e)))
				g->rep->elements_removed += st.n;
		}
		if (ret) {
			verr_wrap(&e, "VPC %s: set %s", v->name, sets[i].set);
			gc_fail(g, &e);
		}
		nftb_free(b);
		nftnl_set_free(st.del);
	}
}

struct ctl_fill {
	const struct vpc_row *v;
	struct nft_batch *b;
};

static int add_control(const struct member_row *m, void *arg)
{
	struct ctl_fill *cf = arg;
	if (m->control_port && strcmp(m->state, ST_DELETING))
		router_control_elem(cf->b, NFT_MSG_NEWSETELEM, cf->v->net, m->ip, m->control_port);
	return 0;
}

/* Control ports as the store says: @ctl_dnat emptied and refilled in one batch (what a
 * member being deleted had goes; one being created keeps its element). */
static int control_reconcile(struct gc *g, const struct vpc_row *v, struct nsconn *router,
			     struct vpcnet_error *err)
{
	struct ctl_fill cf = { v, nftb_new() };
	if (!cf.b)
		return verr(err, VPCNET_FAILED, ENOMEM, "gc");
	router_control_flush(cf.b);
	int ret = store_member_list(g->vn->st, MEMBER_SANDBOX, v->id, add_control, &cf, err);
	if (!ret)
		ret = nft_commit(&router->nf, cf.b, false, err);
	nftb_free(cf.b);
	return ret;
}

static void scan_router(struct gc *g, const struct vpc_row *v)
{
	struct vpcnet_error e;
	struct router r = { .fd = -1 };
	if (router_open(&r, v->name, &e)) {
		gc_fail(g, &e);
		goto out;
	}
	struct port_scan ps = { g, v, &r.conn };
	if (link_each(r.conn.rt, PORT_PREFIX, check_port, &ps, &e)) {
		verr_wrap(&e, "VPC %s", v->name);
		gc_fail(g, &e);
	}
	if (v->layout != VPC_LAYOUT)
		goto out;
	sweep_counters(g, v, &r.conn);
	/* Groups and attachments as the store says, whatever a crash between the kernel's
	 * commit and the store's left in the router: rebuilt under the write lock. */
	if (store_begin(g->vn->st, &e) == 0) {
		if (sg_reconcile(g->vn, v, &r.conn, &e) ||
		    control_reconcile(g, v, &r.conn, &e) || store_commit(g->vn->st, &e)) {
			store_rollback(g->vn->st);
			verr_wrap(&e, "VPC %s: security groups and control ports", v->name);
			gc_fail(g, &e);
		} else {
			g->rep->vpcs_reconciled++;
		}
	} else {
		gc_fail(g, &e);
	}
out:
	router_close(g->vn, &r);
}

/* --- what the kernel lost: a reboot, or damage done behind vpcnet's back ------------- */

/* Begins a transaction in which VPC @v is still ready (*@gone: deleted, or being deleted,
 * meanwhile: nothing begun). */
static int vpc_lock(struct gc *g, const struct vpc_row *v, bool *gone, struct vpcnet_error *e)
{
	struct vpc_row now;
	int ret = store_begin(g->vn->st, e);
	*gone = false;
	if (ret)
		return ret;
	if ((ret = store_vpc_get_id(g->vn->st, v->id, &now, e)) == -ENOENT ||
	    (!ret && strcmp(now.state, ST_READY))) {
		*gone = true;
		ret = 0;
	}
	if (ret || *gone)
		store_rollback(g->vn->st);
	return ret;
}

/* VPC @v's kernel objects where they are missing, under the write lock (two repairs never
 * build the same router at once, and a VPC deleted meanwhile is not built again: *@gone). */
static int vpc_repair(struct gc *g, const struct vpc_row *v, unsigned *rebuilt, bool *gone)
{
	struct store *st = g->vn->st;
	struct vpcnet_error e;
	int ret = vpc_lock(g, v, gone, &e);
	if (ret || *gone) {
		if (ret)
			gc_fail(g, &e);
		return ret;
	}
	if ((ret = vpc_ensure(g->vn, v, rebuilt, &e)) || (ret = store_commit(st, &e))) {
		store_rollback(st);
		gc_fail(g, &e);
		return ret;
	}
	if (*rebuilt) {
		g->rep->vpcs_rebuilt++;
		said(g, "vpc", v->name, v->name, "rebuilt",
		     *rebuilt & VPC_REBUILT_ROUTER ? "its router namespace was gone" :
		     *rebuilt & VPC_REBUILT_TABLE ? "its router's tables were damaged" :
		     *rebuilt & VPC_REBUILT_HOST_TABLE ? "the host table was damaged" :
		     "its transit link was gone");
	}
	return 0;
}

struct rows {
	struct member_row *m;
	size_t n, cap;
};

/* Members that a repair may take: ready, or left restoring by a process that is gone. */
static bool repairable(const struct member_row *m)
{
	return !strcmp(m->state, ST_READY) ||
	       (!strcmp(m->state, ST_RESTORING) && !owner_alive(&m->owner));
}

static int grab_repairable(const struct member_row *m, void *arg)
{
	struct rows *r = arg;
	return repairable(m) ? array_push(&r->m, &r->n, &r->cap, m, sizeof(*m)) : 0;
}

/* Takes member @id for a repair, under the write lock: marked @state for this handle;
 * *@left (may be NULL): a repair of it was left half-done (it was restoring).  -EAGAIN when
 * another process has taken it meanwhile (or deleted it, or its VPC). */
static int member_claim(struct vpcnet *vn, int64_t id, const char *state, struct member_row *m,
			bool *left, struct vpcnet_error *err)
{
	struct owner me = vn_owner(vn);
	struct vpc_row v;
	int ret = store_begin(vn->st, err);
	if (ret)
		return ret;
	if ((ret = store_member_get_id(vn->st, id, m, err)) == -ENOENT || (!ret && !repairable(m)) ||
	    (!ret && (ret = store_vpc_get_id(vn->st, m->vpc_id, &v, err)) == -ENOENT) ||
	    (!ret && strcmp(v.state, ST_READY)))
		ret = -EAGAIN;
	if (ret || (ret = store_member_set_state(vn->st, id, state, &me, err)) ||
	    (ret = store_commit(vn->st, err))) {
		store_rollback(vn->st);
		return ret;
	}
	if (left)
		*left = !strcmp(m->state, ST_RESTORING);
	snprintf(m->state, sizeof(m->state), "%s", state);
	m->owner = me;
	return 0;
}

/* A sandbox dies with its namespace (a reboot: it is not brought back), and so does what was
 * adopted (its owner's): deleted at once, its address free again. */
static int member_bury(struct gc *g, const struct vpc_row *v, const struct member_row *m0,
		       struct vpcnet_error *e)
{
	struct member_row m;
	int ret = member_claim(g->vn, m0->id, ST_DELETING, &m, NULL, e);
	if (ret)
		return ret == -EAGAIN ? 0 : ret;
	if ((ret = sandbox_teardown(g->vn, &m, v, NULL, e)) ||
	    (ret = forget_member(g->vn->st, m.id, e)))
		return ret;
	g->rep->sandboxes_removed++;
	said(g, member_kind_name(m.kind), m.name, v->name, "deleted", "its namespace is gone");
	return 0;
}

/* Whether member @m's port is there and (unless a pool entry, which is in no set) in the
 * router's @ports. */
static int port_whole(struct router *rt, const struct member_row *m, bool *whole,
		      struct vpcnet_error *err)
{
	bool link, enlisted;
	int ret = port_state(rt, m, &link, &enlisted, err);
	*whole = link && (enlisted || m->kind == MEMBER_POOL);
	return ret;
}

/* An instance or a pool entry gets its network back: in its namespace when that is still
 * there, else in a new one at its path, with its address, MAC and groups.  What it needs is
 * looked at again once it is ours: another repair may have done it, or its namespace gone
 * meanwhile.  Given back as it was when nothing was touched. */
static int member_raise(struct gc *g, struct router *rt, const struct vpc_row *v,
			const struct member_row *m0, struct vpcnet_error *e)
{
	struct member_row m;
	bool left, whole = false, touched = false;
	int fd = -1, ns, ret = member_claim(g->vn, m0->id, ST_RESTORING, &m, &left, e);
	if (ret)
		return ret == -EAGAIN ? 0 : ret;
	if ((ns = member_netns(&m, &fd)) && ns != -ENOENT) {
		ret = verr(e, VPCNET_FAILED, -ns, "its namespace %s cannot be opened", m.netns);
		goto out;
	}
	if (ns && (!m.netns_owned || m.kind == MEMBER_SANDBOX))
		goto out;  /* it died meanwhile: the next repair buries it */
	if ((!ns && !left && (ret = port_whole(rt, &m, &whole, e))) || whole)
		goto out;
	touched = true;
	if ((ns && (ret = netns_remove(m.netns, e))) ||  /* a name left of one */
	    (ret = member_rebuild(g->vn, rt, &m, v, fd, e)) ||
	    (ret = failpoint("member-repair:built", e)) ||
	    (ret = store_member_set_state(g->vn->st, m.id, ST_READY, NULL, e)))
		goto out;
	g->rep->members_rebuilt++;
	said(g, member_kind_name(m.kind), m.name, v->name, fd >= 0 ? "reattached" : "rebuilt",
	     fd < 0 ? "its namespace was gone" : left ? "a repair of it was left half-done" :
	     "its router port was gone or in none of the router's sets");
out:
	if (!touched) {
		struct vpcnet_error ignored;
		store_member_set_state(g->vn->st, m.id, left ? ST_RESTORING : ST_READY, NULL,
				       &ignored);
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The connection-limit chains of @rows' limits (idempotent: a router table made again lacks
 * them, and a member enlisted makes its own only when no other member has that limit). */
static int climits_repair(struct nsconn *router, const struct rows *rows,
			  struct vpcnet_error *e)
{
	struct nft_batch *b = nftb_new();
	if (!b)
		return verr(e, VPCNET_FAILED, ENOMEM, "gc");
	for (size_t i = 0; i < rows->n; i++) {
		unsigned n = rows->m[i].max_conns;
		bool seen = n == VPCNET_MAX_CONNECTIONS_DEFAULT;  /* that one comes with the table */
		for (size_t j = 0; !seen && j < i; j++)
			seen = rows->m[j].max_conns == n;
		if (!seen)
			router_climit_build(b, n);
	}
	int ret = nftb_count(b) ? nft_commit(&router->nf, b, false, e) : 0;
	nftb_free(b);
	return ret;
}

/* The groups of @v's router as the store says, and the limits of members @rows, before they
 * are raised into it (their elements jump to those chains, which a router table made again
 * lacks).  *@gone: the VPC was deleted meanwhile. */
static int groups_repair(struct gc *g, const struct vpc_row *v, const struct rows *rows,
			 bool *gone, struct vpcnet_error *e)
{
	struct router r = { .fd = -1 };
	int ret = vpc_lock(g, v, gone, e);
	if (ret || *gone)
		return ret;
	if ((ret = router_open(&r, v->name, e)) || (ret = sg_reconcile(g->vn, v, &r.conn, e)) ||
	    (ret = climits_repair(&r.conn, rows, e)) || (ret = store_commit(g->vn->st, e)))
		store_rollback(g->vn->st);
	router_close(g->vn, &r);
	return ret ? verr_wrap(e, "VPC %s: security groups", v->name) : 0;
}

enum fate { WHOLE, UNKNOWN, BURY, RAISE };

/* What member @m needs, as far as a look tells: its namespace and port there and (unless a
 * pool entry, which is in no set) its port in the router's sets, or else to be buried or
 * raised. */
static enum fate fate_of(const struct member_row *m, const struct ports *p)
{
	int ns = member_netns(m, NULL);
	if (ns && ns != -ENOENT)
		return UNKNOWN;  /* cannot tell: left alone */
	if (ns)
		return !m->netns_owned || m->kind == MEMBER_SANDBOX ? BURY : RAISE;
	if (ports_has(p, m->id) && !strcmp(m->state, ST_READY) &&
	    (m->kind == MEMBER_POOL || ports_enlisted(p, m->id)))
		return WHOLE;
	return RAISE;
}

/* The members to bury in a router namespace made anew by this repair: nothing of theirs is
 * left in the kernel (no port, element or flow; their namespaces are gone), so their rows
 * go, in one transaction (a reboot leaves thousands), and what is left of their names. */
static int members_forget(struct gc *g, const struct vpc_row *v, const struct rows *r,
			  const enum fate *fates, struct vpcnet_error *e)
{
	struct store *st = g->vn->st;
	bool *gone = calloc(r->n ? r->n : 1, sizeof(*gone));
	int ret = gone ? store_begin(st, e) : verr(e, VPCNET_FAILED, ENOMEM, "gc");
	for (size_t i = 0; !ret && i < r->n; i++) {
		struct member_row m;
		if (fates[i] != BURY)
			continue;
		if ((ret = store_member_get_id(st, r->m[i].id, &m, e)) == -ENOENT ||
		    (!ret && !repairable(&m)))
			ret = 0;  /* another process has it, or had it */
		else if (!ret && !(ret = store_member_delete(st, m.id, e)))
			gone[i] = true;
		/* a name left at its path (no namespace behind it) goes, under the lock: a
		 * create of the same id names its namespace only once its row is in */
		int fd = -1;
		if (gone[i] && m.netns_owned && netns_open(m.netns, &fd, e) == -EINVAL)
			ret = netns_remove(m.netns, e);
		if (fd >= 0)
			close(fd);
	}
	if (gone && (ret || (ret = store_commit(st, e))))
		store_rollback(st);
	for (size_t i = 0; !ret && i < r->n; i++) {
		if (!gone[i])
			continue;
		g->rep->sandboxes_removed++;
		said(g, member_kind_name(r->m[i].kind), r->m[i].name, v->name, "deleted",
		     "its namespace is gone");
	}
	free(gone);
	return ret;
}

/* Each member of @v as the kernel has it: whole (left alone), buried, or raised.  @fresh:
 * its router namespace was made anew by this repair. */
static void members_repair(struct gc *g, const struct vpc_row *v, bool fresh)
{
	struct rows r = { 0 };
	struct ports p = { 0 };
	struct router rt = { .fd = -1 };
	struct vpcnet_error e;
	enum fate *fates = NULL;
	bool raise = false;
	/* the rows first, then the ports: a member ready before the dump has its port in it */
	int ret = store_member_list(g->vn->st, MEMBER_ANY, v->id, grab_repairable, &r, &e);
	if (ret == -ENOMEM || (!ret && !(fates = calloc(r.n ? r.n : 1, sizeof(*fates)))))
		ret = verr(&e, VPCNET_FAILED, ENOMEM, "gc");
	if (ret || (ret = ports_load(g->vn, v, &p, &e))) {
		verr_wrap(&e, "VPC %s", v->name);
		gc_fail(g, &e);
		goto out;
	}
	for (size_t i = 0; i < r.n; i++)
		raise |= (fates[i] = fate_of(&r.m[i], &p)) == RAISE;
	if (fresh && members_forget(g, v, &r, fates, &e)) {
		verr_wrap(&e, "VPC %s: forget the members that died with it", v->name);
		gc_fail(g, &e);
		goto out;
	}
	bool gone = false;
	if (raise && ((ret = groups_repair(g, v, &r, &gone, &e)) || gone ||
		      (ret = router_open(&rt, v->name, &e)))) {
		if (ret)
			gc_fail(g, &e);
		goto out;
	}
	for (size_t i = 0; i < r.n; i++) {
		const struct member_row *m = &r.m[i];
		if (fates[i] == BURY && !fresh)
			ret = member_bury(g, v, m, &e);
		else if (fates[i] == RAISE)
			ret = member_raise(g, &rt, v, m, &e);
		else
			continue;
		if (ret) {
			verr_wrap(&e, "%s %s", member_kind_name(m->kind), m->name);
			gc_fail(g, &e);
		}
	}
out:
	router_close(g->vn, &rt);
	free(fates);
	free(r.m);
	ports_free(&p);
}

/* Whether VPC @v's router namespace is there (a repair that failed may have left it). */
static bool router_there(const struct vpc_row *v)
{
	char path[VPCNET_PATH_MAX];
	router_netns_path(path, v->name);
	return access(path, F_OK) == 0;
}

static int gc_run(struct vpcnet *vn, void (*fn)(const struct vpcnet_repair *r, void *arg),
		  void *arg, struct vpcnet_gc_report *report, struct vpcnet_error *err)
{
	struct vpcnet_gc_report rep = { 0 };
	struct gc g = { .vn = vn, .rep = &rep, .err = err, .fn = fn, .arg = arg };
	struct vpcnet_error e;
	int ret = claim_orphans(&g, err);
	if (ret)
		goto out;
	/* Half-made or half-deleted sandboxes first: their VPC may be going too. */
	for (size_t i = 0; i < g.nmembers; i++) {
		const struct member_row *m = &g.members[i];
		const struct vpc_row *v = vpc_of(&g, m->vpc_id);
		if (!v)
			continue;
		if (sandbox_teardown(vn, m, v, NULL, &e) || forget_member(vn->st, m->id, &e)) {
			verr_wrap(&e, "sandbox %s", m->name);
			gc_fail(&g, &e);
			continue;
		}
		rep.sandboxes_removed++;
	}
	for (size_t i = 0; i < g.nvpcs; i++) {
		const struct vpc_row *v = &g.vpcs[i];
		if (!strcmp(v->state, ST_READY)) {
			if (vpc_reap(vn, v, &rep.sandboxes_reaped, &e)) {
				verr_wrap(&e, "VPC %s", v->name);
				gc_fail(&g, &e);
			}
			unsigned rebuilt = 0;
			bool gone = false;
			if (v->layout == VPC_LAYOUT) {  /* an older router is only ever deleted */
				ret = vpc_repair(&g, v, &rebuilt, &gone);
				if (gone || (ret && !router_there(v)))
					continue;
				members_repair(&g, v, rebuilt & VPC_REBUILT_ROUTER);
			} else if (vpc_lock(&g, v, &gone, &e)) {
				gc_fail(&g, &e);
			} else if (!gone) {
				/* its part in the host still (a host table made again) */
				if (vpc_host_ensure(vn, v, &rebuilt, &e) || store_commit(vn->st, &e)) {
					store_rollback(vn->st);
					verr_wrap(&e, "VPC %s", v->name);
					gc_fail(&g, &e);
				}
			}
			scan_router(&g, v);
			continue;
		}
		if (!owned_by(&v->owner, vn))
			continue;  /* still being worked on by a live owner */
		if (vpc_teardown(vn, v, true, &e) || vpc_forget(vn, v, &e)) {
			verr_wrap(&e, "VPC %s", v->name);
			gc_fail(&g, &e);
			continue;
		}
		rep.vpcs_removed++;
	}
	ret = rep.errors ? -(err->errnum ? err->errnum : EIO) : 0;
out:
	free(g.vpcs);
	free(g.members);
	if (report)
		*report = rep;
	return ret;
}

VPCNET_API int vpcnet_gc(struct vpcnet *vn, struct vpcnet_gc_report *report,
			 struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return gc_run(vn, NULL, NULL, report, err);
}

VPCNET_API int vpcnet_restore(struct vpcnet *vn,
			      void (*fn)(const struct vpcnet_repair *r, void *arg), void *arg,
			      struct vpcnet_gc_report *report, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return gc_run(vn, fn, arg, report, err);
}
