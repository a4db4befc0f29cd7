/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/tables.h"
#include "nft/nft.h"
#include "secgroups/compile.h"

#define T ROUTER_TABLE

static void name_of(char *buf, size_t n, const char *kind, int64_t g, enum sg_dir dir, int64_t r)
{
	const char *d = dir == SG_EGRESS ? "e" : "i";
	if (!strcmp(kind, "sgm"))
		snprintf(buf, n, "sgm%lld", (long long)g);
	else if (!strcmp(kind, "sgx"))
		snprintf(buf, n, "sg%lld_%sx", (long long)g, d);
	else if (r > 0)
		snprintf(buf, n, "sg%lld_%s_%lld", (long long)g, d, (long long)r);
	else
		snprintf(buf, n, "sg%lld_%s", (long long)g, d);
}

/* Rule @r as a box.  Dimensions in sweep order: protocol, then address, then port.
 * Prefixes nest at most 33 deep, so cutting by address first keeps the cover within ~66
 * boxes per rule; port ranges nest arbitrarily, and cutting by them first grew it as rules
 * squared. */
static struct box rule_box(const struct sg_rule *r)
{
	struct box b = { 0 };
	unsigned port_dim = r->to_group ? 1 : 2;
	b.lo[0] = r->proto;
	b.hi[0] = r->proto ? r->proto : 255;
	b.lo[port_dim] = r->port_lo;
	b.hi[port_dim] = r->port_hi;
	if (!r->to_group) {
		uint32_t mask = r->len ? ~0u << (32 - r->len) : 0;
		b.lo[1] = r->net & mask;
		b.hi[1] = r->net | ~mask;
	}
	return b;
}

int sg_cover(const struct sg_rule *rules, const int64_t *ref_of, size_t n, enum sg_dir dir,
	     int64_t ref, struct box **out, size_t *nout)
{
	struct box *in = malloc((n + 1) * sizeof(*in));
	if (!in)
		return -ENOMEM;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const struct sg_rule *r = &rules[i];
		if (r->dir != dir || (ref > 0 ? (!r->to_group || ref_of[i] != ref) : r->to_group))
			continue;
		in[m++] = rule_box(r);
	}
	int ret = boxes_union(in, m, ref > 0 ? 2 : 3, out, nout);
	free(in);
	return ret;
}

static bool same_rule(const struct sg_rule *a, const struct sg_rule *b)
{
	return a->proto == b->proto && a->port_lo == b->port_lo && a->port_hi == b->port_hi &&
	       a->net == b->net && a->len == b->len;
}

/* The cover of @rules (one protocol, all intersecting [lo, hi]) cut to addresses [lo, hi],
 * with @r added (@with) or left out. */
static int cover_cut(const struct sg_rule *rules, size_t n, const struct sg_rule *r, bool with,
		     uint32_t lo, uint32_t hi, struct box **out, size_t *nout)
{
	struct box *in = malloc((n + 1) * sizeof(*in));
	if (!in)
		return -ENOMEM;
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!same_rule(&rules[i], r))
			in[m++] = rule_box(&rules[i]);
	if (with)
		in[m++] = rule_box(r);
	for (size_t i = 0; i < m; i++) {
		in[i].lo[1] = in[i].lo[1] > lo ? in[i].lo[1] : lo;
		in[i].hi[1] = in[i].hi[1] < hi ? in[i].hi[1] : hi;
	}
	int ret = boxes_union(in, m, 3, out, nout);
	free(in);
	return ret;
}

/* The boxes of a cover whose addresses hold @x; *@lo, *@hi their address range. */
static bool run_at(const struct box *c, size_t n, uint32_t x, uint32_t *lo, uint32_t *hi)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].lo[1] <= x && x <= c[i].hi[1]) {
			*lo = c[i].lo[1];
			*hi = c[i].hi[1];
			return true;
		}
	return false;
}

/* Keeps the boxes of @c within addresses [lo, hi]. */
static void keep_within(struct box *c, size_t *n, uint32_t lo, uint32_t hi)
{
	size_t m = 0;
	for (size_t i = 0; i < *n; i++)
		if (c[i].lo[1] >= lo && c[i].hi[1] <= hi)
			c[m++] = c[i];
	*n = m;
}

/* Why a window suffices.  With no rule for all protocols and none for a neighbouring
 * protocol, protocol p is a run of its own in the cover's first dimension (or absent), and
 * its boxes are its address runs: maximal ranges of addresses with the same set of ports,
 * each cut into port intervals.  A change to a rule over addresses A = [a, b] changes the
 * port sets inside A only; so the runs that hold a - 1 and b + 1 (if any) keep their outer
 * edges, and between those edges, [L, H], the runs are those of the rules cut to [L, H].
 * Finding L and H reads the rules over a window around A, widened while the run found
 * reaches its edge. */
int sg_cover_change(const struct sg_rule *r, bool add, sg_fetch_fn fetch, void *arg,
		    struct box **minus, size_t *nminus, struct box **plus, size_t *nplus)
{
	const struct box rb = rule_box(r);
	const uint32_t a = rb.lo[1], z = rb.hi[1];
	struct sg_rule *rules = NULL;
	struct box *before = NULL, *after = NULL;
	size_t n = 0, nb = 0, na = 0;
	int ret = -EAGAIN;
	*minus = *plus = NULL;
	*nminus = *nplus = 0;
	if (r->to_group || !r->proto)
		return -EINVAL;
	uint64_t reach = SG_WINDOW_FIRST;
	uint32_t lo = a > reach ? a - reach : 0;
	uint32_t hi = (uint64_t)z + reach < UINT32_MAX ? z + reach : UINT32_MAX;
	for (;;) {
		free(rules);
		free(before);
		rules = NULL;
		before = NULL;
		if ((ret = fetch(arg, r->proto, lo, hi, &rules, &n)) ||
		    (ret = cover_cut(rules, n, r, !add, lo, hi, &before, &nb)))
			goto out;
		uint32_t L = a, H = z, rlo, rhi;
		if (a > 0 && run_at(before, nb, a - 1, &rlo, &rhi))
			L = rlo;
		if (z < UINT32_MAX && run_at(before, nb, z + 1, &rlo, &rhi))
			H = rhi;
		if ((L == lo && lo > 0) || (H == hi && hi < UINT32_MAX)) {
			/* A run may go on past the window: widen it 8-fold, and at once to one
			 * address past the rules read (a broad rule under a few narrow ones
			 * carries runs to its own edges: 0.0.0.0/0 reads the protocol's rules
			 * whole, 10.0.0.0/8 those in it and next to it). */
			ret = -EAGAIN;
			if ((reach *= 8) > SG_WINDOW_LAST)
				goto out;
			lo = a > reach ? a - reach : 0;
			hi = (uint64_t)z + reach < UINT32_MAX ? z + reach : UINT32_MAX;
			for (size_t i = 0; i < n; i++) {
				struct box b = rule_box(&rules[i]);
				if (b.lo[1] <= lo)
					lo = b.lo[1] ? b.lo[1] - 1 : 0;
				if (b.hi[1] >= hi)
					hi = b.hi[1] < UINT32_MAX ? b.hi[1] + 1 : UINT32_MAX;
			}
			continue;
		}
		if ((ret = cover_cut(rules, n, r, add, lo, hi, &after, &na)))
			goto out;
		keep_within(before, &nb, L, H);
		keep_within(after, &na, L, H);
		if (!(ret = boxes_minus(before, nb, after, na, 3, minus, nminus)))
			ret = boxes_minus(after, na, before, nb, 3, plus, nplus);
		break;
	}
out:
	free(rules);
	free(before);
	free(after);
	if (ret) {
		free(*minus);
		free(*plus);
		*minus = *plus = NULL;
		*nminus = *nplus = 0;
	}
	return ret;
}

static void add_set(struct nft_batch *b, struct nftnl_set *s)
{
	if (!s)
		return;
	nftb_set(b, NFT_MSG_NEWSET, 0, s);
	nftnl_set_free(s);
}

static struct nftnl_set *cidr_set(const char *name, uint32_t id)
{
	static const uint8_t fields[] = { 1, 4, 2 };
	struct nftnl_set *s = nft_set_new(NFPROTO_INET, T, name,
					  NFT_CONCAT3(NFT_TYPE_INET_PROTOCOL, NFT_TYPE_IPADDR,
						      NFT_TYPE_INET_SERVICE), 12, 0, id);
	if (s)
		nft_set_concat_interval(s, fields, 3);
	return s;
}

/* The cover's boxes that are one protocol, one address and one port: a hash set, whose
 * lookup does not grow with the rules (an interval set's does) */
static struct nftnl_set *exact_set(const char *name, uint32_t id)
{
	return nft_set_new(NFPROTO_INET, T, name,
			   NFT_CONCAT3(NFT_TYPE_INET_PROTOCOL, NFT_TYPE_IPADDR,
				       NFT_TYPE_INET_SERVICE), 12, 0, id);
}

static struct nftnl_set *ref_set(const char *name, uint32_t id)
{
	static const uint8_t fields[] = { 1, 2 };
	struct nftnl_set *s = nft_set_new(NFPROTO_INET, T, name,
					  NFT_CONCAT2(NFT_TYPE_INET_PROTOCOL, NFT_TYPE_INET_SERVICE),
					  8, 0, id);
	if (s)
		nft_set_concat_interval(s, fields, 2);
	return s;
}

/* meta l4proto (as nft loads it for a concatenation) into NFT_REG_1 */
static void load_l4proto(struct nftnl_rule *r)
{
	x_meta(r, NFT_META_L4PROTO, NFT_REG_1);
	x_byteorder_hton(r, NFT_REG_1, 2, 1);
}

static void group_chain_rule(struct nft_batch *b, const char *chain, enum sg_dir dir,
			     const char *set, const char *members)
{
	struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, T, chain);
	if (!r)
		return;
	uint32_t addr_off = dir == SG_EGRESS ? 16 : 12;  /* ip daddr / ip saddr */
	m_nfproto(r, NFT_CMP_EQ, NFPROTO_IPV4);
	if (members) {
		/* meta oifgroup @sgm<r> meta l4proto . th dport @sg<g>_e_<r> accept (ingress:
		 * iifgroup): the other end's port, whose device group is its profile, reached by
		 * its /32 route (and its address pinned to that port) */
		x_meta(r, dir == SG_EGRESS ? NFT_META_OIFGROUP : NFT_META_IIFGROUP, NFT_REG_1);
		x_lookup(r, NFT_REG_1, members, 0, false);
		load_l4proto(r);
		x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_01);
	} else {
		/* meta l4proto . ip daddr . th dport @sg<g>_e accept */
		load_l4proto(r);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, addr_off, 4, NFT_REG32_01);
		x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_02);
	}
	x_lookup(r, NFT_REG_1, set, 0, false);
	x_verdict(r, NF_ACCEPT, NULL);
	nftb_rule(b, NFT_MSG_NEWRULE, 0, r);
	nftnl_rule_free(r);
}

static void flush_chain(struct nft_batch *b, const char *chain)
{
	struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, T, chain);
	if (r) {
		nftb_rule(b, NFT_MSG_DELRULE, 0, r);
		nftnl_rule_free(r);
	}
}

void sg_group_build(struct nft_batch *b, int64_t g)
{
	char name[64];
	name_of(name, sizeof(name), "sgm", g, 0, 0);
	add_set(b, nft_set_new(NFPROTO_INET, T, name, NFT_TYPE_DEVGROUP, 4, 0, 1));
	nftb_flush_set(b, NFPROTO_INET, T, name);
	for (int d = SG_EGRESS; d <= SG_INGRESS; d++) {
		char exact[64];
		name_of(name, sizeof(name), "sg", g, d, 0);
		name_of(exact, sizeof(exact), "sgx", g, d, 0);
		add_set(b, cidr_set(name, 2 + d));
		nftb_flush_set(b, NFPROTO_INET, T, name);
		add_set(b, exact_set(exact, 4 + d));
		nftb_flush_set(b, NFPROTO_INET, T, exact);
		struct nftnl_chain *c = nft_chain_new(NFPROTO_INET, T, name);
		if (c) {
			nftb_chain(b, NFT_MSG_NEWCHAIN, 0, c);
			nftnl_chain_free(c);
		}
		flush_chain(b, name);
		group_chain_rule(b, name, d, exact, NULL);
		group_chain_rule(b, name, d, name, NULL);
	}
}

void sg_ref_build(struct nft_batch *b, int64_t g, enum sg_dir dir, int64_t r)
{
	char set[64], chain[64], members[64];
	name_of(set, sizeof(set), "sg", g, dir, r);
	name_of(chain, sizeof(chain), "sg", g, dir, 0);
	name_of(members, sizeof(members), "sgm", r, 0, 0);
	add_set(b, ref_set(set, 1));
	nftb_flush_set(b, NFPROTO_INET, T, set);
	group_chain_rule(b, chain, dir, set, members);
}

void sg_maps_flush(struct nft_batch *b)
{
	char map[16];
	for (int d = SG_EGRESS; d <= SG_INGRESS; d++)
		for (unsigned i = 1; i <= SG_PER_MEMBER; i++) {
			snprintf(map, sizeof(map), "%s%u", d == SG_EGRESS ? "out" : "in", i);
			nftb_flush_set(b, NFPROTO_INET, T, map);
		}
}

void sg_chain_rebuild(struct nft_batch *b, int64_t g, enum sg_dir dir, const int64_t *refs,
		      size_t n)
{
	char chain[64], set[64], members[64], exact[64];
	name_of(chain, sizeof(chain), "sg", g, dir, 0);
	name_of(exact, sizeof(exact), "sgx", g, dir, 0);
	flush_chain(b, chain);
	group_chain_rule(b, chain, dir, exact, NULL);
	group_chain_rule(b, chain, dir, chain, NULL);
	for (size_t i = 0; i < n; i++) {
		name_of(set, sizeof(set), "sg", g, dir, refs[i]);
		name_of(members, sizeof(members), "sgm", refs[i], 0, 0);
		group_chain_rule(b, chain, dir, set, members);
	}
}

static void del_set(struct nft_batch *b, const char *name)
{
	struct nftnl_set *s = nft_set_ref(NFPROTO_INET, T, name);
	if (s) {
		nftb_set(b, NFT_MSG_DELSET, 0, s);
		nftnl_set_free(s);
	}
}

void sg_del_set(struct nft_batch *b, int64_t g, enum sg_dir dir, int64_t r)
{
	char name[64];
	name_of(name, sizeof(name), "sg", g, dir, r);
	del_set(b, name);
}

void sg_group_delete(struct nft_batch *b, int64_t g, const int64_t *refs_e, size_t ne,
		     const int64_t *refs_i, size_t ni)
{
	char name[64];
	for (int d = SG_EGRESS; d <= SG_INGRESS; d++) {
		name_of(name, sizeof(name), "sg", g, d, 0);
		flush_chain(b, name);  /* then the chain, then the sets its rules used */
		struct nftnl_chain *c = nft_chain_new(NFPROTO_INET, T, name);
		if (c) {
			nftb_chain(b, NFT_MSG_DELCHAIN, 0, c);
			nftnl_chain_free(c);
		}
		del_set(b, name);
		name_of(name, sizeof(name), "sgx", g, d, 0);
		del_set(b, name);
		const int64_t *refs = d == SG_EGRESS ? refs_e : refs_i;
		for (size_t i = 0; i < (d == SG_EGRESS ? ne : ni); i++) {
			name_of(name, sizeof(name), "sg", g, d, refs[i]);
			del_set(b, name);
		}
	}
	name_of(name, sizeof(name), "sgm", g, 0, 0);
	del_set(b, name);
}

static void put_field(uint8_t *key, size_t off, uint32_t v, unsigned len)
{
	/* fields sit in 4-byte slots; values in network order */
	if (len == 1)
		key[off] = v;
	else if (len == 2) {
		uint16_t be = htons(v);
		memcpy(key + off, &be, 2);
	} else {
		uint32_t be = htonl(v);
		memcpy(key + off, &be, 4);
	}
}

void sg_cover_elems(struct nft_batch *b, uint16_t type, int64_t g, enum sg_dir dir, int64_t ref,
		    const struct box *v, size_t n)
{
	if (n == 0)
		return;
	char name[64], exact[64];
	name_of(name, sizeof(name), "sg", g, dir, ref);
	name_of(exact, sizeof(exact), "sgx", g, dir, 0);
	struct nftnl_set *s = nft_set_ref(NFPROTO_INET, T, name);
	struct nftnl_set *x = ref > 0 ? NULL : nft_set_ref(NFPROTO_INET, T, exact);
	unsigned ns = 0, nx = 0;
	if (!s || (ref <= 0 && !x))
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint8_t lo[12] = { 0 }, hi[12] = { 0 };
		put_field(lo, 0, v[i].lo[0], 1);
		put_field(hi, 0, v[i].hi[0], 1);
		if (ref > 0) {  /* protocol . port */
			put_field(lo, 4, v[i].lo[1], 2);
			put_field(hi, 4, v[i].hi[1], 2);
			nft_set_add_range(s, lo, hi, 8);
			ns++;
			continue;
		}
		/* protocol . address . port: one of each goes to the hash set */
		put_field(lo, 4, v[i].lo[1], 4);
		put_field(hi, 4, v[i].hi[1], 4);
		put_field(lo, 8, v[i].lo[2], 2);
		put_field(hi, 8, v[i].hi[2], 2);
		if (!memcmp(v[i].lo, v[i].hi, sizeof(v[i].lo))) {
			nft_set_add_key(x, lo, 12);
			nx++;
		} else {
			nft_set_add_range(s, lo, hi, 12);
			ns++;
		}
	}
	if (ns)
		nftb_elems(b, type, 0, s);
	if (nx)
		nftb_elems(b, type, 0, x);
out:
	if (s)
		nftnl_set_free(s);
	if (x)
		nftnl_set_free(x);
}

void sg_profile_names(size_t slot, int64_t g, char map[16], char members[64])
{
	snprintf(map, 16, "out%zu", slot + 1);
	name_of(members, 64, "sgm", g, 0, 0);
}

void sg_profile_elems(struct nft_batch *b, uint16_t type, uint32_t profile, const int64_t *in,
		      size_t n, bool ingress)
{
	int64_t groups[SG_PER_MEMBER];  /* a profile's slots are its groups in order */
	n = n < SG_PER_MEMBER ? n : SG_PER_MEMBER;
	memcpy(groups, in, n * sizeof(*in));
	sg_groups_sort(groups, n);
	for (size_t i = 0; i < n; i++) {
		for (int d = SG_EGRESS; d <= (ingress ? SG_INGRESS : SG_EGRESS); d++) {
			char map[16], chain[64];
			snprintf(map, sizeof(map), "%s%zu", d == SG_EGRESS ? "out" : "in", i + 1);
			name_of(chain, sizeof(chain), "sg", groups[i], d, 0);
			struct nftnl_set *s = nft_set_ref(NFPROTO_INET, T, map);
			if (!s)
				continue;
			if (type == NFT_MSG_NEWSETELEM)
				nft_set_add_jump(s, &profile, sizeof(profile), chain);
			else
				nft_set_add_key(s, &profile, sizeof(profile));
			nftb_elems(b, type, 0, s);
			nftnl_set_free(s);
		}
		char members[64];
		name_of(members, sizeof(members), "sgm", groups[i], 0, 0);
		struct nftnl_set *s = nft_set_ref(NFPROTO_INET, T, members);
		if (s) {
			nft_set_add_key(s, &profile, sizeof(profile));
			nftb_elems(b, type, 0, s);
			nftnl_set_free(s);
		}
	}
}

/* One element @key (@len bytes) of set @set deleted. */
static void del_key(struct nft_batch *b, const char *set, const void *key, uint32_t len)
{
	struct nftnl_set *s = nft_set_ref(NFPROTO_INET, T, set);
	if (s) {
		nft_set_add_key(s, key, len);
		nftb_elems(b, NFT_MSG_DELSETELEM, 0, s);
		nftnl_set_free(s);
	}
}

void sg_member_del_v5(struct nft_batch *b, const char *port, uint32_t ip, const int64_t *groups,
		      size_t n, bool instance)
{
	uint8_t key[NFT_IFNAME_LEN] = { 0 };
	strncpy((char *)key, port, NFT_IFNAME_LEN - 1);
	uint32_t be = htonl(ip);
	for (size_t i = 0; i < n && i < SG_PER_MEMBER; i++) {
		char map[16], members[64];
		for (int d = SG_EGRESS; d <= (instance ? SG_INGRESS : SG_EGRESS); d++) {
			snprintf(map, sizeof(map), "%s%zu", d == SG_EGRESS ? "out" : "in", i + 1);
			del_key(b, map, key, sizeof(key));
		}
		name_of(members, sizeof(members), "sgm", groups[i], 0, 0);
		del_key(b, members, &be, sizeof(be));
	}
}
