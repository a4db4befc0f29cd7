/* SPDX-License-Identifier: MIT */
/* Network namespaces: named ones the iproute2 way (a bind mount under /run/netns), and
 * running code inside one without moving the caller's thread: a short-lived helper thread
 * joins the namespace, opens what it needs (netlink sockets keep their namespace for life)
 * and exits. */
#ifndef VPCNET_NETNS_H
#define VPCNET_NETNS_H

#include <stdbool.h>
#include "vpcnet.h"

/* Runs @fn(@arg) on a new thread that has joined the network namespace @nsfd; with
 * @nsfd < 0 it runs @fn on the calling thread.  Returns what @fn returns. */
int netns_run(int nsfd, int (*fn)(void *arg), void *arg, struct vpcnet_error *err);

/* Creates the named namespace @path (refused with EEXIST when the name is taken), runs
 * @fn(@arg) inside it before it is published, and returns an fd for it in @fd_out. */
int netns_create(const char *path, int (*fn)(void *arg), void *arg, int *fd_out,
		 struct vpcnet_error *err);

/* A new namespace, made on a helper thread of its own placed on another CPU than the
 * caller's (when it may use several) while the caller goes on, and not published: held only
 * by the fd netns_create_wait() returns (and what @fn opened in it), so that a process
 * killed before netns_publish() leaves nothing behind.  @fn runs inside it; its @arg and
 * @err (the thread's: not the caller's meanwhile) must outlive the wait. */
struct netns_pending;
int netns_create_start(struct netns_pending **out, int (*fn)(void *arg), void *arg,
		       struct vpcnet_error *err);
/* Joins the helper: 0 and the namespace's fd, or @fn's or the helper's error (in the
 * start's @err). */
int netns_create_wait(struct netns_pending *p, int *fd_out);
/* Names namespace @fd @path (a bind mount; refused with EEXIST when the name is taken). */
int netns_publish(int fd, const char *path, struct vpcnet_error *err);
/* Whether a CPU this thread may use is idle now (fewer runnable tasks, this one included,
 * than such CPUs: /proc/loadavg), so that a helper started now runs beside it. */
bool netns_cpu_idle(void);

/* Opens @path and checks that it is a network namespace. */
int netns_open(const char *path, int *fd_out, struct vpcnet_error *err);

/* Unmounts and unlinks a named namespace; the kernel frees it once unused.  Gone = done. */
int netns_remove(const char *path, struct vpcnet_error *err);

/* Writes sysctls (@kv: key, a path under /proc/sys, and value) of the calling thread's
 * network namespace, through a procfs instance of their own: under the host's /proc, a
 * lookup under /proc/sys/net compares a cached dentry of every namespace that ever looked
 * the name up (0.4 ms with 1,000 sandboxes here, and growing with them), and a new instance
 * has none (0.11 ms whatever the host holds: 0.03 the write, 0.08 its unmount).  /proc when
 * no instance can be made. */
int sysctl_set(const char *const kv[][2], size_t n, struct vpcnet_error *err);
/* One of them: @value to /proc/sys/@key ("net/ipv4/ip_forward"). */
int sysctl_write(const char *key, const char *value, struct vpcnet_error *err);

#endif
