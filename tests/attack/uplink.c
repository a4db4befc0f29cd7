/* SPDX-License-Identifier: MIT */
/* Attack 10, the uplink side: a host on the uplink network routes the VPC's CIDR and the
 * transit range towards our host, and sends packets with forged VPC sources.  It reaches
 * no sandbox and no router. */
#include "tests/attack/attack.h"

static struct topo T;
static struct sbx s1;
static char inet[256], host[256], rns[256], vpc[64], transit[32];

static void setup(void)
{
	topo_setup(&T);
	nspath(T.inet, inet, sizeof(inet));
	nspath(T.host, host, sizeof(host));
	make_vpc(&T, "a", "10.78.0.0/16", true);
	tname(&T, "a", vpc, sizeof(vpc));
	router_ns(&T, "a", rns, sizeof(rns));
	make_sbx(&T, "a", "s1", &s1);
	char out[4096];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json vpc show %s", vpc), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL);
	snprintf(transit, sizeof(transit), "%s",
		 json_string_value(json_object_get(json_object_get(j, "transit"), "router")));
	json_decref(j);
	/* the neighbour on the uplink network routes our private ranges to us */
	cr_assert_eq(run(out, sizeof(out), "ip -n %s route add 10.78.0.0/16 via " UPLINK_ADDR,
			 T.inet), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s route add 198.18.0.0/15 via " UPLINK_ADDR,
			 T.inet), 0, "%s", out);
}

static void teardown(void) { topo_teardown(&T); }

TestSuite(uplink, .init = setup, .fini = teardown, .timeout = 120);

Test(uplink, a_host_on_the_uplink_reaches_no_sandbox_and_no_router)
{
	struct listener in_sbx, in_sbx_udp, in_router;
	listen_tcp(&T, s1.netns, 8080, &in_sbx);
	listen_udp(&T, s1.netns, 7007, &in_sbx_udp);
	listen_tcp(&T, rns, 22, &in_router);
	cr_assert_neq(probe_tcp(inet, s1.ip, 8080, QUIET_MS, NULL, 0), P_OK);
	cr_assert_neq(probe_udp(inet, s1.ip, 7007, QUIET_MS, NULL, 0), P_OK);
	cr_assert_neq(probe_icmp(inet, s1.ip, QUIET_MS), P_OK);
	cr_assert_neq(probe_tcp(inet, transit, 22, QUIET_MS, NULL, 0), P_OK);
	cr_assert_neq(probe_icmp(inet, transit, QUIET_MS), P_OK);
	cr_assert_neq(probe_tcp(inet, "10.78.0.1", 22, QUIET_MS, NULL, 0), P_OK, "the gateway");

	/* forged: VPC sources, the sandbox's own address, the gateway's */
	uint8_t up0[6], wan0[6], f[256];
	if_mac(host, "up0", up0);
	if_mac(inet, "wan0", wan0);
	const char *sources[] = { "10.78.0.9", s1.ip, "10.78.0.1", transit };
	const char *dests[] = { s1.ip, transit, "10.78.0.1" };
	struct capture cs, cr;
	capture_start(&cs, s1.netns, "eth0", "uplink-marker", QUIET_MS + 500);
	capture_start(&cr, rns, "transit", "uplink-marker", QUIET_MS + 500);
	for (size_t i = 0; i < 4; i++)
		for (size_t d = 0; d < 3; d++) {
			size_t len = frame_udp4(f, up0, wan0, sources[i], dests[d], 5000, 7007,
						"uplink-marker");
			cr_assert_eq(send_frames(inet, "wan0", f, len, 1), 0);
		}
	cr_assert_eq(capture_end(&cs), 0, "a frame from the uplink reached the sandbox");
	cr_assert_eq(capture_end(&cr), 0, "a frame from the uplink reached the router");
	cr_assert_eq(listener_count(&in_sbx), 0);
	cr_assert_eq(listener_count(&in_sbx_udp), 0);
	cr_assert_eq(listener_count(&in_router), 0);

	/* the sandbox's own flows still come and go */
	struct listener web;
	listen_tcp(&T, inet, 8080, &web);
	cr_assert_eq(probe_tcp(s1.netns, INET_ADDR, 8080, ANSWER_MS, NULL, 0), P_OK);
}
