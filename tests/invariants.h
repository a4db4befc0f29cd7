/* SPDX-License-Identifier: MIT */
/* The invariant checker: what the kernel holds against what the store says, observed from
 * outside (the store read-only with SQLite, the kernel with `ip -j` and `nft -j`), never
 * with the library's own check code.  For tests and the soak: call it when no operation is
 * running (after a gc), or rows in flight will be told apart only by their owners. */
#ifndef VPCNET_TEST_INVARIANTS_H
#define VPCNET_TEST_INVARIANTS_H

#include <stddef.h>

/* Checks every VPC of the store in @state_dir (only those whose name contains @tag, when
 * not NULL) against the kernel of host namespace @host_netns (a name under /run/netns;
 * NULL: the caller's own).  @tag also picks the vpcnet namespaces (vpcnet-vpc-*, -sbx-*,
 * -ins-*) that must be some row's: make it one no other test's names contain ("t123-", not
 * "t123", which "t1234-" contains).  Returns the number of violations (0: every invariant holds),
 * one line each in @report (@n bytes; truncated when full, the count is not), or -1 when
 * the check could not run at all (why, in @report). */
int invariants_check(const char *state_dir, const char *host_netns, const char *tag,
		     char *report, size_t n);

#endif
