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
 *
 * Conventions of every function below unless its comment says otherwise:
 * - @p vn is a handle from vpcnet_open(); the caller owns it and must not use it from two
 *   threads at once, nor from a child after fork() (its SQLite connection belongs to the
 *   process that opened it; open a new handle in the child).
 * - @p err may be NULL (the message is then lost); after a success its content is
 *   unspecified.
 * - Names are validated before anything changes: VPC names 1-32 of [a-z0-9-], sandbox and
 *   instance ids 1-64 of [A-Za-z0-9_.-], group names 1-32 of [A-Za-z0-9_.-], interface
 *   names at most 15 bytes.  A bad one fails with VPCNET_BAD_INPUT and changes nothing.
 * - On failure nothing is left half-done: the operation rolled back, or what a crash left
 *   is repaired by vpcnet_gc().
 * - Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root): vpcnet_open() checks.
 * - What a callback is handed is valid during that call only.  The library keeps no
 *   pointer to caller memory once a call returns.
 *
 * Build with `pkg-config --cflags --libs vpcnet`; examples/c/hello.c is a whole program.
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

/** Status classes of a failure (struct vpcnet_error.status); the CLI exits with these
 *  numbers. */
enum vpcnet_status {
	VPCNET_OK = 0,
	VPCNET_FAILED = 1,    /**< the operation failed (kernel, store, I/O) */
	VPCNET_BAD_INPUT = 2, /**< malformed or out-of-range input */
	VPCNET_NOT_FOUND = 3, /**< an unknown VPC or sandbox */
	VPCNET_EXISTS = 4,    /**< a name or address already taken, or still in use */
};

/** Size of struct vpcnet_error.msg, terminating NUL included. */
#define VPCNET_ERRMSG_MAX 512

/** What went wrong: a status class, the errno behind it and a message with context. */
struct vpcnet_error {
	enum vpcnet_status status;    /**< the class: what the caller may do about it */
	int errnum;                   /**< positive errno */
	char msg[VPCNET_ERRMSG_MAX];  /**< e.g. "sandbox fn-1: veth port7: File exists" */
};

#define VPCNET_NAME_MAX 32     /**< VPC names: 1-32 of [a-z0-9-] */
#define VPCNET_ID_MAX 64       /**< sandbox ids: 1-64 of [A-Za-z0-9_.-] */
#define VPCNET_IFNAME_MAX 15   /**< kernel interface names */
#define VPCNET_PATH_MAX 256    /**< paths: state dir, namespace paths (NUL included) */
#define VPCNET_SG_NAME_MAX 32  /**< security group names: 1-32 of [A-Za-z0-9_.-] */
#define VPCNET_SG_PER_MEMBER 5 /**< groups on one sandbox or instance */
#define VPCNET_ORIGIN_MAX 255  /**< a member's origin: printable ASCII */

/** Options for vpcnet_open(); zero-initialise and set what you need. */
struct vpcnet_config {
	const char *state_dir;   /**< NULL: /var/lib/vpcnet */
	const char *host_netns;  /**< name under /run/netns playing "the host"; NULL: the caller's netns */
	/**
	 * Closing a netlink socket whose batches deleted rules or set elements waits for the
	 * kernel to free them (an RCU grace period, 5-10 ms here), holding the namespace's
	 * nftables commit lock.  A handle keeps such sockets until vpcnet_close() (or until it
	 * holds 16) and closes them together: one wait for many deletes.  With @defer_release,
	 * vpcnet_close() instead hands them to a grandchild that closes every other descriptor
	 * at once, waits 50 ms, closes those sockets and exits, so the caller does not wait
	 * (the grandchild's parent exits at once and is reaped inside the call: the caller is
	 * left no child of vpcnet's).  The trade-off, measured: the wait is not gone but
	 * moved: the next socket of any process to close in that router's namespace within the
	 * grace period waits for it instead (when set-sg still deleted elements, it took 2.3 ms
	 * instead of 16 this way, and the create right after it 10 ms instead of 3.9), so the
	 * CLI does not set it: creates are on the cold-start path.  (Deletes do not free
	 * elements: they revoke, and a batch is reaped later; set-sg frees none.)  What was
	 * committed is committed before the socket is closed either way.
	 */
	bool defer_release;
	/**
	 * Open the state store for reading only (what vpcnet_doctor() does): no state
	 * directory or database is made (-ENOENT, VPCNET_NOT_FOUND, when there is none), a
	 * store of an older schema is refused (-ESTALE) rather than migrated, one of a newer
	 * vpcnet's as always (-EPROTO); for reading
	 * (get, list, check, drops): an operation that writes to the store fails (-EROFS).
	 */
	bool read_only;
};

/** A handle: the state store and the host namespace, opened once.  Opaque. */
struct vpcnet;

/**
 * Opens a handle: checks privileges, opens the host namespace and the state store
 * (creating the state directory, mode 0700, and the database on first use).
 * @param out  receives the handle; release it with vpcnet_close()
 * @param cfg  options; NULL for all defaults
 * @param err  filled on failure
 * @return 0, or a negative errno: -EPERM (VPCNET_FAILED) without CAP_NET_ADMIN and
 *         CAP_SYS_ADMIN; -EINVAL (VPCNET_BAD_INPUT) for a bad state dir or host_netns name;
 *         -ENOENT (VPCNET_BAD_INPUT) when host_netns does not exist; a store error
 *         (VPCNET_FAILED) when the database cannot be opened or is of a newer schema.
 */
VPCNET_API int vpcnet_open(struct vpcnet **out, const struct vpcnet_config *cfg,
			   struct vpcnet_error *err);
/** Closes a handle and frees it; NULL is a no-op.  Kernel state stays as it is. */
VPCNET_API void vpcnet_close(struct vpcnet *vn);

/** A VPC as stored (and as the kernel should have it). */
struct vpcnet_vpc {
	char name[VPCNET_NAME_MAX + 1];
	struct in_addr network;        /**< the VPC's CIDR (one subnet spans it) */
	unsigned prefix;               /**< its length, 16 to 28 */
	struct in_addr gateway;        /**< first address of the CIDR, on the router */
	bool nat;                      /**< has a NAT gateway (a way out) */
	char uplink[VPCNET_IFNAME_MAX + 1];  /**< host device its NAT traffic leaves by */
	char netns[VPCNET_PATH_MAX];   /**< the router namespace */
	char transit_if[VPCNET_IFNAME_MAX + 1]; /**< host end of the transit link */
	struct in_addr transit_host;   /**< host end address (/31) */
	struct in_addr transit_router; /**< router end address (/31) */
	unsigned sandboxes;            /**< members using it */
	/** "ready"; "creating"/"deleting" while in flight; "broken" when the kernel lacks
	 *  its router or transit link (a host reboot: vpcnet_restore() rebuilds them) */
	char state[12];
	char problem[96];              /**< what the kernel lacks when "broken", else "" */
};

/** What vpcnet_vpc_create() makes; zero-initialise and set what you need. */
struct vpcnet_vpc_spec {
	const char *name;    /**< 1-32 of [a-z0-9-]; unique on the host */
	const char *cidr;    /**< IPv4 prefix, /16 to /28, no host bits: "10.0.0.0/16" */
	bool nat;            /**< give it a NAT gateway (else it has no way out) */
	const char *uplink;  /**< NULL: the host's default-route device */
};

/**
 * Creates a VPC: its router namespace, the transit link to the host, the router's nftables
 * table with the group "default" (egress anywhere); with @p spec->nat, the host's
 * masquerade of its traffic out of the uplink.
 * @param spec  what to make
 * @param out   filled with the VPC as stored; may be NULL
 * @return 0, or a negative errno: -EINVAL (VPCNET_BAD_INPUT) for a bad name or CIDR;
 *         -ENODEV (VPCNET_BAD_INPUT) for an uplink that the host does not have;
 *         -EEXIST (VPCNET_EXISTS) when the name is taken; -ENOSPC (VPCNET_FAILED) when
 *         no transit address is left; other kernel or store errors (VPCNET_FAILED).
 */
VPCNET_API int vpcnet_vpc_create(struct vpcnet *vn, const struct vpcnet_vpc_spec *spec,
				 struct vpcnet_vpc *out, struct vpcnet_error *err);
/**
 * Deletes a VPC: its warm pool, its router namespace (and with it every port, rule and
 * connection), its transit link and host masquerade, its groups.  Deleting a VPC that does
 * not exist succeeds.
 * @param force  delete its sandboxes and instances first, instead of refusing
 * @return 0, or a negative errno: -ENOTEMPTY (VPCNET_EXISTS) while members remain and
 *         !@p force; -EBUSY (VPCNET_FAILED) while another live process is still creating
 *         it; kernel or store errors (VPCNET_FAILED).
 */
VPCNET_API int vpcnet_vpc_delete(struct vpcnet *vn, const char *name, bool force,
				 struct vpcnet_error *err);
/**
 * Reads one VPC from the store.
 * @param out  filled on success
 * @return 0, -EINVAL (VPCNET_BAD_INPUT) for a bad name, -ENOENT (VPCNET_NOT_FOUND).
 */
VPCNET_API int vpcnet_vpc_get(struct vpcnet *vn, const char *name, struct vpcnet_vpc *out,
			      struct vpcnet_error *err);
/** Calls @p fn for each VPC, by name; a non-zero return from @p fn stops and is returned.
 *  @return 0, what @p fn returned, or a negative errno of the store (VPCNET_FAILED). */
VPCNET_API int vpcnet_vpc_list(struct vpcnet *vn,
			       int (*fn)(const struct vpcnet_vpc *vpc, void *arg), void *arg,
			       struct vpcnet_error *err);

/** A sandbox's network as stored. */
struct vpcnet_sandbox {
	char id[VPCNET_ID_MAX + 1];    /**< its id (an instance: its name) */
	char vpc[VPCNET_NAME_MAX + 1]; /**< the VPC it is a member of */
	char netns[VPCNET_PATH_MAX];   /**< namespace path */
	bool netns_owned;              /**< vpcnet made the namespace (else adopted) */
	char ifname[VPCNET_IFNAME_MAX + 1];  /**< inside the sandbox */
	char port[VPCNET_IFNAME_MAX + 1];    /**< the router's end (in the VPC router) */
	struct in_addr addr;           /**< its address on eth0 (the ifname) */
	unsigned prefix;               /**< the subnet's prefix length */
	struct in_addr gateway;        /**< its default route: the router */
	uint8_t mac[6];                /**< its interface's MAC, pinned at the router */
	/** "ready"; "creating"/"deleting"/"restoring" while in flight; "broken" when the kernel
	 *  lacks its namespace, its router or its router port (listed and shown, not stored) */
	char state[12];
	char problem[96];              /**< what the kernel lacks when "broken", else "" */
	char kind[12];                 /**< "sandbox" or "instance" */
	unsigned ngroups;              /**< its security groups, in order */
	char groups[VPCNET_SG_PER_MEMBER][VPCNET_SG_NAME_MAX + 1];
	unsigned max_connections;      /**< connections it may have open at once */
	char tap[VPCNET_IFNAME_MAX + 1];   /**< microVM tap device in its namespace, or "" */
	unsigned control_port;         /**< TCP port the host may connect to, or 0 */
	struct in_addr control_addr;   /**< ... by connecting to this address (the router's
					    end of the VPC's transit link) */
	unsigned control_host_port;    /**< ... and this port (the router forwards it) */
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

/** What vpcnet_sandbox_create() and vpcnet_instance_create() make; zero-initialise and
 *  set what you need. */
struct vpcnet_sandbox_spec {
	const char *id;      /**< 1-64 of [A-Za-z0-9_.-]; an instance's name */
	const char *vpc;     /**< NULL: "default", created on first use */
	const char *addr;    /**< NULL: the lowest free address */
	const char *netns;   /**< NULL: make /run/netns/vpcnet-sbx-ID; else adopt this path */
	const char *ifname;  /**< NULL: "eth0" */
	const char *const *sgs; /**< its security groups (of its VPC); none: the VPC's "default" */
	unsigned nsgs;       /**< entries in sgs, at most VPCNET_SG_PER_MEMBER */
	unsigned max_connections; /**< 0: VPCNET_MAX_CONNECTIONS_DEFAULT */
	/** A tap device of this name (an interface name: 1-15 bytes, no '/', ':', '%' or
	 *  spaces, not the interface's own name) made in the namespace and wired
	 *  to the interface both ways (tc redirect): a microVM on it owns the sandbox's address
	 *  and MAC, and the interface itself gets no address.  NULL: none. */
	const char *tap;
	/** A TCP port (1-65535) that the host namespace alone may open connections to, at
	 *  control_addr:control_host_port of the result.  0: none (nothing gets in). */
	unsigned control_port;
	bool no_default_route; /**< only the subnet's route inside, no default route (for a
				    second interface in an adopted namespace) */
	const char *origin;  /**< NULL or "": made by hand; else who attached it (recorded and
			          shown; the CNI plugin's GC touches only its own) */
};

#define VPCNET_MAX_CONNECTIONS_DEFAULT 1024  /**< a member's connection limit by default */
#define VPCNET_MAX_CONNECTIONS_MAX 1000000   /**< the highest limit one may ask for */

/**
 * Gives sandbox @p spec->id a network: a namespace (made at /run/netns/vpcnet-sbx-ID, or
 * the existing @p spec->netns adopted, e.g. "/proc/PID/ns/net"), a veth whose peer is born
 * in it as @p spec->ifname and whose other end is a routed port of the VPC router, an
 * address, a default route via the gateway, IPv6 off; its port is born in the device group
 * of its groups' membership profile, and one nftables batch then admits it (and adds the
 * profile's elements, which members with the same groups share).  Nothing can open a connection to it.  A plain spec (no addr, netns, ifname
 * or connection limit) takes a ready network from the VPC's warm pool when it has one.
 * @param spec  what to make; spec->vpc NULL joins VPC "default" (172.31.0.0/16 with NAT),
 *              which is made on first use
 * @param out   filled with the sandbox as stored; may be NULL
 * @return 0, or a negative errno: -EINVAL, -ERANGE, -E2BIG, -ENAMETOOLONG
 *         (VPCNET_BAD_INPUT) for a bad id, address, ifname, netns path, limit or group
 *         list; -ENOENT (VPCNET_BAD_INPUT) for a netns path that does not exist;
 *         -ENOENT (VPCNET_NOT_FOUND) for an unknown VPC or group or a VPC being deleted;
 *         -EEXIST (VPCNET_EXISTS) when the id, the address or the interface is taken;
 *         -ENOSPC (VPCNET_EXISTS) when the subnet is full; kernel or store errors
 *         (VPCNET_FAILED).  On failure everything made is removed again.
 */
VPCNET_API int vpcnet_sandbox_create(struct vpcnet *vn, const struct vpcnet_sandbox_spec *spec,
				     struct vpcnet_sandbox *out, struct vpcnet_error *err);
/**
 * Removes what vpcnet_sandbox_create() made: its set elements first (no new flow), its
 * connections in the router's conntrack, its port, and its namespace if vpcnet made it
 * (an adopted one is left to its owner).  Deleting a sandbox that does not exist succeeds.
 * @return 0, or a negative errno: -EINVAL (VPCNET_BAD_INPUT) for a bad id; -EBUSY
 *         (VPCNET_FAILED) while another live process creates or deletes it; kernel or
 *         store errors (VPCNET_FAILED), after which the sandbox stays listed (its address
 *         taken) until a delete or vpcnet_gc() gets through.
 */
VPCNET_API int vpcnet_sandbox_delete(struct vpcnet *vn, const char *id,
				     struct vpcnet_error *err);
/**
 * Reads one sandbox from the store.
 * @param out  filled on success
 * @return 0, -EINVAL (VPCNET_BAD_INPUT) for a bad id, -ENOENT (VPCNET_NOT_FOUND).
 */
VPCNET_API int vpcnet_sandbox_get(struct vpcnet *vn, const char *id, struct vpcnet_sandbox *out,
				  struct vpcnet_error *err);
/**
 * The router's refusal counters of sandbox (or, with @p instance, instance) @p id, read
 * from the router's nftables sets.
 * @param out  filled on success (zeroed first)
 * @return 0, -EINVAL (VPCNET_BAD_INPUT), -ENOENT (VPCNET_NOT_FOUND), or a kernel error
 *         (VPCNET_FAILED), e.g. when its VPC was made by an older vpcnet (-EPROTO).
 */
VPCNET_API int vpcnet_member_drops(struct vpcnet *vn, const char *id, bool instance,
				   struct vpcnet_drops *out, struct vpcnet_error *err);
/** The warm pool: ready sandbox networks of a VPC (namespace, port, address; in no group,
 *  sending nothing, reached by nothing) that vpcnet_sandbox_create() takes when the spec
 *  asks for nothing special (no addr, netns, ifname or connection limit of its own). */
#define VPCNET_POOL_MAX 10000  /**< the most one vpcnet_pool_fill() call makes */
/**
 * Adds @p n ready networks to the pool of VPC @p vpc.
 * @param n     1 to VPCNET_POOL_MAX
 * @param made  receives how many were made, also on failure; may be NULL
 * @return 0, or a negative errno: -EINVAL/-ERANGE (VPCNET_BAD_INPUT) for no VPC or a bad
 *         count; -ENOENT (VPCNET_NOT_FOUND) for an unknown VPC; -ENOSPC (VPCNET_EXISTS)
 *         when the subnet is full; kernel or store errors (VPCNET_FAILED).  Stops at the
 *         first failure; the ones made stay in the pool.
 */
VPCNET_API int vpcnet_pool_fill(struct vpcnet *vn, const char *vpc, unsigned n, unsigned *made,
				struct vpcnet_error *err);
/**
 * Counts the ready networks in the pool of VPC @p vpc.
 * @param ready  receives the count
 * @return 0, -EINVAL (VPCNET_BAD_INPUT), -ENOENT (VPCNET_NOT_FOUND) or a store error.
 */
VPCNET_API int vpcnet_pool_count(struct vpcnet *vn, const char *vpc, unsigned *ready,
				 struct vpcnet_error *err);
/**
 * Deletes every network in the pool of VPC @p vpc.
 * @param removed  receives how many were deleted, also on failure; may be NULL
 * @return 0, -EINVAL (VPCNET_BAD_INPUT), -ENOENT (VPCNET_NOT_FOUND), or the first error of
 *         a delete (VPCNET_FAILED), which stops the drain.
 */
VPCNET_API int vpcnet_pool_drain(struct vpcnet *vn, const char *vpc, unsigned *removed,
				 struct vpcnet_error *err);
/** Calls @p fn for each sandbox (of @p vpc, or all when NULL), pool entries excluded; a
 *  non-zero return from @p fn stops and is returned.
 *  @return 0, what @p fn returned, -EINVAL (VPCNET_BAD_INPUT) or -ENOENT
 *  (VPCNET_NOT_FOUND) for a bad or unknown @p vpc, or a store error (VPCNET_FAILED). */
VPCNET_API int vpcnet_sandbox_list(struct vpcnet *vn, const char *vpc,
				   int (*fn)(const struct vpcnet_sandbox *sb, void *arg), void *arg,
				   struct vpcnet_error *err);

/**
 * Compares what the kernel holds for sandbox @p id with what it was given: its namespace,
 * interface (up, its MAC), address, a default route via the gateway (in any table; unless
 * @p flags holds VPCNET_CHECK_NO_DEFAULT_ROUTE), and in the VPC router its port, /32 route
 * and nftables elements (its own and its groups').  What the CNI plugin's CHECK runs.
 * @return 0 when all is there; else a negative errno and the first difference in @p err:
 *         -EINVAL (VPCNET_FAILED) when something differs, -ENOENT/-ENODEV
 *         (VPCNET_NOT_FOUND) when it is gone.
 */
#define VPCNET_CHECK_NO_DEFAULT_ROUTE 1u /**< made with no_default_route: expect none */
VPCNET_API int vpcnet_sandbox_check(struct vpcnet *vn, const char *id, unsigned flags,
				    struct vpcnet_error *err);

/**
 * Replaces a sandbox's security groups in one atomic change: its router port moves to the
 * membership profile of its new groups (one device-group change, after one nftables batch
 * adds that profile's elements if it is new; nothing is deleted, so nothing waits for the
 * kernel to free it); new flows see the new groups at once.
 * @param sgs   1 to VPCNET_SG_PER_MEMBER group names of its VPC, each once
 * @return 0, or a negative errno: -EINVAL/-E2BIG (VPCNET_BAD_INPUT) for a bad id or list;
 *         -ENOENT (VPCNET_NOT_FOUND) for an unknown sandbox or group; -EBUSY
 *         (VPCNET_FAILED) while it is being created or deleted; -EAGAIN (VPCNET_FAILED)
 *         when its new profile was collected as unused before it could be used,
 *         twice; kernel or store errors.
 */
VPCNET_API int vpcnet_sandbox_set_sg(struct vpcnet *vn, const char *id, const char *const *sgs,
				     unsigned nsgs, struct vpcnet_error *err);

/**
 * Instances: VPC members that are not sandboxes (a database, an internal API), in
 * namespaces /run/netns/vpcnet-ins-NAME.  Reached exactly as their groups' ingress rules
 * allow; a sandbox never is.  Same spec and result types as sandboxes, the same
 * behaviour and errors as the sandbox function of the same verb, except: spec->vpc is
 * required (-EINVAL, VPCNET_BAD_INPUT, without it), and an instance never comes from the
 * warm pool.
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
	char vpc[VPCNET_NAME_MAX + 1];  /**< the VPC it belongs to */
	char description[256];
	unsigned members;   /**< sandboxes and instances using it */
	unsigned rules;     /**< its rules, both directions */
};

/* Groups are named within their VPC; @vpc may be NULL when the name is unique on the host
 * (else -EINVAL, VPCNET_BAD_INPUT, "in several VPCs").  An unknown group or VPC is -ENOENT
 * (VPCNET_NOT_FOUND). */
/**
 * Creates an empty group (no rules: allows nothing) in VPC @p vpc.
 * @param vpc          required here (-EINVAL, VPCNET_BAD_INPUT, when NULL)
 * @param description  free text, at most 255 bytes; may be NULL
 * @return 0, or a negative errno: -EINVAL/-E2BIG (VPCNET_BAD_INPUT); -ENOENT
 *         (VPCNET_NOT_FOUND) for an unknown VPC; -EEXIST (VPCNET_EXISTS) when the VPC has
 *         a group of that name; kernel or store errors (VPCNET_FAILED).
 */
VPCNET_API int vpcnet_sg_create(struct vpcnet *vn, const char *vpc, const char *name,
				const char *description, struct vpcnet_error *err);
/** Deletes a group and its rules.  Refused (-EBUSY, VPCNET_EXISTS) while a member uses it,
 *  another group's rule names it, or it is a VPC's "default". */
VPCNET_API int vpcnet_sg_delete(struct vpcnet *vn, const char *vpc, const char *name,
				struct vpcnet_error *err);
/** Reads one group.  @param out filled on success.  @return 0 or a negative errno. */
VPCNET_API int vpcnet_sg_get(struct vpcnet *vn, const char *vpc, const char *name,
			     struct vpcnet_sg *out, struct vpcnet_error *err);
/** Calls @p fn for each group (of @p vpc, or all when NULL); a non-zero return from @p fn
 *  stops and is returned.  @return 0, what @p fn returned, or a negative errno. */
VPCNET_API int vpcnet_sg_list(struct vpcnet *vn, const char *vpc,
			      int (*fn)(const struct vpcnet_sg *sg, void *arg), void *arg,
			      struct vpcnet_error *err);
/** Calls @p fn with each rule as text: @p dir "egress"/"ingress", @p rule
 *  "tcp:80 10.0.0.0/8" (the form vpcnet_sg_rule_add() takes); a non-zero return from
 *  @p fn stops and is returned.  @return 0, what @p fn returned, or a negative errno. */
VPCNET_API int vpcnet_sg_rules(struct vpcnet *vn, const char *vpc, const char *name,
			       int (*fn)(const char *dir, const char *rule, void *arg), void *arg,
			       struct vpcnet_error *err);
/**
 * Adds or removes a rule: @dir "egress" or "ingress", @proto_ports "tcp|udp|icmp|all[:N[-M]]",
 * @target an IPv4 address or CIDR or "sg:NAME".  Takes effect for new flows at once.
 * Ingress rules matter for instances only (nothing reaches a sandbox).
 * @return 0, or a negative errno: -EINVAL (VPCNET_BAD_INPUT) for a malformed rule;
 *         -ENOENT (VPCNET_NOT_FOUND) for an unknown group, target group, or (del) rule;
 *         -EEXIST (VPCNET_EXISTS) when adding a rule the group has; -E2BIG
 *         (VPCNET_BAD_INPUT) past the group's size limit; kernel or store errors.
 */
VPCNET_API int vpcnet_sg_rule_add(struct vpcnet *vn, const char *vpc, const char *name,
				  const char *dir, const char *proto_ports, const char *target,
				  struct vpcnet_error *err);
/** Removes a rule, given as vpcnet_sg_rule_add() took it; see there. */
VPCNET_API int vpcnet_sg_rule_del(struct vpcnet *vn, const char *vpc, const char *name,
				  const char *dir, const char *proto_ports, const char *target,
				  struct vpcnet_error *err);

/** The size of the last nftables change this handle made: messages and set elements
 *  (for measuring that a change stays O(1)).  Either pointer may be NULL. */
VPCNET_API void vpcnet_last_batch(const struct vpcnet *vn, unsigned *messages,
				  unsigned *elements);

/** What vpcnet_gc() found and repaired. */
struct vpcnet_gc_report {
	unsigned vpcs_removed;       /**< half-created or half-deleted VPCs rolled back */
	unsigned sandboxes_removed;  /**< members removed: half-created or half-deleted ones
				      rolled back, and those whose namespace is gone (sandboxes,
				      and any whose adopted namespace is gone), deleted */
	unsigned ports_removed;      /**< router ports that no sandbox owns */
	unsigned elements_removed;   /**< refusal counters of ports that are gone */
	unsigned vpcs_reconciled;    /**< VPCs whose groups and attachments were rebuilt */
	unsigned sandboxes_reaped;   /**< deleted sandboxes whose elements and flows went */
	unsigned vpcs_rebuilt;       /**< VPCs whose router, transit link or tables were built
				          again (a reboot, or damage behind vpcnet's back) */
	unsigned members_rebuilt;    /**< instances and pool entries given their network again,
				          and members given back a port that was gone */
	unsigned errors;             /**< repairs that failed; the first is in err */
};

/**
 * Compares the store with the kernel and repairs both ways: rolls back VPCs, sandboxes and
 * pool entries that a killed process left half-made or half-deleted (work a live process
 * has in flight is left alone), removes router ports no member owns and counters of
 * ports that are gone, deletes sandboxes whose adopted namespace is gone (its path opens
 * nothing, or another namespace than at create), reaps deleted sandboxes (their set
 * elements and flows removed, their
 * addresses free again), rebuilds each VPC's groups and attachments, and builds again
 * what the kernel lost (see vpcnet_restore(), which is gc that tells each repair).  Carries
 * on past errors.
 * @param report  filled with what was done, also on failure
 * @return 0, or the first error (its message in @p err; report->errors counts them all).
 */
VPCNET_API int vpcnet_gc(struct vpcnet *vn, struct vpcnet_gc_report *report,
			 struct vpcnet_error *err);

/** One repair that vpcnet_restore() made; valid during the callback only. */
struct vpcnet_repair {
	const char *kind;    /**< "vpc", "sandbox", "instance" or "pool" */
	const char *name;    /**< its name (a pool entry: its id) */
	const char *vpc;     /**< the VPC it is of */
	const char *action;  /**< "rebuilt", "reattached" (a new port into the namespace it
			          still had) or "deleted" */
	const char *why;     /**< e.g. "its namespace is gone" */
};

/**
 * Brings the kernel back to what the store says, after a host reboot (every namespace and
 * table gone, the store kept) or damage done behind vpcnet's back, and does all that
 * vpcnet_gc() does.  Idempotent: on a healthy host it changes nothing.  Each VPC gets its
 * router namespace, transit link and addresses, router tables, groups, profiles, control
 * ports and host table elements where they are missing, and forwarding on its transit link
 * and uplink.  Sandboxes are ephemeral: one whose namespace is gone is deleted (its
 * address free, its id reusable), as is a member whose adopted namespace is gone.
 * Instances and pool entries are configuration: one whose namespace is gone gets a new
 * empty one at the same path with its address, MAC and groups (what ran inside is the
 * operator's to restart); a member whose namespace survived but whose port is gone gets a
 * new port.  Carries on past errors.
 * @param fn      called with each repair (may be NULL)
 * @param report  filled with what was done, also on failure; may be NULL
 * @return 0, or the first error (its message in @p err; report->errors counts them all).
 */
VPCNET_API int vpcnet_restore(struct vpcnet *vn,
			      void (*fn)(const struct vpcnet_repair *r, void *arg), void *arg,
			      struct vpcnet_gc_report *report, struct vpcnet_error *err);

/** What one check of vpcnet_doctor() found. */
enum vpcnet_check_status {
	VPCNET_CHECK_OK = 0,    /**< it holds */
	VPCNET_CHECK_FAIL = 1,  /**< it does not: vpcnet cannot run, or what it runs is damaged */
	VPCNET_CHECK_SKIP = 2,  /**< it could not be told (the detail says why), or is not
				     there to check */
};

/** One check, as vpcnet_doctor() reports it; valid during the callback only. */
struct vpcnet_check {
	/** What was checked, one of (in this order): "capabilities", "netns", "veth",
	 *  "nf_tables", "conntrack", "nat", "netns-mount", "uplink", "state-dir", "routers",
	 *  "agent".  Stable: scripts may match on it.  New checks may be added. */
	const char *name;
	enum vpcnet_check_status status;
	const char *detail;  /**< one line in plain words: what holds, or what is wrong */
};

/**
 * Says whether this host can run vpcnet and whether what it runs is healthy, and changes
 * nothing of vpcnet's or of the host's network (trying a feature may load its kernel
 * module, and SQLite may make the store's -wal and -shm files): the capabilities of the
 * caller (CAP_NET_ADMIN, CAP_SYS_ADMIN); the kernel features vpcnet needs (network
 * namespaces, veth pairs, nf_tables, conntrack matches, NAT, namespaces bind-mounted under
 * /run/netns), tried in namespaces of a short-lived child
 * process that vanish with it (in a user namespace of its own when the caller lacks the
 * capabilities); the host namespace's uplink (the default route's device: up, with an IPv4
 * address); the state directory's owner and mode; and, through the store opened read-only,
 * every VPC's router namespace, transit link and tables and the host's table.  Needs no
 * handle: it runs where vpcnet_open() would fail, and does not make the state directory.
 * The child is fork()ed and uses malloc and netlink sockets before it exits: in a threaded
 * caller, a lock another thread holds across the fork (libnl's port map, say) leaves the
 * child stuck, and the kernel checks then fail after 20 s ("no answer"); run `vpcnet
 * doctor` from such a process instead.
 * @param cfg     the state dir and host namespace to look at, as for vpcnet_open(); NULL
 *                for the defaults
 * @param fn      called with each check, in order
 * @param failed  receives how many checks failed (0: all hold); may be NULL
 * @return 0 once every check ran, whatever they found; a negative errno when they could
 *         not: -EINVAL (VPCNET_BAD_INPUT) for a bad state dir path or host_netns name,
 *         -ENOENT (VPCNET_BAD_INPUT) when host_netns does not exist.
 */
VPCNET_API int vpcnet_doctor(const struct vpcnet_config *cfg,
			     void (*fn)(const struct vpcnet_check *c, void *arg), void *arg,
			     unsigned *failed, struct vpcnet_error *err);

/** Formats an address as "a.b.c.d" into @buf (at least 16 bytes); returns @buf. */
VPCNET_API const char *vpcnet_addr_str(struct in_addr a, char *buf);

#ifdef __cplusplus
}
#endif
#endif
