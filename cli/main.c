/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: vpcnet [--state-dir DIR] [--host-netns NAME] [--json] NOUN VERB [ARGS]\n"
	"\n"
	"Per-sandbox network namespaces behind a VPC router: nothing gets in, and what goes\n"
	"out crosses the router (and, with --nat, its NAT gateway).\n"
	"\n"
	"Nouns:\n"
	"  vpc      create | delete | list | show    VPC routers and their NAT gateways\n"
	"  sandbox  create | delete | list | show | exec | set-sg   sandbox networks\n"
	"  instance create | delete | list | show | exec | set-sg   other VPC members (a database)\n"
	"  sg       create | delete | list | show | rule add | rule del   security groups\n"
	"  pool     fill | show | drain              warm sandbox networks, taken by create\n"
	"  gc                                        repair what a crash left behind\n"
	"  restore                                   rebuild the kernel from the store (at boot)\n"
	"  doctor                                    check the host and what vpcnet runs on it\n"
	"  oci-hook create | delete                  an OCI runtime hook (state JSON on stdin)\n"
	"  version                                   print the version\n"
	"\n"
	"Global options (before the noun):\n"
	"  --state-dir DIR    the state store (default /var/lib/vpcnet)\n"
	"  --host-netns NAME  the namespace (under /run/netns) that plays the host\n"
	"                     (default: the namespace vpcnet runs in)\n"
	"  --json             machine output for create, show, list, gc, restore, doctor\n"
	"\n"
	"Exit codes: 0 ok, 1 operation failed, 2 bad usage or input, 3 not found,\n"
	"4 already exists or still in use.  `vpcnet NOUN --help` tells more.\n"
	"\n"
	"With CNI_COMMAND in the environment vpcnet is a CNI plugin (ADD, DEL, CHECK, VERSION,\n"
	"STATUS, GC; network config on stdin); `man vpcnet-cni` has the details.\n";

struct noun {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
};

static int cmd_version(struct cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv, "Usage: vpcnet version\n"))
		return 0;
	if (argc > 1)
		return cli_usage_error(NULL, "version takes no arguments");
	if (c->json) {
		cli_print_json(json_pack("{s:s}", "version", "0.1.0"));
		return 0;
	}
	puts("vpcnet 0.1.0");
	return 0;
}

static const struct noun nouns[] = {
	{ "vpc", cmd_vpc },
	{ "sandbox", cmd_sandbox },
	{ "instance", cmd_instance },
	{ "sg", cmd_sg },
	{ "pool", cmd_pool },
	{ "gc", cmd_gc },
	{ "restore", cmd_restore },
	{ "doctor", cmd_doctor },
	{ "oci-hook", cmd_oci_hook },
	{ "version", cmd_version },
};

struct vpcnet *cli_open(struct cli *c, int *code)
{
	struct vpcnet *vn = NULL;
	struct vpcnet_error err = { 0 };
	if (vpcnet_open(&vn, &c->cfg, &err)) {
		*code = cli_fail(&err);
		return NULL;
	}
	return vn;
}

int cli_fail(const struct vpcnet_error *err)
{
	fprintf(stderr, "vpcnet: %s\n", err->msg[0] ? err->msg : "failed");
	return err->status ? (int)err->status : VPCNET_FAILED;
}

int cli_usage_error(const char *noun, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("vpcnet: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'vpcnet %s%s--help')\n", noun ? noun : "", noun ? " " : "");
	return EXIT_USAGE;
}

const char *cli_unknown_option(char **argv, char buf[3])
{
	if (optopt > ' ' && optopt < 127) {  /* a short one, perhaps inside -xyz */
		snprintf(buf, 3, "-%c", optopt);
		return buf;
	}
	return argv[optind - 1];
}

bool cli_wants_help(int argc, char **argv, const char *use)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(use, stdout);
			return true;
		}
	}
	return false;
}

void cli_print_json(json_t *j)
{
	if (!j)
		return;
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(j);
}

int main(int argc, char **argv)
{
	if (getenv("CNI_COMMAND"))  /* a CNI runtime runs us: no options, config on stdin */
		return cni_main();
	struct cli c = { .prog = argv[0] };
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			c.json = true;
		} else if (!strcmp(a, "--state-dir") || !strcmp(a, "--host-netns")) {
			if (i + 1 >= argc)
				return cli_usage_error(NULL, "%s needs a value", a);
			if (!strcmp(a, "--state-dir"))
				c.cfg.state_dir = argv[++i];
			else
				c.cfg.host_netns = argv[++i];
		} else if (!strncmp(a, "--state-dir=", 12)) {
			c.cfg.state_dir = a + 12;
		} else if (!strncmp(a, "--host-netns=", 13)) {
			c.cfg.host_netns = a + 13;
		} else {
			return cli_usage_error(NULL, "unknown option '%s'", a);
		}
	}
	if (i >= argc)
		return cli_usage_error(NULL, "a noun is missing");
	for (size_t n = 0; n < sizeof(nouns) / sizeof(nouns[0]); n++)
		if (!strcmp(argv[i], nouns[n].name))
			return nouns[n].run(&c, argc - i, argv + i);
	return cli_usage_error(NULL, "unknown noun '%s'", argv[i]);
}
