/* SPDX-License-Identifier: MIT */
/* Attack 9, exhaustion: a sandbox opening flows as fast as it can is capped at its
 * --max-connections by the router's connection count, and its neighbour's new
 * connections go through meanwhile. */
#include "tests/attack/attack.h"

static struct topo T;
static char inet[256];

static void setup(void)
{
	topo_setup(&T);
	nspath(T.inet, inet, sizeof(inet));
	make_vpc(&T, "a", "10.77.0.0/16", true);
}

static void teardown(void) { topo_teardown(&T); }

TestSuite(exhaustion, .init = setup, .fini = teardown, .timeout = 120);

#define LIMIT 20
#define TRIES 60

Test(exhaustion, a_flood_of_flows_is_capped_and_the_neighbour_still_connects)
{
	struct sbx s1, s2;
	char extra[64], out[4096];
	snprintf(extra, sizeof(extra), "--max-connections %d", LIMIT);
	make_sbx_args(&T, "a", "s1", extra, &s1);
	make_sbx(&T, "a", "s2", &s2);
	cr_assert_eq(sandbox_field(&T, s1.id, "max_connections", NULL, 0), LIMIT);
	cr_assert_eq(sandbox_field(&T, s2.id, "max_connections", NULL, 0), 1024, "the default");
	struct listener web;
	listen_tcp(&T, inet, 8080, &web);

	/* every datagram from a new source port is a new flow */
	struct udp_rx rx;
	udp_rx_start(&rx, inet, 7006, QUIET_MS + 20 * TRIES);
	for (int i = 0; i < TRIES; i++)
		udp_send(s1.netns, NULL, 41000 + i, INET_ADDR, 7006, "flood-marker");
	int got = udp_rx_end(&rx, NULL, 0, NULL);
	cr_assert_eq(got, LIMIT, "%d of %d flows got out, the limit is %d", got, TRIES, LIMIT);
	cr_assert_eq(probe_tcp(s1.netns, INET_ADDR, 8080, ANSWER_MS, NULL, 0), P_REFUSED,
		     "over its limit, a new connection is refused at once");
	cr_assert_geq(sandbox_field(&T, s1.id, "drops.denied", NULL, 0), TRIES - LIMIT);

	/* the neighbour is not affected */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(probe_tcp(s2.netns, INET_ADDR, 8080, ANSWER_MS, NULL, 0), P_OK);
	cr_assert_eq(listener_count(&web), 3);

	/* bad limits are refused, naming the option */
	int rc = vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-s3 --vpc %s-a "
			"--max-connections 0", T.tag, T.tag);
	cr_assert_eq(rc, 2, "%s", out);
	cr_assert(strstr(out, "--max-connections"), "%s", out);
	rc = vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-s3 --vpc %s-a "
		    "--max-connections 12x", T.tag, T.tag);
	cr_assert_eq(rc, 2, "%s", out);
}
