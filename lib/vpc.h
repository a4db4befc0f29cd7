/* SPDX-License-Identifier: MIT */
/* What the VPC verbs (vpc.c) lend the member verbs. */
#ifndef VPCNET_VPC_H
#define VPCNET_VPC_H

#include "lib/internal.h"

/* VPC @name, ready (waits, bounded, while another process creates it); NULL: the VPC
 * "default", made on first use. */
int vpc_resolve(struct vpcnet *vn, const char *name, struct vpc_row *out,
		struct vpcnet_error *err);

#endif
