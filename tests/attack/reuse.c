/* SPDX-License-Identifier: MIT */
/* Attack 8, reuse ("runtime environment reuse"): sandbox A opens flows and is deleted;
 * sandbox B gets the same address.  Late packets of A's flows are not delivered to B and
 * no conntrack entry of A survives into B's life; if forgetting A's flows fails, A's
 * address stays taken. */
#include "tests/attack/attack.h"

static struct topo T;
static char inet[256], rname[128], vpc[64];

static void setup(void)
{
	topo_setup(&T);
	nspath(T.inet, inet, sizeof(inet));
	make_vpc(&T, "a", "10.76.0.0/16", true);
	tname(&T, "a", vpc, sizeof(vpc));
	snprintf(rname, sizeof(rname), "vpcnet-vpc-%s", vpc);
}

static void teardown(void) { topo_teardown(&T); }

TestSuite(reuse, .init = setup, .fini = teardown, .timeout = 120);

/* Flows of @ip in the router's conntrack table, in either direction. */
static int flows_of(const char *ip)
{
	char out[8192];
	int n = 0;
	for (int dir = 0; dir < 2; dir++) {
		run(out, sizeof(out), "ip netns exec %s conntrack -L %s %s", rname, dir ? "-d" : "-s", ip);
		for (char *p = out; (p = strstr(p, ip)); p++)
			n++;
	}
	return n;
}

Test(reuse, the_flows_of_a_deleted_sandbox_do_not_reach_its_successor)
{
	struct sbx a, b;
	make_sbx(&T, "a", "sa", &a);
	struct listener web;
	listen_tcp(&T, inet, 8080, &web);
	cr_assert_eq(probe_tcp(a.netns, INET_ADDR, 8080, ANSWER_MS, NULL, 0), P_OK);
	struct udp_rx rx;
	char seen_ip[32];
	uint16_t seen_port;
	udp_rx_start(&rx, inet, 7005, ANSWER_MS);
	cr_assert_eq(udp_send(a.netns, NULL, 40000, INET_ADDR, 7005, "flow-marker"), 0);
	cr_assert_eq(udp_rx_end(&rx, seen_ip, sizeof(seen_ip), &seen_port), 1);
	cr_assert_gt(flows_of(a.ip), 0, "A's flows are tracked while it lives");

	char out[4096];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", a.id), 0, "%s", out);
	/* A is revoked: its address stays leased, with its flows, until A is reaped; asking
	 * for that address reaps A first */
	char extra[64];
	snprintf(extra, sizeof(extra), "--ip %s", a.ip);
	make_sbx_args(&T, "a", "sb", extra, &b);
	cr_assert_str_eq(b.ip, a.ip);
	cr_assert_eq(flows_of(a.ip), 0, "a conntrack entry of A survived into B's life");

	/* A's peer answers late, to the address and port it saw A's flow come from */
	struct capture c;
	capture_start(&c, b.netns, "eth0", "late-marker", QUIET_MS + 500);
	udp_rx_start(&rx, b.netns, 40000, QUIET_MS + 500);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(udp_send(inet, INET_ADDR, 7005, seen_ip, seen_port, "late-marker"), 0);
	cr_assert_eq(udp_rx_end(&rx, NULL, 0, NULL), 0, "B received A's late replies");
	cr_assert_eq(capture_end(&c), 0, "A's late replies reached B's interface");
	cr_assert_eq(probe_tcp(b.netns, INET_ADDR, 8080, ANSWER_MS, NULL, 0), P_OK,
		     "B's own flows work");
}

/* Until it is reaped, a deleted sandbox's flows are still tracked: the late replies to them
 * must not reach a process that still holds its namespace (its port is revoked). */
Test(reuse, late_replies_do_not_reach_a_deleted_sandbox_still_held)
{
	struct sbx a;
	make_sbx(&T, "a", "sa", &a);
	struct listener hold;
	listen_tcp(&T, a.netns, 9, &hold);
	char held[64], seen_ip[32];
	snprintf(held, sizeof(held), "/proc/%d/ns/net", (int)hold.pid);
	uint16_t seen_port;
	struct udp_rx rx;
	udp_rx_start(&rx, inet, 7005, ANSWER_MS);
	cr_assert_eq(udp_send(a.netns, NULL, 40000, INET_ADDR, 7005, "flow-marker"), 0);
	cr_assert_eq(udp_rx_end(&rx, seen_ip, sizeof(seen_ip), &seen_port), 1);

	char out[4096];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", a.id), 0, "%s", out);
	cr_assert_gt(flows_of(a.ip), 0, "its flows wait for the reap");
	udp_rx_start(&rx, held, 40000, QUIET_MS + 500);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(udp_send(inet, INET_ADDR, 7005, seen_ip, seen_port, "late-marker"), 0);
	cr_assert_eq(udp_rx_end(&rx, NULL, 0, NULL), 0, "a late reply reached the deleted sandbox");
}

Test(reuse, a_failed_flush_keeps_the_address_taken)
{
	struct sbx a, b;
	make_sbx(&T, "a", "sa", &a);
	char out[4096], extra[64];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", a.id), 0, "%s", out);
	/* asking for A's address reaps A; forgetting its flows fails: so does the create */
	int rc = vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sandbox-reap:conntrack=error",
			"sandbox create %s-sb --vpc %s --ip %s", T.tag, vpc, a.ip);
	cr_assert_eq(rc, 1, "%d: %s", rc, out);
	cr_assert(strstr(out, "forget the flows"), "the failure says what: %s", out);
	rc = vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sandbox-reap:conntrack=error",
		    "gc");
	cr_assert_eq(rc, 1, "and so does gc's reap: %d %s", rc, out);
	rc = vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sandbox-reap:conntrack=error",
		    "sandbox create %s-sb --vpc %s --ip %s", T.tag, vpc, a.ip);
	cr_assert_neq(rc, 0, "the address is still taken: %d %s", rc, out);
	snprintf(extra, sizeof(extra), "--ip %s", a.ip);
	make_sbx_args(&T, "a", "sb", extra, &b);
	cr_assert_str_eq(b.ip, a.ip, "once A is really gone its address is free again");
}
