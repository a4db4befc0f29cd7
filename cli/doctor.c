/* SPDX-License-Identifier: MIT */
/* `vpcnet doctor`: a line per check of vpcnet_doctor() (--json: an object), exit 0 when all
 * hold. */
#include <stdio.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: vpcnet [--state-dir DIR] [--host-netns NAME] [--json] doctor\n"
	"\n"
	"Says whether this host can run vpcnet and whether what it runs is healthy, one line\n"
	"per check (ok, FAIL, or skip when it cannot be told), and changes nothing vpcnet\n"
	"or the host's network holds:\n"
	"  capabilities  CAP_NET_ADMIN and CAP_SYS_ADMIN held (run as root)\n"
	"  netns, veth, nf_tables, conntrack, nat, netns-mount\n"
	"                the kernel features vpcnet uses, tried in namespaces of a child\n"
	"                process that vanish with it; and /run/netns usable\n"
	"  uplink        the host namespace's default route, its device up with an IPv4\n"
	"                address\n"
	"  state-dir     the state directory and its store ours and writable by nobody else\n"
	"                (one that does not exist yet is a fresh host: fine)\n"
	"  routers       each VPC's router namespace, transit link and tables, and the host's\n"
	"                table (the store is opened read-only)\n"
	"  agent         the resident agent (none in this version: skip)\n"
	"\n"
	"Options:\n"
	"  --json   (before the noun) an object: \"ok\" and \"checks\", each with \"name\",\n"
	"           \"status\" (ok, fail, skip) and \"detail\"\n"
	"  -h, --help  this text\n"
	"\n"
	"Exit codes: 0 when every check holds (or is skipped), 1 when one fails, 2 for bad\n"
	"usage or a --host-netns that does not exist.\n";

static const char *const status_json[] = { "ok", "fail", "skip" };
static const char *const status_text[] = { "ok", "FAIL", "skip" };

static void told(const struct vpcnet_check *ch, void *arg)
{
	json_t *checks = arg;
	unsigned s = ch->status <= VPCNET_CHECK_SKIP ? ch->status : VPCNET_CHECK_SKIP;
	if (checks)
		json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", ch->name,
							"status", status_json[s], "detail",
							ch->detail));
	else
		printf("%-5s %s: %s\n", status_text[s], ch->name, ch->detail);
	fflush(stdout);
}

int cmd_doctor(struct cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc != 1)
		return cli_usage_error("doctor", "doctor takes no arguments ('%s')", argv[1]);
	json_t *checks = c->json ? json_array() : NULL;
	struct vpcnet_error err = { 0 };
	unsigned failed = 0;
	int ret = vpcnet_doctor(&c->cfg, told, checks, &failed, &err);
	if (ret) {
		json_decref(checks);
		return cli_fail(&err);
	}
	if (checks)
		cli_print_json(json_pack("{s:b, s:o}", "ok", failed == 0, "checks", checks));
	return failed ? VPCNET_FAILED : 0;
}
