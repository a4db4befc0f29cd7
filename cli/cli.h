/* SPDX-License-Identifier: MIT */
/* The vpcnet command: a thin layer that parses, calls include/vpcnet.h and prints. */
#ifndef VPCNET_CLI_H
#define VPCNET_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include "vpcnet.h"

struct cli {
	struct vpcnet_config cfg;
	bool json;
	const char *prog;
};

/* Exit codes: the status classes of include/vpcnet.h. */
#define EXIT_USAGE VPCNET_BAD_INPUT

/* Opens the library handle; on failure prints and returns NULL with *code set. */
struct vpcnet *cli_open(struct cli *c, int *code);
/* Prints "vpcnet: MSG" and returns the exit code of @err. */
int cli_fail(const struct vpcnet_error *err);
/* Prints a usage error, one line that points at `vpcnet NOUN --help` (`vpcnet --help` for a
 * NULL @noun), and returns EXIT_USAGE. */
int cli_usage_error(const char *noun, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The option getopt_long() just found unknown ('?'): "-x" for a short one (@buf), else its
 * argument. */
const char *cli_unknown_option(char **argv, char buf[3]);
/* True (and prints @usage on stdout) when argv holds -h/--help before any "--". */
bool cli_wants_help(int argc, char **argv, const char *usage);
/* Prints and frees @j. */
void cli_print_json(json_t *j);

int cmd_vpc(struct cli *c, int argc, char **argv);
int cmd_sandbox(struct cli *c, int argc, char **argv);
int cmd_gc(struct cli *c, int argc, char **argv);
int cmd_restore(struct cli *c, int argc, char **argv);
int cmd_pool(struct cli *c, int argc, char **argv);
int cmd_sg(struct cli *c, int argc, char **argv);
int cmd_instance(struct cli *c, int argc, char **argv);
int cmd_oci_hook(struct cli *c, int argc, char **argv);
int cmd_doctor(struct cli *c, int argc, char **argv);
/* The CNI plugin: run when CNI_COMMAND is set; returns the exit code. */
int cni_main(void);

#endif
