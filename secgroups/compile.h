/* SPDX-License-Identifier: MIT */
/* Security groups compiled to the router's nftables table (pure: batches only).
 *
 * Theory of operation.  A member (sandbox or instance) has a membership profile: its
 * groups, shared by every member of its VPC with the same ones (and the same kind).  Its
 * router port carries the profile's id as device group, and verdict maps keyed by device
 * group reach the groups: @out1..@out5 (meta iifgroup) jump to each group's egress chain,
 * and for instances' profiles only @in1..@in5 (meta oifgroup) to each ingress chain.
 * Group g owns:
 *   set sgm<g>         the profiles that hold it (what sg:<g> targets match)
 *   set sg<g>_e / _i   its CIDR rules: protocol . address . port intervals, the disjoint
 *                      cover of the rules' union (the kernel refuses overlaps), but for
 *   set sg<g>_ex / _ix the boxes of that cover that are single points (one protocol, one
 *                      address, one port): a hash set, whose lookup stays O(1) however
 *                      many there are (an interval set's grows with its elements)
 *   set sg<g>_e_<r>    its rules towards sg:<r>: protocol . port intervals
 *   chain sg<g>_e      meta l4proto . ip daddr . th dport @sg<g>_ex accept
 *                      meta l4proto . ip daddr . th dport @sg<g>_e accept
 *                      meta oifgroup @sgm<r> meta l4proto . th dport @sg<g>_e_<r> accept
 *                      (per r: the receiver's port, reached by its /32 route)
 *   chain sg<g>_i      the same with ip saddr and meta iifgroup (the sender's port)
 * A packet walks at most five map lookups and, per group, one lookup per referenced group:
 * nothing grows with the number of members or rules.  Adding a rule adds the elements by
 * which the cover changed; a new profile adds its map entries and its id in its groups'
 * sgm sets; a member changing groups changes its port's device group and deletes nothing;
 * the first rule from g to a group r adds set sg<g>_e_<r> and appends its rule. */
#ifndef VPCNET_SG_COMPILE_H
#define VPCNET_SG_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secgroups/boxes.h"
#include "secgroups/rule.h"

struct nft_batch;

/* The cover of @rules (those of direction @dir; towards group @ref when @ref > 0, else
 * CIDR rules): 3 dimensions (protocol, address, port) for CIDR rules, 2 (protocol, port) for group refs;
 * at most ~66 boxes per rule, as prefixes nest at most 33 deep. */
int sg_cover(const struct sg_rule *rules, const int64_t *ref_of, size_t n, enum sg_dir dir,
	     int64_t ref, struct box **out, size_t *nout);

/* The rules of one protocol towards CIDRs (of the group and direction at hand) whose
 * addresses meet [lo, hi], as they are now (the change made): a malloc'd array, or a
 * negative errno. */
typedef int (*sg_fetch_fn)(void *arg, uint8_t proto, uint32_t lo, uint32_t hi,
			   struct sg_rule **rules, size_t *n);

/* Addresses read on each side of a changed rule first, and at most (the window grows
 * 8-fold while a run reaches its edge). */
#define SG_WINDOW_FIRST 4u
#define SG_WINDOW_LAST (4u << 18)

/* What a cover loses (@minus) and gains (@plus) when CIDR rule @r, of one protocol, is
 * added (@add) or removed, reading only the rules near it through @fetch.  The caller
 * vouches that no rule of that direction is for all protocols or for a protocol next to
 * @r's.  0, -EAGAIN when the change reaches past SG_WINDOW_LAST (compute both covers
 * whole), -ENOMEM, or @fetch's error. */
int sg_cover_change(const struct sg_rule *r, bool add, sg_fetch_fn fetch, void *arg,
		    struct box **minus, size_t *nminus, struct box **plus, size_t *nplus);

/* Group g's sets and chains, made empty whatever they held, and its chains' first rule. */
void sg_group_build(struct nft_batch *b, int64_t g);
/* Removes group g's chains and sets, with its ref sets towards @refs[dir][..]. */
void sg_group_delete(struct nft_batch *b, int64_t g, const int64_t *refs_e, size_t ne,
		     const int64_t *refs_i, size_t ni);
/* Flushes g's chain for @dir and writes its rules again: the CIDR lookup and one rule per
 * group in @refs (group deletion drops references this way; rare, never per packet). */
void sg_chain_rebuild(struct nft_batch *b, int64_t g, enum sg_dir dir, const int64_t *refs,
		      size_t n);
/* Deletes set sg<g>_<dir>_<r>. */
void sg_del_set(struct nft_batch *b, int64_t g, enum sg_dir dir, int64_t r);
/* The set for g's rules towards group r (made empty), and the rule that uses it. */
void sg_ref_build(struct nft_batch *b, int64_t g, enum sg_dir dir, int64_t r);
/* Empties the member maps out1..5 and in1..5. */
void sg_maps_flush(struct nft_batch *b);
/* Elements of a cover: @type NFT_MSG_NEWSETELEM or DELSETELEM. */
void sg_cover_elems(struct nft_batch *b, uint16_t type, int64_t g, enum sg_dir dir, int64_t ref,
		    const struct box *v, size_t n);
/* Where slot @slot (0-based), group @g, of a profile shows: the egress map keyed by the
 * profile, and the group's member set holding it. */
void sg_profile_names(size_t slot, int64_t g, char map[16], char members[64]);
/* Membership profile @profile's elements: with @groups sorted, slot i of map out<i+1> (and
 * in<i+1> when @ingress) jumps to group @groups[i]'s chain, and sgm<g> holds it for each of them.  A
 * port whose device group is @profile is a member of those groups. */
void sg_profile_elems(struct nft_batch *b, uint16_t type, uint32_t profile, const int64_t *groups,
		      size_t n, bool ingress);
/* A member's group elements in a router of layout 5 or older (keyed by its port and its
 * address, groups in slot order) deleted: for deletes in VPCs that can only be deleted. */
void sg_member_del_v5(struct nft_batch *b, const char *port, uint32_t ip, const int64_t *groups,
		      size_t n, bool instance);

#endif
