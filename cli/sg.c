/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: vpcnet sg create NAME --vpc VPC [--description TEXT]\n"
	"       vpcnet sg delete NAME [--vpc VPC]\n"
	"       vpcnet sg list [--vpc VPC]\n"
	"       vpcnet sg show NAME [--vpc VPC]\n"
	"       vpcnet sg rule add NAME egress|ingress PROTO[:PORTS] TARGET [--vpc VPC]\n"
	"       vpcnet sg rule del NAME egress|ingress PROTO[:PORTS] TARGET [--vpc VPC]\n"
	"\n"
	"  PROTO   tcp | udp | icmp | all          PORTS  N or N-M, tcp/udp only; omitted: all\n"
	"  TARGET  an IPv4 address or CIDR (0.0.0.0/0, 198.51.100.0/24, 192.0.2.7)\n"
	"          or sg:OTHER: the current members (sandboxes and instances) of group OTHER\n"
	"\n"
	"A group belongs to one VPC; NAME (1-32 of [A-Za-z0-9_.-]) is unique within it, and\n"
	"--vpc may be left out when it is unique on the host.  Rules only allow (AWS\n"
	"semantics): a member may send what any of its groups' egress rules allows, an instance\n"
	"accepts what any of its groups' ingress rules allows, replies pass, and nothing ever\n"
	"opens a connection to a sandbox.  Every VPC has a group 'default' (egress all\n"
	"0.0.0.0/0, ingress all sg:default).  delete is refused (exit 4) while a sandbox or\n"
	"instance uses the group or another group's rule names it.\n";

/* Pulls "--vpc VPC" (and with @desc "--description TEXT") out of argv; the rest stays. */
static int take_opts(int *argc, char **argv, const char **vpc, const char **desc)
{
	int n = 0;
	for (int i = 0; i < *argc; i++) {
		if ((!strcmp(argv[i], "--vpc") || (desc && !strcmp(argv[i], "--description")))) {
			if (i + 1 >= *argc)
				return cli_usage_error("sg", "sg: %s needs a value", argv[i]);
			if (!strcmp(argv[i], "--vpc"))
				*vpc = argv[++i];
			else
				*desc = argv[++i];
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] == '-')
			return cli_usage_error("sg", "sg: unknown option '%s'", argv[i]);
		argv[n++] = argv[i];
	}
	*argc = n;
	return 0;
}

static json_t *sg_json(const struct vpcnet_sg *g)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:i}", "name", g->name, "vpc", g->vpc,
			 "description", g->description, "members", (int)g->members, "rules",
			 (int)g->rules);
}

static int add_rule_json(const char *dir, const char *rule, void *arg)
{
	json_t *rules = arg;
	json_array_append_new(json_object_get(rules, dir), json_string(rule));
	return 0;
}

static int print_rule(const char *dir, const char *rule, void *arg)
{
	printf("  %-8s %s\n", dir, rule);
	return 0;
}

static int list_one(const struct vpcnet_sg *g, void *arg)
{
	json_t *arr = arg;
	if (arr)
		return json_array_append_new(arr, sg_json(g));
	printf("%-20s %-20s %7u %5u  %s\n", g->name, g->vpc, g->members, g->rules, g->description);
	return 0;
}

static int run(struct cli *c, int argc, char **argv)
{
	const char *vpc = NULL, *desc = NULL;
	const char *verb = argv[1];
	bool rule = !strcmp(verb, "rule");
	int code = take_opts(&argc, argv, &vpc, !strcmp(verb, "create") ? &desc : NULL);
	if (code)
		return code;
	int want = rule ? 7 : !strcmp(verb, "list") ? 2 : 3;
	if (argc != want)
		return cli_usage_error("sg", "sg %s: wrong number of arguments", verb);
	if (rule && strcmp(argv[2], "add") && strcmp(argv[2], "del"))
		return cli_usage_error("sg", "sg rule: '%s' is not add or del", argv[2]);
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	int rc = 0;
	code = 0;
	if (!strcmp(verb, "create")) {
		rc = vpcnet_sg_create(vn, vpc, argv[2], desc, &err);
	} else if (!strcmp(verb, "delete")) {
		rc = vpcnet_sg_delete(vn, vpc, argv[2], &err);
	} else if (!strcmp(verb, "list")) {
		json_t *arr = c->json ? json_array() : NULL;
		if (!arr)
			printf("%-20s %-20s %7s %5s  %s\n", "NAME", "VPC", "MEMBERS", "RULES",
			       "DESCRIPTION");
		rc = vpcnet_sg_list(vn, vpc, list_one, arr, &err);
		if (arr && !rc)
			cli_print_json(arr);
		else
			json_decref(arr);
	} else if (!strcmp(verb, "show")) {
		struct vpcnet_sg g;
		if (!(rc = vpcnet_sg_get(vn, vpc, argv[2], &g, &err))) {
			if (c->json) {
				json_t *j = sg_json(&g);
				json_object_set_new(j, "egress", json_array());
				json_object_set_new(j, "ingress", json_array());
				rc = vpcnet_sg_rules(vn, g.vpc, g.name, add_rule_json, j, &err);
				if (!rc)
					cli_print_json(j);  /* a document only when it is whole */
				else
					json_decref(j);
			} else {
				printf("sg %s (VPC %s)%s%s\n  members  %u\n", g.name, g.vpc,
				       g.description[0] ? ": " : "", g.description, g.members);
				rc = vpcnet_sg_rules(vn, g.vpc, g.name, print_rule, NULL, &err);
			}
		}
	} else {
		bool add = !strcmp(argv[2], "add");
		rc = add ? vpcnet_sg_rule_add(vn, vpc, argv[3], argv[4], argv[5], argv[6], &err)
			 : vpcnet_sg_rule_del(vn, vpc, argv[3], argv[4], argv[5], argv[6], &err);
		if (!rc && c->json) {
			unsigned msgs, elems;
			vpcnet_last_batch(vn, &msgs, &elems);
			cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "group", argv[3],
						 "direction", argv[4], "rule", argv[5], "target",
						 argv[6], "nft_messages", msgs, "elements", elems));
		}
	}
	if (rc)
		code = cli_fail(&err);
	vpcnet_close(vn);
	return code;
}

int cmd_sg(struct cli *c, int argc, char **argv)
{
	static const char *const verbs[] = { "create", "delete", "list", "show", "rule" };
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc < 2)
		return cli_usage_error("sg", "sg: a verb is missing");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i]))
			return run(c, argc, argv);
	return cli_usage_error("sg", "sg: unknown verb '%s'", argv[1]);
}
