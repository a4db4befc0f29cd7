/* SPDX-License-Identifier: MIT */
/* The command line: the whole CLI dispatch (cli/main.c's main(), built as
 * vpcnet_cli_main()) with argv from the input, its arguments cut at NUL bytes, after
 *     vpcnet --state-dir <an empty directory under /tmp> --host-netns <a name that is not>
 * (an argument that would set either again is dropped).  Every command that would act
 * opens the library first, and vpcnet_open() refuses the absent host namespace before it
 * touches the store or the kernel: fuzz/common.c checks each call, and after each command
 * the state directory must still be empty.  stdin is empty (oci-hook reads it). */
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fuzz/fuzz.h"

int vpcnet_cli_main(int argc, char **argv);

#define ARGS_MAX 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields in;
	fuzz_fields(&in, data, size, ARGS_MAX);
	char prog[] = "vpcnet", sd[] = "--state-dir", hn[] = "--host-netns";
	char *argv[ARGS_MAX + 6] = { prog, sd, (char *)fuzz_state_dir, hn,
				     (char *)fuzz_absent_netns };
	int argc = 5;
	for (size_t i = 0; i < in.n; i++) {
		if (!strncmp(in.f[i], sd, strlen(sd)) || !strncmp(in.f[i], hn, strlen(hn)))
			continue;
		argv[argc++] = in.f[i];
	}
	argv[argc] = NULL;
	unsigned long opens = fuzz_open_calls;
	int rc = vpcnet_cli_main(argc, argv);
	fflush(stdout);
	fuzz_check_state_dir();
	/* 0: help, version; 2: usage, or vpcnet_open's refusal (1 when not root) */
	FUZZ_CHECK(rc == 0 || rc == EXIT_USAGE || (rc == VPCNET_FAILED && geteuid()), "exit %d",
		   rc);
	FUZZ_CHECK(fuzz_open_calls == opens || rc, "exit %d after vpcnet_open", rc);
	fuzz_fields_free(&in);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	fuzz_stdin("", 0);
	unsetenv("CNI_COMMAND");  /* else main() is the CNI plugin */
	fuzz_state_dir = fuzz_tmpdir("argv");
	fuzz_absent_netns = fuzz_absent_netns_name();
	fuzz_open_must_fail = true;
	return 0;
}
