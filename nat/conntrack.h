/* SPDX-License-Identifier: MIT */
/* Conntrack over ctnetlink: forget every flow of one address, so that nothing of a deleted
 * sandbox's flows survives it (and reaches whoever gets its address next). */
#ifndef VPCNET_CONNTRACK_H
#define VPCNET_CONNTRACK_H

#include <stdint.h>
#include "vpcnet.h"

struct nf_sock;

/* Deletes the entries of the socket's namespace whose original source or destination is
 * @ip (host order).  @removed (may be NULL) counts them. */
int conntrack_flush_addr(struct nf_sock *s, uint32_t ip, unsigned *removed,
			 struct vpcnet_error *err);
/* The same for @n addresses in one walk of the table. */
int conntrack_flush_addrs(struct nf_sock *s, const uint32_t *ips, unsigned n, unsigned *removed,
			  struct vpcnet_error *err);

#endif
