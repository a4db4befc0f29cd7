/* SPDX-License-Identifier: MIT */
/* The CNI plugin's parts: the protocol (cni.c: variables, stdin, config, errors) and the
 * commands (cni_ops.c). */
#ifndef VPCNET_CLI_CNI_H
#define VPCNET_CLI_CNI_H

#include <jansson.h>
#include <stdbool.h>
#include "vpcnet.h"

/* Error codes: the spec's well-known ones, then vpcnet's own from 100. */
enum {
	CNI_ERR_VERSION = 1,       /* incompatible cniVersion */
	CNI_ERR_ENV = 4,           /* a necessary environment variable missing or invalid */
	CNI_ERR_IO = 5,            /* stdin could not be read */
	CNI_ERR_DECODE = 6,        /* stdin is not a JSON object */
	CNI_ERR_CONFIG = 7,        /* the network config is invalid */
	CNI_ERR_AGAIN = 11,        /* the store or the attachment is busy: try again later */
	CNI_ERR_UNAVAILABLE = 50,  /* STATUS: the plugin cannot service ADD */
	CNI_ERR_FULL = 51,         /* STATUS: no free address left in the VPC */
	CNI_ERR_FAILED = 100,      /* the operation failed (kernel, store) */
	CNI_ERR_NOT_FOUND = 101,   /* the VPC or a security group does not exist */
	CNI_ERR_EXISTS = 102,      /* the interface or the attachment exists already */
	CNI_ERR_REFUSED = 103,     /* vpcnet refused an input (e.g. CNI_NETNS not a netns) */
	CNI_ERR_CHECK = 104,       /* CHECK: the attachment differs from prevResult or is broken */
	CNI_ERR_NOT_OURS = 105,    /* the sandbox of this id belongs to another attachment */
	CNI_ERR_GC = 106,          /* GC: some stale attachments could not be removed */
};

#define ORIGIN_PREFIX "cni:"  /* origins "cni:NAME/CONTAINERID/IFNAME" */

struct cni {
	const char *cmd, *cid, *netns, *ifname, *path;
	const char *version;   /* the config's, once known to be supported */
	json_t *conf;
	const char *name, *vpc;
	const char *sgs[VPCNET_SG_PER_MEMBER];
	unsigned nsgs;
	bool default_route;    /* "defaultRoute" (default true) */
	char *arg_sgs;         /* VPCNET_SG from CNI_ARGS (owned) */
	struct vpcnet_config cfg;
	char id[VPCNET_ID_MAX + 1];
	char origin[VPCNET_ORIGIN_MAX + 1];
};

/* Prints the error JSON {cniVersion, code, msg, details} on stdout (and a log line on
 * stderr); returns the exit code, 1. */
int cni_error(const struct cni *c, int code, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A library failure as a CNI error: 11 when busy, else 100-103 by its status. */
int cni_fail(const struct cni *c, const char *msg, const struct vpcnet_error *err);
/* Whether the config's version is 0.x (its ips carry "version"). */
bool cni_v04(const struct cni *c);

int cni_add(struct cni *c);
int cni_del(struct cni *c);
int cni_check(struct cni *c);
int cni_status(struct cni *c);
int cni_gc(struct cni *c);

#endif
