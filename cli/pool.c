/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: vpcnet pool fill VPC N\n"
	"       vpcnet pool show VPC\n"
	"       vpcnet pool drain VPC\n"
	"\n"
	"A warm pool of ready sandbox networks: each a namespace (/run/netns/vpcnet-pool-...),\n"
	"a routed port and an address of the VPC, in no group: it sends nothing and nothing\n"
	"reaches it.  `sandbox create` takes one when the VPC has one and the sandbox asks for\n"
	"nothing of its own (--ip, --netns, --ifname, --max-connections): it then only joins\n"
	"its groups, which is most of what a create costs gone from the cold-start path.\n"
	"fill   makes N more (1-10000); show  counts the ready ones; drain  removes them all.\n"
	"`vpc delete` drains the VPC's pool first.\n";

int cmd_pool(struct cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc < 3)
		return cli_usage_error("pool", "pool needs a verb and a VPC");
	const char *verb = argv[1], *vpc = argv[2];
	unsigned long n = 0;
	if (!strcmp(verb, "fill")) {
		char *end;
		errno = 0;
		if (argc != 4 || (n = strtoul(argv[3], &end, 10), errno || *end || argv[3][0] == '-' ||
				  n == 0 || n > VPCNET_POOL_MAX))
			return cli_usage_error("pool", "pool fill VPC N: N from 1 to %u",
					       VPCNET_POOL_MAX);
	} else if (strcmp(verb, "show") && strcmp(verb, "drain")) {
		return cli_usage_error("pool", "pool: unknown verb '%s'", verb);
	} else if (argc != 3) {
		return cli_usage_error("pool", "pool %s takes one VPC", verb);
	}
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	unsigned count = 0, ready = 0;
	int rc;
	if (!strcmp(verb, "fill"))
		rc = vpcnet_pool_fill(vn, vpc, n, &count, &err);
	else if (!strcmp(verb, "drain"))
		rc = vpcnet_pool_drain(vn, vpc, &count, &err);
	else
		rc = 0;
	if (!rc || !strcmp(verb, "fill"))  /* a partial fill still says where the pool is */
		vpcnet_pool_count(vn, vpc, &ready, NULL);
	vpcnet_close(vn);
	if (rc) {
		code = cli_fail(&err);
		if (strcmp(verb, "fill"))
			return code;
	}
	if (c->json && !strcmp(verb, "show"))
		cli_print_json(json_pack("{s:s, s:i}", "vpc", vpc, "ready", ready));
	else if (c->json)
		cli_print_json(json_pack("{s:s, s:i, s:i}", "vpc", vpc,
					 !strcmp(verb, "fill") ? "made" : "removed", count,
					 "ready", ready));
	else if (!strcmp(verb, "show"))
		printf("pool of %s: %u ready\n", vpc, ready);
	else
		printf("pool of %s: %u %s, %u ready\n", vpc, count,
		       !strcmp(verb, "fill") ? "made" : "removed", ready);
	return rc ? code : 0;
}
