/* SPDX-License-Identifier: MIT */
/* The OCI runtime hook's input: the container state JSON on stdin (the whole input).
 * cli/oci.c is compiled in: its static read_state() parses it, then `oci-hook create` and
 * `oci-hook delete` run on it with the store in an empty directory and a host namespace
 * that does not exist, so that both stop at vpcnet_open() at the latest (fuzz/common.c
 * checks it).  A state that parses has a non-empty id and a pid in range. */
#include "cli/oci.c"

#include "fuzz/fuzz.h"

static struct cli cli;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_state st;
	fuzz_stdin(data, size);
	if (!read_state("create", &st)) {
		FUZZ_CHECK(st.id && st.id[0], "no id");
		FUZZ_CHECK(st.pid >= 0 && st.pid <= 0x7fffffff, "pid %lld", st.pid);
	}
	json_decref(st.root);

	char create[] = "create", delete[] = "delete", *argv[] = { create, NULL };
	fuzz_stdin(data, size);
	hook_create(&cli, 1, argv);
	fuzz_check_state_dir();
	argv[0] = delete;
	fuzz_stdin(data, size);
	hook_delete(&cli, 1, argv);
	fuzz_check_state_dir();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	fuzz_state_dir = fuzz_tmpdir("oci");
	fuzz_absent_netns = fuzz_absent_netns_name();
	fuzz_open_must_fail = true;
	cli.cfg.state_dir = fuzz_state_dir;
	cli.cfg.host_netns = fuzz_absent_netns;
	return 0;
}
