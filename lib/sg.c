/* SPDX-License-Identifier: MIT */
/* Security groups: the store is the model, secgroups/ compiles it, and every change is one
 * nftables batch sent while the store's write lock is held, so that the elements in the
 * kernel are always the compilation of the committed rules (two writers never diff
 * against the same "before").  AWS semantics: rules only allow, a member may send what any
 * of its groups allows, replies pass, sg:NAME follows membership. */
#include <errno.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "lib/internal.h"
#include "base/names.h"
#include "nat/tables.h"
#include "netns/link.h"
#include "netns/netns.h"
#include "secgroups/compile.h"

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

/* Resolves the group named @name: in VPC @vpc when given, else the one on the host. */
static int find_sg(struct vpcnet *vn, const char *vpc, const char *name, struct sg_row *out,
		   struct vpcnet_error *err)
{
	int ret = valid_sg_name(name, err);
	if (ret)
		return ret;
	int64_t vpc_id = 0;
	if (vpc) {
		struct vpc_row v;
		if ((ret = valid_vpc_name(vpc, err)) || (ret = store_vpc_get(vn->st, vpc, &v, err)))
			return ret;
		vpc_id = v.id;
	}
	return store_sg_get(vn->st, vpc_id, name, out, err);
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

/* At most this many elements in one of a group's sets: the cover of n overlapping rules
 * can grow as n squared, and a change must stay one bounded batch. */
#define SG_MAX_ELEMS 65536

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

struct id_list {
	struct sg_row *g;
	struct member_row *m;
	size_t n, cap;
};

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

struct set_names {
	char (*v)[64];
	size_t n, cap;
};

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
static int profiles_unused_del(struct vpcnet *vn, const struct vpc_row *v, struct nf_sock *nf,
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

static int sg_commit_or_repair(struct vpcnet *vn, int64_t vpc_id, struct nsconn *router,
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
static int sg_create_tx(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *router,
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

VPCNET_API int vpcnet_sg_create(struct vpcnet *vn, const char *vpc, const char *name,
				const char *description, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct vpc_row v;
	int ret;
	if (!vpc)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "sg create: --vpc is required");
	if ((ret = valid_vpc_name(vpc, err)) || (ret = valid_sg_name(name, err)))
		return ret;
	if (description && strlen(description) > 255)
		return vinput(err, VPCNET_BAD_INPUT, E2BIG, "--description: at most 255 bytes");
	if ((ret = store_vpc_get(vn->st, vpc, &v, err)) || (ret = vpc_current(&v, err)))
		return ret;
	struct router r;
	if ((ret = router_open(&r, vpc, err)))
		return ret;
	if (!(ret = store_begin(vn->st, err))) {
		if ((ret = sg_create_tx(vn, &v, &r.conn, name, description, false, err)))
			store_rollback(vn->st);
		else
			ret = sg_commit_or_repair(vn, v.id, &r.conn, err);
	}
	router_close(vn, &r);
	return ret;
}

VPCNET_API int vpcnet_sg_delete(struct vpcnet *vn, const char *vpc, const char *name,
				struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct sg_row g;
	int ret = find_sg(vn, vpc, name, &g, err);
	if (ret)
		return ret;
	if (!strcmp(g.name, "default"))
		return vinput(err, VPCNET_EXISTS, EBUSY, "a VPC's default group cannot be deleted");
	/* Deleted sandboxes that had it still point at its chain until they are reaped. */
	struct vpc_row v;
	if ((ret = store_vpc_get_id(vn->st, g.vpc_id, &v, err)) ||
	    (ret = vpc_reap(vn, &v, NULL, err)))
		return ret;
	struct router r;
	if ((ret = router_open(&r, g.vpc, err)))
		return ret;
	struct nft_batch *b = NULL;
	int64_t *own[2] = { NULL, NULL }, *holders = NULL, *refs = NULL;
	size_t nown[2], nh, nrefs;
	if ((ret = store_begin(vn->st, err)))
		goto out;
	if ((ret = store_sg_get_id(vn->st, g.id, &g, err)) ||
	    (ret = store_sg_counts(vn->st, &g, err)))
		goto fail;
	if (g.members || g.referenced) {
		ret = vinput(err, VPCNET_EXISTS, EBUSY, "group '%s' is %s: detach it first", name,
			     g.members ? "in use by a sandbox or instance"
				       : "named by another group's rule");
		goto fail;
	}
	/* Profiles that held it jump to its chains: with no member left in it, none is used
	 * (under this lock: none can be taken up meanwhile). */
	if ((ret = profiles_unused_del(vn, &v, &r.conn.nf, err)))
		goto fail;
	if (!(b = nftb_new())) {
		ret = verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
		goto fail;
	}
	/* Other groups' chains that once named it drop that reference first. */
	for (int d = SG_EGRESS; d <= SG_INGRESS; d++)
		if ((ret = store_refs(vn->st, g.id, d, &own[d], &nown[d], err)))
			goto fail;
	for (int d = SG_EGRESS; d <= SG_INGRESS; d++) {
		free(holders);
		if ((ret = store_ref_holders(vn->st, g.id, d, &holders, &nh, err)))
			goto fail;
		for (size_t h = 0; h < nh; h++) {
			if (holders[h] == g.id)
				continue;
			free(refs);
			if ((ret = store_refs(vn->st, holders[h], d, &refs, &nrefs, err)))
				goto fail;
			size_t nk = 0;
			for (size_t i = 0; i < nrefs; i++)
				if (refs[i] != g.id)
					refs[nk++] = refs[i];
			sg_chain_rebuild(b, holders[h], d, refs, nk);
			sg_del_set(b, holders[h], d, g.id);
		}
	}
	sg_group_delete(b, g.id, own[0], nown[0], own[1], nown[1]);
	if ((ret = store_sg_delete(vn->st, g.id, err)))
		goto fail;
	ret = sg_apply(vn, g.vpc_id, &r.conn, b, 0, NULL, NULL, err);
	goto out;
fail:
	store_rollback(vn->st);
out:
	free(own[0]);
	free(own[1]);
	free(holders);
	free(refs);
	nftb_free(b);
	router_close(vn, &r);
	return ret;
}

static void sg_to_public(const struct sg_row *g, struct vpcnet_sg *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", g->name);
	snprintf(out->vpc, sizeof(out->vpc), "%s", g->vpc);
	snprintf(out->description, sizeof(out->description), "%s", g->description);
	out->members = g->members;
	out->rules = g->rules;
}

VPCNET_API int vpcnet_sg_get(struct vpcnet *vn, const char *vpc, const char *name,
			     struct vpcnet_sg *out, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct sg_row g;
	int ret = find_sg(vn, vpc, name, &g, err);
	if (!ret && !(ret = store_sg_counts(vn->st, &g, err)))
		sg_to_public(&g, out);
	return ret;
}

struct list_arg {
	int (*fn)(const struct vpcnet_sg *, void *);
	void *arg;
};

static int list_one(const struct sg_row *g, void *arg)
{
	struct list_arg *la = arg;
	struct vpcnet_sg s;
	sg_to_public(g, &s);
	return la->fn(&s, la->arg);
}

VPCNET_API int vpcnet_sg_list(struct vpcnet *vn, const char *vpc,
			      int (*fn)(const struct vpcnet_sg *sg, void *arg), void *arg,
			      struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	int64_t vpc_id = 0;
	if (vpc) {
		struct vpc_row v;
		int ret = valid_vpc_name(vpc, err);
		if (ret || (ret = store_vpc_get(vn->st, vpc, &v, err)))
			return ret;
		vpc_id = v.id;
	}
	struct list_arg la = { fn, arg };
	return store_sg_list(vn->st, vpc_id, list_one, &la, err);
}

VPCNET_API int vpcnet_sg_rules(struct vpcnet *vn, const char *vpc, const char *name,
			       int (*fn)(const char *dir, const char *rule, void *arg), void *arg,
			       struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct sg_row g;
	struct sg_rule *rules = NULL;
	int64_t *ref_of = NULL;
	size_t n = 0;
	int ret = find_sg(vn, vpc, name, &g, err);
	if (!ret)
		ret = store_rules(vn->st, g.id, &rules, &ref_of, &n, err);
	for (size_t i = 0; !ret && i < n; i++) {
		char text[96];
		sg_rule_str(&rules[i], text, sizeof(text));
		ret = fn(sg_dir_str(rules[i].dir), text, arg);
	}
	free(rules);
	free(ref_of);
	return ret;
}

/* Is row @i of a group's rules (@ref_of) rule @r towards @ref? */
static bool is_rule(const struct sg_rule *rules, const int64_t *ref_of, size_t i,
		    const struct sg_rule *r, int64_t ref)
{
	const struct sg_rule *x = &rules[i];
	return x->dir == r->dir && x->proto == r->proto && x->port_lo == r->port_lo &&
	       x->port_hi == r->port_hi && x->to_group == r->to_group &&
	       (r->to_group ? ref_of[i] == ref : x->net == r->net && x->len == r->len);
}

/* A rule change's elements from both covers whole (the store already changed): every rule
 * of the group is read once, and the cover before is that of those rules but @r (added) or
 * with it (removed).  *@nafter: the size of the cover after. */
static int change_whole(struct vpcnet *vn, int64_t g, const struct sg_rule *r, int64_t ref,
			bool add, struct box **minus, size_t *nminus, struct box **plus,
			size_t *nplus, size_t *nafter, struct vpcnet_error *err)
{
	struct sg_rule *rules = NULL;
	int64_t *ref_of = NULL;
	struct box *cb = NULL, *ca = NULL;
	size_t n, ncb;
	int ret = store_rules(vn->st, g, &rules, &ref_of, &n, err);
	if (ret)
		goto out;
	if ((ret = sg_cover(rules, ref_of, n, r->dir, ref, &ca, nafter)))
		goto fail;
	if (add) {  /* the rules before: without @r */
		for (size_t i = 0; i < n; i++)
			if (is_rule(rules, ref_of, i, r, ref)) {
				rules[i] = rules[n - 1];
				ref_of[i] = ref_of[n - 1];
				n--;
				break;
			}
	} else {  /* with @r */
		struct sg_rule *nr = realloc(rules, (n + 1) * sizeof(*nr));
		int64_t *no = nr ? realloc(ref_of, (n + 1) * sizeof(*no)) : NULL;
		if (nr)
			rules = nr;
		if (!no) {
			ret = -ENOMEM;
			goto fail;
		}
		ref_of = no;
		rules[n] = *r;
		ref_of[n++] = ref;
	}
	if ((ret = sg_cover(rules, ref_of, n, r->dir, ref, &cb, &ncb)) ||
	    (ret = boxes_minus(ca, *nafter, cb, ncb, 0, plus, nplus)) ||
	    (ret = boxes_minus(cb, ncb, ca, *nafter, 0, minus, nminus)))
		goto fail;
	goto out;
fail:
	ret = verr(err, VPCNET_FAILED, -ret, "compile group");
out:
	free(rules);
	free(ref_of);
	free(cb);
	free(ca);
	return ret;
}

struct near {
	struct store *st;
	int64_t g;
	int dir;
	struct vpcnet_error *err;
	bool failed;  /* the store, not the compiler: *err says why */
};

static int fetch_near(void *arg, uint8_t proto, uint32_t lo, uint32_t hi, struct sg_rule **rules,
		      size_t *n)
{
	struct near *a = arg;
	int ret = store_rules_near(a->st, a->g, a->dir, proto, lo, hi, rules, n, a->err);
	a->failed = ret != 0;
	return ret;
}

/* Adds (@add) or removes one rule: the store changes, and the difference between the group's
 * cover before and after is the batch.  A CIDR rule of one protocol, in a group whose cover
 * size is recorded and that has no rule for all protocols, changes only the cover's boxes
 * near its addresses: those are computed from the rules near it (sg_cover_change), so that
 * the change costs the same with 10 rules or 10,000.  Anything else compiles both covers
 * whole. */
static int rule_change(struct vpcnet *vn, const char *vpc, const char *name, const char *dir,
		       const char *proto_ports, const char *target, bool add,
		       struct vpcnet_error *err)
{
	struct sg_row g, to = { 0 };
	struct sg_rule rule = { 0 };
	int ret;
	if ((ret = sg_parse_dir(dir, &rule.dir, err)) ||
	    (ret = sg_parse_rule(proto_ports, target, &rule, err)) ||
	    (ret = find_sg(vn, vpc, name, &g, err)))
		return ret;
	if (rule.to_group && (ret = store_sg_get(vn->st, g.vpc_id, rule.group, &to, err)))
		return ret == -ENOENT ? vinput(err, VPCNET_NOT_FOUND, ENOENT,
					       "target sg:%s: no such group in VPC %s", rule.group,
					       g.vpc)
				      : ret;
	struct router r;
	if ((ret = router_open(&r, g.vpc, err)))
		return ret;
	struct box *plus = NULL, *minus = NULL;
	size_t nplus = 0, nminus = 0;
	struct nft_batch *b = NULL;
	int64_t ref = rule.to_group ? to.id : 0, elems = -1;
	bool mixed = true;
	if ((ret = store_begin(vn->st, err)))
		goto out;
	ret = add ? store_rule_insert(vn->st, g.id, &rule, ref, err)
		  : store_rule_delete(vn->st, g.id, &rule, ref, err);
	if (ret || (!ref && (ret = store_cover_get(vn->st, g.id, rule.dir, &elems, err))) ||
	    (!ref && rule.proto && elems >= 0 &&
	     (ret = store_rules_mixed(vn->st, g.id, rule.dir, rule.proto, &mixed, err))))
		goto fail;
	ret = -EAGAIN;
	if (!mixed && elems >= 0) {
		struct near nr = { vn->st, g.id, rule.dir, err, false };
		ret = sg_cover_change(&rule, add, fetch_near, &nr, &minus, &nminus, &plus, &nplus);
		if (ret && ret != -EAGAIN) {
			if (!nr.failed)
				verr(err, VPCNET_FAILED, -ret, "compile group");
			goto fail;
		}
		elems += (int64_t)nplus - (int64_t)nminus;
	}
	if (ret == -EAGAIN) {
		size_t nafter;
		if ((ret = change_whole(vn, g.id, &rule, ref, add, &minus, &nminus, &plus, &nplus,
					&nafter, err)))
			goto fail;
		elems = nafter;
	}
	if (elems > SG_MAX_ELEMS) {
		ret = vinput(err, VPCNET_BAD_INPUT, E2BIG,
			     "group '%s': its %s rules would compile to %lld elements, at most %d;"
			     " merge overlapping port ranges or addresses", g.name,
			     sg_dir_str(rule.dir), (long long)elems, SG_MAX_ELEMS);
		goto fail;
	}
	if (!ref && (ret = store_cover_set(vn->st, g.id, rule.dir, elems, err)))
		goto fail;
	bool new_ref = false;
	if (ref && add && (ret = store_ref_add(vn->st, g.id, rule.dir, ref, &new_ref, err)))
		goto fail;
	if (!(b = nftb_new())) {
		ret = verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
		goto fail;
	}
	if (new_ref)
		sg_ref_build(b, g.id, rule.dir, ref);
	sg_cover_elems(b, NFT_MSG_DELSETELEM, g.id, rule.dir, ref, minus, nminus);
	sg_cover_elems(b, NFT_MSG_NEWSETELEM, g.id, rule.dir, ref, plus, nplus);
	ret = sg_apply(vn, g.vpc_id, &r.conn, b, nplus + nminus, NULL, NULL, err);
	goto out;
fail:
	store_rollback(vn->st);
out:
	nftb_free(b);
	free(plus);
	free(minus);
	router_close(vn, &r);
	return ret;
}

VPCNET_API int vpcnet_sg_rule_add(struct vpcnet *vn, const char *vpc, const char *name,
				  const char *dir, const char *proto_ports, const char *target,
				  struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return rule_change(vn, vpc, name, dir, proto_ports, target, true, err);
}

VPCNET_API int vpcnet_sg_rule_del(struct vpcnet *vn, const char *vpc, const char *name,
				  const char *dir, const char *proto_ports, const char *target,
				  struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	return rule_change(vn, vpc, name, dir, proto_ports, target, false, err);
}

VPCNET_API void vpcnet_last_batch(const struct vpcnet *vn, unsigned *messages,
				  unsigned *elements)
{
	if (messages)
		*messages = vn->last_msgs;
	if (elements)
		*elements = vn->last_elems;
}
