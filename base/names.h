/* SPDX-License-Identifier: MIT */
/* Validation of user-given names, and the kernel names vpcnet derives from store ids
 * (so that `vpcnet gc` can find what a crashed process left). */
#ifndef VPCNET_NAMES_H
#define VPCNET_NAMES_H

#include <stdint.h>
#include "vpcnet.h"

#define NETNS_RUN_DIR "/run/netns"
#define ROUTER_NETNS_PREFIX "vpcnet-vpc-"
#define SANDBOX_NETNS_PREFIX "vpcnet-sbx-"
#define INSTANCE_NETNS_PREFIX "vpcnet-ins-"
#define PORT_PREFIX "port"     /* router end of a member's veth, in the router netns */
#define TRANSIT_PREFIX "vpct"  /* host end of a VPC's transit veth, in the host netns */
#define ROUTER_TRANSIT_IF "transit"  /* router end of the transit veth */
#define DEFAULT_STATE_DIR "/var/lib/vpcnet"
#define DEFAULT_VPC "default"
#define DEFAULT_VPC_CIDR "172.31.0.0/16"
#define DEFAULT_IFNAME "eth0"

int valid_vpc_name(const char *name, struct vpcnet_error *err);
int valid_sandbox_id(const char *id, struct vpcnet_error *err);
/* @what names the option in the message ("--ifname", "--uplink"). */
int valid_ifname(const char *name, const char *what, struct vpcnet_error *err);
/* A namespace name under /run/netns (as iproute2 accepts it). */
int valid_netns_name(const char *name, const char *what, struct vpcnet_error *err);

void router_netns_path(char buf[VPCNET_PATH_MAX], const char *vpc);
void sandbox_netns_path(char buf[VPCNET_PATH_MAX], const char *id);
void instance_netns_path(char buf[VPCNET_PATH_MAX], const char *name);
void port_name(char buf[VPCNET_IFNAME_MAX + 1], int64_t member_id);
void transit_name(char buf[VPCNET_IFNAME_MAX + 1], int64_t vpc_id);
/* Parses a name made by port_name()/transit_name(); returns the id or -1. */
int64_t port_id(const char *ifname);
int64_t transit_id(const char *ifname);

#endif
