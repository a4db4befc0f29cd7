/* SPDX-License-Identifier: MIT */
/* Security groups, pure parts: the rule parser and the disjoint cover of a group's rules. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "secgroups/boxes.h"
#include "secgroups/compile.h"
#include "secgroups/rule.h"

Test(sgrule, parses_what_the_docs_show)
{
	struct sg_rule r;
	struct vpcnet_error e;
	char s[64];
	cr_assert_eq(sg_parse_rule("tcp:5432", "sg:db", &r, &e), 0, "%s", e.msg);
	cr_assert(r.to_group && r.proto == IPPROTO_TCP && r.port_lo == 5432 && r.port_hi == 5432);
	cr_assert_str_eq(r.group, "db");
	cr_assert_eq(sg_parse_rule("udp:1000-2000", "198.51.100.0/24", &r, &e), 0);
	sg_rule_str(&r, s, sizeof(s));
	cr_assert_str_eq(s, "udp:1000-2000 198.51.100.0/24");
	cr_assert_eq(sg_parse_rule("all", "0.0.0.0/0", &r, &e), 0);
	cr_assert(r.proto == 0 && r.len == 0);
	cr_assert_eq(sg_parse_rule("icmp", "192.0.2.7", &r, &e), 0);
	cr_assert_eq(r.len, 32);
	sg_rule_str(&r, s, sizeof(s));
	cr_assert_str_eq(s, "icmp 192.0.2.7/32");
}

Test(sgrule, refuses_bad_rules_naming_the_bad_part)
{
	struct { const char *pp, *target, *says; } bad[] = {
		{ "sctp", "0.0.0.0/0", "sctp" },        { "icmp:80", "0.0.0.0/0", "tcp and udp" },
		{ "all:1-2", "0.0.0.0/0", "tcp and udp" }, { "tcp:0", "0.0.0.0/0", "0" },
		{ "tcp:65536", "0.0.0.0/0", "65536" },  { "tcp:90-80", "0.0.0.0/0", "reversed" },
		{ "tcp:x", "0.0.0.0/0", "'x'" },        { "tcp:80", "10.0.0.0/33", "10.0.0.0/33" },
		{ "tcp:80", "10.0.0.1/8", "host bits" }, { "tcp:80", "sg:", "group name" },
		{ "tcp:80", "banana", "banana" },       { "tcp:80", "", "target" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct sg_rule r;
		struct vpcnet_error e;
		cr_assert_neq(sg_parse_rule(bad[i].pp, bad[i].target, &r, &e), 0, "%s %s", bad[i].pp,
			      bad[i].target);
		cr_assert_eq(e.status, VPCNET_BAD_INPUT);
		cr_assert(strstr(e.msg, bad[i].says), "'%s %s': %s", bad[i].pp, bad[i].target, e.msg);
	}
}

static struct box b3(uint32_t p0, uint32_t p1, uint32_t q0, uint32_t q1, uint32_t a0, uint32_t a1)
{
	return (struct box){ .lo = { p0, q0, a0 }, .hi = { p1, q1, a1 } };
}

/* Point membership by brute force: a cover must contain exactly the union's points, once. */
static int covers(const struct box *v, size_t n, uint32_t p, uint32_t q, uint32_t a)
{
	int hits = 0;
	for (size_t i = 0; i < n; i++)
		hits += v[i].lo[0] <= p && p <= v[i].hi[0] && v[i].lo[1] <= q && q <= v[i].hi[1] &&
			v[i].lo[2] <= a && a <= v[i].hi[2];
	return hits;
}

Test(boxes, overlapping_rules_become_a_disjoint_cover)
{
	struct box in[] = {
		b3(6, 6, 80, 90, 0x0a000000, 0x0affffff),        /* tcp:80-90 10/8 */
		b3(6, 6, 85, 85, 0x0a010000, 0x0a01ffff),        /* nested */
		b3(6, 6, 85, 100, 0x0a000000, 0x0affffff),       /* overlapping */
		b3(0, 255, 0, 65535, 0xc0000207, 0xc0000207),     /* all to 192.0.2.7 */
		b3(17, 17, 53, 53, 0, 0xffffffff),                /* udp:53 anywhere */
	};
	size_t n = sizeof(in) / sizeof(*in);
	struct box *out;
	size_t nout;
	cr_assert_eq(boxes_union(in, n, 3, &out, &nout), 0);
	uint32_t ps[] = { 0, 1, 6, 17, 255 }, qs[] = { 0, 53, 79, 80, 85, 90, 95, 100, 101, 65535 };
	uint32_t as[] = { 0, 0x09ffffff, 0x0a000000, 0x0a010005, 0x0affffff, 0x0b000000,
			  0xc0000207, 0xffffffff };
	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < 10; j++)
			for (size_t k = 0; k < 8; k++) {
				int want = covers(in, n, ps[i], qs[j], as[k]) > 0;
				int got = covers(out, nout, ps[i], qs[j], as[k]);
				cr_assert_eq(got, want, "point (%u,%u,%08x): %d boxes, want %d", ps[i],
					     qs[j], as[k], got, want);
			}
	/* tcp 80-100 over 10/8 is one box, not three */
	cr_assert_eq(covers(out, nout, 6, 80, 0x0a000000), 1);
	size_t tcp10 = 0;
	for (size_t i = 0; i < nout; i++)
		tcp10 += out[i].lo[0] == 6 && out[i].lo[2] == 0x0a000000;
	cr_assert_eq(tcp10, 1, "adjacent equal segments merge");
	free(out);
}

Test(boxes, a_new_rule_is_a_small_difference)
{
	enum { N = 2000 };
	struct box *in = calloc(N + 1, sizeof(*in));
	for (uint32_t i = 0; i < N; i++)
		in[i] = b3(6, 6, 1000 + 2 * i, 1000 + 2 * i, 0x0a000000 + (i << 8), 0x0a0000ff + (i << 8));
	struct box *before, *after, *added, *removed;
	size_t nb, na, nadd, nrem;
	cr_assert_eq(boxes_union(in, N, 3, &before, &nb), 0);
	cr_assert_eq(nb, N);
	in[N] = b3(17, 17, 53, 53, 0, 0xffffffff);
	cr_assert_eq(boxes_union(in, N + 1, 3, &after, &na), 0);
	cr_assert_eq(boxes_minus(after, na, before, nb, 3, &added, &nadd), 0);
	cr_assert_eq(boxes_minus(before, nb, after, na, 3, &removed, &nrem), 0);
	cr_assert_eq(nadd, 1);
	cr_assert_eq(nrem, 0);
	free(in); free(before); free(after); free(added); free(removed);
}

/* Port ranges nest as they please (1000-2000 inside 999-2001 ...): cut by port first, 200
 * such rules to 200 addresses made 40,000 boxes.  Cut by address first they stay 200, and
 * one rule over all of them is one box in, 200 out. */
Test(boxes, nested_port_ranges_stay_linear)
{
	enum { N = 200 };
	struct sg_rule r[N + 1];
	int64_t ref_of[N + 1] = { 0 };
	for (unsigned i = 0; i < N; i++)
		r[i] = (struct sg_rule){ .dir = SG_EGRESS, .proto = IPPROTO_TCP, .port_lo = 1000 + i,
					 .port_hi = 2000 - i, .net = 0x0a000000 + 4 * i, .len = 32 };
	struct box *before, *after, *plus, *minus;
	size_t nb, na, nplus, nminus;
	cr_assert_eq(sg_cover(r, ref_of, N, SG_EGRESS, 0, &before, &nb), 0);
	cr_assert_eq(nb, N, "%zu boxes for %d disjoint rules", nb, N);
	r[N] = (struct sg_rule){ .dir = SG_EGRESS, .proto = IPPROTO_TCP, .port_hi = 65535 };
	cr_assert_eq(sg_cover(r, ref_of, N + 1, SG_EGRESS, 0, &after, &na), 0);
	cr_assert_eq(na, 1, "tcp to 0.0.0.0/0 on every port covers the rest: %zu", na);
	cr_assert_eq(boxes_minus(after, na, before, nb, 0, &plus, &nplus), 0);
	cr_assert_eq(boxes_minus(before, nb, after, na, 0, &minus, &nminus), 0);
	cr_assert_eq(nplus, 1);
	cr_assert_eq(nminus, N);
	free(before); free(after); free(plus); free(minus);
}

static bool in_box(const struct box *b, unsigned dims, const uint32_t *p)
{
	for (unsigned k = 0; k < dims; k++)
		if (p[k] < b->lo[k] || p[k] > b->hi[k])
			return false;
	return true;
}

/* Against brute force, on random boxes with edges at the awkward values (0, 2^32-1, ...):
 * every probed point is covered exactly once when some input covers it, never otherwise;
 * and the cover depends on the union only (not on the order of the rules). */
Test(boxes, random_unions_match_brute_force)
{
	static const uint32_t vals[] = { 0, 1, 2, 3, 5, 6, 7, 0x7fffffff, 0x80000000,
					 0xfffffffe, 0xffffffff };
	enum { NV = sizeof(vals) / sizeof(*vals) };
	unsigned seed = 1;
	for (int it = 0; it < 20000; it++) {
		unsigned dims = 1 + rand_r(&seed) % 3, n = rand_r(&seed) % 7;
		struct box in[8], rev[8];
		for (unsigned i = 0; i < n; i++) {
			memset(&in[i], 0, sizeof(in[i]));
			for (unsigned k = 0; k < dims; k++) {
				uint32_t a = vals[rand_r(&seed) % NV], b = vals[rand_r(&seed) % NV];
				in[i].lo[k] = a < b ? a : b;
				in[i].hi[k] = a < b ? b : a;
			}
			rev[n - 1 - i] = in[i];
		}
		struct box *o, *o2, *d1, *d2;
		size_t no, no2, nd1, nd2;
		cr_assert_eq(boxes_union(in, n, dims, &o, &no), 0);
		for (int t = 0; t < 100; t++) {
			uint32_t p[3];
			for (unsigned k = 0; k < dims; k++)
				p[k] = vals[rand_r(&seed) % NV] + (uint32_t)(rand_r(&seed) % 3) - 1;
			bool want = false;
			unsigned got = 0;
			for (unsigned i = 0; i < n; i++)
				want |= in_box(&in[i], dims, p);
			for (size_t i = 0; i < no; i++)
				got += in_box(&o[i], dims, p);
			cr_assert_eq(got, want, "iteration %d: covered %u times, want %d", it, got, want);
		}
		cr_assert_eq(boxes_union(rev, n, dims, &o2, &no2), 0);
		cr_assert_eq(boxes_minus(o, no, o2, no2, dims, &d1, &nd1), 0);
		cr_assert_eq(boxes_minus(o2, no2, o, no, dims, &d2, &nd2), 0);
		cr_assert(no == no2 && nd1 == 0 && nd2 == 0, "iteration %d: order matters", it);
		free(o); free(o2); free(d1); free(d2);
	}
}

struct rule_set {
	struct sg_rule r[512];
	size_t n;
};

static void prefix_range(const struct sg_rule *r, uint32_t *lo, uint32_t *hi)
{
	uint32_t mask = r->len ? ~0u << (32 - r->len) : 0;
	*lo = r->net;
	*hi = r->net | ~mask;
}

/* What the store would answer: every rule of @proto whose prefix meets [lo, hi]. */
static int fetch_from(void *arg, uint8_t proto, uint32_t lo, uint32_t hi, struct sg_rule **out,
		      size_t *n)
{
	const struct rule_set *s = arg;
	*out = malloc(sizeof(s->r));
	*n = 0;
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		uint32_t a, z;
		prefix_range(&s->r[i], &a, &z);
		if (s->r[i].proto == proto && a <= hi && z >= lo)
			(*out)[(*n)++] = s->r[i];
	}
	return 0;
}

static int box_order(const void *pa, const void *pb)
{
	return memcmp(pa, pb, sizeof(struct box));
}

static void assert_same_boxes(struct box *a, size_t na, struct box *b, size_t nb, int it,
			      const char *what)
{
	cr_assert_eq(na, nb, "iteration %d: %s: %zu boxes near the rule, %zu from the whole covers",
		     it, what, na, nb);
	if (!na)
		return;
	qsort(a, na, sizeof(*a), box_order);
	qsort(b, nb, sizeof(*b), box_order);
	cr_assert( !memcmp(a, b, na * sizeof(*a)), "iteration %d: %s differ", it, what);
}

/* A rule change computed from the rules near it is exactly the difference of the two whole
 * covers: random rules of tcp and udp over a few thousand addresses (at 0, in the middle and
 * at the top of the address space), ports from a small palette so that neighbouring addresses
 * often share their ports (long runs, which widen the window), added and removed at random. */
Test(boxes, a_change_read_near_the_rule_is_the_whole_difference)
{
	static const uint32_t bases[] = { 0, 0x0a000000, 0xfffff000 };
	static const uint16_t ports[][2] = { { 80, 80 }, { 443, 443 }, { 80, 443 }, { 0, 65535 },
					     { 1000, 2000 }, { 22, 22 } };
	static struct rule_set s;
	unsigned seed = 7, near = 0, whole = 0;
	int64_t ref_of[512] = { 0 };
	for (int it = 0; it < 6000; it++) {
		if (it % 1500 == 0)
			s.n = 0;
		uint32_t base = bases[(it / 1500) % 3];
		bool add = s.n == 0 || (s.n < 400 && rand_r(&seed) % 10 < 7);
		struct sg_rule r;
		size_t at = 0;
		if (add) {
			unsigned k = rand_r(&seed) % 20;
			unsigned len = k < 14 ? 32 : k < 18 ? 28 + rand_r(&seed) % 4 :
				       k < 19 || rand_r(&seed) % 8 ? 20 + rand_r(&seed) % 8 :
				       rand_r(&seed) % 9;  /* now and then a broad one: /0 to /8 */
			uint32_t off = rand_r(&seed) % (k < 10 ? 64 : 4096);
			uint32_t mask = len ? ~0u << (32 - len) : 0;
			const uint16_t *p = ports[rand_r(&seed) % 6];
			r = (struct sg_rule){ .dir = SG_EGRESS,
					      .proto = rand_r(&seed) % 4 ? IPPROTO_TCP : IPPROTO_UDP,
					      .port_lo = p[0], .port_hi = p[1],
					      .net = (base + off) & mask, .len = len };
			bool dup = false;
			for (size_t i = 0; i < s.n && !dup; i++)
				dup = s.r[i].proto == r.proto && s.r[i].port_lo == r.port_lo &&
				      s.r[i].port_hi == r.port_hi && s.r[i].net == r.net &&
				      s.r[i].len == r.len;
			if (dup)
				continue;
		} else {
			at = rand_r(&seed) % s.n;
			r = s.r[at];
		}
		struct box *before, *after, *plus, *minus, *nplus_b, *nminus_b;
		size_t nb, na, np, nm, nnp, nnm;
		cr_assert_eq(sg_cover(s.r, ref_of, s.n, SG_EGRESS, 0, &before, &nb), 0);
		if (add)
			s.r[s.n++] = r;
		else
			s.r[at] = s.r[--s.n];
		cr_assert_eq(sg_cover(s.r, ref_of, s.n, SG_EGRESS, 0, &after, &na), 0);
		cr_assert_eq(boxes_minus(after, na, before, nb, 3, &plus, &np), 0);
		cr_assert_eq(boxes_minus(before, nb, after, na, 3, &minus, &nm), 0);
		int ret = sg_cover_change(&r, add, fetch_from, &s, &nminus_b, &nnm, &nplus_b, &nnp);
		cr_assert(ret == 0 || ret == -EAGAIN, "iteration %d: %d", it, ret);
		if (ret == 0) {
			near++;
			assert_same_boxes(nplus_b, nnp, plus, np, it, "boxes added");
			assert_same_boxes(nminus_b, nnm, minus, nm, it, "boxes removed");
		} else {
			whole++;
		}
		free(before); free(after); free(plus); free(minus); free(nplus_b); free(nminus_b);
	}
	cr_log_info("near %u, whole %u", near, whole);
	cr_assert_gt(near, 20 * whole, "near %u, whole %u: the window should rarely run out", near,
		     whole);
	struct sg_rule all = { .dir = SG_EGRESS, .port_hi = 65535 };
	struct box *m, *p;
	size_t nm, np;
	cr_assert_eq(sg_cover_change(&all, true, fetch_from, &s, &m, &nm, &p, &np), -EINVAL,
		     "a rule for all protocols is the caller's to compute whole");
}

struct counted {
	struct rule_set *s;
	unsigned calls;
};

static int fetch_counted(void *arg, uint8_t proto, uint32_t lo, uint32_t hi, struct sg_rule **out,
			 size_t *n)
{
	struct counted *c = arg;
	c->calls++;
	return fetch_from(c->s, proto, lo, hi, out, n);
}

/* A broad rule under a narrow one carries the address runs to its own edges: the window
 * jumps there at once instead of growing 8-fold until it gives up. */
Test(boxes, a_broad_rule_widens_the_window_to_its_edges_at_once)
{
	static struct rule_set s;
	s.n = 0;
	s.r[s.n++] = (struct sg_rule){ .dir = SG_EGRESS, .proto = IPPROTO_TCP, .port_lo = 443,
				       .port_hi = 443 };  /* 0.0.0.0/0 */
	s.r[s.n++] = (struct sg_rule){ .dir = SG_EGRESS, .proto = IPPROTO_TCP, .port_lo = 22,
				       .port_hi = 22, .net = 0x0a010203, .len = 32 };
	struct counted c = { &s, 0 };
	struct box *m, *p;
	size_t nm, np;
	cr_assert_eq(sg_cover_change(&s.r[1], true, fetch_counted, &c, &m, &nm, &p, &np), 0);
	cr_assert_leq(c.calls, 2, "%u reads of the rules", c.calls);
	/* 0.0.0.0-10.1.2.2 and 10.1.2.4-255.255.255.255 on 443, 10.1.2.3 on 22 and 443 */
	cr_assert_eq(nm, 1, "the one box of 0.0.0.0/0 goes");
	cr_assert_eq(np, 4, "%zu boxes come", np);
	free(m);
	free(p);
}
