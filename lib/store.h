/* SPDX-License-Identifier: MIT */
/* The state store: an SQLite database (WAL, BEGIN IMMEDIATE, busy timeout) holding VPCs,
 * members (sandboxes) and their address leases.  A row is written before the kernel
 * objects it names are made and removed after they are gone, with a state and an owner
 * (pid + start time) while in flight, so `gc` can tell a crash from work in progress. */
#ifndef VPCNET_STORE_H
#define VPCNET_STORE_H

#include <stdbool.h>
#include <sys/stat.h>
#include <stdint.h>
#include "vpcnet.h"
#include "secgroups/rule.h"

struct store;

#define ST_CREATING "creating"
#define ST_READY "ready"
#define ST_DELETING "deleting"
/* A member whose network vpcnet_restore() or gc is building again (its namespace or its
 * port was gone); left so by a crash, the next repair builds it again. */
#define ST_RESTORING "restoring"
/* Deleted, its router port refused everything: its flows and set elements wait to be
 * reaped in a batch (vpc_reap), its address stays leased until then, its name is free. */
#define ST_REVOKED "revoked"

/* Who has a row in flight: a process (pid + start time, to tell a crash from work in
 * progress) and, within it, one library handle (a random nonce: threads have their own). */
struct owner {
	int64_t pid;
	int64_t start; /* start time in clock ticks since boot, /proc/PID/stat field 22 */
	int64_t nonce;
};

struct vpc_row {
	int64_t id;
	char name[VPCNET_NAME_MAX + 1];
	uint32_t net;
	unsigned prefix;
	bool nat;
	char uplink[VPCNET_IFNAME_MAX + 1];
	uint32_t transit; /* transit index */
	char state[12];
	struct owner owner;
	int64_t members;  /* -1; store_vpc_members() fills it */
	int layout;       /* the router table's shape it was made with */
};

/* The shape of the router table that this vpcnet makes (security groups, instances).
 * VPCs made by an earlier shape (1: no security groups; 2: no ARP filter, MAC pinning,
 * drop counters or connection limits; 3: no control-port DNAT; 4: no @revoked; 5: groups
 * keyed by port name and member address, not by membership profile) can only be deleted. */
#define VPC_LAYOUT 6
#define REVOKED_LAYOUT 5  /* the first with @revoked */

/* What a member is; the store's members.kind column holds its name. */
enum member_kind {
	MEMBER_ANY,       /* in lookups: a member of any kind (a row inserted so: a sandbox) */
	MEMBER_SANDBOX,
	MEMBER_INSTANCE,
	MEMBER_POOL,      /* a ready sandbox network nobody has taken yet */
};
/* "sandbox", "instance", "pool"; "member" for MEMBER_ANY. */
const char *member_kind_name(enum member_kind kind);

struct member_row {
	int64_t id;
	enum member_kind kind;
	char name[VPCNET_ID_MAX + 1];
	int64_t vpc_id;
	uint32_t ip;
	char netns[VPCNET_PATH_MAX];
	bool netns_owned;
	char ifname[VPCNET_IFNAME_MAX + 1];
	char state[12];
	struct owner owner;
	unsigned max_conns;  /* connection limit, enforced in the router */
	char tap[VPCNET_IFNAME_MAX + 1];  /* microVM tap device in its namespace, or "" */
	unsigned control_port;            /* TCP port the host may open, or 0 */
	char origin[VPCNET_ORIGIN_MAX + 1]; /* what attached it: "" (CLI, library) or e.g. a CNI network */
	uint64_t netns_dev, netns_ino;    /* an adopted namespace's nsfs file; 0: not known */
	int64_t profile;                  /* its membership profile (0: none), its port's group */
	bool no_default_route;            /* not stored: create's wish, for building it */
};

int store_open(struct store **out, const char *dir, struct vpcnet_error *err);
void store_close(struct store *st);
/* Whether @sb (of @path: the state directory with @dir, else a file of the store) is one
 * vpcnet uses: a directory or regular file of the effective user that nobody else may
 * write.  EPERM or ENOTDIR (VPCNET_FAILED) saying why when it is not. */
int store_check_stat(const struct stat *sb, const char *path, bool dir,
		     struct vpcnet_error *err);
/* Opens an existing store for reading only: -ENOENT (NOT_FOUND) when there is none, -EPROTO
 * when its schema is not this vpcnet's (an older one is not migrated); writes fail. */
int store_open_ro(struct store **out, const char *dir, struct vpcnet_error *err);

/* BEGIN IMMEDIATE: one writer at a time; waits (busy timeout) for the others. */
int store_begin(struct store *st, struct vpcnet_error *err);
int store_commit(struct store *st, struct vpcnet_error *err);
void store_rollback(struct store *st);

/* Getters return -ENOENT (status NOT_FOUND) when there is no such row. */
int store_vpc_get(struct store *st, const char *name, struct vpc_row *out, struct vpcnet_error *err);
int store_vpc_get_id(struct store *st, int64_t id, struct vpc_row *out, struct vpcnet_error *err);
/* Fills in @row->id and @row->transit (the lowest free transit index). */
int store_vpc_insert(struct store *st, struct vpc_row *row, struct vpcnet_error *err);
int store_vpc_set_state(struct store *st, int64_t id, const char *state, const struct owner *o,
			struct vpcnet_error *err);
int store_vpc_delete(struct store *st, int64_t id, struct vpcnet_error *err);
int store_vpc_list(struct store *st, int (*fn)(const struct vpc_row *, void *), void *arg,
		   struct vpcnet_error *err);

int store_member_get(struct store *st, enum member_kind kind, const char *name,
		     struct member_row *out, struct vpcnet_error *err);
int store_member_get_id(struct store *st, int64_t id, struct member_row *out,
			struct vpcnet_error *err);
/* Leases @row->ip if non-zero (EEXIST when taken), else the lowest free address in
 * [@first, @last] (EEXIST when the subnet is exhausted); fills @row->id and @row->ip. */
int store_member_insert(struct store *st, struct member_row *row, uint32_t first, uint32_t last,
			struct vpcnet_error *err);
int store_member_set_state(struct store *st, int64_t id, const char *state,
			   const struct owner *o, struct vpcnet_error *err);
int store_member_delete(struct store *st, int64_t id, struct vpcnet_error *err);
/* Makes a member revoked: its name freed ("#id"), its address kept. */
int store_member_revoke(struct store *st, int64_t id, struct vpcnet_error *err);
/* The revoked members of VPC @vpc_id, oldest first. */
int store_revoked_list(struct store *st, int64_t vpc_id,
		       int (*fn)(const struct member_row *, void *), void *arg,
		       struct vpcnet_error *err);
/* How many revoked members VPC @vpc_id has (holding address @ip, when not 0). */
int store_revoked_count(struct store *st, int64_t vpc_id, uint32_t ip, int64_t *n,
			struct vpcnet_error *err);
/* Members of kind @kind (MEMBER_ANY: all kinds) of VPC @vpc_id (all when 0), by name; not
 * the revoked. */
int store_member_list(struct store *st, enum member_kind kind, int64_t vpc_id,
		      int (*fn)(const struct member_row *, void *), void *arg,
		      struct vpcnet_error *err);
/* Whether a ready member of VPC @vpc_id other than @except has connection limit @max_conns. */
int store_limit_in_use(struct store *st, int64_t vpc_id, unsigned max_conns, int64_t except,
		       bool *used, struct vpcnet_error *err);
/* Renames the oldest ready pool entry of VPC @vpc_id to sandbox @name, in flight for @o;
 * *@id is its row.  -ENOENT when the pool is empty. */
int store_pool_take(struct store *st, int64_t vpc_id, const char *name, const struct owner *o,
		    int64_t *id, struct vpcnet_error *err);
/* Whether VPC @vpc_id's pool has a ready entry. */
int store_pool_ready(struct store *st, int64_t vpc_id, bool *any, struct vpcnet_error *err);
/* Counts @v's sandboxes and instances (not pool entries, not revoked) into @v->members. */
int store_vpc_members(struct store *st, struct vpc_row *v, struct vpcnet_error *err);
int store_vpc_count(struct store *st, int64_t *n, struct vpcnet_error *err);

/* Security groups, their rules, members' attachments (in slot order) and the group
 * references that have a set in the kernel. */
struct sg_rule;
struct sg_row {
	int64_t id, vpc_id;
	char name[33];
	char description[256];
	char vpc[VPCNET_NAME_MAX + 1];
	int64_t members, rules, referenced;  /* filled by list and store_sg_counts (get: -1) */
};
int store_sg_insert(struct store *st, struct sg_row *row, struct vpcnet_error *err);
int store_sg_get(struct store *st, int64_t vpc_id, const char *name, struct sg_row *out,
		 struct vpcnet_error *err);
int store_sg_get_id(struct store *st, int64_t id, struct sg_row *out, struct vpcnet_error *err);
int store_sg_counts(struct store *st, struct sg_row *g, struct vpcnet_error *err);
int store_sg_delete(struct store *st, int64_t id, struct vpcnet_error *err);
int store_sg_list(struct store *st, int64_t vpc_id, int (*fn)(const struct sg_row *, void *),
		  void *arg, struct vpcnet_error *err);
int store_rule_insert(struct store *st, int64_t sg_id, const struct sg_rule *r, int64_t to_sg,
		      struct vpcnet_error *err);
int store_rule_delete(struct store *st, int64_t sg_id, const struct sg_rule *r, int64_t to_sg,
		      struct vpcnet_error *err);
/* All rules of a group (malloc'd arrays): @ref_of[i] is rule i's target group id, or 0. */
int store_rules(struct store *st, int64_t sg_id, struct sg_rule **rules, int64_t **ref_of,
		size_t *n, struct vpcnet_error *err);
/* The rules of @sg_id towards CIDRs (direction @dir, protocol @proto) whose addresses
 * meet [lo, hi]: a malloc'd array (dir and to_group zero). */
int store_rules_near(struct store *st, int64_t sg_id, int dir, uint8_t proto, uint32_t lo,
		     uint32_t hi, struct sg_rule **rules, size_t *n, struct vpcnet_error *err);
/* *@mixed: has @sg_id a rule towards CIDRs (direction @dir) for all protocols, or for a
 * protocol next to @proto? */
int store_rules_mixed(struct store *st, int64_t sg_id, int dir, uint8_t proto, bool *mixed,
		      struct vpcnet_error *err);
/* How many elements the CIDR cover of @sg_id's @dir rules has: -1 when not recorded. */
int store_cover_get(struct store *st, int64_t sg_id, int dir, int64_t *elems,
		    struct vpcnet_error *err);
int store_cover_set(struct store *st, int64_t sg_id, int dir, int64_t elems,
		    struct vpcnet_error *err);
/* Member @m's groups, in slot order, and so its membership profile: the one of its VPC
 * with those groups (and ingress rules, for an instance), added if there is none
 * (*@made; commit it before its id reaches the kernel).  *@profile 0: no groups. */
int store_member_sgs_set(struct store *st, const struct member_row *m, const int64_t *g,
			 size_t n, int64_t *profile, bool *made, struct vpcnet_error *err);
/* The profile of VPC @vpc_id with groups @g (any order; @ingress: an instance's), added if
 * there is none (*@made). */
int store_profile_add(struct store *st, int64_t vpc_id, bool ingress, const int64_t *g, size_t n,
		      int64_t *profile, bool *made, struct vpcnet_error *err);
/* A membership profile: the groups (sorted) whose chains a port carrying its id as device
 * group reaches, and whose member sets hold the id. */
struct profile_row {
	int64_t id;
	bool ingress;  /* an instance's: its in-maps too */
	int64_t sgs[SG_PER_MEMBER];
	size_t n;
};
int store_profile_get(struct store *st, int64_t id, struct profile_row *out,
		      struct vpcnet_error *err);
/* VPC @vpc_id's profiles that no member row names: a malloc'd array. */
int store_profiles_unused(struct store *st, int64_t vpc_id, struct profile_row **out, size_t *n,
			  struct vpcnet_error *err);
/* How many members other than @except have membership profile @profile. */
int store_profile_users(struct store *st, int64_t profile, int64_t except, int64_t *n,
			struct vpcnet_error *err);
int store_profile_delete(struct store *st, int64_t id, struct vpcnet_error *err);
int store_member_sgs(struct store *st, int64_t member_id, int64_t *g, size_t max, size_t *n,
		     struct vpcnet_error *err);
int store_ref_add(struct store *st, int64_t sg_id, int dir, int64_t ref_id, bool *added,
		  struct vpcnet_error *err);
/* Groups holding a reference set towards @ref_id, and the groups that @sg_id's reference
 * sets point at: malloc'd arrays (NULL when empty) that the caller frees. */
int store_ref_holders(struct store *st, int64_t ref_id, int dir, int64_t **out, size_t *n,
		      struct vpcnet_error *err);
int store_refs(struct store *st, int64_t sg_id, int dir, int64_t **out, size_t *n,
	       struct vpcnet_error *err);

/* This process with handle nonce @nonce as an owner, and whether an owner still runs. */
struct owner owner_self(int64_t nonce);
bool owner_alive(const struct owner *o);

#endif
