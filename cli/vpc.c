/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: vpcnet vpc create NAME --cidr CIDR [--nat] [--uplink IFACE]\n"
	"       vpcnet vpc delete NAME [--force]\n"
	"       vpcnet vpc list\n"
	"       vpcnet vpc show NAME\n"
	"\n"
	"create  makes the VPC's router namespace (/run/netns/vpcnet-vpc-NAME), its transit\n"
	"        link to the host and one subnet spanning CIDR (an IPv4 prefix from /16 to /28)\n"
	"        with the gateway on its first address.  --nat adds the NAT gateway: a default\n"
	"        route and masquerade out of the uplink (default: the host's default-route\n"
	"        device).  Without --nat the VPC has no way out.  NAME: 1-32 of [a-z0-9-].\n"
	"delete  removes it; refused (exit 4) while sandboxes remain, unless --force deletes\n"
	"        them too.  Deleting a VPC that does not exist succeeds.\n";

static json_t *vpc_json(const struct vpcnet_vpc *v)
{
	char net[16], gw[16], th[16], tr[16], cidr[24];
	snprintf(cidr, sizeof(cidr), "%s/%u", vpcnet_addr_str(v->network, net), v->prefix);
	return json_pack("{s:s, s:s, s:s, s:b, s:s?, s:s, s:{s:s, s:s, s:s}, s:i, s:s, s:s?}",
			 "name", v->name, "cidr", cidr, "gateway", vpcnet_addr_str(v->gateway, gw),
			 "nat", v->nat, "uplink", v->uplink[0] ? v->uplink : NULL,
			 "netns", v->netns, "transit", "host_if", v->transit_if,
			 "host", vpcnet_addr_str(v->transit_host, th), "router",
			 vpcnet_addr_str(v->transit_router, tr), "sandboxes", (int)v->sandboxes,
			 "state", v->state, "problem", v->problem[0] ? v->problem : NULL);
}

static void vpc_print(const struct vpcnet_vpc *v)
{
	char net[16], gw[16], th[16], tr[16];
	printf("vpc %s\n", v->name);
	printf("  cidr       %s/%u\n", vpcnet_addr_str(v->network, net), v->prefix);
	printf("  gateway    %s\n", vpcnet_addr_str(v->gateway, gw));
	printf("  nat        %s%s%s\n", v->nat ? "yes, out of " : "no (no way out)",
	       v->nat ? v->uplink : "", "");
	printf("  netns      %s\n", v->netns);
	printf("  transit    %s %s <-> router %s\n", v->transit_if,
	       vpcnet_addr_str(v->transit_host, th), vpcnet_addr_str(v->transit_router, tr));
	printf("  sandboxes  %u\n", v->sandboxes);
	printf("  state      %s%s%s%s\n", v->state, v->problem[0] ? " (" : "", v->problem,
	       v->problem[0] ? ": run `vpcnet restore`)" : "");
}

static int vpc_create(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cidr", required_argument, NULL, 'c' },
		{ "nat", no_argument, NULL, 'n' },
		{ "uplink", required_argument, NULL, 'u' },
		{ 0 },
	};
	struct vpcnet_vpc_spec spec = { 0 };
	int o;
	char bad[3];
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'c': spec.cidr = optarg; break;
		case 'n': spec.nat = true; break;
		case 'u': spec.uplink = optarg; break;
		case ':':
			return cli_usage_error("vpc", "vpc create: %s needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("vpc", "vpc create: unknown option '%s'",
					       cli_unknown_option(argv, bad));
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("vpc", "vpc create takes one NAME");
	if (!spec.cidr)
		return cli_usage_error("vpc", "vpc create: --cidr is required");
	spec.name = argv[optind];
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_vpc v;
	code = 0;
	if (vpcnet_vpc_create(vn, &spec, &v, &err))
		code = cli_fail(&err);
	else if (c->json)
		cli_print_json(vpc_json(&v));
	else
		vpc_print(&v);
	vpcnet_close(vn);
	return code;
}

static int vpc_delete(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "force", no_argument, NULL, 'f' }, { 0 } };
	bool force = false;
	int o;
	char bad[3];
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'f')
			return cli_usage_error("vpc", "vpc delete: unknown option '%s'",
					       cli_unknown_option(argv, bad));
		force = true;
	}
	if (optind != argc - 1)
		return cli_usage_error("vpc", "vpc delete takes one NAME");
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	code = vpcnet_vpc_delete(vn, argv[optind], force, &err) ? cli_fail(&err) : 0;
	vpcnet_close(vn);
	return code;
}

static int list_one(const struct vpcnet_vpc *v, void *arg)
{
	json_t *arr = arg;
	if (arr)
		return json_array_append_new(arr, vpc_json(v));
	char net[16], cidr[24];
	snprintf(cidr, sizeof(cidr), "%s/%u", vpcnet_addr_str(v->network, net), v->prefix);
	printf("%-20s %-18s %-4s %-10s %9u  %s\n", v->name, cidr, v->nat ? "yes" : "no",
	       v->uplink[0] ? v->uplink : "-", v->sandboxes, v->state);
	return 0;
}

static int vpc_list(struct cli *c, int argc, char **argv)
{
	if (argc != 1)
		return cli_usage_error("vpc", "vpc list takes no arguments");
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	json_t *arr = c->json ? json_array() : NULL;
	if (!c->json)
		printf("%-20s %-18s %-4s %-10s %9s  %s\n", "NAME", "CIDR", "NAT", "UPLINK",
		       "SANDBOXES", "STATE");
	code = vpcnet_vpc_list(vn, list_one, arr, &err) ? cli_fail(&err) : 0;
	if (arr)
		cli_print_json(arr);
	vpcnet_close(vn);
	return code;
}

static int vpc_show(struct cli *c, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage_error("vpc", "vpc show takes one NAME");
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_vpc v;
	code = 0;
	if (vpcnet_vpc_get(vn, argv[1], &v, &err))
		code = cli_fail(&err);
	else if (c->json)
		cli_print_json(vpc_json(&v));
	else
		vpc_print(&v);
	vpcnet_close(vn);
	return code;
}

int cmd_vpc(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *verb;
		int (*run)(struct cli *, int, char **);
	} verbs[] = {
		{ "create", vpc_create }, { "delete", vpc_delete },
		{ "list", vpc_list }, { "show", vpc_show },
	};
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc < 2)
		return cli_usage_error("vpc", "vpc: a verb is missing");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].verb))
			return verbs[i].run(c, argc - 1, argv + 1);
	return cli_usage_error("vpc", "vpc: unknown verb '%s'", argv[1]);
}
