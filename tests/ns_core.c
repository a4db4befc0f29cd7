/* SPDX-License-Identifier: MIT */
/* The core: egress through the NAT gateway, inbound closed from everywhere, VPCs isolated,
 * and nothing left behind.  Real namespaces, real packets. */
#include <signal.h>

#include "tests/ns_util.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(core, .init = setup, .fini = teardown, .timeout = 120);

#define WAIT 1000  /* ms a probe waits for an answer that must not come */

Test(core, egress_goes_out_through_the_nat_gateway)
{
	char inet[256], peer[64];
	nspath(T.inet, inet, sizeof(inet));
	struct listener tl, ul;
	listen_tcp(&T, inet, 8080, &tl);
	listen_udp(&T, inet, 5353, &ul);
	make_vpc(&T, "a", "10.20.0.0/16", true);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	cr_assert_str_eq(s.ip, "10.20.0.4");

	cr_assert_eq(probe_tcp(s.netns, INET_ADDR, 8080, 3000, peer, sizeof(peer)), P_OK);
	cr_assert_str_eq(peer, UPLINK_ADDR, "the far end must see the host's address, saw %s", peer);
	cr_assert_eq(probe_udp(s.netns, INET_ADDR, 5353, 3000, peer, sizeof(peer)), P_OK);
	cr_assert_str_eq(peer, UPLINK_ADDR);
	cr_assert_eq(probe_icmp(s.netns, INET_ADDR, 3000), P_OK);
	cr_assert_eq(listener_count(&tl), 1);
	cr_assert_eq(listener_count(&ul), 1);
	/* the gateway answers ping, and nothing else */
	cr_assert_eq(probe_icmp(s.netns, "10.20.0.1", 2000), P_OK);
	cr_assert_eq(probe_tcp(s.netns, "10.20.0.1", 22, WAIT, NULL, 0), P_REFUSED);
	/* IPv6 is off in the sandbox: for every interface, and for any made later */
	char out[512];
	const char *C = "/proc/sys/net/ipv6/conf";
	cr_assert_eq(run(out, sizeof(out), "nsenter --net=%s cat %s/all/disable_ipv6"
			 " %s/default/disable_ipv6 %s/lo/disable_ipv6 %s/eth0/disable_ipv6",
			 s.netns, C, C, C, C), 0);
	cr_assert_str_eq(out, "1\n1\n1\n1\n", "disable_ipv6 all, default, lo, eth0: %s", out);
	cr_assert_eq(run(out, sizeof(out), "nsenter --net=%s ip -6 addr", s.netns), 0);
	cr_assert_str_eq(out, "", "no IPv6 address: %s", out);
}

Test(core, inbound_is_closed_from_host_neighbour_and_uplink)
{
	make_vpc(&T, "a", "10.21.0.0/16", true);
	struct sbx s1, s2;
	make_sbx(&T, "a", "s1", &s1);
	make_sbx(&T, "a", "s2", &s2);
	struct listener tl, ul;
	listen_tcp(&T, s1.netns, 80, &tl);
	listen_udp(&T, s1.netns, 53, &ul);

	/* a neighbour in the same subnet: refused at the router, fast */
	cr_assert_eq(probe_tcp(s2.netns, s1.ip, 80, WAIT, NULL, 0), P_REFUSED);
	cr_assert_neq(probe_udp(s2.netns, s1.ip, 53, WAIT, NULL, 0), P_OK);
	cr_assert_neq(probe_icmp(s2.netns, s1.ip, WAIT), P_OK);

	/* the host, even with a route to the VPC through the transit link */
	char out[4096], host[256], inet[256];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json vpc show %s-a", T.tag), 0);
	json_t *j = json_loads(out, 0, NULL);
	const char *router = json_string_value(json_object_get(json_object_get(j, "transit"), "router"));
	cr_assert_eq(run(out, sizeof(out), "ip -n %s route add 10.21.0.0/16 via %s", T.host, router),
		     0, "%s", out);
	json_decref(j);
	nspath(T.host, host, sizeof(host));
	cr_assert_neq(probe_tcp(host, s1.ip, 80, WAIT, NULL, 0), P_OK);
	cr_assert_neq(probe_udp(host, s1.ip, 53, WAIT, NULL, 0), P_OK);
	cr_assert_neq(probe_icmp(host, s1.ip, WAIT), P_OK);

	/* a neighbour on the uplink that routes the VPC's CIDR towards the host */
	nspath(T.inet, inet, sizeof(inet));
	cr_assert_eq(run(out, sizeof(out), "ip -n %s route add 10.21.0.0/16 via " UPLINK_ADDR,
			 T.inet), 0, "%s", out);
	cr_assert_neq(probe_tcp(inet, s1.ip, 80, WAIT, NULL, 0), P_OK);
	cr_assert_neq(probe_udp(inet, s1.ip, 53, WAIT, NULL, 0), P_OK);
	cr_assert_neq(probe_icmp(inet, s1.ip, WAIT), P_OK);

	cr_assert_eq(listener_count(&tl), 0, "a connection reached the sandbox");
	cr_assert_eq(listener_count(&ul), 0, "a datagram reached the sandbox");

	/* and what the sandbox opens itself still works, replies included */
	struct listener il;
	listen_tcp(&T, inet, 8080, &il);
	cr_assert_eq(probe_tcp(s1.netns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
}

Test(core, vpcs_with_the_same_cidr_never_meet)
{
	make_vpc(&T, "a", "10.22.0.0/24", true);
	make_vpc(&T, "b", "10.22.0.0/24", true);
	struct sbx a1, b1, b2;
	make_sbx(&T, "a", "a1", &a1);
	make_sbx(&T, "b", "b1", &b1);
	make_sbx(&T, "b", "b2", &b2);
	cr_assert_str_eq(a1.ip, b1.ip, "both VPCs lease from the same plan");
	struct listener tl;
	listen_tcp(&T, a1.netns, 80, &tl);
	/* b2 aims at a1's address: inside VPC b that is b1, refused like any neighbour */
	cr_assert_neq(probe_tcp(b2.netns, a1.ip, 80, WAIT, NULL, 0), P_OK);
	/* and at VPC a's transit addresses */
	char out[4096];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json vpc show %s-a", T.tag), 0);
	json_t *j = json_loads(out, 0, NULL);
	json_t *tr = json_object_get(j, "transit");
	const char *addrs[] = { json_string_value(json_object_get(tr, "router")),
				json_string_value(json_object_get(tr, "host")) };
	for (int i = 0; i < 2; i++) {
		cr_assert_neq(probe_tcp(b2.netns, addrs[i], 80, WAIT, NULL, 0), P_OK);
		cr_assert_neq(probe_icmp(b2.netns, addrs[i], WAIT), P_OK);
	}
	json_decref(j);
	cr_assert_eq(listener_count(&tl), 0);
}

Test(core, a_vpc_without_nat_has_no_way_out)
{
	char inet[256];
	nspath(T.inet, inet, sizeof(inet));
	struct listener tl;
	listen_tcp(&T, inet, 8080, &tl);
	make_vpc(&T, "a", "10.23.0.0/20", false);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	cr_assert_neq(probe_tcp(s.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_OK);
	cr_assert_neq(probe_icmp(s.netns, INET_ADDR, WAIT), P_OK);
	cr_assert_eq(listener_count(&tl), 0);
}

Test(core, link_local_host_and_router_addresses_are_unreachable)
{
	char host[256], out[1024];
	nspath(T.host, host, sizeof(host));
	/* something listens on the host side, on the host's own and a link-local address */
	cr_assert_eq(run(out, sizeof(out), "ip -n %s addr add 169.254.169.254/32 dev lo", T.host), 0,
		     "%s", out);
	struct listener hl;
	listen_tcp(&T, host, 80, &hl);
	make_vpc(&T, "a", "10.24.0.0/16", true);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	const char *targets[] = { "169.254.169.254", UPLINK_ADDR, "198.18.0.0", "198.18.0.1" };
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		cr_assert_eq(probe_tcp(s.netns, targets[i], 80, WAIT, NULL, 0), P_REFUSED,
			     "TCP to %s must be refused (answered, not left to time out)", targets[i]);
		cr_assert_neq(probe_udp(s.netns, targets[i], 80, WAIT, NULL, 0), P_OK);
	}
	cr_assert_eq(listener_count(&hl), 0);
}

static int count_lines_with(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

Test(core, delete_leaves_nothing_and_forgets_flows)
{
	char inet[256], rns[256], out[65536];
	nspath(T.inet, inet, sizeof(inet));
	router_ns(&T, "a", rns, sizeof(rns));
	struct listener ul;
	listen_udp(&T, inet, 5353, &ul);
	make_vpc(&T, "a", "10.25.0.0/16", true);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	cr_assert_eq(probe_udp(s.netns, INET_ADDR, 5353, 3000, NULL, 0), P_OK);
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a conntrack -L -s %s", T.tag, s.ip);
	cr_assert_geq(count_lines_with(out, "src=10.25.0.4"), 1, "the flow is tracked: %s", out);

	/* A process still inside keeps the namespace (and the port) alive past the delete */
	struct listener keep;
	listen_udp(&T, s.netns, 9999, &keep);
	char held[64];
	snprintf(held, sizeof(held), "/proc/%d/ns/net", (int)keep.pid);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", s.id), 0, "%s", out);
	cr_assert_eq(access(s.netns, F_OK), -1, "the namespace is gone");
	/* ...but its port is revoked: refused everything at once */
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a nft list set inet vpcnet revoked",
	    T.tag);
	cr_assert_eq(count_lines_with(out, "port"), 1, "the port is revoked: %s", out);
	int before = listener_count(&ul);
	cr_assert_eq(probe_udp(held, INET_ADDR, 5353, 1000, NULL, 0), P_TIMEOUT,
		     "a deleted sandbox's port still sends");
	cr_assert_eq(listener_count(&ul), before, "a datagram of a deleted sandbox got out");
	kill(keep.pid, SIGKILL);
	/* Until reaped its address stays leased and its name is free */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox list"), 0);
	cr_assert_str_eq(out, "[]\n");
	struct sbx s2;
	make_sbx(&T, "a", "s1", &s2);
	cr_assert_str_neq(s2.ip, s.ip, "a deleted sandbox's address is not handed out yet");
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", s2.id), 0, "%s", out);
	/* gc reaps: its flows and elements are gone, and its address is free */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json gc"), 0, "%s", out);
	cr_assert(strstr(out, "\"sandboxes_reaped\": 2"), "%s", out);
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a conntrack -L", T.tag);
	cr_assert_eq(count_lines_with(out, "10.25.0.4"), 0, "a flow survived: %s", out);
	const char *sets[] = { "set inet vpcnet ports", "set inet vpcnet port_src",
			       "set arp vpcnet port_src", "set inet vpcnet revoked",
			       "set arp vpcnet revoked", "map inet vpcnet climit",
			       "map inet vpcnet out1" };
	for (size_t i = 0; i < sizeof(sets) / sizeof(*sets); i++) {
		run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a nft list %s", T.tag, sets[i]);
		cr_assert_eq(count_lines_with(out, "elements"), 0, "an element survived: %s", out);
	}
	snprintf(s2.id, sizeof(s2.id), "%s-s3", T.tag);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s --vpc %s-a --ip %s",
			    s2.id, T.tag, s.ip), 0, "its address is free again: %s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", s2.id), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", s.id), 0,
		     "deleting what is gone succeeds: %s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox list"), 0);
	cr_assert_str_eq(out, "[]\n");

	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "vpc delete %s-a", T.tag), 0, "%s", out);
	cr_assert_eq(access(rns, F_OK), -1, "the router namespace is gone");
	run(out, sizeof(out), "ip -n %s -o link", T.host);
	cr_assert_eq(count_lines_with(out, "vpct"), 0, "a transit link survived: %s", out);
	run(out, sizeof(out), "ip netns exec %s nft list ruleset", T.host);
	cr_assert_eq(count_lines_with(out, "vpcnet"), 0, "the host table survived: %s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json vpc list"), 0);
	cr_assert_str_eq(out, "[]\n");
}

Test(core, rulesets_list_and_load_back)
{
	make_vpc(&T, "a", "10.26.0.0/16", true);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	char out[65536];
	const char *where[2];
	char rname[128];
	snprintf(rname, sizeof(rname), "vpcnet-vpc-%s-a", T.tag);
	where[0] = rname;
	where[1] = T.host;
	for (int i = 0; i < 2; i++) {
		char file[256];
		snprintf(file, sizeof(file), "%s/ruleset-%d.nft", T.state_dir, i);
		cr_assert_eq(run(out, sizeof(out), "ip netns exec %s nft list ruleset", where[i]), 0);
		FILE *f = fopen(file, "w");
		cr_assert(f);
		fputs(out, f);
		fclose(f);
		cr_assert(strstr(out, i == 0 ? "\"port" : "\"vpct"), "elements print: %s", out);
		cr_assert_eq(run(out, sizeof(out), "ip netns exec %s nft -c -f %s", where[i], file), 0,
			     "%s does not load back: %s", file, out);
	}
}

Test(core, an_adopted_namespace_is_left_in_place)
{
	char out[4096], ns[64], path[256];
	tname(&T, "own", ns, sizeof(ns));
	cr_assert_eq(run(out, sizeof(out), "ip netns add %s", ns), 0);
	nspath(ns, path, sizeof(path));
	make_vpc(&T, "a", "10.27.0.0/16", true);
	struct sbx s;
	char extra[300];
	snprintf(extra, sizeof(extra), "--netns %s --ifname net1 --ip 10.27.3.3", path);
	make_sbx_args(&T, "a", "s1", extra, &s);
	cr_assert_str_eq(s.ip, "10.27.3.3");
	cr_assert_str_eq(s.netns, path);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -o addr show dev net1", ns), 0, "%s", out);
	cr_assert(strstr(out, "10.27.3.3/16"), "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", s.id), 0, "%s", out);
	cr_assert_eq(access(path, F_OK), 0, "the orchestrator's namespace stays");
	cr_assert_neq(run(out, sizeof(out), "ip -n %s link show dev net1", ns), 0,
		      "our interface leaves it");
	/* the orchestrator drops its namespace without a delete (a container that died
	 * without its runtime's DEL): gc deletes the sandbox, and not another one */
	struct sbx s2, s3;
	snprintf(extra, sizeof(extra), "--netns %s --ifname net1", path);
	make_sbx_args(&T, "a", "s2", extra, &s2);
	make_sbx(&T, "a", "s3", &s3);
	cr_assert_eq(run(out, sizeof(out), "ip netns del %s", ns), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json gc"), 0, "%s", out);
	cr_assert(strstr(out, "\"sandboxes_removed\": 1"), "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox list"), 0, "%s", out);
	cr_assert(!strstr(out, s2.id) && strstr(out, s3.id), "%s", out);
}
