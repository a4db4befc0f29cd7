/* SPDX-License-Identifier: MIT */
/* `vpcnet gc` and `vpcnet restore`: one repair (vpcnet_gc, vpcnet_restore); restore also
 * tells each thing it built again or deleted. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char gc_usage[] =
	"Usage: vpcnet gc\n"
	"\n"
	"Compares the state store with the kernel and repairs both ways: VPCs, sandboxes and\n"
	"pool entries that a killed process left half-made or half-deleted are rolled back\n"
	"(their leases released); what the kernel lost is built again as `vpcnet restore`\n"
	"does (a VPC's router, transit link and tables; an instance's or pool entry's\n"
	"network), and sandboxes whose namespace is gone (an owned one, or an adopted one whose\n"
	"path opens nothing or another namespace than at create) are deleted; deleted sandboxes\n"
	"are reaped (their router elements and flows removed, their addresses free again);\n"
	"router ports that no member owns are removed, and so are refusal counters of ports\n"
	"that are gone; every VPC's security groups and attachments are rebuilt from the store\n"
	"in one atomic change, and its control ports in another.  Work that a live process\n"
	"still has in flight is left alone.  Carries on past errors; exits 1 if any, 0 when it\n"
	"repaired everything.\n";

static const char restore_usage[] =
	"Usage: vpcnet restore\n"
	"\n"
	"Rebuilds from the state store what the kernel should hold, after a host reboot (every\n"
	"namespace and table gone, the store kept) or damage done behind vpcnet's back; run at\n"
	"boot by vpcnet-restore.service.  Idempotent: on a healthy host it changes nothing.\n"
	"  VPCs       their router namespace, transit link and addresses, router tables with\n"
	"             every group, profile and control port, their host table elements, and\n"
	"             forwarding on the transit link and the uplink\n"
	"  sandboxes  ephemeral: one whose namespace is gone died with the host and is deleted\n"
	"             (its address free, its id reusable); one whose namespace is there but\n"
	"             whose router port is gone gets a new port\n"
	"  instances  configuration: one whose namespace is gone gets a new, empty one at the\n"
	"             same path with its address, MAC and groups (restart what ran inside)\n"
	"  pools      refilled to the size they had (each entry rebuilt in place)\n"
	"Members whose adopted namespace is gone are deleted.  Does all that `vpcnet gc` does\n"
	"too, and prints a line for each thing it rebuilt or deleted (--json: a \"repairs\"\n"
	"array).  Carries on past errors; exits 1 if any.\n";

static json_t *report_json(const struct vpcnet_gc_report *r)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "vpcs_removed",
			 r->vpcs_removed, "sandboxes_removed", r->sandboxes_removed,
			 "ports_removed", r->ports_removed, "elements_removed", r->elements_removed,
			 "vpcs_reconciled", r->vpcs_reconciled, "sandboxes_reaped",
			 r->sandboxes_reaped, "vpcs_rebuilt", r->vpcs_rebuilt, "members_rebuilt",
			 r->members_rebuilt, "errors", r->errors);
}

static void report_print(const char *what, const struct vpcnet_gc_report *r)
{
	printf("%s: %u VPC(s), %u sandbox(es), %u orphan port(s), %u stale counter(s)"
	       " removed; %u deleted sandbox(es) reaped; %u VPC(s) and %u member(s) rebuilt;"
	       " %u VPC(s) reconciled; %u error(s)\n", what, r->vpcs_removed,
	       r->sandboxes_removed, r->ports_removed, r->elements_removed, r->sandboxes_reaped,
	       r->vpcs_rebuilt, r->members_rebuilt, r->vpcs_reconciled, r->errors);
}

struct told {
	bool json;
	json_t *repairs;
};

static void tell(const struct vpcnet_repair *r, void *arg)
{
	struct told *t = arg;
	if (t->json)
		json_array_append_new(t->repairs,
				      json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", r->kind, "name",
						r->name, "vpc", r->vpc, "action", r->action, "why",
						r->why));
	else if (!strcmp(r->kind, "vpc"))
		printf("vpc %s: %s (%s)\n", r->name, r->action, r->why);
	else
		printf("%s %s (vpc %s): %s (%s)\n", r->kind, r->name, r->vpc, r->action, r->why);
}

static int repair(struct cli *c, int argc, char **argv, bool restore)
{
	const char *usage = restore ? restore_usage : gc_usage, *noun = restore ? "restore" : "gc";
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc != 1)
		return cli_usage_error(noun, "%s takes no arguments", noun);
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_gc_report r;
	struct told t = { c->json, json_array() };
	int rc = restore ? vpcnet_restore(vn, tell, &t, &r, &err) : vpcnet_gc(vn, &r, &err);
	vpcnet_close(vn);
	if (c->json) {
		json_t *j = report_json(&r);
		if (restore && j)
			json_object_set(j, "repairs", t.repairs);
		cli_print_json(j);
	} else {
		report_print(noun, &r);
	}
	json_decref(t.repairs);
	if (rc) {
		cli_fail(&err);
		return VPCNET_FAILED;  /* whatever the first error was: it failed */
	}
	return 0;
}

int cmd_gc(struct cli *c, int argc, char **argv)
{
	return repair(c, argc, argv, false);
}

int cmd_restore(struct cli *c, int argc, char **argv)
{
	return repair(c, argc, argv, true);
}
