/* SPDX-License-Identifier: MIT */
/* Security groups on the real kernel: what a sandbox may reach is exactly what its groups
 * allow; instances are reached as their ingress rules allow, sandboxes never. */
#include <netinet/in.h>
#include <stdlib.h>

#include "base/addr.h"
#include "lib/store.h"
#include "secgroups/rule.h"
#include "tests/ns_util.h"
#include "vpcnet.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(sg, .init = setup, .fini = teardown, .timeout = 240);

#define WAIT 1000

static void ok(const char *what, int rc, const char *out)
{
	cr_assert_eq(rc, 0, "%s: %s", what, out);
}

#define V(...) do { \
	char _o[4096]; \
	ok(#__VA_ARGS__, vpcnet(&T, _o, sizeof(_o), NULL, __VA_ARGS__), _o); \
} while (0)

/* The rules of the matrix, and an oracle that says what they allow. */
struct allow {
	int proto;              /* 0: all */
	unsigned lo, hi;        /* ports */
	const char *net;        /* CIDR, or NULL for the db instance (sg:db) */
};

static bool in_cidr(const char *ip, const char *cidr)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%s", cidr);
	char *slash = strchr(buf, '/');
	unsigned len = 32;
	if (slash) {
		*slash = '\0';
		len = atoi(slash + 1);
	}
	uint32_t a, n;
	parse_ipv4(ip, &a);
	parse_ipv4(buf, &n);
	uint32_t mask = len ? ~0u << (32 - len) : 0;
	return (a & mask) == (n & mask);
}

static bool allowed(const struct allow *rules, size_t n, int proto, const char *ip,
		    unsigned port, const char *db_ip)
{
	for (size_t i = 0; i < n; i++) {
		const struct allow *r = &rules[i];
		if (r->proto && r->proto != proto)
			continue;
		if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && (port < r->lo || port > r->hi))
			continue;
		if (r->net ? in_cidr(ip, r->net) : !strcmp(ip, db_ip))
			return true;
	}
	return false;
}

Test(sg, the_matrix_allows_exactly_what_some_rule_of_some_group_allows)
{
	char inet[256], out[4096];
	nspath(T.inet, inet, sizeof(inet));
	cr_assert_eq(run(out, sizeof(out), "ip -n %s addr add 203.0.113.3/24 dev wan0", T.inet), 0);
	const uint16_t tcp_ports[] = { 8080, 8081, 9000, 9001, 9002 };
	const uint16_t udp_ports[] = { 5353, 5354, 5355 };
	struct listener l;
	for (size_t i = 0; i < 5; i++)
		listen_tcp(&T, inet, tcp_ports[i], &l);
	for (size_t i = 0; i < 3; i++)
		listen_udp(&T, inet, udp_ports[i], &l);
	make_vpc(&T, "a", "10.40.0.0/16", true);
	char vpc[64];
	tname(&T, "a", vpc, sizeof(vpc));
	V("sg create web --vpc %s", vpc);
	V("sg create ops --vpc %s", vpc);
	V("sg create app --vpc %s", vpc);
	V("sg create db --vpc %s", vpc);
	V("sg rule add web egress tcp:8080 203.0.113.2");                 /* a /32 */
	V("sg rule add web egress udp:5353-5354 203.0.113.0/24");        /* a range, wider */
	V("sg rule add ops egress tcp:9000-9001 203.0.113.3/32");
	V("sg rule add ops egress icmp 203.0.113.3");
	V("sg rule add ops egress tcp:9000 203.0.113.0/25");             /* overlaps the above */
	V("sg rule add app egress tcp:5432 sg:db");
	V("sg rule add db ingress tcp:5432-5433 sg:app");
	const struct allow rules[] = {
		{ IPPROTO_TCP, 8080, 8080, "203.0.113.2" }, { IPPROTO_UDP, 5353, 5354, "203.0.113.0/24" },
		{ IPPROTO_TCP, 9000, 9001, "203.0.113.3" }, { IPPROTO_ICMP, 0, 65535, "203.0.113.3" },
		{ IPPROTO_TCP, 9000, 9000, "203.0.113.0/25" }, { IPPROTO_TCP, 5432, 5432, NULL },
	};
	struct sbx db;
	make_instance(&T, "a", "db1", "db", &db);
	const char *db_ip = db.ip;
	listen_tcp(&T, db.netns, 5432, &l);
	listen_tcp(&T, db.netns, 5433, &l);
	struct sbx s;
	make_sbx_args(&T, "a", "s1", "--sg web,ops,app", &s);

	const char *targets[] = { "203.0.113.2", "203.0.113.3", db_ip };
	int checked = 0;
	for (size_t t = 0; t < 3; t++) {
		const uint16_t *ports = t == 2 ? (const uint16_t[]){ 5432, 5433 } : tcp_ports;
		size_t np = t == 2 ? 2 : 5;
		for (size_t i = 0; i < np; i++) {
			bool want = allowed(rules, 6, IPPROTO_TCP, targets[t], ports[i], db_ip);
			enum probe_result got = probe_tcp(s.netns, targets[t], ports[i], 3000, NULL, 0);
			cr_assert_eq(got, want ? P_OK : P_REFUSED, "tcp %s:%u: got %d, want %s",
				     targets[t], ports[i], got, want ? "allowed" : "refused");
			checked++;
		}
		if (t == 2)
			continue;
		for (size_t i = 0; i < 3; i++) {
			bool want = allowed(rules, 6, IPPROTO_UDP, targets[t], udp_ports[i], db_ip);
			enum probe_result got = probe_udp(s.netns, targets[t], udp_ports[i],
							  want ? 3000 : WAIT, NULL, 0);
			cr_assert_eq(got == P_OK, want, "udp %s:%u: got %d, want %s", targets[t],
				     udp_ports[i], got, want ? "allowed" : "refused");
			checked++;
		}
		bool want = allowed(rules, 6, IPPROTO_ICMP, targets[t], 0, db_ip);
		cr_assert_eq(probe_icmp(s.netns, targets[t], want ? 3000 : WAIT) == P_OK, want,
			     "icmp %s: want %s", targets[t], want ? "allowed" : "refused");
		checked++;
	}
	cr_assert_eq(checked, 20, "every probe of the matrix ran");

	/* the router's ruleset prints the groups readably and loads back */
	char file[256], rs[65536];
	snprintf(file, sizeof(file), "%s/sg.nft", T.state_dir);
	cr_assert_eq(run(rs, sizeof(rs), "ip netns exec vpcnet-vpc-%s nft list ruleset", vpc), 0);
	cr_assert(strstr(rs, "meta l4proto . ip daddr . th dport @sg"), "%s", rs);
	cr_assert(strstr(rs, "tcp . 203.0.113.3 . 9000-9001") || strstr(rs, "tcp . 203.0.113.3 . 9001"),
		  "the cover prints: %s", rs);
	/* one protocol, one address, one port: a point of the cover, in the group's hash set */
	bool in_hash = false;
	for (const char *p = rs; (p = strstr(p, "_ex {")); p++) {
		const char *end = strstr(p, "}");
		const char *e = strstr(p, "tcp . 203.0.113.2 . 8080");
		in_hash |= e && end && e < end;
	}
	cr_assert(in_hash, "tcp:8080 203.0.113.2 is not in a hash set: %s", rs);
	FILE *f = fopen(file, "w");
	fputs(rs, f);
	fclose(f);
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft -c -f %s", vpc, file), 0,
		     "%s", out);
}

/* A listener on the internet's port 8080, VPC <tag>-a (@cidr) and in it a sandbox whose
 * one group, none, allows nothing. */
static void none_allowed(const char *cidr, struct listener *l, char vpc[64], struct sbx *s)
{
	char inet[256];
	nspath(T.inet, inet, sizeof(inet));
	listen_tcp(&T, inet, 8080, l);
	make_vpc(&T, "a", cidr, true);
	tname(&T, "a", vpc, 64);
	V("sg create none --vpc %s", vpc);
	make_sbx_args(&T, "a", "s1", "--sg none", s);
}

Test(sg, changes_apply_to_the_next_connection)
{
	struct listener l;
	char vpc[64];
	struct sbx s;
	none_allowed("10.41.0.0/16", &l, vpc, &s);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_REFUSED,
		     "a group that allows nothing: not even the first packet");
	cr_assert_neq(probe_icmp(s.netns, INET_ADDR, WAIT), P_OK);
	V("sg rule add none egress tcp:8080 0.0.0.0/0");
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	V("sg rule del none egress tcp:8080 0.0.0.0/0");
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_REFUSED);
	V("sandbox set-sg %s default", s.id);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	V("sandbox set-sg %s none", s.id);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_REFUSED);
	cr_assert_eq(listener_count(&l), 2);

	/* sg: follows membership: an instance leaving db is out of reach at once */
	V("sg create app --vpc %s", vpc);
	V("sg create db --vpc %s", vpc);
	V("sg create other --vpc %s", vpc);
	V("sg rule add app egress tcp:5432 sg:db");
	V("sg rule add db ingress tcp:5432 0.0.0.0/0");
	V("sg rule add other ingress tcp:5432 0.0.0.0/0");
	struct sbx db;
	make_instance(&T, "a", "db1", "db", &db);
	const char *ip = db.ip;
	listen_tcp(&T, db.netns, 5432, &l);
	V("sandbox set-sg %s app", s.id);
	cr_assert_eq(probe_tcp(s.netns, ip, 5432, 3000, NULL, 0), P_OK);
	V("instance set-sg %s-db1 other", T.tag);
	cr_assert_eq(probe_tcp(s.netns, ip, 5432, WAIT, NULL, 0), P_REFUSED,
		     "out of db, out of reach of sg:db");
	V("instance set-sg %s-db1 db", T.tag);
	cr_assert_eq(probe_tcp(s.netns, ip, 5432, 3000, NULL, 0), P_OK);
}

static int line_order(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every element of the groups' CIDR sets (sgN_e, _ex, _i, _ix) in VPC @vpc's router as
 * "SET ELEMENT" lines without blanks, sorted. */
static void cover_dump(const char *vpc, char *out, size_t n)
{
	static char sets[65536], set[65536];
	char *lines[1024];
	size_t nl = 0, len = 0;
	cr_assert_eq(run(sets, sizeof(sets), "ip netns exec vpcnet-vpc-%s nft list sets inet", vpc),
		     0, "%s", sets);
	for (const char *p = sets; (p = strstr(p, "set sg")); p += 4) {
		char name[32];
		if (sscanf(p, "set %31s {", name) != 1 || name[strspn(name, "sg0123456789")] != '_' ||
		    strspn(name + strspn(name, "sg0123456789") + 1, "eix") !=
			    strlen(name + strspn(name, "sg0123456789") + 1))
			continue;  /* sgmN, sgN_e_R: not CIDR sets */
		cr_assert_eq(run(set, sizeof(set), "ip netns exec vpcnet-vpc-%s nft list set inet "
				 "vpcnet %s", vpc, name), 0, "%s", set);
		size_t k = 0;
		for (size_t i = 0; set[i]; i++)
			if (!strchr(" \t\n", set[i]))
				set[k++] = set[i];
		set[k] = '\0';
		char *e = strstr(set, "elements={");
		if (!e)
			continue;
		e += strlen("elements={");
		*strchrnul(e, '}') = '\0';
		for (char *save, *tok = strtok_r(e, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			cr_assert_lt(nl, 1024);
			cr_assert_neq(asprintf(&lines[nl++], "%s %s", name, tok), -1);
		}
	}
	qsort(lines, nl, sizeof(*lines), line_order);
	out[0] = '\0';
	for (size_t i = 0; i < nl; i++) {
		len += snprintf(out + len, len < n ? n - len : 0, "%s\n", lines[i]);
		free(lines[i]);
	}
	cr_assert_lt(len, n, "the sets do not fit");
}

/* Rule changes read only the rules near them (sg_cover_change): a run of neighbouring
 * addresses with the same ports merges and splits as rules come and go, packets follow each
 * change, and the sets end exactly as a rebuild from the store (gc) makes them. */
Test(sg, rules_changed_one_by_one_are_the_cover_a_rebuild_makes)
{
	struct listener l;
	char vpc[64], before[16384], after[16384];
	struct sbx s;
	none_allowed("10.42.0.0/16", &l, vpc, &s);
	/* each step, and whether tcp 203.0.113.2:8080 is allowed after it (-1: not probed) */
	static const struct { const char *change; int open; } steps[] = {
		{ "add tcp:8080 203.0.113.2", 1 }, { "add tcp:8080 203.0.113.1", -1 },
		{ "add tcp:8080 203.0.113.3", -1 }, { "add tcp:8081 203.0.113.4", -1 },
		{ "add tcp:8080 203.0.113.0/30", -1 }, { "add udp:53 203.0.113.2", -1 },
		{ "add tcp:8080-8081 203.0.113.8/29", -1 }, { "add tcp:22 203.0.113.5", -1 },
		{ "add tcp:8080 203.0.113.6", -1 },
		{ "del tcp:8080 203.0.113.2", 1 },  /* the /30 still allows it */
		{ "del tcp:8080 203.0.113.1", -1 }, { "add tcp:9000 198.51.100.0/24", -1 },
		{ "del tcp:8080 203.0.113.0/30", 0 }, { "add tcp:8080 203.0.113.2", 1 },
		{ "del tcp:8081 203.0.113.4", -1 }, { "add tcp:1-65535 203.0.113.7", -1 },
		{ "del tcp:22 203.0.113.5", -1 }, { "del tcp:8080 203.0.113.2", 0 },
		{ "add tcp:8080 203.0.113.2/31", 1 },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		char verb[4], pp[32], target[32];
		cr_assert_eq(sscanf(steps[i].change, "%3s %31s %31s", verb, pp, target), 3);
		V("sg rule %s none egress %s %s --vpc %s", verb, pp, target, vpc);
		if (steps[i].open >= 0)
			cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, steps[i].open ? 3000 : WAIT,
					       NULL, 0), steps[i].open ? P_OK : P_REFUSED,
				     "after '%s'", steps[i].change);
		cover_dump(vpc, before, sizeof(before));
		V("gc");
		cover_dump(vpc, after, sizeof(after));
		cr_assert_str_eq(before, after, "after '%s': the sets differ from a rebuild's",
				 steps[i].change);
	}
	cr_assert(strstr(before, "_e tcp.203.0.113.2/31.8080") ||
		  strstr(before, "_e tcp.203.0.113.2-203.0.113.3.8080"),
		  "203.0.113.2-3 share their ports: one run, one interval: %s", before);
	cr_assert(strstr(before, "_ex udp.203.0.113.2.53"), "%s", before);
	/* the size of the cover the store keeps (for the 65,536 elements limit) is the kernel's */
	struct store *st;
	struct vpcnet_error e;
	struct vpc_row v;
	struct sg_row g;
	int64_t elems;
	cr_assert_eq(store_open(&st, T.state_dir, &e), 0, "%s", e.msg);
	cr_assert_eq(store_vpc_get(st, vpc, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(store_sg_get(st, v.id, "none", &g, &e), 0, "%s", e.msg);
	cr_assert_eq(store_cover_get(st, g.id, SG_EGRESS, &elems, &e), 0, "%s", e.msg);
	store_close(st);
	char prefix[32];
	int lines = 0;
	snprintf(prefix, sizeof(prefix), "sg%lld_e", (long long)g.id);
	for (const char *p = before; *p; p = strchr(p, '\n') + 1)
		lines += !strncmp(p, prefix, strlen(prefix));
	cr_assert_eq(elems, lines, "the store counts %lld elements, the kernel holds %d",
		     (long long)elems, lines);
}

/* Whether map @map of the router of VPC @vpc holds key @profile (nft lists it). */
static bool map_holds(const char *vpc, const char *map, long profile)
{
	char out[8192], key[32];
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft list map inet vpcnet %s",
			 vpc, map), 0, "%s", out);
	snprintf(key, sizeof(key), " %ld : jump", profile);
	return strstr(out, key) != NULL;
}

/* set-sg moves the sandbox's port to the profile of its new groups and deletes nothing (a
 * deletion would cost the batch an RCU grace period): it adds that profile's elements
 * (each slot's map entry and the profile in each group's member set: vpcnet_last_batch
 * counts them), none when the groups are the same in another order; the profile left
 * keeps its elements until gc finds that no member has it. */
Test(sg, set_sg_moves_the_port_to_a_profile_and_deletes_nothing)
{
	struct listener l;
	char vpc[64], id[80], router[96];
	struct sbx s;
	none_allowed("10.43.0.0/16", &l, vpc, &s);
	V("sg create a --vpc %s", vpc);
	V("sg create b --vpc %s", vpc);
	V("sg rule add a egress tcp:8080 0.0.0.0/0 --vpc %s", vpc);
	struct vpcnet *vn;
	struct vpcnet_error err;
	struct vpcnet_config cfg = { .state_dir = T.state_dir, .host_netns = T.host };
	cr_assert_eq(vpcnet_open(&vn, &cfg, &err), 0, "%s", err.msg);
	snprintf(id, sizeof(id), "%s", s.id);
	snprintf(router, sizeof(router), "vpcnet-vpc-%s", vpc);
	struct vpcnet_sandbox sb;
	cr_assert_eq(vpcnet_sandbox_get(vn, id, &sb, &err), 0, "%s", err.msg);
	long first = link_group(router, sb.port);
	cr_assert_gt(first, 0, "a port is born in its profile");
	static const struct {
		const char *groups[3];
		unsigned n, elems;
		bool open, moves;
	} steps[] = {
		{ { "none", "a" }, 2, 4, true, true },       /* out1, out2, sgm of none and a */
		{ { "none", "a" }, 2, 0, true, false },      /* nothing changes */
		{ { "a", "none" }, 2, 0, true, false },      /* the same profile */
		{ { "a", "none", "b" }, 3, 6, true, true },  /* a new profile: three slots */
		{ { "b" }, 1, 2, false, true },
	};
	long was = first, seen[8] = { first };
	size_t nseen = 1;
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		unsigned msgs, elems;
		cr_assert_eq(vpcnet_sandbox_set_sg(vn, id, steps[i].groups, steps[i].n, &err), 0,
			     "step %zu: %s", i, err.msg);
		vpcnet_last_batch(vn, &msgs, &elems);
		cr_assert_eq(elems, steps[i].elems, "step %zu: %u elements, want %u", i, elems,
			     steps[i].elems);
		long now = link_group(router, sb.port);
		cr_assert_eq(now != was, steps[i].moves, "step %zu: port group %ld -> %ld", i, was,
			     now);
		if (now != was)
			seen[nseen++] = now;
		was = now;
		cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, steps[i].open ? 3000 : WAIT, NULL, 0),
			     steps[i].open ? P_OK : P_REFUSED, "step %zu", i);
		/* every profile the port was in keeps its map entry: nothing was deleted */
		for (size_t k = 0; k < nseen; k++)
			cr_assert(map_holds(vpc, "out1", seen[k]), "step %zu: profile %ld lost its"
				  " entry", i, seen[k]);
	}
	vpcnet_close(vn);
	/* gc forgets the profiles no member has: the last one stays */
	V("gc");
	for (size_t k = 0; k + 1 < nseen; k++)
		cr_assert_not(map_holds(vpc, "out1", seen[k]), "profile %ld outlived its last"
			      " member", seen[k]);
	cr_assert(map_holds(vpc, "out1", was));
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_REFUSED);
	V("sandbox set-sg %s a", id);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
}

/* Members with the same groups (and kind) share a profile: one device group, one set of
 * elements; it stays while one of them is left and goes once the last one is reaped. */
Test(sg, members_with_the_same_groups_share_a_profile_until_the_last_goes)
{
	struct listener l;
	char inet[256], vpc[64], router[96];
	nspath(T.inet, inet, sizeof(inet));
	listen_tcp(&T, inet, 8080, &l);
	make_vpc(&T, "a", "10.44.0.0/16", true);
	tname(&T, "a", vpc, sizeof(vpc));
	snprintf(router, sizeof(router), "vpcnet-vpc-%s", vpc);
	V("sg create a --vpc %s", vpc);
	V("sg rule add a egress tcp:8080 0.0.0.0/0 --vpc %s", vpc);
	struct sbx s1, s2, i1;
	make_sbx_args(&T, "a", "s1", "--sg a", &s1);
	make_sbx_args(&T, "a", "s2", "--sg a", &s2);
	make_instance(&T, "a", "i1", "a", &i1);
	long p1 = link_group(router, s1.port), p2 = link_group(router, s2.port),
	     pi = link_group(router, i1.port);
	cr_assert(p1 > 0 && p1 == p2, "one profile: %ld, %ld", p1, p2);
	cr_assert(pi > 0 && pi != p1, "an instance's profile has ingress maps: %ld", pi);
	cr_assert(map_holds(vpc, "in1", pi) && !map_holds(vpc, "in1", p1));
	V("sandbox delete %s", s1.id);
	cr_assert_eq(probe_tcp(s2.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	cr_assert(map_holds(vpc, "out1", p1), "s2 still has it");
	V("sandbox delete %s", s2.id);
	V("gc");
	cr_assert_not(map_holds(vpc, "out1", p1), "no member has it: gone");
	cr_assert(map_holds(vpc, "out1", pi) && map_holds(vpc, "in1", pi));
	cr_assert_eq(probe_tcp(i1.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
}

Test(sg, ingress_rules_open_instances_never_sandboxes)
{
	make_vpc(&T, "a", "10.42.0.0/16", true);
	char vpc[64];
	tname(&T, "a", vpc, sizeof(vpc));
	V("sg create both --vpc %s", vpc);
	V("sg rule add both ingress all 0.0.0.0/0");
	V("sg rule add both egress all 0.0.0.0/0");
	struct sbx inst;
	make_instance(&T, "a", "i1", "both", &inst);
	const char *iip = inst.ip, *ins = inst.netns;
	struct sbx s1, s2;
	make_sbx_args(&T, "a", "s1", "--sg both", &s1);
	make_sbx_args(&T, "a", "s2", "--sg both", &s2);
	struct listener li, ls;
	listen_tcp(&T, ins, 80, &li);
	listen_tcp(&T, s1.netns, 80, &ls);
	listen_udp(&T, s1.netns, 53, &ls);
	cr_assert_eq(probe_tcp(s2.netns, iip, 80, 3000, NULL, 0), P_OK, "the instance is open");
	cr_assert_eq(probe_icmp(s2.netns, iip, 3000), P_OK);
	cr_assert_eq(probe_tcp(s2.netns, s1.ip, 80, WAIT, NULL, 0), P_REFUSED, "a sandbox never");
	cr_assert_eq(probe_tcp(ins, s1.ip, 80, WAIT, NULL, 0), P_REFUSED, "not from an instance");
	cr_assert_neq(probe_udp(ins, s1.ip, 53, WAIT, NULL, 0), P_OK);
	cr_assert_neq(probe_icmp(s2.netns, s1.ip, WAIT), P_OK);
	cr_assert_eq(listener_count(&ls), 0);
	/* an instance sends as its egress rules allow */
	char inet[256];
	nspath(T.inet, inet, sizeof(inet));
	struct listener lw;
	listen_tcp(&T, inet, 8080, &lw);
	cr_assert_eq(probe_tcp(ins, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	V("sg rule del both egress all 0.0.0.0/0");
	cr_assert_eq(probe_tcp(ins, INET_ADDR, 8080, WAIT, NULL, 0), P_REFUSED);
}

/* A deleted instance whose namespace a process still holds keeps its router port (until gc)
 * after it is reaped, in its profile's device group, which other members still have: that
 * port receives nothing — only a port in @ports is a member's. */
Test(sg, a_reaped_instance_whose_port_lingers_receives_nothing)
{
	make_vpc(&T, "a", "10.45.0.0/16", true);
	char vpc[64], router[96], out[4096];
	tname(&T, "a", vpc, sizeof(vpc));
	snprintf(router, sizeof(router), "vpcnet-vpc-%s", vpc);
	V("sg create db --vpc %s", vpc);
	V("sg create app --vpc %s", vpc);
	V("sg rule add db ingress tcp:5432 sg:app --vpc %s", vpc);
	V("sg rule add app egress tcp:5432 sg:db --vpc %s", vpc);
	struct sbx i1, i2, app;
	make_instance(&T, "a", "i1", "db", &i1);
	make_instance(&T, "a", "i2", "db", &i2);
	make_sbx_args(&T, "a", "app", "--sg app", &app);
	cr_assert_eq(link_group(router, i1.port), link_group(router, i2.port), "one profile");
	struct listener l1, l2;
	listen_tcp(&T, i1.netns, 5432, &l1);  /* holds i1's namespace past its delete */
	listen_tcp(&T, i2.netns, 5432, &l2);
	cr_assert_eq(probe_tcp(app.netns, i1.ip, 5432, 3000, NULL, 0), P_OK);
	V("instance delete %s", i1.id);
	V("sg create tmp --vpc %s", vpc);
	V("sg delete tmp --vpc %s", vpc);  /* reaps the deleted */
	cr_assert_eq(run(out, sizeof(out), "ip -n %s link show %s", router, i1.port), 0,
		     "the port lingers: %s", out);
	cr_assert_eq(probe_tcp(app.netns, i1.ip, 5432, WAIT, NULL, 0), P_REFUSED);
	cr_assert_eq(probe_tcp(app.netns, i2.ip, 5432, 3000, NULL, 0), P_OK, "its peer still");
	cr_assert_eq(listener_count(&l1), 1, "only the connection before the delete");
}

Test(sg, bad_rules_and_groups_are_refused_and_change_nothing)
{
	make_vpc(&T, "a", "10.43.0.0/16", true);
	make_vpc(&T, "b", "10.44.0.0/16", true);
	char a[64], b[64], out[8192];
	tname(&T, "a", a, sizeof(a));
	tname(&T, "b", b, sizeof(b));
	V("sg create web --vpc %s", a);
	V("sg create only-b --vpc %s", b);
	V("sg rule add web egress tcp:80 0.0.0.0/0");
	struct { const char *args; int code; const char *says; } bad[] = {
		{ "sg rule add web egress sctp 0.0.0.0/0", 2, "sctp" },
		{ "sg rule add web egress icmp:8 0.0.0.0/0", 2, "tcp and udp" },
		{ "sg rule add web egress all:1-2 0.0.0.0/0", 2, "tcp and udp" },
		{ "sg rule add web egress tcp:0 0.0.0.0/0", 2, "out of range" },
		{ "sg rule add web egress tcp:65536 0.0.0.0/0", 2, "65536" },
		{ "sg rule add web egress tcp:90-80 0.0.0.0/0", 2, "reversed" },
		{ "sg rule add web egress tcp:80 10.0.0.0/33", 2, "10.0.0.0/33" },
		{ "sg rule add web sideways tcp:80 0.0.0.0/0", 2, "sideways" },
		{ "sg rule add web egress tcp:80 sg:only-b", 3, "only-b" },
		{ "sg rule add web egress tcp:80 sg:nosuch", 3, "nosuch" },
		{ "sg rule add web egress tcp:80 0.0.0.0/0", 4, "already" },
		{ "sg rule del web egress tcp:81 0.0.0.0/0", 3, "no such rule" },
		{ "sg rule add nosuch egress tcp:80 0.0.0.0/0", 3, "nosuch" },
		{ "sg create web --vpc %1$s-a", 4, "already exists" },
		{ "sg create bad/name --vpc %1$s-a", 2, "bad/name" },
		{ "sg delete default --vpc %1$s-a", 4, "default" },
		{ "sg show default", 2, "several VPCs" },
		{ "sandbox create %1$s-x --vpc %1$s-a --sg only-b", 3, "only-b" },
		{ "sandbox create %1$s-x --vpc %1$s-a --sg web,web", 2, "twice" },
		{ "sandbox create %1$s-x --vpc %1$s-a --sg a,b,c,d,e,f", 2, "at most 5" },
	};
	char before[65536], after[65536];
	run(before, sizeof(before), "ip netns exec vpcnet-vpc-%s nft list ruleset", a);
	char lb[8192], la[8192];
	vpcnet(&T, lb, sizeof(lb), NULL, "--json sg list");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char args[512];
		with_tag(&T, bad[i].args, args, sizeof(args));
		int rc = vpcnet(&T, out, sizeof(out), NULL, "%s", args);
		cr_expect_eq(rc, bad[i].code, "`%s` exited %d, not %d: %s", args, rc, bad[i].code, out);
		cr_expect(strstr(out, bad[i].says), "`%s` must say '%s': %s", args, bad[i].says, out);
		run(after, sizeof(after), "ip netns exec vpcnet-vpc-%s nft list ruleset", a);
		cr_assert_str_eq(after, before, "`%s` changed the ruleset", args);
		vpcnet(&T, la, sizeof(la), NULL, "--json sg list");
		cr_assert_str_eq(la, lb, "`%s` changed the store", args);
	}
	/* a used group is not deleted; an unused one is, with its chains and sets */
	struct sbx s;
	make_sbx_args(&T, "a", "s1", "--sg web", &s);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg delete web"), 4, "%s", out);
	V("sandbox set-sg %s default", s.id);
	V("sg delete web");
	run(after, sizeof(after), "ip netns exec vpcnet-vpc-%s nft list ruleset", a);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg show web --vpc %s", a), 3, "%s", out);
}

/* The kernel took a change, then the process died (or the store failed) before the store
 * committed it: the router allows what the store does not know.  A failed commit puts the
 * router back at once; a killed process leaves it to `vpcnet gc`, which rebuilds every
 * group and attachment from the store. */
Test(sg, a_change_the_store_did_not_commit_is_undone)
{
	char out[4096];
	struct listener l;
	char vpc[64];
	struct sbx s;
	none_allowed("10.43.0.0/16", &l, vpc, &s);
	const char *add = "sg rule add none egress tcp:8080 0.0.0.0/0";

	/* killed between the two commits: the hole exists until gc */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sg:commit", "%s", add), 99,
		     "%s", out);
	V("sg show none --vpc %s", vpc);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK,
		     "the kernel has the rule the store lost");
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json gc"), 0, "%s", out);
	cr_assert(strstr(out, "\"vpcs_reconciled\": 1"), "%s", out);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_REFUSED,
		     "gc rebuilt the group from the store");

	/* the store's commit fails: the change is undone before the command returns */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sg:commit=error", "%s", add), 1,
		     "%s", out);
	cr_assert(strstr(out, "failpoint sg:commit"), "%s", out);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_REFUSED);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sg show none --vpc %s", vpc), 0);
	cr_assert(strstr(out, "\"egress\": []"), "the store has no rule: %s", out);

	/* set-sg killed after the kernel: the sandbox is in a group the store never saw */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sg:commit",
			    "sandbox set-sg %s default", s.id), 99, "%s", out);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	V("gc");
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_REFUSED);

	/* sg delete killed after the kernel: the store still has the group, gc remakes it */
	V("sg create back --vpc %s", vpc);
	V("sg rule add back egress tcp:8080 0.0.0.0/0");
	cr_assert_eq(vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sg:commit", "sg delete back"),
		     99, "%s", out);
	cr_assert_neq(vpcnet(&T, out, sizeof(out), NULL, "sandbox set-sg %s back", s.id), 0,
		      "its sets are gone from the kernel");
	V("gc");
	V("sandbox set-sg %s back", s.id);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK,
		     "gc made the group again, with its rule");

	/* a rule del killed after the kernel: the same del again gets through, without gc
	 * (its deletes find the elements gone), and so does an add killed the same way */
	const char *del = "sg rule del back egress tcp:8080 0.0.0.0/0";
	cr_assert_eq(vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sg:commit", "%s", del), 99,
		     "%s", out);
	V("%s", del);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_REFUSED);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sg:commit",
			    "sg rule add back egress tcp:8080 0.0.0.0/0"), 99, "%s", out);
	V("sg rule add back egress tcp:8080 0.0.0.0/0");
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
}
