/* SPDX-License-Identifier: MIT */
/* Attack 1, address spoofing: the sandbox changes its address, adds one, changes its MAC,
 * or crafts frames with a neighbour's or the gateway's source; none of it leaves its port. */
#include "tests/attack/attack.h"

static struct topo T;
static struct pair P;
static char inet[256];

static void setup(void)
{
	topo_setup(&T);
	nspath(T.inet, inet, sizeof(inet));
	pair_setup(&T, "10.71.0.0/16", &P);
}

static void teardown(void) { topo_teardown(&T); }

TestSuite(spoofing, .init = setup, .fini = teardown, .timeout = 120);

/* UDP datagrams sent from @netns as @sip that reach the internet's port 7001, of @n. */
static int arrived(const char *netns, const char *sip, int n)
{
	struct udp_rx rx;
	udp_rx_start(&rx, inet, 7001, QUIET_MS + 200 * n);
	for (int i = 0; i < n; i++)
		udp_send(netns, sip, 0, INET_ADDR, 7001, "spoof-marker");
	return udp_rx_end(&rx, NULL, 0, NULL);
}

#define sent_from(sip, n) arrived(P.s1.netns, sip, n)

Test(spoofing, another_or_a_second_address_does_not_leave_the_port)
{
	cr_assert_eq(sent_from(P.s1.ip, 1), 1, "the attacker's own address works");
	long long before = sandbox_field(&T, P.s1.id, "drops.spoofed", NULL, 0);

	/* a second address of its own choosing */
	cr_assert_eq(inside(P.s1.netns, "ip addr add 10.71.0.77/16 dev eth0"), 0);
	cr_assert_eq(sent_from("10.71.0.77", 3), 0, "a second address leaves nothing");
	cr_assert_eq(inside(P.s1.netns, "ip addr del 10.71.0.77/16 dev eth0"), 0);

	/* its neighbour's address instead of its own */
	cr_assert_eq(inside(P.s1.netns, "ip addr del %s/16 dev eth0", P.s1.ip), 0);
	cr_assert_eq(inside(P.s1.netns, "ip addr add %s/16 dev eth0", P.s2.ip), 0);
	cr_assert_eq(inside(P.s1.netns, "ip route replace default via 10.71.0.1"), 0);
	cr_assert_eq(sent_from(P.s2.ip, 3), 0, "a neighbour's address leaves nothing");

	cr_assert_gt(sandbox_field(&T, P.s1.id, "drops.spoofed", NULL, 0), before,
		     "the router counted the spoofed packets");
	/* restored, it works again; the neighbour worked all along */
	cr_assert_eq(inside(P.s1.netns, "ip addr del %s/16 dev eth0", P.s2.ip), 0);
	cr_assert_eq(inside(P.s1.netns, "ip addr add %s/16 dev eth0", P.s1.ip), 0);
	cr_assert_eq(inside(P.s1.netns, "ip route replace default via 10.71.0.1"), 0);
	cr_assert_eq(sent_from(P.s1.ip, 1), 1, "its real address works once restored");
	cr_assert_eq(arrived(P.s2.netns, P.s2.ip, 1), 1, "the neighbour was never disturbed");
}

Test(spoofing, another_mac_does_not_leave_the_port)
{
	char mac[32];
	sandbox_field(&T, P.s1.id, "mac", mac, sizeof(mac));
	cr_assert_eq(inside(P.s1.netns, "ip link set eth0 address 02:76:00:00:00:99"), 0);
	cr_assert_eq(sent_from(P.s1.ip, 3), 0, "frames from another MAC leave nothing");
	cr_assert_eq(inside(P.s1.netns, "ip link set eth0 address %s", mac), 0);
	cr_assert_eq(sent_from(P.s1.ip, 1), 1, "its own MAC works once restored");
}

Test(spoofing, crafted_frames_with_a_neighbours_or_the_gateways_source_are_dropped)
{
	const uint8_t *own = P.own, *nbr = P.nbr, *gw = P.gw1;
	uint8_t f[256];

	struct { const uint8_t *smac; const char *sip; const char *what; } forged[] = {
		{ nbr, P.s2.ip, "the neighbour's MAC and address" },
		{ own, P.s2.ip, "its own MAC, the neighbour's address" },
		{ nbr, P.s1.ip, "the neighbour's MAC, its own address" },
		{ gw, "10.71.0.1", "the gateway's MAC and address" },
		{ own, "10.71.0.1", "its own MAC, the gateway's address" },
		{ own, UPLINK_ADDR, "the host's address" },
	};
	for (size_t i = 0; i < sizeof(forged) / sizeof(*forged); i++) {
		struct capture c;
		capture_start(&c, inet, "wan0", "forged-marker", QUIET_MS);
		size_t len = frame_udp4(f, gw, forged[i].smac, forged[i].sip, INET_ADDR, 5000, 7002,
					"forged-marker");
		cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0);
		cr_assert_eq(capture_end(&c), 0, "a frame with %s arrived", forged[i].what);
	}
	/* the same crafted frame with its real source arrives: the path and capture work */
	struct capture c;
	capture_start(&c, inet, "wan0", "honest-marker", ANSWER_MS);
	size_t len = frame_udp4(f, gw, own, P.s1.ip, INET_ADDR, 5000, 7002, "honest-marker");
	cr_assert_eq(send_frames(P.s1.netns, "eth0", f, len, 3), 0);
	cr_assert_eq(capture_end(&c), 3, "an honest crafted frame goes through");
}
