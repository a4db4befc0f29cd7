/* SPDX-License-Identifier: MIT */
/* Attacks 4 and 5: what a sandbox may never reach, whatever its groups allow — link-local
 * (the metadata address above all), the host's addresses, the router's addresses — even
 * with something listening there.  The one thing given on purpose: the gateway answers
 * ping (so that tools that check their gateway work), and nothing else. */
#include "tests/attack/attack.h"

static struct topo T;
static struct sbx s1;
static char inet[256], host[256], rns[256], vpc[64];
static char host_transit[32], router_transit[32];

static void setup(void)
{
	topo_setup(&T);
	nspath(T.inet, inet, sizeof(inet));
	nspath(T.host, host, sizeof(host));
	make_vpc(&T, "a", "10.74.0.0/16", true);
	tname(&T, "a", vpc, sizeof(vpc));
	router_ns(&T, "a", rns, sizeof(rns));
	char out[4096];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json vpc show %s", vpc), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL), *tr = json_object_get(j, "transit");
	snprintf(host_transit, sizeof(host_transit), "%s",
		 json_string_value(json_object_get(tr, "host")));
	snprintf(router_transit, sizeof(router_transit), "%s",
		 json_string_value(json_object_get(tr, "router")));
	json_decref(j);
	/* a group that allows everything, on purpose: the house rules must still hold */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg create open --vpc %s", vpc), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule add open egress all 0.0.0.0/0"), 0,
		     "%s", out);
	make_sbx_args(&T, "a", "s1", "--sg open,default", &s1);
}

static void teardown(void) { topo_teardown(&T); }

TestSuite(reach, .init = setup, .fini = teardown, .timeout = 180);

Test(reach, link_local_and_the_metadata_address_stay_unreachable)
{
	char out[1024];
	/* a metadata service on the host side, listening */
	cr_assert_eq(run(out, sizeof(out), "ip -n %s addr add 169.254.169.254/32 dev lo", T.host), 0,
		     "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s addr add 169.254.0.1/32 dev lo", T.host), 0,
		     "%s", out);
	struct listener tcp80, udp53;
	listen_tcp(&T, host, 80, &tcp80);
	listen_udp(&T, host, 53, &udp53);
	cr_assert_eq(probe_tcp(host, "169.254.169.254", 80, ANSWER_MS, NULL, 0), P_OK,
		     "the metadata service answers on the host itself");
	const char *targets[] = { "169.254.169.254", "169.254.0.1", "169.254.255.254" };
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(probe_tcp(s1.netns, targets[i], 80, ANSWER_MS, NULL, 0), P_REFUSED,
			     "tcp %s:80", targets[i]);
		cr_assert_neq(probe_udp(s1.netns, targets[i], 53, QUIET_MS, NULL, 0), P_OK,
			      "udp %s:53", targets[i]);
		cr_assert_neq(probe_icmp(s1.netns, targets[i], QUIET_MS), P_OK, "icmp %s", targets[i]);
	}
	cr_assert_eq(listener_count(&tcp80), 1, "only the host's own check reached the service");
	cr_assert_eq(listener_count(&udp53), 0);
	cr_assert_gt(sandbox_field(&T, s1.id, "drops.denied", NULL, 0), 0, "refusals are counted");
	struct listener web;
	listen_tcp(&T, inet, 8080, &web);
	cr_assert_eq(probe_tcp(s1.netns, INET_ADDR, 8080, ANSWER_MS, NULL, 0), P_OK,
		     "the internet is reachable all along");
}

Test(reach, the_host_and_the_router_answer_nothing_but_ping_to_the_gateway)
{
	static const uint16_t tcp_ports[] = { 22, 53, 80, 443, 8080 };
	static const uint16_t udp_ports[] = { 53, 123 };
	struct listener l[2][7];
	const char *where[2] = { host, rns };
	for (int w = 0; w < 2; w++) {  /* listeners on all addresses of the host and the router */
		for (size_t i = 0; i < 5; i++)
			listen_tcp(&T, where[w], tcp_ports[i], &l[w][i]);
		for (size_t i = 0; i < 2; i++)
			listen_udp(&T, where[w], udp_ports[i], &l[w][5 + i]);
	}
	const char *targets[] = { UPLINK_ADDR, host_transit, router_transit, "10.74.0.1" };
	for (size_t t = 0; t < 4; t++) {
		for (size_t i = 0; i < 5; i++)
			cr_assert_eq(probe_tcp(s1.netns, targets[t], tcp_ports[i], ANSWER_MS, NULL, 0),
				     P_REFUSED, "tcp %s:%u", targets[t], tcp_ports[i]);
		for (size_t i = 0; i < 2; i++)
			cr_assert_neq(probe_udp(s1.netns, targets[t], udp_ports[i], QUIET_MS, NULL, 0),
				      P_OK, "udp %s:%u", targets[t], udp_ports[i]);
	}
	for (int w = 0; w < 2; w++)
		for (size_t i = 0; i < 7; i++)
			cr_assert_eq(listener_count(&l[w][i]), 0, "a listener in the %s heard the sandbox",
				     w ? "router" : "host");
	for (size_t t = 0; t < 3; t++)
		cr_assert_neq(probe_icmp(s1.netns, targets[t], QUIET_MS), P_OK, "ping %s", targets[t]);
	cr_assert_eq(probe_icmp(s1.netns, "10.74.0.1", ANSWER_MS), P_OK,
		     "the gateway answers ping: the one thing given on purpose");
	/* the listeners were there to hear: from their own namespace they answer */
	cr_assert_eq(probe_tcp(host, UPLINK_ADDR, 22, ANSWER_MS, NULL, 0), P_OK);
	cr_assert_eq(probe_tcp(rns, router_transit, 22, ANSWER_MS, NULL, 0), P_OK);
}
