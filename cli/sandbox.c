/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char sandbox_usage[] =
	"Usage: vpcnet sandbox create ID [--vpc NAME] [--sg A[,B...]] [--ip ADDR] [--netns PATH]\n"
	"                             [--ifname NAME] [--max-connections N] [--tap NAME]\n"
	"                             [--control-port PORT]\n"
	"       vpcnet sandbox set-sg ID A[,B...]\n"
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
	"        --sg names its security groups (up to 5, of its VPC; default: 'default').\n"
	"        --max-connections caps the connections it may have open at once (counted by\n"
	"        the router; default 1024, at most 1000000); past it new ones are refused.\n"
	"        --tap NAME also makes a persistent tap device NAME in the namespace, wired to\n"
	"        the interface both ways (tc redirect): a microVM (Firecracker) on the tap owns\n"
	"        the sandbox's address and MAC (`show` prints them; the guest must use both)\n"
	"        and the interface gets no address.  Everything above holds for the guest.\n"
	"        --control-port PORT (1-65535) lets the host namespace, and nothing else, open\n"
	"        TCP connections to PORT on the sandbox: it connects to the address:port that\n"
	"        `show` prints as 'control' (the VPC router's transit address, which forwards\n"
	"        to the sandbox), so VPCs that share a CIDR still work.  Neither option takes a\n"
	"        network from the warm pool.\n"
	"set-sg  replaces its groups in one atomic change.\n"
	"show    also prints what the router refused from it and towards it (spoofed,\n"
	"        inbound, denied packets).\n"
	"delete  revokes its router port (nothing passes it from then on), removes what create\n"
	"        made and frees its name; its flows and router elements are reaped in a batch\n"
	"        later (every 32 deletes of a VPC, or by gc), its address stays leased until\n"
	"        then.  Deleting a sandbox that does not exist succeeds.\n"
	"exec    runs CMD inside the sandbox's network namespace.\n";

static const char instance_usage[] =
	"Usage: vpcnet instance create NAME --vpc VPC [--sg A[,B...]] [--ip ADDR]\n"
	"                              [--max-connections N]\n"
	"       vpcnet instance set-sg NAME A[,B...]\n"
	"       vpcnet instance delete NAME\n"
	"       vpcnet instance list [--vpc VPC]\n"
	"       vpcnet instance show NAME\n"
	"       vpcnet instance exec NAME -- CMD [ARGS...]\n"
	"\n"
	"An instance is a member of a VPC that is not a sandbox (a database, an internal API): a\n"
	"namespace /run/netns/vpcnet-ins-NAME on the VPC's subnet.  It is reached exactly as its\n"
	"groups' ingress rules allow and sends as their egress rules allow.\n";

struct kind {
	const char *noun;
	const char *what;  /* its name's placeholder in the usage: ID or NAME */
	const char *usage;
	int (*create)(struct vpcnet *, const struct vpcnet_sandbox_spec *, struct vpcnet_sandbox *,
		      struct vpcnet_error *);
	int (*del)(struct vpcnet *, const char *, struct vpcnet_error *);
	int (*get)(struct vpcnet *, const char *, struct vpcnet_sandbox *, struct vpcnet_error *);
	int (*list)(struct vpcnet *, const char *,
		    int (*)(const struct vpcnet_sandbox *, void *), void *, struct vpcnet_error *);
	int (*set_sg)(struct vpcnet *, const char *, const char *const *, unsigned,
		      struct vpcnet_error *);
};

static const struct kind sandboxes = {
	"sandbox", "ID", sandbox_usage, vpcnet_sandbox_create, vpcnet_sandbox_delete,
	vpcnet_sandbox_get, vpcnet_sandbox_list, vpcnet_sandbox_set_sg
};
static const struct kind instances = {
	"instance", "NAME", instance_usage, vpcnet_instance_create, vpcnet_instance_delete,
	vpcnet_instance_get, vpcnet_instance_list, vpcnet_instance_set_sg
};

/* Splits "a,b,c" into @out (at most VPCNET_SG_PER_MEMBER + 1 names, so "too many" shows). */
static unsigned split_groups(char *list, const char **out)
{
	unsigned n = 0;
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t && n <= VPCNET_SG_PER_MEMBER;
	     t = strtok_r(NULL, ",", &save))
		out[n++] = t;
	return n;
}

static void mac_str(const uint8_t m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static json_t *sandbox_json(const struct vpcnet_sandbox *s)
{
	char ip[16], gw[16], mac[18], cidr[24];
	snprintf(cidr, sizeof(cidr), "%s/%u", vpcnet_addr_str(s->addr, ip), s->prefix);
	mac_str(s->mac, mac);
	json_t *groups = json_array();
	for (unsigned i = 0; i < s->ngroups; i++)
		json_array_append_new(groups, json_string(s->groups[i]));
	json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:o, s:I, s:s, s:s}",
			 !strcmp(s->kind, "instance") ? "name" : "id", s->id, "vpc", s->vpc,
			 "netns", s->netns, "netns_owned", s->netns_owned, "ifname", s->ifname,
			 "port", s->port, "address", cidr, "ip", ip, "prefix", (int)s->prefix,
			 "mac", mac, "gateway", vpcnet_addr_str(s->gateway, gw), "groups", groups,
			 "max_connections", (json_int_t)s->max_connections, "state", s->state,
			 "origin", s->origin);
	if (j && s->problem[0])
		json_object_set_new(j, "problem", json_string(s->problem));
	if (j && !strcmp(s->kind, "sandbox")) {
		json_object_set_new(j, "tap", json_string(s->tap));
		json_object_set_new(j, "control_port", json_integer(s->control_port));
	}
	if (j && s->control_port) {
		char ca[16], hp[24];
		snprintf(hp, sizeof(hp), "%s:%u", vpcnet_addr_str(s->control_addr, ca),
			 s->control_host_port);
		json_object_set_new(j, "control_host", json_string(hp));
	}
	return j;
}

static void sandbox_print(const struct vpcnet_sandbox *s)
{
	char ip[16], gw[16], mac[18];
	mac_str(s->mac, mac);
	printf("%s %s\n", s->kind, s->id);
	printf("  vpc        %s\n", s->vpc);
	printf("  netns      %s%s\n", s->netns, s->netns_owned ? "" : " (adopted)");
	printf("  interface  %s\n", s->ifname);
	printf("  address    %s/%u\n", vpcnet_addr_str(s->addr, ip), s->prefix);
	printf("  mac        %s\n", mac);
	printf("  gateway    %s\n", vpcnet_addr_str(s->gateway, gw));
	printf("  groups    ");
	for (unsigned i = 0; i < s->ngroups; i++)
		printf(" %s", s->groups[i]);
	printf("\n  max conns  %u\n", s->max_connections);
	printf("  port       %s (in the VPC router)\n", s->port);
	if (s->tap[0])
		printf("  tap        %s (the guest on it uses the address, mac and gateway above)\n",
		       s->tap);
	if (s->control_port) {
		char ca[16];
		printf("  control    port %u, from the host at %s:%u\n", s->control_port,
		       vpcnet_addr_str(s->control_addr, ca), s->control_host_port);
	}
	printf("  state      %s%s%s%s\n", s->state, s->problem[0] ? " (" : "", s->problem,
	       s->problem[0] ? ": run `vpcnet restore`)" : "");
	if (s->origin[0])
		printf("  origin     %s\n", s->origin);
}

static int sandbox_create(const struct kind *k, struct cli *c, int argc, char **argv)
{
	const char *names[VPCNET_SG_PER_MEMBER + 1];
	static const struct option opts[] = {
		{ "vpc", required_argument, NULL, 'v' },
		{ "sg", required_argument, NULL, 's' },
		{ "ip", required_argument, NULL, 'i' },
		{ "netns", required_argument, NULL, 'n' },
		{ "ifname", required_argument, NULL, 'f' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "tap", required_argument, NULL, 't' },
		{ "control-port", required_argument, NULL, 'c' },
		{ 0 },
	};
	struct vpcnet_sandbox_spec spec = { 0 };
	int o;
	char bad[3];
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'v': spec.vpc = optarg; break;
		case 'i': spec.addr = optarg; break;
		case 'n': spec.netns = optarg; break;
		case 'f': spec.ifname = optarg; break;
		case 't': spec.tap = optarg; break;
		case 'c': {
			char *end;
			errno = 0;
			unsigned long n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || n == 0 || n > 65535)
				return cli_usage_error(k->noun, "--control-port '%s': a TCP port from 1"
						       " to 65535", optarg);
			spec.control_port = n;
			break;
		}
		case 'm': {
			char *end;
			errno = 0;
			unsigned long n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || n == 0 ||
			    n > VPCNET_MAX_CONNECTIONS_MAX)
				return cli_usage_error(k->noun, "--max-connections '%s': a number from 1"
						       " to %u", optarg, VPCNET_MAX_CONNECTIONS_MAX);
			spec.max_connections = n;
			break;
		}
		case 's':
			spec.nsgs = split_groups(optarg, names);
			spec.sgs = names;
			if (spec.nsgs == 0)
				return cli_usage_error(k->noun, "%s create: --sg needs a group name", k->noun);
			break;
		case ':':
			return cli_usage_error(k->noun, "%s create: %s needs a value", k->noun,
					       argv[optind - 1]);
		default:
			return cli_usage_error(k->noun, "%s create: unknown option '%s'", k->noun,
					       cli_unknown_option(argv, bad));
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(k->noun, "%s create takes one %s", k->noun, k->what);
	spec.id = argv[optind];
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_sandbox s;
	code = 0;
	if (k->create(vn, &spec, &s, &err))
		code = cli_fail(&err);
	else if (c->json)
		cli_print_json(sandbox_json(&s));
	else
		sandbox_print(&s);
	vpcnet_close(vn);
	return code;
}

static int sandbox_delete(const struct kind *k, struct cli *c, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage_error(k->noun, "%s delete takes one %s", k->noun, k->what);
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	code = k->del(vn, argv[1], &err) ? cli_fail(&err) : 0;
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

static int sandbox_list(const struct kind *k, struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "vpc", required_argument, NULL, 'v' }, { 0 } };
	const char *vpc = NULL;
	int o;
	char bad[3];
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (o == 'v')
			vpc = optarg;
		else if (o == ':')
			return cli_usage_error(k->noun, "%s list: %s needs a value", k->noun,
					       argv[optind - 1]);
		else
			return cli_usage_error(k->noun, "%s list: unknown option '%s'", k->noun,
					       cli_unknown_option(argv, bad));
	}
	if (optind != argc)
		return cli_usage_error(k->noun, "%s list takes no arguments", k->noun);
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	json_t *arr = c->json ? json_array() : NULL;
	if (!arr)
		printf("%-28s %-16s %-18s %-8s %s\n", "ID", "VPC", "ADDRESS", "STATE", "NETNS");
	code = k->list(vn, vpc, list_one, arr, &err) ? cli_fail(&err) : 0;
	if (arr)
		cli_print_json(arr);
	vpcnet_close(vn);
	return code;
}

static int sandbox_show(const struct kind *k, struct cli *c, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage_error(k->noun, "%s show takes one %s", k->noun, k->what);
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_sandbox s;
	struct vpcnet_drops d;
	code = 0;
	if (k->get(vn, argv[1], &s, &err)) {
		code = cli_fail(&err);
		goto out;
	}
	struct vpcnet_error derr = { 0 };
	bool drops = !vpcnet_member_drops(vn, argv[1], k == &instances, &d, &derr);
	if (c->json) {
		json_t *j = sandbox_json(&s);
		if (drops)
			json_object_set_new(j, "drops", json_pack("{s:I, s:I, s:I}",
				"spoofed", (json_int_t)d.spoofed, "inbound", (json_int_t)d.inbound,
				"denied", (json_int_t)d.denied));
		cli_print_json(j);
	} else {
		sandbox_print(&s);
		if (drops)
			printf("  refused    %llu spoofed, %llu inbound, %llu denied (packets)\n",
			       (unsigned long long)d.spoofed, (unsigned long long)d.inbound,
			       (unsigned long long)d.denied);
		else
			printf("  refused    unknown: %s\n", derr.msg);
	}
out:
	vpcnet_close(vn);
	return code;
}

static int sandbox_exec(const struct kind *k, struct cli *c, int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--"))
		return cli_usage_error(k->noun, "%s exec: NAME -- CMD [ARGS...] expected", k->noun);
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_sandbox s;
	int rc = k->get(vn, argv[1], &s, &err);
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

static int sandbox_set_sg(const struct kind *k, struct cli *c, int argc, char **argv)
{
	if (argc != 3)
		return cli_usage_error(k->noun, "%s set-sg takes %s and A[,B...]", k->noun, k->what);
	const char *names[VPCNET_SG_PER_MEMBER + 1];
	unsigned n = split_groups(argv[2], names);
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	code = 0;
	if (k->set_sg(vn, argv[1], names, n, &err))
		code = cli_fail(&err);
	else if (c->json) {
		unsigned msgs, elems;
		vpcnet_last_batch(vn, &msgs, &elems);
		cli_print_json(json_pack("{s:s, s:i}", "id", argv[1], "nft_messages", msgs));
	}
	vpcnet_close(vn);
	return code;
}

static int run_kind(const struct kind *k, struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *verb;
		int (*run)(const struct kind *, struct cli *, int, char **);
	} verbs[] = {
		{ "create", sandbox_create }, { "delete", sandbox_delete }, { "list", sandbox_list },
		{ "show", sandbox_show }, { "exec", sandbox_exec }, { "set-sg", sandbox_set_sg },
	};
	if (argc >= 2 && !strcmp(argv[1], "exec")) {
		/* --help only before "--": what follows belongs to CMD. */
		if (cli_wants_help(argc - 1, argv + 1, k->usage))
			return 0;
		return sandbox_exec(k, c, argc - 1, argv + 1);
	}
	if (cli_wants_help(argc, argv, k->usage))
		return 0;
	if (argc < 2)
		return cli_usage_error(k->noun, "%s: a verb is missing", k->noun);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].verb))
			return verbs[i].run(k, c, argc - 1, argv + 1);
	return cli_usage_error(k->noun, "%s: unknown verb '%s'", k->noun, argv[1]);
}

int cmd_sandbox(struct cli *c, int argc, char **argv)
{
	return run_kind(&sandboxes, c, argc, argv);
}

int cmd_instance(struct cli *c, int argc, char **argv)
{
	return run_kind(&instances, c, argc, argv);
}
