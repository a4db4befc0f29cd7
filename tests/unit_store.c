/* SPDX-License-Identifier: MIT */
/* The state store: schema, unique names, address leases (lowest free, requested, taken,
 * exhausted), transit indexes, owners. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/addr.h"
#include "lib/store.h"
#include "secgroups/rule.h"

static char dir[64];
static struct store *st;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vpcnet-unit-XXXXXX");
	cr_assert(mkdtemp(dir));
	struct vpcnet_error e;
	cr_assert_eq(store_open(&st, dir, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd)) { /* best effort */ }
}

TestSuite(store, .init = setup, .fini = teardown);

static struct vpc_row vpc(const char *name, uint32_t net, unsigned prefix)
{
	struct vpc_row v = { .net = net, .prefix = prefix, .owner = owner_self(1) };
	snprintf(v.name, sizeof(v.name), "%s", name);
	snprintf(v.state, sizeof(v.state), ST_READY);
	return v;
}

static int add_member(int64_t vpc_id, const char *name, uint32_t ip, uint32_t first,
		      uint32_t last, struct member_row *out, struct vpcnet_error *e)
{
	struct member_row m = { .vpc_id = vpc_id, .ip = ip, .netns_owned = true,
				.owner = owner_self(1) };
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.state, sizeof(m.state), ST_CREATING);
	snprintf(m.netns, sizeof(m.netns), "/run/netns/vpcnet-sbx-x");
	snprintf(m.ifname, sizeof(m.ifname), "eth0");
	store_begin(st, e);
	int ret = store_member_insert(st, &m, first, last, e);
	if (ret)
		store_rollback(st);
	else
		store_commit(st, e);
	if (out)
		*out = m;
	return ret;
}

Test(store, files_are_private)
{
	struct stat sb;
	cr_assert_eq(stat(dir, &sb), 0);
	char db[128];
	snprintf(db, sizeof(db), "%s/state.db", dir);
	cr_assert_eq(stat(db, &sb), 0);
	cr_assert_eq(sb.st_mode & 077, 0, "state.db mode %o", sb.st_mode & 0777);
}

Test(store, vpc_names_are_unique_and_transits_reused)
{
	struct vpcnet_error e;
	struct vpc_row a = vpc("a", 0x0a000000, 16), b = vpc("b", 0x0a000000, 16), a2 = a;
	cr_assert_eq(store_vpc_insert(st, &a, &e), 0);
	cr_assert_eq(store_vpc_insert(st, &b, &e), 0);
	cr_assert_eq(a.transit, 0);
	cr_assert_eq(b.transit, 1);
	cr_assert_eq(store_vpc_insert(st, &a2, &e), -EEXIST);
	cr_assert_eq(e.status, VPCNET_EXISTS);
	cr_assert_eq(store_vpc_delete(st, a.id, &e), 0);
	struct vpc_row c = vpc("c", 0x0a000000, 16);
	cr_assert_eq(store_vpc_insert(st, &c, &e), 0);
	cr_assert_eq(c.transit, 0, "the lowest free transit index");
	cr_assert_gt(c.id, b.id, "ids are never reused (kernel names derive from them)");
	struct vpc_row got;
	cr_assert_eq(store_vpc_get(st, "zzz", &got, &e), -ENOENT);
	cr_assert_eq(e.status, VPCNET_NOT_FOUND);
}

Test(store, leases)
{
	struct vpcnet_error e;
	struct vpc_row v = vpc("v", 0xc0a80710, 28);
	cr_assert_eq(store_vpc_insert(st, &v, &e), 0);
	uint32_t first = subnet_first(v.net), last = subnet_last(v.net, v.prefix);
	struct member_row m;
	cr_assert_eq(add_member(v.id, "a", 0, first, last, &m, &e), 0);
	cr_assert_eq(m.ip, first);
	cr_assert_eq(add_member(v.id, "b", first + 2, first, last, &m, &e), 0);
	cr_assert_eq(add_member(v.id, "c", 0, first, last, &m, &e), 0);
	cr_assert_eq(m.ip, first + 3, "the address after the highest leased");
	cr_assert_eq(add_member(v.id, "d", first + 2, first, last, &m, &e), -EADDRINUSE);
	cr_assert_eq(e.status, VPCNET_EXISTS);
	cr_assert_eq(add_member(v.id, "a", 0, first, last, &m, &e), -EEXIST);
	/* once the top is reached, the lowest free (first + 1, skipped above) */
	int n = 3;
	while (add_member(v.id, (char[]){ 'm', (char)('a' + n), 0 }, 0, first, last, &m, &e) == 0)
		n++;
	cr_assert_eq(n, (int)(last - first + 1), "a /28 leases %u addresses", last - first + 1);
	struct member_row r;
	cr_assert_eq(store_member_get(st, MEMBER_SANDBOX, "md", &r, &e), 0);
	cr_assert_eq(r.ip, first + 4, "in order up to the top");
	cr_assert_eq(store_member_get(st, MEMBER_SANDBOX, (char[]){ 'm', (char)('a' + n - 1), 0 }, &r,
				      &e), 0);
	cr_assert_eq(r.ip, first + 1, "then the gap below");
	cr_assert_eq(e.errnum, ENOSPC);
	cr_assert(strstr(e.msg, "exhausted"), "%s", e.msg);
	struct member_row a;
	cr_assert_eq(store_member_get(st, MEMBER_SANDBOX, "a", &a, &e), 0);
	cr_assert_eq(store_member_delete(st, a.id, &e), 0);
	cr_assert_eq(add_member(v.id, "z", 0, first, last, &m, &e), 0);
	cr_assert_eq(m.ip, first, "a released address is leased again");
}

Test(store, owners)
{
	struct owner me = owner_self(1);
	cr_assert(owner_alive(&me));
	struct owner other = me;
	other.start++;
	cr_assert(!owner_alive(&other), "a recycled pid is not the owner");
	struct owner none = { 0 };
	cr_assert(!owner_alive(&none));
}

/* Version 1 stores, as the two shapes that shipped left them, open as version 2: what was
 * missing is added, and a VPC whose router has no security groups is marked layout 1. */
static void write_v1(const char *path, bool with_sgs)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	const char *v1 =
		"CREATE TABLE vpcs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
		" net INTEGER NOT NULL, prefix INTEGER NOT NULL, nat INTEGER NOT NULL,"
		" uplink TEXT NOT NULL, transit INTEGER NOT NULL UNIQUE, state TEXT NOT NULL,"
		" owner_pid INTEGER NOT NULL, owner_start INTEGER NOT NULL, created INTEGER NOT NULL);"
		"CREATE TABLE members (id INTEGER PRIMARY KEY AUTOINCREMENT,"
		" kind TEXT NOT NULL DEFAULT 'sandbox', name TEXT NOT NULL,"
		" vpc_id INTEGER NOT NULL REFERENCES vpcs(id), ip INTEGER NOT NULL,"
		" netns TEXT NOT NULL, netns_owned INTEGER NOT NULL, ifname TEXT NOT NULL,"
		" state TEXT NOT NULL, owner_pid INTEGER NOT NULL, owner_start INTEGER NOT NULL,"
		" created INTEGER NOT NULL, UNIQUE(kind, name), UNIQUE(vpc_id, ip));"
		"INSERT INTO vpcs VALUES (1, 'old', 167772160, 16, 1, 'eth0', 0, 'ready', 1, 1, 0);"
		"INSERT INTO vpcs VALUES (2, 'newer', 167772160, 16, 1, 'eth0', 1, 'ready', 1, 1, 0);"
		"INSERT INTO members VALUES (1, 'sandbox', 'fn-1', 1, 167772162, '/run/netns/vpcnet-sbx-x', 1,"
		" 'eth0', 'ready', 1, 1, 0);"
		"PRAGMA user_version = 1;";
	cr_assert_eq(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	if (with_sgs)
		cr_assert_eq(sqlite3_exec(db,
			"CREATE TABLE sgs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
			" vpc_id INTEGER NOT NULL REFERENCES vpcs(id) ON DELETE CASCADE,"
			" name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
			" UNIQUE(vpc_id, name));"
			"INSERT INTO sgs VALUES (1, 2, 'default', '');", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

Test(store, version_1_stores_are_migrated)
{
	for (int shape = 0; shape < 2; shape++) {
		char d[64], path[96];
		snprintf(d, sizeof(d), "%s/v1-%d", dir, shape);
		cr_assert_eq(mkdir(d, 0700), 0);
		snprintf(path, sizeof(path), "%s/state.db", d);
		write_v1(path, shape == 1);
		struct store *old;
		struct vpcnet_error e;
		cr_assert_eq(store_open(&old, d, &e), 0, "shape %d: %s", shape, e.msg);
		struct vpc_row v;
		cr_assert_eq(store_vpc_get(old, "old", &v, &e), 0, "%s", e.msg);
		cr_assert_eq(v.layout, 1, "no default group: a router without security groups");
		cr_assert_eq(store_vpc_members(old, &v, &e), 0, "%s", e.msg);
		cr_assert_eq(v.members, 1);
		cr_assert_eq(store_vpc_get(old, "newer", &v, &e), 0, "%s", e.msg);
		cr_assert_eq(v.layout, shape == 1 ? 2 : 1);
		struct member_row m;
		cr_assert_eq(store_member_get(old, MEMBER_SANDBOX, "fn-1", &m, &e), 0, "%s", e.msg);
		cr_assert_eq(m.owner.nonce, 0);
		cr_assert(!m.tap[0] && !m.control_port && !m.origin[0], "version 4 columns");
		cr_assert_eq(m.profile, 0, "version 8: no membership profile");
		/* the group tables exist now: a group can be made */
		struct sg_row g = { .vpc_id = 1 };
		snprintf(g.name, sizeof(g.name), "web");
		cr_assert_eq(store_begin(old, &e), 0);
		cr_assert_eq(store_sg_insert(old, &g, &e), 0, "%s", e.msg);
		cr_assert_eq(store_cover_set(old, g.id, SG_EGRESS, 3, &e), 0, "version 7: %s", e.msg);
		cr_assert_eq(store_commit(old, &e), 0);
		store_close(old);
		/* and it opens again as it is */
		cr_assert_eq(store_open(&old, d, &e), 0, "%s", e.msg);
		store_close(old);
	}
}

Test(store, new_vpcs_have_the_current_layout_and_newer_stores_are_refused)
{
	struct vpcnet_error e;
	struct vpc_row v = vpc("cur", 0x0a000000, 16);
	store_begin(st, &e);
	cr_assert_eq(store_vpc_insert(st, &v, &e), 0, "%s", e.msg);
	store_commit(st, &e);
	cr_assert_eq(store_vpc_get(st, "cur", &v, &e), 0);
	cr_assert_eq(v.layout, VPC_LAYOUT);

	char path[96];
	snprintf(path, sizeof(path), "%s/state.db", dir);
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct store *other;
	cr_assert_neq(store_open(&other, dir, &e), 0);
	cr_assert(strstr(e.msg, "schema version 99 is newer"), "%s", e.msg);
}

/* A store that another user could write is refused, whoever made it so. */
Test(store, a_store_others_can_write_is_refused)
{
	struct vpcnet_error e;
	struct store *other;
	char db[128];
	snprintf(db, sizeof(db), "%s/state.db", dir);
	cr_assert_eq(chmod(dir, 0770), 0);
	cr_assert_neq(store_open(&other, dir, &e), 0);
	cr_assert(strstr(e.msg, "writable by others (mode 0770)"), "%s", e.msg);
	cr_assert_eq(chmod(dir, 0700), 0);
	cr_assert_eq(chmod(db, 0666), 0);
	cr_assert_neq(store_open(&other, dir, &e), 0);
	cr_assert(strstr(e.msg, "state.db is writable by others (mode 0666)"), "%s", e.msg);
	cr_assert_eq(chmod(db, 0600), 0);
	cr_assert_eq(store_open(&other, dir, &e), 0, "%s", e.msg);
	store_close(other);
}

Test(store, a_members_tap_control_port_and_origin_are_kept)
{
	struct vpcnet_error e;
	struct vpc_row v = vpc("keep", 0x0a000000, 16);
	store_begin(st, &e);
	cr_assert_eq(store_vpc_insert(st, &v, &e), 0, "%s", e.msg);
	store_commit(st, &e);
	struct member_row m = { .vpc_id = v.id, .netns_owned = true, .owner = owner_self(1),
				.control_port = 8022 };
	snprintf(m.name, sizeof(m.name), "vm-1");
	snprintf(m.state, sizeof(m.state), ST_READY);
	snprintf(m.netns, sizeof(m.netns), "/run/netns/vpcnet-sbx-x");
	snprintf(m.ifname, sizeof(m.ifname), "eth0");
	snprintf(m.tap, sizeof(m.tap), "tap0");
	snprintf(m.origin, sizeof(m.origin), "cni:fns");
	store_begin(st, &e);
	cr_assert_eq(store_member_insert(st, &m, 0x0a000002, 0x0a00fffe, &e), 0, "%s", e.msg);
	store_commit(st, &e);
	struct member_row got;
	cr_assert_eq(store_member_get(st, MEMBER_SANDBOX, "vm-1", &got, &e), 0, "%s", e.msg);
	cr_assert_str_eq(got.tap, "tap0");
	cr_assert_eq(got.control_port, 8022);
	cr_assert_str_eq(got.origin, "cni:fns");
}

/* A membership profile is a VPC's set of groups (any order) for one kind: members with the
 * same ones share it, and it is unused once no member row names it. */
Test(store, members_with_the_same_groups_share_a_profile)
{
	struct vpcnet_error e;
	struct vpc_row v = vpc("prof", 0x0a000000, 16);
	store_begin(st, &e);
	cr_assert_eq(store_vpc_insert(st, &v, &e), 0, "%s", e.msg);
	struct member_row m[3];
	const enum member_kind kinds[] = { MEMBER_SANDBOX, MEMBER_SANDBOX, MEMBER_INSTANCE };
	for (int i = 0; i < 3; i++) {
		m[i] = (struct member_row){ .vpc_id = v.id, .netns_owned = true,
					    .owner = owner_self(1) };
		m[i].kind = kinds[i];
		snprintf(m[i].name, sizeof(m[i].name), "m%d", i);
		snprintf(m[i].state, sizeof(m[i].state), ST_READY);
		snprintf(m[i].netns, sizeof(m[i].netns), "/run/netns/vpcnet-sbx-m%d", i);
		snprintf(m[i].ifname, sizeof(m[i].ifname), "eth0");
		cr_assert_eq(store_member_insert(st, &m[i], 0x0a000002, 0x0a00fffe, &e), 0, "%s",
			     e.msg);
	}
	struct sg_row g[2] = { { .vpc_id = v.id }, { .vpc_id = v.id } };
	snprintf(g[0].name, sizeof(g[0].name), "low");
	snprintf(g[1].name, sizeof(g[1].name), "high");
	for (int i = 0; i < 2; i++)
		cr_assert_eq(store_sg_insert(st, &g[i], &e), 0, "%s", e.msg);
	const int64_t ab[] = { g[1].id, g[0].id }, ba[] = { g[0].id, g[1].id }, a[] = { g[1].id };
	int64_t p[3];
	bool made;
	cr_assert_eq(store_member_sgs_set(st, &m[0], ab, 2, &p[0], &made, &e), 0, "%s", e.msg);
	cr_assert(made && p[0] > 0);
	cr_assert_eq(store_member_sgs_set(st, &m[1], ba, 2, &p[1], &made, &e), 0, "%s", e.msg);
	cr_assert(!made && p[1] == p[0], "the same groups in another order: the same profile");
	cr_assert_eq(store_member_sgs_set(st, &m[2], ab, 2, &p[2], &made, &e), 0, "%s", e.msg);
	cr_assert(made && p[2] != p[0], "an instance's profile has its ingress maps");
	struct profile_row row;
	cr_assert_eq(store_profile_get(st, p[0], &row, &e), 0, "%s", e.msg);
	cr_assert(row.n == 2 && row.sgs[0] == g[0].id && row.sgs[1] == g[1].id && !row.ingress,
		  "its groups, sorted");
	struct member_row got;
	cr_assert_eq(store_member_get_id(st, m[1].id, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got.profile, p[0]);
	struct profile_row *unused;
	size_t n;
	cr_assert_eq(store_profiles_unused(st, v.id, &unused, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 0);
	free(unused);
	/* m0 leaves: still used by m1; m1 leaves too: unused */
	cr_assert_eq(store_member_sgs_set(st, &m[0], a, 1, &p[0], &made, &e), 0, "%s", e.msg);
	cr_assert_eq(store_profiles_unused(st, v.id, &unused, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 0);
	free(unused);
	cr_assert_eq(store_member_delete(st, m[1].id, &e), 0, "%s", e.msg);
	cr_assert_eq(store_profiles_unused(st, v.id, &unused, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 1);
	cr_assert_eq(unused[0].id, p[1]);
	cr_assert_eq(store_profile_delete(st, p[1], &e), 0, "%s", e.msg);
	free(unused);
	/* a deleted id is not handed out again */
	cr_assert_eq(store_profile_add(st, v.id, false, ab, 2, &p[1], &made, &e), 0, "%s", e.msg);
	cr_assert(made && p[1] > p[2]);
	store_commit(st, &e);
}

/* The rules a rule change reads: those of one group, direction and protocol, towards CIDRs,
 * whose prefix meets an address range (starting inside it or holding its first address),
 * checked against every rule on random ranges. */
Test(store, the_rules_near_an_address_range)
{
	struct vpcnet_error e;
	struct vpc_row v = vpc("near", 0x0a000000, 16);
	struct sg_row g = { 0 }, h = { 0 };
	cr_assert_eq(store_begin(st, &e), 0);
	cr_assert_eq(store_vpc_insert(st, &v, &e), 0, "%s", e.msg);
	g.vpc_id = h.vpc_id = v.id;
	snprintf(g.name, sizeof(g.name), "g");
	snprintf(h.name, sizeof(h.name), "h");
	cr_assert_eq(store_sg_insert(st, &g, &e), 0, "%s", e.msg);
	cr_assert_eq(store_sg_insert(st, &h, &e), 0, "%s", e.msg);
	enum { N = 300 };
	struct sg_rule r[N];
	unsigned seed = 3;
	for (int i = 0; i < N; i++) {
		unsigned len = i % 5 == 0 ? rand_r(&seed) % 33 : 24 + rand_r(&seed) % 9;
		uint32_t mask = len ? ~0u << (32 - len) : 0;
		uint32_t at = i % 7 == 0 ? rand_r(&seed) * 2654435761u : 0xc0a80000 + rand_r(&seed) % 2048;
		r[i] = (struct sg_rule){ .dir = i % 11 == 0 ? SG_INGRESS : SG_EGRESS,
					 .proto = i % 3 ? IPPROTO_TCP : IPPROTO_UDP,
					 .port_lo = i, .port_hi = i, .net = at & mask, .len = len };
		int ret = store_rule_insert(st, i % 13 == 0 ? h.id : g.id, &r[i], 0, &e);
		cr_assert(ret == 0 || ret == -EEXIST, "%s", e.msg);
		if (ret) {  /* not stored: never expected */
			r[i].port_lo = 1;
			r[i].port_hi = 0;
		}
	}
	struct sg_rule to_h = { .dir = SG_EGRESS, .proto = IPPROTO_TCP, .port_hi = 9,
				.to_group = true };
	cr_assert_eq(store_rule_insert(st, g.id, &to_h, h.id, &e), 0, "%s", e.msg);
	for (int t = 0; t < 400; t++) {
		uint32_t lo = t % 4 == 0 ? rand_r(&seed) * 2654435761u : 0xc0a80000 + rand_r(&seed) % 2100;
		uint32_t hi = lo + rand_r(&seed) % (t % 5 == 0 ? 1000 : 20);
		if (hi < lo)
			hi = UINT32_MAX;
		uint8_t proto = t % 2 ? IPPROTO_TCP : IPPROTO_UDP;
		struct sg_rule *got;
		size_t n, want = 0;
		cr_assert_eq(store_rules_near(st, g.id, SG_EGRESS, proto, lo, hi, &got, &n, &e), 0,
			     "%s", e.msg);
		for (int i = 0; i < N; i++) {
			uint32_t mask = r[i].len ? ~0u << (32 - r[i].len) : 0;
			if (i % 13 == 0 || r[i].dir != SG_EGRESS || r[i].proto != proto ||
			    r[i].port_lo > r[i].port_hi || r[i].net > hi || (r[i].net | ~mask) < lo)
				continue;
			want++;
			bool found = false;
			for (size_t j = 0; j < n && !found; j++)
				found = got[j].net == r[i].net && got[j].len == r[i].len &&
					got[j].port_lo == r[i].port_lo && got[j].proto == proto;
			cr_assert(found, "range %08x-%08x: rule %d (%08x/%u) missing", lo, hi, i,
				  r[i].net, r[i].len);
		}
		cr_assert_eq(n, want, "range %08x-%08x: %zu rules, want %zu", lo, hi, n, want);
		free(got);
	}
	bool mixed;
	cr_assert_eq(store_rules_mixed(st, g.id, SG_EGRESS, IPPROTO_TCP, &mixed, &e), 0);
	cr_assert(!mixed, "tcp and udp only (a group reference does not count)");
	struct sg_rule all = { .dir = SG_EGRESS, .port_hi = 65535, .net = 0x01000000, .len = 8 };
	cr_assert_eq(store_rule_insert(st, g.id, &all, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(store_rules_mixed(st, g.id, SG_EGRESS, IPPROTO_TCP, &mixed, &e), 0);
	cr_assert(mixed, "a rule for all protocols");
	cr_assert_eq(store_rules_mixed(st, g.id, SG_INGRESS, IPPROTO_TCP, &mixed, &e), 0);
	cr_assert(!mixed, "but not in the other direction");
	int64_t elems;
	cr_assert_eq(store_cover_get(st, g.id, SG_EGRESS, &elems, &e), 0);
	cr_assert_eq(elems, -1, "not recorded yet");
	cr_assert_eq(store_cover_set(st, g.id, SG_EGRESS, 42, &e), 0, "%s", e.msg);
	cr_assert_eq(store_cover_get(st, g.id, SG_EGRESS, &elems, &e), 0);
	cr_assert_eq(elems, 42);
	cr_assert_eq(store_cover_get(st, g.id, SG_INGRESS, &elems, &e), 0);
	cr_assert_eq(elems, -1);
	cr_assert_eq(store_commit(st, &e), 0);
}

/* Each CLI run is the store's only connection and rebuilds the log's index from the whole
 * log; a run of commands that write once each must not grow the log without end (it grew
 * 235 MB over 10,000 rule adds, each command reading all of it). */
Test(store, the_log_stays_short_when_every_process_writes_once)
{
	char d[64], wal[96];
	snprintf(d, sizeof(d), "%s/wal", dir);
	snprintf(wal, sizeof(wal), "%s/state.db-wal", d);
	struct vpcnet_error e;
	struct store *s;
	struct vpc_row v = vpc("w", 0x0a000000, 16);
	cr_assert_eq(store_open(&s, d, &e), 0, "%s", e.msg);
	cr_assert_eq(store_begin(s, &e), 0);
	cr_assert_eq(store_vpc_insert(s, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(store_commit(s, &e), 0);
	store_close(s);
	off_t most = 0;
	for (int i = 0; i < 600; i++) {
		struct sg_row g = { .vpc_id = v.id };
		snprintf(g.name, sizeof(g.name), "g%d", i);
		cr_assert_eq(store_open(&s, d, &e), 0, "%s", e.msg);
		cr_assert_eq(store_begin(s, &e), 0);
		cr_assert_eq(store_sg_insert(s, &g, &e), 0, "%s", e.msg);
		cr_assert_eq(store_commit(s, &e), 0);
		store_close(s);
		struct stat sb;
		if (!stat(wal, &sb) && sb.st_size > most)
			most = sb.st_size;
	}
	/* 128 frames of 4 KiB pages and a commit's worth more; 600 commits of 2-3 pages each
	 * made 6 MB before */
	cr_assert_lt(most, 160 * (4096 + 24), "the log reached %lld bytes", (long long)most);
	cr_assert_gt(most, 0, "the store is in WAL mode");
}

static bool slurp(const char *path, char *buf, size_t size, size_t *n)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	*n = fread(buf, 1, size, f);
	fclose(f);
	return *n < size;
}

/* A newer vpcnet's store is refused before anything is written to it: in a rollback
 * journal, the switch to WAL would have rewritten its header. */
Test(store, a_newer_store_is_left_as_it_was)
{
	char d[64], path[96];
	snprintf(d, sizeof(d), "%s/newer", dir);
	cr_assert_eq(mkdir(d, 0700), 0);
	snprintf(path, sizeof(path), "%s/state.db", d);
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 99;"
				  "CREATE TABLE future (x TEXT);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	static char before[65536], after[65536];
	size_t nb, na;
	cr_assert(slurp(path, before, sizeof(before), &nb));
	struct store *s;
	struct vpcnet_error e;
	cr_assert_eq(store_open(&s, d, &e), -EPROTO);
	cr_assert(strstr(e.msg, "state.db: schema version 99 is newer than this vpcnet (8)"), "%s",
		  e.msg);
	cr_assert(slurp(path, after, sizeof(after), &na));
	cr_assert(na == nb && !memcmp(before, after, nb), "the store was written to");
}

/* What SQLite says goes with the store's path and the step, not the SQL it ran. */
Test(store, errors_name_the_store_file)
{
	char d[64], path[96];
	snprintf(d, sizeof(d), "%s/junk", dir);
	cr_assert_eq(mkdir(d, 0700), 0);
	snprintf(path, sizeof(path), "%s/state.db", d);
	FILE *f = fopen(path, "we");
	cr_assert(f);
	for (int i = 0; i < 1024; i++)
		fputs("not a database ", f);
	fclose(f);
	struct store *s;
	struct vpcnet_error e;
	cr_assert_eq(store_open(&s, d, &e), -EIO);
	char want[160];
	snprintf(want, sizeof(want), "state store %s: open: file is not a database", path);
	cr_assert_str_eq(e.msg, want);
}

/* Rebuilding a router from the store records each group's cover size again; a size that
 * did not change is not written, so a repair needs no room on a full disk. */
Test(store, an_unchanged_cover_size_is_not_written)
{
	struct vpcnet_error e;
	struct vpc_row v = vpc("c", 0x0a000000, 16);
	struct sg_row g = { 0 };
	snprintf(g.name, sizeof(g.name), "web");
	cr_assert_eq(store_begin(st, &e), 0);
	cr_assert_eq(store_vpc_insert(st, &v, &e), 0, "%s", e.msg);
	g.vpc_id = v.id;
	cr_assert_eq(store_sg_insert(st, &g, &e), 0, "%s", e.msg);
	cr_assert_eq(store_cover_set(st, g.id, SG_EGRESS, 3, &e), 0, "%s", e.msg);
	cr_assert_eq(store_commit(st, &e), 0);
	char wal[96];
	snprintf(wal, sizeof(wal), "%s/state.db-wal", dir);
	struct stat before, after;
	cr_assert_eq(stat(wal, &before), 0);
	cr_assert_eq(store_begin(st, &e), 0);
	cr_assert_eq(store_cover_set(st, g.id, SG_EGRESS, 3, &e), 0, "%s", e.msg);
	cr_assert_eq(store_commit(st, &e), 0);
	cr_assert_eq(stat(wal, &after), 0);
	cr_assert_eq(after.st_size, before.st_size, "an unchanged size was written");
	int64_t n;
	cr_assert_eq(store_begin(st, &e), 0);
	cr_assert_eq(store_cover_set(st, g.id, SG_EGRESS, 4, &e), 0, "%s", e.msg);
	cr_assert_eq(store_commit(st, &e), 0);
	cr_assert_eq(store_cover_get(st, g.id, SG_EGRESS, &n, &e), 0);
	cr_assert_eq(n, 4, "a changed size is");
}
