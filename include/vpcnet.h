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
#define VPCNET_SG_NAME_MAX 32  /* security group names: 1-32 of [A-Za-z0-9_.-] */
#define VPCNET_SG_PER_MEMBER 5 /* groups on one sandbox or instance */
#define VPCNET_ORIGIN_MAX 255  /**< a member's origin: printable ASCII */

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
	char kind[12];                 /**< "sandbox" or "instance" */
	unsigned ngroups;              /**< its security groups, in order */
	char groups[VPCNET_SG_PER_MEMBER][VPCNET_SG_NAME_MAX + 1];
	unsigned max_connections;      /**< connections it may have open at once */
	char origin[VPCNET_ORIGIN_MAX + 1]; /**< what attached it: "" (CLI, library) or, e.g.,
					         "cni:NETWORK/CONTAINERID/IFNAME" */
};

/** Packets the router refused from or towards a member, since it was made. */
struct vpcnet_drops {
	uint64_t spoofed;  /**< sent with another source address or MAC, not IPv4, or bad ARP */
	uint64_t inbound;  /**< new flows towards it that nothing opened */
	uint64_t denied;   /**< sent where its groups or the house rules do not allow, or past
			        its connection limit */
};

struct vpcnet_sandbox_spec {
	const char *id;
	const char *vpc;     /**< NULL: "default", created on first use */
	const char *addr;    /**< NULL: the lowest free address */
	const char *netns;   /**< NULL: make /run/netns/vpcnet-sbx-ID; else adopt this path */
	const char *ifname;  /**< NULL: "eth0" */
	const char *const *sgs; /**< its security groups (of its VPC); none: the VPC's "default" */
	unsigned nsgs;
	unsigned max_connections; /**< 0: VPCNET_MAX_CONNECTIONS_DEFAULT */
	bool no_default_route; /**< only the subnet's route inside, no default route (for a
				    second interface in an adopted namespace) */
	const char *origin;  /**< NULL or "": made by hand; else who attached it (recorded and
			          shown; the CNI plugin's GC touches only its own) */
};

#define VPCNET_MAX_CONNECTIONS_DEFAULT 1024
#define VPCNET_MAX_CONNECTIONS_MAX 1000000

VPCNET_API int vpcnet_sandbox_create(struct vpcnet *vn, const struct vpcnet_sandbox_spec *spec,
				     struct vpcnet_sandbox *out, struct vpcnet_error *err);
/** Deleting a sandbox that does not exist succeeds. */
VPCNET_API int vpcnet_sandbox_delete(struct vpcnet *vn, const char *id,
				     struct vpcnet_error *err);
VPCNET_API int vpcnet_sandbox_get(struct vpcnet *vn, const char *id, struct vpcnet_sandbox *out,
				  struct vpcnet_error *err);
/** The router's refusal counters of sandbox (or, with @instance, instance) @id. */
VPCNET_API int vpcnet_member_drops(struct vpcnet *vn, const char *id, bool instance,
				   struct vpcnet_drops *out, struct vpcnet_error *err);
/** The warm pool: ready sandbox networks of a VPC (namespace, port, address; in no group,
 *  sending nothing, reached by nothing) that vpcnet_sandbox_create() takes when the spec
 *  asks for nothing special (no addr, netns, ifname or connection limit of its own). */
#define VPCNET_POOL_MAX 10000
VPCNET_API int vpcnet_pool_fill(struct vpcnet *vn, const char *vpc, unsigned n, unsigned *made,
				struct vpcnet_error *err);
VPCNET_API int vpcnet_pool_count(struct vpcnet *vn, const char *vpc, unsigned *ready,
				 struct vpcnet_error *err);
VPCNET_API int vpcnet_pool_drain(struct vpcnet *vn, const char *vpc, unsigned *removed,
				 struct vpcnet_error *err);
/** Calls @fn for each sandbox (of @vpc, or all when NULL). */
VPCNET_API int vpcnet_sandbox_list(struct vpcnet *vn, const char *vpc,
				   int (*fn)(const struct vpcnet_sandbox *sb, void *arg), void *arg,
				   struct vpcnet_error *err);

/**
 * Compares what the kernel holds for sandbox @id with what it was given: its namespace,
 * interface (up, its MAC), address, a default route via the gateway (in any table; unless
 * @flags holds VPCNET_CHECK_NO_DEFAULT_ROUTE), and in
 * the VPC router its port, /32 route and nftables elements (its own and its groups').  0 when
 * all is there; else a negative errno and the first difference in @err (-EINVAL when
 * something differs, -ENOENT/-ENODEV with VPCNET_NOT_FOUND when it is gone).
 */
#define VPCNET_CHECK_NO_DEFAULT_ROUTE 1u /**< made with no_default_route: expect none */
VPCNET_API int vpcnet_sandbox_check(struct vpcnet *vn, const char *id, unsigned flags,
				    struct vpcnet_error *err);

/** Replaces a sandbox's security groups in one atomic change. */
VPCNET_API int vpcnet_sandbox_set_sg(struct vpcnet *vn, const char *id, const char *const *sgs,
				     unsigned nsgs, struct vpcnet_error *err);

/**
 * Instances: VPC members that are not sandboxes (a database, an internal API), in
 * namespaces /run/netns/vpcnet-ins-NAME.  Reached exactly as their groups' ingress rules
 * allow; a sandbox never is.  Same spec and result types as sandboxes.
 */
VPCNET_API int vpcnet_instance_create(struct vpcnet *vn, const struct vpcnet_sandbox_spec *spec,
				      struct vpcnet_sandbox *out, struct vpcnet_error *err);
VPCNET_API int vpcnet_instance_set_sg(struct vpcnet *vn, const char *name,
				      const char *const *sgs, unsigned nsgs,
				      struct vpcnet_error *err);
VPCNET_API int vpcnet_instance_delete(struct vpcnet *vn, const char *name,
				      struct vpcnet_error *err);
VPCNET_API int vpcnet_instance_get(struct vpcnet *vn, const char *name,
				   struct vpcnet_sandbox *out, struct vpcnet_error *err);
VPCNET_API int vpcnet_instance_list(struct vpcnet *vn, const char *vpc,
				    int (*fn)(const struct vpcnet_sandbox *in, void *arg),
				    void *arg, struct vpcnet_error *err);

/** A security group. */
struct vpcnet_sg {
	char name[VPCNET_SG_NAME_MAX + 1];
	char vpc[VPCNET_NAME_MAX + 1];
	char description[256];
	unsigned members;   /**< sandboxes and instances using it */
	unsigned rules;
};

/* Groups are named within their VPC; @vpc may be NULL when the name is unique on the host. */
VPCNET_API int vpcnet_sg_create(struct vpcnet *vn, const char *vpc, const char *name,
				const char *description, struct vpcnet_error *err);
/** Refused (VPCNET_EXISTS) while a member uses it or another group's rule names it. */
VPCNET_API int vpcnet_sg_delete(struct vpcnet *vn, const char *vpc, const char *name,
				struct vpcnet_error *err);
VPCNET_API int vpcnet_sg_get(struct vpcnet *vn, const char *vpc, const char *name,
			     struct vpcnet_sg *out, struct vpcnet_error *err);
VPCNET_API int vpcnet_sg_list(struct vpcnet *vn, const char *vpc,
			      int (*fn)(const struct vpcnet_sg *sg, void *arg), void *arg,
			      struct vpcnet_error *err);
/** Calls @fn with each rule as text: @dir "egress"/"ingress", @rule "tcp:80 10.0.0.0/8". */
VPCNET_API int vpcnet_sg_rules(struct vpcnet *vn, const char *vpc, const char *name,
			       int (*fn)(const char *dir, const char *rule, void *arg), void *arg,
			       struct vpcnet_error *err);
/**
 * Adds or removes a rule: @dir "egress" or "ingress", @proto_ports "tcp|udp|icmp|all[:N[-M]]",
 * @target an IPv4 address or CIDR or "sg:NAME".  Takes effect for new flows at once.
 */
VPCNET_API int vpcnet_sg_rule_add(struct vpcnet *vn, const char *vpc, const char *name,
				  const char *dir, const char *proto_ports, const char *target,
				  struct vpcnet_error *err);
VPCNET_API int vpcnet_sg_rule_del(struct vpcnet *vn, const char *vpc, const char *name,
				  const char *dir, const char *proto_ports, const char *target,
				  struct vpcnet_error *err);

/** The size of the last nftables change this handle made: messages and set elements. */
VPCNET_API void vpcnet_last_batch(const struct vpcnet *vn, unsigned *messages,
				  unsigned *elements);

/** What vpcnet_gc() found and repaired. */
struct vpcnet_gc_report {
	unsigned vpcs_removed;       /**< half-created or half-deleted VPCs rolled back */
	unsigned sandboxes_removed;  /**< half-created or half-deleted sandboxes rolled back */
	unsigned ports_removed;      /**< router ports that no sandbox owns */
	unsigned elements_removed;   /**< refusal counters of ports that are gone */
	unsigned vpcs_reconciled;    /**< VPCs whose groups and attachments were rebuilt */
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
