/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: vpcnet gc\n"
	"\n"
	"Compares the state store with the kernel and repairs both ways: VPCs, sandboxes and\n"
	"pool entries that a killed process left half-made or half-deleted are rolled back\n"
	"(their leases released); sandboxes whose adopted namespace is gone (its path opens\n"
	"nothing, or another namespace than at create) are deleted; deleted sandboxes are\n"
	"reaped (their router elements and flows removed, their addresses free again); router\n"
	"ports that no member owns are removed, and so are refusal counters of ports that are\n"
	"gone (and the tap of a half-made sandbox in an adopted namespace); every VPC's\n"
	"security groups and attachments are rebuilt from the store in one atomic change, and\n"
	"its control ports in another.  Work that a live process still has in flight is left\n"
	"alone.  Carries on past errors; exits 1 if any.\n";

int cmd_gc(struct cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc != 1)
		return cli_usage_error(usage, "gc takes no arguments");
	int code;
	struct vpcnet *vn = cli_open(c, &code);
	if (!vn)
		return code;
	struct vpcnet_error err = { 0 };
	struct vpcnet_gc_report r;
	int rc = vpcnet_gc(vn, &r, &err);
	vpcnet_close(vn);
	if (c->json)
		cli_print_json(json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "vpcs_removed",
					 r.vpcs_removed, "sandboxes_removed", r.sandboxes_removed,
					 "ports_removed", r.ports_removed, "elements_removed",
					 r.elements_removed, "vpcs_reconciled", r.vpcs_reconciled,
					 "sandboxes_reaped", r.sandboxes_reaped, "errors", r.errors));
	else
		printf("gc: %u VPC(s), %u sandbox(es), %u orphan port(s), %u stale counter(s)"
		       " removed; %u deleted sandbox(es) reaped; %u VPC(s) reconciled;"
		       " %u error(s)\n", r.vpcs_removed, r.sandboxes_removed, r.ports_removed,
		       r.elements_removed, r.sandboxes_reaped, r.vpcs_reconciled, r.errors);
	if (rc) {
		cli_fail(&err);
		return VPCNET_FAILED;  /* whatever the first error was: gc failed */
	}
	return 0;
}
