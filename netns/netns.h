/* SPDX-License-Identifier: MIT */
/* Network namespaces: named ones the iproute2 way (a bind mount under /run/netns), and
 * running code inside one without moving the caller's thread: a short-lived helper thread
 * joins the namespace, opens what it needs (netlink sockets keep their namespace for life)
 * and exits. */
#ifndef VPCNET_NETNS_H
#define VPCNET_NETNS_H

#include "vpcnet.h"

/* Runs @fn(@arg) on a new thread that has joined the network namespace @nsfd; with
 * @nsfd < 0 it runs @fn on the calling thread.  Returns what @fn returns. */
int netns_run(int nsfd, int (*fn)(void *arg), void *arg, struct vpcnet_error *err);

/* Creates the named namespace @path (refused with EEXIST when the name is taken), runs
 * @fn(@arg) inside it before it is published, and returns an fd for it in @fd_out. */
int netns_create(const char *path, int (*fn)(void *arg), void *arg, int *fd_out,
		 struct vpcnet_error *err);

/* Opens @path and checks that it is a network namespace. */
int netns_open(const char *path, int *fd_out, struct vpcnet_error *err);

/* Unmounts and unlinks a named namespace; the kernel frees it once unused.  Gone = done. */
int netns_remove(const char *path, struct vpcnet_error *err);

/* Writes @value to /proc/sys/@key ("net/ipv4/ip_forward") for the calling thread's netns. */
int sysctl_write(const char *key, const char *value, struct vpcnet_error *err);

#endif
