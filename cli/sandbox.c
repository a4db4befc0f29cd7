/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: vpcnet sandbox create ID [--vpc NAME] [--ip ADDR] [--netns PATH] [--ifname NAME]\n"
	"       vpcnet sandbox delete ID\n"
	"       vpcnet sandbox list [--vpc NAME]\n"
	"       vpcnet sandbox show ID\n"
	"       vpcnet sandbox exec ID -- CMD [ARGS...]\n"
	"\n"
	"create  gives sandbox ID (1-64 of [A-Za-z0-9_.-]) a network: a namespace\n"
	"        (/run/netns/vpcnet-sbx-ID, or the existing one at --netns PATH, which is\n"
	"        adopted and left in place on delete), a veth whose inside end is --ifname\n"
	"        (default eth0) and whose outside end is a routed port of the VPC router, an\n"
	"        address from the VPC's subnet (the lowest free, or --ip), a default route via\n"
	"        the gateway.  Nothing can open a connection to it.  Without --vpc it joins the\n"
	"        VPC 'default' (172.31.0.0/16 with NAT), made on first use.\n"
	"delete  removes what create made and forgets the sandbox's flows; deleting a sandbox\n"
	"        that does not exist succeeds.\n"
	"exec    runs CMD inside the sandbox's network namespace.\n";

static void mac_str(const uint8_t m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static json_t *sandbox_json(const struct vpcnet_sandbox *s)
{
	char ip[16], gw[16], mac[18], cidr[24];
	snprintf(cidr, sizeof(cidr), "%s/%u", vpcnet_addr_str(s->addr, ip), s->prefix);
	mac_str(s->mac, mac);
	return json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}",
			 "id", s->id, "vpc", s->vpc, "netns", s->netns, "netns_owned",
			 s->netns_owned, "ifname", s->ifname, "port", s->port, "address", cidr,
			 "ip", ip, "prefix", (int)s->prefix, "mac", mac, "gateway",
			 vpcnet_addr_str(s->gateway, gw), "state", s->state);
}

static void sandbox_print(const struct vpcnet_sandbox *s)
{
	char ip[16], gw[16], mac[18];
	mac_str(s->mac, mac);
	printf("sandbox %s\n", s->id);
	printf("  vpc        %s\n", s->vpc);
	printf("  netns      %s%s\n", s->netns, s->netns_owned ? "" : " (adopted)");
	printf("  interface  %s\n", s->ifname);
	printf("  address    %s/%u\n", vpcnet_addr_str(s->addr, ip), s->prefix);
	printf("  mac        %s\n", mac);
	printf("  gateway    %s\n", vpcnet_addr_str(s->gateway, gw));
	printf("  port       %s (in the VPC router)\n", s->port);
	printf("  state      %s\n", s->state);
}

static int sandbox_create(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vpc", required_argument, NULL, 'v' },
		{ "ip", required_argument, NULL, 'i' },
		{ "netns", required_argument, NULL, 'n' },
		{ "ifname", required_argument, NULL, 'f' },
		{ 0 },
	};
	struct vpcnet_sandbox_spec spec = { 0 };
	int o;
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'v': spec.vpc = optarg; break;
		case 'i': spec.addr = optarg; break;
		case 'n': spec.netns = optarg; break;
		case 'f': spec.ifname = optarg; break;
		case ':': return cli_usage_error(usage, "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error(usage, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(usage, "sandbox create takes one ID");
	spec.id = argv[optind];
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_sandbox s;
	code = 0;
	if (vpcnet_sandbox_create(vn, &spec, &s, &err))
		code = cli_fail(&err);
	else if (c->json)
		cli_print_json(sandbox_json(&s));
	else
		sandbox_print(&s);
	vpcnet_close(vn);
	return code;
}

static int sandbox_delete(struct cli *c, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage_error(usage, "sandbox delete takes one ID");
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	code = vpcnet_sandbox_delete(vn, argv[1], &err) ? cli_fail(&err) : 0;
	vpcnet_close(vn);
	return code;
}

static int list_one(const struct vpcnet_sandbox *s, void *arg)
{
	json_t *arr = arg;
	if (arr)
		return json_array_append_new(arr, sandbox_json(s));
	char ip[16], cidr[24];
	snprintf(cidr, sizeof(cidr), "%s/%u", vpcnet_addr_str(s->addr, ip), s->prefix);
	printf("%-28s %-16s %-18s %-8s %s\n", s->id, s->vpc, cidr, s->state, s->netns);
	return 0;
}

static int sandbox_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "vpc", required_argument, NULL, 'v' }, { 0 } };
	const char *vpc = NULL;
	int o;
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (o == 'v')
			vpc = optarg;
		else if (o == ':')
			return cli_usage_error(usage, "%s needs a value", argv[optind - 1]);
		else
			return cli_usage_error(usage, "unknown option '%s'", argv[optind - 1]);
	}
	if (optind != argc)
		return cli_usage_error(usage, "sandbox list takes no arguments");
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	json_t *arr = c->json ? json_array() : NULL;
	if (!arr)
		printf("%-28s %-16s %-18s %-8s %s\n", "ID", "VPC", "ADDRESS", "STATE", "NETNS");
	code = vpcnet_sandbox_list(vn, vpc, list_one, arr, &err) ? cli_fail(&err) : 0;
	if (arr)
		cli_print_json(arr);
	vpcnet_close(vn);
	return code;
}

static int sandbox_show(struct cli *c, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage_error(usage, "sandbox show takes one ID");
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_sandbox s;
	code = 0;
	if (vpcnet_sandbox_get(vn, argv[1], &s, &err))
		code = cli_fail(&err);
	else if (c->json)
		cli_print_json(sandbox_json(&s));
	else
		sandbox_print(&s);
	vpcnet_close(vn);
	return code;
}

static int sandbox_exec(struct cli *c, int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--"))
		return cli_usage_error(usage, "usage: sandbox exec ID -- CMD [ARGS...]");
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_sandbox s;
	int rc = vpcnet_sandbox_get(vn, argv[1], &s, &err);
	vpcnet_close(vn);
	if (rc)
		return cli_fail(&err);
	int fd = open(s.netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "vpcnet: sandbox %s: enter %s: %s\n", s.id, s.netns, strerror(errno));
		return VPCNET_FAILED;
	}
	close(fd);
	execvp(argv[3], argv + 3);
	fprintf(stderr, "vpcnet: sandbox %s: %s: %s\n", s.id, argv[3], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

int cmd_sandbox(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *verb;
		int (*run)(struct cli *, int, char **);
	} verbs[] = {
		{ "create", sandbox_create }, { "delete", sandbox_delete }, { "list", sandbox_list },
		{ "show", sandbox_show }, { "exec", sandbox_exec },
	};
	if (argc >= 2 && !strcmp(argv[1], "exec")) {
		/* --help only before "--": what follows belongs to CMD. */
		if (cli_wants_help(argc - 1, argv + 1, usage))
			return 0;
		return sandbox_exec(c, argc - 1, argv + 1);
	}
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc < 2)
		return cli_usage_error(usage, "sandbox: a verb is missing");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].verb))
			return verbs[i].run(c, argc - 1, argv + 1);
	return cli_usage_error(usage, "sandbox: unknown verb '%s'", argv[1]);
}
