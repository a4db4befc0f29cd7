/* SPDX-License-Identifier: MIT */
/* Security groups in a router's kernel: the store is the model, secgroups/ compiles it, and
 * every change is one nftables batch sent while the store's write lock is held (sg_apply),
 * so that the elements in the kernel are always the compilation of the committed rules (two
 * writers never diff against the same "before").  Here: a group's chain and sets built from
 * its rules, membership profiles, a VPC's groups rebuilt whole (sg_reconcile), the default
 * group of a new VPC.  The group verbs (sg.c), the members and gc.c use it. */
#include <errno.h>
#include <netinet/in.h>
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
#include "nat/tables.h"
#include "netns/link.h"
#include "secgroups/compile.h"

struct id_list {
	struct sg_row *g;
	struct member_row *m;
	size_t n, cap;
};

struct set_names {
	char (*v)[64];
	size_t n, cap;
};

/* Deletes are idempotent: a change killed between the kernel's commit and the store's leaves
 * the next change of the same rule finding its deletes done (until gc reconciles). */
static int commit(struct vpcnet *vn, struct nf_sock *nf, struct nft_batch *b, unsigned elems,
		  struct vpcnet_error *err)
{
	int ret = nft_commit(nf, b, true, err);
	if (!ret) {
		vn->last_msgs = nftb_count(b);
		vn->last_elems = elems;
	}
	return ret;
}

int sg_names_check(const char *const *names, unsigned n, struct vpcnet_error *err)
{
	if (n > SG_PER_MEMBER)
		return vinput(err, VPCNET_BAD_INPUT, E2BIG, "at most %d groups per member (%u given)",
			      SG_PER_MEMBER, n);
	for (unsigned i = 0; i < n; i++) {
		int ret = valid_sg_name(names[i], err);
		if (ret)
			return ret;
	}
	return 0;
}

int sg_resolve(struct vpcnet *vn, int64_t vpc_id, const char *const *names, unsigned n,
	       int64_t *ids, size_t *nids, struct vpcnet_error *err)
{
	static const char *const dflt[] = { "default" };
	if (n == 0) {
		names = dflt;
		n = 1;
	}
	int ret = sg_names_check(names, n, err);
	if (ret)
		return ret;
	for (unsigned i = 0; i < n; i++) {
		struct sg_row g;
		if ((ret = store_sg_get(vn->st, vpc_id, names[i], &g, err)))
			return ret == -ENOENT ? vinput(err, VPCNET_NOT_FOUND, ENOENT,
						       "--sg: no group '%s' in this VPC", names[i])
					      : ret;
		for (unsigned j = 0; j < i; j++)
			if (ids[j] == g.id)
				return vinput(err, VPCNET_BAD_INPUT, EINVAL, "--sg: '%s' given twice",
					      names[i]);
		ids[i] = g.id;
	}
	*nids = n;
	return 0;
}

/* Compiles the cover of @g's rules (direction @d, towards @ref or CIDRs) into @b; the size
 * of a CIDR cover is recorded (rule changes keep it). */
static int cover_into(struct vpcnet *vn, struct nft_batch *b, int64_t g, const char *name,
		      enum sg_dir d, int64_t ref, const struct sg_rule *rules,
		      const int64_t *ref_of, size_t n, unsigned *elems, struct vpcnet_error *err)
{
	struct box *cover = NULL;
	size_t nb;
	int ret = sg_cover(rules, ref_of, n, d, ref, &cover, &nb);
	if (ret)
		return verr(err, VPCNET_FAILED, -ret, "compile group %s", name);
	sg_cover_elems(b, NFT_MSG_NEWSETELEM, g, d, ref, cover, nb);
	*elems += nb;
	free(cover);
	return ref ? 0 : store_cover_set(vn->st, g, d, nb, err);
}

/* Fills group @g (its chains and sets made empty earlier in @b by sg_group_build()): the
 * reference sets the store records, with their rules, and every rule's elements. */
static int group_fill(struct vpcnet *vn, struct nft_batch *b, const struct sg_row *g,
		      unsigned *elems, struct vpcnet_error *err)
{
	struct sg_rule *rules = NULL;
	int64_t *ref_of = NULL, *refs = NULL;
	size_t n, nrefs;
	int ret = store_rules(vn->st, g->id, &rules, &ref_of, &n, err);
	for (int d = SG_EGRESS; !ret && d <= SG_INGRESS; d++) {
		if ((ret = cover_into(vn, b, g->id, g->name, d, 0, rules, ref_of, n, elems, err)) ||
		    (ret = store_refs(vn->st, g->id, d, &refs, &nrefs, err)))
			break;
		for (size_t i = 0; !ret && i < nrefs; i++) {
			sg_ref_build(b, g->id, d, refs[i]);
			ret = cover_into(vn, b, g->id, g->name, d, refs[i], rules, ref_of, n, elems,
					 err);
		}
		free(refs);
		refs = NULL;
	}
	free(rules);
	free(ref_of);
	return ret;
}

/* Makes group @g (row and rules inserted by the caller) in the kernel.  Built over
 * whatever the kernel holds under its name: a group id can be reused after a crash. */
static int sg_build(struct vpcnet *vn, struct nf_sock *nf, const struct sg_row *g,
		    struct vpcnet_error *err)
{
	struct sg_rule *rules = NULL;
	int64_t *ref_of = NULL;
	size_t n;
	unsigned elems = 0;
	struct nft_batch *b = nftb_new();
	int ret = b ? store_rules(vn->st, g->id, &rules, &ref_of, &n, err)
		    : verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	for (size_t i = 0; !ret && i < n; i++) {
		bool added;
		if (rules[i].to_group)
			ret = store_ref_add(vn->st, g->id, rules[i].dir, ref_of[i], &added, err);
	}
	if (ret)
		goto out;
	sg_group_build(b, g->id);
	if (!(ret = group_fill(vn, b, g, &elems, err)))
		ret = commit(vn, nf, b, elems, err);
out:
	free(rules);
	free(ref_of);
	nftb_free(b);
	return ret;
}

static int grab_sg(const struct sg_row *g, void *arg)
{
	struct id_list *l = arg;
	return array_push(&l->g, &l->n, &l->cap, g, sizeof(*g));
}

static int grab_member(const struct member_row *r, void *arg)
{
	struct id_list *l = arg;
	/* what is being deleted stays out: its address may soon belong to someone else */
	if (!strcmp(r->state, ST_DELETING) ||
	    (strcmp(r->state, ST_READY) && !owner_alive(&r->owner)))
		return 0;
	return array_push(&l->m, &l->n, &l->cap, r, sizeof(*r));
}

/* @m's profile among the @n in @ids, added when new (-ENOMEM). */
static int profile_note(int64_t **ids, size_t *n, size_t *cap, int64_t id)
{
	for (size_t i = 0; i < *n; i++)
		if ((*ids)[i] == id)
			return 0;
	return array_push(ids, n, cap, &id, sizeof(id));
}

static int grab_set_name(const char *name, void *arg)
{
	struct set_names *sn = arg;
	char buf[64] = { 0 };
	snprintf(buf, sizeof(buf), "%s", name);
	return array_push(&sn->v, &sn->n, &sn->cap, buf, sizeof(buf));
}

static bool group_known(const struct id_list *gl, int64_t g)
{
	for (size_t i = 0; i < gl->n; i++)
		if (gl->g[i].id == g)
			return true;
	return false;
}

static int ref_known(struct vpcnet *vn, int64_t g, int dir, int64_t r, bool *known,
		     struct vpcnet_error *err)
{
	int64_t *refs = NULL;
	size_t n = 0;
	int ret = store_refs(vn->st, g, dir, &refs, &n, err);
	*known = false;
	for (size_t i = 0; !ret && i < n; i++)
		*known |= refs[i] == r;
	free(refs);
	return ret;
}

/* What the router holds of groups that the store does not have (a group whose row a failed
 * or killed create never committed, a reference a failed rule change left): deleted, once
 * sg_reconcile's rebuild took every reference to it away.  One batch, idempotent. */
static int groups_sweep(struct vpcnet *vn, const struct id_list *gl, struct nsconn *router,
			struct vpcnet_error *err)
{
	struct set_names sn = { 0 };
	struct nft_batch *b = nftb_new();
	int ret = b ? nft_set_names(&router->nf, NFPROTO_INET, ROUTER_TABLE, grab_set_name, &sn,
				   err) : -ENOMEM;
	for (size_t i = 0; !ret && i < sn.n; i++) {
		long long g, r;
		char d;
		int used = 0;
		if (sscanf(sn.v[i], "sgm%lld%n", &g, &used) == 1 && !sn.v[i][used] &&
		    !group_known(gl, g)) {
			sg_group_delete(b, g, NULL, 0, NULL, 0);
		} else if (sscanf(sn.v[i], "sg%lld_%c_%lld%n", &g, &d, &r, &used) == 3 &&
			   !sn.v[i][used] && (d == 'e' || d == 'i')) {
			enum sg_dir dir = d == 'e' ? SG_EGRESS : SG_INGRESS;
			bool known = false;
			if (group_known(gl, g) && (ret = ref_known(vn, g, dir, r, &known, err)))
				break;
			if (!known)
				sg_del_set(b, g, dir, r);
		}
	}
	if (!ret && nftb_count(b))
		ret = nft_commit(&router->nf, b, true, err);
	nftb_free(b);
	free(sn.v);
	return ret == -ENOMEM ? verr(err, VPCNET_FAILED, ENOMEM, "sweep groups") : ret;
}

int sg_reconcile(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *router,
		 struct vpcnet_error *err)
{
	struct id_list gl = { 0 }, ml = { 0 };
	struct profile_row *unused = NULL;
	int64_t *profiles = NULL;
	size_t np = 0, pcap = 0, nunused = 0;
	unsigned elems = 0;
	struct nft_batch *b = nftb_new();
	int ret = b ? 0 : -ENOMEM;
	if (ret || (ret = store_sg_list(vn->st, v->id, grab_sg, &gl, err)) ||
	    (ret = store_member_list(vn->st, MEMBER_ANY, v->id, grab_member, &ml, err)))
		goto out;
	for (size_t i = 0; i < gl.n; i++)  /* every group's objects first: rules name others' */
		sg_group_build(b, gl.g[i].id);
	for (size_t i = 0; i < gl.n; i++)
		if ((ret = group_fill(vn, b, &gl.g[i], &elems, err)))
			goto out;
	sg_maps_flush(b);
	for (size_t i = 0; i < ml.n; i++)
		if (ml.m[i].profile && (ret = profile_note(&profiles, &np, &pcap, ml.m[i].profile)))
			goto out;
	for (size_t i = 0; i < np; i++) {
		struct profile_row p;
		if ((ret = store_profile_get(vn->st, profiles[i], &p, err)))
			goto out;
		sg_profile_elems(b, NFT_MSG_NEWSETELEM, (uint32_t)p.id, p.sgs, p.n, p.ingress);
	}
	if ((ret = commit(vn, &router->nf, b, elems, err)) ||
	    (ret = groups_sweep(vn, &gl, router, err)))
		goto out;
	/* Each port in its member's profile (a crash between the kernel's change and the
	 * store's may have left one in another); a port not there yet or gone is skipped. */
	for (size_t i = 0; i < ml.n; i++) {
		char port[VPCNET_IFNAME_MAX + 1];
		port_name(port, ml.m[i].id);
		if ((ret = link_set_group(router->rt, port, (uint32_t)ml.m[i].profile, err)) &&
		    ret != -ENODEV)
			goto out;
		ret = 0;
	}
	/* Profiles no member names: their elements were just flushed with the maps. */
	if ((ret = store_profiles_unused(vn->st, v->id, &unused, &nunused, err)))
		goto out;
	for (size_t i = 0; i < nunused && !ret; i++)
		ret = store_profile_delete(vn->st, unused[i].id, err);
out:
	if (ret == -ENOMEM)
		ret = verr(err, VPCNET_FAILED, ENOMEM, "reconcile VPC %s", v->name);
	nftb_free(b);
	free(gl.g);
	free(ml.m);
	free(profiles);
	free(unused);
	return ret;
}

/* Inside the caller's transaction: VPC @v's profiles that no member names, their elements
 * deleted (idempotently, a batch of its own, committed at once) and then their rows. */
int profiles_unused_del(struct vpcnet *vn, const struct vpc_row *v, struct nf_sock *nf,
			struct vpcnet_error *err)
{
	struct profile_row *unused = NULL;
	size_t n = 0;
	struct nft_batch *b = NULL;
	int ret = store_profiles_unused(vn->st, v->id, &unused, &n, err);
	if (ret || n == 0)
		goto out;
	if (!(b = nftb_new())) {
		ret = verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		sg_profile_elems(b, NFT_MSG_DELSETELEM, (uint32_t)unused[i].id, unused[i].sgs,
				 unused[i].n, unused[i].ingress);
	/* Elements before rows: an id whose elements may remain keeps its row (never reused). */
	if ((ret = nft_commit(nf, b, true, err)))
		goto out;
	for (size_t i = 0; i < n && !ret; i++)
		ret = store_profile_delete(vn->st, unused[i].id, err);
out:
	nftb_free(b);
	free(unused);
	return ret;
}

int profiles_gc(struct vpcnet *vn, const struct vpc_row *v, struct nf_sock *nf,
		struct vpcnet_error *err)
{
	int ret = store_begin(vn->st, err);
	if (ret)
		return ret;
	if ((ret = profiles_unused_del(vn, v, nf, err)) || (ret = store_commit(vn->st, err)))
		store_rollback(vn->st);
	return ret;
}

/* Commits the caller's transaction; when that fails after the kernel took its batch, rolls
 * back and rebuilds VPC @vpc_id's groups from the store (sg_reconcile). */
int sg_commit_or_repair(struct vpcnet *vn, int64_t vpc_id, struct nsconn *router,
			struct vpcnet_error *err)
{
	int ret = failpoint("sg:commit", err);
	if (!ret && !(ret = store_commit(vn->st, err)))
		return 0;
	store_rollback(vn->st);
	struct vpcnet_error e;
	struct vpc_row v;
	int r = store_begin(vn->st, &e);
	if (!r && !(r = store_vpc_get_id(vn->st, vpc_id, &v, &e)) &&
	    !(r = sg_reconcile(vn, &v, router, &e)))
		r = store_commit(vn->st, &e);
	if (r) {
		store_rollback(vn->st);
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len,
			 "; the router may differ from the store until `vpcnet gc` runs (%s)", e.msg);
	}
	return ret;
}

int sg_apply(struct vpcnet *vn, int64_t vpc_id, struct nsconn *router, struct nft_batch *b,
	     unsigned elems, int (*then)(void *arg, struct vpcnet_error *err), void *arg,
	     struct vpcnet_error *err)
{
	int ret = commit(vn, &router->nf, b, elems, err);
	if (!ret && then)
		ret = then(arg, err);
	if (ret) {
		store_rollback(vn->st);
		return ret;
	}
	return sg_commit_or_repair(vn, vpc_id, router, err);
}

/* Inside a transaction: the group row and its rules (of @v), then the kernel. */
int sg_create_tx(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *router,
		 const char *name, const char *desc, bool dflt, struct vpcnet_error *err)
{
	struct sg_row g = { .vpc_id = v->id };
	snprintf(g.name, sizeof(g.name), "%s", name);
	snprintf(g.description, sizeof(g.description), "%s", desc ? desc : "");
	int ret = store_sg_insert(vn->st, &g, err);
	if (ret)
		return ret;
	if (dflt) {  /* AWS's default group: egress all 0.0.0.0/0, ingress all sg:default */
		struct sg_rule out = { .dir = SG_EGRESS, .port_hi = 65535 };
		struct sg_rule in = { .dir = SG_INGRESS, .port_hi = 65535, .to_group = true };
		if ((ret = store_rule_insert(vn->st, g.id, &out, 0, err)) ||
		    (ret = store_rule_insert(vn->st, g.id, &in, g.id, err)))
			return ret;
	}
	return sg_build(vn, &router->nf, &g, err);
}

int sg_create_default(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *router,
		      struct vpcnet_error *err)
{
	int ret = store_begin(vn->st, err);
	if (ret)
		return ret;
	if ((ret = sg_create_tx(vn, v, router, "default", "the VPC's default group", true, err)))
		store_rollback(vn->st);
	else
		ret = sg_commit_or_repair(vn, v->id, router, err);
	return ret;
}
