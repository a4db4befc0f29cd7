/* SPDX-License-Identifier: MIT */
/* `vpcnet oci-hook`: an OCI runtime hook (createRuntime / poststop).  The runtime writes the
 * container's state (OCI runtime spec, "State") on stdin; the hook's environment may be
 * empty, so nothing here reads it: the state dir and host namespace come from arguments. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: vpcnet [GLOBAL OPTIONS] oci-hook create [--vpc V] [--sg A[,B...]]\n"
	"       vpcnet [GLOBAL OPTIONS] oci-hook delete\n"
	"\n"
	"An OCI runtime hook: reads the container's state JSON (ociVersion, id, pid, bundle,\n"
	"annotations) on stdin, as runc, crun, CRI-O and podman write it.  Reads nothing from\n"
	"the environment: give --state-dir and --host-netns (before oci-hook) if not the\n"
	"defaults.  Examples: examples/oci/.\n"
	"\n"
	"create  (a createRuntime hook) gives the container's network namespace,\n"
	"        /proc/PID/ns/net, a sandbox network: eth0 with an address of the VPC, a\n"
	"        default route through its router.  The sandbox id is the container id, which\n"
	"        must be 1-64 of [A-Za-z0-9_.-] (else exit 2 and the container does not start).\n"
	"        The VPC is --vpc, else the annotation vpcnet.vpc, else 'default' (made on\n"
	"        first use, as by sandbox create); the groups\n"
	"        are --sg, else the annotation vpcnet.sg (\"a,b\"), else the VPC's 'default'.\n"
	"        The namespace is adopted: vpcnet leaves it to the runtime.\n"
	"delete  (a poststop hook) deletes the sandbox of the container id (an id that is\n"
	"        not a valid sandbox id: exit 2); no pid needed.\n"
	"        A sandbox that is gone already is success; one that the create hook did not\n"
	"        make (by the CLI or CNI, under the same name) is left alone: exit 4.\n"
	"\n"
	"On failure: exit 1-4 as every vpcnet command, with one line on stderr; a failing\n"
	"createRuntime hook makes the runtime abort the container's start.\n";

#define STATE_MAX (1 << 20)  /* a container state is a few KiB; annotations are bounded */
#define OCI_ORIGIN "oci"    /* the origin of the sandboxes the create hook makes */

/* One line on stderr, "vpcnet: oci-hook VERB: ...", and @code; a usage error points at
 * the help. */
static int hook_fail(const char *verb, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int hook_fail(const char *verb, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "vpcnet: oci-hook%s%s: ", verb ? " " : "", verb ? verb : "");
	vfprintf(stderr, fmt, ap);
	fputs(code == EXIT_USAGE ? " (see 'vpcnet oci-hook --help')\n" : "\n", stderr);
	va_end(ap);
	return code;
}

/* What the hook needs of the container state. */
struct oci_state {
	json_t *root;
	const char *id;
	long long pid;         /* 0: absent */
	const char *vpc;       /* annotations, or NULL */
	const char *sg;
};

static int read_state(const char *verb, struct oci_state *st)
{
	json_error_t jerr;
	memset(st, 0, sizeof(*st));
	char *buf = malloc(STATE_MAX + 1);
	if (!buf)
		return hook_fail(verb, VPCNET_FAILED, "out of memory");
	size_t len = fread(buf, 1, STATE_MAX + 1, stdin);
	if (ferror(stdin)) {
		free(buf);
		return hook_fail(verb, VPCNET_FAILED, "read the container state on stdin: %s",
				 strerror(errno));
	}
	if (len > STATE_MAX) {
		free(buf);
		return hook_fail(verb, EXIT_USAGE, "container state on stdin: larger than %d bytes",
				 STATE_MAX);
	}
	st->root = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!st->root)
		return hook_fail(verb, EXIT_USAGE, "container state on stdin: not JSON: %s (line %d)",
				 jerr.text, jerr.line);
	if (!json_is_object(st->root))
		return hook_fail(verb, EXIT_USAGE, "container state on stdin: not a JSON object");
	json_t *id = json_object_get(st->root, "id");
	if (!json_is_string(id) || !json_string_value(id)[0])
		return hook_fail(verb, EXIT_USAGE, "container state: \"id\" missing or not a string");
	st->id = json_string_value(id);
	json_t *pid = json_object_get(st->root, "pid");
	if (pid && !json_is_null(pid)) {
		if (!json_is_integer(pid) || json_integer_value(pid) < 0 ||
		    json_integer_value(pid) > 0x7fffffff)
			return hook_fail(verb, EXIT_USAGE, "container %s: \"pid\" is not a process id",
					 st->id);
		st->pid = json_integer_value(pid);
	}
	json_t *ann = json_object_get(st->root, "annotations");
	if (ann && !json_is_null(ann) && !json_is_object(ann))
		return hook_fail(verb, EXIT_USAGE, "container %s: \"annotations\" is not an object",
				 st->id);
	const char *keys[] = { "vpcnet.vpc", "vpcnet.sg" };
	const char **vals[] = { &st->vpc, &st->sg };
	for (int i = 0; ann && i < 2; i++) {
		json_t *v = json_object_get(ann, keys[i]);
		if (!v)
			continue;
		if (!json_is_string(v))
			return hook_fail(verb, EXIT_USAGE, "container %s: annotation %s is not a string",
					 st->id, keys[i]);
		*vals[i] = json_string_value(v);
	}
	return 0;
}

/* True when @a and @b are the same namespace (both exist). */
static bool same_ns(const char *a, const char *b)
{
	struct stat sa, sb;
	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int hook_create(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vpc", required_argument, NULL, 'v' },
		{ "sg", required_argument, NULL, 's' },
		{ 0 },
	};
	const char *vpc = NULL, *sg = NULL;
	int o;
	char bad[3];
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'v': vpc = optarg; break;
		case 's': sg = optarg; break;
		case ':':
			return hook_fail("create", EXIT_USAGE, "%s needs a value", argv[optind - 1]);
		default:
			return hook_fail("create", EXIT_USAGE, "unknown option '%s'",
					 cli_unknown_option(argv, bad));
		}
	}
	if (optind != argc)
		return hook_fail("create", EXIT_USAGE, "unexpected argument '%s' (the state comes"
				 " on stdin)", argv[optind]);
	struct oci_state st;
	int code = read_state("create", &st);
	if (code)
		goto out;
	if (!st.pid) {
		code = hook_fail("create", EXIT_USAGE, "container %s: state has no \"pid\" (run this"
				 " as a createRuntime hook)", st.id);
		goto out;
	}
	if (!vpc)
		vpc = st.vpc;
	char groups[VPCNET_SG_PER_MEMBER * (VPCNET_SG_NAME_MAX + 2) + 2];
	const char *names[VPCNET_SG_PER_MEMBER + 1];
	unsigned ngroups = 0;
	if (!sg)
		sg = st.sg;
	if (sg) {
		if (strlen(sg) >= sizeof(groups)) {
			code = hook_fail("create", EXIT_USAGE, "container %s: groups '%s': too long",
					 st.id, sg);
			goto out;
		}
		snprintf(groups, sizeof(groups), "%s", sg);
		char *save = NULL;
		for (char *t = strtok_r(groups, ",", &save); t && ngroups <= VPCNET_SG_PER_MEMBER;
		     t = strtok_r(NULL, ",", &save))
			names[ngroups++] = t;  /* one too many shows as "too many" */
		if (!ngroups) {
			code = hook_fail("create", EXIT_USAGE, "container %s: groups '%s': no group"
					 " name", st.id, sg);
			goto out;
		}
	}
	char netns[64], host[VPCNET_PATH_MAX + 16];
	snprintf(netns, sizeof(netns), "/proc/%lld/ns/net", st.pid);
	/* A container without a network namespace of its own shares the runtime's (or the
	 * host's): giving that an eth0 and a default route would rewire the host. */
	snprintf(host, sizeof(host), "/run/netns/%s", c->cfg.host_netns ? c->cfg.host_netns : "");
	if (same_ns(netns, "/proc/self/ns/net") || (c->cfg.host_netns && same_ns(netns, host))) {
		code = hook_fail("create", EXIT_USAGE, "container %s: its network namespace is the"
				 " host's, not its own (give it a new one in the bundle)", st.id);
		goto out;
	}
	struct vpcnet_sandbox_spec spec = {
		.id = st.id, .vpc = vpc, .netns = netns, .sgs = ngroups ? names : NULL,
		.nsgs = ngroups, .origin = OCI_ORIGIN,
	};
	struct vpcnet *vn = NULL;
	struct vpcnet_error err = { 0 };
	if (vpcnet_open(&vn, &c->cfg, &err) ||
	    vpcnet_sandbox_create(vn, &spec, NULL, &err))
		code = hook_fail("create", err.status ? (int)err.status : VPCNET_FAILED,
				 "container %s: %s", st.id, err.msg[0] ? err.msg : "failed");
	vpcnet_close(vn);
out:
	json_decref(st.root);
	return code;
}

static int hook_delete(struct cli *c, int argc, char **argv)
{
	if (argc != 1)
		return hook_fail("delete", EXIT_USAGE, "unexpected argument '%s' (the state comes"
				 " on stdin)", argv[1]);
	struct oci_state st;
	int code = read_state("delete", &st);
	if (code)
		goto out;
	struct vpcnet *vn = NULL;
	struct vpcnet_error err = { 0 };
	struct vpcnet_sandbox sb;
	if (vpcnet_open(&vn, &c->cfg, &err)) {
		code = hook_fail("delete", (int)err.status, "container %s: %s", st.id, err.msg);
		goto out;
	}
	/* Only what the create hook made: a sandbox of that name made another way (the CLI,
	 * CNI) is not this container's, even when its create hook failed on it. */
	if (vpcnet_sandbox_get(vn, st.id, &sb, &err)) {
		if (err.errnum != ENOENT)
			code = hook_fail("delete", (int)err.status, "container %s: %s", st.id, err.msg);
	} else if (strcmp(sb.origin, OCI_ORIGIN)) {
		code = hook_fail("delete", VPCNET_EXISTS, "container %s: sandbox %s was not made by"
				 " the OCI hook (origin '%s'): left alone", st.id, st.id, sb.origin);
	} else if (vpcnet_sandbox_delete(vn, st.id, &err)) {
		code = hook_fail("delete", err.status ? (int)err.status : VPCNET_FAILED,
				 "container %s: %s", st.id, err.msg[0] ? err.msg : "failed");
	}
	vpcnet_close(vn);
out:
	json_decref(st.root);
	return code;
}

int cmd_oci_hook(struct cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc < 2)
		return hook_fail(NULL, EXIT_USAGE, "a verb is missing (create or delete)");
	if (!strcmp(argv[1], "create"))
		return hook_create(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "delete"))
		return hook_delete(c, argc - 1, argv + 1);
	return hook_fail(argv[1], EXIT_USAGE, "unknown verb (create or delete)");
}
