/* SPDX-License-Identifier: MIT */
/* gc: the store and the kernel compared, repaired both ways.  Rows left in flight by a
 * process that no longer runs are rolled back (kernel objects first, then the row); router
 * ports that no row owns (a crash, or a namespace someone still held when its sandbox was
 * deleted) are removed with their set elements, and so are refusal counters of ports that
 * are gone; sandboxes whose adopted namespace is gone are deleted, and deleted sandboxes
 * reaped; every VPC's security groups and
 * attachments, and its control ports, are rebuilt from the store.  gc carries on past errors. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/internal.h"
#include "lib/names.h"
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
};

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
	if (!strcmp(r->state, ST_READY) || owner_alive(&r->owner))
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
	    (ret = store_member_list(st, NULL, 0, grab_member, g, err)))
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
	int ret = store_member_list(g->vn->st, KIND_SANDBOX, v->id, add_control, &cf, err);
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

/* A ready member whose adopted namespace is gone: its path opens nothing, or another
 * namespace than the one recorded at create (a container that died without its runtime's
 * DEL or poststop hook). */
static int grab_gone(const struct member_row *m, void *arg)
{
	if (m->netns_owned || !m->netns_ino || strcmp(m->state, ST_READY))
		return 0;
	int fd = open(m->netns, O_RDONLY | O_CLOEXEC);
	bool same = fd >= 0 && netns_is_adopted(m, fd);
	if (fd >= 0)
		close(fd);
	if (same || (fd < 0 && errno != ENOENT))
		return 0;
	return member_names_add(m, arg);
}

/* Deletes the members of @v whose adopted namespace is gone. */
static void delete_gone(struct gc *g, const struct vpc_row *v)
{
	struct member_names gn = { 0 };
	struct vpcnet_error e;
	int ret = store_member_list(g->vn->st, NULL, v->id, grab_gone, &gn, &e);
	if (ret == -ENOMEM)
		verr(&e, VPCNET_FAILED, ENOMEM, "gc");
	if (ret) {
		verr_wrap(&e, "VPC %s", v->name);
		gc_fail(g, &e);
	}
	for (size_t i = 0; i < gn.n; i++) {
		if (member_delete(g->vn, gn.instance[i] ? KIND_INSTANCE : KIND_SANDBOX, gn.v[i],
				  &e)) {
			verr_wrap(&e, "sandbox %s (its namespace is gone)", gn.v[i]);
			gc_fail(g, &e);
			continue;
		}
		g->rep->sandboxes_removed++;
	}
	member_names_free(&gn);
}

VPCNET_API int vpcnet_gc(struct vpcnet *vn, struct vpcnet_gc_report *report,
			 struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct vpcnet_gc_report rep = { 0 };
	struct gc g = { .vn = vn, .rep = &rep, .err = err };
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
			delete_gone(&g, v);
			if (vpc_reap(vn, v, &rep.sandboxes_reaped, &e)) {
				verr_wrap(&e, "VPC %s", v->name);
				gc_fail(&g, &e);
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
	if (rep.errors)
		ret = -(err->errnum ? err->errnum : EIO);
out:
	free(g.vpcs);
	free(g.members);
	if (report)
		*report = rep;
	return ret;
}
