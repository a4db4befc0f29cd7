/* SPDX-License-Identifier: MIT */
/* MicroVM tap devices: a persistent tap made in the calling thread's network namespace
 * (/dev/net/tun ioctls), which a VMM such as Firecracker opens later by name. */
#ifndef VPCNET_TAP_H
#define VPCNET_TAP_H

#include "vpcnet.h"

/* Creates persistent tap @name (IFF_TAP | IFF_NO_PI) in the calling thread's namespace;
 * refused with EEXIST when a link of that name exists. */
int tap_create(const char *name, struct vpcnet_error *err);

#endif
