/* SPDX-License-Identifier: MIT */
/* IPv4 addresses and prefixes, the VPC address plan and the transit plan.  Pure code:
 * addresses are uint32_t in host byte order. */
#ifndef VPCNET_ADDR_H
#define VPCNET_ADDR_H

#include <stdint.h>
#include "vpcnet.h"

#define VPC_PREFIX_MIN 16
#define VPC_PREFIX_MAX 28
/* Like AWS, the first four addresses (network, router, DNS, reserved) and the last
 * (broadcast) of a subnet are never leased. */
#define SUBNET_RESERVED_LOW 4

/* Transit links: VPC transit index i gets TRANSIT_BASE + 2i (host end) and + 2i + 1
 * (router end) as a /31.  198.18.0.0/15 is reserved for benchmarking (RFC 2544) and
 * never routed on the internet. */
#define TRANSIT_BASE 0xc6120000u /* 198.18.0.0 */
#define TRANSIT_PREFIX_LEN 15
#define TRANSIT_MAX ((1u << (32 - TRANSIT_PREFIX_LEN)) / 2)

int parse_ipv4(const char *s, uint32_t *out);
/* "a.b.c.d/n", host bits zero, prefix within [@min, @max]; @what names the option. */
int parse_cidr(const char *s, unsigned min, unsigned max, const char *what, uint32_t *net,
	       unsigned *prefix, struct vpcnet_error *err);

static inline uint32_t prefix_mask(unsigned prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}
static inline uint32_t subnet_gateway(uint32_t net) { return net + 1; }
static inline uint32_t subnet_first(uint32_t net) { return net + SUBNET_RESERVED_LOW; }
static inline uint32_t subnet_last(uint32_t net, unsigned prefix)
{
	return (net | ~prefix_mask(prefix)) - 1;
}
static inline uint32_t transit_host(uint32_t idx) { return TRANSIT_BASE + 2 * idx; }
static inline uint32_t transit_router(uint32_t idx) { return TRANSIT_BASE + 2 * idx + 1; }

/* Checks that @ip is a leasable address of the subnet; the message names @ip. */
int subnet_check_lease(uint32_t net, unsigned prefix, uint32_t ip, struct vpcnet_error *err);

/* A sandbox's MAC: locally administered, derived from its address, so the router can pin it. */
void member_mac(uint32_t ip, uint8_t mac[6]);

struct in_addr to_in_addr(uint32_t host_order);
const char *ipv4_str(uint32_t host_order, char buf[16]);

#endif
