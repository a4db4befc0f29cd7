/* SPDX-License-Identifier: MIT */
/* Attack 6, other tenants: two VPCs with the same CIDR.  A sandbox of one reaches nothing
 * of the other — not its instance (open to the world by its own group), not its router's
 * transit address — also with forged sources. */
#include "tests/attack/attack.h"

static struct topo T;
static struct sbx sa, sb, ib;
static char inet[256], rns_a[256], vpc_b[64], transit_b[32], host_transit_b[32];

static void setup(void)
{
	topo_setup(&T);
	nspath(T.inet, inet, sizeof(inet));
	make_vpc(&T, "a", "10.75.0.0/16", true);
	make_vpc(&T, "b", "10.75.0.0/16", true);
	tname(&T, "b", vpc_b, sizeof(vpc_b));
	char out[4096];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg create world --vpc %s", vpc_b), 0, "%s",
		     out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule add world ingress all 0.0.0.0/0"
			    " --vpc %s", vpc_b), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json vpc show %s", vpc_b), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL), *tr = json_object_get(j, "transit");
	snprintf(transit_b, sizeof(transit_b), "%s", json_string_value(json_object_get(tr, "router")));
	snprintf(host_transit_b, sizeof(host_transit_b), "%s",
		 json_string_value(json_object_get(tr, "host")));
	json_decref(j);
	make_sbx(&T, "a", "sa", &sa);
	make_sbx(&T, "b", "sb", &sb);
	make_instance(&T, "b", "ib", "world", &ib);
	router_ns(&T, "a", rns_a, sizeof(rns_a));
}

static void teardown(void) { topo_teardown(&T); }

TestSuite(tenants, .init = setup, .fini = teardown, .timeout = 120);

Test(tenants, a_vpc_reaches_nothing_of_another_with_the_same_cidr)
{
	cr_assert_str_eq(sa.ip, sb.ip, "both VPCs lease the same first address");
	struct listener db, dns;
	listen_tcp(&T, ib.netns, 5432, &db);
	listen_udp(&T, ib.netns, 5353, &dns);
	cr_assert_eq(probe_tcp(sb.netns, ib.ip, 5432, ANSWER_MS, NULL, 0), P_OK,
		     "inside its own VPC the instance is open to all");

	cr_assert_neq(probe_tcp(sa.netns, ib.ip, 5432, QUIET_MS, NULL, 0), P_OK);
	cr_assert_neq(probe_udp(sa.netns, ib.ip, 5353, QUIET_MS, NULL, 0), P_OK);
	cr_assert_neq(probe_icmp(sa.netns, ib.ip, QUIET_MS), P_OK);
	const char *transits[] = { transit_b, host_transit_b };
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(probe_tcp(sa.netns, transits[i], 5432, ANSWER_MS, NULL, 0), P_REFUSED,
			     "tcp to the other VPC's transit %s", transits[i]);
		cr_assert_neq(probe_udp(sa.netns, transits[i], 5353, QUIET_MS, NULL, 0), P_OK);
	}

	/* forged: the other VPC's router, the instance's own address, as sources */
	char port[32], mac[32];
	uint8_t own[6], gw[6], f[256];
	sandbox_field(&T, sa.id, "port", port, sizeof(port));
	sandbox_field(&T, sa.id, "mac", mac, sizeof(mac));
	mac_parse(mac, own);
	if_mac(rns_a, port, gw);
	const char *sources[] = { transit_b, host_transit_b, ib.ip, "10.75.0.1" };
	struct capture c;
	capture_start(&c, ib.netns, "eth0", "tenant-marker", QUIET_MS + 500);
	for (size_t i = 0; i < 4; i++) {
		size_t len = frame_udp4(f, gw, own, sources[i], ib.ip, 5000, 5353, "tenant-marker");
		cr_assert_eq(send_frames(sa.netns, "eth0", f, len, 2), 0);
		len = frame_udp4(f, gw, own, sources[i], transit_b, 5000, 5353, "tenant-marker");
		cr_assert_eq(send_frames(sa.netns, "eth0", f, len, 2), 0);
	}
	cr_assert_eq(capture_end(&c), 0, "a forged frame reached the other tenant's instance");
	cr_assert_eq(listener_count(&db), 1, "only its own VPC's sandbox reached the database");
	cr_assert_eq(listener_count(&dns), 0);
	cr_assert_eq(probe_tcp(sb.netns, ib.ip, 5432, ANSWER_MS, NULL, 0), P_OK);
}
