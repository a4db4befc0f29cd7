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
#include "base/names.h"
#include "lib/groups.h"
#include "lib/internal.h"
#include "lib/member.h"
#include "lib/router.h"
#include "nat/tables.h"
#include "netns/link.h"
#include "netns/netns.h"
#include "secgroups/compile.h"

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

/* At most this many elements in one of a group's sets: the cover of n overlapping rules
 * can grow as n squared, and a change must stay one bounded batch. */
#define SG_MAX_ELEMS 65536

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
