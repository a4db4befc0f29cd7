/* SPDX-License-Identifier: MIT */
/* Security-group rules: the model and its parser (pure).
 *
 *   PROTO[:PORTS] TARGET
 *   PROTO   tcp | udp | icmp | all        PORTS  N or N-M (tcp/udp only; omitted: all)
 *   TARGET  an IPv4 address or CIDR, or sg:NAME (the current members of group NAME) */
#ifndef VPCNET_SG_RULE_H
#define VPCNET_SG_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vpcnet.h"

#define SG_NAME_MAX 32
#define SG_PER_MEMBER 5     /* groups on one sandbox or instance, as AWS's default quota */

enum sg_dir { SG_EGRESS = 0, SG_INGRESS = 1 };

struct sg_rule {
	enum sg_dir dir;
	uint8_t proto;           /* 0: all, else IPPROTO_ICMP/TCP/UDP */
	uint16_t port_lo, port_hi;
	bool to_group;           /* target is sg:NAME */
	uint32_t net;            /* CIDR target, host order */
	unsigned len;
	char group[SG_NAME_MAX + 1];
};

/* A membership profile's order of its groups (ids, ascending): slot order does not change
 * what passes, so members with the same groups in any order share one profile. */
void sg_groups_sort(int64_t *g, size_t n);
int valid_sg_name(const char *name, struct vpcnet_error *err);
int sg_parse_dir(const char *s, enum sg_dir *dir, struct vpcnet_error *err);
/* Parses "PROTO[:PORTS]" and "TARGET" into @r (its dir is left alone). */
int sg_parse_rule(const char *proto_ports, const char *target, struct sg_rule *r,
		  struct vpcnet_error *err);
/* "tcp:80-90 10.0.0.0/8" / "all sg:db" */
void sg_rule_str(const struct sg_rule *r, char *buf, size_t n);
const char *sg_dir_str(enum sg_dir d);

#endif
