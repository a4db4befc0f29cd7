/* SPDX-License-Identifier: MIT */
/* Attack 3, IPv6: the VPC is IPv4-only, and IPv6 is closed, not forgotten.  The sandbox
 * turns IPv6 back on, gives itself addresses, and sends router advertisements, neighbour
 * solicitations and datagrams to the router, its neighbour and the internet: nothing
 * passes, nothing in the router changes. */
#include <arpa/inet.h>

#include "tests/attack/attack.h"

static struct topo T;
static struct pair P;
static char inet[256], host[256];

static void setup(void)
{
	topo_setup(&T);
	nspath(T.inet, inet, sizeof(inet));
	nspath(T.host, host, sizeof(host));
	pair_setup(&T, "10.73.0.0/16", &P);
	/* an IPv6 internet (the test's own fixture) */
	char out[1024];
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -6 addr add 2001:db8:2::2/64 dev wan0 nodad",
			 T.inet), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -6 addr add 2001:db8:2::1/64 dev up0 nodad",
			 T.host), 0, "%s", out);
}

static void teardown(void) { topo_teardown(&T); }

TestSuite(ipv6, .init = setup, .fini = teardown, .timeout = 120);

static void router_v6_state(char *out, size_t n)
{
	char a[2048], r[2048], nb[2048];
	run(a, sizeof(a), "ip -n %s -6 addr show", P.rname);
	run(r, sizeof(r), "ip -n %s -6 route show table all", P.rname);
	run(nb, sizeof(nb), "ip -n %s -6 neigh show", P.rname);
	snprintf(out, n, "addr:\n%s\nroute:\n%s\nneigh:\n%s", a, r, nb);
}

Test(ipv6, turned_back_on_nothing_passes_and_nothing_changes)
{
	char out[4096], before[8192], after[8192];
	cr_assert_eq(run(out, sizeof(out), "ip netns exec %s cat /proc/sys/net/ipv6/conf/eth0/"
			 "disable_ipv6", strrchr(P.s1.netns, '/') + 1), 0);
	cr_assert_eq(out[0], '1', "vpcnet left IPv6 off inside the sandbox: %s", out);
	router_v6_state(before, sizeof(before));
	cr_assert_null(strstr(before, P.port1), "the router's port has IPv6: %s", before);

	/* the attacker is root inside: IPv6 back on, addresses of its choosing */
	cr_assert_eq(inside(P.s1.netns, "sysctl -qw net.ipv6.conf.all.disable_ipv6=0"), 0);
	cr_assert_eq(inside(P.s1.netns, "sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0"), 0);
	cr_assert_eq(inside(P.s1.netns, "ip -6 addr add 2001:db8:1::5/64 dev eth0 nodad"), 0);
	cr_assert_eq(inside(P.s1.netns, "ip -6 addr add fe80::5/64 dev eth0 nodad"), 0);

	uint8_t f[256];
	const uint8_t all_nodes[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	const uint8_t solicited[6] = { 0x33, 0x33, 0xff, 0, 0, 1 };
	uint8_t ra[12 + 8] = { 64, 0, 0x07, 0x08 };  /* hop limit 64, lifetime 1800 s */
	ra[12] = 1, ra[13] = 1;                       /* option: source link-layer address */
	memcpy(ra + 14, P.own, 6);
	uint8_t ns[4 + 16] = { 0 };
	inet_pton(AF_INET6, "fe80::1", ns + 4);       /* "who has fe80::1?" */
	struct capture ci, ch, cn;
	capture_start(&ci, inet, "wan0", "v6-marker", QUIET_MS + 500);
	capture_start(&ch, host, "up0", "v6-marker", QUIET_MS + 500);
	capture_start(&cn, P.s2.netns, "eth0", "v6-marker", QUIET_MS + 500);
	size_t len = frame_udp6(f, P.gw1, P.own, "2001:db8:1::5", "2001:db8:2::2", 5000, 7004,
				"v6-marker");
	cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0, "UDP to the internet");
	len = frame_tcp6_syn(f, P.gw1, P.own, "2001:db8:1::5", "2001:db8:2::2", 5000, 443, "v6-marker");
	cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0, "TCP to the internet");
	len = frame_tcp6_syn(f, P.nbr, P.own, "fe80::5", "fe80::1", 5000, 22, "v6-marker");
	cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0, "TCP to the neighbour's MAC");
	len = frame_udp6(f, P.gw1, P.own, "fe80::5", "2001:db8:2::1", 5000, 7004, "v6-marker");
	cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0, "UDP to the host");
	len = frame_udp6(f, P.nbr, P.own, "fe80::5", "fe80::1", 5000, 7004, "v6-marker");
	cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0, "UDP to the neighbour's MAC");
	len = frame_udp6(f, all_nodes, P.own, "fe80::5", "ff02::1", 5000, 7004, "v6-marker");
	cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0, "UDP to all nodes");
	len = frame_icmp6(f, all_nodes, P.own, "fe80::5", "ff02::1", 134, ra, sizeof(ra));
	cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0, "router advertisement");
	len = frame_icmp6(f, solicited, P.own, "fe80::5", "ff02::1:ff00:1", 135, ns, sizeof(ns));
	cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0, "neighbour solicitation");
	/* and through its P.own stack, as a program would */
	inside(P.s1.netns, "ip -6 route add default via fe80::1 dev eth0");
	inside(P.s1.netns, "busybox ping -6 -c 1 -W 1 2001:db8:2::2");

	cr_assert_eq(capture_end(&ci), 0, "IPv6 reached the internet");
	cr_assert_eq(capture_end(&ch), 0, "IPv6 reached the host");
	cr_assert_eq(capture_end(&cn), 0, "IPv6 reached the neighbour");
	router_v6_state(after, sizeof(after));
	cr_assert_str_eq(after, before, "the router's IPv6 state changed");

	/* IPv4 goes on working, for the attacker too */
	struct udp_rx rx;
	udp_rx_start(&rx, inet, 7004, ANSWER_MS);
	cr_assert_eq(udp_send(P.s1.netns, NULL, 0, INET_ADDR, 7004, "v4-marker"), 0);
	cr_assert_eq(udp_rx_end(&rx, NULL, 0, NULL), 1);
}
