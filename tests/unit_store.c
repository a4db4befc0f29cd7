/* SPDX-License-Identifier: MIT */
/* The state store: schema, unique names, address leases (lowest free, requested, taken,
 * exhausted), transit indexes, owners. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/store.h"

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
	snprintf(m.netns, sizeof(m.netns), "/run/netns/x");
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
	cr_assert_eq(m.ip, first + 1, "lowest free");
	cr_assert_eq(add_member(v.id, "d", first + 2, first, last, &m, &e), -EADDRINUSE);
	cr_assert_eq(e.status, VPCNET_EXISTS);
	cr_assert_eq(add_member(v.id, "a", 0, first, last, &m, &e), -EEXIST);
	int n = 3;
	while (add_member(v.id, (char[]){ 'm', (char)('a' + n), 0 }, 0, first, last, &m, &e) == 0)
		n++;
	cr_assert_eq(n, (int)(last - first + 1), "a /28 leases %u addresses", last - first + 1);
	cr_assert_eq(e.errnum, ENOSPC);
	cr_assert(strstr(e.msg, "exhausted"), "%s", e.msg);
	struct member_row a;
	cr_assert_eq(store_member_get(st, KIND_SANDBOX, "a", &a, &e), 0);
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
