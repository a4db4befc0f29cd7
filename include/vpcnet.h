/* SPDX-License-Identifier: MIT */
/**
 * @file vpcnet.h
 * @brief libvpcnet: per-sandbox network namespaces behind a VPC router.
 *
 * Every function returns 0 on success or a negative errno, and on failure fills the
 * caller's struct vpcnet_error with a one-line message that names what failed and a
 * status class (vpcnet_status) that the CLI turns into its exit code.  The library never
 * prints and never exits.  A struct vpcnet handle may be used by one thread at a time;
 * open one handle per thread to work in parallel (the state store and the kernel
 * serialise what must be serialised).  There is no global mutable state.
 */
#ifndef VPCNET_H
#define VPCNET_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VPCNET_API __attribute__((visibility("default")))

/** Status classes; the CLI exits with these numbers. */
enum vpcnet_status {
	VPCNET_OK = 0,
	VPCNET_FAILED = 1,    /**< the operation failed (kernel, store, I/O) */
	VPCNET_BAD_INPUT = 2, /**< malformed or out-of-range input */
	VPCNET_NOT_FOUND = 3, /**< an unknown VPC or sandbox */
	VPCNET_EXISTS = 4,    /**< a name or address already taken, or still in use */
};

#define VPCNET_ERRMSG_MAX 512

/** What went wrong: a status class, the errno behind it and a message with context. */
struct vpcnet_error {
	enum vpcnet_status status;
	int errnum;                   /**< positive errno */
	char msg[VPCNET_ERRMSG_MAX];  /**< e.g. "sandbox fn-1: veth port7: File exists" */
};

#define VPCNET_NAME_MAX 32     /**< VPC names: 1-32 of [a-z0-9-] */
#define VPCNET_ID_MAX 64       /**< sandbox ids: 1-64 of [A-Za-z0-9_.-] */
#define VPCNET_IFNAME_MAX 15   /**< kernel interface names */
#define VPCNET_PATH_MAX 256

/** Options for vpcnet_open(); zero-initialise and set what you need. */
struct vpcnet_config {
	const char *state_dir;   /**< NULL: /var/lib/vpcnet */
	const char *host_netns;  /**< name under /run/netns playing "the host"; NULL: the caller's netns */
};

struct vpcnet;

VPCNET_API int vpcnet_open(struct vpcnet **out, const struct vpcnet_config *cfg,
			   struct vpcnet_error *err);
VPCNET_API void vpcnet_close(struct vpcnet *vn);

/** A VPC as stored (and as the kernel should have it). */
struct vpcnet_vpc {
	char name[VPCNET_NAME_MAX + 1];
	struct in_addr network;        /**< the VPC's CIDR (one subnet spans it) */
	unsigned prefix;
	struct in_addr gateway;        /**< first address of the CIDR, on the router */
	bool nat;                      /**< has a NAT gateway (a way out) */
	char uplink[VPCNET_IFNAME_MAX + 1];  /**< host device its NAT traffic leaves by */
	char netns[VPCNET_PATH_MAX];   /**< the router namespace */
	char transit_if[VPCNET_IFNAME_MAX + 1]; /**< host end of the transit link */
	struct in_addr transit_host;   /**< host end address (/31) */
	struct in_addr transit_router; /**< router end address (/31) */
	unsigned sandboxes;            /**< members using it */
	char state[12];                /**< "ready", or "creating"/"deleting" while in flight */
};

struct vpcnet_vpc_spec {
	const char *name;
	const char *cidr;    /**< IPv4 prefix, /16 to /28 */
	bool nat;
	const char *uplink;  /**< NULL: the host's default-route device */
};

VPCNET_API int vpcnet_vpc_create(struct vpcnet *vn, const struct vpcnet_vpc_spec *spec,
				 struct vpcnet_vpc *out, struct vpcnet_error *err);
/** Refuses (VPCNET_EXISTS) while sandboxes remain, unless @force deletes them first. */
VPCNET_API int vpcnet_vpc_delete(struct vpcnet *vn, const char *name, bool force,
				 struct vpcnet_error *err);
VPCNET_API int vpcnet_vpc_get(struct vpcnet *vn, const char *name, struct vpcnet_vpc *out,
			      struct vpcnet_error *err);
/** Calls @fn for each VPC, by name; a non-zero return from @fn stops and is returned. */
VPCNET_API int vpcnet_vpc_list(struct vpcnet *vn,
			       int (*fn)(const struct vpcnet_vpc *vpc, void *arg), void *arg,
			       struct vpcnet_error *err);

/** A sandbox's network as stored. */
struct vpcnet_sandbox {
	char id[VPCNET_ID_MAX + 1];
	char vpc[VPCNET_NAME_MAX + 1];
	char netns[VPCNET_PATH_MAX];   /**< namespace path */
	bool netns_owned;              /**< vpcnet made the namespace (else adopted) */
	char ifname[VPCNET_IFNAME_MAX + 1];  /**< inside the sandbox */
	char port[VPCNET_IFNAME_MAX + 1];    /**< the router's end (in the VPC router) */
	struct in_addr addr;
	unsigned prefix;
	struct in_addr gateway;
	uint8_t mac[6];
	char state[12];
};

struct vpcnet_sandbox_spec {
	const char *id;
	const char *vpc;     /**< NULL: "default", created on first use */
	const char *addr;    /**< NULL: the lowest free address */
	const char *netns;   /**< NULL: make /run/netns/vpcnet-sbx-ID; else adopt this path */
	const char *ifname;  /**< NULL: "eth0" */
};

VPCNET_API int vpcnet_sandbox_create(struct vpcnet *vn, const struct vpcnet_sandbox_spec *spec,
				     struct vpcnet_sandbox *out, struct vpcnet_error *err);
/** Deleting a sandbox that does not exist succeeds. */
VPCNET_API int vpcnet_sandbox_delete(struct vpcnet *vn, const char *id,
				     struct vpcnet_error *err);
VPCNET_API int vpcnet_sandbox_get(struct vpcnet *vn, const char *id, struct vpcnet_sandbox *out,
				  struct vpcnet_error *err);
/** Calls @fn for each sandbox (of @vpc, or all when NULL). */
VPCNET_API int vpcnet_sandbox_list(struct vpcnet *vn, const char *vpc,
				   int (*fn)(const struct vpcnet_sandbox *sb, void *arg), void *arg,
				   struct vpcnet_error *err);

/** What vpcnet_gc() found and repaired. */
struct vpcnet_gc_report {
	unsigned vpcs_removed;       /**< half-created or half-deleted VPCs rolled back */
	unsigned sandboxes_removed;  /**< half-created or half-deleted sandboxes rolled back */
	unsigned ports_removed;      /**< router ports that no sandbox owns */
	unsigned elements_removed;   /**< nftables elements that no sandbox or VPC owns */
	unsigned errors;             /**< repairs that failed; the first is in err */
};

/** Compares the store with the kernel and repairs both ways; carries on past errors. */
VPCNET_API int vpcnet_gc(struct vpcnet *vn, struct vpcnet_gc_report *report,
			 struct vpcnet_error *err);

/** Formats an address as "a.b.c.d" into @buf (at least 16 bytes); returns @buf. */
VPCNET_API const char *vpcnet_addr_str(struct in_addr a, char *buf);

#ifdef __cplusplus
}
#endif
#endif
