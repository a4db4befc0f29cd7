/* SPDX-License-Identifier: MIT */
/* Attacks 2 and 7, on neighbours: ARP claims and forged replies change no neighbour table;
 * broadcast, multicast, DHCP offers and unicast frames to a neighbour's MAC never reach it
 * (there is no L2 path between members: every port is a routed point-to-point link). */
#include "tests/attack/attack.h"

static struct topo T;
static struct pair P;
static char inet[256];
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void setup(void)
{
	topo_setup(&T);
	nspath(T.inet, inet, sizeof(inet));
	pair_setup(&T, "10.72.0.0/16", &P);
}

static void teardown(void) { topo_teardown(&T); }

TestSuite(neighbours, .init = setup, .fini = teardown, .timeout = 120);

/* The neighbour's egress works, and the attacker sees none of it. */
static void neighbour_unharmed(void)
{
	struct capture c;
	struct udp_rx rx;
	capture_start(&c, P.s1.netns, "eth0", "victim-marker", QUIET_MS + 500);
	udp_rx_start(&rx, inet, 7003, QUIET_MS + 500);
	cr_assert_eq(udp_send(P.s2.netns, NULL, 0, INET_ADDR, 7003, "victim-marker"), 0);
	cr_assert_eq(udp_rx_end(&rx, NULL, 0, NULL), 1, "the neighbour's traffic still gets out");
	cr_assert_eq(capture_end(&c), 0, "the attacker saw its neighbour's traffic");
}

Test(neighbours, arp_claims_and_forged_replies_change_no_neighbour_table)
{
	neighbour_unharmed();  /* the tables hold what normal traffic puts there */
	char router_before[4096], nbr_before[4096], after[4096], s2name[128];
	snprintf(s2name, sizeof(s2name), "%s", strrchr(P.s2.netns, '/') + 1);
	neigh_table(P.rname, router_before, sizeof(router_before));
	neigh_table(s2name, nbr_before, sizeof(nbr_before));
	long long before = sandbox_field(&T, P.s1.id, "drops.spoofed", NULL, 0);

	uint8_t f[128];
	const uint8_t zero[6] = { 0 };
	struct { const uint8_t *dmac, *sha; uint16_t op; const char *spa, *tpa; const char *what; }
	attacks[] = {
		{ bcast, P.own, 1, "10.72.0.1", "10.72.0.1", "gratuitous ARP for the gateway" },
		{ bcast, P.own, 1, P.s2.ip, P.s2.ip, "gratuitous ARP for the neighbour" },
		{ bcast, P.own, 2, "10.72.0.1", "10.72.0.1", "gratuitous reply for the gateway" },
		{ P.gw1, P.own, 2, P.s2.ip, "10.72.0.1", "a reply to the router for the neighbour" },
		{ P.gw1, P.nbr, 1, P.s2.ip, "10.72.0.1", "a request as the neighbour (MAC and address)" },
		{ P.gw1, P.own, 1, "10.72.0.200", "10.72.0.1", "a request from an unleased address" },
	};
	for (size_t i = 0; i < sizeof(attacks) / sizeof(*attacks); i++) {
		size_t len = frame_arp(f, attacks[i].dmac, attacks[i].sha, attacks[i].op,
				       attacks[i].sha, attacks[i].spa, zero, attacks[i].tpa);
		cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0, "%s", attacks[i].what);
	}
	usleep(300 * 1000);
	neigh_table(P.rname, after, sizeof(after));
	cr_assert_str_eq(after, router_before, "the router's neighbour table changed");
	neigh_table(s2name, after, sizeof(after));
	cr_assert_str_eq(after, nbr_before, "the neighbour's table changed");
	cr_assert_geq(sandbox_field(&T, P.s1.id, "drops.spoofed", NULL, 0), before + 18,
		      "every forged ARP frame was counted");
	neighbour_unharmed();
	/* its P.own ARP still works: the router answers a request it asks as itself */
	cr_assert_eq(inside(P.s1.netns, "ip neigh flush dev eth0"), 0);
	cr_assert_eq(probe_icmp(P.s1.netns, "10.72.0.1", ANSWER_MS), P_OK);
}

Test(neighbours, frames_to_a_neighbour_never_arrive)
{
	uint8_t f[256];
	const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
	struct { const uint8_t *dmac; const char *dip; uint16_t sport, dport; const char *what; }
	frames[] = {
		{ bcast, "10.72.255.255", 5000, 9, "a broadcast" },
		{ bcast, "255.255.255.255", 67, 68, "a DHCP offer" },
		{ mcast, "224.0.0.251", 5353, 5353, "a multicast" },
		{ P.nbr, P.s2.ip, 5000, 9, "a unicast frame to the neighbour's MAC" },
		{ P.gw1, P.s2.ip, 5000, 9, "a routed datagram to the neighbour" },
	};
	for (size_t i = 0; i < sizeof(frames) / sizeof(*frames); i++) {
		struct capture c;
		capture_start(&c, P.s2.netns, "eth0", "nbr-marker", QUIET_MS);
		size_t len = frame_udp4(f, frames[i].dmac, P.own, P.s1.ip, frames[i].dip, frames[i].sport,
					frames[i].dport, "nbr-marker");
		cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0);
		cr_assert_eq(capture_end(&c), 0, "%s reached the neighbour", frames[i].what);
	}
	/* and through the stack, as a program would */
	struct capture c;
	capture_start(&c, P.s2.netns, "eth0", "nbr-marker", QUIET_MS);
	udp_send(P.s1.netns, NULL, 0, P.s2.ip, 9, "nbr-marker");
	udp_send(P.s1.netns, NULL, 0, "10.72.255.255", 9, "nbr-marker");
	cr_assert_eq(capture_end(&c), 0, "a datagram reached the neighbour");
	cr_assert_eq(probe_tcp(P.s1.netns, P.s2.ip, 22, ANSWER_MS, NULL, 0), P_REFUSED,
		     "a connection to the neighbour is refused at the router");
	neighbour_unharmed();
}
