/* SPDX-License-Identifier: MIT */
/* The warm pool: ready sandbox networks that send nothing and that nothing reaches, until a
 * plain `sandbox create` takes one; drained with its VPC. */
#include <dirent.h>

#include "tests/ns_util.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(pool, .init = setup, .fini = teardown, .timeout = 120);

/* The pool's namespaces on the host, and the first one's path. */
static int pool_netns(char *first, size_t n)
{
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	int count = 0;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "vpcnet-pool-", 12) && count++ == 0 && first)
			snprintf(first, n, "/run/netns/%s", e->d_name);
	if (d)
		closedir(d);
	return count;
}

Test(pool, taken_by_a_plain_create_and_closed_until_then)
{
	if (pool_netns(NULL, 0))
		cr_skip_test("another pool exists on this host");
	char out[8192], vpc[64], ns[256];
	make_vpc(&T, "a", "10.64.0.0/16", true);
	tname(&T, "a", vpc, sizeof(vpc));
	char inet[256];
	nspath(T.inet, inet, sizeof(inet));
	struct listener web;
	listen_tcp(&T, inet, 8080, &web);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json pool fill %s 3", vpc), 0, "%s", out);
	cr_assert(strstr(out, "\"made\": 3") && strstr(out, "\"ready\": 3"), "%s", out);
	cr_assert_eq(pool_netns(ns, sizeof(ns)), 3);

	/* a pooled network can send nothing, and nothing reaches it */
	cr_assert_neq(probe_tcp(ns, INET_ADDR, 8080, 800, NULL, 0), P_OK, "a pool entry sent");
	struct sbx other;
	make_sbx_args(&T, "a", "s0", "--ip 10.64.0.40", &other);  /* asks for an address: no pool */
	cr_assert(strstr(other.netns, "vpcnet-sbx-"), "%s", other.netns);
	cr_assert_eq(probe_tcp(other.netns, "10.64.0.4", 22, 3000, NULL, 0), P_REFUSED,
		     "a pool entry is reached by nothing");

	/* a plain create takes one: its groups, its egress */
	struct sbx s;
	make_sbx_args(&T, "a", "s1", "--sg default", &s);
	cr_assert(strstr(s.netns, "/run/netns/vpcnet-pool-"), "taken from the pool: %s", s.netns);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	cr_assert_eq(listener_count(&web), 1, "only the sandbox that took it got out");
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json pool show %s", vpc), 0, "%s", out);
	cr_assert(strstr(out, "\"ready\": 2"), "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-s1 --vpc %s", T.tag, vpc),
		     4, "a taken name stays taken: %s", out);

	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json pool drain %s", vpc), 0, "%s", out);
	cr_assert(strstr(out, "\"removed\": 2") && strstr(out, "\"ready\": 0"), "%s", out);
	cr_assert_eq(pool_netns(NULL, 0), 1, "the taken one is the sandbox's now");
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", s.id), 0, "%s", out);
	cr_assert_eq(pool_netns(NULL, 0), 0);

	/* a VPC goes with its pool; bad counts are refused */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "pool fill %s 2", vpc), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "pool fill %s 0", vpc), 2, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "pool fill %s x", vpc), 2, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "vpc delete --force %s", vpc), 0, "%s", out);
	cr_assert_eq(pool_netns(NULL, 0), 0, "the pool went with its VPC");
}
