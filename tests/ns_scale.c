/* SPDX-License-Identifier: MIT */
/* Scale: with 1,000 sandboxes and 10,000 rules loaded, a rule change and a sandbox attach
 * are each one batch of a few elements (the batch the code sends is asserted, not a time),
 * and the ruleset still lists and loads back.  Driven through the C library. */
#include "tests/ns_util.h"
#include "vpcnet.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(scale, .init = setup, .fini = teardown, .timeout = 900);

#define SANDBOXES 1000
#define GROUPS 100
#define RULES_PER_GROUP 100

Test(scale, a_change_is_a_few_elements_with_1000_sandboxes_and_10000_rules)
{
	struct vpcnet *vn;
	struct vpcnet_error err;
	struct vpcnet_config cfg = { .state_dir = T.state_dir, .host_netns = T.host };
	cr_assert_eq(vpcnet_open(&vn, &cfg, &err), 0, "%s", err.msg);
	char vpc[64], name[64], id[80], ports[32], cidr[32];
	tname(&T, "a", vpc, sizeof(vpc));
	struct vpcnet_vpc_spec vs = { .name = vpc, .cidr = "10.50.0.0/16", .nat = true };
	cr_assert_eq(vpcnet_vpc_create(vn, &vs, NULL, &err), 0, "%s", err.msg);
	for (int g = 0; g < GROUPS; g++) {
		snprintf(name, sizeof(name), "g%d", g);
		cr_assert_eq(vpcnet_sg_create(vn, vpc, name, NULL, &err), 0, "%s", err.msg);
		for (int r = 0; r < RULES_PER_GROUP; r++) {
			snprintf(ports, sizeof(ports), "tcp:%d", 1000 + r);
			snprintf(cidr, sizeof(cidr), "198.51.%d.0/24", r % 200);
			cr_assert_eq(vpcnet_sg_rule_add(vn, vpc, name, "egress", ports, cidr, &err), 0,
				     "%s", err.msg);
		}
	}
	for (int i = 0; i < SANDBOXES; i++) {
		snprintf(id, sizeof(id), "%s-s%d", T.tag, i);
		snprintf(name, sizeof(name), "g%d", i % GROUPS);
		const char *sgs[] = { name };
		struct vpcnet_sandbox_spec ss = { .id = id, .vpc = vpc, .sgs = sgs, .nsgs = 1 };
		cr_assert_eq(vpcnet_sandbox_create(vn, &ss, NULL, &err), 0, "%s: %s", id, err.msg);
	}
	unsigned msgs, elems;
	/* a rule change: one batch, one element */
	cr_assert_eq(vpcnet_sg_rule_add(vn, vpc, "g7", "egress", "udp:53", "0.0.0.0/0", &err), 0,
		     "%s", err.msg);
	vpcnet_last_batch(vn, &msgs, &elems);
	fprintf(stderr, "[----] rule add with %d rules and %d sandboxes: %u message(s), %u element(s)\n",
		    GROUPS * RULES_PER_GROUP, SANDBOXES, msgs, elems);
	cr_assert_eq(msgs, 1);
	cr_assert_eq(elems, 1);
	cr_assert_eq(vpcnet_sg_rule_del(vn, vpc, "g7", "egress", "udp:53", "0.0.0.0/0", &err), 0);
	vpcnet_last_batch(vn, &msgs, &elems);
	cr_assert_eq(msgs, 1);
	cr_assert_eq(elems, 1);
	/* a sandbox attach (set-sg to two groups): the new profile's map entries and member
	 * sets, one message each; the old profile's stay */
	snprintf(id, sizeof(id), "%s-s%d", T.tag, 3);
	const char *two[] = { "g1", "g2" };
	cr_assert_eq(vpcnet_sandbox_set_sg(vn, id, two, 2, &err), 0, "%s", err.msg);
	vpcnet_last_batch(vn, &msgs, &elems);
	fprintf(stderr, "[----] set-sg to two groups: %u message(s)\n", msgs);
	cr_assert_eq(msgs, 4, "out1, out2 and two sgm");
	vpcnet_close(vn);

	char out[4096], file[256];
	snprintf(file, sizeof(file), "%s/big.nft", T.state_dir);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ip netns exec vpcnet-vpc-%s nft list ruleset", vpc);
	FILE *p = popen(cmd, "r"), *f = fopen(file, "w");
	cr_assert(p && f);
	char buf[65536];
	size_t n, total = 0;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		total += fwrite(buf, 1, n, f);
	pclose(p);
	fclose(f);
	cr_assert_gt(total, 100000, "the ruleset lists (%zu bytes)", total);
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft -c -f %s", vpc, file), 0,
		     "the ruleset does not load back: %s", out);
}

#define WIDE 2000

/* One rule that swallows 2,000 others is one change of 2,001 elements: more than one
 * netlink message can carry (an element list is at most 64 KiB), so the batch is several
 * messages in one transaction, and the kernel takes all of it — both ways. */
Test(scale, a_change_of_thousands_of_elements_is_one_transaction)
{
	char inet[256];
	nspath(T.inet, inet, sizeof(inet));
	struct listener l;
	listen_tcp(&T, inet, 8080, &l);
	make_vpc(&T, "a", "10.51.0.0/16", true);
	char vpc[64], target[32];
	tname(&T, "a", vpc, sizeof(vpc));
	struct vpcnet *vn;
	struct vpcnet_error err;
	struct vpcnet_config cfg = { .state_dir = T.state_dir, .host_netns = T.host };
	cr_assert_eq(vpcnet_open(&vn, &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(vpcnet_sg_create(vn, vpc, "wide", NULL, &err), 0, "%s", err.msg);
	for (int i = 0; i < WIDE; i++) {
		snprintf(target, sizeof(target), "100.64.%d.%d", i / 120, 1 + 2 * (i % 120));
		cr_assert_eq(vpcnet_sg_rule_add(vn, vpc, "wide", "egress", "tcp:8080", target, &err),
			     0, "%s: %s", target, err.msg);
	}
	struct sbx s;
	make_sbx_args(&T, "a", "s1", "--sg wide", &s);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 1000, NULL, 0), P_REFUSED);
	unsigned msgs, elems;
	cr_assert_eq(vpcnet_sg_rule_add(vn, vpc, "wide", "egress", "tcp", "0.0.0.0/0", &err), 0,
		     "%s", err.msg);
	vpcnet_last_batch(vn, &msgs, &elems);
	fprintf(stderr, "[----] one rule over %d: %u message(s), %u element(s)\n", WIDE, msgs, elems);
	cr_assert_eq(elems, WIDE + 1);
	cr_assert_geq(msgs, 2);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	cr_assert_eq(vpcnet_sg_rule_del(vn, vpc, "wide", "egress", "tcp", "0.0.0.0/0", &err), 0,
		     "%s", err.msg);
	vpcnet_last_batch(vn, &msgs, &elems);
	cr_assert_eq(elems, WIDE + 1);
	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 1000, NULL, 0), P_REFUSED);
	vpcnet_close(vn);
	static char out[1 << 19];
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft list ruleset", vpc), 0);
	unsigned listed = 0;
	for (const char *p = out; (p = strstr(p, "tcp . 100.64.")); p++)
		listed++;
	cr_assert_eq(listed, WIDE, "the kernel holds the %d elements again: %u", WIDE, listed);
}
