/* SPDX-License-Identifier: MIT */
/* The CNI plugin's input: its environment and the network config on stdin, prevResult and
 * GC's valid attachments included.  Input: "CNI_COMMAND\0CNI_CONTAINERID\0CNI_NETNS\0
 * CNI_IFNAME\0CNI_ARGS\0CNI_PATH\0" then stdin (an empty field: the variable is unset).
 *
 * cli/cni.c and cli/cni_ops.c are compiled in, so their static parsers run as cni_main()
 * runs them; the command then runs too, but with the store in an empty directory and a host
 * namespace that does not exist: ADD, CHECK and STATUS fail at vpcnet_open() (which
 * fuzz/common.c checks), DEL and GC find no store.  Also checked: the attachment's sandbox
 * id is a valid one and its origin is whole; every JSON document printed is whole (an error
 * has its code); the ADD result is well formed, and CHECK accepts it back as prevResult. */
#include "cli/cni.c"
#include "cli/cni_ops.c"

#include "fuzz/fuzz.h"
#include "base/names.h"

static const char *const vars[] = {
	"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH",
};
#define NVARS (sizeof(vars) / sizeof(*vars))

static void check_doc(json_t *j)
{
	FUZZ_CHECK(json_is_object(j), "not an object");
	json_t *code = json_object_get(j, "code");
	if (code)
		FUZZ_CHECK(json_is_integer(code) && json_is_string(json_object_get(j, "msg")),
			   "an error without code or msg");
	FUZZ_CHECK(json_is_string(json_object_get(j, "cniVersion")), "no cniVersion");
}

/* What ADD makes of this config for a sandbox, and CHECK of that as prevResult. */
static void result_round_trip(struct cni *c)
{
	struct vpcnet_sandbox s = { .prefix = 24, .ngroups = 0 };
	snprintf(s.id, sizeof(s.id), "%s", c->id);
	snprintf(s.vpc, sizeof(s.vpc), "%s", c->vpc);
	snprintf(s.netns, sizeof(s.netns), "%s", c->netns);
	snprintf(s.ifname, sizeof(s.ifname), "%s", c->ifname);
	snprintf(s.port, sizeof(s.port), "port7");
	snprintf(s.origin, sizeof(s.origin), "%s", c->origin);
	s.addr = to_in_addr(0x0a000107);
	s.gateway = to_in_addr(0x0a000101);
	member_mac(0x0a000107, s.mac);

	check_prev(c, &s);  /* the config's own prevResult, whatever it holds */

	json_t *res = add_result(c, &s);
	FUZZ_CHECK(res, "no ADD result");
	json_t *ifs = json_object_get(res, "interfaces"), *ips = json_object_get(res, "ips");
	json_t *ip = json_array_get(ips, json_array_size(ips) - 1);
	json_t *ifc = json_array_get(ifs, json_integer_value(json_object_get(ip, "interface")));
	FUZZ_CHECK(ifc && json_is_string(json_object_get(ip, "address")),
		   "the result's last address names no interface");
	const char *name = json_string_value(json_object_get(ifc, "name"));
	const char *sb = json_string_value(json_object_get(ifc, "sandbox"));
	FUZZ_CHECK(name && sb && !strcmp(name, c->ifname) && !strcmp(sb, c->netns),
		   "the result's interface is not %s in %s", c->ifname, c->netns);
	char *text = json_dumps(res, JSON_COMPACT);
	FUZZ_CHECK(text, "the ADD result does not print");
	free(text);
	json_decref(res);

	/* Without a prevResult (one that holds our interface already is no ADD's), CHECK
	 * takes the result back. */
	json_object_del(c->conf, "prevResult");
	res = add_result(c, &s);
	FUZZ_CHECK(res, "no ADD result");
	json_object_set_new(c->conf, "prevResult", res);
	FUZZ_CHECK(!check_prev(c, &s), "CHECK refuses ADD's own result");
}

static void run(struct cni *c)
{
	static const struct {
		const char *name;
		int (*run)(struct cni *);
		bool attachment;
	} cmds[] = {
		{ "ADD", cni_add, true }, { "DEL", cni_del, true }, { "CHECK", cni_check, true },
		{ "STATUS", cni_status, false }, { "GC", cni_gc, false },
	};
	if (!strcmp(c->cmd, "VERSION")) {
		cni_version(c);
		return;
	}
	size_t k;
	for (k = 0; k < sizeof(cmds) / sizeof(*cmds); k++)
		if (!strcmp(c->cmd, cmds[k].name))
			break;
	if (k == sizeof(cmds) / sizeof(*cmds)) {
		cni_error(c, CNI_ERR_ENV, "invalid CNI_COMMAND", "'%s'", c->cmd);
		return;
	}
	if (parse_stdin(c) || parse_config(c) || check_env(c) || parse_args(c))
		return;
	FUZZ_CHECK(c->nsgs <= VPCNET_SG_PER_MEMBER, "%u groups", c->nsgs);
	for (unsigned i = 0; i < c->nsgs; i++)
		FUZZ_CHECK(c->sgs[i], "group %u", i);
	if (cmds[k].attachment) {
		attachment_id(c, c->cid, c->ifname);
		struct vpcnet_error err;
		FUZZ_CHECK(!valid_sandbox_id(c->id, &err), "attachment id: %s", err.msg);
		FUZZ_CHECK(strlen(c->origin) == strlen(ORIGIN_PREFIX) + strlen(c->name) + 1 +
			   strlen(c->cid) + 1 + strlen(c->ifname), "origin cut: %s", c->origin);
	}
	/* the command itself, with nothing it could open */
	const char *state_dir = c->cfg.state_dir, *host = c->cfg.host_netns;
	c->cfg.state_dir = fuzz_state_dir;
	c->cfg.host_netns = fuzz_absent_netns;
	cmds[k].run(c);
	fuzz_check_state_dir();
	c->cfg.state_dir = state_dir;
	c->cfg.host_netns = host;
	if (cmds[k].run == cni_add || cmds[k].run == cni_check)
		result_round_trip(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields in;
	fuzz_fields(&in, data, size, NVARS + 1);
	for (size_t i = 0; i < NVARS; i++) {
		if (i + 1 < in.n && in.f[i][0])
			setenv(vars[i], in.f[i], 1);
		else
			unsetenv(vars[i]);
	}
	bool has_stdin = in.n == NVARS + 1;
	fuzz_stdin(has_stdin ? in.rest : "", has_stdin ? in.rest_len : 0);
	struct cni c = { .cmd = getenv("CNI_COMMAND") };
	if (!c.cmd)
		c.cmd = "ADD";
	run(&c);
	free(c.arg_sgs);
	json_decref(c.conf);
	fuzz_fields_free(&in);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	fuzz_state_dir = fuzz_tmpdir("cni");
	fuzz_absent_netns = fuzz_absent_netns_name();
	fuzz_open_must_fail = true;
	fuzz_json_hook = check_doc;
	return 0;
}
